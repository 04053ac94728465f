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
 * The bytes of an archived image stay where they are: berth has no slower
 * tier to move them to (an archive location for blobs is not implemented).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "image/image.h"
#include "image/internal.h"
#include "jobs/jobs.h"

#define RESTORE_JOB "image-restore"

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
    return store_image_set_status(repo->id, digest, IMAGE_ACTIVE, IMAGE_ARCHIVED, now_ms());
}

int image_archive(const struct repo *repo, const char *digest)
{
    bool own;
    int rc = image_tx_begin(&own);
    if (rc < 0)
        return rc;
    return image_tx_end(own, archive_locked(repo, digest));
}

static void restore_key(char *out, size_t size, int64_t repo_id, const char *digest)
{
    snprintf(out, size, "%" PRId64 "/%s", repo_id, digest);
}

int image_restore(const struct repo *repo, const char *digest, enum image_status *status_out)
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
    if (st == IMAGE_ARCHIVED) {
        rc = store_image_set_status(repo->id, digest, IMAGE_ARCHIVED, IMAGE_ACTIVATING, now_ms());
        if (rc == E_NOTFOUND) /* a concurrent restore or delete won: say what it is now */
            return image_restore(repo, digest, status_out);
        if (rc < 0)
            return rc;
    }
    /* ACTIVATING already: enqueueing again keeps the one job */
    restore_key(key, sizeof(key), repo->id, digest);
    int64_t delay = image_limits()->restore_delay_ms;
    if ((rc = jobs_enqueue(RESTORE_JOB, key, NULL, delay > 0 ? now_ms() + delay : 0)) < 0)
        return rc;
    if (status_out)
        *status_out = IMAGE_ACTIVATING;
    return 0;
}

int image_restore_finish(int64_t repo_id, const char *digest)
{
    int rc = store_image_set_status(repo_id, digest, IMAGE_ACTIVATING, IMAGE_ACTIVE, now_ms());
    return rc == E_NOTFOUND ? 0 : rc;
}

static int restore_job(const struct job *job, void *ctx)
{
    (void)ctx;
    char *end;
    const char *slash = strchr(job->key, '/');
    long long repo_id = strtoll(job->key, &end, 10);
    if (!slash || end != slash || repo_id <= 0)
        return 0; /* not a key this module makes: nothing to do, ever */
    return image_restore_finish((int64_t)repo_id, slash + 1);
}

int image_archive_register_jobs(void)
{
    return jobs_register(RESTORE_JOB, restore_job, NULL);
}

int image_pullable(int64_t repo_id, const char *digest)
{
    struct image_record r;
    int rc = store_image_get(repo_id, digest, &r);
    if (rc < 0)
        return rc;
    enum image_status st = r.status;
    image_record_release(&r);
    if (st == IMAGE_ARCHIVED)
        return error_set(E_NOTFOUND, "image '%s' is archived: restore it (UpdateImageStorageClass to STANDARD) to pull it",
                         digest);
    if (st == IMAGE_ACTIVATING)
        return error_set(E_NOTFOUND, "image '%s' is being restored from the archive and cannot be pulled until it is ACTIVE",
                         digest);
    return 0;
}
