/*
 * What the files of store/ share: the driver layer (this thread's connection
 * to the metadata database, SQLite or PostgreSQL, its cached statements and
 * the calls that bind, step and read them, turning failures into E_* codes;
 * store/db.c implements it) and the few helpers of several areas. Only
 * files in src/store/ include this; the rest of berth sees store.h.
 * store.c owns the schema (its migrations, one list per engine); other files
 * there (one per area, e.g. jobs.c) hold the statements of their area.
 *
 * SQL is written once, in SQLite's spelling with numbered placeholders
 * (?1, ?2, ...), and in a form both engines accept: ON CONFLICT ... DO
 * NOTHING/UPDATE instead of INSERT OR IGNORE/REPLACE, RETURNING instead of
 * last_insert_rowid(), CASE instead of the scalar max(a, b)/min(a, b),
 * "x <> 0" instead of an integer used as a boolean, explicit CASTs where
 * PostgreSQL cannot infer a parameter's type. When a statement is prepared
 * on PostgreSQL, ?N becomes $N, "IS ?N" "IS NOT DISTINCT FROM $N" and
 * group_concat( string_agg( (store/db.c, pg_translate()). Where the engines
 * must differ, DB_SQL(sqlite, postgresql) picks one of two literals (each
 * keeps its own cache slot). PostgreSQL databases should use the C
 * collation, so that ORDER BY and page tokens compare bytes as SQLite does.
 *
 * Converting a store file written against SQLite's C API:
 * scripts/store_db_convert.py FILE... applies these rules and lists what it
 * could not convert:
 *   sqlite3_stmt                      -> struct db_statement
 *   sqlite3_int64                     -> int64_t
 *   sqlite3_bind_int/_int64(st,i,v)   -> db_bind_int64(st,i,v)
 *   sqlite3_bind_null/_double         -> db_bind_null/_double
 *   sqlite3_bind_text(st,i,z,-1,X)    -> db_bind_text(st,i,z)
 *   sqlite3_bind_blob(st,i,p,n,X)     -> db_bind_blob(st,i,p,n)
 *   sqlite3_column_int64/_int/_double/_blob/_bytes -> db_col_int64/_int/_double/_blob/_bytes
 *   (const char *)sqlite3_column_text -> db_col_ztext (NULL for NULL)
 *   sqlite3_column_type(..) == SQLITE_NULL -> db_col_is_null(..)
 *   sqlite3_reset                     -> db_reset
 *   sqlite3_changes(db_conn())        -> db_changes()
 *   SQLITE_ROW / SQLITE_DONE          -> DB_ROW / DB_DONE
 *   #include <sqlite3.h>              -> removed
 * Then by hand: the SQL itself as above (run the file's tests with
 * BERTH_TEST_DATABASE=postgresql), sqlite3_exec -> db_exec.
 */
#ifndef BERTH_STORE_INTERNAL_H
#define BERTH_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* db_step() results */
#define DB_ROW 100
#define DB_DONE 101

struct db_statement;

/* Chooses the engine and where its database is: "sqlite:PATH" or a
 * postgresql:// URL (libpq's). Before the first statement. */
int db_configure(const char *url);
bool db_is_pg(void);
/* This thread's PostgreSQL connection, as a number that changes each time
 * it is opened again (0: none, or SQLite): a session-scoped lock taken
 * while it had one number is gone once the number has changed. */
unsigned db_connection(void);
/* The database as configured, with any password masked, for messages. */
const char *db_describe(void);
#define DB_SQL(sqlite, postgresql) (db_is_pg() ? (postgresql) : (sqlite))

/* The cached statement for sql, which must be a string literal (the cache
 * is keyed by its address), reset and unbound; NULL when it cannot be
 * prepared now. Every helper below takes a NULL statement and fails. */
struct db_statement *db_stmt(const char *sql);
void db_bind_text(struct db_statement *st, int i, const char *z); /* NULL binds NULL */
void db_bind_int64(struct db_statement *st, int i, int64_t v);
void db_bind_double(struct db_statement *st, int i, double v);
void db_bind_null(struct db_statement *st, int i);
void db_bind_blob(struct db_statement *st, int i, const void *p, size_t n);
/* One step: DB_ROW with a row to read, DB_DONE at the end, anything else
 * is a failure (db_error() says which); refuses to run in a transaction the
 * database rolled back. */
int db_step(struct db_statement *st);
/* Makes st ready to run again with the same bindings. */
void db_reset(struct db_statement *st);
/* Rows changed by this thread's last INSERT, UPDATE or DELETE. */
int64_t db_changes(void);
int64_t db_col_int64(struct db_statement *st, int i); /* booleans read as 0 and 1 */
int db_col_int(struct db_statement *st, int i);
double db_col_double(struct db_statement *st, int i);
bool db_col_is_null(struct db_statement *st, int i);
const char *db_col_ztext(struct db_statement *st, int i); /* NULL for NULL; valid until the next step */
const char *db_col_text(struct db_statement *st, int i);  /* "" for NULL; valid until the next step */
const void *db_col_blob(struct db_statement *st, int i);  /* valid until the next step */
int db_col_bytes(struct db_statement *st, int i);
char *db_col_dup(struct db_statement *st, int i); /* NULL for NULL; caller frees */
void db_col_copy(char *out, size_t size, struct db_statement *st, int i);

/* Runs a script of statements without parameters (migrations). */
int db_exec(const char *script, const char *what);
/* Opens this thread's connection read-only (SQLite; PostgreSQL as usual). */
int db_open_readonly(void);
/* Starts a read-only transaction that sees one snapshot. */
int db_begin_read(void);
/* Starts a write transaction without any lock of berth's own: SQLite's
 * BEGIN IMMEDIATE (its single writer's lock), PostgreSQL's BEGIN. Only
 * store_begin() and store/locks.c, which take the locks, call it. */
int db_begin_write(void);
/* The same, then sql (statements without parameters: advisory locks, SET
 * LOCAL) in the same round trip on PostgreSQL; sql is ignored on SQLite. */
int db_begin_write_with(const char *sql, const char *what);
/* The registry key shared (store/locks.h), which a scoped writer takes
 * first on PostgreSQL. */
#define DB_PG_REGISTRY_SHARED "SELECT pg_advisory_xact_lock_shared(1650553460)"
/* PostgreSQL: runs script, a whole transaction ("BEGIN; ...; COMMIT") of
 * statements without parameters, in one round trip, outside any other
 * transaction of the thread's; on a failure rolls back what it opened (an
 * error as a statement's). */
int db_pg_transaction(const char *script, const char *what);
/* PostgreSQL: appends z to b as a string literal, quoted for this
 * connection (PQescapeLiteral), for db_pg_transaction()'s scripts. */
int db_pg_append_literal(struct buf *b, const char *z);
/* Counts us microseconds spent starting a write transaction of scope
 * (berth_store_lock_wait_seconds). */
void db_lock_waited(const char *scope, int64_t us);

/* E_ERROR naming what, with the database's message. */
int db_error(const char *what);
/* Runs a statement that returns no rows: 0, E_EXISTS on a unique
 * constraint, E_NOTFOUND on a foreign key, E_ERROR otherwise. */
int db_done(struct db_statement *st, const char *what);
/* Steps a statement that returns at most one row: 1 with the row ready
 * (the caller resets the statement), 0 when there is none, or E_ERROR. */
int db_row(struct db_statement *st, const char *what);
/* Ends a loop of db_step(): rc is its last result (DB_ROW when the
 * loop stopped early). */
int db_end(struct db_statement *st, int rc, const char *what);
/* The integer a count(*)-like statement returns. */
int db_count(struct db_statement *st, int64_t *out, const char *what);
/* 0 when a count(*) finds something, E_NOTFOUND "<what> '<name>' <absent>"
 * when it finds nothing. */
int db_exists(struct db_statement *st, const char *what, const char *name, const char *absent);
/* Steps st to its end, calling row() for each row until it returns non-zero. */
int db_each_row(struct db_statement *st, const char *what, int (*row)(struct db_statement *st, void *ctx), void *ctx);

/* The columns of a manifest record, in the order manifest_from_row() reads
 * them (with_body: the body follows as column 9). */
#define MANIFEST_COLUMNS                                                                                                   \
    "digest, media_type, artifact_type, config_media_type, subject, size, image_size, pushed_at, last_pull, status"
struct manifest;
void manifest_from_row(struct db_statement *st, struct manifest *m, bool with_body);
/* The enum image_status of a manifests.status text (ACTIVE when unknown). */
int store_status_from_text(const char *z);

#endif
