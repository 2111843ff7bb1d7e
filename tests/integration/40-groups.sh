#!/usr/bin/env bash
# Groups (API.md "Groups", and the membership rules of "Chats and messages"): create,
# show, rename, add members (all or nothing), roles and the last admin, removal and
# leaving, succession, group sends, membership periods in history, the member cap.
#
#   CHAT_MAX_GROUP_MEMBERS  the stack's member cap (default 500); the cap tests run only
#                           when it is at most 60 (they create that many users)
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat-lib.sh"

CAP=${CHAT_MAX_GROUP_MEMBERS:-500}

GROUP_SHAPE='(.group_id | type) == "string" and (.group_id | length) > 0
	and (.chat_id | type) == "string" and (.chat_id | length) > 0
	and (.name | type) == "string" and (.owner_id | type) == "string"
	and (.member_count | type) == "number" and (.members | type) == "array"
	and .member_count == (.members | length)
	and all(.members[]; (.user_id | type) == "string" and (.role | IN("admin", "member")))'

# roles ID ROLE ...: the canonical "id=role,..." string of a member list.
roles()
{
	local -a l=()
	while (($# >= 2)); do
		l+=("$1=$2")
		shift 2
	done
	printf '%s\n' "${l[@]}" | sort | paste -sd, -
}

# body_roles: the same string for the group in BODY.
body_roles()
{
	jq -r '[.members[]? | "\(.user_id)=\(.role)"] | sort | join(",")' <<<"$BODY" 2>/dev/null
}

# expect_roles WANT NAME: the group in BODY has exactly these members and roles.
expect_roles()
{
	local got
	got=$(body_roles)
	check "$([[ $got == "$1" ]]; echo $?)" "$2" "expected members: $1" "got members:      $got" "$(last_response)"
}

# group_roles TOKEN GID: GET the group and print its roles string (or the status).
group_roles()
{
	api GET "/v1/groups/$2" "" "$1"
	if [[ $STATUS == 200 ]]; then body_roles; else echo "status $STATUS"; fi
}

# add TOKEN GID ID...: POST /v1/groups/{gid}/members.
add()
{
	local token=$1 gid=$2
	shift 2
	api POST "/v1/groups/$gid/members" "$(jq -nc '{user_ids: $ARGS.positional}' --args "$@")" "$token"
}

# role TOKEN GID UID ROLE: PATCH /v1/groups/{gid}/members/{uid}.
role()
{
	api PATCH "/v1/groups/$2/members/$3" "{\"role\":\"$4\"}" "$1"
}

# remove TOKEN GID UID: DELETE /v1/groups/{gid}/members/{uid}.
remove()
{
	api DELETE "/v1/groups/$2/members/$3" "" "$1"
}

# chats_named TOKEN NAME: how many chats of the caller's list carry NAME.
chats_named()
{
	api GET /v1/chats "" "$1"
	jq --arg n "$2" '[.chats[]? | select(.name == $n)] | length' <<<"$BODY" 2>/dev/null || echo "?"
}

new_users O M1 M2 M3 N L || true

# --- create ----------------------------------------------------------------------------

NAME="Team $RANDOM"
group_create "$O_TOKEN" "$NAME" "$M1_ID" "$M2_ID"
expect_status 201 "POST /v1/groups is 201"
expect_jq "$GROUP_SHAPE" "the answer has group_id, chat_id, name, owner_id, member_count, members[{user_id, role}]"
expect_json .name "$NAME" "the name is kept"
expect_json .owner_id "$O_ID" "owner_id is the creator"
expect_json .member_count 3 "member_count counts the creator and the two members"
expect_roles "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member)" "the creator is admin, the others members"
expect_header Content-Type "$JSON_CT_RE" "the answer is application/json; charset=utf-8"
expect_header Cache-Control "$NO_STORE_RE" "the answer carries Cache-Control: no-store"
GID=$(jq -r '.group_id // empty' <<<"$BODY")
GCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
check "$([[ -n $GID && $GID != "$GCHAT" ]]; echo $?)" "group_id and chat_id are two ids" "group_id $GID, chat_id $GCHAT"

group_create "$O_TOKEN" "Solo $RANDOM"
expect_status 201 "a group without other members is 201"
expect_roles "$(roles "$O_ID" admin)" "... with the creator alone, as admin"

group_create "$O_TOKEN" "Dups $RANDOM" "$M1_ID" "$M1_ID" "$O_ID"
expect_status 201 "member_ids with a duplicate and the creator itself is 201"
expect_json .member_count 2 "... and counts each user once (member_count 2)"
expect_roles "$(roles "$O_ID" admin "$M1_ID" member)" "... the creator stays admin"

GHOST="Ghost $RANDOM$RANDOM"
group_create "$O_TOKEN" "$GHOST" "$M1_ID" "$(unknown_id_like "$M1_ID")"
expect_error_code not_found "create with an unknown member id is 404"
c1=$(chats_named "$O_TOKEN" "$GHOST")
c2=$(chats_named "$M1_TOKEN" "$GHOST")
check "$([[ $c1 == 0 && $c2 == 0 ]]; echo $?)" "... and nothing was created (no such group in the creator's or the member's chats)" \
	"chats named '$GHOST': creator $c1, member $c2"

group_create "$O_TOKEN" "$GHOST" "$M1_ID" "not-a-user"
expect_error_code not_found "create with a malformed member id is 404"
c1=$(chats_named "$O_TOKEN" "$GHOST")
check "$([[ $c1 == 0 ]]; echo $?)" "... and nothing was created" "chats named '$GHOST': $c1"

group_create "$O_TOKEN" ""
expect_error_code bad_request "an empty name is 400"
api POST /v1/groups "$(jq -nc --arg m "$M1_ID" '{member_ids: [$m]}')" "$O_TOKEN"
expect_error_code bad_request "a missing name is 400"
group_create "$O_TOKEN" "$(printf 'n%.0s' {1..129})"
expect_error_code bad_request "a name of 129 characters is 400"
api POST /v1/groups "$(jq -nc --arg m "$M1_ID" '{name: "x", member_ids: $m}')" "$O_TOKEN"
expect_error_code bad_request "member_ids as a string is 400"
api POST /v1/groups '{"name":"x","member_ids":[1,2]}' "$O_TOKEN"
expect_error_code bad_request "member_ids of numbers is 400"
api POST /v1/groups '{"name":"x"' "$O_TOKEN"
expect_error_code invalid_json "a truncated body is 400 invalid_json"
group_create "" "No token"
expect_error_code unauthorized "create without a token is 401"

# --- show ------------------------------------------------------------------------------

api GET "/v1/groups/$GID" "" "$M1_TOKEN"
expect_status 200 "GET /v1/groups/{id} by a member is 200"
expect_jq "$GROUP_SHAPE" "... with the group's shape"
expect_jq '.group_id == $g and .chat_id == $c and .name == $n and .owner_id == $o' "... of that group" \
	--arg g "$GID" --arg c "$GCHAT" --arg n "$NAME" --arg o "$O_ID"
expect_roles "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member)" "... with its members and roles"
expect_header Cache-Control "$NO_STORE_RE" "GET /v1/groups/{id} carries Cache-Control: no-store"

api GET "/v1/groups/$GID" "" "$N_TOKEN"
expect_error_code forbidden "GET /v1/groups/{id} by a non-member is 403"
check "$([[ $BODY != *"$M1_ID"* && $BODY != *"$NAME"* ]]; echo $?)" "... with neither member ids nor the name in the answer"

api GET "/v1/groups/$(unknown_id_like "$GID")" "" "$O_TOKEN"
expect_error_code not_found "GET /v1/groups/{unknown id} is 404"
api GET "/v1/groups/not-a-group" "" "$O_TOKEN"
expect_error_code "not_found|bad_request" "GET /v1/groups/{malformed id} is 404 (or 400)"
api GET "/v1/groups/$GCHAT" "" "$O_TOKEN"
expect_error_code not_found "GET /v1/groups/{the group's chat_id} is 404 (a chat id is not a group id)"
api GET "/v1/groups/$GID"
expect_error_code unauthorized "GET /v1/groups/{id} without a token is 401"

# --- rename ------------------------------------------------------------------------------

NAME2="Renamed $RANDOM"
api PATCH "/v1/groups/$GID" "$(json_obj name "$NAME2")" "$O_TOKEN"
expect_status 200 "PATCH /v1/groups/{id} by the admin is 200"
expect_jq "$GROUP_SHAPE" "... with the group"
expect_json .name "$NAME2" "... renamed"
api GET "/v1/groups/$GID" "" "$M2_TOKEN"
expect_json .name "$NAME2" "the members see the new name"
c=$(chats_named "$M2_TOKEN" "$NAME2")
check "$([[ $c == 1 ]]; echo $?)" "the chat list shows the group under its new name" "chats named '$NAME2': $c"

api PATCH "/v1/groups/$GID" "$(json_obj name "Hijacked")" "$M1_TOKEN"
expect_error_code forbidden "rename by a (non-admin) member is 403"
api PATCH "/v1/groups/$GID" "$(json_obj name "Hijacked")" "$N_TOKEN"
expect_error_code forbidden "rename by a non-member is 403"
api GET "/v1/groups/$GID" "" "$O_TOKEN"
expect_json .name "$NAME2" "the refused renames changed nothing"
api PATCH "/v1/groups/$GID" '{"name":""}' "$O_TOKEN"
expect_error_code bad_request "rename to an empty name is 400"
api PATCH "/v1/groups/$(unknown_id_like "$GID")" '{"name":"x"}' "$O_TOKEN"
expect_error_code not_found "rename of an unknown group is 404"

# --- add members ---------------------------------------------------------------------------

add "$O_TOKEN" "$GID" "$M3_ID"
expect_status 200 "POST /v1/groups/{id}/members by the admin is 200"
expect_jq "$GROUP_SHAPE" "... with the group"
expect_json .member_count 4 "... now of 4 members"
expect_roles "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member)" "... the added user as member"

add "$O_TOKEN" "$GID" "$L_ID" "$(unknown_id_like "$L_ID")"
expect_error_code not_found "adding a known and an unknown user is 404"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member)" ]]; echo $?)" \
	"... all or nothing: the known user was not added either"
api GET "/v1/groups/$GID" "" "$L_TOKEN"
expect_error_code forbidden "... and cannot see the group (403)"

add "$O_TOKEN" "$GID" "$L_ID" "not-a-user"
expect_error_code not_found "adding a known user and a malformed id is 404"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member)" ]]; echo $?)" \
	"... and no one was added"

add "$O_TOKEN" "$GID" "$M1_ID"
expect_status 200 "adding a present member is 200"
expect_json .member_count 4 "... and changes nothing (member_count 4)"

add "$M1_TOKEN" "$GID" "$L_ID"
expect_error_code forbidden "adding by a (non-admin) member is 403"
add "$N_TOKEN" "$GID" "$L_ID"
expect_error_code forbidden "adding by a non-member is 403"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member)" ]]; echo $?)" \
	"the refused additions added no one"
api POST "/v1/groups/$GID/members" '{"user_ids":"x"}' "$O_TOKEN"
expect_error_code bad_request "user_ids as a string is 400"
api POST "/v1/groups/$GID/members" '{}' "$O_TOKEN"
expect_error_code bad_request "missing user_ids is 400"
add "$O_TOKEN" "$(unknown_id_like "$GID")" "$L_ID"
expect_error_code not_found "adding to an unknown group is 404"

# --- roles ---------------------------------------------------------------------------------

role "$O_TOKEN" "$GID" "$M1_ID" admin
expect_status 200 "PATCH .../members/{id} {role: admin} by the admin is 200"
expect_jq "$GROUP_SHAPE" "... with the group"
expect_roles "$(roles "$O_ID" admin "$M1_ID" admin "$M2_ID" member "$M3_ID" member)" "... the member promoted to admin"

add "$M1_TOKEN" "$GID" "$L_ID"
expect_status 200 "the promoted admin may add members: 200"
expect_json .member_count 5 "... now 5 members"

add "$O_TOKEN" "$GID" "$M1_ID"
expect_roles "$(roles "$O_ID" admin "$M1_ID" admin "$M2_ID" member "$M3_ID" member "$L_ID" member)" \
	"adding a present admin again leaves its role as it was"

role "$O_TOKEN" "$GID" "$M1_ID" member
expect_status 200 "demoting one of two admins is 200"
expect_roles "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member "$L_ID" member)" "... back to member"

role "$O_TOKEN" "$GID" "$O_ID" member
expect_error_code conflict "demoting the last admin is 409"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == *"$O_ID=admin"* ]]; echo $?)" "... and the admin stays admin"

role "$O_TOKEN" "$GID" "$M2_ID" admin
role "$M2_TOKEN" "$GID" "$M2_ID" member
expect_status 200 "an admin demoting itself while another admin remains is 200"
role "$O_TOKEN" "$GID" "$O_ID" member
expect_error_code conflict "... after which the creator is again the last admin: 409"

role "$M2_TOKEN" "$GID" "$M2_ID" admin
expect_error_code forbidden "a member promoting itself is 403"
role "$N_TOKEN" "$GID" "$M2_ID" admin
expect_error_code forbidden "a non-member changing a role is 403"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$M3_ID" member "$L_ID" member)" ]]; echo $?)" \
	"the refused role changes changed nothing"
role "$O_TOKEN" "$GID" "$M2_ID" owner
expect_error_code bad_request "role \"owner\" is 400"
api PATCH "/v1/groups/$GID/members/$M2_ID" '{}' "$O_TOKEN"
expect_error_code bad_request "a missing role is 400"
role "$O_TOKEN" "$GID" "$N_ID" admin
expect_error_code not_found "changing the role of a non-member is 404"
role "$O_TOKEN" "$(unknown_id_like "$GID")" "$M2_ID" admin
expect_error_code not_found "changing a role in an unknown group is 404"

# --- group sends (before removals) ------------------------------------------------------------

send_group "$M1_TOKEN" "$GID" "member says hi"
expect_status 201 "a member's group send is 201"
expect_jq '.chat_id == $c and (.seq | type) == "number" and (.message_id | type) == "string" and .status == "sent" and (.timestamp | test($re))' \
	"... in the group's chat, with seq, message_id, timestamp and status sent" --arg c "$GCHAT" --arg re "$TS_RE"

send_group "$N_TOKEN" "$GID" "outsider says hi"
expect_error_code forbidden "a non-member's group send is 403"
send_group "$N_TOKEN" "$(unknown_id_like "$GID")" "nowhere"
expect_error_code not_found "a send to an unknown group is 404"
api POST "/v1/groups/$GID/messages" "$(group_body "no token")"
expect_error_code unauthorized "a group send without a token is 401"

# --- remove and leave -------------------------------------------------------------------------

remove "$O_TOKEN" "$GID" "$M3_ID"
expect_status 204 "DELETE .../members/{id} by the admin is 204"
check "$([[ -z $BODY ]]; echo $?)" "... with no body"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$L_ID" member)" ]]; echo $?)" \
	"... the removed member is gone"
api GET "/v1/groups/$GID" "" "$M3_TOKEN"
expect_error_code forbidden "the removed member gets 403 for the group"
send_group "$M3_TOKEN" "$GID" "removed says hi"
expect_error_code forbidden "a removed member's group send is 403"
remove "$O_TOKEN" "$GID" "$M3_ID"
expect_error_code not_found "removing the same user again is 404"

remove "$M2_TOKEN" "$GID" "$L_ID"
expect_error_code forbidden "a member removing another member is 403"
remove "$N_TOKEN" "$GID" "$M1_ID"
expect_error_code forbidden "a non-member removing a member is 403"
remove "$N_TOKEN" "$GID" "$N_ID"
expect_error_code forbidden "a non-member removing itself is 403"
check "$([[ $(group_roles "$O_TOKEN" "$GID") == "$(roles "$O_ID" admin "$M1_ID" member "$M2_ID" member "$L_ID" member)" ]]; echo $?)" \
	"the refused removals removed no one"

remove "$L_TOKEN" "$GID" "$L_ID"
expect_status 204 "a member removing itself (leaving) is 204"
api GET "/v1/groups/$GID" "" "$L_TOKEN"
expect_error_code forbidden "the member that left gets 403 for the group"
send_group "$L_TOKEN" "$GID" "left says hi"
expect_error_code forbidden "the member that left cannot send (403)"
remove "$O_TOKEN" "$(unknown_id_like "$GID")" "$M1_ID"
expect_error_code not_found "removing from an unknown group is 404"

history_page "$O_TOKEN" "$GCHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "member says hi" \
	"the group's history holds only the member's message (no refused send was stored)"

# --- succession -------------------------------------------------------------------------------

new_users O2 S1 S2 T1 T2 || true

# succession_case NAME ADD_FIRST ADD_SECOND WANT_ADMIN
group_create "$O2_TOKEN" "Succession $RANDOM" "$S1_ID"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
add "$O2_TOKEN" "$SG" "$S2_ID" >/dev/null
remove "$O2_TOKEN" "$SG" "$O2_ID"
expect_status 204 "the last admin leaving is 204"
api GET "/v1/groups/$SG" "" "$S1_TOKEN"
expect_roles "$(roles "$S1_ID" admin "$S2_ID" member)" "the longest-standing member (added at creation) becomes admin"

group_create "$O2_TOKEN" "Succession 2 $RANDOM"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
add "$O2_TOKEN" "$SG" "$S2_ID" >/dev/null
add "$O2_TOKEN" "$SG" "$S1_ID" >/dev/null
remove "$O2_TOKEN" "$SG" "$O2_ID"
api GET "/v1/groups/$SG" "" "$S1_TOKEN"
expect_roles "$(roles "$S2_ID" admin "$S1_ID" member)" "in the other order of joining, the other user becomes admin"

group_create "$O2_TOKEN" "Succession 3 $RANDOM" "$S1_ID" "$S2_ID"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
role "$O2_TOKEN" "$SG" "$S2_ID" admin >/dev/null
remove "$O2_TOKEN" "$SG" "$O2_ID"
api GET "/v1/groups/$SG" "" "$S1_TOKEN"
expect_roles "$(roles "$S1_ID" member "$S2_ID" admin)" "an admin leaving while another admin remains promotes no one"

group_create "$O2_TOKEN" "Succession 4 $RANDOM" "$T1_ID"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
add "$O2_TOKEN" "$SG" "$T2_ID" >/dev/null
send_group "$O2_TOKEN" "$SG" "between the joins" # (see "added back before any message" below)
remove "$T1_TOKEN" "$SG" "$T1_ID" >/dev/null
add "$O2_TOKEN" "$SG" "$T1_ID" >/dev/null
remove "$O2_TOKEN" "$SG" "$O2_ID"
api GET "/v1/groups/$SG" "" "$T2_TOKEN"
expect_roles "$(roles "$T1_ID" member "$T2_ID" admin)" "a member that left and came back counts from its return (the other becomes admin)"

group_create "$O2_TOKEN" "Succession 5 $RANDOM" "$S1_ID" "$S2_ID"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
remove "$O2_TOKEN" "$SG" "$S1_ID" >/dev/null
remove "$O2_TOKEN" "$SG" "$O2_ID"
api GET "/v1/groups/$SG" "" "$S2_TOKEN"
expect_roles "$(roles "$S2_ID" admin)" "the last admin leaving a group with one member left makes that member admin"
add "$S2_TOKEN" "$SG" "$T1_ID"
expect_status 200 "... who can then act as admin (add a member: 200)"

# Removed and added back with no message in between (the new membership period starts
# at the same seq as the old one).
group_create "$O2_TOKEN" "Back again $RANDOM" "$S1_ID"
SG=$(jq -r '.group_id // empty' <<<"$BODY")
remove "$O2_TOKEN" "$SG" "$S1_ID"
expect_status 204 "a member removed before any message was sent: 204"
add "$O2_TOKEN" "$SG" "$S1_ID"
expect_status 200 "... and added back before any message: 200"
expect_roles "$(roles "$O2_ID" admin "$S1_ID" member)" "... is a member again"
remove "$S1_TOKEN" "$SG" "$S1_ID" >/dev/null
add "$O2_TOKEN" "$SG" "$S1_ID"
expect_status 200 "a member that left and is added back before any message: 200"
send_group "$O2_TOKEN" "$SG" "after the return"
history_page "$S1_TOKEN" "$(jq -r '.chat_id // empty' <<<"$(api GET "/v1/groups/$SG" "" "$O2_TOKEN"; printf '%s' "$BODY")")"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "after the return" "... and reads the messages sent after its return"

# --- concurrent role changes and departures ---------------------------------------------------

# pfire DIR NAME METHOD PATH BODY TOKEN: one background request (see raw_request).
pfire()
{
	raw_request "$3" "$4" "$5" "$6" "$1/$2" &
}

new_users CA CB CC || true
for round in 1 2 3; do
	group_create "$CA_TOKEN" "Demote race $round $RANDOM" "$CB_ID" "$CC_ID"
	RG=$(jq -r '.group_id // empty' <<<"$BODY")
	role "$CA_TOKEN" "$RG" "$CB_ID" admin >/dev/null
	dir=$TEST_TMP/demote$round
	mkdir -p "$dir"
	pfire "$dir" a PATCH "/v1/groups/$RG/members/$CB_ID" '{"role":"member"}' "$CA_TOKEN"
	pfire "$dir" b PATCH "/v1/groups/$RG/members/$CA_ID" '{"role":"member"}' "$CB_TOKEN"
	wait
	r=$(group_roles "$CC_TOKEN" "$RG")
	admins=$(grep -o '=admin' <<<"$r" | wc -l)
	check "$([[ $admins -ge 1 ]]; echo $?)" "round $round: two admins demoting each other at once leave at least one admin" 		"answers: $(<"$dir/a.code") $(<"$dir/a.body") / $(<"$dir/b.code") $(<"$dir/b.body")" "members: $r"
	check "$([[ "$(sort <<<"$(<"$dir/a.code")"$'\n'"$(<"$dir/b.code")" | paste -sd' ')" =~ ^200\ (403|409)$ && $admins -ge 1 ]]; echo $?)" \
		"round $round: ... one demotion is 200, the other 409 or 403" \
		"answers: $(<"$dir/a.code") / $(<"$dir/b.code")"
done

for round in 1 2 3; do
	group_create "$CA_TOKEN" "Leave race $round $RANDOM" "$CB_ID" "$CC_ID"
	RG=$(jq -r '.group_id // empty' <<<"$BODY")
	role "$CA_TOKEN" "$RG" "$CB_ID" admin >/dev/null
	dir=$TEST_TMP/leave$round
	mkdir -p "$dir"
	pfire "$dir" a DELETE "/v1/groups/$RG/members/$CA_ID" "" "$CA_TOKEN"
	pfire "$dir" b DELETE "/v1/groups/$RG/members/$CB_ID" "" "$CB_TOKEN"
	wait
	r=$(group_roles "$CC_TOKEN" "$RG")
	check "$([[ $(<"$dir/a.code") == 204 && $(<"$dir/b.code") == 204 && $r == "$CC_ID=admin" ]]; echo $?)" \
		"round $round: both admins leaving at once: 204 each, and the remaining member becomes admin" \
		"answers: $(<"$dir/a.code") / $(<"$dir/b.code")" "members: $r"
done

# --- membership periods ------------------------------------------------------------------------

new_users O3 P3 R L2 || true
group_create "$O3_TOKEN" "Periods $RANDOM" "$P3_ID"
PG=$(jq -r '.group_id // empty' <<<"$BODY")
PCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")
declare -A PM=() PS=()
# psend TOKEN CONTENT: a group send into PG; records the message id and seq by content.
psend()
{
	send_group "$1" "$PG" "$2"
	PM[$2]=$(jq -r '.message_id // empty' <<<"$BODY")
	PS[$2]=$(jq -r '.seq // empty' <<<"$BODY")
	[[ $STATUS == 201 ]] || tap_not_ok "setup: send '$2' to the periods group" "$(last_response)"
}
psend "$O3_TOKEN" before-join
add "$O3_TOKEN" "$PG" "$R_ID" >/dev/null
psend "$O3_TOKEN" in-1
psend "$R_TOKEN" r-own
remove "$O3_TOKEN" "$PG" "$R_ID" >/dev/null
psend "$O3_TOKEN" while-out

history_page "$R_TOKEN" "$PCHAT"
expect_status 200 "a removed member may still read the chat's history: 200"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "r-own|in-1" \
	"... only the messages of its membership (not before it joined, not after it left)"

add "$O3_TOKEN" "$PG" "$R_ID" >/dev/null
psend "$P3_TOKEN" in-2

history_page "$R_TOKEN" "$PCHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "in-2|r-own|in-1" \
	"removed and added again: history holds the messages of both periods only, newest first"
expect_json .has_more false "... and has_more is false"
history_page "$R_TOKEN" "$PCHAT" "after=0"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "in-1|r-own|in-2" "... and oldest first with after=0"

history_page "$O3_TOKEN" "$PCHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "in-2|while-out|r-own|in-1|before-join" "the admin reads all five messages"

# pq QUERY WANT_CONTENTS WANT_HAS_MORE NAME: a history page of R.
pq()
{
	history_page "$R_TOKEN" "$PCHAT" "$1"
	local got more
	got=$(contents)
	more=$(jq -r '.has_more' <<<"$BODY" 2>/dev/null)
	check "$([[ $STATUS == 200 && $got == "$2" && $more == "$3" ]]; echo $?)" "$4" \
		"query: $1" "expected [$2] has_more $3" "got [$got] has_more $more ($STATUS)"
}
pq "limit=1" "in-2" true "periods, limit=1: the newest visible, has_more true"
pq "before=${PS[in-2]}&limit=1" "r-own" true "periods, before=in-2&limit=1: skips the message sent while out"
pq "before=${PS[r-own]}&limit=1" "in-1" false "periods, before=r-own&limit=1: the oldest visible, has_more false"
pq "before=${PS[in-1]}" "" false "periods, before=in-1: nothing (the earlier message predates the join)"
pq "after=${PS[r-own]}&limit=1" "in-2" false "periods, after=r-own&limit=1: skips the gap, has_more false"
pq "after=${PS[in-1]}&limit=1" "r-own" true "periods, after=in-1&limit=1: has_more true"
pq "after=${PS[in-1]}&before=${PS[in-2]}" "r-own" false "periods, between in-1 and in-2: only r-own"
pq "after=${PS[r-own]}&before=${PS[in-2]}" "" false "periods, between r-own and in-2: nothing (while-out is hidden)"

for m in before-join while-out; do
	api GET "/v1/messages/${PM[$m]}" "" "$R_TOKEN"
	expect_error_code not_found "GET /v1/messages/{$m} by the re-added member is 404"
	api GET "/v1/messages/${PM[$m]}/receipts" "" "$R_TOKEN"
	expect_error_code not_found "GET /v1/messages/{$m}/receipts by the re-added member is 404"
done
api GET "/v1/messages/${PM[in-1]}" "" "$R_TOKEN"
expect_status 200 "GET /v1/messages/{in-1} by the re-added member is 200"
api POST /v1/messages "$(jq -nc --arg r "$O3_ID" --arg to "${PM[while-out]}" --arg k "$(new_cmid)" '{receiver_id: $r, message_type: "text", content: "x", client_msg_id: $k, reply_to: $to}')" "$R_TOKEN"
check "$([[ $STATUS =~ ^(400|404)$ && $BODY != *while-out* ]]; echo $?)" "reply_to a hidden group message from a direct chat is 400/404 without its content"

add "$O3_TOKEN" "$PG" "$L2_ID" >/dev/null
history_page "$L2_TOKEN" "$PCHAT"
expect_jq '.messages == [] and .has_more == false' "a user added later sees none of the earlier messages"
api GET "/v1/messages/${PM[in-2]}" "" "$L2_TOKEN"
expect_error_code not_found "... not even by message id (404)"
psend "$O3_TOKEN" after-l2
history_page "$L2_TOKEN" "$PCHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "after-l2" "... and sees what is sent after it joined"

# Receipts list the members who could see the message: not those out at the time,
# not those added later.
# receipts_users MESSAGE_CONTENT: the sorted user_ids of that message's receipts (as O3).
receipts_users()
{
	api GET "/v1/messages/${PM[$1]}/receipts" "" "$O3_TOKEN"
	jq -r '[.receipts[]?.user_id] | sort | join(",")' <<<"$BODY" 2>/dev/null
}
sorted_ids() { printf '%s\n' "$@" | sort | paste -sd, -; }
got=$(receipts_users while-out)
check "$([[ $got == "$(sorted_ids "$P3_ID")" ]]; echo $?)" "receipts of a message sent while a member was out leave that member out" \
	"expected $(sorted_ids "$P3_ID")" "got      $got"
got=$(receipts_users in-1)
check "$([[ $got == "$(sorted_ids "$P3_ID" "$R_ID")" ]]; echo $?)" "receipts of a message list the members of its time (not one added later)" \
	"expected $(sorted_ids "$P3_ID" "$R_ID")" "got      $got"
got=$(receipts_users after-l2)
check "$([[ $got == "$(sorted_ids "$P3_ID" "$R_ID" "$L2_ID")" ]]; echo $?)" "receipts of a later message list every current member but the sender" \
	"expected $(sorted_ids "$P3_ID" "$R_ID" "$L2_ID")" "got      $got"

# R's read pointer reaching the end covers the messages of its earlier period too.
api POST "/v1/chats/$PCHAT/read" "{\"seq\":${PS[after-l2]}}" "$R_TOKEN"
expect_status 204 "the re-added member reads up to the last message: 204"
api GET "/v1/messages/${PM[in-2]}/receipts" "" "$P3_TOKEN"
expect_jq '.receipts[] | select(.user_id == $r) | .status == "read"' "a message of its current period is read for it" --arg r "$R_ID"
api GET "/v1/messages/${PM[in-1]}/receipts" "" "$O3_TOKEN"
expect_jq '.receipts[] | select(.user_id == $r) | .status == "read"' \
	"a message of its earlier period (below its read pointer) is read for it too" --arg r "$R_ID"
api GET "/v1/messages/${PM[in-1]}" "" "$R_TOKEN"
expect_json .status read "... and the member itself sees that earlier message as read"
chat_entry "$R_TOKEN" "$PCHAT"
expect_jq ".unread_count == 0 and .last_read_seq == ${PS[after-l2]}" "its chat entry has nothing unread"

remove "$R_TOKEN" "$PG" "$R_ID" >/dev/null
psend "$O3_TOKEN" post-removal
history_page "$R_TOKEN" "$PCHAT"
expect_json "$(printf '%s' '[.messages[].content] | join("|")')" "after-l2|in-2|r-own|in-1" \
	"a member that left gets no later messages, and keeps those of its periods"
api POST "/v1/chats/$PCHAT/read" '{"seq":1}' "$R_TOKEN"
expect_error_code "not_found|forbidden" "a member that left cannot move its read pointer in the chat (404/403)"

# --- the member cap ----------------------------------------------------------------------------

if ! [[ $CAP =~ ^[0-9]+$ ]] || ((CAP > 60)); then
	for t in "creating a group beyond the cap is 422 group_full and creates nothing" \
		"adding beyond the cap is 422 group_full and adds no one" \
		"a group may reach exactly the cap" \
		"concurrent additions cannot pass the cap together"; do
		skip "$t" "CHAT_MAX_GROUP_MEMBERS is $CAP (above 60: too many users to create)"
	done
else
	vars=(CO CZ)
	for ((i = 1; i <= CAP; i++)); do vars+=("CU$i"); done
	ok=1
	for ((i = 0; i < ${#vars[@]}; i += 10)); do
		new_users "${vars[@]:i:10}" || ok=0
	done
	ids=()
	for ((i = 1; i <= CAP; i++)); do v=CU${i}_ID; ids+=("${!v}"); done

	FULL="Too big $RANDOM$RANDOM"
	group_create "$CO_TOKEN" "$FULL" "${ids[@]}"
	expect_error_code group_full "creating a group of cap + 1 members (creator + $CAP) is 422 group_full"
	c=$(chats_named "$CO_TOKEN" "$FULL")
	check "$([[ $c == 0 ]]; echo $?)" "... and creates nothing" "chats named '$FULL': $c"

	group_create "$CO_TOKEN" "Cap $RANDOM" "${ids[@]:0:CAP-2}"
	expect_status 201 "creating a group of cap - 1 members is 201"
	expect_json .member_count $((CAP - 1)) "... member_count $((CAP - 1))"
	CG=$(jq -r '.group_id // empty' <<<"$BODY")
	X=${ids[CAP - 2]} Y=${ids[CAP - 1]}
	before=$(group_roles "$CO_TOKEN" "$CG")

	add "$CO_TOKEN" "$CG" "$X" "$Y"
	expect_error_code group_full "adding two users to a group one below the cap is 422 group_full"
	check "$([[ $(group_roles "$CO_TOKEN" "$CG") == "$before" ]]; echo $?)" "... and adds neither of them (nothing changes)"

	add "$CO_TOKEN" "$CG" "$X"
	expect_status 200 "adding one user to reach exactly the cap is 200"
	expect_json .member_count "$CAP" "... member_count $CAP"
	full=$(group_roles "$CO_TOKEN" "$CG")

	add "$CO_TOKEN" "$CG" "$Y"
	expect_error_code group_full "adding one more user to a full group is 422 group_full"
	check "$([[ $(group_roles "$CO_TOKEN" "$CG") == "$full" ]]; echo $?)" "... and nothing changes"
	api GET "/v1/groups/$CG" "" "$(v=CU${CAP}_TOKEN; echo "${!v}")"
	expect_error_code forbidden "... the refused user is not a member (403)"

	add "$CO_TOKEN" "$CG" "$X"
	expect_status 200 "adding a present member to a full group is 200 (present members are ignored)"
	add "$CO_TOKEN" "$CG" "$X" "$Y"
	expect_error_code group_full "adding a present member and a new one to a full group is 422"

	add "$CO_TOKEN" "$CG" "$Y" "$(unknown_id_like "$Y")"
	expect_error_code "not_found|group_full" "an unknown id and the cap at once: 404 (or 422), and nothing changes"
	check "$([[ $(group_roles "$CO_TOKEN" "$CG") == "$full" ]]; echo $?)" "... (the member list is unchanged)"

	remove "$CO_TOKEN" "$CG" "$X" >/dev/null
	add "$CO_TOKEN" "$CG" "$Y"
	expect_status 200 "after a member leaves a full group, another can be added: 200"
	expect_json .member_count "$CAP" "... member_count $CAP again"

	# Concurrent additions cannot pass the cap together: two free places, four
	# candidates added at the same moment.
	remove "$CO_TOKEN" "$CG" "${ids[0]}" >/dev/null
	remove "$CO_TOKEN" "$CG" "${ids[1]}" >/dev/null
	send_group "$CO_TOKEN" "$CG" "two places free"
	dir=$TEST_TMP/capRace
	mkdir -p "$dir"
	for cand in "$X" "${ids[0]}" "${ids[1]}" "$CZ_ID"; do
		raw_request POST "/v1/groups/$CG/members" "{\"user_ids\":[\"$cand\"]}" "$CO_TOKEN" "$dir/$cand" &
	done
	wait
	got=$(cat "$dir"/*.code | sort | paste -sd' ')
	api GET "/v1/groups/$CG" "" "$CO_TOKEN"
	check "$([[ $got == "200 200 422 422" && $(jq -r .member_count <<<"$BODY") == "$CAP" ]]; echo $?)" \
		"four concurrent additions for two free places: two 200, two 422, and exactly $CAP members" \
		"answers: $got" "member_count: $(jq -r .member_count <<<"$BODY")"
fi

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
