-- SPDX-License-Identifier: MIT
-- 0002: a send in one round trip.
--
-- chat_send runs the whole send as one statement (in its own transaction when called
-- outside one): the chat's advisory lock first (it assigns no transaction id, so within
-- a chat xid order is seq order), then the idempotency key, membership and reply_to
-- checks, then the next seq and the two inserts. Each statement inside takes a fresh
-- snapshot (READ COMMITTED), so the checks see what committed while the lock was awaited.
--
-- outcome: 'sent', 'replay' (the key's original message), 'conflict' (key reused with
-- another body), 'forbidden' (not a current member), 'reply_missing', 'reply_other',
-- 'ok' (p_dry: the checks passed, nothing written). A concurrent use of the same key in
-- another chat ends in a unique violation, which the caller retries (then: 'replay').
CREATE FUNCTION chat_send(p_chat uuid, p_lock bigint, p_sender uuid, p_cmid text,
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
	UPDATE chats c SET last_seq = c.last_seq + 1,
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
