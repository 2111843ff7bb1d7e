/* SPDX-License-Identifier: MIT */
/*
 * The FastCGI side: the listening socket and the pool of worker threads that accept
 * requests with libfcgi, turn each into a struct req, dispatch it and write the answer.
 */
#ifndef CHAT_FCGI_FCGI_H
#define CHAT_FCGI_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct settings;

/* Creates the unix socket at path for the web server: takes path.lock (refusing when
 * another process holds it), removes a stale socket, binds with mode 0660 and the given
 * group (NULL: the process's). Returns the listening fd, or -1 with a message in err. */
int	fcgi_listen(const char *path, const char *group, char *err, size_t errlen);
/* Initializes libfcgi; call once before any thread starts. */
void	fcgi_init(void);
/* Starts cfg->threads workers on listen_fd. */
void	fcgi_start(int listen_fd, const struct settings *cfg);
/* Stops accepting, lets in-flight requests finish, answers every held poll (with what
 * it has), joins the threads. */
void	fcgi_stop(void);
/* Wake-up entry points for the Redis listener: the users named by a wake-up, and the
 * listener's state (up again: every held poll reads again; down: re-read every second). */
void	fcgi_wake_users(const char *const *user_ids, size_t count, bool ephemeral);
void	fcgi_redis_state(bool down);
void	fcgi_evict_poll(uint64_t poll_id);

#endif
