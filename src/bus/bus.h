/* SPDX-License-Identifier: MIT */
/*
 * Redis: one blocking connection per worker thread, reconnected after failures, with a
 * short timeout. Holds what may be lost: login throttling counters now; presence, typing,
 * rate limits and long-poll wake-ups later. Returns ERR_UNAVAILABLE when Redis cannot be
 * reached.
 */
#ifndef CHAT_BUS_BUS_H
#define CHAT_BUS_BUS_H

#include <stdbool.h>

#include "base/err.h"
#include "ctx.h"

struct settings;
struct bus;

struct bus	*bus_open(const struct settings *cfg);
void		 bus_close(struct bus *);

/* PING. */
enum err	 bus_ping(struct ctx *);

/* Whether a login for username from addr may proceed: ERR_RATE_LIMITED (with
 * ctx->retry_after_s) after too many recent failures for either. */
enum err	 bus_login_allowed(struct ctx *, const char *username, const char *addr);
/* Counts a failed login against username and addr. */
void		 bus_login_failed(struct ctx *, const char *username, const char *addr);
/* Forgets the failures of username after a successful login. */
void		 bus_login_succeeded(struct ctx *, const char *username);

/* Takes one send from the user's token bucket (rate per second, burst 5 x rate; 0 =
 * unlimited): ERR_RATE_LIMITED with ctx->retry_after_s when empty. Fails open while
 * Redis is down (sends keep working on PostgreSQL alone). */
enum err	 bus_rate_take(struct ctx *, const char *user_id);

#endif
