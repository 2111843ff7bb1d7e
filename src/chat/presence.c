/* SPDX-License-Identifier: MIT */
/*
 * Presence and typing: ephemeral, in Redis only (bus/ephemeral.c). A user is present
 * while it makes requests or holds a poll; after CHAT_PRESENCE_TTL without either it is
 * offline, and the sweep (every second, in every process; each expiry is claimed by one)
 * tells its contacts. Events go to the users who share a chat with it.
 */
#include "config.h"
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "settings.h"

#define SWEEP_BATCH	256

/* Sends a presence event about user_id to its contacts. */
static void
announce(struct ctx *ctx, const char *user_id, const char *status, int64_t last_seen_ms)
{
	const char	**contacts;
	char		  ts[32];
	char		  data[160];
	size_t		  n;

	if (store_contacts(ctx, user_id, &contacts, &n) != ERR_OK || n == 0)
		return;
	text_time_format(last_seen_ms * 1000, ts);
	snprintf(data, sizeof(data),
	    "{\"user_id\":\"%s\",\"status\":\"%s\",\"last_seen\":\"%s\"}", user_id, status, ts);
	(void)bus_eph_publish(ctx, contacts, n, "presence", data);
}

void
chat_presence_touch(struct ctx *ctx)
{
	const char	*status;
	bool		 came;

	if (bus_presence_touch(ctx, ctx->user_id, ctx->cfg->presence_ttl_s, &came, &status) ==
	    ERR_OK && came)
		announce(ctx, ctx->user_id, status, text_now_us() / 1000);
}

void
chat_presence_keep(struct ctx *ctx, const char *const *user_ids, size_t count)
{
	const char	*status;
	size_t		 i;
	bool		 came;

	for (i = 0; i < count; i++)
		if (bus_presence_touch(ctx, user_ids[i], ctx->cfg->presence_ttl_s, &came,
		    &status) == ERR_OK && came)
			announce(ctx, user_ids[i], status, text_now_us() / 1000);
}

void
chat_presence_sweep(struct ctx *ctx)
{
	const char	**ids;
	int64_t		 *seen;
	size_t		  n;
	size_t		  i;

	if (bus_presence_expired(ctx, SWEEP_BATCH, &ids, &seen, &n) != ERR_OK)
		return;
	for (i = 0; i < n; i++)
		announce(ctx, ids[i], "offline", seen[i]);
}

enum err
chat_presence_set(struct ctx *ctx, const char *status)
{
	const char	*shown;
	int64_t		 seen;
	enum err	 e;

	e = bus_presence_set(ctx, ctx->user_id, status, ctx->cfg->presence_ttl_s, &shown, &seen);
	if (e != ERR_OK)
		return e;
	announce(ctx, ctx->user_id, shown, seen);
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
