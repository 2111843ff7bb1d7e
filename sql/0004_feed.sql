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
-- 2. receipt_notes: a receipt event addressed to each member whose messages it covers
--    (the senders in the range), found by (to_user, xid). The feed no longer scans every
--    receipt of a group to find the few that concern the reader.
-- 3. chat_receipt(): recording a receipt coalesces moves of the same reader, chat and
--    status within 500 ms into one row (and one event per recipient: the latest state
--    wins), for delivered receipts as for read ones; chat_ack() moves the delivered
--    pointers of a poll in one call and commits asynchronously (see there).

ALTER TABLE chats ADD COLUMN last_xid xid8 NOT NULL DEFAULT '0';
UPDATE chats c SET last_xid = greatest(
	coalesce((SELECT max(m.xid) FROM messages m WHERE m.chat_id = c.id), '0'::xid8),
	coalesce((SELECT max(e.xid) FROM member_events e WHERE e.chat_id = c.id), '0'::xid8));

CREATE TABLE receipt_notes (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	receipt_id	bigint NOT NULL REFERENCES receipts (id) ON DELETE CASCADE,
	to_user		uuid NOT NULL,
	chat_id		uuid NOT NULL,
	user_id		uuid NOT NULL,
	status		text NOT NULL CHECK (status IN ('delivered', 'read')),
	seq		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	xid		xid8 NOT NULL DEFAULT pg_current_xact_id(),
	UNIQUE (receipt_id, to_user)
);
CREATE INDEX receipt_notes_feed ON receipt_notes (to_user, xid);

-- The receipts of the last hour become notes, so that a cursor taken before this
-- migration still gets them.
INSERT INTO receipt_notes (receipt_id, to_user, chat_id, user_id, status, seq, created_at, xid)
SELECT DISTINCT ON (r.id, m.sender_id) r.id, m.sender_id, r.chat_id, r.user_id, r.status,
    r.seq, r.created_at, r.xid
  FROM receipts r JOIN messages m ON m.chat_id = r.chat_id AND m.seq > r.from_seq
   AND m.seq <= r.seq AND m.sender_id <> r.user_id
 WHERE r.created_at > now() - interval '1 hour';

-- The feed reads receipts through their notes now.
DROP INDEX receipts_chat_xid;
-- The coalescing lookup: the reader's latest receipt of a kind in a chat.
CREATE INDEX receipts_latest ON receipts (chat_id, user_id, status, created_at);

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

-- Records that p_user's pointer of kind p_status in p_chat moved from p_from to p_to, and
-- addresses the receipt to the other senders of (p_from, p_to]; returns them (the users
-- to wake). A move within 500 ms of the reader's previous receipt of the same kind in the
-- chat extends that receipt instead (its notes move to this transaction: the latest
-- state wins, and a recipient that already had the older state gets the newer one).
CREATE FUNCTION chat_receipt(p_chat uuid, p_user uuid, p_status text, p_from bigint,
    p_to bigint)
RETURNS SETOF uuid LANGUAGE plpgsql AS $$
DECLARE
	rid	bigint;
	lo	bigint;
BEGIN
	SELECT r.id, r.from_seq INTO rid, lo FROM receipts r
	 WHERE r.chat_id = p_chat AND r.user_id = p_user AND r.status = p_status
	   AND r.created_at > now() - interval '500 milliseconds'
	 ORDER BY r.created_at DESC LIMIT 1;
	IF FOUND THEN
		UPDATE receipts SET seq = greatest(seq, p_to), created_at = now(),
		    xid = pg_current_xact_id() WHERE id = rid;
		lo := least(lo, p_from);
	ELSE
		INSERT INTO receipts (chat_id, user_id, status, from_seq, seq)
		VALUES (p_chat, p_user, p_status, p_from, p_to) RETURNING id INTO rid;
		lo := p_from;
	END IF;
	RETURN QUERY
	INSERT INTO receipt_notes (receipt_id, to_user, chat_id, user_id, status, seq)
	SELECT DISTINCT rid, m.sender_id, p_chat, p_user, p_status, p_to
	  FROM messages m WHERE m.chat_id = p_chat AND m.seq > lo AND m.seq <= p_to
	   AND m.sender_id <> p_user
	ON CONFLICT (receipt_id, to_user) DO UPDATE SET seq = greatest(receipt_notes.seq,
	    excluded.seq), created_at = now(), xid = pg_current_xact_id()
	RETURNING to_user;
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
CREATE FUNCTION chat_ack(p_users uuid[], p_devices uuid[], p_pos xid8[])
RETURNS SETOF uuid LANGUAGE plpgsql AS $$
DECLARE
	a	record;
	prev	xid8;
	mv	record;
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	-- By user, then device: two batches lock the rows of their users in the same order,
	-- so they cannot deadlock.
	FOR a IN SELECT t.u, t.d, t.pos FROM unnest(p_users, p_devices, p_pos) AS t (u, d, pos)
	    ORDER BY t.u, t.d LOOP
		SELECT acked_xid INTO prev FROM devices WHERE id = a.d AND user_id = a.u
		   FOR UPDATE;
		CONTINUE WHEN NOT FOUND OR prev >= a.pos;
		UPDATE devices SET acked_xid = a.pos WHERE id = a.d;
		FOR mv IN
			SELECT t.chat_id, t.old, t.target FROM (
				SELECT p.chat_id, p.delivered_seq AS old,
				    (SELECT m.seq FROM messages m WHERE m.chat_id = p.chat_id
				      AND m.xid <= a.pos ORDER BY m.xid DESC LIMIT 1) AS target
				  FROM chat_members p JOIN chats c ON c.id = p.chat_id
				   AND c.last_xid > prev
				 WHERE p.user_id = a.u AND p.to_seq IS NULL) t
			 WHERE t.target > t.old
		LOOP
			-- The pointer is the user's in the chat: each period's copy, clamped.
			UPDATE chat_members cm SET delivered_seq = greatest(cm.delivered_seq,
			    least(mv.target, coalesce(cm.to_seq, mv.target)))
			 WHERE cm.chat_id = mv.chat_id AND cm.user_id = a.u;
			RETURN QUERY SELECT * FROM chat_receipt(mv.chat_id, a.u, 'delivered', mv.old,
			    mv.target);
		END LOOP;
	END LOOP;
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
