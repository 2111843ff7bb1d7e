/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "base/text.h"
#include "../check_main.h"

START_TEST(test_text_parse_u64_accepts_digits_only)
{
	uint64_t	v;

	ck_assert(text_parse_u64("0", 10, &v));
	ck_assert_uint_eq(v, 0);
	ck_assert(text_parse_u64("18446744073709551615", UINT64_MAX, &v));
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert(!text_parse_u64("18446744073709551616", UINT64_MAX, &v));
	ck_assert(!text_parse_u64("11", 10, &v));
	ck_assert(!text_parse_u64("", 10, &v));
	ck_assert(!text_parse_u64("-1", 10, &v));
	ck_assert(!text_parse_u64("+1", 10, &v));
	ck_assert(!text_parse_u64(" 1", 10, &v));
	ck_assert(!text_parse_u64("1a", 10, &v));
}
END_TEST

START_TEST(test_text_id_valid_accepts_canonical_uuids_only)
{
	ck_assert(text_id_valid("0b2f5a9e-1c3d-4e5f-8a9b-0c1d2e3f4a5b"));
	ck_assert(!text_id_valid("0B2F5A9E-1C3D-4E5F-8A9B-0C1D2E3F4A5B"));
	ck_assert(!text_id_valid("0b2f5a9e1c3d4e5f8a9b0c1d2e3f4a5b"));
	ck_assert(!text_id_valid("0b2f5a9e-1c3d-4e5f-8a9b-0c1d2e3f4a5b0"));
	ck_assert(!text_id_valid("../../etc/passwd"));
	ck_assert(!text_id_valid(""));
}
END_TEST

START_TEST(test_text_time_formats_rfc3339_with_millis)
{
	char	buf[32];

	text_time_format(INT64_C(1768473000123456), buf);
	ck_assert_str_eq(buf, "2026-01-15T10:30:00.123Z");
	text_time_format(0, buf);
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(test_text_time_parse_round_trips_and_offsets)
{
	int64_t	us;

	ck_assert(text_time_parse("2026-01-15T10:30:00.123Z", &us));
	ck_assert_int_eq(us, INT64_C(1768473000123000));
	ck_assert(text_time_parse("2026-01-15T11:30:00+01:00", &us));
	ck_assert_int_eq(us, INT64_C(1768473000000000));
	ck_assert(!text_time_parse("2026-01-15", &us));
	ck_assert(!text_time_parse("2026-13-15T10:30:00Z", &us));
	ck_assert(!text_time_parse("2026-01-15T10:30:00", &us));
	ck_assert(!text_time_parse("2026-01-15T10:30:00Zjunk", &us));
}
END_TEST

START_TEST(test_text_b64url_encodes_without_padding)
{
	char	out[16];

	ck_assert_uint_eq(text_b64url_encode("\xfb\xff", 2, out), 3);
	ck_assert_str_eq(out, "-_8");
	text_b64url_encode("abc", 3, out);
	ck_assert_str_eq(out, "YWJj");
	text_b64url_encode("a", 1, out);
	ck_assert_str_eq(out, "YQ");
}
END_TEST

START_TEST(test_text_equal_ct_compares_bytes)
{
	ck_assert(text_equal_ct("abcd", "abcd", 4));
	ck_assert(!text_equal_ct("abcd", "abce", 4));
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("text");
	tc = tcase_create("core");
	tcase_add_test(tc, test_text_parse_u64_accepts_digits_only);
	tcase_add_test(tc, test_text_id_valid_accepts_canonical_uuids_only);
	tcase_add_test(tc, test_text_time_formats_rfc3339_with_millis);
	tcase_add_test(tc, test_text_time_parse_round_trips_and_offsets);
	tcase_add_test(tc, test_text_b64url_encodes_without_padding);
	tcase_add_test(tc, test_text_equal_ct_compares_bytes);
	suite_add_tcase(s, tc);
	return s;
}
