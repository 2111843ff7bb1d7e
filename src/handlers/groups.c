/* SPDX-License-Identifier: MIT */
/*
 * Groups: create, show, rename, add members, change a role, remove a member.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include <string.h>

#include "base/text.h"
#include "chat/chat.h"
#include "settings.h"

#define GROUP_NAME_MAX	128

/* Checks that every entry is a well-formed id; a malformed one cannot exist (404). */
static enum err
check_ids(struct req *rq, const char *const *ids, size_t count)
{
	size_t	i;

	for (i = 0; i < count; i++)
		if (!text_id_valid(ids[i]))
			return req_fail(rq, ERR_NOT_FOUND, "user not found");
	return ERR_OK;
}

/* Maps the outcomes shared by the group endpoints to their messages. */
static enum err
group_fail(struct req *rq, enum err e)
{
	switch (e) {
	case ERR_NOT_FOUND:
		return req_fail(rq, e, "group or user not found");
	case ERR_FORBIDDEN:
		return req_fail(rq, e, "not allowed for this member");
	case ERR_GROUP_FULL:
		return req_fail(rq, e, "the group would exceed its member limit");
	case ERR_CONFLICT:
		return req_fail(rq, e, "the group must keep at least one admin");
	case ERR_OK: case ERR_BAD_REQUEST: case ERR_INVALID_JSON: case ERR_UNAUTHORIZED:
	case ERR_METHOD_NOT_ALLOWED: case ERR_CURSOR_EXPIRED: case ERR_PAYLOAD_TOO_LARGE:
	case ERR_UNSUPPORTED_MEDIA: case ERR_RATE_LIMITED: case ERR_INTERNAL:
	case ERR_UNAVAILABLE: case ERR__COUNT:
		break;
	}
	return e;
}

static enum err
reply_group(struct req *rq, enum err e, int status, const struct chat_group *g)
{
	if (e != ERR_OK)
		return group_fail(rq, e);
	return reply_json(rq, status, render_group(g));
}

/* POST /v1/groups {"name","member_ids"}: 201 the group, 400, 404 unknown user, 422
 * beyond the member cap. */
enum err
handle_group_create(struct req *rq)
{
	json_object	 *body;
	const char	 *name;
	const char	**ids;
	size_t		  n;
	struct chat_group	  g;
	enum err	  e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_string(rq, body, "name", 1, GROUP_NAME_MAX, J_REQUIRED, &name);
	if (e == ERR_OK)
		e = jread_strings(rq, body, "member_ids", 100000, J_OPTIONAL, &ids, &n);
	if (e == ERR_OK)
		e = check_ids(rq, ids, n);
	if (e != ERR_OK)
		return e;
	e = chat_group_create(&rq->ctx, name, ids, n, &g);
	return reply_group(rq, e, 201, &g);
}

/* GET /v1/groups/{group_id}: 200, 403 not a member, 404. */
enum err
handle_group_show(struct req *rq)
{
	struct chat_group	g;

	return reply_group(rq, chat_group_show(&rq->ctx, req_param(rq, "group_id"), &g), 200,
	    &g);
}

/* PATCH /v1/groups/{group_id} {"name"}: 200, 400, 403 not an admin, 404. */
enum err
handle_group_update(struct req *rq)
{
	json_object	*body;
	const char	*name;
	struct chat_group	 g;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_string(rq, body, "name", 1, GROUP_NAME_MAX, J_REQUIRED, &name);
	if (e != ERR_OK)
		return e;
	e = chat_group_rename(&rq->ctx, req_param(rq, "group_id"), name, &g);
	return reply_group(rq, e, 200, &g);
}

/* POST /v1/groups/{group_id}/members {"user_ids"}: 200 (all or nothing; present members
 * ignored), 403 not an admin, 404 unknown group or user, 422 beyond the cap. */
enum err
handle_group_member_add(struct req *rq)
{
	json_object	 *body;
	const char	**ids;
	size_t		  n;
	struct chat_group	  g;
	enum err	  e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_strings(rq, body, "user_ids", 100000, J_REQUIRED, &ids, &n);
	if (e == ERR_OK)
		e = check_ids(rq, ids, n);
	if (e != ERR_OK)
		return e;
	e = chat_group_add(&rq->ctx, req_param(rq, "group_id"), ids, n, &g);
	return reply_group(rq, e, 200, &g);
}

/* PATCH /v1/groups/{group_id}/members/{user_id} {"role"}: 200, 400, 403 not an admin,
 * 404 not a member, 409 demoting the last admin. */
enum err
handle_group_member_update(struct req *rq)
{
	json_object	*body;
	const char	*role;
	const char	*user;
	struct chat_group	 g;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_string(rq, body, "role", 1, 16, J_REQUIRED, &role);
	if (e != ERR_OK)
		return e;
	if (strcmp(role, "admin") != 0 && strcmp(role, "member") != 0)
		return req_fail(rq, ERR_BAD_REQUEST, "role: admin or member");
	user = req_param(rq, "user_id");
	e = chat_group_set_role(&rq->ctx, req_param(rq, "group_id"), user, role, &g);
	return reply_group(rq, e, 200, &g);
}

/* DELETE /v1/groups/{group_id}/members/{user_id}: 204, 403 neither admin nor self, 404. */
enum err
handle_group_member_delete(struct req *rq)
{
	enum err	e;

	e = chat_group_remove(&rq->ctx, req_param(rq, "group_id"), req_param(rq, "user_id"));
	if (e != ERR_OK)
		return group_fail(rq, e);
	return reply_empty(rq, 204);
}
