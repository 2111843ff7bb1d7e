/* SPDX-License-Identifier: MIT */
/*
 * A struct req without FastCGI: the body comes from a string, the response goes to a
 * buffer. For tests of http/, json/ and router/.
 */
#ifndef CHAT_TESTS_FAKE_REQ_H
#define CHAT_TESTS_FAKE_REQ_H

#include <string.h>

#include "base/arena.h"
#include "http/http.h"
#include "settings.h"

struct fake_io {
	const char	*in;
	size_t		 in_len;
	size_t		 in_off;
	char		 out[70000];
	size_t		 out_len;
};

static long
fake_read(void *arg, void *buf, size_t len)
{
	struct fake_io	*f = arg;
	size_t		 n;

	n = f->in_len - f->in_off;
	if (n > len)
		n = len;
	memcpy(buf, f->in + f->in_off, n);
	f->in_off += n;
	return (long)n;
}

static bool
fake_write(void *arg, const void *buf, size_t len)
{
	struct fake_io	*f = arg;

	if (f->out_len + len >= sizeof(f->out))
		return false;
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
	f->out[f->out_len] = '\0';
	return true;
}

static const struct req_io fake_req_io = { fake_read, fake_write };
static struct settings fake_settings = { .max_body_bytes = 65536 };
static struct fake_io fake;

/* Prepares rq for METHOD path?query with the given body (NULL: none). */
static void
fake_req(struct req *rq, struct arena *a, enum method m, const char *path, const char *query,
    const char *body, const char *content_type)
{
	memset(rq, 0, sizeof(*rq));
	memset(&fake, 0, sizeof(fake));
	rq->method = m;
	rq->method_name = http_method_name(m);
	rq->path = path;
	rq->query = query != NULL ? query : "";
	rq->content_type = content_type;
	rq->io = &fake_req_io;
	rq->io_arg = &fake;
	rq->ctx.arena = a;
	rq->ctx.cfg = &fake_settings;
	if (body != NULL) {
		fake.in = body;
		fake.in_len = strlen(body);
		rq->has_length = true;
		rq->content_length = fake.in_len;
	}
}

#endif
