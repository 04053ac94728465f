/*
 * This module implements store/copy.h: moving a registry's metadata from
 * its SQLite file into the (empty, migrated) PostgreSQL database the store
 * is open on, for `berth migrate --from sqlite:PATH`.
 *
 * The source is read with SQLite's own API (read-only, one snapshot); each
 * table is copied row by row in dependency order inside one PostgreSQL
 * transaction, each value bound with the type SQLite stored it as. The
 * target's triggers are off while copying (the rows already carry what the
 * triggers compute: tag counts, GC reviews), identity sequences move past
 * the copied ids, and the copy is refused when the target holds anything
 * or the source has a table this berth does not know (nothing is left
 * behind silently). Row counts are compared at the end.
 */
#include "store/copy.h"
#include "store/internal.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"

/* Every table of the schema, parents before children (foreign keys). */
static const char *const tables[] = {
    "accounts", "access_keys", "repositories", "repo_tags", "blobs", "repo_blobs", "manifests", "tags",
    "manifest_blobs", "manifest_refs", "uploads", "settings", "iam_users", "iam_groups", "iam_group_members",
    "iam_policies", "iam_policy_versions", "iam_attachments", "iam_inline_policies", "jobs", "image_scans",
    "scan_findings", "vuln_records", "vuln_affected", "vuln_source", "pull_time_exclusions", "lifecycle_previews",
    "lifecycle_preview_results", "lifecycle_history", "gc_link_reviews", "gc_blob_reviews", "webhooks", "events",
    "webhook_deliveries", "iam_login_profiles", "console_sessions", "audit_records", "audit_index",
    "audit_resources", "iam_account_aliases", "iam_password_policies", "iam_password_history", "console_signin_failures",
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* Tables every database has of its own, not copied: the read cache's
 * generation (store/cache.c), which the copy moves instead (its triggers
 * are off while copying). */
static const char *const own_tables[] = {"cache_generation"};

/* The tables with an identity column on PostgreSQL, and that column. */
static const char *const identities[][2] = {{"repositories", "id"},       {"jobs", "id"},
                                            {"lifecycle_history", "id"},  {"events", "seq"},
                                            {"webhook_deliveries", "id"}, {"audit_records", "seq"}};

/* The SQL texts built here for db_stmt() live as long as the process: the
 * statement cache is keyed by their address (a count and an INSERT per
 * table). */
static char *sql_texts[NTABLES * 2];
static size_t nsql;

static const char *keep(char *z)
{
    if (nsql == sizeof(sql_texts) / sizeof(sql_texts[0]))
        abort();
    sql_texts[nsql++] = z;
    return z;
}

static int source_error(sqlite3 *src, const char *what)
{
    return error_set(E_ERROR, "source database: %s: %s", what, sqlite3_errmsg(src));
}

/* Every table of the source is one this berth copies. */
static int check_tables(sqlite3 *src)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(src, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", -1,
                           &st, NULL) != SQLITE_OK)
        return source_error(src, "tables");
    int step;
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        bool known = false;
        for (size_t i = 0; i < NTABLES && !known; i++)
            known = strcmp(tables[i], name) == 0;
        for (size_t i = 0; i < sizeof(own_tables) / sizeof(own_tables[0]) && !known; i++)
            known = strcmp(own_tables[i], name) == 0;
        if (!known)
            rc = error_set(E_UNSUPPORTED, "source database: table '%s' is not one this berth copies", name);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = source_error(src, "tables");
    sqlite3_finalize(st);
    return rc;
}

static int target_empty(void)
{
    for (size_t i = 0; i < NTABLES; i++) {
        char *q = xmalloc(128);
        snprintf(q, 128, "SELECT count(*) FROM %s", tables[i]);
        int64_t n = 0;
        int rc = db_count(db_stmt(keep(q)), &n, tables[i]);
        if (rc < 0)
            return rc;
        if (n > 0)
            return error_set(E_EXISTS, "the target database is not empty: table '%s' has %lld rows", tables[i],
                             (long long)n);
    }
    return 0;
}

/* Copies table t: 0 and *rows, or an error. */
static int copy_table(sqlite3 *src, const char *t, int64_t *rows)
{
    char q[128];
    sqlite3_stmt *st = NULL;
    struct buf ins;
    int rc = 0, step;
    *rows = 0;
    snprintf(q, sizeof(q), "SELECT * FROM %s", t);
    if (sqlite3_prepare_v2(src, q, -1, &st, NULL) != SQLITE_OK)
        return source_error(src, t);
    int ncol = sqlite3_column_count(st);
    buf_init(&ins, 1 << 16);
    buf_printf(&ins, "INSERT INTO %s(", t);
    for (int i = 0; i < ncol; i++)
        buf_printf(&ins, "%s%s", i ? ", " : "", sqlite3_column_name(st, i));
    buf_printf(&ins, ") VALUES(");
    for (int i = 0; i < ncol; i++)
        buf_printf(&ins, "%s?%d", i ? ", " : "", i + 1);
    buf_printf(&ins, ")");
    const char *sql = keep(buf_detach(&ins));
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        struct db_statement *w = db_stmt(sql);
        for (int i = 0; i < ncol; i++) {
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
                db_bind_int64(w, i + 1, sqlite3_column_int64(st, i));
                break;
            case SQLITE_FLOAT:
                db_bind_double(w, i + 1, sqlite3_column_double(st, i));
                break;
            case SQLITE_BLOB:
                db_bind_blob(w, i + 1, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
                break;
            case SQLITE_NULL:
                db_bind_null(w, i + 1);
                break;
            default:
                db_bind_text(w, i + 1, (const char *)sqlite3_column_text(st, i));
            }
        }
        rc = db_done(w, t);
        if (rc == 0)
            (*rows)++;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = source_error(src, t);
    sqlite3_finalize(st);
    return rc;
}

static int triggers(bool on)
{
    for (size_t i = 0; i < NTABLES; i++) {
        char q[128];
        snprintf(q, sizeof(q), "ALTER TABLE %s %s TRIGGER USER", tables[i], on ? "ENABLE" : "DISABLE");
        int rc = db_exec(q, "triggers");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int64_t source_count(sqlite3 *src, const char *t)
{
    char q[128];
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    snprintf(q, sizeof(q), "SELECT count(*) FROM %s", t);
    if (sqlite3_prepare_v2(src, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

int store_copy_from_sqlite(const char *path, struct store_copy_report *out)
{
    sqlite3 *src = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!db_is_pg())
        return error_set(E_INVALID, "the target of a copy is a postgresql:// database");
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = error_set(E_NOTFOUND, "cannot open '%s': %s", path, sqlite3_errmsg(src));
        sqlite3_close(src);
        return rc;
    }
    sqlite3_busy_timeout(src, 10000);
    /* one snapshot of the source for the whole copy */
    if (sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL) != SQLITE_OK) {
        rc = source_error(src, "snapshot");
        sqlite3_close(src);
        return rc;
    }
    if ((rc = check_tables(src)) < 0 || (rc = store_begin()) < 0)
        goto done;
    if ((rc = target_empty()) < 0 || (rc = triggers(false)) < 0)
        goto fail;
    for (size_t i = 0; i < NTABLES; i++) {
        int64_t rows = 0, want = source_count(src, tables[i]);
        if (want < 0) /* an older schema may not have it: nothing to copy */
            continue;
        if ((rc = copy_table(src, tables[i], &rows)) < 0)
            goto fail;
        if (rows != want) {
            rc = error_set(E_ERROR, "table '%s': %lld rows copied of %lld", tables[i], (long long)rows, (long long)want);
            goto fail;
        }
        out->tables++;
        out->rows += rows;
        if (strcmp(tables[i], "manifests") == 0)
            out->manifests = rows;
    }
    for (size_t i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
        char q[256];
        snprintf(q, sizeof(q), "SELECT setval(pg_get_serial_sequence('%s', '%s'), coalesce(max(%s), 0) + 1, false) FROM %s",
                 identities[i][0], identities[i][1], identities[i][1], identities[i][0]);
        if ((rc = db_exec(q, "identity")) < 0)
            goto fail;
    }
    /* the audit records SQLite had not indexed (those past its index's
     * largest seq) are for PostgreSQL's movers to index (store/audit.c) */
    if ((rc = db_exec("INSERT INTO audit_unindexed(seq) SELECT seq FROM audit_records"
                      " WHERE seq > (SELECT coalesce(max(seq), 0) FROM audit_index)",
                      "audit records")) < 0)
        goto fail;
    /* what any server may have cached of the (empty) target is stale now */
    if ((rc = db_exec("UPDATE cache_generation SET gen = gen + 1", "cache generation")) < 0)
        goto fail;
    if ((rc = triggers(true)) < 0 || (rc = store_commit()) < 0)
        goto fail;
    goto done;
fail:
    store_rollback();
done:
    sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(src);
    return rc;
}
