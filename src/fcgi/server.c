/* SPDX-License-Identifier: MIT */
/*
 * Worker threads. Each owns an arena, a PostgreSQL and a Redis connection (struct
 * worker) and loops: FCGX_Accept_r on a request of its own, build struct req from the
 * FastCGI params, router_dispatch, http_finish, FCGX_Finish_r, one log line, arena_reset.
 *
 * Shutdown: libfcgi's own SIGTERM handling leaves threads blocked in accept()
 * (LIBRARIES.md §2.1), so fcgi_stop() sets a flag and interrupts the workers with
 * SIGUSR2 (the requests are initialized with FCGI_FAIL_ACCEPT_ON_INTR) until each has
 * finished its current request and left its loop.
 */
#include "config.h"
#include "fcgi.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "base/arena.h"
#include "base/log.h"
#include "base/text.h"
#include "bus/bus.h"
#include "chat/chat.h"
#include "http/http.h"
#include "router/router.h"
#include "settings.h"
#include "store/store.h"

struct worker {
	pthread_t		 thread;
	unsigned		 index;
	int			 listen_fd;
	struct worker_res	 res;
	atomic_bool		 in_accept;	/* blocked in accept(): safe to interrupt */
	atomic_bool		 done;
};

static struct {
	struct worker	*workers;
	unsigned	 count;
	atomic_bool	 stopping;
	pthread_t	 housekeeper;
} pool;

/* ---------------------------------------------------------------- socket */

int
fcgi_listen(const char *path, const char *group, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	char			 lock_path[sizeof(sun.sun_path) + 8];
	int			 lock_fd;
	int			 fd;
	mode_t			 old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long (max %zu bytes): %s",
		    sizeof(sun.sun_path) - 1, path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* The lock, held for the life of the process, tells a live owner from a stale
	 * socket; libfcgi's FCGX_OpenSocket would unlink a live one's socket. */
	snprintf(lock_path, sizeof(lock_path), "%s.lock", path);
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", lock_path, strerror(errno));
		return -1;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		snprintf(err, errlen, "another chatd is serving %s (lock %s is held)", path,
		    lock_path);
		close(lock_fd);
		return -1;
	}
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		close(lock_fd);
		return -1;
	}
	old = umask(0117);
	/* A deep queue: thousands of clients polling again at once (a group message, a
	 * restart) must wait for a worker, not be refused (the web server answers 502).
	 * The kernel caps it at net.core.somaxconn. */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || listen(fd, 65535) != 0) {
		umask(old);
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		close(lock_fd);
		return -1;
	}
	umask(old);
	if (group != NULL && group[0] != '\0') {
		gr = getgrnam(group);
		if (gr == NULL || chown(path, (uid_t)-1, gr->gr_gid) != 0) {
			snprintf(err, errlen, "cannot give %s to group %s", path, group);
			close(fd);
			close(lock_fd);
			return -1;
		}
	}
	if (chmod(path, 0660) != 0) {
		snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
		close(fd);
		close(lock_fd);
		return -1;
	}
	return fd;	/* lock_fd stays open on purpose: it is the lock */
}

/* ---------------------------------------------------------------- request I/O */

static long
io_read(void *arg, void *buf, size_t len)
{
	FCGX_Request	*r;
	int		 n;

	r = arg;
	if (len > 1 << 30)
		len = 1 << 30;
	n = FCGX_GetStr(buf, (int)len, r->in);
	if (n < 0 || FCGX_GetError(r->in) != 0)
		return -1;
	return n;
}

static bool
io_write(void *arg, const void *buf, size_t len)
{
	FCGX_Request	*r;

	r = arg;
	return FCGX_PutStr(buf, (int)len, r->out) == (int)len;
}

static const struct req_io fcgi_io = { io_read, io_write };

/* Fills rq from the FastCGI params; false when the request is malformed. */
static bool
read_params(struct req *rq, FCGX_Request *r)
{
	const char	*method;
	const char	*uri;
	const char	*q;
	const char	*len;

	method = FCGX_GetParam("REQUEST_METHOD", r->envp);
	uri = FCGX_GetParam("REQUEST_URI", r->envp);
	rq->method_name = method != NULL ? arena_strdup(rq->ctx.arena, method) : "-";
	rq->method = method != NULL ? http_method_parse(method) : M_OTHER;
	if (uri == NULL)
		uri = FCGX_GetParam("SCRIPT_NAME", r->envp);
	if (uri == NULL || uri[0] != '/')
		uri = "/";
	q = strchr(uri, '?');
	rq->path = arena_strndup(rq->ctx.arena, uri, q != NULL ? (size_t)(q - uri) : strlen(uri));
	rq->query = arena_strdup(rq->ctx.arena, q != NULL ? q + 1 : "");
	q = FCGX_GetParam("CONTENT_TYPE", r->envp);
	rq->content_type = q != NULL ? arena_strdup(rq->ctx.arena, q) : NULL;
	q = FCGX_GetParam("HTTP_AUTHORIZATION", r->envp);
	rq->authorization = q != NULL ? arena_strdup(rq->ctx.arena, q) : NULL;
	q = FCGX_GetParam("REMOTE_ADDR", r->envp);
	rq->ctx.remote_addr = arena_strdup(rq->ctx.arena, q != NULL ? q : "-");
	len = FCGX_GetParam("CONTENT_LENGTH", r->envp);
	if (len != NULL && len[0] != '\0') {
		rq->has_length = true;
		if (!text_parse_u64(len, UINT64_MAX, &rq->content_length))
			return false;
	}
	return true;
}

void
fcgi_req_log(const struct req *rq)
{
	log_info("%s %s %d %s %lld", rq->method_name, rq->path, rq->status,
	    rq->ctx.user_id != NULL ? rq->ctx.user_id : "-",
	    (long long)(text_mono_us() - rq->start_us));
}

void
worker_res_init(struct worker_res *res, const struct settings *cfg)
{
	res->cfg = cfg;
	res->arena = arena_new();
	res->db = store_open(cfg);
	res->bus = bus_open(cfg);
}

void
worker_res_fini(struct worker_res *res)
{
	store_close(res->db);
	bus_close(res->bus);
	arena_free(res->arena);
}

void
fcgi_req_init(struct req *rq, struct worker_res *res, FCGX_Request *r)
{
	memset(rq, 0, sizeof(*rq));
	rq->start_us = text_mono_us();
	rq->io = r != NULL ? &fcgi_io : NULL;
	rq->io_arg = r;
	rq->ctx.arena = res->arena;
	rq->ctx.db = res->db;
	rq->ctx.bus = res->bus;
	rq->ctx.cfg = res->cfg;
}

/* Reads what is left of the request body: a request refused before its body was read
 * (413, 401, ...) must not close the connection while the web server is still sending,
 * or the web server answers 502 instead of our answer. The web server bounds the body. */
static void
drain_body(FCGX_Request *r)
{
	char	buf[16384];

	while (FCGX_GetStr(buf, (int)sizeof(buf), r->in) > 0)
		;
}

void
fcgi_req_complete(struct req *rq, enum err e)
{
	/* A failure inside a transaction must not leave it open on the connection. */
	store_tx_rollback(&rq->ctx);
	http_finish(rq, e);
}

void
fcgi_req_finish(struct req *rq, FCGX_Request *r, enum err e)
{
	fcgi_req_complete(rq, e);
	drain_body(r);
	FCGX_Finish_r(r);
	fcgi_req_log(rq);
}

/* Serves one request. One to be held is detached from libfcgi and handed to the park,
 * which answers it later; r is free for the next request either way. */
static void
handle(struct worker *w, FCGX_Request *r)
{
	struct raw_conn	conn;
	struct raw_out	out;
	struct req	rq;
	enum err	e;

	fcgi_req_init(&rq, &w->res, r);
	if (!read_params(&rq, r))
		e = req_fail(&rq, ERR_BAD_REQUEST, "bad Content-Length");
	else
		e = router_dispatch(&rq);
	if (e == ERR_OK && rq.hold_requested) {
		store_tx_rollback(&rq.ctx);
		fcgi_detach(r, &conn);
		if (park_add(&conn, &rq.hold, rq.start_us)) {
			arena_reset(w->res.arena);
			return;
		}
		/* The park is full (or draining): answered here, on the detached connection. */
		raw_req_output(&rq, w->res.arena, &out);
		rq.ctx.retry_after_s = 2;
		raw_req_finish(&rq, &conn, &out, req_fail(&rq, ERR_UNAVAILABLE,
		    "too many held polls, retry shortly"));
		arena_reset(w->res.arena);
		return;
	}
	fcgi_req_finish(&rq, r, e);
	arena_reset(w->res.arena);
}

/* The worker's request object (a held request keeps none: see raw.c). */
static FCGX_Request *
new_request(int listen_fd)
{
	FCGX_Request	*r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		abort();
	FCGX_InitRequest(r, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	return r;
}

static void
on_usr2(int sig)
{
	(void)sig;
}

static void *
worker_main(void *arg)
{
	struct worker	*w;
	FCGX_Request	*r;
	sigset_t	 set;

	w = arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	r = new_request(w->listen_fd);
	for (;;) {
		atomic_store(&w->in_accept, true);
		if (atomic_load(&pool.stopping))
			break;
		if (FCGX_Accept_r(r) < 0) {
			if (atomic_load(&pool.stopping))
				break;
			continue;
		}
		atomic_store(&w->in_accept, false);
		handle(w, r);
	}
	FCGX_Free(r, 1);
	free(r);
	atomic_store(&w->done, true);
	return NULL;
}

#define MEDIA_SWEEP_US	(300 * 1000000LL)
#define TRIM_US		(10 * 1000000LL)

/* Every 20 ms: announce the presence changes the requests noticed (in one batch); once a
 * second: offline events for expired presence; every third of the presence TTL: keep the
 * holders of polls present (a held poll keeps its user present); every ten seconds: give
 * freed memory back; every five minutes: delete media attached to no message for a day. */
static void *
housekeeping_main(void *arg)
{
	struct timespec		 tick = { 0, 20 * 1000 * 1000 };
	struct worker_res	 res;
	struct ctx		 ctx;
	const char		**users;
	size_t			 n;
	int64_t			 now;
	int64_t			 next_sweep;
	int64_t			 next_keep;
	int64_t			 next_media;
	int64_t			 next_trim;
	const struct settings	*cfg;

	cfg = arg;
	worker_res_init(&res, cfg);
	next_sweep = next_keep = next_trim = 0;
	/* The first media sweep a minute after start, then every five minutes. */
	next_media = text_mono_us() + 60 * 1000000LL;
	while (!atomic_load(&pool.stopping)) {
		nanosleep(&tick, NULL);
		now = text_mono_us();
		memset(&ctx, 0, sizeof(ctx));
		ctx.arena = res.arena;
		ctx.db = res.db;
		ctx.bus = res.bus;
		ctx.cfg = cfg;
		chat_presence_flush(&ctx);
		if (now < next_sweep) {
			arena_reset(res.arena);
			continue;
		}
		chat_presence_sweep(&ctx);
		next_sweep = now + 1000000;
		if (now >= next_media) {
			chat_media_sweep(&ctx);
			next_media = now + MEDIA_SWEEP_US;
		}
		if (now >= next_trim) {
			/* What bursts of answers freed goes back to the system. */
			(void)malloc_trim(0);
			next_trim = now + TRIM_US;
		}
		if (now >= next_keep) {
			park_users(res.arena, &users, &n);
			chat_presence_keep(&ctx, users, n);
			next_keep = now + (int64_t)cfg->presence_ttl_s * 1000000 / 3;
		}
		arena_reset(res.arena);
	}
	worker_res_fini(&res);
	return NULL;
}

void
fcgi_init(void)
{
	struct sigaction	sa;

	/* Finishing a request need not wait for the web server to close its end: on a unix
	 * socket every byte written is already queued for it (LIBRARIES.md §2.1). */
	setenv("LIBFCGI_OS_CLOSE_POLL_TIMEOUT", "0", 0);
	if (FCGX_Init() != 0) {
		log_error("libfcgi cannot start");
		exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr2;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: accept() must return EINTR */
	sigaction(SIGUSR2, &sa, NULL);
}

void
fcgi_start(int listen_fd, const struct settings *cfg)
{
	struct worker	*w;
	unsigned	 i;

	park_start(cfg);
	if (pthread_create(&pool.housekeeper, NULL, housekeeping_main, (void *)(uintptr_t)cfg) != 0)
		abort();
	pthread_setname_np(pool.housekeeper, "chatd-house");
	pool.count = cfg->threads;
	pool.workers = calloc(pool.count, sizeof(*pool.workers));
	if (pool.workers == NULL)
		abort();
	for (i = 0; i < pool.count; i++) {
		w = &pool.workers[i];
		w->index = i;
		w->listen_fd = listen_fd;
		worker_res_init(&w->res, cfg);
		atomic_init(&w->done, false);
		atomic_init(&w->in_accept, false);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			log_error("cannot start worker thread %u", i);
			abort();
		}
		pthread_setname_np(w->thread, "chatd-worker");
	}
}

void
fcgi_stop(void)
{
	struct timespec	 ts = { 0, 20 * 1000 * 1000 };
	struct worker	*w;
	unsigned	 i;
	bool		 all_done;

	atomic_store(&pool.stopping, true);
	/* A worker between its check of the flag and accept() would miss one signal:
	 * repeat until every worker is out of its loop. */
	do {
		all_done = true;
		for (i = 0; i < pool.count; i++) {
			w = &pool.workers[i];
			if (atomic_load(&w->done))
				continue;
			all_done = false;
			/* Only a worker waiting for a connection is interrupted: one serving a
			 * request finishes it undisturbed. */
			if (atomic_load(&w->in_accept))
				pthread_kill(w->thread, SIGUSR2);
		}
		if (!all_done)
			nanosleep(&ts, NULL);
	} while (!all_done);
	for (i = 0; i < pool.count; i++) {
		w = &pool.workers[i];
		pthread_join(w->thread, NULL);
		worker_res_fini(&w->res);
	}
	free(pool.workers);
	pool.workers = NULL;
	pool.count = 0;
	park_drain();
	pthread_join(pool.housekeeper, NULL);
}

void
fcgi_wake_users(const char *const *user_ids, size_t count, bool ephemeral)
{
	park_wake_users(user_ids, count, ephemeral);
}

void
fcgi_evict_poll(uint64_t poll_id)
{
	park_evict(poll_id);
}

void
fcgi_redis_state(bool down)
{
	park_redis_state(down);
}
