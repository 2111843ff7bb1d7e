-- SPDX-License-Identifier: MIT
--
-- bench/history-seed.sql: fills the direct chat :chat up to seq :n, in one transaction,
-- the way chatd's sends would have left it (bench/history.sh runs it):
--
--   psql -X -v chat=CHAT_ID -v n=100000 -f bench/history-seed.sql chat
--
-- The chat exists already (made by a first message through the API: the chats row and
-- both members' periods from seq 0). Under the chat's lock (the first 64 bits of its id,
-- as chatd's store_chat_lock computes them) it adds seqs last_seq+1 .. :n: the messages,
-- sent by the chat's two users in turn, with timestamps that never decrease as seq grows
-- (10 us apart, truncated to milliseconds like chatd's, from the chat's last activity on),
-- their idempotency keys in message_keys (client_msg_id "hist-SEQ", body_hash a sha256),
-- and the chat row's last_seq and last_activity. xid takes its default (this transaction),
-- as for any message. Then ANALYZE, as autovacuum would soon do after so many rows.
\set ON_ERROR_STOP 1
BEGIN;
SELECT pg_advisory_xact_lock(('x' || translate(left(:'chat', 18), '-', ''))::bit(64)::int8) \g /dev/null
SELECT last_seq AS s0, last_activity AS t0, user_a, user_b
FROM chats WHERE id = :'chat' AND kind = 'direct' FOR UPDATE \gset
CREATE TEMP TABLE seed ON COMMIT DROP AS
SELECT s AS seq,
       CASE WHEN s % 2 = 1 THEN :'user_a' ELSE :'user_b' END::uuid AS sender_id,
       'history message ' || s AS content,
       'hist-' || s AS client_msg_id,
       date_trunc('milliseconds', :'t0'::timestamptz + (s - :s0) * interval '10 microseconds') AS created_at
FROM generate_series(:s0 + 1, :n) AS s;
INSERT INTO messages (chat_id, seq, sender_id, kind, content, client_msg_id, created_at)
SELECT :'chat'::uuid, seq, sender_id, 'text', content, client_msg_id, created_at FROM seed;
INSERT INTO message_keys (sender_id, client_msg_id, chat_id, seq, body_hash, created_at)
SELECT sender_id, client_msg_id, :'chat'::uuid, seq, sha256(convert_to(content, 'UTF8')), created_at
FROM seed;
UPDATE chats SET last_seq = s.seq, last_activity = greatest(last_activity, s.created_at)
FROM (SELECT seq, created_at FROM seed ORDER BY seq DESC LIMIT 1) AS s
WHERE id = :'chat';
COMMIT;
ANALYZE messages;
ANALYZE message_keys;
SELECT c.last_seq, count(m.*) AS messages, min(m.seq) AS first_seq, max(m.seq) AS max_seq,
       bool_and(m.created_at >= coalesce(p.prev, m.created_at)) AS timestamps_non_decreasing
FROM chats c
JOIN messages m ON m.chat_id = c.id
LEFT JOIN LATERAL (SELECT created_at AS prev FROM messages q
		   WHERE q.chat_id = c.id AND q.seq = m.seq - 1) p ON true
WHERE c.id = :'chat'
GROUP BY c.last_seq;
