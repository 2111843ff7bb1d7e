-- SPDX-License-Identifier: MIT
-- 0001: users, devices, chats, members, groups, messages.
--
-- Migrations are numbered, forward-only and run in one transaction each by
-- `chatd --migrate`, which records them in schema_version.
--
-- Ids are UUIDs (opaque strings on the wire). Timestamps are timestamptz (UTC on the wire).

CREATE TABLE users (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	username	text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_.-]{3,32}$'),
	display_name	text NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 64),
	password_hash	text NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- One row per login. A token is valid only while its device row exists and is not revoked;
-- every authenticated request checks this (primary-key lookup).
CREATE TABLE devices (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id		uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now(),
	revoked_at	timestamptz,
	-- the event feed position this device last acknowledged (its poll's cursor)
	acked_xid	xid8 NOT NULL DEFAULT '0'
);
CREATE INDEX devices_user_live ON devices (user_id, created_at) WHERE revoked_at IS NULL;

-- A chat is a direct conversation between two users or the conversation of a group.
-- last_seq is the per-chat message counter: a sender takes the chat's lock and
-- increments it in the same transaction as the message insert, so each chat's seqs are
-- 1, 2, 3, ... in commit order, without gaps.
CREATE TABLE chats (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	kind		text NOT NULL CHECK (kind IN ('direct', 'group')),
	-- direct chats: the pair, smaller id first, so that one pair has one chat
	user_a		uuid REFERENCES users (id),
	user_b		uuid REFERENCES users (id),
	last_seq	bigint NOT NULL DEFAULT 0,
	last_activity	timestamptz NOT NULL DEFAULT now(),
	created_at	timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'direct') = (user_a IS NOT NULL AND user_b IS NOT NULL)),
	CHECK (user_a < user_b),
	UNIQUE (user_a, user_b)
);

CREATE TABLE groups (
	id		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	chat_id		uuid NOT NULL UNIQUE REFERENCES chats (id),
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 128),
	owner_id	uuid NOT NULL REFERENCES users (id),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Current members of a group and their role. joined_at orders succession: when the last
-- admin leaves, the longest-standing member becomes admin.
CREATE TABLE group_members (
	group_id	uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
	user_id		uuid NOT NULL REFERENCES users (id),
	role		text NOT NULL CHECK (role IN ('admin', 'member')),
	joined_at	timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Membership periods of a chat: a member may read the messages with
-- from_seq < seq <= to_seq (to_seq NULL while it is a member). A user removed and added
-- again has two periods. Periods are written under the same chat lock as message seqs.
-- read_seq and delivered_seq are the user's pointers in the chat during the period: they
-- move forward only, and delivered_seq >= read_seq (read implies delivered).
CREATE TABLE chat_members (
	chat_id		uuid NOT NULL REFERENCES chats (id),
	user_id		uuid NOT NULL REFERENCES users (id),
	from_seq	bigint NOT NULL,
	to_seq		bigint,
	read_seq	bigint NOT NULL DEFAULT 0,
	delivered_seq	bigint NOT NULL DEFAULT 0,
	joined_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (chat_id, user_id, from_seq),
	CHECK (to_seq IS NULL OR to_seq >= from_seq)
);
CREATE INDEX chat_members_user ON chat_members (user_id, chat_id);
CREATE UNIQUE INDEX chat_members_current ON chat_members (chat_id, user_id) WHERE to_seq IS NULL;

-- Messages are hash-partitioned by chat_id.
--
-- Why hash by chat_id: every history query names chat_id, so each query is pruned to one
-- partition, and every chat's history lives in one partition (chat_id is also the key a
-- sharded deployment would distribute by). The primary key (chat_id, seq) includes the
-- partition key, as PostgreSQL requires of every unique constraint on a partitioned table,
-- and it is the index that history pages walk (an index range scan, no sort).
-- Time-range partitioning would allow retention by dropping partitions, but it would
-- force a time bound into every query and split a chat across partitions.
--
-- The idempotency key (sender, client_msg_id) is global per sender, across chats, so it
-- cannot be a constraint of this table (it would have to include chat_id): it lives in
-- the small unpartitioned table message_keys below, written in the same transaction.
--
-- xid records the writing transaction (pg_current_xact_id()): the event feed reads rows
-- below the snapshot's xmin in (xid, ...) order, which is lossless even though
-- transactions commit out of order.
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
-- before=<timestamp> pages start from the last message earlier than the timestamp.
CREATE INDEX messages_chat_time ON messages (chat_id, created_at, seq);
-- The event feed reads each chat's messages committed since a transaction id.
CREATE INDEX messages_chat_xid ON messages (chat_id, xid);

CREATE TABLE messages_p00 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE messages_p01 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE messages_p02 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE messages_p03 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE messages_p04 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE messages_p05 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE messages_p06 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE messages_p07 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE messages_p08 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE messages_p09 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE messages_p10 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE messages_p11 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE messages_p12 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE messages_p13 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE messages_p14 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE messages_p15 PARTITION OF messages FOR VALUES WITH (MODULUS 16, REMAINDER 15);

-- The idempotency key of sends, kept at least 30 days (purged by age). A retry finds its
-- row by the primary key and answers with the original message; the unique constraint,
-- not a check-then-insert, makes concurrent retries yield one message. body_hash tells a
-- retry from a reuse of the key with another body (409).
CREATE TABLE message_keys (
	sender_id	uuid NOT NULL,
	client_msg_id	text NOT NULL,
	chat_id		uuid NOT NULL,
	seq		bigint NOT NULL,
	body_hash	bytea NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sender_id, client_msg_id)
);
CREATE INDEX message_keys_age ON message_keys (created_at);

-- Membership changes of groups, as events: at_seq is the chat's last_seq when it happened
-- (written under the chat lock), so the users whose periods include at_seq receive it:
-- every member, the added or removed user included.
CREATE TABLE member_events (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chat_id		uuid NOT NULL REFERENCES chats (id),
	group_id	uuid NOT NULL,
	user_id		uuid NOT NULL,
	action		text NOT NULL CHECK (action IN ('added', 'removed')),
	at_seq		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	xid		xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX member_events_chat_xid ON member_events (chat_id, xid);

-- Receipts: a user's delivered or read pointer in a chat moved from from_seq up to seq.
-- One row per move, except that a read move within 500 ms of the previous one updates
-- that row (the latest state wins). The receipt event goes to the members who sent a
-- message in (from_seq, seq]. The receipts endpoint takes a message's delivered/read
-- time from the first row that covers it.
CREATE TABLE receipts (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	chat_id		uuid NOT NULL REFERENCES chats (id),
	user_id		uuid NOT NULL,
	status		text NOT NULL CHECK (status IN ('delivered', 'read')),
	from_seq	bigint NOT NULL DEFAULT 0,
	seq		bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	xid		xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX receipts_chat_user ON receipts (chat_id, user_id, status, seq);
CREATE INDEX receipts_chat_xid ON receipts (chat_id, xid);
