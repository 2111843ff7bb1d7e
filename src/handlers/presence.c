/* SPDX-License-Identifier: MIT */
/*
 * Presence and typing: ephemeral state in Redis (503 while it is down).
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "chat/chat.h"

#define PRESENCE_MAX_IDS	500

static enum err
redis_fail(struct req *rq, enum err e)
{
	if (e == ERR_UNAVAILABLE) {
		rq->ctx.retry_after_s = 1;
		return req_fail(rq, e, "presence and typing are unavailable for now");
	}
	return e;
}

/* PUT /v1/presence {"status"}: 204, 400, 503 while Redis is down. */
enum err
handle_presence_update(struct req *rq)
{
	json_object	*body;
	const char	*status;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_string(rq, body, "status", 1, 16, J_REQUIRED, &status);
	if (e != ERR_OK)
		return e;
	if (strcmp(status, "online") != 0 && strcmp(status, "away") != 0 &&
	    strcmp(status, "offline") != 0)
		return req_fail(rq, ERR_BAD_REQUEST, "status: online, away or offline");
	e = chat_presence_set(&rq->ctx, status);
	if (e != ERR_OK)
		return redis_fail(rq, e);
	return reply_empty(rq, 204);
}

/* Splits the comma-separated ids; ERR_BAD_REQUEST beyond the maximum. Malformed ids are
 * dropped (they cannot share a chat with anyone). */
static enum err
split_ids(struct req *rq, const char *list, const char ***out, size_t *count)
{
	const char	**ids;
	const char	 *p;
	const char	 *end;
	char		 *id;
	size_t		  n;
	size_t		  parts;

	parts = 1;
	for (p = list; *p != '\0'; p++)
		parts += *p == ',';
	if (parts > PRESENCE_MAX_IDS)
		return req_fail(rq, ERR_BAD_REQUEST, "user_ids: at most 500");
	ids = arena_alloc(rq->ctx.arena, sizeof(*ids) * parts);
	n = 0;
	for (p = list; p != NULL; p = *end == ',' ? end + 1 : NULL) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		id = arena_strndup(rq->ctx.arena, p, (size_t)(end - p));
		if (text_id_valid(id))
			ids[n++] = id;
	}
	*out = ids;
	*count = n;
	return ERR_OK;
}

/* GET /v1/presence?user_ids=a,b,c: 200 the presence of those who share a chat with the
 * caller (and the caller itself), 400 without ids or beyond 500, 503 without Redis. */
enum err
handle_presence_list(struct req *rq)
{
	const char	 *list;
	const char	**ids;
	struct presence	 *p;
	json_object	 *map;
	json_object	 *item;
	json_object	 *o;
	char		  ts[32];
	bool		 *shown;
	size_t		  n;
	size_t		  i;
	enum err	  e;

	ids = NULL;
	n = 0;
	e = req_query(rq, "user_ids", &list);
	if (e != ERR_OK)
		return e;
	if (list == NULL || list[0] == '\0')
		return req_fail(rq, ERR_BAD_REQUEST, "user_ids: query parameter is required");
	e = split_ids(rq, list, &ids, &n);
	if (e != ERR_OK)
		return e;
	p = arena_alloc(rq->ctx.arena, sizeof(*p) * (n > 0 ? n : 1));
	shown = arena_alloc(rq->ctx.arena, sizeof(*shown) * (n > 0 ? n : 1));
	if (n > 0) {
		e = chat_presence_get(&rq->ctx, ids, n, p, shown);
		if (e != ERR_OK)
			return redis_fail(rq, e);
	}
	map = json_object_new_object();
	for (i = 0; i < n; i++) {
		if (!shown[i] || json_object_object_get_ex(map, ids[i], NULL))
			continue;
		item = json_object_new_object();
		jadd_str(item, "status", p[i].status);
		if (p[i].last_seen_ms > 0) {
			text_time_format(p[i].last_seen_ms * 1000, ts);
			jadd_str(item, "last_seen", ts);
		} else
			jadd_str(item, "last_seen", NULL);
		json_object_object_add(map, ids[i], item);
	}
	o = json_object_new_object();
	json_object_object_add(o, "presence", map);
	return reply_json(rq, 200, o);
}

/* POST /v1/chats/{chat_id}/typing {"typing"}: 204 (coalesced to one event a second),
 * 400, 404 not a current member, 503 while Redis is down. */
enum err
handle_chat_typing(struct req *rq)
{
	json_object	*body;
	const char	*chat_id;
	bool		 present;
	bool		 typing;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_bool(rq, body, "typing", J_REQUIRED, &present, &typing);
	if (e != ERR_OK)
		return e;
	chat_id = req_param(rq, "chat_id");
	if (!text_id_valid(chat_id))
		return req_fail(rq, ERR_NOT_FOUND, "chat not found");
	e = chat_typing(&rq->ctx, chat_id, typing);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "chat not found");
	if (e != ERR_OK)
		return redis_fail(rq, e);
	return reply_empty(rq, 204);
}
