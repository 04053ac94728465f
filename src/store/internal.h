/*
 * What the files of store/ share: this thread's SQLite connection, its
 * cached statements and the helpers that step them and turn SQLite's
 * failures into E_* codes. Only files in src/store/ include this; the rest
 * of berth sees store.h. store.c owns the connection and the schema
 * (its migrations); other files there (one per area, e.g. jobs.c) hold
 * the statements of their area.
 */
#ifndef BERTH_STORE_INTERNAL_H
#define BERTH_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* This thread's connection, opened on first use; NULL when it cannot be
 * opened now (the next db_stmt() reports why). */
sqlite3 *db_conn(void);
/* The cached statement for sql, which must be a string literal (the cache
 * is keyed by its address), reset and unbound; NULL when it cannot be
 * prepared now. Every helper below takes a NULL statement and fails. */
sqlite3_stmt *db_stmt(const char *sql);
void db_bind_text(sqlite3_stmt *st, int i, const char *z); /* NULL binds NULL */
char *db_col_dup(sqlite3_stmt *st, int i);                  /* NULL for NULL; caller frees */
void db_col_copy(char *out, size_t size, sqlite3_stmt *st, int i);
const char *db_col_text(sqlite3_stmt *st, int i); /* "" for NULL; valid until the next step */

/* E_ERROR naming what, with the database's message. */
int db_error(const char *what);
/* sqlite3_step(), refusing to run in a transaction SQLite rolled back. */
int db_step(sqlite3_stmt *st);
/* Runs a statement that returns no rows: 0, E_EXISTS on a unique
 * constraint, E_NOTFOUND on a foreign key, E_ERROR otherwise. */
int db_done(sqlite3_stmt *st, const char *what);
/* Steps a statement that returns at most one row: 1 with the row ready
 * (the caller resets the statement), 0 when there is none, or E_ERROR. */
int db_row(sqlite3_stmt *st, const char *what);
/* Ends a loop of db_step(): rc is its last result (SQLITE_ROW when the
 * loop stopped early). */
int db_end(sqlite3_stmt *st, int rc, const char *what);
/* The integer a count(*)-like statement returns. */
int db_count(sqlite3_stmt *st, int64_t *out, const char *what);
/* 0 when a count(*) finds something, E_NOTFOUND "<what> '<name>' <absent>"
 * when it finds nothing. */
int db_exists(sqlite3_stmt *st, const char *what, const char *name, const char *absent);
/* Steps st to its end, calling row() for each row until it returns non-zero. */
int db_each_row(sqlite3_stmt *st, const char *what, int (*row)(sqlite3_stmt *st, void *ctx), void *ctx);

/* The columns of a manifest record, in the order manifest_from_row() reads
 * them (with_body: the body follows as column 9). */
#define MANIFEST_COLUMNS                                                                                                   \
    "digest, media_type, artifact_type, config_media_type, subject, size, image_size, pushed_at, last_pull, status"
struct manifest;
void manifest_from_row(sqlite3_stmt *st, struct manifest *m, bool with_body);
/* The enum image_status of a manifests.status text (ACTIVE when unknown). */
int store_status_from_text(const char *z);

#endif
