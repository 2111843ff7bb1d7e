/* SPDX-License-Identifier: MIT */
/*
 * Media: uploads, signed URLs, who may read a media, which messages may carry it, and
 * the sweep of media no message carries.
 *
 * An upload streams to a temporary file (media/), then, in one transaction, its row is
 * inserted under its file's lock and the file moved to its content-addressed place;
 * the sweep removes a file under the same lock only when no row names it any more.
 * Signed URLs are HMACs (auth/) over the id and an expiry rounded up to the hour.
 */
#include "config.h"
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "base/log.h"
#include "base/text.h"
#include "base/utf8.h"
#include "media/media.h"
#include "settings.h"

#define CHUNK_BYTES	(64 * 1024)
/* libmagic decides from the first bytes. */
#define HEAD_BYTES	(64 * 1024)
#define FILE_NAME_MAX	255
#define SWEEP_AGE_S	(24 * 3600)
#define TMP_AGE_S	3600

const char *
chat_media_file_name(struct ctx *ctx, const char *raw)
{
	const char	*base;
	const char	*p;
	char		*out;
	size_t		 o;
	size_t		 cut;

	if (raw == NULL)
		return NULL;
	base = raw;
	for (p = raw; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	out = arena_alloc(ctx->arena, strlen(base) + 1);
	for (o = 0, p = base; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x20 && *p != 0x7f)
			out[o++] = *p;
	out[o] = '\0';
	/* At most 255 bytes, cut before a continuation byte (the input is valid UTF-8). */
	if (o > FILE_NAME_MAX) {
		cut = FILE_NAME_MAX;
		while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
			cut--;
		out[cut] = '\0';
		o = cut;
	}
	if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		return NULL;
	return out;
}

/* Reads the whole body into the temporary file: size, SHA-256 and the first bytes. */
static enum err
receive(struct ctx *ctx, const struct media_body *body, struct media_tmp *t, char sha[65],
    char type[MEDIA_TYPE_MAX + 1], const char **why)
{
	struct digest_stream	 d;
	unsigned char		*buf;
	unsigned char		*head;
	size_t			 head_len;
	uint64_t		 got;
	size_t			 want;
	long			 n;
	enum err		 e;

	buf = arena_alloc(ctx->arena, CHUNK_BYTES);
	head = arena_alloc(ctx->arena, HEAD_BYTES);
	head_len = 0;
	digest_stream_init(&d);
	for (got = 0; got < body->len; got += (uint64_t)n) {
		want = body->len - got < CHUNK_BYTES ? (size_t)(body->len - got) : CHUNK_BYTES;
		n = body->read(body->arg, buf, want);
		if (n <= 0) {
			*why = "the body is shorter than its length";
			return ERR_BAD_REQUEST;
		}
		e = media_tmp_write(t, buf, (size_t)n);
		if (e != ERR_OK)
			return e;
		digest_stream_update(&d, buf, (size_t)n);
		if (head_len < HEAD_BYTES) {
			want = HEAD_BYTES - head_len < (size_t)n ? HEAD_BYTES - head_len : (size_t)n;
			memcpy(head + head_len, buf, want);
			head_len += want;
		}
	}
	digest_stream_final_hex(&d, sha);
	media_detect(head, head_len, type);
	return ERR_OK;
}

enum err
chat_media_upload(struct ctx *ctx, const struct media_body *body, const char *file_name,
    struct media_row *out, const char **why)
{
	struct media_tmp	 t;
	char			 sha[65];
	char			 type[MEDIA_TYPE_MAX + 1];
	enum err		 e;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	e = bus_rate_take(ctx, ctx->user_id);
	if (e != ERR_OK)
		return e;
	e = media_tmp_create(ctx->cfg, &t);
	if (e != ERR_OK)
		return e;
	e = receive(ctx, body, &t, sha, type, why);
	if (e != ERR_OK)
		goto fail;
	out->uploader_id = ctx->user_id;
	out->content_type = arena_strdup(ctx->arena, type);
	out->size = (int64_t)body->len;
	out->sha256 = arena_strdup(ctx->arena, sha);
	out->file_name = file_name;
	out->storage_key = media_key(ctx->arena, sha);
	/* The disk first: a write transaction holds back every event feed until it ends.
	 * Then the row (it takes the file's lock), the file's move, and COMMIT. */
	e = media_tmp_sync(&t);
	if (e != ERR_OK)
		goto fail;
	e = store_tx_begin(ctx);
	if (e != ERR_OK)
		goto fail;
	e = store_media_insert(ctx, out);
	if (e == ERR_OK)
		e = media_tmp_keep(ctx->cfg, &t, out->storage_key);
	if (e != ERR_OK) {
		store_tx_rollback(ctx);
		goto fail;
	}
	return store_tx_commit(ctx);
fail:
	media_tmp_discard(&t);
	return e;
}

static void
url_mac(struct ctx *ctx, const char *media_id, int64_t exp_s, char out[44])
{
	unsigned char	mac[32];
	char		msg[96];

	snprintf(msg, sizeof(msg), "media:%s|%lld", media_id, (long long)exp_s);
	digest_hmac(ctx->cfg->jwt_secret, ctx->cfg->jwt_secret_len, msg, strlen(msg), mac,
	    sizeof(mac));
	text_b64url_encode(mac, sizeof(mac), out);
}

const char *
chat_media_url(struct ctx *ctx, const char *media_id, int64_t *exp_s)
{
	char	mac[48];
	int64_t	now_s;

	now_s = text_now_us() / 1000000;
	/* The next full hour, plus an hour: one URL per hour, each valid at least an hour. */
	*exp_s = (now_s / 3600 + 1) * 3600 + MEDIA_URL_EXTRA_S;
	url_mac(ctx, media_id, *exp_s, mac);
	return arena_printf(ctx->arena, "/v1/media/%s?exp=%lld&sig=%s", media_id,
	    (long long)*exp_s, mac);
}

bool
chat_media_signed(struct ctx *ctx, const char *media_id, const char *exp, const char *sig,
    int64_t *exp_s)
{
	char		mac[48];
	uint64_t	v;
	int64_t		now_s;

	if (exp == NULL || sig == NULL || !text_id_valid(media_id))
		return false;
	if (!text_parse_u64(exp, INT64_MAX, &v) || strlen(sig) != 43)
		return false;
	now_s = text_now_us() / 1000000;
	if ((int64_t)v < now_s)
		return false;
	url_mac(ctx, media_id, (int64_t)v, mac);
	if (!text_equal_ct(mac, sig, 43))
		return false;
	*exp_s = (int64_t)v;
	return true;
}

enum err
chat_media_open(struct ctx *ctx, const char *media_id, bool is_signed, struct media_row *out)
{
	enum err	e;

	if (!text_id_valid(media_id))
		return ERR_NOT_FOUND;
	e = store_media_access(ctx, media_id, ctx->user_id, is_signed, out);
	if (e == ERR_OK && !media_key_valid(out->storage_key)) {
		log_error("media %s: bad storage key", media_id);
		return ERR_INTERNAL;
	}
	return e;
}

enum err
chat_media_fits(struct ctx *ctx, const char *media_id, const char *kind, const char **why)
{
	struct media_row	m;
	enum err		e;

	*why = "media not found";
	if (!text_id_valid(media_id))
		return ERR_NOT_FOUND;
	e = store_media_get(ctx, media_id, &m);
	if (e != ERR_OK)
		return e;
	if (strcmp(m.uploader_id, ctx->user_id) != 0)
		return ERR_NOT_FOUND;
	if (strcmp(kind, "image") == 0 && strncmp(m.content_type, "image/", 6) != 0) {
		*why = "media_id: an image message needs an image/* media";
		return ERR_BAD_REQUEST;
	}
	if (strcmp(kind, "video") == 0 && strncmp(m.content_type, "video/", 6) != 0) {
		*why = "media_id: a video message needs a video/* media";
		return ERR_BAD_REQUEST;
	}
	*why = NULL;
	return ERR_OK;
}

/* Removes a file that no row names any more, under its lock. */
static void
drop_file(struct ctx *ctx, const struct media_row *m)
{
	bool	used;

	if (store_tx_begin(ctx) != ERR_OK)
		return;
	if (store_media_file_used(ctx, m->sha256, &used) != ERR_OK) {
		store_tx_rollback(ctx);
		return;
	}
	if (!used)
		(void)media_remove(ctx->cfg, m->storage_key);
	(void)store_tx_commit(ctx);
}

void
chat_media_sweep(struct ctx *ctx)
{
	struct media_row	*m;
	size_t			 n;
	size_t			 i;

	media_tmp_sweep(ctx->cfg, TMP_AGE_S);
	do {
		if (store_media_expire(ctx, SWEEP_AGE_S, &m, &n) != ERR_OK)
			return;
		for (i = 0; i < n; i++)
			drop_file(ctx, &m[i]);
		if (n > 0)
			log_info("media sweep: %zu unattached media deleted", n);
	} while (n == 100);
}
