/*
 * Unit tests for src/iam/query.c: form bodies are split and percent-decoded
 * as botocore encodes them, and flat Query parameters become the JSON input
 * structure of IAM operations (lists by index, empty lists, typed scalars,
 * names that fit nowhere ignored).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "iam/model_gen.h"
#include "iam/query.h"

static int input_of(const char *op)
{
    const struct model_operation *m = model_operation_find(iam_operations, iam_noperations, slice_from(op));
    assert_non_null(m);
    return m->input;
}

/* Parses body, builds op's input and returns it as compact JSON (caller frees). */
static char *build(const char *body, const char *op)
{
    struct query_form f;
    json_t *in = NULL;
    assert_int_equal(query_form_parse(&f, body, strlen(body)), 0);
    assert_int_equal(query_form_to_json(&in, &f, iam_shapes, input_of(op)), 0);
    char *s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(in);
    query_form_release(&f);
    return s;
}

static void test_parse(void **state)
{
    struct query_form f;
    static const char body[] = "Action=CreateUser&Version=2010-05-08&UserName=a%2Bb+c&&Path=%2F&Empty=&Bare&%41=%zz";
    (void)state;
    assert_int_equal(query_form_parse(&f, body, strlen(body)), 0);
    assert_string_equal(query_form_get(&f, "Action"), "CreateUser");
    assert_string_equal(query_form_get(&f, "UserName"), "a+b c");
    assert_string_equal(query_form_get(&f, "Path"), "/");
    assert_string_equal(query_form_get(&f, "Empty"), "");
    assert_string_equal(query_form_get(&f, "Bare"), "");
    assert_string_equal(query_form_get(&f, "A"), "%zz");
    assert_null(query_form_get(&f, "Missing"));
    query_form_release(&f);

    assert_int_equal(query_form_parse(&f, "A=1&A=2", 7), 0);
    assert_string_equal(query_form_get(&f, "A"), "2"); /* the last one counts */
    query_form_release(&f);

    assert_int_equal(query_form_parse(&f, "A=x%00y", 7), E_INVALID);
    assert_int_equal(f.n, 0);
    query_form_release(&f);
    assert_int_equal(query_form_parse(&f, "", 0), 0);
    assert_int_equal(f.n, 0);
    query_form_release(&f);
}

static void test_too_many(void **state)
{
    struct query_form f;
    size_t n = (QUERY_PARAMS_MAX + 1) * 4;
    char *body = malloc(n + 1);
    (void)state;
    for (size_t i = 0; i < n; i += 4)
        memcpy(body + i, "a=b&", 4);
    body[n] = '\0';
    assert_int_equal(query_form_parse(&f, body, n), E_TOOBIG);
    query_form_release(&f);
    free(body);
}

static void test_to_json(void **state)
{
    char *s;
    (void)state;
    s = build("Action=CreateUser&UserName=bob&Path=%2Fa%2F&Tags.member.2.Key=k2&Tags.member.2.Value=v2"
              "&Tags.member.1.Key=k1&Tags.member.1.Value=v1&Unknown=1&UserName.x=2",
              "CreateUser");
    assert_string_equal(s, "{\"Path\":\"/a/\",\"Tags\":[{\"Key\":\"k1\",\"Value\":\"v1\"},{\"Key\":\"k2\",\"Value\":\"v2\"}],"
                           "\"UserName\":\"bob\"}");
    free(s);

    /* holes in the indexes close up; index 0 and huge indexes fit nowhere */
    s = build("Tags.member.5.Key=b&Tags.member.5.Value=&Tags.member.2.Key=a&Tags.member.2.Value=x&Tags.member.0.Key=z"
              "&Tags.member.99999999.Key=z&UserName=u",
              "CreateUser");
    assert_string_equal(s, "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"x\"},{\"Key\":\"b\",\"Value\":\"\"}],\"UserName\":\"u\"}");
    free(s);

    /* an empty list is sent as Name= */
    s = build("UserName=u&Tags=", "CreateUser");
    assert_string_equal(s, "{\"Tags\":[],\"UserName\":\"u\"}");
    free(s);

    /* integers and booleans are typed; what does not parse stays a string */
    s = build("Scope=Local&OnlyAttached=true&MaxItems=25", "ListPolicies");
    assert_string_equal(s, "{\"MaxItems\":25,\"OnlyAttached\":true,\"Scope\":\"Local\"}");
    free(s);
    s = build("OnlyAttached=yes&MaxItems=2x", "ListPolicies");
    assert_string_equal(s, "{\"MaxItems\":\"2x\",\"OnlyAttached\":\"yes\"}");
    free(s);

    /* lists of scalars */
    s = build("PolicySourceArn=arn&ActionNames.member.1=ecr%3APutImage&ActionNames.member.2=ecr%3AListImages",
              "SimulatePrincipalPolicy");
    assert_string_equal(s, "{\"ActionNames\":[\"ecr:PutImage\",\"ecr:ListImages\"],\"PolicySourceArn\":\"arn\"}");
    free(s);
}

static void test_validate(void **state)
{
    struct query_form f;
    json_t *in = NULL;
    static const char bad[] = "UserName=bad+name%21";
    (void)state;
    assert_int_equal(model_init(iam_shapes, iam_nshapes), 0);
    assert_int_equal(query_form_parse(&f, bad, strlen(bad)), 0);
    assert_int_equal(query_form_to_json(&in, &f, iam_shapes, input_of("CreateUser")), 0);
    assert_int_equal(model_validate(iam_shapes, input_of("CreateUser"), in), E_INVALID);
    assert_non_null(strstr(error_message(), "'UserName'"));
    json_decref(in);
    query_form_release(&f);

    /* not UTF-8 */
    assert_int_equal(query_form_parse(&f, "UserName=%FF", 12), 0);
    assert_int_equal(query_form_to_json(&in, &f, iam_shapes, input_of("CreateUser")), E_INVALID);
    assert_null(in);
    query_form_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
