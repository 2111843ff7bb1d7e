/* SPDX-License-Identifier: MIT */
/*
 * Shared inside handlers/: the JSON shapes of messages and groups.
 */
#ifndef CHAT_HANDLERS_INTERNAL_H
#define CHAT_HANDLERS_INTERNAL_H

#include "json/json.h"
#include "store/store.h"

/* The API's message object. */
json_object	*render_message(struct req *rq, const struct message *m);
/* The API's group object. */
json_object	*render_group(const struct chat_group *g);
/* Reads an optional non-negative integer query parameter: *present false when absent,
 * the value clamped to max, ERR_BAD_REQUEST when not a number. */
enum err	 query_number(struct req *rq, const char *name, int64_t max, bool *present,
		    int64_t *out);

#endif
