/* SPDX-License-Identifier: MIT */
/*
 * The worker's PostgreSQL connection: lazy connect, a liveness check before each use
 * outside a transaction (so that a restarted server costs no failed request), prepared
 * statements made on first use, error mapping, transactions and migrations.
 */
#include "config.h"
#include "store.h"
#include "internal.h"

#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/log.h"
#include "base/text.h"
#include "settings.h"

#define RECONNECT_BACKOFF_US	200000


struct store {
	const struct settings	*cfg;
	PGconn			*conn;
	bool			 prepared[STMT__COUNT];
	bool			 in_tx;
	int64_t			 retry_at_us;	/* no reconnect attempt before this */
};

struct store *
store_open(const struct settings *cfg)
{
	struct store	*db;

	db = calloc(1, sizeof(*db));
	if (db == NULL)
		abort();
	db->cfg = cfg;
	return db;
}

void
store_close(struct store *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	free(db);
}

static void
quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *
connect_pg(const struct settings *cfg)
{
	char		 options[256];
	const char	*keys[] = { "dbname", "options", "connect_timeout", "application_name",
	    NULL };
	const char	*vals[5];
	PGconn		*conn;

	/* Short statements and no idle transactions: an open writer holds back the
	 * event feed of every user (LIBRARIES.md §5.2). Every statement is prepared and
	 * its shape fixed (index probes by key): one generic plan per connection instead of
	 * planning the feed's large statement on every poll (3 ms of 4), and no JIT, whose
	 * compilation (a fifth of a second) the feed's cost estimates would set off. */
	snprintf(options, sizeof(options),
	    "-c statement_timeout=%u -c idle_in_transaction_session_timeout=%u "
	    "-c lock_timeout=%u -c plan_cache_mode=force_generic_plan -c jit=off",
	    cfg->pg_timeout_ms, cfg->pg_timeout_ms * 2, cfg->pg_timeout_ms);
	vals[0] = cfg->pg_conninfo;
	vals[1] = options;
	vals[2] = "2";
	vals[3] = "chatd";
	vals[4] = NULL;
	conn = PQconnectdbParams(keys, vals, 1);
	if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
		PQsetNoticeProcessor(conn, quiet_notices, NULL);
	return conn;
}

/* Drops a connection that the server closed while it was idle. */
static void
check_idle(struct store *db)
{
	struct pollfd	pfd;

	if (db->conn == NULL || db->in_tx)
		return;
	if (PQstatus(db->conn) == CONNECTION_OK) {
		pfd.fd = PQsocket(db->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0 || poll(&pfd, 1, 0) == 0)
			return;
		/* Something arrived on an idle connection: nothing but a termination notice
		 * (the server is going away: the FATAL message comes before the EOF) or the
		 * EOF itself. Either way the connection is done. */
	}
	PQfinish(db->conn);
	db->conn = NULL;
}

static enum err
ensure_conn(struct store *db)
{
	int64_t	now;

	check_idle(db);
	if (db->conn != NULL)
		return ERR_OK;
	if (db->in_tx)
		return ERR_UNAVAILABLE;
	now = text_mono_us();
	if (now < db->retry_at_us)
		return ERR_UNAVAILABLE;
	db->conn = connect_pg(db->cfg);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK) {
		log_warn("postgres: cannot connect: %s",
		    db->conn != NULL ? PQerrorMessage(db->conn) : "out of memory");
		if (db->conn != NULL)
			PQfinish(db->conn);
		db->conn = NULL;
		db->retry_at_us = now + RECONNECT_BACKOFF_US;
		return ERR_UNAVAILABLE;
	}
	memset(db->prepared, 0, sizeof(db->prepared));
	return ERR_OK;
}

/* Maps a failed result to an error code, logging the detail. */
static enum err
map_error(struct store *db, const char *what, const PGresult *res)
{
	const char	*state;
	const char	*msg;

	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (msg == NULL)
		msg = PQerrorMessage(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_warn("postgres: %s: connection lost: %s", what, msg);
		PQfinish(db->conn);
		db->conn = NULL;
		return ERR_UNAVAILABLE;
	}
	if (state == NULL) {
		log_error("postgres: %s: %s", what, msg);
		return ERR_INTERNAL;
	}
	if (strcmp(state, "23505") == 0)
		return ERR_CONFLICT;
	if (strcmp(state, "23503") == 0)
		return ERR_NOT_FOUND;
	log_warn("postgres: %s: SQLSTATE %s: %s", what, state, msg);
	if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0)
		return ERR_BAD_REQUEST;
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 ||
	    strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "53300") == 0)
		return ERR_UNAVAILABLE;
	return ERR_INTERNAL;
}

static enum err
prepare(struct store *db, enum stmt s)
{
	PGresult	*res;
	enum err	 e;

	res = PQprepare(db->conn, store_stmts[s].name, store_stmts[s].sql, 0, NULL);
	if (res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		db->prepared[s] = true;
		return ERR_OK;
	}
	e = map_error(db, store_stmts[s].name, res);
	PQclear(res);
	return e == ERR_UNAVAILABLE ? e : ERR_INTERNAL;
}

enum err
store_exec(struct ctx *ctx, enum stmt s, int nparams, const char *const *params,
    PGresult **out)
{
	struct store	*db;
	PGresult	*res;
	ExecStatusType	 st;
	enum err	 e;

	*out = NULL;
	db = ctx->db;
	e = ensure_conn(db);
	if (e != ERR_OK)
		return e;
	if (!db->prepared[s]) {
		e = prepare(db, s);
		if (e != ERR_OK)
			return e;
	}
	res = PQexecPrepared(db->conn, store_stmts[s].name, nparams, params, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		*out = res;
		return ERR_OK;
	}
	e = map_error(db, store_stmts[s].name, res);
	PQclear(res);
	return e;
}

const char *
store_text(struct ctx *ctx, const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return arena_strndup(ctx->arena, PQgetvalue(res, row, col),
	    (size_t)PQgetlength(res, row, col));
}

int64_t
store_int(const PGresult *res, int row, int col)
{
	uint64_t	 v;
	const char	*s;

	s = PQgetvalue(res, row, col);
	if (s[0] == '-')
		return text_parse_u64(s + 1, INT64_MAX, &v) ? -(int64_t)v : 0;
	return text_parse_u64(s, INT64_MAX, &v) ? (int64_t)v : 0;
}

enum err
store_ping(struct ctx *ctx)
{
	PGresult	*res;
	enum err	 e;

	e = store_exec(ctx, STMT_PING, 0, NULL, &res);
	PQclear(res);
	return e;
}

/* Runs a statement without parameters (transaction control, migrations). */
static enum err
run_simple(struct store *db, const char *sql)
{
	PGresult	*res;
	enum err	 e;

	res = PQexec(db->conn, sql);
	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)) {
		PQclear(res);
		return ERR_OK;
	}
	e = map_error(db, sql, res);
	PQclear(res);
	return e;
}

enum err
store_tx_begin(struct ctx *ctx)
{
	enum err	e;

	e = ensure_conn(ctx->db);
	if (e != ERR_OK)
		return e;
	e = run_simple(ctx->db, "BEGIN");
	if (e == ERR_OK)
		ctx->db->in_tx = true;
	return e;
}

enum err
store_tx_begin_snapshot(struct ctx *ctx)
{
	enum err	e;

	e = ensure_conn(ctx->db);
	if (e != ERR_OK)
		return e;
	e = run_simple(ctx->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (e == ERR_OK)
		ctx->db->in_tx = true;
	return e;
}

enum err
store_tx_commit(struct ctx *ctx)
{
	enum err	e;

	if (ctx->db->conn == NULL) {
		ctx->db->in_tx = false;
		return ERR_UNAVAILABLE;
	}
	e = run_simple(ctx->db, "COMMIT");
	ctx->db->in_tx = false;
	return e;
}

void
store_tx_rollback(struct ctx *ctx)
{
	if (ctx->db->conn != NULL && ctx->db->in_tx)
		(void)run_simple(ctx->db, "ROLLBACK");
	ctx->db->in_tx = false;
}

/* ---------------------------------------------------------------- migrations */

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	long	 len;

	f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	buf = NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf != NULL && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else if (buf != NULL)
			buf[len] = '\0';
	}
	fclose(f);
	return buf;
}

static bool
apply_one(PGconn *conn, const char *dir, const char *name)
{
	char		 path[4096];
	char		*sql;
	const char	*params[1];
	PGresult	*res;
	bool		 ok;

	params[0] = name;
	res = PQexecParams(conn, "SELECT 1 FROM schema_version WHERE name = $1", 1, NULL,
	    params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_TUPLES_OK;
	if (ok && PQntuples(res) == 1) {
		PQclear(res);
		return true;
	}
	PQclear(res);
	if (!ok)
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	sql = slurp(path);
	if (sql == NULL) {
		log_error("migrate: cannot read %s", path);
		return false;
	}
	res = PQexec(conn, "BEGIN");
	PQclear(res);
	res = PQexec(conn, sql);
	free(sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		log_error("migrate: %s: %s", name, PQerrorMessage(conn));
	PQclear(res);
	if (ok) {
		res = PQexecParams(conn, "INSERT INTO schema_version (name) VALUES ($1)", 1, NULL,
		    params, NULL, NULL, 0);
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	res = PQexec(conn, ok ? "COMMIT" : "ROLLBACK");
	ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (ok)
		log_info("migrate: applied %s", name);
	return ok;
}

static bool
apply_all(PGconn *conn, const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		*names[1024];
	size_t		 count;
	size_t		 i;
	size_t		 len;
	bool		 ok;

	d = opendir(dir);
	if (d == NULL) {
		log_error("migrate: cannot open %s", dir);
		return false;
	}
	count = 0;
	while (count < 1024 && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0 &&
		    de->d_name[0] >= '0' && de->d_name[0] <= '9')
			names[count++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, count, sizeof(names[0]), cmp_names);
	ok = true;
	for (i = 0; i < count; i++) {
		if (ok)
			ok = apply_one(conn, dir, names[i]);
		free(names[i]);
	}
	return ok;
}

bool
store_migrate(const struct settings *cfg, const char *dir)
{
	PGconn		*conn;
	PGresult	*res;
	bool		 ok;

	conn = connect_pg(cfg);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		log_error("migrate: cannot connect to PostgreSQL: %s",
		    conn != NULL ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return false;
	}
	/* One migrator at a time, whichever process starts first. */
	res = PQexec(conn, "SET statement_timeout = 0; SET lock_timeout = 0; "
	    "SELECT pg_advisory_lock(7263001); "
	    "CREATE TABLE IF NOT EXISTS schema_version (name text PRIMARY KEY, "
	    "applied_at timestamptz NOT NULL DEFAULT now())");
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		log_error("migrate: %s", PQerrorMessage(conn));
	PQclear(res);
	if (ok)
		ok = apply_all(conn, dir);
	PQfinish(conn);
	return ok;
}
