/* SPDX-License-Identifier: MIT */
/*
 * media/: storage keys (the only strings a media path is built from), type detection
 * with libmagic from the first bytes, and the streamed SHA-256 of auth/ that names them.
 */
#include "config.h"

#include <string.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "media/media.h"
#include "../check_main.h"

#define SHA_ABC	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static const unsigned char png[] = {
	0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
	0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
};

START_TEST(test_media_key_is_two_prefix_dirs_and_the_digest)
{
	struct arena	*a;
	const char	*k;

	a = arena_new();
	k = media_key(a, SHA_ABC);
	ck_assert_str_eq(k, "ba/78/" SHA_ABC);
	ck_assert(media_key_valid(k));
	arena_free(a);
}
END_TEST

START_TEST(test_media_key_valid_rejects_traversal_and_other_forms)
{
	ck_assert(!media_key_valid(""));
	ck_assert(!media_key_valid("../../etc/passwd"));
	ck_assert(!media_key_valid("ba/78/../../../../../../../../../../../../../../../../../etc/pass"));
	ck_assert(!media_key_valid("ab/78/" SHA_ABC));	/* prefix of another digest */
	ck_assert(!media_key_valid("BA/78/" SHA_ABC));
	ck_assert(!media_key_valid("ba/78/" SHA_ABC "x"));
	ck_assert(!media_key_valid("ba/78/BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
}
END_TEST

START_TEST(test_digest_stream_matches_in_pieces)
{
	struct digest_stream	d;
	char			hex[65];

	digest_stream_init(&d);
	digest_stream_update(&d, "a", 1);
	digest_stream_update(&d, "bc", 2);
	digest_stream_final_hex(&d, hex);
	ck_assert_str_eq(hex, SHA_ABC);
}
END_TEST

START_TEST(test_media_detect_reads_the_bytes)
{
	static const char	html[] = "<!DOCTYPE html><html><body>x</body></html>\n";
	char			t[MEDIA_TYPE_MAX + 1];

	media_detect(png, sizeof(png), t);
	ck_assert_str_eq(t, "image/png");
	media_detect(html, sizeof(html) - 1, t);
	ck_assert_str_eq(t, "text/html");
	media_detect("\x00\x01\x02\x03\xfe\xff\x00\x9c", 8, t);
	ck_assert(strchr(t, ';') == NULL);	/* bare, whatever it is */
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("media");
	tc = tcase_create("files");
	tcase_add_test(tc, test_media_key_is_two_prefix_dirs_and_the_digest);
	tcase_add_test(tc, test_media_key_valid_rejects_traversal_and_other_forms);
	tcase_add_test(tc, test_digest_stream_matches_in_pieces);
	tcase_add_test(tc, test_media_detect_reads_the_bytes);
	suite_add_tcase(s, tc);
	return s;
}
