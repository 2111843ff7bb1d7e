/* SPDX-License-Identifier: MIT */
/*
 * Group rules: who may do what, the member cap, the last admin. Every membership change
 * runs in a transaction under the group chat's lock, so that concurrent additions
 * cannot pass the cap together and membership periods line up with message seqs.
 */
#include "config.h"
#include "chat.h"

#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "settings.h"

/* The caller's role in the group: ERR_NOT_FOUND for an unknown group, ERR_FORBIDDEN
 * when the caller is not a member (or not an admin when admin is required). */
static enum err
authorize(struct ctx *ctx, const char *group_id, bool admin, struct chat_group *g)
{
	const char	*role;
	enum err	 e;

	e = store_group_get(ctx, group_id, g);
	if (e != ERR_OK)
		return e;
	e = store_group_role(ctx, g->id, ctx->user_id, &role);
	if (e == ERR_NOT_FOUND)
		return ERR_FORBIDDEN;
	if (e != ERR_OK)
		return e;
	if (admin && strcmp(role, "admin") != 0)
		return ERR_FORBIDDEN;
	return ERR_OK;
}

/* Checks an addition against the cap and the users table, under the chat lock. */
static enum err
check_addition(struct ctx *ctx, const struct chat_group *g, const char *const *ids, size_t n,
    size_t distinct)
{
	int64_t		members;
	int64_t		fresh;
	int64_t		existing;
	enum err	e;

	e = store_group_add_counts(ctx, g->id, ids, n, &members, &fresh, &existing);
	if (e != ERR_OK)
		return e;
	if (existing != (int64_t)distinct)
		return ERR_NOT_FOUND;
	if (members + fresh > (int64_t)ctx->cfg->max_group_members)
		return ERR_GROUP_FULL;
	return ERR_OK;
}

/* Counts the distinct ids of a list. */
static size_t
distinct_count(const char *const *ids, size_t count, const char *also)
{
	size_t	n;
	size_t	i;
	size_t	j;
	bool	dup;

	n = also != NULL ? 1 : 0;
	for (i = 0; i < count; i++) {
		dup = also != NULL && strcmp(ids[i], also) == 0;
		for (j = 0; j < i && !dup; j++)
			dup = strcmp(ids[i], ids[j]) == 0;
		if (!dup)
			n++;
	}
	return n;
}

/* Opens a transaction holding the group chat's lock. */
static enum err
locked(struct ctx *ctx, const struct chat_group *g)
{
	enum err	e;

	e = store_tx_begin(ctx);
	if (e == ERR_OK)
		e = store_chat_lock(ctx, g->chat_id);
	return e;
}

static enum err
finish(struct ctx *ctx, enum err e)
{
	if (e != ERR_OK) {
		store_tx_rollback(ctx);
		return e;
	}
	return store_tx_commit(ctx);
}

enum err
chat_group_create(struct ctx *ctx, const char *name, const char *const *member_ids,
    size_t count, struct chat_group *out)
{
	const char	*me[1] = { ctx->user_id };
	size_t		 distinct;
	enum err	 e;

	distinct = distinct_count(member_ids, count, ctx->user_id);
	if (distinct > ctx->cfg->max_group_members)
		return ERR_GROUP_FULL;
	memset(out, 0, sizeof(*out));
	out->name = name;
	out->owner_id = ctx->user_id;
	e = store_tx_begin(ctx);
	if (e == ERR_OK)
		e = store_group_create(ctx, name, ctx->user_id, &out->id, &out->chat_id);
	if (e == ERR_OK)
		e = store_chat_lock(ctx, out->chat_id);
	/* The creator first (admin, longest-standing), then the others. */
	if (e == ERR_OK)
		e = store_group_add(ctx, out, me, 1, "admin");
	if (e == ERR_OK && count > 0)
		e = check_addition(ctx, out, member_ids, count,
		    distinct_count(member_ids, count, NULL));
	if (e == ERR_OK && count > 0)
		e = store_group_add(ctx, out, member_ids, count, "member");
	e = finish(ctx, e);
	if (e != ERR_OK)
		return e;
	chat_notify(ctx, out->chat_id, NULL);
	return store_group_members(ctx, out);
}

enum err
chat_group_show(struct ctx *ctx, const char *group_id, struct chat_group *out)
{
	enum err	e;

	e = authorize(ctx, group_id, false, out);
	if (e != ERR_OK)
		return e;
	return store_group_members(ctx, out);
}

enum err
chat_group_rename(struct ctx *ctx, const char *group_id, const char *name, struct chat_group *out)
{
	enum err	e;

	e = authorize(ctx, group_id, true, out);
	if (e != ERR_OK)
		return e;
	e = store_group_rename(ctx, out->id, name);
	if (e != ERR_OK)
		return e;
	out->name = name;
	return store_group_members(ctx, out);
}

enum err
chat_group_add(struct ctx *ctx, const char *group_id, const char *const *user_ids,
    size_t count, struct chat_group *out)
{
	enum err	 e;

	e = authorize(ctx, group_id, true, out);
	if (e != ERR_OK)
		return e;
	e = locked(ctx, out);
	if (e == ERR_OK)
		e = check_addition(ctx, out, user_ids, count,
		    distinct_count(user_ids, count, NULL));
	if (e == ERR_OK)
		e = store_group_add(ctx, out, user_ids, count, "member");
	e = finish(ctx, e);
	if (e != ERR_OK)
		return e;
	chat_notify(ctx, out->chat_id, NULL);
	return store_group_members(ctx, out);
}

enum err
chat_group_set_role(struct ctx *ctx, const char *group_id, const char *user_id,
    const char *role, struct chat_group *out)
{
	const char	*current;
	int64_t		 admins;
	enum err	 e;

	e = authorize(ctx, group_id, true, out);
	if (e != ERR_OK)
		return e;
	e = locked(ctx, out);
	if (e == ERR_OK)
		e = store_group_role(ctx, out->id, user_id, &current);
	if (e == ERR_OK && strcmp(current, "admin") == 0 && strcmp(role, "member") == 0) {
		e = store_group_admins(ctx, out->id, &admins);
		if (e == ERR_OK && admins <= 1)
			e = ERR_CONFLICT;
	}
	if (e == ERR_OK)
		e = store_group_set_role(ctx, out->id, user_id, role);
	e = finish(ctx, e);
	if (e != ERR_OK)
		return e;
	return store_group_members(ctx, out);
}

enum err
chat_group_remove(struct ctx *ctx, const char *group_id, const char *user_id)
{
	struct chat_group	g;
	enum err	e;
	bool		self;

	self = strcmp(user_id, ctx->user_id) == 0;
	e = authorize(ctx, group_id, !self, &g);
	if (e != ERR_OK)
		return e;
	if (!text_id_valid(user_id))
		return ERR_NOT_FOUND;
	e = locked(ctx, &g);
	if (e == ERR_OK)
		e = store_group_remove(ctx, &g, user_id);
	e = finish(ctx, e);
	if (e == ERR_OK)
		chat_notify(ctx, g.chat_id, user_id);
	return e;
}
