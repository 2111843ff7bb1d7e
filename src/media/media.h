/* SPDX-License-Identifier: MIT */
/*
 * Media bytes on disk, and their type (libmagic, used in this folder only).
 *
 * An upload is written to a temporary file under $CHAT_VAR/media/tmp as it arrives
 * (media_tmp_create, media_tmp_write), then either discarded (media_tmp_discard: an
 * aborted or refused upload leaves nothing) or moved to its content-addressed place
 * (media_tmp_keep): $CHAT_VAR/media/ab/cd/<sha256>, where "ab/cd/<sha256>" is the
 * storage key kept in PostgreSQL. The web server sends the files (X-Sendfile or
 * X-Accel-Redirect); chatd only names them (media_path).
 */
#ifndef CHAT_MEDIA_MEDIA_H
#define CHAT_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

struct settings;
struct arena;

/* The longest bare MIME type kept. */
#define MEDIA_TYPE_MAX	127

struct media_tmp {
	int	fd;		/* -1 when closed */
	char	path[4096];
};

/* Creates an empty temporary file (mode 0640) under the media directory's tmp/.
 * ERR_INTERNAL (logged) when it cannot. */
enum err	 media_tmp_create(const struct settings *cfg, struct media_tmp *out);
/* Appends len bytes; ERR_INTERNAL (logged) on a write error (a full disk, say). */
enum err	 media_tmp_write(struct media_tmp *t, const void *buf, size_t len);
/* Makes the bytes durable (fdatasync); ERR_INTERNAL (logged). Called before the
 * transaction that keeps the file, so that no transaction waits for the disk. */
enum err	 media_tmp_sync(struct media_tmp *t);
/* Closes and removes the temporary file. Safe to call twice. */
void		 media_tmp_discard(struct media_tmp *t);
/* Moves the (synced) file to key's place; when a file is there already (the
 * same bytes uploaded before), the temporary file is removed instead. Either way the
 * temporary file is gone afterwards. ERR_INTERNAL (logged) on failure. */
enum err	 media_tmp_keep(const struct settings *cfg, struct media_tmp *t,
		    const char *key);

/* The storage key of a SHA-256 (64 hex digits): "ab/cd/<sha256>", in the arena. */
const char	*media_key(struct arena *a, const char *sha256_hex);
/* True for a key of that form (checked before any path is built from it). */
bool		 media_key_valid(const char *key);
/* The absolute directory of the media ($CHAT_VAR/media, resolved once). */
const char	*media_dir(const struct settings *cfg);
/* Removes the file of a key; false (logged) when it cannot (absent counts as done). */
bool		 media_remove(const struct settings *cfg, const char *key);
/* Removes temporary files older than max_age_s (left by a killed process). */
void		 media_tmp_sweep(const struct settings *cfg, unsigned max_age_s);

/* The bare MIME type of the bytes (their start: head[0..len)), from libmagic, into
 * out[MEDIA_TYPE_MAX + 1]; "application/octet-stream" when libmagic cannot tell. */
void		 media_detect(const void *head, size_t len, char *out);

#endif
