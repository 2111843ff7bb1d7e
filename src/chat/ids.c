/* SPDX-License-Identifier: MIT */
/*
 * Message ids and event cursors: the opaque strings the server hands out, and the one
 * place that parses them back.
 */
#include "config.h"
#include "chat.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "base/text.h"
#include "settings.h"

#define CURSOR_MAC_BYTES	9

const char *
chat_message_id(struct ctx *ctx, const char *chat_id, int64_t seq)
{
	return arena_printf(ctx->arena, "%s.%lld", chat_id, (long long)seq);
}

bool
chat_message_id_parse(const char *id, char chat_id[37], int64_t *seq)
{
	uint64_t	v;

	if (strnlen(id, 64) < 38 || id[36] != '.')
		return false;
	memcpy(chat_id, id, 36);
	chat_id[36] = '\0';
	if (!text_id_valid(chat_id) || !text_parse_u64(id + 37, INT64_MAX, &v) || v == 0)
		return false;
	*seq = (int64_t)v;
	return true;
}

static void
cursor_mac(struct ctx *ctx, const char *digits, char out[16])
{
	unsigned char	mac[CURSOR_MAC_BYTES];
	char		msg[96];

	snprintf(msg, sizeof(msg), "cursor:%s", digits);
	digest_hmac(ctx->cfg->jwt_secret, ctx->cfg->jwt_secret_len, msg, strlen(msg), mac,
	    sizeof(mac));
	text_b64url_encode(mac, sizeof(mac), out);
}

/* The cursor text is "<xid>-<stream ms>-<stream seq>.<mac>". */
const char *
chat_cursor_encode(struct ctx *ctx, const struct feed_pos *pos)
{
	char	digits[72];
	char	mac[16];

	snprintf(digits, sizeof(digits), "%llu-%llu-%llu", (unsigned long long)pos->xid,
	    (unsigned long long)pos->eph_ms, (unsigned long long)pos->eph_seq);
	cursor_mac(ctx, digits, mac);
	return arena_printf(ctx->arena, "%s.%s", digits, mac);
}

/* Parses "<a>-<b>-<c>" strictly. */
static bool
parse_triple(const char *s, struct feed_pos *pos)
{
	const char	*d1;
	const char	*d2;

	d1 = strchr(s, '-');
	d2 = d1 != NULL ? strchr(d1 + 1, '-') : NULL;
	return d1 != NULL && d2 != NULL &&
	    text_parse_u64n(s, (size_t)(d1 - s), UINT64_MAX, &pos->xid) &&
	    text_parse_u64n(d1 + 1, (size_t)(d2 - d1 - 1), UINT64_MAX, &pos->eph_ms) &&
	    text_parse_u64(d2 + 1, UINT64_MAX, &pos->eph_seq);
}

enum err
chat_cursor_decode(struct ctx *ctx, const char *cursor, struct feed_pos *pos)
{
	const char	*dot;
	char		 digits[72];
	char		 mac[16];
	size_t		 n;

	dot = strchr(cursor, '.');
	if (dot == NULL || (size_t)(dot - cursor) >= sizeof(digits))
		return ERR_BAD_REQUEST;
	n = (size_t)(dot - cursor);
	memcpy(digits, cursor, n);
	digits[n] = '\0';
	if (!parse_triple(digits, pos))
		return ERR_BAD_REQUEST;
	cursor_mac(ctx, digits, mac);
	if (strlen(dot + 1) != strlen(mac) || !text_equal_ct(dot + 1, mac, strlen(mac)))
		return ERR_BAD_REQUEST;
	return ERR_OK;
}
