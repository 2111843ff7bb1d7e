/* SPDX-License-Identifier: MIT */
/*
 * Held requests without libfcgi's request objects.
 *
 * libfcgi keeps two 8 KiB stream buffers and the parameters of every request it has
 * accepted (~11 kB resident each): ten thousand held polls would spend over 100 MB on
 * buffers they never use again. A request to be held is therefore detached: what is left
 * of its body is read, libfcgi's memory for it freed, and only its connection kept (the
 * descriptor and the FastCGI request id). Its answer is written here as FastCGI records
 * (FCGI_STDOUT pieces, the empty one that ends the stream, FCGI_END_REQUEST), and the
 * connection closed, as libfcgi would (the web servers in front do not keep FastCGI
 * connections open between requests).
 */
#include "config.h"
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "base/arena.h"

/* FastCGI 1.0 (fcgi-spec §8): record types and the header's length limit. */
#define FCGI_VERSION_1		1
#define FCGI_END_REQUEST	3
#define FCGI_STDOUT		6
#define FCGI_REQUEST_COMPLETE	0
#define RECORD_HEADER_LEN	8
#define RECORD_MAX_CONTENT	65535

void
fcgi_detach(FCGX_Request *r, struct raw_conn *out)
{
	char	buf[4096];

	/* The rest of the body (a poll has none but the end of the stream): the web
	 * server must not find its request unread when the answer comes. */
	while (FCGX_GetStr(buf, (int)sizeof(buf), r->in) > 0)
		;
	out->fd = r->ipcFd;
	out->request_id = (unsigned)r->requestId;
	FCGX_Free(r, 0);
	/* r is the worker's again: the next FCGX_Accept_r must not close this one. */
	r->ipcFd = -1;
	r->keepConnection = 0;
}

static bool
out_write(void *arg, const void *buf, size_t len)
{
	struct raw_out	*o;
	char		*n;
	size_t		 cap;

	o = arg;
	if (o->cap - o->len < len) {
		cap = o->cap > 0 ? o->cap * 2 : 4096;
		while (cap - o->len < len)
			cap *= 2;
		n = arena_alloc(o->arena, cap);
		if (o->len > 0)
			memcpy(n, o->buf, o->len);
		o->buf = n;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, buf, len);
	o->len += len;
	return true;
}

static long
out_read(void *arg, void *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;	/* a held request's body was read when it was detached */
}

static const struct req_io raw_io = { out_read, out_write };

void
raw_req_output(struct req *rq, struct arena *a, struct raw_out *o)
{
	memset(o, 0, sizeof(*o));
	o->arena = a;
	rq->io = &raw_io;
	rq->io_arg = o;
}

static void
header(unsigned char *h, unsigned type, unsigned id, size_t len)
{
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(len >> 8);
	h[5] = (unsigned char)len;
	h[6] = 0;	/* no padding */
	h[7] = 0;
}

/* Writes all of buf, or gives up (the peer went away: nothing more to do). */
static void
write_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

void
raw_req_finish(struct req *rq, const struct raw_conn *c, struct raw_out *o, enum err e)
{
	unsigned char	*rec;
	size_t		 pieces;
	size_t		 off;
	size_t		 len;
	size_t		 n;

	fcgi_req_complete(rq, e);
	/* STDOUT records of at most 65535 bytes, the empty one, END_REQUEST: one write. */
	pieces = (o->len + RECORD_MAX_CONTENT - 1) / RECORD_MAX_CONTENT;
	rec = arena_alloc(o->arena, o->len + (pieces + 2) * RECORD_HEADER_LEN + 8);
	for (off = n = 0; off < o->len; off += len) {
		len = o->len - off < RECORD_MAX_CONTENT ? o->len - off : RECORD_MAX_CONTENT;
		header(rec + n, FCGI_STDOUT, c->request_id, len);
		memcpy(rec + n + RECORD_HEADER_LEN, o->buf + off, len);
		n += RECORD_HEADER_LEN + len;
	}
	header(rec + n, FCGI_STDOUT, c->request_id, 0);
	n += RECORD_HEADER_LEN;
	header(rec + n, FCGI_END_REQUEST, c->request_id, 8);
	n += RECORD_HEADER_LEN;
	memset(rec + n, 0, 8);	/* appStatus 0, FCGI_REQUEST_COMPLETE, reserved */
	rec[n + 4] = FCGI_REQUEST_COMPLETE;
	n += 8;
	write_all(c->fd, rec, n);
	(void)shutdown(c->fd, SHUT_WR);
	(void)close(c->fd);
	fcgi_req_log(rq);
}
