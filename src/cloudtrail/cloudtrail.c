/*
 * This module implements the CloudTrail surface: it claims POST / with an
 * X-Amz-Target of CloudTrail_20131101, verifies SigV4 for service
 * cloudtrail, and answers LookupEvents (AWS JSON 1.1) from the audit
 * trail, authorized as cloudtrail:LookupEvents and limited to the caller's
 * own account. The other operations of CloudTrail's model answer
 * UnsupportedOperationException, as ECR's unimplemented ones do; a name
 * the model does not have answers UnknownOperationException.
 *
 * A lookup first waits for the records queued before it (audit_sync), so
 * it sees every call that was answered before it was made.
 */
#include "cloudtrail/cloudtrail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/sigv4.h"
#include "cloudtrail/lookup.h"
#include "cloudtrail/model_gen.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "model/model.h"

#define TARGET_PREFIX "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
/* LookupEvents takes a few hundred bytes; other operations are refused. */
#define BODY_MAX (64u << 10)

static const char *const services[] = {"cloudtrail", NULL};

void cloudtrail_configure(void)
{
    if (model_init(cloudtrail_shapes, cloudtrail_nshapes) < 0) {
        log_error("%s", error_message());
        abort();
    }
}

static bool ct_claims_target(struct request *r)
{
    const char *t = http_header(r, "X-Amz-Target");
    return t && strncmp(t, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0;
}

static bool ct_claims(struct request *r)
{
    return strcmp(r->path, "/") == 0 && ct_claims_target(r);
}

static void send_json(struct request *r, unsigned status, json_t *doc, const char *error_type, const char *id)
{
    char fresh[37];
    char *body = json_dumps(doc, JSON_COMPACT);
    if (!id) {
        uuid_v4(fresh);
        id = fresh;
    }
    http_respond(r, status, "application/x-amz-json-1.1", body, strlen(body));
    http_set_header(r, "x-amzn-RequestId", id);
    if (error_type)
        http_set_header(r, "x-amzn-ErrorType", error_type);
    free(body);
}

static void send_error(struct request *r, unsigned status, const char *type, const char *message)
{
    json_t *doc = json_pack("{s:s,s:s}", "__type", type, "message", message);
    send_json(r, status, doc, type, NULL);
    json_decref(doc);
}

static const struct model_operation *target_operation(struct request *r)
{
    const char *target = http_header(r, "X-Amz-Target") + strlen(TARGET_PREFIX);
    return model_operation_find(cloudtrail_operations, cloudtrail_noperations, slice_from(target));
}

static void ct_begin(struct request *r)
{
    struct auth_failure af;
    const char *cl = http_header(r, "Content-Length");
    uint64_t declared = 0;
    if (strcmp(r->method, "POST") != 0) {
        send_error(r, 405, "UnknownOperationException", "the control plane takes POST");
        return;
    }
    if (cl && parse_u64(slice_from(cl), UINT64_MAX, &declared) == 0 && declared > BODY_MAX) {
        send_error(r, 413, "SerializationException", "the request body is larger than CloudTrail accepts");
        return;
    }
    if (auth_precheck_sigv4(r, services, SIGV4_JSON, &af) < 0) {
        send_error(r, af.status, af.type, af.message);
        return;
    }
    if (!target_operation(r)) {
        send_error(r, 400, "UnknownOperationException", "");
        return;
    }
    r->body_mode = BODY_BUFFER;
    r->body.max = BODY_MAX;
}

/* One call of the surface, from the caller on. */
struct ct_call {
    struct request *r;
    const char *op;
    struct principal who;
    json_t *in;
    json_t *out;
    const char *err_type; /* NULL: no error */
    unsigned err_status;
    char message[512];
};

static int ct_fail(struct ct_call *c, enum cloudtrail_error e, const char *message)
{
    c->err_type = cloudtrail_errors[e].code;
    c->err_status = cloudtrail_errors[e].status;
    snprintf(c->message, sizeof(c->message), "%s", message);
    return -1;
}

/* A JSON string of a row's text: rows that an older berth wrote may hold
 * bytes that are not UTF-8, which json_string() refuses, and an event
 * missing from a page would end the pagination there. */
static json_t *row_string(const char *z)
{
    char *clean = audit_utf8(z);
    json_t *j = json_string(clean);
    free(clean);
    return j;
}

static int event_row(void *ctx, const struct audit_row *row)
{
    json_t *events = ctx;
    json_t *resources = json_array();
    char *record = audit_event_json(row);
    for (int i = 0; i < row->nresources; i++)
        json_array_append_new(resources, json_pack("{s:o,s:o}", "ResourceType", row_string(row->resources[i].type),
                                                   "ResourceName", row_string(row->resources[i].name)));
    json_t *e = json_pack("{s:o,s:o,s:s,s:f,s:o,s:o,s:o}", "EventId", row_string(row->event_id), "EventName",
                          row_string(row->event_name), "ReadOnly", row->read_only ? "true" : "false", "EventTime",
                          (double)row->event_ms / 1000.0, "EventSource", row_string(row->event_source), "Resources", resources,
                          "CloudTrailEvent", row_string(record));
    free(record);
    if (row->access_key_id[0])
        json_object_set_new(e, "AccessKeyId", row_string(row->access_key_id));
    if (row->username[0])
        json_object_set_new(e, "Username", row_string(row->username));
    /* the seq rides along until the page is cut; removed before sending */
    json_object_set_new(e, "-seq", json_integer(row->seq));
    json_array_append_new(events, e);
    return 0;
}

static int lookup_events(struct ct_call *c)
{
    struct lookup_request lr;
    enum cloudtrail_error e;
    char msg[256];
    if (lookup_parse(&lr, c->in, &e, msg, sizeof(msg)) < 0)
        return ct_fail(c, e, msg);
    struct authz_context ctx = {.source_ip = c->r->client_ip, .secure_transport = c->r->secure};
    if (auth_authorize(&c->who, "cloudtrail:LookupEvents", c->who.account_id, "*", &ctx) < 0)
        return ct_fail(c, CLOUDTRAIL_ACCESS_DENIED, error_message());
    json_t *events = json_array();
    c->out = json_pack("{s:o}", "Events", events);
    if (lr.insight) /* berth records management events only */
        return 0;
    audit_sync();
    struct audit_query q = {
        .account_id = c->who.account_id,
        .attr = lr.attr,
        .value = lr.value,
        .start_ms = lr.start_ms,
        .end_ms = lr.end_ms,
        .before_seq = lr.before_seq,
        .limit = lr.max_results + 1, /* one more says whether a next page exists */
    };
    int rc = store_audit_lookup(&q, event_row, events);
    if (rc < 0) {
        log_error("LookupEvents: %s", error_message());
        c->err_type = "InternalFailure";
        c->err_status = 500;
        snprintf(c->message, sizeof(c->message), "an internal error occurred");
        return -1;
    }
    if (json_array_size(events) > (size_t)lr.max_results) {
        json_array_remove(events, (size_t)lr.max_results);
        json_t *last = json_array_get(events, (size_t)lr.max_results - 1);
        char *tok = lookup_token(json_integer_value(json_object_get(last, "-seq")));
        json_object_set_new(c->out, "NextToken", json_string(tok));
        free(tok);
    }
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) json_object_del(ev, "-seq");
    return 0;
}

/* Answers the call, recording it in the audit trail first. */
static void respond(struct ct_call *c)
{
    char id[37];
    uuid_v4(id);
    struct audit_call a = {
        .r = c->r,
        .source = AUDIT_SOURCE_CLOUDTRAIL,
        .name = c->op,
        .read_only = audit_read_only(c->op),
        .who = &c->who,
        .request = c->in,
        .error_code = c->err_type,
        .error_message = c->message,
        .request_id = id,
    };
    audit_record(&a);
    if (c->err_type) {
        json_t *doc = json_pack("{s:s,s:s}", "__type", c->err_type, "message", c->message);
        send_json(c->r, c->err_status, doc, c->err_type, id);
        json_decref(doc);
    } else {
        send_json(c->r, 200, c->out, NULL, id);
    }
}

/* Everything after the body: the caller (SigV4, unless given), the input,
 * the operation. */
static void ct_run(struct request *r, const struct principal *as)
{
    struct ct_call c;
    struct auth_failure af;
    char payload[DIGEST_MAX];
    json_error_t jerr;

    memset(&c, 0, sizeof(c));
    c.r = r;
    c.op = target_operation(r)->name;
    snprintf(r->operation, sizeof(r->operation), "%s", c.op);
    if (as) {
        c.who = *as;
    } else {
        digest_sha256(payload, r->body.ptr, r->body.len);
        if (auth_identify_sigv4(r, payload + 7, services, SIGV4_JSON, &c.who, &af) < 0) {
            send_error(r, af.status, af.type, af.message);
            return;
        }
    }
    snprintf(r->principal, sizeof(r->principal), "%s", c.who.arn);
    c.in = json_loadb(r->body.len ? r->body.ptr : "{}", r->body.len ? r->body.len : 2, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(c.in)) {
        json_decref(c.in);
        c.in = NULL;
        ct_fail(&c, CLOUDTRAIL_SERIALIZATION, "the request body is not a JSON object");
    } else if (strcmp(c.op, "LookupEvents") == 0) {
        lookup_events(&c);
    } else {
        char msg[200];
        snprintf(msg, sizeof(msg), "the operation %s is not supported by this berth yet", c.op);
        ct_fail(&c, CLOUDTRAIL_UNSUPPORTED_OPERATION, msg);
    }
    respond(&c);
    json_decref(c.in);
    json_decref(c.out);
}

static void ct_run_signed(struct request *r)
{
    ct_run(r, NULL);
}

static void ct_finish(struct request *r)
{
    if (r->body_error == E_BUSY) {
        send_error(r, 503, "ServiceUnavailableException", error_message());
        return;
    }
    if (r->body_error) {
        send_error(r, 413, "SerializationException", "the request body is larger than CloudTrail accepts");
        return;
    }
    /* a lookup first indexes the records staged before it: a write, which
     * may wait for its lock */
    http_defer(r, ct_run_signed);
}

void cloudtrail_serve_as(struct request *r, const struct principal *who)
{
    if (!ct_claims_target(r) || !target_operation(r)) {
        send_error(r, 400, "UnknownOperationException", "");
        return;
    }
    if (r->body.len > BODY_MAX) {
        send_error(r, 413, "SerializationException", "the request body is larger than CloudTrail accepts");
        return;
    }
    ct_run(r, who);
}

const struct surface cloudtrail_surface = {
    .name = "cloudtrail",
    .claims = ct_claims,
    .begin = ct_begin,
    .finish = ct_finish,
    .abort = NULL,
};
