/* SPDX-License-Identifier: MIT */
/*
 * Ephemeral events (typing, presence) and presence state, all in Redis.
 *
 * Each user has a stream eph:<user> trimmed to its last minute, so an event that happens
 * between two polls of a client still reaches the next one (API.md: at least 15 s).
 * Presence: a sorted set presence:alive of users with the time their presence expires,
 * and a hash pres:<user> with the status they chose and when they were last seen.
 * Every operation is one script call: atomic, one round trip.
 */
#include "config.h"
#include "bus.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/text.h"

#define EPH_MAX_FANOUT	2048
#define ALIVE_KEY	"presence:alive"

static const char publish_script[] =
    "local n = tonumber(ARGV[3]) "
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "local minid = tostring(now - 60000) "
    "for i = 1, n do "
    "  redis.call('XADD', KEYS[i], 'MINID', '~', minid, '*', 't', ARGV[1], 'd', ARGV[2]) "
    "  redis.call('PEXPIRE', KEYS[i], 120000) "
    "end "
    "local out = {} "
    "for i = 1, n do "
    "  local h = redis.call('HGETALL', KEYS[n + i]) "
    "  for j = 1, #h, 2 do "
    "    if tonumber(h[j + 1]) > now then "
    "      local p = h[j] "
    "      local u = ARGV[3 + i] "
    "      if out[p] then out[p] = out[p] .. ' ' .. u else out[p] = u end "
    "    end "
    "  end "
    "end "
    "for p, users in pairs(out) do redis.call('PUBLISH', 'wake:' .. p, users) end "
    "return n";

enum err
bus_eph_publish(struct ctx *ctx, const char *const *user_ids, size_t count, const char *type,
    const char *data_json)
{
	const char	**argv;
	char		 *keys;
	char		  nkeys[16];
	char		  n[16];
	redisReply	 *r;
	size_t		  i;
	bool		  ok;

	if (count == 0)
		return ERR_OK;
	if (count > EPH_MAX_FANOUT)
		count = EPH_MAX_FANOUT;
	argv = arena_alloc(ctx->arena, sizeof(*argv) * (6 + 3 * count));
	keys = arena_alloc(ctx->arena, 2 * 48 * count);
	argv[0] = "EVAL";
	argv[1] = publish_script;
	snprintf(nkeys, sizeof(nkeys), "%zu", 2 * count);
	argv[2] = nkeys;
	for (i = 0; i < count; i++) {
		snprintf(keys + 48 * i, 48, "eph:%s", user_ids[i]);
		snprintf(keys + 48 * (count + i), 48, "reg:%s", user_ids[i]);
		argv[3 + i] = keys + 48 * i;
		argv[3 + count + i] = keys + 48 * (count + i);
	}
	snprintf(n, sizeof(n), "%zu", count);
	argv[3 + 2 * count] = type;
	argv[4 + 2 * count] = data_json;
	argv[5 + 2 * count] = n;
	for (i = 0; i < count; i++)
		argv[6 + 2 * count + i] = user_ids[i];
	r = bus_command(ctx->bus, (int)(6 + 3 * count), argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

static bool
parse_id(const char *s, struct eph_pos *out)
{
	const char	*dash;

	dash = strchr(s, '-');
	if (dash == NULL)
		return false;
	return text_parse_u64n(s, (size_t)(dash - s), UINT64_MAX, &out->ms) &&
	    text_parse_u64(dash + 1, UINT64_MAX, &out->seq);
}

enum err
bus_eph_read(struct ctx *ctx, const char *user_id, const struct eph_pos *pos, size_t count,
    struct eph_event **out, size_t *n, struct eph_pos *next)
{
	char		 key[64];
	char		 start[48];
	char		 cnt[16];
	const char	*argv[] = { "XRANGE", key, start, "+", "COUNT", cnt };
	redisReply	*r;
	redisReply	*entry;
	redisReply	*fields;
	struct eph_event *ev;
	size_t		 i;
	size_t		 j;
	size_t		 k;

	*n = 0;
	*next = *pos;
	snprintf(key, sizeof(key), "eph:%s", user_id);
	snprintf(start, sizeof(start), "(%llu-%llu", (unsigned long long)pos->ms,
	    (unsigned long long)pos->seq);
	snprintf(cnt, sizeof(cnt), "%zu", count);
	r = bus_command(ctx->bus, 6, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return ERR_UNAVAILABLE;
	}
	ev = arena_alloc(ctx->arena, sizeof(*ev) * (r->elements > 0 ? r->elements : 1));
	for (i = k = 0; i < r->elements; i++) {
		entry = r->element[i];
		if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
		    entry->element[0]->type != REDIS_REPLY_STRING ||
		    !parse_id(entry->element[0]->str, &ev[k].id))
			continue;
		*next = ev[k].id;
		fields = entry->element[1];
		ev[k].type = NULL;
		ev[k].data = NULL;
		for (j = 0; fields->type == REDIS_REPLY_ARRAY && j + 1 < fields->elements; j += 2) {
			if (strcmp(fields->element[j]->str, "t") == 0)
				ev[k].type = arena_strdup(ctx->arena, fields->element[j + 1]->str);
			else if (strcmp(fields->element[j]->str, "d") == 0)
				ev[k].data = arena_strdup(ctx->arena, fields->element[j + 1]->str);
		}
		if (ev[k].type != NULL && ev[k].data != NULL)
			k++;
	}
	freeReplyObject(r);
	*out = ev;
	*n = k;
	return ERR_OK;
}

enum err
bus_eph_last(struct ctx *ctx, const char *user_id, struct eph_pos *out)
{
	char		 key[64];
	const char	*argv[] = { "XREVRANGE", key, "+", "-", "COUNT", "1" };
	redisReply	*r;
	bool		 ok;

	out->ms = 0;
	out->seq = 0;
	snprintf(key, sizeof(key), "eph:%s", user_id);
	r = bus_command(ctx->bus, 6, argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
	if (ok && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2)
		(void)parse_id(r->element[0]->element[0]->str, out);
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

/* The last typing state sent for (chat, user) lives for a second: the same state
 * again within it is coalesced; a change of state goes out at once (the latest state
 * wins: a stop right after a start is not lost). */
static const char typing_script[] =
    "local prev = redis.call('GET', KEYS[1]) "
    "if prev == ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', 1000) "
    "return 1";

enum err
bus_typing_gate(struct ctx *ctx, const char *chat_id, const char *user_id, bool typing,
    bool *first)
{
	char		 key[96];
	const char	*argv[] = { "EVAL", typing_script, "1", key, typing ? "1" : "0" };
	redisReply	*r;

	*first = false;
	snprintf(key, sizeof(key), "typing:%s:%s", chat_id, user_id);
	r = bus_command(ctx->bus, 5, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
		if (r != NULL)
			freeReplyObject(r);
		return ERR_UNAVAILABLE;
	}
	*first = r->integer == 1;
	freeReplyObject(r);
	return ERR_OK;
}

/* ---------------------------------------------------------------- presence */

#define NOW_MS \
	"local t = redis.call('TIME') " \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

static const char touch_script[] =
    NOW_MS
    "local prev = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1]) "
    "redis.call('HSET', KEYS[2], 'seen', now) "
    "redis.call('PEXPIRE', KEYS[2], 2592000000) "
    "local st = redis.call('HGET', KEYS[2], 'status') or 'online' "
    "if (not prev or tonumber(prev) <= now) and st ~= 'offline' then return st end "
    "return ''";

static void
pres_key(char *buf, size_t len, const char *user_id)
{
	snprintf(buf, len, "pres:%s", user_id);
}

enum err
bus_presence_touch(struct ctx *ctx, const char *user_id, unsigned ttl_s, bool *came_online,
    const char **status)
{
	char		 key[64];
	char		 ttl[16];
	const char	*argv[] = { "EVAL", touch_script, "2", ALIVE_KEY, key, user_id, ttl };
	redisReply	*r;
	bool		 ok;

	*came_online = false;
	pres_key(key, sizeof(key), user_id);
	snprintf(ttl, sizeof(ttl), "%u", ttl_s * 1000);
	r = bus_command(ctx->bus, 7, argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_STRING;
	if (ok && r->len > 0) {
		*came_online = true;
		*status = strcmp(r->str, "away") == 0 ? "away" : "online";
	}
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

static const char set_script[] =
    NOW_MS
    "redis.call('HSET', KEYS[2], 'status', ARGV[2], 'seen', now) "
    "redis.call('PEXPIRE', KEYS[2], 2592000000) "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1]) "
    "if ARGV[2] == 'offline' then redis.call('HSET', KEYS[2], 'frozen', now) end "
    "return now";

enum err
bus_presence_set(struct ctx *ctx, const char *user_id, const char *status, unsigned ttl_s,
    const char **shown, int64_t *last_seen_ms)
{
	char		 key[64];
	char		 ttl[16];
	const char	*argv[] = { "EVAL", set_script, "2", ALIVE_KEY, key, user_id, status, ttl };
	redisReply	*r;
	bool		 ok;

	pres_key(key, sizeof(key), user_id);
	snprintf(ttl, sizeof(ttl), "%u", ttl_s * 1000);
	r = bus_command(ctx->bus, 8, argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (ok) {
		*shown = status;
		*last_seen_ms = r->integer;
	}
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

static const char get_script[] =
    NOW_MS
    "local out = {} "
    "for i = 2, #KEYS do "
    "  local h = redis.call('HMGET', KEYS[i], 'status', 'seen', 'frozen') "
    "  local alive = redis.call('ZSCORE', KEYS[1], ARGV[i - 1]) "
    "  local st = h[1] or 'online' "
    "  local seen = h[2] or '0' "
    "  if st == 'offline' then "
    "    out[#out + 1] = 'offline' out[#out + 1] = h[3] or seen "
    "  elseif alive and tonumber(alive) > now then "
    "    out[#out + 1] = st out[#out + 1] = seen "
    "  else "
    "    out[#out + 1] = 'offline' out[#out + 1] = seen "
    "  end "
    "end "
    "return out";

enum err
bus_presence_get(struct ctx *ctx, const char *const *user_ids, size_t count,
    struct presence *out)
{
	const char	**argv;
	char		 *keys;
	char		  nkeys[16];
	redisReply	 *r;
	uint64_t	  v;
	size_t		  i;
	bool		  ok;

	if (count == 0)
		return ERR_OK;
	argv = arena_alloc(ctx->arena, sizeof(*argv) * (4 + 2 * count));
	keys = arena_alloc(ctx->arena, 48 * count);
	argv[0] = "EVAL";
	argv[1] = get_script;
	snprintf(nkeys, sizeof(nkeys), "%zu", count + 1);
	argv[2] = nkeys;
	argv[3] = ALIVE_KEY;
	for (i = 0; i < count; i++) {
		pres_key(keys + 48 * i, 48, user_ids[i]);
		argv[4 + i] = keys + 48 * i;
		argv[4 + count + i] = user_ids[i];
	}
	r = bus_command(ctx->bus, (int)(4 + 2 * count), argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 * count;
	for (i = 0; ok && i < count; i++) {
		out[i].status = arena_strdup(ctx->arena, r->element[2 * i]->str);
		out[i].last_seen_ms = text_parse_u64(r->element[2 * i + 1]->str, INT64_MAX, &v) ?
		    (int64_t)v : 0;
	}
	if (r != NULL)
		freeReplyObject(r);
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

static const char expired_script[] =
    NOW_MS
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, "
    "tonumber(ARGV[1])) "
    "local out = {} "
    "for _, id in ipairs(ids) do "
    "  redis.call('ZREM', KEYS[1], id) "
    "  local h = redis.call('HMGET', 'pres:' .. id, 'status', 'seen') "
    "  if h[1] ~= 'offline' then out[#out + 1] = id out[#out + 1] = h[2] or '0' end "
    "end "
    "return out";

enum err
bus_presence_expired(struct ctx *ctx, size_t max, const char ***user_ids,
    int64_t **last_seen_ms, size_t *count)
{
	char		 n[16];
	const char	*argv[] = { "EVAL", expired_script, "1", ALIVE_KEY, n };
	redisReply	*r;
	uint64_t	 v;
	size_t		 i;
	size_t		 k;

	*count = 0;
	snprintf(n, sizeof(n), "%zu", max);
	r = bus_command(ctx->bus, 5, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		return ERR_UNAVAILABLE;
	}
	k = r->elements / 2;
	*user_ids = arena_alloc(ctx->arena, sizeof(**user_ids) * (k > 0 ? k : 1));
	*last_seen_ms = arena_alloc(ctx->arena, sizeof(**last_seen_ms) * (k > 0 ? k : 1));
	for (i = 0; i < k; i++) {
		(*user_ids)[i] = arena_strdup(ctx->arena, r->element[2 * i]->str);
		(*last_seen_ms)[i] = text_parse_u64(r->element[2 * i + 1]->str, INT64_MAX, &v) ?
		    (int64_t)v : 0;
	}
	*count = k;
	freeReplyObject(r);
	return ERR_OK;
}
