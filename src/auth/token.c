/* SPDX-License-Identifier: MIT */
/*
 * JWT issue and verification with libjwt 1.10.2, which checks no claim at all and
 * accepts several spellings of an algorithm (LIBRARIES.md §1): every check is here.
 */
#include "config.h"
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>

#include "base/text.h"

enum err
token_issue(const struct token_key *key, const char *user_id, const char *device_id,
    int64_t now_s, unsigned ttl_s, char **out)
{
	jwt_t		*jwt;
	char		*s;
	unsigned char	 raw[12];
	char		 jti[20];
	int		 rc;

	*out = NULL;
	text_random(raw, sizeof(raw));
	text_b64url_encode(raw, sizeof(raw), jti);
	if (key->secret_len < 32 || jwt_new(&jwt) != 0)
		return ERR_INTERNAL;
	rc = jwt_set_alg(jwt, JWT_ALG_HS256, key->secret, (int)key->secret_len);
	rc = rc != 0 ? rc : jwt_add_grant(jwt, "sub", user_id);
	rc = rc != 0 ? rc : jwt_add_grant(jwt, "did", device_id);
	rc = rc != 0 ? rc : jwt_add_grant(jwt, "iss", key->issuer);
	rc = rc != 0 ? rc : jwt_add_grant_int(jwt, "iat", (long)now_s);
	rc = rc != 0 ? rc : jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s));
	/* A unique id, so that two tokens of one device are never the same string. */
	rc = rc != 0 ? rc : jwt_add_grant(jwt, "jti", jti);
	s = rc == 0 ? jwt_encode_str(jwt) : NULL;
	jwt_free(jwt);
	if (s == NULL)
		return ERR_INTERNAL;
	*out = s;
	return ERR_OK;
}

/* Reads an integer claim that must be written as plain digits in the token: libjwt's
 * jwt_get_grant_int reads "1" (a string), 1e12 and true as 0 or worse. */
static bool
int_claim(jwt_t *jwt, const char *name, int64_t *out)
{
	char		*json;
	uint64_t	 v;
	bool		 ok;

	json = jwt_get_grants_json(jwt, name);
	if (json == NULL)
		return false;
	ok = text_parse_u64(json, INT64_MAX, &v) && v > 0;
	free(json);
	if (ok)
		*out = (int64_t)v;
	return ok;
}

/* Reads a string claim that must be a well-formed id. */
static bool
id_claim(jwt_t *jwt, const char *name, char out[40])
{
	const char	*s;

	s = jwt_get_grant(jwt, name);
	if (s == NULL || !text_id_valid(s))
		return false;
	memcpy(out, s, 37);
	return true;
}

static bool
claims_valid(const struct token_key *key, jwt_t *jwt, int64_t now_s, struct token_claims *out)
{
	const char	*alg;
	const char	*iss;

	/* Pin the algorithm: the enum (defeats none and RS/HS confusion) and the exact
	 * header spelling (libjwt parses "hs256" and "None" case-insensitively). */
	if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		return false;
	alg = jwt_get_header(jwt, "alg");
	if (alg == NULL || strcmp(alg, "HS256") != 0)
		return false;
	iss = jwt_get_grant(jwt, "iss");
	if (iss == NULL || strcmp(iss, key->issuer) != 0)
		return false;
	if (!int_claim(jwt, "exp", &out->exp) || now_s >= out->exp)
		return false;
	if (!int_claim(jwt, "iat", &out->iat) || out->iat > now_s + TOKEN_LEEWAY_S)
		return false;
	return id_claim(jwt, "sub", out->sub) && id_claim(jwt, "did", out->did);
}

enum err
token_verify(const struct token_key *key, const char *token, int64_t now_s,
    struct token_claims *out)
{
	jwt_t	*jwt;
	size_t	 len;
	bool	 ok;

	memset(out, 0, sizeof(*out));
	/* Bound the input before libjwt sees it: it decodes with alloca. */
	len = strnlen(token, TOKEN_MAX_LEN + 1);
	if (len == 0 || len > TOKEN_MAX_LEN)
		return ERR_UNAUTHORIZED;
	/* Never decode without a key: libjwt then skips the signature check. */
	if (key->secret == NULL || key->secret_len < 32)
		return ERR_UNAUTHORIZED;
	jwt = NULL;
	if (jwt_decode(&jwt, token, key->secret, (int)key->secret_len) != 0 || jwt == NULL) {
		jwt_free(jwt);
		return ERR_UNAUTHORIZED;
	}
	ok = claims_valid(key, jwt, now_s, out);
	jwt_free(jwt);
	return ok ? ERR_OK : ERR_UNAUTHORIZED;
}
