#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/delivery.sh: real-time delivery benchmarks (GET /v1/events long-polls) with the
# load driver bench/polld.c. Each step starts its own private stack (script/server on
# 127.0.0.1:PORT, data in CHAT_VAR, CHAT_RATE_LIMIT=0) with the settings it needs, runs
# polld, and stops the stack again; users, tokens and groups are kept in OUT and in the
# stack's database, so later runs reuse them.
#
#   build    cc -O2 bench/polld.c -> $OUT/polld
#   users    MAX_USERS users du000001.. (register + log in, 8 at a time: logins are argon2
#            hashed on 2 threads); $OUT/users-du.tsv
#   groups   groups of 500: users 1-500 form the group of step "group", and the first
#            HELD users form HELD/500 groups for "held" ($OUT/groups.tsv)
#   rate     1:1 messages between random pairs of USERS users, each holding a poll, at
#            each of RATES messages/s for DURATION s: delivery latency. The users are taken
#            after the first RATE_SKIP (8000) of the file, so that they are in no group
#            (a group member's poll going online sends presence events to every member)
#   held     HELD polls held in one chatd behind WEB (lighttpd or nginx): VmRSS/VmHWM of
#            chatd and the web server, chatd's threads; then 2 rounds in which every poll
#            gets a message: HELD_MODE=group (default) one message to each of the groups
#            of 500 that the held users form, HELD_MODE=direct one direct message per pair
#   group    a 500-member group: send -> last member's poll answered, ROUNDS rounds, with
#            CHAT_INSTANCES=1 and 2
#   nchan    the same 500-subscriber fan-out with nginx + nchan (bench/nchan/)
#
# Usage: bench/delivery.sh [STEP...]     (no step: build users groups rate group nchan held)
# Run as root (script/server needs it). Results: $OUT/*.txt, one RESULT line each, and
# $OUT/summary.txt.
#
# Environment (all optional):
#   PORT 18700   CHAT_VAR /tmp/deliv-var   OUT /tmp/chatd-bench-deliv
#   USERS 1000   RATES "200 1000"   DURATION 20   MAX_USERS 10000   HELD 8000
#   WEB lighttpd   ROUNDS 10   GAP 10 (s between rounds)   NCHAN_PORT 18790   POLL_THREADS (chatd's default, 4)
#   HELD_MODE group|direct   RATE_SKIP 8000 (users before the rate users: those in groups)
#   TAG ""   (appended to the names of the outputs, e.g. -pt16)
#   SAMPLE_PG ""   (set: sample pg_stat_activity every 0.1 s during each run: NAME.pgact.txt
#            lists the statements by the average number of sessions running them)
#   CHAT_SRC (this repository)   the source tree whose script/server runs the stack; e.g.
#            an export of HEAD: git archive HEAD | tar -x -C /tmp/deliv-src, with the
#            commit id in /tmp/deliv-src/.commit
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
# The tree whose script/server (and build/) runs the stack: a fixed export of a commit
# (git archive HEAD | tar -x -C DIR) keeps the runs apart from edits in the working tree.
CHAT_SRC=$(cd "${CHAT_SRC:-$REPO}" && pwd -P)
PORT=${PORT:-18700}
CHAT_VAR=${CHAT_VAR:-/tmp/deliv-var}
OUT=${OUT:-/tmp/chatd-bench-deliv}
USERS=${USERS:-1000}
RATES=${RATES:-200 1000}
DURATION=${DURATION:-20}
MAX_USERS=${MAX_USERS:-10000}
HELD=${HELD:-8000}
WEB=${WEB:-lighttpd}
ROUNDS=${ROUNDS:-10}
NCHAN_PORT=${NCHAN_PORT:-18790}
TAG=${TAG:-}
RATE_SKIP=${RATE_SKIP:-8000}
HELD_MODE=${HELD_MODE:-group}
GAP=${GAP:-10}
POLLD=$OUT/polld
STACK_PID=
NCHAN_PID=

say() { printf '%s [delivery] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[[ $EUID == 0 ]] || die "run as root (script/server needs it)"
[[ $PORT =~ ^[0-9]+$ && $NCHAN_PORT =~ ^[0-9]+$ ]] || die "PORT and NCHAN_PORT must be numbers"
mkdir -p "$OUT"
# One descriptor per held poll, plus the send connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------- the stack

# stack_up INSTANCES [ENV=VALUE...]: script/server in the background, until /healthz is 200.
stack_up() {
	local n=$1 i
	shift
	port_free "$PORT" || die "127.0.0.1:$PORT is in use"
	say "starting the stack: CHAT_INSTANCES=$n CHAT_WEB=$WEB $*"
	(
		cd "$CHAT_SRC"
		exec setsid env CHAT_PORT="$PORT" CHAT_VAR="$CHAT_VAR" CHAT_RATE_LIMIT=0 \
			CHAT_INSTANCES="$n" CHAT_WEB="$WEB" "$@" script/server
	) >>"$OUT/server.log" 2>&1 </dev/null &
	STACK_PID=$!
	for ((i = 0; i < 240; i++)); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$PORT/healthz") == 200 ]]; then
			return 0
		fi
		kill -0 "$STACK_PID" 2>/dev/null || die "script/server exited (see $OUT/server.log)"
		sleep 0.5
	done
	die "the stack did not answer /healthz within 120 s"
}

stack_down() {
	[[ -n $STACK_PID ]] || return 0
	say "stopping the stack (pid $STACK_PID)"
	kill -TERM "$STACK_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 120; i++)); do
		kill -0 "$STACK_PID" 2>/dev/null || break
		sleep 0.5
	done
	STACK_PID=
	# Nothing of this stack may remain.
	if pgrep -f -- "$CHAT_VAR" >/dev/null; then
		say "warning: processes of $CHAT_VAR remain: $(pgrep -f -- "$CHAT_VAR" | tr '\n' ' ')"
	fi
}

nchan_down() {
	[[ -n $NCHAN_PID ]] || return 0
	kill -TERM "$NCHAN_PID" 2>/dev/null || true
	wait "$NCHAN_PID" 2>/dev/null || true
	NCHAN_PID=
}

cleanup() {
	stack_down
	nchan_down
}
on_exit() {
	local rc=$?
	((rc == 0)) || say "exiting with status $rc"
	cleanup
}
trap on_exit EXIT
trap 'say "SIGINT"; exit 130' INT
trap 'say "SIGTERM"; exit 143' TERM
trap 'say "SIGHUP"; exit 129' HUP

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_of() { cat "$CHAT_VAR/run/$1.pid" 2>/dev/null; }

# monitor_spec: name=pid,... of the chatd instances and the web server (and its workers).
monitor_spec() {
	local spec="" f name pid child
	for f in "$CHAT_VAR"/run/chatd-*.pid "$CHAT_VAR/run/web.pid"; do
		[[ -f $f ]] || continue
		name=$(basename "$f" .pid)
		pid=$(<"$f")
		spec+="${spec:+,}$name=$pid"
		for child in $(pgrep -P "$pid" 2>/dev/null); do
			spec+=",$name-worker=$child"
		done
	done
	echo "$spec"
}

machine() {
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "cpu: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -r); lighttpd: $(lighttpd -v 2>/dev/null | head -n 1); nginx: $(nginx -v 2>&1)"
	echo "nchan: $(dpkg-query -W -f='${Version}' libnginx-mod-nchan 2>/dev/null || echo none)"
	echo "chatd: $CHAT_SRC, commit $(cat "$CHAT_SRC/.commit" 2>/dev/null ||
		git -C "$CHAT_SRC" rev-parse --short HEAD 2>/dev/null || echo unknown)"
}

# chat_psql SQL: one value from the stack's database, as the system user chatd.
chat_psql() {
	runuser -u chatd -- /usr/lib/postgresql/15/bin/psql -X -At -h "$CHAT_VAR/run/pg" -d chat -c "$1"
}

# pg_snap: transactions, rows updated in devices (poll acknowledgements), receipts
# inserted, WAL flushes.
pg_snap() {
	chat_psql "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = 'chat') || ' ' ||
		(SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'devices') || ' ' ||
		(SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'receipts') || ' ' ||
		(SELECT wal_sync FROM pg_stat_wal)" 2>/dev/null || echo "0 0 0 0"
}

# redis_snap: calls and microseconds of EVAL (wake-ups, registry), and calls of HGETALL and
# XADD (ephemeral events), from INFO commandstats.
redis_snap() {
	redis-cli -s "$CHAT_VAR/run/redis.sock" info commandstats 2>/dev/null | tr -d '\r' | awk -F'[:,=]' '
		$1 == "cmdstat_eval" { ec = $3; eu = $5 }
		$1 == "cmdstat_hgetall" { hg = $3 }
		$1 == "cmdstat_xadd" { xa = $3 }
		END { printf "%d %d %d %d\n", ec, eu, hg, xa }' || true
}

# pg_sampler FILE: every 0.1 s, the active statements of chatd's PostgreSQL sessions (the
# first 70 characters, and the wait event) go to FILE, until killed.
pg_sampler() {
	while :; do
		chat_psql "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') || ' | ' ||
			left(regexp_replace(query, '\s+', ' ', 'g'), 70)
			FROM pg_stat_activity WHERE datname = 'chat' AND state = 'active'
			AND pid <> pg_backend_pid()" 2>/dev/null || true
		echo "--"
		sleep 0.1
	done >"$1"
}

# ticks PID...: user + system clock ticks of these processes (all threads).
ticks() {
	local pid st total=0
	for pid in "$@"; do
		{ read -r st <"/proc/$pid/stat"; } 2>/dev/null || continue
		st=${st##*) }
		total=$((total + $(awk '{ print $12 + $13 }' <<<"$st")))
	done
	echo "$total"
}

# cpu_snap: CPU ticks of chatd (all instances), PostgreSQL (every process working in this
# stack's data directory), Redis and the web server (with its workers).
cpu_snap() {
	local chatd=() pg web=() f p
	for f in "$CHAT_VAR"/run/chatd-*.pid; do [[ -f $f ]] && chatd+=("$(<"$f")"); done
	pg=$(find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' -lname "$CHAT_VAR/pg" \
		-printf '%h\n' 2>/dev/null | sed 's|^/proc/||')
	if [[ -f $CHAT_VAR/run/web.pid ]]; then
		p=$(<"$CHAT_VAR/run/web.pid")
		mapfile -t web < <(echo "$p"; pgrep -P "$p" 2>/dev/null || true)
	fi
	# shellcheck disable=SC2086 # one pid a word
	echo "$(ticks "${chatd[@]}") $(ticks $pg) $(ticks "$(pid_of redis)") $(ticks "${web[@]}")"
}

# run NAME POLLD_ARGS...: one polld run; its output in $OUT/NAME.txt, with the command line,
# the load average, PostgreSQL counters and CPU time of the stack around it; the RESULT line
# goes to $OUT/summary.txt.
run() {
	local name=$1 pg0 pg1 cpu0 cpu1 hz rd0 rd1
	shift
	say "$name: polld $*"
	{
		echo "COMMAND polld $*"
		echo "LOAD before $(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$OUT/$name.txt"
	pg0=$(pg_snap)
	cpu0=$(cpu_snap)
	rd0=$(redis_snap)
	local sampler=
	if [[ -n ${SAMPLE_PG:-} ]]; then
		pg_sampler "$OUT/$name.pgact.raw" &
		sampler=$!
	fi
	"$POLLD" "$@" >>"$OUT/$name.txt" 2>&1 || say "warning: polld exited with $? ($name)"
	if [[ -n $sampler ]]; then
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		# share of samples in which a statement was active, most frequent first
		awk '/^--$/ { n++; next } { c[$0]++ } END { for (k in c) printf "%6.2f %s\n", c[k] / n, k }' \
			"$OUT/$name.pgact.raw" | sort -rn | head -n 15 >"$OUT/$name.pgact.txt" || true
	fi
	pg1=$(pg_snap)
	cpu1=$(cpu_snap)
	rd1=$(redis_snap)
	hz=$(getconf CLK_TCK)
	{
		echo "LOAD after $(cut -d' ' -f1-3 /proc/loadavg)"
		paste -d' ' <(tr ' ' '\n' <<<"$pg0") <(tr ' ' '\n' <<<"$pg1") |
			awk 'BEGIN { split("xacts device_updates receipts wal_syncs", n) }
				{ printf "%s%s=%d", (NR > 1 ? " " : "PGSTAT "), n[NR], $2 - $1 } END { print "" }'
		paste -d' ' <(tr ' ' '\n' <<<"$cpu0") <(tr ' ' '\n' <<<"$cpu1") |
			awk -v hz="$hz" 'BEGIN { split("chatd postgres redis web", n) }
				{ printf "%s%s_s=%.2f", (NR > 1 ? " " : "CPU "), n[NR], ($2 - $1) / hz } END { print "" }'
		paste -d' ' <(tr ' ' '\n' <<<"$rd0") <(tr ' ' '\n' <<<"$rd1") |
			awk 'BEGIN { split("eval_calls eval_ms hgetall_calls xadd_calls", n) }
				{ d = $2 - $1; if (NR == 2) d = d / 1000
				  printf "%s%s=%d", (NR > 1 ? " " : "REDIS "), n[NR], d } END { print "" }'
	} >>"$OUT/$name.txt"
	grep -E '^(RESULT|PROC|PGSTAT|CPU|REDIS|LOAD)' "$OUT/$name.txt" | sed "s/^/$name /" |
		tee -a "$OUT/summary.txt" >&2 || true
}

# log_problems NAME MARK...: the chatd log lines after the marks that are not 2xx request lines.
log_mark() {
	local f
	for f in "$CHAT_VAR"/log/chatd-*.log; do
		[[ -f $f ]] && echo "$f $(wc -c <"$f")"
	done
}
log_problems() {
	local name=$1 marks=$2 f size
	while read -r f size; do
		[[ -n $f ]] || continue
		# (head may close the pipe early: its SIGPIPE upstream is no failure)
		tail -c +"$((size + 1))" "$f" | grep -v -E ' (GET|POST) /[^ ]* 2[0-9][0-9] ' |
			sed "s|^|$(basename "$f"): |" | head -n 50 || true
	done <<<"$marks" >"$OUT/$name.chatd-log.txt"
	tail -n 20 "$CHAT_VAR/log/web-error.log" >"$OUT/$name.web-error.txt" 2>/dev/null || true
	if [[ -s $OUT/$name.chatd-log.txt ]]; then
		say "$name: chatd logged $(wc -l <"$OUT/$name.chatd-log.txt") line(s) other than 2xx requests ($OUT/$name.chatd-log.txt)"
	fi
}

# ---------------------------------------------------------------- steps

step_build() {
	cc -O2 -Wall -Wextra -o "$POLLD" "$REPO/bench/polld.c" || die "cannot build polld"
	say "built $POLLD"
}

step_users() {
	local f=$OUT/users-du.tsv
	if [[ -s $f ]] && (($(wc -l <"$f") >= MAX_USERS)); then
		say "reusing $MAX_USERS users ($f)"
		return 0
	fi
	stack_up 1
	say "making $MAX_USERS users (8 logins at a time)"
	"$POLLD" users -p "$PORT" -n "$MAX_USERS" -P du -o "$f.tmp" -c 8
	sort "$f.tmp" >"$f"
	rm -f "$f.tmp"
	stack_down
}

# make_group FIRST COUNT: a group of users FIRST+1..FIRST+COUNT (0-based FIRST), created by
# the first of them; prints its id.
make_group() {
	local first=$1 count=$2 token members body code
	token=$(sed -n "$((first + 1))p" "$OUT/users-du.tsv" | cut -f3)
	members=$(sed -n "$((first + 2)),$((first + count))p" "$OUT/users-du.tsv" | cut -f2 |
		jq -Rsc 'split("\n") | map(select(. != ""))')
	body=$(jq -nc --argjson m "$members" '{name: "delivery bench", member_ids: $m}')
	code=$(curl -s -o "$OUT/.group.json" -w '%{http_code}' -m 60 -X POST \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		--data-binary "$body" "http://127.0.0.1:$PORT/v1/groups")
	[[ $code == 201 ]] || die "creating a group: $code $(cat "$OUT/.group.json")"
	jq -r .group_id "$OUT/.group.json"
}

step_groups() {
	local f=$OUT/groups.tsv want g
	want=$((HELD > MAX_USERS ? MAX_USERS / 500 : HELD / 500))
	if [[ -s $f ]] && (($(wc -l <"$f") >= want)); then
		say "reusing the groups ($f)"
		return 0
	fi
	stack_up 1
	: >"$f.tmp"
	for ((g = 0; g < want; g++)); do
		printf '%s\t%d\t500\n' "$(make_group $((g * 500)) 500)" $((g * 500)) >>"$f.tmp"
	done
	mv "$f.tmp" "$f"
	say "$want groups of 500 ($f)"
	stack_down
}

# A fresh stack for every run: polls that a finished run left parked in chatd would stay
# there until their timeout (55 s).
step_rate() {
	local r marks
	for r in $RATES; do
		stack_up 1 ${POLL_THREADS:+CHAT_POLL_THREADS=$POLL_THREADS}
		marks=$(log_mark)
		run "rate-$r$TAG" rate -p "$PORT" -u "$OUT/users-du.tsv" -O "$RATE_SKIP" -n "$USERS" -r "$r" \
			-d "$DURATION" -w 5 -c 64 -M "$(monitor_spec)"
		log_problems "rate-$r$TAG" "$marks"
		stack_down
	done
}

step_group() {
	local n marks
	head -n 1 "$OUT/groups.tsv" >"$OUT/group1.tsv"
	for n in 1 2; do
		stack_up "$n" ${POLL_THREADS:+CHAT_POLL_THREADS=$POLL_THREADS}
		marks=$(log_mark)
		run "group500-i$n$TAG" burst -p "$PORT" -u "$OUT/users-du.tsv" -n 500 \
			-g "$OUT/group1.tsv" -k "$ROUNDS" -G "$GAP" -M "$(monitor_spec)"
		log_problems "group500-i$n$TAG" "$marks"
		stack_down
	done
}

step_nchan() {
	port_free "$NCHAN_PORT" || die "127.0.0.1:$NCHAN_PORT is in use"
	setsid "$REPO/bench/nchan/run.sh" "$NCHAN_PORT" "$OUT/nchan" 1 >"$OUT/nchan.log" 2>&1 &
	NCHAN_PID=$!
	local i spec child
	for ((i = 0; i < 40; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 -X POST -d warm \
			"http://127.0.0.1:$NCHAN_PORT/pub/warm") == 20[12] ]] && break
		sleep 0.25
	done
	spec="nginx=$NCHAN_PID"
	for child in $(pgrep -P "$NCHAN_PID"); do spec+=",nginx-worker=$child"; done
	run "nchan500$TAG" burst --nchan bench -p "$NCHAN_PORT" -N 500 -k "$ROUNDS" -G "$GAP" -M "$spec"
	nchan_down
}

# HELD polls held (VmRSS/VmHWM, threads and descriptors of chatd and the web server, from
# /proc once all are held and after 5 s more), then HELD_ROUNDS (2) rounds: user 2i sends
# one direct message to user 2i+1 (HELD/2 sends over 64 connections), until every poll is
# answered (at most 120 s).
step_held() {
	local marks name=held$HELD-$WEB-$HELD_MODE$TAG how=()
	# group: one message to each group of 500 (an event for every poll at once, from
	# HELD/500 sends); direct: user 2i sends to user 2i+1 (HELD/2 sends).
	[[ $HELD_MODE == group ]] && how=(-g "$OUT/groups.tsv")
	stack_up 1 ${POLL_THREADS:+CHAT_POLL_THREADS=$POLL_THREADS}
	marks=$(log_mark)
	run "$name" burst -p "$PORT" -u "$OUT/users-du.tsv" -O "${HELD_SKIP:-0}" -n "$HELD" \
		"${how[@]}" -k "${HELD_ROUNDS:-2}" -G 10 -H 5 -s 1000 -L 300 -D 120 -c 64 \
		-M "$(monitor_spec)"
	log_problems "$name" "$marks"
	stack_down
}

steps=("$@")
((${#steps[@]} > 0)) || steps=(build users groups rate group nchan held)
machine | tee "$OUT/machine.txt" >&2
for s in "${steps[@]}"; do
	case $s in
	build | users | groups | rate | group | nchan | held) "step_$s" ;;
	*) die "unknown step $s (build users groups rate group nchan held)" ;;
	esac
done
say "done; results in $OUT/summary.txt"
