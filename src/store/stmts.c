/* SPDX-License-Identifier: MIT */
/*
 * The statement table: every SQL text of the program that takes parameters, prepared
 * once per connection on first use. Nothing else in the program builds SQL.
 */
#include "config.h"
#include "internal.h"

/* The columns of a message as store_read_message reads them, with its status as the
 * viewer ($V) sees it: for its own messages the least advanced state among the other
 * members who can see it, for others' messages its own state. */
#define MESSAGE_STATUS(V) \
	"CASE WHEN m.sender_id = " V " THEN (SELECT CASE " \
	"WHEN bool_and(o.read_seq >= m.seq) THEN 'read' " \
	"WHEN bool_and(o.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END " \
	"FROM chat_members o WHERE o.chat_id = m.chat_id AND o.user_id <> m.sender_id " \
	"AND o.from_seq < m.seq AND (o.to_seq IS NULL OR o.to_seq >= m.seq)) " \
	"ELSE (SELECT CASE WHEN bool_or(v.read_seq >= m.seq) THEN 'read' " \
	"WHEN bool_or(v.delivered_seq >= m.seq) THEN 'delivered' ELSE 'sent' END " \
	"FROM chat_members v WHERE v.chat_id = m.chat_id AND v.user_id = " V " " \
	"AND v.from_seq < m.seq AND (v.to_seq IS NULL OR v.to_seq >= m.seq)) END"
#define MESSAGE_COLUMNS(V) \
	"m.seq, m.sender_id, m.kind, m.content, m.media_id, m.reply_to_seq, " \
	"(extract(epoch FROM m.created_at) * 1e6)::int8, " MESSAGE_STATUS(V) ", " MESSAGE_MEDIA
/* A message's media: two primary-key lookups, only for the rows that carry one (history
 * stays one range scan of the messages' primary key). */
#define MESSAGE_MEDIA \
	"CASE WHEN m.media_id IS NOT NULL THEN " \
	"(SELECT md.content_type FROM media md WHERE md.id = m.media_id) END, " \
	"CASE WHEN m.media_id IS NOT NULL THEN " \
	"(SELECT md.size FROM media md WHERE md.id = m.media_id) END"
/* The advisory lock of a file: the first 64 bits of its SHA-256 ($N, hex). */
#define SHA_LOCK(N) \
	"pg_advisory_xact_lock(('x' || left(" N ", 16))::bit(64)::int8)"

/* The events of a batch of polls ($1 users, $2 their positions, in the same order). Each
 * poll's periods (p) are those of the chats changed after its position (chats.last_xid,
 * sql/0004_feed.sql): only they are probed for messages and member events. For a recent
 * position (fewer than $4 transactions ago: the client polled again at once, or the
 * batch is large enough to share the work), the chats changed since the batch's oldest
 * recent position are found from the rows written since (indexes on xid), and their
 * members matched with the polls: the cost is what changed, not how many chats the
 * users have; an older position walks its user's memberships. Receipts are
 * those addressed to the poll's user. Every probe is a LATERAL subquery with a
 * LIMIT (at most $3 rows per poll are kept anyway), which the planner cannot flatten: each
 * stays an index range scan per poll or chat, whatever the sizes of the tables, and the
 * messages' partition is chosen per chat at run time. */
#define FEED_EVENTS(TOP) \
	"q AS (SELECT t.i, t.u, t.a::xid8 AS after, " \
	"(SELECT top FROM w)::text::numeric - t.a::numeric < $4::numeric AS recent " \
	"FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS t (u, a, i)), " \
	"lo AS (SELECT min(after) AS a FROM q WHERE recent), " \
	"ch AS (SELECT m.chat_id FROM lo JOIN messages m ON m.xid > lo.a " \
	"UNION SELECT e.chat_id FROM lo JOIN member_events e ON e.xid > lo.a), " \
	"p AS (SELECT q.i, q.u, q.after, cm.chat_id, cm.from_seq, cm.to_seq FROM ch " \
	"CROSS JOIN LATERAL (SELECT cm.user_id, cm.chat_id, cm.from_seq, cm.to_seq, c.last_xid " \
	"FROM chat_members cm JOIN chats c ON c.id = cm.chat_id WHERE cm.chat_id = ch.chat_id " \
	"LIMIT 100000) cm " \
	"JOIN q ON q.u = cm.user_id AND q.recent AND cm.last_xid > q.after " \
	"UNION ALL " \
	"SELECT q.i, q.u, q.after, cm.chat_id, cm.from_seq, cm.to_seq FROM q " \
	"CROSS JOIN LATERAL (SELECT cm.chat_id, cm.from_seq, cm.to_seq FROM chat_members cm " \
	"JOIN chats c ON c.id = cm.chat_id AND c.last_xid > q.after " \
	"WHERE cm.user_id = q.u AND NOT q.recent LIMIT 100000) cm), " \
	"ev AS (" \
	"SELECT p.i, m.xid, 1 AS k, m.chat_id, m.seq AS n, " MESSAGE_COLUMNS("p.u") ", " \
	"NULL::uuid AS who, NULL::text AS what, NULL::uuid AS grp, " TOP("m") " AS below " \
	"FROM p CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.chat_id = p.chat_id " \
	"AND m.xid > p.after AND m.seq > p.from_seq " \
	"AND (p.to_seq IS NULL OR m.seq <= p.to_seq) ORDER BY m.xid LIMIT $3::int8) m " \
	"UNION ALL " \
	"SELECT pc.i, e.xid, 2, e.chat_id, e.id, e.at_seq, NULL::uuid, NULL, NULL, NULL::uuid, " \
	"NULL::int8, (extract(epoch FROM e.created_at) * 1e6)::int8, NULL, NULL, NULL::int8, " \
	"e.user_id, e.action, e.group_id, " TOP("e") " " \
	"FROM (SELECT DISTINCT i, after, chat_id FROM p) pc " \
	"CROSS JOIN LATERAL (SELECT * FROM member_events e WHERE e.chat_id = pc.chat_id " \
	"AND e.xid > pc.after ORDER BY e.xid LIMIT $3::int8) e " \
	/* Two periods of one user may both cover an event at their boundary: once. */ \
	"WHERE EXISTS (SELECT 1 FROM p p2 WHERE p2.i = pc.i AND p2.chat_id = e.chat_id " \
	"AND e.at_seq >= p2.from_seq AND (p2.to_seq IS NULL OR e.at_seq <= p2.to_seq)) " \
	"UNION ALL " \
	"SELECT q.i, r.xid, 3, r.chat_id, r.id, r.seq, NULL::uuid, NULL, NULL, NULL::uuid, " \
	"NULL::int8, (extract(epoch FROM r.created_at) * 1e6)::int8, NULL, NULL, NULL::int8, " \
	"r.user_id, r.status, NULL::uuid, " TOP("r") " " \
	"FROM q CROSS JOIN LATERAL (SELECT * FROM receipts r WHERE r.to_user = q.u " \
	"AND r.xid > q.after AND (SELECT true FROM chat_members cm " \
	"WHERE cm.chat_id = r.chat_id AND cm.user_id = q.u AND cm.to_seq IS NULL LIMIT 1) " \
	"ORDER BY r.xid LIMIT $3::int8) r), " \
	"rk AS (SELECT ev.*, row_number() OVER (PARTITION BY ev.i " \
	"ORDER BY ev.xid, ev.k, ev.chat_id, ev.n) AS rn FROM ev WHERE ev.below) " \
	"SELECT (SELECT top FROM w)::text, " \
	"(SELECT string_agg(DISTINCT ev.i::text, ' ') FROM ev WHERE NOT ev.below), " \
	"x.* FROM (SELECT 1) one LEFT JOIN " \
	"(SELECT * FROM rk WHERE rn <= $3::int8) x ON true ORDER BY x.i, x.rn"

/* Lossless: only rows of transactions below the snapshot's xmin, which can no longer
 * change, in transaction order; within a chat, xid order is seq order. The committed
 * rows above it are read too, but only to say which polls have some (the second column):
 * those re-read shortly, when the transactions holding the horizon back have ended. */
#define XID_TOP(t)	"(" t ".xid < (SELECT top FROM w))"
/* The classic mistake, kept behind a test-only switch for the concurrency test: every
 * committed row after the cursor, and the cursor moved past whatever is still in flight. */
#define NAIVE_TOP(t)	"true"


const struct store_stmt store_stmts[STMT__COUNT] = {
	[STMT_PING] = { "ping", "SELECT 1" },
	[STMT_USER_INSERT] = { "user_insert",
	    "INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, $3) "
	    "RETURNING id" },
	[STMT_USER_BY_ID] = { "user_by_id",
	    "SELECT id, username, display_name FROM users WHERE id = $1::uuid" },
	[STMT_USER_BY_NAME] = { "user_by_name",
	    "SELECT id, username, display_name FROM users WHERE username = $1" },
	[STMT_USER_CREDENTIALS] = { "user_credentials",
	    "SELECT id, password_hash FROM users WHERE username = $1" },
	[STMT_DEVICE_INSERT] = { "device_insert",
	    "INSERT INTO devices (user_id, name) VALUES ($1::uuid, $2) "
	    "RETURNING id, (extract(epoch FROM created_at) * 1e6)::int8" },
	/* Which of the devices $1 (of the users $2) are live: their indexes (from 1), and
	 * whether last_seen is more than a minute old. */
	[STMT_DEVICE_CHECK] = { "device_check",
	    "SELECT t.i, d.last_seen < now() - interval '60 seconds' "
	    "FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS t (d, u, i) "
	    "JOIN devices d ON d.id = t.d AND d.user_id = t.u AND d.revoked_at IS NULL" },
	/* last_seen is informational (the sessions list): committed asynchronously. */
	[STMT_DEVICE_TOUCH] = { "device_touch",
	    "WITH s AS (SELECT set_config('synchronous_commit', 'off', true)) "
	    "UPDATE devices SET last_seen = now() FROM s WHERE id = ANY ($1::uuid[])" },
	[STMT_DEVICE_LIST] = { "device_list",
	    "SELECT id, name, (extract(epoch FROM created_at) * 1e6)::int8, "
	    "(extract(epoch FROM last_seen) * 1e6)::int8 FROM devices "
	    "WHERE user_id = $1::uuid AND revoked_at IS NULL ORDER BY created_at, id" },
	[STMT_DEVICE_REVOKE] = { "device_revoke",
	    "UPDATE devices SET revoked_at = now() "
	    "WHERE id = $1::uuid AND user_id = $2::uuid AND revoked_at IS NULL" },
	[STMT_CHAT_DIRECT_FIND] = { "chat_direct_find",
	    "SELECT id FROM chats WHERE user_a = $1::uuid AND user_b = $2::uuid" },
	[STMT_CHAT_DIRECT_CREATE] = { "chat_direct_create",
	    "WITH c AS (INSERT INTO chats (kind, user_a, user_b) "
	    "VALUES ('direct', $1::uuid, $2::uuid) ON CONFLICT (user_a, user_b) DO NOTHING "
	    "RETURNING id), "
	    "m AS (INSERT INTO chat_members (chat_id, user_id, from_seq) "
	    "SELECT c.id, u.id, 0 FROM c CROSS JOIN (VALUES ($1::uuid), ($2::uuid)) AS u (id)) "
	    "SELECT id FROM c" },
	[STMT_CHAT_LOCK] = { "chat_lock", "SELECT pg_advisory_xact_lock($1::int8)" },
	[STMT_MEMBER_CURRENT] = { "member_current",
	    "SELECT 1 FROM chat_members WHERE chat_id = $1::uuid AND user_id = $2::uuid "
	    "AND to_seq IS NULL" },
	[STMT_MESSAGE_SEND] = { "message_send",
	    "SELECT outcome, chat_id, seq, created_us, status FROM chat_send("
	    "$1::uuid, $2::int8, $3::uuid, $4, $5, $6, $7, $8::uuid, $9::uuid, $10::int8, "
	    "$11::bool)" },
	[STMT_DIRECT_TARGET] = { "direct_target",
	    "SELECT (SELECT c.id FROM chats c WHERE c.user_a = least($1::uuid, $2::uuid) "
	    "AND c.user_b = greatest($1::uuid, $2::uuid)) FROM users WHERE id = $2::uuid" },
	[STMT_PERIODS] = { "periods",
	    "SELECT cm.from_seq, coalesce(cm.to_seq, c.last_seq), cm.read_seq, cm.delivered_seq, "
	    "cm.to_seq IS NULL, c.kind FROM chat_members cm JOIN chats c ON c.id = cm.chat_id "
	    "WHERE cm.chat_id = $1::uuid AND cm.user_id = $2::uuid ORDER BY cm.from_seq DESC" },
	/* History pages: one partition, a range of the (chat_id, seq) primary key. */
	[STMT_MESSAGES_DESC] = { "messages_desc",
	    "SELECT " MESSAGE_COLUMNS("$5::uuid") " FROM messages m "
	    "WHERE m.chat_id = $1::uuid AND m.seq > $2::int8 AND m.seq <= $3::int8 "
	    "ORDER BY m.seq DESC LIMIT $4::int8" },
	[STMT_MESSAGES_ASC] = { "messages_asc",
	    "SELECT " MESSAGE_COLUMNS("$5::uuid") " FROM messages m "
	    "WHERE m.chat_id = $1::uuid AND m.seq > $2::int8 AND m.seq <= $3::int8 "
	    "ORDER BY m.seq ASC LIMIT $4::int8" },
	[STMT_MESSAGE_ONE] = { "message_one",
	    "SELECT " MESSAGE_COLUMNS("$3::uuid") " FROM messages m "
	    "WHERE m.chat_id = $1::uuid AND m.seq = $2::int8" },
	[STMT_SEQ_BEFORE_TIME] = { "seq_before_time",
	    "SELECT seq FROM messages WHERE chat_id = $1::uuid AND created_at < $2::timestamptz "
	    "ORDER BY created_at DESC, seq DESC LIMIT 1" },
	[STMT_RECEIPTS] = { "receipts",
	    "SELECT o.user_id, CASE WHEN o.read_seq >= $2::int8 THEN 'read' "
	    "WHEN o.delivered_seq >= $2::int8 THEN 'delivered' ELSE 'sent' END, "
	    "(extract(epoch FROM CASE "
	    "WHEN o.read_seq >= $2::int8 THEN (SELECT r.created_at FROM receipts r "
	    "WHERE r.chat_id = o.chat_id AND r.user_id = o.user_id AND r.status = 'read' "
	    "AND r.to_user = $3::uuid AND r.seq >= $2::int8 ORDER BY r.seq LIMIT 1) "
	    "WHEN o.delivered_seq >= $2::int8 THEN (SELECT r.created_at FROM receipts r "
	    "WHERE r.chat_id = o.chat_id AND r.user_id = o.user_id AND r.to_user = $3::uuid "
	    "AND r.seq >= $2::int8 ORDER BY r.created_at LIMIT 1) END) * 1e6)::int8 "
	    "FROM chat_members o WHERE o.chat_id = $1::uuid AND o.user_id <> $3::uuid "
	    "AND o.from_seq < $2::int8 AND (o.to_seq IS NULL OR o.to_seq >= $2::int8) "
	    "ORDER BY o.user_id" },
	/* Every chat of a user in one query: its latest period, the last visible message and
	 * the number of others' messages after the read pointer. */
	[STMT_CHAT_LIST] = { "chat_list",
	    "SELECT c.id, c.kind, g.id, coalesce(g.name, p.display_name), p.id, cm.read_seq, "
	    "coalesce(u.n, 0), lm.* FROM "
	    "(SELECT DISTINCT ON (chat_id) chat_id, from_seq, to_seq, read_seq FROM chat_members "
	    "WHERE user_id = $1::uuid ORDER BY chat_id, from_seq DESC) cm "
	    "JOIN chats c ON c.id = cm.chat_id "
	    "LEFT JOIN groups g ON g.chat_id = c.id "
	    "LEFT JOIN users p ON c.kind = 'direct' AND "
	    "p.id = CASE WHEN c.user_a = $1::uuid THEN c.user_b ELSE c.user_a END "
	    "LEFT JOIN LATERAL (SELECT " MESSAGE_COLUMNS("$1::uuid") ", m.created_at AS at "
	    "FROM messages m WHERE m.chat_id = c.id AND m.seq > cm.from_seq "
	    "AND m.seq <= coalesce(cm.to_seq, c.last_seq) ORDER BY m.seq DESC LIMIT 1) lm ON true "
	    "LEFT JOIN LATERAL (SELECT count(*) AS n FROM messages m WHERE m.chat_id = c.id "
	    "AND m.seq > greatest(cm.read_seq, cm.from_seq) "
	    "AND m.seq <= coalesce(cm.to_seq, c.last_seq) AND m.sender_id <> $1::uuid) u ON true "
	    "WHERE c.kind = 'group' OR c.last_seq > 0 "
	    "ORDER BY coalesce(lm.at, c.created_at) DESC, c.id" },
	[STMT_FEED_POSITION] = { "feed_position",
	    "SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text" },
	/* The read pointer moves forward (chat_read, sql/0004_feed.sql): the users its
	 * receipt goes to. */
	[STMT_READ_MOVE] = { "read_move",
	    "SELECT u FROM chat_read($1::uuid, $2::uuid, $3::int8) AS u" },
	[STMT_GROUP_GET] = { "group_get",
	    "SELECT id, chat_id, name, owner_id FROM groups WHERE id = $1::uuid" },
	[STMT_GROUP_MEMBERS] = { "group_members",
	    "SELECT user_id, role FROM group_members WHERE group_id = $1::uuid "
	    "ORDER BY joined_at, user_id" },
	[STMT_GROUP_ROLE] = { "group_role",
	    "SELECT role FROM group_members WHERE group_id = $1::uuid AND user_id = $2::uuid" },
	[STMT_GROUP_CREATE] = { "group_create",
	    "WITH c AS (INSERT INTO chats (kind) VALUES ('group') RETURNING id) "
	    "INSERT INTO groups (chat_id, name, owner_id) SELECT id, $1, $2::uuid FROM c "
	    "RETURNING id, chat_id" },
	[STMT_GROUP_ADD_COUNTS] = { "group_add_counts",
	    "SELECT (SELECT count(*) FROM group_members WHERE group_id = $1::uuid), "
	    "(SELECT count(DISTINCT u) FROM unnest($2::uuid[]) u WHERE NOT EXISTS "
	    "(SELECT 1 FROM group_members WHERE group_id = $1::uuid AND user_id = u)), "
	    "(SELECT count(*) FROM users WHERE id = ANY ($2::uuid[]))" },
	/* Members join at the chat's current seq: they read what is sent from now on. */
	[STMT_GROUP_ADD] = { "group_add",
	    "WITH s AS (SELECT last_seq FROM chats WHERE id = $2::uuid), "
	    "u AS (SELECT DISTINCT ON (id) id, ord FROM unnest($3::uuid[]) WITH ORDINALITY "
	    "AS t (id, ord) ORDER BY id, ord), "
	    "gm AS (INSERT INTO group_members (group_id, user_id, role, joined_at) "
	    "SELECT $1::uuid, u.id, $4, clock_timestamp() + u.ord * interval '1 microsecond' "
	    "FROM u ORDER BY u.ord ON CONFLICT DO NOTHING RETURNING user_id), "
	    "cm AS (INSERT INTO chat_members (chat_id, user_id, from_seq) "
	    "SELECT $2::uuid, gm.user_id, s.last_seq FROM gm, s "
	    /* Removed and added again with no message in between: the same period goes on. */
	    "ON CONFLICT (chat_id, user_id, from_seq) DO UPDATE SET to_seq = NULL), "
	    "ev AS (INSERT INTO member_events (chat_id, group_id, user_id, action, at_seq) "
	    "SELECT $2::uuid, $1::uuid, gm.user_id, 'added', s.last_seq FROM gm, s), "
	    /* The feed probes the chats changed after a poll's position. */
	    "x AS (UPDATE chats SET last_xid = pg_current_xact_id() WHERE id = $2::uuid) "
	    "SELECT count(*) FROM gm" },
	[STMT_GROUP_RENAME] = { "group_rename",
	    "UPDATE groups SET name = $2 WHERE id = $1::uuid" },
	[STMT_GROUP_SET_ROLE] = { "group_set_role",
	    "UPDATE group_members SET role = $3 WHERE group_id = $1::uuid AND user_id = $2::uuid" },
	[STMT_GROUP_ADMINS] = { "group_admins",
	    "SELECT count(*) FROM group_members WHERE group_id = $1::uuid AND role = 'admin'" },
	[STMT_GROUP_REMOVE] = { "group_remove",
	    "WITH s AS (SELECT last_seq FROM chats WHERE id = $2::uuid), "
	    "d AS (DELETE FROM group_members WHERE group_id = $1::uuid AND user_id = $3::uuid "
	    "RETURNING user_id), "
	    "p AS (UPDATE chat_members SET to_seq = s.last_seq FROM s, d "
	    "WHERE chat_id = $2::uuid AND chat_members.user_id = d.user_id AND to_seq IS NULL), "
	    "ev AS (INSERT INTO member_events (chat_id, group_id, user_id, action, at_seq) "
	    "SELECT $2::uuid, $1::uuid, d.user_id, 'removed', s.last_seq FROM d, s), "
	    "x AS (UPDATE chats SET last_xid = pg_current_xact_id() WHERE id = $2::uuid) "
	    "SELECT count(*) FROM d" },
	[STMT_GROUP_SUCCESSION] = { "group_succession",
	    "UPDATE group_members SET role = 'admin' WHERE group_id = $1::uuid AND user_id = "
	    "(SELECT user_id FROM group_members WHERE group_id = $1::uuid "
	    "ORDER BY joined_at, user_id LIMIT 1) "
	    "AND NOT EXISTS (SELECT 1 FROM group_members WHERE group_id = $1::uuid "
	    "AND role = 'admin')" },
	/* The event feed of a user after a position: one row per event (at most $3), the
	 * first column the snapshot's xmin (a row of NULLs when there is no event). */
	/* The event feed of a batch of polls: one row per event (at most $3 per poll, in
	 * order), the first column the snapshot's xmin; one row of NULLs when none. */
	[STMT_FEED] = { "feed",
	    "WITH w AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS top), "
	    FEED_EVENTS(XID_TOP) },
	[STMT_FEED_NAIVE] = { "feed_naive",
	    "WITH w AS (SELECT pg_snapshot_xmax(pg_current_snapshot()) AS top), "
	    FEED_EVENTS(NAIVE_TOP) },
	/* Polls acknowledge what their devices received up to their cursors (chat_ack,
	 * sql/0004_feed.sql): the users the receipts go to. */
	[STMT_ACK] = { "ack",
	    "SELECT DISTINCT u FROM chat_ack($1::uuid[], $2::uuid[], $3::xid8[], $4::int8) AS u" },
	/* Who hears of a change in a chat: its current members, and a user who just left. */
	[STMT_CHAT_AUDIENCE] = { "chat_audience",
	    "SELECT DISTINCT user_id FROM chat_members WHERE chat_id = $1::uuid "
	    "AND (to_seq IS NULL OR user_id = $2::uuid)" },
	/* Everyone who shares a chat now with each of the users $1 (presence goes to them):
	 * (index of the user in $1, contact), ordered by contact. */
	[STMT_CONTACTS] = { "contacts",
	    "SELECT DISTINCT o.user_id, t.i FROM unnest($1::uuid[]) WITH ORDINALITY AS t (u, i) "
	    "JOIN chat_members me ON me.user_id = t.u AND me.to_seq IS NULL "
	    "JOIN chat_members o ON o.chat_id = me.chat_id AND o.to_seq IS NULL "
	    "AND o.user_id <> t.u ORDER BY o.user_id, t.i" },
	/* Which of the ids the user may see the presence of: itself and its contacts. */
	[STMT_SHARED] = { "shared",
	    "SELECT u FROM unnest($2::uuid[]) AS u WHERE u = $1::uuid OR EXISTS "
	    "(SELECT 1 FROM chat_members me JOIN chat_members o ON o.chat_id = me.chat_id "
	    "WHERE me.user_id = $1::uuid AND me.to_seq IS NULL AND o.user_id = u "
	    "AND o.to_seq IS NULL)" },
	/* An upload: under its file's lock, held until commit, while the file is moved into
	 * place (the sweep removes a file under the same lock). */
	[STMT_MEDIA_INSERT] = { "media_insert",
	    "WITH l AS (SELECT " SHA_LOCK("$4") ") "
	    "INSERT INTO media (uploader_id, content_type, size, sha256, file_name, storage_key) "
	    "SELECT $1::uuid, $2, $3::int8, $4, $5, $6 FROM l RETURNING id" },
	[STMT_MEDIA_GET] = { "media_get",
	    "SELECT uploader_id, content_type, size FROM media WHERE id = $1::uuid" },
	/* Who may read a media: a signed URL ($3), its uploader, or a member of a chat with a
	 * message carrying it, within the membership period that covers the message. */
	[STMT_MEDIA_ACCESS] = { "media_access",
	    "SELECT md.content_type, md.size, md.storage_key, md.file_name FROM media md "
	    "WHERE md.id = $1::uuid AND ($3::bool OR md.uploader_id = $2::uuid OR EXISTS "
	    "(SELECT 1 FROM messages m JOIN chat_members cm ON cm.chat_id = m.chat_id "
	    "AND cm.user_id = $2::uuid AND m.seq > cm.from_seq "
	    "AND (cm.to_seq IS NULL OR m.seq <= cm.to_seq) WHERE m.media_id = md.id))" },
	/* Media attached to no message for 24 hours, a batch at a time. */
	[STMT_MEDIA_EXPIRE] = { "media_expire",
	    "DELETE FROM media WHERE id IN (SELECT id FROM media WHERE attached_at IS NULL "
	    "AND created_at < now() - make_interval(secs => $1::int8) ORDER BY created_at "
	    "LIMIT 100 FOR UPDATE SKIP LOCKED) AND attached_at IS NULL "
	    "RETURNING sha256, storage_key" },
	[STMT_MEDIA_LOCK] = { "media_lock", "SELECT " SHA_LOCK("$1") },
	[STMT_MEDIA_SHA_USED] = { "media_sha_used",
	    "SELECT 1 FROM media WHERE sha256 = $1 LIMIT 1" },
};
