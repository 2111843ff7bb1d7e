/* SPDX-License-Identifier: MIT */
/*
 * Digests (libsodium): request fingerprints for idempotent sends, and MACs for the
 * tokens the server hands out besides JWTs (event cursors, media URLs), and the SHA-256
 * of uploads, computed as their bytes arrive.
 */
#include "config.h"
#include "auth.h"

#include <string.h>

#include <sodium.h>

void
digest_fields_hex(const char *const *fields, size_t count, char out[65])
{
	crypto_hash_sha256_state	st;
	unsigned char			h[crypto_hash_sha256_BYTES];
	static const unsigned char	absent[2] = { 0xff, 0 };
	size_t				i;

	crypto_hash_sha256_init(&st);
	for (i = 0; i < count; i++) {
		if (fields[i] == NULL)
			crypto_hash_sha256_update(&st, absent, sizeof(absent));
		else
			crypto_hash_sha256_update(&st, (const unsigned char *)fields[i],
			    strlen(fields[i]) + 1);
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((struct digest_stream *)0)->state),
    "struct digest_stream holds libsodium's SHA-256 state");

void
digest_stream_init(struct digest_stream *d)
{
	crypto_hash_sha256_init((crypto_hash_sha256_state *)(void *)d->state);
}

void
digest_stream_update(struct digest_stream *d, const void *data, size_t len)
{
	crypto_hash_sha256_update((crypto_hash_sha256_state *)(void *)d->state, data, len);
}

void
digest_stream_final_hex(struct digest_stream *d, char out[65])
{
	unsigned char	h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final((crypto_hash_sha256_state *)(void *)d->state, h);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void
digest_hmac(const void *key, size_t keylen, const void *data, size_t len, unsigned char *out,
    size_t outlen)
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	if (outlen > sizeof(mac))
		outlen = sizeof(mac);
	memcpy(out, mac, outlen);
	sodium_memzero(&st, sizeof(st));
}
