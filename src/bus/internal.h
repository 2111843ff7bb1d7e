/* SPDX-License-Identifier: MIT */
/*
 * Shared inside bus/: the command runner of the workers' connections.
 */
#ifndef CHAT_BUS_INTERNAL_H
#define CHAT_BUS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "bus.h"

struct settings;

/* Runs a command given as argv (lens NULL: NUL-terminated strings) on the worker's
 * connection; NULL (and a dropped connection) on failure. The caller frees the reply;
 * an error reply is returned as such. */
redisReply	*bus_command(struct bus *b, int argc, const char **argv, const size_t *lens);

/* Connects to cfg->redis_addr (a unix socket path or host:port) with the configured
 * timeout on connect, reads and writes; NULL on failure. */
redisContext	*bus_connect(const struct settings *cfg);

#endif
