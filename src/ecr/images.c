/*
 * This module implements the image operations of the ECR control plane:
 * ListImages, DescribeImages, BatchGetImage, PutImage, BatchDeleteImage,
 * ListImageReferrers and UpdateImageStorageClass.
 *
 * ECR's unit of listing is the pair (digest, tag): ListImages and
 * BatchGetImage answer one entry per tag and an untagged image as its digest
 * alone, while DescribeImages answers one entry per manifest with all its
 * tags. PutImage goes through image_put(), the same path as a /v2 manifest
 * PUT; only the mapping of its failures to ECR's exceptions lives here.
 * Pages are cut one entry past maxResults so that a next page is known to
 * exist before a nextToken is handed out. Every listing reads one indexed
 * range of the store per page (store/images_ext.h): the tag and status
 * filters and an image's size are stored with it, so a page costs the same
 * at any repository size. UpdateImageStorageClass archives and restores
 * through the image service.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "ecr/ops.h"
#include "events/events.h"
#include "image/image.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "store/console.h"
#include "store/locks.h"
#include "store/scans.h"

#define REASON_MISSING "Invalid request parameters: both tag and digest cannot be null"
#define REASON_BAD_DIGEST "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
#define REASON_BAD_TAG "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'"
#define REASON_NOT_FOUND "Requested image not found"
#define REASON_MISMATCH "Invalid request parameters: given tag does not map to the given digest"
#define BAD_TOKEN "Invalid parameter at 'nextToken': the token is not valid"

/* ---- image identifiers ---- */

static json_t *image_id(const char *digest, const char *tag)
{
    json_t *o = json_object();
    if (digest)
        json_object_set_new(o, "imageDigest", json_string(digest));
    if (tag)
        json_object_set_new(o, "imageTag", json_string(tag));
    return o;
}

static const char *id_digest(json_t *id)
{
    return json_string_value(json_object_get(id, "imageDigest"));
}

static const char *id_tag(json_t *id)
{
    return json_string_value(json_object_get(id, "imageTag"));
}

/* ECR's form of an image digest: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+ (lookup
 * decides whether it names anything). */
static bool digest_form_ok(const char *z)
{
    const char *colon = strchr(z, ':');
    if (!colon || colon == z || !colon[1])
        return false;
    for (const char *p = z; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '+' && *p != '.')
            return false;
    for (const char *p = colon + 1; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

enum id_status { ID_OK, ID_MISSING, ID_BAD_DIGEST, ID_BAD_TAG, ID_NOT_FOUND, ID_MISMATCH, ID_ERROR /* the store failed */ };

/* Resolves an image identifier of the request to the digest it names. A tag
 * wins over a digest for lookup; both given must agree. */
static enum id_status resolve_id(int64_t repo_id, const char *digest, const char *tag, char out[DIGEST_MAX])
{
    if (!digest && !tag)
        return ID_MISSING;
    if (digest && !digest_form_ok(digest))
        return ID_BAD_DIGEST;
    if (tag && !tag_valid(slice_from(tag)))
        return ID_BAD_TAG;
    int rc;
    if (tag) {
        if ((rc = store_tag_resolve(repo_id, tag, out)) < 0)
            return rc == E_NOTFOUND ? ID_NOT_FOUND : ID_ERROR;
        return digest && strcmp(digest, out) != 0 ? ID_MISMATCH : ID_OK;
    }
    if (strlen(digest) >= DIGEST_MAX)
        return ID_NOT_FOUND;
    if ((rc = store_manifest_exists(repo_id, digest)) < 0)
        return rc == E_NOTFOUND ? ID_NOT_FOUND : ID_ERROR;
    snprintf(out, DIGEST_MAX, "%s", digest);
    return ID_OK;
}

static void add_failure(json_t *failures, const char *digest, const char *tag, const char *code, const char *reason)
{
    json_array_append_new(
        failures, json_pack("{s:o,s:s,s:s}", "imageId", image_id(digest, tag), "failureCode", code, "failureReason", reason));
}

/* The failure entry of a batch operation for an identifier that did not resolve. */
static void add_id_failure(json_t *failures, const char *digest, const char *tag, enum id_status st)
{
    switch (st) {
    case ID_MISSING:
        add_failure(failures, NULL, NULL, "MissingDigestAndTag", REASON_MISSING);
        break;
    case ID_BAD_DIGEST:
        add_failure(failures, digest, tag, "InvalidImageDigest", REASON_BAD_DIGEST);
        break;
    case ID_BAD_TAG:
        add_failure(failures, digest, tag, "InvalidImageTag", REASON_BAD_TAG);
        break;
    case ID_MISMATCH:
        add_failure(failures, digest, tag, "ImageTagDoesNotMatchDigest", REASON_MISMATCH);
        break;
    default:
        add_failure(failures, digest, tag, "ImageNotFound", REASON_NOT_FOUND);
        break;
    }
}

/* ---- filters and pages ---- */

enum tag_status { TS_ANY, TS_TAGGED, TS_UNTAGGED };

static enum tag_status tag_status_of(struct ecr_call *c)
{
    const char *s = json_string_value(json_object_get(json_object_get(c->in, "filter"), "tagStatus"));
    if (s && strcmp(s, "TAGGED") == 0)
        return TS_TAGGED;
    if (s && strcmp(s, "UNTAGGED") == 0)
        return TS_UNTAGGED;
    return TS_ANY;
}

/* The status filter named by key (imageStatus, artifactStatus); ACTIVE
 * when absent, as the model documents. The model has checked its value. */
static int status_filter_of(struct ecr_call *c, const char *key)
{
    const char *s = json_string_value(json_object_get(json_object_get(c->in, "filter"), key));
    int st = IMAGE_ACTIVE;
    if (s && image_status_parse(s, &st) < 0)
        st = IMAGE_ACTIVE;
    return st;
}

/* The page was collected with one entry too many when there is a next page:
 * drop it and hand out the key of the last entry kept as nextToken. */
static void finish_page(struct ecr_call *c, json_t *list, size_t max, void (*key)(char *out, size_t size, json_t *entry))
{
    if (json_array_size(list) <= max)
        return;
    while (json_array_size(list) > max)
        json_array_remove(list, json_array_size(list) - 1);
    char k[DIGEST_MAX + 320];
    key(k, sizeof(k), json_array_get(list, max - 1));
    ecr_set_next_token(c, k);
}

static int add_tag_string(void *ctx, const char *tag)
{
    json_array_append_new(ctx, json_string(tag));
    return 0;
}

/* The tags of an image, or NULL when the store fails. */
static json_t *tags_of(int64_t repo_id, const char *digest)
{
    json_t *tags = json_array();
    if (store_tags_of(repo_id, digest, add_tag_string, tags) < 0) {
        json_decref(tags);
        return NULL;
    }
    return tags;
}

/* ---- ListImages ---- */

struct list_images {
    int64_t repo_id;
    json_t *ids;
    size_t want;
};

static int add_tagged(void *ctx, const char *tag, const char *digest)
{
    struct list_images *l = ctx;
    json_array_append_new(l->ids, image_id(digest, tag));
    return json_array_size(l->ids) >= l->want;
}

static int add_untagged(void *ctx, const struct image_record *r)
{
    struct list_images *l = ctx;
    json_array_append_new(l->ids, image_id(r->m.digest, NULL));
    return json_array_size(l->ids) >= l->want;
}

/* Tagged entries come first in tag order ("t:<tag>"), then untagged images in
 * digest order ("u:<digest>"). */
static void list_images_key(char *out, size_t size, json_t *entry)
{
    if (id_tag(entry))
        snprintf(out, size, "t:%s", id_tag(entry));
    else
        snprintf(out, size, "u:%s", id_digest(entry));
}

int op_list_images(struct ecr_call *c)
{
    struct repo repo = {0};
    char *after = NULL;
    int max, rc = -1;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if (ecr_page(c, 100, 1000, &max, &after) < 0)
        goto done;
    if (after && strncmp(after, "t:", 2) != 0 && strncmp(after, "u:", 2) != 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, BAD_TOKEN);
        goto done;
    }
    enum tag_status ts = tag_status_of(c);
    int status = status_filter_of(c, "imageStatus");
    struct list_images l = {repo.id, json_array(), (size_t)max + 1};
    json_object_set_new(c->out, "imageIds", l.ids);
    bool in_untagged = after && after[0] == 'u';
    if (ts != TS_UNTAGGED && !in_untagged &&
        (rc = store_tagged_page(repo.id, status, after ? after + 2 : NULL, max + 1, add_tagged, &l)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if (ts != TS_TAGGED && json_array_size(l.ids) < l.want &&
        (rc = store_images_page(repo.id, TAGS_UNTAGGED, status, in_untagged ? after + 2 : NULL,
                                (int)(l.want - json_array_size(l.ids)), add_untagged, &l)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    finish_page(c, l.ids, (size_t)max, list_images_key);
    rc = 0;
done:
    free(after);
    repo_release(&repo);
    return rc;
}

/* ---- DescribeImages ---- */

/* The ImageDetail of r; takes the reference to tags. An index's size is
 * its largest child's, stored with it when it was put. */
static json_t *image_detail(const struct repo *repo, const struct image_record *r, json_t *tags)
{
    const struct manifest *m = &r->m;
    json_t *d = json_pack("{s:s,s:s,s:s}", "registryId", repo->account_id, "repositoryName", repo->name, "imageDigest", m->digest);
    if (json_array_size(tags))
        json_object_set_new(d, "imageTags", tags);
    else
        json_decref(tags);
    json_object_set_new(d, "imageSizeInBytes", json_integer((json_int_t)m->image_size));
    json_object_set_new(d, "imagePushedAt", ecr_time(m->pushed_ms));
    json_object_set_new(d, "imageManifestMediaType", json_string(m->media_type));
    if (m->config_media_type)
        json_object_set_new(d, "artifactMediaType", json_string(m->config_media_type));
    else if (m->artifact_type)
        json_object_set_new(d, "artifactMediaType", json_string(m->artifact_type));
    int64_t pulled = image_pull_time(repo->id, m->digest, m->last_pull_ms);
    if (pulled > 0)
        json_object_set_new(d, "lastRecordedPullTime", ecr_time(pulled));
    if (m->subject)
        json_object_set_new(d, "subjectManifestDigest", json_string(m->subject));
    json_object_set_new(d, "imageStatus", json_string(image_status_name(r->status)));
    if (r->archived_ms > 0)
        json_object_set_new(d, "lastArchivedAt", ecr_time(r->archived_ms));
    if (r->activated_ms > 0)
        json_object_set_new(d, "lastActivatedAt", ecr_time(r->activated_ms));
    struct scan_record scan;
    if (store_scan_get(repo->id, m->digest, &scan) == 0) {
        json_object_set_new(d, "imageScanStatus", ecr_scan_status(&scan));
        if (strcmp(scan.status, "COMPLETE") == 0)
            json_object_set_new(d, "imageScanFindingsSummary",
                                json_pack("{s:o,s:o,s:o}", "imageScanCompletedAt", ecr_time(scan.completed_at),
                                          "vulnerabilitySourceUpdatedAt", ecr_time(scan.source_updated_at),
                                          "findingSeverityCounts", ecr_severity_counts(&scan)));
        scan_record_release(&scan);
    }
    return d;
}

struct describe_images {
    const struct repo *repo;
    json_t *details;
    size_t want;
};

/* The record's tags (read with it) as a JSON array. */
static json_t *record_tags(const struct image_record *r)
{
    json_t *tags = json_array();
    for (const char *p = r->tags; p && *p;) {
        size_t n = strcspn(p, ",");
        json_array_append_new(tags, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return tags;
}

static int add_detail(void *ctx, const struct image_record *r)
{
    struct describe_images *d = ctx;
    json_array_append_new(d->details, image_detail(d->repo, r, record_tags(r)));
    return json_array_size(d->details) >= d->want;
}

static void describe_images_key(char *out, size_t size, json_t *entry)
{
    snprintf(out, size, "d:%s", json_string_value(json_object_get(entry, "imageDigest")));
}

/* The identifier as ECR's messages print it: {imageDigest:'null', imageTag:'x'}. */
static void format_image_id(char *out, size_t size, const char *digest, const char *tag)
{
    snprintf(out, size, "{imageDigest:'%s', imageTag:'%s'}", digest ? digest : "null", tag ? tag : "null");
}

static int describe_by_ids(struct ecr_call *c, const struct repo *repo, json_t *ids, json_t *details)
{
    json_t *seen = json_object();
    int rc = 0;
    for (size_t i = 0; i < json_array_size(ids) && rc == 0; i++) {
        json_t *id = json_array_get(ids, i);
        const char *digest = id_digest(id), *tag = id_tag(id);
        char resolved[DIGEST_MAX], shown[700];
        struct image_record m;
        enum id_status st = resolve_id(repo->id, digest, tag, resolved);
        int got = st == ID_OK ? store_image_get(repo->id, resolved, &m) : 0;
        bool seen_before = got == 0 && json_object_get(seen, resolved);
        json_t *tags = st == ID_OK && got == 0 && !seen_before ? record_tags(&m) : NULL;
        format_image_id(shown, sizeof(shown), digest, tag);
        if (st == ID_MISSING)
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter at 'imageIds' failed to satisfy constraint: 'both tag and digest cannot be null'");
        else if (st == ID_BAD_DIGEST)
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Member must satisfy regular "
                          "expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
        else if (st == ID_ERROR || (got < 0 && got != E_NOTFOUND) || (st == ID_OK && got == 0 && !seen_before && !tags))
            rc = ecr_fail_internal(c, E_ERROR);
        else if (st != ID_OK || got == E_NOTFOUND)
            rc = ecr_fail(c, ECR_IMAGE_NOT_FOUND,
                          "The image with imageId %s does not exist within the repository with name '%s' in the registry "
                          "with id '%s'",
                          shown, repo->name, repo->account_id);
        else if (tags) {
            json_object_set_new(seen, resolved, json_true());
            json_array_append_new(details, image_detail(repo, &m, tags));
            tags = NULL;
        }
        json_decref(tags);
        if (st == ID_OK && got == 0)
            image_record_release(&m);
    }
    json_decref(seen);
    return rc;
}

/* The console's Images tab, newest push first across the repository (a
 * berth extension of DescribeImages, read only from the console's session,
 * so the same action authorizes it, as ECR's console shows images): with
 * the header X-Berth-Image-Order: pushed-desc the pages are ranges of the
 * (repo_id, status, pushed_at, digest) index, with tokens of their own,
 * "p:<pushed ms>:<digest>" of the page's last image. */
struct by_push {
    char (*digests)[DIGEST_MAX];
    int64_t *pushed;
    size_t n;
};

static int by_push_row(void *ctx, const char *digest, int64_t pushed_ms)
{
    struct by_push *b = ctx;
    snprintf(b->digests[b->n], DIGEST_MAX, "%s", digest);
    b->pushed[b->n++] = pushed_ms;
    return 0;
}

static int describe_by_push(struct ecr_call *c, const struct repo *repo, int max, const char *after, json_t *details)
{
    struct by_push b = {xcalloc((size_t)max + 1, DIGEST_MAX), xcalloc((size_t)max + 1, sizeof(int64_t)), 0};
    int64_t after_ms = INT64_MAX;
    const char *after_digest = "";
    int rc = 0;
    if (after) {
        const char *colon = strncmp(after, "p:", 2) == 0 ? strchr(after + 2, ':') : NULL;
        uint64_t ms;
        if (!colon || parse_u64((struct slice){after + 2, (size_t)(colon - after - 2)}, INT64_MAX, &ms) < 0) {
            error_clear();
            rc = ecr_fail(c, ECR_INVALID_PARAMETER, BAD_TOKEN);
            goto done;
        }
        after_ms = (int64_t)ms;
        after_digest = colon + 1;
    }
    enum tag_status ts = tag_status_of(c);
    int status = status_filter_of(c, "imageStatus");
    rc = store_console_images_by_push(repo->id, status == IMAGE_STATUS_ANY ? NULL : image_status_name((enum image_status)status),
                                      ts == TS_TAGGED ? 1 : ts == TS_UNTAGGED ? -1 : 0, after_ms, after_digest, max + 1,
                                      by_push_row, &b);
    for (size_t i = 0; rc == 0 && i < b.n && i < (size_t)max; i++) {
        struct image_record r;
        rc = store_image_get(repo->id, b.digests[i], &r);
        if (rc == E_NOTFOUND) { /* deleted since the page was read */
            rc = 0;
            continue;
        }
        if (rc == 0) {
            json_array_append_new(details, image_detail(repo, &r, record_tags(&r)));
            image_record_release(&r);
        }
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if (b.n > (size_t)max) {
        char k[DIGEST_MAX + 40];
        snprintf(k, sizeof(k), "p:%lld:%s", (long long)b.pushed[max - 1], b.digests[max - 1]);
        ecr_set_next_token(c, k);
    }
done:
    free(b.digests);
    free(b.pushed);
    return rc;
}

int op_describe_images(struct ecr_call *c)
{
    struct repo repo = {0};
    char *after = NULL;
    int max, rc = -1;
    json_t *ids = json_object_get(c->in, "imageIds");
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    json_t *details = json_array();
    json_object_set_new(c->out, "imageDetails", details);
    if (ids) {
        if (json_object_get(c->in, "nextToken") || json_object_get(c->in, "maxResults"))
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter: nextToken and maxResults cannot be used when imageIds are given");
        else
            rc = describe_by_ids(c, &repo, ids, details);
        goto done;
    }
    if (ecr_page(c, 100, 1000, &max, &after) < 0)
        goto done;
    const char *order = c->console ? http_header(c->r, "X-Berth-Image-Order") : NULL;
    if (order && strcmp(order, "pushed-desc") != 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter: the image order is pushed-desc");
        goto done;
    }
    if (order) {
        rc = describe_by_push(c, &repo, max, after, details);
        goto done;
    }
    if (after && strncmp(after, "d:", 2) != 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, BAD_TOKEN);
        goto done;
    }
    enum tag_status ts = tag_status_of(c);
    enum tag_filter tf = ts == TS_TAGGED ? TAGS_TAGGED : ts == TS_UNTAGGED ? TAGS_UNTAGGED : TAGS_ANY;
    struct describe_images d = {&repo, details, (size_t)max + 1};
    if ((rc = store_images_page(repo.id, tf, status_filter_of(c, "imageStatus"), after ? after + 2 : NULL, max + 1, add_detail,
                                &d)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    finish_page(c, details, (size_t)max, describe_images_key);
    rc = 0;
done:
    free(after);
    repo_release(&repo);
    return rc;
}

/* ---- BatchGetImage ---- */

static bool media_type_accepted(json_t *accepted, const char *media_type)
{
    if (!json_is_array(accepted))
        return true;
    for (size_t i = 0; i < json_array_size(accepted); i++) {
        const char *t = json_string_value(json_array_get(accepted, i));
        if (t && strcmp(t, media_type) == 0)
            return true;
    }
    return false;
}

/* Adds one Image per (digest, tag) pair not already in the answer. */
static void add_image(const struct repo *repo, json_t *images, json_t *seen, const struct manifest *m, json_t *manifest_str,
                      const char *tag)
{
    char key[DIGEST_MAX + 320];
    snprintf(key, sizeof(key), "%s %s", m->digest, tag ? tag : "");
    if (json_object_get(seen, key))
        return;
    json_object_set_new(seen, key, json_true());
    json_array_append_new(images, json_pack("{s:s,s:s,s:o,s:O,s:s}", "registryId", repo->account_id, "repositoryName", repo->name,
                                            "imageId", image_id(m->digest, tag), "imageManifest", manifest_str,
                                            "imageManifestMediaType", m->media_type));
}

int op_batch_get_image(struct ecr_call *c)
{
    struct repo repo = {0};
    json_t *ids = json_object_get(c->in, "imageIds");
    json_t *accepted = json_object_get(c->in, "acceptedMediaTypes");
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    json_t *images = json_array(), *failures = json_array(), *seen = json_object();
    json_object_set_new(c->out, "images", images);
    json_object_set_new(c->out, "failures", failures);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        json_t *id = json_array_get(ids, i);
        const char *digest = id_digest(id), *tag = id_tag(id);
        char resolved[DIGEST_MAX];
        struct manifest m;
        enum id_status st = resolve_id(repo.id, digest, tag, resolved);
        int rc = st == ID_OK ? store_manifest_get(repo.id, resolved, true, &m) : 0;
        if (rc < 0)
            st = rc == E_NOTFOUND ? ID_NOT_FOUND : ID_ERROR;
        if (st == ID_ERROR) {
            json_decref(seen);
            repo_release(&repo);
            return ecr_fail_internal(c, E_ERROR);
        }
        if (st != ID_OK) {
            add_id_failure(failures, digest, tag, st);
            continue;
        }
        if (image_pullable(&m) < 0) {
            add_failure(failures, digest, tag, "ImageNotFound", error_message());
            manifest_release(&m);
            continue;
        }
        if (!media_type_accepted(accepted, m.media_type)) {
            char reason[400];
            snprintf(reason, sizeof(reason),
                     "Requested image not found in any of the accepted media types: its manifest is of type '%s'", m.media_type);
            add_failure(failures, digest, tag, "ImageNotFound", reason);
            manifest_release(&m);
            continue;
        }
        json_t *body = json_stringn(m.body, m.size);
        if (!body) {
            log_error("BatchGetImage: manifest %s of '%s' is not UTF-8", m.digest, repo.name);
            add_failure(failures, digest, tag, "ImageNotFound", REASON_NOT_FOUND);
            manifest_release(&m);
            continue;
        }
        if (tag) {
            add_image(&repo, images, seen, &m, body, tag);
        } else {
            json_t *tags = tags_of(repo.id, m.digest);
            if (!tags) {
                json_decref(body);
                manifest_release(&m);
                json_decref(seen);
                repo_release(&repo);
                return ecr_fail_internal(c, E_ERROR);
            }
            if (json_array_size(tags) == 0)
                add_image(&repo, images, seen, &m, body, NULL);
            for (size_t k = 0; k < json_array_size(tags); k++)
                add_image(&repo, images, seen, &m, body, json_string_value(json_array_get(tags, k)));
            json_decref(tags);
        }
        json_decref(body);
        image_record_pull(repo.id, m.digest, repo.account_id, c->who.arn, c->who.cache_gen);
        manifest_release(&m);
    }
    json_decref(seen);
    repo_release(&repo);
    return 0;
}

/* ---- PutImage ---- */

static int put_image_failure(struct ecr_call *c, const struct repo *repo, const struct image_put_result *res, int rc,
                             const char *manifest, size_t n, const char *tag)
{
    json_t *doc;
    switch (res->failure) {
    case IMG_INVALID:
        doc = json_loadb(manifest, n, 0, NULL);
        if (!doc)
            return ecr_fail(c, ECR_INVALID_PARAMETER,
                            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'");
        json_decref(doc);
        return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'ImageManifest' failed to satisfy constraint: '%s'",
                        error_message());
    case IMG_DIGEST_MISMATCH:
        return ecr_fail(c, ECR_IMAGE_DIGEST_DOES_NOT_MATCH,
                        "The image digest '%s' does not match the digest '%s' that Amazon ECR calculated for the image manifest",
                        ecr_str(c, "imageDigest"), res->digest);
    case IMG_BLOB_UNKNOWN:
        return ecr_fail(c, ECR_LAYERS_NOT_FOUND,
                        "Layers with digests '[%s]' required for pushing image into repository with name '%s' in the registry "
                        "with id '%s' do not exist",
                        res->missing, repo->name, repo->account_id);
    case IMG_MANIFEST_UNKNOWN:
        return ecr_fail(c, ECR_REFERENCED_IMAGES_NOT_FOUND,
                        "Images with digests '[%s]' referenced by the manifest list do not exist in the repository with name "
                        "'%s' in the registry with id '%s'",
                        res->missing, repo->name, repo->account_id);
    case IMG_TAG_IMMUTABLE:
        /* image_put words it as ECR does, for both surfaces */
        return ecr_fail(c, ECR_IMAGE_TAG_ALREADY_EXISTS, "%s", error_message());
    case IMG_LIMIT:
        return ecr_fail(c, ECR_LIMIT_EXCEEDED, "%s", error_message());
    default:
        return ecr_fail_internal(c, rc);
    }
}

/* PutImage's answer, and its audit record in the image service's
 * transaction of the put (its commit hook): a put of an image that exists
 * already is an error, recorded as such when it is answered. */
struct put_answer {
    struct image_commit_hook hook;
    struct ecr_call *c;
    const struct repo *repo;
    const struct image_put_result *res;
    json_t *manifest;
    const char *tag;
    bool recorded;
};

static void put_image_answer(struct put_answer *a)
{
    json_object_set_new(a->c->out, "image",
                        json_pack("{s:s,s:s,s:o,s:O,s:s}", "registryId", a->repo->account_id, "repositoryName", a->repo->name,
                                  "imageId", image_id(a->res->digest, a->tag), "imageManifest", a->manifest,
                                  "imageManifestMediaType", a->res->media_type));
}

static int put_image_record(void *ctx)
{
    struct put_answer *a = ctx;
    if (a->res->failure == IMG_ALREADY_EXISTS)
        return 0;
    put_image_answer(a);
    a->recorded = true;
    return ecr_audit_in_transaction(a->c, "PutImage");
}

int op_put_image(struct ecr_call *c)
{
    struct repo repo = {0};
    struct image_put_result res = {0};
    json_t *jm = json_object_get(c->in, "imageManifest");
    const char *manifest = json_string_value(jm);
    size_t n = json_string_length(jm);
    const char *tag = ecr_str(c, "imageTag");
    const char *digest = ecr_str(c, "imageDigest");
    int rc;

    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if (tag && !tag_valid(slice_from(tag))) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                      "Invalid parameter at 'imageTag' failed to satisfy constraint: 'Member must satisfy regular expression "
                      "pattern: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'");
        goto done;
    }
    if (digest && digest_validate(slice_from(digest), NULL) < 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'imageDigest' failed to satisfy constraint: '%s'",
                      error_message());
        goto done;
    }
    struct put_answer answer = {{put_image_record, NULL, false}, c, &repo, &res, jm, tag, false};
    answer.hook.ctx = &answer;
    if (audit_enabled())
        image_commit_hook_set(&answer.hook);
    rc = image_put(&res, &repo, manifest, n, ecr_str(c, "imageManifestMediaType"), tag, digest);
    image_commit_hook_set(NULL);
    if (rc < 0) {
        rc = put_image_failure(c, &repo, &res, rc, manifest, n, tag);
        goto done;
    }
    if (res.failure == IMG_ALREADY_EXISTS) {
        if (tag)
            rc = ecr_fail(c, ECR_IMAGE_ALREADY_EXISTS,
                          "Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry "
                          "with id '%s'",
                          res.digest, tag, repo.name, repo.account_id);
        else
            rc = ecr_fail(c, ECR_IMAGE_ALREADY_EXISTS,
                          "Image with digest '%s' already exists in the repository with name '%s' in registry with id '%s'",
                          res.digest, repo.name, repo.account_id);
        goto done;
    }
    c->audited = answer.recorded && answer.hook.committed;
    if (!answer.recorded)
        put_image_answer(&answer);
    rc = 0;
done:
    repo_release(&repo);
    return rc;
}

/* ---- BatchDeleteImage ---- */

static int add_parent(void *ctx, const char *parent)
{
    struct buf *b = ctx;
    buf_printf(b, "%s%s", b->len ? ", " : "", parent);
    return 0;
}

static int add_referenced_failure(json_t *failures, const struct repo *repo, const char *digest, const char *tag,
                                  const char *image)
{
    struct buf parents, reason;
    buf_init(&parents, 16 * 1024);
    buf_init(&reason, 20 * 1024);
    int rc = image_parents(repo, image, add_parent, &parents);
    if (rc == 0) {
        buf_printf(&reason, "Requested image referenced by manifest list: [%s]", parents.ptr);
        add_failure(failures, digest, tag, "ImageReferencedByManifestList", reason.ptr);
    }
    buf_release(&parents);
    buf_release(&reason);
    return rc;
}

struct deletion {
    const struct repo *repo;
    json_t *deleted; /* the answer's imageIds */
    json_t *failures;
    json_t *reported;     /* "digest tag" pairs already in deleted */
    json_t *gone;         /* digests deleted by this request */
    json_t *removed_tags; /* tags removed by this request */
};

static void report_deleted(struct deletion *d, const char *digest, const char *tag)
{
    char key[DIGEST_MAX + 320];
    snprintf(key, sizeof(key), "%s %s", digest, tag ? tag : "");
    if (json_object_get(d->reported, key))
        return;
    json_object_set_new(d->reported, key, json_true());
    if (tag)
        json_object_set_new(d->removed_tags, tag, json_true());
    json_array_append_new(d->deleted, image_id(digest, tag));
}

/* Deleting by digest removes the image with all its tags, unless an index
 * still lists it (the image service's rule). */
static int delete_image(struct deletion *d, const char *req_digest, const char *image)
{
    int rc;
    if (json_object_get(d->gone, image))
        return 0;
    json_t *tags = tags_of(d->repo->id, image);
    if (!tags)
        return E_ERROR;
    rc = image_delete(d->repo, image);
    if (rc == E_CONFLICT || rc == E_NOTFOUND) {
        json_decref(tags);
        if (rc == E_CONFLICT)
            return add_referenced_failure(d->failures, d->repo, req_digest, NULL, image);
        add_failure(d->failures, req_digest, NULL, "ImageNotFound", REASON_NOT_FOUND);
        return 0;
    }
    if (rc < 0) {
        json_decref(tags);
        return rc;
    }
    json_object_set_new(d->gone, image, json_true());
    if (json_array_size(tags) == 0)
        report_deleted(d, image, NULL);
    for (size_t i = 0; i < json_array_size(tags); i++)
        report_deleted(d, image, json_string_value(json_array_get(tags, i)));
    json_decref(tags);
    return 0;
}

/* Deleting by tag removes the tag; removing an image's last tag deletes the
 * image, which an index that lists it forbids. */
static int delete_tag(struct deletion *d, const char *req_digest, const char *tag, const char *image)
{
    char named[DIGEST_MAX];
    if (json_object_get(d->gone, image))
        return 0;
    int rc = image_untag(d->repo, tag, true, named);
    if (rc == E_CONFLICT)
        return add_referenced_failure(d->failures, d->repo, req_digest, tag, image);
    if (rc < 0)
        return rc;
    /* whether the image went too: it is gone once no tag names it */
    if ((rc = store_manifest_exists(d->repo->id, image)) < 0 && rc != E_NOTFOUND)
        return rc;
    if (rc == E_NOTFOUND)
        json_object_set_new(d->gone, image, json_true());
    report_deleted(d, image, tag);
    return 0;
}

int op_batch_delete_image(struct ecr_call *c)
{
    struct repo repo = {0};
    json_t *ids = json_object_get(c->in, "imageIds");
    int rc = 0;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    struct deletion d = {&repo, json_array(), json_array(), json_object(), json_object(), json_object()};
    json_object_set_new(c->out, "imageIds", d.deleted);
    json_object_set_new(c->out, "failures", d.failures);
    if ((rc = store_begin_repo(repo.id)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(ids) && rc == 0; i++) {
        json_t *id = json_array_get(ids, i);
        const char *digest = id_digest(id), *tag = id_tag(id);
        char image[DIGEST_MAX];
        enum id_status st = resolve_id(repo.id, digest, tag, image);
        if (st == ID_ERROR) {
            rc = E_ERROR;
            break;
        }
        /* an identifier whose image or tag this request already removed is not a failure */
        if (st == ID_NOT_FOUND && tag && json_object_get(d.removed_tags, tag))
            continue;
        if (st == ID_NOT_FOUND && digest && !tag && json_object_get(d.gone, digest))
            continue;
        if (st != ID_OK)
            add_id_failure(d.failures, digest, tag, st);
        else if (tag)
            rc = delete_tag(&d, digest, tag, image);
        else
            rc = delete_image(&d, digest, image);
    }
    /* the record goes with the deletions, answering what c->out says */
    if (rc < 0 || (rc = ecr_audit_in_transaction(c, "BatchDeleteImage")) < 0 || (rc = store_commit()) < 0) {
        store_rollback();
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    c->audited = audit_enabled();
    events_committed(); /* wakes the delivery of the deletions' events */
    rc = 0;
done:
    json_decref(d.reported);
    json_decref(d.gone);
    json_decref(d.removed_tags);
    repo_release(&repo);
    return rc;
}

/* ---- ListImageReferrers ---- */

struct referrers {
    json_t *list;
    json_t *types; /* filter.artifactTypes, or NULL */
    size_t want;
    char cursor[DIGEST_MAX];
    int rows;
};

static int add_referrer(void *ctx, const struct image_record *rec)
{
    struct referrers *r = ctx;
    const struct manifest *m = &rec->m;
    const char *type = m->artifact_type ? m->artifact_type : m->config_media_type;
    snprintf(r->cursor, sizeof(r->cursor), "%s", m->digest);
    r->rows++;
    if (json_array_size(r->types)) {
        bool hit = false;
        for (size_t i = 0; i < json_array_size(r->types) && !hit; i++)
            hit = type && strcmp(type, json_string_value(json_array_get(r->types, i))) == 0;
        if (!hit)
            return 0;
    }
    json_t *d = json_pack("{s:s,s:s,s:I}", "digest", m->digest, "mediaType", m->media_type, "size", (json_int_t)m->size);
    if (type)
        json_object_set_new(d, "artifactType", json_string(type));
    json_t *ann = rec->annotations ? json_loads(rec->annotations, 0, NULL) : NULL;
    if (json_is_object(ann) && json_object_size(ann)) {
        json_t *out = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(ann, k, v)
        {
            if (json_is_string(v))
                json_object_set(out, k, v);
        }
        json_object_set_new(d, "annotations", out);
    }
    json_decref(ann);
    json_object_set_new(d, "artifactStatus", json_string(image_status_name(rec->status)));
    json_array_append_new(r->list, d);
    return json_array_size(r->list) >= r->want;
}

static void referrers_key(char *out, size_t size, json_t *entry)
{
    snprintf(out, size, "r:%s", json_string_value(json_object_get(entry, "digest")));
}

int op_list_image_referrers(struct ecr_call *c)
{
    struct repo repo = {0};
    char *after = NULL;
    int max, rc = -1;
    const char *subject = json_string_value(json_object_get(json_object_get(c->in, "subjectId"), "imageDigest"));
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    json_t *list = json_array();
    json_object_set_new(c->out, "referrers", list);
    if (ecr_page(c, 20, 50, &max, &after) < 0)
        goto done;
    if (after && strncmp(after, "r:", 2) != 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, BAD_TOKEN);
        goto done;
    }
    if (!subject || digest_validate(slice_from(subject), NULL) < 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                      "Invalid parameter at 'subjectId.imageDigest' failed to satisfy constraint: '%s'", error_message());
        goto done;
    }
    struct referrers r = {list, json_object_get(json_object_get(c->in, "filter"), "artifactTypes"), (size_t)max + 1, "", 0};
    int status = status_filter_of(c, "artifactStatus");
    snprintf(r.cursor, sizeof(r.cursor), "%s", after ? after + 2 : "");
    /* a page of the subject index at a time, until the type filter has
     * kept a page's worth */
    do {
        r.rows = 0;
        rc = store_referrers_page(repo.id, subject, status, r.cursor, max + 1, add_referrer, &r);
    } while (rc == 0 && r.rows == max + 1 && json_array_size(list) < r.want);
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    finish_page(c, list, (size_t)max, referrers_key);
    rc = 0;
done:
    free(after);
    repo_release(&repo);
    return rc;
}

/* ---- one image, for the operations that name one (StartImageScan, ...) ---- */

int ecr_image_lookup(struct ecr_call *c, const struct repo *repo, json_t *id, char digest_out[DIGEST_MAX])
{
    const char *digest = id_digest(id), *tag = id_tag(id);
    char shown[700];
    enum id_status st = resolve_id(repo->id, digest, tag, digest_out);
    format_image_id(shown, sizeof(shown), digest, tag);
    switch (st) {
    case ID_OK:
        return 0;
    case ID_MISSING:
        return ecr_fail(c, ECR_INVALID_PARAMETER,
                        "Invalid parameter at 'imageId' failed to satisfy constraint: 'both tag and digest cannot be null'");
    case ID_BAD_DIGEST:
        return ecr_fail(c, ECR_INVALID_PARAMETER,
                        "Invalid parameter at 'imageDigest' failed to satisfy constraint: 'Member must satisfy regular "
                        "expression pattern: [a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'");
    case ID_ERROR:
        return ecr_fail_internal(c, E_ERROR);
    default:
        return ecr_fail(c, ECR_IMAGE_NOT_FOUND,
                        "The image with imageId %s does not exist within the repository with name '%s' in the registry "
                        "with id '%s'",
                        shown, repo->name, repo->account_id);
    }
}

/* ---- UpdateImageStorageClass ---- */

/* ARCHIVE moves an ACTIVE image to the archive; STANDARD starts restoring
 * an archived one (it answers ACTIVATING; the image service completes the
 * restore in the background). Asking an image for the class it is in or
 * moving to is ImageStorageClassUpdateNotSupportedException, as is
 * archiving an image that an active index lists. */
int op_update_image_storage_class(struct ecr_call *c)
{
    struct repo repo = {0};
    json_t *id = json_object_get(c->in, "imageId");
    const char *target = ecr_str(c, "targetStorageClass");
    char image[DIGEST_MAX], shown[700];
    enum image_status status = IMAGE_ARCHIVED;
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = ecr_image_lookup(c, &repo, id, image)) < 0)
        goto done;
    if (strcmp(target, "ARCHIVE") == 0)
        rc = image_archive(&repo, image);
    else
        rc = image_restore(&repo, image, &status);
    format_image_id(shown, sizeof(shown), id_digest(id), id_tag(id));
    if (rc == E_NOTFOUND) /* deleted meanwhile */
        rc = ecr_fail(c, ECR_IMAGE_NOT_FOUND,
                      "The image with imageId %s does not exist within the repository with name '%s' in the registry with id "
                      "'%s'",
                      shown, repo.name, repo.account_id);
    else if (rc == E_UNSUPPORTED || rc == E_CONFLICT)
        rc = ecr_fail(c, ECR_IMAGE_STORAGE_CLASS_UPDATE_NOT_SUPPORTED, "%s", error_message());
    else if (rc < 0)
        rc = ecr_fail_internal(c, rc);
    if (rc < 0)
        goto done;
    json_object_set_new(c->out, "registryId", json_string(repo.account_id));
    json_object_set_new(c->out, "repositoryName", json_string(repo.name));
    json_object_set_new(c->out, "imageId", image_id(image, id_tag(id)));
    json_object_set_new(c->out, "imageStatus", json_string(image_status_name(status)));
    rc = 0;
done:
    repo_release(&repo);
    return rc;
}
