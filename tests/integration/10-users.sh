#!/usr/bin/env bash
# Users: registration rules, the JSON body rules of API.md "Conventions"
# (size, content type, UTF-8, NUL, precedence of errors) and user lookup.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

PW=password-1234

# reg USERNAME PASSWORD [DISPLAY_NAME]: POST /v1/users with string fields.
reg()
{
	if (($# >= 3)); then
		api POST /v1/users "$(json_obj username "$1" password "$2" display_name "$3")"
	else
		api POST /v1/users "$(json_obj username "$1" password "$2")"
	fi
}

# repeat STRING N: STRING N times.
repeat()
{
	local s= i
	for ((i = 0; i < $2; i++)); do s+=$1; done
	printf '%s' "$s"
}

new_user A || true # the caller of the lookups below

# --- registration ---------------------------------------------------------------

name=$(rand_name)
reg "$name" "$PW"
expect_status 201 "POST /v1/users registers a user: 201"
expect_jq '(.user_id | type) == "string" and (.user_id | length) > 0' "the new user_id is a non-empty string"
expect_json .username "$name" "the answer echoes the username"
expect_json .display_name "$name" "display_name defaults to the username"
expect_jq '[paths | map(tostring) | join(".") | ascii_downcase | select(test("pass|hash|salt"))] == []' \
	"the answer holds no password, hash or salt"
expect_header Content-Type "$JSON_CT_RE" "the answer has Content-Type application/json; charset=utf-8"
first_id=$(jq -r '.user_id // empty' <<<"$BODY")
first_name=$name

reg "$name" "other-password-99"
expect_error_code conflict "registering a taken username is 409 conflict"

reg "$name" "$PW" "Someone Else"
expect_error_code conflict "a taken username is 409 even with another display_name"

name=$(rand_name)
reg "$name" "$PW" "Alice Liddell"
expect_status 201 "register with a display_name: 201"
expect_json .display_name "Alice Liddell" "the given display_name is kept"

# --- usernames: [a-z0-9_.-]{3,32} ------------------------------------------------

# The shortest legal username: 3 characters (retried if taken by earlier runs).
for _ in 1 2 3 4 5 6; do
	short=$(printf '%s' "$(date +%N)$RANDOM" | md5sum | cut -c1-3)
	reg "$short" "$PW"
	[[ $STATUS == 409 ]] || break
done
expect_status 201 "a 3-character username is accepted"

long=$(rand_name)
long=$long$(repeat x $((32 - ${#long})))
reg "$long" "$PW"
expect_status 201 "a 32-character username is accepted"

name="a.b-c_$(rand_name)"
name=${name:0:32}
reg "$name" "$PW"
expect_status 201 "a username with . - _ and digits is accepted"

for bad in "ab" "${long}y" "Upper$(rand_name)" "with space$RANDOM" "ünïcode$RANDOM" \
	"" "slash/$RANDOM" "semi;colon$RANDOM" "tab	$RANDOM" "quote'$RANDOM" "at@$RANDOM"; do
	reg "$bad" "$PW"
	expect_error_code bad_request "username '$(printf '%q' "$bad")' is 400 bad_request"
done

# --- passwords: 8..256 bytes ----------------------------------------------------------

reg "$(rand_name)" "1234567"
expect_error_code bad_request "a 7-byte password is 400 bad_request"

reg "$(rand_name)" "12345678"
expect_status 201 "an 8-byte password is accepted"

reg "$(rand_name)" "$(repeat a 256)"
expect_status 201 "a 256-byte password is accepted"

reg "$(rand_name)" "$(repeat a 257)"
expect_error_code bad_request "a 257-byte password is 400 bad_request"

# Bytes, not characters: 4 x "é" is 8 bytes; 129 x "é" is 129 characters but 258 bytes.
reg "$(rand_name)" "ééé1"
expect_error_code bad_request "a password of 4 characters in 7 bytes is 400 (length counts bytes)"

reg "$(rand_name)" "éééé"
expect_status 201 "a password of 4 characters in 8 bytes is accepted"

reg "$(rand_name)" "$(repeat é 129)"
expect_error_code bad_request "a password of 129 characters in 258 bytes is 400 (length counts bytes)"

api POST /v1/users "$(json_obj username "$(rand_name)")"
expect_error_code bad_request "a missing password is 400 bad_request"

reg "$(rand_name)" ""
expect_error_code bad_request "an empty password is 400 bad_request"

# --- display_name: 1..64 characters (code points) -------------------------------------

dn64=$(repeat é 64)
reg "$(rand_name)" "$PW" "$dn64"
expect_status 201 "a display_name of 64 two-byte characters (128 bytes) is accepted"
expect_json .display_name "$dn64" "the 64-character display_name comes back unchanged"

dn64=$(repeat '😀' 64)
reg "$(rand_name)" "$PW" "$dn64"
expect_status 201 "a display_name of 64 four-byte characters (256 bytes) is accepted"
expect_json .display_name "$dn64" "the 64-emoji display_name comes back unchanged"

reg "$(rand_name)" "$PW" "$(repeat é 65)"
expect_error_code bad_request "a display_name of 65 characters is 400 bad_request"

reg "$(rand_name)" "$PW" "$(repeat x 65)"
expect_error_code bad_request "a display_name of 65 ASCII characters is 400 bad_request"

reg "$(rand_name)" "$PW" ""
expect_error_code bad_request "an empty display_name is 400 bad_request"

name=$(rand_name)
api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\",\"display_name\":\"\\ud83d\\ude00 \\u00e9\"}"
expect_status 201 "a display_name with JSON escapes (a surrogate pair) is accepted"
expect_json .display_name "😀 é" "the escaped display_name is decoded to UTF-8"

# --- JSON syntax and shape -----------------------------------------------------------------

name=$(rand_name)
api POST /v1/users "{\"username\":\"$name\",\"password\":"
expect_error_code invalid_json "a truncated JSON body is 400 invalid_json"

api POST /v1/users "{username: \"$name\", password: \"$PW\"}"
expect_error_code invalid_json "unquoted keys are 400 invalid_json"

api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\"} x"
expect_error_code invalid_json "a body with trailing garbage is 400 invalid_json"

api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\"}{}"
expect_error_code invalid_json "two JSON objects in one body is 400 invalid_json"

api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\",}"
expect_error_code invalid_json "a trailing comma is 400 invalid_json"

for doc in '[]' '123' '"text"' 'null' 'true' "[{\"username\":\"$name\",\"password\":\"$PW\"}]"; do
	api POST /v1/users "$doc"
	expect_error_code "bad_request|invalid_json" "a JSON body that is not an object ($doc) is 400"
done

api POST /v1/users ''
expect_error_code "bad_request|invalid_json" "an empty body is 400"

api GET "/v1/users?username=$name" "" "${A_TOKEN:-}"
expect_error_code not_found "none of the rejected bodies created the user"

api POST /v1/users '{}'
expect_error_code bad_request "{} (no fields) is 400 bad_request"

api POST /v1/users "$(json_obj password "$PW")"
expect_error_code bad_request "a missing username is 400 bad_request"

api POST /v1/users "{\"username\":123456,\"password\":\"$PW\"}"
expect_error_code bad_request "username as a number is 400 bad_request"

api POST /v1/users "{\"username\":[\"$name\"],\"password\":\"$PW\"}"
expect_error_code bad_request "username as an array is 400 bad_request"

api POST /v1/users "{\"username\":\"$name\",\"password\":12345678}"
expect_error_code bad_request "password as a number is 400 bad_request"

api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\",\"display_name\":42}"
expect_error_code bad_request "display_name as a number is 400 bad_request"

api POST /v1/users "{\"username\":\"$name\",\"password\":\"$PW\",\"display_name\":{\"a\":1}}"
expect_error_code bad_request "display_name as an object is 400 bad_request"

api POST /v1/users "{\"username\":null,\"password\":\"$PW\"}"
expect_error_code bad_request "username null is 400 bad_request"

# --- text must be valid UTF-8 without NUL ------------------------------------------------

utf8_case()
{
	local bytes=$1 what=$2
	api POST /v1/users "$(printf '{"username":"%s","password":"%s","display_name":"a%bz"}' "$(rand_name)" "$PW" "$bytes")"
	expect_error_code "bad_request|invalid_json" "display_name with $what is 400"
}
utf8_case '\xff' 'the byte 0xFF'
utf8_case '\xc0\xaf' 'an overlong encoding (C0 AF)'
utf8_case '\xe0\x80\xaf' 'a 3-byte overlong encoding (E0 80 AF)'
utf8_case '\xed\xa0\x80' 'an encoded surrogate (ED A0 80)'
utf8_case '\xf4\x90\x80\x80' 'a code point above U+10FFFF (F4 90 80 80)'
utf8_case '\xe2\x82' 'a truncated sequence (E2 82)'
utf8_case '\x80' 'a lone continuation byte (80)'

api POST /v1/users "$(printf '{"username":"%s","password":"pass\xffword1"}' "$(rand_name)")"
expect_error_code "bad_request|invalid_json" "a password with the byte 0xFF is 400"

api POST /v1/users "{\"username\":\"$(rand_name)\",\"password\":\"$PW\",\"display_name\":\"a\\u0000b\"}"
expect_error_code "bad_request|invalid_json" 'display_name with \u0000 is 400'

api POST /v1/users "{\"username\":\"$(rand_name)\",\"password\":\"pass\\u0000word1\"}"
expect_error_code "bad_request|invalid_json" 'a password with \u0000 is 400'

api POST /v1/users "{\"username\":\"$(rand_name)\",\"password\":\"$PW\",\"display_name\":\"a\\ud800b\"}"
expect_error_code "bad_request|invalid_json" 'display_name with a lone surrogate escape \ud800 is 400'

printf '{"username":"%s","password":"%s","display_name":"a\0b"}' "$(rand_name)" "$PW" >"$TEST_TMP/nul.json"
api --file "$TEST_TMP/nul.json" POST /v1/users
expect_error_code "bad_request|invalid_json" "a raw NUL byte inside a string is 400"

printf '{"username":"%s","password":"%s"}\0' "$(rand_name)" "$PW" >"$TEST_TMP/nul2.json"
api --file "$TEST_TMP/nul2.json" POST /v1/users
expect_error_code "bad_request|invalid_json" "a raw NUL byte after the object is 400"

# --- content types: JSON is read whatever the type; multipart is 415 -----------------------

reg_with_type()
{
	local what=$1
	shift
	name=$(rand_name)
	api "$@" POST /v1/users "$(json_obj username "$name" password "$PW")"
	expect_status 201 "a JSON body sent as $what is accepted"
}
reg_with_type "Content-Type: text/plain" --ct text/plain
reg_with_type "Content-Type: text/plain;charset=UTF-8" --ct 'text/plain;charset=UTF-8'
reg_with_type "Content-Type: application/x-www-form-urlencoded (curl's default)" --ct application/x-www-form-urlencoded
reg_with_type "no Content-Type at all" --no-ct
reg_with_type "Content-Type: application/json; charset=utf-8" --ct 'application/json; charset=utf-8'

multipart()
{
	printf -- '--XyZzY\r\nContent-Disposition: form-data; name="username"\r\n\r\n%s\r\n--XyZzY\r\nContent-Disposition: form-data; name="password"\r\n\r\n%s\r\n--XyZzY--\r\n' "$1" "$2"
}
name=$(rand_name)
api --ct 'multipart/form-data; boundary=XyZzY' POST /v1/users "$(multipart "$name" "$PW")"
expect_error_code unsupported_media_type "a multipart/form-data body is 415 unsupported_media_type"

api --ct 'Multipart/Form-Data; boundary=XyZzY' POST /v1/users "$(multipart "$name" "$PW")"
expect_error_code unsupported_media_type "Multipart/Form-Data (media types ignore case) is 415"

api --ct 'multipart/form-data; boundary=XyZzY' POST /v1/users "$(json_obj username "$name" password "$PW")"
expect_error_code unsupported_media_type "a JSON body labelled multipart/form-data is 415"

api --ct 'multipart/form-data; boundary=XyZzY' POST /v1/sessions "$(multipart "$name" "$PW")"
expect_error_code unsupported_media_type "multipart/form-data to POST /v1/sessions is 415"

api GET "/v1/users?username=$name" "" "${A_TOKEN:-}"
expect_error_code not_found "the multipart bodies created no user"

# --- body size: at most 65,536 bytes -------------------------------------------------------

# padded_body NAME SIZE: a valid registration body of exactly SIZE bytes.
padded_body()
{
	local head="{\"username\":\"$1\",\"password\":\"$PW\"" n
	n=$(($2 - ${#head} - 1))
	{ printf '%s' "$head"; printf '%*s' "$n" ''; printf '}'; } >"$TEST_TMP/padded.json"
}

name=$(rand_name)
padded_body "$name" 65536
api --file "$TEST_TMP/padded.json" POST /v1/users
expect_status 201 "a valid body of exactly 65,536 bytes is accepted"

name=$(rand_name)
padded_body "$name" 65537
api --file "$TEST_TMP/padded.json" POST /v1/users
expect_error_code payload_too_large "a body of 65,537 bytes is 413 payload_too_large"

api GET "/v1/users?username=$name" "" "${A_TOKEN:-}"
expect_error_code not_found "the 65,537-byte body created no user"

name=$(rand_name)
padded_body "$name" 1048576
api --file "$TEST_TMP/padded.json" POST /v1/users
expect_error_code payload_too_large "a body of 1 MiB is 413 payload_too_large"

padded_body "$(rand_name)" 70000
api -H 'Transfer-Encoding: chunked' --file "$TEST_TMP/padded.json" POST /v1/users
expect_error_code payload_too_large "a chunked body of 70,000 bytes (no Content-Length) is 413"

name=$(rand_name)
padded_body "$name" 1000
api -H 'Transfer-Encoding: chunked' --file "$TEST_TMP/padded.json" POST /v1/users
expect_status 201 "a small chunked body (no Content-Length) is accepted"

# --- precedence: 404/405 > 401 > 413 > 415 > 400 --------------------------------------------

padded_body "$(rand_name)" 70000
cp "$TEST_TMP/padded.json" "$TEST_TMP/big.json"
api --file "$TEST_TMP/big.json" POST /v1/no-such-route
expect_error_code not_found "an oversize body to an unknown route is 404, not 413"

api --file "$TEST_TMP/big.json" PUT /v1/users
expect_error_code method_not_allowed "an oversize body with a wrong method is 405, not 413"

api --file "$TEST_TMP/big.json" POST /v1/sessions/current/refresh
expect_error_code unauthorized "an oversize body without a token to an authenticated endpoint is 401, not 413"

api POST /v1/sessions/current/refresh '{"broken":'
expect_error_code unauthorized "invalid JSON without a token to an authenticated endpoint is 401, not 400"

api --ct 'multipart/form-data; boundary=XyZzY' POST /v1/sessions/current/refresh "$(multipart a b)"
expect_error_code unauthorized "multipart without a token to an authenticated endpoint is 401, not 415"

{ printf -- '--XyZzY\r\nContent-Disposition: form-data; name="username"\r\n\r\n'; printf '%*s' 70000 ''; printf '\r\n--XyZzY--\r\n'; } >"$TEST_TMP/bigmp"
api --ct 'multipart/form-data; boundary=XyZzY' --file "$TEST_TMP/bigmp" POST /v1/users
expect_error_code payload_too_large "an oversize multipart body is 413, not 415"

api --ct 'multipart/form-data; boundary=XyZzY' POST /v1/users '{"broken":'
expect_error_code unsupported_media_type "a broken body labelled multipart is 415, not 400"

api POST /v1/users "{\"username\":\"$first_name\",\"password\":\"1\"}"
expect_error_code bad_request "a taken username with an invalid password is 400, not 409"

# --- lookup: GET /v1/users/{user_id} ----------------------------------------------------

api GET "/v1/users/$first_id" "" "${A_TOKEN:-}"
expect_status 200 "GET /v1/users/{id} of another user answers 200"
expect_jq '.user_id == $id and .username == $n and .display_name == $n' \
	"GET /v1/users/{id} has user_id, username, display_name" --arg id "$first_id" --arg n "$first_name"
expect_jq '[paths | map(tostring) | join(".") | ascii_downcase | select(test("pass|hash|salt"))] == []' \
	"GET /v1/users/{id} holds no password, hash or salt"
expect_header Cache-Control "$NO_STORE_RE" "GET /v1/users/{id} carries Cache-Control: no-store"

api GET "/v1/users/${A_ID:-x}" "" "${A_TOKEN:-}"
expect_jq '.user_id == $id and .username == $n' "GET /v1/users/{own id} answers the caller itself" \
	--arg id "${A_ID:-}" --arg n "${A_USERNAME:-}"

api GET "/v1/users/$first_id"
expect_error_code unauthorized "GET /v1/users/{id} without a token is 401"

api GET "/v1/users/$first_id" "" "garbage.token.here"
expect_error_code unauthorized "GET /v1/users/{id} with a garbage token is 401"

unknown=$(unknown_id_like "$first_id")
api GET "/v1/users/$unknown" "" "${A_TOKEN:-}"
expect_error_code not_found "GET /v1/users/{unknown id of the right form} is 404 not_found"

for bad in abc '..%2F..%2Fetc%2Fpasswd' '%2E%2E%2F%2E%2E%2Fetc%2Fpasswd' "1'%20OR%20'1'%3D'1" \
	'-1' '0' '99999999999999999999999999999' '%FF%FE' "$(repeat 9 2000)" '%20'; do
	api GET "/v1/users/$bad" "" "${A_TOKEN:-}"
	expect_error_code "not_found|bad_request" "GET /v1/users/${bad:0:40} (malformed id) is 404 or 400, never 500"
done

api GET "/v1/users/../../etc/passwd" "" "${A_TOKEN:-}"
expect_jq '(.error.code | type) == "string" and (.error.message | type) == "string"' \
	"GET /v1/users/../../etc/passwd answers the JSON error shape"
check "$([[ $STATUS =~ ^(400|404)$ ]]; echo $?)" "GET /v1/users/../../etc/passwd is 404 or 400"

# --- lookup: GET /v1/users?username=NAME --------------------------------------------------

api GET "/v1/users?username=$first_name" "" "${A_TOKEN:-}"
expect_status 200 "GET /v1/users?username=NAME answers 200"
expect_jq '.user_id == $id and .username == $n and .display_name == $n' \
	"GET /v1/users?username=NAME has the same user_id, username, display_name" \
	--arg id "$first_id" --arg n "$first_name"

api GET "/v1/users?username=$(rand_name nobody)" "" "${A_TOKEN:-}"
expect_error_code not_found "GET /v1/users?username=<unknown> is 404 not_found"

api GET "/v1/users?username=NotValid%20Name" "" "${A_TOKEN:-}"
expect_error_code "not_found|bad_request" "GET /v1/users?username=<invalid name> is 404 or 400"

api GET "/v1/users?username=%27%20OR%201%3D1--" "" "${A_TOKEN:-}"
expect_error_code "not_found|bad_request" "GET /v1/users?username=<SQL> is 404 or 400"

api GET "/v1/users" "" "${A_TOKEN:-}"
expect_error_code "bad_request|not_found" "GET /v1/users without a username is 400 (or 404)"

api GET "/v1/users?username=$first_name"
expect_error_code unauthorized "GET /v1/users?username=NAME without a token is 401"

api GET "/v1/users?username=$first_name" "" "${A_TOKEN:-x}x"
expect_error_code unauthorized "GET /v1/users?username=NAME with a corrupted token is 401"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
