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
#include "principal.h"
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

/* audit_utf8 keeps what is UTF-8, replaces each byte that starts no
 * well-formed sequence, and agrees with jansson on every 1 to 3 byte
 * string (what json_string() refuses is exactly what gets replaced). */
static void test_utf8(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"plain", "plain"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3"},
        {"Get\xff\xfeUser", "Get\xef\xbf\xbd\xef\xbf\xbdUser"},
        {"\xc3\x28", "\xef\xbf\xbd("},                                   /* a lead byte without its continuation */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                     /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* past U+10FFFF */
        {"ab\xe2\x82", "ab\xef\xbf\xbd\xef\xbf\xbd"},                 /* cut short by the end */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *z = audit_utf8(cases[i][0]);
        assert_string_equal(z, cases[i][1]);
        free(z);
    }
    char *z = audit_utf8(NULL);
    assert_string_equal(z, "");
    free(z);
    unsigned char in[4] = {0};
    for (unsigned a = 1; a < 256; a++)
        for (unsigned b = 0; b < 256; b += (a < 0xc0 ? 255 : 1))
            for (unsigned c = 0; c < 256; c += (a < 0xe0 || b < 0x80 || b > 0xbf ? 255 : 1)) {
                in[0] = (unsigned char)a, in[1] = (unsigned char)b, in[2] = (unsigned char)c;
                json_t *j = json_string((const char *)in);
                z = audit_utf8((const char *)in);
                json_t *k = json_string(z);
                assert_non_null(k);
                if (j)
                    assert_string_equal(z, (const char *)in);
                else
                    assert_string_not_equal(z, (const char *)in);
                json_decref(j);
                json_decref(k);
                free(z);
            }
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
        if (c->n < 4) {
            char *record = audit_event_json(row);
            snprintf(c->records[c->n], sizeof(c->records[0]), "%s", record);
            free(record);
        }
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
    test_principal(&p, "111122223333", NULL);
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
    test_principal(&root, "111122223333", NULL);
    test_principal(&user, "111122223333", "alice");

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

static int check_long_row(void *ctx, const struct audit_row *row)
{
    int *n = ctx;
    assert_int_equal(row->nresources, 1);
    /* 2047 'n': the cut backs off the character that 2048 bytes would split */
    assert_int_equal(strlen(row->resources[0].name), 2047);
    assert_int_equal(strspn(row->resources[0].name, "n"), 2047);
    assert_int_equal(strlen(row->event_name), 2048);
    char *record = audit_event_json(row);
    json_t *rec = json_loads(record, 0, NULL);
    free(record);
    assert_non_null(rec);
    json_t *r0 = json_array_get(json_object_get(rec, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(r0, "name")), row->resources[0].name);
    json_decref(rec);
    (*n)++;
    return 0;
}

/* What a caller sent names a record's resources before anything checked
 * it: a row keeps at most 2048 bytes of each column (an ARN's most), cut
 * at a character's start, so that a queued record holds no request body's
 * worth of names. */
static void test_long_strings_are_cut(void **state)
{
    (void)state;
    struct principal p;
    test_principal(&p, "444455556666", NULL);
    size_t n = 100000;
    char *name = malloc(n + 1), *op = malloc(n + 1);
    memset(name, 'n', n);
    name[n] = '\0';
    for (size_t i = 0; i < n; i += 2) /* 2-byte characters, so a cut at 2048 falls on one's start */
        memcpy(op + i, "\xc3\xa9", 2);
    op[n] = '\0';
    name[2047] = '\xc3', name[2048] = '\xa9'; /* one that a cut at 2048 would split */
    struct audit_call a = {.source = AUDIT_SOURCE_ECR, .name = op, .read_only = true, .who = &p, .error_code = "X"};
    audit_add_resource(&a, "AWS::ECR::Repository", name);
    audit_record(&a);
    audit_sync();
    struct audit_query q = {"444455556666", AUDIT_ATTR_NONE, NULL, 0, INT64_MAX, INT64_MAX, 10};
    int seen = 0;
    assert_int_equal(store_audit_lookup(&q, check_long_row, &seen), 0);
    assert_int_equal(seen, 1);
    free(name);
    free(op);
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
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_record_and_lookup),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_long_strings_are_cut), /* after test_prune, which counts every record */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
