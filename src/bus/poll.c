/* SPDX-License-Identifier: MIT */
/*
 * What a long-poll asks of Redis, in as few round trips as possible.
 *
 * bus_poll_begin runs before a poll's first read, as one script: it keeps the caller
 * present, records this process in the session registry (reg:<user>, so that a change
 * committed after the read wakes the poll), counts the poll against its device's cap
 * (polls:<device>: the oldest beyond the cap is told to answer) and reads the user's
 * ephemeral events after the cursor. bus_device_polls_done forgets answered polls, a
 * batch of them in one pipeline.
 */
#include "config.h"
#include "bus.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "settings.h"

/* KEYS: alive set, pres:<user>, reg:<user>, polls:<device>, eph:<user>.
 * ARGV: user, presence TTL ms, instance, registry TTL ms (0: not held), poll token
 * ("": not held), polls per device, stream start "(ms-seq", count. */
static const char begin_script[] =
    BUS_LUA_NOW
    BUS_LUA_TOUCH("KEYS[1]", "KEYS[2]", "ARGV[1]", "ARGV[2]")
    "local ttl = tonumber(ARGV[4]) "
    "if ttl > 0 then "
    "  redis.call('HSET', KEYS[3], ARGV[3], now + ttl) "
    "  redis.call('PEXPIRE', KEYS[3], ttl) "
    "end "
    "if ARGV[5] ~= '' then "
    "  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 90000) "
    "  redis.call('ZADD', KEYS[4], now, ARGV[5]) "
    "  redis.call('PEXPIRE', KEYS[4], 90000) "
    "  local n = redis.call('ZCARD', KEYS[4]) "
    "  local max = tonumber(ARGV[6]) "
    "  if n > max then "
    "    for _, tok in ipairs(redis.call('ZRANGE', KEYS[4], 0, n - max - 1)) do "
    "      redis.call('ZREM', KEYS[4], tok) "
    "      local p, id = string.match(tok, '^(.*)/(%d+)$') "
    "      if p then redis.call('PUBLISH', 'wake:' .. p, '!' .. id) end "
    "    end "
    "  end "
    "end "
    "return { came, redis.call('XRANGE', KEYS[5], ARGV[7], '+', 'COUNT', ARGV[8]) }";

static void
poll_token(char *buf, size_t len, const char *instance, uint64_t poll_id)
{
	snprintf(buf, len, "%s/%llu", instance, (unsigned long long)poll_id);
}

/* The script's arguments for one poll, in the arena. */
static const char **
begin_argv(struct ctx *ctx, const struct bus_poll *p)
{
	const char	**argv;
	char		 *b;

	argv = arena_alloc(ctx->arena, sizeof(*argv) * 16);
	b = arena_alloc(ctx->arena, 4 * 64 + 2 * 16 + 200 + 16 + 48 + 24);
	argv[0] = "EVAL";
	argv[1] = begin_script;
	argv[2] = "5";
	argv[3] = ALIVE_KEY;
	snprintf(b, 64, "pres:%s", p->user_id);
	snprintf(b + 64, 64, "reg:%s", p->user_id);
	snprintf(b + 128, 64, "polls:%s", p->device_id);
	snprintf(b + 192, 64, "eph:%s", p->user_id);
	argv[4] = b;
	argv[5] = b + 64;
	argv[6] = b + 128;
	argv[7] = b + 192;
	argv[8] = p->user_id;
	b += 256;
	snprintf(b, 16, "%u", p->presence_ttl_s * 1000);
	argv[9] = b;
	argv[10] = ctx->cfg->instance;
	snprintf(b + 16, 16, "%u", p->hold_ttl_s * 1000);
	argv[11] = b + 16;
	b += 32;
	b[0] = '\0';
	if (p->poll_id != 0)
		poll_token(b, 200, ctx->cfg->instance, p->poll_id);
	argv[12] = b;
	b += 200;
	snprintf(b, 16, "%u", p->max_per_device);
	argv[13] = b;
	snprintf(b + 16, 48, "(%llu-%llu", (unsigned long long)p->eph_after.ms,
	    (unsigned long long)p->eph_after.seq);
	argv[14] = b + 16;
	snprintf(b + 64, 24, "%zu", p->eph_max);
	argv[15] = b + 64;
	return argv;
}

/* Reads one script reply into out; false when it is not what the script returns. */
static bool
begin_reply(struct ctx *ctx, const redisReply *r, struct bus_poll_start *out)
{
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
		return false;
	if (r->element[0]->len > 0) {
		out->came_online = true;
		out->status = strcmp(r->element[0]->str, "away") == 0 ? "away" : "online";
	}
	out->eph.ok = true;
	bus_eph_parse(ctx, r->element[1], &out->eph.events, &out->eph.count, &out->eph.next);
	return true;
}

void
bus_poll_begin(struct ctx *ctx, size_t n, const struct bus_poll *polls,
    struct bus_poll_start *out)
{
	const char	***argvs;
	int		 *argcs;
	redisReply	**replies;
	size_t		  i;

	if (n == 0)
		return;
	argvs = arena_alloc(ctx->arena, sizeof(*argvs) * n);
	argcs = arena_alloc(ctx->arena, sizeof(*argcs) * n);
	replies = arena_alloc(ctx->arena, sizeof(redisReply *) * n);
	for (i = 0; i < n; i++) {
		argvs[i] = begin_argv(ctx, &polls[i]);
		argcs[i] = 16;
	}
	bus_pipeline(ctx->bus, n, argcs, (const char **const *)argvs, replies);
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].eph.next = polls[i].eph_after;
		(void)begin_reply(ctx, replies[i], &out[i]);
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
	}
}

void
bus_device_polls_done(struct ctx *ctx, size_t n, const char *const *device_ids,
    const uint64_t *poll_ids)
{
	const char	***argvs;
	int		 *argcs;
	redisReply	**replies;
	char		 *buf;
	size_t		  i;

	if (n == 0)
		return;
	argvs = arena_alloc(ctx->arena, sizeof(*argvs) * n);
	argcs = arena_alloc(ctx->arena, sizeof(*argcs) * n);
	replies = arena_alloc(ctx->arena, sizeof(redisReply *) * n);
	for (i = 0; i < n; i++) {
		argvs[i] = arena_alloc(ctx->arena, sizeof(**argvs) * 3);
		buf = arena_alloc(ctx->arena, 64 + 200);
		snprintf(buf, 64, "polls:%s", device_ids[i]);
		poll_token(buf + 64, 200, ctx->cfg->instance, poll_ids[i]);
		argvs[i][0] = "ZREM";
		argvs[i][1] = buf;
		argvs[i][2] = buf + 64;
		argcs[i] = 3;
	}
	bus_pipeline(ctx->bus, n, argcs, (const char **const *)argvs, replies);
	for (i = 0; i < n; i++)
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
}
