/* SPDX-License-Identifier: MIT */
/*
 * Use cases: the rules that span PostgreSQL (store/), Redis (bus/) and auth/.
 * Each takes a ctx and returns an error code; results live in the ctx arena.
 */
#ifndef CHAT_CHAT_CHAT_H
#define CHAT_CHAT_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "ctx.h"
#include "bus/bus.h"
#include "store/store.h"

struct token_key;

/* The signing key of this process, built from the settings. */
void		 chat_token_key(const struct ctx *, struct token_key *out);

/* Registers a user (password hashed on the pool). ERR_CONFLICT when the name is taken,
 * ERR_UNAVAILABLE when the hashing pool is saturated. */
enum err	 chat_user_register(struct ctx *, const char *username, const char *password,
		    const char *display_name, struct user *out);

struct session {
	const char	*token;
	const char	*user_id;
	const char	*device_id;
	unsigned	 expires_in_s;
};

/* Logs in: throttling (ERR_RATE_LIMITED), password check (ERR_UNAUTHORIZED for a wrong
 * password and an unknown user alike), a new device, a token. */
enum err	 chat_session_login(struct ctx *, const char *username, const char *password,
		    const char *device_name, struct session *out);
/* A new token for the caller's device. */
enum err	 chat_session_refresh(struct ctx *, struct session *out);
/* Verifies a bearer token and that its device is live: fills ctx->user_id and
 * ctx->device_id. ERR_UNAUTHORIZED or ERR_UNAVAILABLE. */
enum err	 chat_authenticate(struct ctx *, const char *token);
/* The first half of it: the token alone (signature, claims), no query; fills
 * ctx->user_id and ctx->device_id. ERR_UNAUTHORIZED. */
enum err	 chat_authenticate_token(struct ctx *, const char *token);
/* The second half, for n callers at once (held polls): live[i] when device_ids[i] of
 * user_ids[i] exists and is not logged out. ERR_UNAVAILABLE or ERR_INTERNAL. */
enum err	 chat_devices_live(struct ctx *, size_t n, const char *const *user_ids,
		    const char *const *device_ids, bool *live);

/* ---------------------------------------------------------------- ids and cursors */

/* A message's id: "<chat_id>.<seq>", so that every lookup names its chat (and its
 * partition). */
const char	*chat_message_id(struct ctx *, const char *chat_id, int64_t seq);
/* Parses a message id; false when malformed. chat_id gets 37 bytes. */
bool		 chat_message_id_parse(const char *id, char chat_id[37], int64_t *seq);
/* A position in a user's events: durable ones by transaction, ephemeral ones by their
 * Redis stream id. */
struct feed_pos {
	uint64_t	xid;
	uint64_t	eph_ms;
	uint64_t	eph_seq;
};

/* An opaque, signed event cursor for a feed position. */
const char	*chat_cursor_encode(struct ctx *, const struct feed_pos *pos);
/* ERR_BAD_REQUEST for a cursor the server did not make. */
enum err	 chat_cursor_decode(struct ctx *, const char *cursor, struct feed_pos *pos);

/* ---------------------------------------------------------------- messages */

struct message_draft {
	const char	*receiver_id;	/* direct messages */
	const char	*group_id;	/* group messages */
	const char	*kind;
	const char	*content;
	const char	*client_msg_id;
	const char	*reply_to;	/* message id, or NULL */
	const char	*media_id;	/* or NULL */
	const char	*sender_id;	/* as the client claims it, or NULL */
};

struct message_sent {
	struct message	 msg;
	bool		 replayed;	/* the key was used before: the original message */
};

/* Sends a message: ERR_NOT_FOUND (receiver, group, reply_to or media unknown; the
 * message in ctx is set by the caller), ERR_BAD_REQUEST (reply_to of another chat),
 * ERR_FORBIDDEN (not a member), ERR_CONFLICT (key reused with another body),
 * ERR_RATE_LIMITED. Answers only after commit. */
enum err	 chat_message_send(struct ctx *, const struct message_draft *d,
		    struct message_sent *out, const char **why);

struct history_query {
	const char	*chat_id;
	bool		 has_before;
	int64_t		 before_seq;	/* exclusive */
	bool		 has_after;
	int64_t		 after_seq;	/* exclusive */
	int64_t		 limit;
};

/* A page of the caller's visible messages of a chat. ERR_NOT_FOUND when the caller
 * never was a member. */
enum err	 chat_history(struct ctx *, const struct history_query *q, struct message **out,
		    size_t *count, bool *has_more);
/* One message the caller can see; ERR_NOT_FOUND otherwise. */
enum err	 chat_message_show(struct ctx *, const char *message_id, struct message *out);
/* The receipts of a message the caller can see. */
enum err	 chat_message_receipts(struct ctx *, const char *message_id,
		    struct receipt **out, size_t *count);

/* ---------------------------------------------------------------- events */

struct eph_event;

struct event_page {
	struct event		*events;	/* durable: message, member, receipt */
	size_t			 count;
	struct eph_event	*eph;		/* ephemeral: typing, presence */
	size_t			 eph_count;
	struct feed_pos		 next;		/* the position after these events */
	bool			 expired;	/* the position can no longer be resumed */
	bool			 pending;	/* rows committed above the horizon: read again
						 * shortly */
};

/* One poll of a batch: its user and device, its position, and whether its position is
 * new (acknowledge the deliveries up to it) or was only moved forward past nothing. */
struct poll_req {
	const char	*user_id;
	const char	*device_id;
	struct feed_pos	 after;
	uint32_t	 limit;
	bool		 acknowledge;
	const struct eph_read *eph;	/* its ephemeral events, when read already */
	bool		 read_eph;	/* else whether to read them (a wake-up for them) */
};
/* A poll about to make its first read (see bus_poll_begin). */
struct poll_begin {
	const char	*user_id;
	const char	*device_id;
	struct feed_pos	 after;
	uint32_t	 limit;
	unsigned	 hold_ttl_s;	/* 0: answered at once */
	uint64_t	 poll_id;	/* 0: not held */
	unsigned	 max_per_device;
};
/* Before the first reads of n polls, in one round trip: keeps each caller present
 * (announcing it when it comes online), registers the poll so that what commits after
 * the read wakes it, counts it against its device, and reads its ephemeral events into
 * eph[i] (not ok while Redis is down). */
void		 chat_poll_begin(struct ctx *, size_t n, const struct poll_begin *b,
		    struct eph_read *eph);

/* chat_events_read for n polls at once: one statement for all (a message to a group
 * wakes all its members' polls together). A page whose position can no longer be
 * resumed is marked expired. */
enum err	 chat_events_read_many(struct ctx *, size_t n, const struct poll_req *polls,
		    struct event_page *pages);

/* Fills the ephemeral part of a position with the user's current stream position. */
void		 chat_feed_position_eph(struct ctx *, struct feed_pos *pos);
/* The current feed position (for a poll without a cursor). */
enum err	 chat_events_position(struct ctx *, struct feed_pos *pos);
/* Wakes the polls of everyone who hears of a change in the chat (plus `also`). */
void		 chat_notify(struct ctx *, const char *chat_id, const char *also);
/* Test-only: read the feed the naive way (CHAT_FEED_NAIVE=1) to show the difference. */
extern bool	 chat_feed_naive;

/* Moves the caller's read pointer forward (receipt events follow). ERR_NOT_FOUND when
 * not a current member. */
enum err	 chat_read(struct ctx *, const char *chat_id, int64_t seq);

/* ---------------------------------------------------------------- presence, typing */

/* Keeps the caller present; announces it to its contacts when it comes online. */
void		 chat_presence_touch(struct ctx *);
/* Queues the announcement that the user came online (showing status) to its contacts. */
void		 chat_presence_came(struct ctx *, const char *user_id, const char *status);
/* Announces the queued presence changes (called by the housekeeping thread every few
 * tens of milliseconds): a batch at a time, one query and one stream entry per contact. */
void		 chat_presence_flush(struct ctx *);
/* Keeps the holders of polls present (called periodically for held polls). */
void		 chat_presence_keep(struct ctx *, const char *const *user_ids, size_t count);
/* Sends offline events for users whose presence expired (called every second or so). */
void		 chat_presence_sweep(struct ctx *);
/* PUT /v1/presence: ERR_UNAVAILABLE when Redis is down. */
enum err	 chat_presence_set(struct ctx *, const char *status);
/* What the caller may see of the users (those sharing a chat with it, and itself):
 * *shown[i] false for the others. */
enum err	 chat_presence_get(struct ctx *, const char *const *user_ids, size_t count,
		    struct presence *out, bool *shown);
/* A typing notice to the other members: ERR_NOT_FOUND when not a current member,
 * ERR_UNAVAILABLE when Redis is down; coalesced to one per second. */
enum err	 chat_typing(struct ctx *, const char *chat_id, bool typing);

/* ---------------------------------------------------------------- groups */

/* Creates a group with the caller as admin and member_ids as members. ERR_NOT_FOUND for
 * an unknown user, ERR_GROUP_FULL beyond the cap. */
enum err	 chat_group_create(struct ctx *, const char *name, const char *const *member_ids,
		    size_t count, struct chat_group *out);
/* The group with its members, for a member (ERR_FORBIDDEN otherwise). */
enum err	 chat_group_show(struct ctx *, const char *group_id, struct chat_group *out);
enum err	 chat_group_rename(struct ctx *, const char *group_id, const char *name,
		    struct chat_group *out);
enum err	 chat_group_add(struct ctx *, const char *group_id, const char *const *user_ids,
		    size_t count, struct chat_group *out);
/* ERR_CONFLICT when demoting the last admin. */
enum err	 chat_group_set_role(struct ctx *, const char *group_id, const char *user_id,
		    const char *role, struct chat_group *out);
/* An admin removes a member, or a member leaves. */
enum err	 chat_group_remove(struct ctx *, const char *group_id, const char *user_id);

/* ---------------------------------------------------------------- media */

/* The body of an upload, read piece by piece (the request's body reader). */
struct media_body {
	long		(*read)(void *arg, void *buf, size_t len);	/* 0 at the end, -1 */
	void		 *arg;
	uint64_t	  len;		/* Content-Length, at most CHAT_MAX_MEDIA_BYTES */
};

/* Validity of a signed media URL: it expires at the next full hour plus this. */
#define MEDIA_URL_EXTRA_S	3600

/* A sanitized file name: the last path component, without control characters, at most
 * 255 bytes (cut at a character boundary); NULL when nothing is left. In the arena. */
const char	*chat_media_file_name(struct ctx *, const char *raw);
/* Stores an upload of the caller: counts against its send rate (ERR_RATE_LIMITED),
 * streams the body to a temporary file while computing its size and SHA-256, takes the
 * type from its first bytes, then keeps the file (content-addressed) and its row.
 * ERR_BAD_REQUEST (*why) when the body is shorter than its length; on any failure no
 * file and no row is left. */
enum err	 chat_media_upload(struct ctx *, const struct media_body *body,
		    const char *file_name, struct media_row *out, const char **why);
/* The signed URL of a media ("/v1/media/ID?exp=..&sig=.."), the same within an hour, and
 * valid until *exp_s (at least an hour from now). In the arena. */
const char	*chat_media_url(struct ctx *, const char *media_id, int64_t *exp_s);
/* True when sig (base64url) signs (media_id, exp) and exp is not past. */
bool		 chat_media_signed(struct ctx *, const char *media_id, const char *exp,
		    const char *sig, int64_t *exp_s);
/* A media the caller (ctx->user_id) may read, or any media when is_signed; ERR_NOT_FOUND
 * otherwise. */
enum err	 chat_media_open(struct ctx *, const char *media_id, bool is_signed,
		    struct media_row *out);
/* Whether a message of kind may carry the media: ERR_NOT_FOUND unless the caller
 * uploaded it, ERR_BAD_REQUEST when its type does not fit (an image, a video). */
enum err	 chat_media_fits(struct ctx *, const char *media_id, const char *kind,
		    const char **why);
/* Deletes media attached to no message for 24 hours, and their files when no other row
 * names them; removes stale temporary files. Called every few minutes. */
void		 chat_media_sweep(struct ctx *);

#endif
