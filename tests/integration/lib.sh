# tests/integration/lib.sh: sourced by every tests/integration/NN-area.sh.
#
# Black-box helpers for the chat API (docs: /work/shared/API.md) with curl and
# jq, printing TAP: "ok N - name" / "not ok N - name" plus "# " diagnostics,
# and the plan line "1..N" at the end (tap_done).
#
#   BASE_URL         stack under test (default http://127.0.0.1:8080)
#   TEST_JWT_SECRET  the server's HS256 key; token-forging tests skip without it
#   CHAT_ISSUER      the server's JWT issuer (default chatd)
#   API_TIMEOUT      curl --max-time per request, seconds (default 30)
#
# api [options] METHOD PATH [BODY] [TOKEN]
#   Sends one request. BODY (if not empty) goes with "Content-Type:
#   application/json" unless an option says otherwise (a POST, PUT or PATCH
#   without BODY sends "Content-Length: 0"); TOKEN (if not empty)
#   as "Authorization: Bearer TOKEN". Sets STATUS (000 when curl failed),
#   BODY (response body), HEADERS (response headers of the final response,
#   CR stripped) and REQ (a one-line description for diagnostics).
#   Options:
#     --ct TYPE      Content-Type of the body
#     --no-ct        send no Content-Type header at all
#     --auth VALUE   raw Authorization header value (replaces TOKEN)
#     --file FILE    send the bytes of FILE as the body (NULs, huge bodies)
#     -H 'K: V'      extra request header (repeatable)
#
# Checks (each prints one TAP line):
#   expect_status 201 "name"            (also "400|404")
#   expect_json '.jq.expr' value "name" (compares jq -r output as a string)
#   expect_jq 'jq filter' "name" [jq args...]   (filter must yield true)
#   expect_header Name 'ERE' "name"     (case-insensitive, last value)
#   expect_error_code code "name"       (status of that code, JSON error
#                                        shape, string message, no leak;
#                                        code may be "bad_request|invalid_json")
#   expect_no_leaks "name"              (no error body so far leaked SQL/paths)
#   check CONDITION-STATUS "name" [diagnostic...]   (0 = ok)
#   skip "name" "reason"
#   tap_done                            (plan line; exit 1 if any failed)
#
# Fixtures:
#   new_user [VAR]   registers a fresh user and logs it in; sets and exports
#                    VAR_ID VAR_USERNAME VAR_PASSWORD VAR_TOKEN VAR_DEVICE
#                    (VAR defaults to USER: USER_ID, USER_TOKEN, ...)
#   rand_name [PREFIX]   a fresh valid username
#   login NAME PASSWORD [DEVICE_NAME]   POST /v1/sessions
#   jwt_make HEADER_JSON PAYLOAD_JSON KEY [ALG]   HS256|HS384|HS512 token
#   jwt_part TOKEN 1|2   decoded header (1) or payload (2) JSON

BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
API_TIMEOUT=${API_TIMEOUT:-30}
CHAT_ISSUER=${CHAT_ISSUER:-chatd}
TEST_JWT_SECRET=${TEST_JWT_SECRET:-}

# The contract's JSON content type and timestamp format.
JSON_CT_RE='^application/json; ?charset="?utf-8"?$'
TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
NO_STORE_RE='(^|[ ,])no-store($|[ ,;])'

# What an error body must never contain (SQL, libpq text, source paths).
LEAK_RE='SELECT |INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|ERROR:|duplicate key|violates|relation "|syntax error at|/src/|\.c:|/home/|/usr/|/var/|/tmp/|/work/'

TAP_N=0
TAP_FAILED=0
LEAKS=()
ERROR_BODIES=0
STATUS=000
BODY=
HEADERS=
REQ=

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/chatd-itest.XXXXXX")
trap 'rm -rf "$TEST_TMP"' EXIT

# --- TAP ---------------------------------------------------------------------

# diag LINE...: prints each argument as "# " lines (multi-line safe).
diag()
{
	local l
	for l in "$@"; do
		printf '%s\n' "$l" | sed 's/^/#   /'
	done
}

# Lines describing the last response (for diag).
last_response()
{
	local b=$BODY
	if ((${#b} > 600)); then
		b="${b:0:600}... (${#BODY} chars)"
	fi
	printf 'request:  %s\nstatus:   %s\nbody:     %s\n' "$REQ" "$STATUS" "$b"
}

tap_ok()
{
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s\n' "$TAP_N" "$1"
}

# tap_not_ok NAME DIAG...
tap_not_ok()
{
	local name=$1
	shift
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_N" "$name"
	diag "$@"
}

# check RC NAME [DIAG...]: ok when RC is 0. Without DIAG, shows the last response.
check()
{
	local rc=$1 name=$2
	shift 2
	if [[ $rc == 0 ]]; then
		tap_ok "$name"
	elif (($# > 0)); then
		tap_not_ok "$name" "$@"
	else
		tap_not_ok "$name" "$(last_response)"
	fi
}

skip()
{
	TAP_N=$((TAP_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$TAP_N" "$1" "$2"
}

tap_done()
{
	printf '1..%d\n' "$TAP_N"
	if ((TAP_FAILED > 0)); then
		printf '# FAILED %d of %d\n' "$TAP_FAILED" "$TAP_N"
		exit 1
	fi
	exit 0
}

# --- HTTP --------------------------------------------------------------------

api()
{
	local ct=application/json no_ct=0 auth= file= method path body token code
	local -a extra=()

	while (($# > 0)); do
		case $1 in
		--ct) ct=$2; shift 2 ;;
		--no-ct) no_ct=1; shift ;;
		--auth) auth=$2; shift 2 ;;
		--file) file=$2; shift 2 ;;
		-H) extra+=(-H "$2"); shift 2 ;;
		--) shift; break ;;
		-*) echo "api: unknown option $1" >&2; return 2 ;;
		*) break ;;
		esac
	done
	method=$1 path=$2 body=${3-} token=${4-}

	local -a args=(-sS --path-as-is -X "$method" --max-time "$API_TIMEOUT"
		-o "$TEST_TMP/resp.body" -D "$TEST_TMP/resp.headers"
		-w '%{http_code}' -H 'Expect:')
	if [[ -z $file && -n $body ]]; then
		printf '%s' "$body" >"$TEST_TMP/req.body"
		file=$TEST_TMP/req.body
	fi
	if [[ -z $file && $method =~ ^(POST|PUT|PATCH)$ ]]; then
		# No body: say so, as browsers and HTTP libraries do (curl -X POST
		# alone sends no Content-Length, which lighttpd answers 411).
		args+=(-H 'Content-Length: 0')
	fi
	if [[ -n $file ]]; then
		args+=(--data-binary "@$file")
		if ((no_ct)); then
			args+=(-H 'Content-Type:')
		else
			args+=(-H "Content-Type: $ct")
		fi
	fi
	if [[ -n $auth ]]; then
		args+=(-H "Authorization: $auth")
	elif [[ -n $token ]]; then
		args+=(-H "Authorization: Bearer $token")
	fi

	REQ="$method $path"
	if [[ -n $file ]]; then
		if ((no_ct)); then
			REQ+=" (body of $(wc -c <"$file") bytes, no Content-Type)"
		else
			REQ+=" (body of $(wc -c <"$file") bytes, Content-Type: $ct)"
		fi
	fi
	[[ -n $token || -n $auth ]] && REQ+=" (with Authorization)"
	: >"$TEST_TMP/resp.body"
	: >"$TEST_TMP/resp.headers"
	code=$(curl "${args[@]}" "${extra[@]}" "$BASE_URL$path" 2>"$TEST_TMP/curl.err")
	STATUS=${code:-000}
	[[ $STATUS == 000 ]] && REQ+=" [curl: $(tr '\n' ' ' <"$TEST_TMP/curl.err")]"
	BODY=$(cat "$TEST_TMP/resp.body"; printf x)
	BODY=${BODY%x}
	# Keep the last header block only (after any 1xx interim answers).
	HEADERS=$(tr -d '\r' <"$TEST_TMP/resp.headers" |
		awk '/^HTTP\//{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}')

	if [[ $STATUS =~ ^[45] ]]; then
		ERROR_BODIES=$((ERROR_BODIES + 1))
		if is_leaky "$BODY"; then
			LEAKS+=("$REQ -> $STATUS $BODY")
		fi
	fi
	return 0
}

# is_leaky TEXT: true when TEXT holds SQL, source paths or the signing key.
is_leaky()
{
	[[ $1 =~ $LEAK_RE ]] && return 0
	[[ -n $TEST_JWT_SECRET && $1 == *"$TEST_JWT_SECRET"* ]] && return 0
	return 1
}

# header_value NAME: value of the last NAME header of the last response.
header_value()
{
	printf '%s' "$HEADERS" | awk -v n="$1" '
		BEGIN { n = tolower(n) }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == n) {
			v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); last = v } }
		END { printf "%s", last }'
}

# --- checks ------------------------------------------------------------------

# expect_status WANT NAME: WANT is a status or an alternation ("400|404").
expect_status()
{
	if [[ $STATUS =~ ^($1)$ ]]; then
		tap_ok "$2"
	else
		tap_not_ok "$2" "expected status $1" "$(last_response)"
	fi
}

# expect_json EXPR VALUE NAME: jq -r EXPR on the body prints exactly VALUE.
expect_json()
{
	local got
	if ! got=$(jq -r "$1" <<<"$BODY" 2>&1); then
		tap_not_ok "$3" "expected $1 == $2, but the body is not JSON ($got)" "$(last_response)"
	elif [[ $got == "$2" ]]; then
		tap_ok "$3"
	else
		tap_not_ok "$3" "expected $1 == $2, got: $got" "$(last_response)"
	fi
}

# expect_jq FILTER NAME [JQ ARGS...]: FILTER applied to the body yields true.
expect_jq()
{
	local filter=$1 name=$2 got
	shift 2
	got=$(jq "$@" "$filter" <<<"$BODY" 2>&1)
	if [[ $got == true ]]; then
		tap_ok "$name"
	else
		tap_not_ok "$name" "expected true: $filter${*:+ ($*)}" "jq gave: ${got:0:300}" "$(last_response)"
	fi
}

# expect_header NAME ERE NAME: the last NAME header matches ERE (any case).
expect_header()
{
	local v rc
	v=$(header_value "$1")
	shopt -s nocasematch
	[[ -n $v && $v =~ $2 ]]
	rc=$?
	shopt -u nocasematch
	if ((rc == 0)); then
		tap_ok "$3"
	else
		tap_not_ok "$3" "expected header $1 matching /$2/, got: ${v:-(absent)}" "$(last_response)"
	fi
}

# status_of CODE: the HTTP status that API.md gives an error code.
status_of()
{
	case $1 in
	bad_request | invalid_json) echo 400 ;;
	unauthorized) echo 401 ;;
	forbidden) echo 403 ;;
	not_found) echo 404 ;;
	method_not_allowed) echo 405 ;;
	conflict) echo 409 ;;
	cursor_expired) echo 410 ;;
	payload_too_large) echo 413 ;;
	unsupported_media_type) echo 415 ;;
	group_full) echo 422 ;;
	rate_limited) echo 429 ;;
	internal) echo 500 ;;
	unavailable) echo 503 ;;
	*) echo 999 ;;
	esac
}

# expect_error_code CODE NAME: the status of CODE, a JSON content type and
# {"error":{"code":CODE,"message":"non-empty string"}} with no leak.
# CODE may be an alternation: "bad_request|invalid_json".
expect_error_code()
{
	local codes=$1 name=$2 c statuses= got ct why=
	local -a alts
	IFS='|' read -ra alts <<<"$codes"
	for c in "${alts[@]}"; do
		statuses+="${statuses:+|}$(status_of "$c")"
	done
	ct=$(header_value Content-Type)
	got=$(jq -r --arg codes "$codes" '
		if type != "object" or (.error | type) != "object" then "no error object"
		elif (.error.code | type) != "string" then "error.code is not a string"
		elif (.error.code as $c | $codes | split("|") | any(. == $c) | not) then "error.code is \(.error.code)"
		elif (.error.message | type) != "string" then "error.message is not a string"
		elif (.error.message | length) == 0 then "error.message is empty"
		else "ok" end' <<<"$BODY" 2>/dev/null)
	if ! [[ $STATUS =~ ^($statuses)$ ]]; then
		why="expected status $statuses ($codes)"
	elif [[ $got != ok ]]; then
		why="expected error shape with code $codes: ${got:-body is not JSON}"
	elif ! [[ ${ct,,} =~ ^application/json ]]; then
		why="expected a JSON Content-Type, got: ${ct:-(absent)}"
	elif is_leaky "$BODY"; then
		why="error body leaks internals (SQL, paths or key)"
	fi
	if [[ -z $why ]]; then
		tap_ok "$name"
	else
		tap_not_ok "$name" "$why" "$(last_response)"
	fi
}

# expect_no_leaks NAME: no 4xx/5xx body seen by this script leaked internals.
expect_no_leaks()
{
	if ((${#LEAKS[@]} == 0)); then
		tap_ok "$1 ($ERROR_BODIES error bodies checked)"
	else
		tap_not_ok "$1" "${LEAKS[@]}"
	fi
}

# --- fixtures ----------------------------------------------------------------

# rand_name [PREFIX]: a valid, unique username (at most 32 characters).
rand_name()
{
	local p=${1:-it} ns
	ns=$(date +%s%N)
	printf '%s%s%05d' "${p:0:10}" "${ns: -12}" "$RANDOM"
}

# json_obj KEY VALUE ...: a JSON object of string values.
json_obj()
{
	jq -nc '$ARGS.positional as $a
		| reduce range(0; $a | length; 2) as $i ({}; .[$a[$i]] = $a[$i + 1])' --args "$@"
}

# login NAME PASSWORD [DEVICE_NAME]: POST /v1/sessions; on 201 sets
# LOGIN_TOKEN and LOGIN_DEVICE.
login()
{
	LOGIN_TOKEN= LOGIN_DEVICE=
	if (($# >= 3)); then
		api POST /v1/sessions "$(json_obj username "$1" password "$2" device_name "$3")"
	else
		api POST /v1/sessions "$(json_obj username "$1" password "$2")"
	fi
	if [[ $STATUS == 201 ]]; then
		LOGIN_TOKEN=$(jq -r '.access_token // empty' <<<"$BODY")
		LOGIN_DEVICE=$(jq -r '.device_id // empty' <<<"$BODY")
	fi
}

# new_user [VAR]: a fresh registered, logged-in user (see the header).
new_user()
{
	local var=${1:-USER} name pw id v
	for v in ID USERNAME PASSWORD TOKEN DEVICE; do
		printf -v "${var}_$v" '%s' ''
		export "${var}_$v"
	done
	name=$(rand_name)
	pw="pw-$RANDOM-$RANDOM-$RANDOM"
	api POST /v1/users "$(json_obj username "$name" password "$pw")"
	if [[ $STATUS != 201 ]]; then
		tap_not_ok "setup: register user $name ($var)" "expected 201" "$(last_response)"
		return 1
	fi
	id=$(jq -r '.user_id // empty' <<<"$BODY")
	login "$name" "$pw"
	if [[ $STATUS != 201 || -z $LOGIN_TOKEN ]]; then
		tap_not_ok "setup: log in user $name ($var)" "expected 201 with a token" "$(last_response)"
		return 1
	fi
	printf -v "${var}_ID" '%s' "$id"
	printf -v "${var}_USERNAME" '%s' "$name"
	printf -v "${var}_PASSWORD" '%s' "$pw"
	printf -v "${var}_TOKEN" '%s' "$LOGIN_TOKEN"
	printf -v "${var}_DEVICE" '%s' "$LOGIN_DEVICE"
	export "${var}_ID" "${var}_USERNAME" "${var}_PASSWORD" "${var}_TOKEN" "${var}_DEVICE"
}

# unknown_id_like ID: an id of the same form as ID that surely does not exist.
unknown_id_like()
{
	if [[ $1 =~ ^[0-9]+$ ]]; then
		echo 999999999999999
	elif [[ $1 =~ ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$ ]]; then
		cat /proc/sys/kernel/random/uuid
	else
		# Same length and alphabet: flip every character to another of its class.
		printf '%s' "$1" | tr 'a-zA-Z0-9' 'n-za-mN-ZA-M5-90-4'
	fi
}

# --- JWT ---------------------------------------------------------------------

# b64url: stdin bytes -> base64url without padding.
b64url()
{
	openssl base64 -A | tr '+/' '-_' | tr -d '='
}

# jwt_part TOKEN 1|2: the decoded header or payload.
jwt_part()
{
	local s
	s=$(cut -d. -f"$2" <<<"$1" | tr -- '-_' '+/')
	while ((${#s} % 4)); do s+='='; done
	printf '%s' "$s" | openssl base64 -d -A 2>/dev/null
}

# jwt_sig ALG KEY: stdin signing input -> base64url HMAC.
jwt_sig()
{
	local dgst hex
	case ${1^^} in
	HS384) dgst=sha384 ;;
	HS512) dgst=sha512 ;;
	*) dgst=sha256 ;;
	esac
	hex=$(printf '%s' "$2" | od -An -tx1 | tr -d ' \n')
	# HMAC pads short keys with zero bytes, so an empty key equals "00".
	openssl dgst -"$dgst" -mac HMAC -macopt "hexkey:${hex:-00}" -binary | b64url
}

# jwt_make HEADER_JSON PAYLOAD_JSON KEY [ALG]: header.payload.HMAC-ALG(KEY).
jwt_make()
{
	local h p
	h=$(printf '%s' "$1" | b64url)
	p=$(printf '%s' "$2" | b64url)
	printf '%s.%s.%s' "$h" "$p" "$(printf '%s.%s' "$h" "$p" | jwt_sig "${4:-HS256}" "$3")"
}

# --- events (long-polling) ---------------------------------------------------
#
#   ev_uri TEXT                      TEXT percent-encoded for a query string
#   ev_send_direct TOKEN RECEIVER CONTENT [CMID]   POST /v1/messages (text), via api
#   ev_send_group TOKEN GROUP_ID CONTENT [CMID]    POST /v1/groups/{id}/messages (text)
#   ev_cursor TOKEN                  GET /v1/events without cursor; sets EV_CURSOR
#                                    (empty unless 200 with a string cursor)
#   ev_poll TOKEN CURSOR [QUERY]     GET /v1/events?cursor=CURSOR&QUERY via api; on 200
#                                    with a string cursor, EV_CURSOR is the answer's cursor
#   ev_bg_poll NAME TOKEN CURSOR [QUERY]   the same poll as a background curl (several
#                                    may run at once); EV_BG_PID is its pid
#   ev_bg_wait NAME                  waits for it, then sets STATUS BODY HEADERS REQ as
#                                    api does, EV_TIME (curl's time_total, seconds) and
#                                    EV_END_NS (when it ended: its start + EV_TIME, in
#                                    date +%s%N nanoseconds)
#   ev_bg_running NAME               true while that background poll still runs
#   ev_lt A B                        true when the number A < B (decimals allowed)

ev_uri()
{
	jq -rn --arg s "$1" '$s | @uri'
}

ev_send_direct()
{
	api POST /v1/messages "$(jq -nc --arg r "$2" --arg c "$3" --arg k "${4:-$(cat /proc/sys/kernel/random/uuid)}" \
		'{receiver_id: $r, message_type: "text", content: $c, client_msg_id: $k}')" "$1"
}

ev_send_group()
{
	api POST "/v1/groups/$2/messages" "$(jq -nc --arg c "$3" --arg k "${4:-$(cat /proc/sys/kernel/random/uuid)}" \
		'{message_type: "text", content: $c, client_msg_id: $k}')" "$1"
}

ev_cursor()
{
	EV_CURSOR=
	api GET /v1/events "" "$1"
	[[ $STATUS == 200 ]] && EV_CURSOR=$(jq -r '.cursor | strings' <<<"$BODY" 2>/dev/null)
	return 0
}

ev_poll()
{
	local c
	api GET "/v1/events?cursor=$(ev_uri "$2")${3:+&$3}" "" "$1"
	if [[ $STATUS == 200 ]]; then
		c=$(jq -r '.cursor | strings' <<<"$BODY" 2>/dev/null)
		[[ -n $c ]] && EV_CURSOR=$c
	fi
	return 0
}

ev_bg_poll()
{
	local f=$TEST_TMP/bg-$1 path
	path="/v1/events?cursor=$(ev_uri "$3")${4:+&$4}"
	rm -f "$f".*
	printf 'GET %s (with Authorization; background poll %s)' "$path" "$1" >"$f.req"
	date +%s%N >"$f.start"
	curl -sS --path-as-is --max-time "$API_TIMEOUT" -o "$f.body" -D "$f.headers" \
		-w '%{http_code} %{time_total}' -H "Authorization: Bearer $2" "$BASE_URL$path" \
		>"$f.out" 2>"$f.err" </dev/null &
	EV_BG_PID=$!
	printf '%s' "$EV_BG_PID" >"$f.pid"
}

ev_bg_running()
{
	local f=$TEST_TMP/bg-$1
	[[ -f $f.pid ]] && kill -0 "$(<"$f.pid")" 2>/dev/null
}

ev_bg_wait()
{
	local f=$TEST_TMP/bg-$1 out
	[[ -f $f.pid ]] && wait "$(<"$f.pid")" 2>/dev/null
	out=$(cat "$f.out" 2>/dev/null)
	STATUS=${out%% *}
	[[ $STATUS =~ ^[0-9]{3}$ ]] || STATUS=000
	EV_TIME=${out#* }
	[[ $EV_TIME =~ ^[0-9.]+$ ]] || EV_TIME=999
	EV_END_NS=$(awk -v s="$(cat "$f.start" 2>/dev/null)" -v t="$EV_TIME" 'BEGIN { printf "%.0f", s + t * 1e9 }')
	REQ=$(cat "$f.req" 2>/dev/null)
	[[ $STATUS == 000 ]] && REQ+=" [curl: $(tr '\n' ' ' <"$f.err" 2>/dev/null)]"
	BODY=$(cat "$f.body" 2>/dev/null; printf x)
	BODY=${BODY%x}
	HEADERS=$(tr -d '\r' <"$f.headers" 2>/dev/null |
		awk '/^HTTP\//{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}')
	if [[ $STATUS =~ ^[45] ]]; then
		ERROR_BODIES=$((ERROR_BODIES + 1))
		is_leaky "$BODY" && LEAKS+=("$REQ -> $STATUS $BODY")
	fi
	return 0
}

ev_lt()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'
}
