/* SPDX-License-Identifier: MIT */
/*
 * A table-free UTF-8 validator following RFC 3629 §4 (the well-formed byte sequences).
 */
#include "config.h"
#include "utf8.h"

#include <stdint.h>

/* Length of the sequence that starts at s[0], 0 when it is not well formed. */
static size_t
seq_len(const unsigned char *s, size_t avail)
{
	unsigned char	c;
	unsigned char	lo;
	unsigned char	hi;
	size_t		n;
	size_t		i;

	c = s[0];
	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	lo = 0x80;
	hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;	/* overlong */
		else if (c == 0xED)
			hi = 0x9F;	/* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;	/* overlong */
		else if (c == 0xF4)
			hi = 0x8F;	/* above U+10FFFF */
	} else
		return 0;
	if (avail < n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

bool
utf8_valid(const char *s, size_t len, size_t *chars)
{
	const unsigned char	*p;
	size_t			 i;
	size_t			 n;
	size_t			 count;

	p = (const unsigned char *)s;
	count = 0;
	for (i = 0; i < len; i += n) {
		n = seq_len(p + i, len - i);
		if (n == 0)
			return false;
		count++;
	}
	if (chars != NULL)
		*chars = count;
	return true;
}

bool
utf8_has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}
