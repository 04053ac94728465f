/*
 * This module implements deleting images, tags and blob links (image.h),
 * with one set of rules for every surface and job:
 *
 *   - an image that an index of the same repository lists cannot be
 *     deleted while the index is there (ECR's ImageReferencedByManifestList;
 *     /v2 answers 409), so no index ever serves a child that 404s;
 *   - a blob that an image of the repository uses cannot be unlinked from
 *     it, so no image ever lists a layer the repository cannot serve;
 *   - an artifact's subject is a soft reference, as the OCI spec has it: a
 *     subject may be deleted and its referrers stay.
 *
 * Each check runs in the same transaction as the delete it guards.
 */
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "events/events.h"
#include "image/image.h"
#include "image/internal.h"
#include "store/locks.h"

int image_tx_begin(bool *own, const struct repo *repo)
{
    *own = !store_in_transaction();
    if (!*own)
        return 0;
    return repo ? store_begin_repo(repo->id) : store_begin();
}

int image_tx_end(bool own, int rc)
{
    if (!own)
        return rc;
    if (rc == 0 && (rc = image_hook_run()) == 0 && (rc = store_commit()) == 0) {
        image_hook_committed();
        events_committed();
        return 0;
    }
    store_rollback();
    events_rolled_back();
    return rc;
}

static int list_digest(void *ctx, const char *digest)
{
    struct buf *b = ctx;
    buf_printf(b, "%s%s", b->len ? ", " : "", digest);
    return b->len > 4000; /* enough to name them in a message */
}

int image_parents(const struct repo *repo, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx)
{
    return store_manifest_parents(repo->id, digest, fn, ctx);
}

/* E_CONFLICT (detail naming the indexes) when an index of repo lists digest. */
static int check_unlisted(const struct repo *repo, const char *digest)
{
    struct buf parents;
    buf_init(&parents, 8192);
    int rc = store_manifest_parents(repo->id, digest, list_digest, &parents);
    if (rc == 0 && parents.len)
        rc = error_set(E_CONFLICT, "image '%s' is referenced by manifest list: [%s]", digest, parents.ptr);
    buf_release(&parents);
    return rc;
}

static int first_tag(void *ctx, const char *tag)
{
    snprintf(ctx, 512, "%s", tag);
    return 1;
}

/* Deletes the image; its event names tag (the one it was deleted by, NULL:
 * its first tag, if any). */
static int delete_locked(const struct repo *repo, const char *digest, const char *tag)
{
    char named[512] = "";
    int rc = check_unlisted(repo, digest);
    if (rc == 0 && !tag)
        rc = store_tags_of(repo->id, digest, first_tag, named);
    /* the manifest's tags, blob references and child links go with it */
    if (rc == 0)
        rc = store_manifest_delete(repo->id, digest);
    if (rc == 0)
        rc = events_image_action_locked(repo, "DELETE", "SUCCESS", digest, tag ? tag : named, NULL, NULL);
    return rc;
}

int image_delete(const struct repo *repo, const char *digest)
{
    bool own;
    int rc = image_tx_begin(&own, repo);
    if (rc < 0)
        return rc;
    return image_tx_end(own, delete_locked(repo, digest, NULL));
}

struct tag_count {
    const char *skip;
    int n;
};

static int count_other_tag(void *ctx, const char *tag)
{
    struct tag_count *c = ctx;
    if (strcmp(tag, c->skip) != 0)
        c->n++;
    return c->n > 0;
}

static int untag_locked(const struct repo *repo, const char *tag, bool delete_if_last, char digest[DIGEST_MAX])
{
    int rc = store_tag_resolve(repo->id, tag, digest);
    if (rc < 0)
        return rc;
    if (delete_if_last) {
        struct tag_count others = {tag, 0};
        if ((rc = store_tags_of(repo->id, digest, count_other_tag, &others)) < 0)
            return rc;
        if (others.n == 0)
            return delete_locked(repo, digest, tag);
    }
    if ((rc = store_tag_delete(repo->id, tag)) < 0)
        return rc;
    return events_image_action_locked(repo, "DELETE", "SUCCESS", digest, tag, NULL, NULL);
}

int image_untag(const struct repo *repo, const char *tag, bool delete_if_last, char digest_out[DIGEST_MAX])
{
    char digest[DIGEST_MAX];
    bool own;
    int rc = image_tx_begin(&own, repo);
    if (rc < 0)
        return rc;
    rc = image_tx_end(own, untag_locked(repo, tag, delete_if_last, digest));
    if (rc == 0 && digest_out)
        memcpy(digest_out, digest, DIGEST_MAX);
    return rc;
}

static int unlink_locked(const struct repo *repo, const char *digest)
{
    struct buf users;
    buf_init(&users, 8192);
    int rc = store_blob_users(repo->id, digest, 8, list_digest, &users);
    if (rc == 0 && users.len)
        rc = error_set(E_CONFLICT, "blob '%s' is used by image(s) [%s] of the repository; delete them first", digest,
                       users.ptr);
    buf_release(&users);
    return rc < 0 ? rc : store_blob_unlink(repo->id, digest);
}

int image_blob_unlink(const struct repo *repo, const char *digest)
{
    bool own;
    /* every writer excluded, not the repository's alone: a dropped link
     * queues its blob's GC review only when no other repository links the
     * blob, which two unlinks in two repositories would each see the
     * other's still-uncommitted link do */
    int rc = image_tx_begin(&own, NULL);
    if (rc < 0)
        return rc;
    return image_tx_end(own, unlink_locked(repo, digest));
}
