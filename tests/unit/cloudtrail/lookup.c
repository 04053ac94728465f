/*
 * Unit tests for src/cloudtrail/lookup.c: LookupEvents' input with each
 * attribute, time range, page size and token, and CloudTrail's error for
 * each kind of mistake; tokens made by lookup_token() read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudtrail/lookup.h"

/* Parses body; 0 with *out, or the error's wire code in *code. */
static int parse(const char *body, struct lookup_request *out, const char **code)
{
    enum cloudtrail_error e;
    char msg[256];
    /* NUL allowed: the reader must refuse it itself */
    json_t *in = json_loads(body, JSON_ALLOW_NUL, NULL);
    int rc = lookup_parse(out, in, &e, msg, sizeof(msg));
    *code = rc < 0 ? cloudtrail_errors[e].code : NULL;
    if (rc < 0)
        assert_true(strlen(msg) > 0);
    json_decref(in);
    return rc;
}

static void test_defaults_and_attributes(void **state)
{
    (void)state;
    struct lookup_request lr;
    const char *code;
    assert_int_equal(parse("{}", &lr, &code), 0);
    assert_int_equal(lr.attr, AUDIT_ATTR_NONE);
    assert_int_equal(lr.max_results, 50);
    assert_int_equal(lr.start_ms, 0);
    assert_true(lr.end_ms == INT64_MAX && lr.before_seq == INT64_MAX);
    assert_false(lr.insight);

    static const struct {
        const char *key;
        enum audit_attr attr;
    } keys[] = {{"EventName", AUDIT_ATTR_EVENT_NAME},       {"Username", AUDIT_ATTR_USERNAME},
                {"AccessKeyId", AUDIT_ATTR_ACCESS_KEY_ID},  {"EventId", AUDIT_ATTR_EVENT_ID},
                {"EventSource", AUDIT_ATTR_EVENT_SOURCE},   {"ResourceName", AUDIT_ATTR_RESOURCE_NAME},
                {"ResourceType", AUDIT_ATTR_RESOURCE_TYPE}, {"ReadOnly", AUDIT_ATTR_READ_ONLY}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char body[200];
        snprintf(body, sizeof(body), "{\"LookupAttributes\":[{\"AttributeKey\":\"%s\",\"AttributeValue\":\"true\"}]}",
                 keys[i].key);
        json_t *in = json_loads(body, 0, NULL);
        enum cloudtrail_error e;
        char msg[256];
        assert_int_equal(lookup_parse(&lr, in, &e, msg, sizeof(msg)), 0);
        assert_int_equal(lr.attr, keys[i].attr);
        assert_string_equal(lr.value, "true");
        json_decref(in);
    }
    assert_int_equal(parse("{\"LookupAttributes\":[],\"MaxResults\":7,\"StartTime\":1700000000.25,\"EndTime\":1700000001,"
                           "\"EventCategory\":\"insight\"}",
                           &lr, &code),
                     0);
    assert_int_equal(lr.attr, AUDIT_ATTR_NONE);
    assert_int_equal(lr.max_results, 7);
    assert_int_equal(lr.start_ms, 1700000000250LL);
    assert_int_equal(lr.end_ms, 1700000001000LL);
    assert_true(lr.insight);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body, *code;
    } cases[] = {
        {"[]", "SerializationException"},
        {"{\"LookupAttributes\":{}}", "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":\"a\"},"
         "{\"AttributeKey\":\"Username\",\"AttributeValue\":\"b\"}]}",
         "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"Color\",\"AttributeValue\":\"red\"}]}", "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":\"\"}]}",
         "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":5}]}", "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\"}]}", "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"ReadOnly\",\"AttributeValue\":\"yes\"}]}",
         "InvalidLookupAttributesException"},
        {"{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":\"a\\u0000b\"}]}",
         "InvalidLookupAttributesException"},
        {"{\"StartTime\":2,\"EndTime\":1}", "InvalidTimeRangeException"},
        {"{\"StartTime\":\"yesterday\"}", "InvalidTimeRangeException"},
        {"{\"EndTime\":-1}", "InvalidTimeRangeException"},
        {"{\"StartTime\":1e300}", "InvalidTimeRangeException"},
        {"{\"MaxResults\":0}", "InvalidMaxResultsException"},
        {"{\"MaxResults\":51}", "InvalidMaxResultsException"},
        {"{\"MaxResults\":\"5\"}", "InvalidMaxResultsException"},
        {"{\"NextToken\":\"garbage\"}", "InvalidNextTokenException"},
        {"{\"NextToken\":\"Y3QxOg==\"}", "InvalidNextTokenException"},         /* "ct1:" */
        {"{\"NextToken\":\"Y3QxOi0x\"}", "InvalidNextTokenException"},         /* "ct1:-1" */
        {"{\"NextToken\":\"Y3QxOjB4MTA=\"}", "InvalidNextTokenException"},     /* "ct1:0x10" */
        {"{\"NextToken\":7}", "InvalidNextTokenException"},
        {"{\"EventCategory\":\"data\"}", "InvalidEventCategoryException"},
    };
    struct lookup_request lr;
    const char *code;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].body, &lr, &code), -1);
        assert_string_equal(code, cases[i].code);
    }
    /* 2000 characters is the limit */
    char body[2200];
    memset(body, 'x', sizeof(body));
    int n = snprintf(body, sizeof(body), "{\"LookupAttributes\":[{\"AttributeKey\":\"EventName\",\"AttributeValue\":\"");
    memset(body + n, 'v', 2001);
    snprintf(body + n + 2001, sizeof(body) - (size_t)n - 2001, "\"}]}");
    assert_int_equal(parse(body, &lr, &code), -1);
    snprintf(body + n + 2000, sizeof(body) - (size_t)n - 2000, "\"}]}");
    assert_int_equal(parse(body, &lr, &code), 0);
}

static void test_token(void **state)
{
    (void)state;
    struct lookup_request lr;
    const char *code;
    char body[128];
    char *tok = lookup_token(12345);
    snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", tok);
    free(tok);
    assert_int_equal(parse(body, &lr, &code), 0);
    assert_int_equal(lr.before_seq, 12345);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_attributes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
