# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# bench/msglib.sh: what the messaging benchmarks (send.sh, pgbench-ceiling.sh, history.sh,
# group-send.sh) share. Sourced, never run.
#
#   msg_init               checks the tools and the settings, makes BENCH_OUT
#   api METHOD PATH [BODY] one API call: sets STATUS and BODY (Bearer $TOKEN when set)
#   users_make PREFIX N [K]  N users PREFIX0001.. registered (or reused), the first K
#                          (default N) logged in; writes $BENCH_OUT/users-PREFIX.tsv:
#                          username, user_id, token ("-" when not logged in)
#   chat_psql ARGS...      psql on the stack's database (as the system user chatd)
#   machine_md             the machine and the versions, as Markdown lines
#   wrk_run NAME ARGS...   wrk under /usr/bin/time; its output in $BENCH_OUT/NAME.txt
#
# Environment (all optional):
#   BASE_URL   http://127.0.0.1:18400   the stack; only 127.0.0.1 or localhost is accepted
#   CHAT_VAR   /tmp/bench-var           the stack's $CHAT_VAR (PostgreSQL's socket, logs)
#   DURATION   20s                      length of each measured run, 1s to 60s
#   WARMUP     3s                       warm-up before each measured run (0 = none)
#   BENCH_OUT  /tmp/chatd-bench-msg     where outputs, user lists and tokens are kept;
#                                       users and tokens found there are reused
#   PARALLEL   4                        concurrent curl calls while making users

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BASE_URL=${BASE_URL:-http://127.0.0.1:18400}
BASE_URL=${BASE_URL%/}
CHAT_VAR=${CHAT_VAR:-/tmp/bench-var}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
BENCH_OUT=${BENCH_OUT:-/tmp/chatd-bench-msg}
PARALLEL=${PARALLEL:-4}
# Every benchmark user has this password (they exist only on a benchmark stack).
BENCH_PASSWORD=${BENCH_PASSWORD:-bench-password-1}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

say() { printf '%s [bench] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# seconds DURATION: "15", "15s" or "1m" in seconds; empty when malformed.
seconds() {
	case $1 in
	*[!0-9sm]* | "") ;;
	*m) [[ ${1%m} =~ ^[0-9]+$ ]] && echo $((${1%m} * 60)) ;;
	*s) [[ ${1%s} =~ ^[0-9]+$ ]] && echo "${1%s}" ;;
	*) [[ $1 =~ ^[0-9]+$ ]] && echo "$1" ;;
	esac
}

# msg_init TOOL...: the tools named must exist; checks the common settings.
msg_init() {
	local -a missing=()
	local tool
	for tool in curl jq "$@"; do
		command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
	done
	((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"
	[[ $BASE_URL =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?$ ]] ||
		die "BASE_URL must be http://127.0.0.1[:PORT] or http://localhost[:PORT] (got '$BASE_URL')"
	DUR_S=$(seconds "$DURATION")
	WARM_S=$(seconds "$WARMUP")
	[[ -n $DUR_S ]] && ((DUR_S >= 1 && DUR_S <= 60)) || die "DURATION must be 1s to 60s (got '$DURATION')"
	[[ -n $WARM_S ]] && ((WARM_S <= 30)) || die "WARMUP must be 0s to 30s (got '$WARMUP')"
	mkdir -p "$BENCH_OUT"
	api GET /healthz
	[[ $STATUS == 200 ]] || die "GET $BASE_URL/healthz answered $STATUS ($BODY): is the stack running (script/server)?"
}

# api METHOD PATH [BODY]: sets STATUS and BODY from one API call (Bearer $TOKEN when set).
api() {
	local out
	out=$(mktemp "$BENCH_OUT/.api.XXXXXX")
	local -a args=(-sS -m 30 -o "$out" -w '%{http_code}' -X "$1")
	[[ -n ${TOKEN:-} ]] && args+=(-H "Authorization: Bearer $TOKEN")
	[[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	STATUS=$(curl "${args[@]}" "$BASE_URL$2") || STATUS=000
	BODY=$(cat "$out")
	rm -f "$out"
}

# user_make NAME [LOGIN]: registers NAME (a 409 means it exists: fine), logs it in and
# prints "NAME<TAB>USER_ID<TAB>TOKEN". With LOGIN=0 a new user is not logged in (its token
# is "-"); one that existed is (to learn its id). Run by xargs in a child shell.
user_make() {
	local name=$1 login=${2:-1} creds try id
	creds=$(jq -nc --arg u "$name" --arg p "$BENCH_PASSWORD" '{username: $u, password: $p}')
	# A 503 (chatd restarting, PostgreSQL busy) is tried again, a few times.
	for try in 1 2 3 4 5; do
		api POST /v1/users "$creds"
		[[ $STATUS == 503 || $STATUS == 502 || $STATUS == 000 ]] || break
		sleep "$try"
	done
	[[ $STATUS == 201 || $STATUS == 409 ]] || die "registering $name: $STATUS $BODY"
	if [[ $login == 0 && $STATUS == 201 ]]; then
		id=$(jq -r .user_id <<<"$BODY")
		printf '%s\t%s\t-\n' "$name" "$id"
		return 0
	fi
	for try in 1 2 3 4 5; do
		api POST /v1/sessions "$(jq -c '. + {device_name: "bench"}' <<<"$creds")"
		[[ $STATUS == 503 || $STATUS == 502 || $STATUS == 000 ]] || break
		sleep "$try"
	done
	[[ $STATUS == 201 ]] || die "logging in as $name: $STATUS $BODY"
	jq -r '[$n, .user_id, .access_token] | @tsv' --arg n "$name" <<<"$BODY"
}

# users_make PREFIX N [LOGGED_IN]: see the top; only the first LOGGED_IN users (default:
# all) are logged in for sure, the others' token may be "-". A list left by an earlier run
# is reused when it holds N users and its first token still works.
users_make() {
	local prefix=$1 n=$2 logged=${3:-$2} file=$BENCH_OUT/users-$1.tsv
	if [[ -s $file ]] && (($(wc -l <"$file") == n)); then
		local id token
		IFS=$'\t' read -r _ id token <"$file"
		TOKEN=$token api GET "/v1/users/$id"
		if [[ $STATUS == 200 ]]; then
			say "reusing $n users $prefix* ($file)"
			return 0
		fi
	fi
	say "making $n users $prefix* (register + log in, $PARALLEL at a time)"
	export -f user_make api say die
	export BASE_URL BENCH_OUT BENCH_PASSWORD
	seq -f "$prefix%04g" 1 "$n" | awk -v k="$logged" '{ print $0, (NR <= k ? 1 : 0) }' |
		xargs -P "$PARALLEL" -L 1 bash -c 'user_make "$1" "$2"' _ \
		>"$file.tmp" || die "making the users $prefix* failed"
	# xargs finishes in any order: sort by name.
	sort "$file.tmp" >"$file"
	rm -f "$file.tmp"
	(($(wc -l <"$file") == n)) || die "$file: expected $n users"
}

# chat_psql ARGS...: psql -X on the database chat of the stack, as the user chatd.
chat_psql() {
	[[ -S $CHAT_VAR/run/pg/.s.PGSQL.5432 ]] ||
		die "no PostgreSQL socket in $CHAT_VAR/run/pg (set CHAT_VAR to the stack's)"
	runuser -u chatd -- "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h "$CHAT_VAR/run/pg" -d chat "$@"
}

# machine_md: the machine, as Markdown list items.
machine_md() {
	local v
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "- CPU: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "- memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "- kernel: $(uname -sr)"
	echo "- Debian: $(cat /etc/debian_version 2>/dev/null || echo unknown)"
	v=$(chat_psql -Atc 'SELECT version()' 2>/dev/null | cut -d, -f1 || true)
	echo "- PostgreSQL: ${v:-unknown} (synchronous_commit=$(chat_psql -Atc 'SHOW synchronous_commit' 2>/dev/null || echo '?'), fsync=$(chat_psql -Atc 'SHOW fsync' 2>/dev/null || echo '?'), shared_buffers=$(chat_psql -Atc 'SHOW shared_buffers' 2>/dev/null || echo '?'))"
	echo "- Redis: $(redis-server --version 2>/dev/null | awk '{ print $3 }')"
	echo "- lighttpd: $(lighttpd -v 2>/dev/null | sed -n 1p)"
	echo "- wrk: $(wrk -v 2>&1 | awk "NR == 1" | awk '{ print $2 }'); pgbench: $(pgbench --version | awk '{ print $3 }')"
	echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# wrk_run NAME WRK_ARGS...: runs wrk (after a warm-up of WARMUP with the same arguments)
# under /usr/bin/time, and samples the CPU time of the stack's processes around the measured
# run; the output goes to $BENCH_OUT/NAME.txt, and the RESULT line that bench/send.lua or
# bench/history.lua prints is left in RESULT, the CPU split in CPU_LINE. The caller's
# functions run_before NAME and run_after NAME, when defined, run just before and just
# after the measured run (after the warm-up).
wrk_run() {
	local name=$1 before after
	shift
	if ((WARM_S > 0)); then
		say "$name: warm-up $WARMUP"
		wrk -d"$WARMUP" "$@" >"$BENCH_OUT/$name.warmup.txt" 2>&1 ||
			die "wrk failed in the warm-up of $name (see $BENCH_OUT/$name.warmup.txt)"
	fi
	say "$name: wrk -d$DURATION $*"
	if declare -F run_before >/dev/null; then run_before "$name"; fi
	before=$(stack_cpu)
	/usr/bin/time -f 'TIME wrk cpu user %U s, system %S s, elapsed %e s' \
		wrk -d"$DURATION" "$@" >"$BENCH_OUT/$name.txt" 2>&1 ||
		die "wrk failed on $name (see $BENCH_OUT/$name.txt)"
	after=$(stack_cpu)
	if declare -F run_after >/dev/null; then run_after "$name"; fi
	RESULT=$(grep '^RESULT ' "$BENCH_OUT/$name.txt" | tail -n 1)
	[[ -n $RESULT ]] || die "no RESULT line in $BENCH_OUT/$name.txt"
	CPU_LINE=$(cpu_split "$before" "$after" "$(grep '^TIME ' "$BENCH_OUT/$name.txt" | tail -n 1)")
	echo "CPU $CPU_LINE" >>"$BENCH_OUT/$name.txt"
}

# proc_ticks PID [CHILDREN]: utime + stime of PID (all its threads), in clock ticks; with
# CHILDREN=1 also the time of its reaped children (the postmaster's exited backends).
proc_ticks() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || {
		echo 0
		return
	}
	st=${st##*) }
	# After "pid (comm) ": field 3 is state; utime, stime, cutime, cstime are 14..17.
	awk -v c="${2:-0}" '{ print $12 + $13 + (c ? $14 + $15 : 0) }' <<<"$st"
}

# stack_cpu: "total postgres chatd lighttpd redis" CPU ticks of the machine and of the
# stack's processes (PostgreSQL: the postmaster with its reaped children and every process
# working in $CHAT_VAR/pg).
stack_cpu() {
	local total pg=0 chatd=0 web=0 redis=0 pid f pm
	total=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat)
	pm=$(head -n 1 "$CHAT_VAR/pg/postmaster.pid" 2>/dev/null || echo 0)
	for pid in $(find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' \
		-lname "$CHAT_VAR/pg" -printf '%h\n' 2>/dev/null | sed 's|^/proc/||'); do
		pg=$((pg + $(proc_ticks "$pid" "$([[ $pid == "$pm" ]] && echo 1)")))
	done
	for f in "$CHAT_VAR"/run/chatd-*.pid; do
		[[ -r $f ]] && chatd=$((chatd + $(proc_ticks "$(<"$f")")))
	done
	[[ -r $CHAT_VAR/run/web.pid ]] && web=$(proc_ticks "$(<"$CHAT_VAR/run/web.pid")")
	[[ -r $CHAT_VAR/run/redis.pid ]] && redis=$(proc_ticks "$(<"$CHAT_VAR/run/redis.pid")")
	echo "$total $pg $chatd $web $redis"
}

# cpu_split BEFORE AFTER [TIME_LINE]: the CPU used between two stack_cpu samples, in cores
# (CPU seconds per second), for the machine and each part, with wrk's from /usr/bin/time.
cpu_split() {
	local hz
	hz=$(getconf CLK_TCK)
	awk -v hz="$hz" -v d="$DUR_S" -v t="$3" 'BEGIN {
		split(ARGV[1], a, " "); split(ARGV[2], b, " ");
		wrk = "?";
		if (match(t, /user [0-9.]+ s, system [0-9.]+ s/)) {
			split(substr(t, RSTART, RLENGTH), w, " ");
			wrk = sprintf("%.2f", (w[2] + w[5]) / d);
		}
		m = (b[1] - a[1]) / hz / d
		pg = (b[2] - a[2]) / hz / d; ch = (b[3] - a[3]) / hz / d
		web = (b[4] - a[4]) / hz / d; rd = (b[5] - a[5]) / hz / d
		other = m - pg - ch - web - rd - (wrk == "?" ? 0 : wrk)
		printf "machine %.2f: postgres %.2f, chatd %.2f, lighttpd %.2f, redis %.2f, wrk %s, other processes %.2f (cores)",
			m, pg, ch, web, rd, wrk, (other < 0 ? 0 : other);
		exit
	}' "$1" "$2"
}

# chatd_log_mark: the number of lines of chatd's logs so far (for chatd_log_stats).
chatd_log_mark() {
	cat "$CHAT_VAR"/log/chatd-*.log 2>/dev/null | wc -l
}

# chatd_log_stats MARK METHOD PATH_PREFIX: from the log lines after MARK (one chatd
# instance), the requests METHOD PATH_PREFIX*: per status, the count and the p50, p99 and
# mean of the time chatd spent on them (the last field of a request line: microseconds).
chatd_log_stats() {
	tail -n +"$(($1 + 1))" "$CHAT_VAR/log/chatd-1.log" |
		awk -v m="$2" -v p="$3" '$3 == m && index($4, p) == 1 { print $5, $NF }' |
		sort -k1,1 -k2,2n | awk '
		function flush() {
			if (n == 0) return
			i50 = int(n * 0.50); if (i50 < 1) i50 = 1
			i99 = int(n * 0.99); if (i99 < 1) i99 = 1
			printf "status %s: %d requests, in chatd p50 %.2f ms, p99 %.2f ms, mean %.2f ms\n",
				st, n, v[i50] / 1000, v[i99] / 1000, sum / n / 1000
		}
		$1 != st { flush(); st = $1; n = 0; sum = 0 }
		{ v[++n] = $2; sum += $2 }
		END { flush() }'
}

# waits_start APP: samples pg_stat_activity (bench/pg-waits.sql) for the length of a run,
# in the background, into $BENCH_OUT/$WAITS_NAME.waits.txt; waits_stop waits for it.
waits_start() {
	chat_psql -q -v samples=$((DUR_S * 10 - 10)) -v interval=0.1 -v app="$1" \
		-f "$BENCH_DIR/pg-waits.sql" >"$BENCH_OUT/$WAITS_NAME.waits.txt" 2>&1 &
	WAITS_PID=$!
}
waits_stop() {
	wait "$WAITS_PID" || say "warning: the wait sampler failed (see $BENCH_OUT/$WAITS_NAME.waits.txt)"
}

# stack_pids: the pids of the stack's processes (PostgreSQL's, chatd's, lighttpd's and
# Redis's), comma-separated, for perf report --pid.
stack_pids() {
	{
		find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/cwd' -lname "$CHAT_VAR/pg" \
			-printf '%h\n' 2>/dev/null | sed 's|^/proc/||'
		cat "$CHAT_VAR"/run/chatd-*.pid "$CHAT_VAR/run/web.pid" "$CHAT_VAR/run/redis.pid" 2>/dev/null
	} | paste -sd, -
}

# perf_start NAME SECONDS: with PERF=1, samples the whole machine with perf (499 Hz, call
# graphs) for SECONDS, in the background; perf_stop NAME then writes
# $BENCH_OUT/NAME.perf.txt: the stack's share per process and library, and the top symbols
# of PostgreSQL and of chatd.
perf_start() {
	[[ ${PERF:-0} == 1 ]] || return 0
	command -v perf >/dev/null 2>&1 || die "PERF=1 needs perf (Debian: linux-perf)"
	perf record -a -g -F 499 -o "$BENCH_OUT/$1.perf.data" -- sleep "$2" \
		>"$BENCH_OUT/$1.perf.log" 2>&1 &
	PERF_PID=$!
}
perf_stop() {
	[[ ${PERF:-0} == 1 ]] || return 0
	local pids data=$BENCH_OUT/$1.perf.data
	wait "$PERF_PID" || say "warning: perf record failed (see $BENCH_OUT/$1.perf.log)"
	pids=$(stack_pids)
	{
		echo "== all samples of the machine, by process name"
		perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -n 15 || true
		echo "== the stack's processes, by process name and library (share of the stack's samples)"
		perf report -i "$data" --no-children --pid "$pids" --percentage relative --sort comm,dso \
			--stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -n 25 || true
		echo "== PostgreSQL's top symbols (share of PostgreSQL's samples)"
		perf report -i "$data" --no-children --pid "$pids" --comm postgres --percentage relative \
			--sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -n 30 || true
		echo "== chatd's top symbols (share of chatd's samples)"
		perf report -i "$data" --no-children --pid "$pids" --comm chatd --percentage relative \
			--sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep . | head -n 30 || true
	} >"$BENCH_OUT/$1.perf.txt"
	rm -f "$data"
}
