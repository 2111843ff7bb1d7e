/* SPDX-License-Identifier: MIT */
/*
 * Shared inside store/: the statement table and the executor.
 */
#ifndef CHAT_STORE_INTERNAL_H
#define CHAT_STORE_INTERNAL_H

#include <libpq-fe.h>

#include "store.h"

enum stmt {
	STMT_PING,
	STMT_USER_INSERT,
	STMT_USER_BY_ID,
	STMT_USER_BY_NAME,
	STMT_USER_CREDENTIALS,
	STMT_DEVICE_INSERT,
	STMT_DEVICE_CHECK,
	STMT_DEVICE_TOUCH,
	STMT_DEVICE_LIST,
	STMT_DEVICE_REVOKE,
	STMT_CHAT_DIRECT_FIND,
	STMT_CHAT_DIRECT_CREATE,
	STMT_CHAT_LOCK,
	STMT_MEMBER_CURRENT,
	STMT_MESSAGE_SEND,
	STMT_DIRECT_TARGET,
	STMT_PERIODS,
	STMT_MESSAGES_DESC,
	STMT_MESSAGES_ASC,
	STMT_MESSAGE_ONE,
	STMT_SEQ_BEFORE_TIME,
	STMT_RECEIPTS,
	STMT_CHAT_LIST,
	STMT_FEED_POSITION,
	STMT_READ_MOVE,
	STMT_GROUP_GET,
	STMT_GROUP_MEMBERS,
	STMT_GROUP_ROLE,
	STMT_GROUP_CREATE,
	STMT_GROUP_ADD_COUNTS,
	STMT_GROUP_ADD,
	STMT_GROUP_RENAME,
	STMT_GROUP_SET_ROLE,
	STMT_GROUP_ADMINS,
	STMT_GROUP_REMOVE,
	STMT_GROUP_SUCCESSION,
	STMT_FEED,
	STMT_FEED_NAIVE,
	STMT_ACK,
	STMT_CHAT_AUDIENCE,
	STMT_CONTACTS,
	STMT_SHARED,
	STMT_MEDIA_INSERT,
	STMT_MEDIA_GET,
	STMT_MEDIA_ACCESS,
	STMT_MEDIA_EXPIRE,
	STMT_MEDIA_LOCK,
	STMT_MEDIA_SHA_USED,
	STMT__COUNT
};

struct store_stmt {
	const char	*name;
	const char	*sql;
};
extern const struct store_stmt store_stmts[STMT__COUNT];

/* Runs a prepared statement (preparing it on first use on this connection) with text
 * parameters. On success *res holds the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), to
 * be PQclear()ed by the caller. On failure it logs and maps the error; *res is NULL. */
enum err	store_exec(struct ctx *, enum stmt, int nparams, const char *const *params,
		    PGresult **res);
/* Runs a statement whose rows are ids (first column) and copies them into an arena
 * array. */
enum err	store_exec_ids(struct ctx *, enum stmt, int nparams, const char *const *params,
		    const char ***out, size_t *count);
/* A PostgreSQL array literal of n ids (well-formed uuids, checked by the caller), in the
 * arena: the one way lists of ids are passed as parameters. */
const char	*store_id_array(struct ctx *, const char *const *ids, size_t n);
/* The lock key of a chat: the first 64 bits of its uuid, as a decimal string. */
const char	*store_chat_lock_key(struct ctx *, const char *chat_id);
/* Reads the message columns (MESSAGE_COLUMNS in stmts.c) starting at col. */
void		 store_read_message(struct ctx *, const PGresult *, int row, int col,
		    const char *chat_id, struct message *out);
#define MESSAGE_NCOLS	10

/* Copies a column of a result row into the ctx arena (NULL for SQL NULL). */
const char	*store_text(struct ctx *, const PGresult *, int row, int col);
int64_t		 store_int(const PGresult *, int row, int col);
/* Epoch microseconds of a column selected as (extract(epoch from t) * 1e6)::int8. */
#define store_time(res, row, col)	store_int(res, row, col)

#endif
