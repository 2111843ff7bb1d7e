#!/usr/bin/env bash
# Concurrency (API.md "Chats and messages"): racing retries of one client_msg_id yield one
# message; concurrent senders into one chat get seqs 1..N without gaps or duplicates; the
# two first messages of a new pair, sent at the same moment, land in one chat.
#
# The send rate limit (default 20/s, burst 100 per user) is kept: no user sends more than
# 25 messages here (fewer when CHAT_RATE_LIMIT says the stack's burst is smaller).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat-lib.sh"

RACE=${RACE:-20}          # identical sends fired at once
SENDERS=8                 # group members sending concurrently
PER_SENDER=${PER_SENDER:-25}
PAIRS=5
# Keep every sender within its burst (CHAT_RATE_LIMIT per second, burst 5x).
RATE=${CHAT_RATE_LIMIT:-20}
if [[ $RATE =~ ^[0-9]+$ ]] && ((RATE > 0 && 5 * RATE - 3 < PER_SENDER)); then
	PER_SENDER=$((5 * RATE - 3 > 1 ? 5 * RATE - 3 : 1))
fi

# fire N DIR METHOD PATH BODY TOKEN: N identical requests at once; DIR/i.code, DIR/i.body.
fire()
{
	local n=$1 dir=$2 i
	mkdir -p "$dir"
	for ((i = 1; i <= n; i++)); do
		raw_request "$3" "$4" "$5" "$6" "$dir/$i" &
	done
	wait
}

# codes DIR: the status codes of DIR/*.code, sorted, counted ("201 x1, 200 x19").
codes()
{
	cat "$1"/*.code | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}'
}

# bodies DIR: the answers of DIR/*.body as one JSON array (non-JSON bodies as strings).
bodies()
{
	local f
	for f in "$1"/*.body; do
		tr '\n' ' ' <"$f"
		echo
	done | jq -Rnc '[inputs | fromjson? // .]'
}

new_users A B K1 K2 K3 K4 K5 K6 || true

# --- (a) racing retries of one client_msg_id ------------------------------------------------

# race NAME METHOD PATH BODY TOKEN CONTENT HISTORY_CHAT_OR_EMPTY
race()
{
	local name=$1 dir=$TEST_TMP/race-$RANDOM$RANDOM all n201 bad chat
	fire "$RACE" "$dir" "$2" "$3" "$4" "$5"
	bad=$(cat "$dir"/*.code | grep -cvE '^(200|201)$')
	check "$bad" "$name: all $RACE identical sends answer 200 or 201" "codes: $(codes "$dir")" \
		"first bodies: $(bodies "$dir" | head -c 600)"
	n201=$(cat "$dir"/*.code | grep -c '^201$')
	check "$([[ $n201 == 1 ]]; echo $?)" "$name: exactly one of them is 201" "codes: $(codes "$dir")"
	all=$(bodies "$dir")
	RACE_RESULT=$all
	check "$(jq -e '[.[] | objects | select(has("message_id"))] as $ok | ($ok | length) == length
		and ([$ok[] | .message_id] | unique | length) == 1
		and ([$ok[] | .seq] | unique | length) == 1
		and ([$ok[] | .chat_id] | unique | length) == 1' <<<"$all" >/dev/null; echo $?)" \
		"$name: every answer carries the same message_id, chat_id and seq" \
		"distinct (message_id, chat_id, seq): $(jq -c '[.[] | [.message_id?, .chat_id?, .seq?]] | unique' <<<"$all" 2>&1 | head -c 600)"
	chat=$(jq -r '[.[] | objects | .chat_id // empty][0] // empty' <<<"$all")
	if [[ -z $chat ]]; then
		tap_not_ok "$name: history holds exactly one message with that content" "no chat_id in any answer"
		return
	fi
	history_page "$5" "$chat" "limit=200"
	check "$(jq -e --arg c "$6" '[.messages[] | select(.content == $c)] | length == 1' <<<"$BODY" >/dev/null; echo $?)" \
		"$name: history holds exactly one message with that content" "$(last_response)"
	RACE_CHAT=$chat
}

KEY=$(new_cmid)
race "first message of a new pair" POST /v1/messages "$(text_body "$B_ID" "raced hello" "$KEY")" "$A_TOKEN" "raced hello"
PAIR_CHAT=${RACE_CHAT:-}
history_page "$B_TOKEN" "$PAIR_CHAT"
expect_jq '[.messages[].seq] == [1]' "first message of a new pair: the chat holds one message, seq 1"

KEY=$(new_cmid)
race "existing chat" POST /v1/messages "$(text_body "$B_ID" "raced again" "$KEY")" "$A_TOKEN" "raced again"
expect_jq '[.messages[].seq] == [2, 1]' "existing chat: the chat holds two messages, seqs 2 and 1"

group_create "$A_TOKEN" "race $RANDOM" "$B_ID"
GID=$(jq -r '.group_id // empty' <<<"$BODY")
KEY=$(new_cmid)
race "group chat" POST "/v1/groups/$GID/messages" "$(group_body "raced group hello" "$KEY")" "$A_TOKEN" "raced group hello"

# The same key with two different bodies at once: one body wins; the other gets 409.
KEY=$(new_cmid)
dir=$TEST_TMP/split
mkdir -p "$dir"
for ((i = 1; i <= RACE; i++)); do
	if ((i % 2)); then
		raw_request POST /v1/messages "$(text_body "$B_ID" "split odd" "$KEY")" "$A_TOKEN" "$dir/odd$i" &
	else
		raw_request POST /v1/messages "$(text_body "$B_ID" "split even" "$KEY")" "$A_TOKEN" "$dir/even$i" &
	fi
done
wait
history_page "$B_TOKEN" "$PAIR_CHAT" "limit=200"
winner=$(jq -r '[.messages[] | select(.content | startswith("split ")) | .content] | join(",")' <<<"$BODY")
check "$([[ $winner == "split odd" || $winner == "split even" ]]; echo $?)" \
	"one key, two bodies at once: exactly one message is stored" "stored: [$winner]" "codes: $(codes "$dir")"
if [[ $winner == "split odd" ]]; then win=odd lose=even; else win=even lose=odd; fi
wc=$(cat "$dir"/$win*.code | sort | uniq -c | tr -s ' ' | tr '\n' ';')
lc=$(cat "$dir"/$lose*.code | sort -u | tr '\n' ' ')
check "$([[ $(cat "$dir"/$win*.code | grep -c '^201$') == 1 && $(cat "$dir"/$win*.code | grep -cvE '^(200|201)$') == 0 ]]; echo $?)" \
	"one key, two bodies at once: the winning body's sends are one 201 and 200s" "winner ($win): $wc"
check "$([[ $lc == "409 " ]]; echo $?)" "one key, two bodies at once: every send of the other body is 409" "loser ($lose): $lc"

# The same key and content to six different receivers at once: the key is the sender's
# across all chats, so one send wins and the others are 409 (another body: another chat).
KEY=$(new_cmid)
dir=$TEST_TMP/cross
mkdir -p "$dir"
for k in K1 K2 K3 K4 K5 K6; do
	v=${k}_ID
	raw_request POST /v1/messages "$(text_body "${!v}" "one key, many chats" "$KEY")" "$A_TOKEN" "$dir/$k" &
done
wait
got=$(cat "$dir"/*.code | sort | paste -sd' ')
check "$([[ $got == "201 409 409 409 409 409" ]]; echo $?)" \
	"one key to six receivers at once: one 201, five 409" "answers: $got" \
	"$(for f in "$dir"/*.body; do head -c 200 "$f"; echo; done | sort | uniq -c | head -n 5)"
stored=0
for k in K1 K2 K3 K4 K5 K6; do
	t=${k}_TOKEN
	api GET /v1/chats "" "${!t}"
	n=$(jq --arg c "one key, many chats" '[.chats[]? | select(.last_message.content == $c)] | length' <<<"$BODY" 2>/dev/null)
	stored=$((stored + ${n:-0}))
done
check "$([[ $stored == 1 ]]; echo $?)" "... and exactly one of the six chats holds the message" "chats holding it: $stored"

# --- (b) concurrent senders into one group chat ------------------------------------------

SVARS=()
for ((s = 1; s <= SENDERS; s++)); do SVARS+=("S$s"); done
new_users "${SVARS[@]}" || true
ids=()
for ((s = 2; s <= SENDERS; s++)); do
	v=S${s}_ID
	ids+=("${!v}")
done
group_create "$S1_TOKEN" "busy $RANDOM" "${ids[@]}"
expect_status 201 "a group of $SENDERS members for the concurrent senders"
BGID=$(jq -r '.group_id // empty' <<<"$BODY")
BCHAT=$(jq -r '.chat_id // empty' <<<"$BODY")

RUN=$RANDOM$RANDOM
dir=$TEST_TMP/busy
mkdir -p "$dir"
for ((s = 1; s <= SENDERS; s++)); do
	tv=S${s}_TOKEN
	(
		for ((k = 1; k <= PER_SENDER; k++)); do
			raw_request POST "/v1/groups/$BGID/messages" \
				"$(group_body "busy-$RUN-s$s-m$k" "busy-$RUN-s$s-m$k")" "${!tv}" "$dir/s$s-m$k"
		done
	) &
done
wait
N=$((SENDERS * PER_SENDER))
n201=$(cat "$dir"/*.code | grep -c '^201$')
check "$([[ $n201 == "$N" ]]; echo $?)" "$SENDERS senders x $PER_SENDER concurrent group sends: all $N answer 201" \
	"codes: $(codes "$dir")" "a failing body: $(grep -L '"message_id"' "$dir"/*.body | head -n 1 | xargs -r cat | head -c 300)"
answers=$(bodies "$dir")
check "$(jq -e --argjson n "$N" '[.[] | objects | .seq] | sort == [range(1; $n + 1)]' <<<"$answers" >/dev/null; echo $?)" \
	"the send answers' seqs are exactly 1..$N (no duplicates, no gaps)" \
	"seqs answered: $(jq -c '[.[] | objects | .seq] | sort' <<<"$answers" | head -c 600)"

if history_all "$S2_TOKEN" "$BCHAT" "$TEST_TMP/busy.json" 37; then
	tap_ok "history pages (after=, limit=37) read to the end"
else
	tap_not_ok "history pages (after=, limit=37) read to the end" "$HISTORY_ERR"
fi
hist=$(<"$TEST_TMP/busy.json")
check "$(jq -e --argjson n "$N" '[.[].seq] == [range(1; $n + 1)]' <<<"$hist" >/dev/null; echo $?)" \
	"history shows seqs exactly 1..$N in order, no gaps or duplicates" \
	"got $(jq 'length' <<<"$hist") messages; seqs: $(jq -c '[.[].seq]' <<<"$hist" | head -c 600)"
want=$(for ((s = 1; s <= SENDERS; s++)); do for ((k = 1; k <= PER_SENDER; k++)); do echo "busy-$RUN-s$s-m$k"; done; done | jq -Rsc 'split("\n") | map(select(length > 0)) | sort')
check "$(jq -e --argjson w "$want" '[.[].content] | sort == $w' <<<"$hist" >/dev/null; echo $?)" \
	"every sent message is in history exactly once" \
	"missing: $(jq -c --argjson w "$want" '$w - [.[].content]' <<<"$hist" | head -c 300)" \
	"duplicated: $(jq -c '[group_by(.content)[] | select(length > 1) | .[0].content]' <<<"$hist" | head -c 300)"
sender_map=$(for ((s = 1; s <= SENDERS; s++)); do v=S${s}_ID; jq -nc --arg k "s$s" --arg v "${!v}" '{($k): $v}'; done | jq -sc add)
check "$(jq -e --argjson m "$sender_map" 'all(.[]; .sender_id == $m[(.content | capture("-(?<s>s[0-9]+)-") | .s)])' <<<"$hist" >/dev/null; echo $?)" \
	"every message carries its own sender_id"
check "$(jq -e --argjson a "$answers" '($a | map(objects | {key: (.seq | tostring), value: .message_id}) | from_entries) as $m
	| all(.[]; .message_id == $m[.seq | tostring])' <<<"$hist" >/dev/null; echo $?)" \
	"history's message_ids match the send answers seq for seq"
check "$(jq -e '[.[].timestamp] as $t | [range(1; $t | length) | $t[. - 1] <= $t[.]] | all' <<<"$hist" >/dev/null; echo $?)" \
	"timestamps never decrease along seq under concurrent sends"
check "$(jq -e --argjson n "$N" '[range(0; $n - 1) as $i | .[$i + 1].seq == .[$i].seq + 1] | all' <<<"$hist" >/dev/null; echo $?)" \
	"each seq is the previous plus one"

# The same history read newest first with before=, in pages.
before=
declare -a desc=()
for ((p = 0; p < 100; p++)); do
	history_page "$S5_TOKEN" "$BCHAT" "limit=50${before:+&before=$before}"
	[[ $STATUS == 200 ]] || break
	mapfile -t -O "${#desc[@]}" desc < <(jq -r '.messages[].seq' <<<"$BODY")
	[[ $(jq -r .has_more <<<"$BODY") == true ]] || break
	before=$(jq -r '.messages[-1].seq' <<<"$BODY")
done
check "$([[ "${desc[*]}" == "$(seq "$N" -1 1 | tr '\n' ' ' | sed 's/ $//')" ]]; echo $?)" \
	"paging newest first with before= shows $N..1 exactly" "got: ${desc[*]:0:60}..."

# --- (c) the two first messages of a new pair at the same moment ----------------------------

PVARS=()
for ((p = 1; p <= PAIRS; p++)); do PVARS+=("X$p" "Y$p"); done
new_users "${PVARS[@]}" || true
dir=$TEST_TMP/pairs
mkdir -p "$dir"
for ((p = 1; p <= PAIRS; p++)); do
	xi=X${p}_ID xt=X${p}_TOKEN yi=Y${p}_ID yt=Y${p}_TOKEN
	raw_request POST /v1/messages "$(text_body "${!yi}" "x to y $p")" "${!xt}" "$dir/p$p-x" &
	raw_request POST /v1/messages "$(text_body "${!xi}" "y to x $p")" "${!yt}" "$dir/p$p-y" &
done
wait
for ((p = 1; p <= PAIRS; p++)); do
	xc=$(<"$dir/p$p-x.code") yc=$(<"$dir/p$p-y.code")
	cx=$(jq -r '.chat_id // empty' "$dir/p$p-x.body" 2>/dev/null)
	cy=$(jq -r '.chat_id // empty' "$dir/p$p-y.body" 2>/dev/null)
	sx=$(jq -r '.seq // empty' "$dir/p$p-x.body" 2>/dev/null)
	sy=$(jq -r '.seq // empty' "$dir/p$p-y.body" 2>/dev/null)
	check "$([[ $xc == 201 && $yc == 201 ]]; echo $?)" "pair $p: both simultaneous first messages are 201" \
		"x->y: $xc $(head -c 300 "$dir/p$p-x.body")" "y->x: $yc $(head -c 300 "$dir/p$p-y.body")"
	check "$([[ -n $cx && $cx == "$cy" ]]; echo $?)" "pair $p: both land in the same chat_id" "x->y chat $cx, y->x chat $cy"
	check "$([[ "$(printf '%s\n' "$sx" "$sy" | sort -n | tr '\n' ' ')" == "1 2 " ]]; echo $?)" \
		"pair $p: their seqs are 1 and 2" "x->y seq $sx, y->x seq $sy"
	xt=X${p}_TOKEN yi=Y${p}_ID
	api GET /v1/chats "" "${!xt}"
	expect_jq '[.chats[] | select(.type == "direct" and .peer_id == $y)] | length == 1 and (.[0].last_message.seq == 2)' \
		"pair $p: the chat list shows one direct chat with the peer, holding both messages" --arg y "${!yi}"
done

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
