/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <string.h>

#include "auth/auth.h"
#include "../check_main.h"

START_TEST(test_password_hash_verifies_only_the_same_password)
{
	char	hash[PASSWORD_HASH_MAX];
	bool	match;

	ck_assert_int_eq(password_hash("correct horse", hash, sizeof(hash)), ERR_OK);
	ck_assert_ptr_nonnull(strstr(hash, "$argon2id$"));
	ck_assert_ptr_nonnull(strstr(hash, "m=19456,t=2"));
	ck_assert_int_eq(password_verify(hash, "correct horse", &match), ERR_OK);
	ck_assert(match);
	ck_assert_int_eq(password_verify(hash, "correct horsE", &match), ERR_OK);
	ck_assert(!match);
}
END_TEST

START_TEST(test_password_verify_without_hash_never_matches)
{
	bool	match;

	ck_assert_int_eq(password_verify(NULL, "not a password", &match), ERR_OK);
	ck_assert(!match);
}
END_TEST

/* Check forks each test: the pool's threads must start in the child. */
static void
setup(void)
{
	password_pool_start(1, 2);
}

static void
teardown(void)
{
	password_pool_stop();
}

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("password");
	tc = tcase_create("hash");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_password_hash_verifies_only_the_same_password);
	tcase_add_test(tc, test_password_verify_without_hash_never_matches);
	suite_add_tcase(s, tc);
	return s;
}
