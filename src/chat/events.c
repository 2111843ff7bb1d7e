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

#include "bus/bus.h"
#include "settings.h"

bool chat_feed_naive;

enum err
chat_events_position(struct ctx *ctx, uint64_t *position)
{
	struct event	*ev;
	size_t		 n;
	uint64_t	 top;
	enum err	 e;

	/* A read from the far future returns nothing but the horizon. */
	e = store_feed(ctx, ctx->user_id, UINT64_MAX >> 1, 1, chat_feed_naive, &ev, &n, &top);
	if (e != ERR_OK)
		return e;
	*position = top > 0 ? top - 1 : 0;
	return ERR_OK;
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

enum err
chat_events_read(struct ctx *ctx, uint64_t after, uint32_t limit, struct event_page *out)
{
	uint64_t	 top;
	size_t		 n;
	enum err	 e;

	acknowledge(ctx, after);
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
		out->next = out->events[n - 1].xid;
		return ERR_OK;
	}
	out->next = top > 0 ? top - 1 : after;
	if (chat_feed_naive && n > 0)
		out->next = out->events[n - 1].xid;
	if (out->next < after)
		out->next = after;
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
