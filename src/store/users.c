/* SPDX-License-Identifier: MIT */
/*
 * Users and their devices (one device per login).
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include "base/arena.h"
#include "base/text.h"

static void
read_user(struct ctx *ctx, const PGresult *res, struct user *out)
{
	out->id = store_text(ctx, res, 0, 0);
	out->username = store_text(ctx, res, 0, 1);
	out->display_name = store_text(ctx, res, 0, 2);
}

/* Runs a statement expected to return at most one row: ERR_NOT_FOUND when none. */
static enum err
exec_one(struct ctx *ctx, enum stmt s, int n, const char *const *params, PGresult **res)
{
	enum err	e;

	e = store_exec(ctx, s, n, params, res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(*res) == 0 && PQcmdTuples(*res)[0] != '1') {
		PQclear(*res);
		*res = NULL;
		return ERR_NOT_FOUND;
	}
	return ERR_OK;
}

enum err
store_user_create(struct ctx *ctx, const char *username, const char *display_name,
    const char *password_hash, struct user *out)
{
	const char	*params[3] = { username, display_name, password_hash };
	PGresult	*res;
	enum err	 e;

	e = exec_one(ctx, STMT_USER_INSERT, 3, params, &res);
	if (e != ERR_OK)
		return e;
	out->id = store_text(ctx, res, 0, 0);
	out->username = arena_strdup(ctx->arena, username);
	out->display_name = arena_strdup(ctx->arena, display_name);
	PQclear(res);
	return ERR_OK;
}

enum err
store_user_by_id(struct ctx *ctx, const char *id, struct user *out)
{
	const char	*params[1] = { id };
	PGresult	*res;
	enum err	 e;

	if (!text_id_valid(id))
		return ERR_NOT_FOUND;
	e = exec_one(ctx, STMT_USER_BY_ID, 1, params, &res);
	if (e != ERR_OK)
		return e;
	read_user(ctx, res, out);
	PQclear(res);
	return ERR_OK;
}

enum err
store_user_by_name(struct ctx *ctx, const char *username, struct user *out)
{
	const char	*params[1] = { username };
	PGresult	*res;
	enum err	 e;

	e = exec_one(ctx, STMT_USER_BY_NAME, 1, params, &res);
	if (e != ERR_OK)
		return e;
	read_user(ctx, res, out);
	PQclear(res);
	return ERR_OK;
}

enum err
store_user_credentials(struct ctx *ctx, const char *username, const char **id,
    const char **password_hash)
{
	const char	*params[1] = { username };
	PGresult	*res;
	enum err	 e;

	e = exec_one(ctx, STMT_USER_CREDENTIALS, 1, params, &res);
	if (e != ERR_OK)
		return e;
	*id = store_text(ctx, res, 0, 0);
	*password_hash = store_text(ctx, res, 0, 1);
	PQclear(res);
	return ERR_OK;
}

enum err
store_device_create(struct ctx *ctx, const char *user_id, const char *name,
    struct device *out)
{
	const char	*params[2] = { user_id, name };
	PGresult	*res;
	enum err	 e;

	e = exec_one(ctx, STMT_DEVICE_INSERT, 2, params, &res);
	if (e != ERR_OK)
		return e;
	out->id = store_text(ctx, res, 0, 0);
	out->name = arena_strdup(ctx->arena, name);
	out->created_us = store_time(res, 0, 1);
	out->last_seen_us = out->created_us;
	PQclear(res);
	return ERR_OK;
}

enum err
store_device_check(struct ctx *ctx, size_t n, const char *const *user_ids,
    const char *const *device_ids, bool *live)
{
	static const char nil[] = "00000000-0000-0000-0000-000000000000";
	const char	 *params[2];
	const char	**devs;
	const char	**users;
	const char	**stale;
	PGresult	 *res;
	uint64_t	  i;
	size_t		  k;
	size_t		  ns;
	enum err	  e;
	int		  row;

	devs = arena_alloc(ctx->arena, sizeof(*devs) * (n > 0 ? n : 1));
	users = arena_alloc(ctx->arena, sizeof(*users) * (n > 0 ? n : 1));
	stale = arena_alloc(ctx->arena, sizeof(*stale) * (n > 0 ? n : 1));
	/* A malformed id is no live device (and never reaches SQL). */
	for (k = 0; k < n; k++) {
		live[k] = false;
		devs[k] = text_id_valid(device_ids[k]) ? device_ids[k] : nil;
		users[k] = text_id_valid(user_ids[k]) ? user_ids[k] : nil;
	}
	params[0] = store_id_array(ctx, devs, n);
	params[1] = store_id_array(ctx, users, n);
	e = store_exec(ctx, STMT_DEVICE_CHECK, 2, params, &res);
	if (e != ERR_OK)
		return e;
	ns = 0;
	for (row = 0; row < PQntuples(res); row++) {
		if (!text_parse_u64(PQgetvalue(res, row, 0), n, &i) || i < 1)
			continue;
		live[i - 1] = true;
		if (PQgetvalue(res, row, 1)[0] == 't')
			stale[ns++] = device_ids[i - 1];
	}
	PQclear(res);
	/* last_seen is refreshed at most once a minute: one write per device and minute,
	 * not one per request. */
	if (ns > 0) {
		params[0] = store_id_array(ctx, stale, ns);
		if (store_exec(ctx, STMT_DEVICE_TOUCH, 1, params, &res) == ERR_OK)
			PQclear(res);
	}
	return ERR_OK;
}

enum err
store_device_list(struct ctx *ctx, const char *user_id, struct device **out, size_t *count)
{
	const char	*params[1] = { user_id };
	PGresult	*res;
	struct device	*d;
	enum err	 e;
	int		 i;
	int		 n;

	e = store_exec(ctx, STMT_DEVICE_LIST, 1, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	d = arena_alloc(ctx->arena, sizeof(*d) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		d[i].id = store_text(ctx, res, i, 0);
		d[i].name = store_text(ctx, res, i, 1);
		d[i].created_us = store_time(res, i, 2);
		d[i].last_seen_us = store_time(res, i, 3);
	}
	PQclear(res);
	*out = d;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_device_revoke(struct ctx *ctx, const char *user_id, const char *device_id)
{
	const char	*params[2] = { device_id, user_id };
	PGresult	*res;
	enum err	 e;

	if (!text_id_valid(device_id))
		return ERR_NOT_FOUND;
	e = exec_one(ctx, STMT_DEVICE_REVOKE, 2, params, &res);
	PQclear(res);
	return e;
}
