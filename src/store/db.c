/*
 * This module implements the driver layer of internal.h: one connection per
 * thread to the metadata database, its cached statements, and the calls that
 * bind, step and read them, on SQLite or on PostgreSQL (libpq), chosen once
 * at start by db_configure().
 *
 * SQLite: each thread opens its own connection on first use (WAL,
 * synchronous=FULL: a committed transaction is on disk when COMMIT returns)
 * and keeps its prepared statements (keyed by the address of the SQL literal)
 * for its lifetime. Writers use BEGIN IMMEDIATE so two threads never deadlock
 * upgrading read locks; the busy timeout absorbs short waits on the single
 * WAL writer.
 *
 * PostgreSQL: each thread opens its own connection the same way and prepares
 * each statement once on it (named "s<slot>"), after translating SQLite's
 * ?N placeholders to $N and "IS ?N" to "IS NOT DISTINCT FROM $N" (outside
 * quoted strings) and group_concat( to string_agg(. Parameters travel as text (blobs in binary), results come
 * back in text and are read row by row from the result. A write inside a
 * transaction runs under a savepoint, so a failed statement (a unique
 * violation the caller turns into E_EXISTS) leaves the transaction usable,
 * as it does on SQLite. A lost connection is dropped and opened again by
 * the next statement.
 *
 * Writers on PostgreSQL: every write transaction takes transaction-scoped
 * advisory locks right after BEGIN, in one fixed order (store/locks.h). The
 * registry key ("berth" in ASCII) comes first: store_begin() takes it
 * EXCLUSIVE, so its writer runs alone as under SQLite's BEGIN IMMEDIATE
 * and every check-then-write not converted to a scope keeps its meaning
 * across servers; a scoped writer (store/locks.c: a repository's, an
 * account's, or none beyond the registry's) takes it SHARED and then its
 * scope's key exclusively, so writers of different repositories run at the
 * same time on every server while tag immutability, quotas and references
 * are checked under the key of what they guard. A deadlock, serialization
 * failure or lock timeout the server reports anyway is E_UNAVAILABLE (the
 * client is told to retry), not E_ERROR. db_lock_waited() counts the time
 * each write waited for its locks, by scope.
 */
#include "store/internal.h"
#include "store/store.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

#define DB_ERROR 1
#define DB_ABORT 4
#define MAX_PARAMS 32
/* How long a writer waits for SQLite's write lock (and for its turn). */
#define BUSY_TIMEOUT_MS 10000

static void lite_writer_give(void);

static bool pg;          /* the backend: PostgreSQL when true, SQLite otherwise */
static char *db_target;  /* the SQLite file, or libpq's conninfo */
static char *db_display; /* the target with any password masked, for messages */

struct db_statement {
    sqlite3_stmt *lite;
    /* PostgreSQL */
    char name[16];
    int nparams;
    char *val[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    bool write; /* INSERT, UPDATE or DELETE: runs under a savepoint in a transaction */
    char *q;    /* the SQL in PostgreSQL's spelling */
    unsigned conn_gen; /* the connection it is prepared on (see conn_gen) */
    PGresult *res;
    int row; /* -1 before the first step */
    unsigned char *blob;
    size_t blob_len;
    int blob_row, blob_col;
};

struct stmt_slot {
    const char *sql;
    struct db_statement *stmt;
};

static _Thread_local sqlite3 *tdb;
static _Thread_local PGconn *tpg;
static _Thread_local struct stmt_slot tcache[1024];

/* Why the last db_stmt() of this thread gave NULL. */
static _Thread_local char open_error[768];
/* The last failure of a statement on PostgreSQL: its SQLSTATE and message. */
static _Thread_local char pg_state[6];
static _Thread_local char pg_message[512];
static _Thread_local int64_t pg_changes;
/* Counts this thread's PostgreSQL connections (from 1): a statement
 * prepared on an earlier one is prepared again. Statements outlive the
 * connections they were prepared on, so that dropping a connection the
 * server lost never frees a statement a caller holds. */
static _Thread_local unsigned conn_gen;

/* Set by store_begin() until store_commit() or store_rollback(). SQLite
 * rolls a transaction back by itself after some errors (I/O, disk full,
 * out of memory); a statement that ran after that would run in autocommit
 * mode and be committed alone, so db_step() refuses every statement until the
 * caller ends the transaction it believes is open. PostgreSQL refuses them
 * by itself, and a dropped connection takes its transaction with it. */
static _Thread_local bool txn_open;

/* Set by db_step() when it was given no statement (db_stmt() failed). */
static _Thread_local bool no_statement;

/* Set when the last failure was the database server not answering (no
 * connection, or one it dropped): E_UNAVAILABLE rather than E_ERROR. */
static _Thread_local bool unreachable;

bool db_is_pg(void)
{
    return pg;
}

unsigned db_connection(void)
{
    return pg && tpg ? conn_gen : 0;
}

const char *db_describe(void)
{
    return db_display ? db_display : "";
}

/* A copy of a postgresql:// URL with the password replaced by "***". */
/* The URL with its password masked wherever libpq would take one from:
 * the user information (user:PASSWORD@host) and any password=... query
 * parameter (postgresql:///db?user=u&password=...). */
static char *mask_password(const char *url)
{
    struct buf out;
    const char *scheme = strstr(url, "://");
    const char *p = url;
    buf_init(&out, BUF_UNLIMITED);
    if (scheme) {
        const char *host = scheme + 3;
        const char *end = host + strcspn(host, "/?");
        const char *at = NULL, *colon;
        for (const char *q = host; q < end; q++)
            if (*q == '@')
                at = q;
        colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
        if (colon) {
            buf_put(&out, url, (size_t)(colon + 1 - url));
            buf_puts(&out, "***");
            p = at;
        }
    }
    const char *query = strchr(p, '?');
    while (query) {
        const char *key = query + 1;
        buf_put(&out, p, (size_t)(key - p));
        p = key;
        query = strchr(key, '&');
        if (strncasecmp(key, "password=", 9) == 0) {
            buf_put(&out, key, 9);
            buf_puts(&out, "***");
            p = query ? query : key + strlen(key);
        }
    }
    buf_puts(&out, p);
    return buf_detach(&out);
}

int db_configure(const char *url)
{
    free(db_target);
    free(db_display);
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        /* a server that does not answer is an error after 10 s, not a hang
         * (a connect_timeout in the URL wins) */
        setenv("PGCONNECT_TIMEOUT", "10", 0);
        pg = true;
        db_target = xstrdup(url);
        db_display = mask_password(url);
        return 0;
    }
    if (strncmp(url, "sqlite:", 7) != 0 || !url[7])
        return error_set(E_INVALID, "database '%s' is neither sqlite:PATH nor postgresql://...", url);
    pg = false;
    db_target = xstrdup(url + 7);
    db_display = xstrdup(url);
    return 0;
}

static bool txn_lost(void)
{
    if (!txn_open)
        return false;
    if (pg)
        return !tpg || PQtransactionStatus(tpg) != PQTRANS_INTRANS;
    return !tdb || sqlite3_get_autocommit(tdb);
}

/* E_ERROR with the database's message: any failure, including a busy
 * database or an I/O error, is a failure and never "not found". Call it
 * before resetting the statement, which may replace the message. */
int db_error(const char *what)
{
    if (txn_lost() && pg && (!tpg || PQstatus(tpg) == CONNECTION_BAD))
        return error_set(E_UNAVAILABLE, "database: %s: the connection to the database was lost", what);
    if (txn_lost())
        return error_set(E_ERROR, "database: %s: the transaction was rolled back after an earlier error", what);
    if (no_statement || (!pg && !tdb))
        return error_set(unreachable ? E_UNAVAILABLE : E_ERROR, "database: %s: %s", what, open_error);
    if (pg)
        return error_set(unreachable ? E_UNAVAILABLE : E_ERROR, "database: %s: %s", what, pg_message);
    return error_set(E_ERROR, "database: %s: %s", what, sqlite3_errmsg(tdb));
}

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    store_close_thread();
}

static void make_thread_key(void)
{
    pthread_key_create(&thread_key, thread_exit);
}

static void pg_note(PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    snprintf(pg_state, sizeof(pg_state), "%s", state ? state : "08000");
    snprintf(pg_message, sizeof(pg_message), "%s", msg && *msg ? msg : tpg ? PQerrorMessage(tpg) : "no connection");
    /* class 08: connection exception; 57P01-57P03: the server is shutting down or starting; 40001, 40P01
     * and 55P03: a serialization failure, a deadlock or a lock_timeout, which the same request may not meet
     * again (E_UNAVAILABLE: a 503 the client retries, not a 500) */
    unreachable = strncmp(pg_state, "08", 2) == 0 || strncmp(pg_state, "57P0", 4) == 0 || strcmp(pg_state, "40001") == 0 ||
                  strcmp(pg_state, "40P01") == 0 || strcmp(pg_state, "55P03") == 0;
    size_t n = strlen(pg_message);
    while (n > 0 && (pg_message[n - 1] == '\n' || pg_message[n - 1] == ' '))
        pg_message[--n] = '\0';
}

/* Runs sql (no parameters, any number of statements) on the PostgreSQL
 * connection; 0 or -1 with pg_message set. */
static int pg_exec(const char *sql)
{
    PGresult *res = PQexec(tpg, sql);
    ExecStatusType s = PQresultStatus(res);
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0)
        pg_note(res);
    PQclear(res);
    return rc;
}

/* Drops a PostgreSQL connection the server lost (its transaction, if
 * any, is gone with it); the statements stay and are prepared again on the
 * next one. */
static void pg_drop(void)
{
    if (tpg)
        PQfinish(tpg);
    tpg = NULL;
    txn_open = false;
    lite_writer_give();
}

static bool conn_open(void)
{
    return pg ? tpg != NULL : tdb != NULL;
}

/* This thread's connection, opened on first use; false (open_error says
 * why) when it cannot be opened or set up now, to be tried again on the
 * next call: a connection is never used without its settings. */
static bool db_connect(void)
{
    if (pg && tpg && PQstatus(tpg) == CONNECTION_BAD && !txn_open)
        pg_drop(); /* the server went away: start again */
    if (conn_open())
        return true;
    /* the connection is closed when its thread ends */
    pthread_once(&thread_key_once, make_thread_key);
    pthread_setspecific(thread_key, (void *)1);
    if (pg) {
        unreachable = false;
        conn_gen++;
        tpg = PQconnectdb(db_target);
        if (PQstatus(tpg) != CONNECTION_OK ||
            pg_exec("SET client_min_messages = warning; SET statement_timeout = '30s'; SET lock_timeout = '20s'") < 0) {
            const char *msg = PQerrorMessage(tpg);
            snprintf(open_error, sizeof(open_error), "cannot connect to database '%s': %.*s", db_display,
                     (int)strcspn(msg, "\n"), msg);
            unreachable = true;
            PQfinish(tpg);
            tpg = NULL;
        }
        return tpg != NULL;
    }
    int rc = sqlite3_open_v2(db_target, &tdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(tdb, BUSY_TIMEOUT_MS);
        /* synchronous=FULL: in WAL mode every COMMIT waits for the WAL to
         * reach the disk, so what a reply acknowledges (a push, a delete)
         * survives power loss, and GC's deleted records are on disk before
         * it unlinks their bytes. NORMAL would sync only at checkpoints:
         * the last commits could vanish with the power. */
        rc = sqlite3_exec(tdb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(open_error, sizeof(open_error), "cannot open database '%s': %s", db_target,
                 tdb ? sqlite3_errmsg(tdb) : sqlite3_errstr(rc));
        sqlite3_close(tdb);
        tdb = NULL;
    }
    return tdb != NULL;
}

/* sql with SQLite's placeholders in PostgreSQL's spelling: ?N becomes $N
 * (a bare ? the next number), "IS ?N" "IS NOT DISTINCT FROM $N" and
 * "IS NOT ?N" "IS DISTINCT FROM $N"; quoted text is copied as it is. *nparams
 * is the largest number used. */
static char *pg_translate(const char *sql, int *nparams)
{
    size_t cap = strlen(sql) * 3 + 64, o = 0;
    char *z = xmalloc(cap);
    int next = 0;
    *nparams = 0;
    for (const char *p = sql; *p;) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            z[o++] = *p++;
            while (*p && *p != q)
                z[o++] = *p++;
            if (*p)
                z[o++] = *p++;
            continue;
        }
        if (strncmp(p, "group_concat(", 13) == 0) {
            o += (size_t)snprintf(z + o, cap - o, "string_agg(");
            p += 13;
            continue;
        }
        if (*p == '?') {
            p++;
            int n = 0;
            if (isdigit((unsigned char)*p))
                while (isdigit((unsigned char)*p))
                    n = n * 10 + (*p++ - '0');
            else
                n = ++next;
            if (n > *nparams)
                *nparams = n;
            /* "IS ?N" / "IS NOT ?N": rewrite what was already copied */
            const char *is_not = " IS NOT ", *is = " IS ";
            if (o >= strlen(is_not) && strncmp(z + o - strlen(is_not), is_not, strlen(is_not)) == 0) {
                o -= strlen(is_not);
                o += (size_t)snprintf(z + o, cap - o, " IS DISTINCT FROM ");
            } else if (o >= strlen(is) && strncmp(z + o - strlen(is), is, strlen(is)) == 0) {
                o -= strlen(is);
                o += (size_t)snprintf(z + o, cap - o, " IS NOT DISTINCT FROM ");
            }
            o += (size_t)snprintf(z + o, cap - o, "$%d", n);
            continue;
        }
        z[o++] = *p++;
    }
    z[o] = '\0';
    return z;
}

/* A statement for sql in cache slot slot, translated; prepared on a
 * connection by pg_prepare_on(). */
static struct db_statement *pg_statement(const char *sql, size_t slot)
{
    struct db_statement *st = xcalloc(1, sizeof(*st));
    int n;
    st->q = pg_translate(sql, &n);
    snprintf(st->name, sizeof(st->name), "s%zu", slot);
    assert(n <= MAX_PARAMS);
    st->nparams = n;
    st->row = -1;
    const char *p = st->q;
    while (isspace((unsigned char)*p))
        p++;
    st->write = strncasecmp(p, "INSERT", 6) == 0 || strncasecmp(p, "UPDATE", 6) == 0 || strncasecmp(p, "DELETE", 6) == 0 ||
                strncasecmp(p, "WITH", 4) == 0;
    return st;
}

/* Prepares st on this thread's connection unless it is already; false
 * (open_error says why) when the server cannot now. */
static bool pg_prepare_on(struct db_statement *st)
{
    if (st->conn_gen == conn_gen)
        return true;
    PGresult *res = PQprepare(tpg, st->name, st->q, 0, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_note(res);
        PQclear(res);
        bool syntax = pg_state[0] == '4' && pg_state[1] == '2'; /* class 42: syntax error or access rule violation */
        if (syntax && strcmp(pg_state, "42P01") != 0) {
            log_error("cannot prepare '%s': %s", st->q, pg_message);
            abort(); /* SQL in store/ is fixed: a bad statement is a bug */
        }
        snprintf(open_error, sizeof(open_error), "cannot prepare a statement: %s", pg_message);
        if (PQstatus(tpg) == CONNECTION_BAD && !txn_open)
            pg_drop();
        return false;
    }
    PQclear(res);
    st->conn_gen = conn_gen;
    return true;
}

static void pg_clear_result(struct db_statement *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->row = -1;
    PQfreemem(st->blob);
    st->blob = NULL;
}

static void pg_clear_bindings(struct db_statement *st)
{
    for (int i = 0; i < st->nparams; i++) {
        free(st->val[i]);
        st->val[i] = NULL;
        st->len[i] = 0;
        st->fmt[i] = 0;
    }
}

static void stmt_free(struct db_statement *st)
{
    if (!st)
        return;
    if (st->lite)
        sqlite3_finalize(st->lite);
    pg_clear_result(st);
    pg_clear_bindings(st);
    free(st->q);
    free(st);
}

/* The cached statement for sql (a string literal), reset and unbound; NULL
 * when the database cannot prepare it now (I/O error, busy schema, out of
 * memory, no server). Every helper below takes a NULL statement, and
 * db_step() fails on it, so a caller need not check. */
struct db_statement *db_stmt(const char *sql)
{
    size_t n = sizeof(tcache) / sizeof(tcache[0]);
    if (!db_connect())
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (tcache[i].sql == sql) {
            struct db_statement *st = tcache[i].stmt;
            if (pg) {
                pg_clear_result(st);
                pg_clear_bindings(st);
                if (!pg_prepare_on(st))
                    return NULL;
            } else {
                sqlite3_reset(st->lite);
                sqlite3_clear_bindings(st->lite);
            }
            return st;
        }
        if (!tcache[i].sql) {
            struct db_statement *st = NULL;
            if (pg) {
                st = pg_statement(sql, i);
                tcache[i].sql = sql;
                tcache[i].stmt = st;
                return pg_prepare_on(st) ? st : NULL;
            } else {
                st = xcalloc(1, sizeof(*st));
                int rc = sqlite3_prepare_v3(tdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite, NULL);
                if (rc == SQLITE_ERROR) {
                    log_error("cannot prepare '%s': %s", sql, sqlite3_errmsg(tdb));
                    abort(); /* SQL in store/ is fixed: a bad statement is a bug */
                }
                if (rc != SQLITE_OK) {
                    snprintf(open_error, sizeof(open_error), "cannot prepare a statement: %s", sqlite3_errmsg(tdb));
                    stmt_free(st);
                    return NULL;
                }
            }
            tcache[i].sql = sql;
            tcache[i].stmt = st;
            return st;
        }
    }
    log_error("statement cache full");
    abort();
}

static void pg_bind(struct db_statement *st, int i, char *z, int len, int fmt)
{
    if (!st || i < 1 || i > st->nparams) {
        free(z);
        return;
    }
    free(st->val[i - 1]);
    st->val[i - 1] = z;
    st->len[i - 1] = len;
    st->fmt[i - 1] = fmt;
}

void db_bind_text(struct db_statement *st, int i, const char *z)
{
    if (!st)
        return;
    if (pg)
        pg_bind(st, i, z ? xstrdup(z) : NULL, 0, 0);
    else if (z)
        sqlite3_bind_text(st->lite, i, z, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st->lite, i);
}

void db_bind_int64(struct db_statement *st, int i, int64_t v)
{
    if (!st)
        return;
    if (pg) {
        char *z = xmalloc(24);
        snprintf(z, 24, "%lld", (long long)v);
        pg_bind(st, i, z, 0, 0);
    } else {
        sqlite3_bind_int64(st->lite, i, v);
    }
}

void db_bind_double(struct db_statement *st, int i, double v)
{
    if (!st)
        return;
    if (pg) {
        char *z = xmalloc(40);
        snprintf(z, 40, "%.17g", v);
        pg_bind(st, i, z, 0, 0);
    } else {
        sqlite3_bind_double(st->lite, i, v);
    }
}

void db_bind_null(struct db_statement *st, int i)
{
    if (!st)
        return;
    if (pg)
        pg_bind(st, i, NULL, 0, 0);
    else
        sqlite3_bind_null(st->lite, i);
}

void db_bind_blob(struct db_statement *st, int i, const void *p, size_t n)
{
    if (!st)
        return;
    if (pg) {
        char *z = xmalloc(n ? n : 1);
        memcpy(z, p, n);
        pg_bind(st, i, z, (int)n, 1);
    } else {
        sqlite3_bind_blob(st->lite, i, p, (int)n, SQLITE_TRANSIENT);
    }
}

static bool pg_conn_lost(void)
{
    if (tpg && PQstatus(tpg) == CONNECTION_BAD) {
        snprintf(pg_state, sizeof(pg_state), "08006");
        return true;
    }
    return false;
}

/* A write in a transaction runs under a savepoint, so that its failure
 * leaves the transaction as SQLite leaves it (the statement undone, the
 * rest kept). SAVEPOINT, the statement and RELEASE go in one round trip
 * (libpq's pipeline mode): three would triple a write's waits for the
 * server. The statement's result goes in st->res; -1 with pg_state and
 * pg_message set when the savepoint or its release failed or the
 * connection did. After a failure of the statement itself, the pipeline
 * skipped the release and the caller rolls back to the savepoint. */
static int pg_run_guarded(struct db_statement *st)
{
    PGresult *res[3] = {NULL, NULL, NULL};
    bool sent = PQenterPipelineMode(tpg) == 1 &&
                PQsendQueryParams(tpg, "SAVEPOINT db_stmt", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
                PQsendQueryPrepared(tpg, st->name, st->nparams, (const char *const *)st->val, st->len, st->fmt, 0) == 1 &&
                PQsendQueryParams(tpg, "RELEASE SAVEPOINT db_stmt", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
                PQpipelineSync(tpg) == 1;
    /* each query's results end with a NULL; the sync's result ends it all */
    for (int slot = 0, nulls = 0; sent;) {
        PGresult *r = PQgetResult(tpg);
        if (!r) {
            slot++;
            if (++nulls > 4 || PQstatus(tpg) == CONNECTION_BAD)
                break; /* the connection went: no sync will come */
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (slot < 3 && !res[slot])
            res[slot] = r;
        else
            PQclear(r);
    }
    bool stuck = PQexitPipelineMode(tpg) != 1; /* results left unread */
    int rc = 0;
    if (!sent || !res[0] || PQresultStatus(res[0]) != PGRES_COMMAND_OK) {
        pg_note(res[0]);
        rc = -1;
    } else if (PQresultStatus(res[1]) == PGRES_COMMAND_OK || PQresultStatus(res[1]) == PGRES_TUPLES_OK) {
        if (!res[2] || PQresultStatus(res[2]) != PGRES_COMMAND_OK) {
            pg_note(res[2]);
            rc = -1;
        }
    }
    if (rc == 0 && !res[1]) { /* the connection went before the statement's answer */
        pg_note(NULL);
        rc = -1;
    }
    if (stuck) {
        /* never used again: the transaction is lost (txn_lost()), and the
         * next one starts on a new connection */
        PQfinish(tpg);
        tpg = NULL;
        snprintf(pg_state, sizeof(pg_state), "08006");
        unreachable = true;
        rc = -1;
    }
    st->res = rc == 0 ? res[1] : NULL;
    if (rc < 0)
        PQclear(res[1]);
    PQclear(res[0]);
    PQclear(res[2]);
    return rc;
}

/* Runs a prepared statement on PostgreSQL: DB_ROW/DB_DONE for its first
 * row, DB_ERROR with pg_state and pg_message set. */
static int pg_run(struct db_statement *st)
{
    bool savepoint = st->write && txn_open;
    if (savepoint) {
        if (pg_run_guarded(st) < 0) {
            if (PQstatus(tpg) == CONNECTION_BAD && !txn_open)
                pg_drop();
            return DB_ERROR;
        }
    } else {
        st->res = PQexecPrepared(tpg, st->name, st->nparams, (const char *const *)st->val, st->len, st->fmt, 0);
    }
    ExecStatusType s = PQresultStatus(st->res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        pg_note(st->res);
        if (pg_conn_lost() || !savepoint || pg_exec("ROLLBACK TO SAVEPOINT db_stmt") < 0)
            pg_note(st->res);
        PQclear(st->res);
        st->res = NULL;
        if (PQstatus(tpg) == CONNECTION_BAD && !txn_open)
            pg_drop();
        return DB_ERROR;
    }
    const char *n = PQcmdTuples(st->res);
    pg_changes = n && *n ? strtoll(n, NULL, 10) : 0;
    st->row = 0;
    return PQntuples(st->res) > 0 ? DB_ROW : DB_DONE;
}

/* A write transaction may wait for its locks (PostgreSQL's advisory locks,
 * held until another transaction commits, or SQLite's write lock), which
 * on an HTTP thread holds up every connection that thread serves: they run
 * on defer threads (http_defer()). One that does not is a bug, said in the
 * log (the integration tests fail on it). A single statement outside a
 * transaction (an upload session's row) waits at most for the write lock
 * on SQLite, for the transaction that holds it to commit. */
static void check_may_wait(const char *what)
{
    if (thread_waits_forbidden())
        log_error("BUG: database: %s: a write began on an HTTP thread (it may wait for a lock, holding up the "
                  "thread's other connections)",
                  what);
}

static int step_raw(struct db_statement *st)
{
    if (!pg)
        return sqlite3_step(st->lite);
    if (!tpg)
        return DB_ERROR;
    if (st->row < 0)
        return pg_run(st);
    if (!st->res)
        return DB_DONE;
    st->row++;
    return st->row < PQntuples(st->res) ? DB_ROW : DB_DONE;
}

/* One step, timed for the metrics (berth_store_step_duration_seconds).
 * The series is found once; the rest is a clock read and an atomic add. */
static int step_timed(struct db_statement *st)
{
    static _Atomic(struct metric_series *) series;
    struct metric_series *m = atomic_load_explicit(&series, memory_order_relaxed);
    if (!m) {
        m = metric_get(&metric_store_step, NULL);
        atomic_store_explicit(&series, m, memory_order_relaxed);
    }
    int64_t t0 = mono_us();
    int rc = step_raw(st);
    metric_observe_us(m, mono_us() - t0);
    return rc;
}

/* One step, except in a transaction the database has rolled back or
 * without a statement. */
int db_step(struct db_statement *st)
{
    no_statement = st == NULL;
    if (txn_lost())
        return DB_ABORT;
    if (!st)
        return DB_ERROR;
    return step_timed(st);
}

void db_reset(struct db_statement *st)
{
    if (!st)
        return;
    if (pg)
        pg_clear_result(st);
    else
        sqlite3_reset(st->lite);
}

int64_t db_changes(void)
{
    if (pg)
        return pg_changes;
    return tdb ? sqlite3_changes(tdb) : 0;
}

static const char *pg_value(struct db_statement *st, int i)
{
    if (!st || !st->res || st->row < 0 || st->row >= PQntuples(st->res) || i >= PQnfields(st->res) ||
        PQgetisnull(st->res, st->row, i))
        return NULL;
    return PQgetvalue(st->res, st->row, i);
}

bool db_col_is_null(struct db_statement *st, int i)
{
    if (pg)
        return pg_value(st, i) == NULL;
    return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
}

int64_t db_col_int64(struct db_statement *st, int i)
{
    if (!pg)
        return sqlite3_column_int64(st->lite, i);
    const char *z = pg_value(st, i);
    if (!z)
        return 0;
    if (z[0] == 't' && !z[1])
        return 1; /* a boolean */
    return strtoll(z, NULL, 10);
}

int db_col_int(struct db_statement *st, int i)
{
    return (int)db_col_int64(st, i);
}

double db_col_double(struct db_statement *st, int i)
{
    if (!pg)
        return sqlite3_column_double(st->lite, i);
    const char *z = pg_value(st, i);
    return z ? strtod(z, NULL) : 0;
}

const char *db_col_ztext(struct db_statement *st, int i)
{
    if (!pg)
        return (const char *)sqlite3_column_text(st->lite, i);
    return pg_value(st, i);
}

const char *db_col_text(struct db_statement *st, int i)
{
    const char *z = db_col_ztext(st, i);
    return z ? z : "";
}

char *db_col_dup(struct db_statement *st, int i)
{
    const char *z = db_col_ztext(st, i);
    return z ? xstrdup(z) : NULL;
}

void db_col_copy(char *out, size_t size, struct db_statement *st, int i)
{
    snprintf(out, size, "%s", db_col_text(st, i));
}

/* A bytea column arrives in text (hex) form: decoded once per row. */
static const unsigned char *pg_blob(struct db_statement *st, int i)
{
    if (st->blob && st->blob_row == st->row && st->blob_col == i)
        return st->blob;
    PQfreemem(st->blob);
    st->blob = NULL;
    st->blob_len = 0;
    const char *z = pg_value(st, i);
    if (!z)
        return NULL;
    st->blob = PQunescapeBytea((const unsigned char *)z, &st->blob_len);
    st->blob_row = st->row;
    st->blob_col = i;
    return st->blob;
}

const void *db_col_blob(struct db_statement *st, int i)
{
    if (!pg)
        return sqlite3_column_blob(st->lite, i);
    return pg_blob(st, i);
}

int db_col_bytes(struct db_statement *st, int i)
{
    if (!pg)
        return sqlite3_column_bytes(st->lite, i);
    return pg_blob(st, i) ? (int)st->blob_len : 0;
}

/* The E_* code of a failed step rc of st (then reset): E_EXISTS on a
 * unique constraint, E_NOTFOUND on a foreign key, E_ERROR otherwise. */
static int step_failed(struct db_statement *st, int rc, const char *what)
{
    bool unique = false, foreign = false;
    if (!(rc == DB_ABORT && txn_lost()) && !no_statement) {
        if (pg) {
            unique = strcmp(pg_state, "23505") == 0;
            foreign = strcmp(pg_state, "23503") == 0;
        } else {
            int ext = sqlite3_extended_errcode(tdb);
            unique = ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE;
            foreign = ext == SQLITE_CONSTRAINT_FOREIGNKEY;
        }
    }
    int err = db_error(what);
    db_reset(st);
    if (unique)
        return error_set(E_EXISTS, "%s: already exists", what);
    if (foreign)
        return error_set(E_NOTFOUND, "%s: refers to something that does not exist", what);
    return err;
}

/* Runs a statement that returns no rows; maps constraint failures. */
int db_done(struct db_statement *st, const char *what)
{
    int rc = db_step(st);
    if (rc == DB_DONE || (pg && rc == DB_ROW)) {
        db_reset(st);
        return 0;
    }
    return step_failed(st, rc, what);
}

/* Steps a statement that returns at most one row: 1 with the row ready to
 * read (the caller resets the statement), 0 when there is none, or
 * an error as db_done() returns it. Only the second means "not found". */
int db_row(struct db_statement *st, const char *what)
{
    int rc = db_step(st);
    if (rc == DB_ROW)
        return 1;
    if (rc == DB_DONE) {
        db_reset(st);
        return 0;
    }
    return step_failed(st, rc, what);
}

/* Ends a loop over rows: rc is the last db_step() result, DB_ROW when the
 * callback stopped early. */
int db_end(struct db_statement *st, int rc, const char *what)
{
    int err = rc == DB_ROW || rc == DB_DONE ? 0 : db_error(what);
    db_reset(st);
    return err;
}

/* The single integer a count(*) statement returns. */
int db_count(struct db_statement *st, int64_t *out, const char *what)
{
    int rc = db_row(st, what);
    if (rc == 1)
        *out = db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0) /* count(*) always has a row */
        return error_set(E_ERROR, "database: %s: no count", what);
    return rc < 0 ? rc : 0;
}

/* 0 when a count(*) statement finds something, E_NOTFOUND with the detail
 * "<what> '<name>' <absent>" when it finds nothing, E_ERROR when it fails. */
int db_exists(struct db_statement *st, const char *what, const char *name, const char *absent)
{
    int64_t n;
    int rc = db_count(st, &n, what);
    if (rc < 0)
        return rc;
    return n > 0 ? 0 : error_set(E_NOTFOUND, "%s '%s' %s", what, name, absent);
}

/* Steps st to its end, calling row() for each row until it returns non-zero. */
int db_each_row(struct db_statement *st, const char *what, int (*row)(struct db_statement *st, void *ctx), void *ctx)
{
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (row(st, ctx)) {
            rc = DB_DONE;
            break;
        }
    rc = rc == DB_DONE ? 0 : db_error(what);
    db_reset(st);
    return rc;
}

int db_exec(const char *script, const char *what)
{
    no_statement = false;
    if (!db_connect())
        return error_set(E_ERROR, "%s", open_error);
    if (pg) {
        if (pg_exec(script) < 0)
            return error_set(E_ERROR, "database: %s: %s", what, pg_message);
        return 0;
    }
    char *err = NULL;
    if (sqlite3_exec(tdb, script, NULL, NULL, &err) != SQLITE_OK) {
        int rc = error_set(E_ERROR, "database: %s: %s", what, err ? err : sqlite3_errmsg(tdb));
        sqlite3_free(err);
        return rc;
    }
    return 0;
}

int db_open_readonly(void)
{
    store_close_thread();
    if (pg)
        return db_connect() ? 0 : error_set(E_NOTFOUND, "%s", open_error);
    if (sqlite3_open_v2(db_target, &tdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        int rc = error_set(E_NOTFOUND, "no berth database at '%s': %s", db_target, sqlite3_errmsg(tdb));
        sqlite3_close(tdb);
        tdb = NULL;
        return rc;
    }
    sqlite3_busy_timeout(tdb, BUSY_TIMEOUT_MS);
    return 0;
}

void store_close_thread(void)
{
    for (size_t i = 0; i < sizeof(tcache) / sizeof(tcache[0]); i++) {
        stmt_free(tcache[i].stmt);
        tcache[i].stmt = NULL;
        tcache[i].sql = NULL;
    }
    if (tdb)
        sqlite3_close(tdb);
    tdb = NULL;
    if (tpg)
        PQfinish(tpg);
    tpg = NULL;
    txn_open = false;
    lite_writer_give();
}

/* The registry key every writing transaction takes on PostgreSQL (see the
 * head comment), here exclusively (store/locks.c takes it shared); the key
 * is arbitrary but fixed: "berth" in ASCII. */
#define PG_WRITER_LOCK "SELECT pg_advisory_xact_lock(1650553460)"

/* Runs script (statements without parameters, the first a BEGIN) in one
 * round trip on PostgreSQL; on a failure, rolls back what it opened. */
static int pg_script(const char *script, const char *what)
{
    no_statement = false;
    if (!db_connect()) {
        no_statement = true;
        return db_error(what);
    }
    if (pg_exec(script) == 0)
        return 0;
    /* BEGIN may have opened the transaction that a later statement failed in */
    if (tpg && PQstatus(tpg) != CONNECTION_BAD && PQtransactionStatus(tpg) != PQTRANS_IDLE)
        pg_exec("ROLLBACK");
    int rc = db_error(what);
    if (PQstatus(tpg) == CONNECTION_BAD)
        pg_drop();
    return rc;
}

int db_begin_write_with(const char *sql, const char *what)
{
    if (!pg || !sql)
        return db_begin_write();
    check_may_wait(what);
    char q[512];
    if ((size_t)snprintf(q, sizeof(q), "BEGIN; %s", sql) >= sizeof(q))
        return error_set(E_ERROR, "database: %s: statement too long", what);
    if (pg_script(q, what) < 0)
        return -1;
    txn_open = true;
    return 0;
}

int db_pg_transaction(const char *script, const char *what)
{
    if (!pg || txn_open)
        return error_set(E_ERROR, "database: %s: not a PostgreSQL connection outside a transaction", what);
    return pg_script(script, what);
}

int db_pg_append_literal(struct buf *b, const char *z)
{
    if (!db_connect())
        return error_set(E_UNAVAILABLE, "%s", open_error);
    char *lit = PQescapeLiteral(tpg, z, strlen(z));
    if (!lit)
        return error_set(E_ERROR, "database: quoting a value: %s", PQerrorMessage(tpg));
    int rc = buf_puts(b, lit);
    PQfreemem(lit);
    return rc < 0 ? error_set(E_TOOBIG, "database: a statement too long") : 0;
}

/* SQLite: the process's write transactions take turns on a mutex before
 * BEGIN IMMEDIATE. SQLite admits one writer and makes the others poll for
 * its lock with growing sleeps (1, 2, 5 ... 100 ms: its busy handler),
 * which with several writers waiting (the defer pool runs them at once)
 * becomes a convoy: 8 clients' manifest PUTs ran at about half the rate.
 * Waiting here, the next writer starts as the last one ends. The wait is
 * bounded as the busy timeout is; past it BEGIN IMMEDIATE meets the busy
 * handler as before (as do other processes, `berth gc`, and statements
 * outside a transaction). */
static pthread_mutex_t lite_writer = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool lite_writer_held;

static void lite_writer_take(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += BUSY_TIMEOUT_MS / 1000;
    lite_writer_held = pthread_mutex_timedlock(&lite_writer, &until) == 0;
}

/* Ends this thread's turn, if it has one: its write transaction is over. */
static void lite_writer_give(void)
{
    if (lite_writer_held) {
        lite_writer_held = false;
        pthread_mutex_unlock(&lite_writer);
    }
}

int db_begin_write(void)
{
    check_may_wait("begin");
    if (!pg && !txn_open)
        lite_writer_take();
    int rc = db_done(db_stmt(pg ? "BEGIN" : "BEGIN IMMEDIATE"), "begin");
    txn_open = rc == 0;
    if (rc < 0)
        lite_writer_give();
    return rc;
}

int store_begin(void)
{
    int64_t t0 = mono_us();
    int rc = db_begin_write_with(PG_WRITER_LOCK, "begin");
    if (rc == 0)
        db_lock_waited("registry", mono_us() - t0);
    return rc;
}

void db_lock_waited(const char *scope, int64_t us)
{
    const char *labels[] = {scope, NULL};
    metric_observe_us(metric_get(&metric_store_lock_wait, labels), us);
}

int db_begin_read(void)
{
    /* a deferred BEGIN on SQLite takes its snapshot at the first read;
     * REPEATABLE READ on PostgreSQL at the first statement */
    int rc = db_done(db_stmt(pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN"), "begin");
    txn_open = rc == 0;
    return rc;
}

int store_commit(void)
{
    /* a failed COMMIT (busy readers, I/O) may leave the transaction open:
     * the caller rolls it back */
    int rc = db_done(db_stmt("COMMIT"), "commit");
    if (rc == 0) {
        txn_open = false;
        lite_writer_give();
    }
    return rc;
}

bool store_in_transaction(void)
{
    if (!db_connect())
        return false;
    if (pg)
        return PQtransactionStatus(tpg) != PQTRANS_IDLE;
    return !sqlite3_get_autocommit(tdb);
}

void store_rollback(void)
{
    txn_open = false;
    if (pg) {
        if (tpg && PQtransactionStatus(tpg) != PQTRANS_IDLE && pg_exec("ROLLBACK") < 0)
            pg_drop();
        return;
    }
    if (tdb && !sqlite3_get_autocommit(tdb) && db_done(db_stmt("ROLLBACK"), "rollback") < 0 && !sqlite3_get_autocommit(tdb))
        store_close_thread(); /* closing the connection rolls back what is left */
    lite_writer_give();
}
