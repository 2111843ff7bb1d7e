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
#include <stddef.h>

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

/* ---------------------------------------------------------------- long-poll wake-ups
 *
 * The session registry: Redis hash reg:<user> maps each process that holds a poll of the
 * user to an expiry time. A change wakes its users with one script call that looks up
 * their processes and publishes one message per process on wake:<instance>, naming the
 * users. Each process listens on its own channel only. A wake-up is a hint: polls read
 * PostgreSQL, and a lost hint delays an event (until the next wake or re-read), never
 * loses it. */

/* Records that this process holds a poll of user_id (for ttl_s seconds). */
void		 bus_registry_hold(struct ctx *, const char *user_id, unsigned ttl_s);
/* Wakes the polls of the users, wherever they are held. */
void		 bus_wake(struct ctx *, const char *const *user_ids, size_t count);

/* Called by the listener thread: the users named by a wake-up. */
typedef void	 bus_wake_fn(const char *const *user_ids, size_t count);
/* Called when the listener (re)connects (wake everything: hints may have been lost)
 * and when it loses Redis (down = true: polls must re-read on their own). */
typedef void	 bus_state_fn(bool down);

/* Starts the listener thread on wake:<cfg->instance>. */
void		 bus_listen_start(const struct settings *cfg, bus_wake_fn *on_wake,
		    bus_state_fn *on_state);
void		 bus_listen_stop(void);

#endif
