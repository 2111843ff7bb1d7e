/* SPDX-License-Identifier: MIT */
/*
 * Sending and reading messages.
 *
 * A send is one statement (chat_send in sql/0002_send.sql): the chat's lock first (no
 * write before it, so that xid order is seq order within a chat), then the idempotency
 * key, membership and reply_to checks, then the next seq and the inserts; it commits
 * before the answer goes out. Reads go through the caller's membership periods.
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

/* The chat a draft goes to: the group's, or the direct chat (created on first use).
 * *audience is set for direct chats (both users); a group's comes from the send. */
static enum err
target_chat(struct ctx *ctx, const struct message_draft *d, const char **chat_id,
    const char **audience, const char **why)
{
	struct chat_group	g;
	enum err		e;

	if (d->group_id != NULL) {
		e = store_group_get(ctx, d->group_id, &g);
		if (e == ERR_NOT_FOUND)
			*why = "group not found";
		*chat_id = g.chat_id;
		return e;
	}
	e = store_direct_target(ctx, ctx->user_id, d->receiver_id, chat_id);
	if (e == ERR_NOT_FOUND)
		*why = "receiver not found";
	if (e != ERR_OK)
		return e;
	audience[0] = ctx->user_id;
	audience[1] = d->receiver_id;
	if (*chat_id != NULL)
		return ERR_OK;
	return store_direct_chat(ctx, ctx->user_id, d->receiver_id, chat_id);
}

/* Maps what the send statement found to the answer. */
static enum err
outcome(const struct send_result *r, struct message_sent *out, const char **why)
{
	switch (r->outcome) {
	case SEND_SENT:
	case SEND_REPLAY:
		out->msg = r->msg;
		out->replayed = r->outcome == SEND_REPLAY;
		return ERR_OK;
	case SEND_CONFLICT:
		*why = "client_msg_id was used for another message";
		return ERR_CONFLICT;
	case SEND_FORBIDDEN:
		*why = "not a member of this group";
		return ERR_FORBIDDEN;
	case SEND_REPLY_MISSING:
		*why = "reply_to message not found";
		return ERR_NOT_FOUND;
	case SEND_REPLY_OTHER:
		*why = "reply_to is a message of another chat";
		return ERR_BAD_REQUEST;
	case SEND_OK:
		break;
	}
	return ERR_OK;
}

/* Test-only: widens the window in which transactions commit out of xid order, so that
 * the concurrency test shows what a naive feed reader loses. Off unless configured. */
static void
test_delay(const struct ctx *ctx)
{
	struct timespec	ts;
	uint32_t	r;

	text_random(&r, sizeof(r));
	r %= ctx->cfg->test_commit_delay_ms * 1000u;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)r * 1000;
	nanosleep(&ts, NULL);
}

/* The send statement, in its own transaction (or, with the test delay, in an explicit
 * one that pauses before COMMIT). */
static enum err
send_once(struct ctx *ctx, const struct message_new *m, const char *reply_chat, bool dry,
    struct send_result *r)
{
	enum err	e;

	if (dry || ctx->cfg->test_commit_delay_ms == 0)
		return store_message_send(ctx, m, reply_chat, dry, r);
	e = store_tx_begin(ctx);
	if (e != ERR_OK)
		return e;
	e = store_message_send(ctx, m, reply_chat, false, r);
	if (e != ERR_OK) {
		store_tx_rollback(ctx);
		return e;
	}
	test_delay(ctx);
	return store_tx_commit(ctx);
}

enum err
chat_message_send(struct ctx *ctx, const struct message_draft *d, struct message_sent *out,
    const char **why)
{
	struct message_new	 m;
	struct send_result	 r;
	const char		*audience[2];
	char			 reply_chat[37];
	char			 hash[65];
	bool			 limited;
	enum err		 e;
	int			 attempt;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	*why = NULL;
	audience[0] = audience[1] = NULL;
	e = target_chat(ctx, d, &m.chat_id, audience, why);
	if (e != ERR_OK)
		return e;
	if (d->reply_to != NULL && !chat_message_id_parse(d->reply_to, reply_chat,
	    &m.reply_to_seq)) {
		*why = "reply_to message not found";
		return ERR_NOT_FOUND;
	}
	if (d->media_id != NULL) {
		/* The sender's own upload, of a fitting kind; the foreign key keeps the
		 * sweep from deleting it before the send commits. */
		e = chat_media_fits(ctx, d->media_id, d->kind, why);
		if (e != ERR_OK)
			return e;
	}
	draft_hash(d, hash);
	m.sender_id = ctx->user_id;
	m.client_msg_id = d->client_msg_id;
	m.body_hash_hex = hash;
	m.kind = d->kind;
	m.content = d->content;
	m.media_id = d->media_id;
	/* Over its rate, a sender still gets the answers that come first (403, 404, 409,
	 * or its original message for a retry): a dry run decides, and nothing is stored. */
	limited = bus_rate_take(ctx, ctx->user_id) == ERR_RATE_LIMITED;
	for (attempt = 0; attempt < 2; attempt++) {
		e = send_once(ctx, &m, reply_chat, limited, &r);
		if (e == ERR_CONFLICT)
			continue;	/* the same key committed in another chat: look again */
		if (e != ERR_OK)
			return e;
		if (limited && r.outcome == SEND_OK)
			return ERR_RATE_LIMITED;
		e = outcome(&r, out, why);
		if (e == ERR_OK && r.outcome == SEND_SENT) {
			out->msg.sender_id = ctx->user_id;
			out->msg.kind = d->kind;
			/* A group's members are read after the commit, not under its lock. */
			if (d->group_id != NULL)
				chat_notify(ctx, m.chat_id, NULL);
			else
				bus_wake(ctx, audience, 2);
		}
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
	const char	**wake;
	size_t		  n;
	enum err	  e;

	/* The receipt concerns only the senders of the messages it covers: waking the whole
	 * chat would make every member's receipt wake every member. */
	e = store_read_move(ctx, chat_id, ctx->user_id, seq, &wake, &n);
	if (e == ERR_OK && n > 0)
		bus_wake(ctx, wake, n);
	return e;
}
