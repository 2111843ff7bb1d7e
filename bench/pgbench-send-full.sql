-- SPDX-License-Identifier: MIT
--
-- bench/pgbench-send-full.sql: every statement that chatd sends to PostgreSQL for one
-- direct send (POST /v1/messages of an existing pair, no reply_to), in its order, with the
-- texts of src/store/stmts.c: the token's device check (STMT_DEVICE_CHECK), the receiver
-- (STMT_USER_BY_ID), the pair's chat (STMT_CHAT_DIRECT_FIND), then the transaction: BEGIN,
-- the chat lock (STMT_CHAT_LOCK), the idempotency key lookup (STMT_KEY_FIND, not found),
-- the membership check (STMT_MEMBER_CURRENT), STMT_MESSAGE_INSERT, COMMIT, and after the
-- commit the members to wake up (STMT_CHAT_AUDIENCE, its second parameter NULL for a send).
-- That is ten round trips where bench/pgbench-send.sql has four. Same variables and fixture
-- as bench/pgbench-send.sql; run by bench/pgbench-ceiling.sh. Left out: STMT_DEVICE_TOUCH
-- (at most once a minute per device) and what chatd asks Redis (the presence touch of every
-- request, the wake-up of the members' polls).
\set c :client_id + 1
\set lockkey :c * 4294967296 + 16384
\set n :n + 1
SELECT last_seen < now() - interval '60 seconds' FROM devices WHERE id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000003')::uuid AND user_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid AND revoked_at IS NULL;
SELECT id, username, display_name FROM users WHERE id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000002')::uuid;
SELECT id FROM chats WHERE user_a = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid AND user_b = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000002')::uuid;
BEGIN;
SELECT pg_advisory_xact_lock(:lockkey::int8);
SELECT k.chat_id, encode(k.body_hash, 'hex'), m.seq, m.sender_id, m.kind, m.content, m.media_id, m.reply_to_seq, (extract(epoch FROM m.created_at) * 1e6)::int8, CASE WHEN m.sender_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid THEN (SELECT CASE WHEN bool_and(o.read_seq >= m.seq) THEN 'read' WHEN bool_and(o.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END FROM chat_members o WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id AND o.from_seq < m.seq AND (o.to_seq IS NULL OR o.to_seq >= m.seq)) ELSE (SELECT CASE WHEN bool_or(v.read_seq >= m.seq) THEN 'read' WHEN bool_or(v.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END FROM chat_members v WHERE v.chat_id = m.chat_id AND v.user_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid AND v.from_seq < m.seq AND (v.to_seq IS NULL OR v.to_seq >= m.seq)) END FROM message_keys k JOIN messages m ON m.chat_id = k.chat_id AND m.seq = k.seq WHERE k.sender_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid AND k.client_msg_id = 'p' || :run || '-' || :c || '-' || :n;
SELECT 1 FROM chat_members WHERE chat_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid AND user_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid AND to_seq IS NULL;
WITH c AS (UPDATE chats SET last_seq = last_seq + 1, last_activity = date_trunc('milliseconds', greatest(clock_timestamp(), last_activity)) WHERE id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid RETURNING last_seq, last_activity), k AS (INSERT INTO message_keys (sender_id, client_msg_id, chat_id, seq, body_hash) SELECT (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid, 'p' || :run || '-' || :c || '-' || :n, (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid, last_seq, decode('7d1a54127b222502f5b79b5fb0803061152a44f92b37e23c6527baf665d4da9a', 'hex') FROM c), m AS (INSERT INTO messages (chat_id, seq, sender_id, kind, content, media_id, reply_to_seq, client_msg_id, created_at) SELECT (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid, last_seq, (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid, 'text', 'bench message ' || :n, NULL::uuid, NULL::int8, 'p' || :run || '-' || :c || '-' || :n, last_activity FROM c) SELECT last_seq, (extract(epoch FROM last_activity) * 1e6)::int8 FROM c;
END;
SELECT DISTINCT user_id FROM chat_members WHERE chat_id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid AND (to_seq IS NULL OR user_id = NULL::uuid);
