/* SPDX-License-Identifier: MIT */
/*
 * The worker's Redis connection. hiredis errors are sticky and a read timeout is
 * fatal to a blocking context (LIBRARIES.md §3), so any error drops the context and the
 * next use reconnects (after a short back-off).
 */
#include "config.h"
#include "bus.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base/log.h"
#include "base/text.h"
#include "settings.h"

#define RECONNECT_BACKOFF_US	200000

struct bus {
	const struct settings	*cfg;
	redisContext		*c;
	int64_t			 retry_at_us;
	bool			 down_logged;
};

struct bus *
bus_open(const struct settings *cfg)
{
	struct bus	*b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		abort();
	b->cfg = cfg;
	return b;
}

void
bus_close(struct bus *b)
{
	if (b == NULL)
		return;
	if (b->c != NULL)
		redisFree(b->c);
	free(b);
}

redisContext *
bus_connect(const struct settings *cfg)
{
	struct timeval	 tv;
	redisContext	*c;
	char		 host[256];
	const char	*colon;
	uint64_t	 port;

	tv.tv_sec = cfg->redis_timeout_ms / 1000;
	tv.tv_usec = (cfg->redis_timeout_ms % 1000) * 1000;
	if (cfg->redis_addr[0] == '/')
		c = redisConnectUnixWithTimeout(cfg->redis_addr, tv);
	else {
		colon = strrchr(cfg->redis_addr, ':');
		if (colon == NULL || (size_t)(colon - cfg->redis_addr) >= sizeof(host) ||
		    !text_parse_u64(colon + 1, 65535, &port))
			return NULL;
		memcpy(host, cfg->redis_addr, (size_t)(colon - cfg->redis_addr));
		host[colon - cfg->redis_addr] = '\0';
		c = redisConnectWithTimeout(host, (int)port, tv);
	}
	if (c != NULL && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK)
		return c;
	if (c != NULL)
		redisFree(c);
	return NULL;
}

static redisContext *
conn(struct bus *b)
{
	int64_t	now;

	if (b->c != NULL)
		return b->c;
	now = text_mono_us();
	if (now < b->retry_at_us)
		return NULL;
	b->c = bus_connect(b->cfg);
	if (b->c == NULL) {
		b->retry_at_us = now + RECONNECT_BACKOFF_US;
		if (!b->down_logged)
			log_warn("redis: cannot connect to %s", b->cfg->redis_addr);
		b->down_logged = true;
		return NULL;
	}
	b->down_logged = false;
	return b->c;
}

redisReply *
bus_command(struct bus *b, int argc, const char **argv, const size_t *lens)
{
	redisContext	*c;
	redisReply	*r;

	c = conn(b);
	if (c == NULL)
		return NULL;
	r = redisCommandArgv(c, argc, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warn("redis: %s: %s", argv[0], r->str);
	if (r == NULL) {
		log_warn("redis: %s: %s", argv[0], c->errstr);
		redisFree(c);
		b->c = NULL;
	}
	return r;
}

void
bus_pipeline(struct bus *b, size_t n, const int *argcs, const char **const *argvs,
    redisReply **replies)
{
	redisContext	*c;
	void		*r;
	size_t		 i;
	bool		 ok;

	for (i = 0; i < n; i++)
		replies[i] = NULL;
	c = conn(b);
	if (c == NULL || n == 0)
		return;
	ok = true;
	for (i = 0; i < n && ok; i++)
		ok = redisAppendCommandArgv(c, argcs[i], argvs[i], NULL) == REDIS_OK;
	for (i = 0; i < n && ok; i++) {
		r = NULL;
		ok = redisGetReply(c, &r) == REDIS_OK && r != NULL;
		replies[i] = r;
		if (ok && replies[i]->type == REDIS_REPLY_ERROR)
			log_warn("redis: %s: %s", argvs[i][0], replies[i]->str);
	}
	if (!ok) {
		log_warn("redis: pipeline of %zu: %s", n, c->errstr);
		redisFree(c);
		b->c = NULL;
	}
}

enum err
bus_ping(struct ctx *ctx)
{
	const char	*argv[] = { "PING" };
	redisReply	*r;
	bool		 ok;

	r = bus_command(ctx->bus, 1, argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

/* ---------------------------------------------------------------- login throttling */

/* Keys: throttle:login:u:<username> and throttle:login:a:<addr>, counters of failures that
 * expire one window after the first failure. */
static void
key(char *buf, size_t len, char kind, const char *value)
{
	snprintf(buf, len, "throttle:login:%c:%s", kind, value);
}

static long long
int_of(const redisReply *r)
{
	uint64_t	v;

	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type == REDIS_REPLY_STRING && text_parse_u64(r->str, INT64_MAX, &v))
		return (long long)v;
	return 0;
}

/* Retry-After for a throttled key: its remaining lifetime. */
static unsigned
ttl_of(struct bus *b, const char *k, unsigned window)
{
	const char	*argv[] = { "TTL", k };
	redisReply	*r;
	long long	 ttl;

	r = bus_command(b, 2, argv, NULL);
	ttl = r != NULL ? int_of(r) : 0;
	if (r != NULL)
		freeReplyObject(r);
	return ttl > 0 ? (unsigned)ttl : window;
}

enum err
bus_login_allowed(struct ctx *ctx, const char *username, const char *addr)
{
	char		 ku[320];
	char		 ka[128];
	const char	*argv[] = { "MGET", ku, ka };
	redisReply	*r;
	long long	 nu;
	long long	 na;

	key(ku, sizeof(ku), 'u', username);
	key(ka, sizeof(ka), 'a', addr != NULL ? addr : "-");
	r = bus_command(ctx->bus, 3, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		/* Throttling fails open: losing Redis must not lock every user out. */
		if (r != NULL)
			freeReplyObject(r);
		return ERR_OK;
	}
	nu = int_of(r->element[0]);
	na = int_of(r->element[1]);
	freeReplyObject(r);
	if (nu >= ctx->cfg->login_max_failures) {
		ctx->retry_after_s = ttl_of(ctx->bus, ku, ctx->cfg->login_window_s);
		return ERR_RATE_LIMITED;
	}
	if (na >= ctx->cfg->login_max_failures_addr) {
		ctx->retry_after_s = ttl_of(ctx->bus, ka, ctx->cfg->login_window_s);
		return ERR_RATE_LIMITED;
	}
	return ERR_OK;
}

/* INCR and, for the first failure, EXPIRE, atomically. */
static const char incr_script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

static void
count_failure(struct bus *b, const char *k, unsigned window)
{
	char		 win[16];
	const char	*argv[] = { "EVAL", incr_script, "1", k, win };
	redisReply	*r;

	snprintf(win, sizeof(win), "%u", window);
	r = bus_command(b, 5, argv, NULL);
	if (r != NULL)
		freeReplyObject(r);
}

void
bus_login_failed(struct ctx *ctx, const char *username, const char *addr)
{
	char	k[320];

	key(k, sizeof(k), 'u', username);
	count_failure(ctx->bus, k, ctx->cfg->login_window_s);
	key(k, sizeof(k), 'a', addr != NULL ? addr : "-");
	count_failure(ctx->bus, k, ctx->cfg->login_window_s);
}

void
bus_login_succeeded(struct ctx *ctx, const char *username)
{
	char		 k[320];
	const char	*argv[] = { "DEL", k };
	redisReply	*r;

	key(k, sizeof(k), 'u', username);
	r = bus_command(ctx->bus, 2, argv, NULL);
	if (r != NULL)
		freeReplyObject(r);
}

/* ---------------------------------------------------------------- send rate */

/* A token bucket in one hash, refilled from Redis's own clock, updated atomically.
 * Returns 0 when a token was taken, else the milliseconds until one is available. */
static const char bucket_script[] =
    "local rate = tonumber(ARGV[1]) "
    "local burst = tonumber(ARGV[2]) "
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts') "
    "local tokens = tonumber(b[1]) or burst "
    "local ts = tonumber(b[2]) or now "
    "tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000) "
    "if tokens < 1 then return math.ceil((1 - tokens) * 1000 / rate) end "
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'ts', tostring(now)) "
    "redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000) "
    "return 0";

enum err
bus_rate_take(struct ctx *ctx, const char *user_id)
{
	char		 k[96];
	char		 rate[16];
	char		 burst[16];
	const char	*argv[] = { "EVAL", bucket_script, "1", k, rate, burst };
	redisReply	*r;
	long long	 wait_ms;

	if (ctx->cfg->rate_limit == 0)
		return ERR_OK;
	snprintf(k, sizeof(k), "rate:send:%s", user_id);
	snprintf(rate, sizeof(rate), "%u", ctx->cfg->rate_limit);
	snprintf(burst, sizeof(burst), "%u", ctx->cfg->rate_limit * 5);
	r = bus_command(ctx->bus, 6, argv, NULL);
	if (r == NULL)
		return ERR_OK;
	wait_ms = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	freeReplyObject(r);
	if (wait_ms <= 0)
		return ERR_OK;
	ctx->retry_after_s = (unsigned)((wait_ms + 999) / 1000);
	return ERR_RATE_LIMITED;
}
