/* SPDX-License-Identifier: MIT */
/*
 * HTTP requests and responses as the handlers see them. The FastCGI layer (fcgi/) fills
 * a struct req and provides the body reader and the response writer through struct
 * req_io; everything here is independent of libfcgi.
 *
 * A handler answers with one of the reply_* functions (which buffer the response) or
 * returns an error code; http_finish() then writes the status line, the headers and the
 * body, turning an error code into {"error":{"code","message"}}.
 */
#ifndef CHAT_HTTP_HTTP_H
#define CHAT_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ctx.h"

enum method {
	M_GET,
	M_POST,
	M_PUT,
	M_PATCH,
	M_DELETE,
	M_HEAD,
	M_OPTIONS,
	M_OTHER,
	M__COUNT
};

struct req_io {
	/* Reads up to len body bytes; returns the count, 0 at the end, -1 on error. */
	long	(*read)(void *io, void *buf, size_t len);
	/* Writes len bytes of the response; returns false on error. */
	bool	(*write)(void *io, const void *buf, size_t len);
};

#define REQ_MAX_PARAMS	4

/* What a held (parked) long-poll keeps: well under 1 KB beside libfcgi's buffers. */
struct hold {
	char		user_id[37];
	char		device_id[37];
	uint64_t	cursor_xid;	/* durable events: transaction position */
	uint64_t	cursor_eph_ms;	/* ephemeral events: stream position */
	uint64_t	cursor_eph_seq;
	uint32_t	limit;
	int64_t		deadline_us;	/* monotonic */
	int64_t		read_start_us;	/* monotonic: when its last read began */
	uint64_t	poll_id;	/* unique in the process once held, else 0 */
};

struct route;

struct req {
	/* Filled by the FastCGI layer. */
	enum method		 method;
	const char		*method_name;
	const char		*path;		/* without the query string */
	const char		*query;		/* raw, possibly "" */
	const char		*content_type;	/* NULL when absent */
	const char		*authorization;	/* NULL when absent */
	bool			 has_length;
	uint64_t		 content_length;
	const struct req_io	*io;
	void			*io_arg;
	int64_t			 start_us;	/* monotonic */
	struct ctx		 ctx;

	/* Filled by the router. */
	const struct route	*route;
	const char		*param_names[REQ_MAX_PARAMS];
	const char		*param_values[REQ_MAX_PARAMS];
	unsigned		 param_count;
	const char		*allow;		/* Allow header of a 405 */
	bool			 device_unchecked; /* R_LATE_AUTH: token checked only */

	/* The response. */
	int			 status;
	const char		*body;
	size_t			 body_len;
	const char		*error_message;	/* public message of a failure */
	const char		*file_headers;	/* reply_file: the headers that name a file */
	bool			 finished;

	/* Long-polls: a handler asks for the request to be held; a held request comes
	 * back (hold_final when its time is up) through router_resume. */
	bool			 hold_requested;
	bool			 hold_final;
	bool			 hold_dirty;	/* woken since its last read: read again */
	bool			 hold_eph;	/* ... its ephemeral events too */
	bool			 hold_fresh;	/* not read yet: the park makes its first read */
	bool			 hold_pending;	/* rows wait above the horizon: re-read soon */
	struct hold		 hold;
};

/* Parses a method name (case-sensitive, as HTTP is). */
enum method	 http_method_parse(const char *name);
const char	*http_method_name(enum method);

/* Path parameter captured by the router ("user_id" for "/v1/users/{user_id}"). */
const char	*req_param(const struct req *rq, const char *name);
/* Looks up a query parameter and percent-decodes it into the arena. ERR_OK with *out NULL
 * when absent; ERR_BAD_REQUEST (with a message) when badly encoded or not UTF-8. */
enum err	 req_query(struct req *rq, const char *name, const char **out);
/* Reads the whole body, at most max_bytes: ERR_PAYLOAD_TOO_LARGE beyond (decided from
 * Content-Length before reading when it is known), ERR_BAD_REQUEST when short. The
 * buffer is NUL-terminated and lives in the arena. */
enum err	 req_body(struct req *rq, size_t max_bytes, const char **buf, size_t *len);

/* Reads and drops what is left of the body, at most max_bytes: a request refused before
 * its body was read (413, 429) then ends cleanly for a web server that is still sending
 * it (nginx answers 502 when chatd closes first). */
void		 req_body_discard(struct req *rq, uint64_t max_bytes);

/* Records a public message for the failure and returns e. */
enum err	 req_fail(struct req *rq, enum err e, const char *message);
/* Buffers a response with the given body (copied into the arena). Returns ERR_OK. */
enum err	 reply_body(struct req *rq, int status, const char *body, size_t len);
/* Buffers a response without a body (204). Returns ERR_OK. */
enum err	 reply_empty(struct req *rq, int status);
/* Buffers a response whose body the web server sends from a file: headers are complete
 * "Name: value\r\n" lines (X-Sendfile or X-Accel-Redirect, Content-Type, caching),
 * copied into the arena. http_finish adds the status and nosniff, and neither the JSON
 * headers nor a body. Returns ERR_OK. */
enum err	 reply_file(struct req *rq, int status, const char *headers);
/* Capacity of the held-request set, kept by the FastCGI layer: true while another
 * request may be held. */
bool		 http_hold_room(void);
void		 http_hold_count_set(unsigned held, unsigned max);
/* Writes the buffered response, or the error response of e when e != ERR_OK. */
void		 http_finish(struct req *rq, enum err e);

#endif
