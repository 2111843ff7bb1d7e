/* SPDX-License-Identifier: MIT */
/*
 * Users: registration and lookup.
 */
#include "config.h"
#include "handlers.h"

#include <string.h>

#include "base/utf8.h"
#include "chat/chat.h"
#include "json/json.h"
#include "store/store.h"

#define USERNAME_MIN	3
#define USERNAME_MAX	32
#define PASSWORD_MIN	8
#define PASSWORD_MAX	256
#define DISPLAY_MAX	64

static bool
username_valid(const char *s)
{
	size_t	i;
	size_t	len;

	len = strlen(s);
	if (len < USERNAME_MIN || len > USERNAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static json_object *
user_json(const struct user *u)
{
	json_object	*o;

	o = json_object_new_object();
	jadd_str(o, "user_id", u->id);
	jadd_str(o, "username", u->username);
	jadd_str(o, "display_name", u->display_name);
	return o;
}

/* POST /v1/users: 201 created, 400 bad username/password/display_name, 409 name taken,
 * 503 hashing pool saturated. */
enum err
handle_user_create(struct req *rq)
{
	json_object	*body;
	const char	*username;
	const char	*password;
	const char	*display;
	struct user	 u;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e != ERR_OK)
		return e;
	e = jread_string(rq, body, "username", 1, 256, J_REQUIRED, &username);
	if (e != ERR_OK)
		return e;
	if (!username_valid(username))
		return req_fail(rq, ERR_BAD_REQUEST,
		    "username: 3 to 32 of a-z, 0-9, '_', '.' and '-'");
	e = jread_bytes(rq, body, "password", PASSWORD_MIN, PASSWORD_MAX, J_REQUIRED, &password);
	if (e != ERR_OK)
		return e;
	e = jread_string(rq, body, "display_name", 1, DISPLAY_MAX, J_OPTIONAL, &display);
	if (e != ERR_OK)
		return e;
	if (display != NULL && utf8_has_control(display))
		return req_fail(rq, ERR_BAD_REQUEST, "display_name: no control characters");
	e = chat_user_register(&rq->ctx, username, password, display != NULL ? display : username,
	    &u);
	if (e == ERR_CONFLICT)
		return req_fail(rq, e, "username is taken");
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 201, user_json(&u));
}

/* GET /v1/users/{user_id}: 200 the user, 404 unknown (or malformed) id. */
enum err
handle_user_show(struct req *rq)
{
	struct user	u;
	enum err	e;

	e = store_user_by_id(&rq->ctx, req_param(rq, "user_id"), &u);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "user not found");
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 200, user_json(&u));
}

/* GET /v1/users?username=NAME: 200 the user, 400 no username, 404 unknown name. */
enum err
handle_user_lookup(struct req *rq)
{
	const char	*name;
	struct user	 u;
	enum err	 e;

	e = req_query(rq, "username", &name);
	if (e != ERR_OK)
		return e;
	if (name == NULL)
		return req_fail(rq, ERR_BAD_REQUEST, "username: query parameter is required");
	if (!username_valid(name))
		return req_fail(rq, ERR_NOT_FOUND, "user not found");
	e = store_user_by_name(&rq->ctx, name, &u);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "user not found");
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 200, user_json(&u));
}
