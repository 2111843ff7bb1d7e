/* SPDX-License-Identifier: MIT */
/*
 * Settings: defaults, then a `key = value` file, then the CHAT_* environment (which
 * wins). Read once at start and read-only afterwards; every layer may read it.
 */
#ifndef CHAT_SETTINGS_H
#define CHAT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct settings {
	char		*var_dir;		/* CHAT_VAR */
	char		*socket_path;		/* CHAT_SOCKET: FastCGI unix socket */
	char		*socket_group;		/* CHAT_SOCKET_GROUP: who may connect */
	char		*user;			/* CHAT_USER: unprivileged user when root */
	char		*pg_conninfo;		/* CHAT_PG */
	char		*redis_addr;		/* CHAT_REDIS: /path or 127.0.0.1:port */
	char		*sql_dir;		/* CHAT_SQL_DIR */
	char		*log_path;		/* CHAT_LOG, NULL = stderr */
	char		*instance;		/* CHAT_INSTANCE */
	char		*issuer;		/* CHAT_ISSUER */
	char		*jwt_secret;		/* CHAT_JWT_SECRET, or loaded from var_dir */
	size_t		 jwt_secret_len;
	char		*web;			/* CHAT_WEB: lighttpd or nginx (how media are sent) */
	unsigned	 threads;		/* CHAT_THREADS */
	unsigned	 hash_threads;		/* CHAT_HASH_THREADS */
	unsigned	 hash_queue;		/* CHAT_HASH_QUEUE: waiting logins beyond the threads */
	unsigned	 token_ttl_s;		/* CHAT_TOKEN_TTL */
	unsigned	 presence_ttl_s;	/* CHAT_PRESENCE_TTL */
	unsigned	 rate_limit;		/* CHAT_RATE_LIMIT, messages/s, 0 = none */
	unsigned	 max_group_members;	/* CHAT_MAX_GROUP_MEMBERS */
	uint64_t	 max_media_bytes;	/* CHAT_MAX_MEDIA_BYTES */
	size_t		 max_body_bytes;	/* CHAT_MAX_BODY_BYTES */
	unsigned	 max_text_chars;	/* CHAT_MAX_TEXT_CHARS */
	unsigned	 login_max_failures;	/* per username, per window */
	unsigned	 login_max_failures_addr; /* per source address, per window */
	unsigned	 login_window_s;	/* CHAT_LOGIN_WINDOW */
	unsigned	 pg_timeout_ms;		/* statement timeout */
	unsigned	 redis_timeout_ms;
	unsigned	 max_held;		/* CHAT_MAX_HELD: held polls per process */
	unsigned	 poll_threads;		/* CHAT_POLL_THREADS: threads answering them */
	unsigned	 feed_naive;		/* CHAT_FEED_NAIVE: test-only lossy reader */
	unsigned	 test_commit_delay_ms;	/* CHAT_TEST_COMMIT_DELAY_MS: test-only, a random
						 * pause before each send's COMMIT */
};

/* Fills s with defaults, then the file at path (if not NULL), then the environment.
 * Returns false with a message in err (size errlen) on a bad file or value. */
bool	settings_load(struct settings *s, const char *path, char *err, size_t errlen);
/* Names the first setting that serving needs and lacks, or NULL. */
const char *settings_missing(const struct settings *s);
/* Loads or creates the JWT key (CHAT_JWT_SECRET, else var_dir/jwt.key made with 48 random
 * bytes). False with a message when it is shorter than 32 bytes or cannot be made. */
bool	settings_load_secret(struct settings *s, char *err, size_t errlen);
/* Names the process <host>-<pid> when CHAT_INSTANCE is not set. */
void	settings_default_instance(struct settings *s);
void	settings_fini(struct settings *s);

#endif
