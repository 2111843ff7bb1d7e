#!/usr/bin/env bash
# Sessions and tokens: login, devices, logout, refresh, the claim checks that
# libjwt 1.10.2 leaves to the application (LIBRARIES.md §1), and per-username
# login throttling (API.md "Users and auth").
set -uo pipefail
. "$(dirname "$0")/lib.sh"

now=$(date +%s)

# with_body TEXT WHAT: make TEXT the "response" that the jq checks look at.
with_body()
{
	BODY=$1 STATUS=- HEADERS= REQ="($2)"
}

# token_works TOKEN NAME / token_rejected TOKEN NAME: GET /v1/sessions with it.
token_works()
{
	api GET /v1/sessions "" "$1"
	expect_status 200 "$2"
}
token_rejected()
{
	api GET /v1/sessions "" "$1"
	expect_error_code unauthorized "$2"
}

new_user A || true
new_user B || true
new_user C || true

# --- login ------------------------------------------------------------------------

login "$A_USERNAME" "$A_PASSWORD" laptop
expect_status 201 "POST /v1/sessions logs in: 201"
expect_jq '(.access_token | type) == "string" and (.access_token | length) > 0' "access_token is a non-empty string"
expect_json .token_type Bearer 'token_type is "Bearer"'
expect_jq '(.expires_in | type) == "number" and .expires_in > 0 and (.expires_in | floor) == .expires_in' \
	"expires_in is a positive whole number"
expect_jq '.user_id == $id' "user_id is the user's id (a string)" --arg id "$A_ID"
expect_jq '(.device_id | type) == "string" and (.device_id | length) > 0' "device_id is a non-empty string"
expect_jq '.device_id != $d' "a second login makes a second device" --arg d "$A_DEVICE"
expect_header Content-Type "$JSON_CT_RE" "the login answer has Content-Type application/json; charset=utf-8"
expect_header Cache-Control "$NO_STORE_RE" "the login answer carries Cache-Control: no-store"
A2_TOKEN=$LOGIN_TOKEN
A2_DEVICE=$LOGIN_DEVICE
ttl=$(jq -r '.expires_in // 0' <<<"$BODY")

# What the server puts in its own tokens (no key needed to read them).
with_body "$(jwt_part "$A2_TOKEN" 1)" "decoded header of a server token"
expect_json .alg HS256 'server tokens say "alg":"HS256"'
with_body "$(jwt_part "$A2_TOKEN" 2)" "decoded payload of a server token"
expect_jq '.sub == $u and .did == $d' "server tokens carry sub (user_id) and did (device_id)" \
	--arg u "$A_ID" --arg d "$A2_DEVICE"
expect_jq '.iss == $iss' "server tokens carry iss \"$CHAT_ISSUER\"" --arg iss "$CHAT_ISSUER"
expect_jq '(.iat | type) == "number" and (.exp | type) == "number" and ((.exp - .iat - $ttl) | if . < 0 then -. else . end) <= 1 and ((.iat - $now) | if . < 0 then -. else . end) < 300' \
	"server tokens carry iat (now) and exp = iat + expires_in" --argjson ttl "$ttl" --argjson now "$now"

token_works "$A_TOKEN" "the first device's token works"
token_works "$A2_TOKEN" "the second device's token works"

# --- wrong credentials ---------------------------------------------------------------

login "$C_USERNAME" "wrong-$C_PASSWORD"
expect_error_code unauthorized "a wrong password is 401 unauthorized"
msg_wrong_pw=$(jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null)

login "$(rand_name nobody)" "$C_PASSWORD"
expect_error_code unauthorized "an unknown username is 401 unauthorized"
msg_unknown=$(jq -r '.error.message // empty' <<<"$BODY" 2>/dev/null)
check "$([[ -n $msg_wrong_pw && $msg_wrong_pw == "$msg_unknown" ]]; echo $?)" \
	"wrong password and unknown username give the same message" \
	"wrong password: $msg_wrong_pw" "unknown user:   $msg_unknown"

login "$C_USERNAME" "$C_PASSWORD"
expect_status 201 "the right password still logs in after one failure"

api POST /v1/sessions "$(json_obj username "$C_USERNAME")"
expect_error_code bad_request "a login without password is 400 bad_request"

api POST /v1/sessions "{\"username\":\"$C_USERNAME\",\"password\":12345678}"
expect_error_code bad_request "a login with a numeric password is 400 bad_request"

api POST /v1/sessions "{\"username\":\"$C_USERNAME\","
expect_error_code invalid_json "a login with invalid JSON is 400 invalid_json"

# --- GET /v1/sessions ---------------------------------------------------------------------

api GET /v1/sessions "" "$A2_TOKEN"
expect_status 200 "GET /v1/sessions answers 200"
expect_jq '(.sessions | type) == "array" and (.sessions | length) == 2' "the user's two devices are listed (and no others)"
expect_jq '[.sessions[].device_id] | sort == ([$a, $b] | sort)' "the listed device_ids are the two logins' devices" \
	--arg a "$A_DEVICE" --arg b "$A2_DEVICE"
expect_jq '[.sessions[] | select(.current == true) | .device_id] == [$d]' "current is true only for the caller's device" \
	--arg d "$A2_DEVICE"
expect_jq 'all(.sessions[]; (.current | type) == "boolean")' "current is a boolean in every session"
expect_jq 'all(.sessions[]; has("device_id") and has("device_name") and has("created") and has("last_seen") and has("current"))' \
	"every session has device_id, device_name, created, last_seen, current"
expect_jq 'all(.sessions[]; (.created | test($re)) and (.last_seen | test($re)))' \
	"created and last_seen are RFC 3339 UTC with milliseconds" --arg re "$TS_RE"
expect_jq '.sessions[] | select(.device_id == $d) | .device_name == "laptop"' "the device_name given at login is listed" \
	--arg d "$A2_DEVICE"

api GET /v1/sessions "" "$A_TOKEN"
expect_jq '[.sessions[] | select(.current == true) | .device_id] == [$d]' "with the other token, current marks the other device" \
	--arg d "$A_DEVICE"

api GET /v1/sessions "" "$B_TOKEN"
expect_jq '[.sessions[].device_id] == [$d]' "another user sees only its own device" --arg d "$B_DEVICE"

api GET /v1/sessions
expect_error_code unauthorized "GET /v1/sessions without a token is 401"

# --- DELETE /v1/sessions/{device_id} -------------------------------------------------------

api DELETE "/v1/sessions/$B_DEVICE" "" "$A2_TOKEN"
expect_error_code not_found "deleting another user's device is 404 not_found"
token_works "$B_TOKEN" "that other user's device still works"

api DELETE "/v1/sessions/$(unknown_id_like "$A_DEVICE")" "" "$A2_TOKEN"
expect_error_code not_found "deleting an unknown device id is 404 not_found"

for bad in abc '..%2F..%2Fetc%2Fpasswd' '-1' '99999999999999999999999999999'; do
	api DELETE "/v1/sessions/$bad" "" "$A2_TOKEN"
	expect_error_code "not_found|bad_request" "deleting the malformed device id $bad is 404 or 400"
done

api DELETE "/v1/sessions/$A_DEVICE"
expect_error_code unauthorized "DELETE /v1/sessions/{id} without a token is 401"

api DELETE "/v1/sessions/$A_DEVICE" "" "$A2_TOKEN"
expect_status 204 "DELETE /v1/sessions/{other own device} is 204"
check "$([[ -z $BODY ]]; echo $?)" "the 204 answer has no body"
token_rejected "$A_TOKEN" "the deleted device's token is 401 on the very next request"
token_works "$A2_TOKEN" "the current device's token still works"
expect_jq '[.sessions[].device_id] == [$d]' "the deleted device is no longer listed" --arg d "$A2_DEVICE"

api DELETE "/v1/sessions/$A_DEVICE" "" "$A2_TOKEN"
expect_error_code not_found "deleting the same device again is 404"

api POST /v1/sessions/current/refresh "" "$A_TOKEN"
expect_error_code unauthorized "the deleted device's token cannot be refreshed"

# --- refresh -----------------------------------------------------------------------------

api POST /v1/sessions/current/refresh "" "$A2_TOKEN"
expect_status 201 "POST /v1/sessions/current/refresh is 201"
expect_jq '(.access_token | type) == "string" and (.access_token | length) > 0' "the refresh answer has an access_token"
expect_jq '(.device_id // $d) == $d' "the refresh answer is for the same device_id" --arg d "$A2_DEVICE"
expect_header Cache-Control "$NO_STORE_RE" "the refresh answer carries Cache-Control: no-store"
A3_TOKEN=$(jq -r '.access_token // empty' <<<"$BODY" 2>/dev/null)
with_body "$(jwt_part "$A3_TOKEN" 2)" "decoded payload of the refreshed token"
expect_jq '.sub == $u and .did == $d' "the refreshed token names the same user and device" \
	--arg u "$A_ID" --arg d "$A2_DEVICE"

token_works "$A3_TOKEN" "the refreshed token works"
expect_jq '[.sessions[] | select(.current == true) | .device_id] == [$d]' \
	"with the refreshed token, current is the same device" --arg d "$A2_DEVICE"

api POST /v1/sessions/current/refresh
expect_error_code unauthorized "refresh without a token is 401"

# --- logout: DELETE /v1/sessions/current -----------------------------------------------------

api DELETE /v1/sessions/current "" "$A3_TOKEN"
expect_status 204 "DELETE /v1/sessions/current is 204"
token_rejected "$A3_TOKEN" "after logout the refreshed token is 401"
token_rejected "$A2_TOKEN" "after logout the device's older token is 401 too"

api POST /v1/sessions/current/refresh "" "$A2_TOKEN"
expect_error_code unauthorized "after logout the device's token cannot be refreshed"

api DELETE /v1/sessions/current "" "$A2_TOKEN"
expect_error_code unauthorized "a second logout with the same token is 401"

login "$A_USERNAME" "$A_PASSWORD"
expect_status 201 "the user can log in again after logging out everywhere"

# --- malformed tokens (no key needed) ------------------------------------------------------

token_rejected "garbage" "a token that is not a JWT is 401"
token_rejected "$C_TOKEN.extra" "a server token with a 4th segment appended is 401"
token_rejected "${C_TOKEN%.*}." "a server token with its signature removed is 401"
token_rejected "${C_TOKEN%.*}" "a server token cut to two segments is 401"

c_payload=$(cut -d. -f2 <<<"$C_TOKEN")
for none in none None NONE; do
	token_rejected "$(printf '{"alg":"%s","typ":"JWT"}' "$none" | b64url).$c_payload." \
		"alg \"$none\" with an empty signature (real claims) is 401"
done
token_rejected "$(printf '{"alg":"none"}' | b64url).$c_payload.$(cut -d. -f3 <<<"$C_TOKEN")" \
	"alg none keeping the original signature is 401"

# Tampering: one character of the payload changed, signature kept.
i=$((${#c_payload} / 2))
ch=${c_payload:i:1}
[[ $ch == A ]] && nch=B || nch=A
tampered="${C_TOKEN%%.*}.${c_payload:0:i}$nch${c_payload:i+1}.${C_TOKEN##*.}"
token_rejected "$tampered" "a server token with one payload character changed is 401"

# Tampering: the payload re-encoded with another user's sub, signature kept.
swapped=$(jwt_part "$C_TOKEN" 2 | jq -c --arg s "$B_ID" '.sub = $s' | b64url)
token_rejected "${C_TOKEN%%.*}.$swapped.${C_TOKEN##*.}" "a server token with sub swapped to another user is 401"

for auth in "Basic $(printf '%s:%s' "$C_USERNAME" "$C_PASSWORD" | openssl base64 -A)" "Bearer" "Bearer " \
	"Token $C_TOKEN" "$C_TOKEN"; do
	api --auth "$auth" GET /v1/sessions
	expect_error_code unauthorized "Authorization: ${auth:0:20}... is 401"
done
token_works "$C_TOKEN" "the token used above is itself valid (control)"

# --- forged tokens (need the server's key) -----------------------------------------------------

new_user D || true

# claims [jq assignments]: the right claims for D's device, then changed.
claims()
{
	jq -nc --arg sub "${D_ID:-}" --arg did "${D_DEVICE:-}" --arg iss "$CHAT_ISSUER" \
		--argjson iat "$now" --argjson exp "$((now + 3600))" \
		"{sub: \$sub, did: \$did, iat: \$iat, exp: \$exp, iss: \$iss} | ${1:-.}"
}
HS='{"alg":"HS256","typ":"JWT"}'

# forged NAME HEADER PAYLOAD [KEY] [ALG]: expects 401 with that token.
forged()
{
	if [[ -z $TEST_JWT_SECRET ]]; then
		skip "$1" "TEST_JWT_SECRET is not set"
		return
	fi
	token_rejected "$(jwt_make "$2" "$3" "${4-$TEST_JWT_SECRET}" "${5:-HS256}")" "$1"
}

if [[ -z $TEST_JWT_SECRET ]]; then
	skip "a forged token with the right claims for a real device works (positive control)" "TEST_JWT_SECRET is not set"
else
	api GET /v1/sessions "" "$(jwt_make "$HS" "$(claims)" "$TEST_JWT_SECRET")"
	expect_status 200 "a forged token with the right claims (sub did iat exp iss) for a real device works (positive control)"
	expect_jq '[.sessions[] | select(.current == true) | .device_id] == [$d]' \
		"the forged token acts as that device" --arg d "${D_DEVICE:-}"
fi

forged "a validly signed token with exp in the past is 401" "$HS" "$(claims ".exp = $((now - 3600)) | .iat = $((now - 7200))")"
forged "a validly signed token without exp is 401" "$HS" "$(claims 'del(.exp)')"
forged 'a validly signed token with exp as a string "9999999999" is 401' "$HS" "$(claims '.exp = "9999999999"')"
forged "a validly signed token with exp true is 401" "$HS" "$(claims '.exp = true')"
forged "a validly signed token with exp 0 is 401" "$HS" "$(claims '.exp = 0')"
forged "a validly signed token with exp null is 401" "$HS" "$(claims '.exp = null')"
forged 'header "alg":"hs256" (lower case), signed correctly, is 401' '{"alg":"hs256","typ":"JWT"}' "$(claims)"
forged 'header "alg":"Hs256", signed correctly, is 401' '{"alg":"Hs256","typ":"JWT"}' "$(claims)"
forged 'header "alg":"HS384" signed with the key using HS384 is 401' '{"alg":"HS384","typ":"JWT"}' "$(claims)" "$TEST_JWT_SECRET" HS384
forged 'header "alg":"HS512" signed with the key using HS512 is 401' '{"alg":"HS512","typ":"JWT"}' "$(claims)" "$TEST_JWT_SECRET" HS512
forged 'alg none with the right claims and an empty signature is 401' '{"alg":"none","typ":"JWT"}' "$(claims)"
forged "a wrong iss is 401" "$HS" "$(claims '.iss = "evil"')"
forged "an iss differing only in case is 401" "$HS" "$(claims ".iss = \"${CHAT_ISSUER^^}\"")"
forged "a missing iss is 401" "$HS" "$(claims 'del(.iss)')"
forged "a token signed with a different key is 401" "$HS" "$(claims)" "another-key-of-at-least-32-bytes-0123456789"
forged "a token signed with an empty key (and a kid header) is 401" '{"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"}' "$(claims)" ""
forged "a token signed with the key plus one byte is 401" "$HS" "$(claims)" "${TEST_JWT_SECRET}x"
forged "a validly signed token whose did does not exist is 401" "$HS" "$(claims ".did = \"$(unknown_id_like "${D_DEVICE:-x}")\"")"
forged "a validly signed token with another user's did is 401" "$HS" "$(claims ".did = \"${B_DEVICE:-}\"")"
forged "a validly signed token with another user's sub (and this user's did) is 401" "$HS" "$(claims ".sub = \"${B_ID:-}\"")"
forged "a validly signed token without sub is 401" "$HS" "$(claims 'del(.sub)')"
forged "a validly signed token without did is 401" "$HS" "$(claims 'del(.did)')"
forged "a validly signed token with a numeric did is 401" "$HS" "$(claims '.did = 1')"
forged "a validly signed token over 8 KB is 401" "$HS" "$(claims ".pad = \"$(printf '%*s' 8300 '' | tr ' ' p)\"")"

if [[ -n $TEST_JWT_SECRET ]]; then
	# A device that was logged out stays out, even with a freshly signed token.
	login "${D_USERNAME:-}" "${D_PASSWORD:-}"
	d2_token=$LOGIN_TOKEN d2_device=$LOGIN_DEVICE
	api DELETE /v1/sessions/current "" "$d2_token"
	expect_status 204 "log out a second device of the forging user"
	forged "a validly signed, unexpired token for a logged-out device is 401" "$HS" "$(claims ".did = \"$d2_device\"")"
	api GET /v1/sessions "" "$(jwt_make "$HS" "$(claims)" "$TEST_JWT_SECRET")"
	expect_status 200 "the positive control still works after the attacks"
else
	skip "a validly signed, unexpired token for a logged-out device is 401" "TEST_JWT_SECRET is not set"
fi

api GET /healthz
expect_status 200 "the server is still healthy after the token attacks"

# --- login throttling per username --------------------------------------------------------------

new_user E || true
new_user F || true
max_failures=${CHAT_LOGIN_MAX_FAILURES:-5} # the server's per-username threshold
for ((n = 1; n <= max_failures; n++)); do
	login "${E_USERNAME:-}" "wrong-password-$n"
	expect_error_code unauthorized "throttling: wrong password #$n is 401"
done
login "${E_USERNAME:-}" "${E_PASSWORD:-}"
expect_error_code rate_limited "throttling: attempt #$n, with the right password, is 429 rate_limited"
expect_header Retry-After '^[1-9][0-9]*$' "throttling: the 429 carries Retry-After in whole seconds > 0"
expect_header Cache-Control "$NO_STORE_RE" "throttling: the 429 carries Cache-Control: no-store"

login "${F_USERNAME:-}" "${F_PASSWORD:-}"
expect_status 201 "throttling is per username: another user still logs in"
token_works "${E_TOKEN:-}" "the throttled user's existing token still works"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
