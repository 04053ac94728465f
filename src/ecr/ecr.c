/*
 * This module implements the ECR control-plane surface: it claims
 * POST / with an X-Amz-Target of the ECR service, refuses what can be
 * refused from the headers alone (the signature's form, scope, clock and
 * key, the operation, a body longer than the operation can take), takes
 * the JSON body, verifies SigV4, validates the input against botocore's
 * model, checks the operation's IAM action and runs the operation's
 * handler, answering in AWS JSON 1.1 (errors as {"__type","message"} with
 * x-amzn-ErrorType).
 *
 * A body is buffered up to its operation's limit (body_limit below), a few
 * hundred KiB for most; UploadLayerPart's, up to 28 MiB, is streamed to
 * layers.c instead and hashed for SigV4 on the way.
 */
#include "ecr/ecr.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/sigv4.h"
#include "core/alloc.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "ecr/model_gen.h"
#include "ecr/ops.h"
#include "image/reference.h"
#include "model/model.h"
#include "policy/arn.h"
#include "store/cache.h"
#include "store/locks.h"

#define TARGET_PREFIX "AmazonEC2ContainerRegistry_V20150921."
/* The largest ECR request: UploadLayerPart's 20 MiB part, base64-encoded. */
#define ECR_BODY_MAX (28u << 20)
/* The operation whose body is streamed rather than buffered. */
#define STREAMED_OP "UploadLayerPart"

static const struct config *cfg;
static const char *const sigv4_services[] = {"ecr", NULL};

/*
 * The longest body each operation takes, in the order of ecr_operations[]:
 * the longest compact JSON of its input shape that the model allows, plus
 * BODY_SLACK, at most ECR_BODY_MAX. A string's byte may take up to
 * JSON_STRING_FACTOR characters (a non-ASCII character written as \uXXXX,
 * as botocore does; the few short strings that could take more are covered
 * by the slack); a blob is base64. Strings and lists the model does not
 * bound are taken at UNBOUNDED_STRING bytes and UNBOUNDED_ITEMS items, more
 * than any real value of theirs (names, digests, ARNs, tags).
 */
#define JSON_STRING_FACTOR 3
#define UNBOUNDED_STRING 2048
#define UNBOUNDED_ITEMS 100
#define BODY_SLACK ((uint64_t)64 << 10)
#define SHAPE_DEPTH_MAX 16
static uint64_t body_limit[256];

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > ECR_BODY_MAX || b > ECR_BODY_MAX ? (uint64_t)ECR_BODY_MAX + 1 : a + b;
}

static uint64_t sat_mul(uint64_t n, uint64_t each)
{
    return each && n > ((uint64_t)ECR_BODY_MAX + 1) / each ? (uint64_t)ECR_BODY_MAX + 1 : sat_add(0, n * each);
}

static uint64_t shape_json_max(int idx, int depth)
{
    const struct model_shape *s = &ecr_shapes[idx];
    uint64_t n = 2, items;
    if (depth > SHAPE_DEPTH_MAX)
        return (uint64_t)ECR_BODY_MAX + 1;
    switch (s->type) {
    case SH_STRUCT:
        for (size_t i = 0; i < s->nmembers; i++)
            n = sat_add(n, sat_add(strlen(s->members[i].name) + 4, shape_json_max(s->members[i].shape, depth + 1)));
        return n;
    case SH_LIST:
        items = s->has_max ? (uint64_t)s->max : UNBOUNDED_ITEMS;
        return sat_add(n, sat_mul(items, 1 + shape_json_max(s->item, depth + 1)));
    case SH_MAP:
        items = s->has_max ? (uint64_t)s->max : UNBOUNDED_ITEMS;
        return sat_add(n, sat_mul(items, sat_add(2 + shape_json_max(s->key, depth + 1), shape_json_max(s->value, depth + 1))));
    case SH_STRING:
        if (s->enums) {
            for (const char *const *e = s->enums; *e; e++)
                n = strlen(*e) + 2 > n ? strlen(*e) + 2 : n;
            return n;
        }
        return sat_add(n, sat_mul(s->has_max ? (uint64_t)s->max : UNBOUNDED_STRING, JSON_STRING_FACTOR));
    case SH_BLOB:
        /* base64, with room for encoders that write '/' as "\/" */
        items = ((s->has_max ? (uint64_t)s->max : UNBOUNDED_STRING) + 2) / 3;
        return sat_add(n, sat_add(sat_mul(items, 4), items / 4));
    case SH_INTEGER:
    case SH_LONG:
        return 20;
    case SH_BOOLEAN:
        return 5;
    case SH_DOUBLE:
    case SH_TIMESTAMP:
        return 32;
    }
    return (uint64_t)ECR_BODY_MAX + 1;
}

void ecr_configure(const struct config *c)
{
    cfg = c;
    if (model_init(ecr_shapes, ecr_nshapes) < 0) {
        log_error("%s", error_message());
        abort();
    }
    assert(ecr_noperations <= sizeof(body_limit) / sizeof(body_limit[0]));
    for (size_t i = 0; i < ecr_noperations; i++) {
        uint64_t n = ecr_operations[i].input < 0 ? 2 : shape_json_max(ecr_operations[i].input, 0);
        n = sat_add(n, BODY_SLACK);
        body_limit[i] = n < ECR_BODY_MAX ? n : ECR_BODY_MAX;
        log_debug("ECR %s takes a body of up to %llu bytes", ecr_operations[i].name, (unsigned long long)body_limit[i]);
    }
}

const struct config *ecr_config(void)
{
    return cfg;
}

static bool ecr_claims(struct request *r)
{
    const char *t = http_header(r, "X-Amz-Target");
    return strcmp(r->path, "/") == 0 && t && strncmp(t, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0;
}

static void send_json_id(struct request *r, unsigned status, json_t *doc, const char *error_type, const char *id)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    http_respond(r, status, "application/x-amz-json-1.1", body, strlen(body));
    http_set_header(r, "x-amzn-RequestId", id);
    if (error_type)
        http_set_header(r, "x-amzn-ErrorType", error_type);
    free(body);
}

static void send_json(struct request *r, unsigned status, json_t *doc, const char *error_type)
{
    char id[37];
    uuid_v4(id);
    send_json_id(r, status, doc, error_type, id);
}

static void send_error(struct request *r, unsigned status, const char *type, const char *message)
{
    json_t *doc = json_pack("{s:s,s:s}", "__type", type, "message", message);
    send_json(r, status, doc, type);
    json_decref(doc);
}

int ecr_fail(struct ecr_call *c, enum ecr_error e, const char *fmt, ...)
{
    va_list ap;
    assert((unsigned)e < ECR_NERRORS);
    va_start(ap, fmt);
    vsnprintf(c->err_message, sizeof(c->err_message), fmt, ap);
    va_end(ap);
    c->err_type = ecr_errors[e].code;
    c->err_status = ecr_errors[e].status;
    return -1;
}

int ecr_fail_internal(struct ecr_call *c, int rc)
{
    log_error("%s: %s", c->op, error_message());
    /* a limit of the server's reached for now (as its budget of buffered
     * bodies): a status the SDKs retry */
    if (rc == E_UNAVAILABLE || rc == E_BUSY) {
        snprintf(c->err_message, sizeof(c->err_message), "%s", error_message());
        c->err_type = "ServiceUnavailableException";
        c->err_status = 503;
        return -1;
    }
    return ecr_fail(c, ECR_SERVER, "an internal error occurred");
}

/* The dispatcher's one authorization of an operation, by the evaluator
 * (including the account root's escape hatch for repository policies). */
static int ecr_authorize(struct ecr_call *c, const char *action, const char *resource_account, const char *resource_arn)
{
    if (auth_authorize(&c->who, action, resource_account, resource_arn, &c->authz) == 0)
        return 0;
    log_info("denied: %s", error_message());
    return ecr_fail(c, ECR_ACCESS_DENIED, "%s", error_message());
}

const char *ecr_str(struct ecr_call *c, const char *key)
{
    json_t *v = json_object_get(c->in, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void ecr_repo_arn(char *out, size_t size, const char *account, const char *name)
{
    auth_repo_arn(out, size, account, name);
}

/* The ":port" of an authority (host:port, [v6]:port), or "" without one. */
static const char *authority_port(const char *authority)
{
    const char *p = authority[0] == '[' ? strchr(authority, ']') : authority;
    p = p ? strrchr(p, ':') : NULL;
    return p ? p : "";
}

void ecr_registry_host(char *out, size_t size, struct ecr_call *c, const char *account)
{
    const char *host = http_header(c->r, "Host");
    if (!host || !*host)
        host = cfg ? cfg->listen : "localhost";
    if (cfg && cfg->domain[0]) {
        /* the registry host on the port the caller reached, which a login
         * must use too, unless it is the scheme's default */
        const char *port = authority_port(host);
        if (strcmp(port, c->r->secure ? ":443" : ":80") == 0)
            port = "";
        snprintf(out, size, "%s.dkr.ecr.%s.%s%s", account, cfg->region, cfg->domain, port);
        return;
    }
    snprintf(out, size, "%s", host);
}

void ecr_repo_uri(char *out, size_t size, struct ecr_call *c, const char *account, const char *name)
{
    char host[300];
    ecr_registry_host(host, sizeof(host), c, account);
    snprintf(out, size, "%s/%s", host, name);
}

json_t *ecr_time(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

int ecr_load_repo(struct ecr_call *c, struct repo *out)
{
    const char *name = ecr_str(c, "repositoryName");
    int rc = store_cached_repo_get(c->who.cache_gen, c->registry_id, name ? name : "", out);
    if (rc == E_NOTFOUND)
        return ecr_fail(c, ECR_REPOSITORY_NOT_FOUND,
                        "The repository with name '%s' does not exist in the registry with id '%s'", name ? name : "",
                        c->registry_id);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    return 0;
}

int ecr_page(struct ecr_call *c, int default_max, int hard_max, int *max_out, char **after_out)
{
    json_t *mr = json_object_get(c->in, "maxResults");
    const char *tok = ecr_str(c, "nextToken");
    *max_out = default_max;
    *after_out = NULL;
    if (json_is_integer(mr)) {
        json_int_t v = json_integer_value(mr);
        if (v < 1 || v > hard_max)
            return ecr_fail(c, ECR_INVALID_PARAMETER,
                            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have value less than "
                            "or equal to %d'",
                            hard_max);
        *max_out = (int)v;
    }
    if (tok) {
        size_t len;
        unsigned char *raw = base64_decode(tok, strlen(tok), &len);
        if (!raw || len < 2 || raw[0] != 'b' || raw[1] != ':') {
            free(raw);
            return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'nextToken': the token is not valid");
        }
        *after_out = xstrdup((const char *)raw + 2);
        free(raw);
    }
    return 0;
}

void ecr_set_next_token(struct ecr_call *c, const char *last_key)
{
    char *raw = xmalloc(strlen(last_key) + 3);
    snprintf(raw, strlen(last_key) + 3, "b:%s", last_key);
    char *tok = base64_encode(raw, strlen(raw));
    json_object_set_new(c->out, "nextToken", json_string(tok));
    free(tok);
    free(raw);
}

/* UploadLayerPart's body on its way: hashed for SigV4, parsed by layers.c. */
struct ecr_stream {
    struct hasher payload;
    uint64_t limit;
    struct layer_part *part;
};

static void stream_free(void *state)
{
    struct ecr_stream *st = state;
    hasher_release(&st->payload);
    layer_part_free(st->part);
    free(st);
}

static int stream_body(struct request *r, const char *data, size_t n)
{
    struct ecr_stream *st = r->state;
    /* no Content-Length (chunked): the same limit, counted as it comes */
    if (r->body_bytes > st->limit)
        return error_set(E_TOOBIG, "the request body is larger than ECR accepts");
    hasher_update(&st->payload, data, n);
    layer_part_feed(st->part, data, n);
    return 0;
}

static const struct model_operation *target_operation(struct request *r)
{
    const char *target = http_header(r, "X-Amz-Target") + strlen(TARGET_PREFIX);
    return model_operation_find(ecr_operations, ecr_noperations, slice_from(target));
}

/* The headers are in: refuse what they alone show to be refused, with the
 * answer the request would get once its body were read, in the order
 * finish() checks: the size any request may have, the signature, the
 * operation, then the operation's own limit. */
static void ecr_begin(struct request *r)
{
    struct auth_failure af;
    const char *cl = http_header(r, "Content-Length");
    uint64_t declared = 0;
    bool has_length = cl && parse_u64(slice_from(cl), UINT64_MAX, &declared) == 0;
    if (strcmp(r->method, "POST") != 0) {
        send_error(r, 405, "UnknownOperationException", "the control plane takes POST");
        return;
    }
    if (has_length && declared > ECR_BODY_MAX) {
        send_error(r, 413, "SerializationException", "the request body is larger than ECR accepts");
        return;
    }
    if (auth_precheck_sigv4(r, sigv4_services, SIGV4_JSON, &af) < 0) {
        send_error(r, af.status, af.type, af.message);
        return;
    }
    const struct model_operation *mop = target_operation(r);
    if (!mop) {
        send_error(r, 400, "UnknownOperationException", "");
        return;
    }
    uint64_t limit = body_limit[mop - ecr_operations];
    if (has_length && declared > limit) {
        send_error(r, 413, "SerializationException", "the request body is larger than ECR accepts");
        return;
    }
    if (strcmp(mop->name, STREAMED_OP) == 0) {
        struct ecr_stream *st = xcalloc(1, sizeof(*st));
        hasher_init(&st->payload, DIGEST_SHA256);
        st->limit = limit;
        st->part = layer_part_new();
        r->state = st;
        r->state_free = stream_free;
        r->body_mode = BODY_STREAM;
        r->on_body = stream_body;
        return;
    }
    r->body_mode = BODY_BUFFER;
    r->body.max = limit;
}

/* The input object of the body, with the payload hash SigV4 signs; <0
 * with the error answered. */
static int read_input(struct request *r, struct ecr_call *c, char payload[DIGEST_MAX], const struct principal *as)
{
    struct auth_failure af;
    json_error_t jerr;
    struct ecr_stream *st = r->body_mode == BODY_STREAM ? r->state : NULL;
    int rc = 0;
    if (st)
        hasher_final(&st->payload, payload);
    else
        digest_sha256(payload, r->body.ptr, r->body.len);
    if (as) {
        c->who = *as;
        c->console = true;
    } else if (auth_identify_sigv4(r, payload + 7, sigv4_services, SIGV4_JSON, &c->who, &af) < 0) {
        send_error(r, af.status, af.type, af.message);
        return -1;
    }
    if (st) {
        c->part = st->part;
        rc = layer_part_input(st->part, &c->in);
    } else {
        c->in = json_loadb(r->body.len ? r->body.ptr : "{}", r->body.len ? r->body.len : 2, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (rc == E_TOOBIG) {
        send_error(r, 413, "SerializationException", "the request body is larger than ECR accepts");
        return -1;
    }
    if (rc < 0 || !c->in || !json_is_object(c->in)) {
        json_decref(c->in);
        c->in = NULL;
        send_error(r, 400, "SerializationException", "the request body is not a JSON object");
        return -1;
    }
    return 0;
}

static const struct ecr_op *op_find(struct slice name)
{
    for (size_t i = 0; i < ecr_nops; i++)
        if (slice_eq(name, ecr_ops[i].name))
            return &ecr_ops[i];
    return NULL;
}

static void ecr_run(struct request *r);

/* The repositories a call names, for its audit record. */
static void audit_resources(struct audit_call *a, struct ecr_call *c)
{
    const char *name = ecr_str(c, "repositoryName"), *resource_arn = ecr_str(c, "resourceArn");
    json_t *names = json_object_get(c->in, "repositoryNames");
    audit_add_resource(a, "AWS::ECR::Repository", name);
    for (size_t i = 0; i < json_array_size(names); i++)
        audit_add_resource(a, "AWS::ECR::Repository", json_string_value(json_array_get(names, i)));
    const char *slash = resource_arn ? strstr(resource_arn, ":repository/") : NULL;
    if (slash)
        audit_add_resource(a, "AWS::ECR::Repository", slash + strlen(":repository/"));
}

/* The audit record of a call (rc < 0: failed with the error ecr_fail set). */
static void audit_call_of(struct audit_call *a, struct ecr_call *c, const char *operation, int rc)
{
    memset(a, 0, sizeof(*a));
    a->r = c->r;
    a->source = AUDIT_SOURCE_ECR;
    a->name = operation;
    a->read_only = audit_read_only(operation);
    a->who = &c->who;
    a->request = c->in;
    a->response = rc < 0 ? NULL : c->out;
    a->error_code = rc < 0 ? (c->err_type ? c->err_type : "ServerException") : NULL;
    a->error_message = c->err_message;
    a->request_id = c->request_id;
    a->resource_account = c->registry_id[0] ? c->registry_id : NULL;
    audit_resources(a, c);
}

int ecr_audit_in_transaction(struct ecr_call *c, const char *operation)
{
    struct audit_call a;
    audit_call_of(&a, c, operation, 0);
    return audit_record_in_transaction(&a);
}

/* The write operations whose transaction excludes only the other writers
 * of the call's registry's own rows (store_begin_account(): the list of
 * its repositories, counted for the quota), not every writer
 * (store_begin(), the others). */
static const char *const account_scoped_ops[] = {"CreateRepository"};

static bool account_scoped(const struct ecr_op *op)
{
    for (size_t i = 0; i < sizeof(account_scoped_ops) / sizeof(account_scoped_ops[0]); i++)
        if (strcmp(op->name, account_scoped_ops[i]) == 0)
            return true;
    return false;
}

/* Runs the handler, in one write transaction when the table says so: it is
 * committed when the handler succeeds and rolled back when it fails, so a
 * failed operation leaves nothing of its writes behind. A committed write
 * has its audit record in the same transaction (on the disk with it, at
 * no cost of its own). */
static int run(struct ecr_call *c, const struct ecr_op *op)
{
    int rc;
    if (op->writes && (rc = account_scoped(op) ? store_begin_account(c->registry_id) : store_begin()) < 0)
        return ecr_fail_internal(c, rc);
    rc = op->handler(c);
    if (op->writes) {
        if (rc == 0 && (rc = ecr_audit_in_transaction(c, op->name)) < 0)
            rc = ecr_fail_internal(c, rc);
        if (rc == 0 && (rc = store_commit()) < 0)
            rc = ecr_fail_internal(c, rc);
        if (rc < 0)
            store_rollback();
        c->audited = rc == 0 && audit_enabled();
    }
    return rc;
}

static void ecr_run_as(struct request *r, const struct principal *as, uint64_t layer_max);

/* Answers a call whose caller is known (rc < 0: with the error ecr_fail
 * set), recording it in the audit trail first unless run() did: a write's
 * record is on the disk before its reply leaves. */
static void respond(struct ecr_call *c, const char *operation, int rc)
{
    const char *type = c->err_type ? c->err_type : "ServerException";
    json_t *doc = c->out;
    unsigned status = 200;
    struct audit_call a;
    if (rc < 0) {
        doc = json_pack("{s:s,s:s}", "__type", type, "message", c->err_message);
        if (c->err_extra)
            json_object_update(doc, c->err_extra);
        status = c->err_status ? c->err_status : 400;
    }
    if (!c->audited) {
        audit_call_of(&a, c, operation, rc);
        audit_record(&a);
    }
    if (rc == 0 && c->layer_fd >= 0) {
        /* ecr_serve_layer_as: the bytes themselves */
        http_respond_fd(c->r, 200, "application/octet-stream", c->layer_fd, 0, c->layer_size);
        http_set_header(c->r, "x-amzn-RequestId", c->request_id);
        c->layer_fd = -1;
        return;
    }
    send_json_id(c->r, status, doc, rc < 0 ? type : NULL, c->request_id);
    if (doc != c->out)
        json_decref(doc);
}

static void ecr_finish(struct request *r)
{
    if (r->body_error == E_BUSY) {
        /* the server's budget for buffered bodies is spent for now */
        send_error(r, 503, "ServiceUnavailableException", error_message());
        return;
    }
    if (r->body_error) {
        send_error(r, 413, "SerializationException", "the request body is larger than ECR accepts");
        return;
    }
    const char *target = http_header(r, "X-Amz-Target") + strlen(TARGET_PREFIX);
    const struct ecr_op *op = op_find(slice_from(target));
    if (op && (op->writes || op->waits))
        http_defer(r, ecr_run);
    else
        ecr_run(r);
}

static void ecr_run(struct request *r)
{
    ecr_run_as(r, NULL, 0);
}

/* The console's way in: the operation of r's X-Amz-Target, checked as the
 * dispatcher's begin() checks a signed call's; 0 when it may run. */
static int console_call(struct request *r)
{
    const char *t = http_header(r, "X-Amz-Target");
    const struct model_operation *mop =
        t && strncmp(t, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0 ? target_operation(r) : NULL;
    const struct ecr_op *op = mop ? op_find(slice_from(mop->name)) : NULL;
    if (!mop) {
        send_error(r, 400, "UnknownOperationException", "");
        return -1;
    }
    if (op && (strcmp(op->name, STREAMED_OP) == 0 || strcmp(op->name, "CompleteLayerUpload") == 0)) {
        send_error(r, 400, "UnsupportedOperationException", "layer uploads go through the registry API, not the console");
        return -1;
    }
    if (r->body.len > body_limit[mop - ecr_operations]) {
        send_error(r, 413, "SerializationException", "the request body is larger than ECR accepts");
        return -1;
    }
    return 0;
}

void ecr_serve_as(struct request *r, const struct principal *who)
{
    if (console_call(r) == 0)
        ecr_run_as(r, who, 0);
}

void ecr_serve_layer_as(struct request *r, const struct principal *who, uint64_t max)
{
    if (console_call(r) < 0)
        return;
    if (strcmp(target_operation(r)->name, "GetDownloadUrlForLayer") != 0) {
        send_error(r, 400, "UnsupportedOperationException", "only GetDownloadUrlForLayer answers a layer's bytes");
        return;
    }
    ecr_run_as(r, who, max);
}

/* Everything after the body: signature (unless the caller is given), input,
 * authorization, handler. */
static void ecr_run_as(struct request *r, const struct principal *as, uint64_t layer_max)
{
    struct ecr_call c;
    char payload[DIGEST_MAX];

    memset(&c, 0, sizeof(c));
    c.r = r;
    c.layer_max = layer_max;
    c.layer_fd = -1;
    uuid_v4(c.request_id);
    const struct model_operation *mop = target_operation(r);
    assert(mop != NULL); /* begin() answered any other */
    const char *target = http_header(r, "X-Amz-Target") + strlen(TARGET_PREFIX);
    c.op = target;
    snprintf(r->operation, sizeof(r->operation), "%s", mop->name);
    if (read_input(r, &c, payload, as) < 0)
        return;
    snprintf(r->principal, sizeof(r->principal), "%s", c.who.arn);
    c.authz.source_ip = r->client_ip;
    c.authz.secure_transport = r->secure;
    struct authz_tag request_tags[64];

    int rc = 0;
    if (model_validate(ecr_shapes, mop->input, c.in) < 0 || (c.part && layer_part_validate(c.part, mop->input) < 0)) {
        rc = ecr_fail(&c, ECR_INVALID_PARAMETER, "%s", error_message());
        goto done;
    }
    const struct ecr_op *op = op_find(slice_from(target));
    if (!op) {
        rc = ecr_fail(&c, ECR_UNSUPPORTED_OPERATION, "the operation %s is not supported by this berth yet", mop->name);
        goto done;
    }
    /* tags sent with the request are condition keys (aws:RequestTag/<k>, aws:TagKeys) */
    json_t *tags = json_object_get(c.in, "tags");
    if (json_is_array(tags)) {
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(tags) && n < sizeof(request_tags) / sizeof(request_tags[0]); i++) {
            json_t *t = json_array_get(tags, i);
            request_tags[n++] = (struct authz_tag){json_string_value(json_object_get(t, "Key")),
                                                   json_string_value(json_object_get(t, "Value"))};
        }
        c.authz.request_tags = request_tags;
        c.authz.request_tag_count = n;
    }
    const char *rid = ecr_str(&c, "registryId");
    snprintf(c.registry_id, sizeof(c.registry_id), "%s", rid ? rid : c.who.account_id);
    c.out = json_object();

    char arn[600];
    const char *name = ecr_str(&c, "repositoryName");
    json_t *names = json_object_get(c.in, "repositoryNames");
    const char *resource_arn = ecr_str(&c, "resourceArn");
    if (op->resource == RES_REPOSITORY && name) {
        ecr_repo_arn(arn, sizeof(arn), c.registry_id, name);
        rc = ecr_authorize(&c, op->action, c.registry_id, arn);
    } else if (op->resource == RES_NAMES && json_is_array(names) && json_array_size(names)) {
        for (size_t i = 0; rc == 0 && i < json_array_size(names); i++) {
            ecr_repo_arn(arn, sizeof(arn), c.registry_id, json_string_value(json_array_get(names, i)));
            rc = ecr_authorize(&c, op->action, c.registry_id, arn);
        }
    } else if (op->resource == RES_ARN && resource_arn) {
        /* the handler checks the ARN's form; the action is checked in its account */
        char acct[ARN_ACCOUNT_LEN + 1];
        rc = ecr_authorize(&c, op->action, arn_account_of(acct, resource_arn) ? acct : c.registry_id, resource_arn);
    } else if (op->resource != RES_ANY) {
        snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/*", auth_region(), c.registry_id);
        rc = ecr_authorize(&c, op->action, c.registry_id, arn);
    } else {
        rc = ecr_authorize(&c, op->action, c.who.account_id, "*");
    }
    if (rc == 0)
        rc = run(&c, op);
done:
    respond(&c, mop->name, rc);
    if (c.layer_fd >= 0)
        close(c.layer_fd);
    json_decref(c.in);
    json_decref(c.out);
    json_decref(c.err_extra);
}

const struct surface ecr_surface = {
    .name = "ecr",
    .claims = ecr_claims,
    .begin = ecr_begin,
    .finish = ecr_finish,
    .abort = NULL,
};
