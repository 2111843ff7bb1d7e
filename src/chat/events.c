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
	enum err	 e;

	uint64_t	 far;

	/* A read from the far future returns nothing but the horizon. */
	far = UINT64_MAX >> 1;
	e = store_feed(ctx, 1, &ctx->user_id, &far, 1, chat_feed_naive, &ev, &n, &top);
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

void
chat_notify_senders(struct ctx *ctx, const struct moved *m)
{
	const char	**users;
	size_t		  n;

	/* A receipt concerns only the senders of the messages it covers: waking the whole
	 * chat would make every member's receipt wake every member. */
	if (store_range_senders(ctx, m, ctx->user_id, &users, &n) == ERR_OK && n > 0)
		bus_wake(ctx, users, n);
}

/* Delivered receipts: a poll acknowledges what its device received up to its cursor. */
static void
acknowledge(struct ctx *ctx, const char *user_id, const char *device_id, uint64_t position)
{
	struct moved	*moved;
	const char	*self;
	size_t		 n;
	size_t		 i;

	if (position == 0)
		return;
	if (store_ack(ctx, user_id, device_id, position, &moved, &n) != ERR_OK)
		return;
	self = ctx->user_id;
	ctx->user_id = user_id;
	for (i = 0; i < n; i++)
		chat_notify_senders(ctx, &moved[i]);
	ctx->user_id = self;
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

/* Ephemeral events live in Redis only: while it is down, polls go on without. */
static void
read_ephemeral(struct ctx *ctx, const struct poll_req *poll, struct event_page *page)
{
	struct eph_pos	from;
	struct eph_pos	next;

	from.ms = poll->after.eph_ms;
	from.seq = poll->after.eph_seq;
	if (bus_eph_read(ctx, poll->user_id, &from, poll->limit, &page->eph, &page->eph_count,
	    &next) == ERR_OK) {
		page->next.eph_ms = next.ms;
		page->next.eph_seq = next.seq;
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
	uint32_t	  max_limit;
	uint64_t	  top;
	size_t		  i;
	enum err	  e;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	afters = arena_alloc(ctx->arena, sizeof(*afters) * n);
	events = arena_alloc(ctx->arena, sizeof(struct event *) * n);
	counts = arena_alloc(ctx->arena, sizeof(*counts) * n);
	max_limit = 1;
	for (i = 0; i < n; i++) {
		if (polls[i].acknowledge)
			acknowledge(ctx, polls[i].user_id, polls[i].device_id, polls[i].after.xid);
		users[i] = polls[i].user_id;
		afters[i] = polls[i].after.xid;
		if (polls[i].limit > max_limit)
			max_limit = polls[i].limit;
	}
	/* One transaction's events for one user are bounded by a group's size: read that
	 * much beyond the limit, so that the last transaction is never cut. */
	e = store_feed(ctx, n, users, afters, (int64_t)max_limit + ctx->cfg->max_group_members +
	    16, chat_feed_naive, events, counts, &top);
	if (e != ERR_OK)
		return e;
	for (i = 0; i < n; i++) {
		memset(&pages[i], 0, sizeof(pages[i]));
		pages[i].next = polls[i].after;
		pages[i].events = events[i];
		pages[i].count = counts[i];
		if (cut(polls[i].after.xid, polls[i].limit, top, &pages[i]) != ERR_OK) {
			pages[i].events = NULL;
			pages[i].count = 0;
			pages[i].expired = true;
			continue;
		}
		read_ephemeral(ctx, &polls[i], &pages[i]);
	}
	return ERR_OK;
}

enum err
chat_events_read(struct ctx *ctx, const struct feed_pos *after, uint32_t limit,
    struct event_page *out)
{
	struct poll_req	poll;
	enum err	e;

	poll.user_id = ctx->user_id;
	poll.device_id = ctx->device_id;
	poll.after = *after;
	poll.limit = limit;
	poll.acknowledge = true;
	e = chat_events_read_many(ctx, 1, &poll, out);
	if (e == ERR_OK && out->expired)
		return ERR_CURSOR_EXPIRED;
	return e;
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
