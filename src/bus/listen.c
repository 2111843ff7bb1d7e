/* SPDX-License-Identifier: MIT */
/*
 * The registry, wake-up publishing, and the listener thread.
 *
 * hiredis 0.14's asynchronous pub/sub has known crashes (LIBRARIES.md §3), so the
 * listener is a thread with its own blocking connection and a fixed subscription. It
 * polls the socket with a one-second timeout and sends a PING when idle, so that a dead
 * Redis is noticed within two seconds; then it reports "down", reconnects with back-off,
 * and after resubscribing reports "up" (every parked poll re-reads).
 */
#include "config.h"
#include "bus.h"
#include "internal.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "base/arena.h"
#include "base/log.h"
#include "base/text.h"
#include "settings.h"

#define WAKE_MAX_USERS	4096

/* ---------------------------------------------------------------- the listener */

static struct {
	pthread_t		 thread;
	const struct settings	*cfg;
	bus_wake_fn		*on_wake;
	bus_evict_fn		*on_evict;
	bus_state_fn		*on_state;
	atomic_bool		 stopping;
	bool			 started;
} listener;

/* Looks up the processes of every user and publishes one wake-up per process, except to
 * this one (ARGV's last), whose polls the caller wakes directly. */
static const char wake_script[] =
    BUS_LUA_NOW
    "local me = ARGV[#ARGV] "
    "local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local h = redis.call('HGETALL', k) "
    "  for j = 1, #h, 2 do "
    "    if h[j] ~= me and tonumber(h[j + 1]) > now then "
    "      local t = out[h[j]] "
    "      if not t then t = {} out[h[j]] = t end "
    "      t[#t + 1] = ARGV[i] "
    "    end "
    "  end "
    "end "
    "local n = 0 "
    "for p, t in pairs(out) do "
    "  redis.call('PUBLISH', 'wake:' .. p, table.concat(t, ' ')) n = n + 1 "
    "end "
    "return n";

void
bus_wake_local(const char *const *user_ids, size_t count, bool ephemeral)
{
	if (listener.on_wake != NULL && count > 0)
		listener.on_wake(user_ids, count, ephemeral);
}

void
bus_wake(struct ctx *ctx, const char *const *user_ids, size_t count)
{
	const char	**argv;
	char		 *keys;
	char		  nkeys[24];
	redisReply	 *r;
	size_t		  i;

	if (count == 0)
		return;
	if (count > WAKE_MAX_USERS)
		count = WAKE_MAX_USERS;
	/* This process's own polls first, without a round trip through Redis. */
	bus_wake_local(user_ids, count, false);
	argv = arena_alloc(ctx->arena, sizeof(*argv) * (4 + 2 * count));
	keys = arena_alloc(ctx->arena, 48 * count);
	argv[0] = "EVAL";
	argv[1] = wake_script;
	snprintf(nkeys, sizeof(nkeys), "%zu", count);
	argv[2] = nkeys;
	for (i = 0; i < count; i++) {
		snprintf(keys + 48 * i, 48, "reg:%s", user_ids[i]);
		argv[3 + i] = keys + 48 * i;
		argv[3 + count + i] = user_ids[i];
	}
	argv[3 + 2 * count] = ctx->cfg->instance;
	r = bus_command(ctx->bus, (int)(4 + 2 * count), argv, NULL);
	if (r == NULL)
		r = bus_command(ctx->bus, (int)(4 + 2 * count), argv, NULL);	/* once more */
	if (r != NULL)
		freeReplyObject(r);
}

/* Splits a space-separated list of user ids and hands it over ("~" first: a wake-up for
 * ephemeral events). */
static void
deliver(const char *payload, size_t len)
{
	bool	eph;

	const char	*ids[256];
	char		 buf[256 * 37 + 1];
	size_t		 n;
	size_t		 i;
	size_t		 start;

	eph = len > 0 && payload[0] == '~';
	if (eph) {
		payload++;
		len--;
	}
	n = 0;
	for (start = 0; start < len; start = i + 1) {
		for (i = start; i < len && payload[i] != ' '; i++)
			;
		if (i - start != 36)
			continue;
		memcpy(buf + n * 37, payload + start, 36);
		buf[n * 37 + 36] = '\0';
		ids[n] = buf + n * 37;
		if (text_id_valid(ids[n]))
			n++;
		if (n == 256) {
			listener.on_wake(ids, n, eph);
			n = 0;
		}
	}
	if (n > 0)
		listener.on_wake(ids, n, eph);
}

/* "!<poll id>": a poll of ours is beyond its device's cap. */
static void
evict(const char *id)
{
	uint64_t	v;

	if (text_parse_u64(id, UINT64_MAX, &v))
		listener.on_evict(v);
}

static redisContext *
subscribe(void)
{
	redisContext	*c;
	redisReply	*r;
	char		 channel[160];

	c = bus_connect(listener.cfg);
	if (c == NULL)
		return NULL;
	snprintf(channel, sizeof(channel), "wake:%s", listener.cfg->instance);
	r = redisCommand(c, "SUBSCRIBE %s", channel);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

/* Handles one reply in subscribed mode; false when the connection is unusable. */
static bool
handle_reply(redisReply *r, bool *pinged)
{
	const char	*kind;

	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_STRING)
		return r->type != REDIS_REPLY_ERROR;
	kind = r->element[0]->str;
	if (strcmp(kind, "message") == 0 && r->elements == 3 &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		if (r->element[2]->str[0] == '!')
			evict(r->element[2]->str + 1);
		else
			deliver(r->element[2]->str, r->element[2]->len);
	}
	else if (strcmp(kind, "pong") == 0)
		*pinged = false;
	return true;
}

/* Serves one connection until it fails or the process stops. */
static void
serve(redisContext *c)
{
	struct pollfd	 pfd;
	void		*reply;
	bool		 pinged;
	int		 done;
	int		 rc;

	pinged = false;
	while (!atomic_load(&listener.stopping)) {
		reply = NULL;
		if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
			return;
		if (reply != NULL) {
			rc = handle_reply(reply, &pinged);
			freeReplyObject(reply);
			if (!rc)
				return;
			continue;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, 1000);
		if (rc > 0) {
			if (redisBufferRead(c) != REDIS_OK)
				return;
		} else if (rc == 0) {
			/* Idle for a second: a PING unanswered by the next second means the
			 * connection is dead even if the socket says nothing. */
			if (pinged)
				return;
			redisAppendCommand(c, "PING");
			done = 0;
			if (redisBufferWrite(c, &done) != REDIS_OK)
				return;
			pinged = true;
		}
	}
}

static void *
listen_main(void *arg)
{
	struct timespec	 backoff = { 0, 200 * 1000 * 1000 };
	redisContext	*c;
	bool		 down;

	(void)arg;
	down = false;
	while (!atomic_load(&listener.stopping)) {
		c = subscribe();
		if (c == NULL) {
			if (!down)
				listener.on_state(true);
			down = true;
			nanosleep(&backoff, NULL);
			continue;
		}
		/* Subscribed: anything published while we were away is lost, so every
		 * parked poll reads again. */
		if (down)
			log_info("redis: listener connected again");
		down = false;
		listener.on_state(false);
		serve(c);
		redisFree(c);
		if (!atomic_load(&listener.stopping)) {
			log_warn("redis: listener lost its connection");
			listener.on_state(true);
			down = true;
		}
	}
	return NULL;
}

void
bus_listen_start(const struct settings *cfg, bus_wake_fn *on_wake, bus_evict_fn *on_evict,
    bus_state_fn *on_state)
{
	listener.cfg = cfg;
	listener.on_wake = on_wake;
	listener.on_evict = on_evict;
	listener.on_state = on_state;
	atomic_init(&listener.stopping, false);
	if (pthread_create(&listener.thread, NULL, listen_main, NULL) != 0) {
		log_error("cannot start the Redis listener");
		abort();
	}
	pthread_setname_np(listener.thread, "chatd-listen");
	listener.started = true;
}

void
bus_listen_stop(void)
{
	if (!listener.started)
		return;
	atomic_store(&listener.stopping, true);
	pthread_join(listener.thread, NULL);
	listener.started = false;
}
