/* SPDX-License-Identifier: MIT */
/*
 * Shared inside fcgi/: the worker resources, request handling and the park.
 */
#ifndef CHAT_FCGI_INTERNAL_H
#define CHAT_FCGI_INTERNAL_H

#include <fcgiapp.h>

#include "http/http.h"

struct settings;

/* What a thread needs to answer requests: its arena and connections. */
struct worker_res {
	const struct settings	*cfg;
	struct arena		*arena;
	struct store		*db;
	struct bus		*bus;
};

void	worker_res_init(struct worker_res *, const struct settings *cfg);
void	worker_res_fini(struct worker_res *);
/* Prepares rq for request r (NULL: a held request, see raw_req_output) with the
 * thread's resources. */
void	fcgi_req_init(struct req *rq, struct worker_res *res, FCGX_Request *r);
/* Writes the response of rq, finishes r and logs one line. Frees nothing. */
void	fcgi_req_finish(struct req *rq, FCGX_Request *r, enum err e);
/* The parts of it that do not depend on libfcgi: the response through rq's io (after
 * rolling back any transaction left open), and the log line. */
void	fcgi_req_complete(struct req *rq, enum err e);
void	fcgi_req_log(const struct req *rq);

/* A held request's connection once libfcgi's request object is freed (raw.c). */
struct raw_conn {
	int		fd;
	unsigned	request_id;
};
/* Where a held request's response is written before it goes out as FastCGI records. */
struct raw_out {
	struct arena	*arena;
	char		*buf;
	size_t		 len;
	size_t		 cap;
};
/* Takes r's connection (reading what is left of its body) and frees libfcgi's memory
 * for it; r can accept the next request. */
void	fcgi_detach(FCGX_Request *r, struct raw_conn *out);
/* Points rq's output at o (in arena a). */
void	raw_req_output(struct req *rq, struct arena *a, struct raw_out *o);
/* Writes rq's response (or e's error) on c as FastCGI records, closes c, logs. */
void	raw_req_finish(struct req *rq, const struct raw_conn *c, struct raw_out *o,
	    enum err e);

/* The park: held long-polls, their deadlines and wake-ups, and the threads that answer
 * them. park_add takes ownership of the connection c, and false means the set is full
 * (the caller answers). A new poll has not been read yet: an answering thread makes its
 * first read (with its acknowledgement), after the woken polls. */
void	park_start(const struct settings *cfg);
bool	park_add(const struct raw_conn *c, const struct hold *h, int64_t start_us);
void	park_wake_users(const char *const *user_ids, size_t count, bool ephemeral);
void	park_redis_state(bool down);
/* The poll must answer now (its device is over its cap). */
void	park_evict(uint64_t poll_id);
/* The distinct users that hold polls now (copied into the arena). */
void	park_users(struct arena *a, const char ***user_ids, size_t *count);
/* Answers every held poll (final) and stops the answering threads. */
void	park_drain(void);

#endif
