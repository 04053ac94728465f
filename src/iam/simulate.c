/*
 * This module implements SimulatePrincipalPolicy, the control-plane face of
 * berth's policy simulator (`berth admin simulate` is the other): for a
 * user or root ARN, each action and each resource, the decision of the one
 * evaluator and the policy that decided it. Unlike IAM's, berth's answer
 * also weighs the repository and registry policies of the resources named,
 * since that is what a real request would meet; a condition context may set
 * aws:SourceIp and aws:SecureTransport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "core/error.h"
#include "iam/iam.h"
#include "iam/ops.h"
#include "iam/xml.h"
#include "policy/arn.h"
#include "store/store.h"

/* The principal a PolicySourceArn names: the account root or one of its users. */
static int principal_from_arn(struct iam_call *c, const char *arn, struct principal *out)
{
    int rc = auth_principal_from_arn(out, arn);
    if (rc == 0 && strcmp(out->account_id, c->account) != 0)
        rc = E_INVALID;
    if (rc == E_INVALID)
        return iam_fail(c, IAM_INVALID_INPUT, "PolicySourceArn %s is not a user or root of this account", arn);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "%s", error_message());
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_simulate_principal_policy(struct iam_call *c)
{
    struct principal p;
    struct authz_context ctx = {.source_ip = "", .secure_transport = c->authz.secure_transport};
    char ip[64] = "";
    json_t *actions = json_object_get(c->in, "ActionNames");
    json_t *resources = json_object_get(c->in, "ResourceArns");
    json_t *context = json_object_get(c->in, "ContextEntries");
    int rc;

    if ((rc = principal_from_arn(c, iam_str(c, "PolicySourceArn"), &p)) < 0)
        return rc;
    for (size_t i = 0; json_is_array(context) && i < json_array_size(context); i++) {
        json_t *e = json_array_get(context, i);
        const char *key = json_string_value(json_object_get(e, "ContextKeyName"));
        json_t *vals = json_object_get(e, "ContextKeyValues");
        const char *v = json_string_value(json_array_get(vals, 0));
        if (!key || !v)
            continue;
        if (strcasecmp(key, "aws:SourceIp") == 0)
            snprintf(ip, sizeof(ip), "%s", v);
        else if (strcasecmp(key, "aws:SecureTransport") == 0)
            ctx.secure_transport = strcasecmp(v, "true") == 0;
        else
            return iam_fail(c, IAM_INVALID_INPUT, "context key %s is not supported by this simulator "
                                               "(aws:SourceIp, aws:SecureTransport)",
                            key);
    }
    ctx.source_ip = ip;

    xml_open(&c->out, "EvaluationResults");
    size_t nres = json_is_array(resources) && json_array_size(resources) ? json_array_size(resources) : 1;
    for (size_t a = 0; a < json_array_size(actions); a++) {
        const char *action = json_string_value(json_array_get(actions, a));
        for (size_t r = 0; r < nres; r++) {
            const char *res = json_is_array(resources) && json_array_size(resources)
                                  ? json_string_value(json_array_get(resources, r))
                                  : "*";
            char acct[ARN_ACCOUNT_LEN + 1];
            struct auth_decision d;
            /* the resource's account, else the caller's */
            if (!arn_account_of(acct, res))
                snprintf(acct, sizeof(acct), "%s", c->account);
            if ((rc = auth_decide(&d, &p, action, acct, res, &ctx)) < 0)
                return iam_fail(c, IAM_POLICY_EVALUATION, "the policies of %s could not be evaluated: %s", p.arn,
                                error_message());
            xml_open(&c->out, "member");
            xml_text(&c->out, "EvalActionName", action);
            xml_text(&c->out, "EvalResourceName", res);
            xml_text(&c->out, "EvalDecision", d.result);
            xml_open(&c->out, "MatchedStatements");
            if (strcmp(d.source, "no policy") != 0) {
                xml_open(&c->out, "member");
                xml_text(&c->out, "SourcePolicyId", d.sid[0] ? d.sid : d.source);
                xml_text(&c->out, "SourcePolicyType",
                         strstr(d.source, "repository policy") || strstr(d.source, "registry policy") ? "resource"
                         : strncmp(d.source, "inline:", 7) == 0                                        ? "user"
                                                                                                       : "aws-managed");
                xml_close(&c->out, "member");
            }
            xml_close(&c->out, "MatchedStatements");
            xml_open(&c->out, "MissingContextValues");
            xml_close(&c->out, "MissingContextValues");
            xml_open(&c->out, "EvalDecisionDetails");
            xml_open(&c->out, "entry");
            xml_text(&c->out, "key", d.source);
            xml_text(&c->out, "value", d.result);
            xml_close(&c->out, "entry");
            xml_close(&c->out, "EvalDecisionDetails");
            xml_close(&c->out, "member");
        }
    }
    xml_close(&c->out, "EvaluationResults");
    xml_bool(&c->out, "IsTruncated", false);
    return 0;
}
