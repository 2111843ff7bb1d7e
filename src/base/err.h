/* SPDX-License-Identifier: MIT */
/*
 * The one error enum of the program. Each value but ERR_OK is an API error code;
 * err.c maps it to its HTTP status, wire string and default public message.
 */
#ifndef CHAT_BASE_ERR_H
#define CHAT_BASE_ERR_H

enum err {
	ERR_OK = 0,
	ERR_BAD_REQUEST,	/* 400 bad_request */
	ERR_INVALID_JSON,	/* 400 invalid_json */
	ERR_UNAUTHORIZED,	/* 401 unauthorized */
	ERR_FORBIDDEN,		/* 403 forbidden */
	ERR_NOT_FOUND,		/* 404 not_found */
	ERR_METHOD_NOT_ALLOWED,	/* 405 method_not_allowed */
	ERR_CONFLICT,		/* 409 conflict */
	ERR_CURSOR_EXPIRED,	/* 410 cursor_expired */
	ERR_PAYLOAD_TOO_LARGE,	/* 413 payload_too_large */
	ERR_UNSUPPORTED_MEDIA,	/* 415 unsupported_media_type */
	ERR_GROUP_FULL,		/* 422 group_full */
	ERR_RATE_LIMITED,	/* 429 rate_limited */
	ERR_INTERNAL,		/* 500 internal */
	ERR_UNAVAILABLE,	/* 503 unavailable */
	ERR__COUNT
};

/* HTTP status of an error code (200 for ERR_OK). */
int		 err_status(enum err);
/* Wire string, e.g. "not_found" ("ok" for ERR_OK). */
const char	*err_code(enum err);
/* Default public message, e.g. "not found". */
const char	*err_message(enum err);
/* Reason phrase of an HTTP status, e.g. "Not Found"; "Unknown" otherwise. */
const char	*http_reason(int status);

#endif
