# tests/integration/chat-lib.sh: helpers of the messaging, chats and groups tests
# (30-messages.sh, 35-concurrency.sh, 40-groups.sh, 45-chats.sh). Sourced after lib.sh.
#
#   new_cmid                          a fresh client_msg_id (a UUID)
#   text_body RECEIVER CONTENT [CMID] a direct text send body (JSON)
#   group_body CONTENT [CMID]         a group text send body
#   send_direct TOKEN RECEIVER CONTENT [CMID]   POST /v1/messages (text), via api
#   send_group TOKEN GROUP_ID CONTENT [CMID]    POST /v1/groups/{id}/messages (text)
#   group_create TOKEN NAME [MEMBER_ID...]      POST /v1/groups
#   history_page TOKEN CHAT_ID [QUERY] GET /v1/messages?chat_id=CHAT_ID&QUERY
#   seqs                              the body's .messages[].seq joined by spaces
#   contents                          the body's .messages[].content joined by "|"
#   history_all TOKEN CHAT_ID FILE [PAGE]   every visible message, oldest first, paging
#                                     with after= (PAGE per page, default 50), as one
#                                     JSON array in FILE; non-zero on an unexpected answer
#                                     (HISTORY_ERR says why)
#   chat_entry TOKEN CHAT_ID          GET /v1/chats, then BODY holds only that chat's
#                                     object (or null); STATUS is the list's status
#   raw_request METHOD PATH BODY TOKEN OUT   one request that leaves the api globals
#                                     alone (safe in background jobs): OUT.code, OUT.body
#   new_users VAR...                  like new_user for each VAR, registered in parallel

# new_cmid: a fresh client_msg_id.
new_cmid()
{
	cat /proc/sys/kernel/random/uuid
}

# plain_json_text S: true when S needs no JSON escaping (printf is much cheaper than jq).
plain_json_text()
{
	[[ $1 =~ ^[A-Za-z0-9\ ._:,+=@-]*$ ]]
}

text_body()
{
	local k=${3:-$(new_cmid)}
	if plain_json_text "$1$2$k"; then
		printf '{"receiver_id":"%s","message_type":"text","content":"%s","client_msg_id":"%s"}' "$1" "$2" "$k"
	else
		jq -nc --arg r "$1" --arg c "$2" --arg k "$k" \
			'{receiver_id: $r, message_type: "text", content: $c, client_msg_id: $k}'
	fi
}

group_body()
{
	local k=${2:-$(new_cmid)}
	if plain_json_text "$1$k"; then
		printf '{"message_type":"text","content":"%s","client_msg_id":"%s"}' "$1" "$k"
	else
		jq -nc --arg c "$1" --arg k "$k" '{message_type: "text", content: $c, client_msg_id: $k}'
	fi
}

send_direct()
{
	api POST /v1/messages "$(text_body "$2" "$3" "${4:-}")" "$1"
}

send_group()
{
	api POST "/v1/groups/$2/messages" "$(group_body "$3" "${4:-}")" "$1"
}

group_create()
{
	local token=$1 name=$2
	shift 2
	api POST /v1/groups "$(jq -nc --arg n "$name" '{name: $n, member_ids: $ARGS.positional}' --args "$@")" "$token"
}

history_page()
{
	local q=${3:-}
	api GET "/v1/messages?chat_id=$2${q:+&$q}" "" "$1"
}

seqs()
{
	jq -r '[.messages[]?.seq | tostring] | join(" ")' <<<"$BODY" 2>/dev/null
}

contents()
{
	jq -r '[.messages[]?.content | tostring] | join("|")' <<<"$BODY" 2>/dev/null
}

history_all()
{
	local token=$1 chat=$2 file=$3 page=${4:-50} after= n more pages=0
	HISTORY_ERR=
	printf '[]' >"$file"
	while :; do
		history_page "$token" "$chat" "limit=$page&after=${after:-0}"
		if [[ $STATUS != 200 ]]; then
			HISTORY_ERR="page after=${after:-0}: $(last_response)"
			return 1
		fi
		if ! n=$(jq -e '.messages | length' <<<"$BODY" 2>/dev/null) ||
			! more=$(jq -r '.has_more' <<<"$BODY" 2>/dev/null); then
			HISTORY_ERR="page after=${after:-0} is not {messages, has_more}: $(last_response)"
			return 1
		fi
		jq -c --slurpfile p /dev/stdin '. + $p[0].messages' "$file" <<<"$BODY" >"$file.new" &&
			mv "$file.new" "$file"
		if [[ $more != true ]]; then
			return 0
		fi
		if ((n == 0)); then
			HISTORY_ERR="has_more is true on an empty page (after=${after:-0})"
			return 1
		fi
		after=$(jq -r '.messages[-1].seq' <<<"$BODY")
		pages=$((pages + 1))
		if ((pages > 10000)); then
			HISTORY_ERR="more than 10000 pages"
			return 1
		fi
	done
}

chat_entry()
{
	api GET /v1/chats "" "$1"
	[[ $STATUS == 200 ]] || return 0
	BODY=$(jq -c --arg c "$2" 'first(.chats[]? | select(.chat_id == $c)) // null' <<<"$BODY" 2>/dev/null)
}

raw_request()
{
	local method=$1 path=$2 body=$3 token=$4 out=$5
	local -a args=(-sS --path-as-is -X "$method" --max-time "$API_TIMEOUT" -o "$out.body"
		-w '%{http_code}\n' -H 'Expect:')
	[[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	[[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
	: >"$out.body"
	curl "${args[@]}" "$BASE_URL$path" >"$out.code" 2>"$out.err" || true
	[[ -s $out.code ]] || echo 000 >"$out.code"
}

# new_users VAR...: registers and logs in one fresh user per VAR, in parallel, and sets
# VAR_ID VAR_USERNAME VAR_PASSWORD VAR_TOKEN VAR_DEVICE like new_user. Non-zero (after
# a "setup" failure line) when any of them failed.
new_users()
{
	local var dir rc=0 name pw i=0
	dir=$(mktemp -d "$TEST_TMP/users.XXXXXX")
	for var in "$@"; do
		i=$((i + 1))
		name=$(rand_name)x$i
		name=${name:0:32}
		pw="pw-$RANDOM-$RANDOM-$RANDOM"
		(
			raw_request POST /v1/users "$(json_obj username "$name" password "$pw")" "" "$dir/$var.reg"
			raw_request POST /v1/sessions "$(json_obj username "$name" password "$pw")" "" "$dir/$var.login"
			printf '%s\n%s\n' "$name" "$pw" >"$dir/$var.cred"
		) &
	done
	wait
	for var in "$@"; do
		local id token device
		id=$(jq -r '.user_id // empty' "$dir/$var.reg.body" 2>/dev/null)
		token=$(jq -r '.access_token // empty' "$dir/$var.login.body" 2>/dev/null)
		device=$(jq -r '.device_id // empty' "$dir/$var.login.body" 2>/dev/null)
		if [[ $(<"$dir/$var.reg.code") != 201 || $(<"$dir/$var.login.code") != 201 || -z $id || -z $token ]]; then
			tap_not_ok "setup: register and log in user $var" \
				"register: $(<"$dir/$var.reg.code") $(head -c 300 "$dir/$var.reg.body")" \
				"login: $(<"$dir/$var.login.code") $(head -c 300 "$dir/$var.login.body")"
			rc=1
		fi
		printf -v "${var}_ID" '%s' "$id"
		printf -v "${var}_USERNAME" '%s' "$(sed -n 1p "$dir/$var.cred")"
		printf -v "${var}_PASSWORD" '%s' "$(sed -n 2p "$dir/$var.cred")"
		printf -v "${var}_TOKEN" '%s' "$token"
		printf -v "${var}_DEVICE" '%s' "$device"
		export "${var}_ID" "${var}_USERNAME" "${var}_PASSWORD" "${var}_TOKEN" "${var}_DEVICE"
	done
	return $rc
}
