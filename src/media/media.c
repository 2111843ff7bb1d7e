/* SPDX-License-Identifier: MIT */
/*
 * Media files: temporary files while an upload arrives, content-addressed files once it
 * is kept, their removal, and type detection with libmagic.
 *
 * libmagic's handle is not safe to share between threads: one handle, loaded on first
 * use, is used under a mutex (detection looks at the first bytes only, so the critical
 * section is short). Directories are made mode 2750 and files 0640: chatd writes them,
 * the web server (the directory's group) reads them.
 */
#include "config.h"
#include "media.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <magic.h>

#include "base/arena.h"
#include "base/log.h"
#include "settings.h"

/* Formats a path; false (logged) when it does not fit. */
static bool __attribute__((format(printf, 3, 4)))
path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		log_error("media: a path is too long");
		return false;
	}
	return true;
}

static pthread_mutex_t	 dir_lock = PTHREAD_MUTEX_INITIALIZER;
static char		 dir_path[PATH_MAX];

/* $CHAT_VAR/media as configured, made absolute but not resolved: the web server's
 * x-sendfile-docroot names the same path, and symbolic links in it would not match. */
const char *
media_dir(const struct settings *cfg)
{
	char	cwd[PATH_MAX];

	pthread_mutex_lock(&dir_lock);
	if (dir_path[0] == '\0') {
		if (cfg->var_dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
			(void)path_fmt(dir_path, sizeof(dir_path), "%s/media", cfg->var_dir);
		else
			(void)path_fmt(dir_path, sizeof(dir_path), "%s/%s/media", cwd, cfg->var_dir);
	}
	pthread_mutex_unlock(&dir_lock);
	return dir_path;
}

/* Makes a directory (2750) unless it exists. */
static bool
make_dir(const char *path)
{
	if (mkdir(path, 02750) == 0 || errno == EEXIST)
		return true;
	log_error("media: mkdir %s: %s", path, strerror(errno));
	return false;
}

enum err
media_tmp_create(const struct settings *cfg, struct media_tmp *out)
{
	char	dir[PATH_MAX];

	out->fd = -1;
	if (!path_fmt(dir, sizeof(dir), "%s/tmp", media_dir(cfg)) || !make_dir(dir))
		return ERR_INTERNAL;
	if (!path_fmt(out->path, sizeof(out->path), "%s/upload-XXXXXX", dir))
		return ERR_INTERNAL;
	out->fd = mkostemp(out->path, O_CLOEXEC);
	if (out->fd < 0) {
		log_error("media: mkstemp in %s: %s", dir, strerror(errno));
		return ERR_INTERNAL;
	}
	(void)fchmod(out->fd, 0640);
	return ERR_OK;
}

enum err
media_tmp_write(struct media_tmp *t, const void *buf, size_t len)
{
	const char	*p;
	ssize_t		 n;

	for (p = buf; len > 0; p += n, len -= (size_t)n) {
		n = write(t->fd, p, len);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			log_error("media: write %s: %s", t->path, strerror(errno));
			return ERR_INTERNAL;
		}
	}
	return ERR_OK;
}

enum err
media_tmp_sync(struct media_tmp *t)
{
	if (fdatasync(t->fd) == 0)
		return ERR_OK;
	log_error("media: fdatasync %s: %s", t->path, strerror(errno));
	return ERR_INTERNAL;
}

void
media_tmp_discard(struct media_tmp *t)
{
	if (t->fd < 0)
		return;
	close(t->fd);
	t->fd = -1;
	if (unlink(t->path) != 0 && errno != ENOENT)
		log_error("media: unlink %s: %s", t->path, strerror(errno));
}

enum err
media_tmp_keep(const struct settings *cfg, struct media_tmp *t, const char *key)
{
	char		path[PATH_MAX];
	const char	*dir;
	struct stat	st;

	if (!media_key_valid(key) || t->fd < 0) {
		media_tmp_discard(t);
		return ERR_INTERNAL;
	}
	dir = media_dir(cfg);
	/* key is "ab/cd/<sha256>": its two directories, then the file. */
	if (!path_fmt(path, sizeof(path), "%s/%.2s", dir, key) || !make_dir(path))
		goto fail;
	if (!path_fmt(path, sizeof(path), "%s/%.5s", dir, key) || !make_dir(path))
		goto fail;
	if (!path_fmt(path, sizeof(path), "%s/%s", dir, key))
		goto fail;
	if (stat(path, &st) == 0) {
		media_tmp_discard(t);	/* the same bytes are there already */
		return ERR_OK;
	}
	if (rename(t->path, path) != 0) {
		log_error("media: rename to %s: %s", path, strerror(errno));
		goto fail;
	}
	close(t->fd);
	t->fd = -1;
	return ERR_OK;
fail:
	media_tmp_discard(t);
	return ERR_INTERNAL;
}

const char *
media_key(struct arena *a, const char *sha256_hex)
{
	return arena_printf(a, "%.2s/%.2s/%s", sha256_hex, sha256_hex + 2, sha256_hex);
}

static bool
hex64(const char *s)
{
	size_t	i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

bool
media_key_valid(const char *key)
{
	if (strnlen(key, 71) != 70 || key[2] != '/' || key[5] != '/')
		return false;
	return hex64(key + 6) && memcmp(key, key + 6, 2) == 0 && memcmp(key + 3, key + 8, 2) == 0;
}

bool
media_remove(const struct settings *cfg, const char *key)
{
	char	path[PATH_MAX];

	if (!media_key_valid(key))
		return false;
	if (!path_fmt(path, sizeof(path), "%s/%s", media_dir(cfg), key))
		return false;
	if (unlink(path) == 0 || errno == ENOENT)
		return true;
	log_error("media: unlink %s: %s", path, strerror(errno));
	return false;
}

void
media_tmp_sweep(const struct settings *cfg, unsigned max_age_s)
{
	char		 dir[PATH_MAX];
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	time_t		 now;

	if (!path_fmt(dir, sizeof(dir), "%s/tmp", media_dir(cfg)))
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	now = time(NULL);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "upload-", 7) != 0)
			continue;
		if (!path_fmt(path, sizeof(path), "%s/%s", dir, de->d_name))
			continue;
		if (stat(path, &st) == 0 && now - st.st_mtime > (time_t)max_age_s)
			(void)unlink(path);
	}
	closedir(d);
}

static pthread_mutex_t	 magic_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t		 magic_handle;
static bool		 magic_failed;

/* The shared handle, loaded on first use; NULL (logged once) when libmagic fails. */
static magic_t
magic_get(void)
{
	if (magic_handle != NULL || magic_failed)
		return magic_handle;
	magic_handle = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
	if (magic_handle != NULL && magic_load(magic_handle, NULL) != 0) {
		log_error("media: magic_load: %s", magic_error(magic_handle));
		magic_close(magic_handle);
		magic_handle = NULL;
	}
	if (magic_handle == NULL) {
		log_error("media: libmagic is unusable: every upload is application/octet-stream");
		magic_failed = true;
	}
	return magic_handle;
}

/* True for "type/subtype" in lower-case token characters. */
static bool
mime_bare(const char *s)
{
	size_t	i;
	size_t	slash;

	slash = 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '/' && slash == 0 && i > 0)
			slash = i;
		else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    strchr("!#$&^_.+-", s[i]) != NULL))
			return false;
	}
	return slash > 0 && s[slash + 1] != '\0' && i <= MEDIA_TYPE_MAX;
}

void
media_detect(const void *head, size_t len, char *out)
{
	char		 t[MEDIA_TYPE_MAX + 1];
	const char	*found;
	magic_t		 m;
	size_t		 i;

	t[0] = '\0';
	pthread_mutex_lock(&magic_lock);
	m = magic_get();
	found = m != NULL ? magic_buffer(m, head, len) : NULL;
	if (found != NULL)
		snprintf(t, sizeof(t), "%s", found);
	pthread_mutex_unlock(&magic_lock);
	/* MIME types are case-insensitive: kept in lower case. */
	for (i = 0; t[i] != '\0'; i++)
		if (t[i] >= 'A' && t[i] <= 'Z')
			t[i] = (char)(t[i] - 'A' + 'a');
	snprintf(out, MEDIA_TYPE_MAX + 1, "%s", mime_bare(t) ? t : "application/octet-stream");
}
