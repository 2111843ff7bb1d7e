/* SPDX-License-Identifier: MIT */
/*
 * token_verify: each test forges one defect that libjwt 1.10.2 alone would accept and
 * checks that it is refused; the first test shows that a correct token passes, so that
 * every refusal is due to the one defect.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <jwt.h>
#include <sodium.h>

#include "auth/auth.h"
#include "base/text.h"
#include "../check_main.h"

#define NOW	1800000000
#define USER	"11111111-2222-4333-8444-555555555555"
#define DEVICE	"66666666-7777-4888-8999-aaaaaaaaaaaa"

static const char secret[] = "0123456789abcdef0123456789abcdef-test";
static const struct token_key key = {
	(const unsigned char *)secret, sizeof(secret) - 1, "chatd"
};

/* Builds header.payload.signature with HMAC-SHA256 over the given key. */
static void
forge(const char *header, const char *payload, const char *k, char *out, size_t cap)
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[32];
	char				h[512], p[6000], s[64];
	char				signing[8000];

	text_b64url_encode(header, strlen(header), h);
	text_b64url_encode(payload, strlen(payload), p);
	snprintf(signing, sizeof(signing), "%s.%s", h, p);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)k, strlen(k));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, strlen(signing));
	crypto_auth_hmacsha256_final(&st, mac);
	text_b64url_encode(mac, sizeof(mac), s);
	snprintf(out, cap, "%s.%s", signing, s);
}

static const char good_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void
payload(char *out, size_t cap, const char *iss, const char *exp, const char *iat)
{
	snprintf(out, cap, "{\"sub\":\"" USER "\",\"did\":\"" DEVICE "\",\"iss\":\"%s\"%s%s%s%s}",
	    iss, exp != NULL ? ",\"exp\":" : "", exp != NULL ? exp : "",
	    iat != NULL ? ",\"iat\":" : "", iat != NULL ? iat : "");
}

static enum err
verify(const char *tok)
{
	struct token_claims	c;

	return token_verify(&key, tok, NOW, &c);
}

START_TEST(test_token_verify_accepts_a_correct_token)
{
	char			tok[2048], p[512];
	struct token_claims	c;

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(token_verify(&key, tok, NOW, &c), ERR_OK);
	ck_assert_str_eq(c.sub, USER);
	ck_assert_str_eq(c.did, DEVICE);
	ck_assert_int_eq(c.exp, 1800003600);
}
END_TEST

START_TEST(test_token_issue_round_trips)
{
	char			*tok;
	struct token_claims	 c;

	ck_assert_int_eq(token_issue(&key, USER, DEVICE, NOW, 3600, &tok), ERR_OK);
	ck_assert_int_eq(token_verify(&key, tok, NOW + 10, &c), ERR_OK);
	ck_assert_int_eq(c.exp, NOW + 3600);
	ck_assert_int_eq(token_verify(&key, tok, NOW + 3599, &c), ERR_OK);
	ck_assert_int_eq(token_verify(&key, tok, NOW + 3600, &c), ERR_UNAUTHORIZED);
	free(tok);
}
END_TEST

START_TEST(test_token_verify_rejects_expired)
{
	char	tok[2048], p[512];

	/* One second past exp is enough: no leeway. */
	payload(p, sizeof(p), "chatd", "1799999999", "1799980000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_missing_exp)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", NULL, "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_string_exp)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", "\"9999999999\"", "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_real_exp)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", "1.9e12", "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_alg_none)
{
	char	tok[2048], p[512], h[128], b[1024];

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	text_b64url_encode("{\"alg\":\"none\"}", 14, h);
	text_b64url_encode(p, strlen(p), b);
	snprintf(tok, sizeof(tok), "%s.%s.", h, b);
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_lower_case_alg)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	forge("{\"alg\":\"hs256\",\"typ\":\"JWT\"}", p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_other_hmac_alg)
{
	struct token_claims	 c;
	jwt_t			*j;
	char			*tok;

	/* What token_issue makes, but signed as HS384 with the same key. */
	ck_assert_int_eq(jwt_new(&j), 0);
	ck_assert_int_eq(jwt_set_alg(j, JWT_ALG_HS384, key.secret, (int)key.secret_len), 0);
	jwt_add_grant(j, "sub", USER);
	jwt_add_grant(j, "did", DEVICE);
	jwt_add_grant(j, "iss", "chatd");
	jwt_add_grant_int(j, "iat", NOW);
	jwt_add_grant_int(j, "exp", NOW + 3600);
	tok = jwt_encode_str(j);
	jwt_free(j);
	ck_assert_ptr_nonnull(tok);
	ck_assert_int_eq(token_verify(&key, tok, NOW, &c), ERR_UNAUTHORIZED);
	free(tok);
}
END_TEST

START_TEST(test_token_verify_rejects_wrong_issuer)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "evil", "1800003600", "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_wrong_key)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	forge(good_header, p, "another key that is 32 bytes long!!", tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_tampered_payload)
{
	char	tok[2048], p[512], p2[512], tampered[4096];
	char	*dot;
	char	 b[1024];

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	forge(good_header, p, secret, tok, sizeof(tok));
	/* Same signature, payload naming another user. */
	memcpy(p2, p, sizeof(p));
	p2[9] = p2[9] == '1' ? '2' : '1';
	text_b64url_encode(p2, strlen(p2), b);
	dot = strchr(tok, '.');
	*dot = '\0';
	snprintf(tampered, sizeof(tampered), "%s.%s%s", tok, b, strrchr(dot + 1, '.'));
	ck_assert_int_eq(verify(tampered), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_future_iat)
{
	char	tok[2048], p[512];

	payload(p, sizeof(p), "chatd", "1800003600", "1800001000");
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_overlong_token)
{
	static char	tok[TOKEN_MAX_LEN * 2];
	char		p[TOKEN_MAX_LEN];
	char		pad[3200];

	/* Correctly signed, every claim right, only too long. */
	memset(pad, 'A', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	snprintf(p, sizeof(p), "{\"sub\":\"" USER "\",\"did\":\"" DEVICE "\",\"iss\":\"chatd\","
	    "\"exp\":1800003600,\"iat\":1800000000,\"pad\":\"%s\"}", pad);
	forge(good_header, p, secret, tok, sizeof(tok));
	ck_assert_uint_gt(strlen(tok), TOKEN_MAX_LEN);
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_refuses_short_key)
{
	char			tok[2048], p[512];
	struct token_key	weak = { (const unsigned char *)"short", 5, "chatd" };
	struct token_claims	c;

	payload(p, sizeof(p), "chatd", "1800003600", "1800000000");
	forge(good_header, p, "short", tok, sizeof(tok));
	ck_assert_int_eq(token_verify(&weak, tok, NOW, &c), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_verify_rejects_malformed_sub)
{
	char	tok[2048];

	forge(good_header, "{\"sub\":\"../x\",\"did\":\"" DEVICE "\",\"iss\":\"chatd\","
	    "\"exp\":1800003600,\"iat\":1800000000}", secret, tok, sizeof(tok));
	ck_assert_int_eq(verify(tok), ERR_UNAUTHORIZED);
}
END_TEST

START_TEST(test_token_issue_makes_distinct_tokens)
{
	char	*a;
	char	*b;

	ck_assert_int_eq(token_issue(&key, USER, DEVICE, NOW, 3600, &a), ERR_OK);
	ck_assert_int_eq(token_issue(&key, USER, DEVICE, NOW, 3600, &b), ERR_OK);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s;
	TCase	*tc;

	if (sodium_init() < 0)
		abort();
	s = suite_create("token");
	tc = tcase_create("verify");
	tcase_add_test(tc, test_token_verify_accepts_a_correct_token);
	tcase_add_test(tc, test_token_issue_round_trips);
	tcase_add_test(tc, test_token_issue_makes_distinct_tokens);
	tcase_add_test(tc, test_token_verify_rejects_expired);
	tcase_add_test(tc, test_token_verify_rejects_missing_exp);
	tcase_add_test(tc, test_token_verify_rejects_string_exp);
	tcase_add_test(tc, test_token_verify_rejects_real_exp);
	tcase_add_test(tc, test_token_verify_rejects_alg_none);
	tcase_add_test(tc, test_token_verify_rejects_lower_case_alg);
	tcase_add_test(tc, test_token_verify_rejects_other_hmac_alg);
	tcase_add_test(tc, test_token_verify_rejects_wrong_issuer);
	tcase_add_test(tc, test_token_verify_rejects_wrong_key);
	tcase_add_test(tc, test_token_verify_rejects_tampered_payload);
	tcase_add_test(tc, test_token_verify_rejects_future_iat);
	tcase_add_test(tc, test_token_verify_rejects_overlong_token);
	tcase_add_test(tc, test_token_verify_refuses_short_key);
	tcase_add_test(tc, test_token_verify_rejects_malformed_sub);
	suite_add_tcase(s, tc);
	return s;
}
