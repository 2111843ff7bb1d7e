/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "json/json.h"
#include "../check_main.h"
#include "../fake_req.h"

static struct arena *a;

static enum err
read_body(const char *body, const char *ct, json_object **out)
{
	struct req	rq;

	fake_req(&rq, a, M_POST, "/v1/x", NULL, body, ct);
	return jread_object(&rq, out);
}

static void
setup(void)
{
	a = arena_new();
}

static void
teardown(void)
{
	arena_free(a);
}

START_TEST(test_jread_object_accepts_an_object_whatever_the_content_type)
{
	json_object	*o;

	ck_assert_int_eq(read_body("{\"a\":1}", "text/plain", &o), ERR_OK);
	ck_assert_int_eq(read_body("{\"a\":1}", NULL, &o), ERR_OK);
	ck_assert_int_eq(read_body("{\"a\":1}", "application/x-www-form-urlencoded", &o),
	    ERR_OK);
}
END_TEST

START_TEST(test_jread_object_rejects_multipart)
{
	json_object	*o;

	ck_assert_int_eq(read_body("{}", "multipart/form-data; boundary=x", &o),
	    ERR_UNSUPPORTED_MEDIA);
}
END_TEST

START_TEST(test_jread_object_rejects_non_json)
{
	json_object	*o;

	ck_assert_int_eq(read_body("{\"a\":1} x", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":1}{}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{'a':1}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("[1]", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("123", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":NaN}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"\\ud800\"}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"\\udc00x\"}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"\\ud83d\\ude00\"}", NULL, &o), ERR_OK);
	ck_assert_int_eq(read_body("{\"a\":\"\\u00e9\\\\\"}", NULL, &o), ERR_OK);
	ck_assert_int_eq(read_body("{\"a\":\"tab\there\"}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"q\\\"'\"}", NULL, &o), ERR_OK);
	ck_assert_int_eq(read_body("", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"\xc0\xaf\"}", NULL, &o), ERR_INVALID_JSON);
	ck_assert_int_eq(read_body("{\"a\":\"\xed\xa0\x80\"}", NULL, &o), ERR_INVALID_JSON);
}
END_TEST

START_TEST(test_jread_object_caps_depth)
{
	json_object	*o;
	char		 deep[200];
	int		 i;

	for (i = 0; i < 40; i++)
		deep[i] = '[';
	deep[40] = '\0';
	strcat(deep, "1");
	for (i = 0; i < 40; i++)
		strcat(deep, "]");
	ck_assert_ptr_null(jparse(deep, strlen(deep)));
	ck_assert_int_eq(read_body("{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", NULL, &o),
	    ERR_INVALID_JSON);
}
END_TEST

START_TEST(test_jread_object_refuses_oversize_body_before_reading)
{
	struct req	 rq;
	json_object	*o;

	fake_req(&rq, a, M_POST, "/v1/x", NULL, "{}", NULL);
	rq.content_length = 65537;
	ck_assert_int_eq(jread_object(&rq, &o), ERR_PAYLOAD_TOO_LARGE);
	ck_assert_uint_eq(fake.in_off, 0);
}
END_TEST

START_TEST(test_jread_string_checks_type_length_and_nul)
{
	struct req	 rq;
	json_object	*o;
	const char	*s;

	fake_req(&rq, a, M_POST, "/v1/x", NULL,
	    "{\"n\":5,\"s\":\"h\xc3\xa9llo\",\"z\":\"a\\u0000b\",\"e\":\"\"}", NULL);
	ck_assert_int_eq(jread_object(&rq, &o), ERR_OK);
	ck_assert_int_eq(jread_string(&rq, o, "s", 1, 5, J_REQUIRED, &s), ERR_OK);
	ck_assert_str_eq(s, "h\xc3\xa9llo");
	ck_assert_int_eq(jread_string(&rq, o, "s", 1, 4, J_REQUIRED, &s), ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_bytes(&rq, o, "s", 1, 5, J_REQUIRED, &s), ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_string(&rq, o, "n", 1, 5, J_REQUIRED, &s), ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_string(&rq, o, "z", 1, 5, J_REQUIRED, &s), ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_string(&rq, o, "e", 1, 5, J_REQUIRED, &s), ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_string(&rq, o, "missing", 1, 5, J_REQUIRED, &s),
	    ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_string(&rq, o, "missing", 1, 5, J_OPTIONAL, &s), ERR_OK);
	ck_assert_ptr_null(s);
}
END_TEST

START_TEST(test_jread_int_rejects_out_of_range_and_non_integers)
{
	struct req	 rq;
	json_object	*o;
	int64_t		 v;
	bool		 present;

	fake_req(&rq, a, M_POST, "/v1/x", NULL,
	    "{\"a\":42,\"big\":99999999999999999999999,\"f\":1.5,\"s\":\"7\",\"neg\":-3}", NULL);
	ck_assert_int_eq(jread_object(&rq, &o), ERR_OK);
	ck_assert_int_eq(jread_int(&rq, o, "a", 0, 100, J_REQUIRED, &present, &v), ERR_OK);
	ck_assert_int_eq(v, 42);
	ck_assert(present);
	ck_assert_int_eq(jread_int(&rq, o, "big", 0, INT64_MAX, J_REQUIRED, &present, &v),
	    ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_int(&rq, o, "f", 0, 100, J_REQUIRED, &present, &v),
	    ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_int(&rq, o, "s", 0, 100, J_REQUIRED, &present, &v),
	    ERR_BAD_REQUEST);
	ck_assert_int_eq(jread_int(&rq, o, "neg", 0, 100, J_REQUIRED, &present, &v),
	    ERR_BAD_REQUEST);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("json");
	tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_jread_object_accepts_an_object_whatever_the_content_type);
	tcase_add_test(tc, test_jread_object_rejects_multipart);
	tcase_add_test(tc, test_jread_object_rejects_non_json);
	tcase_add_test(tc, test_jread_object_caps_depth);
	tcase_add_test(tc, test_jread_object_refuses_oversize_body_before_reading);
	tcase_add_test(tc, test_jread_string_checks_type_length_and_nul);
	tcase_add_test(tc, test_jread_int_rejects_out_of_range_and_non_integers);
	suite_add_tcase(s, tc);
	return s;
}
