#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/pgbench-ceiling.sh: what the stack's PostgreSQL alone can do of the sends' work,
# measured with pgbench on the same database: the ceiling of bench/send.sh.
#
# It creates (once) the chats of bench/pgbench-fixture.sql, one per client, then runs for
# each number of clients in CLIENTS:
#
#   send   bench/pgbench-send.sql       the writes of a send, one send per transaction:
#                                       chat lock, STMT_MESSAGE_INSERT, commit (4 round trips)
#   full   bench/pgbench-send-full.sql  every PostgreSQL statement chatd runs for a direct
#                                       send, in its order (10 round trips)
#
# Both with the prepared protocol (-M prepared), as chatd prepares its statements, with
# PostgreSQL's settings as the stack has them (synchronous_commit on: each commit waits for
# its WAL flush). For each run: transactions/s, p50/p99 latency (from pgbench's per-
# transaction log), the CPU used by PostgreSQL, and what the backends waited for
# (bench/pg-waits.sql). pgbench runs on PostgreSQL's unix socket as the user chatd.
#
# Needs: pgbench, psql, runuser, /usr/bin/time. Run as root (runuser).
#
# Environment (all optional; see bench/msglib.sh for BASE_URL, CHAT_VAR, DURATION,
# WARMUP, BENCH_OUT):
#   CLIENTS   "16 64"      pgbench -c values, one run each (at most 128)
#   SCRIPTS   "send full"  which scripts to run
#   THREADS   2            pgbench -j
#
# Example:  CHAT_VAR=/tmp/bench-var bench/pgbench-ceiling.sh
set -euo pipefail
# shellcheck source=bench/msglib.sh
. "$(dirname "$0")/msglib.sh"

CLIENTS=${CLIENTS:-16 64}
SCRIPTS=${SCRIPTS:-send full}
THREADS=${THREADS:-2}
FIXTURE_CHATS=128

msg_init pgbench psql runuser
[[ -x /usr/bin/time ]] || die "missing /usr/bin/time (Debian: apt-get install time)"
for c in $CLIENTS; do
	[[ $c =~ ^[1-9][0-9]*$ ]] && ((c <= FIXTURE_CHATS)) || die "CLIENTS: 1..$FIXTURE_CHATS each (got '$c')"
done
sync_commit=$(chat_psql -Atc 'SHOW synchronous_commit')
say "synchronous_commit = $sync_commit"

say "fixture: $FIXTURE_CHATS chats (bench/pgbench-fixture.sql)"
chat_psql -q -v n=$FIXTURE_CHATS -f "$BENCH_DIR/pgbench-fixture.sql" >"$BENCH_OUT/pgbench-fixture.txt"
cat "$BENCH_OUT/pgbench-fixture.txt" >&2

# pgbench and its transaction logs run as chatd: a directory that it may write.
logdir=$BENCH_OUT/pgbench-logs
mkdir -p "$logdir"
chown chatd: "$logdir"

run_id=$(printf '%x%04x' "$(date +%s)" $((RANDOM)))
rows=()
commands=()

# pgb NAME SCRIPT CLIENTS SECONDS [LOG]: one pgbench run.
pgb() {
	local name=$1 script=$2 c=$3 secs=$4 log=${5:-}
	local -a cmd=(pgbench -h "$CHAT_VAR/run/pg" -n -M prepared -c "$c" -j "$THREADS" -T "$secs"
		-D n=0 -D "run=$run_id$name" -r -f "$BENCH_DIR/$script")
	[[ -n $log ]] && cmd+=(-l --log-prefix="$logdir/$name")
	cmd+=(chat)
	LAST_CMD="${cmd[*]}"
	(cd "$logdir" && /usr/bin/time -f 'TIME pgbench cpu user %U s, system %S s, elapsed %e s' \
		runuser -u chatd -- "${cmd[@]}")
}

for script in $SCRIPTS; do
	case $script in
	send) file=pgbench-send.sql ;;
	full) file=pgbench-send-full.sql ;;
	*) die "SCRIPTS: send or full (got '$script')" ;;
	esac
	for c in $CLIENTS; do
		name=pgbench-$script-c$c
		rm -f "$logdir/$name".*
		if ((WARM_S > 0)); then
			say "$name: warm-up $WARMUP"
			pgb "$name-warmup" "$file" "$c" "$WARM_S" >"$BENCH_OUT/$name.warmup.txt" 2>&1 ||
				die "pgbench failed in the warm-up (see $BENCH_OUT/$name.warmup.txt)"
		fi
		say "$name: pgbench -c $c -T $DUR_S -f bench/$file"
		before=$(stack_cpu)
		chat_psql -q -v samples=$((DUR_S * 10 - 10)) -v interval=0.1 -v app=pgbench \
			-f "$BENCH_DIR/pg-waits.sql" >"$BENCH_OUT/$name.waits.txt" 2>&1 &
		waits_pid=$!
		pgb "$name" "$file" "$c" "$DUR_S" log >"$BENCH_OUT/$name.txt" 2>&1 ||
			die "pgbench failed (see $BENCH_OUT/$name.txt)"
		after=$(stack_cpu)
		wait "$waits_pid" || say "warning: the wait sampler failed (see $BENCH_OUT/$name.waits.txt)"
		cpu=$(cpu_split "$before" "$after" "$(grep '^TIME ' "$BENCH_OUT/$name.txt")")
		cpu=${cpu/wrk/pgbench}
		echo "CPU $cpu" >>"$BENCH_OUT/$name.txt"
		tps=$(awk '/^tps = .*without initial connection time/ { printf "%.1f", $3 }' "$BENCH_OUT/$name.txt")
		failed=$(awk '/^number of failed transactions:/ { print $5 }' "$BENCH_OUT/$name.txt")
		# Per-transaction log lines: client, transaction, latency (us), script, epoch s, us.
		read -r p50 p99 _ < <(cat "$logdir/$name".* | awk '{ print $3 }' | sort -n | awk '
			{ v[NR] = $1 }
			END { if (NR == 0) { print "? ? ?"; exit }
			      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
			      i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
			      printf "%.2f %.2f %.2f\n", v[i50] / 1000, v[i99] / 1000, v[NR] / 1000 }')
		rm -f "$logdir/$name".*
		[[ -n $tps ]] || die "no tps in $BENCH_OUT/$name.txt"
		printf '%s %s %s\n' "$c" "$tps" "$script" >>"$BENCH_OUT/pgbench-tps.txt"
		# shellcheck disable=SC2016 # the backquotes are Markdown
		rows+=("$(printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |' "$script" "$file" "$c" \
			"$tps" "$p50" "$p99" "${failed:-?}" "$cpu")")
		commands+=("runuser -u chatd -- ${LAST_CMD//"$BENCH_DIR"/bench}")
		say "$name: $tps tps, p50 $p50 ms, p99 $p99 ms; $cpu"
	done
done

{
	echo "#### pgbench ceiling ($DURATION per run, synchronous_commit=$sync_commit)"
	echo
	echo "| script | file | clients | transactions/s | p50 ms | p99 ms | failed | CPU |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Command lines (a warm-up of $WARMUP with the same arguments before each):"
	echo
	printf '    %s\n' "${commands[@]}"
	echo
} | tee "$BENCH_OUT/pgbench-results.md"
say "done; outputs in $BENCH_OUT (pg_stat_activity samples: *.waits.txt)"
