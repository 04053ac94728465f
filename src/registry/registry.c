/*
 * This module implements the /v2 surface: it claims the registry's paths,
 * authenticates the caller, finds the repository, checks the ECR action the
 * request maps to, and hands the request to the handler for its route from
 * one table. It also owns the registry's error table.
 */
#include "registry/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "registry/internal.h"
#include "store/cache.h"

static const struct {
    const char *code;
    unsigned status;
    const char *message;
} errors[] = {
    [RE_BLOB_UNKNOWN] = {"BLOB_UNKNOWN", 404, "blob unknown to registry"},
    [RE_BLOB_UPLOAD_INVALID] = {"BLOB_UPLOAD_INVALID", 400, "blob upload invalid"},
    [RE_BLOB_UPLOAD_UNKNOWN] = {"BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"},
    [RE_DIGEST_INVALID] = {"DIGEST_INVALID", 400, "provided digest did not match uploaded content"},
    [RE_MANIFEST_BLOB_UNKNOWN] = {"MANIFEST_BLOB_UNKNOWN", 400, "blob unknown to registry"},
    [RE_MANIFEST_INVALID] = {"MANIFEST_INVALID", 400, "manifest invalid"},
    [RE_MANIFEST_UNKNOWN] = {"MANIFEST_UNKNOWN", 404, "manifest unknown"},
    [RE_NAME_INVALID] = {"NAME_INVALID", 400, "invalid repository name"},
    [RE_NAME_UNKNOWN] = {"NAME_UNKNOWN", 404, "repository name not known to registry"},
    [RE_SIZE_INVALID] = {"SIZE_INVALID", 400, "provided length did not match content length"},
    [RE_TAG_INVALID] = {"TAG_INVALID", 400, "manifest tag did not match URI"},
    [RE_UNAUTHORIZED] = {"UNAUTHORIZED", 401, "authentication required"},
    [RE_DENIED] = {"DENIED", 403, "requested access to the resource is denied"},
    [RE_UNSUPPORTED] = {"UNSUPPORTED", 405, "The operation is unsupported."},
    [RE_RANGE_INVALID] = {"BLOB_UPLOAD_INVALID", 416, "invalid content range"},
    [RE_TOOMANYREQUESTS] = {"TOOMANYREQUESTS", 429, "too many requests"},
    [RE_UNAVAILABLE] = {"UNAVAILABLE", 503, "service unavailable"},
    [RE_NOT_FOUND] = {"UNSUPPORTED", 404, "the requested route does not exist"},
    [RE_MANIFEST_TOO_BIG] = {"MANIFEST_INVALID", 413, "manifest too big"},
    [RE_CONFLICT] = {"DENIED", 409, "the resource is in use"},
    [RE_INTERNAL] = {"UNKNOWN", 500, "unknown error"},
};

static const struct config *cfg;

void registry_configure(const struct config *c)
{
    cfg = c;
}

bool reg_blob_redirect(void)
{
    return !cfg || !cfg->blob_redirect || strcmp(cfg->blob_redirect, "off") != 0;
}

void reg_common_headers(struct request *r)
{
    http_set_header(r, "Docker-Distribution-API-Version", "registry/2.0");
}

void reg_json(struct request *r, unsigned status, const char *content_type, const char *json, size_t n)
{
    http_respond(r, status, content_type ? content_type : "application/json", json, n);
    reg_common_headers(r);
}

void reg_error(struct request *r, enum reg_error code, const char *message)
{
    struct v2 *v = r->state;
    if (v) {
        v->audit_error = errors[code].code;
        snprintf(v->audit_message, sizeof(v->audit_message), "%s", message && *message ? message : errors[code].message);
    }
    json_t *e = json_pack("{s:[{s:s,s:s}]}", "errors", "code", errors[code].code, "message",
                          message && *message ? message : errors[code].message);
    char *body = json_dumps(e, JSON_COMPACT);
    reg_json(r, errors[code].status, "application/json; charset=utf-8", body, strlen(body));
    free(body);
    json_decref(e);
    if (code == RE_UNAUTHORIZED) {
        char challenge[256];
        const char *host = http_header(r, "Host");
        snprintf(challenge, sizeof(challenge), "Basic realm=\"%s%s\",service=\"ecr.amazonaws.com\"",
                 r->secure ? "https://" : "http://", host ? host : "berth");
        http_set_header(r, "WWW-Authenticate", challenge);
    }
}

void reg_error_from(struct request *r, int rc, enum reg_error notfound)
{
    const char *msg = error_message();
    switch (rc) {
    case E_NOTFOUND:
        reg_error(r, notfound, msg);
        break;
    case E_DENIED:
        reg_error(r, RE_DENIED, msg);
        break;
    case E_UNAUTH:
        reg_error(r, RE_UNAUTHORIZED, msg);
        break;
    case E_TOOBIG:
        reg_error(r, RE_SIZE_INVALID, msg);
        break;
    case E_BUSY:
        reg_error(r, RE_TOOMANYREQUESTS, msg);
        http_set_header(r, "Retry-After", "1");
        break;
    case E_UNAVAILABLE:
        log_error("%s %s: %s", r->method, r->path, msg);
        reg_error(r, RE_UNAVAILABLE, msg);
        http_set_header(r, "Retry-After", "1");
        break;
    case E_MISMATCH:
        reg_error(r, RE_DIGEST_INVALID, msg);
        break;
    case E_INVALID:
        reg_error(r, RE_DIGEST_INVALID, msg);
        break;
    case E_UNSUPPORTED:
        reg_error(r, RE_UNSUPPORTED, msg);
        break;
    case E_CONFLICT:
        reg_error(r, RE_CONFLICT, msg);
        break;
    case E_RANGE:
        reg_error(r, RE_RANGE_INVALID, msg);
        break;
    default:
        log_error("%s %s: %s", r->method, r->path, msg);
        reg_error(r, RE_INTERNAL, NULL);
        break;
    }
}

static void v2_free(void *p)
{
    struct v2 *v = p;
    if (v->up_open)
        image_upload_close(&v->up);
    repo_release(&v->repo);
    free(v);
}

int reg_authorize(struct request *r, const char *action)
{
    struct v2 *v = r->state;
    char arn[512];
    auth_repo_arn(arn, sizeof(arn), v->account, v->name);
    int rc = auth_authorize(&v->who, action, v->account, arn, &v->authz);
    if (rc < 0) {
        log_info("denied: %s", error_message());
        reg_error(r, RE_DENIED, error_message());
    }
    return rc;
}

int reg_load_repo(struct request *r)
{
    struct v2 *v = r->state;
    if (v->have_repo)
        return 0;
    /* repositories are explicit, as in ECR: CreateRepository makes them */
    int rc = store_cached_repo_get(v->who.cache_gen, v->account, v->name, &v->repo);
    if (rc == E_NOTFOUND) {
        char msg[512];
        snprintf(msg, sizeof(msg), "The repository with name '%s' does not exist in the registry with id '%s'", v->name,
                 v->account);
        reg_error(r, RE_NAME_UNKNOWN, msg);
        return rc;
    }
    if (rc < 0) {
        reg_error_from(r, rc, RE_NAME_UNKNOWN);
        return rc;
    }
    v->have_repo = true;
    return 0;
}

int reg_page_params(struct request *r, int *n_out, const char **last_out)
{
    const char *n = http_query(r, "n");
    *n_out = 0;
    *last_out = http_query(r, "last");
    if (n) {
        uint64_t v;
        if (parse_u64(slice_from(n), 100000, &v) < 0)
            return error_set(E_INVALID, "n must be a number up to 100000");
        *n_out = (int)v;
    }
    return 0;
}

/* The account the request addresses: the one in a registry host name
 * <account>.dkr.ecr.<region>.<domain>, else the caller's own. */
static void resolve_account(struct request *r, struct v2 *v)
{
    const char *host = http_header(r, "Host");
    snprintf(v->account, sizeof(v->account), "%s", v->who.account_id);
    if (!host || !cfg || !cfg->domain[0])
        return;
    char expect[300];
    snprintf(expect, sizeof(expect), ".dkr.ecr.%s.%s", cfg->region, cfg->domain);
    size_t hl = strcspn(host, ":");
    size_t el = strlen(expect);
    if (hl == 12 + el && strncmp(host + 12, expect, el) == 0) {
        for (int i = 0; i < 12; i++)
            if (host[i] < '0' || host[i] > '9')
                return;
        memcpy(v->account, host, 12);
        v->account[12] = '\0';
    }
}

/* The account a presigned URL is for: named in its query (the registry
 * host may not say it). */
static const char *presign_account(struct request *r)
{
    const char *a = http_query(r, "X-Berth-Account");
    return a ? a : "";
}

struct route {
    enum v2_route route;
    const char *method;
    const char *name; /* for metrics (the operation label) */
    const char *action; /* ecr:<Action> checked before the handler; NULL: the handler checks */
    /* begin: once the headers are in (NULL: nothing to do then); finish:
     * after the body, on a defer thread (every route with one writes, and a
     * write may wait for its repository's lock) */
    void (*begin)(struct request *r);
    void (*finish)(struct request *r);
    /* a write: the event its audit record has (the ECR operation ECR's own
     * trail names for this registry call); NULL for reads */
    const char *audit_event;
};

static const struct route routes[] = {
    {V2_MANIFEST, "GET", "GetManifest", "ecr:BatchGetImage", manifests_get, NULL, NULL},
    {V2_MANIFEST, "HEAD", "HeadManifest", "ecr:BatchGetImage", manifests_get, NULL, NULL},
    {V2_MANIFEST, "PUT", "PutManifest", "ecr:PutImage", manifests_put_begin, manifests_put_finish, "PutImage"},
    {V2_MANIFEST, "DELETE", "DeleteManifest", "ecr:BatchDeleteImage", NULL, manifests_delete, "BatchDeleteImage"},
    {V2_BLOB, "GET", "GetBlob", "ecr:GetDownloadUrlForLayer", blobs_get, NULL, NULL},
    {V2_BLOB, "HEAD", "HeadBlob", "ecr:BatchCheckLayerAvailability", blobs_get, NULL, NULL},
    {V2_BLOB, "DELETE", "DeleteBlob", "ecr:BatchDeleteImage", NULL, blobs_delete, "BatchDeleteImage"},
    /* a POST completes an upload only with ?digest= (monolithic) or ?mount= */
    {V2_UPLOAD_START, "POST", "StartUpload", "ecr:InitiateLayerUpload", uploads_start, uploads_start_finish,
     "CompleteLayerUpload"},
    {V2_UPLOAD, "PATCH", "PatchUpload", "ecr:UploadLayerPart", uploads_patch, uploads_patch_finish, NULL},
    {V2_UPLOAD, "PUT", "CompleteUpload", "ecr:CompleteLayerUpload", uploads_put, uploads_put_finish, "CompleteLayerUpload"},
    {V2_UPLOAD, "GET", "GetUploadStatus", "ecr:UploadLayerPart", uploads_status, NULL, NULL},
    {V2_UPLOAD, "DELETE", "CancelUpload", "ecr:UploadLayerPart", NULL, uploads_cancel, NULL},
    {V2_TAGS, "GET", "ListTags", "ecr:ListImages", tags_list, NULL, NULL},
    {V2_REFERRERS, "GET", "ListReferrers", "ecr:BatchGetImage", referrers_list, NULL, NULL},
};

/* The operation label of the request's metrics (nothing is decided by it). */
static const char *route_name(enum v2_route route, const char *method)
{
    if (route == V2_BASE)
        return "Base";
    if (route == V2_CATALOG)
        return "Catalog";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (routes[i].route == route && strcmp(routes[i].method, method) == 0)
            return routes[i].name;
    return NULL;
}

static bool v2_claims(struct request *r)
{
    return strncmp(r->path, "/v2", 3) == 0 && (r->path[3] == '\0' || r->path[3] == '/');
}

static void v2_begin(struct request *r)
{
    struct v2 *v = xcalloc(1, sizeof(*v));
    r->state = v;
    r->state_free = v2_free;
    v->up.fd = -1;
    v->authz.source_ip = r->client_ip;
    v->authz.secure_transport = r->secure;

    int rc, arc;

    bool presigned = false;
    rc = v2_path_parse(slice_from(r->path), &v->path);
    r->route = rc < 0 ? NULL : route_name(v->path.route, r->method);
    /* authentication comes first: an anonymous caller learns nothing */
    if (!auth_enabled()) {
        auth_anonymous(&v->who);
    } else if (rc == 0 && v->path.route == V2_BLOB && !http_header(r, "Authorization") &&
               http_query(r, "X-Berth-Signature")) {
        /* a presigned URL from GetDownloadUrlForLayer reads one blob: any
         * other method, blob or repository fails its check */
        snprintf(v->name, sizeof(v->name), "%.*s", (int)(v->path.name.len < REPO_NAME_MAX ? v->path.name.len : 0),
                 v->path.name.base);
        snprintf(v->ref, sizeof(v->ref), "%.*s", (int)(v->path.ref.len < DIGEST_MAX ? v->path.ref.len : 0), v->path.ref.base);
        if (auth_identify_presigned(r, presign_account(r), v->name, v->ref, &v->who) < 0) {
            reg_error(r, RE_UNAUTHORIZED, error_message());
            return;
        }
        presigned = true;
    } else if ((arc = auth_identify_registry(http_header(r, "Authorization"), &v->who)) < 0) {
        if (arc == E_UNAVAILABLE)
            reg_error_from(r, arc, RE_UNAUTHORIZED); /* the database does not answer: 503 */
        else
            reg_error(r, RE_UNAUTHORIZED, error_message());
        return;
    }
    snprintf(r->principal, sizeof(r->principal), "%s", v->who.arn);
    resolve_account(r, v);
    if (presigned)
        snprintf(v->account, sizeof(v->account), "%s", presign_account(r));

    if (rc < 0) {
        reg_error(r, RE_NOT_FOUND, NULL);
        return;
    }
    if (v->path.route == V2_BASE) {
        if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
            reg_error(r, RE_UNSUPPORTED, NULL);
            return;
        }
        reg_json(r, 200, "application/json", "{}", 2);
        return;
    }
    if (v->path.route == V2_CATALOG) {
        if (strcmp(r->method, "GET") != 0) {
            reg_error(r, RE_UNSUPPORTED, NULL);
            return;
        }
        catalog_list(r);
        return;
    }
    if (!repo_name_valid(v->path.name)) {
        reg_error(r, RE_NAME_INVALID, "invalid repository name");
        return;
    }
    snprintf(v->name, sizeof(v->name), "%.*s", (int)v->path.name.len, v->path.name.base);
    if (v->path.ref.len >= sizeof(v->ref)) {
        reg_error(r, v->path.route == V2_MANIFEST ? RE_TAG_INVALID : RE_DIGEST_INVALID, "reference is too long");
        return;
    }
    snprintf(v->ref, sizeof(v->ref), "%.*s", (int)v->path.ref.len, v->path.ref.base);

    const struct route *rt = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (routes[i].route != v->path.route)
            continue;
        path_known = true;
        if (strcmp(routes[i].method, r->method) == 0) {
            rt = &routes[i];
            break;
        }
    }
    if (!rt) {
        reg_error(r, path_known ? RE_UNSUPPORTED : RE_NOT_FOUND, NULL);
        return;
    }
    if (rt->route != V2_UPLOAD_START || http_query(r, "digest") || http_query(r, "mount"))
        v->audit_event = rt->audit_event;
    if (rt->action && reg_authorize(r, rt->action) < 0)
        return;
    if (reg_load_repo(r) < 0)
        return;
    v->finish = rt->finish;
    if (rt->begin)
        rt->begin(r);
    if (!r->resp && !rt->finish && !r->defer_work)
        reg_error(r, RE_INTERNAL, NULL);
}

static void v2_finish(struct request *r)
{
    struct v2 *v = r->state;
    if (v && v->finish) {
        /* a body that failed (perhaps before it came: no room) is answered at once */
        if (r->body_error)
            v->finish(r);
        else
            http_defer(r, v->finish);
        return;
    }
    reg_error(r, RE_UNSUPPORTED, "this request takes no body");
}

static void v2_abort(struct request *r)
{
    struct v2 *v = r->state;
    if (v && v->up_open)
        uploads_abort(r);
}

/* The audit record of a /v2 write: in ECR's terms (the operation, its
 * parameters and response elements), with the registry call itself as
 * additional data; the answer's status and digest as given. */
struct v2_record {
    struct audit_call a;
    json_t *req, *resp, *id, *extra;
};

static void record_build(struct v2_record *rec, struct request *r, unsigned status, const char *answered)
{
    struct v2 *v = r->state;
    bool digest_ref = strncmp(v->ref, "sha256:", 7) == 0 || strncmp(v->ref, "sha512:", 7) == 0;
    const char *upload_digest = http_query(r, "digest") ? http_query(r, "digest") : http_query(r, "mount");
    bool failed = status >= 400;
    json_t *req = json_pack("{s:s,s:s}", "registryId", v->account, "repositoryName", v->name);
    json_t *resp = NULL, *id = NULL;
    if (v->path.route == V2_MANIFEST) {
        id = json_pack("{s:s}", digest_ref ? "imageDigest" : "imageTag", v->ref);
        if (strcmp(v->audit_event, "PutImage") == 0) {
            const char *ct = http_header(r, "Content-Type");
            json_object_update(req, id);
            if (ct)
                json_object_set_new(req, "imageManifestMediaType", json_string(ct));
            if (answered)
                json_object_set_new(id, "imageDigest", json_string(answered));
            resp = json_pack("{s:{s:s,s:s,s:O}}", "image", "registryId", v->account, "repositoryName", v->name, "imageId", id);
        } else {
            json_object_set_new(req, "imageIds", json_pack("[O]", id));
            resp = json_pack("{s:[O],s:[]}", "imageIds", id, "failures");
        }
    } else if (v->path.route == V2_BLOB) {
        json_object_set_new(req, "layerDigest", json_string(v->ref));
    } else {
        if (v->path.route == V2_UPLOAD)
            json_object_set_new(req, "uploadId", json_string(v->ref));
        if (upload_digest)
            json_object_set_new(req, "layerDigests", json_pack("[s]", upload_digest));
        if (answered)
            resp = json_pack("{s:s,s:s,s:s}", "registryId", v->account, "repositoryName", v->name, "layerDigest", answered);
    }
    json_t *extra = json_pack("{s:s,s:s,s:i}", "registryApiMethod", r->method, "registryApiPath", r->path, "httpStatus",
                              (int)status);
    *rec = (struct v2_record){
        .a =
            {
                .r = r,
                .source = AUDIT_SOURCE_ECR,
                .name = v->audit_event,
                .read_only = false,
                .who = &v->who,
                .request = req,
                .response = resp,
                .additional = extra,
                .error_code = failed ? (v->audit_error ? v->audit_error : "UNKNOWN") : NULL,
                .error_message = failed ? v->audit_message : NULL,
                .resource_account = v->account,
            },
        .req = req,
        .resp = resp,
        .id = id,
        .extra = extra,
    };
    audit_add_resource(&rec->a, "AWS::ECR::Repository", v->name);
}

static void record_release(struct v2_record *rec)
{
    json_decref(rec->req);
    json_decref(rec->resp);
    json_decref(rec->id);
    json_decref(rec->extra);
}

/* The image service's commit hook: the record, in the write's transaction. */
static int record_in_transaction(void *ctx)
{
    struct request *r = ctx;
    struct v2 *v = r->state;
    struct v2_record rec;
    if (!v->audit_event || !v->who.arn[0])
        return 0;
    record_build(&rec, r, v->audit_status, v->audit_digest);
    int rc = audit_record_in_transaction(&rec.a);
    record_release(&rec);
    return rc;
}

void reg_audit_hook(struct request *r, unsigned status, const char *digest)
{
    struct v2 *v = r->state;
    v->audit_status = status;
    v->audit_digest = digest;
    v->audit_hook = (struct image_commit_hook){.fn = record_in_transaction, .ctx = r};
    image_commit_hook_set(&v->audit_hook);
}

void reg_audit_unhook(void)
{
    image_commit_hook_set(NULL);
}

/* A write's record as its answer leaves, unless its transaction had it. */
static void v2_respond(struct request *r)
{
    struct v2 *v = r->state;
    struct v2_record rec;
    if (!v || !v->audit_event || !v->who.arn[0] || v->audit_hook.committed)
        return;
    if (v->path.route == V2_UPLOAD_START && r->status == 202) /* a mount that fell back to a new upload */
        return;
    record_build(&rec, r, r->status, http_response_header(r, "Docker-Content-Digest"));
    audit_record(&rec.a);
    record_release(&rec);
}

const struct surface registry_surface = {
    .name = "registry",
    .claims = v2_claims,
    .begin = v2_begin,
    .finish = v2_finish,
    .abort = v2_abort,
    .respond = v2_respond,
};
