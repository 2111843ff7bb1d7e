/* SPDX-License-Identifier: MIT */
/*
 * Presence and typing: ephemeral, in Redis only (bus/ephemeral.c). A user is present
 * while it makes requests or holds a poll; after CHAT_PRESENCE_TTL without either it is
 * offline, and the sweep (every second, in every process; each expiry is claimed by one)
 * tells its contacts. Events go to the users who share a chat with it.
 */
#include "config.h"
#include "chat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "settings.h"

#define SWEEP_BATCH	256
#define FLUSH_MAX	256

/* A presence change waiting to be announced. */
struct change {
	char	user_id[37];
	char	status[8];
	int64_t	last_seen_ms;
};

/* Changes are announced in batches by the housekeeping thread (chat_presence_flush),
 * not by the request that noticed them: when many users come online together (a
 * server restart, a group opening its polls), one query finds all their contacts and
 * each contact gets one stream entry for the whole batch, instead of one per change. */
static struct {
	pthread_mutex_t	 mu;
	struct change	*items;
	size_t		 count;
	size_t		 cap;
} pending = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
queue_change(const char *user_id, const char *status, int64_t last_seen_ms)
{
	struct change	*c;

	pthread_mutex_lock(&pending.mu);
	if (pending.count == pending.cap) {
		pending.cap = pending.cap == 0 ? 64 : pending.cap * 2;
		pending.items = realloc(pending.items, pending.cap * sizeof(*pending.items));
		if (pending.items == NULL)
			abort();
	}
	c = &pending.items[pending.count++];
	snprintf(c->user_id, sizeof(c->user_id), "%s", user_id);
	snprintf(c->status, sizeof(c->status), "%s", status);
	c->last_seen_ms = last_seen_ms;
	pthread_mutex_unlock(&pending.mu);
}

/* The presence event of a change, as JSON. */
static const char *
change_json(struct ctx *ctx, const struct change *c)
{
	char	ts[32];

	text_time_format(c->last_seen_ms * 1000, ts);
	return arena_printf(ctx->arena, "{\"user_id\":\"%s\",\"status\":\"%s\",\"last_seen\":\"%s\"}",
	    c->user_id, c->status, ts);
}

/* Announces n changes (of distinct users) to their contacts: one query, and for each
 * contact one stream entry holding its changes (a JSON array when several). */
static void
announce(struct ctx *ctx, const struct change *changes, size_t n)
{
	const char	**users;
	const char	**json;
	const char	**to;
	const char	**datas;
	struct contact	 *c;
	size_t		  nc;
	size_t		  i;
	size_t		  j;
	size_t		  k;
	size_t		  m;
	size_t		  len;
	char		 *buf;

	users = arena_alloc(ctx->arena, sizeof(*users) * n);
	json = arena_alloc(ctx->arena, sizeof(*json) * n);
	for (i = 0; i < n; i++) {
		users[i] = changes[i].user_id;
		json[i] = change_json(ctx, &changes[i]);
	}
	if (store_contacts(ctx, users, n, &c, &nc) != ERR_OK || nc == 0)
		return;
	to = arena_alloc(ctx->arena, sizeof(*to) * nc);
	datas = arena_alloc(ctx->arena, sizeof(*datas) * nc);
	/* Rows come ordered by contact: one entry per run of the same contact. */
	for (i = m = 0; i < nc; i = j) {
		len = 2;
		for (j = i; j < nc && strcmp(c[j].contact_id, c[i].contact_id) == 0; j++)
			len += strlen(json[c[j].index]) + 1;
		to[m] = c[i].contact_id;
		if (j - i == 1) {
			datas[m++] = json[c[i].index];
			continue;
		}
		buf = arena_alloc(ctx->arena, len + 1);
		buf[0] = '[';
		len = 1;
		for (k = i; k < j; k++) {
			if (k > i)
				buf[len++] = ',';
			memcpy(buf + len, json[c[k].index], strlen(json[c[k].index]));
			len += strlen(json[c[k].index]);
		}
		buf[len++] = ']';
		buf[len] = '\0';
		datas[m++] = buf;
	}
	(void)bus_eph_publish_each(ctx, to, datas, m, "presence");
}

void
chat_presence_came(struct ctx *ctx, const char *user_id, const char *status)
{
	(void)ctx;
	queue_change(user_id, status, text_now_us() / 1000);
}

void
chat_presence_flush(struct ctx *ctx)
{
	struct change	*batch;
	size_t		 n;
	size_t		 i;
	size_t		 j;
	size_t		 k;

	pthread_mutex_lock(&pending.mu);
	n = pending.count;
	if (n == 0) {
		pthread_mutex_unlock(&pending.mu);
		return;
	}
	if (n > FLUSH_MAX)
		n = FLUSH_MAX;
	batch = arena_alloc(ctx->arena, sizeof(*batch) * n);
	memcpy(batch, pending.items, sizeof(*batch) * n);
	memmove(pending.items, pending.items + n, sizeof(*batch) * (pending.count - n));
	pending.count -= n;
	pthread_mutex_unlock(&pending.mu);
	/* Several changes of one user in a batch: the latest wins. */
	for (i = k = 0; i < n; i++) {
		for (j = i + 1; j < n && strcmp(batch[j].user_id, batch[i].user_id) != 0; j++)
			;
		if (j == n)
			batch[k++] = batch[i];
	}
	if (k > 0)
		announce(ctx, batch, k);
}

void
chat_presence_touch(struct ctx *ctx)
{
	const char	*status;
	bool		 came;

	if (bus_presence_touch(ctx, ctx->user_id, ctx->cfg->presence_ttl_s, &came, &status) ==
	    ERR_OK && came)
		chat_presence_came(ctx, ctx->user_id, status);
}

void
chat_presence_keep(struct ctx *ctx, const char *const *user_ids, size_t count)
{
	const char	**status;
	bool		 *came;
	size_t		  i;

	if (count == 0)
		return;
	came = arena_alloc(ctx->arena, sizeof(*came) * count);
	status = arena_alloc(ctx->arena, sizeof(*status) * count);
	bus_presence_touch_many(ctx, user_ids, count, ctx->cfg->presence_ttl_s, came, status);
	for (i = 0; i < count; i++)
		if (came[i])
			chat_presence_came(ctx, user_ids[i], status[i]);
}

void
chat_presence_sweep(struct ctx *ctx)
{
	struct change	 *changes;
	const char	**ids;
	int64_t		 *seen;
	size_t		  n;
	size_t		  i;

	if (bus_presence_expired(ctx, SWEEP_BATCH, &ids, &seen, &n) != ERR_OK || n == 0)
		return;
	changes = arena_alloc(ctx->arena, sizeof(*changes) * n);
	for (i = 0; i < n; i++) {
		snprintf(changes[i].user_id, sizeof(changes[i].user_id), "%s", ids[i]);
		snprintf(changes[i].status, sizeof(changes[i].status), "offline");
		changes[i].last_seen_ms = seen[i];
	}
	announce(ctx, changes, n);
}

enum err
chat_presence_set(struct ctx *ctx, const char *status)
{
	struct change	 c;
	const char	*shown;
	int64_t		 seen;
	enum err	 e;

	e = bus_presence_set(ctx, ctx->user_id, status, ctx->cfg->presence_ttl_s, &shown, &seen);
	if (e != ERR_OK)
		return e;
	snprintf(c.user_id, sizeof(c.user_id), "%s", ctx->user_id);
	snprintf(c.status, sizeof(c.status), "%s", shown);
	c.last_seen_ms = seen;
	announce(ctx, &c, 1);
	return ERR_OK;
}

enum err
chat_presence_get(struct ctx *ctx, const char *const *user_ids, size_t count,
    struct presence *out, bool *shown)
{
	const char	**allowed;
	size_t		  n;
	size_t		  i;
	size_t		  j;
	enum err	  e;

	/* Redis first: while it is down the answer is 503 whatever PostgreSQL says. */
	e = bus_presence_get(ctx, user_ids, count, out);
	if (e != ERR_OK)
		return e;
	e = store_shared(ctx, ctx->user_id, user_ids, count, &allowed, &n);
	if (e != ERR_OK)
		return e;
	for (i = 0; i < count; i++) {
		shown[i] = false;
		for (j = 0; j < n && !shown[i]; j++)
			shown[i] = strcmp(allowed[j], user_ids[i]) == 0;
	}
	return ERR_OK;
}

enum err
chat_typing(struct ctx *ctx, const char *chat_id, bool typing)
{
	const char	**users;
	const char	**others;
	char		  data[160];
	size_t		  n;
	size_t		  i;
	size_t		  k;
	enum err	  e;
	bool		  first;

	e = store_member_current(ctx, chat_id, ctx->user_id);
	if (e != ERR_OK)
		return e;
	e = bus_typing_gate(ctx, chat_id, ctx->user_id, typing, &first);
	if (e != ERR_OK || !first)
		return e;	/* within a second of the last one: coalesced */
	e = store_chat_audience(ctx, chat_id, NULL, &users, &n);
	if (e != ERR_OK)
		return e;
	others = arena_alloc(ctx->arena, sizeof(*others) * (n > 0 ? n : 1));
	for (i = k = 0; i < n; i++)
		if (strcmp(users[i], ctx->user_id) != 0)
			others[k++] = users[i];
	snprintf(data, sizeof(data), "{\"chat_id\":\"%s\",\"user_id\":\"%s\",\"typing\":%s}",
	    chat_id, ctx->user_id, typing ? "true" : "false");
	return bus_eph_publish(ctx, others, k, "typing", data);
}
