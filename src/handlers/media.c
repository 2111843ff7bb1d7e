/* SPDX-License-Identifier: MIT */
/*
 * Media: uploads (the raw body, streamed to disk by chat/media.c) and downloads, which
 * chatd authorizes and the web server sends (X-Sendfile for lighttpd, X-Accel-Redirect
 * for nginx), so that the bytes never pass through chatd and ranges, Content-Length and
 * validators come from the web server.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "base/text.h"
#include "chat/chat.h"
#include "media/media.h"
#include "settings.h"

/* The internal nginx location that maps to the media directory (nginx/chatd.conf.in). */
#define NGINX_MEDIA_PREFIX	"/.chatd/media/"

/* Types a browser shows inline without running anything: the common images, videos and
 * sounds. Everything else (HTML, SVG, XML, PDF, scripts, text, unknown) is an attachment. */
static const char *const inline_types[] = {
	"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
	"video/mp4", "video/webm", "video/ogg", "video/quicktime",
	"audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "audio/webm", "audio/mp4",
	"audio/flac", "audio/x-flac",
};

static bool
shown_inline(const char *type)
{
	size_t	i;

	for (i = 0; i < sizeof(inline_types) / sizeof(inline_types[0]); i++)
		if (strcmp(type, inline_types[i]) == 0)
			return true;
	return false;
}

/* RFC 8187 percent-encoding of a file name for filename*=UTF-8''... */
static const char *
encode_name(struct arena *a, const char *name)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out;
	size_t			 o;
	unsigned char		 c;

	out = arena_alloc(a, strlen(name) * 3 + 1);
	for (o = 0; *name != '\0'; name++) {
		c = (unsigned char)*name;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '_' || c == '~')
			out[o++] = (char)c;
		else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

static json_object *
render_upload(struct req *rq, const struct media_row *m)
{
	json_object	*o;
	int64_t		 exp_s;

	o = json_object_new_object();
	jadd_str(o, "media_id", m->id);
	jadd_str(o, "content_type", m->content_type);
	jadd_int(o, "size", m->size);
	jadd_str(o, "sha256", m->sha256);
	jadd_str(o, "url", chat_media_url(&rq->ctx, m->id, &exp_s));
	return o;
}

/* The upload itself; handle_media_create drains what it leaves unread on failure. */
static enum err
create(struct req *rq)
{
	struct media_body	 body;
	struct media_row	 m;
	const char		*raw_name;
	const char		*why;
	enum err		 e;

	if (!rq->has_length || rq->content_length == 0)
		return req_fail(rq, ERR_BAD_REQUEST, "the body (the media's bytes) is empty");
	if (rq->content_length > rq->ctx.cfg->max_media_bytes)
		return req_fail(rq, ERR_PAYLOAD_TOO_LARGE, "the media is too large");
	if (rq->content_type != NULL &&
	    strncasecmp(rq->content_type, "multipart/form-data", 19) == 0)
		return req_fail(rq, ERR_UNSUPPORTED_MEDIA,
		    "send the raw bytes as the body, not a form");
	e = req_query(rq, "filename", &raw_name);
	if (e != ERR_OK)
		return e;
	body.read = rq->io->read;
	body.arg = rq->io_arg;
	body.len = rq->content_length;
	e = chat_media_upload(&rq->ctx, &body, chat_media_file_name(&rq->ctx, raw_name), &m,
	    &why);
	if (e != ERR_OK)
		return why != NULL ? req_fail(rq, e, why) : e;
	return reply_json(rq, 201, render_upload(rq, &m));
}

/* POST /v1/media: 201 stored; 400 empty or short body, badly encoded filename; 401;
 * 413 over CHAT_MAX_MEDIA_BYTES (from Content-Length, before reading); 415 multipart;
 * 429 over the caller's send rate. */
enum err
handle_media_create(struct req *rq)
{
	enum err	e;

	e = create(rq);
	/* What the web server accepts is bounded: the cap plus 64 KiB (OPERATIONS.md). */
	if (e != ERR_OK)
		req_body_discard(rq, rq->ctx.cfg->max_media_bytes + 65536);
	return e;
}

/* The headers of a download: where the web server finds the file, its type, caching,
 * and how a browser may show it. */
static const char *
file_headers(struct req *rq, const struct media_row *m, bool is_signed, int64_t exp_s)
{
	struct arena	*a;
	const char	*where;
	const char	*cache;
	const char	*disp;
	const char	*name;
	int64_t		 left_s;

	a = rq->ctx.arena;
	if (strcmp(rq->ctx.cfg->web, "nginx") == 0)
		where = arena_printf(a, "X-Accel-Redirect: " NGINX_MEDIA_PREFIX "%s\r\n",
		    m->storage_key);
	else
		where = arena_printf(a, "X-Sendfile: %s/%s\r\n", media_dir(rq->ctx.cfg),
		    m->storage_key);
	/* A signed URL may be cached (privately) while it is valid; a token's answer not. */
	left_s = exp_s - text_now_us() / 1000000;
	if (is_signed && left_s > 0)
		cache = arena_printf(a, "Cache-Control: private, max-age=%lld\r\n",
		    (long long)left_s);
	else
		cache = "Cache-Control: private, no-cache\r\n";
	name = m->file_name != NULL ? arena_printf(a, "; filename*=UTF-8''%s",
	    encode_name(a, m->file_name)) : "";
	disp = arena_printf(a, "Content-Disposition: %s%s\r\n",
	    shown_inline(m->content_type) ? "inline" : "attachment", name);
	return arena_printf(a, "%sContent-Type: %s\r\n%s%s"
	    "Content-Security-Policy: default-src 'none'; sandbox\r\n",
	    where, m->content_type, cache, disp);
}

/* GET /v1/media/{media_id}: 200 (the web server sends the file); 401 without a token or
 * signature; 404 unknown id, not allowed, or a bad or expired signature. */
enum err
handle_media_show(struct req *rq)
{
	struct media_row	 m;
	const char		*id;
	const char		*exp;
	const char		*sig;
	bool			 is_signed;
	int64_t			 exp_s;
	enum err		 e;

	id = req_param(rq, "media_id");
	e = req_query(rq, "exp", &exp);
	if (e == ERR_OK)
		e = req_query(rq, "sig", &sig);
	if (e != ERR_OK)
		return e;
	/* The id is checked before anything is looked up or any path is built. */
	if (id == NULL || !text_id_valid(id))
		return req_fail(rq, ERR_NOT_FOUND, "media not found");
	exp_s = 0;
	is_signed = false;
	if (rq->ctx.user_id == NULL) {
		/* No token: the router let the request through for its signature. */
		if (!chat_media_signed(&rq->ctx, id, exp, sig, &exp_s))
			return req_fail(rq, ERR_NOT_FOUND, "media not found");
		is_signed = true;
	}
	e = chat_media_open(&rq->ctx, id, is_signed, &m);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "media not found");
	if (e != ERR_OK)
		return e;
	return reply_file(rq, 200, file_headers(rq, &m, is_signed, exp_s));
}
