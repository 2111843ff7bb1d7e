#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/http.sh: HTTP throughput and latency of a running stack, measured with wrk.
#
# Against the stack at BASE_URL (started with script/server), it registers a throw-away
# user, logs it in, and runs wrk (--latency) on three endpoints, one after the other:
#
#   healthz   GET /healthz             FastCGI -> chatd -> SELECT 1 (PostgreSQL) + PING (Redis)
#   user      GET /v1/users/{id}       FastCGI -> chatd -> JWT check, device check, user row
#   static    GET /                    www/index.html, served by lighttpd itself
#
# Each run is preceded by a short warm-up whose numbers are dropped. It prints the machine,
# the exact wrk command lines, and a table of requests/s and p50/p99 latency; wrk's full
# output is kept under BENCH_OUT. At the end it logs the user's device out again.
#
# Needs: bash, curl, jq and wrk (Debian: apt-get install curl jq wrk). Installs nothing.
#
# Environment (all optional):
#   BASE_URL      http://127.0.0.1:8080   the stack; only 127.0.0.1 or localhost is accepted
#   DURATION      15s                     length of each measured run (wrk -d), at most 600s
#   WARMUP        2s                      length of the warm-up before each run (0 = none)
#   CONNECTIONS   50                      wrk -c
#   THREADS       2                       wrk -t
#   CHAT_VAR      (unset)                 the stack's $CHAT_VAR: lets it report chatd's threads
#   BENCH_OUT     a new /tmp/chatd-bench.XXXXXX   where wrk's outputs are written
#
# Example:  CHAT_VAR=./var bench/http.sh
#           BASE_URL=http://127.0.0.1:8081 DURATION=30s bench/http.sh
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}

say() { printf '%s [bench] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# seconds DURATION: "15", "15s" or "2m" in seconds; empty when malformed.
seconds() {
	case $1 in
	*[!0-9sm]* | "") ;;
	*m) [[ ${1%m} =~ ^[0-9]+$ ]] && echo $((${1%m} * 60)) ;;
	*s) [[ ${1%s} =~ ^[0-9]+$ ]] && echo "${1%s}" ;;
	*) [[ $1 =~ ^[0-9]+$ ]] && echo "$1" ;;
	esac
}

# ---------------------------------------------------------------- checks

missing=()
for tool in curl jq wrk; do
	command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
	say "missing: ${missing[*]}. bench/http.sh needs curl, jq and wrk (Debian: apt-get install ${missing[*]})"
	exit 2
fi
[[ $BASE_URL =~ ^http://(127\.0\.0\.1|localhost)(:[0-9]+)?$ ]] ||
	die "BASE_URL must be http://127.0.0.1[:PORT] or http://localhost[:PORT] (got '$BASE_URL')"
dur_s=$(seconds "$DURATION")
warm_s=$(seconds "$WARMUP")
if [[ -z $dur_s ]] || ((dur_s < 1 || dur_s > 600)); then
	die "DURATION must be 1s to 600s (got '$DURATION')"
fi
if [[ -z $warm_s ]] || ((warm_s > 60)); then
	die "WARMUP must be 0s to 60s (got '$WARMUP')"
fi
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]] ||
	die "CONNECTIONS and THREADS must be positive numbers"
((CONNECTIONS >= THREADS)) || die "CONNECTIONS must be at least THREADS"

if [[ -z ${BENCH_OUT:-} ]]; then
	BENCH_OUT=$(mktemp -d /tmp/chatd-bench.XXXXXX)
fi
mkdir -p "$BENCH_OUT"

# api METHOD PATH [BODY]: sets STATUS and BODY from one API call (TOKEN when set).
api() {
	local -a args=(-sS -m 10 -o "$BENCH_OUT/response.json" -w '%{http_code}' -X "$1")
	[[ -n ${TOKEN:-} ]] && args+=(-H "Authorization: Bearer $TOKEN")
	[[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	STATUS=$(curl "${args[@]}" "$BASE_URL$2") || STATUS=000
	BODY=$(cat "$BENCH_OUT/response.json" 2>/dev/null || true)
}

api GET /healthz
[[ $STATUS == 200 ]] || die "GET $BASE_URL/healthz answered $STATUS ($BODY): is the stack running (script/server)?"
static_status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$BASE_URL/") || static_status=000
[[ $static_status == 200 ]] || die "GET $BASE_URL/ answered $static_status: the static client (www/index.html) is not served"

# ---------------------------------------------------------------- a user and a token

username=bench_$(date +%s)_$((RANDOM % 10000))
password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
api POST /v1/users "$(jq -nc --arg u "$username" --arg p "$password" '{username: $u, password: $p}')"
[[ $STATUS == 201 ]] || die "registering $username: $STATUS $BODY"
USER_ID=$(jq -r .user_id <<<"$BODY")
api POST /v1/sessions "$(jq -nc --arg u "$username" --arg p "$password" '{username: $u, password: $p, device_name: "bench"}')"
[[ $STATUS == 201 ]] || die "logging in as $username: $STATUS $BODY"
TOKEN=$(jq -r .access_token <<<"$BODY")
logout() {
	[[ -n ${TOKEN:-} ]] || return 0
	api DELETE /v1/sessions/current
	TOKEN=
}
trap logout EXIT
api GET "/v1/users/$USER_ID"
[[ $STATUS == 200 ]] || die "GET /v1/users/$USER_ID with the token: $STATUS $BODY"
say "user $username ($USER_ID) logged in; wrk outputs go to $BENCH_OUT"

# ---------------------------------------------------------------- the machine

version_of() {
	"$@" 2>/dev/null | head -n 1 || true
}
pg_bin=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null |
	sort -V | tail -n 1 || true)
chatd_threads="unknown (set CHAT_VAR)"
if [[ -n ${CHAT_VAR:-} ]]; then
	threads=()
	for f in "$CHAT_VAR"/run/chatd-*.pid; do
		[[ -r $f ]] || continue
		pid=$(<"$f")
		t=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		[[ -n $t ]] && threads+=("$(basename "$f" .pid): $t")
	done
	((${#threads[@]} > 0)) && chatd_threads="${threads[*]}"
fi
{
	echo "## Machine"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "- CPU: $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "- memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "- kernel: $(uname -sr)"
	echo "- Debian: $(cat /etc/debian_version 2>/dev/null || echo unknown)"
	echo "- lighttpd: $(version_of lighttpd -v)"
	echo "- PostgreSQL: $([[ -n $pg_bin ]] && version_of "$pg_bin" --version)"
	echo "- Redis: $(version_of redis-server --version)"
	echo "- wrk: $(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }')"
	echo "- chatd threads (whole process, from /proc): $chatd_threads"
	echo "- load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
} | tee "$BENCH_OUT/machine.md"

# ---------------------------------------------------------------- the runs

# run NAME URL [TOKEN]: a warm-up, then the measured run; appends a table row.
rows=()
commands=()
run() {
	local name=$1 url=$2 token=${3:-} line
	local -a cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 5s --latency -s "$BENCH_DIR/wrk.lua")
	if ((warm_s > 0)); then
		say "$name: warm-up $WARMUP"
		BENCH_TOKEN=$token "${cmd[@]}" -d"$WARMUP" "$url" >"$BENCH_OUT/$name.warmup.txt" 2>&1 ||
			die "wrk failed during the warm-up of $name (see $BENCH_OUT/$name.warmup.txt)"
	fi
	say "$name: ${cmd[*]} -d$DURATION $url"
	BENCH_TOKEN=$token "${cmd[@]}" -d"$DURATION" "$url" >"$BENCH_OUT/$name.txt" 2>&1 ||
		die "wrk failed on $name (see $BENCH_OUT/$name.txt)"
	line=$(grep '^RESULT ' "$BENCH_OUT/$name.txt" | tail -n 1)
	[[ -n $line ]] || die "no RESULT line in $BENCH_OUT/$name.txt"
	# shellcheck disable=SC2086 # the RESULT fields are plain words
	set -- $line
	# shellcheck disable=SC2016 # the backquotes are Markdown
	rows+=("$(printf '| %s | `%s` | %s | %s | %s | %s | %s |' "$name" "${url#"$BASE_URL"}" \
		"$2" "$3" "$4" "$5" "$(($6 + $7))")")
	commands+=("${token:+BENCH_TOKEN=<token> }${cmd[*]/#"$BENCH_DIR"/bench} -d$DURATION $url")
	(($6 + $7 == 0)) || say "warning: $name had $6 non-2xx/3xx answers and $7 socket errors"
}

run healthz "$BASE_URL/healthz"
run user "$BASE_URL/v1/users/$USER_ID" "$TOKEN"
run static "$BASE_URL/"

{
	echo "## Results ($THREADS threads, $CONNECTIONS connections, $DURATION per run)"
	echo
	echo "| run | path | requests/s | p50 ms | p99 ms | requests | errors |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
	printf '%s\n' "${rows[@]}"
	echo
	echo "Command lines:"
	echo
	printf '    %s\n' "${commands[@]}"
	echo
} | tee "$BENCH_OUT/results.md"
say "done; full wrk outputs in $BENCH_OUT"
