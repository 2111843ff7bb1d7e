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
#include <stdint.h>

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

/* A device holds at most max polls across all processes: records this one (poll_id of
 * this process) and tells the processes holding the oldest beyond max to answer them. */
void		 bus_device_poll_hold(struct ctx *, const char *device_id, uint64_t poll_id,
		    unsigned max);
/* Forgets a held poll that has been answered. */
void		 bus_device_poll_done(struct ctx *, const char *device_id, uint64_t poll_id);

/* Called by the listener thread: the users named by a wake-up. */
typedef void	 bus_wake_fn(const char *const *user_ids, size_t count);
/* Called by the listener thread: a held poll of this process must answer now. */
typedef void	 bus_evict_fn(uint64_t poll_id);
/* Called when the listener (re)connects (wake everything: hints may have been lost)
 * and when it loses Redis (down = true: polls must re-read on their own). */
typedef void	 bus_state_fn(bool down);

/* ---------------------------------------------------------------- ephemeral events
 *
 * Typing and presence events live only in Redis: a stream per user (eph:<user>) holding
 * the last minute of them; a poll reads its user's stream after the position in its
 * cursor. Stream ids are "<ms>-<seq>". */

struct eph_pos {
	uint64_t	ms;
	uint64_t	seq;
};

struct eph_event {
	struct eph_pos	 id;
	const char	*type;		/* typing presence */
	const char	*data;		/* the event's data as JSON text */
};

/* Appends an event to the streams of the users and wakes their polls (one round
 * trip). ERR_UNAVAILABLE when Redis is down. */
enum err	 bus_eph_publish(struct ctx *, const char *const *user_ids, size_t count,
		    const char *type, const char *data_json);
/* The user's events after pos, at most count; *next the position after them. */
enum err	 bus_eph_read(struct ctx *, const char *user_id, const struct eph_pos *pos,
		    size_t count, struct eph_event **out, size_t *n, struct eph_pos *next);
/* The position of the user's last event (0-0 when none). */
enum err	 bus_eph_last(struct ctx *, const char *user_id, struct eph_pos *out);

/* Coalesces typing notices: *first is true when this one goes out (the first of its
 * state within a second; a change of state always goes out). */
enum err	 bus_typing_gate(struct ctx *, const char *chat_id, const char *user_id,
		    bool typing, bool *first);

/* ---------------------------------------------------------------- presence */

struct presence {
	const char	*status;	/* online away offline, as others see it */
	int64_t		 last_seen_ms;	/* 0 when never seen */
};

/* Marks the user present for ttl_s seconds. *came_online is set when it was not present
 * before and does not appear offline; *status then holds what it shows. */
enum err	 bus_presence_touch(struct ctx *, const char *user_id, unsigned ttl_s,
		    bool *came_online, const char **status);
/* Sets the status the user shows while present (offline: appears offline, last_seen
 * frozen now). *shown is what others now see, *last_seen_ms its last_seen. */
enum err	 bus_presence_set(struct ctx *, const char *user_id, const char *status,
		    unsigned ttl_s, const char **shown, int64_t *last_seen_ms);
/* What others see of each user (one round trip). */
enum err	 bus_presence_get(struct ctx *, const char *const *user_ids, size_t count,
		    struct presence *out);
/* Claims users whose presence expired (at most max): each is claimed by one process
 * only. ids of those that were visible (not appearing offline) go out. */
enum err	 bus_presence_expired(struct ctx *, size_t max, const char ***user_ids,
		    int64_t **last_seen_ms, size_t *count);

/* Starts the listener thread on wake:<cfg->instance>. */
void		 bus_listen_start(const struct settings *cfg, bus_wake_fn *on_wake,
		    bus_evict_fn *on_evict, bus_state_fn *on_state);
void		 bus_listen_stop(void);

#endif
