/* SPDX-License-Identifier: MIT */
/*
 * Messages: direct and group sends, history pages, one message, its receipts.
 */
#include "config.h"
#include "handlers.h"
#include "internal.h"

#include <string.h>

#include "base/arena.h"
#include "base/text.h"
#include "chat/chat.h"
#include "settings.h"

#define CLIENT_MSG_ID_MAX	64
#define HISTORY_LIMIT_MAX	200
#define HISTORY_LIMIT_DEFAULT	50

static bool
kind_valid(const char *kind)
{
	return strcmp(kind, "text") == 0 || strcmp(kind, "image") == 0 ||
	    strcmp(kind, "video") == 0 || strcmp(kind, "file") == 0;
}

/* Reads the fields common to direct and group sends. */
static enum err
read_draft(struct req *rq, json_object *body, struct message_draft *d)
{
	unsigned	 max;
	bool		 text;
	enum err	 e;

	max = rq->ctx.cfg->max_text_chars;
	e = jread_string(rq, body, "message_type", 1, 16, J_REQUIRED, &d->kind);
	if (e != ERR_OK)
		return e;
	if (!kind_valid(d->kind))
		return req_fail(rq, ERR_BAD_REQUEST,
		    "message_type: one of text, image, video, file");
	text = strcmp(d->kind, "text") == 0;
	e = jread_string(rq, body, "content", text ? 1 : 0, max, text ? J_REQUIRED : J_OPTIONAL,
	    &d->content);
	if (e == ERR_OK)
		e = jread_string(rq, body, "client_msg_id", 1, CLIENT_MSG_ID_MAX, J_REQUIRED,
		    &d->client_msg_id);
	if (e == ERR_OK)
		e = jread_string(rq, body, "reply_to", 1, 128, J_OPTIONAL, &d->reply_to);
	if (e == ERR_OK)
		e = jread_string(rq, body, "media_id", 1, 64, J_OPTIONAL, &d->media_id);
	if (e == ERR_OK)
		e = jread_string(rq, body, "sender_id", 1, 64, J_OPTIONAL, &d->sender_id);
	if (e != ERR_OK)
		return e;
	if (text && d->media_id != NULL)
		return req_fail(rq, ERR_BAD_REQUEST, "media_id: only for image, video and file");
	if (!text && d->media_id == NULL)
		return req_fail(rq, ERR_BAD_REQUEST, "media_id: required for this message_type");
	return ERR_OK;
}

/* After every 400: a sender_id other than the caller is 403. */
static enum err
check_sender(struct req *rq, const struct message_draft *d)
{
	if (d->sender_id != NULL && strcmp(d->sender_id, rq->ctx.user_id) != 0)
		return req_fail(rq, ERR_FORBIDDEN, "sender_id is not the caller");
	return ERR_OK;
}

/* Sends and answers 201, or 200 for a replay. */
static enum err
send(struct req *rq, const struct message_draft *d)
{
	struct message_sent	 sent;
	const char		*why;
	json_object		*o;
	char			 ts[32];
	enum err		 e;

	e = chat_message_send(&rq->ctx, d, &sent, &why);
	if (e != ERR_OK)
		return why != NULL ? req_fail(rq, e, why) : e;
	o = json_object_new_object();
	jadd_str(o, "message_id", chat_message_id(&rq->ctx, sent.msg.chat_id, sent.msg.seq));
	jadd_str(o, "chat_id", sent.msg.chat_id);
	jadd_int(o, "seq", sent.msg.seq);
	text_time_format(sent.msg.created_us, ts);
	jadd_str(o, "timestamp", ts);
	jadd_str(o, "status", sent.replayed ? sent.msg.status : "sent");
	return reply_json(rq, sent.replayed ? 200 : 201, o);
}

/* POST /v1/messages: 201 sent, 200 replay of a client_msg_id, 400 bad draft or the
 * caller as receiver or reply_to of another chat, 403 sender_id is not the caller, 404
 * unknown receiver/reply_to/media, 409 client_msg_id reused with another body, 429. */
enum err
handle_message_create(struct req *rq)
{
	json_object		*body;
	struct message_draft	 d;
	enum err		 e;

	memset(&d, 0, sizeof(d));
	e = jread_object(rq, &body);
	if (e == ERR_OK)
		e = jread_string(rq, body, "receiver_id", 1, 64, J_REQUIRED, &d.receiver_id);
	if (e == ERR_OK)
		e = read_draft(rq, body, &d);
	if (e != ERR_OK)
		return e;
	if (strcmp(d.receiver_id, rq->ctx.user_id) == 0)
		return req_fail(rq, ERR_BAD_REQUEST, "receiver_id: cannot be the sender");
	e = check_sender(rq, &d);
	if (e != ERR_OK)
		return e;
	if (!text_id_valid(d.receiver_id))
		return req_fail(rq, ERR_NOT_FOUND, "receiver not found");
	return send(rq, &d);
}

/* POST /v1/groups/{group_id}/messages: as above, 400 with a receiver_id, 403 not a
 * member, 404 unknown group. */
enum err
handle_group_message_create(struct req *rq)
{
	json_object		*body;
	struct message_draft	 d;
	enum err		 e;

	memset(&d, 0, sizeof(d));
	e = jread_object(rq, &body);
	if (e != ERR_OK)
		return e;
	if (jhas(body, "receiver_id"))
		return req_fail(rq, ERR_BAD_REQUEST, "receiver_id: not allowed in a group message");
	e = read_draft(rq, body, &d);
	if (e == ERR_OK)
		e = check_sender(rq, &d);
	if (e != ERR_OK)
		return e;
	d.group_id = req_param(rq, "group_id");
	if (!text_id_valid(d.group_id))
		return req_fail(rq, ERR_NOT_FOUND, "group not found");
	return send(rq, &d);
}

/* Reads before (a seq or an RFC 3339 time) into an exclusive seq bound. */
static enum err
read_before(struct req *rq, const char *chat_id, struct history_query *q)
{
	const char	*s;
	int64_t		 us;
	int64_t		 seq;
	bool		 present;
	enum err	 e;

	e = req_query(rq, "before", &s);
	if (e != ERR_OK || s == NULL)
		return e;
	if (s[0] >= '0' && s[0] <= '9' && strchr(s, '-') == NULL && strchr(s, ':') == NULL) {
		e = query_number(rq, "before", INT64_MAX, &present, &q->before_seq);
		q->has_before = present;
		return e;
	}
	if (!text_time_parse(s, &us))
		return req_fail(rq, ERR_BAD_REQUEST, "before: a seq or an RFC 3339 timestamp");
	/* Timestamps never decrease along seq: "earlier than T" is a seq range. */
	q->has_before = true;
	q->before_seq = 0;
	if (chat_id == NULL)
		return ERR_OK;
	e = store_seq_before_time(&rq->ctx, chat_id, s, &seq);
	q->before_seq = seq + 1;
	return e;
}

/* GET /v1/messages?chat_id=&before=&after=&limit=: 200 a page, 400 bad parameters, 403
 * user_id is not the caller, 404 not a chat of the caller. */
enum err
handle_message_list(struct req *rq)
{
	struct history_query	 q;
	struct message		*msgs;
	const char		*chat_id;
	const char		*user;
	json_object		*list;
	json_object		*o;
	size_t			 n;
	size_t			 i;
	bool			 has_more;
	bool			 present;
	enum err		 e;

	memset(&q, 0, sizeof(q));
	e = req_query(rq, "chat_id", &chat_id);
	if (e == ERR_OK && chat_id == NULL)
		e = req_fail(rq, ERR_BAD_REQUEST, "chat_id: query parameter is required");
	if (e == ERR_OK)
		e = query_number(rq, "after", INT64_MAX, &q.has_after, &q.after_seq);
	if (e == ERR_OK)
		e = query_number(rq, "limit", HISTORY_LIMIT_MAX, &present, &q.limit);
	if (e == ERR_OK)
		e = read_before(rq, NULL, &q);
	if (e == ERR_OK)
		e = req_query(rq, "user_id", &user);
	if (e != ERR_OK)
		return e;
	if (user != NULL && strcmp(user, rq->ctx.user_id) != 0)
		return req_fail(rq, ERR_FORBIDDEN, "user_id is not the caller");
	if (!present)
		q.limit = HISTORY_LIMIT_DEFAULT;
	if (q.limit < 1)
		q.limit = 1;
	if (!text_id_valid(chat_id))
		return req_fail(rq, ERR_NOT_FOUND, "chat not found");
	q.chat_id = chat_id;
	e = read_before(rq, chat_id, &q);
	if (e == ERR_OK)
		e = chat_history(&rq->ctx, &q, &msgs, &n, &has_more);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "chat not found");
	if (e != ERR_OK)
		return e;
	list = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++)
		json_object_array_add(list, render_message(rq, &msgs[i]));
	o = json_object_new_object();
	json_object_object_add(o, "messages", list);
	jadd_bool(o, "has_more", has_more);
	return reply_json(rq, 200, o);
}

/* GET /v1/messages/{message_id}: 200, 404 unknown or not visible to the caller. */
enum err
handle_message_show(struct req *rq)
{
	struct message	m;
	enum err	e;

	e = chat_message_show(&rq->ctx, req_param(rq, "message_id"), &m);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "message not found");
	if (e != ERR_OK)
		return e;
	return reply_json(rq, 200, render_message(rq, &m));
}

/* GET /v1/messages/{message_id}/receipts: 200 each other member's state, 404. */
enum err
handle_message_receipts(struct req *rq)
{
	struct receipt	*r;
	size_t		 n;
	size_t		 i;
	json_object	*list;
	json_object	*item;
	json_object	*o;
	char		 ts[32];
	enum err	 e;

	e = chat_message_receipts(&rq->ctx, req_param(rq, "message_id"), &r, &n);
	if (e == ERR_NOT_FOUND)
		return req_fail(rq, e, "message not found");
	if (e != ERR_OK)
		return e;
	list = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++) {
		item = json_object_new_object();
		jadd_str(item, "user_id", r[i].user_id);
		jadd_str(item, "status", r[i].status);
		if (r[i].at_us > 0) {
			text_time_format(r[i].at_us, ts);
			jadd_str(item, "timestamp", ts);
		} else
			jadd_str(item, "timestamp", NULL);
		json_object_array_add(list, item);
	}
	o = json_object_new_object();
	json_object_object_add(o, "receipts", list);
	return reply_json(rq, 200, o);
}
