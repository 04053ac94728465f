/*
 * This module implements the layer operations of the ECR control plane:
 * BatchCheckLayerAvailability, GetDownloadUrlForLayer, and the layer upload
 * in three steps, InitiateLayerUpload, UploadLayerPart and CompleteLayerUpload.
 *
 * An ECR layer upload is an upload session of the image service
 * (image/image.h), so a layer is verified, made durable and linked exactly
 * as a /v2 upload is, and either protocol may continue a session the other
 * started.
 *
 * UploadLayerPart carries its bytes base64-encoded inside the JSON body (up
 * to 28 MiB of it), and the body is not held in memory: the dispatcher
 * feeds it to a struct layer_part as it arrives, which decodes
 * layerPartBlob (part_stream.h) into a spool, an unnamed file in the
 * uploads directory. Only when the signature, the input and every check of
 * the part have passed does part_sink() append the spool to the session;
 * a refused part never touches the session, whatever order the members of
 * its JSON came in, and a failed or abandoned request leaves no file.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "ecr/part_stream.h"
#include "ecr/ops.h"
#include "image/image.h"

/* What InitiateLayerUpload advises: ECR answers 10485760 (its 10 MiB
 * "maximum layer part size" quota); the model lets a part be 20 MiB, and
 * that is what UploadLayerPart accepts. */
#define PART_SIZE_ADVISED 10485760
/* GetDownloadUrlForLayer's URLs last an hour, as ECR's (X-Amz-Expires=3600). */
#define DOWNLOAD_URL_SECONDS 3600

static int64_t max_parts(void)
{
    return image_limits()->max_parts;
}

static int64_t max_layer_mb(void)
{
    return (int64_t)(image_limits()->max_blob_bytes >> 20);
}

static int fail_upload_not_found(struct ecr_call *c, const struct repo *repo, const char *id)
{
    return ecr_fail(c, ECR_UPLOAD_NOT_FOUND,
                    "The upload with id '%s' does not exist in the repository with name '%s' in the registry with id '%s'", id,
                    repo->name, c->registry_id);
}

/* The upload session id of the input, checked to belong to the repository. */
static int find_session(struct ecr_call *c, const struct repo *repo, const char **id_out)
{
    const char *id = ecr_str(c, "uploadId");
    *id_out = id ? id : "";
    int rc = id ? store_upload_get(id, repo->id) : E_NOTFOUND;
    if (rc == E_NOTFOUND)
        return fail_upload_not_found(c, repo, *id_out);
    return rc < 0 ? ecr_fail_internal(c, rc) : 0;
}

/* Opens the session for writing; answers the error and returns <0 if it can't. */
static int open_session(struct ecr_call *c, const struct repo *repo, const char *id, enum ecr_error busy_type, struct upload *out)
{
    int rc = image_upload_open(out, repo, id);
    if (rc == E_NOTFOUND)
        return fail_upload_not_found(c, repo, id);
    if (rc == E_EXISTS)
        return ecr_fail(c, busy_type,
                        "The upload with id '%s' in the repository with name '%s' in the registry with id '%s' is being "
                        "written by another request; retry when it has finished",
                        id, repo->name, c->registry_id);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    return 0;
}

int op_batch_check_layer_availability(struct ecr_call *c)
{
    struct repo repo;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    json_t *digests = json_object_get(c->in, "layerDigests");
    json_t *layers = json_array(), *failures = json_array();
    json_t *v;
    size_t i;
    int rc = 0;
    json_array_foreach(digests, i, v)
    {
        const char *d = json_string_value(v);
        uint64_t size;
        if (!d || !*d) {
            json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "layerDigest", "", "failureCode", "MissingLayerDigest",
                                                      "failureReason", "The layer digest is missing"));
            continue;
        }
        if (digest_validate(slice_from(d), NULL) < 0) {
            char reason[300];
            snprintf(reason, sizeof(reason), "Invalid layer digest: %s", error_message());
            json_array_append_new(failures, json_pack("{s:s,s:s,s:s}", "layerDigest", d, "failureCode", "InvalidLayerDigest",
                                                      "failureReason", reason));
            continue;
        }
        /* a layer that is not there is UNAVAILABLE, not a failure: clients
         * (the ECR containerd resolver among them) upload it on that answer
         * and treat a failure as an error. mediaType is left out: the store
         * does not record the media type a manifest gave a blob, and a guess
         * from the bytes would be worse than nothing. */
        rc = image_blob_check(&repo, d, true, &size);
        if (rc == E_NOTFOUND) {
            json_array_append_new(layers, json_pack("{s:s,s:s}", "layerDigest", d, "layerAvailability", "UNAVAILABLE"));
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        json_array_append_new(
            layers, json_pack("{s:s,s:s,s:I}", "layerDigest", d, "layerAvailability", "AVAILABLE", "layerSize", (json_int_t)size));
    }
    repo_release(&repo);
    if (rc < 0) {
        json_decref(layers);
        json_decref(failures);
        return ecr_fail_internal(c, rc);
    }
    json_object_set_new(c->out, "layers", layers);
    json_object_set_new(c->out, "failures", failures);
    return 0;
}

int op_get_download_url_for_layer(struct ecr_call *c)
{
    struct repo repo;
    const char *d = ecr_str(c, "layerDigest");
    uint64_t size;
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    d = d ? d : "";
    if (digest_validate(slice_from(d), NULL) < 0) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'layerDigest' failed to satisfy constraint: '%s'",
                      error_message());
        goto done;
    }
    rc = store_blob_linked(repo.id, d, &size);
    if (rc == E_NOTFOUND) {
        rc = ecr_fail(c, ECR_LAYERS_NOT_FOUND,
                      "The layer with digest '%s' does not exist in the repository with name '%s' in the registry with id '%s'", d,
                      repo.name, c->registry_id);
        goto done;
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    /* linked in the metadata but its bytes are gone (collected, lost) */
    if ((rc = image_blob_present(d)) < 0) {
        log_warn("GetDownloadUrlForLayer: %s", error_message());
        rc = ecr_fail(c, ECR_LAYER_INACCESSIBLE,
                      "The layer with digest '%s' in the repository with name '%s' in the registry with id '%s' is not available",
                      d, repo.name, c->registry_id);
        goto done;
    }

    char host[300], query[600], url[4096];
    if (c->layer_max) {
        /* the console asks for the bytes (ecr_serve_layer_as) */
        if (size > c->layer_max) {
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "The layer with digest '%s' is %" PRIu64 " bytes; the console reads layers of at most %" PRIu64
                          " bytes",
                          d, size, c->layer_max);
            goto done;
        }
        if ((rc = image_blob_open_range(d, 0, size, &c->layer_fd, &c->layer_size)) < 0) {
            log_warn("GetDownloadUrlForLayer: %s", error_message());
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        c->layer_size = size;
        json_object_set_new(c->out, "layerDigest", json_string(d));
        goto done;
    }
    if (image_blobs_remote()) {
        /* as ECR hands out S3 URLs: the object store serves the bytes */
        if ((rc = image_blob_url(url, sizeof(url), d, DOWNLOAD_URL_SECONDS)) < 0) {
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        json_object_set_new(c->out, "downloadUrl", json_string(url));
        json_object_set_new(c->out, "layerDigest", json_string(d));
        goto done;
    }
    ecr_registry_host(host, sizeof(host), c, c->registry_id);
    auth_presign_blob(query, sizeof(query), &c->who, c->registry_id, repo.name, d, now_ms() / 1000 + DOWNLOAD_URL_SECONDS);
    snprintf(url, sizeof(url), "%s://%s/v2/%s/blobs/%s?%s", c->r->secure ? "https" : "http", host, repo.name, d, query);
    json_object_set_new(c->out, "downloadUrl", json_string(url));
    json_object_set_new(c->out, "layerDigest", json_string(d));
done:
    repo_release(&repo);
    return rc;
}

int op_initiate_layer_upload(struct ecr_call *c)
{
    struct repo repo;
    char id[37];
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = image_upload_start(id, &repo)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set_new(c->out, "uploadId", json_string(id));
    json_object_set_new(c->out, "partSize", json_integer(PART_SIZE_ADVISED));
done:
    repo_release(&repo);
    return rc;
}

/* InvalidLayerPartException for a part that does not continue the upload. */
static int fail_part(struct ecr_call *c, const struct repo *repo, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_part(struct ecr_call *c, const struct repo *repo, const char *id, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* the exception carries where the upload stands (the model's fields) */
    uint64_t size = 0;
    image_upload_size(repo, id, &size);
    json_decref(c->err_extra);
    c->err_extra = json_pack("{s:s,s:s,s:s,s:I}", "registryId", c->registry_id, "repositoryName", repo->name, "uploadId", id,
                             "lastValidByteReceived", (json_int_t)(size ? size - 1 : 0));
    return ecr_fail(c, ECR_INVALID_LAYER_PART,
                    "The layer part for the upload with id '%s' in the repository with name '%s' in the registry with id '%s' "
                    "is not valid: %s",
                    id, repo->name, c->registry_id, what);
}

/* ---- UploadLayerPart, streamed ---- */

struct layer_part {
    struct part_stream ps;
    int spool; /* the decoded bytes so far; -1 until the first */
};

static int spool_write(void *ctx, const void *data, size_t n)
{
    struct layer_part *p = ctx;
    const char *b = data;
    if (p->spool < 0) {
        int fd = image_upload_spool();
        if (fd < 0)
            return fd;
        p->spool = fd;
    }
    while (n) {
        ssize_t w = write(p->spool, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return error_set(E_ERROR, "cannot write a layer part's spool file: %s", w < 0 ? strerror(errno) : "short write");
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

struct layer_part *layer_part_new(void)
{
    struct layer_part *p = xmalloc(sizeof(*p));
    p->spool = -1;
    part_stream_init(&p->ps, "layerPartBlob", spool_write, p);
    return p;
}

void layer_part_feed(struct layer_part *p, const char *data, size_t n)
{
    part_stream_feed(&p->ps, data, n);
}

int layer_part_input(struct layer_part *p, json_t **out)
{
    return part_stream_finish(&p->ps, out);
}

int layer_part_validate(struct layer_part *p, int input_shape)
{
    const struct model_shape *in = &ecr_shapes[input_shape];
    if (!p->ps.streamed)
        return 0;
    for (size_t i = 0; i < in->nmembers; i++) {
        if (strcmp(in->members[i].name, "layerPartBlob") != 0)
            continue;
        /* the model validator's rule for a blob, over the string it never saw:
         * 3 bytes per 4 characters, less the padding */
        const struct model_shape *s = &ecr_shapes[in->members[i].shape];
        uint64_t len = p->ps.str_len;
        int64_t n = (int64_t)(len / 4 * 3) - (len >= 1 && p->ps.tail[1] == '=') - (len >= 2 && p->ps.tail[0] == '=');
        if (s->has_min && n < s->min)
            return error_set(E_INVALID,
                             "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'Member must have length "
                             "greater than or equal to %lld'",
                             (long long)s->min);
        if (s->has_max && n > s->max)
            return error_set(E_INVALID,
                             "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'Member must have length "
                             "less than or equal to %lld'",
                             (long long)s->max);
    }
    return 0;
}

void layer_part_free(struct layer_part *p)
{
    if (!p)
        return;
    if (p->spool >= 0)
        close(p->spool);
    part_stream_release(&p->ps);
    free(p);
}

/*
 * Where an accepted part goes: opens the session, checks that the part
 * continues it, appends the len spooled bytes and waits until they are in
 * the file. The only code here that writes to a session; *end_out is the
 * session's length afterwards. Answers the error and returns <0 when the
 * part is refused or cannot be written.
 */
static int part_sink(struct ecr_call *c, const struct repo *repo, const char *id, uint64_t first, int spool, uint64_t len,
                     uint64_t *end_out)
{
    struct upload u;
    char *b = NULL;
    uint64_t off = 0;
    int rc = 0;
    if ((rc = open_session(c, repo, id, ECR_INVALID_LAYER_PART, &u)) < 0)
        return rc;
    if (first != u.offset) {
        if (u.offset == 0)
            rc = fail_part(c, repo, id, "no byte has been received yet, so the part must start at byte 0, not %" PRIu64, first);
        else
            rc = fail_part(c, repo, id, "the first byte %" PRIu64 " is not consecutive to the last byte received, %" PRIu64, first,
                           u.offset - 1);
        goto done;
    }
    b = xmalloc(PART_STREAM_BATCH);
    while (off < len) {
        size_t want = len - off < PART_STREAM_BATCH ? (size_t)(len - off) : PART_STREAM_BATCH;
        ssize_t n = pread(spool, b, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = error_set(E_ERROR, "cannot read a layer part's spool file: %s", n < 0 ? strerror(errno) : "it is short");
            break;
        }
        if ((rc = image_upload_append(&u, b, (size_t)n)) < 0)
            break;
        off += (uint64_t)n;
    }
    /* the part is answered only once it is in the file, so a write error
     * is reported for the part that caused it */
    if (rc < 0 || (rc = image_upload_flush(&u)) < 0) {
        /* what reached the file stays; the running hash is recomputed from it */
        image_upload_forget(u.id);
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if ((rc = image_upload_touch(id, true)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    *end_out = u.offset;
done:
    image_upload_close(&u);
    free(b);
    return rc;
}

int op_upload_layer_part(struct ecr_call *c)
{
    struct layer_part *p = c->part;
    struct repo repo;
    const char *id;
    uint64_t end = 0;
    int rc;
    assert(p != NULL); /* the dispatcher streams every UploadLayerPart */
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = find_session(c, &repo, &id)) < 0)
        goto done;

    json_int_t first = json_integer_value(json_object_get(c->in, "partFirstByte"));
    json_int_t last = json_integer_value(json_object_get(c->in, "partLastByte"));
    if (last < first) {
        rc = fail_part(c, &repo, id, "the last byte %" PRId64 " is before the first byte %" PRId64, (int64_t)last, (int64_t)first);
        goto done;
    }
    if (p->ps.str_len > 0 && !p->ps.base64_ok) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                      "Invalid parameter at 'layerPartBlob' failed to satisfy constraint: 'Member must be base64-encoded "
                      "binary'");
        goto done;
    }
    uint64_t len = p->ps.decoded;
    if (p->ps.emit_error) {
        rc = ecr_fail_internal(c, p->ps.emit_error);
        goto done;
    }
    if (len != (uint64_t)(last - first) + 1) {
        rc = fail_part(c, &repo, id, "its size %" PRIu64 " does not match the byte range of %" PRId64 " bytes", len,
                       (int64_t)(last - first) + 1);
        goto done;
    }
    if ((uint64_t)last >= (uint64_t)max_layer_mb() << 20) {
        rc = ecr_fail(c, ECR_LIMIT_EXCEEDED,
                      "The layer of the upload with id '%s' would exceed the maximum layer size of %" PRId64 " MiB", id,
                      max_layer_mb());
        goto done;
    }
    int64_t parts = 0;
    if ((rc = image_upload_parts(id, &parts)) < 0) {
        rc = rc == E_NOTFOUND ? fail_upload_not_found(c, &repo, id) : ecr_fail_internal(c, rc);
        goto done;
    }
    if (max_parts() && parts >= max_parts()) {
        rc = ecr_fail(c, ECR_LIMIT_EXCEEDED,
                      "The upload with id '%s' has reached the maximum number of layer parts, %" PRId64, id, max_parts());
        goto done;
    }
    if ((rc = part_sink(c, &repo, id, (uint64_t)first, p->spool, len, &end)) < 0)
        goto done;
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "repositoryName", json_string(repo.name));
    json_object_set_new(c->out, "uploadId", json_string(id));
    json_object_set_new(c->out, "lastByteReceived", json_integer((json_int_t)end - 1));
done:
    repo_release(&repo);
    return rc;
}

int op_complete_layer_upload(struct ecr_call *c)
{
    struct repo repo;
    struct upload u;
    bool open = false, existed = false;
    const char *id;
    uint64_t size;
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    json_t *digests = json_object_get(c->in, "layerDigests");
    const char *want = json_string_value(json_array_get(digests, 0));
    if (json_array_size(digests) != 1 || !want) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                      "Invalid parameter at 'layerDigests' failed to satisfy constraint: 'Member must contain exactly one "
                      "layer digest'");
        goto done;
    }
    if ((rc = find_session(c, &repo, &id)) < 0)
        goto done;
    if (digest_validate(slice_from(want), NULL) < 0) {
        rc = ecr_fail(c, ECR_INVALID_LAYER,
                      "The layer digest '%s' cannot be verified for the upload with id '%s' in the repository with name '%s' "
                      "in the registry with id '%s': %s",
                      want, id, repo.name, c->registry_id, error_message());
        goto done;
    }
    if ((rc = open_session(c, &repo, id, ECR_INVALID_PARAMETER, &u)) < 0)
        goto done;
    open = true;
    if (u.offset == 0) {
        rc = ecr_fail(c, ECR_EMPTY_UPLOAD,
                      "The upload with id '%s' in the repository with name '%s' in registry with id '%s' cannot be completed "
                      "because it does not have any parts",
                      id, repo.name, c->registry_id);
        goto done;
    }
    /* verified, durable, visible and linked as a /v2 upload is, or the
     * session is kept */
    rc = image_upload_commit(&u, &repo, want, &size, &existed);
    open = upload_is_open(&u); /* a commit that got as far as the rename consumed the session */
    if (rc == E_MISMATCH) {
        rc = ecr_fail(c, ECR_INVALID_LAYER,
                      "The layer digest '%s' does not match the content of the upload with id '%s' in the repository with "
                      "name '%s' in the registry with id '%s' (its sha256 digest is '%s')",
                      want, id, repo.name, c->registry_id, u.content_digest);
        goto done;
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if (existed) {
        rc = ecr_fail(c, ECR_LAYER_ALREADY_EXISTS,
                      "The layer with digest '%s' already exists in the repository with name '%s' in the registry with id '%s'",
                      want, repo.name, c->registry_id);
        goto done;
    }
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "repositoryName", json_string(repo.name));
    json_object_set_new(c->out, "uploadId", json_string(id));
    json_object_set_new(c->out, "layerDigest", json_string(want));
    rc = 0;
done:
    if (open)
        image_upload_close(&u);
    repo_release(&repo);
    return rc;
}
