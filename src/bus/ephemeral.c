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
#include "settings.h"

/* One script call carries at most this many recipients, or this many bytes of data: a
 * large fan-out is a few calls, none of which holds Redis up for long. */
#define EPH_CHUNK_USERS	256
#define EPH_CHUNK_BYTES	(512 * 1024)

/* KEYS: eph:<user> for each recipient, then reg:<user> for each. ARGV: the type, the
 * count n, n data texts, n user ids, this process (whose polls the caller wakes
 * directly, once the events are in the streams). */
static const char publish_script[] =
    BUS_LUA_NOW
    "local n = tonumber(ARGV[2]) "
    "local minid = tostring(now - 60000) "
    "for i = 1, n do "
    "  redis.call('XADD', KEYS[i], 'MINID', '~', minid, '*', 't', ARGV[1], 'd', ARGV[2 + i]) "
    "  redis.call('PEXPIRE', KEYS[i], 120000) "
    "end "
    "local me = ARGV[3 + 2 * n] "
    "local out = {} "
    "for i = 1, n do "
    "  local h = redis.call('HGETALL', KEYS[n + i]) "
    "  for j = 1, #h, 2 do "
    "    if h[j] ~= me and tonumber(h[j + 1]) > now then "
    "      local t = out[h[j]] "
    "      if not t then t = {} out[h[j]] = t end "
    "      t[#t + 1] = ARGV[2 + n + i] "
    "    end "
    "  end "
    "end "
    "for p, t in pairs(out) do "
    "  redis.call('PUBLISH', 'wake:' .. p, '~' .. table.concat(t, ' ')) "
    "end "
    "return n";

/* One call of the script for recipients [0, count). */
static bool
publish_chunk(struct ctx *ctx, const char *const *user_ids, const char *const *datas,
    size_t count, const char *type)
{
	const char	**argv;
	char		 *keys;
	char		  nkeys[24];
	char		  n[24];
	redisReply	 *r;
	size_t		  i;
	bool		  ok;

	argv = arena_alloc(ctx->arena, sizeof(*argv) * (6 + 4 * count));
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
	argv[4 + 2 * count] = n;
	for (i = 0; i < count; i++) {
		argv[5 + 2 * count + i] = datas[i];
		argv[5 + 3 * count + i] = user_ids[i];
	}
	argv[5 + 4 * count] = ctx->cfg->instance;
	r = bus_command(ctx->bus, (int)(6 + 4 * count), argv, NULL);
	ok = r != NULL && r->type == REDIS_REPLY_INTEGER;
	if (r != NULL)
		freeReplyObject(r);
	if (ok)
		bus_wake_local(user_ids, count, true);
	return ok;
}

enum err
bus_eph_publish_each(struct ctx *ctx, const char *const *user_ids, const char *const *datas,
    size_t count, const char *type)
{
	size_t	start;
	size_t	end;
	size_t	bytes;
	bool	ok;

	ok = true;
	for (start = 0; start < count; start = end) {
		bytes = 0;
		for (end = start; end < count && end - start < EPH_CHUNK_USERS &&
		    (end == start || bytes + strlen(datas[end]) <= EPH_CHUNK_BYTES); end++)
			bytes += strlen(datas[end]);
		ok = publish_chunk(ctx, user_ids + start, datas + start, end - start, type) && ok;
	}
	return ok ? ERR_OK : ERR_UNAVAILABLE;
}

enum err
bus_eph_publish(struct ctx *ctx, const char *const *user_ids, size_t count, const char *type,
    const char *data_json)
{
	const char	**datas;
	size_t		  i;

	if (count == 0)
		return ERR_OK;
	datas = arena_alloc(ctx->arena, sizeof(*datas) * count);
	for (i = 0; i < count; i++)
		datas[i] = data_json;
	return bus_eph_publish_each(ctx, user_ids, datas, count, type);
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

void
bus_eph_parse(struct ctx *ctx, const redisReply *r, struct eph_event **out, size_t *n,
    struct eph_pos *next)
{
	const redisReply	*entry;
	const redisReply	*fields;
	struct eph_event	*ev;
	size_t			 i;
	size_t			 j;
	size_t			 k;

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
	*out = ev;
	*n = k;
}

void
bus_eph_read_many(struct ctx *ctx, size_t count, const char *const *user_ids,
    const struct eph_pos *after, size_t max, struct eph_read *out)
{
	const char	***argvs;
	int		 *argcs;
	redisReply	**replies;
	char		 *buf;
	size_t		  i;

	argvs = arena_alloc(ctx->arena, sizeof(*argvs) * (count > 0 ? count : 1));
	argcs = arena_alloc(ctx->arena, sizeof(*argcs) * (count > 0 ? count : 1));
	replies = arena_alloc(ctx->arena, sizeof(redisReply *) * (count > 0 ? count : 1));
	for (i = 0; i < count; i++) {
		argvs[i] = arena_alloc(ctx->arena, sizeof(**argvs) * 6);
		buf = arena_alloc(ctx->arena, 64 + 48 + 16);
		snprintf(buf, 64, "eph:%s", user_ids[i]);
		snprintf(buf + 64, 48, "(%llu-%llu", (unsigned long long)after[i].ms,
		    (unsigned long long)after[i].seq);
		snprintf(buf + 112, 16, "%zu", max);
		argvs[i][0] = "XRANGE";
		argvs[i][1] = buf;
		argvs[i][2] = buf + 64;
		argvs[i][3] = "+";
		argvs[i][4] = "COUNT";
		argvs[i][5] = buf + 112;
		argcs[i] = 6;
	}
	bus_pipeline(ctx->bus, count, argcs, (const char **const *)argvs, replies);
	for (i = 0; i < count; i++) {
		out[i].ok = replies[i] != NULL && replies[i]->type == REDIS_REPLY_ARRAY;
		out[i].events = NULL;
		out[i].count = 0;
		out[i].next = after[i];
		if (out[i].ok)
			bus_eph_parse(ctx, replies[i], &out[i].events, &out[i].count, &out[i].next);
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
	}
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

static const char touch_script[] =
    BUS_LUA_NOW
    BUS_LUA_TOUCH("KEYS[1]", "KEYS[2]", "ARGV[1]", "ARGV[2]")
    "return came";

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

void
bus_presence_touch_many(struct ctx *ctx, const char *const *user_ids, size_t count,
    unsigned ttl_s, bool *came_online, const char **status)
{
	const char	***argvs;
	int		 *argcs;
	redisReply	**replies;
	char		 *buf;
	size_t		  i;

	argvs = arena_alloc(ctx->arena, sizeof(*argvs) * (count > 0 ? count : 1));
	argcs = arena_alloc(ctx->arena, sizeof(*argcs) * (count > 0 ? count : 1));
	replies = arena_alloc(ctx->arena, sizeof(redisReply *) * (count > 0 ? count : 1));
	for (i = 0; i < count; i++) {
		buf = arena_alloc(ctx->arena, 64 + 16);
		pres_key(buf, 64, user_ids[i]);
		snprintf(buf + 64, 16, "%u", ttl_s * 1000);
		argvs[i] = arena_alloc(ctx->arena, sizeof(**argvs) * 7);
		argvs[i][0] = "EVAL";
		argvs[i][1] = touch_script;
		argvs[i][2] = "2";
		argvs[i][3] = ALIVE_KEY;
		argvs[i][4] = buf;
		argvs[i][5] = user_ids[i];
		argvs[i][6] = buf + 64;
		argcs[i] = 7;
	}
	bus_pipeline(ctx->bus, count, argcs, (const char **const *)argvs, replies);
	for (i = 0; i < count; i++) {
		came_online[i] = replies[i] != NULL && replies[i]->type == REDIS_REPLY_STRING &&
		    replies[i]->len > 0;
		status[i] = came_online[i] && strcmp(replies[i]->str, "away") == 0 ? "away" :
		    "online";
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
	}
}

static const char set_script[] =
    BUS_LUA_NOW
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
    BUS_LUA_NOW
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
    BUS_LUA_NOW
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
