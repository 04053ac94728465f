/*
 * This module implements blob uploads (/v2/<name>/blobs/uploads/): starting
 * a session, monolithic POST ?digest=, cross-repository mounts, streamed and
 * chunked PATCH with Content-Range, PUT ?digest= with an optional last
 * chunk, status and cancel. Bytes go from the socket to the session file and
 * the running hash (for a large body through blobstore's small ring and its
 * hasher and writer threads); nothing is held whole in memory.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "registry/internal.h"
#include "registry/range.h"

/* Location, Range and Docker-Upload-UUID of a session in progress. */
static void session_headers(struct request *r, const char *name, const char *id, uint64_t offset)
{
    char loc[512], range[64];
    snprintf(loc, sizeof(loc), "/v2/%s/blobs/uploads/%s", name, id);
    snprintf(range, sizeof(range), "0-%" PRIu64, offset ? offset - 1 : 0);
    reg_common_headers(r);
    http_set_header(r, "Location", loc);
    http_set_header(r, "Range", range);
    http_set_header(r, "Docker-Upload-UUID", id);
    http_set_header(r, "OCI-Chunk-Min-Length", "0");
}

static void blob_created(struct request *r, const char *name, const char *digest)
{
    char loc[512];
    snprintf(loc, sizeof(loc), "/v2/%s/blobs/%s", name, digest);
    reg_json(r, 201, NULL, "", 0);
    http_set_header(r, "Location", loc);
    http_set_header(r, "Docker-Content-Digest", digest);
}

int uploads_on_body(struct request *r, const char *data, size_t n)
{
    struct v2 *v = r->state;
    return image_upload_append(&v->up, data, n);
}

/* Commits the open session as digest: durable blob, then metadata. */
static void commit_session(struct request *r, const char *digest)
{
    struct v2 *v = r->state;
    uint64_t size;
    reg_audit_hook(r, 201, digest);
    int rc = image_upload_commit(&v->up, &v->repo, digest, &size, NULL);
    reg_audit_unhook();
    if (rc < 0) {
        /* a session the commit did not consume stays open for the caller to close */
        v->up_open = upload_is_open(&v->up);
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return;
    }
    v->up_open = false;
    blob_created(r, v->name, digest);
}

/* A mount of an existing blob from another repository of the account: the
 * caller must be allowed to read the source, and the account's
 * BLOB_MOUNTING setting decides (image_blob_mount). Anything else falls
 * back to a fresh session, as the spec allows. */
static bool try_mount(struct request *r, const char *digest, const char *from)
{
    struct v2 *v = r->state;
    struct repo src;
    char arn[512];
    if (!repo_name_valid(slice_from(from)) || store_repo_get(v->account, from, &src) < 0)
        return false;
    auth_repo_arn(arn, sizeof(arn), v->account, from);
    bool ok = auth_authorize(&v->who, "ecr:GetDownloadUrlForLayer", v->account, arn, &v->authz) == 0;
    if (ok) {
        reg_audit_hook(r, 201, digest);
        ok = image_blob_mount(&v->repo, &src, digest) == 0;
        reg_audit_unhook();
    }
    repo_release(&src);
    if (ok)
        blob_created(r, v->name, digest);
    return ok;
}

static void start_session(struct request *r);

/* A mount, on a defer thread: it writes the link in the repository's
 * transaction, which may wait for its lock. */
static void start_mount(struct request *r)
{
    const char *from = http_query(r, "from");
    if (!from || !try_mount(r, http_query(r, "mount"), from))
        start_session(r); /* not mountable: a fresh session (202), as the spec allows */
}

void uploads_start(struct request *r)
{
    const char *mount = http_query(r, "mount"), *digest = http_query(r, "digest");
    if ((mount && digest_validate(slice_from(mount), NULL) < 0) ||
        (digest && digest_validate(slice_from(digest), NULL) < 0)) {
        reg_error(r, RE_DIGEST_INVALID, error_message());
        return;
    }
    if (mount)
        http_defer(r, start_mount);
    else
        start_session(r);
}

/* A new session: a monolithic one takes the body as its blob (committed by
 * uploads_start_finish()); any other answers 202 with where to send it. */
static void start_session(struct request *r)
{
    struct v2 *v = r->state;
    const char *mount = http_query(r, "mount"), *digest = http_query(r, "digest");
    int rc;
    char id[37];
    if ((rc = image_upload_start(id, &v->repo)) < 0) {
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return;
    }
    if (digest && !mount) {
        /* monolithic: the body is the blob */
        if ((rc = image_upload_open(&v->up, &v->repo, id)) < 0) {
            image_upload_cancel(&v->repo, id);
            reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
            return;
        }
        v->up_open = true;
        v->up_new = true;
        r->body_mode = BODY_STREAM;
        r->on_body = uploads_on_body;
        return;
    }
    reg_json(r, 202, NULL, "", 0);
    session_headers(r, v->name, id, 0);
}

static void cancel_new_session(struct v2 *v)
{
    if (v->up_open)
        image_upload_close(&v->up);
    v->up_open = false;
    image_upload_cancel(&v->repo, v->up.id);
}

/* A monolithic POST's commit (it fsyncs the blob). */
void uploads_start_finish(struct request *r)
{
    struct v2 *v = r->state;
    if (r->body_error) {
        cancel_new_session(v);
        reg_error_from(r, r->body_error, RE_BLOB_UPLOAD_INVALID);
        return;
    }
    commit_session(r, http_query(r, "digest"));
    if (v->up_open)
        cancel_new_session(v);
}

/* Opens the session named in the path; answers and returns <0 if it can't. */
static int open_session(struct request *r)
{
    struct v2 *v = r->state;
    int rc;
    if ((rc = image_upload_open(&v->up, &v->repo, v->ref)) < 0) {
        if (rc == E_NOTFOUND) {
            reg_error(r, RE_BLOB_UPLOAD_UNKNOWN, NULL);
            return rc;
        }
        if (rc == E_EXISTS) {
            reg_error(r, RE_RANGE_INVALID, error_message());
            return rc;
        }
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return rc;
    }
    v->up_open = true;
    if ((rc = image_upload_touch(v->ref, false)) < 0) {
        image_upload_close(&v->up);
        v->up_open = false;
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return rc;
    }
    return 0;
}

/* Checks a Content-Range against the session; answers 416 and returns <0
 * when the chunk is not the next one. */
static int check_chunk(struct request *r)
{
    struct v2 *v = r->state;
    const char *cr = http_header(r, "Content-Range");
    if (!cr)
        return 0;
    if (content_range_parse(slice_from(cr), &v->range_first, &v->range_last) < 0) {
        reg_error(r, RE_BLOB_UPLOAD_INVALID, "malformed Content-Range");
        session_headers(r, v->name, v->up.id, v->up.offset);
        image_upload_close(&v->up);
        v->up_open = false;
        return E_INVALID;
    }
    if (v->range_first != v->up.offset) {
        reg_error(r, RE_RANGE_INVALID, "chunk does not continue the upload where it stands");
        session_headers(r, v->name, v->up.id, v->up.offset);
        image_upload_close(&v->up);
        v->up_open = false;
        return E_RANGE;
    }
    const char *cl = http_header(r, "Content-Length");
    uint64_t len;
    if (cl && parse_u64(slice_from(cl), UINT64_MAX, &len) == 0 && len != v->range_last - v->range_first + 1) {
        reg_error(r, RE_SIZE_INVALID, "Content-Length does not match Content-Range");
        session_headers(r, v->name, v->up.id, v->up.offset);
        image_upload_close(&v->up);
        v->up_open = false;
        return E_RANGE;
    }
    v->have_range = true;
    return 0;
}

void uploads_patch(struct request *r)
{
    if (open_session(r) < 0 || check_chunk(r) < 0)
        return;
    r->body_mode = BODY_STREAM;
    r->on_body = uploads_on_body;
}

void uploads_patch_finish(struct request *r)
{
    struct v2 *v = r->state;
    uint64_t start = v->range_first;
    int rc = r->body_error;
    /* the Range in the answer promises that every byte is in the file */
    if (rc < 0 || (rc = image_upload_flush(&v->up)) < 0) {
        image_upload_forget(v->up.id);
        reg_error_from(r, rc, RE_BLOB_UPLOAD_INVALID);
        image_upload_close(&v->up);
        v->up_open = false;
        return;
    }
    if (v->have_range && v->up.offset != v->range_last + 1) {
        reg_error(r, RE_RANGE_INVALID, "chunk length does not match Content-Range");
    } else {
        reg_json(r, 202, NULL, "", 0);
    }
    (void)start;
    session_headers(r, v->name, v->up.id, v->up.offset);
    image_upload_close(&v->up);
    v->up_open = false;
}

void uploads_put(struct request *r)
{
    struct v2 *v = r->state;
    const char *digest = http_query(r, "digest");
    int rc;
    if (!digest) {
        reg_error(r, RE_DIGEST_INVALID, "digest parameter is required to complete an upload");
        return;
    }
    if ((rc = digest_validate(slice_from(digest), NULL)) < 0) {
        reg_error(r, RE_DIGEST_INVALID, error_message());
        return;
    }
    if (open_session(r) < 0 || check_chunk(r) < 0)
        return;
    (void)v;
    r->body_mode = BODY_STREAM;
    r->on_body = uploads_on_body;
}

void uploads_put_finish(struct request *r)
{
    struct v2 *v = r->state;
    if (r->body_error) {
        image_upload_forget(v->up.id);
        reg_error_from(r, r->body_error, RE_BLOB_UPLOAD_INVALID);
        return;
    }
    if (v->have_range && v->up.offset != v->range_last + 1) {
        reg_error(r, RE_RANGE_INVALID, "chunk length does not match Content-Range");
        return;
    }
    /* verifying (hashing the file again after a restart), fsyncing and
     * renaming a blob of gigabytes: on a defer thread, as every finish */
    commit_session(r, http_query(r, "digest"));
}

void uploads_status(struct request *r)
{
    struct v2 *v = r->state;
    uint64_t size;
    int rc = image_upload_size(&v->repo, v->ref, &size);
    if (rc < 0) {
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return;
    }
    reg_json(r, 204, NULL, "", 0);
    session_headers(r, v->name, v->ref, size);
}

void uploads_cancel(struct request *r)
{
    struct v2 *v = r->state;
    int rc = image_upload_cancel(&v->repo, v->ref);
    if (rc < 0) {
        reg_error_from(r, rc, RE_BLOB_UPLOAD_UNKNOWN);
        return;
    }
    reg_json(r, 204, NULL, "", 0);
}

void uploads_abort(struct request *r)
{
    struct v2 *v = r->state;
    /* the client went away mid-body: nothing becomes visible; a session it
     * started in this request is removed, an older one keeps what arrived */
    if (v->up_new) {
        cancel_new_session(v);
        return;
    }
    if (v->up_open) {
        image_upload_forget(v->up.id);
        image_upload_close(&v->up);
        v->up_open = false;
    }
}
