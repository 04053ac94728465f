/*
 * Unit tests for src/model/model.c and the tables scripts/gen_model.py
 * generates from botocore's models: the validator on a few ECR inputs, and
 * the error tables (every exception of the model, its wire code and HTTP
 * status: error.httpStatusCode, else 500 for a fault, else 400).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/error.h"
#include "ecr/model_gen.h"
#include "iam/model_gen.h"
#include "model/model.h"

static void test_ecr_errors(void **state)
{
    (void)state;
    assert_string_equal(ecr_errors[ECR_REPOSITORY_NOT_FOUND].code, "RepositoryNotFoundException");
    assert_int_equal(ecr_errors[ECR_REPOSITORY_NOT_FOUND].status, 400);
    assert_string_equal(ecr_errors[ECR_SERVER].code, "ServerException");
    assert_int_equal(ecr_errors[ECR_SERVER].status, 500);
    assert_string_equal(ecr_errors[ECR_ACCESS_DENIED].code, "AccessDeniedException");
    for (int i = 0; i < ECR_NERRORS; i++) {
        assert_non_null(ecr_errors[i].code);
        assert_true(ecr_errors[i].status == 400 || (i == ECR_SERVER && ecr_errors[i].status == 500));
    }
}

static void test_iam_errors(void **state)
{
    (void)state;
    /* the code on the wire is the model's error.code, not the shape name */
    assert_string_equal(iam_errors[IAM_NO_SUCH_ENTITY].code, "NoSuchEntity");
    assert_int_equal(iam_errors[IAM_NO_SUCH_ENTITY].status, 404);
    assert_int_equal(iam_errors[IAM_DELETE_CONFLICT].status, 409);
    assert_int_equal(iam_errors[IAM_LIMIT_EXCEEDED].status, 409);
    assert_int_equal(iam_errors[IAM_SERVICE_FAILURE].status, 500);
    assert_int_equal(iam_errors[IAM_POLICY_EVALUATION].status, 500);
    assert_int_equal(iam_errors[IAM_ACCESS_DENIED].status, 403);
    assert_int_equal(iam_errors[IAM_REQUEST_ENTITY_TOO_LARGE].status, 413);
    for (int i = 0; i < IAM_NERRORS; i++) {
        assert_non_null(iam_errors[i].code);
        assert_true(iam_errors[i].status >= 400 && iam_errors[i].status < 600);
    }
}

/* Every error an ECR operation of the model names is in the table. */
static void test_ecr_operation_errors_known(void **state)
{
    (void)state;
    for (size_t i = 0; i < ecr_noperations; i++) {
        const char *p = ecr_operations[i].errors;
        while (*p) {
            size_t n = strcspn(p, ",");
            bool found = false;
            for (int e = 0; e < ECR_NERRORS && !found; e++)
                found = strlen(ecr_errors[e].code) == n && strncmp(ecr_errors[e].code, p, n) == 0;
            if (!found)
                fail_msg("%s names %.*s, which is not in ecr_errors", ecr_operations[i].name, (int)n, p);
            p += n + (p[n] == ',');
        }
    }
}

static void test_validate(void **state)
{
    (void)state;
    const struct model_operation *op = model_operation_find(ecr_operations, ecr_noperations, SLICE_LIT("CreateRepository"));
    assert_non_null(op);
    assert_int_equal(model_init(ecr_shapes, ecr_nshapes), 0);
    json_t *ok = json_pack("{s:s}", "repositoryName", "team-a/web");
    json_t *bad = json_pack("{s:s}", "repositoryName", "Team A");
    json_t *missing = json_object();
    assert_int_equal(model_validate(ecr_shapes, op->input, ok), 0);
    assert_int_equal(model_validate(ecr_shapes, op->input, bad), E_INVALID);
    assert_non_null(strstr(error_message(), "'repositoryName'"));
    assert_int_equal(model_validate(ecr_shapes, op->input, missing), E_INVALID);
    json_decref(ok);
    json_decref(bad);
    json_decref(missing);
}

/* Lengths count characters as AWS does (UTF-16 units), not UTF-8 bytes. */
static void test_length_in_characters(void **state)
{
    (void)state;
    const struct model_operation *op = model_operation_find(iam_operations, iam_noperations, SLICE_LIT("TagUser"));
    assert_non_null(op);
    assert_int_equal(model_init(iam_shapes, iam_nshapes), 0);
    char key[300];
    /* 128 characters, 130 bytes: "\xc3\x9c" is one letter */
    snprintf(key, sizeof(key), "\xc3\x9cn\xc3\xaf" "code %0120d", 0);
    assert_int_equal(strlen(key), 130);
    json_t *in = json_pack("{s:s,s:[{s:s,s:s}]}", "UserName", "u", "Tags", "Key", key, "Value", "v");
    assert_int_equal(model_validate(iam_shapes, op->input, in), 0);
    json_decref(in);
    /* 129 characters */
    snprintf(key, sizeof(key), "\xc3\x9cn\xc3\xaf" "code %0121d", 0);
    in = json_pack("{s:s,s:[{s:s,s:s}]}", "UserName", "u", "Tags", "Key", key, "Value", "v");
    assert_int_equal(model_validate(iam_shapes, op->input, in), E_INVALID);
    assert_non_null(strstr(error_message(), "less than or equal to 128"));
    json_decref(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecr_errors),
        cmocka_unit_test(test_iam_errors),
        cmocka_unit_test(test_ecr_operation_errors_known),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_length_in_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
