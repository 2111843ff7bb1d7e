/* SPDX-License-Identifier: MIT */
/*
 * Strict UTF-8: the one place that decides whether text from the network is valid.
 * Rejects overlong forms, UTF-16 surrogates, code points above U+10FFFF, truncated
 * sequences and NUL, all of which json-c 0.16 lets through.
 */
#ifndef CHAT_BASE_UTF8_H
#define CHAT_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is valid UTF-8 without NUL; *chars (if not NULL) gets the
 * number of code points. */
bool	utf8_valid(const char *s, size_t len, size_t *chars);

/* True when s holds a C0 control character or DEL (names shown to others must not). */
bool	utf8_has_control(const char *s);

#endif
