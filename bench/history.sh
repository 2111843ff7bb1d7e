#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/history.sh: history pages of a long chat (GET /v1/messages), newest and deep in the
# past, with wrk and bench/history.lua; and the plan of the history query.
#
# It makes (or reuses) two users hh0001 and hh0002, whose direct chat gets a first message
# through the API, then MESSAGES messages in all with bench/history-seed.sql (SQL, one
# transaction; a chat that has them already is reused). It checks each page with curl
# (50 messages, the expected seqs, has_more), then runs wrk on each page in PAGES, as the
# receiver hh0002:
#
#   first   GET /v1/messages?chat_id=C&limit=50              seqs MESSAGES .. MESSAGES-49
#   middle  GET /v1/messages?chat_id=C&before=MESSAGES/2&limit=50
#   deep    GET /v1/messages?chat_id=C&before=1000&limit=50   seqs 999 .. 950
#
# and writes EXPLAIN (ANALYZE, BUFFERS) of the page query (bench/history-explain.sql) for
# the first and the deep page to $BENCH_OUT/history-explain.txt.
#
# Needs: curl, jq, wrk, psql, runuser, /usr/bin/time. Run as root (runuser).
#
# Environment (all optional; see bench/msglib.sh for BASE_URL, CHAT_VAR, DURATION,
# WARMUP, BENCH_OUT):
#   MESSAGES     100000           messages in the chat (at least 2000)
#   CONNECTIONS  16               wrk -c
#   THREADS      2                wrk -t
#   PAGES        "first middle deep"
#
# Example:  CHAT_VAR=/tmp/bench-var bench/history.sh
set -euo pipefail
# shellcheck source=bench/msglib.sh
. "$(dirname "$0")/msglib.sh"

MESSAGES=${MESSAGES:-100000}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PAGES=${PAGES:-first middle deep}

msg_init wrk psql runuser
[[ $MESSAGES =~ ^[0-9]+$ ]] && ((MESSAGES >= 2000)) || die "MESSAGES: at least 2000 (got '$MESSAGES')"

users_make hh 2
{
	IFS=$'\t' read -r _ _ sender_token
	IFS=$'\t' read -r _ reader_id reader_token
} <"$BENCH_OUT/users-hh.tsv"

# ---------------------------------------------------------------- the chat

TOKEN=$sender_token api POST /v1/messages "$(jq -nc --arg r "$reader_id" --arg k "hist-first" \
	'{receiver_id: $r, message_type: "text", content: "history message 1", client_msg_id: $k}')"
[[ $STATUS == 201 || $STATUS == 200 ]] || die "first message of the history chat: $STATUS $BODY"
chat_id=$(jq -r .chat_id <<<"$BODY")
last_seq=$(chat_psql -Atc "SELECT last_seq FROM chats WHERE id = '$chat_id'")
if ((last_seq < MESSAGES)); then
	say "seeding chat $chat_id: seqs $((last_seq + 1))..$MESSAGES (bench/history-seed.sql)"
	start=$(date +%s%N)
	chat_psql -q -v chat="$chat_id" -v n="$MESSAGES" -f "$BENCH_DIR/history-seed.sql" \
		>"$BENCH_OUT/history-seed.txt"
	say "seeded in $((($(date +%s%N) - start) / 1000000)) ms"
else
	chat_psql -Atc "SELECT c.last_seq, count(*) FROM chats c JOIN messages m ON m.chat_id = c.id
		WHERE c.id = '$chat_id' GROUP BY 1" >"$BENCH_OUT/history-seed.txt"
	say "chat $chat_id has $last_seq messages already"
fi
cat "$BENCH_OUT/history-seed.txt" >&2
last_seq=$(chat_psql -Atc "SELECT last_seq FROM chats WHERE id = '$chat_id'")

# ---------------------------------------------------------------- the pages

page_path() {
	case $1 in
	first) echo "/v1/messages?chat_id=$chat_id&limit=50" ;;
	middle) echo "/v1/messages?chat_id=$chat_id&before=$((MESSAGES / 2))&limit=50" ;;
	deep) echo "/v1/messages?chat_id=$chat_id&before=1000&limit=50" ;;
	*) die "PAGES: first, middle or deep (got '$1')" ;;
	esac
}
page_top() {
	case $1 in
	first) echo "$last_seq" ;;
	middle) echo $((MESSAGES / 2 - 1)) ;;
	deep) echo 999 ;;
	esac
}

for page in $PAGES; do
	TOKEN=$reader_token api GET "$(page_path "$page")"
	[[ $STATUS == 200 ]] || die "GET $(page_path "$page"): $STATUS $BODY"
	top=$(page_top "$page")
	check=$(jq -c --argjson top "$top" '{n: (.messages | length), first: .messages[0].seq,
		last: .messages[-1].seq, has_more,
		ok: ((.messages | map(.seq)) == [range($top; $top - 50; -1)] and .has_more)}' <<<"$BODY")
	say "$page page: $check"
	[[ $(jq -r .ok <<<"$check") == true ]] || die "$page page: not the 50 messages below $((top + 1)) with has_more"
done

# ---------------------------------------------------------------- the plans

{
	for hi in "$last_seq" 999; do
		chat_psql -v chat="$chat_id" -v viewer="$reader_id" -v hi="$hi" \
			-f "$BENCH_DIR/history-explain.sql" 2>&1
		echo
	done
} >"$BENCH_OUT/history-explain.txt"
grep -Eq '(^|->)[[:space:]]*(Incremental )?Sort( \(|$)' "$BENCH_OUT/history-explain.txt" &&
	say "warning: a plan of the history query sorts (see $BENCH_OUT/history-explain.txt)"

# ---------------------------------------------------------------- the runs

run_before() {
	LOG_MARK=$(chatd_log_mark)
}
rows=()
commands=()
details=()
for page in $PAGES; do
	name=history-$page
	path=$(page_path "$page")
	wrk_run "$name" -t"$THREADS" -c"$CONNECTIONS" --timeout 10s --latency \
		-s "$BENCH_DIR/history.lua" "$BASE_URL$path" -- "$reader_token"
	# RESULT <200/s> <p50> <p90> <p99> <max> <requests> <200> <non-200> <5xx> <sock>
	read -r _ rate p50 p90 p99 pmax _ _ non200 _ sockerr <<<"$RESULT"
	statuses=$(awk '/^STATUS / { printf "%s%s x%s", (n++ ? ", " : ""), $2, $3 }' "$BENCH_OUT/$name.txt")
	inchatd=$(chatd_log_stats "$LOG_MARK" GET /v1/messages)
	echo "$inchatd" >>"$BENCH_OUT/$name.txt"
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | `%s` | %s | %s | %s | %s | %s | %s | %s |' "$page" \
		"${path//$chat_id/C}" "$rate" "$p50" "$p90" "$p99" "$pmax" \
		"$non200${statuses:+ ($statuses)}" "$sockerr")")
	commands+=("wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout 10s --latency -s bench/history.lua '$BASE_URL${path//$chat_id/C}' -- <token of hh0002>")
	details+=("- $page: $CPU_LINE; in chatd (its log): ${inchatd//$'\n'/; }")
	((non200 + sockerr == 0)) || say "warning: $name: $non200 answers were not 200 ($statuses), $sockerr socket errors"
done

{
	echo "#### History pages ($MESSAGES messages in one direct chat C = $chat_id; $THREADS wrk threads, $CONNECTIONS connections, $DURATION per run)"
	echo
	echo "| page | path | requests/s (200) | p50 ms | p90 ms | p99 ms | max ms | not 200 | socket errors |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Command lines (each after a warm-up of $WARMUP with the same arguments):"
	echo
	printf '    %s\n' "${commands[@]}"
	echo
	echo "CPU in cores (CPU seconds per second of the run, out of $(nproc)):"
	echo
	printf '%s\n' "${details[@]}"
	echo
} | tee "$BENCH_OUT/history-results.md"
say "done; plans in $BENCH_OUT/history-explain.txt"
