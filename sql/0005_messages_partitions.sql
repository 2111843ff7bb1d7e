-- SPDX-License-Identifier: MIT
-- 0005: messages in 4 hash partitions instead of 16, and indexed by xid.
--
-- Every statement of the event feed reaches messages through a join (the chat of each
-- row comes from the poll's memberships), so its partition is chosen at run time: a
-- prepared statement locks and initializes every partition (and its indexes) at each
-- execution, before pruning. With 16 partitions that was most of the cost of a small
-- poll batch (measured with pgbench on this machine, generic plans, 4 clients: a probe
-- of 3 chats by (chat_id, xid) 12,900 statements/s with 16 partitions, 23,000 with 4,
-- 36,200 unpartitioned; a scan by xid 5,500/s, 23,700/s, 38,100/s), and past 16 locks
-- a backend leaves PostgreSQL's fast path for the shared lock table. Four partitions
-- keep one chat's history in one partition and the table ready to be split by chat, at
-- a quarter of that cost.
--
-- The xid index: for polls whose position is recent, the chats changed since then are
-- found from the messages written since (see the feed statement in src/store/stmts.c).

ALTER TABLE messages RENAME TO messages_old;
ALTER TABLE messages_old RENAME CONSTRAINT messages_pkey TO messages_old_pkey;
ALTER TABLE messages_old RENAME CONSTRAINT messages_media_fk TO messages_old_media_fk;
ALTER TABLE messages_old RENAME CONSTRAINT messages_seq_check TO messages_old_seq_check;
ALTER TABLE messages_old RENAME CONSTRAINT messages_kind_check TO messages_old_kind_check;
ALTER INDEX messages_chat_time RENAME TO messages_old_chat_time;
ALTER INDEX messages_chat_xid RENAME TO messages_old_chat_xid;
ALTER INDEX messages_media RENAME TO messages_old_media;

-- As in 0001 (columns, checks, defaults), with its comments.
CREATE TABLE messages (
	chat_id		uuid NOT NULL,
	seq		bigint NOT NULL CHECK (seq > 0),
	sender_id	uuid NOT NULL,
	kind		text NOT NULL CHECK (kind IN ('text', 'image', 'video', 'file')),
	content		text,
	media_id	uuid,
	reply_to_seq	bigint,
	client_msg_id	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	xid		xid8 NOT NULL DEFAULT pg_current_xact_id(),
	PRIMARY KEY (chat_id, seq)
) PARTITION BY HASH (chat_id);
CREATE TABLE messages_h0 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE messages_h1 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE messages_h2 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE messages_h3 PARTITION OF messages FOR VALUES WITH (MODULUS 4, REMAINDER 3);

INSERT INTO messages SELECT * FROM messages_old;
DROP TABLE messages_old;

-- before=<timestamp> pages start from the last message earlier than the timestamp.
CREATE INDEX messages_chat_time ON messages (chat_id, created_at, seq);
-- The event feed reads each chat's messages committed since a transaction id.
CREATE INDEX messages_chat_xid ON messages (chat_id, xid);
-- ... and, for recent positions, what was written since.
CREATE INDEX messages_xid ON messages (xid);
-- Access checks and the foreign key's checks on delete look messages up by media.
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;
ALTER TABLE messages ADD CONSTRAINT messages_media_fk FOREIGN KEY (media_id)
    REFERENCES media (id);
CREATE TRIGGER messages_media_attach AFTER INSERT ON messages
    FOR EACH ROW WHEN (NEW.media_id IS NOT NULL) EXECUTE FUNCTION media_attach();
