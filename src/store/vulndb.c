/*
 * This module implements the vulnerability database's statements
 * (store/vulndb.h): records and their affected entries, the lookups that
 * matching makes by (ecosystem key, package), the per-ecosystem counts
 * and the time of the last update.
 */
#include "store/vulndb.h"
#include "store/internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

void vuln_record_release(struct vuln_record *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->naffected; i++) {
        struct vuln_affected *a = &r->affected[i];
        free(a->ecosystem);
        free(a->eco_key);
        free(a->package);
        free(a->severity);
        free(a->ranges);
        free(a->versions);
    }
    free(r->affected);
    free(r->id);
    free(r->modified);
    free(r->summary);
    free(r->details);
    free(r->aliases);
    free(r->uri);
    free(r->cvss3_vector);
    free(r->cvss2_vector);
    *r = (struct vuln_record){0};
}

static void bind_score(struct db_statement *st, int i, const char *vector, double score)
{
    if (vector)
        db_bind_double(st, i, score);
    else
        db_bind_null(st, i);
}

int store_vuln_put(const struct vuln_record *r, int64_t now_ms)
{
    struct db_statement *st = db_stmt("SELECT modified_ms FROM vuln_records WHERE id = ?");
    db_bind_text(st, 1, r->id);
    int rc = db_row(st, "vulnerability record");
    if (rc < 0)
        return rc;
    if (rc == 1) {
        int64_t stored = db_col_int64(st, 0);
        db_reset(st);
        if (stored >= r->modified_ms)
            return 0;
    }
    st = db_stmt("INSERT INTO vuln_records(id, modified, modified_ms, summary, details, aliases, uri, cvss3_vector,"
                 " cvss3_score, cvss2_vector, cvss2_score, imported_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"
                 " ON CONFLICT(id) DO UPDATE SET modified = excluded.modified, modified_ms = excluded.modified_ms,"
                 " summary = excluded.summary, details = excluded.details, aliases = excluded.aliases, uri = excluded.uri,"
                 " cvss3_vector = excluded.cvss3_vector, cvss3_score = excluded.cvss3_score,"
                 " cvss2_vector = excluded.cvss2_vector, cvss2_score = excluded.cvss2_score,"
                 " imported_at = excluded.imported_at");
    db_bind_text(st, 1, r->id);
    db_bind_text(st, 2, r->modified);
    db_bind_int64(st, 3, r->modified_ms);
    db_bind_text(st, 4, r->summary ? r->summary : "");
    db_bind_text(st, 5, r->details ? r->details : "");
    db_bind_text(st, 6, r->aliases ? r->aliases : "[]");
    db_bind_text(st, 7, r->uri ? r->uri : "");
    db_bind_text(st, 8, r->cvss3_vector);
    bind_score(st, 9, r->cvss3_vector, r->cvss3_score);
    db_bind_text(st, 10, r->cvss2_vector);
    bind_score(st, 11, r->cvss2_vector, r->cvss2_score);
    db_bind_int64(st, 12, now_ms);
    if ((rc = db_done(st, "vulnerability record")) < 0)
        return rc;
    st = db_stmt("DELETE FROM vuln_affected WHERE record_id = ?");
    db_bind_text(st, 1, r->id);
    if ((rc = db_done(st, "vulnerability entries")) < 0)
        return rc;
    for (size_t i = 0; i < r->naffected; i++) {
        const struct vuln_affected *a = &r->affected[i];
        st = db_stmt("INSERT INTO vuln_affected(record_id, ecosystem, eco_key, package, severity, ranges, versions)"
                     " VALUES(?,?,?,?,?,?,?)");
        db_bind_text(st, 1, r->id);
        db_bind_text(st, 2, a->ecosystem);
        db_bind_text(st, 3, a->eco_key);
        db_bind_text(st, 4, a->package);
        db_bind_text(st, 5, a->severity ? a->severity : "UNDEFINED");
        db_bind_text(st, 6, a->ranges ? a->ranges : "");
        db_bind_text(st, 7, a->versions ? a->versions : "");
        if ((rc = db_done(st, "vulnerability entry")) < 0)
            return rc;
    }
    return 1;
}

int store_vuln_delete(const char *id)
{
    struct db_statement *st = db_stmt("DELETE FROM vuln_records WHERE id = ?");
    db_bind_text(st, 1, id);
    int rc = db_done(st, "vulnerability record");
    if (rc < 0)
        return rc;
    return db_changes() > 0;
}

struct entries_each {
    int (*fn)(void *ctx, const struct vuln_entry *e);
    void *ctx;
};

static const char *col_or_null(struct db_statement *st, int i)
{
    return db_col_is_null(st, i) ? NULL : db_col_text(st, i);
}

static int entries_row(struct db_statement *st, void *ctx)
{
    struct entries_each *e = ctx;
    struct vuln_entry v = {
        .record_id = db_col_text(st, 0),
        .package = db_col_text(st, 1),
        .severity = db_col_text(st, 2),
        .ranges = db_col_text(st, 3),
        .versions = db_col_text(st, 4),
        .summary = db_col_text(st, 5),
        .details = db_col_text(st, 6),
        .uri = db_col_text(st, 7),
        .cvss3_vector = col_or_null(st, 8),
        .cvss3_score = db_col_double(st, 9),
        .cvss2_vector = col_or_null(st, 10),
        .cvss2_score = db_col_double(st, 11),
    };
    return e->fn(e->ctx, &v);
}

int store_vuln_entries(const char *eco_key, const char *package, int (*fn)(void *ctx, const struct vuln_entry *e), void *ctx)
{
    struct entries_each e = {fn, ctx};
    struct db_statement *st =
        db_stmt("SELECT a.record_id, a.package, a.severity, a.ranges, a.versions, r.summary, r.details, r.uri,"
                " r.cvss3_vector, r.cvss3_score, r.cvss2_vector, r.cvss2_score"
                " FROM vuln_affected a JOIN vuln_records r ON r.id = a.record_id"
                " WHERE a.eco_key = ? AND a.package = ? ORDER BY a.record_id");
    db_bind_text(st, 1, eco_key);
    db_bind_text(st, 2, package);
    return db_each_row(st, "vulnerability entries", entries_row, &e);
}

int store_vuln_entries_all(const char *eco_key, int (*fn)(void *ctx, const struct vuln_entry *e), void *ctx)
{
    struct entries_each e = {fn, ctx};
    struct db_statement *st =
        db_stmt("SELECT a.record_id, a.package, a.severity, a.ranges, a.versions, r.summary, r.details, r.uri,"
                " r.cvss3_vector, r.cvss3_score, r.cvss2_vector, r.cvss2_score"
                " FROM vuln_affected a JOIN vuln_records r ON r.id = a.record_id"
                " WHERE a.eco_key = ? ORDER BY a.package, a.record_id");
    db_bind_text(st, 1, eco_key);
    return db_each_row(st, "vulnerability entries", entries_row, &e);
}

struct changed_each {
    int (*fn)(void *ctx, const char *eco_key, const char *package);
    void *ctx;
};

static int changed_row(struct db_statement *st, void *ctx)
{
    struct changed_each *e = ctx;
    return e->fn(e->ctx, db_col_text(st, 0), db_col_text(st, 1));
}

int store_vuln_changed(int64_t since_ms, int (*fn)(void *ctx, const char *eco_key, const char *package), void *ctx)
{
    struct changed_each e = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT DISTINCT a.eco_key, a.package FROM vuln_records r"
                               " JOIN vuln_affected a ON a.record_id = r.id WHERE r.imported_at > ?"
                               " ORDER BY a.eco_key, a.package");
    db_bind_int64(st, 1, since_ms);
    return db_each_row(st, "changed vulnerability entries", changed_row, &e);
}

struct counts_each {
    int (*fn)(void *ctx, const char *ecosystem, int64_t records);
    void *ctx;
};

static int counts_row(struct db_statement *st, void *ctx)
{
    struct counts_each *e = ctx;
    return e->fn(e->ctx, db_col_text(st, 0), db_col_int64(st, 1));
}

int store_vuln_counts(int (*fn)(void *ctx, const char *ecosystem, int64_t records), void *ctx)
{
    struct counts_each e = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT ecosystem, count(DISTINCT record_id) FROM vuln_affected"
                               " GROUP BY ecosystem ORDER BY ecosystem");
    return db_each_row(st, "vulnerability counts", counts_row, &e);
}

int store_vuln_total(int64_t *out)
{
    return db_count(db_stmt("SELECT count(*) FROM vuln_records"), out, "vulnerability records");
}

int store_vuln_set_updated(int64_t ms, const char *source)
{
    char z[32];
    snprintf(z, sizeof(z), "%lld", (long long)ms);
    struct db_statement *st = db_stmt("INSERT INTO vuln_source(name, value) VALUES('updated_at', ?), ('source', ?)"
                               " ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    db_bind_text(st, 1, z);
    db_bind_text(st, 2, source ? source : "");
    return db_done(st, "vulnerability source");
}

int store_vuln_updated(int64_t *out_ms, char *source, size_t source_size)
{
    *out_ms = 0;
    if (source && source_size)
        source[0] = 0;
    struct db_statement *st = db_stmt("SELECT name, value FROM vuln_source WHERE name IN ('updated_at', 'source')");
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        const char *name = db_col_text(st, 0);
        if (name[0] == 'u')
            *out_ms = strtoll(db_col_text(st, 1), NULL, 10);
        else if (source && source_size)
            db_col_copy(source, source_size, st, 1);
    }
    return db_end(st, rc, "vulnerability source");
}
