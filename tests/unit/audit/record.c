/*
 * Unit tests for the records of src/audit/audit.c: a record written by
 * hand and stored compact, then put back together by audit_event_json(),
 * is byte for byte the CloudTrail JSON that the jansson tree of earlier
 * versions dumped (reference_record() below is that code), for every kind
 * of call: root, IAM user, service event, errors, secrets at any depth,
 * strings past the limits, bytes that are not UTF-8, control characters,
 * numbers, another account's resources; through a real store as well; and
 * a record stored whole (by an earlier version) is returned as it is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the User-Agent of a call, without a connection */
#define http_header test_http_header
#include "audit/audit.c"
#undef http_header

#include "principal.h"
#include "tmpdir.h"

static const char *user_agent;

const char *test_http_header(struct request *r, const char *name)
{
    (void)r;
    return strcmp(name, "User-Agent") == 0 ? user_agent : NULL;
}

/* ---- the record as versions before compact records built it ---- */

static json_t *jstr_max(const char *z, size_t max)
{
    size_t n = z ? strlen(z) : 0;
    if (n <= max && valid_utf8(z, n))
        return json_stringn_nocheck(z ? z : "", n);
    char *clean = cut_utf8(z, max);
    json_t *j = json_string(clean);
    free(clean);
    return j;
}

static json_t *jstr(const char *z)
{
    return jstr_max(z, STRING_MAX);
}

static json_t *user_identity(const struct audit_call *a)
{
    const struct principal *p = a->who;
    if (a->service_event)
        return json_pack("{s:s,s:s}", "accountId", p->account_id, "invokedBy", "AWS Internal");
    const char *arn = a->caller_arn ? a->caller_arn : p->arn;
    json_t *u = json_pack("{s:s,s:o,s:o,s:o}", "type", p->is_root || p->anonymous ? "Root" : "IAMUser", "principalId",
                          jstr(p->user_id[0] ? p->user_id : p->account_id), "arn", jstr(arn), "accountId", jstr(p->account_id));
    if (p->access_key_id[0])
        json_object_set_new(u, "accessKeyId", jstr(p->access_key_id));
    if (!p->is_root && p->user_name[0])
        json_object_set_new(u, "userName", jstr(p->user_name));
    return u;
}

static char *reference_record(const struct audit_call *a, const char *recipient, const char *event_id, const char *request_id,
                              int64_t ms)
{
    char when[32];
    const char *ua = a->r ? test_http_header(a->r, "User-Agent") : NULL, *ip = a->r ? a->r->client_ip : "";
    if (a->service_event)
        ua = ip = "AWS Internal";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

    json_t *rec = json_object();
    json_object_set_new(rec, "eventVersion", json_string("1.08"));
    json_object_set_new(rec, "userIdentity", user_identity(a));
    json_object_set_new(rec, "eventTime", json_string(when));
    json_object_set_new(rec, "eventSource", jstr(a->source));
    json_object_set_new(rec, "eventName", jstr(a->name));
    json_object_set_new(rec, "awsRegion", jstr(auth_region()));
    json_object_set_new(rec, "sourceIPAddress", jstr(ip));
    json_object_set_new(rec, "userAgent", jstr(ua));
    if (a->error_code) {
        json_object_set_new(rec, "errorCode", jstr(a->error_code));
        json_object_set_new(rec, "errorMessage", jstr(a->error_message));
    }
    json_object_set_new(rec, "requestParameters", a->request ? audit_redact(a->request) : json_null());
    json_object_set_new(rec, "responseElements",
                        a->response && !a->error_code && !a->read_only ? audit_redact(a->response) : json_null());
    if (a->additional)
        json_object_set_new(rec, "additionalEventData", audit_redact(a->additional));
    json_object_set_new(rec, "requestID", jstr(request_id));
    json_object_set_new(rec, "eventID", jstr(event_id));
    json_object_set_new(rec, "readOnly", json_boolean(a->read_only));
    if (a->nresources) {
        json_t *res = json_array();
        for (int i = 0; i < a->nresources; i++)
            json_array_append_new(res, json_pack("{s:o,s:o,s:o}", "accountId",
                                                 jstr(a->resource_account ? a->resource_account : a->who->account_id), "type",
                                                 jstr_max(a->resources[i].type, COLUMN_MAX), "name",
                                                 jstr_max(a->resources[i].name, COLUMN_MAX)));
        json_object_set_new(rec, "resources", res);
    }
    json_object_set_new(rec, "eventType", json_string(a->service_event ? "AwsServiceEvent" : "AwsApiCall"));
    if (a->service_event)
        json_object_set_new(rec, "serviceEventDetails", audit_redact(a->service_event));
    json_object_set_new(rec, "managementEvent", json_true());
    json_object_set_new(rec, "recipientAccountId", jstr(recipient));
    json_object_set_new(rec, "eventCategory", json_string("Management"));
    char *z = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    return z;
}

/* ---- calls ---- */

#define NCALLS 12

struct calls {
    struct audit_call a[NCALLS];
    struct principal root, user, anon;
    struct request req;
    json_t *docs[16];
    char *big, *bad, *ctl, *longname;
};

static void calls_init(struct calls *c)
{
    memset(c, 0, sizeof(*c));
    test_principal(&c->root, "111122223333", NULL);
    test_principal(&c->user, "111122223333", "al\xc3\xa9x\"q");
    test_principal(&c->anon, "444455556666", NULL);
    c->anon.anonymous = true;
    c->anon.is_root = false;
    c->anon.access_key_id[0] = '\0';
    snprintf(c->req.client_ip, sizeof(c->req.client_ip), "10.1.2.3");
    size_t n = 20000;
    c->big = malloc(n + 1);
    memset(c->big, 'b', n);
    c->big[n] = '\0';
    c->big[STRING_MAX - 1] = '\xe2', c->big[STRING_MAX] = '\x82', c->big[STRING_MAX + 1] = '\xac'; /* a cut splits it */
    c->bad = strdup("ua \xff\xfe \xc0\xaf \xed\xa0\x80 caf\xc3\xa9 \xf0\x9f\x90\xb3 end\xe2\x82");
    c->ctl = strdup("tab\there \"quoted\" back\\slash \x01\x1f\x7f\b\f\n\r /slash");
    c->longname = malloc(3001);
    memset(c->longname, 'N', 3000);
    c->longname[3000] = '\0';
    json_t *secrets = json_pack("{s:s,s:{s:s,s:[{s:s},i,f,b,n]},s:s,s:I,s:f,s:f,s:[],s:{}}", "AuthorizationToken", "tok",
                                "nested", "SecretAccessKey", "sekrit", "list", "password", "pw", 42, 1.5, 1, "userName", "bob",
                                "big", (json_int_t)-9007199254740993LL, "real", 0.1, "neg", -1e300, "empty", "emptyo");
    json_object_set_new(secrets, "manifest", json_string(c->big));
    json_object_set_new(secrets, "ctl", json_string(c->ctl));
    json_object_set_new(secrets, "nul", json_stringn("a\0b", 3));
    json_object_set_new(secrets, "unicode", json_string("\xe2\x82\xac \xf0\x9f\x90\xb3 \xc3\xa9"));
    json_object_set_new(secrets, "ke\"y\n", json_string("v"));
    c->docs[0] = secrets;
    c->docs[1] = json_pack("{s:s,s:s}", "repositoryName", "team/web", "imageTagMutability", "IMMUTABLE");
    c->docs[2] = json_pack("{s:{s:s,s:s}}", "repository", "repositoryArn", "arn:aws:ecr:us-east-1:111122223333:repository/x",
                           "registryId", "111122223333");
    c->docs[3] = json_pack("{s:s,s:[s,s]}", "lifecycleEventType", "EXPIRE", "imageDigests", "sha256:aa", "sha256:bb");
    c->docs[4] = json_pack("[i,s]", 1, "x");

    /* an IAM user's write with parameters and an answer */
    c->a[0] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_ECR, .name = "PutImageTagMutability", .who = &c->user,
                                  .request = c->docs[1], .response = c->docs[2], .request_id = "req-0"};
    audit_add_resource(&c->a[0], "AWS::ECR::Repository", "team/web");
    /* root's read: no answer recorded */
    c->a[1] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_ECR, .name = "DescribeRepositories", .read_only = true,
                                  .who = &c->root, .request = c->docs[1], .response = c->docs[2]};
    /* an error on another account's repository: in both histories */
    c->a[2] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_ECR, .name = "DeleteRepository", .who = &c->root,
                                  .error_code = "RepositoryNotFoundException", .error_message = c->ctl,
                                  .resource_account = "444455556666", .response = c->docs[2]};
    audit_add_resource(&c->a[2], "AWS::ECR::Repository", "theirs");
    audit_add_resource(&c->a[2], "AWS::ECR::Image", "theirs@sha256:aa");
    /* secrets, odd strings and numbers everywhere */
    c->a[3] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_IAM, .name = "CreateAccessKey", .who = &c->user,
                                  .caller_arn = c->bad, .request = c->docs[0], .response = c->docs[0], .additional = c->docs[4]};
    /* a service event */
    c->a[4] = (struct audit_call){.source = AUDIT_SOURCE_ECR, .name = "PolicyExecutionEvent", .who = &c->root,
                                  .service_event = c->docs[3]};
    audit_add_resource(&c->a[4], "AWS::ECR::Repository", "team/web");
    /* authentication off */
    c->a[5] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_ECR, .name = "PutImage", .who = &c->anon,
                                  .request = c->docs[4]};
    /* names past a column's 2048 bytes (the record is stored whole) and past 8192 */
    c->a[6] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_IAM, .name = c->longname, .who = &c->user,
                                  .error_code = "InvalidAction", .error_message = c->big};
    audit_add_resource(&c->a[6], c->bad, c->big);
    c->a[7] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_IAM, .name = c->bad, .who = &c->user,
                                  .error_code = c->bad, .request_id = c->ctl};
    audit_add_resource(&c->a[7], "AWS::IAM::User", c->bad);
    audit_add_resource(&c->a[7], "AWS::IAM::User", c->ctl);
    audit_add_resource(&c->a[7], "AWS::IAM::User", "u3");
    audit_add_resource(&c->a[7], "AWS::IAM::User", "u4");
    /* another account's resources named, but the same account */
    c->a[8] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_ECR, .name = "BatchDeleteImage", .who = &c->root,
                                  .resource_account = "111122223333", .request = c->docs[3], .response = c->docs[3]};
    audit_add_resource(&c->a[8], "AWS::ECR::Repository", "team/web");
    /* a service event on another account's resources */
    c->a[9] = (struct audit_call){.source = AUDIT_SOURCE_ECR, .name = "PolicyExecutionEvent", .who = &c->root,
                                  .service_event = c->docs[0], .resource_account = "444455556666"};
    audit_add_resource(&c->a[9], "AWS::ECR::Repository", "x");
    /* no request, no User-Agent */
    c->a[10] = (struct audit_call){.source = AUDIT_SOURCE_STS, .name = "GetCallerIdentity", .read_only = true, .who = &c->user};
    c->a[11] = (struct audit_call){.r = &c->req, .source = AUDIT_SOURCE_CLOUDTRAIL, .name = "LookupEvents", .read_only = true,
                                   .who = &c->user, .request = c->docs[0], .error_code = "InvalidLookupAttributesException"};
}

static void calls_release(struct calls *c)
{
    for (size_t i = 0; i < sizeof(c->docs) / sizeof(c->docs[0]); i++)
        json_decref(c->docs[i]);
    free(c->big);
    free(c->bad);
    free(c->ctl);
    free(c->longname);
}

/* the row a lookup reads back: its resources through their column's JSON */
static void check_item(const struct audit_call *a, const char *recipient, int64_t ms)
{
    const char *event_id = "0190f0e4-7c2a-7b3d-8e4f-0123456789ab", *request_id = a->request_id ? a->request_id : "req";
    char *want = reference_record(a, recipient, event_id, request_id, ms);
    assert_non_null(want);
    struct item *it = item_new(a, recipient, event_id, request_id, ms);
    char *got = audit_event_json(&it->row);
    assert_string_equal(got, want);
    /* a record stored compact is shorter than the whole one */
    if (strlen(a->name) <= COLUMN_MAX)
        assert_true(strlen(it->row.record) < strlen(want));
    else
        assert_string_equal(it->row.record, want);
    free(got);
    item_free(it);
    /* a record staged at once borrows the call's strings: the same bytes */
    struct item borrowed;
    item_init(&borrowed, true, a, recipient, event_id, request_id, ms);
    got = audit_event_json(&borrowed.row);
    assert_string_equal(got, want);
    free(got);
    item_release(&borrowed);
    free(want);
}

static void test_records_are_what_jansson_wrote(void **state)
{
    (void)state;
    struct calls c;
    calls_init(&c);
    const char *agents[] = {NULL, "aws-cli/2.15 Python/3.11", "", "x\xff\x01\"", NULL};
    agents[4] = c.big;
    for (size_t k = 0; k < sizeof(agents) / sizeof(agents[0]); k++) {
        user_agent = agents[k];
        for (int i = 0; i < NCALLS; i++) {
            check_item(&c.a[i], c.a[i].who->account_id, 1732885200123LL + i);
            if (c.a[i].resource_account)
                check_item(&c.a[i], c.a[i].resource_account, 1732885200123LL);
        }
    }
    user_agent = NULL;
    calls_release(&c);
}

/* Strings of one to three bytes, every first and second byte, as a
 * parameter's value and as a User-Agent. */
static void test_every_short_string(void **state)
{
    (void)state;
    struct principal p;
    test_principal(&p, "111122223333", "bob");
    struct request req;
    memset(&req, 0, sizeof(req));
    /* a third byte at each edge of the ranges that decide a sequence */
    static const unsigned thirds[] = {0x00, 0x20, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff};
    unsigned char in[4] = {0};
    for (unsigned a = 1; a < 256; a++)
        for (unsigned b = 0; b < 256; b += (a < 0xc0 ? 255 : 1))
            for (size_t k = 0; k < sizeof(thirds) / sizeof(thirds[0]); k += (a < 0xe0 || b < 0x80 || b > 0xbf ? 10 : 1)) {
                in[0] = (unsigned char)a, in[1] = (unsigned char)b, in[2] = (unsigned char)thirds[k];
                json_t *s = json_string((const char *)in);
                json_t *doc = json_pack("{s:o*}", "v", s);
                user_agent = (const char *)in;
                struct audit_call call = {.r = &req, .source = AUDIT_SOURCE_ECR, .name = "PutImage", .who = &p, .request = doc};
                check_item(&call, "111122223333", 1732885200000LL);
                json_decref(doc);
            }
    user_agent = NULL;
}

static char dir[64];

static int collect(void *ctx, const struct audit_row *row)
{
    char **out = ctx;
    for (int i = 0; i < 32; i++)
        if (!out[i]) {
            out[i] = audit_event_json(row);
            break;
        }
    return 0;
}

/* Through the store: staged in a transaction, indexed, looked up; and a
 * row that an earlier version stored whole. */
static void test_through_the_store(void **state)
{
    (void)state;
    struct calls c;
    char *found[32] = {0};
    assert_int_equal(tmpdir_make(dir, sizeof(dir), "audit-record"), 0);
    assert_int_equal(store_open(dir), 0);
    assert_int_equal(store_account_create("111122223333"), 0);
    audit_in_transaction_enable(true);
    calls_init(&c);
    user_agent = "aws-cli/2.15";
    char *want[NCALLS];
    for (int i = 0; i < NCALLS; i++) {
        /* the record made by audit_record_in_transaction(), but with a known eventID */
        struct item *it = item_new(&c.a[i], "111122223333", "0190f0e4-7c2a-7b3d-8e4f-0123456789ab", "req-s", 1732885200000LL);
        want[i] = reference_record(&c.a[i], "111122223333", "0190f0e4-7c2a-7b3d-8e4f-0123456789ab", "req-s", 1732885200000LL);
        assert_int_equal(store_begin(), 0);
        assert_int_equal(store_audit_stage(&it->row), 0);
        assert_int_equal(store_commit(), 0);
        item_free(it);
    }
    /* an earlier version's record, stored whole */
    struct audit_row old = {.account_id = "111122223333", .event_id = "e-old", .event_ms = 1, .event_name = "Old",
                            .event_source = AUDIT_SOURCE_ECR, .username = "root", .access_key_id = "",
                            .record = "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"Root\"},\"eventName\":\"Old\"}"};
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_audit_stage(&old), 0);
    assert_int_equal(store_commit(), 0);
    int64_t moved = 0;
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_audit_move(1000, &moved), 0);
    assert_int_equal(store_commit(), 0);
    assert_int_equal(moved, NCALLS + 1);
    struct audit_query q = {"111122223333", AUDIT_ATTR_NONE, NULL, 0, INT64_MAX, INT64_MAX, 32};
    assert_int_equal(store_audit_lookup(&q, collect, found), 0);
    assert_string_equal(found[0], old.record);
    for (int i = 0; i < NCALLS; i++) {
        assert_non_null(found[NCALLS - i]);
        assert_string_equal(found[NCALLS - i], want[i]); /* newest first */
        free(want[i]);
    }
    for (int i = 0; i < 32; i++)
        free(found[i]);
    user_agent = NULL;
    calls_release(&c);
    audit_in_transaction_enable(false);
    store_close_thread();
    assert_int_equal(tmpdir_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_are_what_jansson_wrote),
        cmocka_unit_test(test_every_short_string),
        cmocka_unit_test(test_through_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
