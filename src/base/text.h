/* SPDX-License-Identifier: MIT */
/*
 * Small strict parsers and formatters shared by every layer: integers, ids,
 * timestamps, random tokens, base64url. Each input format is decided here only.
 */
#ifndef CHAT_BASE_TEXT_H
#define CHAT_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digits only (no sign, space or leading '+'), value <= max. */
bool	text_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* The same for s[0..len). */
bool	text_parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out);
/* True for a canonical lower-case UUID (8-4-4-4-12 hex), the form of every id. */
bool	text_id_valid(const char *s);
/* Writes "2026-01-15T10:30:00.123Z" (24 bytes + NUL) for microseconds since the epoch. */
void	text_time_format(int64_t epoch_us, char out[32]);
/* Parses RFC 3339 ("2026-01-15T10:30:00Z", fraction and offset optional) into
 * microseconds since the epoch. */
bool	text_time_parse(const char *s, int64_t *epoch_us);
/* Microseconds since the epoch, and a monotonic clock in microseconds. */
int64_t	text_now_us(void);
int64_t	text_mono_us(void);
/* Fills buf with len bytes from getrandom(2); aborts if the kernel cannot. */
void	text_random(void *buf, size_t len);
/* base64url without padding: out must hold 4*ceil(len/3)+1 bytes. Returns the length. */
size_t	text_b64url_encode(const void *in, size_t len, char *out);
/* Constant-time comparison of two byte strings of length len. */
bool	text_equal_ct(const void *a, const void *b, size_t len);

#endif
