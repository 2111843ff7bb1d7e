/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "base/err.h"
#include "../check_main.h"

START_TEST(test_err_every_code_has_status_code_and_message)
{
	int	e;

	for (e = 0; e < ERR__COUNT; e++) {
		ck_assert_int_ge(err_status((enum err)e), 200);
		ck_assert_ptr_nonnull(err_code((enum err)e));
		ck_assert_uint_gt(strlen(err_code((enum err)e)), 0);
		ck_assert_ptr_nonnull(err_message((enum err)e));
		ck_assert_str_ne(http_reason(err_status((enum err)e)), "Unknown");
	}
}
END_TEST

START_TEST(test_err_maps_api_codes_to_statuses)
{
	ck_assert_int_eq(err_status(ERR_INVALID_JSON), 400);
	ck_assert_str_eq(err_code(ERR_INVALID_JSON), "invalid_json");
	ck_assert_int_eq(err_status(ERR_METHOD_NOT_ALLOWED), 405);
	ck_assert_int_eq(err_status(ERR_CURSOR_EXPIRED), 410);
	ck_assert_int_eq(err_status(ERR_GROUP_FULL), 422);
	ck_assert_str_eq(err_code(ERR_UNSUPPORTED_MEDIA), "unsupported_media_type");
	ck_assert_int_eq(err_status(ERR_UNAVAILABLE), 503);
	ck_assert_int_eq(err_status((enum err)999), 500);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("err");
	tc = tcase_create("table");
	tcase_add_test(tc, test_err_every_code_has_status_code_and_message);
	tcase_add_test(tc, test_err_maps_api_codes_to_statuses);
	suite_add_tcase(s, tc);
	return s;
}
