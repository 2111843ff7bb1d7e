#!/usr/bin/env bash
# Media (API.md "Media"): uploads stored with the type found in their bytes, downloads sent
# by the web server (X-Sendfile / X-Accel-Redirect) byte for byte with ranges, access for
# the uploader and the members of chats carrying the media, signed URLs without a token,
# attachments for what a browser could run, the size cap, and media in messages.
#
# Needs BASE_URL; CHAT_VAR (the stack's state directory) for "nothing kept" checks, and
# TEST_JWT_SECRET to forge an expired signed URL (those checks skip without them).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/chat-lib.sh"

CHAT_VAR=${CHAT_VAR:-}
MAX_MEDIA=${CHAT_MAX_MEDIA_BYTES:-26214400}
F=$TEST_TMP/files
mkdir -p "$F"

# --- the test files, made here ----------------------------------------------------------

# A 1x1 PNG.
base64 -d >"$F/a.png" <<<'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='
# A WebM (EBML header, DocType webm, an empty segment) and an MP4 (ftyp box, free box).
printf '\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x02\x42\x85\x81\x02\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff' >"$F/a.webm"
printf '\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41\x00\x00\x00\x08free' >"$F/a.mp4"
# Binary bytes (with NULs), an HTML page and an SVG with script.
head -c 70000 /dev/urandom >"$F/a.bin"
printf '<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>\n' >"$F/a.html"
printf '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>\n' >"$F/a.svg"

# media_files: how many files the media directory holds (temporary ones included).
media_files()
{
	find "$CHAT_VAR/media" -type f 2>/dev/null | wc -l
}

# upload TOKEN FILE CONTENT_TYPE [QUERY]: POST /v1/media with the bytes of FILE.
upload()
{
	api --file "$2" --ct "$3" POST "/v1/media${4:+?$4}" "" "$1"
}

# download PATH [TOKEN] [curl args...]: GET with the body in $TEST_TMP/resp.body.
download()
{
	local path=$1 token=${2:-}
	shift 2 || shift $#
	api "$@" GET "$path" "" "$token"
}

# same_bytes FILE NAME: the last response body is FILE, byte for byte.
same_bytes()
{
	cmp -s "$1" "$TEST_TMP/resp.body"
	check $? "$2" "$(wc -c <"$TEST_TMP/resp.body") bytes received, $(wc -c <"$1") expected"
}

new_users A B C || true

# --- upload and download: a PNG whose header lies ---------------------------------------

upload "$A_TOKEN" "$F/a.png" text/plain 'filename=..%2F..%2Fmy%20photo%22.png'
expect_status 201 "upload of a PNG sent as text/plain: 201"
expect_json .content_type image/png "the type comes from the bytes (image/png), not the header"
expect_json .size "$(wc -c <"$F/a.png")" "size is the byte count"
expect_json .sha256 "$(sha256sum "$F/a.png" | cut -d' ' -f1)" "sha256 of the bytes"
expect_jq '(.media_id | type) == "string" and (.url | test("^/v1/media/[^?]+[?]exp=[0-9]+&sig=[A-Za-z0-9_-]+$"))' \
	"media_id and a signed url"
PNG_ID=$(jq -r .media_id <<<"$BODY")
PNG_URL=$(jq -r .url <<<"$BODY")

download "/v1/media/$PNG_ID" "$A_TOKEN"
expect_status 200 "the uploader downloads it with its token"
same_bytes "$F/a.png" "the download is the upload, byte for byte"
expect_header Content-Type '^image/png$' "Content-Type is the bare stored type"
expect_header Content-Length "^$(wc -c <"$F/a.png")$" "Content-Length from the web server"
expect_header X-Content-Type-Options '^nosniff$' "nosniff"
expect_header Content-Disposition "^inline; filename\\*=UTF-8''my%20photo%22\\.png$" \
	"an image is inline, with the sanitized file name (its last component, encoded)"

download "/v1/media/$PNG_ID" "$A_TOKEN" -H 'Range: bytes=0-9'
expect_status 206 "a range request: 206"
check "$([[ $(wc -c <"$TEST_TMP/resp.body") == 10 ]] && cmp -s <(head -c 10 "$F/a.png") "$TEST_TMP/resp.body"; echo $?)" \
	"the range is the first 10 bytes"

# --- video and binary files ---------------------------------------------------------------

upload "$A_TOKEN" "$F/a.webm" application/octet-stream
expect_status 201 "upload of a WebM"
expect_json .content_type video/webm "WebM detected: video/webm"
WEBM_ID=$(jq -r .media_id <<<"$BODY")
download "/v1/media/$WEBM_ID" "$A_TOKEN"
expect_status 200 "WebM download"
same_bytes "$F/a.webm" "WebM byte for byte"

upload "$A_TOKEN" "$F/a.mp4" image/png
expect_status 201 "upload of an MP4 sent as image/png"
expect_json .content_type video/mp4 "MP4 detected: video/mp4"
MP4_ID=$(jq -r .media_id <<<"$BODY")
download "/v1/media/$MP4_ID" "$A_TOKEN"
same_bytes "$F/a.mp4" "MP4 byte for byte"

upload "$A_TOKEN" "$F/a.bin" image/jpeg 'filename=data.bin'
expect_status 201 "upload of binary bytes"
expect_json .content_type application/octet-stream "binary bytes: application/octet-stream"
BIN_ID=$(jq -r .media_id <<<"$BODY")
download "/v1/media/$BIN_ID" "$A_TOKEN"
expect_status 200 "binary download"
same_bytes "$F/a.bin" "binary byte for byte (70000 bytes with NULs)"
expect_header Content-Disposition '^attachment' "unknown bytes are an attachment"

# --- what a browser could run: attachment -------------------------------------------------

upload "$A_TOKEN" "$F/a.html" image/png 'filename=page.html'
expect_json .content_type text/html "HTML detected as text/html"
HTML_ID=$(jq -r .media_id <<<"$BODY")
download "/v1/media/$HTML_ID" "$A_TOKEN"
expect_status 200 "HTML download"
expect_header Content-Disposition '^attachment' "HTML is served as an attachment"
expect_header X-Content-Type-Options '^nosniff$' "HTML with nosniff"

upload "$A_TOKEN" "$F/a.svg" image/svg+xml
expect_json .content_type image/svg+xml "SVG detected"
SVG_ID=$(jq -r .media_id <<<"$BODY")
download "/v1/media/$SVG_ID" "$A_TOKEN"
expect_header Content-Disposition '^attachment' "SVG (an image that runs script) is an attachment"

# --- de-duplication ------------------------------------------------------------------------

before=$(media_files)
upload "$B_TOKEN" "$F/a.png" image/png
expect_status 201 "the same bytes uploaded again (by another user)"
check "$([[ $(jq -r .media_id <<<"$BODY") != "$PNG_ID" ]]; echo $?)" "a new media_id"
if [[ -n $CHAT_VAR && -d $CHAT_VAR/media ]]; then
	check "$([[ $(media_files) == "$before" ]]; echo $?)" "no second file for the same bytes"
else
	skip "no second file for the same bytes" "CHAT_VAR not set"
fi
B_PNG_ID=$(jq -r .media_id <<<"$BODY")

# --- oversize: 413 and nothing kept --------------------------------------------------------

before=$(media_files)
head -c $((MAX_MEDIA + 1)) /dev/zero >"$F/big"
upload "$A_TOKEN" "$F/big" application/octet-stream
expect_error_code payload_too_large "an upload over CHAT_MAX_MEDIA_BYTES: 413 JSON"
rm -f "$F/big"
if [[ -n $CHAT_VAR && -d $CHAT_VAR/media ]]; then
	check "$([[ $(media_files) == "$before" ]]; echo $?)" "nothing is kept of an oversize upload" \
		"files before: $before, after: $(media_files)"
else
	skip "nothing is kept of an oversize upload" "CHAT_VAR not set"
fi
api --file /dev/null POST /v1/media "" "$A_TOKEN"
expect_error_code bad_request "an empty upload: 400"
upload "" "$F/a.png" image/png
expect_error_code unauthorized "an upload without a token: 401"

# --- who may download ----------------------------------------------------------------------

download "/v1/media/$PNG_ID" "$C_TOKEN"
expect_error_code not_found "another user (no chat carries it): 404"
download "/v1/media/$PNG_ID" ""
expect_error_code unauthorized "no token and no signature: 401"
for bad in '..%2F..%2Fetc%2Fpasswd' '%2e%2e' 'not-a-uuid' "${PNG_ID^^}" \
	"$PNG_ID%2F..%2F..%2Fetc%2Fpasswd"; do
	download "/v1/media/$bad" "$A_TOKEN"
	expect_error_code not_found "id $bad: 404"
done
# nginx refuses this spelling itself (400); lighttpd passes it to chatd (404).
download "/v1/media/..%2f..%2f..%2fetc%2fpasswd" "$A_TOKEN"
expect_error_code "not_found|bad_request" "id ..%2f..%2f..%2fetc%2fpasswd: refused"
download "/v1/media/../../etc/passwd" "$A_TOKEN"
expect_status 404 "path ../../etc/passwd: 404"
expect_no_leaks "no error leaks a path"

# --- signed URLs ----------------------------------------------------------------------------

download "$PNG_URL" ""
expect_status 200 "the signed url works without a token"
same_bytes "$F/a.png" "signed download byte for byte"
expect_header Cache-Control '^private, max-age=[0-9]+$' "a signed url may be cached privately"
max_age=$(header_value Cache-Control | sed 's/.*max-age=//')
check "$((max_age >= 3600 ? 0 : 1))" "the signed url is valid at least an hour (max-age $max_age)"
exp=$(sed 's/.*exp=\([0-9]*\).*/\1/' <<<"$PNG_URL")
sig=$(sed 's/.*sig=//' <<<"$PNG_URL")
tampered=${sig:0:10}$([[ ${sig:10:1} == A ]] && echo B || echo A)${sig:11}
download "/v1/media/$PNG_ID?exp=$exp&sig=$tampered" ""
expect_error_code not_found "a tampered signature: 404"
download "/v1/media/$PNG_ID?exp=$((exp + 3600))&sig=$sig" ""
expect_error_code not_found "a changed expiry: 404"
download "/v1/media/$BIN_ID?exp=$exp&sig=$sig" ""
expect_error_code not_found "another media's signature: 404"
if [[ -n $TEST_JWT_SECRET ]]; then
	past=$(($(date +%s) - 10))
	old_sig=$(printf 'media:%s|%s' "$PNG_ID" "$past" |
		openssl dgst -sha256 -hmac "$TEST_JWT_SECRET" -binary | base64 | tr '+/' '-_' | tr -d '=\n')
	download "/v1/media/$PNG_ID?exp=$past&sig=$old_sig" ""
	expect_error_code not_found "an expired (correctly signed) url: 404"
else
	skip "an expired (correctly signed) url: 404" "TEST_JWT_SECRET not set"
fi

# --- media in messages ----------------------------------------------------------------------

media_body()
{
	jq -nc --arg r "$1" --arg t "$2" --arg m "$3" --arg k "$(new_cmid)" \
		'{receiver_id: $r, message_type: $t, media_id: $m, content: "caption", client_msg_id: $k}'
}

api POST /v1/messages "$(media_body "$B_ID" image "$BIN_ID")" "$A_TOKEN"
expect_error_code bad_request "an image message with a non-image media: 400"
api POST /v1/messages "$(media_body "$B_ID" video "$PNG_ID")" "$A_TOKEN"
expect_error_code bad_request "a video message with an image: 400"
api POST /v1/messages "$(media_body "$C_ID" image "$B_PNG_ID")" "$A_TOKEN"
expect_error_code not_found "a message with another user's media: 404"
api POST /v1/messages "$(media_body "$B_ID" file "$(new_cmid)")" "$A_TOKEN"
expect_error_code not_found "a message with an unknown media: 404"

api POST /v1/messages "$(media_body "$B_ID" image "$PNG_ID")" "$A_TOKEN"
expect_status 201 "an image message with the sender's PNG: 201"
CHAT=$(jq -r .chat_id <<<"$BODY")
MSG=$(jq -r .message_id <<<"$BODY")
api POST /v1/messages "$(media_body "$B_ID" video "$WEBM_ID")" "$A_TOKEN"
expect_status 201 "a video message with a WebM: 201"
api POST /v1/messages "$(media_body "$B_ID" file "$HTML_ID")" "$A_TOKEN"
expect_status 201 "a file message with any media: 201"

history_page "$B_TOKEN" "$CHAT" "limit=10"
expect_status 200 "the receiver reads the history"
expect_jq '[.messages[] | select(.message_type == "image")][0].media | .media_id == $id
	 and .content_type == "image/png" and .size == ($size | tonumber)
	 and (.url | test("^/v1/media/" + $id + "[?]exp=[0-9]+&sig="))' \
	"the message carries media {media_id, content_type, size, url}" \
	--arg id "$PNG_ID" --arg size "$(wc -c <"$F/a.png")"
B_URL=$(jq -r '[.messages[] | select(.message_type == "image")][0].media.url' <<<"$BODY")
check "$([[ $B_URL == "$PNG_URL" ]]; echo $?)" "the same signed url within the hour" "$B_URL vs $PNG_URL"
expect_jq '[.messages[] | select(.message_type == "video")][0].media.content_type == "video/webm"' \
	"the video message's media"

api GET "/v1/messages/$MSG" "" "$B_TOKEN"
expect_jq '.media.media_id == $id' "one message shows its media" --arg id "$PNG_ID"

download "$B_URL" ""
expect_status 200 "the receiver downloads through the signed url, without Authorization"
same_bytes "$F/a.png" "receiver's download byte for byte"
download "/v1/media/$PNG_ID" "$B_TOKEN"
expect_status 200 "the receiver (a member of the chat) downloads with its token"
download "/v1/media/$WEBM_ID" "$C_TOKEN"
expect_error_code not_found "a non-member still gets 404"

api GET "/v1/events" "" "$B_TOKEN"
cur=$(jq -r .cursor <<<"$BODY")
api POST /v1/messages "$(media_body "$B_ID" file "$MP4_ID")" "$A_TOKEN"
api GET "/v1/events?cursor=$cur&timeout=5" "" "$B_TOKEN"
expect_jq '[.events[] | select(.type == "message")][0].data.media.media_id == $id' \
	"a message event carries the media" --arg id "$MP4_ID"

# --- group membership periods ----------------------------------------------------------------

group_media_body()
{
	jq -nc --arg t "$1" --arg m "$2" --arg k "$(new_cmid)" \
		'{message_type: $t, media_id: $m, client_msg_id: $k}'
}

group_create "$A_TOKEN" "media group" "$C_ID"
expect_status 201 "a group of A and C"
GROUP=$(jq -r .group_id <<<"$BODY")
upload "$A_TOKEN" "$F/a.webm" video/webm
G1=$(jq -r .media_id <<<"$BODY")
api POST "/v1/groups/$GROUP/messages" "$(group_media_body video "$G1")" "$A_TOKEN"
expect_status 201 "a video message to the group"
download "/v1/media/$G1" "$C_TOKEN"
expect_status 200 "a member downloads the group's media with its token"
api DELETE "/v1/groups/$GROUP/members/$C_ID" "" "$A_TOKEN"
expect_status 204 "C is removed from the group"
head -c 4096 /dev/urandom >"$F/after.bin"
upload "$A_TOKEN" "$F/after.bin" application/octet-stream
G2=$(jq -r .media_id <<<"$BODY")
api POST "/v1/groups/$GROUP/messages" "$(group_media_body file "$G2")" "$A_TOKEN"
expect_status 201 "a file message after C left"
download "/v1/media/$G2" "$C_TOKEN"
expect_error_code not_found "a former member cannot download media sent after it left"
download "/v1/media/$G1" "$C_TOKEN"
expect_status 200 "it still downloads what was sent while it was a member"

tap_done
