/* SPDX-License-Identifier: MIT */
/*
 * Request readers (path parameters, query string, body) and the response writer.
 * The response headers are the same for every API answer: JSON, no-store, nosniff;
 * a file answer (reply_file, media downloads) carries its own headers and no body.
 */
#include "config.h"
#include "http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/utf8.h"

static const char *const method_names[M__COUNT] = {
	[M_GET] = "GET",
	[M_POST] = "POST",
	[M_PUT] = "PUT",
	[M_PATCH] = "PATCH",
	[M_DELETE] = "DELETE",
	[M_HEAD] = "HEAD",
	[M_OPTIONS] = "OPTIONS",
	[M_OTHER] = "OTHER",
};

enum method
http_method_parse(const char *name)
{
	int	m;

	for (m = 0; m < M_OTHER; m++)
		if (strcmp(name, method_names[m]) == 0)
			return (enum method)m;
	return M_OTHER;
}

const char *
http_method_name(enum method m)
{
	return (unsigned)m < M__COUNT ? method_names[m] : "OTHER";
}

const char *
req_param(const struct req *rq, const char *name)
{
	unsigned	i;

	for (i = 0; i < rq->param_count; i++)
		if (strcmp(rq->param_names[i], name) == 0)
			return rq->param_values[i];
	return NULL;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) (and '+' as space) into the arena; NULL when malformed. */
static char *
url_decode(struct arena *a, const char *s, size_t len)
{
	char	*out;
	size_t	 i;
	size_t	 o;
	int	 hi;
	int	 lo;

	out = arena_alloc(a, len + 1);
	for (i = o = 0; i < len; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] != '%')
			out[o++] = s[i];
		else {
			if (i + 2 >= len)
				return NULL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return NULL;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	out[o] = '\0';
	if (!utf8_valid(out, o, NULL))
		return NULL;
	return out;
}

enum err
req_query(struct req *rq, const char *name, const char **out)
{
	const char	*p;
	const char	*end;
	const char	*eq;
	size_t		 nlen;
	char		*val;

	*out = NULL;
	nlen = strlen(name);
	for (p = rq->query; p != NULL && *p != '\0'; p = *end == '&' ? end + 1 : end) {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL)
			eq = end;
		if ((size_t)(eq - p) != nlen || memcmp(p, name, nlen) != 0)
			continue;
		val = url_decode(rq->ctx.arena, eq == end ? end : eq + 1,
		    eq == end ? 0 : (size_t)(end - eq - 1));
		if (val == NULL)
			return req_fail(rq, ERR_BAD_REQUEST, "badly encoded query parameter");
		*out = val;
		return ERR_OK;
	}
	return ERR_OK;
}

enum err
req_body(struct req *rq, size_t max_bytes, const char **buf, size_t *len)
{
	char	*data;
	size_t	 want;
	size_t	 got;
	long	 n;

	*buf = "";
	*len = 0;
	if (!rq->has_length || rq->content_length == 0)
		return ERR_OK;
	if (rq->content_length > max_bytes)
		return req_fail(rq, ERR_PAYLOAD_TOO_LARGE, "the body is too large");
	want = (size_t)rq->content_length;
	data = arena_alloc(rq->ctx.arena, want + 1);
	for (got = 0; got < want; got += (size_t)n) {
		n = rq->io->read(rq->io_arg, data + got, want - got);
		if (n <= 0)
			return req_fail(rq, ERR_BAD_REQUEST, "the body is shorter than its length");
	}
	data[want] = '\0';
	*buf = data;
	*len = want;
	return ERR_OK;
}

void
req_body_discard(struct req *rq, uint64_t max_bytes)
{
	char		buf[16384];
	uint64_t	got;
	long		n;

	if (!rq->has_length)
		return;
	for (got = 0; got < rq->content_length && got < max_bytes; got += (uint64_t)n) {
		n = rq->io->read(rq->io_arg, buf, sizeof(buf));
		if (n <= 0)
			break;
	}
}

static atomic_uint	hold_count;
static atomic_uint	hold_max;

bool
http_hold_room(void)
{
	return atomic_load(&hold_count) < atomic_load(&hold_max);
}

void
http_hold_count_set(unsigned held, unsigned max)
{
	atomic_store(&hold_count, held);
	atomic_store(&hold_max, max);
}

enum err
req_fail(struct req *rq, enum err e, const char *message)
{
	rq->error_message = message;
	return e;
}

enum err
reply_body(struct req *rq, int status, const char *body, size_t len)
{
	rq->status = status;
	rq->body = arena_strndup(rq->ctx.arena, body, len);
	rq->body_len = len;
	return ERR_OK;
}

enum err
reply_empty(struct req *rq, int status)
{
	rq->status = status;
	rq->body = NULL;
	rq->body_len = 0;
	return ERR_OK;
}

enum err
reply_file(struct req *rq, int status, const char *headers)
{
	rq->status = status;
	rq->body = NULL;
	rq->body_len = 0;
	rq->file_headers = arena_strdup(rq->ctx.arena, headers);
	return ERR_OK;
}

/* Writes a file answer: the web server sends the file named in its headers. */
static void
finish_file(struct req *rq)
{
	char	head[64];
	int	n;

	n = snprintf(head, sizeof(head), "Status: %d %s\r\nX-Content-Type-Options: nosniff\r\n",
	    rq->status, http_reason(rq->status));
	if (n < 0 || (size_t)n >= sizeof(head) || !rq->io->write(rq->io_arg, head, (size_t)n))
		return;
	if (!rq->io->write(rq->io_arg, rq->file_headers, strlen(rq->file_headers)))
		return;
	(void)rq->io->write(rq->io_arg, "\r\n", 2);
}

/* Appends s to the JSON string being built in out (escaped, without quotes). */
static size_t
json_escape(char *out, size_t cap, const char *s)
{
	size_t	o;
	int	n;

	for (o = 0; *s != '\0' && o + 7 < cap; s++) {
		if (*s == '"' || *s == '\\') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if ((unsigned char)*s < 0x20) {
			n = snprintf(out + o, cap - o, "\\u%04x", (unsigned char)*s);
			o += n > 0 ? (size_t)n : 0;
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
	return o;
}

static void
build_error(struct req *rq, enum err e)
{
	char	msg[512];
	char	body[700];
	int	n;

	if (e == ERR_OK || (unsigned)e >= ERR__COUNT)
		e = ERR_INTERNAL;
	json_escape(msg, sizeof(msg),
	    rq->error_message != NULL ? rq->error_message : err_message(e));
	n = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
	    err_code(e), msg);
	rq->status = err_status(e);
	rq->body = arena_strndup(rq->ctx.arena, body, (size_t)n);
	rq->body_len = (size_t)n;
}

void
http_finish(struct req *rq, enum err e)
{
	char	head[512];
	int	n;
	size_t	len;

	if (rq->finished)
		return;
	rq->finished = true;
	if (e == ERR_OK && rq->status != 0 && rq->file_headers != NULL) {
		finish_file(rq);
		return;
	}
	if (e != ERR_OK)
		build_error(rq, e);
	else if (rq->status == 0)
		build_error(rq, ERR_INTERNAL);
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    rq->status, http_reason(rq->status));
	len = (size_t)n;
	if (rq->status == 405 && rq->allow != NULL)
		len += (size_t)snprintf(head + len, sizeof(head) - len, "Allow: %s\r\n", rq->allow);
	if ((rq->status == 429 || rq->status == 503) && len < sizeof(head))
		len += (size_t)snprintf(head + len, sizeof(head) - len, "Retry-After: %u\r\n",
		    rq->ctx.retry_after_s > 0 ? rq->ctx.retry_after_s : 1);
	if (rq->body != NULL && len < sizeof(head))
		len += (size_t)snprintf(head + len, sizeof(head) - len,
		    "Content-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n",
		    rq->body_len);
	if (len + 2 >= sizeof(head))
		len = sizeof(head) - 3;
	memcpy(head + len, "\r\n", 3);
	len += 2;
	if (!rq->io->write(rq->io_arg, head, len))
		return;
	if (rq->body != NULL && rq->method != M_HEAD)
		(void)rq->io->write(rq->io_arg, rq->body, rq->body_len);
}
