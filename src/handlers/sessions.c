/* SPDX-License-Identifier: MIT */
/*
 * Sessions: login (one device per login), the device list, logout of this or another
 * device, and token refresh.
 */
#include "config.h"
#include "handlers.h"

#include <string.h>

#include "base/text.h"
#include "base/utf8.h"
#include "chat/chat.h"
#include "json/json.h"
#include "store/store.h"

#define DEVICE_NAME_MAX	64

static json_object *
session_json(const struct session *s)
{
	json_object	*o;

	o = json_object_new_object();
	jadd_str(o, "access_token", s->token);
	jadd_str(o, "token_type", "Bearer");
	jadd_int(o, "expires_in", s->expires_in_s);
	jadd_str(o, "user_id", s->user_id);
	jadd_str(o, "device_id", s->device_id);
	return o;
}

/* POST /v1/sessions: 201 token, 400 bad body, 401 wrong username or password (one
 * message for both), 429 too many failures (Retry-After), 503 hashing pool saturated. */
enum err
handle_session_create(struct req *rq)
{
	json_object	*body;
	const char	*username;
	const char	*password;
	const char	*device;
	struct session	 s;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e != ERR_OK)
		return e;
	e = jread_string(rq, body, "username", 1, 256, J_REQUIRED, &username);
	if (e == ERR_OK)
		e = jread_bytes(rq, body, "password", 1, 1024, J_REQUIRED, &password);
	if (e == ERR_OK)
		e = jread_string(rq, body, "device_name", 1, DEVICE_NAME_MAX, J_OPTIONAL, &device);
	if (e != ERR_OK)
		return e;
	if (device != NULL && utf8_has_control(device))
		return req_fail(rq, ERR_BAD_REQUEST, "device_name: no control characters");
	e = chat_session_login(&rq->ctx, username, password, device != NULL ? device : "device",
	    &s);
	if (e == ERR_UNAUTHORIZED)
		return req_fail(rq, e, "invalid username or password");
	if (e == ERR_RATE_LIMITED)
		return req_fail(rq, e, "too many failed logins, try again later");
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 201, session_json(&s));
}

/* GET /v1/sessions: 200 the caller's live devices, the current one marked. */
enum err
handle_session_list(struct req *rq)
{
	struct device	*devs;
	size_t		 count;
	size_t		 i;
	json_object	*list;
	json_object	*d;
	json_object	*o;
	char		 ts[32];
	enum err	 e;

	e = store_device_list(&rq->ctx, rq->ctx.user_id, &devs, &count);
	if (e != ERR_OK)
		return e;
	list = json_object_new_array();
	for (i = 0; i < count; i++) {
		d = json_object_new_object();
		jadd_str(d, "device_id", devs[i].id);
		jadd_str(d, "device_name", devs[i].name);
		text_time_format(devs[i].created_us, ts);
		jadd_str(d, "created", ts);
		text_time_format(devs[i].last_seen_us, ts);
		jadd_str(d, "last_seen", ts);
		jadd_bool(d, "current", strcmp(devs[i].id, rq->ctx.device_id) == 0);
		json_object_array_add(list, d);
	}
	o = json_object_new_object();
	json_object_object_add(o, "sessions", list);
	return reply_json(rq, 200, o);
}

/* DELETE /v1/sessions/current: 204; the token is rejected from the next request on. */
enum err
handle_session_delete_current(struct req *rq)
{
	enum err	e;

	e = store_device_revoke(&rq->ctx, rq->ctx.user_id, rq->ctx.device_id);
	if (e != ERR_OK && e != ERR_NOT_FOUND)
		return e;
	return reply_empty(rq, 204);
}

/* DELETE /v1/sessions/{device_id}: 204, 404 not a live device of the caller. */
enum err
handle_session_delete(struct req *rq)
{
	enum err	e;

	e = store_device_revoke(&rq->ctx, rq->ctx.user_id, req_param(rq, "device_id"));
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "session not found");
	if (e != ERR_OK)
		return e;
	return reply_empty(rq, 204);
}

/* POST /v1/sessions/current/refresh: 201 a new token for the same device. */
enum err
handle_session_refresh(struct req *rq)
{
	struct session	s;
	enum err	e;

	e = chat_session_refresh(&rq->ctx, &s);
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 201, session_json(&s));
}
