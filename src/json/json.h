/* SPDX-License-Identifier: MIT */
/*
 * Bounded readers for request bodies and writers for responses (json-c).
 *
 * jread_object() parses the body strictly (depth, UTF-8, no trailing bytes, an object at
 * the top) and owns the result through the request's arena. The field readers check the
 * type before reading, validate strings as strict UTF-8 without NUL, count characters as
 * code points, and fail with ERR_BAD_REQUEST and a message naming the field.
 */
#ifndef CHAT_JSON_JSON_H
#define CHAT_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "http/http.h"

#define JSON_MAX_DEPTH	16

enum jneed { J_OPTIONAL, J_REQUIRED };

/* Reads the body (at most the configured JSON cap) and parses it into an object.
 * ERR_PAYLOAD_TOO_LARGE, ERR_UNSUPPORTED_MEDIA (multipart), ERR_INVALID_JSON. */
enum err	jread_object(struct req *rq, json_object **out);
/* Parses buf[0..len) strictly; NULL when it is not JSON. The caller owns the result. */
json_object	*jparse(const char *buf, size_t len);
/* A string of min..max characters. Absent and optional: ERR_OK with *out NULL. */
enum err	jread_string(struct req *rq, json_object *obj, const char *key, size_t min_chars,
		    size_t max_chars, enum jneed need, const char **out);
/* The same, with the length bounds in bytes (passwords). */
enum err	jread_bytes(struct req *rq, json_object *obj, const char *key, size_t min_len,
		    size_t max_len, enum jneed need, const char **out);
/* A JSON boolean. *present tells whether it was there. */
enum err	jread_bool(struct req *rq, json_object *obj, const char *key, enum jneed need,
		    bool *present, bool *out);
/* A JSON integer in [min, max]. */
enum err	jread_int(struct req *rq, json_object *obj, const char *key, int64_t min,
		    int64_t max, enum jneed need, bool *present, int64_t *out);
/* An array of at most max strings, each at most 64 bytes of valid UTF-8 (ids are
 * checked by the caller). Absent and optional: an empty list. */
enum err	jread_strings(struct req *rq, json_object *obj, const char *key, size_t max,
		    enum jneed need, const char ***out, size_t *count);
/* True when key is present (even as null). */
bool		jhas(json_object *obj, const char *key);

/* Serializes obj as the response (taking ownership of it). Returns ERR_OK. */
enum err	reply_json(struct req *rq, int status, json_object *obj);
/* Adds key: a new string (or null when s is NULL) to obj. */
void		jadd_str(json_object *obj, const char *key, const char *s);
void		jadd_int(json_object *obj, const char *key, int64_t v);
void		jadd_bool(json_object *obj, const char *key, bool v);

#endif
