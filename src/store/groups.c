/* SPDX-License-Identifier: MIT */
/*
 * Groups and their members. Membership writes run under the group chat's lock, in the
 * caller's transaction (chat/groups.c holds the rules).
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include <stdio.h>

#include "base/arena.h"
#include "base/text.h"

/* Runs a statement whose single row holds a count. */
static enum err
count_of(struct ctx *ctx, enum stmt s, int n, const char *const *params, int64_t *out)
{
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, s, n, params, &res);
	if (e != ERR_OK)
		return e;
	*out = PQntuples(res) == 1 ? store_int(res, 0, 0) : 0;
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_get(struct ctx *ctx, const char *group_id, struct chat_group *out)
{
	const char	*params[1] = { group_id };
	PGresult	*res;
	enum err	 e;

	if (!text_id_valid(group_id))
		return ERR_NOT_FOUND;
	e = store_exec(ctx, STMT_GROUP_GET, 1, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ERR_NOT_FOUND;
	}
	out->id = store_text(ctx, res, 0, 0);
	out->chat_id = store_text(ctx, res, 0, 1);
	out->name = store_text(ctx, res, 0, 2);
	out->owner_id = store_text(ctx, res, 0, 3);
	out->members = NULL;
	out->member_count = 0;
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_members(struct ctx *ctx, struct chat_group *g)
{
	const char	*params[1] = { g->id };
	PGresult	*res;
	enum err	 e;
	int		 i;
	int		 n;

	e = store_exec(ctx, STMT_GROUP_MEMBERS, 1, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	g->members = arena_alloc(ctx->arena, sizeof(*g->members) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		g->members[i].user_id = store_text(ctx, res, i, 0);
		g->members[i].role = store_text(ctx, res, i, 1);
	}
	g->member_count = (size_t)n;
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_role(struct ctx *ctx, const char *group_id, const char *user_id, const char **role)
{
	const char	*params[2] = { group_id, user_id };
	PGresult	*res;
	enum err	 e;

	if (!text_id_valid(user_id))
		return ERR_NOT_FOUND;
	e = store_exec(ctx, STMT_GROUP_ROLE, 2, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return ERR_NOT_FOUND;
	}
	*role = store_text(ctx, res, 0, 0);
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_create(struct ctx *ctx, const char *name, const char *owner_id,
    const char **group_id, const char **chat_id)
{
	const char	*params[2] = { name, owner_id };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_GROUP_CREATE, 2, params, &res);
	if (e != ERR_OK)
		return e;
	*group_id = store_text(ctx, res, 0, 0);
	*chat_id = store_text(ctx, res, 0, 1);
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_add_counts(struct ctx *ctx, const char *group_id, const char *const *ids, size_t n,
    int64_t *members, int64_t *new_members, int64_t *existing)
{
	const char	*params[2] = { group_id, store_id_array(ctx, ids, n) };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_GROUP_ADD_COUNTS, 2, params, &res);
	if (e != ERR_OK)
		return e;
	*members = store_int(res, 0, 0);
	*new_members = store_int(res, 0, 1);
	*existing = store_int(res, 0, 2);
	PQclear(res);
	return ERR_OK;
}

enum err
store_group_add(struct ctx *ctx, const struct chat_group *g, const char *const *ids, size_t n,
    const char *role)
{
	const char	*params[4] = { g->id, g->chat_id, store_id_array(ctx, ids, n), role };
	int64_t		 added;

	return count_of(ctx, STMT_GROUP_ADD, 4, params, &added);
}

enum err
store_group_rename(struct ctx *ctx, const char *group_id, const char *name)
{
	const char	*params[2] = { group_id, name };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_GROUP_RENAME, 2, params, &res);
	PQclear(res);
	return e;
}

enum err
store_group_set_role(struct ctx *ctx, const char *group_id, const char *user_id,
    const char *role)
{
	const char	*params[3] = { group_id, user_id, role };
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_GROUP_SET_ROLE, 3, params, &res);
	PQclear(res);
	return e;
}

enum err
store_group_admins(struct ctx *ctx, const char *group_id, int64_t *admins)
{
	const char	*params[1] = { group_id };

	return count_of(ctx, STMT_GROUP_ADMINS, 1, params, admins);
}

enum err
store_group_remove(struct ctx *ctx, const struct chat_group *g, const char *user_id)
{
	const char	*params[3] = { g->id, g->chat_id, user_id };
	PGresult	*res;
	int64_t		 removed;
	enum err	 e;

	e = count_of(ctx, STMT_GROUP_REMOVE, 3, params, &removed);
	if (e != ERR_OK)
		return e;
	if (removed == 0)
		return ERR_NOT_FOUND;
	/* The last admin left: the longest-standing member takes over. */
	e = store_exec(ctx, STMT_GROUP_SUCCESSION, 1, params, &res);
	PQclear(res);
	return e;
}
