/* SPDX-License-Identifier: MIT */
/*
 * Sending and reading messages.
 *
 * A send is one transaction: the chat's lock first (no write before it, see
 * store_chat_lock), then the idempotency key, membership, reply_to and rate checks, then
 * one statement that takes the next seq and writes the key and the message. The answer
 * goes out only after COMMIT. Reads go through the caller's membership periods.
 */
#include "config.h"
#include "chat.h"

#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "base/text.h"
#include "bus/bus.h"
#include "settings.h"

/* The fingerprint of what a send asks for: a retry must ask for the same thing. */
static void
draft_hash(const struct message_draft *d, char out[65])
{
	const char	*fields[6] = { d->receiver_id, d->group_id, d->kind, d->content,
	    d->reply_to, d->media_id };

	digest_fields_hex(fields, 6, out);
}

/* The chat a draft goes to: the group's, or the direct chat (created on first use). */
static enum err
target_chat(struct ctx *ctx, const struct message_draft *d, const char **chat_id,
    const char **why)
{
	struct chat_group	g;
	struct user	u;
	enum err	e;

	if (d->group_id != NULL) {
		e = store_group_get(ctx, d->group_id, &g);
		if (e == ERR_NOT_FOUND)
			*why = "group not found";
		*chat_id = g.chat_id;
		return e;
	}
	e = store_user_by_id(ctx, d->receiver_id, &u);
	if (e == ERR_NOT_FOUND) {
		*why = "receiver not found";
		return e;
	}
	if (e != ERR_OK)
		return e;
	return store_direct_chat(ctx, ctx->user_id, u.id, chat_id);
}

/* A replay answers with the original message; another body under the same key is 409. */
static enum err
replay(const struct message *orig, const char *orig_hash, const char *hash,
    struct message_sent *out, const char **why)
{
	if (strcmp(orig_hash, hash) != 0) {
		*why = "client_msg_id was used for another message";
		return ERR_CONFLICT;
	}
	out->msg = *orig;
	out->replayed = true;
	return ERR_OK;
}

/* Checks reply_to: a message of this chat (404 when unknown, 400 when of another). */
static enum err
check_reply(struct ctx *ctx, const char *chat_id, const char *reply_to, int64_t *seq,
    const char **why)
{
	char		other[37];
	enum err	e;

	*seq = 0;
	if (reply_to == NULL)
		return ERR_OK;
	if (!chat_message_id_parse(reply_to, other, seq)) {
		*why = "reply_to message not found";
		return ERR_NOT_FOUND;
	}
	e = store_message_exists(ctx, other, *seq);
	if (e == ERR_NOT_FOUND)
		*why = "reply_to message not found";
	if (e == ERR_OK && strcmp(other, chat_id) != 0) {
		*why = "reply_to is a message of another chat";
		return ERR_BAD_REQUEST;
	}
	return e;
}

/* The transaction of a send. ERR_CONFLICT from the insert means that the same key
 * committed concurrently in another chat: the caller looks again. */
static enum err
send_tx(struct ctx *ctx, const struct message_draft *d, const char *chat_id,
    const char *hash, struct message_sent *out, const char **why)
{
	struct message_new	 m;
	struct message		 orig;
	const char		*orig_hash;
	enum err		 e;

	e = store_chat_lock(ctx, chat_id);
	if (e != ERR_OK)
		return e;
	e = store_message_key(ctx, ctx->user_id, d->client_msg_id, &orig, &orig_hash);
	if (e == ERR_OK)
		return replay(&orig, orig_hash, hash, out, why);
	if (e != ERR_NOT_FOUND)
		return e;
	e = store_member_current(ctx, chat_id, ctx->user_id);
	if (e == ERR_NOT_FOUND) {
		*why = "not a member of this group";
		return ERR_FORBIDDEN;
	}
	if (e != ERR_OK)
		return e;
	memset(&m, 0, sizeof(m));
	e = check_reply(ctx, chat_id, d->reply_to, &m.reply_to_seq, why);
	if (e != ERR_OK)
		return e;
	if (d->media_id != NULL) {
		/* Media objects arrive with the media capability; none exists yet. */
		*why = "media not found";
		return ERR_NOT_FOUND;
	}
	e = bus_rate_take(ctx, ctx->user_id);
	if (e != ERR_OK)
		return e;
	m.chat_id = chat_id;
	m.sender_id = ctx->user_id;
	m.client_msg_id = d->client_msg_id;
	m.body_hash_hex = hash;
	m.kind = d->kind;
	m.content = d->content;
	m.media_id = d->media_id;
	e = store_message_insert(ctx, &m, &out->msg.seq, &out->msg.created_us);
	if (e != ERR_OK)
		return e;
	out->msg.chat_id = chat_id;
	out->msg.sender_id = ctx->user_id;
	out->msg.kind = d->kind;
	out->msg.content = d->content;
	out->msg.media_id = d->media_id;
	out->msg.reply_to_seq = m.reply_to_seq;
	out->msg.status = "sent";
	out->replayed = false;
	return ERR_OK;
}

/* Test-only: widens the window in which transactions commit out of xid order, so that
 * the concurrency test shows what a naive feed reader loses. Off unless configured. */
static void
test_delay(const struct ctx *ctx)
{
	struct timespec	ts;
	uint32_t	r;

	if (ctx->cfg->test_commit_delay_ms == 0)
		return;
	text_random(&r, sizeof(r));
	r %= ctx->cfg->test_commit_delay_ms * 1000u;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)r * 1000;
	nanosleep(&ts, NULL);
}

enum err
chat_message_send(struct ctx *ctx, const struct message_draft *d, struct message_sent *out,
    const char **why)
{
	const char	*chat_id;
	char		 hash[65];
	enum err	 e;
	int		 attempt;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	e = target_chat(ctx, d, &chat_id, why);
	if (e != ERR_OK)
		return e;
	draft_hash(d, hash);
	for (attempt = 0; attempt < 2; attempt++) {
		e = store_tx_begin(ctx);
		if (e != ERR_OK)
			return e;
		e = send_tx(ctx, d, chat_id, hash, out, why);
		if (e != ERR_OK || out->replayed) {
			store_tx_rollback(ctx);
			if (e == ERR_CONFLICT && *why == NULL)
				continue;	/* raced with the same key in another chat */
			return e;
		}
		/* An error here leaves the outcome unknown: 503, and the client's retry
		 * with the same client_msg_id finds out. */
		test_delay(ctx);
		e = store_tx_commit(ctx);
		if (e == ERR_OK)
			chat_notify(ctx, chat_id, NULL);
		return e;
	}
	return ERR_UNAVAILABLE;
}

/* Collects up to want messages of the visible ranges, newest first or oldest first. */
static enum err
collect(struct ctx *ctx, const struct history_query *q, const struct period *p, size_t np,
    bool desc, int64_t want, struct message *out, size_t *got)
{
	struct message	*page;
	size_t		 n;
	size_t		 i;
	size_t		 k;
	int64_t		 lo;
	int64_t		 hi;
	enum err	 e;

	*got = 0;
	for (k = 0; k < np && (int64_t)*got < want; k++) {
		/* Periods are newest first: walk them backwards for ascending pages. */
		i = desc ? k : np - 1 - k;
		lo = p[i].from_seq;
		hi = p[i].to_seq;
		if (q->has_after && q->after_seq > lo)
			lo = q->after_seq;
		if (q->has_before && q->before_seq - 1 < hi)
			hi = q->before_seq - 1;
		if (lo >= hi)
			continue;
		e = store_message_range(ctx, q->chat_id, ctx->user_id, lo, hi, desc,
		    want - (int64_t)*got, &page, &n);
		if (e != ERR_OK)
			return e;
		memcpy(out + *got, page, n * sizeof(*page));
		*got += n;
	}
	return ERR_OK;
}

enum err
chat_history(struct ctx *ctx, const struct history_query *q, struct message **out,
    size_t *count, bool *has_more)
{
	struct period	*periods;
	size_t		 np;
	size_t		 got;
	const char	*kind;
	bool		 desc;
	enum err	 e;

	e = store_periods(ctx, q->chat_id, ctx->user_id, &periods, &np, &kind);
	if (e != ERR_OK)
		return e;
	/* before (or nothing): newest first; after, or both: oldest first. */
	desc = !q->has_after;
	*out = arena_alloc(ctx->arena, sizeof(**out) * (size_t)(q->limit + 1));
	e = collect(ctx, q, periods, np, desc, q->limit + 1, *out, &got);
	if (e != ERR_OK)
		return e;
	*has_more = (int64_t)got > q->limit;
	*count = *has_more ? (size_t)q->limit : got;
	return ERR_OK;
}

/* Finds the caller's period that covers a message, by its id. */
static enum err
visible(struct ctx *ctx, const char *message_id, char chat_id[37], int64_t *seq)
{
	struct period	*p;
	const char	*kind;
	size_t		 n;
	size_t		 i;
	enum err	 e;

	if (!chat_message_id_parse(message_id, chat_id, seq))
		return ERR_NOT_FOUND;
	e = store_periods(ctx, chat_id, ctx->user_id, &p, &n, &kind);
	if (e != ERR_OK)
		return e;
	for (i = 0; i < n; i++)
		if (*seq > p[i].from_seq && *seq <= p[i].to_seq)
			return ERR_OK;
	return ERR_NOT_FOUND;
}

enum err
chat_message_show(struct ctx *ctx, const char *message_id, struct message *out)
{
	char		chat_id[37];
	int64_t		seq;
	enum err	e;

	e = visible(ctx, message_id, chat_id, &seq);
	if (e != ERR_OK)
		return e;
	return store_message_get(ctx, arena_strdup(ctx->arena, chat_id), seq, ctx->user_id, out);
}

enum err
chat_message_receipts(struct ctx *ctx, const char *message_id, struct receipt **out,
    size_t *count)
{
	struct message	m;
	enum err	e;

	e = chat_message_show(ctx, message_id, &m);
	if (e != ERR_OK)
		return e;
	return store_receipts(ctx, m.chat_id, m.seq, m.sender_id, out, count);
}

enum err
chat_read(struct ctx *ctx, const char *chat_id, int64_t seq)
{
	int64_t		moved;
	enum err	e;

	e = store_read_move(ctx, chat_id, ctx->user_id, seq, &moved);
	if (e == ERR_OK && moved > 0)
		chat_notify(ctx, chat_id, NULL);
	return e;
}
