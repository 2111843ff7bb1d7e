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
	STMT__COUNT
};

/* Runs a prepared statement (preparing it on first use on this connection) with text
 * parameters. On success *res holds the result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), to
 * be PQclear()ed by the caller. On failure it logs and maps the error; *res is NULL. */
enum err	store_exec(struct ctx *, enum stmt, int nparams, const char *const *params,
		    PGresult **res);
/* Copies a column of a result row into the ctx arena (NULL for SQL NULL). */
const char	*store_text(struct ctx *, const PGresult *, int row, int col);
int64_t		 store_int(const PGresult *, int row, int col);
/* Epoch microseconds of a column selected as (extract(epoch from t) * 1e6)::int8. */
#define store_time(res, row, col)	store_int(res, row, col)

#endif
