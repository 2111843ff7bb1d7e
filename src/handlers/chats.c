/* SPDX-License-Identifier: MIT */
/*
 * Chats: the caller's chat list and its read pointers.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include "base/text.h"
#include "chat/chat.h"

static json_object *
render_chat(struct req *rq, const struct chat_summary *c)
{
	json_object	*o;

	o = json_object_new_object();
	jadd_str(o, "chat_id", c->chat_id);
	jadd_str(o, "type", c->kind);
	if (c->group_id != NULL)
		jadd_str(o, "group_id", c->group_id);
	if (c->peer_id != NULL)
		jadd_str(o, "peer_id", c->peer_id);
	jadd_str(o, "name", c->name);
	if (c->has_last)
		json_object_object_add(o, "last_message", render_message(rq, &c->last));
	jadd_int(o, "unread_count", c->unread);
	jadd_int(o, "last_read_seq", c->read_seq);
	return o;
}

/* GET /v1/chats: 200 every chat of the caller, most recent activity first, with the
 * event cursor of the same moment. */
enum err
handle_chat_list(struct req *rq)
{
	struct chat_summary	*chats;
	size_t			 n;
	size_t			 i;
	struct feed_pos		 pos;
	json_object		*list;
	json_object		*o;
	enum err		 e;

	/* The ephemeral position first: what comes after is in a later stream entry. */
	chat_feed_position_eph(&rq->ctx, &pos);
	e = store_chat_list(&rq->ctx, rq->ctx.user_id, &chats, &n, &pos.xid);
	if (e != ERR_OK)
		return e;
	list = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++)
		json_object_array_add(list, render_chat(rq, &chats[i]));
	o = json_object_new_object();
	json_object_object_add(o, "chats", list);
	jadd_str(o, "cursor", chat_cursor_encode(&rq->ctx, &pos));
	return reply_json(rq, 200, o);
}

/* POST /v1/chats/{chat_id}/read {"seq"}: 204, 400 bad seq, 404 not a current member. */
enum err
handle_chat_read(struct req *rq)
{
	json_object	*body;
	const char	*chat_id;
	int64_t		 seq;
	bool		 present;
	enum err	 e;

	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_int(rq, body, "seq", 0, INT64_MAX - 1, J_REQUIRED, &present, &seq);
	if (e != ERR_OK)
		return e;
	chat_id = req_param(rq, "chat_id");
	if (!text_id_valid(chat_id))
		return req_fail(rq, ERR_NOT_FOUND, "chat not found");
	e = chat_read(&rq->ctx, chat_id, seq);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "chat not found");
	if (e != ERR_OK)
		return e;
	return reply_empty(rq, 204);
}
