/* SPDX-License-Identifier: MIT */
/*
 * Shared inside bus/: the command runner of the workers' connections.
 */
#ifndef CHAT_BUS_INTERNAL_H
#define CHAT_BUS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "bus.h"

/* Runs a command given as argv (lens NULL: NUL-terminated strings) on the worker's
 * connection; NULL (and a dropped connection) on failure. The caller frees the reply;
 * an error reply is returned as such. */
redisReply	*bus_command(struct bus *b, int argc, const char **argv, const size_t *lens);

#endif
