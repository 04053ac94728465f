/*
 * This module implements blob reads and deletes: GET and HEAD (with Range)
 * and DELETE of /v2/<name>/blobs/<digest>. A repository serves only blobs
 * linked to it, even when the bytes are on disk for another repository.
 *
 * On an object store (--blob-store s3://) a GET answers 307 with a
 * presigned URL of the object, as ECR does with S3, and the client takes
 * the bytes (and its Range) from there; with --blob-redirect off berth
 * fetches the range asked for and streams it. A HEAD is answered from the
 * blob's record either way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "image/image.h"
#include "registry/internal.h"
#include "registry/range.h"

/* Validates the request's digest; answers and returns <0 when bad. */
static int check_digest(struct request *r, const char *digest)
{
    int rc = digest_validate(slice_from(digest), NULL);
    if (rc < 0)
        reg_error(r, RE_DIGEST_INVALID, error_message());
    return rc;
}

/* How long a redirect's presigned URL works: enough to start the
 * download (S3 checks it when the GET begins), short enough not to be a
 * lasting credential. */
#define REDIRECT_SECONDS 600

static void blob_headers(struct request *r, const char *digest)
{
    char etag[DIGEST_MAX + 3];
    snprintf(etag, sizeof(etag), "\"%s\"", digest);
    reg_common_headers(r);
    http_set_header(r, "Docker-Content-Digest", digest);
    http_set_header(r, "ETag", etag);
    http_set_header(r, "Accept-Ranges", "bytes");
}

/* A GET or HEAD of a blob in the object store, whose size the record says. */
static void get_remote(struct request *r, const char *digest, uint64_t size)
{
    uint64_t first = 0, last = size ? size - 1 : 0;
    bool head = strcmp(r->method, "HEAD") == 0, partial = false;
    const char *range = http_header(r, "Range");
    int fd = -1, rc;
    if (!head && reg_blob_redirect()) {
        char url[4096];
        if ((rc = image_blob_url(url, sizeof(url), digest, REDIRECT_SECONDS)) < 0) {
            reg_error_from(r, rc, RE_BLOB_UNKNOWN);
            return;
        }
        reg_json(r, 307, NULL, "", 0);
        http_set_header(r, "Location", url);
        http_set_header(r, "Docker-Content-Digest", digest);
        return;
    }
    if (range) {
        rc = range_parse(slice_from(range), size, &first, &last);
        if (rc == E_RANGE) {
            char cr[64];
            reg_error(r, RE_RANGE_INVALID, "requested range not satisfiable");
            snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
            http_set_header(r, "Content-Range", cr);
            return;
        }
        partial = rc == 0;
    }
    uint64_t len = size ? last - first + 1 : 0;
    if (head) {
        /* the length without the bytes: nothing is read for a HEAD */
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    } else if (len > 0 && (rc = image_blob_open_range(digest, first, len, &fd, &size)) < 0) {
        log_error("blob '%s': %s", digest, error_message());
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
        return;
    } else if (len == 0) {
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        reg_error_from(r, E_ERROR, RE_BLOB_UNKNOWN);
        return;
    }
    http_respond_fd(r, partial ? 206 : 200, "application/octet-stream", fd, 0, len);
    if (partial) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
        http_set_header(r, "Content-Range", cr);
    }
    blob_headers(r, digest);
    http_set_header(r, "Cache-Control", "max-age=31536000");
}

static void blobs_answer(struct request *r, bool may_wait);

/* A HEAD whose check writes (blobs_answer()), on a defer thread. */
static void blobs_head_deferred(struct request *r)
{
    blobs_answer(r, true);
}

void blobs_get(struct request *r)
{
    struct v2 *v = r->state;
    if (check_digest(r, v->ref) < 0)
        return;
    blobs_answer(r, false);
}

static void blobs_answer(struct request *r, bool may_wait)
{
    struct v2 *v = r->state;
    uint64_t size, first = 0, last = 0;
    int fd, rc;
    /* a HEAD is a push asking whether to upload: the answer must hold */
    rc = strcmp(r->method, "HEAD") == 0 ? image_blob_check(&v->repo, v->ref, may_wait, &size)
                                        : store_blob_linked(v->repo.id, v->ref, &size);
    if (rc == IMAGE_CHECK_WRITES) {
        http_defer(r, blobs_head_deferred);
        return;
    }
    if (rc < 0) {
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
        return;
    }
    if (image_blobs_remote()) {
        get_remote(r, v->ref, size);
        return;
    }
    if ((rc = image_blob_open(v->ref, &fd, &size)) < 0) {
        log_error("blob '%s' is in the database but not on disk", v->ref);
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
        return;
    }
    const char *range = http_header(r, "Range");
    bool partial = false;
    if (range) {
        rc = range_parse(slice_from(range), size, &first, &last);
        if (rc == E_RANGE) {
            char cr[64];
            close(fd);
            reg_error(r, RE_RANGE_INVALID, "requested range not satisfiable");
            snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
            http_set_header(r, "Content-Range", cr);
            return;
        }
        partial = rc == 0;
    }
    if (partial) {
        char cr[96];
        http_respond_fd(r, 206, "application/octet-stream", fd, first, last - first + 1);
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
        http_set_header(r, "Content-Range", cr);
    } else {
        http_respond_fd(r, 200, "application/octet-stream", fd, 0, size);
    }
    blob_headers(r, v->ref);
    http_set_header(r, "Cache-Control", "max-age=31536000");
}

void blobs_delete(struct request *r)
{
    struct v2 *v = r->state;
    int rc;
    if (check_digest(r, v->ref) < 0)
        return;
    /* refused (409) while an image of the repository uses the blob */
    reg_audit_hook(r, 202, v->ref);
    rc = image_blob_unlink(&v->repo, v->ref);
    reg_audit_unhook();
    if (rc < 0) {
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
        return;
    }
    reg_json(r, 202, NULL, "", 0);
    http_set_header(r, "Docker-Content-Digest", v->ref);
}
