-- SPDX-License-Identifier: MIT
--
-- bench/pgbench-fixture.sql: the chats that bench/pgbench-send*.sql write to (psql -v n=N).
--
-- N direct chats, one per pgbench client, each between two users of its own. The ids are
-- made from the chat's number n (1..N) so that the pgbench scripts can compute them:
--   chat      nnnnnnnn-0000-4000-8000-000000000000   (n in 8 hex digits)
--   sender    nnnnnnnn-0000-4000-8000-000000000001   (user_a: the smaller id)
--   receiver  nnnnnnnn-0000-4000-8000-000000000002
-- Each sender has one device (nnnnnnnn-0000-4000-8000-000000000003), for the token check
-- of bench/pgbench-send-full.sql. The chat's advisory lock key is then the first 64 bits of its id, n * 2^32 + 0x4000,
-- as chatd computes it (src/store/messages.c, store_chat_lock). Both members have a
-- membership period from seq 0, as chatd's first message of a pair creates them
-- (STMT_CHAT_DIRECT_CREATE). Idempotent: running it again adds only what is missing.
\set ON_ERROR_STOP 1
BEGIN;
INSERT INTO users (id, username, display_name, password_hash)
SELECT (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-00000000000' || r)::uuid,
       format('pgb_%s%s', CASE r WHEN 1 THEN 's' ELSE 'r' END, lpad(n::text, 4, '0')),
       format('pgbench %s', n),
       '!'	-- matches no password: these users cannot log in
FROM generate_series(1, :n) AS n, (VALUES (1), (2)) AS v (r)
ON CONFLICT DO NOTHING;
INSERT INTO chats (id, kind, user_a, user_b)
SELECT (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000000')::uuid, 'direct',
       (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000001')::uuid,
       (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000002')::uuid
FROM generate_series(1, :n) AS n
ON CONFLICT DO NOTHING;
INSERT INTO chat_members (chat_id, user_id, from_seq)
SELECT (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000000')::uuid,
       (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-00000000000' || r)::uuid, 0
FROM generate_series(1, :n) AS n, (VALUES (1), (2)) AS v (r)
ON CONFLICT DO NOTHING;
INSERT INTO devices (id, user_id, name)
SELECT (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000003')::uuid,
       (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000001')::uuid, 'pgbench'
FROM generate_series(1, :n) AS n
ON CONFLICT DO NOTHING;
COMMIT;
SELECT count(*) AS pgbench_chats, sum(last_seq) AS messages_so_far FROM chats
WHERE id IN (SELECT (lpad(to_hex(n), 8, '0') || '-0000-4000-8000-000000000000')::uuid
	     FROM generate_series(1, :n) AS n);
