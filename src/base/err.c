/* SPDX-License-Identifier: MIT */
/*
 * The table behind enum err. A unit test checks that every row is filled.
 */
#include "config.h"
#include "err.h"

#include <stddef.h>

struct err_row {
	int		 status;
	const char	*code;
	const char	*message;
};

static const struct err_row err_rows[] = {
	[ERR_OK] = { 200, "ok", "ok" },
	[ERR_BAD_REQUEST] = { 400, "bad_request", "bad request" },
	[ERR_INVALID_JSON] = { 400, "invalid_json", "the body is not valid JSON" },
	[ERR_UNAUTHORIZED] = { 401, "unauthorized", "a valid bearer token is required" },
	[ERR_FORBIDDEN] = { 403, "forbidden", "not allowed" },
	[ERR_NOT_FOUND] = { 404, "not_found", "not found" },
	[ERR_METHOD_NOT_ALLOWED] = { 405, "method_not_allowed", "method not allowed" },
	[ERR_CONFLICT] = { 409, "conflict", "conflict" },
	[ERR_CURSOR_EXPIRED] = { 410, "cursor_expired", "the cursor can no longer be resumed" },
	[ERR_PAYLOAD_TOO_LARGE] = { 413, "payload_too_large", "the body is too large" },
	[ERR_UNSUPPORTED_MEDIA] = { 415, "unsupported_media_type", "unsupported content type" },
	[ERR_GROUP_FULL] = { 422, "group_full", "the group is full" },
	[ERR_RATE_LIMITED] = { 429, "rate_limited", "too many requests" },
	[ERR_INTERNAL] = { 500, "internal", "internal error" },
	[ERR_UNAVAILABLE] = { 503, "unavailable", "service temporarily unavailable" },
};
_Static_assert(sizeof(err_rows) / sizeof(err_rows[0]) == ERR__COUNT, "err_rows covers enum err");

static const struct err_row *
row(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		e = ERR_INTERNAL;
	return &err_rows[e];
}

int
err_status(enum err e)
{
	return row(e)->status;
}

const char *
err_code(enum err e)
{
	return row(e)->code;
}

const char *
err_message(enum err e)
{
	return row(e)->message;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}
