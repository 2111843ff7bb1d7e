/* SPDX-License-Identifier: MIT */
/*
 * Use cases: the rules that span PostgreSQL (store/), Redis (bus/) and auth/.
 * Each takes a ctx and returns an error code; results live in the ctx arena.
 */
#ifndef CHAT_CHAT_CHAT_H
#define CHAT_CHAT_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "ctx.h"
#include "store/store.h"

struct token_key;

/* The signing key of this process, built from the settings. */
void		 chat_token_key(const struct ctx *, struct token_key *out);

/* Registers a user (password hashed on the pool). ERR_CONFLICT when the name is taken,
 * ERR_UNAVAILABLE when the hashing pool is saturated. */
enum err	 chat_user_register(struct ctx *, const char *username, const char *password,
		    const char *display_name, struct user *out);

struct session {
	const char	*token;
	const char	*user_id;
	const char	*device_id;
	unsigned	 expires_in_s;
};

/* Logs in: throttling (ERR_RATE_LIMITED), password check (ERR_UNAUTHORIZED for a wrong
 * password and an unknown user alike), a new device, a token. */
enum err	 chat_session_login(struct ctx *, const char *username, const char *password,
		    const char *device_name, struct session *out);
/* A new token for the caller's device. */
enum err	 chat_session_refresh(struct ctx *, struct session *out);
/* Verifies a bearer token and that its device is live: fills ctx->user_id and
 * ctx->device_id. ERR_UNAUTHORIZED or ERR_UNAVAILABLE. */
enum err	 chat_authenticate(struct ctx *, const char *token);

#endif
