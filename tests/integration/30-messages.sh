#!/usr/bin/env bash
# Messages (API.md "Chats and messages"): 1:1 sends and their answer, validation,
# idempotency keys, reply_to, history pages (before/after/limit/has_more, timestamps),
# one message, receipts and read pointers.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat-lib.sh"

# The shape of a message object as API.md gives it.
MSG_SHAPE='(.message_id | type) == "string" and (.message_id | length) > 0
	and (.chat_id | type) == "string" and (.seq | type) == "number"
	and (.sender_id | type) == "string" and (.message_type | type) == "string"
	and has("content") and (.timestamp | type) == "string" and (.timestamp | test($re))
	and (.status | IN("sent", "delivered", "read"))'

repeat()
{
	local s= i
	for ((i = 0; i < $2; i++)); do s+=$1; done
	printf '%s' "$s"
}

# count_content TOKEN CHAT CONTENT: how many messages of the chat's history carry CONTENT.
count_content()
{
	history_page "$1" "$2" "limit=200"
	jq --arg c "$3" '[.messages[]? | select(.content == $c)] | length' <<<"$BODY" 2>/dev/null || echo "?"
}

# history_count TOKEN CHAT: the number of messages in the chat (up to 200).
history_count()
{
	history_page "$1" "$2" "limit=200"
	jq '.messages | length' <<<"$BODY" 2>/dev/null || echo "?"
}

new_users A B C E F P Q || true

# --- 1:1 send: the answer --------------------------------------------------------------

send_direct "$A_TOKEN" "$B_ID" "hello one"
expect_status 201 "POST /v1/messages (first message of a pair) is 201"
expect_jq '(.message_id | type) == "string" and (.message_id | length) > 0' "the answer has a message_id string"
expect_jq '(.chat_id | type) == "string" and (.chat_id | length) > 0' "the answer has a chat_id string"
expect_json .seq 1 "the first message of a chat has seq 1"
expect_jq '(.seq | type) == "number"' "seq is a JSON number"
expect_jq '.timestamp | test($re)' "timestamp is RFC 3339 UTC with milliseconds and Z" --arg re "$TS_RE"
expect_json .status sent 'status is "sent"'
expect_header Content-Type "$JSON_CT_RE" "the send answer is application/json; charset=utf-8"
expect_header Cache-Control "$NO_STORE_RE" "the send answer carries Cache-Control: no-store"
CHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
M1=$(jq -r '.message_id // empty' <<<"$BODY")
T1=$(jq -r '.timestamp // empty' <<<"$BODY")

send_direct "$A_TOKEN" "$B_ID" "hello two"
expect_status 201 "a second message is 201"
expect_json .seq 2 "the second message has seq 2"
expect_json .chat_id "$CHAT" "the second message is in the same chat"
expect_jq '.message_id != $m' "the second message has another message_id" --arg m "$M1"
M2=$(jq -r '.message_id // empty' <<<"$BODY")
T2=$(jq -r '.timestamp // empty' <<<"$BODY")
check "$([[ -n $T1 && ! $T2 < $T1 ]]; echo $?)" "the second timestamp is not before the first" "first $T1, second $T2"

send_direct "$B_TOKEN" "$A_ID" "hello back"
expect_status 201 "the receiver answers: 201"
expect_json .chat_id "$CHAT" "both directions of a pair share one chat"
expect_json .seq 3 "the answer in the other direction takes seq 3"
M3=$(jq -r '.message_id // empty' <<<"$BODY")

history_page "$B_TOKEN" "$CHAT"
expect_status 200 "the receiver reads GET /v1/messages?chat_id= : 200"
expect_header Cache-Control "$NO_STORE_RE" "history carries Cache-Control: no-store"
expect_jq '(.messages | type) == "array" and (.has_more | type) == "boolean"' "history is {messages: [...], has_more: bool}"
expect_json "$(printf '%s' '[.messages[].seq] | map(tostring) | join(",")')" "3,2,1" "without parameters: newest first (seqs 3,2,1)"
expect_jq 'all(.messages[]; '"$MSG_SHAPE"')' "every message object has message_id, chat_id, seq, sender_id, message_type, content, timestamp, status" --arg re "$TS_RE"
expect_jq '.messages[] | select(.seq == 1) | .message_id == $m and .chat_id == $c and .sender_id == $a and .message_type == "text" and .content == "hello one" and .timestamp == $t' \
	"the first message reads back with its id, chat, sender, type, content and timestamp" \
	--arg m "$M1" --arg c "$CHAT" --arg a "$A_ID" --arg t "$T1"
expect_json .has_more false "has_more is false when everything fit"

history_page "$A_TOKEN" "$CHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "hello back|hello two|hello one" "the sender reads the same history"

# --- validation ------------------------------------------------------------------------

BASE_COUNT=3

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "a text message without content is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: "", client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "a text message with empty content is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: null, client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "a text message with content null is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: 42, client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "content as a number is 400"

send_direct "$A_TOKEN" "$B_ID" "$(repeat x 4097)"
expect_error_code bad_request "content of 4097 ASCII characters is 400"

send_direct "$A_TOKEN" "$B_ID" "$(repeat é 4097)"
expect_error_code bad_request "content of 4097 two-byte characters is 400"

long_e=$(repeat é 4096)
send_direct "$A_TOKEN" "$B_ID" "$long_e"
expect_status 201 "content of exactly 4096 two-byte characters (8192 bytes) is accepted"
LONG_ID=$(jq -r '.message_id // empty' <<<"$BODY")
BASE_COUNT=$((BASE_COUNT + 1))
api GET "/v1/messages/$LONG_ID" "" "$B_TOKEN"
expect_jq '.content == $c' "the 4096-character content reads back unchanged" --arg c "$long_e"

send_direct "$A_TOKEN" "$B_ID" "$(repeat '😀' 4096)"
expect_status 201 "content of exactly 4096 four-byte characters (16384 bytes) is accepted"
BASE_COUNT=$((BASE_COUNT + 1))

send_direct "$A_TOKEN" "$B_ID" "$(repeat x 4096)"
expect_status 201 "content of exactly 4096 ASCII characters is accepted"
BASE_COUNT=$((BASE_COUNT + 1))

for kind in sticker TEXT "" "text "; do
	api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg t "$kind" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: $t, content: "x", client_msg_id: $k}')" "$A_TOKEN"
	expect_error_code bad_request "message_type '$kind' is 400"
done

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, content: "x", client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "a missing message_type is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" '{receiver_id: $r, message_type: "text", content: "no key"}')" "$A_TOKEN"
expect_error_code bad_request "a missing client_msg_id is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" '{receiver_id: $r, message_type: "text", content: "empty key", client_msg_id: ""}')" "$A_TOKEN"
expect_error_code bad_request "an empty client_msg_id is 400"

send_direct "$A_TOKEN" "$B_ID" "key of 65" "$(repeat k 65)"
expect_error_code bad_request "a client_msg_id of 65 characters is 400"

send_direct "$A_TOKEN" "$B_ID" "key of 64" "$(repeat k 28)$(new_cmid)"
expect_status 201 "a client_msg_id of 64 characters is accepted"
BASE_COUNT=$((BASE_COUNT + 1))

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: "x", client_msg_id: 123}')" "$A_TOKEN"
expect_error_code bad_request "client_msg_id as a number is 400"

for kind in image video file; do
	api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg t "$kind" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: $t, content: "caption", client_msg_id: $k}')" "$A_TOKEN"
	expect_error_code bad_request "a $kind message without media_id is 400"
done

printf '{"receiver_id":"%s","message_type":"text","content":"bad \xff byte","client_msg_id":"%s"}' "$B_ID" "$(new_cmid)" >"$TEST_TMP/badutf8.json"
api --file "$TEST_TMP/badutf8.json" POST /v1/messages "" "$A_TOKEN"
expect_error_code "bad_request|invalid_json" "content with the invalid UTF-8 byte 0xFF is 400"

printf '{"receiver_id":"%s","message_type":"text","content":"surrogate \xed\xa0\x80","client_msg_id":"%s"}' "$B_ID" "$(new_cmid)" >"$TEST_TMP/badutf8.json"
api --file "$TEST_TMP/badutf8.json" POST /v1/messages "" "$A_TOKEN"
expect_error_code "bad_request|invalid_json" "content with an encoded surrogate (ED A0 80) is 400"

api POST /v1/messages "{\"receiver_id\":\"$B_ID\",\"message_type\":\"text\",\"content\":\"nul \\u0000 here\",\"client_msg_id\":\"$(new_cmid)\"}" "$A_TOKEN"
expect_error_code "bad_request|invalid_json" 'content with \u0000 is 400'

send_direct "$A_TOKEN" "$A_ID" "to myself"
expect_error_code bad_request "the sender itself as receiver is 400"

send_direct "$A_TOKEN" "$(unknown_id_like "$B_ID")" "to nobody"
expect_error_code not_found "an unknown receiver_id (well-formed) is 404"

for bad in not-a-user 12345 "${B_ID}x" "' OR '1'='1"; do
	send_direct "$A_TOKEN" "$bad" "to a malformed id"
	expect_error_code not_found "the malformed receiver_id '$bad' is 404"
done

api POST /v1/messages "$(jq -nc --arg k "$(new_cmid)" '{message_type: "text", content: "x", client_msg_id: $k}')" "$A_TOKEN"
expect_error_code bad_request "a missing receiver_id is 400"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg s "$B_ID" --arg k "$(new_cmid)" '{receiver_id: $r, sender_id: $s, message_type: "text", content: "spoofed", client_msg_id: $k}')" "$A_TOKEN"
expect_error_code forbidden "sender_id of another user is 403"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg s "$A_ID" --arg k "$(new_cmid)" '{receiver_id: $r, sender_id: $s, message_type: "text", content: "sender_id is me", client_msg_id: $k}')" "$A_TOKEN"
expect_status 201 "sender_id equal to the caller is 201"
BASE_COUNT=$((BASE_COUNT + 1))

api POST /v1/messages "$(text_body "$B_ID" "no token")"
expect_error_code unauthorized "a send without a token is 401"

api POST /v1/messages '{"receiver_id":' "$A_TOKEN"
expect_error_code invalid_json "a truncated JSON body is 400 invalid_json"

group_create "$A_TOKEN" "validation $RANDOM" "$B_ID"
GID=$(jq -r '.group_id // empty' <<<"$BODY")
GCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
api POST "/v1/groups/$GID/messages" "$(text_body "$B_ID" "group with receiver")" "$A_TOKEN"
expect_error_code bad_request "a group send with a receiver_id is 400"
history_page "$A_TOKEN" "$GCHAT"
expect_jq '.messages == []' "the rejected group send stored nothing"

c=$(history_count "$A_TOKEN" "$CHAT")
check "$([[ $c == "$BASE_COUNT" ]]; echo $?)" "none of the rejected sends was stored (the chat holds $BASE_COUNT messages)" \
	"expected $BASE_COUNT messages in the chat, got $c"

# --- idempotency -------------------------------------------------------------------------

KEY=$(new_cmid)
send_direct "$A_TOKEN" "$B_ID" "idempotent hello" "$KEY"
expect_status 201 "a send with a new client_msg_id is 201"
first=$BODY
IM=$(jq -r '.message_id // empty' <<<"$BODY")

send_direct "$A_TOKEN" "$B_ID" "idempotent hello" "$KEY"
expect_status 200 "the same client_msg_id with the same body again is 200"
expect_jq '.message_id == $f.message_id and .chat_id == $f.chat_id and .seq == $f.seq' \
	"the retry answers the same message_id, chat_id and seq" --argjson f "$first"
expect_jq '.timestamp == $f.timestamp' "the retry answers the original timestamp" --argjson f "$first"

# Another device of the same user retries: the key is the sender's, not the device's.
login "$A_USERNAME" "$A_PASSWORD" "second device"
A2_TOKEN=$LOGIN_TOKEN
send_direct "$A2_TOKEN" "$B_ID" "idempotent hello" "$KEY"
expect_status 200 "the retry from another device of the sender is 200"
expect_jq '.message_id == $f.message_id and .seq == $f.seq' "... with the same message_id and seq" --argjson f "$first"

c=$(count_content "$B_TOKEN" "$CHAT" "idempotent hello")
check "$([[ $c == 1 ]]; echo $?)" "history holds exactly one message for the retried key" "messages with that content: $c"

send_direct "$A_TOKEN" "$B_ID" "idempotent hello, edited" "$KEY"
expect_error_code conflict "the same client_msg_id with another content is 409"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$KEY" '{receiver_id: $r, message_type: "text", content: "idempotent hello", client_msg_id: $k, reply_to: null}')" "$A_TOKEN"
check "$([[ $STATUS == 200 || $STATUS == 409 ]]; echo $?)" "the same key with an explicit reply_to null is 200 or 409"

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$KEY" --arg to "$M1" '{receiver_id: $r, message_type: "text", content: "idempotent hello", client_msg_id: $k, reply_to: $to}')" "$A_TOKEN"
expect_error_code conflict "the same client_msg_id with an added reply_to is 409"

send_direct "$A_TOKEN" "$C_ID" "idempotent hello" "$KEY"
expect_error_code conflict "the same client_msg_id to another receiver is 409"

c=$(count_content "$B_TOKEN" "$CHAT" "idempotent hello, edited")
check "$([[ $c == 0 ]]; echo $?)" "the 409 stored nothing" "messages with the edited content: $c"

send_direct "$B_TOKEN" "$A_ID" "same key, other sender" "$KEY"
expect_status 201 "another sender may use the same client_msg_id (keys are per sender): 201"
expect_jq '.message_id != $m' "... and gets a new message" --arg m "$IM"

# --- reply_to ----------------------------------------------------------------------------

api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" --arg to "$M1" '{receiver_id: $r, message_type: "text", content: "a reply", client_msg_id: $k, reply_to: $to}')" "$A_TOKEN"
expect_status 201 "reply_to a message of the same chat is 201"
REPLY=$(jq -r '.message_id // empty' <<<"$BODY")
history_page "$B_TOKEN" "$CHAT" "limit=5"
expect_jq '.messages[] | select(.message_id == $r) | .reply_to == $m' "history returns reply_to on the reply" --arg r "$REPLY" --arg m "$M1"
expect_jq '[.messages[] | select(.message_id != $r) | has("reply_to") and .reply_to != null] | any | not' \
	"messages without reply_to carry none" --arg r "$REPLY"
api GET "/v1/messages/$REPLY" "" "$B_TOKEN"
expect_json .reply_to "$M1" "GET /v1/messages/{id} returns reply_to too"

send_direct "$A_TOKEN" "$C_ID" "in the A-C chat"
OTHER_MSG=$(jq -r '.message_id // empty' <<<"$BODY")
api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" --arg to "$OTHER_MSG" '{receiver_id: $r, message_type: "text", content: "cross reply", client_msg_id: $k, reply_to: $to}')" "$A_TOKEN"
expect_error_code bad_request "reply_to a message of another chat is 400"

for unknown in "$(unknown_id_like "$M1")" "$(new_cmid)" "nope"; do
	api POST /v1/messages "$(jq -nc --arg r "$B_ID" --arg k "$(new_cmid)" --arg to "$unknown" '{receiver_id: $r, message_type: "text", content: "reply to nothing", client_msg_id: $k, reply_to: $to}')" "$A_TOKEN"
	expect_error_code not_found "reply_to an unknown message ($unknown) is 404"
done
c=$(count_content "$B_TOKEN" "$CHAT" "reply to nothing")
c2=$(count_content "$B_TOKEN" "$CHAT" "cross reply")
check "$([[ $c == 0 && $c2 == 0 ]]; echo $?)" "rejected replies stored nothing" "reply to nothing: $c, cross reply: $c2"

# --- history: before / after / limit / has_more ---------------------------------------------

# E sends F ten messages h1..h10.
declare -a HS=() HT=() HM=()
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	send_direct "$E_TOKEN" "$F_ID" "h$i"
	[[ $STATUS == 201 ]] && ok=$((ok + 1))
	HS[i]=$(jq -r '.seq // empty' <<<"$BODY")
	HT[i]=$(jq -r '.timestamp // empty' <<<"$BODY")
	HM[i]=$(jq -r '.message_id // empty' <<<"$BODY")
	HCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
done
check "$([[ $ok == 10 && "${HS[*]:1}" == "1 2 3 4 5 6 7 8 9 10" ]]; echo $?)" "ten sends into a new chat answer 201 with seqs 1..10" \
	"201s: $ok, seqs: ${HS[*]:1}"

# hq QUERY WANT_SEQS WANT_HAS_MORE NAME
hq()
{
	history_page "$F_TOKEN" "$HCHAT" "$1"
	if [[ $STATUS != 200 ]]; then
		tap_not_ok "$4" "expected 200" "$(last_response)"
		return
	fi
	local got more
	got=$(seqs)
	more=$(jq -r .has_more <<<"$BODY")
	check "$([[ $got == "$2" && $more == "$3" ]]; echo $?)" "$4" \
		"query: $1" "expected seqs [$2] has_more $3" "got      seqs [$got] has_more $more"
}

hq "" "10 9 8 7 6 5 4 3 2 1" false "no parameters: all ten, newest first, has_more false"
hq "limit=3" "10 9 8" true "limit=3: the newest three, has_more true"
hq "limit=10" "10 9 8 7 6 5 4 3 2 1" false "limit equal to the count: has_more false"
hq "limit=9" "10 9 8 7 6 5 4 3 2" true "limit one below the count: has_more true"
hq "before=8" "7 6 5 4 3 2 1" false "before=8: strictly lower seqs, newest first"
hq "before=8&limit=3" "7 6 5" true "before=8&limit=3: 7 6 5, has_more true"
hq "before=4&limit=3" "3 2 1" false "before=4&limit=3: 3 2 1, has_more false at the start"
hq "before=1" "" false "before=1: nothing, has_more false"
hq "before=11" "10 9 8 7 6 5 4 3 2 1" false "before beyond the last seq: everything"
hq "after=7" "8 9 10" false "after=7: strictly higher seqs, ascending"
hq "after=2&limit=3" "3 4 5" true "after=2&limit=3: 3 4 5, has_more true"
hq "after=7&limit=3" "8 9 10" false "after=7&limit=3: 8 9 10, has_more false at the end"
hq "after=10" "" false "after=last: nothing, has_more false"
hq "after=0" "1 2 3 4 5 6 7 8 9 10" false "after=0: everything ascending"
hq "after=2&before=6" "3 4 5" false "after=2&before=6: strictly between, ascending"
hq "after=2&before=6&limit=2" "3 4" true "after=2&before=6&limit=2: 3 4, has_more true"
hq "after=2&before=5&limit=2" "3 4" false "after=2&before=5&limit=2: 3 4, has_more false (nothing else between)"
hq "after=5&before=6" "" false "after=5&before=6: nothing between"
hq "limit=1000" "10 9 8 7 6 5 4 3 2 1" false "limit=1000 is clamped, not refused"

history_page "$F_TOKEN" "$HCHAT" "limit=1000"
expect_jq '(.messages | length) <= 200' "limit=1000 answers at most 200 messages"
history_page "$F_TOKEN" "$HCHAT" "limit=200"
expect_status 200 "limit=200 is accepted"

for q in limit=abc limit=-1 limit=1.5 limit= after=-1 after=x before=-3 "before=yesterday" "limit=1e3"; do
	history_page "$F_TOKEN" "$HCHAT" "$q"
	expect_error_code bad_request "$q is 400"
done

api GET "/v1/messages" "" "$F_TOKEN"
expect_error_code "bad_request|not_found" "GET /v1/messages without chat_id is 400 (or 404)"

history_page "$F_TOKEN" "$(new_cmid)"
expect_error_code not_found "history of an unknown chat_id is 404"

history_page "$F_TOKEN" "not-a-chat"
expect_error_code "not_found|bad_request" "history of a malformed chat_id is 404 (or 400)"

history_page "$C_TOKEN" "$HCHAT"
expect_error_code not_found "history of a chat the caller never was in is 404"
check "$(grep -q 'h[0-9]' <<<"$BODY"; [[ $? != 0 ]]; echo $?)" "... and the answer holds none of its messages" "$(last_response)"

history_page "$F_TOKEN" "$HCHAT" "user_id=$E_ID"
expect_error_code forbidden "user_id of someone else is 403"
history_page "$F_TOKEN" "$HCHAT" "user_id=$F_ID&limit=2"
expect_status 200 "user_id equal to the caller is 200"

# Timestamps never decrease along seq.
history_page "$F_TOKEN" "$HCHAT" "after=0"
expect_jq '[.messages[].timestamp] as $t | [range(1; $t | length) | $t[. - 1] <= $t[.]] | all' \
	"timestamps never decrease as seq grows"
expect_jq '[.messages[] | {seq, timestamp}] == $want' "history timestamps equal the send answers' timestamps" \
	--argjson want "$(for i in 1 2 3 4 5 6 7 8 9 10; do jq -nc --argjson s "${HS[i]:-0}" --arg t "${HT[i]}" '{seq: $s, timestamp: $t}'; done | jq -sc .)"
ALL=$BODY

# before=<timestamp>: exactly the messages with an earlier timestamp, newest first.
# btq TIMESTAMP NAME
btq()
{
	local want
	want=$(jq -r --arg t "$1" '[.messages[] | select(.timestamp < $t) | .seq] | reverse | map(tostring) | join(" ")' <<<"$ALL")
	history_page "$F_TOKEN" "$HCHAT" "before=$(jq -rn --arg t "$2" '$t | @uri')"
	if [[ $STATUS != 200 ]]; then
		tap_not_ok "$3" "expected 200" "$(last_response)"
		return
	fi
	check "$([[ $(seqs) == "$want" ]]; echo $?)" "$3" "before=$2" "expected seqs [$want]" "got      seqs [$(seqs)]"
}
btq "${HT[6]}" "${HT[6]}" "before=<timestamp of h6>: exactly the messages with an earlier timestamp"
btq "${HT[1]}" "${HT[1]}" "before=<timestamp of h1>: nothing earlier"
# Sub-millisecond digits: h6's own millisecond plus half of one is after h6.
want=$(jq -r --arg t "${HT[6]}" '[.messages[] | select(.timestamp <= $t) | .seq] | reverse | map(tostring) | join(" ")' <<<"$ALL")
history_page "$F_TOKEN" "$HCHAT" "before=${HT[6]%Z}5Z"
check "$([[ $STATUS == 200 && $(seqs) == "$want" ]]; echo $?)" "before=<h6's timestamp + 0.5 ms, with 4 fraction digits>: h6 and everything earlier" \
	"expected seqs [$want]" "got      seqs [$(seqs)] ($STATUS)"
btq "2999-01-01T00:00:00.000Z" "2999-01-01T00:00:00.000Z" "before=<a future timestamp>: every message"
btq "2000-01-01T00:00:00.000Z" "2000-01-01T00:00:00.000Z" "before=<a past timestamp>: nothing"
# One millisecond after h3's timestamp: the messages of h3's millisecond and before.
if ms=$(date -u -d "${HT[3]}" +%s%3N 2>/dev/null); then
	ms=$((ms + 1))
	t3p=$(date -u -d "@$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
	btq "$t3p" "$t3p" "before=<h3's timestamp + 1 ms>: the messages up to h3's millisecond"
	t3off=$(TZ=Etc/GMT-2 date -d "@$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" +%Y-%m-%dT%H:%M:%S.%3N%:z)
	btq "$t3p" "$t3off" "before=<the same instant written with a +02:00 offset>: the same messages"
	hq "before=$(jq -rn --arg t "$t3p" '$t | @uri')&limit=2" \
		"$(jq -r --arg t "$t3p" '[.messages[] | select(.timestamp < $t) | .seq] | reverse | .[:2] | map(tostring) | join(" ")' <<<"$ALL")" \
		"$(jq -r --arg t "$t3p" '[.messages[] | select(.timestamp < $t)] | length > 2' <<<"$ALL")" \
		"before=<timestamp>&limit=2: the newest two of them, has_more when more are earlier"
else
	skip "before=<h3's timestamp + 1 ms>" "date cannot parse ${HT[3]}"
	skip "before=<the same instant with an offset>" "date cannot parse ${HT[3]}"
	skip "before=<timestamp>&limit=2" "date cannot parse ${HT[3]}"
fi

# --- one message ---------------------------------------------------------------------------

api GET "/v1/messages/${HM[4]}" "" "$F_TOKEN"
expect_status 200 "GET /v1/messages/{id} by the receiver is 200"
expect_jq "$MSG_SHAPE" "the answer is a message object" --arg re "$TS_RE"
expect_jq '.message_id == $m and .seq == 4 and .content == "h4" and .sender_id == $e and .chat_id == $c' \
	"it is that message (id, seq, content, sender, chat)" --arg m "${HM[4]}" --arg e "$E_ID" --arg c "$HCHAT"
expect_header Cache-Control "$NO_STORE_RE" "GET /v1/messages/{id} carries Cache-Control: no-store"

api GET "/v1/messages/${HM[4]}" "" "$E_TOKEN"
expect_status 200 "GET /v1/messages/{id} by the sender is 200"
expect_json .content h4 "the sender gets the same content"

api GET "/v1/messages/${HM[4]}" "" "$C_TOKEN"
expect_error_code not_found "GET /v1/messages/{id} by a third user is 404"
check "$([[ $BODY != *h4* ]]; echo $?)" "... with none of the message in the answer"

api GET "/v1/messages/$(unknown_id_like "${HM[4]}")" "" "$F_TOKEN"
expect_error_code not_found "GET /v1/messages/{unknown id} is 404"

for bad in abc "$HCHAT" "$(new_cmid)" '..%2F..%2Fetc' '%FF'; do
	api GET "/v1/messages/$bad" "" "$F_TOKEN"
	expect_error_code "not_found|bad_request" "GET /v1/messages/${bad:0:40} (not a message id) is 404 or 400"
done

api GET "/v1/messages/${HM[4]}"
expect_error_code unauthorized "GET /v1/messages/{id} without a token is 401"

# --- receipts and read pointers -------------------------------------------------------------

declare -a RM=()
for i in 1 2 3; do
	send_direct "$P_TOKEN" "$Q_ID" "r$i"
	RM[i]=$(jq -r '.message_id // empty' <<<"$BODY")
	RCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
done

api GET "/v1/messages/${RM[1]}/receipts" "" "$P_TOKEN"
expect_status 200 "GET /v1/messages/{id}/receipts by the sender is 200"
expect_jq '(.receipts | type) == "array" and ([.receipts[].user_id] == [$q])' "the receipts list the other member only" --arg q "$Q_ID"
expect_jq '.receipts[0].status == "sent"' 'before any read the other member shows "sent"'
expect_header Cache-Control "$NO_STORE_RE" "receipts carry Cache-Control: no-store"

api GET "/v1/messages/${RM[1]}/receipts" "" "$Q_TOKEN"
expect_status 200 "the receiver may read the receipts too (members only): 200"

api GET "/v1/messages/${RM[1]}/receipts" "" "$C_TOKEN"
expect_error_code not_found "receipts for a third user are 404"
check "$([[ $BODY != *"$Q_ID"* ]]; echo $?)" "... with no member id in the answer"

api GET "/v1/messages/${RM[1]}" "" "$P_TOKEN"
expect_json .status sent 'the sender sees its message as "sent" before the read'

api POST "/v1/chats/$RCHAT/read" '{"seq":2}' "$Q_TOKEN"
expect_status 204 "POST /v1/chats/{id}/read {seq:2} is 204"
check "$([[ -z $BODY ]]; echo $?)" "the 204 has no body"

api GET "/v1/messages/${RM[1]}/receipts" "" "$P_TOKEN"
expect_jq '.receipts[0].user_id == $q and .receipts[0].status == "read"' 'after the read, the receipt of message 1 is "read"' --arg q "$Q_ID"
expect_jq '.receipts[0].timestamp | type == "string" and test($re)' "... with an RFC 3339 timestamp" --arg re "$TS_RE"
RT=$(jq -r '.receipts[0].timestamp // empty' <<<"$BODY")
api GET "/v1/messages/${RM[1]}" "" "$P_TOKEN"
MT=$(jq -r '.timestamp // empty' <<<"$BODY")
check "$([[ -n $RT && -n $MT && ! $RT < $MT ]]; echo $?)" \
	"the read timestamp is not before the message's timestamp" "message at $MT, read at $RT"

api GET "/v1/messages/${RM[2]}/receipts" "" "$P_TOKEN"
expect_jq '.receipts[0].status == "read"' 'message 2 (the read seq itself) is "read"'
api GET "/v1/messages/${RM[3]}/receipts" "" "$P_TOKEN"
expect_jq '.receipts[0].status == "sent"' 'message 3 (after the read seq) is still "sent"'

api GET "/v1/messages/${RM[1]}" "" "$P_TOKEN"
expect_json .status read 'the sender now sees message 1 as "read"'
api GET "/v1/messages/${RM[3]}" "" "$P_TOKEN"
expect_json .status sent 'the sender sees message 3 still as "sent"'
api GET "/v1/messages/${RM[2]}" "" "$Q_TOKEN"
expect_json .status read 'the reader sees message 2 as "read" (its own state)'

chat_entry "$Q_TOKEN" "$RCHAT"
expect_jq '.last_read_seq == 2 and .unread_count == 1' "GET /v1/chats: last_read_seq 2, unread_count 1"

api POST "/v1/chats/$RCHAT/read" '{"seq":1}' "$Q_TOKEN"
expect_status 204 "reading seq 1 after seq 2 is 204"
chat_entry "$Q_TOKEN" "$RCHAT"
expect_jq '.last_read_seq == 2' "the read pointer does not move backwards (still 2)"

api POST "/v1/chats/$RCHAT/read" '{"seq":0}' "$Q_TOKEN"
check "$([[ $STATUS == 204 || $STATUS == 400 ]]; echo $?)" "reading seq 0 is 204 (or 400)"
chat_entry "$Q_TOKEN" "$RCHAT"
expect_jq '.last_read_seq == 2' "reading seq 0 leaves the pointer at 2"

api POST "/v1/chats/$RCHAT/read" '{"seq":999999}' "$Q_TOKEN"
expect_status 204 "reading a seq beyond the last is 204"
chat_entry "$Q_TOKEN" "$RCHAT"
expect_jq '.last_read_seq == 3 and .unread_count == 0' "a seq beyond the last counts as the last (last_read_seq 3, unread 0)"
api GET "/v1/messages/${RM[3]}/receipts" "" "$P_TOKEN"
expect_jq '.receipts[0].status == "read"' 'message 3 is now "read"'

send_direct "$P_TOKEN" "$Q_ID" "r4"
R4=$(jq -r '.message_id // empty' <<<"$BODY")
chat_entry "$Q_TOKEN" "$RCHAT"
expect_jq '.last_read_seq == 3 and .unread_count == 1' "a message after the beyond-the-end read is unread (the pointer was clamped to 3)"
api GET "/v1/messages/$R4/receipts" "" "$P_TOKEN"
expect_jq '.receipts[0].status == "sent"' 'that later message is "sent", not already "read"'

api POST "/v1/chats/$RCHAT/read" '{"seq":1}' "$C_TOKEN"
expect_error_code not_found "read on a chat the caller is not a member of is 404"
api POST "/v1/chats/$(new_cmid)/read" '{"seq":1}' "$Q_TOKEN"
expect_error_code not_found "read on an unknown chat is 404"

for b in '{"seq":"x"}' '{"seq":"2"}' '{}' '{"seq":-1}' '{"seq":1.5}' '{"seq":null}' '[]' '{"seq":'; do
	api POST "/v1/chats/$RCHAT/read" "$b" "$Q_TOKEN"
	expect_error_code "bad_request|invalid_json" "read with the body $b is 400"
done

api POST "/v1/chats/$RCHAT/read" '{"seq":1}'
expect_error_code unauthorized "read without a token is 401"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
