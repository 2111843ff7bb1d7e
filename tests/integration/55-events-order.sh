#!/usr/bin/env bash
# The lossless feed under concurrency (API.md "Real-time events": "a client that always
# polls with the last cursor it received sees every message of its chats exactly once, in
# seq order per chat, even when many senders commit concurrently, ... and restarts of
# Redis").
#
# ORDER_USERS users (6) share 3 groups with overlapping members and 5 direct chats. Each
# user runs a poll loop (its own cursor, timeout=2) that writes every message event it gets
# (chat_id, seq, content) to a file, while every user sends ORDER_MSGS messages (40) to its
# chats, ORDER_PARALLEL at a time (4), with distinct client_msg_ids. When all sends are
# answered, the pollers drain: each stops after a poll, begun after the stop file appeared,
# that brings no event. Then, for each user and each of its chats, the message events it got
# must be exactly the chat's history (GET /v1/messages: seq 1..last): each once, ascending,
# no gap, the same content, and nothing of chats it is not in.
#
#   KILL_REDIS=1   kill -9 the stack's Redis ($CHAT_VAR/run/redis.pid) when half of the
#                  sends are answered (the supervisor restarts it); must stay lossless
#   EXPECT_LOSS=1  invert the verdict: pass only when a loss or a disorder is detected
#                  (against a stack with CHAT_FEED_NAIVE=1, to show that the check can fail)
#   ORDER_KEEP=DIR copy the raw files (sends, received events, histories) to DIR
#
# The send rate limit (a burst of 100, then 20/s per user by default) is never reached.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

USERS=${ORDER_USERS:-6}
MSGS=${ORDER_MSGS:-40}
PAR=${ORDER_PARALLEL:-4}
KILL_REDIS=${KILL_REDIS:-0}
EXPECT_LOSS=${EXPECT_LOSS:-0}
RUN_ID=$(date +%s%N)-$RANDOM
W=$TEST_TMP/order
mkdir -p "$W"
T0=$(date +%s%N)
# ms_since T: milliseconds from the date +%s%N value T to now.
ms_since()
{
	echo $((($(date +%s%N) - $1) / 1000000))
}
((USERS == 6)) || { echo "# ORDER_USERS must be 6 (the chat layout is fixed)"; USERS=6; }

# --- users and chats -----------------------------------------------------------------------

for ((u = 1; u <= USERS; u++)); do
	new_user "U$u" || true
done
ids=() toks=()
for ((u = 1; u <= USERS; u++)); do
	v=U${u}_ID t=U${u}_TOKEN
	ids[u]=${!v:-}
	toks[u]=${!t:-}
done

# The layout: "g CREATOR MEMBER..." (groups, the creator first) and "d USER USER" (direct).
LAYOUT=("g 1 2 3 4" "g 3 4 5 6" "g 5 1 3 6" "d 1 2" "d 2 5" "d 4 6" "d 1 6" "d 3 4")
# Per chat index: its members; the group_id of groups. Directs get their chat_id from the
# first send that answers 201.
declare -A MEMBERS=() GROUP_ID=() CHAT_ID=()
groups_ok=0
for i in "${!LAYOUT[@]}"; do
	read -ra f <<<"${LAYOUT[i]}"
	MEMBERS[$i]="${f[*]:1}"
	[[ ${f[0]} == g ]] || continue
	others=()
	for m in "${f[@]:2}"; do others+=("${ids[m]}"); done
	api POST /v1/groups "$(jq -nc --arg n "order $i" '{name: $n, member_ids: $ARGS.positional}' --args "${others[@]}")" \
		"${toks[f[1]]}"
	if [[ $STATUS == 201 ]]; then
		groups_ok=$((groups_ok + 1))
		GROUP_ID[$i]=$(jq -r .group_id <<<"$BODY")
		CHAT_ID[$i]=$(jq -r .chat_id <<<"$BODY")
	else
		diag "$(last_response)"
	fi
done
check "$((groups_ok == 3 ? 0 : 1))" "setup: $USERS users, 3 groups with overlapping members (and 5 direct chats to come)"

# The chats (layout indexes) of user u, and the ones it sends to.
chats_of()
{
	local i m
	for i in "${!LAYOUT[@]}"; do
		for m in ${MEMBERS[$i]}; do
			[[ $m == "$1" ]] && printf '%s ' "$i"
		done
	done
}

# Every poller starts from a cursor taken before the first send.
cursors_ok=0
for ((u = 1; u <= USERS; u++)); do
	ev_cursor "${toks[u]}"
	printf '%s' "$EV_CURSOR" >"$W/cursor0-$u"
	[[ -n $EV_CURSOR ]] && cursors_ok=$((cursors_ok + 1))
done
check "$((cursors_ok == USERS ? 0 : 1))" "setup: every user gets a starting cursor (GET /v1/events)" "$(last_response)"

# --- pollers ---------------------------------------------------------------------------------

# poller U: polls until the drain ends; message events to $W/recv-U ("chat_id seq content"),
# answers other than 200 to $W/err-U, counts to $W/stat-U.
poller()
{
	local u=$1 tok=${toks[$1]} cur code n next q polls=0 after_stop=0 stop_seen
	cur=$(<"$W/cursor0-$u")
	: >"$W/recv-$u"
	: >"$W/err-$u"
	while :; do
		stop_seen=0
		[[ -e $W/stop ]] && stop_seen=1
		# Cursors are opaque: percent-encode one that is not plainly URL-safe.
		q=$cur
		[[ $q =~ ^[A-Za-z0-9._~-]+$ ]] || q=$(ev_uri "$cur")
		code=$(curl -sS --max-time 15 -o "$W/poll-$u.body" -w '%{http_code}' -H "Authorization: Bearer $tok" \
			"$BASE_URL/v1/events?cursor=$q&timeout=2" 2>>"$W/err-$u")
		polls=$((polls + 1))
		# One jq: the number of events, the cursor, then the message events.
		if [[ $code == 200 ]] && jq -r '(.events | length), .cursor,
			(.events[] | select(.type == "message") | "\(.data.chat_id) \(.data.seq) \(.data.content)")' \
			"$W/poll-$u.body" >"$W/poll-$u.lines" 2>/dev/null && {
			read -r n && read -r next; } <"$W/poll-$u.lines" && [[ $n =~ ^[0-9]+$ && -n $next ]]; then
			tail -n +3 "$W/poll-$u.lines" >>"$W/recv-$u"
			cur=$next
			((stop_seen && n == 0)) && break
		else
			printf 'status %s: %s\n' "${code:-000}" "$(head -c 300 "$W/poll-$u.body" 2>/dev/null)" >>"$W/err-$u"
			# A cursor the server refuses cannot be resumed: the test has lost already.
			[[ $code == 400 || $code == 410 ]] && break
			sleep 0.2
		fi
		if ((stop_seen)); then
			after_stop=$((after_stop + 1))
			if ((after_stop > 40)); then
				echo "the drain did not end after 40 polls" >>"$W/err-$u"
				break
			fi
		fi
	done
	echo "$polls" >"$W/stat-$u"
}

poller_pids=()
for ((u = 1; u <= USERS; u++)); do
	poller "$u" &
	poller_pids+=($!)
done

# --- senders ---------------------------------------------------------------------------------

# send_one S K I: sender S's K-th message, to the chat of layout index I; the answer in
# $W/send-S-K.{code,body}, plus "I" in $W/send-S-K.chat.
send_one()
{
	local s=$1 k=$2 i=$3 path body peer m
	local -a f
	read -ra f <<<"${LAYOUT[i]}"
	if [[ ${f[0]} == g ]]; then
		path=/v1/groups/${GROUP_ID[$i]}/messages
		body=$(printf '{"message_type":"text","content":"u%s-%s","client_msg_id":"%s-%s-%s"}' "$s" "$k" "$RUN_ID" "$s" "$k")
	else
		for m in "${f[@]:1}"; do [[ $m != "$s" ]] && peer=${ids[m]}; done
		path=/v1/messages
		body=$(printf '{"receiver_id":"%s","message_type":"text","content":"u%s-%s","client_msg_id":"%s-%s-%s"}' \
			"$peer" "$s" "$k" "$RUN_ID" "$s" "$k")
	fi
	echo "$i" >"$W/send-$s-$k.chat"
	curl -sS --max-time 30 -o "$W/send-$s-$k.body" -w '%{http_code}' -H 'Content-Type: application/json' \
		-H "Authorization: Bearer ${toks[s]}" --data-binary "$body" "$BASE_URL$path" \
		>"$W/send-$s-$k.code" 2>/dev/null
	: >"$W/send-$s-$k.done"
}

# sender S: MSGS messages round-robin over its chats, PAR at a time, a short pause between
# batches so that the sends spread over a few seconds.
sender()
{
	local s=$1 k j
	local -a mine
	read -ra mine <<<"$(chats_of "$s")"
	for ((k = 1; k <= MSGS; k += PAR)); do
		for ((j = k; j < k + PAR && j <= MSGS; j++)); do
			send_one "$s" "$j" "${mine[(j - 1) % ${#mine[@]}]}" &
		done
		wait
		sleep 0.$((RANDOM % 3 + 1))
	done
}

t_setup=$(ms_since "$T0")
sleep 0.5
t_start=$(date +%s%N)
sender_pids=()
for ((s = 1; s <= USERS; s++)); do
	sender "$s" &
	sender_pids+=($!)
done

TOTAL=$((USERS * MSGS))
killed_redis=
if [[ $KILL_REDIS == 1 ]]; then
	if [[ -z ${CHAT_VAR:-} || ! -r ${CHAT_VAR:-}/run/redis.pid ]]; then
		skip "KILL_REDIS: kill -9 Redis midway" "CHAT_VAR is not set or has no run/redis.pid"
	else
		for ((i = 0; i < 600; i++)); do
			done_n=$(find "$W" -name 'send-*.done' | wc -l)
			((done_n * 2 >= TOTAL)) && break
			sleep 0.05
		done
		killed_redis=$(<"$CHAT_VAR/run/redis.pid")
		kill -KILL "$killed_redis" 2>/dev/null
		check $? "KILL_REDIS: kill -9 the stack's Redis (pid $killed_redis) after $done_n of $TOTAL sends"
	fi
fi

for p in "${sender_pids[@]}"; do wait "$p"; done
t_sent=$(date +%s%N)
touch "$W/stop"
for p in "${poller_pids[@]}"; do wait "$p"; done
t_drained=$(date +%s%N)

# --- the sends ------------------------------------------------------------------------------

# $W/sends: "sender-k status chat-index chat_id seq content" for every send (few processes:
# the machine may be busy).
{
	awk '{ f = FILENAME; sub(/.*\/send-/, "", f); sub(/\.[a-z]+$/, "", f); print "I", f, $1 }' "$W"/send-*.chat
	awk '{ f = FILENAME; sub(/.*\/send-/, "", f); sub(/\.[a-z]+$/, "", f); print "S", f, $1 }' "$W"/send-*.code
	# The answers are one JSON object each, without a final newline: awk reads them apart.
	awk '{ f = FILENAME; sub(/.*\/send-/, "", f); sub(/\.[a-z]+$/, "", f); c = "-"; q = "-"
		if (match($0, /"chat_id" *: *"[^"]*"/)) { c = substr($0, RSTART, RLENGTH); sub(/^"chat_id" *: *"/, "", c); sub(/"$/, "", c) }
		if (match($0, /"seq" *: *[0-9]+/)) { q = substr($0, RSTART, RLENGTH); sub(/^"seq" *: */, "", q) }
		print "B", f, c, q }' "$W"/send-*.body
} 2>/dev/null | awk '$1 == "I" { idx[$2] = $3 } $1 == "S" { st[$2] = $3 } $1 == "B" { cid[$2] = $3; sq[$2] = $4 }
	END { for (k in idx) print k, (k in st ? st[k] : "000"), idx[k], (k in cid ? cid[k] : "-"), (k in sq ? sq[k] : "-"), "u" k }' \
	| sort >"$W/sends"
bad_sends=$(awk '$2 != 201 { print "u" $1 " (chat " $3 "): status " $2 }' "$W/sends" | head -n 10)
n_sends=$(awk '$2 == 201' "$W/sends" | wc -l)
check "$([[ -z $bad_sends && $n_sends == "$TOTAL" ]]; echo $?)" \
	"all $TOTAL concurrent sends answered 201 ($n_sends did; $(((t_sent - t_start) / 1000000)) ms)" "$bad_sends"

# The direct chats' ids, from the sends.
while read -r _ st i chat _; do
	[[ $st == 201 && -z ${CHAT_ID[$i]:-} ]] && CHAT_ID[$i]=$chat
done <"$W/sends"
mismatch=$(awk '$2 == 201 { if ($3 in c && c[$3] != $4) print "chat " $3 ": " c[$3] " and " $4; c[$3] = $4 }' "$W/sends")
check "$([[ -z $mismatch ]]; echo $?)" "the sends of each chat all went to one chat_id" "$mismatch"

poll_errors=
for ((u = 1; u <= USERS; u++)); do
	[[ -s $W/err-$u ]] && poll_errors+="user $u: $(head -n 5 "$W/err-$u")"$'\n'
done
check "$([[ -z $poll_errors ]]; echo $?)" "every poll answered 200 (polls per user: $(cat "$W"/stat-* | tr '\n' ' '))" "$poll_errors"

if [[ -n $killed_redis ]]; then
	back=1
	for ((i = 0; i < 60; i++)); do
		api GET /healthz
		[[ $STATUS == 200 && $(jq -r '.redis // empty' <<<"$BODY" 2>/dev/null) == ok ]] && { back=0; break; }
		sleep 0.5
	done
	now_pid=$(cat "$CHAT_VAR/run/redis.pid" 2>/dev/null)
	check "$back" "KILL_REDIS: Redis is back (pid ${now_pid:-?}; /healthz says redis ok)" "$(last_response)"
fi

# --- the verdict ---------------------------------------------------------------------------

# history TOKEN CHAT_ID OUT: every message of the chat the user may read, oldest first, as
# "seq content" lines, paging with after=; false (HIST_ERR says why) on an unexpected answer.
history()
{
	local after=0 more=true code
	: >"$3"
	while [[ $more == true ]]; do
		code=$(curl -sS --max-time 30 -o "$3.page" -w '%{http_code}' -H "Authorization: Bearer $1" \
			"$BASE_URL/v1/messages?chat_id=$2&after=$after&limit=200" 2>&1)
		if [[ $code != 200 ]]; then
			HIST_ERR="GET /v1/messages?chat_id=$2&after=$after&limit=200: status $code $(head -c 200 "$3.page")"
			return 1
		fi
		# The has_more flag first, then the messages.
		jq -r '(.has_more | tostring), (.messages[] | "\(.seq) \(.content)")' "$3.page" >"$3.lines" || {
			HIST_ERR="GET /v1/messages?chat_id=$2: not the expected JSON: $(head -c 200 "$3.page")"
			return 1
		}
		more=$(head -n 1 "$3.lines")
		tail -n +2 "$3.lines" >>"$3"
		after=$(tail -n 1 "$3" | cut -d' ' -f1)
		[[ -n $after ]] || break
	done
	return 0
}

# verify CHAT_ID HIST SENDS RECV: one line each, "N <messages in history>", "H <what is
# wrong with the history itself>" (seq 1..last, exactly the 201 sends), "F <what the
# feed got wrong>" (missing, more than once, out of order, other content); empty when fine.
verify()
{
	awk -v chat="$1" '
		FILENAME == ARGV[2] { n++; hist[n] = $0; hs[$1] = $0; if ($1 != n) hseq = 1; next }
		FILENAME == ARGV[3] { if ($2 == 201 && $4 == chat) { sent[$5 " " $6] = 1; ns++ }; next }
		$1 == chat { g++; line = $2 " " $3; seen[$2]++
			if (g > 1 && $2 + 0 <= prev + 0) dis = dis " " prev "->" $2
			prev = $2
			if (($2 in hs) && hs[$2] != line) bad = bad " " $2
			if (!($2 in hs)) extra = extra " " $2 }
		END {
			print "N " n
			h = ""
			if (hseq) h = h "seqs are not 1.." n "; "
			for (i = 1; i <= n; i++) if (!(hist[i] in sent)) { h = h "not a 201 send: " hist[i] "; "; break }
			if (ns != n) h = h ns " sends answered 201 for it, " n " in history; "
			print "H " h
			f = ""
			for (s in hs) if (!(s in seen)) miss = miss " " s
			for (s in seen) if (seen[s] > 1) dup = dup " " s "(x" seen[s] ")"
			if (miss != "") f = f "missing seqs:" miss "; "
			if (dup != "") f = f "more than once:" dup "; "
			if (dis != "") f = f "out of order:" dis "; "
			if (extra != "") f = f "not in history:" extra "; "
			if (bad != "") f = f "other content:" bad "; "
			if (f != "") f = f "(" g " events, " n " in history)"
			print "F " f
		}' /dev/null "$2" "$3" "$4"
}

hist_bad=
declare -A HIST_N=()
verdicts=() problems=()
for ((u = 1; u <= USERS; u++)); do
	detail='' nmsg=0
	known=
	for i in $(chats_of "$u"); do
		chat=${CHAT_ID[$i]:-}
		if [[ -z $chat ]]; then
			detail+="chat $i: no chat_id (no send answered 201); "
			continue
		fi
		known+="$chat "
		if ! history "${toks[u]}" "$chat" "$W/hist-$u-$i"; then
			hist_bad+="user $u chat $i: $HIST_ERR"$'\n'
			continue
		fi
		n='' h='' feed_bad=''
		while read -r tag rest; do
			case $tag in
			N) n=$rest ;;
			H) h=$rest ;;
			F) feed_bad=$rest ;;
			esac
		done < <(verify "$chat" "$W/hist-$u-$i" "$W/sends" "$W/recv-$u")
		HIST_N[$i]=$n
		nmsg=$((nmsg + ${n:-0}))
		[[ -n $h ]] && hist_bad+="user $u chat $i ($chat): $h"$'\n'
		[[ -n $feed_bad ]] && detail+="chat $i ($chat): $feed_bad; "
	done
	stray=$(awk -v k=" $known" 'index(k, " " $1 " ") == 0 { n[$1]++ } END { for (c in n) printf "%s (%d) ", c, n[c] }' "$W/recv-$u")
	[[ -n $stray ]] && detail+="message events of chats it is not in: $stray; "
	verdicts[u]="user $u: every message of its chats ($(chats_of "$u")= $nmsg messages) exactly once, in seq order, no gap"
	problems[u]=$detail
done
check "$([[ -z $hist_bad ]]; echo $?)" "the histories (GET /v1/messages) are seq 1..last and hold exactly the sends that answered 201" "$hist_bad"
sum=0
for i in "${!HIST_N[@]}"; do sum=$((sum + HIST_N[$i])); done
check "$((sum == TOTAL ? 0 : 1))" "the chats hold $sum messages in all ($TOTAL sent)"

lost=()
for ((u = 1; u <= USERS; u++)); do
	[[ -n ${problems[u]} ]] && lost+=("user $u: ${problems[u]}")
done
if [[ $EXPECT_LOSS == 1 ]]; then
	check "$((${#lost[@]} > 0 ? 0 : 1))" "EXPECT_LOSS=1: the check detects a loss or a disorder (${#lost[@]} of $USERS users)" \
		"no user missed, repeated or misordered anything: the check could not fail here"
	((${#lost[@]} > 0)) && diag "${lost[@]}"
else
	for ((u = 1; u <= USERS; u++)); do
		check "$([[ -z ${problems[u]} ]]; echo $?)" "${verdicts[u]}" "${problems[u]}"
	done
fi
diag "setup $t_setup ms, sends $(((t_sent - t_start) / 1000000)) ms, drain $(((t_drained - t_sent) / 1000000)) ms, checks $(ms_since "$t_drained") ms (load average $(cut -d' ' -f1-3 /proc/loadavg))"

if [[ -n ${ORDER_KEEP:-} ]]; then
	mkdir -p "$ORDER_KEEP" && cp -r "$W"/. "$ORDER_KEEP"/
fi
tap_done
