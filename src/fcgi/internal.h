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
/* Prepares rq for request r with the thread's resources. */
void	fcgi_req_init(struct req *rq, struct worker_res *res, FCGX_Request *r);
/* Writes the response of rq, finishes r and logs one line. Frees nothing. */
void	fcgi_req_finish(struct req *rq, FCGX_Request *r, enum err e);

/* The park: held long-polls, their deadlines and wake-ups, and the threads that answer
 * them. park_add takes ownership of r (heap-allocated) and false means the set is full
 * (the caller answers); a fresh poll has not been read yet: an answering thread makes
 * its first read (with its acknowledgement), after the woken polls. */
void	park_start(const struct settings *cfg);
bool	park_add(FCGX_Request *r, const struct hold *h, int64_t start_us, bool fresh);
void	park_wake_users(const char *const *user_ids, size_t count);
void	park_redis_state(bool down);
/* The poll must answer now (its device is over its cap). */
void	park_evict(uint64_t poll_id);
/* The distinct users that hold polls now (copied into the arena). */
void	park_users(struct arena *a, const char ***user_ids, size_t *count);
/* Answers every held poll (final) and stops the answering threads. */
void	park_drain(void);

#endif
