/*
 * This module implements the archive storage class (image.h): archiving an
 * image, restoring it, and the rule that archived images are not pulled.
 *
 * An image moves ACTIVE -> ARCHIVED (archive) -> ACTIVATING (restore) ->
 * ACTIVE. The last step is a job on the durable queue ("image-restore",
 * keyed by repository and digest) that runs limits.restore_delay_ms after
 * the restore was asked for (default 0: as soon as a worker is free; ECR
 * takes "up to 20 minutes", and an operator who wants clients to see
 * ACTIVATING for a while sets the delay). The job survives a restart, and
 * completing a restore twice is harmless. Pushing the manifest again makes
 * it ACTIVE at once (put.c), as ECR does.
 *
 * With an archive dir (--archive-dir, blob/blobstore.h) archiving also
 * queues an "archive-move" job, in the same transaction: it moves each
 * blob of the image that only archived images use to the archive dir. The
 * decision is taken per blob under the commit guard (store_blob_live():
 * no manifest that is not ARCHIVED references it, and no repository links
 * it without a manifest, i.e. no push or mount is on its way), so a push
 * of the same layer either commits first and keeps it, or finds it moved
 * and is served from the archive dir (reads look there after the store).
 * A restore moves the image's blobs back before the image becomes ACTIVE,
 * and a push whose image uses a blob found only there queues an
 * "archive-return" job that moves it back (image_archive_recall()).
 * Without an archive dir the bytes stay where they are.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blobstore.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "image/internal.h"
#include "image/manifest.h"
#include "jobs/jobs.h"
#include "store/archive.h"

#define RESTORE_JOB "image-restore"
#define MOVE_JOB "archive-move"
#define RETURN_JOB "archive-return"

static void restore_key(char *out, size_t size, int64_t repo_id, const char *digest);

struct active_parent {
    int64_t repo_id;
    char found[DIGEST_MAX];
    int rc;
};

static int note_active_parent(void *ctx, const char *parent)
{
    struct active_parent *a = ctx;
    struct image_record r;
    int rc = store_image_get(a->repo_id, parent, &r);
    if (rc < 0) {
        a->rc = rc;
        return 1;
    }
    bool active = r.status == IMAGE_ACTIVE;
    image_record_release(&r);
    if (active)
        snprintf(a->found, sizeof(a->found), "%s", parent);
    return active;
}

static int archive_locked(const struct repo *repo, const char *digest)
{
    struct image_record r;
    int rc = store_image_get(repo->id, digest, &r);
    if (rc < 0)
        return rc;
    enum image_status st = r.status;
    image_record_release(&r);
    if (st != IMAGE_ACTIVE)
        return error_set(E_UNSUPPORTED, "image '%s' is %s, not ACTIVE: only an active image can be archived", digest,
                         image_status_name(st));
    struct active_parent a = {repo->id, "", 0};
    if ((rc = store_manifest_parents(repo->id, digest, note_active_parent, &a)) < 0)
        return rc;
    if (a.rc < 0)
        return a.rc;
    if (a.found[0])
        return error_set(E_CONFLICT, "image '%s' is referenced by the active manifest list '%s': archive the list first",
                         digest, a.found);
    if ((rc = store_image_set_status(repo->id, digest, IMAGE_ACTIVE, IMAGE_ARCHIVED, now_ms())) < 0)
        return rc;
    if (!blobstore_has_archive())
        return 0;
    char key[JOBS_KEY_MAX];
    restore_key(key, sizeof(key), repo->id, digest);
    return jobs_enqueue(MOVE_JOB, key, NULL, 0);
}

int image_archive(const struct repo *repo, const char *digest)
{
    bool own;
    int rc = image_tx_begin(&own, repo);
    if (rc < 0)
        return rc;
    return image_tx_end(own, archive_locked(repo, digest));
}

static void restore_key(char *out, size_t size, int64_t repo_id, const char *digest)
{
    snprintf(out, size, "%" PRId64 "/%s", repo_id, digest);
}

static int restore_locked(const struct repo *repo, const char *digest, enum image_status *status_out)
{
    struct image_record r;
    char key[JOBS_KEY_MAX];
    int rc = store_image_get(repo->id, digest, &r);
    if (rc < 0)
        return rc;
    enum image_status st = r.status;
    image_record_release(&r);
    if (st == IMAGE_ACTIVE)
        return error_set(E_UNSUPPORTED, "image '%s' is ACTIVE: only an archived image can be restored", digest);
    if (st == IMAGE_ARCHIVED && (rc = store_image_set_status(repo->id, digest, IMAGE_ARCHIVED, IMAGE_ACTIVATING, now_ms())) < 0)
        return rc;
    /* ACTIVATING already: enqueueing again keeps the one job */
    restore_key(key, sizeof(key), repo->id, digest);
    int64_t delay = image_limits()->restore_delay_ms;
    if ((rc = jobs_enqueue(RESTORE_JOB, key, NULL, delay > 0 ? now_ms() + delay : 0)) < 0)
        return rc;
    if (status_out)
        *status_out = IMAGE_ACTIVATING;
    return 0;
}

/* The status change and its job commit together: no image is left
 * ACTIVATING without the job that completes it. */
int image_restore(const struct repo *repo, const char *digest, enum image_status *status_out)
{
    bool own;
    int rc = image_tx_begin(&own, repo);
    if (rc < 0)
        return rc;
    return image_tx_end(own, restore_locked(repo, digest, status_out));
}

/* The digests of the blobs a manifest names, copied out so that no
 * statement stays open while their files are copied. */
struct blob_list {
    char (*digests)[DIGEST_MAX];
    size_t n, cap;
};

static int note_blob(void *ctx, const char *blob)
{
    struct blob_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->digests = xrealloc(l->digests, l->cap * sizeof(*l->digests));
    }
    snprintf(l->digests[l->n++], DIGEST_MAX, "%s", blob);
    return 0;
}

static enum image_status status_of(int64_t repo_id, const char *digest, int *rc_out)
{
    struct image_record r;
    *rc_out = store_image_get(repo_id, digest, &r);
    if (*rc_out < 0)
        return IMAGE_ACTIVE;
    enum image_status st = r.status;
    image_record_release(&r);
    return st;
}

int image_restore_finish(int64_t repo_id, const char *digest)
{
    struct blob_list l = {0};
    int rc = 0;
    if (blobstore_has_archive()) {
        /* the bytes first: an ACTIVE image's blobs are in the store */
        if (status_of(repo_id, digest, &rc) != IMAGE_ACTIVATING || rc < 0)
            return rc == E_NOTFOUND ? 0 : rc;
        if ((rc = store_manifest_blobs_each(repo_id, digest, note_blob, &l)) < 0)
            goto done;
        for (size_t i = 0; i < l.n; i++)
            if ((rc = blob_archive_return(l.digests[i])) < 0)
                goto done;
    }
    rc = store_image_set_status(repo_id, digest, IMAGE_ACTIVATING, IMAGE_ACTIVE, now_ms());
    if (rc == E_NOTFOUND)
        rc = 0;
done:
    free(l.digests);
    return rc;
}

/* Only a lookup that ran and said "only archived images" lets bytes move. */
static bool blob_wanted(void *ctx, const char *digest)
{
    (void)ctx;
    int rc = store_blob_live(digest);
    if (rc < 0 && rc != E_NOTFOUND)
        log_warn("archive: keeping '%s' in the store: %s", digest, error_message());
    return rc != 0;
}

int image_archive_move(int64_t repo_id, const char *digest)
{
    struct blob_list l = {0};
    int rc = 0;
    if (!blobstore_has_archive())
        return 0;
    /* restored (or deleted) since: nothing to move */
    if (status_of(repo_id, digest, &rc) != IMAGE_ARCHIVED || rc < 0)
        return rc == E_NOTFOUND ? 0 : rc;
    if ((rc = store_manifest_blobs_each(repo_id, digest, note_blob, &l)) < 0)
        goto done;
    for (size_t i = 0; i < l.n && rc >= 0; i++)
        rc = blob_archive_move(l.digests[i], blob_wanted, NULL);
done:
    free(l.digests);
    return rc < 0 ? rc : 0;
}

static void recall_one(const char *digest)
{
    /* the decision is only an optimisation: reads find the blob anyway */
    if (blob_where(digest) != BLOB_IN_ARCHIVE)
        return;
    if (jobs_enqueue(RETURN_JOB, digest, NULL, 0) < 0)
        log_warn("archive: cannot queue the return of '%s': %s", digest, error_message());
}

void image_archive_recall(const struct parsed_manifest *pm)
{
    if (!blobstore_has_archive() || pm->is_index)
        return;
    recall_one(pm->config.digest);
    for (size_t i = 0; i < pm->nlayers; i++)
        recall_one(pm->layers[i].digest);
}

static int return_job(const struct job *job, void *ctx)
{
    (void)ctx;
    if (digest_validate(slice_from(job->key), NULL) < 0)
        return 0; /* not a key this module makes */
    return blob_archive_return(job->key);
}

/* Splits a job key "<repo id>/<digest>"; false for keys this module does
 * not make. */
static bool parse_key(const char *key, int64_t *repo_id_out, const char **digest_out)
{
    char *end;
    const char *slash = strchr(key, '/');
    long long repo_id = strtoll(key, &end, 10);
    if (!slash || end != slash || repo_id <= 0)
        return false;
    *repo_id_out = (int64_t)repo_id;
    *digest_out = slash + 1;
    return true;
}

static int restore_job(const struct job *job, void *ctx)
{
    int64_t repo_id;
    const char *digest;
    (void)ctx;
    if (!parse_key(job->key, &repo_id, &digest))
        return 0; /* not a key this module makes: nothing to do, ever */
    return image_restore_finish(repo_id, digest);
}

static int move_job(const struct job *job, void *ctx)
{
    int64_t repo_id;
    const char *digest;
    (void)ctx;
    if (!parse_key(job->key, &repo_id, &digest))
        return 0;
    return image_archive_move(repo_id, digest);
}

int image_archive_register_jobs(void)
{
    int rc = jobs_register(RESTORE_JOB, restore_job, NULL);
    if (rc == 0)
        rc = jobs_register(MOVE_JOB, move_job, NULL);
    return rc < 0 ? rc : jobs_register(RETURN_JOB, return_job, NULL);
}

int image_pullable(const struct manifest *m)
{
    if (m->status == IMAGE_ARCHIVED)
        return error_set(E_NOTFOUND, "image '%s' is archived: restore it (UpdateImageStorageClass to STANDARD) to pull it",
                         m->digest);
    if (m->status == IMAGE_ACTIVATING)
        return error_set(E_NOTFOUND, "image '%s' is being restored from the archive and cannot be pulled until it is ACTIVE",
                         m->digest);
    return 0;
}
