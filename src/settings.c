/* SPDX-License-Identifier: MIT */
/*
 * One table lists every setting: its name (CHAT_NAME in the environment, name in the
 * file), its kind, its bounds and its default. settings_load walks it three times:
 * defaults, file, environment.
 */
#include "config.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/text.h"

#define JWT_SECRET_MIN_BYTES	32
#define JWT_SECRET_NEW_BYTES	48

enum kind { K_STR, K_UINT, K_U64, K_SIZE };

struct key {
	const char	*name;		/* lower case, without CHAT_ */
	enum kind	 kind;
	size_t		 off;
	const char	*def;
	uint64_t	 min;
	uint64_t	 max;
};

#define S(f)	offsetof(struct settings, f)
static const struct key keys[] = {
	{ "var", K_STR, S(var_dir), "./var", 0, 0 },
	{ "socket", K_STR, S(socket_path), NULL, 0, 0 },
	{ "socket_group", K_STR, S(socket_group), NULL, 0, 0 },
	{ "user", K_STR, S(user), "chatd", 0, 0 },
	{ "pg", K_STR, S(pg_conninfo), NULL, 0, 0 },
	{ "redis", K_STR, S(redis_addr), NULL, 0, 0 },
	{ "sql_dir", K_STR, S(sql_dir), CHAT_SQL_DIR_DEFAULT, 0, 0 },
	{ "log", K_STR, S(log_path), NULL, 0, 0 },
	{ "instance", K_STR, S(instance), NULL, 0, 0 },
	{ "issuer", K_STR, S(issuer), "chatd", 0, 0 },
	{ "jwt_secret", K_STR, S(jwt_secret), NULL, 0, 0 },
	{ "web", K_STR, S(web), "lighttpd", 0, 0 },
	{ "threads", K_UINT, S(threads), "16", 1, 1024 },
	{ "hash_threads", K_UINT, S(hash_threads), "2", 1, 64 },
	{ "hash_queue", K_UINT, S(hash_queue), "6", 0, 1024 },
	{ "token_ttl", K_UINT, S(token_ttl_s), "86400", 60, 31536000 },
	{ "presence_ttl", K_UINT, S(presence_ttl_s), "60", 5, 86400 },
	{ "rate_limit", K_UINT, S(rate_limit), "20", 0, 100000 },
	{ "max_group_members", K_UINT, S(max_group_members), "500", 2, 100000 },
	{ "max_media_bytes", K_U64, S(max_media_bytes), "26214400", 1, UINT64_C(1) << 40 },
	{ "max_body_bytes", K_SIZE, S(max_body_bytes), "65536", 1024, 16777216 },
	{ "max_text_chars", K_UINT, S(max_text_chars), "4096", 1, 65536 },
	{ "login_max_failures", K_UINT, S(login_max_failures), "5", 1, 1000000 },
	{ "login_max_failures_addr", K_UINT, S(login_max_failures_addr), "50", 1, 1000000 },
	{ "login_window", K_UINT, S(login_window_s), "900", 1, 86400 },
	{ "pg_timeout_ms", K_UINT, S(pg_timeout_ms), "5000", 100, 600000 },
	{ "redis_timeout_ms", K_UINT, S(redis_timeout_ms), "500", 50, 60000 },
	{ "max_held", K_UINT, S(max_held), "10000", 1, 1000000 },
	{ "poll_threads", K_UINT, S(poll_threads), "4", 1, 256 },
	{ "feed_naive", K_UINT, S(feed_naive), "0", 0, 1 },
	{ "test_commit_delay_ms", K_UINT, S(test_commit_delay_ms), "0", 0, 1000 },
};
#undef S

static bool
set_value(struct settings *s, const struct key *k, const char *val, char *err, size_t errlen)
{
	char		*base;
	char		**sp;
	uint64_t	 v;

	base = (char *)s;
	if (k->kind == K_STR) {
		sp = (char **)(void *)(base + k->off);
		free(*sp);
		*sp = val == NULL ? NULL : strdup(val);
		if (val != NULL && *sp == NULL)
			abort();
		return true;
	}
	if (!text_parse_u64(val, k->max, &v) || v < k->min) {
		snprintf(err, errlen, "%s: expected a whole number from %llu to %llu, got \"%s\"",
		    k->name, (unsigned long long)k->min, (unsigned long long)k->max, val);
		return false;
	}
	if (k->kind == K_UINT)
		*(unsigned *)(void *)(base + k->off) = (unsigned)v;
	else if (k->kind == K_U64)
		*(uint64_t *)(void *)(base + k->off) = v;
	else
		*(size_t *)(void *)(base + k->off) = (size_t)v;
	return true;
}

static const struct key *
find_key(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static bool
load_file(struct settings *s, const char *path, char *err, size_t errlen)
{
	FILE		*f;
	char		 line[4096];
	char		*eq;
	char		*name;
	const struct key *k;
	unsigned	 lineno;
	bool		 ok;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	ok = true;
	lineno = 0;
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		name = trim(line);
		if (name[0] == '\0' || name[0] == '#')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL) {
			snprintf(err, errlen, "%s:%u: expected key = value", path, lineno);
			ok = false;
			break;
		}
		*eq = '\0';
		name = trim(name);
		k = find_key(name);
		if (k == NULL) {
			snprintf(err, errlen, "%s:%u: unknown setting \"%s\"", path, lineno, name);
			ok = false;
			break;
		}
		ok = set_value(s, k, trim(eq + 1), err, errlen);
	}
	fclose(f);
	return ok;
}

bool
settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
	char		 env[64];
	const char	*val;
	size_t		 i;
	size_t		 j;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].def != NULL && !set_value(s, &keys[i], keys[i].def, err, errlen))
			return false;
	if (path != NULL && !load_file(s, path, err, errlen))
		return false;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		memcpy(env, "CHAT_", 5);
		for (j = 0; keys[i].name[j] != '\0' && j + 6 < sizeof(env); j++)
			env[5 + j] = (char)(keys[i].name[j] - (keys[i].name[j] >= 'a' &&
			    keys[i].name[j] <= 'z' ? 'a' - 'A' : 0));
		env[5 + j] = '\0';
		val = getenv(env);
		if (val != NULL && val[0] != '\0' && !set_value(s, &keys[i], val, err, errlen))
			return false;
	}
	if (s->jwt_secret != NULL)
		s->jwt_secret_len = strlen(s->jwt_secret);
	return true;
}

const char *
settings_missing(const struct settings *s)
{
	if (s->pg_conninfo == NULL)
		return "CHAT_PG (PostgreSQL connection string)";
	if (s->redis_addr == NULL)
		return "CHAT_REDIS (Redis unix socket path or 127.0.0.1:port)";
	if (s->socket_path == NULL)
		return "CHAT_SOCKET (FastCGI unix socket path)";
	return NULL;
}

/* Reads up to cap bytes of the key file into buf; returns the length or -1. */
static ssize_t
read_key(const char *path, char *buf, size_t cap)
{
	ssize_t	n;
	int	fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap);
	close(fd);
	return n;
}

/* Creates the key file atomically: written under a temporary name, then linked, so
 * that two processes starting at once end up with the same key. */
static bool
create_key(const char *path, char *err, size_t errlen)
{
	unsigned char	 raw[JWT_SECRET_NEW_BYTES];
	char		 b64[JWT_SECRET_NEW_BYTES * 2];
	char		 tmp[4096];
	size_t		 len;
	int		 fd;
	bool		 ok;

	text_random(raw, sizeof(raw));
	len = text_b64url_encode(raw, sizeof(raw), b64);
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "CHAT_VAR is too long");
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		return false;
	}
	ok = write(fd, b64, len) == (ssize_t)len && fsync(fd) == 0;
	close(fd);
	if (ok && link(tmp, path) != 0 && errno != EEXIST)
		ok = false;
	unlink(tmp);
	if (!ok)
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
	return ok;
}

bool
settings_load_secret(struct settings *s, char *err, size_t errlen)
{
	char	 path[4096];
	char	 buf[1024];
	ssize_t	 n;

	if (s->jwt_secret == NULL) {
		snprintf(path, sizeof(path), "%s/jwt.key", s->var_dir);
		n = read_key(path, buf, sizeof(buf) - 1);
		if (n < 0 && errno == ENOENT) {
			if (!create_key(path, err, errlen))
				return false;
			n = read_key(path, buf, sizeof(buf) - 1);
		}
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			return false;
		}
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			n--;
		buf[n] = '\0';
		s->jwt_secret = strdup(buf);
		if (s->jwt_secret == NULL)
			abort();
		s->jwt_secret_len = (size_t)n;
		explicit_bzero(buf, sizeof(buf));
	}
	if (s->jwt_secret_len < JWT_SECRET_MIN_BYTES) {
		snprintf(err, errlen, "the JWT key must be at least %d bytes (it has %zu)",
		    JWT_SECRET_MIN_BYTES, s->jwt_secret_len);
		return false;
	}
	return true;
}

void
settings_default_instance(struct settings *s)
{
	char	host[64];
	char	name[96];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "chatd");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "%s-%ld", host, (long)getpid());
	free(s->instance);
	s->instance = strdup(name);
	if (s->instance == NULL)
		abort();
}

void
settings_fini(struct settings *s)
{
	size_t	i;
	char	**sp;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].kind != K_STR)
			continue;
		sp = (char **)(void *)((char *)s + keys[i].off);
		if (*sp != NULL && keys[i].off == offsetof(struct settings, jwt_secret))
			explicit_bzero(*sp, strlen(*sp));
		free(*sp);
		*sp = NULL;
	}
}
