/*
 * Unit tests for src/audit/audit.c over a real store: secrets are redacted
 * whatever their case or depth; operations are read-only by their verb;
 * records of many threads are all committed, a write's before
 * audit_record() returns; a call on another account's resources is in both
 * histories; lookups filter by each attribute, newest first, a page below
 * a seq; pruning deletes what is past the retention and nothing else.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/util.h"
#include "store/store.h"
#include "tmpdir.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    if (tmpdir_make(dir, sizeof(dir), "audit") < 0 || store_open(dir) < 0 || store_account_create("111122223333") < 0 ||
        store_account_create("444455556666") < 0)
        return -1;
    struct audit_options o = {.on = true, .retention_ms = 86400000, .prune_interval_ms = 3600000, .queue_max = 16};
    return audit_start(&o);
}

static int teardown(void **state)
{
    (void)state;
    audit_stop();
    store_close_thread();
    return tmpdir_remove(dir);
}

static void test_redact(void **state)
{
    (void)state;
    json_t *in = json_pack("{s:s,s:{s:s,s:[{s:s}]},s:s,s:i}", "AuthorizationToken", "tok", "accessKey", "SecretAccessKey",
                           "sekrit", "list", "password", "pw", "userName", "bob", "n", 3);
    json_t *out = audit_redact(in);
    char *z = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(z, "{\"AuthorizationToken\":\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"accessKey\":{\"SecretAccessKey\":"
                           "\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"list\":[{\"password\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}]},"
                           "\"n\":3,\"userName\":\"bob\"}");
    free(z);
    /* the input is left alone */
    assert_string_equal(json_string_value(json_object_get(in, "AuthorizationToken")), "tok");
    json_decref(out);
    json_decref(in);

    char big[9000];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    in = json_pack("{s:s}", "imageManifest", big);
    out = audit_redact(in);
    assert_string_equal(json_string_value(json_object_get(out, "imageManifest")), "(8999 bytes, not recorded)");
    json_decref(out);
    json_decref(in);
}

static void test_read_only(void **state)
{
    (void)state;
    assert_true(audit_read_only("DescribeRepositories"));
    assert_true(audit_read_only("BatchGetImage"));
    assert_true(audit_read_only("BatchCheckLayerAvailability"));
    assert_true(audit_read_only("GetAuthorizationToken"));
    assert_true(audit_read_only("ListUsers"));
    assert_true(audit_read_only("LookupEvents"));
    assert_false(audit_read_only("PutImage"));
    assert_false(audit_read_only("BatchDeleteImage"));
    assert_false(audit_read_only("CreateAccessKey"));
    assert_false(audit_read_only("InitiateLayerUpload"));
}

static void principal(struct principal *p, const char *account, const char *user)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->account_id, sizeof(p->account_id), "%s", account);
    snprintf(p->access_key_id, sizeof(p->access_key_id), "AKIA%s", user ? "USER" : "ROOT");
    if (user) {
        snprintf(p->user_name, sizeof(p->user_name), "%s", user);
        snprintf(p->user_id, sizeof(p->user_id), "AIDAEXAMPLE");
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:user/%s", account, user);
    } else {
        p->is_root = true;
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:root", account);
    }
}

struct collected {
    int n;
    char names[64][64];
    int64_t seqs[64];
    char records[4][4096];
};

static int collect(void *ctx, const struct audit_row *row)
{
    struct collected *c = ctx;
    if (c->n < 64) {
        snprintf(c->names[c->n], sizeof(c->names[0]), "%s", row->event_name);
        c->seqs[c->n] = row->seq;
        if (c->n < 4)
            snprintf(c->records[c->n], sizeof(c->records[0]), "%s", row->record);
    }
    c->n++;
    return 0;
}

static int lookup(struct collected *out, const char *account, enum audit_attr attr, const char *value, int64_t before, int limit)
{
    struct audit_query q = {account, attr, value, 0, INT64_MAX, before, limit};
    memset(out, 0, sizeof(*out));
    audit_sync();
    return store_audit_lookup(&q, collect, out);
}

static void *writer(void *arg)
{
    struct principal p;
    char name[32];
    principal(&p, "111122223333", NULL);
    for (int i = 0; i < 25; i++) {
        snprintf(name, sizeof(name), "PutThing%d", (int)(intptr_t)arg);
        struct audit_call a = {.source = AUDIT_SOURCE_ECR, .name = name, .read_only = i % 2, .who = &p};
        audit_record(&a);
    }
    store_close_thread();
    return NULL;
}

static void test_record_and_lookup(void **state)
{
    (void)state;
    struct collected c;
    struct principal root, user;
    principal(&root, "111122223333", NULL);
    principal(&user, "111122223333", "alice");

    json_t *req = json_pack("{s:s}", "repositoryName", "team/web");
    json_t *resp = json_pack("{s:{s:s}}", "authorizationData", "authorizationToken", "QVdTOnNlY3JldA==");
    struct audit_call a = {.source = AUDIT_SOURCE_ECR, .name = "CreateRepository", .who = &user, .request = req,
                           .response = resp, .request_id = "req-1"};
    audit_add_resource(&a, "AWS::ECR::Repository", "team/web");
    audit_add_resource(&a, "AWS::ECR::Repository", "team/web"); /* once */
    audit_record(&a);
    /* a write's record is committed (staged) when audit_record() returns; a lookup moves it first */
    bool staged = true;
    audit_sync();
    assert_int_equal(store_audit_any_staged(&staged), 0);
    assert_false(staged);
    struct audit_query q = {"111122223333", AUDIT_ATTR_RESOURCE_NAME, "team/web", 0, INT64_MAX, INT64_MAX, 10};
    memset(&c, 0, sizeof(c));
    assert_int_equal(store_audit_lookup(&q, collect, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.names[0], "CreateRepository");
    json_t *rec = json_loads(c.records[0], 0, NULL);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "requestID")), "req-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "userIdentity"), "type")), "IAMUser");
    assert_string_equal(json_string_value(json_object_get(json_object_get(rec, "userIdentity"), "userName")), "alice");
    assert_null(strstr(c.records[0], "QVdTOnNlY3JldA=="));
    assert_false(json_is_true(json_object_get(rec, "readOnly")));
    json_decref(rec);
    json_decref(req);
    json_decref(resp);

    /* a read with an error, and a call on another account's repository */
    struct audit_call e = {.source = AUDIT_SOURCE_ECR, .name = "DescribeImages", .read_only = true, .who = &root,
                           .error_code = "RepositoryNotFoundException", .error_message = "nope",
                           .resource_account = "444455556666"};
    audit_add_resource(&e, "AWS::ECR::Repository", "theirs");
    audit_record(&e);
    assert_int_equal(lookup(&c, "444455556666", AUDIT_ATTR_NONE, NULL, INT64_MAX, 10), 0);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.records[0], "\"errorCode\":\"RepositoryNotFoundException\""));
    assert_non_null(strstr(c.records[0], "\"recipientAccountId\":\"444455556666\""));
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_EVENT_NAME, "DescribeImages", INT64_MAX, 10), 0);
    assert_int_equal(c.n, 1);
    assert_non_null(strstr(c.records[0], "\"recipientAccountId\":\"111122223333\""));

    /* many threads through a queue of 16 */
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_READ_ONLY, "false", INT64_MAX, 200), 0);
    assert_int_equal(c.n, 4 * 13 + 1);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_READ_ONLY, "true", INT64_MAX, 200), 0);
    assert_int_equal(c.n, 4 * 12 + 1);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_USERNAME, "alice", INT64_MAX, 10), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_ACCESS_KEY_ID, "AKIAROOT", INT64_MAX, 500), 0);
    assert_int_equal(c.n, 101);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_EVENT_SOURCE, AUDIT_SOURCE_IAM, INT64_MAX, 10), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_RESOURCE_TYPE, "AWS::ECR::Repository", INT64_MAX, 10), 0);
    assert_int_equal(c.n, 2);

    /* newest first; a page continues below the last seq */
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_NONE, NULL, INT64_MAX, 5), 0);
    assert_int_equal(c.n, 5);
    for (int i = 1; i < 5; i++)
        assert_true(c.seqs[i] < c.seqs[i - 1]);
    int64_t last = c.seqs[4];
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_NONE, NULL, last, 5), 0);
    assert_true(c.seqs[0] < last);
}

static void test_prune(void **state)
{
    (void)state;
    struct collected c;
    int64_t deleted = -1;
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_NONE, NULL, INT64_MAX, 500), 0);
    int before = c.n;
    assert_true(before > 0);
    /* nothing is a day old */
    assert_int_equal(audit_prune(now_ms(), 86400000, &deleted), 0);
    assert_int_equal(deleted, 0);
    /* a day from now, everything is */
    assert_int_equal(audit_prune(now_ms() + 2 * 86400000LL, 86400000, &deleted), 0);
    assert_int_equal(deleted, before + 1); /* with the other account's copy */
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_NONE, NULL, INT64_MAX, 500), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(lookup(&c, "111122223333", AUDIT_ATTR_RESOURCE_NAME, "team/web", INT64_MAX, 500), 0);
    assert_int_equal(c.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_record_and_lookup),
        cmocka_unit_test(test_prune),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
