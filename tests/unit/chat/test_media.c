/* SPDX-License-Identifier: MIT */
/*
 * chat_media_file_name: the file name a client gives with ?filename= keeps only its last
 * path component, without control characters, at most 255 bytes cut at a character
 * boundary; nothing usable is NULL.
 */
#include "config.h"

#include <string.h>

#include "base/arena.h"
#include "chat/chat.h"
#include "../check_main.h"

static struct arena	*a;
static struct ctx	 ctx;

static void
setup(void)
{
	a = arena_new();
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = a;
}

static void
teardown(void)
{
	arena_free(a);
}

START_TEST(test_file_name_keeps_the_last_component)
{
	ck_assert_str_eq(chat_media_file_name(&ctx, "../../etc/passwd"), "passwd");
	ck_assert_str_eq(chat_media_file_name(&ctx, "C:\\Users\\me\\cat.png"), "cat.png");
	ck_assert_str_eq(chat_media_file_name(&ctx, "plain name.pdf"), "plain name.pdf");
}
END_TEST

START_TEST(test_file_name_drops_control_characters)
{
	ck_assert_str_eq(chat_media_file_name(&ctx, "a\nb\r\tc\x7f.txt"), "abc.txt");
}
END_TEST

START_TEST(test_file_name_refuses_what_is_left_empty)
{
	ck_assert_ptr_null(chat_media_file_name(&ctx, NULL));
	ck_assert_ptr_null(chat_media_file_name(&ctx, ""));
	ck_assert_ptr_null(chat_media_file_name(&ctx, "dir/"));
	ck_assert_ptr_null(chat_media_file_name(&ctx, "a/.."));
	ck_assert_ptr_null(chat_media_file_name(&ctx, "\n\t"));
}
END_TEST

START_TEST(test_file_name_is_cut_at_255_bytes_on_a_character_boundary)
{
	char		 in[400];
	const char	*out;
	size_t		 i;

	/* "é" is two bytes: 200 of them are 400 bytes; 127 fit (254 bytes). */
	for (i = 0; i + 1 < sizeof(in); i += 2) {
		in[i] = (char)0xc3;
		in[i + 1] = (char)0xa9;
	}
	in[sizeof(in) - 1] = '\0';
	in[sizeof(in) - 2] = 'x';
	out = chat_media_file_name(&ctx, in);
	ck_assert_uint_eq(strlen(out), 254);
	ck_assert_int_eq((unsigned char)out[253], 0xa9);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("chat_media");
	tc = tcase_create("file_name");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_name_keeps_the_last_component);
	tcase_add_test(tc, test_file_name_drops_control_characters);
	tcase_add_test(tc, test_file_name_refuses_what_is_left_empty);
	tcase_add_test(tc, test_file_name_is_cut_at_255_bytes_on_a_character_boundary);
	suite_add_tcase(s, tc);
	return s;
}
