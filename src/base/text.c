/* SPDX-License-Identifier: MIT */
/*
 * Strict parsers and formatters (see text.h). No locale, no strtol leniency.
 */
#include "config.h"
#include "text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "log.h"

bool
text_parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	v;
	size_t		i;
	unsigned	d;

	if (len == 0 || len > 20)
		return false;
	v = 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

bool
text_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	return text_parse_u64n(s, strlen(s), max, out);
}

static bool
is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
text_id_valid(const char *s)
{
	size_t	i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_lower_hex(s[i]))
			return false;
	}
	return s[36] == '\0';
}

void
text_time_format(int64_t epoch_us, char out[32])
{
	struct tm	tm;
	time_t		secs;
	int64_t		ms;
	size_t		len;

	secs = (time_t)(epoch_us / 1000000);
	ms = (epoch_us % 1000000) / 1000;
	if (ms < 0) {
		ms += 1000;
		secs--;
	}
	gmtime_r(&secs, &tm);
	len = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(out + len, 32 - len, ".%03dZ", (int)ms);
}

/* Reads exactly n digits at *p into *v and advances *p. */
static bool
digits(const char **p, int n, int *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

bool
text_time_parse(const char *s, int64_t *epoch_us)
{
	const char	*p;
	int		 y, mo, d, h, mi, sec, oh, om;
	int64_t		 frac_us;
	int64_t		 scale;
	int		 sign;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	p = s;
	if (!digits(&p, 4, &y) || !expect(&p, '-') || !digits(&p, 2, &mo) || !expect(&p, '-') ||
	    !digits(&p, 2, &d))
		return false;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!digits(&p, 2, &h) || !expect(&p, ':') || !digits(&p, 2, &mi) || !expect(&p, ':') ||
	    !digits(&p, 2, &sec))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return false;
	frac_us = 0;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		for (scale = 100000; *p >= '0' && *p <= '9'; p++) {
			frac_us += (*p - '0') * scale;
			scale /= 10;
		}
	}
	sign = 0;
	oh = om = 0;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!digits(&p, 2, &oh) || !expect(&p, ':') || !digits(&p, 2, &om) || oh > 23 ||
		    om > 59)
			return false;
	} else
		return false;
	if (*p != '\0')
		return false;
	if (sec == 60)
		sec = 59;	/* a leap second reads as the second before it */
	*epoch_us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	    sign * (oh * 3600 + om * 60)) * 1000000 + frac_us;
	return true;
}

int64_t
text_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
text_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
text_random(void *buf, size_t len)
{
	unsigned char	*p;
	ssize_t		 n;

	p = buf;
	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("getrandom failed");
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

size_t
text_b64url_encode(const void *in, size_t len, char *out)
{
	static const char	 tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char	*s;
	size_t			 i;
	size_t			 o;
	uint32_t		 v;

	s = in;
	o = 0;
	for (i = 0; i + 2 < len; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)s[i] << 16;
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
	} else if (len - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

bool
text_equal_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char	*x;
	const volatile unsigned char	*y;
	unsigned char			 acc;
	size_t				 i;

	x = a;
	y = b;
	acc = 0;
	for (i = 0; i < len; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}
