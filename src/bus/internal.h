/* SPDX-License-Identifier: MIT */
/*
 * Shared inside bus/: the command runner of the workers' connections.
 */
#ifndef CHAT_BUS_INTERNAL_H
#define CHAT_BUS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "bus.h"

struct settings;

#define ALIVE_KEY	"presence:alive"

/* Lua fragments shared by the scripts. BUS_LUA_NOW: `now`, Redis's clock in ms. */
#define BUS_LUA_NOW \
	"local t = redis.call('TIME') " \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
/* Keeps user U present for TTL ms (alive set KA, presence hash KP); `came` is the status
 * it shows when it was not present before and does not appear offline, else ''. */
#define BUS_LUA_TOUCH(KA, KP, U, TTL) \
	"local prev = redis.call('ZSCORE', " KA ", " U ") " \
	"redis.call('ZADD', " KA ", now + tonumber(" TTL "), " U ") " \
	"redis.call('HSET', " KP ", 'seen', now) " \
	"redis.call('PEXPIRE', " KP ", 2592000000) " \
	"local st = redis.call('HGET', " KP ", 'status') or 'online' " \
	"local came = '' " \
	"if (not prev or tonumber(prev) <= now) and st ~= 'offline' then came = st end "

/* Runs a command given as argv (lens NULL: NUL-terminated strings) on the worker's
 * connection; NULL (and a dropped connection) on failure. The caller frees the reply;
 * an error reply is returned as such. */
redisReply	*bus_command(struct bus *b, int argc, const char **argv, const size_t *lens);

/* Runs n commands in one round trip: replies[i] is NULL when command i failed (the
 * connection is then dropped and the rest are NULL too). The caller frees the replies. */
void		 bus_pipeline(struct bus *b, size_t n, const int *argcs,
		    const char **const *argvs, redisReply **replies);

/* Reads the entries of an XRANGE reply into the arena: *n of them, *next the id of the
 * last (unchanged when none). */
void		 bus_eph_parse(struct ctx *, const redisReply *r, struct eph_event **out,
		    size_t *n, struct eph_pos *next);

/* Wakes this process's own held polls of the users (no Redis involved); ephemeral: for
 * events of their Redis streams (typing, presence) rather than durable ones. */
void		 bus_wake_local(const char *const *user_ids, size_t count, bool ephemeral);

/* Connects to cfg->redis_addr (a unix socket path or host:port) with the configured
 * timeout on connect, reads and writes; NULL on failure. */
redisContext	*bus_connect(const struct settings *cfg);

#endif
