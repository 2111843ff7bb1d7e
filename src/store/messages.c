/* SPDX-License-Identifier: MIT */
/*
 * Chats, messages, history pages, receipts and read pointers.
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"

/* Formats an int64 parameter into the arena. */
static const char *
num(struct ctx *ctx, int64_t v)
{
	return arena_printf(ctx->arena, "%lld", (long long)v);
}

void
store_read_message(struct ctx *ctx, const PGresult *res, int row, int col,
    const char *chat_id, struct message *out)
{
	out->chat_id = chat_id;
	out->seq = store_int(res, row, col);
	out->sender_id = store_text(ctx, res, row, col + 1);
	out->kind = store_text(ctx, res, row, col + 2);
	out->content = store_text(ctx, res, row, col + 3);
	out->media_id = store_text(ctx, res, row, col + 4);
	out->reply_to_seq = PQgetisnull(res, row, col + 5) ? 0 : store_int(res, row, col + 5);
	out->created_us = store_int(res, row, col + 6);
	out->status = store_text(ctx, res, row, col + 7);
	if (out->status == NULL)
		out->status = "sent";
	out->media_type = store_text(ctx, res, row, col + 8);
	out->media_size = PQgetisnull(res, row, col + 9) ? 0 : store_int(res, row, col + 9);
}

enum err
store_direct_chat(struct ctx *ctx, const char *user_a, const char *user_b, const char **chat_id)
{
	const char	*params[2];
	PGresult	*res;
	enum err	 e;
	int		 attempt;

	/* The pair is stored smaller id first, so that one pair has one chat. */
	params[0] = strcmp(user_a, user_b) < 0 ? user_a : user_b;
	params[1] = strcmp(user_a, user_b) < 0 ? user_b : user_a;
	for (attempt = 0; attempt < 3; attempt++) {
		e = store_exec(ctx, STMT_CHAT_DIRECT_FIND, 2, params, &res);
		if (e != ERR_OK)
			return e;
		if (PQntuples(res) == 1) {
			*chat_id = store_text(ctx, res, 0, 0);
			PQclear(res);
			return ERR_OK;
		}
		PQclear(res);
		/* Two first messages at the same moment: ON CONFLICT lets one insert win;
		 * the other finds the winner's row on its next look. */
		e = store_exec(ctx, STMT_CHAT_DIRECT_CREATE, 2, params, &res);
		if (e != ERR_OK)
			return e;
		if (PQntuples(res) == 1) {
			*chat_id = store_text(ctx, res, 0, 0);
			PQclear(res);
			return ERR_OK;
		}
		PQclear(res);
	}
	return ERR_UNAVAILABLE;
}

const char *
store_chat_lock_key(struct ctx *ctx, const char *chat_id)
{
	uint64_t	key;
	int		i;
	int		n;

	key = 0;
	for (i = n = 0; chat_id[i] != '\0' && n < 16; i++) {
		if (chat_id[i] == '-')
			continue;
		key = key << 4 | (uint64_t)(chat_id[i] <= '9' ? chat_id[i] - '0' :
		    chat_id[i] - 'a' + 10);
		n++;
	}
	return num(ctx, (int64_t)key);
}

enum err
store_chat_lock(struct ctx *ctx, const char *chat_id)
{
	const char	*params[1];
	PGresult	*res;
	enum err	 e;

	params[0] = store_chat_lock_key(ctx, chat_id);
	e = store_exec(ctx, STMT_CHAT_LOCK, 1, params, &res);
	PQclear(res);
	return e;
}

enum err
store_member_current(struct ctx *ctx, const char *chat_id, const char *user_id)
{
	const char	*params[2] = { chat_id, user_id };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_MEMBER_CURRENT, 2, params, &res);
	if (e != ERR_OK)
		return e;
	e = PQntuples(res) > 0 ? ERR_OK : ERR_NOT_FOUND;
	PQclear(res);
	return e;
}

enum err
store_direct_target(struct ctx *ctx, const char *user_id, const char *receiver_id,
    const char **chat_id)
{
	const char	*params[2] = { user_id, receiver_id };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_DIRECT_TARGET, 2, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ERR_NOT_FOUND;
	}
	*chat_id = store_text(ctx, res, 0, 0);
	PQclear(res);
	return ERR_OK;
}

static enum send_outcome
outcome_of(const char *s)
{
	static const struct {
		const char		*name;
		enum send_outcome	 outcome;
	} names[] = {
		{ "sent", SEND_SENT }, { "replay", SEND_REPLAY }, { "conflict", SEND_CONFLICT },
		{ "forbidden", SEND_FORBIDDEN }, { "reply_missing", SEND_REPLY_MISSING },
		{ "reply_other", SEND_REPLY_OTHER }, { "ok", SEND_OK },
	};
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].name, s) == 0)
			return names[i].outcome;
	return SEND_FORBIDDEN;
}

enum err
store_message_send(struct ctx *ctx, const struct message_new *m, const char *reply_chat,
    bool dry, struct send_result *out)
{
	const char	*params[11];
	PGresult	*res;
	enum err	 e;

	memset(out, 0, sizeof(*out));
	params[0] = m->chat_id;
	params[1] = store_chat_lock_key(ctx, m->chat_id);
	params[2] = m->sender_id;
	params[3] = m->client_msg_id;
	params[4] = m->body_hash_hex;
	params[5] = m->kind;
	params[6] = m->content;
	params[7] = m->media_id;
	params[8] = m->reply_to_seq > 0 ? reply_chat : NULL;
	params[9] = m->reply_to_seq > 0 ? num(ctx, m->reply_to_seq) : NULL;
	params[10] = dry ? "true" : "false";
	e = store_exec(ctx, STMT_MESSAGE_SEND, 11, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ERR_INTERNAL;
	}
	out->outcome = outcome_of(PQgetvalue(res, 0, 0));
	if (out->outcome == SEND_SENT || out->outcome == SEND_REPLAY) {
		out->msg.chat_id = store_text(ctx, res, 0, 1);
		out->msg.seq = store_int(res, 0, 2);
		out->msg.created_us = store_int(res, 0, 3);
		out->msg.status = store_text(ctx, res, 0, 4);
		if (out->msg.status == NULL)
			out->msg.status = "sent";
	}
	PQclear(res);
	return ERR_OK;
}

enum err
store_periods(struct ctx *ctx, const char *chat_id, const char *user_id, struct period **out,
    size_t *count, const char **kind)
{
	const char	*params[2] = { chat_id, user_id };
	PGresult	*res;
	struct period	*p;
	enum err	 e;
	int		 i;
	int		 n;

	e = store_exec(ctx, STMT_PERIODS, 2, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return ERR_NOT_FOUND;
	}
	p = arena_alloc(ctx->arena, sizeof(*p) * (size_t)n);
	for (i = 0; i < n; i++) {
		p[i].from_seq = store_int(res, i, 0);
		p[i].to_seq = store_int(res, i, 1);
		p[i].read_seq = store_int(res, i, 2);
		p[i].delivered_seq = store_int(res, i, 3);
		p[i].current = PQgetvalue(res, i, 4)[0] == 't';
	}
	*kind = store_text(ctx, res, 0, 5);
	PQclear(res);
	*out = p;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_message_range(struct ctx *ctx, const char *chat_id, const char *viewer, int64_t lo,
    int64_t hi, bool desc, int64_t limit, struct message **out, size_t *count)
{
	const char	*params[5];
	PGresult	*res;
	struct message	*m;
	enum err	 e;
	int		 i;
	int		 n;

	params[0] = chat_id;
	params[1] = num(ctx, lo);
	params[2] = num(ctx, hi);
	params[3] = num(ctx, limit);
	params[4] = viewer;
	e = store_exec(ctx, desc ? STMT_MESSAGES_DESC : STMT_MESSAGES_ASC, 5, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	m = arena_alloc(ctx->arena, sizeof(*m) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		store_read_message(ctx, res, i, 0, chat_id, &m[i]);
	PQclear(res);
	*out = m;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_message_get(struct ctx *ctx, const char *chat_id, int64_t seq, const char *viewer,
    struct message *out)
{
	const char	*params[3] = { chat_id, num(ctx, seq), viewer };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_MESSAGE_ONE, 3, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ERR_NOT_FOUND;
	}
	store_read_message(ctx, res, 0, 0, chat_id, out);
	PQclear(res);
	return ERR_OK;
}

enum err
store_seq_before_time(struct ctx *ctx, const char *chat_id, const char *rfc3339, int64_t *seq)
{
	const char	*params[2] = { chat_id, rfc3339 };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_SEQ_BEFORE_TIME, 2, params, &res);
	if (e != ERR_OK)
		return e;
	*seq = PQntuples(res) == 1 ? store_int(res, 0, 0) : 0;
	PQclear(res);
	return ERR_OK;
}

enum err
store_receipts(struct ctx *ctx, const char *chat_id, int64_t seq, const char *sender_id,
    struct receipt **out, size_t *count)
{
	const char	*params[3] = { chat_id, num(ctx, seq), sender_id };
	PGresult	*res;
	struct receipt	*r;
	enum err	 e;
	int		 i;
	int		 n;

	e = store_exec(ctx, STMT_RECEIPTS, 3, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	r = arena_alloc(ctx->arena, sizeof(*r) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		r[i].user_id = store_text(ctx, res, i, 0);
		r[i].status = store_text(ctx, res, i, 1);
		r[i].at_us = PQgetisnull(res, i, 2) ? 0 : store_int(res, i, 2);
	}
	PQclear(res);
	*out = r;
	*count = (size_t)n;
	return ERR_OK;
}

/* Reads the feed position of the current snapshot. */
static enum err
feed_position(struct ctx *ctx, uint64_t *xid)
{
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_FEED_POSITION, 0, NULL, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1 || !text_parse_u64(PQgetvalue(res, 0, 0), UINT64_MAX, xid))
		e = ERR_INTERNAL;
	PQclear(res);
	return e;
}

static void
read_summary(struct ctx *ctx, const PGresult *res, int i, struct chat_summary *c)
{
	c->chat_id = store_text(ctx, res, i, 0);
	c->kind = store_text(ctx, res, i, 1);
	c->group_id = store_text(ctx, res, i, 2);
	c->name = store_text(ctx, res, i, 3);
	c->peer_id = store_text(ctx, res, i, 4);
	c->read_seq = store_int(res, i, 5);
	c->unread = store_int(res, i, 6);
	c->has_last = !PQgetisnull(res, i, 7);
	if (c->has_last)
		store_read_message(ctx, res, i, 7, c->chat_id, &c->last);
	if (c->name == NULL)
		c->name = "";
}

enum err
store_chat_list(struct ctx *ctx, const char *user_id, struct chat_summary **out, size_t *count,
    uint64_t *cursor_xid)
{
	const char		*params[1] = { user_id };
	PGresult		*res;
	struct chat_summary	*c;
	enum err		 e;
	int			 i;
	int			 n;

	/* One snapshot for the list and the feed position: polling from the position
	 * misses nothing that happened after the list was read. */
	e = store_tx_begin_snapshot(ctx);
	if (e != ERR_OK)
		return e;
	e = feed_position(ctx, cursor_xid);
	if (e == ERR_OK)
		e = store_exec(ctx, STMT_CHAT_LIST, 1, params, &res);
	store_tx_rollback(ctx);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	c = arena_alloc(ctx->arena, sizeof(*c) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		read_summary(ctx, res, i, &c[i]);
	PQclear(res);
	*out = c;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_read_move(struct ctx *ctx, const char *chat_id, const char *user_id, int64_t seq,
    const char ***wake, size_t *count)
{
	const char	*params[3];
	enum err	 e;

	*count = 0;
	e = store_member_current(ctx, chat_id, user_id);
	if (e != ERR_OK)
		return e;
	params[0] = chat_id;
	params[1] = user_id;
	params[2] = num(ctx, seq);
	return store_exec_ids(ctx, STMT_READ_MOVE, 3, params, wake, count);
}
