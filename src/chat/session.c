/* SPDX-License-Identifier: MIT */
/*
 * Registration, login, token refresh and authentication of requests.
 */
#include "config.h"
#include "chat.h"

#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "base/text.h"
#include "bus/bus.h"
#include "settings.h"

void
chat_token_key(const struct ctx *ctx, struct token_key *out)
{
	out->secret = (const unsigned char *)ctx->cfg->jwt_secret;
	out->secret_len = ctx->cfg->jwt_secret_len;
	out->issuer = ctx->cfg->issuer;
}

enum err
chat_user_register(struct ctx *ctx, const char *username, const char *password,
    const char *display_name, struct user *out)
{
	char		hash[PASSWORD_HASH_MAX];
	enum err	e;

	e = password_hash(password, hash, sizeof(hash));
	if (e == ERR_UNAVAILABLE)
		ctx->retry_after_s = 1;
	if (e != ERR_OK)
		return e;
	return store_user_create(ctx, username, display_name, hash, out);
}

/* Signs a token for the device and fills the session. */
static enum err
issue(struct ctx *ctx, const char *user_id, const char *device_id, struct session *out)
{
	struct token_key	 key;
	char			*tok;
	enum err		 e;

	chat_token_key(ctx, &key);
	e = token_issue(&key, user_id, device_id, text_now_us() / 1000000, ctx->cfg->token_ttl_s,
	    &tok);
	if (e != ERR_OK)
		return e;
	out->token = arena_strdup(ctx->arena, tok);
	free(tok);
	out->user_id = user_id;
	out->device_id = device_id;
	out->expires_in_s = ctx->cfg->token_ttl_s;
	return ERR_OK;
}

enum err
chat_session_login(struct ctx *ctx, const char *username, const char *password,
    const char *device_name, struct session *out)
{
	const char	*user_id;
	const char	*hash;
	struct device	 dev;
	enum err	 e;
	bool		 match;

	e = bus_login_allowed(ctx, username, ctx->remote_addr);
	if (e != ERR_OK)
		return e;
	e = store_user_credentials(ctx, username, &user_id, &hash);
	if (e == ERR_NOT_FOUND)
		hash = NULL;	/* verified against a dummy: same time as a wrong password */
	else if (e != ERR_OK)
		return e;
	e = password_verify(hash, password, &match);
	if (e == ERR_UNAVAILABLE)
		ctx->retry_after_s = 1;
	if (e != ERR_OK)
		return e;
	if (!match) {
		bus_login_failed(ctx, username, ctx->remote_addr);
		return ERR_UNAUTHORIZED;
	}
	bus_login_succeeded(ctx, username);
	e = store_device_create(ctx, user_id, device_name, &dev);
	if (e != ERR_OK)
		return e;
	return issue(ctx, user_id, dev.id, out);
}

enum err
chat_session_refresh(struct ctx *ctx, struct session *out)
{
	return issue(ctx, ctx->user_id, ctx->device_id, out);
}

enum err
chat_authenticate_token(struct ctx *ctx, const char *token)
{
	struct token_key	key;
	struct token_claims	claims;

	chat_token_key(ctx, &key);
	if (token_verify(&key, token, text_now_us() / 1000000, &claims) != ERR_OK)
		return ERR_UNAUTHORIZED;
	ctx->user_id = arena_strdup(ctx->arena, claims.sub);
	ctx->device_id = arena_strdup(ctx->arena, claims.did);
	return ERR_OK;
}

enum err
chat_devices_live(struct ctx *ctx, size_t n, const char *const *user_ids,
    const char *const *device_ids, bool *live)
{
	enum err	e;

	e = store_device_check(ctx, n, user_ids, device_ids, live);
	if (e != ERR_OK)
		return e == ERR_UNAVAILABLE ? e : ERR_INTERNAL;
	return ERR_OK;
}

enum err
chat_authenticate(struct ctx *ctx, const char *token)
{
	enum err	e;
	bool		live;

	e = chat_authenticate_token(ctx, token);
	/* The device must still exist and not be logged out: checked on every request. */
	if (e == ERR_OK)
		e = chat_devices_live(ctx, 1, &ctx->user_id, &ctx->device_id, &live);
	if (e == ERR_OK && !live)
		e = ERR_UNAUTHORIZED;
	if (e != ERR_OK) {
		ctx->user_id = NULL;
		ctx->device_id = NULL;
	}
	return e;
}
