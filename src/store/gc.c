/*
 * This module implements the statements of online garbage collection
 * (store/gc.h) on SQLite. Each review is a handful of primary-key lookups,
 * so a batch of them keeps the write lock for a millisecond or so.
 */
#include "store/gc.h"
#include "store/internal.h"

#include "core/error.h"

int store_gc_due_links(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT repo_id, digest FROM gc_link_reviews WHERE queued_at < ?1 ORDER BY queued_at LIMIT ?2");
    int rc;
    db_bind_int64(st, 1, cutoff_ms);
    db_bind_int64(st, 2, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_int64(st, 0), db_col_text(st, 1)))
            break;
    return db_end(st, rc, "link reviews");
}

int store_gc_review_link(int64_t repo_id, const char *digest, int64_t cutoff_ms)
{
    /* the one statement that drops a link re-checks everything: old, not
     * confirmed to a client lately, and no manifest of its repository
     * referencing it (image_put inserts references in its own transaction,
     * after finding the link) */
    struct db_statement *st = db_stmt("DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2 AND linked_at < ?3"
                               " AND EXISTS (SELECT 1 FROM gc_link_reviews g WHERE g.repo_id = ?1 AND g.digest = ?2"
                               "   AND g.queued_at < ?3)"
                               " AND NOT EXISTS (SELECT 1 FROM manifest_blobs m WHERE m.repo_id = ?1 AND m.blob_digest = ?2)");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, cutoff_ms);
    int rc = db_done(st, "blob link");
    if (rc < 0)
        return rc;
    if (db_changes() > 0)
        return 1;
    /* kept: a review nothing needs goes, a young link's waits for it */
    st = db_stmt("DELETE FROM gc_link_reviews WHERE repo_id = ?1 AND digest = ?2 AND"
                 " (NOT EXISTS (SELECT 1 FROM repo_blobs r WHERE r.repo_id = ?1 AND r.digest = ?2)"
                 "  OR EXISTS (SELECT 1 FROM manifest_blobs m WHERE m.repo_id = ?1 AND m.blob_digest = ?2))");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    if ((rc = db_done(st, "link review")) < 0 || db_changes() > 0)
        return rc;
    st = db_stmt("UPDATE gc_link_reviews SET queued_at = (SELECT linked_at FROM repo_blobs r WHERE r.repo_id = ?1 AND r.digest = ?2)"
                 " WHERE repo_id = ?1 AND digest = ?2"
                 " AND queued_at < (SELECT linked_at FROM repo_blobs r WHERE r.repo_id = ?1 AND r.digest = ?2)");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    return db_done(st, "link review");
}

int store_gc_due_blobs(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, const char *digest), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT digest FROM gc_blob_reviews WHERE queued_at < ?1 ORDER BY queued_at LIMIT ?2");
    int rc;
    db_bind_int64(st, 1, cutoff_ms);
    db_bind_int64(st, 2, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_text(st, 0)))
            break;
    return db_end(st, rc, "blob reviews");
}

int store_gc_review_blob(const char *digest, uint64_t *size_out)
{
    struct db_statement *st = db_stmt("DELETE FROM blobs WHERE digest = ?1 AND NOT EXISTS "
                               "(SELECT 1 FROM repo_blobs r WHERE r.digest = ?1) RETURNING size");
    int rc, deleted = 0;
    db_bind_text(st, 1, digest);
    while ((rc = db_step(st)) == DB_ROW) {
        *size_out = (uint64_t)db_col_int64(st, 0);
        deleted = 1;
    }
    if ((rc = db_end(st, rc, "blob")) < 0)
        return rc;
    st = db_stmt("DELETE FROM gc_blob_reviews WHERE digest = ?1");
    db_bind_text(st, 1, digest);
    rc = db_done(st, "blob review");
    return rc < 0 ? rc : deleted;
}

int store_gc_link_get(int64_t repo_id, const char *digest, uint64_t *size_out, int64_t *review_ms_out)
{
    struct db_statement *st = db_stmt("SELECT b.size, g.queued_at FROM repo_blobs r JOIN blobs b ON b.digest = r.digest"
                               " LEFT JOIN gc_link_reviews g ON g.repo_id = r.repo_id AND g.digest = r.digest"
                               " WHERE r.repo_id = ?1 AND r.digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_row(st, "blob link");
    if (rc == 1) {
        *size_out = (uint64_t)db_col_int64(st, 0);
        *review_ms_out = db_col_int64(st, 1); /* NULL reads as 0 */
    }
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "blob '%s' is not in the repository", digest);
    return rc < 0 ? rc : 0;
}

int store_gc_link_touch(int64_t repo_id, const char *digest, int64_t now_ms)
{
    struct db_statement *st = db_stmt("UPDATE gc_link_reviews SET queued_at = ?3 WHERE repo_id = ?1 AND digest = ?2 AND queued_at < ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, now_ms);
    int rc = db_done(st, "link review");
    if (rc < 0)
        return rc;
    st = db_stmt("SELECT count(*) FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    return db_exists(st, "blob", digest, "is not in the repository");
}

int store_gc_uploads(int64_t cutoff_ms, int (*fn)(void *ctx, const char *id), void *ctx)
{
    struct db_statement *st = db_stmt("DELETE FROM uploads WHERE updated_at < ?1 RETURNING id");
    int rc;
    db_bind_int64(st, 1, cutoff_ms);
    while ((rc = db_step(st)) == DB_ROW)
        fn(ctx, db_col_text(st, 0));
    return db_end(st, rc, "uploads");
}

int store_gc_untracked_each(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT r.repo_id, r.digest FROM repo_blobs r WHERE"
                               " NOT EXISTS (SELECT 1 FROM manifest_blobs m WHERE m.repo_id = r.repo_id AND m.blob_digest = r.digest)"
                               " AND NOT EXISTS (SELECT 1 FROM gc_link_reviews g WHERE g.repo_id = r.repo_id AND g.digest = r.digest)"
                               " UNION ALL SELECT 0, b.digest FROM blobs b WHERE"
                               " NOT EXISTS (SELECT 1 FROM repo_blobs r WHERE r.digest = b.digest)"
                               " AND NOT EXISTS (SELECT 1 FROM gc_blob_reviews g WHERE g.digest = b.digest)");
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_int64(st, 0), db_col_text(st, 1)))
            break;
    return db_end(st, rc, "untracked references");
}

int store_gc_pending(int64_t *links_out, int64_t *blobs_out)
{
    int rc = db_count(db_stmt("SELECT count(*) FROM gc_link_reviews"), links_out, "link reviews");
    return rc < 0 ? rc : db_count(db_stmt("SELECT count(*) FROM gc_blob_reviews"), blobs_out, "blob reviews");
}

/* "berth" + 2: the key of GC's advisory lock (db.c's writer lock is + 0) */
#define GC_LOCK_KEY "1650553462"

int store_gc_lock(void)
{
    if (!db_is_pg())
        return 1;
    struct db_statement *st = db_stmt("SELECT pg_try_advisory_lock(" GC_LOCK_KEY ")");
    int rc = db_row(st, "gc lock");
    if (rc == 1)
        rc = db_col_int64(st, 0) ? 1 : 0;
    else if (rc == 0)
        rc = error_set(E_ERROR, "database: gc lock: no answer");
    db_reset(st);
    return rc;
}

void store_gc_unlock(void)
{
    if (db_is_pg())
        db_done(db_stmt("SELECT pg_advisory_unlock(" GC_LOCK_KEY ")"), "gc unlock");
}
