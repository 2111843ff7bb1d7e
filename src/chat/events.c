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

	/* A read from the far future returns nothing but the horizon. */
	e = store_feed(ctx, ctx->user_id, UINT64_MAX >> 1, 1, chat_feed_naive, &ev, &n, &top);
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

/* Delivered receipts: a poll acknowledges what its device received up to its cursor. */
static void
acknowledge(struct ctx *ctx, uint64_t position)
{
	const char	**chats;
	size_t		  n;
	size_t		  i;

	if (position == 0)
		return;
	if (store_ack(ctx, ctx->user_id, ctx->device_id, position, &chats, &n) != ERR_OK)
		return;
	for (i = 0; i < n; i++)
		chat_notify(ctx, chats[i], NULL);
}

/* Reads the durable events after `after` into out (out->next.xid set). */
static enum err
read_durable(struct ctx *ctx, uint64_t after, uint32_t limit, struct event_page *out)
{
	uint64_t	 top;
	size_t		 n;
	enum err	 e;

	/* One transaction's events for one user are bounded by a group's size: read that
	 * much beyond the limit, so that the last transaction is never cut. */
	e = store_feed(ctx, ctx->user_id, after,
	    (int64_t)limit + ctx->cfg->max_group_members + 16, chat_feed_naive, &out->events,
	    &out->count, &top);
	if (e != ERR_OK)
		return e;
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

enum err
chat_events_read(struct ctx *ctx, const struct feed_pos *after, uint32_t limit,
    struct event_page *out)
{
	struct eph_pos	 from;
	struct eph_pos	 next;
	enum err	 e;

	memset(out, 0, sizeof(*out));
	out->next = *after;
	acknowledge(ctx, after->xid);
	e = read_durable(ctx, after->xid, limit, out);
	if (e != ERR_OK)
		return e;
	/* Ephemeral events live in Redis only: while it is down, polls go on without. */
	from.ms = after->eph_ms;
	from.seq = after->eph_seq;
	if (bus_eph_read(ctx, ctx->user_id, &from, limit, &out->eph, &out->eph_count,
	    &next) == ERR_OK) {
		out->next.eph_ms = next.ms;
		out->next.eph_seq = next.seq;
	}
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
