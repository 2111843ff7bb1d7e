/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL: one connection per worker thread, the statement table, and one function
 * per query. Every function takes a ctx (arena for results, ctx->db for the connection)
 * and returns ERR_OK, ERR_NOT_FOUND (no row), ERR_CONFLICT (unique violation),
 * ERR_BAD_REQUEST (data the database refused), ERR_UNAVAILABLE (no connection, timeout)
 * or ERR_INTERNAL. Details are logged here; no SQL text ever leaves this folder.
 * Strings in results are copied into the ctx arena.
 */
#ifndef CHAT_STORE_STORE_H
#define CHAT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ctx.h"

struct settings;
struct store;

/* A connection handle that connects lazily and reconnects after failures. */
struct store	*store_open(const struct settings *cfg);
void		 store_close(struct store *);

/* Applies the migrations of dir in order (each in one transaction, recorded in
 * schema_version, serialized across processes by an advisory lock). */
bool		 store_migrate(const struct settings *cfg, const char *dir);

/* SELECT 1 with a short timeout. */
enum err	 store_ping(struct ctx *);

enum err	 store_tx_begin(struct ctx *);
enum err	 store_tx_commit(struct ctx *);
void		 store_tx_rollback(struct ctx *);

struct user {
	const char	*id;
	const char	*username;
	const char	*display_name;
};

struct device {
	const char	*id;
	const char	*name;
	int64_t		 created_us;
	int64_t		 last_seen_us;
};

/* ERR_CONFLICT when the username is taken. */
enum err	 store_user_create(struct ctx *, const char *username, const char *display_name,
		    const char *password_hash, struct user *out);
enum err	 store_user_by_id(struct ctx *, const char *id, struct user *out);
enum err	 store_user_by_name(struct ctx *, const char *username, struct user *out);
/* The id and password hash of a username, for login. */
enum err	 store_user_credentials(struct ctx *, const char *username, const char **id,
		    const char **password_hash);

enum err	 store_device_create(struct ctx *, const char *user_id, const char *name,
		    struct device *out);
/* ERR_OK when the device exists, belongs to user_id and is not revoked; ERR_NOT_FOUND
 * otherwise. Refreshes last_seen when it is older than a minute. */
enum err	 store_device_check(struct ctx *, const char *user_id, const char *device_id);
/* The live devices of a user, oldest first (arrays in the arena). */
enum err	 store_device_list(struct ctx *, const char *user_id, struct device **out,
		    size_t *count);
/* Revokes a live device of user_id; ERR_NOT_FOUND when there is none. */
enum err	 store_device_revoke(struct ctx *, const char *user_id, const char *device_id);

#endif
