/*
 * Unit tests for src/iam/managed.c: every built-in AWS-managed policy parses
 * as an identity policy within the managed-policy size limit, can be found
 * by ARN and by iteration, and allows and denies the ECR actions its real
 * document does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "iam/managed.h"
#include "policy/policy.h"

#define ACCT "111122223333"
#define REPO "arn:aws:ecr:us-east-1:" ACCT ":repository/team-a/web"
#define PREFIX "arn:aws:iam::aws:policy/"

static void test_table(void **state)
{
    const struct managed_policy *m, *found;
    size_t n = 0;
    (void)state;
    for (m = managed_policy_next(NULL); m; m = managed_policy_next(m)) {
        struct policy *p = NULL;
        char arn[256];
        n++;
        snprintf(arn, sizeof(arn), PREFIX "%s", m->name);
        assert_string_equal(m->arn, arn);
        assert_string_equal(m->path, "/");
        assert_int_equal(strlen(m->policy_id), 21);
        assert_memory_equal(m->policy_id, "ANPA", 4);
        assert_true(m->default_version[0] == 'v');
        assert_true(strlen(m->description) > 0);
        assert_int_equal(strlen(m->create_date), 20);
        assert_int_equal(strlen(m->update_date), 20);
        assert_true(strcmp(m->create_date, m->update_date) <= 0);
        assert_int_equal(managed_policy_parse(&p, m), 0);
        assert_int_equal(policy_kind(p), POLICY_IDENTITY);
        assert_string_equal(policy_version(p), "2012-10-17");
        policy_free(p);
        assert_int_equal(managed_policy_lookup(&found, m->arn), 0);
        assert_ptr_equal(found, m);
    }
    assert_int_equal(n, 5);
    assert_int_equal(managed_policy_count(), 5);
    assert_int_equal(managed_policy_lookup(&found, PREFIX "AdministratorAccess"), E_NOTFOUND);
    assert_null(found);
    assert_string_equal(error_message(), "Policy " PREFIX "AdministratorAccess does not exist or is not attachable.");
    assert_int_equal(managed_policy_lookup(&found, PREFIX "amazonec2containerregistryreadonly"), E_NOTFOUND);
}

struct expectation {
    const char *policy; /* name */
    const char *action;
    const char *resource;
    enum policy_result result;
};

static const struct expectation expectations[] = {
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:PutImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:InitiateLayerUpload", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:BatchGetImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:GetAuthorizationToken", "*", POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:DeleteRepository", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:SetRepositoryPolicy", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryPowerUser", "ecr:BatchDeleteImage", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:PutImage", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:CompleteLayerUpload", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:BatchGetImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:GetDownloadUrlForLayer", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:DescribeRepositories", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryReadOnly", "ecr:ListTagsForResource", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:BatchGetImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:GetDownloadUrlForLayer", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:BatchImportUpstreamImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:GetAuthorizationToken", "*", POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:PutImage", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:DescribeRepositories", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryPullOnly", "ecr:BatchCheckLayerAvailability", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryFullAccess", "ecr:DeleteRepository", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryFullAccess", "ecr:SetRepositoryPolicy", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryFullAccess", "ecr:PutImage", REPO, POLICY_ALLOW},
    {"AmazonEC2ContainerRegistryFullAccess", "cloudtrail:LookupEvents", "*", POLICY_ALLOW},
    {"AWSCloudTrail_ReadOnlyAccess", "cloudtrail:LookupEvents", "*", POLICY_ALLOW},
    {"AWSCloudTrail_ReadOnlyAccess", "cloudtrail:DescribeTrails", "*", POLICY_ALLOW},
    {"AWSCloudTrail_ReadOnlyAccess", "cloudtrail:DeleteTrail", "*", POLICY_IMPLICIT_DENY},
    {"AWSCloudTrail_ReadOnlyAccess", "ecr:DescribeRepositories", REPO, POLICY_IMPLICIT_DENY},
    {"AmazonEC2ContainerRegistryFullAccess", "iam:CreateUser", "*", POLICY_IMPLICIT_DENY},
    /* only for the replication service-linked role (see the context test) */
    {"AmazonEC2ContainerRegistryFullAccess", "iam:CreateServiceLinkedRole", "*", POLICY_IMPLICIT_DENY},
};

static enum policy_result decide(const struct policy *p, const char *action, const char *resource,
                                 const struct policy_context_key *ctx, size_t nctx)
{
    struct policy_attached a = {p, "managed"};
    struct policy_inputs in = {&a, 1, NULL, NULL};
    struct policy_request req = {0};
    struct policy_decision d;
    req.principal = (struct policy_principal){POLICY_PRINCIPAL_USER, "arn:aws:iam::" ACCT ":user/ci", ACCT, "ci", "AIDACI"};
    req.action = action;
    req.resource = resource;
    req.resource_account = ACCT;
    req.context = ctx;
    req.context_count = nctx;
    assert_int_equal(policy_evaluate(&d, &req, &in), 0);
    return d.result;
}

static void test_permissions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expectations) / sizeof(expectations[0]); i++) {
        const struct expectation *e = &expectations[i];
        const struct managed_policy *m;
        struct policy *p = NULL;
        char arn[256];
        enum policy_result r;
        snprintf(arn, sizeof(arn), PREFIX "%s", e->policy);
        assert_int_equal(managed_policy_lookup(&m, arn), 0);
        assert_int_equal(managed_policy_parse(&p, m), 0);
        r = decide(p, e->action, e->resource, NULL, 0);
        if (r != e->result)
            printf("FAIL %s %s on %s: %s\n", e->policy, e->action, e->resource, policy_result_name(r));
        assert_int_equal(r, e->result);
        policy_free(p);
    }
}

static void test_full_access_service_linked_role(void **state)
{
    static const char *const replication[] = {"replication.ecr.amazonaws.com"};
    static const char *const other[] = {"elasticbeanstalk.amazonaws.com"};
    struct policy_context_key ok = {"iam:AWSServiceName", replication, 1};
    struct policy_context_key bad = {"iam:AWSServiceName", other, 1};
    const struct managed_policy *m;
    struct policy *p = NULL;
    (void)state;
    assert_int_equal(managed_policy_lookup(&m, PREFIX "AmazonEC2ContainerRegistryFullAccess"), 0);
    assert_int_equal(managed_policy_parse(&p, m), 0);
    assert_int_equal(decide(p, "iam:CreateServiceLinkedRole", "*", &ok, 1), POLICY_ALLOW);
    assert_int_equal(decide(p, "iam:CreateServiceLinkedRole", "*", &bad, 1), POLICY_IMPLICIT_DENY);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_permissions),
        cmocka_unit_test(test_full_access_service_linked_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
