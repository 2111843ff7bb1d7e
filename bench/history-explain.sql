-- SPDX-License-Identifier: MIT
--
-- bench/history-explain.sql: the plan of a history page, STMT_MESSAGES_DESC of
-- src/store/stmts.c (MESSAGE_COLUMNS expanded), as chatd runs it for
-- GET /v1/messages?chat_id=C[&before=B]&limit=50: seqs in (from_seq, min(last_seq, B-1)],
-- newest first, limit + 1 rows (the extra row tells has_more).
--
--   psql -X -v chat=CHAT_ID -v viewer=USER_ID -v hi=HI -f bench/history-explain.sql chat
--
-- First with literal values (the planner prunes the partitions at plan time), then as
-- chatd sends it, a prepared statement with parameters, under the generic plan that
-- PostgreSQL settles on after five executions (plan_cache_mode = force_generic_plan here):
-- the partitions are then pruned when the executor starts ("Subplans Removed").
\set ON_ERROR_STOP 1
\echo '--- literal values: chat_id' :'chat' ', seq in (0,' :hi '], LIMIT 51, viewer' :'viewer'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT m.seq, m.sender_id, m.kind, m.content, m.media_id, m.reply_to_seq,
       (extract(epoch FROM m.created_at) * 1e6)::int8,
       CASE WHEN m.sender_id = :'viewer'::uuid THEN (SELECT CASE
	    WHEN bool_and(o.read_seq >= m.seq) THEN 'read'
	    WHEN bool_and(o.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END
	    FROM chat_members o WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id
	    AND o.from_seq < m.seq AND (o.to_seq IS NULL OR o.to_seq >= m.seq))
       ELSE (SELECT CASE WHEN bool_or(v.read_seq >= m.seq) THEN 'read'
	    WHEN bool_or(v.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END
	    FROM chat_members v WHERE v.chat_id = m.chat_id AND v.user_id = :'viewer'::uuid
	    AND v.from_seq < m.seq AND (v.to_seq IS NULL OR v.to_seq >= m.seq)) END
FROM messages m
WHERE m.chat_id = :'chat'::uuid AND m.seq > 0::int8 AND m.seq <= :hi::int8
ORDER BY m.seq DESC LIMIT 51::int8;

PREPARE messages_desc AS
SELECT m.seq, m.sender_id, m.kind, m.content, m.media_id, m.reply_to_seq,
       (extract(epoch FROM m.created_at) * 1e6)::int8,
       CASE WHEN m.sender_id = $5::uuid THEN (SELECT CASE
	    WHEN bool_and(o.read_seq >= m.seq) THEN 'read'
	    WHEN bool_and(o.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END
	    FROM chat_members o WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id
	    AND o.from_seq < m.seq AND (o.to_seq IS NULL OR o.to_seq >= m.seq))
       ELSE (SELECT CASE WHEN bool_or(v.read_seq >= m.seq) THEN 'read'
	    WHEN bool_or(v.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END
	    FROM chat_members v WHERE v.chat_id = m.chat_id AND v.user_id = $5::uuid
	    AND v.from_seq < m.seq AND (v.to_seq IS NULL OR v.to_seq >= m.seq)) END
FROM messages m
WHERE m.chat_id = $1::uuid AND m.seq > $2::int8 AND m.seq <= $3::int8
ORDER BY m.seq DESC LIMIT $4::int8;
SET plan_cache_mode = force_generic_plan;
\echo '--- prepared, generic plan: EXECUTE messages_desc(chat_id, 0,' :hi ', 51, viewer)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE messages_desc(:'chat', 0, :'hi', 51, :'viewer');
