/* SPDX-License-Identifier: MIT */
/*
 * The context that use cases (chat/), PostgreSQL (store/) and Redis (bus/) code take
 * instead of a request: the request's arena, the worker's connections, the settings and
 * the caller. It knows nothing of HTTP.
 */
#ifndef CHAT_CTX_H
#define CHAT_CTX_H

struct arena;
struct store;
struct bus;
struct settings;

struct ctx {
	struct arena		*arena;		/* the request's arena */
	struct store		*db;		/* the worker's PostgreSQL connection */
	struct bus		*bus;		/* the worker's Redis connection */
	const struct settings	*cfg;
	const char		*user_id;	/* the caller, NULL before authentication */
	const char		*device_id;
	const char		*remote_addr;	/* the client's address, as the web server saw it */
	unsigned		 retry_after_s;	/* set with ERR_RATE_LIMITED or ERR_UNAVAILABLE */
};

#endif
