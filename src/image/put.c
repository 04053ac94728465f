/*
 * This module implements putting an image (image_put() of image.h) and the
 * tag-immutability rule. The manifest is hashed and parsed before the
 * write's transaction opens; everything that depends on other rows (the
 * blobs and child manifests it references, the tag it moves, the quotas)
 * is checked inside it, so a concurrent delete or GC cannot commit between
 * the check and the write.
 */
#include "image/image.h"

#include <errno.h>
#include <pthread.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "image/internal.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "image/scanning.h"
#include "jobs/jobs.h"
#include "store/locks.h"

/* Does tag match one of the repository's exclusion filters (WILDCARD,
 * '*' matching any run of characters)? */
static bool matches_exclusion(const struct repo *repo, const char *tag)
{
    if (!repo->mutability_filters)
        return false;
    json_t *arr = json_loads(repo->mutability_filters, 0, NULL);
    bool hit = false;
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr) && !hit; i++) {
        const char *f = json_string_value(json_object_get(json_array_get(arr, i), "filter"));
        hit = f && fnmatch(f, tag, 0) == 0;
    }
    json_decref(arr);
    return hit;
}

bool image_tag_immutable(const struct repo *repo, const char *tag)
{
    const char *m = repo->tag_mutability ? repo->tag_mutability : "MUTABLE";
    if (strcmp(m, "IMMUTABLE") == 0)
        return true;
    if (strcmp(m, "IMMUTABLE_WITH_EXCLUSION") == 0)
        return !matches_exclusion(repo, tag);
    if (strcmp(m, "MUTABLE_WITH_EXCLUSION") == 0)
        return matches_exclusion(repo, tag);
    return false;
}

/* A test's hook for the store's locking (tests/integration/test_pg_locks.py,
 * test_defer.py): with BERTH_TEST_PUT_HOLD="TAG=MS" in the environment
 * (read once), a put of exactly that tag waits MS milliseconds in its open
 * transaction before it commits, holding its locks. */
static char hold_tag[TAG_MAX + 1];
static long hold_ms;
static pthread_once_t hold_once = PTHREAD_ONCE_INIT;

static void hold_read(void)
{
    const char *z = getenv("BERTH_TEST_PUT_HOLD");
    const char *eq = z ? strrchr(z, '=') : NULL;
    char *end;
    if (!eq || (size_t)(eq - z) > TAG_MAX)
        return;
    long ms = strtol(eq + 1, &end, 10);
    if (*end || ms <= 0 || ms > 60000)
        return;
    snprintf(hold_tag, sizeof(hold_tag), "%.*s", (int)(eq - z), z);
    hold_ms = ms;
}

static void test_hold(const char *tag)
{
    pthread_once(&hold_once, hold_read);
    if (!hold_ms || !tag || strcmp(tag, hold_tag) != 0)
        return;
    log_warn("test hook: holding the put of tag '%s' for %ld ms", tag, hold_ms);
    struct timespec ts = {hold_ms / 1000, hold_ms % 1000 * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int fail(struct image_put_result *out, enum image_failure f, int rc)
{
    out->failure = f;
    return rc;
}

/* Every blob and child manifest pm names must be in the repository. */
static int check_references(struct image_put_result *out, const struct repo *repo, const struct parsed_manifest *pm,
                            struct manifest_ref *refs, size_t *nrefs)
{
    size_t n = 0;
    if (!pm->is_index) {
        for (size_t i = 0; i <= pm->nlayers; i++) {
            const struct descriptor *d = i == 0 ? &pm->config : &pm->layers[i - 1];
            uint64_t size;
            int rc;
            if (d->foreign)
                continue;
            if ((rc = store_blob_linked(repo->id, d->digest, &size)) < 0 && rc != E_NOTFOUND)
                return fail(out, IMG_INTERNAL, rc);
            if (rc == E_NOTFOUND) {
                snprintf(out->missing, sizeof(out->missing), "%s", d->digest);
                return fail(out, IMG_BLOB_UNKNOWN, error_set(E_NOTFOUND, "blob unknown to registry: %s", d->digest));
            }
            if (size != d->size)
                return fail(out, IMG_INVALID,
                            error_set(E_INVALID, "size of blob %s is %llu, not %llu as the manifest says", d->digest,
                                      (unsigned long long)size, (unsigned long long)d->size));
            refs[n++] = (struct manifest_ref){d->digest, false};
        }
    }
    for (size_t i = 0; i < pm->nmanifests; i++) {
        int rc = store_manifest_exists(repo->id, pm->manifests[i].digest);
        if (rc < 0 && rc != E_NOTFOUND)
            return fail(out, IMG_INTERNAL, rc);
        if (rc == E_NOTFOUND) {
            snprintf(out->missing, sizeof(out->missing), "%s", pm->manifests[i].digest);
            return fail(out, IMG_MANIFEST_UNKNOWN,
                        error_set(E_NOTFOUND, "manifest unknown to repository: %s", pm->manifests[i].digest));
        }
        refs[n++] = (struct manifest_ref){pm->manifests[i].digest, true};
    }
    *nrefs = n;
    return 0;
}

/* What a put keeps beside the manifest: a referrer's annotations, for
 * ListImageReferrers; and an archived image pushed again is ACTIVE at
 * once, as in ECR. */
static int after_put(const struct repo *repo, const struct parsed_manifest *pm, const char *digest, bool exists)
{
    int rc = 0;
    if (!exists && pm->has_subject && pm->annotations_json)
        rc = store_image_set_annotations(repo->id, digest, pm->annotations_json);
    if (rc == 0 && exists) {
        int64_t now = now_ms();
        if ((rc = store_image_set_status(repo->id, digest, IMAGE_ARCHIVED, IMAGE_ACTIVE, now)) == E_NOTFOUND)
            rc = store_image_set_status(repo->id, digest, IMAGE_ACTIVATING, IMAGE_ACTIVE, now);
        if (rc == E_NOTFOUND)
            rc = 0;
    }
    return rc;
}

/* A push refused by a rule of the repository (an immutable tag, a quota)
 * is reported with result FAILURE, as ECR does, after its rollback; the
 * refusal stays the error the caller reports. */
static void report_refusal(const struct repo *repo, const struct image_put_result *out, const char *tag, int rc)
{
    if (out->failure != IMG_TAG_IMMUTABLE && out->failure != IMG_LIMIT)
        return;
    char *why = xstrdup(error_message());
    if (events_image_action(repo, "PUSH", "FAILURE", out->digest, tag) < 0)
        log_warn("event of a refused push to %s: %s", repo->name, error_message());
    error_set(rc, "%s", why);
    free(why);
}

int image_put(struct image_put_result *out, const struct repo *repo, const char *body, size_t n, const char *content_type,
              const char *tag, const char *expect_digest)
{
    struct parsed_manifest pm;
    struct manifest m;
    struct manifest_ref *refs = NULL;
    size_t nrefs = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    if (expect_digest && strncmp(expect_digest, "sha512:", 7) == 0) {
        struct hasher h;
        hasher_init(&h, DIGEST_SHA512);
        hasher_update(&h, body, n);
        hasher_final(&h, out->digest);
    } else {
        digest_sha256(out->digest, body, n);
    }
    if (expect_digest && strcmp(expect_digest, out->digest) != 0)
        return fail(out, IMG_DIGEST_MISMATCH,
                    error_set(E_MISMATCH, "manifest digest %s does not match the content's digest %s", expect_digest,
                              out->digest));
    if ((rc = manifest_parse(&pm, body, n, content_type)) < 0)
        return fail(out, IMG_INVALID, rc);
    out->media_type = pm.media_type;
    if (pm.has_subject)
        snprintf(out->subject, sizeof(out->subject), "%s", pm.subject.digest);

    refs = xcalloc(pm.nlayers + pm.nmanifests + 1, sizeof(*refs));
    /* the repository's writers one at a time; other repositories' go on */
    if ((rc = store_begin_repo(repo->id)) < 0) {
        fail(out, IMG_INTERNAL, rc);
        goto done;
    }
    if ((rc = check_references(out, repo, &pm, refs, &nrefs)) < 0)
        goto rollback;
    rc = store_manifest_exists(repo->id, out->digest);
    if (rc < 0 && rc != E_NOTFOUND) {
        fail(out, IMG_INTERNAL, rc);
        goto rollback;
    }
    bool exists = rc == 0;
    int64_t count;
    if (tag) {
        char current[DIGEST_MAX];
        if ((rc = store_tag_resolve(repo->id, tag, current)) < 0 && rc != E_NOTFOUND) {
            fail(out, IMG_INTERNAL, rc);
            goto rollback;
        }
        bool tagged = rc == 0;
        bool immutable = false, whole = false;
        /* a tag moves: the repository's mutability as committed now (the
         * caller's copy was read before this transaction; a change of it
         * excludes every writer, so it cannot commit before ours does) */
        if (tagged && strcmp(current, out->digest) != 0) {
            struct repo now;
            memset(&now, 0, sizeof(now));
            if ((rc = store_repo_get_by_id(repo->id, &now)) < 0) {
                fail(out, IMG_INTERNAL, rc);
                goto rollback;
            }
            immutable = image_tag_immutable(&now, tag);
            whole = now.tag_mutability && strcmp(now.tag_mutability, "IMMUTABLE") == 0;
            repo_release(&now);
        }
        if (tagged && strcmp(current, out->digest) == 0) {
            out->failure = IMG_ALREADY_EXISTS; /* not an error on /v2; ECR reports it */
        } else if (immutable) {
            rc = fail(out, IMG_TAG_IMMUTABLE,
                      error_set(E_EXISTS,
                                "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because "
                                "the %s is immutable.",
                                tag, repo->name, whole ? "repository" : "tag"));
            goto rollback;
        }
        if (image_limits()->max_tags && !(tagged && strcmp(current, out->digest) == 0) &&
            (rc = store_tag_count_for(repo->id, out->digest, &count)) < 0) {
            fail(out, IMG_INTERNAL, rc);
            goto rollback;
        }
        if (image_limits()->max_tags && !(tagged && strcmp(current, out->digest) == 0) && count >= image_limits()->max_tags) {
            rc = fail(out, IMG_LIMIT,
                      error_set(E_TOOBIG, "the image already has the maximum of %lld tags", (long long)image_limits()->max_tags));
            goto rollback;
        }
    } else if (exists) {
        out->failure = IMG_ALREADY_EXISTS;
    }
    if (!exists && image_limits()->max_images && (rc = store_manifest_count(repo->id, &count)) < 0) {
        fail(out, IMG_INTERNAL, rc);
        goto rollback;
    }
    if (!exists && image_limits()->max_images && count >= image_limits()->max_images) {
        rc = fail(out, IMG_LIMIT,
                  error_set(E_TOOBIG, "the repository already has the maximum of %lld images", (long long)image_limits()->max_images));
        goto rollback;
    }
    m = (struct manifest){0};
    memcpy(m.digest, out->digest, sizeof(m.digest));
    m.media_type = (char *)pm.media_type;
    m.artifact_type = pm.artifact_type;
    m.config_media_type = pm.is_index ? NULL : pm.config.media_type;
    m.subject = pm.has_subject ? pm.subject.digest : NULL;
    m.size = n;
    m.image_size = pm.image_size;
    m.body = (char *)body;
    /* an index is as large as the largest image it lists (ECR's definition),
     * kept with it so that listings never read its children */
    if (pm.is_index && !exists && (rc = store_index_image_size(repo->id, refs, nrefs, &m.image_size)) < 0) {
        fail(out, IMG_INTERNAL, rc);
        goto rollback;
    }
    int queued = 0;
    bool changed = out->failure != IMG_ALREADY_EXISTS;
    test_hold(tag);
    if ((rc = store_manifest_put(repo->id, &m, refs, nrefs, tag)) < 0 || (rc = after_put(repo, &pm, out->digest, exists)) < 0 ||
        (!exists && (queued = rc = image_scan_on_push_locked(repo, &m)) < 0) ||
        (changed && (rc = events_image_action_locked(repo, "PUSH", "SUCCESS", out->digest, tag, m.media_type,
                                                     m.artifact_type ? m.artifact_type : m.config_media_type)) < 0) ||
        (rc = image_hook_run()) < 0 || (rc = store_commit()) < 0) {
        fail(out, IMG_INTERNAL, rc);
        goto rollback;
    }
    image_hook_committed();
    events_committed();
    if (queued > 0)
        jobs_kick();
    image_archive_recall(&pm);
    out->created = !exists;
    rc = 0;
    goto done;
rollback:
    store_rollback();
    events_rolled_back();
    report_refusal(repo, out, tag, rc);
done:
    free(refs);
    parsed_manifest_release(&pm);
    return rc;
}
