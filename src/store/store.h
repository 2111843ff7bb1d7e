/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL: one connection per worker thread, the statement table, and one function
 * per query. Every function takes a ctx (arena for results, ctx->db for the connection)
 * and returns ERR_OK, ERR_NOT_FOUND (no row), ERR_CONFLICT (unique violation),
 * ERR_BAD_REQUEST (data the database refused), ERR_UNAVAILABLE (no connection, timeout)
 * or ERR_INTERNAL. Details are logged here; no SQL text ever leaves this folder.
 * Strings in results are copied into the ctx arena.
 */
#ifndef CHAT_STORE_STORE_H
#define CHAT_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ctx.h"

struct settings;
struct store;

/* A connection handle that connects lazily and reconnects after failures. */
struct store	*store_open(const struct settings *cfg);
void		 store_close(struct store *);

/* Applies the migrations of dir in order (each in one transaction, recorded in
 * schema_version, serialized across processes by an advisory lock). */
bool		 store_migrate(const struct settings *cfg, const char *dir);

/* SELECT 1 with a short timeout. */
enum err	 store_ping(struct ctx *);

enum err	 store_tx_begin(struct ctx *);
/* A read-only transaction whose statements all see one snapshot. */
enum err	 store_tx_begin_snapshot(struct ctx *);
enum err	 store_tx_commit(struct ctx *);
void		 store_tx_rollback(struct ctx *);

struct user {
	const char	*id;
	const char	*username;
	const char	*display_name;
};

struct device {
	const char	*id;
	const char	*name;
	int64_t		 created_us;
	int64_t		 last_seen_us;
};

/* ERR_CONFLICT when the username is taken. */
enum err	 store_user_create(struct ctx *, const char *username, const char *display_name,
		    const char *password_hash, struct user *out);
enum err	 store_user_by_id(struct ctx *, const char *id, struct user *out);
enum err	 store_user_by_name(struct ctx *, const char *username, struct user *out);
/* The id and password hash of a username, for login. */
enum err	 store_user_credentials(struct ctx *, const char *username, const char **id,
		    const char **password_hash);

enum err	 store_device_create(struct ctx *, const char *user_id, const char *name,
		    struct device *out);
/* Which of n devices (device_ids[i] of user_ids[i]) exist, belong to their user and are
 * not revoked (live[i]), in one statement. Refreshes last_seen when it is older than a
 * minute. */
enum err	 store_device_check(struct ctx *, size_t n, const char *const *user_ids,
		    const char *const *device_ids, bool *live);
/* The live devices of a user, oldest first (arrays in the arena). */
enum err	 store_device_list(struct ctx *, const char *user_id, struct device **out,
		    size_t *count);
/* Revokes a live device of user_id; ERR_NOT_FOUND when there is none. */
enum err	 store_device_revoke(struct ctx *, const char *user_id, const char *device_id);

/* ---------------------------------------------------------------- chats and messages */

/* Chat-scoped reads and writes. A chat's writes happen in a transaction that first takes
 * the chat's lock (store_chat_lock) and only then writes: the lock assigns no transaction
 * id, so within a chat, transaction ids grow with seq (the event feed relies on it). */

struct message {
	const char	*chat_id;
	int64_t		 seq;
	const char	*sender_id;
	const char	*kind;		/* text image video file */
	const char	*content;	/* NULL when absent */
	const char	*media_id;	/* NULL when absent */
	int64_t		 reply_to_seq;	/* 0 when absent */
	int64_t		 created_us;
	const char	*status;	/* sent delivered read, as seen by the viewer */
	const char	*media_type;	/* the media's bare MIME type, NULL when absent */
	int64_t		 media_size;
};

struct message_new {
	const char	*chat_id;
	const char	*sender_id;
	const char	*client_msg_id;
	const char	*body_hash_hex;	/* SHA-256 of the request's fields, 64 hex digits */
	const char	*kind;
	const char	*content;
	const char	*media_id;
	int64_t		 reply_to_seq;
};

/* A user's membership period in a chat: it reads from_seq < seq <= to_seq. */
struct period {
	int64_t	from_seq;
	int64_t	to_seq;		/* the chat's last seq while current */
	int64_t	read_seq;
	int64_t	delivered_seq;
	bool	current;
};

/* The direct chat of two users, created (with both as members) on first use. */
enum err	 store_direct_chat(struct ctx *, const char *user_a, const char *user_b,
		    const char **chat_id);
/* Takes the chat's transaction lock (inside store_tx_begin/commit). */
enum err	 store_chat_lock(struct ctx *, const char *chat_id);
/* ERR_OK when user_id is a current member of the chat, ERR_NOT_FOUND otherwise. */
enum err	 store_member_current(struct ctx *, const char *chat_id, const char *user_id);

enum send_outcome {
	SEND_SENT,		/* stored */
	SEND_REPLAY,		/* the key's original message */
	SEND_CONFLICT,		/* the key was used with another body */
	SEND_FORBIDDEN,		/* not a current member */
	SEND_REPLY_MISSING,	/* reply_to does not exist */
	SEND_REPLY_OTHER,	/* reply_to is of another chat */
	SEND_OK,		/* dry run: the checks passed */
};

struct send_result {
	enum send_outcome	 outcome;
	struct message		 msg;		/* SEND_SENT, SEND_REPLAY */
};

/* A send in one statement (sql/0002_send.sql): the chat lock, the checks, the next seq
 * and the inserts. reply_chat/m->reply_to_seq name reply_to (NULL/0: none). dry: only
 * the checks. ERR_CONFLICT when the same key was stored concurrently in another chat
 * (look again). */
enum err	 store_message_send(struct ctx *, const struct message_new *m,
		    const char *reply_chat, bool dry, struct send_result *out);
/* The direct chat of the caller and receiver_id: ERR_NOT_FOUND for an unknown receiver;
 * *chat_id NULL when the pair has no chat yet. */
enum err	 store_direct_target(struct ctx *, const char *user_id, const char *receiver_id,
		    const char **chat_id);
/* The viewer's membership periods of the chat, newest first; *kind is "direct" or
 * "group". ERR_NOT_FOUND when it never was a member. */
enum err	 store_periods(struct ctx *, const char *chat_id, const char *user_id,
		    struct period **out, size_t *count, const char **kind);
/* Messages with lo < seq <= hi, newest first (desc) or oldest first, at most limit,
 * with their status as the viewer sees it. */
enum err	 store_message_range(struct ctx *, const char *chat_id, const char *viewer,
		    int64_t lo, int64_t hi, bool desc, int64_t limit, struct message **out,
		    size_t *count);
/* One message with its status for the viewer; ERR_NOT_FOUND. */
enum err	 store_message_get(struct ctx *, const char *chat_id, int64_t seq,
		    const char *viewer, struct message *out);
/* The seq of the last message earlier than the RFC 3339 time (0 when none). */
enum err	 store_seq_before_time(struct ctx *, const char *chat_id, const char *rfc3339,
		    int64_t *seq);

struct receipt {
	const char	*user_id;
	const char	*status;
	int64_t		 at_us;		/* 0 when unknown */
};

/* The state of each member other than the sender who can see message seq. */
enum err	 store_receipts(struct ctx *, const char *chat_id, int64_t seq,
		    const char *sender_id, struct receipt **out, size_t *count);

struct chat_summary {
	const char	*chat_id;
	const char	*kind;
	const char	*group_id;	/* groups */
	const char	*peer_id;	/* direct chats */
	const char	*name;
	int64_t		 read_seq;
	int64_t		 unread;
	bool		 has_last;
	struct message	 last;
};

/* Every chat of the user, most recent activity first, in one query; *cursor_xid is the
 * event feed's position in the same snapshot. */
enum err	 store_chat_list(struct ctx *, const char *user_id, struct chat_summary **out,
		    size_t *count, uint64_t *cursor_xid);
/* Moves the user's read pointer forward to seq (clamped to the last message) and
 * records a receipt: *wake (count) the users it goes to, none when the pointer did not
 * move. ERR_NOT_FOUND when the user is not a current member. */
enum err	 store_read_move(struct ctx *, const char *chat_id, const char *user_id,
		    int64_t seq, const char ***wake, size_t *count);

/* ---------------------------------------------------------------- event feed */

enum event_kind {
	EVENT_MESSAGE = 1,
	EVENT_MEMBER = 2,
	EVENT_RECEIPT = 3,
};

struct event {
	uint64_t	 xid;		/* the writing transaction */
	enum event_kind	 kind;
	const char	*chat_id;
	struct message	 msg;		/* EVENT_MESSAGE */
	const char	*user_id;	/* EVENT_MEMBER: the member; EVENT_RECEIPT: the reader */
	const char	*action;	/* added removed / delivered read */
	const char	*group_id;	/* EVENT_MEMBER */
	int64_t		 seq;		/* EVENT_RECEIPT: up to this seq */
};

/* The events of n polls in one statement: for poll i (user_ids[i], after afters[i]) the
 * events of transactions after its position, in order, at most max_rows, in out[i]
 * (counts[i] of them); pending[i] when it has committed rows above the horizon, not
 * returned yet (read again shortly). *top is the feed's horizon: every transaction below
 * it has finished (naive: the classic reader that trusts committed rows only, for the
 * concurrency test). */
enum err	 store_feed(struct ctx *, size_t n, const char *const *user_ids,
		    const uint64_t *afters, int64_t max_rows, bool naive, struct event **out,
		    size_t *counts, bool *pending, uint64_t *top);
/* Acknowledges the positions of n devices (of user_ids[i], at positions[i]) in one
 * statement: moves the delivered pointers of their chats (once per new position) and
 * records receipts; *wake (count) the users these go to. */
enum err	 store_ack(struct ctx *, size_t n, const char *const *user_ids,
		    const char *const *device_ids, const uint64_t *positions,
		    const char ***wake, size_t *count);
/* The users who hear of a change in a chat: current members, plus `also` if given. */
enum err	 store_chat_audience(struct ctx *, const char *chat_id, const char *also,
		    const char ***user_ids, size_t *count);

/* A user who shares a chat with user_ids[index]. */
struct contact {
	const char	*contact_id;
	size_t		 index;
};
/* Who shares a chat now with each of the n users, in one query, ordered by contact. */
enum err	 store_contacts(struct ctx *, const char *const *user_ids, size_t n,
		    struct contact **out, size_t *count);
/* Those of the n ids that user_id may see: itself and its contacts. */
enum err	 store_shared(struct ctx *, const char *user_id, const char *const *ids, size_t n,
		    const char ***user_ids, size_t *count);

/* ---------------------------------------------------------------- groups */

struct group_member {
	const char	*user_id;
	const char	*role;
};

struct chat_group {
	const char		*id;
	const char		*chat_id;
	const char		*name;
	const char		*owner_id;
	struct group_member	*members;
	size_t			 member_count;
};

/* A group without its members; ERR_NOT_FOUND. */
enum err	 store_group_get(struct ctx *, const char *group_id, struct chat_group *out);
/* Its members, longest-standing first. */
enum err	 store_group_members(struct ctx *, struct chat_group *g);
/* The role of user_id in the group; ERR_NOT_FOUND when not a member. */
enum err	 store_group_role(struct ctx *, const char *group_id, const char *user_id,
		    const char **role);
/* Creates the group and its chat (inside a transaction). */
enum err	 store_group_create(struct ctx *, const char *name, const char *owner_id,
		    const char **group_id, const char **chat_id);
/* Counts for an addition: current members, how many of the n ids are not members yet,
 * and how many of them exist as users. */
enum err	 store_group_add_counts(struct ctx *, const char *group_id, const char *const *ids,
		    size_t n,
		    int64_t *members, int64_t *new_members, int64_t *existing);
/* Adds the users of ids that are not members (with role), opening their periods at the
 * chat's current seq and recording 'added' events. Under the chat lock. */
enum err	 store_group_add(struct ctx *, const struct chat_group *g, const char *const *ids,
		    size_t n, const char *role);
enum err	 store_group_rename(struct ctx *, const char *group_id, const char *name);
enum err	 store_group_set_role(struct ctx *, const char *group_id, const char *user_id,
		    const char *role);
/* Number of admins of the group. */
enum err	 store_group_admins(struct ctx *, const char *group_id, int64_t *admins);
/* Removes a member: closes its period, records a 'removed' event, and if no admin is
 * left makes the longest-standing member admin. ERR_NOT_FOUND when not a member. */
enum err	 store_group_remove(struct ctx *, const struct chat_group *g, const char *user_id);

/* ---------------------------------------------------------------- media */

struct media_row {
	const char	*id;
	const char	*uploader_id;
	const char	*content_type;	/* bare MIME type */
	int64_t		 size;
	const char	*sha256;	/* 64 hex digits */
	const char	*file_name;	/* sanitized, or NULL */
	const char	*storage_key;	/* "ab/cd/<sha256>" under the media directory */
};

/* Inserts an upload's row inside the caller's transaction, taking its file's lock
 * (held until the transaction ends); fills m->id. */
enum err	 store_media_insert(struct ctx *, struct media_row *m);
/* A media's uploader, type and size; ERR_NOT_FOUND. */
enum err	 store_media_get(struct ctx *, const char *id, struct media_row *out);
/* A media the viewer may read (any, when is_signed: a valid signed URL): its type, size,
 * storage key and file name; ERR_NOT_FOUND when absent or not allowed. */
enum err	 store_media_access(struct ctx *, const char *id, const char *viewer,
		    bool is_signed, struct media_row *out);
/* Deletes up to 100 media attached to no message for max_age_s; *out their sha256 and
 * storage keys. */
enum err	 store_media_expire(struct ctx *, unsigned max_age_s, struct media_row **out,
		    size_t *count);
/* Takes a file's lock in the caller's transaction, then tells whether a row still names
 * the file (read after the lock, so an upload that committed meanwhile is seen). */
enum err	 store_media_file_used(struct ctx *, const char *sha256, bool *used);

#endif
