/*
 * This module implements upload sessions, blob commit and cross-repository
 * mounts (image.h) for both surfaces: a /v2 upload and an ECR layer upload
 * are the same session, verified, made durable and linked the same way,
 * and either protocol may continue a session the other started.
 *
 * A session is a record in the store (its repository, when it started,
 * its last activity, its ECR part count) and a file in the blob store.
 * The record is the truth: a session without one does not exist, whatever
 * is on disk, and the maintenance thread (service.c) expires those idle
 * for longer than the configured time, record first, file after.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "image/internal.h"
#include "store/gc.h"
#include "store/guard.h"
#include "store/locks.h"

int image_upload_start(char id_out[37], const struct repo *repo)
{
    struct upload u;
    int rc = upload_begin(&u);
    if (rc < 0)
        return rc;
    upload_close(&u);
    if ((rc = store_upload_create(u.id, repo->id)) < 0) {
        upload_cancel(u.id);
        return rc;
    }
    memcpy(id_out, u.id, 37);
    return 0;
}

int image_upload_open(struct upload *u, const struct repo *repo, const char *id)
{
    int rc = store_upload_get(id, repo->id);
    if (rc < 0)
        return rc;
    return upload_open(u, id);
}

int image_upload_append(struct upload *u, const void *data, size_t n)
{
    uint64_t max = image_limits()->max_blob_bytes;
    if (max && u->offset + n > max)
        return error_set(E_TOOBIG, "blob exceeds the largest layer size of %" PRIu64 " bytes", max);
    return upload_append(u, data, n);
}

int image_upload_flush(struct upload *u)
{
    return upload_flush(u);
}

int image_upload_spool(void)
{
    return upload_spool();
}

void image_upload_forget(const char *id)
{
    upload_forget(id);
}

void image_upload_close(struct upload *u)
{
    upload_close(u);
}

int image_blob_open(const char *digest, int *fd_out, uint64_t *size_out)
{
    return blob_open(digest, fd_out, size_out);
}

bool image_blobs_remote(void)
{
    return blobstore_remote();
}

int image_blob_url(char *out, size_t cap, const char *digest, int64_t expires)
{
    return blob_presign(out, cap, digest, expires);
}

int image_blob_open_range(const char *digest, uint64_t first, uint64_t len, int *fd_out, uint64_t *size_out)
{
    return blob_open_range(digest, first, len, fd_out, size_out);
}

int image_blob_check(const struct repo *repo, const char *digest, bool may_wait, uint64_t *size_out)
{
    int64_t review_ms, now = now_ms(), delay = image_limits()->gc_delay_ms;
    int rc = store_gc_link_get(repo->id, digest, size_out, &review_ms);
    /* a tenth of the delay: a layer HEAD-checked by many pushes costs at
     * most one write per tenth */
    if (rc < 0 || review_ms == 0 || delay <= 0 || review_ms >= now - delay / 10)
        return rc;
    if (!may_wait)
        return IMAGE_CHECK_WRITES;
    if ((rc = store_begin_repo(repo->id)) < 0)
        return rc;
    if ((rc = store_gc_link_touch(repo->id, digest, now)) == 0 && (rc = store_commit()) == 0)
        return 0;
    store_rollback();
    return rc;
}

int image_blob_present(const char *digest)
{
    return blob_stat(digest, NULL);
}

int image_upload_touch(const char *id, bool part)
{
    /* the last activity only decides expiry: a resolution of a tenth of
     * the expiry time (at most a minute) spares most requests a write */
    int64_t now = now_ms(), window = image_limits()->upload_expiry_ms / 10;
    if (window <= 0 || window > 60 * 1000)
        window = 60 * 1000;
    return store_upload_touch(id, part, now, now - window);
}

int image_upload_parts(const char *id, int64_t *out)
{
    return store_upload_parts(id, out);
}

int image_upload_commit(struct upload *u, const struct repo *repo, const char *digest, uint64_t *size_out,
                        bool *linked_before)
{
    uint64_t size, linked_size;
    bool had = false;
    int rc;

    /* verified and durable in its session file, or the session stays */
    if ((rc = upload_verify(u, digest)) < 0)
        return rc;
    /* held until the record is written: no collector may take the bytes
     * in between, on any server that shares the database (store/guard.h)
     * or on this machine (the lock file, blobstore.h); taken in the order
     * GC takes them */
    struct store_guard shared;
    if ((rc = store_guard_share(&shared, digest)) < 0)
        return rc;
    int guard = blob_guard_enter();
    if (guard < 0) {
        store_guard_release(&shared);
        return guard;
    }
    /* The session's record goes before its file is renamed into place, so
     * no crash leaves a session record whose file is gone: from here on a
     * crash leaves at most a file without a record (a session file or a
     * blob), which GC removes. */
    if ((rc = store_upload_delete(u->id)) < 0 || (rc = upload_place(u, digest, &size)) < 0) {
        blob_guard_leave(guard);
        store_guard_release(&shared);
        return rc;
    }
    /* then the blob's records, in one transaction of the repository's
     * (the blob's record is shared with other repositories: one upsert of
     * one key, store/locks.h); should it fail, the bytes are a blob without
     * a record, which GC removes after its grace */
    if ((rc = store_begin_repo(repo->id)) == 0) {
        rc = store_blob_linked(repo->id, digest, &linked_size);
        if (rc == 0)
            had = true;
        else if (rc == E_NOTFOUND)
            rc = 0;
        if (rc == 0 && !had)
            rc = store_blob_add(digest, size);
        /* linked again when the repository had it: linked_at = now tells
         * GC's review (blob/gc.c) that a push is about to use it */
        if (rc == 0)
            rc = store_blob_link(repo->id, digest);
        /* a record only for bytes the guard kept all along: a lost (and
         * reopened) connection lost the guard with it */
        if (rc == 0)
            rc = store_guard_check(&shared);
        if (rc == 0 && (rc = image_hook_run()) == 0)
            rc = store_commit();
        if (rc < 0)
            store_rollback();
    }
    blob_guard_leave(guard);
    store_guard_release(&shared);
    if (rc < 0)
        return rc;
    image_hook_committed();
    *size_out = size;
    if (linked_before)
        *linked_before = had;
    return 0;
}

int image_upload_cancel(const struct repo *repo, const char *id)
{
    int rc = store_upload_get(id, repo->id);
    if (rc < 0)
        return rc;
    /* the record goes first: without it the session no longer exists */
    if ((rc = store_upload_delete(id)) < 0)
        return rc;
    upload_cancel(id);
    return 0;
}

int image_upload_size(const struct repo *repo, const char *id, uint64_t *out)
{
    int rc = store_upload_get(id, repo->id);
    return rc < 0 ? rc : upload_size(id, out);
}

int image_blob_mounting(const char *account_id, bool *out)
{
    char *value = NULL;
    int rc = store_setting_get(account_id, "account_setting/BLOB_MOUNTING", &value);
    if (rc < 0 && rc != E_NOTFOUND)
        return rc;
    *out = strcmp(value ? value : IMAGE_BLOB_MOUNTING_DEFAULT, "ENABLED") == 0;
    free(value);
    return 0;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int image_blob_mount(const struct repo *dst, const struct repo *src, const char *digest)
{
    uint64_t size;
    bool enabled;
    int rc;
    if ((rc = image_blob_mounting(dst->account_id, &enabled)) < 0)
        return rc;
    if (!enabled)
        return error_set(E_DENIED, "blob mounting is disabled for registry '%s'", dst->account_id);
    if (strcmp(dst->account_id, src->account_id) != 0)
        return error_set(E_DENIED, "blobs mount only within one registry");
    /* as ECR: both repositories must use the same encryption and key */
    if (!same_str(dst->encryption_type, src->encryption_type) || !same_str(dst->kms_key, src->kms_key))
        return error_set(E_DENIED, "repositories '%s' and '%s' use different encryption", src->name, dst->name);
    /* one transaction: GC (which excludes every writer) cannot drop the
     * source's link in between; the source's own writers never drop links
     * (image_blob_unlink() excludes every writer too) */
    if ((rc = store_begin_repo(dst->id)) < 0)
        return rc;
    if ((rc = store_blob_linked(src->id, digest, &size)) == 0)
        rc = store_blob_link(dst->id, digest);
    if (rc == 0 && (rc = image_hook_run()) == 0)
        rc = store_commit();
    if (rc < 0)
        store_rollback();
    else
        image_hook_committed();
    return rc;
}
