#!/usr/bin/env bash
# Faults (OPERATIONS.md "Processes and faults"): each process of the stack is killed with
# SIGKILL in turn (a chatd instance, Redis, the PostgreSQL postmaster, the web server). The
# supervisor (script/server, or script/test's stack) must start it again within seconds,
# with the same data; meanwhile /healthz answers only 200 or a JSON 502/503; afterwards
# everything works without restarting anything else, and nothing durable was lost.
#
# Needs the stack's $CHAT_VAR (pid files under $CHAT_VAR/run) and root, to send the signals;
# without them it skips. Other tests may run after this one: it ends with a healthy stack.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

RUN_DIR=${CHAT_VAR:+$CHAT_VAR/run}
RECOVERY_S=${FAULT_RECOVERY_S:-15}

if [[ -z $RUN_DIR || ! -r $RUN_DIR/web.pid ]]; then
	echo "1..0 # SKIP needs CHAT_VAR of a stack started by script/server or script/test"
	exit 0
fi
if [[ $EUID != 0 ]]; then
	echo "1..0 # SKIP needs root to kill the stack's processes"
	exit 0
fi

# pid_of NAME: the pid in run/NAME.pid (empty if none).
pid_of()
{
	cat "$RUN_DIR/$1.pid" 2>/dev/null || true
}

# alive PID: the process runs (a zombie does not).
alive()
{
	local st
	[[ -n $1 ]] || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# group_left PGID: pids of live processes still in process group PGID.
group_left()
{
	local f st rest
	for f in /proc/[0-9]*/stat; do
		st=$(cat "$f" 2>/dev/null) || continue
		rest=${st##*) }
		read -r state _ pgrp _ <<<"$rest"
		[[ $pgrp == "$1" && $state != Z ]] && printf '%s ' "${f//[^0-9]/}"
	done
}

# healthz_until_ok SECONDS: polls /healthz four times a second until it answers 200. Sets
# SEEN (every status seen, in order, repeats folded), BAD (answers that were neither 200
# nor a JSON 500/502/503 error) and ELAPSED_MS. A JSON 500 is the web server's own answer
# to a request whose backend connection broke under it (lighttpd 1.4.69 answers 500, not
# 502, when a chatd is killed with the request accepted): it fails cleanly, never a 2xx.
healthz_until_ok()
{
	local limit_ms=$(($1 * 1000)) start now code ct last=
	SEEN='' BAD='' ELAPSED_MS=0
	start=$(date +%s%3N)
	while :; do
		code=$(curl -s -m 3 -o "$TEST_TMP/h.body" -D "$TEST_TMP/h.headers" -w '%{http_code}' \
			"$BASE_URL/healthz" 2>/dev/null)
		code=${code:-000}
		[[ $code != "$last" ]] && SEEN+="${SEEN:+ }$code"
		last=$code
		now=$(date +%s%3N)
		ELAPSED_MS=$((now - start))
		[[ $code == 200 ]] && return 0
		if [[ $code == 500 || $code == 502 || $code == 503 ]]; then
			ct=$(tr -d '\r' <"$TEST_TMP/h.headers" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | tail -n 1)
			if ! [[ ${ct,,} == application/json* ]] ||
				! jq -e '(.error.code | type) == "string" or (.status | type) == "string"' \
					<"$TEST_TMP/h.body" >/dev/null 2>&1; then
				BAD+=" $code($(head -c 120 "$TEST_TMP/h.body"))"
			fi
		elif [[ $code != 000 ]]; then
			# 000: the web server itself is down for a moment (connection refused).
			BAD+=" $code($(head -c 120 "$TEST_TMP/h.body"))"
		fi
		((ELAPSED_MS >= limit_ms)) && return 1
		sleep 0.25
	done
}

# wait_restarted NAME OLD_PID SECONDS: until run/NAME.pid names another live process.
wait_restarted()
{
	local i pid
	for ((i = 0; i < $3 * 4; i++)); do
		pid=$(pid_of "$1")
		[[ -n $pid && $pid != "$2" ]] && alive "$pid" && return 0
		sleep 0.25
	done
	return 1
}

# pg_leftovers NEW_PM: processes still working in the data directory that are not the new
# postmaster or its children (PostgreSQL backends call setsid(), so they are not in the
# postmaster's process group; after it was killed, they would be orphans).
pg_leftovers()
{
	local d pid ppid st
	while IFS= read -r d; do
		pid=${d#/proc/}
		st=$(cat "$d/stat" 2>/dev/null) || continue
		st=${st##*) }
		read -r _ ppid _ <<<"$st"
		[[ $pid == "$1" || $ppid == "$1" ]] || printf '%s ' "$pid"
	done < <(find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' -lname "$CHAT_VAR/pg" \
		-printf '%h\n' 2>/dev/null)
}

# --- before: a healthy stack and data that must survive -----------------------

api GET /healthz
expect_status 200 "the stack is healthy before the faults"

new_user ALICE
new_user BOB

send_message()
{
	api POST /v1/messages "$(jq -nc --arg to "${BOB_ID:-}" --arg id "$1" --arg c "$2" \
		'{receiver_id: $to, message_type: "text", content: $c, client_msg_id: $id}')" "${ALICE_TOKEN:-}"
}

# Messages are checked when the daemon has them (an unknown route is 404 until then).
send_message fault-before-1 "sent before the faults"
MESSAGES=1
if [[ $STATUS == 404 || $STATUS == 405 ]] && jq -e '.error.code == "not_found" or .error.code == "method_not_allowed"' <<<"$BODY" >/dev/null 2>&1; then
	MESSAGES=0
	skip "a message sent before the faults is accepted" "POST /v1/messages is not served yet"
else
	expect_status 201 "a message sent before the faults is accepted"
fi
CHAT_ID=$(jq -r '.chat_id // empty' <<<"$BODY" 2>/dev/null)

# --- the faults -----------------------------------------------------------------

for target in chatd-1 redis postgres web; do
	old=$(pid_of "$target")
	if [[ -z $old ]] || ! alive "$old"; then
		check 1 "$target runs before it is killed" "run/$target.pid: '${old:-missing}'"
		continue
	fi

	kill -KILL "$old"
	for ((i = 0; i < 40; i++)); do
		alive "$old" || break
		sleep 0.05
	done
	! alive "$old"
	check $? "kill -9 $target: the process is gone"

	# Meanwhile: 200, a JSON 500/502/503, or no connection at all while the web server is down.
	healthz_until_ok "$RECOVERY_S"
	check $? "after kill -9 $target, /healthz answers 200 again within ${RECOVERY_S} s" \
		"statuses seen: $SEEN" "last body: $(head -c 300 "$TEST_TMP/h.body")"
	diag "$target: /healthz back to 200 after ${ELAPSED_MS} ms (statuses seen: $SEEN)"
	[[ -z $BAD ]]
	check $? "while $target was down, /healthz answered only 200 or a JSON 500/502/503" "other answers:$BAD"

	wait_restarted "$target" "$old" 5
	rc=$?
	new=$(pid_of "$target")
	check $rc "$target was started again with a new pid" "run/$target.pid: $old -> $new"

	# What the killed process left running must be gone.
	left=$(group_left "$old")
	[[ $target == postgres ]] && left+=$(pg_leftovers "$new")
	[[ -z $left ]]
	check $? "nothing that the killed $target left behind still runs" "still running: $left"

	# Afterwards everything works, without another restart: a login (PostgreSQL and
	# password hashing), then requests that reach many of the daemon's connections.
	login "${ALICE_USERNAME:-}" "${ALICE_PASSWORD:-}"
	expect_status 201 "after kill -9 $target, a registered user logs in (POST /v1/sessions)"
	bad=
	for ((i = 0; i < 20; i++)); do
		api GET /v1/sessions "" "${ALICE_TOKEN:-}"
		[[ $STATUS == 200 ]] || bad+=" $STATUS"
	done
	[[ -z $bad ]]
	check $? "after kill -9 $target, 20 requests with a token from before all answer 200" "other statuses:$bad"
done

# --- after: nothing durable lost, everything works ------------------------------

api GET /healthz
expect_status 200 "after all the faults /healthz answers 200"
expect_jq '. == {"status":"ok","postgres":"ok","redis":"ok"}' "after all the faults PostgreSQL and Redis are ok"

if new_user CAROL; then
	tap_ok "a new user registers and logs in after the faults"
fi

if ((MESSAGES)); then
	send_message fault-before-1 "sent before the faults"
	expect_status 200 "the message sent before the faults replays (200): its client_msg_id survived"

	send_message fault-after-1 "sent after the faults"
	expect_status 201 "a message sent after the faults is accepted"
	expect_json .seq 2 "it takes the next seq of the chat (2): no gap, no duplicate"

	api GET "/v1/messages?chat_id=$CHAT_ID&limit=10" "" "${BOB_TOKEN:-}"
	expect_status 200 "the receiver reads the chat history after the faults"
	expect_jq '[.messages[].content] | sort == ["sent after the faults", "sent before the faults"]' \
		"the history holds both messages, once each"
else
	skip "messages survive the faults" "POST /v1/messages is not served yet"
fi

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
