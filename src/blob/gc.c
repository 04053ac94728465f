/*
 * This module implements the garbage collector of gc.h: one transaction
 * deletes the records nothing needs, then the bytes they named go, then a
 * walk over the files removes those old enough that have no record.
 */
#include "blob/gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blobstore.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"

struct digest_list {
    char (*items)[DIGEST_MAX];
    size_t n, cap;
};

static int list_add(void *ctx, const char *digest)
{
    struct digest_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    snprintf(l->items[l->n++], DIGEST_MAX, "%s", digest);
    return 0;
}

/* Does a record want the blob's bytes? Only a lookup that ran and found
 * nothing says no: when the store fails, the bytes stay. */
static bool has_record(void *ctx, const char *digest)
{
    uint64_t size;
    int rc = store_blob_size(digest, &size);
    if (rc < 0 && rc != E_NOTFOUND)
        log_warn("gc: keeping '%s': %s", digest, error_message());
    return rc != E_NOTFOUND;
}

struct orphan_walk {
    int64_t cutoff;
    struct gc_report *report;
};

static int orphan_blob(void *ctx, const char *digest, int64_t mtime_ms)
{
    struct orphan_walk *w = ctx;
    uint64_t size = 0;
    if (mtime_ms >= w->cutoff || has_record(NULL, digest))
        return 0;
    blob_stat(digest, &size);
    if (blob_collect(digest, w->cutoff, has_record, NULL) == 1) {
        w->report->orphans_removed++;
        w->report->bytes_freed += (int64_t)size;
    }
    return 0;
}

static int orphan_upload(void *ctx, const char *id, int64_t mtime_ms)
{
    struct orphan_walk *w = ctx;
    if (mtime_ms >= w->cutoff || strlen(id) != 36)
        return 0;
    int rc = store_upload_exists(id);
    if (rc != E_NOTFOUND) {
        if (rc < 0)
            log_warn("gc: keeping upload '%s': %s", id, error_message());
        return 0;
    }
    if (upload_cancel(id) == 0)
        w->report->uploads_removed++;
    return 0;
}

int gc_run(struct gc_report *out, int64_t grace_ms, int64_t upload_grace_ms)
{
    struct digest_list dead = {0}, uploads = {0};
    int64_t now = now_ms(), cutoff = now - grace_ms, upload_cutoff = now - upload_grace_ms;
    int rc;

    memset(out, 0, sizeof(*out));
    /* records first, in one transaction: links nothing uses, then blobs no
     * repository links; the bytes follow only once that transaction is
     * committed (and, with synchronous=FULL, on disk), so no record that
     * survives a failure or a crash can point at bytes that are gone */
    if ((rc = store_begin()) < 0 || (rc = store_gc_unlink_unused(cutoff, &out->links_dropped)) < 0 ||
        (rc = store_gc_blobs(cutoff, list_add, &dead)) < 0 || (rc = store_gc_uploads(upload_cutoff, list_add, &uploads)) < 0 ||
        (rc = store_commit()) < 0) {
        store_rollback();
        goto done;
    }
    for (size_t i = 0; i < dead.n; i++) {
        uint64_t size = 0;
        blob_stat(dead.items[i], &size);
        int r = blob_collect(dead.items[i], cutoff, has_record, NULL);
        if (r < 0)
            log_warn("gc: %s", error_message());
        if (r == 1) {
            out->blobs_removed++;
            out->bytes_freed += (int64_t)size;
        }
    }
    for (size_t i = 0; i < uploads.n; i++)
        if (upload_cancel(uploads.items[i]) == 0)
            out->uploads_removed++;

    /* files with no record: a crash between rename and record, or an
     * upload session whose record is gone */
    struct orphan_walk w = {cutoff, out};
    blob_each(orphan_blob, &w);
    w.cutoff = upload_cutoff;
    upload_each(orphan_upload, &w);
    rc = 0;
done:
    free(dead.items);
    free(uploads.items);
    return rc;
}
