#!/usr/bin/env bash
# Limits that leave the stack throttled: failed logins per source address.
# Runs last. Afterwards this client's address is slowed down for the
# server's window (default 15 minutes): later logins from it may be 429.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

# The server's threshold is CHAT_LOGIN_MAX_FAILURES_ADDR (default 50 per window).
MAX_ATTEMPTS=${MAX_ATTEMPTS:-200}
if ((${CHAT_LOGIN_MAX_FAILURES_ADDR:-0} + 10 > MAX_ATTEMPTS)); then
	MAX_ATTEMPTS=$((CHAT_LOGIN_MAX_FAILURES_ADDR + 10))
fi

# --- failed logins per source address -----------------------------------------------

got429=0
attempts=0
unexpected=()
for ((n = 1; n <= MAX_ATTEMPTS; n++)); do
	attempts=$n
	login "$(rand_name nobody)" "wrong-password-$n"
	if [[ $STATUS == 429 ]]; then
		got429=1
		break
	fi
	[[ $STATUS == 401 ]] || unexpected+=("attempt $n: $STATUS $BODY")
done
echo "# first 429 after $attempts failed logins for distinct unknown usernames"

if ((got429)); then
	tap_ok "failed logins for many unknown usernames from one address end in 429 (after $attempts)"
else
	tap_not_ok "failed logins for many unknown usernames from one address end in 429" \
		"expected a 429 within $MAX_ATTEMPTS attempts (default threshold: 50 failures per 15 minutes)" \
		"$(last_response)"
fi
check "${#unexpected[@]}" "every attempt before the 429 was 401" "${unexpected[@]:0:5}"
expect_error_code rate_limited "the address-throttled answer is 429 rate_limited"
expect_header Retry-After '^[1-9][0-9]*$' "the 429 carries Retry-After in whole seconds > 0"
expect_header Cache-Control "$NO_STORE_RE" "the 429 carries Cache-Control: no-store"

# The address is the connection's, not one the client claims in a header.
api -H "X-Forwarded-For: 203.0.113.$((RANDOM % 250 + 1))" -H "X-Real-IP: 198.51.100.$((RANDOM % 250 + 1))" \
	-H "Forwarded: for=192.0.2.$((RANDOM % 250 + 1))" -H "Client-IP: 192.0.2.$((RANDOM % 250 + 1))" \
	POST /v1/sessions "$(json_obj username "$(rand_name nobody)" password wrong-password)"
expect_error_code rate_limited "a spoofed X-Forwarded-For / X-Real-IP / Forwarded does not escape the address limit"

expect_no_leaks "no error body leaked SQL, file paths or the key"
tap_done
