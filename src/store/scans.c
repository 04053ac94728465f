/*
 * This module implements the image scan rows of store/scans.h on SQLite:
 * the table image_scans (status, counts, inventory) and scan_findings
 * (position, JSON), both keyed by repository and manifest digest.
 */
#include "store/scans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/internal.h"
#include "store/locks.h"
#include "store/store.h"

const char *const scan_severity_names[SEV_COUNT] = {"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL", "UNDEFINED"};

enum scan_severity scan_severity_of(const char *name)
{
    for (int i = 0; i < SEV_COUNT; i++)
        if (strcmp(name, scan_severity_names[i]) == 0)
            return (enum scan_severity)i;
    return SEV_COUNT;
}

void scan_record_release(struct scan_record *s)
{
    free(s->description);
    s->description = NULL;
}

/* counts are kept as a JSON object {"HIGH": 2, ...} of the non-zero ones */
static void counts_parse(const char *text, int64_t counts[SEV_COUNT])
{
    memset(counts, 0, sizeof(int64_t) * SEV_COUNT);
    json_t *o = text && *text ? json_loads(text, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        enum scan_severity s = scan_severity_of(k);
        if (s != SEV_COUNT && json_is_integer(v))
            counts[s] = json_integer_value(v);
    }
    json_decref(o);
}

static char *counts_text(const int64_t counts[SEV_COUNT])
{
    json_t *o = json_object();
    for (int i = 0; i < SEV_COUNT; i++)
        if (counts[i])
            json_object_set_new(o, scan_severity_names[i], json_integer(counts[i]));
    char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return t;
}

int store_scan_get(int64_t repo_id, const char *digest, struct scan_record *out)
{
    struct db_statement *st = db_stmt("SELECT status, description, requested_at, completed_at, source_updated_at, counts,"
                               " findings FROM image_scans WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_row(st, "scan");
    if (rc == 0)
        return error_set(E_NOTFOUND, "no scan of %s", digest);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->repo_id = repo_id;
    snprintf(out->digest, sizeof(out->digest), "%s", digest);
    db_col_copy(out->status, sizeof(out->status), st, 0);
    out->description = db_col_dup(st, 1);
    out->requested_at = db_col_int64(st, 2);
    out->completed_at = db_col_int64(st, 3);
    out->source_updated_at = db_col_int64(st, 4);
    counts_parse(db_col_text(st, 5), out->counts);
    out->findings = db_col_int64(st, 6);
    db_reset(st);
    return 0;
}

int store_scan_request(int64_t repo_id, const char *digest, int64_t now, int64_t min_interval_ms)
{
    /* the row is inserted or, when the last request is old enough,
     * updated; a row that stays as it was changes nothing */
    struct db_statement *st = db_stmt(
        "INSERT INTO image_scans(repo_id, digest, status, requested_at) VALUES(?1, ?2, 'IN_PROGRESS', ?3)"
        " ON CONFLICT(repo_id, digest) DO UPDATE SET status = 'IN_PROGRESS', description = NULL, requested_at = ?3"
        " WHERE image_scans.requested_at <= ?3 - ?4");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, now);
    db_bind_int64(st, 4, min_interval_ms);
    int rc = db_done(st, "request scan");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_TOOBIG, "the image %s was scanned less than %lld hours ago", digest,
                         (long long)(min_interval_ms / 3600000));
    return rc;
}

int store_scan_fail(int64_t repo_id, const char *digest, const char *status, const char *description, int64_t now)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO image_scans(repo_id, digest, status, description, requested_at, completed_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(repo_id, digest) DO UPDATE SET status = ?3, description = ?4,"
        " completed_at = ?5");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_text(st, 3, status);
    db_bind_text(st, 4, description);
    db_bind_int64(st, 5, now);
    return db_done(st, "record failed scan");
}

int store_scan_inventory_put(int64_t repo_id, const char *digest, const char *inventory)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO image_scans(repo_id, digest, status, inventory) VALUES(?1, ?2, 'IN_PROGRESS', ?3)"
        " ON CONFLICT(repo_id, digest) DO UPDATE SET inventory = ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_text(st, 3, inventory);
    return db_done(st, "keep inventory");
}

int store_scan_inventory_get(int64_t repo_id, const char *digest, char **out)
{
    struct db_statement *st = db_stmt("SELECT inventory FROM image_scans WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    *out = NULL;
    int rc = db_row(st, "inventory");
    if (rc == 1) {
        *out = db_col_dup(st, 0);
        db_reset(st);
        rc = 0;
    }
    return rc;
}

static int complete_in_txn(int64_t repo_id, const char *digest, int64_t completed_at, int64_t source_updated_at,
                           const int64_t counts[SEV_COUNT], char *const *findings, int64_t n)
{
    struct db_statement *st = db_stmt("DELETE FROM scan_findings WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_done(st, "replace findings");
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        st = db_stmt("INSERT INTO scan_findings(repo_id, digest, pos, finding) VALUES(?1, ?2, ?3, ?4)");
        db_bind_int64(st, 1, repo_id);
        db_bind_text(st, 2, digest);
        db_bind_int64(st, 3, i + 1);
        db_bind_text(st, 4, findings[i]);
        rc = db_done(st, "add finding");
    }
    if (rc < 0)
        return rc;
    char *ct = counts_text(counts);
    st = db_stmt("INSERT INTO image_scans(repo_id, digest, status, completed_at, source_updated_at, counts, findings)"
                 " VALUES(?1, ?2, 'COMPLETE', ?3, ?4, ?5, ?6) ON CONFLICT(repo_id, digest) DO UPDATE SET"
                 " status = 'COMPLETE', description = NULL, completed_at = ?3, source_updated_at = ?4, counts = ?5,"
                 " findings = ?6");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, completed_at);
    db_bind_int64(st, 4, source_updated_at);
    db_bind_text(st, 5, ct);
    db_bind_int64(st, 6, n);
    rc = db_done(st, "complete scan");
    free(ct);
    return rc;
}

int store_scan_complete(int64_t repo_id, const char *digest, int64_t completed_at, int64_t source_updated_at,
                        const int64_t counts[SEV_COUNT], char *const *findings, int64_t n)
{
    if (store_in_transaction())
        return complete_in_txn(repo_id, digest, completed_at, source_updated_at, counts, findings, n);
    int rc = store_begin_repo(repo_id);
    if (rc == 0)
        rc = complete_in_txn(repo_id, digest, completed_at, source_updated_at, counts, findings, n);
    if (rc == 0)
        return store_commit();
    store_rollback();
    return rc;
}

int store_scan_findings(int64_t repo_id, const char *digest, int64_t after, int limit,
                        int (*fn)(void *ctx, int64_t pos, const char *finding), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT pos, finding FROM scan_findings WHERE repo_id = ?1 AND digest = ?2 AND pos > ?3"
                               " ORDER BY pos LIMIT ?4");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, after);
    db_bind_int64(st, 4, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_int64(st, 0), db_col_text(st, 1)))
            break;
    return db_end(st, rc, "findings");
}

int store_scans_with_inventory(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    /* collected first: fn writes, and a write would disturb this read */
    struct db_statement *st = db_stmt("SELECT repo_id, digest FROM image_scans WHERE inventory IS NOT NULL ORDER BY repo_id, digest");
    struct item {
        int64_t repo_id;
        char digest[DIGEST_MAX];
    } *items = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            items = xrealloc(items, cap * sizeof(*items));
        }
        items[n].repo_id = db_col_int64(st, 0);
        db_col_copy(items[n].digest, sizeof(items[n].digest), st, 1);
        n++;
    }
    rc = db_end(st, rc, "scanned images");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (fn(ctx, items[i].repo_id, items[i].digest))
            break;
    free(items);
    return rc;
}
