/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "router/router.h"
#include "../check_main.h"
#include "../fake_req.h"

static struct arena *a;

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

START_TEST(test_req_query_decodes_and_finds_exact_names)
{
	struct req	 rq;
	const char	*v;

	fake_req(&rq, a, M_GET, "/v1/users", "xusername=no&username=a%2Fb+c&flag", NULL, NULL);
	ck_assert_int_eq(req_query(&rq, "username", &v), ERR_OK);
	ck_assert_str_eq(v, "a/b c");
	ck_assert_int_eq(req_query(&rq, "flag", &v), ERR_OK);
	ck_assert_str_eq(v, "");
	ck_assert_int_eq(req_query(&rq, "absent", &v), ERR_OK);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_req_query_rejects_bad_encoding)
{
	struct req	 rq;
	const char	*v;

	fake_req(&rq, a, M_GET, "/", "a=%zz&b=%c0%af&c=%4", NULL, NULL);
	ck_assert_int_eq(req_query(&rq, "a", &v), ERR_BAD_REQUEST);
	ck_assert_int_eq(req_query(&rq, "b", &v), ERR_BAD_REQUEST);
	ck_assert_int_eq(req_query(&rq, "c", &v), ERR_BAD_REQUEST);
}
END_TEST

START_TEST(test_http_finish_writes_the_error_shape)
{
	struct req	rq;

	fake_req(&rq, a, M_GET, "/", NULL, NULL, NULL);
	http_finish(&rq, req_fail(&rq, ERR_NOT_FOUND, "chat \"x\" not found"));
	ck_assert_ptr_nonnull(strstr(fake.out, "Status: 404 Not Found\r\n"));
	ck_assert_ptr_nonnull(strstr(fake.out, "Cache-Control: no-store\r\n"));
	ck_assert_ptr_nonnull(strstr(fake.out, "Content-Type: application/json; charset=utf-8"));
	ck_assert_ptr_nonnull(strstr(fake.out,
	    "\r\n\r\n{\"error\":{\"code\":\"not_found\",\"message\":\"chat \\\"x\\\" not found\"}}"));
}
END_TEST

START_TEST(test_http_finish_adds_retry_after_to_429)
{
	struct req	rq;

	fake_req(&rq, a, M_POST, "/", NULL, NULL, NULL);
	rq.ctx.retry_after_s = 42;
	http_finish(&rq, ERR_RATE_LIMITED);
	ck_assert_ptr_nonnull(strstr(fake.out, "Status: 429 Too Many Requests\r\n"));
	ck_assert_ptr_nonnull(strstr(fake.out, "Retry-After: 42\r\n"));
}
END_TEST

START_TEST(test_router_answers_404_for_unknown_paths)
{
	struct req	rq;

	fake_req(&rq, a, M_GET, "/v1/nope", NULL, NULL, NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_NOT_FOUND);
	fake_req(&rq, a, M_GET, "/v1/users/", NULL, NULL, NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_NOT_FOUND);
	fake_req(&rq, a, M_GET, "/v1/users/a/b", NULL, NULL, NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_router_answers_405_with_allow_for_other_methods)
{
	struct req	rq;

	fake_req(&rq, a, M_PUT, "/v1/users", NULL, NULL, NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(rq.allow, "POST, GET");
	fake_req(&rq, a, M_GET, "/v1/sessions/current/refresh", NULL, NULL, NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(test_router_requires_a_bearer_token_before_reading_the_body)
{
	struct req	rq;

	fake_req(&rq, a, M_GET, "/v1/sessions", NULL, "not json", NULL);
	ck_assert_int_eq(router_dispatch(&rq), ERR_UNAUTHORIZED);
	fake_req(&rq, a, M_GET, "/v1/sessions", NULL, NULL, NULL);
	rq.authorization = "Basic dXNlcjpwYXNz";
	ck_assert_int_eq(router_dispatch(&rq), ERR_UNAUTHORIZED);
	ck_assert_uint_eq(fake.in_off, 0);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("http");
	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_req_query_decodes_and_finds_exact_names);
	tcase_add_test(tc, test_req_query_rejects_bad_encoding);
	tcase_add_test(tc, test_http_finish_writes_the_error_shape);
	tcase_add_test(tc, test_http_finish_adds_retry_after_to_429);
	tcase_add_test(tc, test_router_answers_404_for_unknown_paths);
	tcase_add_test(tc, test_router_answers_405_with_allow_for_other_methods);
	tcase_add_test(tc, test_router_requires_a_bearer_token_before_reading_the_body);
	suite_add_tcase(s, tc);
	return s;
}
