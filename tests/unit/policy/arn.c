/*
 * Unit tests for src/policy/arn.c: the fields of well-formed ARNs (ECR
 * repositories, IAM users and roots, AWS-managed policies, resources with
 * colons), the strings that are not ARNs, and the ECR repository and IAM
 * principal helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "policy/arn.h"

static void assert_slice(struct slice s, const char *z)
{
    if (s.len != strlen(z) || memcmp(s.base, z, s.len) != 0)
        fail_msg("'%.*s' is not '%s'", (int)s.len, s.base ? s.base : "", z);
}

static void test_fields(void **state)
{
    (void)state;
    struct arn a;
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecr:us-east-1:123456789012:repository/team-a/web")), 0);
    assert_slice(a.partition, "aws");
    assert_slice(a.service, "ecr");
    assert_slice(a.region, "us-east-1");
    assert_slice(a.account, "123456789012");
    assert_slice(a.resource, "repository/team-a/web");

    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")), 0);
    assert_slice(a.region, "");
    assert_slice(a.account, "aws");
    assert_slice(a.resource, "policy/AmazonEC2ContainerRegistryReadOnly");

    /* the resource keeps its colons */
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws-cn:s3:::bucket:key:x")), 0);
    assert_slice(a.partition, "aws-cn");
    assert_slice(a.account, "");
    assert_slice(a.resource, "bucket:key:x");
}

static void test_not_arns(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "arn",
        "arn:",
        "arn:aws:ecr:us-east-1:123456789012",  /* five fields */
        "arn:aws:ecr:us-east-1:123456789012:", /* empty resource */
        "arn::ecr:us-east-1:123456789012:repository/x",
        "arn:aws::us-east-1:123456789012:repository/x",
        "ARN:aws:iam::123456789012:root",
        "urn:aws:iam::123456789012:root",
        "*",
    };
    struct arn a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (arn_parse(&a, slice_from(bad[i])) != E_INVALID)
            fail_msg("'%s' parsed as an ARN", bad[i]);
        assert_non_null(strstr(error_message(), "is not an ARN"));
    }
    /* a NUL inside is never part of an ARN */
    assert_int_equal(arn_parse(&a, (struct slice){"arn:aws:iam::123456789012:ro\0t", 31}), E_INVALID);
}

static void test_account(void **state)
{
    (void)state;
    char acct[ARN_ACCOUNT_LEN + 1];
    assert_true(arn_account_id(SLICE_LIT("123456789012")));
    assert_false(arn_account_id(SLICE_LIT("12345678901")));
    assert_false(arn_account_id(SLICE_LIT("1234567890123")));
    assert_false(arn_account_id(SLICE_LIT("12345678901a")));
    assert_false(arn_account_id(SLICE_LIT("aws")));
    assert_true(arn_account_of(acct, "arn:aws:ecr:us-east-1:444455556666:repository/x"));
    assert_string_equal(acct, "444455556666");
    assert_false(arn_account_of(acct, "arn:aws:iam::aws:policy/P"));
    assert_string_equal(acct, "");
    assert_false(arn_account_of(acct, "*"));
    assert_false(arn_account_of(acct, "arn:aws:ecr:us-east-1:4444555566667777:repository/x"));
}

static void test_ecr_repository(void **state)
{
    (void)state;
    struct arn a;
    struct slice name;
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecr:eu-west-1:123456789012:repository/team-a/web")), 0);
    assert_true(arn_ecr_repository(&a, &name));
    assert_slice(name, "team-a/web");
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecr:eu-west-1:123456789012:repository/")), 0);
    assert_false(arn_ecr_repository(&a, &name));
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecr:eu-west-1:123456789012:repo/x")), 0);
    assert_false(arn_ecr_repository(&a, &name));
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecs:eu-west-1:123456789012:repository/x")), 0);
    assert_false(arn_ecr_repository(&a, &name));
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:ecr:eu-west-1:*:repository/x")), 0);
    assert_false(arn_ecr_repository(&a, &name));
}

static void test_iam_principal(void **state)
{
    (void)state;
    struct arn a;
    struct slice user;
    bool root;
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:iam::123456789012:root")), 0);
    assert_int_equal(arn_iam_principal(&a, &root, &user), 0);
    assert_true(root);
    assert_int_equal(arn_parse(&a, SLICE_LIT("arn:aws:iam::123456789012:user/ops/team/alice")), 0);
    assert_int_equal(arn_iam_principal(&a, &root, &user), 0);
    assert_false(root);
    assert_slice(user, "alice");
    static const char *const bad[] = {
        "arn:aws:iam::123456789012:user/",         "arn:aws:iam::123456789012:user/ops/",
        "arn:aws:iam::123456789012:group/admins",  "arn:aws:iam::aws:root",
        "arn:aws:sts::123456789012:root",          "arn:aws:iam:us-east-1:123456789012:root",
        "arn:aws:iam::123456789012:rootx",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(arn_parse(&a, slice_from(bad[i])), 0);
        if (arn_iam_principal(&a, &root, &user) != E_INVALID)
            fail_msg("'%s' taken for an IAM principal", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),         cmocka_unit_test(test_not_arns),      cmocka_unit_test(test_account),
        cmocka_unit_test(test_ecr_repository), cmocka_unit_test(test_iam_principal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
