/* SPDX-License-Identifier: MIT */
/*
 * Matching walks the table once, comparing path segments; "{name}" captures a segment.
 * Literal rows come before parameter rows of the same shape ("/v1/sessions/current"
 * before "/v1/sessions/{device_id}"), and the first match wins.
 */
#include "config.h"
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "chat/chat.h"
#include "handlers/handlers.h"

struct route {
	const char	*pattern;
	handler_fn	*fn;
	enum method	 method;
	unsigned	 flags;
};

static const struct route routes[] = {
	{ "/healthz", handle_health_show, M_GET, 0 },
	{ "/v1/users", handle_user_create, M_POST, R_JSON },
	{ "/v1/users", handle_user_lookup, M_GET, R_AUTH },
	{ "/v1/users/{user_id}", handle_user_show, M_GET, R_AUTH },
	{ "/v1/sessions", handle_session_create, M_POST, R_JSON },
	{ "/v1/sessions", handle_session_list, M_GET, R_AUTH },
	{ "/v1/sessions/current", handle_session_delete_current, M_DELETE, R_AUTH },
	{ "/v1/sessions/current/refresh", handle_session_refresh, M_POST, R_AUTH },
	{ "/v1/sessions/{device_id}", handle_session_delete, M_DELETE, R_AUTH },
	{ "/v1/messages", handle_message_create, M_POST, R_AUTH | R_JSON },
	{ "/v1/messages", handle_message_list, M_GET, R_AUTH },
	{ "/v1/messages/{message_id}", handle_message_show, M_GET, R_AUTH },
	{ "/v1/messages/{message_id}/receipts", handle_message_receipts, M_GET, R_AUTH },
	{ "/v1/events", handle_event_poll, M_GET, R_AUTH | R_LATE_AUTH },
	{ "/v1/chats", handle_chat_list, M_GET, R_AUTH },
	{ "/v1/chats/{chat_id}/read", handle_chat_read, M_POST, R_AUTH | R_JSON },
	{ "/v1/chats/{chat_id}/typing", handle_chat_typing, M_POST, R_AUTH | R_JSON },
	{ "/v1/presence", handle_presence_update, M_PUT, R_AUTH | R_JSON },
	{ "/v1/presence", handle_presence_list, M_GET, R_AUTH },
	{ "/v1/groups", handle_group_create, M_POST, R_AUTH | R_JSON },
	{ "/v1/groups/{group_id}", handle_group_show, M_GET, R_AUTH },
	{ "/v1/groups/{group_id}", handle_group_update, M_PATCH, R_AUTH | R_JSON },
	{ "/v1/groups/{group_id}/messages", handle_group_message_create, M_POST, R_AUTH | R_JSON },
	{ "/v1/groups/{group_id}/members", handle_group_member_add, M_POST, R_AUTH | R_JSON },
	{ "/v1/groups/{group_id}/members/{user_id}", handle_group_member_update,
	    M_PATCH, R_AUTH | R_JSON },
	{ "/v1/groups/{group_id}/members/{user_id}", handle_group_member_delete, M_DELETE, R_AUTH },
	{ "/v1/media", handle_media_create, M_POST, R_AUTH | R_RAW },
	{ "/v1/media/{media_id}", handle_media_show, M_GET, R_AUTH | R_SIGNED },
};

/* Matches path against pattern; on success fills the request's parameters. */
static bool
match(struct req *rq, const char *pattern, const char *path, bool capture)
{
	const char	*pe;
	const char	*se;
	size_t		 plen;
	size_t		 slen;
	unsigned	 n;

	n = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (*pattern != '/' || *path != '/')
			return false;
		pattern++;
		path++;
		pe = strchr(pattern, '/');
		se = strchr(path, '/');
		plen = pe != NULL ? (size_t)(pe - pattern) : strlen(pattern);
		slen = se != NULL ? (size_t)(se - path) : strlen(path);
		if (plen > 2 && pattern[0] == '{' && pattern[plen - 1] == '}') {
			if (slen == 0 || n >= REQ_MAX_PARAMS)
				return false;
			if (capture) {
				rq->param_names[n] = arena_strndup(rq->ctx.arena, pattern + 1,
				    plen - 2);
				rq->param_values[n] = arena_strndup(rq->ctx.arena, path, slen);
			}
			n++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0)
			return false;
		pattern += plen;
		path += slen;
	}
	if (*pattern != '\0' || *path != '\0')
		return false;
	if (capture)
		rq->param_count = n;
	return true;
}

/* Builds the Allow header of a path that exists under other methods. */
static const char *
allowed(struct req *rq)
{
	char	 buf[128];
	size_t	 len;
	size_t	 i;

	len = 0;
	buf[0] = '\0';
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match(rq, routes[i].pattern, rq->path, false))
			continue;
		if (strstr(buf, http_method_name(routes[i].method)) != NULL)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len > 0 ? ", " : "",
		    http_method_name(routes[i].method));
		if (len >= sizeof(buf))
			break;
	}
	return len > 0 ? arena_strdup(rq->ctx.arena, buf) : NULL;
}

/* Reads "Bearer <token>" (scheme case-insensitive); NULL when absent or malformed. */
static const char *
bearer(const char *h)
{
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h != '\0' ? h : NULL;
}

static enum err
authenticate(struct req *rq, bool late)
{
	const char	*tok;
	enum err	 e;

	tok = bearer(rq->authorization);
	if (tok == NULL)
		return req_fail(rq, ERR_UNAUTHORIZED, "a bearer token is required");
	if (late) {
		e = chat_authenticate_token(&rq->ctx, tok);
		rq->device_unchecked = e == ERR_OK;
	} else
		e = chat_authenticate(&rq->ctx, tok);
	if (e == ERR_UNAUTHORIZED)
		return req_fail(rq, e, UNAUTHORIZED_MESSAGE);
	/* Any authenticated request keeps the caller present. */
	if (e == ERR_OK && !late)
		chat_presence_touch(&rq->ctx);
	return e;
}

/* True when the query carries a signature (valid or not: the handler decides). */
static bool
signed_query(struct req *rq)
{
	const char	*sig;

	return req_query(rq, "sig", &sig) == ERR_OK && sig != NULL;
}

enum err
router_dispatch(struct req *rq)
{
	const struct route	*r;
	enum method		 m;
	size_t			 i;
	enum err		 e;

	/* HEAD is GET without the body (http_finish leaves it out). */
	m = rq->method == M_HEAD ? M_GET : rq->method;
	r = NULL;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]) && r == NULL; i++)
		if (routes[i].method == m && match(rq, routes[i].pattern, rq->path, true))
			r = &routes[i];
	if (r == NULL) {
		rq->allow = allowed(rq);
		if (rq->allow != NULL)
			return req_fail(rq, ERR_METHOD_NOT_ALLOWED, "method not allowed");
		return req_fail(rq, ERR_NOT_FOUND, "no such endpoint");
	}
	rq->route = r;
	if ((r->flags & R_AUTH) && !((r->flags & R_SIGNED) && signed_query(rq))) {
		e = authenticate(rq, (r->flags & R_LATE_AUTH) != 0);
		if (e != ERR_OK)
			return e;
	}
	return r->fn(rq);
}

void
router_resume(struct req *const *rqs, size_t n, enum err *errs)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		rqs[i]->ctx.user_id = rqs[i]->hold.user_id;
		rqs[i]->ctx.device_id = rqs[i]->hold.device_id;
	}
	handle_event_resume_many(rqs, n, errs);
}
