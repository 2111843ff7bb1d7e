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

/* Wakes the polls of the users, wherever they are held. */
void		 bus_wake(struct ctx *, const char *const *user_ids, size_t count);
/* Called by the listener thread: the users named by a wake-up; ephemeral when it is for
 * their streams (typing, presence) only, so that a poll woken for a message need not
 * read its stream. */
typedef void	 bus_wake_fn(const char *const *user_ids, size_t count, bool ephemeral);
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
/* The same with data of its own for each recipient (a batch of presence changes,
 * each recipient's own). */
enum err	 bus_eph_publish_each(struct ctx *, const char *const *user_ids,
		    const char *const *datas, size_t count, const char *type);
/* What a read of a user's stream returned: ok false when Redis could not be asked. */
struct eph_read {
	bool		 ok;
	struct eph_event *events;
	size_t		 count;
	struct eph_pos	 next;	/* the position after them (after, when none) */
};
/* The events of each user after[i], at most max each, in one round trip. */
void		 bus_eph_read_many(struct ctx *, size_t count, const char *const *user_ids,
		    const struct eph_pos *after, size_t max, struct eph_read *out);
/* The position of the user's last event (0-0 when none). */
enum err	 bus_eph_last(struct ctx *, const char *user_id, struct eph_pos *out);

/* ---------------------------------------------------------------- polls */

/* A poll about to read: its user and device, how long it may be held (0: answered at
 * once, no registry entry), its id in this process (0: not counted against its device),
 * and where its ephemeral events start. */
struct bus_poll {
	const char	*user_id;
	const char	*device_id;
	unsigned	 presence_ttl_s;
	unsigned	 hold_ttl_s;
	uint64_t	 poll_id;
	unsigned	 max_per_device;
	struct eph_pos	 eph_after;
	size_t		 eph_max;
};
struct bus_poll_start {
	bool		 came_online;	/* as bus_presence_touch */
	const char	*status;
	struct eph_read	 eph;
};
/* Before the first reads of n polls, one script each, in one round trip: keeps the user
 * present, records this process in the registry (hold_ttl_s > 0), counts the poll
 * against its device (a device holds at most max_per_device polls across all
 * processes: the processes holding the oldest beyond it are told to answer them) and
 * reads the user's ephemeral events. out[i].eph.ok is false when Redis could not be
 * asked (the poll goes on without). */
void		 bus_poll_begin(struct ctx *, size_t n, const struct bus_poll *polls,
		    struct bus_poll_start *out);
/* Forgets held polls that have been answered (one pipeline). */
void		 bus_device_polls_done(struct ctx *, size_t n, const char *const *device_ids,
		    const uint64_t *poll_ids);

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
/* bus_presence_touch for many users in one round trip. */
void		 bus_presence_touch_many(struct ctx *, const char *const *user_ids,
		    size_t count, unsigned ttl_s, bool *came_online, const char **status);
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
