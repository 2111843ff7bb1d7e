#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/send.sh: throughput and latency of 1:1 sends (POST /v1/messages) through the web
# server, with wrk and bench/send.lua: SENDERS distinct senders, each writing to its own
# receiver (so each pair is its own direct chat).
#
# It makes (or reuses, from BENCH_OUT) SENDERS senders bs0001.. and as many receivers
# br0001.., logs them in, sends one first message per pair with curl (that creates the
# pair's chat, outside the measured runs), then for each number of connections in
# CONNECTIONS runs a warm-up and a measured wrk run. Each connection sends as its own
# sender (see bench/send.lua). For each run it reports messages/s (answers 201),
# p50/p90/p99 latency, the answers that were not 201, the messages that PostgreSQL holds
# afterwards (the pairs' chats' last_seq), the time chatd itself spent per send (from its
# log), the CPU used by each part of the stack, and what PostgreSQL's backends waited for
# (bench/pg-waits.sql).
#
# The stack should run without a send rate limit and with durable commits:
#   CHAT_PORT=18400 CHAT_VAR=/tmp/bench-var CHAT_RATE_LIMIT=0 script/server
# The script says so when chatd's CHAT_RATE_LIMIT is not 0 or synchronous_commit is not on.
#
# Needs: curl, jq, wrk, psql, runuser, /usr/bin/time. Run as root (runuser, /proc).
#
# Environment (all optional; see bench/msglib.sh for BASE_URL, CHAT_VAR, DURATION,
# WARMUP, BENCH_OUT, PARALLEL):
#   CONNECTIONS  "16 64"   wrk -c values, one run each
#   SENDERS      128       senders (and receivers); at least the largest CONNECTIONS
#   THREADS      2         wrk -t
#   PERF         0         1: also samples the machine with perf during the first half of
#                          each run ($BENCH_OUT/send-cN.perf.txt; needs perf)
#
# Example:  CHAT_VAR=/tmp/bench-var bench/send.sh
set -euo pipefail
# shellcheck source=bench/msglib.sh
. "$(dirname "$0")/msglib.sh"

CONNECTIONS=${CONNECTIONS:-16 64}
SENDERS=${SENDERS:-128}
THREADS=${THREADS:-2}

msg_init wrk psql runuser
[[ -x /usr/bin/time ]] || die "missing /usr/bin/time (Debian: apt-get install time)"
[[ $SENDERS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]] || die "SENDERS and THREADS: positive numbers"
for c in $CONNECTIONS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] && ((c <= SENDERS && c >= THREADS)) ||
		die "CONNECTIONS: each from THREADS ($THREADS) to SENDERS ($SENDERS) (got '$c')"
done

# ---------------------------------------------------------------- the stack's settings

sync_commit=$(chat_psql -Atc 'SHOW synchronous_commit')
[[ $sync_commit == on ]] || say "warning: synchronous_commit is $sync_commit, not on: commits are not durable"
rate_limit=unknown
if [[ -r $CHAT_VAR/run/chatd-1.pid ]]; then
	rate_limit=$(tr '\0' '\n' <"/proc/$(<"$CHAT_VAR/run/chatd-1.pid")/environ" 2>/dev/null |
		sed -n 's/^CHAT_RATE_LIMIT=//p')
fi
[[ $rate_limit == 0 ]] || say "warning: chatd runs with CHAT_RATE_LIMIT=${rate_limit:-unset}: sends beyond it answer 429"
say "synchronous_commit=$sync_commit, chatd CHAT_RATE_LIMIT=$rate_limit"

# ---------------------------------------------------------------- senders and receivers

users_make bs "$SENDERS"
users_make br "$SENDERS"
pairs=$BENCH_OUT/pairs.tsv
if [[ ! -s $pairs ]] || (($(wc -l <"$pairs") != SENDERS)) || [[ $pairs -ot $BENCH_OUT/users-bs.tsv ]]; then
	say "a first message for each of the $SENDERS pairs (creates their chats)"
	: >"$pairs.tmp"
	while IFS=$'\t' read -r _ _ token <&3 && IFS=$'\t' read -r _ rid _ <&4; do
		TOKEN=$token api POST /v1/messages "$(jq -nc --arg r "$rid" --arg k "first-$(date +%s%N)" \
			'{receiver_id: $r, message_type: "text", content: "hello", client_msg_id: $k}')"
		[[ $STATUS == 201 ]] || die "first message to $rid: $STATUS $BODY"
		printf '%s\t%s\t%s\n' "$token" "$rid" "$(jq -r .chat_id <<<"$BODY")" >>"$pairs.tmp"
	done 3<"$BENCH_OUT/users-bs.tsv" 4<"$BENCH_OUT/users-br.tsv"
	mv "$pairs.tmp" "$pairs"
fi
chat_ids=$(cut -f3 "$pairs" | paste -sd, -)
(($(cut -f3 "$pairs" | sort -u | wc -l) == SENDERS)) || die "$pairs: the pairs do not have distinct chats"

# The messages of the pairs' chats, as PostgreSQL holds them.
stored() { chat_psql -Atc "SELECT sum(last_seq) FROM chats WHERE id = ANY ('{$chat_ids}'::uuid[])"; }

# ---------------------------------------------------------------- the runs

run_before() {
	STORED_BEFORE=$(stored)
	LOG_MARK=$(chatd_log_mark)
	WAITS_NAME=$1
	waits_start chatd
	perf_start "$1" $((DUR_S / 2))
}
run_after() {
	STORED_AFTER=$(stored)
	waits_stop
	perf_stop "$1"
}

{
	echo "#### Machine"
	echo
	machine_md
	echo "- chatd: CHAT_RATE_LIMIT=$rate_limit, CHAT_THREADS=$(tr '\0' '\n' <"/proc/$(<"$CHAT_VAR/run/chatd-1.pid")/environ" 2>/dev/null | sed -n 's/^CHAT_THREADS=//p' | grep . || echo '16 (default)'), instances: $(ls "$CHAT_VAR"/run/chatd-*.pid 2>/dev/null | wc -l)"
	echo
} >"$BENCH_OUT/send-machine.md"
cat "$BENCH_OUT/send-machine.md" >&2

rows=()
commands=()
details=()
for c in $CONNECTIONS; do
	name=send-c$c
	wrk_run "$name" -t"$THREADS" -c"$c" --timeout 10s --latency -s "$BENCH_DIR/send.lua" \
		"$BASE_URL/v1/messages" -- "$pairs" "$THREADS"
	# RESULT <201/s> <p50> <p90> <p99> <max> <requests> <201> <non-201> <5xx> <sock> <starved>
	read -r _ rate p50 p90 p99 pmax _ ok non201 _ sockerr starved <<<"$RESULT"
	committed=$((STORED_AFTER - STORED_BEFORE))
	statuses=$(awk '/^STATUS / { printf "%s%s x%s", (n++ ? ", " : ""), $2, $3 }' "$BENCH_OUT/$name.txt")
	inchatd=$(chatd_log_stats "$LOG_MARK" POST /v1/messages)
	echo "$inchatd" >>"$BENCH_OUT/$name.txt"
	printf '%s %s\n' "$c" "$rate" >>"$BENCH_OUT/send-rates.txt"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$c" "$rate" "$p50" \
		"$p90" "$p99" "$pmax" "$ok" "$non201${statuses:+ ($statuses)}" "$sockerr" "$committed")")
	commands+=("wrk -t$THREADS -c$c -d$DURATION --timeout 10s --latency -s bench/send.lua $BASE_URL/v1/messages -- $pairs $THREADS")
	details+=("- c=$c: $CPU_LINE; in chatd (its log): ${inchatd//$'\n'/; }; sends without a free sender: $starved" "" \
		"  pg_stat_activity of chatd's connections during the run (share of 0.1 s samples):" "" \
		"$(sed 's/^/      /' "$BENCH_OUT/$name.waits.txt")" "")
	((non201 + sockerr == 0)) || say "warning: $name: $non201 answers were not 201 ($statuses), $sockerr socket errors"
	((committed >= ok && committed <= ok + c)) || say "warning: $name: $ok answers 201 but $committed messages committed"
done

{
	echo "#### Direct sends through lighttpd ($THREADS wrk threads, $SENDERS senders, $DURATION per run)"
	echo
	echo "| connections | messages/s (201) | p50 ms | p90 ms | p99 ms | max ms | 201 | not 201 | socket errors | committed (PostgreSQL) |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Command lines (each after a warm-up of $WARMUP with the same arguments):"
	echo
	printf '    %s\n' "${commands[@]}"
	echo
	echo "Where the time went (CPU in cores = CPU seconds per second of the run, out of $(nproc)):"
	echo
	printf '%s\n' "${details[@]}"
} | tee "$BENCH_OUT/send-results.md"
say "done; outputs in $BENCH_OUT"
