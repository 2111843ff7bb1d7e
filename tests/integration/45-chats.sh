#!/usr/bin/env bash
# Chats (API.md "Chats and messages"): GET /v1/chats (order, shape, unread counts, read
# pointers, cursor), and an authorization sweep: a user with no relation to a chat or
# group gets 403 or 404 from every endpoint that names it, and never its data.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat-lib.sh"

MSG_SHAPE='(.message_id | type) == "string" and (.chat_id | type) == "string"
	and (.seq | type) == "number" and (.sender_id | type) == "string"
	and (.message_type | type) == "string" and has("content")
	and (.timestamp | type) == "string" and (.timestamp | test($re))
	and (.status | IN("sent", "delivered", "read"))'

# chat_ids: the chat_ids of the list in BODY, in order, space-separated.
chat_ids()
{
	jq -r '[.chats[]?.chat_id] | join(" ")' <<<"$BODY" 2>/dev/null
}

# entry TOKEN CHAT FILTER NAME [JQ ARGS]: FILTER holds for CHAT's entry in TOKEN's list.
entry()
{
	local token=$1 chat=$2 filter=$3 name=$4
	shift 4
	chat_entry "$token" "$chat"
	expect_jq "$filter" "$name" "$@"
}

new_users U V W X LONER STRANGER || true

# --- the empty list ----------------------------------------------------------------------

api GET /v1/chats "" "$LONER_TOKEN"
expect_status 200 "GET /v1/chats of a user with no chats is 200"
expect_jq '.chats == []' "... with an empty list"
expect_jq '(.cursor | type) == "string" and (.cursor | length) > 0' "... and a cursor string"
expect_header Cache-Control "$NO_STORE_RE" "GET /v1/chats carries Cache-Control: no-store"
expect_header Content-Type "$JSON_CT_RE" "GET /v1/chats is application/json; charset=utf-8"

api GET /v1/chats
expect_error_code unauthorized "GET /v1/chats without a token is 401"

# --- direct and group chats, most recent activity first ----------------------------------------

send_direct "$U_TOKEN" "$V_ID" "d1"
DCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
D1=$(jq -r '.message_id // empty' <<<"$BODY")

GNAME="Chats group $RANDOM"
group_create "$W_TOKEN" "$GNAME" "$U_ID" "$V_ID"
GID=$(jq -r '.group_id // empty' <<<"$BODY")
GCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
send_group "$W_TOKEN" "$GID" "g1"
G1=$(jq -r '.message_id // empty' <<<"$BODY")
G1SEQ=$(jq -r '.seq // empty' <<<"$BODY")

api GET /v1/chats "" "$U_TOKEN"
expect_status 200 "GET /v1/chats is 200"
expect_jq '(.cursor | type) == "string" and (.cursor | length) > 0' "the list carries a cursor string"
expect_json '.chats | length' 2 "the user's list holds its direct chat and its group chat"
check "$([[ $(chat_ids) == "$GCHAT $DCHAT" ]]; echo $?)" "the group chat (latest message) comes first" \
	"expected order: $GCHAT $DCHAT" "got: $(chat_ids)"
expect_jq '.chats[] | select(.chat_id == $g) | .type == "group" and .group_id == $gid and .name == $n and ((.peer_id // null) == null)' \
	"the group chat: type group, group_id, the group's name, no peer_id" --arg g "$GCHAT" --arg gid "$GID" --arg n "$GNAME"
expect_jq '.chats[] | select(.chat_id == $d) | .type == "direct" and .peer_id == $v and .name == $vn and ((.group_id // null) == null)' \
	"the direct chat: type direct, peer_id the other user, its name (display name), no group_id" \
	--arg d "$DCHAT" --arg v "$V_ID" --arg vn "$V_USERNAME"
expect_jq '.chats[] | select(.chat_id == $g) | .last_message | '"$MSG_SHAPE"' and .message_id == $m and .content == "g1" and .sender_id == $w' \
	"the group chat's last_message is a message object: g1 from its sender" --arg g "$GCHAT" --arg m "$G1" --arg w "$W_ID" --arg re "$TS_RE"
expect_jq '.chats[] | select(.chat_id == $d) | .last_message | '"$MSG_SHAPE"' and .message_id == $m and .content == "d1"' \
	"the direct chat's last_message is d1" --arg d "$DCHAT" --arg m "$D1" --arg re "$TS_RE"
expect_jq 'all(.chats[]; (.unread_count | type) == "number" and (.last_read_seq | type) == "number")' \
	"every chat has a numeric unread_count and last_read_seq"
expect_jq '.chats[] | select(.chat_id == $g) | .unread_count == 1 and .last_read_seq == 0' \
	"group chat: one unread message (from another member), last_read_seq 0" --arg g "$GCHAT"
expect_jq '.chats[] | select(.chat_id == $d) | .unread_count == 0 and .last_read_seq == 0' \
	"direct chat: the caller's own message is not unread" --arg d "$DCHAT"

entry "$V_TOKEN" "$DCHAT" '.type == "direct" and .peer_id == $u and .name == $un and .unread_count == 1' \
	"the receiver's view of the direct chat: peer_id the sender, one unread" --arg u "$U_ID" --arg un "$U_USERNAME"
entry "$W_TOKEN" "$GCHAT" '.unread_count == 0 and .last_read_seq == 0' "the group sender's own message is not unread for it"

send_direct "$V_TOKEN" "$U_ID" "d2"
api GET /v1/chats "" "$U_TOKEN"
check "$([[ $(chat_ids) == "$DCHAT $GCHAT" ]]; echo $?)" "a new direct message moves the direct chat first" \
	"expected order: $DCHAT $GCHAT" "got: $(chat_ids)"
expect_jq '.chats[] | select(.chat_id == $d) | .unread_count == 1 and .last_message.content == "d2"' \
	"direct chat: one unread (the peer's d2), last_message d2" --arg d "$DCHAT"

send_group "$U_TOKEN" "$GID" "g2"
G2SEQ=$(jq -r '.seq // empty' <<<"$BODY")
api GET /v1/chats "" "$U_TOKEN"
check "$([[ $(chat_ids) == "$GCHAT $DCHAT" ]]; echo $?)" "the caller's own group message moves the group chat first" \
	"expected order: $GCHAT $DCHAT" "got: $(chat_ids)"
expect_jq '.chats[] | select(.chat_id == $g) | .unread_count == 1 and .last_read_seq == 0 and .last_message.content == "g2"' \
	"sending does not move the read pointer, and own messages are not unread (unread 1, last_read_seq 0)" --arg g "$GCHAT"

send_group "$W_TOKEN" "$GID" "g3"
send_group "$V_TOKEN" "$GID" "g4"
G4SEQ=$(jq -r '.seq // empty' <<<"$BODY")
entry "$U_TOKEN" "$GCHAT" '.unread_count == 3' "three messages of others in the group are unread (g1, g3, g4)"

api POST "/v1/chats/$GCHAT/read" "{\"seq\":$G2SEQ}" "$U_TOKEN"
expect_status 204 "reading the group up to the caller's own g2 is 204"
entry "$U_TOKEN" "$GCHAT" ".last_read_seq == $G2SEQ and .unread_count == 2" \
	"unread_count counts only the others' messages after the read pointer (2), last_read_seq moved"

api POST "/v1/chats/$GCHAT/read" "{\"seq\":$G4SEQ}" "$U_TOKEN"
entry "$U_TOKEN" "$GCHAT" ".last_read_seq == $G4SEQ and .unread_count == 0" "reading to the last message leaves nothing unread"
entry "$V_TOKEN" "$GCHAT" '.unread_count == 3 and .last_read_seq == 0' "another member's read pointer did not move (3 unread for it)"

send_direct "$U_TOKEN" "$V_ID" "d3"
entry "$U_TOKEN" "$DCHAT" '.unread_count == 1 and .last_read_seq == 0' "the caller's own direct message does not clear the peer's unread message"

# A pair with a single message by each side, to check the peer and name for both.
send_direct "$X_TOKEN" "$U_ID" "x1"
XCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
api GET /v1/chats "" "$U_TOKEN"
check "$([[ $(chat_ids) == "$XCHAT $DCHAT $GCHAT" ]]; echo $?)" "three chats, most recent activity first" \
	"expected order: $XCHAT $DCHAT $GCHAT" "got: $(chat_ids)"
api GET /v1/chats "" "$LONER_TOKEN"
expect_jq '.chats == []' "other users' chats do not appear in an unrelated user's list"

# A new group without messages is listed at once (its creation is its latest activity).
EMPTY="Empty group $RANDOM"
group_create "$V_TOKEN" "$EMPTY" "$U_ID"
ECHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
EGID=$(jq -r '.group_id // empty' <<<"$BODY")
api GET /v1/chats "" "$U_TOKEN"
expect_jq '.chats[0] | .chat_id == $c and .type == "group" and .group_id == $g and .name == $n and ((.last_message // null) == null) and .unread_count == 0 and .last_read_seq == 0' \
	"a new group without messages is listed first for its members, without last_message, nothing unread" \
	--arg c "$ECHAT" --arg g "$EGID" --arg n "$EMPTY"
send_direct "$X_TOKEN" "$U_ID" "x2"
api GET /v1/chats "" "$U_TOKEN"
check "$([[ $(chat_ids) == "$XCHAT $ECHAT $DCHAT $GCHAT" ]]; echo $?)" "a later message moves its chat above the new group" \
	"expected order: $XCHAT $ECHAT $DCHAT $GCHAT" "got: $(chat_ids)"

# --- authorization sweep --------------------------------------------------------------------

# Data of the chats above that a stranger must never see.
SECRETS=("$GNAME" d1 d2 d3 g1 g2 g3 g4 x1 "$U_ID" "$V_ID" "$W_ID" "$U_USERNAME" "$V_USERNAME" "$W_USERNAME")
# Short contents are also JSON key fragments and id characters: search them quoted.
leaked()
{
	local s
	for s in "${SECRETS[@]}"; do
		if [[ ${#s} -le 3 ]]; then
			[[ $BODY == *"\"$s\""* ]] && { echo "$s"; return 0; }
		else
			[[ $BODY == *"$s"* ]] && { echo "$s"; return 0; }
		fi
	done
	return 1
}

# sweep METHOD PATH BODY NAME: the stranger gets 403/404, a JSON error, none of the data.
sweep()
{
	local what
	api "$1" "$2" "$3" "$STRANGER_TOKEN"
	expect_error_code "forbidden|not_found" "stranger: $4 is 403 or 404"
	if what=$(leaked); then
		tap_not_ok "stranger: $4 reveals nothing" "the answer contains '$what'" "$(last_response)"
	else
		tap_ok "stranger: $4 reveals nothing"
	fi
}

sweep GET "/v1/messages?chat_id=$DCHAT" "" "GET /v1/messages?chat_id=<direct chat>"
sweep GET "/v1/messages?chat_id=$GCHAT" "" "GET /v1/messages?chat_id=<group chat>"
sweep GET "/v1/messages?chat_id=$GCHAT&after=0&limit=200" "" "GET /v1/messages?chat_id=<group chat>&after=0"
sweep GET "/v1/messages?chat_id=$DCHAT&before=2999-01-01T00:00:00.000Z" "" "GET /v1/messages?chat_id=<direct chat>&before=<timestamp>"
sweep GET "/v1/messages/$D1" "" "GET /v1/messages/<direct message>"
sweep GET "/v1/messages/$G1" "" "GET /v1/messages/<group message>"
sweep GET "/v1/messages/$D1/receipts" "" "GET /v1/messages/<direct message>/receipts"
sweep GET "/v1/messages/$G1/receipts" "" "GET /v1/messages/<group message>/receipts"
sweep POST "/v1/chats/$DCHAT/read" '{"seq":1}' "POST /v1/chats/<direct chat>/read"
sweep POST "/v1/chats/$GCHAT/read" '{"seq":1}' "POST /v1/chats/<group chat>/read"
sweep GET "/v1/groups/$GID" "" "GET /v1/groups/<group>"
sweep PATCH "/v1/groups/$GID" '{"name":"taken over"}' "PATCH /v1/groups/<group>"
sweep POST "/v1/groups/$GID/messages" "$(group_body "stranger was here")" "POST /v1/groups/<group>/messages"
sweep POST "/v1/groups/$GID/members" "$(jq -nc --arg s "$STRANGER_ID" '{user_ids: [$s]}')" "POST /v1/groups/<group>/members (adding itself)"
sweep POST "/v1/groups/$GID/members" "$(jq -nc --arg s "$LONER_ID" '{user_ids: [$s]}')" "POST /v1/groups/<group>/members (adding another)"
sweep PATCH "/v1/groups/$GID/members/$U_ID" '{"role":"member"}' "PATCH /v1/groups/<group>/members/<member>"
sweep PATCH "/v1/groups/$GID/members/$STRANGER_ID" '{"role":"admin"}' "PATCH /v1/groups/<group>/members/<itself>"
sweep DELETE "/v1/groups/$GID/members/$U_ID" "" "DELETE /v1/groups/<group>/members/<member>"
sweep DELETE "/v1/groups/$GID/members/$W_ID" "" "DELETE /v1/groups/<group>/members/<admin>"
sweep DELETE "/v1/groups/$GID/members/$STRANGER_ID" "" "DELETE /v1/groups/<group>/members/<itself>"

# Nothing the stranger tried changed anything.
api GET "/v1/groups/$GID" "" "$W_TOKEN"
expect_jq '.name == $n and ([.members[] | "\(.user_id)=\(.role)"] | sort) == ([$u + "=member", $v + "=member", $w + "=admin"] | sort)' \
	"after the sweep the group has its name, members and roles unchanged" \
	--arg n "$GNAME" --arg u "$U_ID" --arg v "$V_ID" --arg w "$W_ID"
history_page "$W_TOKEN" "$GCHAT"
expect_jq '[.messages[].content] == ["g4", "g3", "g2", "g1"]' "after the sweep the group chat holds no message of the stranger"
entry "$U_TOKEN" "$GCHAT" ".last_read_seq == $G4SEQ and .unread_count == 0" "after the sweep U's group read pointer is unchanged"
entry "$V_TOKEN" "$DCHAT" '.last_read_seq == 0 and .unread_count == 2' "after the sweep V's direct read pointer is unchanged"
api GET /v1/chats "" "$STRANGER_TOKEN"
expect_jq '.chats == []' "the stranger's own list stays empty"

# The stranger's reply_to into a chat it cannot see does not reveal the message.
api POST /v1/messages "$(jq -nc --arg r "$U_ID" --arg to "$D1" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: "hi", client_msg_id: $k, reply_to: $to}')" "$STRANGER_TOKEN"
check "$([[ $STATUS =~ ^(400|404)$ ]] && ! leaked >/dev/null; echo $?)" \
	"stranger: reply_to a message of a chat it cannot see is 400/404 and reveals nothing" "$(last_response)"
api GET /v1/chats "" "$STRANGER_TOKEN"
expect_jq '.chats == []' "the refused send left no (empty) chat in the stranger's list"
api GET /v1/chats "" "$U_TOKEN"
expect_jq '[.chats[] | select(.peer_id == $s)] == []' "... nor in the receiver's list" --arg s "$STRANGER_ID"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
