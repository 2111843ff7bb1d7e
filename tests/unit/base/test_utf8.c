/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "base/utf8.h"
#include "../check_main.h"

static bool
valid(const char *s, size_t len)
{
	return utf8_valid(s, len, NULL);
}

START_TEST(test_utf8_counts_code_points)
{
	size_t	n;

	ck_assert(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, &n));
	ck_assert_uint_eq(n, 9);
	ck_assert(utf8_valid("", 0, &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_utf8_rejects_nul)
{
	ck_assert(!valid("a\0b", 3));
}
END_TEST

START_TEST(test_utf8_rejects_overlong_forms)
{
	ck_assert(!valid("\xc0\xaf", 2));
	ck_assert(!valid("\xc1\xbf", 2));
	ck_assert(!valid("\xe0\x80\xaf", 3));
	ck_assert(!valid("\xf0\x80\x80\xaf", 4));
}
END_TEST

START_TEST(test_utf8_rejects_surrogates)
{
	ck_assert(!valid("\xed\xa0\x80", 3));
	ck_assert(!valid("\xed\xbf\xbf", 3));
	ck_assert(valid("\xed\x9f\xbf", 3));
}
END_TEST

START_TEST(test_utf8_rejects_above_u10ffff)
{
	ck_assert(!valid("\xf4\x90\x80\x80", 4));
	ck_assert(!valid("\xf5\x80\x80\x80", 4));
	ck_assert(valid("\xf4\x8f\xbf\xbf", 4));
}
END_TEST

START_TEST(test_utf8_rejects_truncated_and_stray_bytes)
{
	ck_assert(!valid("\xe2\x82", 2));
	ck_assert(!valid("\x80", 1));
	ck_assert(!valid("\xff\xfe", 2));
	ck_assert(!valid("a\xc3", 2));
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("utf8");
	tc = tcase_create("valid");
	tcase_add_test(tc, test_utf8_counts_code_points);
	tcase_add_test(tc, test_utf8_rejects_nul);
	tcase_add_test(tc, test_utf8_rejects_overlong_forms);
	tcase_add_test(tc, test_utf8_rejects_surrogates);
	tcase_add_test(tc, test_utf8_rejects_above_u10ffff);
	tcase_add_test(tc, test_utf8_rejects_truncated_and_stray_bytes);
	suite_add_tcase(s, tc);
	return s;
}
