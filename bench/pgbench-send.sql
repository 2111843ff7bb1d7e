-- SPDX-License-Identifier: MIT
--
-- bench/pgbench-send.sql: the writes of one chatd send, one send per transaction: the
-- chat's advisory lock, then STMT_MESSAGE_INSERT of src/store/stmts.c (the chat row update
-- that returns the next seq, the message_keys insert and the messages insert), COMMIT.
-- Run by bench/pgbench-ceiling.sh:
--
--   pgbench -n -M prepared -c C -j 2 -T S -D n=0 -D run=RUNID -f bench/pgbench-send.sql chat
--
-- Client k (0-based) writes to chat k+1 of bench/pgbench-fixture.sql as its sender, as a
-- wrk connection of bench/send.sh does with its own sender and chat. :n counts the
-- client's transactions (pgbench keeps variables per client across transactions; -D n=0
-- starts it), so (sender, client_msg_id) is unique. The uuids are computed from the
-- chat's number in SQL (three lpad/to_hex per statement: noise next to the writes).
\set c :client_id + 1
\set lockkey :c * 4294967296 + 16384
\set n :n + 1
BEGIN;
SELECT pg_advisory_xact_lock(:lockkey::int8);
WITH c AS (UPDATE chats SET last_seq = last_seq + 1, last_activity = date_trunc('milliseconds', greatest(clock_timestamp(), last_activity)) WHERE id = (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid RETURNING last_seq, last_activity), k AS (INSERT INTO message_keys (sender_id, client_msg_id, chat_id, seq, body_hash) SELECT (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid, 'p' || :run || '-' || :c || '-' || :n, (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid, last_seq, decode('7d1a54127b222502f5b79b5fb0803061152a44f92b37e23c6527baf665d4da9a', 'hex') FROM c), m AS (INSERT INTO messages (chat_id, seq, sender_id, kind, content, media_id, reply_to_seq, client_msg_id, created_at) SELECT (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000000')::uuid, last_seq, (lpad(to_hex(:c::int), 8, '0') || '-0000-4000-8000-000000000001')::uuid, 'text', 'bench message ' || :n, NULL::uuid, NULL::int8, 'p' || :run || '-' || :c || '-' || :n, last_activity FROM c) SELECT last_seq, (extract(epoch FROM last_activity) * 1e6)::int8 FROM c;
END;
