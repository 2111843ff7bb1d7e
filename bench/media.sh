#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/media.sh: media uploads and downloads against a running stack (script/server).
#
#   upload 1 MiB     UPLOADS_SMALL sequential POST /v1/media of 1 MiB (random bytes, each new)
#   upload 25 MiB    UPLOADS_LARGE sequential POST /v1/media of 25 MiB
#   8 x 25 MiB       8 uploads of 25 MiB at once, chatd's resident memory sampled every
#                    20 ms (VmRSS of every chatd instance, summed) before and during, and
#                    its high-water mark (VmHWM: the peak since the process started)
#   download         wrk on GET of a 25 MiB media through its signed URL (chatd checks,
#                    the web server sends it: X-Sendfile) next to wrk on the same file
#                    served by the web server as a static file (a temporary symlink
#                    www/.bench-media.bin, removed at the end)
#
# Throughput is MB/s (10^6 bytes) of body bytes, from curl's time_total (uploads: the
# whole request through the web server, which buffers the body before chatd sees it).
#
# Needs curl, jq, wrk, and CHAT_VAR (the stack's state directory, for the chatd pids).
# Environment: BASE_URL (http://127.0.0.1:8080), CHAT_VAR (required), UPLOADS_SMALL (20),
# UPLOADS_LARGE (5), DURATION (10s, each wrk run), CONNECTIONS (4).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
: "${CHAT_VAR:?set CHAT_VAR to the state directory of the stack}"
UPLOADS_SMALL=${UPLOADS_SMALL:-20}
UPLOADS_LARGE=${UPLOADS_LARGE:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-4}
TMP=$(mktemp -d /tmp/chatd-bench-media.XXXXXX)
LINK=$REPO/www/.bench-media.bin
trap 'rm -rf "$TMP"; rm -f "$LINK"' EXIT

say() { printf '%s [bench] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

name=bm$(date +%s)$RANDOM
pw=bench-password-$RANDOM
curl -fsS -X POST "$BASE_URL/v1/users" -d "{\"username\":\"$name\",\"password\":\"$pw\"}" >/dev/null
TOKEN=$(curl -fsS -X POST "$BASE_URL/v1/sessions" -d "{\"username\":\"$name\",\"password\":\"$pw\"}" |
	jq -r .access_token)

# upload FILE: one upload; prints "seconds media_id url".
upload() {
	curl -sS -o "$1.json" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
		-H 'Content-Type: application/octet-stream' -H 'Expect:' --data-binary "@$1" \
		"$BASE_URL/v1/media" >"$1.time"
	printf '%s %s %s\n' "$(cat "$1.time")" "$(jq -r .media_id "$1.json")" "$(jq -r .url "$1.json")"
}

# series N BYTES: N sequential uploads of fresh random files; prints MB/s (mean of runs).
series() {
	local n=$1 bytes=$2 i total=0 t
	for ((i = 0; i < n; i++)); do
		head -c "$bytes" /dev/urandom >"$TMP/s$i"
		t=$(upload "$TMP/s$i" | cut -d' ' -f1)
		total=$(echo "$total + $t" | bc -l)
		rm -f "$TMP/s$i"
	done
	echo "scale=1; $n * $bytes / 1000000 / $total" | bc -l
}

# rss_kib [FIELD]: the resident memory (VmRSS, or FIELD: VmHWM is the peak since the
# process started) of all chatd instances, KiB.
rss_kib() {
	local f sum=0 pid v field=${1:-VmRSS}
	for f in "$CHAT_VAR"/run/chatd-*.pid; do
		pid=$(cat "$f")
		v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

say "uploads of 1 MiB x $UPLOADS_SMALL"
small=$(series "$UPLOADS_SMALL" 1048576)
say "uploads of 25 MiB x $UPLOADS_LARGE"
large=$(series "$UPLOADS_LARGE" 26214400)

say "8 uploads of 25 MiB at once"
for i in 1 2 3 4 5 6 7 8; do head -c 26214400 /dev/urandom >"$TMP/p$i"; done
base=$(rss_kib)
peak=$base
for i in 1 2 3 4 5 6 7 8; do upload "$TMP/p$i" >"$TMP/p$i.out" & done
while jobs -r | grep -q .; do
	r=$(rss_kib)
	((r > peak)) && peak=$r
	sleep 0.02
done
wait
hwm=$(rss_kib VmHWM)
ok=$(cat "$TMP"/p*.out | grep -c '^[0-9.]* [0-9a-f-]\{36\} ' || true)
par=$(awk '{ if ($1 > m) m = $1 } END { printf "%.1f", 8 * 26214400 / 1000000 / m }' "$TMP"/p*.out)

say "downloads of 25 MiB: X-Sendfile vs static"
read -r _ _ url <"$TMP/p1.out"
ln -sf "$CHAT_VAR/media/$(sha256sum "$TMP/p1" | cut -c1-2)/$(sha256sum "$TMP/p1" | cut -c3-4)/$(sha256sum "$TMP/p1" | cut -d' ' -f1)" "$LINK"
curl -fsS -o "$TMP/check.bin" "$BASE_URL$url" && cmp -s "$TMP/check.bin" "$TMP/p1" || say "warning: the signed download differs"
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$BASE_URL$url" >"$TMP/wrk-sendfile.txt"
static_ok=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/.bench-media.bin")
wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$BASE_URL/.bench-media.bin" >"$TMP/wrk-static.txt"
mbps() { awk '/^Requests\/sec/ { printf "%.0f", $2 * 26214400 / 1000000 }' "$1"; }
rps() { awk '/^Requests\/sec/ { print $2 }' "$1"; }

machine="$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
server=$(curl -sI "$BASE_URL/healthz" | awk -F': ' 'tolower($1) == "server" { print $2 }' | tr -d '\r')
printf 'machine: %s\nweb server: %s\n\n' "$machine" "$server"
printf '| measure | result |\n| --- | --- |\n'
printf '| upload 1 MiB, sequential (MB/s) | %s |\n' "$small"
printf '| upload 25 MiB, sequential (MB/s) | %s |\n' "$large"
printf '| 8 x 25 MiB at once: aggregate (MB/s) | %s (%s of 8 stored) |\n' "$par" "$ok"
printf '| chatd RSS before / peak sampled during 8 x 25 MiB / VmHWM after (MiB) | %s / %s / %s |\n' \
	"$((base / 1024))" "$((peak / 1024))" "$((hwm / 1024))"
printf '| download 25 MiB, signed URL, X-Sendfile (req/s, MB/s) | %s, %s |\n' \
	"$(rps "$TMP/wrk-sendfile.txt")" "$(mbps "$TMP/wrk-sendfile.txt")"
printf '| download 25 MiB, static file (req/s, MB/s; status %s) | %s, %s |\n' "$static_ok" \
	"$(rps "$TMP/wrk-static.txt")" "$(mbps "$TMP/wrk-static.txt")"
printf '\nwrk: wrk -t2 -c%s -d%s URL\n' "$CONNECTIONS" "$DURATION"
