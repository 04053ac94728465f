/*
 * This module implements /v2/<name>/manifests/<reference>: GET and HEAD with
 * Accept negotiation, PUT with validation of everything a manifest refers
 * to, and DELETE of a manifest (by digest) or of a tag. The digest of a
 * manifest is over the exact bytes received, and those bytes are what GET
 * returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "registry/internal.h"
#include "image/manifest.h"
#include "registry/registry.h"

static bool is_digest_ref(const char *ref)
{
    return strchr(ref, ':') != NULL;
}

/* Checks the reference's form; answers and returns false when bad. */
static bool check_reference(struct request *r, const char *ref)
{
    if (is_digest_ref(ref)) {
        if (digest_validate(slice_from(ref), NULL) < 0) {
            reg_error(r, RE_DIGEST_INVALID, error_message());
            return false;
        }
        return true;
    }
    if (!tag_valid(slice_from(ref))) {
        reg_error(r, RE_TAG_INVALID, "invalid tag");
        return false;
    }
    return true;
}

struct accept_list {
    char types[16][128];
    int n;
    bool any;
};

static int collect_accept(void *ctx, const char *k, const char *v)
{
    struct accept_list *a = ctx;
    if (strcasecmp(k, "Accept") != 0)
        return 0;
    const char *p = v;
    while (*p && a->n < 16) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",;");
        size_t tl = len;
        while (tl && p[tl - 1] == ' ')
            tl--;
        if (tl) {
            if ((tl == 3 && strncmp(p, "*/*", 3) == 0) || (tl == 13 && strncmp(p, "application/*", 13) == 0))
                a->any = true;
            else if (tl < sizeof(a->types[0]))
                snprintf(a->types[a->n++], sizeof(a->types[0]), "%.*s", (int)tl, p);
        }
        p += len;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

static bool accepted(const struct accept_list *a, const char *type)
{
    if (a->any || a->n == 0)
        return true;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->types[i], type) == 0)
            return true;
    return false;
}

/* For a client that cannot take an index: the linux/amd64 image in it, as
 * Distribution does for pulls by tag. */
static int pick_platform_child(int64_t repo_id, const struct manifest *index, const struct accept_list *a,
                               struct manifest *out)
{
    struct parsed_manifest pm;
    int rc = manifest_parse(&pm, index->body, index->size, index->media_type);
    if (rc < 0)
        return rc;
    rc = E_NOTFOUND;
    for (size_t i = 0; i < pm.nmanifests; i++) {
        if (!pm.manifests[i].platform || strcmp(pm.manifests[i].platform, "linux/amd64") != 0 ||
            !accepted(a, pm.manifests[i].media_type))
            continue;
        rc = store_manifest_get(repo_id, pm.manifests[i].digest, true, out);
        break;
    }
    parsed_manifest_release(&pm);
    return rc;
}

void manifests_get(struct request *r)
{
    struct v2 *v = r->state;
    char digest[DIGEST_MAX];
    struct manifest m;
    int rc;
    /* a reference that cannot exist is simply not found (the OCI
     * conformance suite asks for 404 here; PUT says what is wrong) */
    bool by_tag = !is_digest_ref(v->ref);
    if (by_tag ? !tag_valid(slice_from(v->ref)) : digest_validate(slice_from(v->ref), NULL) < 0) {
        reg_error(r, RE_MANIFEST_UNKNOWN, NULL);
        return;
    }
    if (by_tag) {
        if ((rc = store_tag_resolve(v->repo.id, v->ref, digest)) < 0) {
            if (rc == E_NOTFOUND)
                reg_error(r, RE_MANIFEST_UNKNOWN, NULL);
            else
                reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
            return;
        }
    } else {
        snprintf(digest, sizeof(digest), "%.*s", DIGEST_MAX - 1, v->ref);
    }
    if ((rc = store_manifest_get(v->repo.id, digest, true, &m)) < 0) {
        if (rc == E_NOTFOUND)
            reg_error(r, RE_MANIFEST_UNKNOWN, NULL);
        else
            reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
        return;
    }
    /* an archived image is not pulled: 404, as ECR answers */
    if ((rc = image_pullable(&m)) < 0) {
        manifest_release(&m);
        reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
        return;
    }
    struct accept_list acc = {0};
    http_header_each(r, collect_accept, &acc);
    /* by digest the stored bytes are the answer, whatever Accept says */
    if (by_tag && !accepted(&acc, m.media_type)) {
        struct manifest child;
        if ((strcmp(m.media_type, MT_DOCKER_LIST) == 0 || strcmp(m.media_type, MT_OCI_INDEX) == 0) &&
            pick_platform_child(v->repo.id, &m, &acc, &child) == 0) {
            manifest_release(&m);
            m = child;
            if ((rc = image_pullable(&m)) < 0) {
                manifest_release(&m);
                reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
                return;
            }
        } else {
            char msg[256];
            snprintf(msg, sizeof(msg), "manifest of type '%s' found, but the Accept header does not allow it", m.media_type);
            manifest_release(&m);
            reg_error(r, RE_MANIFEST_UNKNOWN, msg);
            return;
        }
    }
    http_respond(r, 200, m.media_type, m.body, m.size);
    char etag[DIGEST_MAX + 3];
    snprintf(etag, sizeof(etag), "\"%s\"", m.digest);
    reg_common_headers(r);
    http_set_header(r, "Docker-Content-Digest", m.digest);
    http_set_header(r, "ETag", etag);
    if (strcmp(r->method, "GET") == 0)
        image_record_pull(v->repo.id, m.digest, v->repo.account_id, v->who.arn, v->who.cache_gen);
    manifest_release(&m);
}

void manifests_put_begin(struct request *r)
{
    struct v2 *v = r->state;
    if (!check_reference(r, v->ref))
        return;
    /* An oversized manifest is read and dropped, then answered 413: a
     * client that sends the whole body before reading gets the answer
     * instead of a reset connection. */
    r->body_mode = BODY_BUFFER;
    r->body.max = MANIFEST_MAX_BYTES;
}

void manifests_put_finish(struct request *r)
{
    struct v2 *v = r->state;
    struct image_put_result res = {0};

    if (r->body_error) {
        if (r->body_error == E_TOOBIG)
            reg_error(r, RE_MANIFEST_TOO_BIG, "manifest is larger than the 4 MiB limit");
        else
            reg_error_from(r, r->body_error, RE_MANIFEST_INVALID);
        return;
    }
    const char *tag = is_digest_ref(v->ref) ? NULL : v->ref;
    reg_audit_hook(r, 201, res.digest);
    int rc = image_put(&res, &v->repo, r->body.ptr, r->body.len, http_header(r, "Content-Type"), tag,
                       is_digest_ref(v->ref) ? v->ref : NULL);
    reg_audit_unhook();
    if (rc < 0) {
        switch (res.failure) {
        case IMG_DIGEST_MISMATCH:
            reg_error(r, RE_DIGEST_INVALID, error_message());
            break;
        case IMG_BLOB_UNKNOWN:
            reg_error(r, RE_MANIFEST_BLOB_UNKNOWN, error_message());
            break;
        case IMG_MANIFEST_UNKNOWN:
            reg_error(r, RE_MANIFEST_UNKNOWN, error_message());
            break;
        case IMG_TAG_IMMUTABLE:
            reg_error(r, RE_TAG_INVALID, error_message());
            break;
        case IMG_LIMIT:
            reg_error(r, RE_DENIED, error_message());
            break;
        case IMG_INVALID:
            reg_error(r, RE_MANIFEST_INVALID, error_message());
            break;
        default:
            reg_error_from(r, rc, RE_MANIFEST_INVALID);
            break;
        }
        return;
    }
    char loc[600];
    snprintf(loc, sizeof(loc), "/v2/%s/manifests/%s", v->name, res.digest);
    reg_json(r, 201, NULL, "", 0);
    http_set_header(r, "Location", loc);
    http_set_header(r, "Docker-Content-Digest", res.digest);
    if (res.subject[0])
        http_set_header(r, "OCI-Subject", res.subject);
}

void manifests_delete(struct request *r)
{
    struct v2 *v = r->state;
    int rc;
    if (!check_reference(r, v->ref))
        return;
    /* by digest the image goes (unless an index lists it: 409); by tag
     * only the tag, as the spec has it */
    reg_audit_hook(r, 202, NULL);
    if (is_digest_ref(v->ref))
        rc = image_delete(&v->repo, v->ref);
    else
        rc = image_untag(&v->repo, v->ref, false, NULL);
    reg_audit_unhook();
    if (rc < 0) {
        reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
        return;
    }
    reg_json(r, 202, NULL, "", 0);
}
