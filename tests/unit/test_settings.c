/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "check_main.h"

START_TEST(test_settings_defaults_follow_operations)
{
	struct settings	s;
	char		err[256];

	unsetenv("CHAT_TOKEN_TTL");
	unsetenv("CHAT_PRESENCE_TTL");
	unsetenv("CHAT_RATE_LIMIT");
	unsetenv("CHAT_MAX_GROUP_MEMBERS");
	unsetenv("CHAT_MAX_MEDIA_BYTES");
	unsetenv("CHAT_MAX_BODY_BYTES");
	ck_assert(settings_load(&s, NULL, err, sizeof(err)));
	ck_assert_uint_eq(s.token_ttl_s, 86400);
	ck_assert_uint_eq(s.presence_ttl_s, 60);
	ck_assert_uint_eq(s.rate_limit, 20);
	ck_assert_uint_eq(s.max_group_members, 500);
	ck_assert_uint_eq(s.max_media_bytes, 26214400);
	ck_assert_uint_eq(s.max_body_bytes, 65536);
	settings_fini(&s);
}
END_TEST

START_TEST(test_settings_environment_wins_over_file)
{
	struct settings	 s;
	char		 err[256];
	char		 path[] = "/tmp/chatd-settings-XXXXXX";
	int		 fd;
	FILE		*f;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "# comment\ntoken_ttl = 120\nrate_limit = 7\n");
	fclose(f);
	setenv("CHAT_TOKEN_TTL", "300", 1);
	ck_assert(settings_load(&s, path, err, sizeof(err)));
	ck_assert_uint_eq(s.token_ttl_s, 300);
	ck_assert_uint_eq(s.rate_limit, 7);
	settings_fini(&s);
	unsetenv("CHAT_TOKEN_TTL");
	unlink(path);
}
END_TEST

START_TEST(test_settings_rejects_bad_numbers)
{
	struct settings	s;
	char		err[256];

	setenv("CHAT_TOKEN_TTL", "12x", 1);
	ck_assert(!settings_load(&s, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "token_ttl"));
	settings_fini(&s);
	unsetenv("CHAT_TOKEN_TTL");
}
END_TEST

START_TEST(test_settings_refuses_a_short_jwt_secret)
{
	struct settings	s;
	char		err[256];

	setenv("CHAT_JWT_SECRET", "too short", 1);
	ck_assert(settings_load(&s, NULL, err, sizeof(err)));
	ck_assert(!settings_load_secret(&s, err, sizeof(err)));
	settings_fini(&s);
	unsetenv("CHAT_JWT_SECRET");
}
END_TEST

START_TEST(test_settings_generates_a_key_once)
{
	struct settings	s1;
	struct settings	s2;
	char		err[256];
	char		dir[] = "/tmp/chatd-var-XXXXXX";
	char		path[300];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("CHAT_VAR", dir, 1);
	ck_assert(settings_load(&s1, NULL, err, sizeof(err)));
	ck_assert(settings_load_secret(&s1, err, sizeof(err)));
	ck_assert_uint_ge(s1.jwt_secret_len, 32);
	ck_assert(settings_load(&s2, NULL, err, sizeof(err)));
	ck_assert(settings_load_secret(&s2, err, sizeof(err)));
	ck_assert_str_eq(s1.jwt_secret, s2.jwt_secret);
	settings_fini(&s1);
	settings_fini(&s2);
	snprintf(path, sizeof(path), "%s/jwt.key", dir);
	unlink(path);
	rmdir(dir);
	unsetenv("CHAT_VAR");
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("settings");
	tc = tcase_create("load");
	tcase_add_test(tc, test_settings_defaults_follow_operations);
	tcase_add_test(tc, test_settings_environment_wins_over_file);
	tcase_add_test(tc, test_settings_rejects_bad_numbers);
	tcase_add_test(tc, test_settings_refuses_a_short_jwt_secret);
	tcase_add_test(tc, test_settings_generates_a_key_once);
	suite_add_tcase(s, tc);
	return s;
}
