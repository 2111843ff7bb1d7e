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

/* Columns of a feed row: 0 top, 1 the polls with rows above it, 2 poll index (from 1),
 * 3 xid, 4 kind, 5 chat_id, 6 n, 7..16 message columns, 17 who, 18 what, 19 group,
 * 20 below, 21 rank. */
#define FEED_COL_POLL	2
#define FEED_COL_MSG	7
static void
read_event(struct ctx *ctx, const PGresult *res, int i, struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->xid = xid_of(res, i, 3);
	ev->kind = (enum event_kind)store_int(res, i, 4);
	ev->chat_id = store_text(ctx, res, i, 5);
	switch (ev->kind) {
	case EVENT_MESSAGE:
		store_read_message(ctx, res, i, FEED_COL_MSG, ev->chat_id, &ev->msg);
		break;
	case EVENT_MEMBER:
	case EVENT_RECEIPT:
		ev->seq = store_int(res, i, FEED_COL_MSG);
		ev->msg.created_us = store_int(res, i, FEED_COL_MSG + 6);
		ev->user_id = store_text(ctx, res, i, FEED_COL_MSG + MESSAGE_NCOLS);
		ev->action = store_text(ctx, res, i, FEED_COL_MSG + 1 + MESSAGE_NCOLS);
		ev->group_id = store_text(ctx, res, i, FEED_COL_MSG + 2 + MESSAGE_NCOLS);
		break;
	}
}

/* Marks pending[k] for the polls (indexes from 1, space-separated) of the second column. */
static void
read_pending(const PGresult *res, size_t n, bool *pending)
{
	const char	*s;
	uint64_t	 v;
	size_t		 k;
	size_t		 len;

	for (k = 0; k < n; k++)
		pending[k] = false;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 1))
		return;
	for (s = PQgetvalue(res, 0, 1); *s != '\0'; s += len + (s[len] == ' ')) {
		len = strcspn(s, " ");
		if (text_parse_u64n(s, len, n, &v) && v >= 1)
			pending[v - 1] = true;
		if (len == 0)
			break;
	}
}

const char *
store_id_array(struct ctx *ctx, const char *const *ids, size_t n)
{
	char	*s;
	size_t	 i;
	size_t	 o;

	s = arena_alloc(ctx->arena, n * 37 + 3);
	o = 0;
	s[o++] = '{';
	for (i = 0; i < n; i++) {
		if (i > 0)
			s[o++] = ',';
		memcpy(s + o, ids[i], 36);
		o += 36;
	}
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

/* A PostgreSQL array literal of n positions. */
static const char *
positions_array(struct ctx *ctx, size_t n, const uint64_t *nums)
{
	char	*s;
	size_t	 i;
	size_t	 o;
	size_t	 cap;

	cap = n * 22 + 3;
	s = arena_alloc(ctx->arena, cap);
	o = 0;
	s[o++] = '{';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%llu", i > 0 ? "," : "",
		    (unsigned long long)nums[i]);
	s[o++] = '}';
	s[o] = '\0';
	return s;
}

/* How far back (in transactions) a batch of n polls reads what changed from the rows
 * written since rather than from each user's memberships: a position a few transactions
 * old is cheaper that way for any user, and a larger batch shares the scan. Each
 * transaction of that span costs about as much as one or two of a user's chats. */
static const char *
recent_gap(struct ctx *ctx, size_t n)
{
	size_t	gap;

	gap = n > 512 ? 512 * 128 : n * 128;
	return arena_printf(ctx->arena, "%zu", gap < 256 ? 256 : gap);
}

enum err
store_feed(struct ctx *ctx, size_t n, const char *const *user_ids, const uint64_t *afters,
    int64_t max_rows, bool naive, struct event **out, size_t *counts, bool *pending,
    uint64_t *top)
{
	const char	*params[4];
	PGresult	*res;
	struct event	*ev;
	uint64_t	 poll;
	enum err	 e;
	size_t		 k;
	int		 i;
	int		 rows;

	params[0] = store_id_array(ctx, user_ids, n);
	params[1] = positions_array(ctx, n, afters);
	params[2] = arena_printf(ctx->arena, "%lld", (long long)max_rows);
	params[3] = recent_gap(ctx, n);
	e = store_exec(ctx, naive ? STMT_FEED_NAIVE : STMT_FEED, 4, params, &res);
	if (e != ERR_OK)
		return e;
	rows = PQntuples(res);
	*top = rows > 0 ? xid_of(res, 0, 0) : 0;
	read_pending(res, n, pending);
	for (k = 0; k < n; k++) {
		counts[k] = 0;
		out[k] = NULL;
	}
	/* Rows come ordered by poll: count, then fill each poll's slice. */
	ev = arena_alloc(ctx->arena, sizeof(*ev) * (size_t)(rows > 0 ? rows : 1));
	for (i = 0; i < rows; i++) {
		if (PQgetisnull(res, i, FEED_COL_POLL))
			continue;
		poll = (uint64_t)store_int(res, i, FEED_COL_POLL);
		if (poll < 1 || poll > n)
			continue;
		if (out[poll - 1] == NULL)
			out[poll - 1] = &ev[i];
		read_event(ctx, res, i, &ev[i]);
		counts[poll - 1]++;
	}
	PQclear(res);
	return ERR_OK;
}

enum err
store_exec_ids(struct ctx *ctx, enum stmt st, int nparams, const char *const *params,
    const char ***out, size_t *count)
{
	const char	**ids;
	PGresult	 *res;
	enum err	  e;
	int		  i;
	int		  n;

	*count = 0;
	e = store_exec(ctx, st, nparams, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	ids = arena_alloc(ctx->arena, sizeof(*ids) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		ids[i] = store_text(ctx, res, i, 0);
	PQclear(res);
	*out = ids;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_ack(struct ctx *ctx, size_t n, const char *const *user_ids,
    const char *const *device_ids, const uint64_t *positions, const char ***wake,
    size_t *count)
{
	const char	*params[4];

	params[0] = store_id_array(ctx, user_ids, n);
	params[1] = store_id_array(ctx, device_ids, n);
	params[2] = positions_array(ctx, n, positions);
	params[3] = recent_gap(ctx, n);
	return store_exec_ids(ctx, STMT_ACK, 4, params, wake, count);
}

enum err
store_chat_audience(struct ctx *ctx, const char *chat_id, const char *also,
    const char ***user_ids, size_t *count)
{
	const char	*params[2] = { chat_id, also };

	return store_exec_ids(ctx, STMT_CHAT_AUDIENCE, 2, params, user_ids, count);
}

enum err
store_contacts(struct ctx *ctx, const char *const *user_ids, size_t n,
    struct contact **out, size_t *count)
{
	const char	*params[1];
	PGresult	*res;
	struct contact	*c;
	enum err	 e;
	int		 rows;
	int		 i;

	*count = 0;
	params[0] = store_id_array(ctx, user_ids, n);
	e = store_exec(ctx, STMT_CONTACTS, 1, params, &res);
	if (e != ERR_OK)
		return e;
	rows = PQntuples(res);
	c = arena_alloc(ctx->arena, sizeof(*c) * (size_t)(rows > 0 ? rows : 1));
	for (i = 0; i < rows; i++) {
		c[i].contact_id = store_text(ctx, res, i, 0);
		c[i].index = (size_t)store_int(res, i, 1) - 1;
	}
	PQclear(res);
	*out = c;
	*count = (size_t)rows;
	return ERR_OK;
}

enum err
store_shared(struct ctx *ctx, const char *user_id, const char *const *ids, size_t n,
    const char ***user_ids, size_t *count)
{
	const char	*params[2] = { user_id, store_id_array(ctx, ids, n) };

	return store_exec_ids(ctx, STMT_SHARED, 2, params, user_ids, count);
}
