#!/usr/bin/env bash
# Health, and the conventions every answer follows: JSON content type,
# Cache-Control: no-store, 404 for unknown routes, 405 for a known path with
# another method (API.md "Conventions", "Health").
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# --- GET /healthz -------------------------------------------------------------

api GET /healthz
expect_status 200 "GET /healthz answers 200"
expect_jq '. == {"status":"ok","postgres":"ok","redis":"ok"}' \
	'GET /healthz body is exactly {"status":"ok","postgres":"ok","redis":"ok"}'
expect_header Content-Type "$JSON_CT_RE" "GET /healthz has Content-Type application/json; charset=utf-8"
expect_header Cache-Control "$NO_STORE_RE" "GET /healthz carries Cache-Control: no-store"

api GET '/healthz?verbose=1&x=%20'
expect_status 200 "GET /healthz with a query string still answers 200"

# --- unknown routes: 404 not_found --------------------------------------------

api GET /v1/does-not-exist
expect_error_code not_found "GET /v1/does-not-exist is 404 not_found"
expect_header Content-Type "$JSON_CT_RE" "a 404 answer has Content-Type application/json; charset=utf-8"
expect_header Cache-Control "$NO_STORE_RE" "a 404 answer carries Cache-Control: no-store"

api POST /v1/does-not-exist '{"a":1}'
expect_error_code not_found "POST /v1/does-not-exist is 404 not_found"

api GET /v2/users
expect_error_code not_found "GET /v2/users (unknown version) is 404 not_found"

api GET /v1/users/abc/def/ghi
expect_error_code not_found "GET /v1/users/abc/def/ghi (too many segments) is 404 not_found"

api DELETE /v1/sessions/current/refresh/extra
expect_error_code not_found "DELETE /v1/sessions/current/refresh/extra is 404 not_found"

api GET /v1/userss
expect_error_code not_found "GET /v1/userss (prefix of a known path) is 404 not_found"

api GET /healthzz
expect_error_code not_found "GET /healthzz is 404 not_found"

# 404 wins over 401: an unknown route under /v1 with no token at all.
api GET /v1/nothing/here
expect_error_code not_found "an unknown route without a token is 404, not 401"

api GET /v1/nothing/here "" "not-a-token"
expect_error_code not_found "an unknown route with a bad token is 404, not 401"

# --- known paths with another method: 405 method_not_allowed ------------------

api PUT /v1/users '{"username":"x"}'
expect_error_code method_not_allowed "PUT /v1/users is 405 method_not_allowed"
expect_header Cache-Control "$NO_STORE_RE" "a 405 answer carries Cache-Control: no-store"

api DELETE /v1/users
expect_error_code method_not_allowed "DELETE /v1/users is 405 method_not_allowed"

api GET /v1/sessions/current/refresh
expect_error_code method_not_allowed "GET /v1/sessions/current/refresh is 405 method_not_allowed"

api PATCH /v1/sessions '{}'
expect_error_code method_not_allowed "PATCH /v1/sessions is 405 method_not_allowed"

api POST /healthz '{}'
expect_error_code method_not_allowed "POST /healthz is 405 method_not_allowed"

api DELETE /healthz
expect_error_code method_not_allowed "DELETE /healthz is 405 method_not_allowed"

api PUT /v1/users/some-id '{}'
expect_error_code method_not_allowed "PUT /v1/users/{user_id} is 405 method_not_allowed"

api PUT /v1/sessions/current '{}'
expect_error_code method_not_allowed "PUT /v1/sessions/current is 405 method_not_allowed"

# --- no-store on answers of every kind -----------------------------------------

name=$(rand_name h)
api POST /v1/users "$(json_obj username "$name" password "password-1234")"
expect_status 201 "register a user for the header checks"
expect_header Cache-Control "$NO_STORE_RE" "POST /v1/users 201 carries Cache-Control: no-store"
expect_header Content-Type "$JSON_CT_RE" "POST /v1/users 201 has Content-Type application/json; charset=utf-8"

login "$name" password-1234
expect_status 201 "log in for the header checks"
expect_header Cache-Control "$NO_STORE_RE" "POST /v1/sessions 201 (a token) carries Cache-Control: no-store"

api GET /v1/sessions "" "$LOGIN_TOKEN"
expect_status 200 "GET /v1/sessions with the token answers 200"
expect_header Cache-Control "$NO_STORE_RE" "GET /v1/sessions carries Cache-Control: no-store"

api GET /v1/sessions
expect_error_code unauthorized "GET /v1/sessions without a token is 401 unauthorized"
expect_header Cache-Control "$NO_STORE_RE" "a 401 answer carries Cache-Control: no-store"

api GET /healthz
expect_status 200 "GET /healthz still answers 200 at the end"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
