-- SPDX-License-Identifier: MIT
-- 0004: a cheaper event feed.
--
-- A poll reads, for each of its user's chats, the rows written after its position. Three
-- changes make that read cost what is new rather than what the user belongs to:
--
-- 1. chats.last_xid: the transaction id of the last message or membership change of the
--    chat, written by the same transaction (under the chat lock, so it only grows). A
--    poll at position p probes only the chats with last_xid > p: a row of the chat with
--    xid > p that is visible to the poll's snapshot comes from a committed transaction,
--    whose update of last_xid is visible too.
--    And messages and member events are indexed by xid alone: for polls whose position
--    is recent (the usual case: the client polled again at once), the chats changed
--    since then are found from what was written since, however many chats the users
--    belong to; only an old position walks its user's memberships.
-- 2. Receipts are addressed: one row per member whose messages a receipt covers (the
--    senders in its range other than the reader), found by (to_user, xid). A poll no
--    longer scans every receipt of a group to find the few that concern its user, and
--    the receipts of a message (GET /v1/messages/{id}/receipts) are those addressed to
--    its sender. Rows carry no foreign keys: a key share lock on the chat row taken by
--    every acknowledgement of a busy group made all of them queue on one multixact.
-- 3. chat_receipt(): recording a receipt coalesces moves of the same reader, chat and
--    status within 500 ms into the same rows (one event per recipient: the latest state
--    wins), for delivered receipts as for read ones; chat_ack() moves the delivered
--    pointers of a batch of polls in one call and commits asynchronously (see there).

ALTER TABLE chats ADD COLUMN last_xid xid8 NOT NULL DEFAULT '0';
-- The sender of the last message (seq last_seq): an acknowledgement of that one message
-- knows whom its receipt goes to without reading it.
ALTER TABLE chats ADD COLUMN last_sender uuid;
UPDATE chats c SET last_xid = greatest(
	coalesce((SELECT max(m.xid) FROM messages m WHERE m.chat_id = c.id), '0'::xid8),
	coalesce((SELECT max(e.xid) FROM member_events e WHERE e.chat_id = c.id), '0'::xid8)),
    last_sender = (SELECT m.sender_id FROM messages m WHERE m.chat_id = c.id
		    AND m.seq = c.last_seq);

-- What was written after a recent position (messages: 0005, which rebuilds the table).
CREATE INDEX member_events_xid ON member_events (xid);

-- The receipts so far, addressed to the senders they cover.
CREATE TABLE receipts_by_recipient (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	to_user		uuid NOT NULL,
	chat_id		uuid NOT NULL,
	user_id		uuid NOT NULL,
	status		text NOT NULL CHECK (status IN ('delivered', 'read')),
	from_seq	bigint NOT NULL,
	seq		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	xid		xid8 NOT NULL DEFAULT pg_current_xact_id()
);
INSERT INTO receipts_by_recipient (to_user, chat_id, user_id, status, from_seq, seq,
    created_at, xid)
SELECT DISTINCT ON (r.id, m.sender_id) m.sender_id, r.chat_id, r.user_id, r.status,
    r.from_seq, r.seq, r.created_at, r.xid
  FROM receipts r JOIN messages m ON m.chat_id = r.chat_id AND m.seq > r.from_seq
   AND m.seq <= r.seq AND m.sender_id <> r.user_id
 ORDER BY r.id, m.sender_id;
DROP TABLE receipts;
ALTER TABLE receipts_by_recipient RENAME TO receipts;
-- The feed: a user's receipts after a position.
CREATE INDEX receipts_feed ON receipts (to_user, xid);
-- Coalescing (the reader's latest receipt of a kind in a chat) and the receipts of a
-- message (those addressed to its sender).
CREATE INDEX receipts_reader ON receipts (chat_id, user_id, status, to_user, created_at);

-- Sends record their transaction in the chat row (the first write, under the lock).
CREATE OR REPLACE FUNCTION chat_send(p_chat uuid, p_lock bigint, p_sender uuid, p_cmid text,
    p_hash text, p_kind text, p_content text, p_media uuid, p_reply_chat uuid,
    p_reply_seq bigint, p_dry boolean)
RETURNS TABLE (outcome text, chat_id uuid, seq bigint, created_us bigint, status text)
LANGUAGE plpgsql AS $$
DECLARE
	k	record;
	s	bigint;
	at	timestamptz;
BEGIN
	PERFORM pg_advisory_xact_lock(p_lock);
	SELECT mk.chat_id, mk.seq, encode(mk.body_hash, 'hex') AS h INTO k
	  FROM message_keys mk WHERE mk.sender_id = p_sender AND mk.client_msg_id = p_cmid;
	IF FOUND THEN
		IF k.h <> p_hash THEN
			RETURN QUERY SELECT 'conflict'::text, NULL::uuid, NULL::bigint, NULL::bigint,
			    NULL::text;
			RETURN;
		END IF;
		RETURN QUERY SELECT 'replay'::text, m.chat_id, m.seq,
		    (extract(epoch FROM m.created_at) * 1e6)::int8,
		    (SELECT CASE WHEN bool_and(o.read_seq >= m.seq) THEN 'read'
		                 WHEN bool_and(o.delivered_seq >= m.seq) THEN 'delivered'
		                 ELSE 'sent' END
		       FROM chat_members o WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id
		        AND o.from_seq < m.seq AND (o.to_seq IS NULL OR o.to_seq >= m.seq))
		  FROM messages m WHERE m.chat_id = k.chat_id AND m.seq = k.seq;
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = p_chat
	    AND cm.user_id = p_sender AND cm.to_seq IS NULL) THEN
		RETURN QUERY SELECT 'forbidden'::text, NULL::uuid, NULL::bigint, NULL::bigint,
		    NULL::text;
		RETURN;
	END IF;
	IF p_reply_seq IS NOT NULL THEN
		IF NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = p_reply_chat
		    AND m.seq = p_reply_seq) THEN
			RETURN QUERY SELECT 'reply_missing'::text, NULL::uuid, NULL::bigint,
			    NULL::bigint, NULL::text;
			RETURN;
		END IF;
		IF p_reply_chat <> p_chat THEN
			RETURN QUERY SELECT 'reply_other'::text, NULL::uuid, NULL::bigint,
			    NULL::bigint, NULL::text;
			RETURN;
		END IF;
	END IF;
	IF p_dry THEN
		RETURN QUERY SELECT 'ok'::text, NULL::uuid, NULL::bigint, NULL::bigint, NULL::text;
		RETURN;
	END IF;
	-- The first write of the transaction, under the chat lock.
	UPDATE chats c SET last_seq = c.last_seq + 1, last_xid = pg_current_xact_id(),
	    last_sender = p_sender,
	    last_activity = date_trunc('milliseconds', greatest(clock_timestamp(), c.last_activity))
	 WHERE c.id = p_chat RETURNING c.last_seq, c.last_activity INTO s, at;
	INSERT INTO message_keys (sender_id, client_msg_id, chat_id, seq, body_hash)
	VALUES (p_sender, p_cmid, p_chat, s, decode(p_hash, 'hex'));
	INSERT INTO messages (chat_id, seq, sender_id, kind, content, media_id, reply_to_seq,
	    client_msg_id, created_at)
	VALUES (p_chat, s, p_sender, p_kind, p_content, p_media, p_reply_seq, p_cmid, at);
	RETURN QUERY SELECT 'sent'::text, p_chat, s, (extract(epoch FROM at) * 1e6)::int8,
	    'sent'::text;
END;
$$;

-- Records that p_user's pointer of kind p_status in p_chat moved from p_from to p_to:
-- a receipt addressed to each other sender of (p_from, p_to], who are returned (the
-- users to wake). A move within 500 ms of the reader's previous receipt of the same kind
-- in the chat to the same recipient extends that row instead (and moves it to this
-- transaction: the latest state wins, and a recipient that already had the older state
-- gets the newer one).
CREATE FUNCTION chat_receipt(p_chat uuid, p_user uuid, p_status text, p_from bigint,
    p_to bigint)
RETURNS SETOF uuid LANGUAGE plpgsql AS $$
BEGIN
	-- One statement, planned once per session (plpgsql caches its plans; a SQL function
	-- would be planned again at every call).
	RETURN QUERY
	WITH s AS (SELECT DISTINCT m.sender_id AS u FROM messages m
		    WHERE m.chat_id = p_chat AND m.seq > p_from AND m.seq <= p_to
		      AND m.sender_id <> p_user),
	up AS (UPDATE receipts r SET seq = greatest(r.seq, p_to), created_at = now(),
		    xid = pg_current_xact_id()
		 FROM s WHERE r.chat_id = p_chat AND r.user_id = p_user AND r.status = p_status
		  AND r.to_user = s.u AND r.created_at > now() - interval '500 milliseconds'
		RETURNING r.to_user),
	ins AS (INSERT INTO receipts (to_user, chat_id, user_id, status, from_seq, seq)
		SELECT s.u, p_chat, p_user, p_status, p_from, p_to FROM s
		 WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.to_user = s.u)
		RETURNING receipts.to_user)
	SELECT up.to_user FROM up UNION SELECT ins.to_user FROM ins;
END;
$$;

-- A poll acknowledges what its device received up to its position: the user's delivered
-- pointer of every chat with a message at or below it moves up to it, with a receipt per
-- chat moved. Only chats changed since the device's previous acknowledgement can move.
-- The polls of a batch come together (p_users[i], p_devices[i], p_pos[i]). Returns the
-- users to wake (those the receipts are addressed to).
--
-- The commit is asynchronous (synchronous_commit off for this transaction only): the
-- acknowledgement is visible at once, and a crash can lose only the last fraction of a
-- second of them, which the device's next poll (from a later cursor) makes again, so a
-- poll does not wait for a WAL flush. Sends, reads and membership changes stay
-- synchronous.
CREATE FUNCTION chat_ack(p_users uuid[], p_devices uuid[], p_pos xid8[], p_recent bigint)
RETURNS SETOF uuid LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	-- The users' locks first, in order (the two-key advisory space: no chat's lock):
	-- two batches that share users then touch their rows one after the other, and
	-- cannot deadlock.
	PERFORM pg_advisory_xact_lock(1, hashtext(u::text))
	   FROM (SELECT DISTINCT u FROM unnest(p_users) AS u ORDER BY u) x;
	-- One statement for the batch: the devices that move, each user's chats changed
	-- since its devices' previous positions whose last message at or below the new
	-- position is past the delivered pointer, the pointers (each period's copy,
	-- clamped), and a receipt to each other sender in the range moved.
	RETURN QUERY
	WITH t AS (SELECT t.u, t.d, max(t.pos) AS pos
		     FROM unnest(p_users, p_devices, p_pos) AS t (u, d, pos) GROUP BY t.u, t.d),
	dv AS (SELECT d.id, d.user_id, d.acked_xid AS prev, t.pos FROM t
		 JOIN devices d ON d.id = t.d AND d.user_id = t.u AND d.acked_xid < t.pos),
	dup AS (UPDATE devices d SET acked_xid = dv.pos FROM dv WHERE d.id = dv.id),
	uu AS (SELECT dv.user_id, max(dv.pos) AS pos, min(dv.prev) AS prev,
		    max(dv.pos)::text::numeric - min(dv.prev)::text::numeric < p_recent AS recent
		 FROM dv GROUP BY dv.user_id),
	-- The users' chats that may have moved: for users whose previous position is
	-- recent (fewer than p_recent transactions ago: see store_ack), the chats with
	-- messages written since the oldest of those positions; for the others, all their
	-- chats.
	lo AS (SELECT min(uu.prev) AS a, max(uu.pos) AS b FROM uu WHERE uu.recent),
	ch AS (SELECT DISTINCT m.chat_id FROM lo JOIN messages m ON m.xid > lo.a
		AND m.xid <= lo.b),
	-- (From the changed chats' members: LATERAL with a LIMIT keeps the planner from
	-- walking every membership of the users instead.)
	cand AS (SELECT uu.user_id, uu.pos, uu.prev, p.chat_id, p.delivered_seq FROM ch
		   CROSS JOIN LATERAL (SELECT p.user_id, p.chat_id, p.delivered_seq
		     FROM chat_members p WHERE p.chat_id = ch.chat_id AND p.to_seq IS NULL
		     LIMIT 100000) p
		   JOIN uu ON uu.user_id = p.user_id AND uu.recent
		 UNION ALL
		 SELECT uu.user_id, uu.pos, uu.prev, p.chat_id, p.delivered_seq FROM uu
		   JOIN chat_members p ON p.user_id = uu.user_id AND p.to_seq IS NULL
		  WHERE NOT uu.recent),
	-- The target: the chat's last message when the position is past the chat's last
	-- change (the common case: no read of messages), else the last one at or below it.
	mv AS (SELECT p.user_id, p.chat_id, p.delivered_seq AS old, tg.seq AS target,
		    c.last_seq, c.last_sender
		 FROM cand p JOIN chats c ON c.id = p.chat_id AND c.last_xid > p.prev
		 CROSS JOIN LATERAL (SELECT c.last_seq AS seq WHERE c.last_xid <= p.pos
		    UNION ALL
		    (SELECT m.seq FROM messages m WHERE c.last_xid > p.pos
		      AND m.chat_id = p.chat_id AND m.xid <= p.pos ORDER BY m.xid DESC LIMIT 1)) tg
		WHERE tg.seq > p.delivered_seq),
	cm AS (UPDATE chat_members x SET delivered_seq = greatest(x.delivered_seq,
		    least(mv.target, coalesce(x.to_seq, mv.target)))
		 FROM mv WHERE x.chat_id = mv.chat_id AND x.user_id = mv.user_id),
	-- The senders in the range: of one message, the last, known from the chat row.
	snd AS (SELECT DISTINCT mv.user_id AS reader, mv.chat_id, mv.old, mv.target, s.u AS to_user
		  FROM mv CROSS JOIN LATERAL (
		    SELECT mv.last_sender AS u WHERE mv.target = mv.old + 1
		       AND mv.target = mv.last_seq
		    UNION ALL
		    SELECT m.sender_id FROM messages m WHERE NOT (mv.target = mv.old + 1
		       AND mv.target = mv.last_seq) AND m.chat_id = mv.chat_id
		       AND m.seq > mv.old AND m.seq <= mv.target) s
		 WHERE s.u IS NOT NULL AND s.u <> mv.user_id),
	-- A move within 500 ms of the reader's previous one to the same recipient extends it.
	up AS (UPDATE receipts r SET seq = greatest(r.seq, snd.target), created_at = now(),
		    xid = pg_current_xact_id()
		 FROM snd WHERE r.chat_id = snd.chat_id AND r.user_id = snd.reader
		  AND r.status = 'delivered' AND r.to_user = snd.to_user
		  AND r.created_at > now() - interval '500 milliseconds'
		RETURNING r.chat_id, r.user_id, r.to_user),
	ins AS (INSERT INTO receipts (to_user, chat_id, user_id, status, from_seq, seq)
		SELECT snd.to_user, snd.chat_id, snd.reader, 'delivered', snd.old, snd.target
		  FROM snd WHERE NOT EXISTS (SELECT 1 FROM up WHERE up.chat_id = snd.chat_id
		   AND up.user_id = snd.reader AND up.to_user = snd.to_user)
		RETURNING receipts.to_user)
	SELECT up.to_user FROM up UNION SELECT ins.to_user FROM ins;
END;
$$;

-- POST /v1/chats/{id}/read: the user's read pointer (and delivered with it) moves up to
-- p_seq (clamped to the last message), never backwards, in every period's copy. Returns
-- the users its receipt goes to (none when the pointer did not move).
CREATE FUNCTION chat_read(p_chat uuid, p_user uuid, p_seq bigint)
RETURNS SETOF uuid LANGUAGE plpgsql AS $$
DECLARE
	t	bigint;
	o	bigint;
BEGIN
	SELECT least(p_seq, c.last_seq), x.read_seq INTO t, o
	  FROM chats c JOIN chat_members x ON x.chat_id = c.id AND x.user_id = p_user
	   AND x.to_seq IS NULL WHERE c.id = p_chat;
	IF NOT FOUND OR t <= o THEN
		RETURN;
	END IF;
	UPDATE chat_members cm SET
	    read_seq = greatest(cm.read_seq, least(t, coalesce(cm.to_seq, t))),
	    delivered_seq = greatest(cm.delivered_seq, least(t, coalesce(cm.to_seq, t)))
	 WHERE cm.chat_id = p_chat AND cm.user_id = p_user;
	RETURN QUERY SELECT DISTINCT u FROM chat_receipt(p_chat, p_user, 'read', o, t) AS u;
END;
$$;
