/* SPDX-License-Identifier: MIT */
/*
 * The route table: the one list of endpoints. router_dispatch matches METHOD /path,
 * captures path parameters, applies the route's flags (token check) and calls the
 * handler; unknown paths get 404, known paths with another method 405 (with Allow).
 */
#ifndef CHAT_ROUTER_ROUTER_H
#define CHAT_ROUTER_ROUTER_H

#include "http/http.h"

enum route_flag {
	R_AUTH = 1 << 0,	/* a valid bearer token of a live device */
	R_JSON = 1 << 1,	/* reads a JSON body (documentation; json/ enforces it) */
	R_SIGNED = 1 << 2,	/* with R_AUTH: a signed query (sig=...) stands in for the
				 * token; the handler checks the signature */
	R_RAW = 1 << 3,		/* reads a raw body (documentation: the handler's cap) */
	R_LATE_AUTH = 1 << 4,	/* with R_AUTH: the router checks the token only; the
				 * handler checks the device (rq->device_unchecked) and keeps
				 * the caller present itself: a poll to be held has both
				 * done with others' by the park, in one statement and
				 * one round trip to Redis */
};

/* Routes the request and returns the handler's outcome. */
enum err	router_dispatch(struct req *rq);

/* Answers held requests again (each hold in rq->hold; rq->hold_final when its time is
 * up): each gets a response, or rq->hold_requested to keep holding it; errs[i] is the
 * outcome of rqs[i]. All share the first request's connections and arena. */
void		router_resume(struct req *const *rqs, size_t n, enum err *errs);

#endif
