/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "base/arena.h"
#include "../check_main.h"

static int cleanup_order[4];
static int cleanup_count;

static void
record(void *p)
{
	cleanup_order[cleanup_count++] = *(int *)p;
}

START_TEST(test_arena_alloc_returns_zeroed_aligned_memory)
{
	struct arena	*a;
	unsigned char	*p;
	size_t		 i;

	a = arena_new();
	arena_alloc(a, 3);
	p = arena_alloc(a, 100);
	ck_assert_uint_eq((uintptr_t)p % _Alignof(max_align_t), 0);
	for (i = 0; i < 100; i++)
		ck_assert_uint_eq(p[i], 0);
	arena_free(a);
}
END_TEST

START_TEST(test_arena_serves_blocks_larger_than_a_chunk)
{
	struct arena	*a;
	char		*big;
	char		*small;

	a = arena_new();
	small = arena_strdup(a, "before");
	big = arena_alloc(a, 1 << 20);
	memset(big, 'x', 1 << 20);
	ck_assert_str_eq(small, "before");
	ck_assert_uint_ge(arena_used(a), (size_t)1 << 20);
	arena_reset(a);
	ck_assert_uint_eq(arena_used(a), 0);
	/* Many small allocations after a reset cross chunk boundaries safely. */
	for (int i = 0; i < 10000; i++)
		ck_assert_ptr_nonnull(arena_printf(a, "%d", i));
	arena_free(a);
}
END_TEST

START_TEST(test_arena_runs_cleanups_last_first_on_reset)
{
	struct arena	*a;
	static int	 one = 1, two = 2;

	a = arena_new();
	cleanup_count = 0;
	arena_defer(a, record, &one);
	arena_defer(a, record, &two);
	arena_reset(a);
	ck_assert_int_eq(cleanup_count, 2);
	ck_assert_int_eq(cleanup_order[0], 2);
	ck_assert_int_eq(cleanup_order[1], 1);
	arena_reset(a);
	ck_assert_int_eq(cleanup_count, 2);
	arena_free(a);
}
END_TEST

START_TEST(test_arena_printf_formats)
{
	struct arena	*a;

	a = arena_new();
	ck_assert_str_eq(arena_printf(a, "%s-%03d", "id", 7), "id-007");
	ck_assert_str_eq(arena_strndup(a, "abcdef", 3), "abc");
	arena_free(a);
	arena_free(NULL);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("arena");
	tc = tcase_create("core");
	tcase_add_test(tc, test_arena_alloc_returns_zeroed_aligned_memory);
	tcase_add_test(tc, test_arena_serves_blocks_larger_than_a_chunk);
	tcase_add_test(tc, test_arena_runs_cleanups_last_first_on_reset);
	tcase_add_test(tc, test_arena_printf_formats);
	suite_add_tcase(s, tc);
	return s;
}
