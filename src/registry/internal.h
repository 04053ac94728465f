/*
 * Shared between the files of the registry module (/v2): the per-request
 * state, the error table and the handlers, one file per endpoint family.
 */
#ifndef BERTH_REGISTRY_INTERNAL_H
#define BERTH_REGISTRY_INTERNAL_H

#include "auth/auth.h"
#include "image/image.h"
#include "http/server.h"
#include "image/reference.h"
#include "store/store.h"

enum reg_error {
    RE_BLOB_UNKNOWN,
    RE_BLOB_UPLOAD_INVALID,
    RE_BLOB_UPLOAD_UNKNOWN,
    RE_DIGEST_INVALID,
    RE_MANIFEST_BLOB_UNKNOWN,
    RE_MANIFEST_INVALID,
    RE_MANIFEST_UNKNOWN,
    RE_NAME_INVALID,
    RE_NAME_UNKNOWN,
    RE_SIZE_INVALID,
    RE_TAG_INVALID,
    RE_UNAUTHORIZED,
    RE_DENIED,
    RE_UNSUPPORTED,
    RE_RANGE_INVALID,
    RE_TOOMANYREQUESTS,
    RE_UNAVAILABLE,
    RE_NOT_FOUND,
    RE_MANIFEST_TOO_BIG,
    RE_CONFLICT,
    RE_INTERNAL,
};

struct v2 {
    struct v2_path path;
    char name[REPO_NAME_MAX + 1];
    char ref[DIGEST_MAX + 64];
    char account[13];
    struct principal who;
    struct authz_context authz;
    struct repo repo;
    bool have_repo;
    /* uploads in progress */
    struct upload up;
    bool up_open;
    bool up_new;        /* created by this request (monolithic POST): cancel on failure */
    uint64_t range_first, range_last;
    bool have_range;
    void (*finish)(struct request *r); /* the route's body-complete step */
    /* the audit trail (a write's record is made as its answer leaves) */
    const char *audit_event; /* the ECR event a write is recorded as; NULL: not recorded */
    const char *audit_error; /* the OCI error code answered, if any */
    char audit_message[256];
    /* a write's record in the image service's transaction (reg_audit_hook) */
    struct image_commit_hook audit_hook;
    unsigned audit_status;    /* what the write answers when it succeeds */
    const char *audit_digest; /* and the Docker-Content-Digest it answers; NULL: none */
};

/* Answers with the spec's JSON error body; message NULL uses the table's. */
void reg_error(struct request *r, enum reg_error code, const char *message);
/* Maps an E_* code from store/blob to a registry error. */
void reg_error_from(struct request *r, int rc, enum reg_error notfound);
void reg_json(struct request *r, unsigned status, const char *content_type, const char *json, size_t n);
void reg_common_headers(struct request *r);
/* Do blob GETs on an object store answer 307 to a presigned URL
 * (--blob-redirect on) rather than stream the bytes? */
bool reg_blob_redirect(void);
/* Checks the principal may do action on this request's repository. */
int reg_authorize(struct request *r, const char *action);
/* Loads the request's repository; answers NAME_UNKNOWN and returns <0 if absent. */
int reg_load_repo(struct request *r);
/* Around a write's call to the image service: the call's audit record goes
 * into the transaction that commits the write, as the answer will be when
 * it succeeds (status, and the Docker-Content-Digest answered: may be NULL,
 * or point to where the service puts it before its commit); a committed
 * write is then not recorded again as its answer leaves. A failed write is
 * recorded as its answer leaves. Unhook after the call, on the same thread. */
void reg_audit_hook(struct request *r, unsigned status, const char *digest);
void reg_audit_unhook(void);

void blobs_get(struct request *r);
void blobs_delete(struct request *r);
void uploads_start(struct request *r);       /* begin: POST .../blobs/uploads/ */
void uploads_start_finish(struct request *r);
void uploads_patch(struct request *r);
void uploads_patch_finish(struct request *r);
void uploads_put(struct request *r);
void uploads_put_finish(struct request *r);
void uploads_status(struct request *r);
void uploads_cancel(struct request *r);
void uploads_abort(struct request *r);
int uploads_on_body(struct request *r, const char *data, size_t n);
void manifests_get(struct request *r);
void manifests_put_begin(struct request *r);
void manifests_put_finish(struct request *r);
void manifests_delete(struct request *r);
void tags_list(struct request *r);
void catalog_list(struct request *r);
void referrers_list(struct request *r);

/* n/last pagination parameters: n=0 means "no n given". E_INVALID on junk. */
int reg_page_params(struct request *r, int *n_out, const char **last_out);

#endif
