/* SPDX-License-Identifier: MIT */
/*
 * The event feed: what a poll returns, what it acknowledges, and who must be woken.
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"

static uint64_t
xid_of(const PGresult *res, int row, int col)
{
	uint64_t	v;

	return text_parse_u64(PQgetvalue(res, row, col), UINT64_MAX, &v) ? v : 0;
}

/* Columns of a feed row: 0 top, 1 xid, 2 kind, 3 chat_id, 4 n, 5..12 message columns,
 * 13 who, 14 what, 15 group. */
static void
read_event(struct ctx *ctx, const PGresult *res, int i, struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->xid = xid_of(res, i, 1);
	ev->kind = (enum event_kind)store_int(res, i, 2);
	ev->chat_id = store_text(ctx, res, i, 3);
	switch (ev->kind) {
	case EVENT_MESSAGE:
		store_read_message(ctx, res, i, 5, ev->chat_id, &ev->msg);
		break;
	case EVENT_MEMBER:
	case EVENT_RECEIPT:
		ev->seq = store_int(res, i, 5);
		ev->msg.created_us = store_int(res, i, 11);
		ev->user_id = store_text(ctx, res, i, 13);
		ev->action = store_text(ctx, res, i, 14);
		ev->group_id = store_text(ctx, res, i, 15);
		break;
	}
}

enum err
store_feed(struct ctx *ctx, const char *user_id, uint64_t after, int64_t max_rows, bool naive,
    struct event **out, size_t *count, uint64_t *top)
{
	const char	*params[3];
	PGresult	*res;
	struct event	*ev;
	enum err	 e;
	int		 i;
	int		 n;

	params[0] = user_id;
	params[1] = arena_printf(ctx->arena, "%llu", (unsigned long long)after);
	params[2] = arena_printf(ctx->arena, "%lld", (long long)max_rows);
	e = store_exec(ctx, naive ? STMT_FEED_NAIVE : STMT_FEED, 3, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	*top = n > 0 ? xid_of(res, 0, 0) : 0;
	if (n == 1 && PQgetisnull(res, 0, 1))
		n = 0;
	ev = arena_alloc(ctx->arena, sizeof(*ev) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		read_event(ctx, res, i, &ev[i]);
	PQclear(res);
	*out = ev;
	*count = (size_t)n;
	return ERR_OK;
}

/* Copies the first column of every row into an arena array. */
static void
read_ids(struct ctx *ctx, const PGresult *res, const char ***out, size_t *count)
{
	const char	**ids;
	int		  i;
	int		  n;

	n = PQntuples(res);
	ids = arena_alloc(ctx->arena, sizeof(*ids) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		ids[i] = store_text(ctx, res, i, 0);
	*out = ids;
	*count = (size_t)n;
}

enum err
store_ack(struct ctx *ctx, const char *user_id, const char *device_id, uint64_t position,
    const char ***chat_ids, size_t *count)
{
	const char	*params[3];
	PGresult	*res;
	enum err	 e;

	*count = 0;
	params[0] = user_id;
	params[1] = device_id;
	params[2] = arena_printf(ctx->arena, "%llu", (unsigned long long)position);
	e = store_exec(ctx, STMT_ACK, 3, params, &res);
	if (e != ERR_OK)
		return e;
	read_ids(ctx, res, chat_ids, count);
	PQclear(res);
	return ERR_OK;
}

enum err
store_chat_audience(struct ctx *ctx, const char *chat_id, const char *also,
    const char ***user_ids, size_t *count)
{
	const char	*params[2] = { chat_id, also };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_CHAT_AUDIENCE, 2, params, &res);
	if (e != ERR_OK)
		return e;
	read_ids(ctx, res, user_ids, count);
	PQclear(res);
	return ERR_OK;
}

enum err
store_contacts(struct ctx *ctx, const char *user_id, const char ***user_ids, size_t *count)
{
	const char	*params[1] = { user_id };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_CONTACTS, 1, params, &res);
	if (e != ERR_OK)
		return e;
	read_ids(ctx, res, user_ids, count);
	PQclear(res);
	return ERR_OK;
}

enum err
store_shared(struct ctx *ctx, const char *user_id, const char *ids, const char ***user_ids,
    size_t *count)
{
	const char	*params[2] = { user_id, ids };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_SHARED, 2, params, &res);
	if (e != ERR_OK)
		return e;
	read_ids(ctx, res, user_ids, count);
	PQclear(res);
	return ERR_OK;
}
