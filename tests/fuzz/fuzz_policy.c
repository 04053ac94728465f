/*
 * libFuzzer target for the IAM policy parser and evaluator: every input is
 * parsed as an identity-based and as a resource-based policy, and whatever
 * parses is evaluated against fixed requests (a user in the same account
 * and in another one, the account root) with condition keys of every kind,
 * and its denial message formatted.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "policy/policy.h"

#define ACCT "111122223333"
#define OTHER "444455556666"

static const struct policy_principal principals[] = {
    {POLICY_PRINCIPAL_USER, "arn:aws:iam::" ACCT ":user/alice", ACCT, "alice", "AIDAALICE"},
    {POLICY_PRINCIPAL_USER, "arn:aws:iam::" OTHER ":user/bob", OTHER, "bob", "AIDABOB"},
    {POLICY_PRINCIPAL_ROOT, "arn:aws:iam::" ACCT ":root", ACCT, NULL, NULL},
};

static void evaluate(const struct policy *p, enum policy_kind kind)
{
    static const char *const count[] = {"5"};
    static const char *const groups[] = {"devs", "admins", "x*y?"};
    static const char *const blob[] = {"QmluYXJ5"};
    static const struct policy_context_key context[] = {
        {"berth:count", count, 1},
        {"berth:groups", groups, 3},
        {"berth:blob", blob, 1},
    };
    static const struct policy_tag resource_tags[] = {{"team", "a"}};
    static const struct policy_tag request_tags[] = {{"env", "prod"}, {"owner", "x"}};
    struct policy_attached a = {p, "fuzzed"};
    struct policy_inputs in = {0};
    struct buf msg;

    if (kind == POLICY_IDENTITY) {
        in.identity = &a;
        in.identity_count = 1;
    } else {
        in.resource = &a;
    }
    buf_init(&msg, 1 << 16);
    for (size_t i = 0; i < sizeof(principals) / sizeof(principals[0]); i++) {
        struct policy_request req = {
            .principal = principals[i],
            .action = i == 2 ? "ecr:GetAuthorizationToken" : "ecr:PutImage",
            .resource = i == 2 ? "*" : "arn:aws:ecr:us-east-1:" ACCT ":repository/team-a/web",
            .resource_account = ACCT,
            .now_ms = 1717243200000LL,
            .source_ip = i == 1 ? "2001:db8::7" : "192.0.2.10",
            .secure_transport = i != 0,
            .resource_tags = resource_tags,
            .resource_tag_count = 1,
            .request_tags = i == 0 ? request_tags : NULL,
            .request_tag_count = i == 0 ? 2 : 0,
            .context = context,
            .context_count = 3,
        };
        struct policy_decision d;
        if (policy_evaluate(&d, &req, &in) == 0)
            policy_decision_message(&msg, &req, &d);
        buf_reset(&msg);
    }
    buf_release(&msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum policy_kind kinds[] = {POLICY_IDENTITY, POLICY_RESOURCE};
    for (size_t k = 0; k < 2; k++) {
        struct policy *p = NULL;
        if (policy_parse(&p, (const char *)data, size, kinds[k], POLICY_LIMIT_ROLE_INLINE) == 0) {
            (void)policy_version(p);
            (void)policy_statement_count(p);
            evaluate(p, kinds[k]);
            policy_free(p);
        }
        error_clear();
    }
    return 0;
}
