/* SPDX-License-Identifier: MIT */
/*
 * One handler per endpoint, named handle_<resource>_<action>. Each parses its input,
 * calls chat/ (or store/ for a plain read) and replies; its comment lists its outcomes.
 */
#ifndef CHAT_HANDLERS_HANDLERS_H
#define CHAT_HANDLERS_HANDLERS_H

#include "http/http.h"

/* The public message of a 401 for a bad, expired or logged-out token. */
#define UNAUTHORIZED_MESSAGE	"the token is invalid, expired or logged out"

typedef enum err handler_fn(struct req *);

handler_fn	handle_health_show;
handler_fn	handle_user_create;
handler_fn	handle_user_show;
handler_fn	handle_user_lookup;
handler_fn	handle_session_create;
handler_fn	handle_session_list;
handler_fn	handle_session_delete_current;
handler_fn	handle_session_delete;
handler_fn	handle_session_refresh;
handler_fn	handle_message_create;
handler_fn	handle_group_message_create;
handler_fn	handle_message_list;
handler_fn	handle_message_show;
handler_fn	handle_message_receipts;
handler_fn	handle_event_poll;
/* Resumes n held polls at once (see events.c); errs[i] is rqs[i]'s outcome. */
void		handle_event_resume_many(struct req *const *rqs, size_t n, enum err *errs);
handler_fn	handle_chat_list;
handler_fn	handle_chat_typing;
handler_fn	handle_presence_update;
handler_fn	handle_presence_list;
handler_fn	handle_chat_read;
handler_fn	handle_group_create;
handler_fn	handle_group_show;
handler_fn	handle_group_update;
handler_fn	handle_group_member_add;
handler_fn	handle_group_member_update;
handler_fn	handle_group_member_delete;
handler_fn	handle_media_create;
handler_fn	handle_media_show;

#endif
