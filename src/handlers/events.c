/* SPDX-License-Identifier: MIT */
/*
 * GET /v1/events: the long-poll. A poll with events waiting answers at once; otherwise
 * it asks to be held (rq->hold) and comes back through handle_event_resume when woken,
 * re-checked or out of time. Holding costs no thread: the FastCGI layer parks it.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include <stdatomic.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "bus/bus.h"
#include "chat/chat.h"

#define POLL_TIMEOUT_DEFAULT_S	25
#define POLL_TIMEOUT_MAX_S	55
#define POLL_LIMIT_DEFAULT	100
#define POLL_LIMIT_MAX		1000
#define POLLS_PER_DEVICE	4

/* Ids of held polls, unique in this process (the device cap names them in Redis). */
static atomic_uint_fast64_t	poll_ids;

static json_object *
render_event(struct req *rq, const struct event *ev)
{
	json_object	*o;
	json_object	*d;

	o = json_object_new_object();
	switch (ev->kind) {
	case EVENT_MESSAGE:
		jadd_str(o, "type", "message");
		json_object_object_add(o, "data", render_message(rq, &ev->msg));
		return o;
	case EVENT_MEMBER:
		d = json_object_new_object();
		jadd_str(d, "group_id", ev->group_id);
		jadd_str(d, "chat_id", ev->chat_id);
		jadd_str(d, "user_id", ev->user_id);
		jadd_str(d, "action", ev->action);
		jadd_str(o, "type", "member");
		json_object_object_add(o, "data", d);
		return o;
	case EVENT_RECEIPT:
		d = json_object_new_object();
		jadd_str(d, "chat_id", ev->chat_id);
		jadd_str(d, "user_id", ev->user_id);
		jadd_str(d, "status", ev->action);
		jadd_int(d, "seq", ev->seq);
		jadd_str(o, "type", "receipt");
		json_object_object_add(o, "data", d);
		return o;
	}
	return o;
}

/* An ephemeral event: its data was stored as JSON text, an array of the data of several
 * events for a batch (presence changes announced together). Appended to list. */
static void
add_eph(json_object *list, const struct eph_event *ev)
{
	json_object	*d;
	json_object	*o;
	size_t		 i;
	size_t		 n;

	d = jparse(ev->data, strlen(ev->data));
	if (d == NULL)
		return;
	if (!json_object_is_type(d, json_type_array)) {
		o = json_object_new_object();
		jadd_str(o, "type", ev->type);
		json_object_object_add(o, "data", d);
		json_object_array_add(list, o);
		return;
	}
	n = json_object_array_length(d);
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		jadd_str(o, "type", ev->type);
		json_object_object_add(o, "data", json_object_get(json_object_array_get_idx(d, i)));
		json_object_array_add(list, o);
	}
	json_object_put(d);
}

static enum err
reply_events(struct req *rq, const struct event_page *page)
{
	json_object	*list;
	json_object	*o;
	size_t		 i;
	size_t		 j;

	/* Oldest first: the ephemeral events (by their stream time) merged into the durable
	 * ones (by their time), which keep their own order. */
	list = json_object_new_array_ext((int)(page->count + page->eph_count));
	for (i = j = 0; i < page->count || j < page->eph_count;) {
		if (j < page->eph_count && (i == page->count ||
		    (int64_t)page->eph[j].id.ms * 1000 < page->events[i].msg.created_us))
			add_eph(list, &page->eph[j++]);
		else
			json_object_array_add(list, render_event(rq, &page->events[i++]));
	}
	o = json_object_new_object();
	json_object_object_add(o, "events", list);
	jadd_str(o, "cursor", chat_cursor_encode(&rq->ctx, &page->next));
	return reply_json(rq, 200, o);
}

/* Answers a poll from its page, or keeps holding it when it has nothing yet. */
static enum err
decide(struct req *rq, const struct event_page *page, bool final)
{
	if (page->expired)
		return req_fail(rq, ERR_CURSOR_EXPIRED,
		    "the cursor can no longer be resumed; start again");
	if (page->count + page->eph_count > 0 || final ||
	    rq->hold.deadline_us <= rq->hold.read_start_us)
		return reply_events(rq, page);
	/* Nothing up to the page's position: holding goes on from there (and looks again
	 * shortly when rows already wait above the horizon). */
	rq->hold.cursor_xid = page->next.xid;
	rq->hold.cursor_eph_ms = page->next.eph_ms;
	rq->hold.cursor_eph_seq = page->next.eph_seq;
	rq->hold_requested = true;
	rq->hold_pending = page->pending;
	return ERR_OK;
}

static void
poll_of(const struct req *rq, bool acknowledge, struct poll_req *poll)
{
	poll->user_id = rq->hold.user_id;
	poll->device_id = rq->hold.device_id;
	poll->after.xid = rq->hold.cursor_xid;
	poll->after.eph_ms = rq->hold.cursor_eph_ms;
	poll->after.eph_seq = rq->hold.cursor_eph_seq;
	poll->limit = rq->hold.limit;
	poll->acknowledge = acknowledge;
	poll->eph = NULL;
	poll->read_eph = rq->hold_eph;
}

/* Forgets the answered polls among rqs (those counted against their device). */
static void
forget_answered(struct ctx *ctx, struct req *const *rqs, size_t n, const enum err *errs)
{
	const char	**devices;
	uint64_t	 *ids;
	size_t		  i;
	size_t		  k;

	devices = arena_alloc(ctx->arena, sizeof(*devices) * n);
	ids = arena_alloc(ctx->arena, sizeof(*ids) * n);
	for (i = k = 0; i < n; i++) {
		if (rqs[i]->hold.poll_id == 0 || (errs[i] == ERR_OK && rqs[i]->hold_requested))
			continue;
		devices[k] = rqs[i]->hold.device_id;
		ids[k++] = rqs[i]->hold.poll_id;
	}
	bus_device_polls_done(ctx, k, devices, ids);
}

/* What the Redis part of a poll's start needs. */
static void
begin_of(const struct req *rq, unsigned hold_ttl_s, struct poll_begin *b)
{
	b->user_id = rq->hold.user_id;
	b->device_id = rq->hold.device_id;
	b->after.xid = rq->hold.cursor_xid;
	b->after.eph_ms = rq->hold.cursor_eph_ms;
	b->after.eph_seq = rq->hold.cursor_eph_seq;
	b->limit = rq->hold.limit;
	b->hold_ttl_s = hold_ttl_s;
	b->poll_id = rq->hold.poll_id;
	b->max_per_device = POLLS_PER_DEVICE;
}

/* A poll answered at once (timeout=0): Redis first (presence, the ephemeral events),
 * then PostgreSQL, whose read acknowledges the client's cursor. */
static enum err
poll_now(struct req *rq)
{
	struct event_page	page;
	struct poll_begin	b;
	struct poll_req		poll;
	struct eph_read		eph;
	enum err		e;

	begin_of(rq, 0, &b);
	rq->hold.read_start_us = text_mono_us();
	chat_poll_begin(&rq->ctx, 1, &b, &eph);
	poll_of(rq, true, &poll);
	poll.eph = &eph;
	e = chat_events_read_many(&rq->ctx, 1, &poll, &page);
	if (e != ERR_OK)
		return e;
	return decide(rq, &page, true);
}

/* Answered here rather than held: the device is checked first (a 401 comes before any
 * other answer). */
static enum err
check_device(struct req *rq)
{
	enum err	e;
	bool		live;

	if (!rq->device_unchecked)
		return ERR_OK;
	e = chat_devices_live(&rq->ctx, 1, &rq->ctx.user_id, &rq->ctx.device_id, &live);
	if (e != ERR_OK)
		return e;
	if (!live)
		return req_fail(rq, ERR_UNAUTHORIZED, UNAUTHORIZED_MESSAGE);
	rq->device_unchecked = false;
	return ERR_OK;
}

/* GET /v1/events?cursor=&timeout=&limit=: 200 events (at once, or when one arrives, or
 * empty at the timeout), 401 a logged-out device, 400 bad parameters or a cursor the
 * server did not make, 410 a cursor it can no longer resume, 503 at capacity
 * (Retry-After). A poll that may be held goes to the park at once: the park checks its
 * device, registers it and makes its first read together with other polls'. */
enum err
handle_event_poll(struct req *rq)
{
	const char		*cursor;
	int64_t			 timeout_s;
	int64_t			 limit;
	struct feed_pos		 pos;
	bool			 present;
	struct event_page	 page;
	enum err		 e;
	enum err		 d;

	present = false;
	limit = POLL_LIMIT_DEFAULT;
	timeout_s = POLL_TIMEOUT_DEFAULT_S;
	e = req_query(rq, "cursor", &cursor);
	if (e == ERR_OK)
		e = query_number(rq, "timeout", POLL_TIMEOUT_MAX_S, &present, &timeout_s);
	if (e == ERR_OK && !present)
		timeout_s = POLL_TIMEOUT_DEFAULT_S;
	if (e == ERR_OK)
		e = query_number(rq, "limit", POLL_LIMIT_MAX, &present, &limit);
	if (e == ERR_OK && !present)
		limit = POLL_LIMIT_DEFAULT;
	if (limit < 1)
		limit = 1;
	if (e == ERR_OK && cursor != NULL && chat_cursor_decode(&rq->ctx, cursor, &pos) != ERR_OK)
		e = req_fail(rq, ERR_BAD_REQUEST, "cursor: not a cursor of this server");
	if (e == ERR_OK && cursor != NULL) {
		memcpy(rq->hold.user_id, rq->ctx.user_id, 37);
		memcpy(rq->hold.device_id, rq->ctx.device_id, 37);
		rq->hold.cursor_xid = pos.xid;
		rq->hold.cursor_eph_ms = pos.eph_ms;
		rq->hold.cursor_eph_seq = pos.eph_seq;
		rq->hold.limit = (uint32_t)limit;
		rq->hold.deadline_us = text_mono_us() + timeout_s * 1000000;
		if (timeout_s > 0 && http_hold_room()) {
			/* Counted against its device (at most 4 held polls each). */
			rq->hold.poll_id = atomic_fetch_add(&poll_ids, 1) + 1;
			rq->hold_requested = true;
			rq->hold_fresh = true;
			return ERR_OK;
		}
	}
	d = check_device(rq);
	if (d != ERR_OK)
		return d;
	/* Any request keeps the caller present (poll_now's script does it too). */
	if (e != ERR_OK || cursor == NULL || timeout_s > 0)
		chat_presence_touch(&rq->ctx);
	if (e != ERR_OK)
		return e;
	if (cursor == NULL) {
		/* No cursor: the current position, at once. */
		e = chat_events_position(&rq->ctx, &pos);
		if (e != ERR_OK)
			return e;
		memset(&page, 0, sizeof(page));
		page.next = pos;
		return reply_events(rq, &page);
	}
	if (timeout_s > 0) {
		rq->ctx.retry_after_s = 2;
		return req_fail(rq, ERR_UNAVAILABLE, "too many held polls, retry shortly");
	}
	return poll_now(rq);
}

/* The new polls of a batch: their devices, in one statement (a logged-out one answers
 * 401), then their Redis part, in one round trip. eph[i] is poll i's ephemeral read
 * (polls[i].eph points there); errs[i] is set for those answered already. */
static void
start_fresh(struct ctx *ctx, struct req *const *rqs, size_t n, struct poll_req *polls,
    struct eph_read *eph, enum err *errs)
{
	const char		**users;
	const char		**devices;
	struct poll_begin	 *b;
	struct eph_read		 *got;
	size_t			 *which;
	bool			 *live;
	size_t			  i;
	size_t			  k;
	enum err		  e;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	devices = arena_alloc(ctx->arena, sizeof(*devices) * n);
	live = arena_alloc(ctx->arena, sizeof(*live) * n);
	for (i = 0; i < n; i++) {
		users[i] = polls[i].user_id;
		devices[i] = polls[i].device_id;
	}
	e = chat_devices_live(ctx, n, users, devices, live);
	b = arena_alloc(ctx->arena, sizeof(*b) * n);
	which = arena_alloc(ctx->arena, sizeof(*which) * n);
	got = arena_alloc(ctx->arena, sizeof(*got) * n);
	for (i = k = 0; i < n; i++) {
		if (e != ERR_OK)
			errs[i] = e;
		else if (!live[i])
			errs[i] = req_fail(rqs[i], ERR_UNAUTHORIZED, UNAUTHORIZED_MESSAGE);
		else {
			begin_of(rqs[i], (unsigned)((rqs[i]->hold.deadline_us -
			    rqs[i]->start_us) / 1000000) + 30, &b[k]);
			which[k++] = i;
		}
	}
	chat_poll_begin(ctx, k, b, got);
	for (i = 0; i < k; i++) {
		eph[which[i]] = got[i];
		polls[which[i]].eph = &eph[which[i]];
	}
}

/* Held polls (new ones for their first read, which acknowledges their cursor; woken,
 * re-checked, or final: timeout, replaced, shutting down), read together in one
 * statement. They share the first request's connections and arena. A final poll that
 * nothing woke since its last read answers its position without a read: the client's
 * next poll reads from there, so nothing is lost, and thousands of polls timing out
 * together cost no queries. */
void
handle_event_resume_many(struct req *const *rqs, size_t n, enum err *errs)
{
	struct event_page	 empty;
	struct event_page	*pages;
	struct poll_req		*polls;
	struct poll_req		*fpolls;
	struct req		**fresh;
	struct eph_read		*eph;
	struct ctx		*ctx;
	size_t			*which;
	int64_t			 now;
	size_t			 i;
	size_t			 k;
	size_t			 nf;
	enum err		*ferrs;
	enum err		 e;

	ctx = &rqs[0]->ctx;
	polls = arena_alloc(ctx->arena, sizeof(*polls) * n);
	pages = arena_alloc(ctx->arena, sizeof(*pages) * n);
	which = arena_alloc(ctx->arena, sizeof(*which) * n);
	fresh = arena_alloc(ctx->arena, sizeof(struct req *) * n);
	fpolls = arena_alloc(ctx->arena, sizeof(*fpolls) * n);
	ferrs = arena_alloc(ctx->arena, sizeof(*ferrs) * n);
	eph = arena_alloc(ctx->arena, sizeof(*eph) * n);
	now = text_mono_us();
	/* New polls first: checked and registered before anything is read for them. */
	for (i = nf = 0; i < n; i++) {
		errs[i] = ERR_OK;
		if (!rqs[i]->hold_fresh)
			continue;
		fresh[nf] = rqs[i];
		poll_of(rqs[i], true, &fpolls[nf]);
		ferrs[nf++] = ERR_OK;
	}
	if (nf > 0)
		start_fresh(ctx, fresh, nf, fpolls, eph, ferrs);
	for (i = k = nf = 0; i < n; i++) {
		if (rqs[i]->hold_fresh) {
			errs[i] = ferrs[nf];
			polls[k] = fpolls[nf++];
			if (errs[i] != ERR_OK)
				continue;
		} else if (rqs[i]->hold_final && !rqs[i]->hold_dirty) {
			memset(&empty, 0, sizeof(empty));
			empty.next.xid = rqs[i]->hold.cursor_xid;
			empty.next.eph_ms = rqs[i]->hold.cursor_eph_ms;
			empty.next.eph_seq = rqs[i]->hold.cursor_eph_seq;
			errs[i] = reply_events(rqs[i], &empty);
			continue;
		} else
			poll_of(rqs[i], false, &polls[k]);
		rqs[i]->hold.read_start_us = now;
		which[k++] = i;
	}
	e = k > 0 ? chat_events_read_many(ctx, k, polls, pages) : ERR_OK;
	for (i = 0; i < k; i++)
		errs[which[i]] = e != ERR_OK ? e : decide(rqs[which[i]], &pages[i],
		    rqs[which[i]]->hold_final);
	forget_answered(ctx, rqs, n, errs);
}
