/* SPDX-License-Identifier: MIT */
/*
 * JSON shapes shared by several handlers, and query parameter readers.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include "base/arena.h"
#include "base/text.h"
#include "chat/chat.h"

/* The media object of a message, with a signed URL (the same within the hour). */
static json_object *
render_media(struct req *rq, const struct message *m)
{
	json_object	*o;
	int64_t		 exp_s;

	o = json_object_new_object();
	jadd_str(o, "media_id", m->media_id);
	jadd_str(o, "content_type", m->media_type);
	jadd_int(o, "size", m->media_size);
	jadd_str(o, "url", chat_media_url(&rq->ctx, m->media_id, &exp_s));
	return o;
}

json_object *
render_message(struct req *rq, const struct message *m)
{
	json_object	*o;
	char		 ts[32];

	o = json_object_new_object();
	jadd_str(o, "message_id", chat_message_id(&rq->ctx, m->chat_id, m->seq));
	jadd_str(o, "chat_id", m->chat_id);
	jadd_int(o, "seq", m->seq);
	jadd_str(o, "sender_id", m->sender_id);
	jadd_str(o, "message_type", m->kind);
	jadd_str(o, "content", m->content);
	if (m->media_id != NULL && m->media_type != NULL)
		json_object_object_add(o, "media", render_media(rq, m));
	if (m->reply_to_seq > 0)
		jadd_str(o, "reply_to", chat_message_id(&rq->ctx, m->chat_id, m->reply_to_seq));
	text_time_format(m->created_us, ts);
	jadd_str(o, "timestamp", ts);
	jadd_str(o, "status", m->status);
	return o;
}

json_object *
render_group(const struct chat_group *g)
{
	json_object	*o;
	json_object	*list;
	json_object	*m;
	size_t		 i;

	o = json_object_new_object();
	jadd_str(o, "group_id", g->id);
	jadd_str(o, "chat_id", g->chat_id);
	jadd_str(o, "name", g->name);
	jadd_str(o, "owner_id", g->owner_id);
	jadd_int(o, "member_count", (int64_t)g->member_count);
	list = json_object_new_array();
	for (i = 0; i < g->member_count; i++) {
		m = json_object_new_object();
		jadd_str(m, "user_id", g->members[i].user_id);
		jadd_str(m, "role", g->members[i].role);
		json_object_array_add(list, m);
	}
	json_object_object_add(o, "members", list);
	return o;
}

enum err
query_number(struct req *rq, const char *name, int64_t max, bool *present, int64_t *out)
{
	const char	*s;
	uint64_t	 v;
	size_t		 i;
	enum err	 e;

	*present = false;
	e = req_query(rq, name, &s);
	if (e != ERR_OK || s == NULL)
		return e;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena,
			    "%s: must be a non-negative whole number", name));
	if (i == 0)
		return req_fail(rq, ERR_BAD_REQUEST, arena_printf(rq->ctx.arena,
		    "%s: must be a non-negative whole number", name));
	/* Very long digit strings are just large: clamped like any value above max. */
	if (i > 18 || !text_parse_u64(s, (uint64_t)max, &v))
		v = (uint64_t)max;
	*present = true;
	*out = (int64_t)v;
	return ERR_OK;
}
