/* SPDX-License-Identifier: MIT */
/*
 * Media rows: uploads, the lookups of a send and of a download, and the sweep of media
 * that no message carries. The files themselves are media/'s.
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"

enum err
store_media_insert(struct ctx *ctx, struct media_row *m)
{
	const char	*params[6];
	PGresult	*res;
	enum err	 e;

	params[0] = m->uploader_id;
	params[1] = m->content_type;
	params[2] = arena_printf(ctx->arena, "%lld", (long long)m->size);
	params[3] = m->sha256;
	params[4] = m->file_name;	/* NULL: SQL NULL */
	params[5] = m->storage_key;
	e = store_exec(ctx, STMT_MEDIA_INSERT, 6, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) == 1)
		m->id = store_text(ctx, res, 0, 0);
	else
		e = ERR_INTERNAL;
	PQclear(res);
	return e;
}

enum err
store_media_get(struct ctx *ctx, const char *id, struct media_row *out)
{
	const char	*params[1] = { id };
	PGresult	*res;
	enum err	 e;

	memset(out, 0, sizeof(*out));
	e = store_exec(ctx, STMT_MEDIA_GET, 1, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) == 1) {
		out->id = id;
		out->uploader_id = store_text(ctx, res, 0, 0);
		out->content_type = store_text(ctx, res, 0, 1);
		out->size = store_int(res, 0, 2);
	} else
		e = ERR_NOT_FOUND;
	PQclear(res);
	return e;
}

enum err
store_media_access(struct ctx *ctx, const char *id, const char *viewer, bool is_signed,
    struct media_row *out)
{
	const char	*params[3] = { id, viewer, is_signed ? "true" : "false" };
	PGresult	*res;
	enum err	 e;

	memset(out, 0, sizeof(*out));
	e = store_exec(ctx, STMT_MEDIA_ACCESS, 3, params, &res);
	if (e != ERR_OK)
		return e;
	if (PQntuples(res) == 1) {
		out->id = id;
		out->content_type = store_text(ctx, res, 0, 0);
		out->size = store_int(res, 0, 1);
		out->storage_key = store_text(ctx, res, 0, 2);
		out->file_name = store_text(ctx, res, 0, 3);
	} else
		e = ERR_NOT_FOUND;
	PQclear(res);
	return e;
}

enum err
store_media_expire(struct ctx *ctx, unsigned max_age_s, struct media_row **out, size_t *count)
{
	const char		*params[1];
	struct media_row	*m;
	PGresult		*res;
	enum err		 e;
	int			 i;
	int			 n;

	*out = NULL;
	*count = 0;
	params[0] = arena_printf(ctx->arena, "%u", max_age_s);
	e = store_exec(ctx, STMT_MEDIA_EXPIRE, 1, params, &res);
	if (e != ERR_OK)
		return e;
	n = PQntuples(res);
	m = arena_alloc(ctx->arena, sizeof(*m) * (size_t)(n > 0 ? n : 1));
	memset(m, 0, sizeof(*m) * (size_t)(n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		m[i].sha256 = store_text(ctx, res, i, 0);
		m[i].storage_key = store_text(ctx, res, i, 1);
	}
	PQclear(res);
	*out = m;
	*count = (size_t)n;
	return ERR_OK;
}

enum err
store_media_file_used(struct ctx *ctx, const char *sha256, bool *used)
{
	const char	*params[1] = { sha256 };
	PGresult	*res;
	enum err	 e;

	*used = true;
	e = store_exec(ctx, STMT_MEDIA_LOCK, 1, params, &res);
	if (e != ERR_OK)
		return e;
	PQclear(res);
	e = store_exec(ctx, STMT_MEDIA_SHA_USED, 1, params, &res);
	if (e != ERR_OK)
		return e;
	*used = PQntuples(res) > 0;
	PQclear(res);
	return ERR_OK;
}
