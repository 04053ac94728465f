/*
 * This module implements the statements of the archive dir (store/archive.h)
 * on SQLite.
 */
#include "store/archive.h"
#include "store/internal.h"

#include "core/error.h"

int store_manifest_blobs_each(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *blob), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT blob_digest FROM manifest_blobs WHERE repo_id = ?1 AND manifest_digest = ?2");
    int rc;
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_text(st, 0)))
            break;
    return db_end(st, rc, "manifest blobs");
}

int store_blob_live(const char *digest)
{
    /* from the blob's links (repo_blobs_digest), each a primary-key range
     * of manifest_blobs in its repository (manifest_blobs_blob) */
    struct db_statement *st = db_stmt("SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = ?1),"
                               " EXISTS (SELECT 1 FROM repo_blobs r WHERE r.digest = ?1 AND ("
                               "   NOT EXISTS (SELECT 1 FROM manifest_blobs b WHERE b.repo_id = r.repo_id"
                               "     AND b.blob_digest = ?1)"
                               "   OR EXISTS (SELECT 1 FROM manifest_blobs b JOIN manifests m ON m.repo_id = b.repo_id"
                               "     AND m.digest = b.manifest_digest WHERE b.repo_id = r.repo_id AND b.blob_digest = ?1"
                               "     AND m.status <> 'ARCHIVED')))");
    db_bind_text(st, 1, digest);
    int rc = db_row(st, "blob use");
    if (rc <= 0)
        return rc < 0 ? rc : db_error("blob use");
    bool known = db_col_int(st, 0) != 0;
    bool live = db_col_int(st, 1) != 0;
    db_reset(st);
    if (!known)
        return error_set(E_NOTFOUND, "blob '%s' has no record", digest);
    return live ? 1 : 0;
}
