/*
 * This module implements blob reads and deletes: GET and HEAD (with Range)
 * and DELETE of /v2/<name>/blobs/<digest>. A repository serves only blobs
 * linked to it, even when the bytes are on disk for another repository.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
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

void blobs_get(struct request *r)
{
    struct v2 *v = r->state;
    uint64_t size, first = 0, last = 0;
    int fd, rc;
    if (check_digest(r, v->ref) < 0)
        return;
    /* a HEAD is a push asking whether to upload: the answer must hold */
    rc = strcmp(r->method, "HEAD") == 0 ? image_blob_check(&v->repo, v->ref, &size)
                                        : store_blob_linked(v->repo.id, v->ref, &size);
    if (rc < 0) {
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
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
    char etag[sizeof(v->ref) + 3];
    snprintf(etag, sizeof(etag), "\"%s\"", v->ref);
    reg_common_headers(r);
    http_set_header(r, "Docker-Content-Digest", v->ref);
    http_set_header(r, "ETag", etag);
    http_set_header(r, "Accept-Ranges", "bytes");
    http_set_header(r, "Cache-Control", "max-age=31536000");
}

void blobs_delete(struct request *r)
{
    struct v2 *v = r->state;
    int rc;
    if (check_digest(r, v->ref) < 0)
        return;
    /* refused (409) while an image of the repository uses the blob */
    if ((rc = image_blob_unlink(&v->repo, v->ref)) < 0) {
        reg_error_from(r, rc, RE_BLOB_UNKNOWN);
        return;
    }
    reg_json(r, 202, NULL, "", 0);
    http_set_header(r, "Docker-Content-Digest", v->ref);
}
