/* SPDX-License-Identifier: MIT */
/*
 * The event feed of a user: acknowledgement of the previous position, the read, the
 * cut at a transaction boundary, and wake-ups of the people a change concerns.
 *
 * Positions are PostgreSQL transaction ids (xid8): a cursor p means "every event of a
 * transaction <= p has been delivered". A read returns the events of transactions in
 * (p, top), where top is the snapshot's xmin: no transaction below it can still commit,
 * so nothing can appear behind the cursor later.
 */
#include "config.h"
#include "chat.h"

#include <string.h>

#include "base/arena.h"
#include "bus/bus.h"
#include "settings.h"

bool chat_feed_naive;

/* The ephemeral position: the user's last stream entry (0-0 while Redis is down: the
 * next poll then gets the last minute's ephemeral events). */
static void
eph_position(struct ctx *ctx, struct feed_pos *pos)
{
	struct eph_pos	last;

	if (bus_eph_last(ctx, ctx->user_id, &last) != ERR_OK)
		last.ms = last.seq = 0;
	pos->eph_ms = last.ms;
	pos->eph_seq = last.seq;
}

enum err
chat_events_position(struct ctx *ctx, struct feed_pos *pos)
{
	struct event	*ev;
	size_t		 n;
	uint64_t	 top;
	uint64_t	 far;
	bool		 pending;
	enum err	 e;


	/* A read from the far future returns nothing but the horizon. */
	far = UINT64_MAX >> 1;
	e = store_feed(ctx, 1, &ctx->user_id, &far, 1, chat_feed_naive, &ev, &n, &pending, &top);
	if (e != ERR_OK)
		return e;
	pos->xid = top > 0 ? top - 1 : 0;
	eph_position(ctx, pos);
	return ERR_OK;
}

void
chat_feed_position_eph(struct ctx *ctx, struct feed_pos *pos)
{
	eph_position(ctx, pos);
}

/* Writes acknowledgements (n of them) in one statement; the receipts wake the senders
 * of the messages they cover. */
static void
write_acks(struct ctx *ctx, size_t n, const char *const *users, const char *const *devices,
    const uint64_t *positions)
{
	const char	**wake;
	size_t		  count;

	if (n > 0 && store_ack(ctx, n, users, devices, positions, &wake, &count) == ERR_OK &&
	    count > 0)
		bus_wake(ctx, wake, count);
}

/* Delivered receipts: polls acknowledge what their devices received up to their
 * cursors, in one statement. */
static void
acknowledge(struct ctx *ctx, size_t n, const struct poll_req *polls)
{
	const char	**users;
	const char	**devices;
	uint64_t	 *positions;
	size_t		  k;
	size_t		  i;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	devices = arena_alloc(ctx->arena, sizeof(*devices) * n);
	positions = arena_alloc(ctx->arena, sizeof(*positions) * n);
	for (i = k = 0; i < n; i++) {
		if (!polls[i].acknowledge || polls[i].after.xid == 0)
			continue;
		users[k] = polls[i].user_id;
		devices[k] = polls[i].device_id;
		positions[k++] = polls[i].after.xid;
	}
	write_acks(ctx, k, users, devices, positions);
}

/* Cuts a poll's durable events at its limit, never inside a transaction, and sets its
 * next position. */
static enum err
cut(uint64_t after, uint32_t limit, uint64_t top, struct event_page *out)
{
	size_t	n;

	if (top > 0 && after >= top && !chat_feed_naive)
		return ERR_CURSOR_EXPIRED;
	n = out->count;
	if (n > limit) {
		n = limit;
		while (n < out->count && out->events[n].xid == out->events[limit - 1].xid)
			n++;
		out->count = n;
		out->next.xid = out->events[n - 1].xid;
		return ERR_OK;
	}
	out->next.xid = top > 0 ? top - 1 : after;
	if (chat_feed_naive && n > 0)
		out->next.xid = out->events[n - 1].xid;
	if (out->next.xid < after)
		out->next.xid = after;
	return ERR_OK;
}

void
chat_poll_begin(struct ctx *ctx, size_t n, const struct poll_begin *b, struct eph_read *eph)
{
	struct bus_poll		*p;
	struct bus_poll_start	*st;
	size_t			 i;

	if (n == 0)
		return;
	p = arena_alloc(ctx->arena, sizeof(*p) * n);
	st = arena_alloc(ctx->arena, sizeof(*st) * n);
	for (i = 0; i < n; i++) {
		p[i].user_id = b[i].user_id;
		p[i].device_id = b[i].device_id;
		p[i].presence_ttl_s = ctx->cfg->presence_ttl_s;
		p[i].hold_ttl_s = b[i].hold_ttl_s;
		p[i].poll_id = b[i].poll_id;
		p[i].max_per_device = b[i].max_per_device;
		p[i].eph_after.ms = b[i].after.eph_ms;
		p[i].eph_after.seq = b[i].after.eph_seq;
		p[i].eph_max = b[i].limit;
	}
	/* While Redis is down, polls go on with their durable events only. */
	bus_poll_begin(ctx, n, p, st);
	for (i = 0; i < n; i++) {
		eph[i] = st[i].eph;
		if (st[i].came_online)
			chat_presence_came(ctx, b[i].user_id, st[i].status);
	}
}

/* Ephemeral events live in Redis only: while it is down, polls go on without. The
 * polls woken for them that did not read them yet (bus_poll_begin) read them in one
 * round trip; the others keep their stream position (their next poll reads from
 * there). */
static void
read_ephemeral(struct ctx *ctx, size_t n, const struct poll_req *polls,
    struct event_page *pages)
{
	const struct eph_read	 *r;
	const char		**users;
	struct eph_pos		 *after;
	struct eph_read		 *got;
	size_t			 *slot;
	size_t			  max;
	size_t			  k;
	size_t			  i;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	after = arena_alloc(ctx->arena, sizeof(*after) * n);
	slot = arena_alloc(ctx->arena, sizeof(*slot) * n);
	got = arena_alloc(ctx->arena, sizeof(*got) * n);
	max = 1;
	for (i = k = 0; i < n; i++) {
		slot[i] = k;
		if (pages[i].expired || polls[i].eph != NULL || !polls[i].read_eph)
			continue;
		users[k] = polls[i].user_id;
		after[k].ms = polls[i].after.eph_ms;
		after[k].seq = polls[i].after.eph_seq;
		if (polls[i].limit > max)
			max = polls[i].limit;
		k++;
	}
	if (k > 0)
		bus_eph_read_many(ctx, k, users, after, max, got);
	for (i = 0; i < n; i++) {
		if (pages[i].expired || (polls[i].eph == NULL && !polls[i].read_eph))
			continue;
		r = polls[i].eph != NULL ? polls[i].eph : &got[slot[i]];
		if (!r->ok)
			continue;
		pages[i].eph = r->events;
		pages[i].eph_count = r->count > polls[i].limit ? polls[i].limit : r->count;
		if (pages[i].eph_count > 0) {
			pages[i].next.eph_ms = r->events[pages[i].eph_count - 1].id.ms;
			pages[i].next.eph_seq = r->events[pages[i].eph_count - 1].id.seq;
		}
	}
}

enum err
chat_events_read_many(struct ctx *ctx, size_t n, const struct poll_req *polls,
    struct event_page *pages)
{
	const char	**users;
	uint64_t	 *afters;
	struct event	**events;
	size_t		 *counts;
	bool		 *pending;
	uint32_t	  max_limit;
	uint64_t	  top;
	size_t		  i;
	enum err	  e;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	afters = arena_alloc(ctx->arena, sizeof(*afters) * n);
	events = arena_alloc(ctx->arena, sizeof(struct event *) * n);
	counts = arena_alloc(ctx->arena, sizeof(*counts) * n);
	pending = arena_alloc(ctx->arena, sizeof(*pending) * n);
	max_limit = 1;
	acknowledge(ctx, n, polls);
	for (i = 0; i < n; i++) {
		users[i] = polls[i].user_id;
		afters[i] = polls[i].after.xid;
		if (polls[i].limit > max_limit)
			max_limit = polls[i].limit;
	}
	/* One transaction's events for one user are bounded by a group's size: read that
	 * much beyond the limit, so that the last transaction is never cut. */
	e = store_feed(ctx, n, users, afters, (int64_t)max_limit + ctx->cfg->max_group_members +
	    16, chat_feed_naive, events, counts, pending, &top);
	if (e != ERR_OK)
		return e;
	for (i = 0; i < n; i++) {
		memset(&pages[i], 0, sizeof(pages[i]));
		pages[i].next = polls[i].after;
		pages[i].events = events[i];
		pages[i].count = counts[i];
		pages[i].pending = pending[i];
		if (cut(polls[i].after.xid, polls[i].limit, top, &pages[i]) != ERR_OK) {
			pages[i].events = NULL;
			pages[i].count = 0;
			pages[i].expired = true;
		}
	}
	read_ephemeral(ctx, n, polls, pages);
	return ERR_OK;
}

void
chat_notify(struct ctx *ctx, const char *chat_id, const char *also)
{
	const char	**users;
	size_t		  n;

	if (store_chat_audience(ctx, chat_id, also, &users, &n) != ERR_OK)
		return;
	bus_wake(ctx, users, n);
}
