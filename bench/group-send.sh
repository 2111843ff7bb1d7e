#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/group-send.sh: latency of sends to a group of 500 members
# (POST /v1/groups/{id}/messages), with wrk and bench/send.lua, a few connections, the
# members as senders.
#
# It makes (or reuses) MEMBERS+1 users gm0001.. (only the first SENDERS are logged in;
# gm0001 creates the group with gm0002..gmMEMBERS, so the group has MEMBERS members: the
# default cap is 500), checks that one more member is refused (422 group_full) and that a
# first message goes through, then for each number of connections in CONNECTIONS runs a
# warm-up and a measured wrk run in which the SENDERS members send in turn. All sends go
# to one chat: they take that chat's lock one after the other.
#
# Needs: curl, jq, wrk, psql, runuser, /usr/bin/time. Run as root (runuser, /proc).
#
# Environment (all optional; see bench/msglib.sh for BASE_URL, CHAT_VAR, DURATION,
# WARMUP, BENCH_OUT, PARALLEL):
#   MEMBERS      500     group size (the server's cap, CHAT_MAX_GROUP_MEMBERS, is 500)
#   SENDERS      16      members that send (at least the largest CONNECTIONS)
#   CONNECTIONS  "1 4"   wrk -c values, one run each
#   THREADS      1       wrk -t
#
# Example:  CHAT_VAR=/tmp/bench-var bench/group-send.sh
set -euo pipefail
# shellcheck source=bench/msglib.sh
. "$(dirname "$0")/msglib.sh"

MEMBERS=${MEMBERS:-500}
SENDERS=${SENDERS:-16}
CONNECTIONS=${CONNECTIONS:-1 4}
THREADS=${THREADS:-1}

msg_init wrk psql runuser
[[ -x /usr/bin/time ]] || die "missing /usr/bin/time (Debian: apt-get install time)"
[[ $MEMBERS =~ ^[0-9]+$ ]] && ((MEMBERS >= 2)) || die "MEMBERS: at least 2"
[[ $SENDERS =~ ^[0-9]+$ ]] && ((SENDERS >= 1 && SENDERS <= MEMBERS)) || die "SENDERS: 1..MEMBERS"
for c in $CONNECTIONS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] && ((c >= THREADS)) || die "CONNECTIONS: each at least THREADS"
done

users_make gm $((MEMBERS + 1)) "$SENDERS"
users=$BENCH_OUT/users-gm.tsv
owner_token=$(head -n 1 "$users" | cut -f3)

# ---------------------------------------------------------------- the group

group_id=
if [[ -s $BENCH_OUT/group.txt ]]; then
	group_id=$(<"$BENCH_OUT/group.txt")
	TOKEN=$owner_token api GET "/v1/groups/$group_id"
	if [[ $STATUS != 200 || $(jq -r '.members | length' <<<"$BODY") != "$MEMBERS" ]]; then
		group_id=
	fi
fi
if [[ -z $group_id ]]; then
	members=$(sed -n "2,${MEMBERS}p" "$users" | cut -f2 | jq -Rsc 'split("\n") | map(select(. != ""))')
	TOKEN=$owner_token api POST /v1/groups "$(jq -nc --argjson m "$members" \
		'{name: "bench group", member_ids: $m}')"
	[[ $STATUS == 201 ]] || die "creating the group: $STATUS $BODY"
	group_id=$(jq -r .group_id <<<"$BODY")
	printf '%s\n' "$group_id" >"$BENCH_OUT/group.txt"
fi
TOKEN=$owner_token api GET "/v1/groups/$group_id"
count=$(jq -r '.members | length' <<<"$BODY")
chat_id=$(jq -r .chat_id <<<"$BODY")
say "group $group_id (chat $chat_id): $count members"
((count == MEMBERS)) || die "the group has $count members, not $MEMBERS"

extra=$(sed -n "$((MEMBERS + 1))p" "$users" | cut -f2)
TOKEN=$owner_token api POST "/v1/groups/$group_id/members" "$(jq -nc --arg u "$extra" '{user_ids: [$u]}')"
cap_check="adding member $((MEMBERS + 1)): $STATUS $(jq -r '.error.code // empty' <<<"$BODY")"
say "$cap_check"

TOKEN=$owner_token api POST "/v1/groups/$group_id/messages" "$(jq -nc --arg k "g-$(date +%s%N)" \
	'{message_type: "text", content: "hello group", client_msg_id: $k}')"
[[ $STATUS == 201 ]] || die "a first group message: $STATUS $BODY"

senders=$BENCH_OUT/group-senders.tsv
head -n "$SENDERS" "$users" | awk -F'\t' -v c="$chat_id" '{ print $3 "\t-\t" c }' >"$senders"
grep -q $'^-\t' "$senders" && die "$senders: a sender without a token"

# ---------------------------------------------------------------- the runs

stored() { chat_psql -Atc "SELECT last_seq FROM chats WHERE id = '$chat_id'"; }
run_before() {
	STORED_BEFORE=$(stored)
	LOG_MARK=$(chatd_log_mark)
	WAITS_NAME=$1
	waits_start chatd
}
run_after() {
	STORED_AFTER=$(stored)
	waits_stop
}

rows=()
commands=()
details=()
for c in $CONNECTIONS; do
	name=group-send-c$c
	wrk_run "$name" -t"$THREADS" -c"$c" --timeout 10s --latency -s "$BENCH_DIR/send.lua" \
		"$BASE_URL/v1/groups/$group_id/messages" -- "$senders" "$THREADS" "$group_id"
	read -r _ rate p50 p90 p99 pmax _ ok non201 _ sockerr _ <<<"$RESULT"
	committed=$((STORED_AFTER - STORED_BEFORE))
	statuses=$(awk '/^STATUS / { printf "%s%s x%s", (n++ ? ", " : ""), $2, $3 }' "$BENCH_OUT/$name.txt")
	inchatd=$(chatd_log_stats "$LOG_MARK" POST /v1/groups/)
	echo "$inchatd" >>"$BENCH_OUT/$name.txt"
	rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' "$c" "$rate" "$p50" \
		"$p90" "$p99" "$pmax" "$ok" "$non201${statuses:+ ($statuses)}" "$sockerr" "$committed")")
	commands+=("wrk -t$THREADS -c$c -d$DURATION --timeout 10s --latency -s bench/send.lua $BASE_URL/v1/groups/G/messages -- $senders $THREADS G")
	details+=("- c=$c: $CPU_LINE; in chatd (its log): ${inchatd//$'\n'/; }" "" \
		"  pg_stat_activity of chatd's connections during the run (share of 0.1 s samples):" "" \
		"$(sed 's/^/      /' "$BENCH_OUT/$name.waits.txt")" "")
	((non201 + sockerr == 0)) || say "warning: $name: $non201 answers were not 201 ($statuses), $sockerr socket errors"
done

{
	echo "#### Group sends ($count members, $SENDERS of them sending in turn; $THREADS wrk thread(s), $DURATION per run)"
	echo
	echo "Group G = $group_id; $cap_check."
	echo
	echo "| connections | messages/s (201) | p50 ms | p90 ms | p99 ms | max ms | 201 | not 201 | socket errors | committed (PostgreSQL) |"
	echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Command lines (each after a warm-up of $WARMUP with the same arguments):"
	echo
	printf '    %s\n' "${commands[@]}"
	echo
	printf '%s\n' "${details[@]}"
} | tee "$BENCH_OUT/group-results.md"
say "done; outputs in $BENCH_OUT"
