/*
 * This module implements the identity surface of iam.h: it claims POST /
 * with a form-encoded body and no X-Amz-Target (those are ECR's), buffers
 * the body (1 MiB at most), verifies SigV4 for service iam or sts, builds
 * and validates the input against botocore's IAM model, authorizes the
 * operation and runs its handler, answering in the AWS Query protocol's XML
 * (<OpResponse><OpResult>...</OpResult><ResponseMetadata>..., errors as
 * <ErrorResponse><Error><Type><Code><Message>, with IAM's HTTP statuses).
 */
#include "iam/iam.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "auth/sigv4.h"
#include "core/alloc.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "iam/managed.h"
#include "iam/model_gen.h"
#include "iam/ops.h"
#include "iam/query.h"
#include "iam/xml.h"
#include "store/cache.h"

#define IAM_BODY_MAX (1u << 20)
#define IAM_XMLNS "https://iam.amazonaws.com/doc/2010-05-08/"
#define STS_XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"
#define FORM_TYPE "application/x-www-form-urlencoded"

struct identity_walk {
    int (*fn)(void *ctx, const char *label, const char *document);
    void *ctx;
};

/* The store's rows with the AWS-managed documents filled in (built in,
 * iam/managed.c); a customer policy deleted under its attachment adds nothing. */
static int identity_row(void *ctx, const char *label, const char *document)
{
    struct identity_walk *w = ctx;
    const struct managed_policy *m;
    if (!document && managed_policy_lookup(&m, label) == 0)
        document = m->document;
    return document ? w->fn(w->ctx, label, document) : 0;
}

/* Where the policy evaluator gets a user's identity policies from. */
static int identity_policies(uint64_t cache_gen, const char *account, const char *user_name,
                             int (*fn)(void *ctx, const char *label, const char *document), void *ctx)
{
    struct identity_walk w = {fn, ctx};
    return store_cached_identity_policies(cache_gen, account, user_name, identity_row, &w);
}

void iam_configure(const struct config *c)
{
    (void)c;
    if (model_init(iam_shapes, iam_nshapes) < 0) {
        log_error("%s", error_message());
        abort();
    }
    auth_set_identity_source(identity_policies);
}

static bool iam_claims(struct request *r)
{
    const char *ct = http_header(r, "Content-Type");
    size_t n = strlen(FORM_TYPE);
    return strcmp(r->path, "/") == 0 && strcmp(r->method, "POST") == 0 && !http_header(r, "X-Amz-Target") && ct &&
           strncasecmp(ct, FORM_TYPE, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void send_error(struct request *r, bool sts, unsigned status, const char *code, const char *message);

/* Is the request signed for STS? Its errors then take STS's namespace, as
 * they would once the body named an STS action. */
static bool signed_for_sts(struct request *r)
{
    struct sigv4_auth a;
    const char *authz = http_header(r, "Authorization");
    return authz && sigv4_parse_authorization(&a, slice_from(authz)) == 0 && slice_eq(a.service, "sts");
}

/* The headers are in: a body declared too long, or a request whose
 * signature cannot pass (its form, scope, clock or key), is refused before
 * its body is read, with the answer finish() would give, in its order. */
static void iam_begin(struct request *r)
{
    static const char *const services[] = {"iam", "sts", NULL};
    struct auth_failure af;
    const char *cl = http_header(r, "Content-Length");
    uint64_t declared;
    if (cl && parse_u64(slice_from(cl), UINT64_MAX, &declared) == 0 && declared > IAM_BODY_MAX) {
        send_error(r, false, 413, "RequestEntityTooLarge", "the request body is larger than IAM accepts");
        return;
    }
    if (auth_enabled() && auth_precheck_sigv4(r, services, SIGV4_QUERY, &af) < 0) {
        send_error(r, signed_for_sts(r), af.status, af.type, af.message);
        return;
    }
    r->body_mode = BODY_BUFFER;
    r->body.max = IAM_BODY_MAX;
}

static void send_error_id(struct request *r, bool sts, unsigned status, const char *code, const char *message,
                          const char *id)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type>", sts ? STS_XMLNS : IAM_XMLNS,
               status >= 500 ? "Receiver" : "Sender");
    xml_text(&b, "Code", code);
    xml_text(&b, "Message", message);
    buf_printf(&b, "</Error><RequestId>%s</RequestId></ErrorResponse>", id);
    http_respond(r, status, "text/xml", b.ptr, b.len);
    http_set_header(r, "x-amzn-RequestId", id);
    buf_release(&b);
}

static void send_error(struct request *r, bool sts, unsigned status, const char *code, const char *message)
{
    char id[37];
    uuid_v4(id);
    send_error_id(r, sts, status, code, message, id);
}

/* An error of the generated table (iam/model_gen.h), with its status. */
static void send_table_error(struct request *r, bool sts, enum iam_error e, const char *message)
{
    send_error(r, sts, iam_errors[e].status, iam_errors[e].code, message);
}

static void send_result(struct iam_call *c, const char *id)
{
    struct buf b;
    const char *name = c->op->name;
    buf_init(&b, BUF_UNLIMITED);
    buf_printf(&b, "<%sResponse xmlns=\"%s\">", name, strcmp(c->op->version, STS_VERSION) == 0 ? STS_XMLNS : IAM_XMLNS);
    if (c->op->result) {
        buf_printf(&b, "<%sResult>", name);
        buf_put(&b, c->out.ptr, c->out.len);
        buf_printf(&b, "</%sResult>", name);
    }
    buf_printf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", id, name);
    http_respond(c->r, 200, "text/xml", b.ptr, b.len);
    http_set_header(c->r, "x-amzn-RequestId", id);
    buf_release(&b);
}

int iam_fail(struct iam_call *c, enum iam_error e, const char *fmt, ...)
{
    va_list ap;
    assert((unsigned)e < IAM_NERRORS);
    va_start(ap, fmt);
    vsnprintf(c->err_message, sizeof(c->err_message), fmt, ap);
    va_end(ap);
    c->err_code = iam_errors[e].code;
    c->err_status = iam_errors[e].status;
    return -1;
}

int iam_fail_internal(struct iam_call *c, int rc)
{
    log_error("%s: %s (%d)", c->op ? c->op->name : "iam", error_message(), rc);
    if (rc == E_UNAVAILABLE) {
        snprintf(c->err_message, sizeof(c->err_message), "%s", error_message());
        c->err_code = "ServiceUnavailable";
        c->err_status = 503;
        return -1;
    }
    return iam_fail(c, IAM_SERVICE_FAILURE, "an internal error occurred");
}

const char *iam_str(struct iam_call *c, const char *key)
{
    json_t *v = json_object_get(c->in, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool iam_bool(struct iam_call *c, const char *key, bool dflt)
{
    json_t *v = json_object_get(c->in, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

void iam_arn(char *out, size_t size, const char *account, const char *kind, const char *path, const char *name)
{
    snprintf(out, size, "arn:aws:iam::%s:%s%s%s", account, kind, path && *path ? path : "/", name);
}

void iam_new_id(char out[32], const char *prefix)
{
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    random_string(out + n, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
}

int iam_load_user(struct iam_call *c, const char *name, struct iam_identity *out)
{
    int rc = store_identity_get(c->account, IAM_ENTITY_USER, name, out);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The user with name %s cannot be found.", name);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int iam_load_group(struct iam_call *c, const char *name, struct iam_identity *out)
{
    int rc = store_identity_get(c->account, IAM_ENTITY_GROUP, name, out);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The group with name %s cannot be found.", name);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int iam_target_user(struct iam_call *c, struct iam_identity *out, bool *is_root)
{
    const char *name = iam_str(c, "UserName");
    *is_root = false;
    if (name)
        return iam_load_user(c, name, out);
    if (c->who.is_root) {
        *is_root = true;
        return 0;
    }
    *out = c->caller;
    return 0;
}

/* ---- pagination ---- */

int iam_page_begin(struct iam_call *c, struct iam_page *pg, int (*cmp)(const char *a, const char *b))
{
    json_t *mi = json_object_get(c->in, "MaxItems");
    const char *marker = iam_str(c, "Marker");
    memset(pg, 0, sizeof(*pg));
    pg->cmp = cmp ? cmp : strcasecmp;
    pg->max = json_is_integer(mi) ? (int)json_integer_value(mi) : IAM_MAX_ITEMS_DEFAULT;
    if (marker) {
        size_t len;
        unsigned char *raw = base64_decode(marker, strlen(marker), &len);
        if (!raw || len < 2 || memcmp(raw, "m:", 2) != 0 || strlen((char *)raw) != len) {
            free(raw);
            return iam_fail(c, IAM_INVALID_INPUT, "Invalid Marker.");
        }
        pg->after = xstrdup((char *)raw + 2);
        free(raw);
    }
    return 0;
}

bool iam_page_take(struct iam_page *pg, const char *key)
{
    if (pg->truncated || (pg->after && pg->cmp(key, pg->after) <= 0))
        return false;
    if (pg->n == pg->max) {
        pg->truncated = true;
        return false;
    }
    pg->n++;
    free(pg->last);
    pg->last = xstrdup(key);
    return true;
}

int iam_page_fetch(const struct iam_page *pg)
{
    return pg->max + 1;
}

void iam_page_end(struct iam_call *c, struct iam_page *pg)
{
    xml_bool(&c->out, "IsTruncated", pg->truncated);
    if (pg->truncated && pg->last) {
        size_t n = strlen(pg->last) + 3;
        char *raw = xmalloc(n);
        snprintf(raw, n, "m:%s", pg->last);
        char *marker = base64_encode(raw, strlen(raw));
        xml_text(&c->out, "Marker", marker);
        free(marker);
        free(raw);
    }
    free(pg->after);
    free(pg->last);
    pg->after = pg->last = NULL;
}

/* ---- records ---- */

void iam_xml_user(struct buf *b, const char *element, const struct iam_identity *u, const char *tags_json)
{
    xml_open(b, element);
    xml_text(b, "Path", u->path);
    xml_text(b, "UserName", u->name);
    xml_text(b, "UserId", u->id);
    xml_text(b, "Arn", u->arn);
    xml_time(b, "CreateDate", u->created_ms);
    iam_xml_tags(b, tags_json);
    xml_close(b, element);
}

void iam_xml_group(struct buf *b, const char *element, const struct iam_identity *g)
{
    xml_open(b, element);
    xml_text(b, "Path", g->path);
    xml_text(b, "GroupName", g->name);
    xml_text(b, "GroupId", g->id);
    xml_text(b, "Arn", g->arn);
    xml_time(b, "CreateDate", g->created_ms);
    xml_close(b, element);
}

void iam_xml_tags(struct buf *b, const char *tags_json)
{
    json_t *tags = tags_json ? json_loads(tags_json, 0, NULL) : NULL;
    size_t i;
    json_t *t;
    if (json_is_array(tags) && json_array_size(tags) > 0) {
        xml_open(b, "Tags");
        json_array_foreach(tags, i, t)
        {
            xml_open(b, "member");
            xml_text(b, "Key", json_string_value(json_object_get(t, "Key")));
            xml_text(b, "Value", json_string_value(json_object_get(t, "Value")));
            xml_close(b, "member");
        }
        xml_close(b, "Tags");
    }
    json_decref(tags);
}

char *iam_tags_json(struct iam_call *c)
{
    json_t *tags = json_object_get(c->in, "Tags");
    return json_is_array(tags) && json_array_size(tags) > 0 ? json_dumps(tags, JSON_COMPACT) : NULL;
}

/* ---- dispatch ---- */

static const struct iam_op *op_find(const char *name)
{
    for (size_t i = 0; i < iam_nops; i++)
        if (strcmp(iam_ops[i].name, name) == 0)
            return &iam_ops[i];
    return NULL;
}

/* The ARN an operation's action is checked on (the ARN a user or group
 * would have when it does not exist); E_ERROR when the store fails. */
static int resource_arn(struct iam_call *c, char *out, size_t size)
{
    const struct iam_op *op = c->op;
    const char *name;
    int rc = 0;
    switch (op->resource) {
    case IAM_RES_USER:
        if ((name = iam_str(c, "UserName"))) {
            struct iam_identity u;
            if ((rc = store_identity_get(c->account, IAM_ENTITY_USER, name, &u)) == 0)
                snprintf(out, size, "%s", u.arn);
            else
                iam_arn(out, size, c->account, "user", "/", name);
        } else {
            snprintf(out, size, "%s", c->who.is_root ? c->who.arn : c->caller.arn);
        }
        return rc == E_NOTFOUND ? 0 : rc;
    case IAM_RES_GROUP: {
        struct iam_identity g;
        name = iam_str(c, "GroupName");
        if ((rc = store_identity_get(c->account, IAM_ENTITY_GROUP, name ? name : "", &g)) == 0)
            snprintf(out, size, "%s", g.arn);
        else
            iam_arn(out, size, c->account, "group", "/", name ? name : "");
        return rc == E_NOTFOUND ? 0 : rc;
    }
    case IAM_RES_POLICY:
        snprintf(out, size, "%s", iam_str(c, "PolicyArn") ? iam_str(c, "PolicyArn") : "*");
        return 0;
    case IAM_RES_NEW_POLICY:
        name = iam_str(c, "PolicyName");
        iam_arn(out, size, c->account, "policy", iam_str(c, "Path"), name ? name : "");
        return 0;
    case IAM_RES_USERS:
        iam_arn(out, size, c->account, "user", "/", "");
        return 0;
    case IAM_RES_GROUPS:
        iam_arn(out, size, c->account, "group", "/", "");
        return 0;
    case IAM_RES_POLICIES:
        iam_arn(out, size, c->account, "policy", "/", "");
        return 0;
    case IAM_RES_NONE:
    case IAM_RES_ACCOUNT:
        snprintf(out, size, "*");
        return 0;
    }
    return 0;
}

/*
 * The one place IAM calls are authorized: by the same policy evaluator as
 * every ECR and /v2 request (the root of the account is allowed unless a
 * policy explicitly denies; a user needs an identity policy that allows).
 * Calls that name no resource (GetCallerIdentity) need no permission.
 */
static int iam_authorize(struct iam_call *c)
{
    char arn[800], *grant = NULL;
    if (c->op->resource == IAM_RES_NONE)
        return 0;
    int rc = resource_arn(c, arn, sizeof(arn));
    if (rc == 0)
        rc = iam_password_change_grant(&grant, &c->who, c->op->action);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    c->authz.account_grant = grant;
    rc = auth_authorize(&c->who, c->op->action, c->account, arn, &c->authz);
    c->authz.account_grant = NULL;
    free(grant);
    if (rc < 0)
        return iam_fail(c, IAM_ACCESS_DENIED, "%s", error_message());
    return 0;
}

/* The value at a validator path ("Tags.1.member.Key") in the input. */
static json_t *value_at(json_t *in, const char *path)
{
    json_t *cur = in;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char part[200];
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        if (json_is_array(cur)) {
            uint64_t i;
            if (parse_u64(slice_from(part), 100000, &i) < 0 || i == 0)
                return NULL;
            cur = json_array_get(cur, (size_t)i - 1);
        } else if (strcmp(part, "member") != 0) {
            cur = json_object_get(cur, part);
        }
        p = dot ? dot + 1 : p + n;
    }
    return cur;
}

/*
 * IAM's wording of a model violation: "1 validation error detected: Value
 * 'a b' at 'userName' failed to satisfy constraint: Member must satisfy
 * regular expression pattern: [\w+=,.@-]+", from the validator's "Invalid
 * parameter at 'UserName' failed to satisfy constraint: '...'".
 */
static void validation_message(struct buf *out, json_t *in, const char *detail)
{
    static const char at[] = "Invalid parameter at '", mid[] = "' failed to satisfy constraint: '";
    static const char re[] = "must satisfy regular expression '";
    const char *p = strstr(detail, at), *m = p ? strstr(p, mid) : NULL;
    char path[512];
    if (!p || !m || (size_t)(m - p - (sizeof(at) - 1)) >= sizeof(path)) {
        buf_printf(out, "1 validation error detected: %s", detail);
        return;
    }
    p += sizeof(at) - 1;
    memcpy(path, p, (size_t)(m - p));
    path[m - p] = '\0';
    /* the constraint, without the quotes the validator puts around it */
    struct slice constraint = slice_from(m + sizeof(mid) - 1);
    if (constraint.len && constraint.base[constraint.len - 1] == '\'')
        constraint.len--;

    buf_puts(out, "1 validation error detected: Value ");
    json_t *v = value_at(in, path);
    if (json_is_string(v))
        buf_printf(out, "'%.250s'", json_string_value(v));
    else if (json_is_integer(v))
        buf_printf(out, "'%lld'", (long long)json_integer_value(v));
    else
        buf_puts(out, "null");
    /* IAM names members in lowerCamelCase: userName, tags.1.member.key */
    buf_puts(out, " at '");
    for (const char *q = path; *q; q++)
        buf_putc(out, (q == path || q[-1] == '.') && *q >= 'A' && *q <= 'Z' ? (char)(*q - 'A' + 'a') : *q);
    buf_puts(out, "' failed to satisfy constraint: ");
    if (slice_starts_with(constraint, re)) {
        struct slice pattern = {constraint.base + sizeof(re) - 1, constraint.len - (sizeof(re) - 1)};
        if (pattern.len && pattern.base[pattern.len - 1] == '\'')
            pattern.len--;
        buf_puts(out, "Member must satisfy regular expression pattern: ");
        buf_put(out, pattern.base, pattern.len);
    } else {
        buf_put(out, constraint.base, constraint.len);
    }
}

/* IAM's member names as CloudTrail writes them: lowerCamelCase. */
static json_t *camel_keys(json_t *doc)
{
    const char *key;
    json_t *v;
    size_t i;
    if (json_is_object(doc)) {
        json_t *out = json_object();
        json_object_foreach(doc, key, v)
        {
            char k[128];
            snprintf(k, sizeof(k), "%s", key);
            if (k[0] >= 'A' && k[0] <= 'Z')
                k[0] = (char)(k[0] - 'A' + 'a');
            json_object_set_new(out, k, camel_keys(v));
        }
        return out;
    }
    if (json_is_array(doc)) {
        json_t *out = json_array();
        json_array_foreach(doc, i, v) json_array_append_new(out, camel_keys(v));
        return out;
    }
    return json_incref(doc);
}

/* The audit record of a call: the result when code is NULL, else the
 * error. *params and *result hold what it borrows; the caller frees them. */
static void audit_call_of(struct audit_call *a, struct iam_call *c, const char *name, bool sts, const char *code,
                          const char *message, json_t **params, json_t **result)
{
    *params = c->in ? camel_keys(c->in) : NULL;
    *result = code ? NULL : xml_to_json(c->out.ptr, c->out.len);
    memset(a, 0, sizeof(*a));
    a->r = c->r;
    a->source = sts ? AUDIT_SOURCE_STS : AUDIT_SOURCE_IAM;
    a->name = name;
    a->read_only = audit_read_only(name);
    a->who = &c->who;
    a->caller_arn = c->who.is_root || !c->caller.arn[0] ? NULL : c->caller.arn;
    a->request = *params;
    a->response = *result;
    a->error_code = code;
    a->error_message = message;
    a->request_id = c->request_id;
    audit_add_resource(a, "AWS::IAM::User", iam_str(c, "UserName"));
    audit_add_resource(a, "AWS::IAM::Group", iam_str(c, "GroupName"));
    audit_add_resource(a, "AWS::IAM::Policy", iam_str(c, "PolicyArn"));
    audit_add_resource(a, "AWS::IAM::AccessKey", iam_str(c, "AccessKeyId"));
}

/* Answers a call whose caller is known, recording it in the audit trail
 * first unless run() did (a write's record is on the disk before its reply
 * leaves): the result when code is NULL, else the error. */
static void answer(struct iam_call *c, const char *action, bool sts, unsigned status, const char *code, const char *message)
{
    const char *name = c->op ? c->op->name : action ? action : "";
    if (!c->audited && (c->op || (*name && strlen(name) < 64))) { /* not what anyone may send as Action */
        struct audit_call a;
        json_t *params, *result;
        audit_call_of(&a, c, name, sts, code, message, &params, &result);
        audit_record(&a);
        json_decref(params);
        json_decref(result);
    }
    if (code)
        send_error_id(c->r, sts, status, code, message, c->request_id);
    else
        send_result(c, c->request_id);
}

static int load_caller(struct iam_call *c)
{
    if (c->who.is_root)
        return 0;
    int rc = store_identity_get(c->account, IAM_ENTITY_USER, c->who.user_name, &c->caller);
    if (rc < 0 && rc != E_NOTFOUND)
        return iam_fail_internal(c, rc);
    if (rc < 0) {
        /* a key whose user is gone cannot act */
        return iam_fail(c, IAM_INVALID_CLIENT_TOKEN_ID, "The security token included in the request is invalid.");
    }
    return 0;
}

/* Runs the handler, in one write transaction when the table says so; a
 * committed write has its audit record in the same transaction. */
static int run(struct iam_call *c)
{
    int rc;
    if (c->op->writes && (rc = store_begin()) < 0)
        return iam_fail_internal(c, rc);
    rc = c->op->handler(c);
    if (c->op->writes) {
        if (rc == 0) {
            struct audit_call a;
            json_t *params, *result;
            audit_call_of(&a, c, c->op->name, strcmp(c->op->version, STS_VERSION) == 0, NULL, NULL, &params, &result);
            if ((rc = audit_record_in_transaction(&a)) < 0)
                rc = iam_fail_internal(c, rc);
            json_decref(params);
            json_decref(result);
        }
        if (rc == 0 && (rc = store_commit()) < 0)
            rc = iam_fail_internal(c, rc);
        if (rc < 0) {
            store_rollback();
            if (c->on_rollback)
                c->on_rollback(c);
        }
        c->audited = rc == 0 && audit_enabled();
    }
    return rc;
}

static void iam_run(struct request *r, const struct principal *as);

static void iam_run_signed(struct request *r)
{
    iam_run(r, NULL);
}

/* Every call runs on a defer thread: which one writes (and may wait for
 * the registry's lock) is known only once its form is parsed. */
static void iam_finish(struct request *r)
{
    if (r->body_error) /* answered at once (perhaps before the body comes: no room) */
        iam_run(r, NULL);
    else
        http_defer(r, iam_run_signed);
}

void iam_serve_as(struct request *r, const struct principal *who)
{
    iam_run(r, who);
}

/* Everything after the body: the form, the signature (unless the caller is
 * given), the input, authorization and the handler. */
static void iam_run(struct request *r, const struct principal *as)
{
    static const char *const services[] = {"iam", "sts", NULL};
    struct iam_call c;
    struct query_form form;
    struct auth_failure af;
    char payload[DIGEST_MAX], msg[1200];
    bool sts;

    memset(&c, 0, sizeof(c));
    memset(&form, 0, sizeof(form));
    c.r = r;
    uuid_v4(c.request_id);
    buf_init(&c.out, BUF_UNLIMITED);
    if (r->body_error == E_BUSY) {
        send_error(r, false, 503, "ServiceUnavailable", error_message());
        goto done;
    }
    if (r->body_error) {
        send_table_error(r, false, IAM_REQUEST_ENTITY_TOO_LARGE, "the request body is larger than IAM accepts");
        goto done;
    }
    if (query_form_parse(&form, r->body.ptr, r->body.len) < 0) {
        send_table_error(r, false, IAM_MALFORMED_QUERY_STRING, error_message());
        goto done;
    }
    const char *action = query_form_get(&form, "Action"), *version = query_form_get(&form, "Version");
    c.op = action ? op_find(action) : NULL;
    if (c.op)
        snprintf(r->operation, sizeof(r->operation), "%s", c.op->name);
    sts = c.op ? strcmp(c.op->version, STS_VERSION) == 0 : version && strcmp(version, STS_VERSION) == 0;

    digest_sha256(payload, r->body.ptr, r->body.len);
    if (as) {
        c.who = *as;
    } else if (!auth_enabled()) {
        auth_anonymous(&c.who);
    } else if (auth_identify_sigv4(r, payload + 7, services, SIGV4_QUERY, &c.who, &af) < 0) {
        send_error(r, sts, af.status, af.type, af.message);
        goto done;
    }
    c.account = c.who.account_id;
    c.authz.source_ip = r->client_ip;
    c.authz.secure_transport = r->secure;
    if (load_caller(&c) < 0) {
        answer(&c, action, sts, c.err_status, c.err_code, c.err_message);
        goto done;
    }
    snprintf(r->principal, sizeof(r->principal), "%.*s", (int)sizeof(r->principal) - 1,
             c.who.is_root ? c.who.arn : c.caller.arn);

    if (!action || !*action) {
        answer(&c, action, sts, iam_errors[IAM_MISSING_ACTION].status, iam_errors[IAM_MISSING_ACTION].code, "Missing Action");
        goto done;
    }
    if (!c.op || !version || strcmp(version, c.op->version) != 0) {
        const struct model_operation *known = model_operation_find(iam_operations, iam_noperations, slice_from(action));
        if (known && !c.op && version && strcmp(version, IAM_VERSION) == 0)
            snprintf(msg, sizeof(msg), "the operation %s is not supported by this berth yet", action);
        else
            snprintf(msg, sizeof(msg), "Could not find operation %.200s for version %.40s", action,
                     version ? version : "NO_VERSION_SPECIFIED");
        answer(&c, action, sts, iam_errors[IAM_INVALID_ACTION].status, iam_errors[IAM_INVALID_ACTION].code, msg);
        goto done;
    }

    if (!sts) {
        const struct model_operation *mop = model_operation_find(iam_operations, iam_noperations, slice_from(action));
        if (query_form_to_json(&c.in, &form, iam_shapes, mop ? mop->input : -1) < 0) {
            answer(&c, action, sts, iam_errors[IAM_MALFORMED_QUERY_STRING].status, iam_errors[IAM_MALFORMED_QUERY_STRING].code,
                   error_message());
            goto done;
        }
        if (mop && model_validate(iam_shapes, mop->input, c.in) < 0) {
            struct buf vm;
            buf_init(&vm, BUF_UNLIMITED);
            validation_message(&vm, c.in, error_message());
            answer(&c, action, sts, iam_errors[IAM_VALIDATION_ERROR].status, iam_errors[IAM_VALIDATION_ERROR].code, vm.ptr);
            buf_release(&vm);
            goto done;
        }
    } else {
        c.in = json_object();
    }

    if (iam_authorize(&c) == 0 && run(&c) == 0)
        answer(&c, action, sts, 200, NULL, NULL);
    else if (c.err_code)
        answer(&c, action, sts, c.err_status, c.err_code, c.err_message);
    else /* a handler failed without saying why: a bug */
        answer(&c, action, sts, iam_errors[IAM_SERVICE_FAILURE].status, iam_errors[IAM_SERVICE_FAILURE].code,
               "an internal error occurred");
done:
    json_decref(c.in);
    buf_release(&c.out);
    query_form_release(&form);
}

const struct surface iam_surface = {
    .name = "iam",
    .claims = iam_claims,
    .begin = iam_begin,
    .finish = iam_finish,
    .abort = NULL,
};
