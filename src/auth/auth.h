/* SPDX-License-Identifier: MIT */
/*
 * Access tokens (HS256 JWTs, libjwt) and password hashing (argon2id, libsodium) on a
 * small bounded pool of threads.
 */
#ifndef CHAT_AUTH_AUTH_H
#define CHAT_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Longest token accepted: libjwt 1.10 decodes on the stack (alloca). */
#define TOKEN_MAX_LEN	4096
/* Leeway for clock skew when checking iat (a token issued by another host whose clock
 * runs ahead), seconds. exp has none: a token is refused from its exp on. */
#define TOKEN_LEEWAY_S	60

struct token_key {
	const unsigned char	*secret;
	size_t			 secret_len;	/* at least 32 */
	const char		*issuer;
};

struct token_claims {
	char	sub[40];	/* user id */
	char	did[40];	/* device id */
	int64_t	iat;
	int64_t	exp;
};

/* Signs a token for (user, device) valid ttl_s seconds from now_s; *out is malloc'd
 * (the caller frees it). ERR_INTERNAL on failure. */
enum err	token_issue(const struct token_key *key, const char *user_id,
		    const char *device_id, int64_t now_s, unsigned ttl_s, char **out);
/* Verifies a token: bounded length, signature with the pinned algorithm (the header must
 * say exactly "HS256"), iss equal to the key's issuer, integer exp after now, integer
 * iat not in the future, sub and did well-formed ids. ERR_UNAUTHORIZED otherwise. */
enum err	token_verify(const struct token_key *key, const char *token, int64_t now_s,
		    struct token_claims *out);

/* Starts the hashing pool: threads workers and room for queue waiting jobs. */
void		password_pool_start(unsigned threads, unsigned queue);
void		password_pool_stop(void);
/* Hashes pw (argon2id, t=2, m=19 MiB) into out (at least PASSWORD_HASH_MAX bytes).
 * ERR_UNAVAILABLE when the pool's queue is full. */
enum err	password_hash(const char *pw, char *out, size_t outlen);
/* Checks pw against hash; with hash NULL, spends the same time against a dummy hash
 * and reports no match (so unknown usernames take as long as wrong passwords). */
enum err	password_verify(const char *hash, const char *pw, bool *match);

#define PASSWORD_HASH_MAX	128

/* SHA-256 of the concatenation of count strings, each followed by a NUL (NULL counts as
 * absent and hashes differently from ""), as 64 lower-case hex digits in out[65]. */
void		digest_fields_hex(const char *const *fields, size_t count, char out[65]);
/* A SHA-256 computed piece by piece (an upload as it arrives); libsodium's state, opaque. */
struct digest_stream {
	_Alignas(16) unsigned char	state[128];
};
void		digest_stream_init(struct digest_stream *);
void		digest_stream_update(struct digest_stream *, const void *data, size_t len);
/* Ends the digest: 64 lower-case hex digits in out[65]. */
void		digest_stream_final_hex(struct digest_stream *, char out[65]);
/* HMAC-SHA-256 of data under key, first outlen bytes (outlen <= 32). */
void		digest_hmac(const void *key, size_t keylen, const void *data, size_t len,
		    unsigned char *out, size_t outlen);

#endif
