/* SPDX-License-Identifier: MIT */
/*
 * json-c 0.16 accepts more than JSON (LIBRARIES.md §4): this file closes the gaps.
 * STRICT mode, a depth cap, parse_end == length (an embedded NUL byte stops the parser
 * early), and a strict UTF-8 check of every string that a handler reads.
 */
#include "config.h"
#include "json.h"

#include <string.h>

#include "base/arena.h"
#include "base/utf8.h"
#include "settings.h"

static void
put_root(void *obj)
{
	json_object_put(obj);
}

json_object *
jparse(const char *buf, size_t len)
{
	json_tokener	*tok;
	json_object	*obj;

	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* len + 1 includes the NUL so that a number at the end terminates. */
	obj = json_tokener_parse_ex(tok, buf, (int)len + 1);
	if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* The value of the \uXXXX escape at s (s[0] == '\\'), or -1. */
static long
escape_value(const char *s, size_t avail)
{
	long	v;
	size_t	i;
	int	d;

	if (avail < 6 || s[1] != 'u')
		return -1;
	v = 0;
	for (i = 2; i < 6; i++) {
		d = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
		    s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 :
		    s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* A \u escape of a UTF-16 surrogate must be a high one followed by a low one: json-c
 * turns a lone surrogate into U+FFFD instead of refusing it. Returns the bytes of the
 * escape sequence to skip (less one), or 0 when it is a lone surrogate. */
static size_t
check_escape(const char *s, size_t avail)
{
	long	v;
	long	lo;

	v = escape_value(s, avail);
	if (v < 0xD800 || v > 0xDFFF)
		return 1;
	if (v >= 0xDC00)
		return 0;
	lo = avail > 6 && s[6] == '\\' ? escape_value(s + 6, avail - 6) : -1;
	if (lo < 0xDC00 || lo > 0xDFFF)
		return 0;
	return 11;
}

/* What json-c 0.16 accepts beyond JSON even in STRICT mode: single-quoted strings,
 * NaN and Infinity, raw control characters inside strings, lone surrogates. Outside
 * strings JSON has only punctuation, white space, numbers and true, false and null. */
static bool
plain_json(const char *buf, size_t len)
{
	size_t	i;
	size_t	skip;
	bool	in_string;
	char	c;

	in_string = false;
	for (i = 0; i < len; i++) {
		c = buf[i];
		if (in_string) {
			if ((unsigned char)c < 0x20)
				return false;
			if (c == '\\') {
				skip = check_escape(buf + i, len - i);
				if (skip == 0)
					return false;
				i += skip;
			} else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (strchr("{}[],: \t\r\n0123456789-+.eEtrufalsn", c) == NULL)
			return false;
	}
	return true;
}

static bool
is_multipart(const char *ct)
{
	return ct != NULL && strncasecmp(ct, "multipart/form-data", 19) == 0;
}

enum err
jread_object(struct req *rq, json_object **out)
{
	const char	*buf;
	size_t		 len;
	json_object	*obj;
	enum err	 e;

	*out = NULL;
	e = req_body(rq, rq->ctx.cfg->max_body_bytes, &buf, &len);
	if (e != ERR_OK)
		return e;
	if (is_multipart(rq->content_type))
		return req_fail(rq, ERR_UNSUPPORTED_MEDIA, "send the body as JSON, not multipart");
	if (len == 0)
		return req_fail(rq, ERR_INVALID_JSON, "a JSON object body is required");
	if (len > (size_t)0x7fffffff || memchr(buf, '\0', len) != NULL ||
	    !utf8_valid(buf, len, NULL))
		return req_fail(rq, ERR_INVALID_JSON, "the body is not valid UTF-8 JSON");
	obj = plain_json(buf, len) ? jparse(buf, len) : NULL;
	if (obj == NULL)
		return req_fail(rq, ERR_INVALID_JSON, "the body is not valid JSON");
	arena_defer(rq->ctx.arena, put_root, obj);
	if (!json_object_is_type(obj, json_type_object))
		return req_fail(rq, ERR_INVALID_JSON, "the body must be a JSON object");
	*out = obj;
	return ERR_OK;
}

static enum err
field_fail(struct req *rq, const char *key, const char *what)
{
	return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena, "%s: %s", key, what));
}

enum err
jread_strings(struct req *rq, json_object *obj, const char *key, size_t max, enum jneed need,
    const char ***out, size_t *count)
{
	json_object	*v;
	json_object	*item;
	const char	*s;
	size_t		 n;
	size_t		 i;
	int		 len;

	*out = NULL;
	*count = 0;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (need == J_REQUIRED)
			return field_fail(rq, key, "is required");
		return ERR_OK;
	}
	if (!json_object_is_type(v, json_type_array))
		return field_fail(rq, key, "must be an array of strings");
	n = json_object_array_length(v);
	if (n > max)
		return field_fail(rq, key, "has too many entries");
	*out = arena_alloc(rq->ctx.arena, sizeof(**out) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(v, i);
		if (!json_object_is_type(item, json_type_string))
			return field_fail(rq, key, "must be an array of strings");
		s = json_object_get_string(item);
		len = json_object_get_string_len(item);
		if (len <= 0 || len > 64 || strlen(s) != (size_t)len ||
		    !utf8_valid(s, (size_t)len, NULL))
			return field_fail(rq, key, "has an invalid entry");
		(*out)[i] = arena_strndup(rq->ctx.arena, s, (size_t)len);
	}
	*count = n;
	return ERR_OK;
}

bool
jhas(json_object *obj, const char *key)
{
	return json_object_object_get_ex(obj, key, NULL);
}


/* Gets a string field with no NUL and valid UTF-8; *chars gets its code points. */
static enum err
get_text(struct req *rq, json_object *obj, const char *key, enum jneed need,
    const char **out, size_t *len, size_t *chars)
{
	json_object	*v;
	const char	*s;
	int		 n;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (need == J_REQUIRED)
			return field_fail(rq, key, "is required");
		return ERR_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		return field_fail(rq, key, "must be a string");
	s = json_object_get_string(v);
	n = json_object_get_string_len(v);
	if (n < 0 || strlen(s) != (size_t)n)
		return field_fail(rq, key, "must not contain NUL");
	if (!utf8_valid(s, (size_t)n, chars))
		return field_fail(rq, key, "must be valid UTF-8");
	*out = arena_strndup(rq->ctx.arena, s, (size_t)n);
	*len = (size_t)n;
	return ERR_OK;
}

enum err
jread_string(struct req *rq, json_object *obj, const char *key, size_t min_chars,
    size_t max_chars, enum jneed need, const char **out)
{
	size_t		 len;
	size_t		 chars;
	enum err	 e;

	e = get_text(rq, obj, key, need, out, &len, &chars);
	if (e != ERR_OK || *out == NULL)
		return e;
	if (chars < min_chars || chars > max_chars) {
		*out = NULL;
		return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena,
		    "%s: must be %zu to %zu characters", key, min_chars, max_chars));
	}
	return ERR_OK;
}

enum err
jread_bytes(struct req *rq, json_object *obj, const char *key, size_t min_len,
    size_t max_len, enum jneed need, const char **out)
{
	size_t		 len;
	size_t		 chars;
	enum err	 e;

	e = get_text(rq, obj, key, need, out, &len, &chars);
	if (e != ERR_OK || *out == NULL)
		return e;
	if (len < min_len || len > max_len) {
		*out = NULL;
		return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena,
		    "%s: must be %zu to %zu bytes", key, min_len, max_len));
	}
	return ERR_OK;
}

enum err
jread_bool(struct req *rq, json_object *obj, const char *key, enum jneed need,
    bool *present, bool *out)
{
	json_object	*v;

	*present = false;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (need == J_REQUIRED)
			return field_fail(rq, key, "is required");
		return ERR_OK;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return field_fail(rq, key, "must be true or false");
	*out = json_object_get_boolean(v);
	*present = true;
	return ERR_OK;
}

enum err
jread_int(struct req *rq, json_object *obj, const char *key, int64_t min, int64_t max,
    enum jneed need, bool *present, int64_t *out)
{
	json_object	*v;
	const char	*text;
	size_t		 i;
	int64_t		 n;

	*present = false;
	if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
		if (need == J_REQUIRED)
			return field_fail(rq, key, "is required");
		return ERR_OK;
	}
	if (!json_object_is_type(v, json_type_int))
		return field_fail(rq, key, "must be an integer");
	/* json-c clamps out-of-range integers silently (0.16): check the digits. */
	text = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	for (i = text[0] == '-' ? 1 : 0; text[i] != '\0'; i++)
		if (text[i] < '0' || text[i] > '9' || i > 19)
			return field_fail(rq, key, "is out of range");
	n = json_object_get_int64(v);
	if (n < min || n > max || n == INT64_MAX || n == INT64_MIN)
		return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena,
		    "%s: must be from %lld to %lld", key, (long long)min, (long long)max));
	*out = n;
	*present = true;
	return ERR_OK;
}

enum err
reply_json(struct req *rq, int status, json_object *obj)
{
	const char	*s;
	size_t		 len;
	enum err	 e;

	s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	e = reply_body(rq, status, s, len);
	json_object_put(obj);
	return e;
}

void
jadd_str(json_object *obj, const char *key, const char *s)
{
	json_object_object_add(obj, key, s == NULL ? NULL : json_object_new_string(s));
}

void
jadd_int(json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

void
jadd_bool(json_object *obj, const char *key, bool v)
{
	json_object_object_add(obj, key, json_object_new_boolean(v));
}
