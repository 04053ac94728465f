/*
 * This module implements the resource-based policies of ECR: the
 * repository policy (SetRepositoryPolicy, GetRepositoryPolicy,
 * DeleteRepositoryPolicy) and the registry policy (PutRegistryPolicy,
 * GetRegistryPolicy, DeleteRegistryPolicy). Documents are validated with
 * the same parser the evaluator uses, so what is stored is what is
 * enforced.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "ecr/ops.h"
#include "policy/policy.h"

#define REGISTRY_POLICY_KEY "registry_policy"

/* Checks a resource policy document; InvalidParameterException otherwise. */
static int check_policy(struct ecr_call *c, const char *text, const char *what)
{
    struct policy *p = NULL;
    int rc = policy_parse(&p, text, strlen(text), POLICY_RESOURCE, POLICY_LIMIT_REPOSITORY);
    policy_free(p);
    if (rc < 0)
        return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                                                         "'Invalid %s policy provided': %s",
                        what, error_message());
    return 0;
}

static void set_repo_ids(struct ecr_call *c, const struct repo *repo)
{
    json_object_set_new(c->out, "registryId", json_string(repo->account_id));
    json_object_set_new(c->out, "repositoryName", json_string(repo->name));
}

int op_set_repository_policy(struct ecr_call *c)
{
    struct repo repo;
    const char *text = ecr_str(c, "policyText");
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = check_policy(c, text, "repository")) < 0)
        goto done;
    /* Without force, ECR refuses a policy that would lock the caller out of
     * setting policies again; with one evaluator that is: would the caller
     * still be allowed ecr:SetRepositoryPolicy under the new document? The
     * question is asked inside the dispatcher's write transaction (this
     * thread's connection sees the new policy, no other does), which the
     * refusal rolls back. */
    bool force = json_is_true(json_object_get(c->in, "force"));
    free(repo.policy);
    repo.policy = xstrdup(text);
    if ((rc = store_repo_update(&repo)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if (!force) {
        char arn[600];
        struct auth_decision d;
        ecr_repo_arn(arn, sizeof(arn), repo.account_id, repo.name);
        if (auth_decide(&d, &c->who, "ecr:SetRepositoryPolicy", repo.account_id, arn, &c->authz) == 0 && !d.allowed) {
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy "
                          "provided': the policy would prevent you from setting the policy in the future; use force to set "
                          "it anyway");
            goto done;
        }
    }
    set_repo_ids(c, &repo);
    json_object_set_new(c->out, "policyText", json_string(text));
done:
    repo_release(&repo);
    return rc;
}

int op_get_repository_policy(struct ecr_call *c)
{
    struct repo repo;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    int rc = 0;
    if (!repo.policy)
        rc = ecr_fail(c, ECR_REPOSITORY_POLICY_NOT_FOUND,
                      "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'",
                      repo.name, repo.account_id);
    else {
        set_repo_ids(c, &repo);
        json_object_set_new(c->out, "policyText", json_string(repo.policy));
    }
    repo_release(&repo);
    return rc;
}

int op_delete_repository_policy(struct ecr_call *c)
{
    struct repo repo;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    int rc = 0;
    if (!repo.policy) {
        rc = ecr_fail(c, ECR_REPOSITORY_POLICY_NOT_FOUND,
                      "Repository policy does not exist for the repository with name '%s' in the registry with id '%s'",
                      repo.name, repo.account_id);
    } else {
        set_repo_ids(c, &repo);
        json_object_set_new(c->out, "policyText", json_string(repo.policy));
        free(repo.policy);
        repo.policy = NULL;
        if ((rc = store_repo_update(&repo)) < 0)
            rc = ecr_fail_internal(c, rc);
    }
    repo_release(&repo);
    return rc;
}

int op_put_registry_policy(struct ecr_call *c)
{
    const char *text = ecr_str(c, "policyText");
    int rc;
    if (check_policy(c, text, "registry") < 0)
        return -1;
    if ((rc = store_setting_put(c->registry_id, REGISTRY_POLICY_KEY, text)) < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "policyText", json_string(text));
    return 0;
}

int op_get_registry_policy(struct ecr_call *c)
{
    char *text = NULL;
    int rc = store_setting_get(c->registry_id, REGISTRY_POLICY_KEY, &text);
    if (rc == E_NOTFOUND)
        return ecr_fail(c, ECR_REGISTRY_POLICY_NOT_FOUND, "Registry policy does not exist in the registry with id '%s'",
                        c->registry_id);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "policyText", json_string(text));
    free(text);
    return 0;
}

int op_delete_registry_policy(struct ecr_call *c)
{
    char *text = NULL;
    int rc = store_setting_get(c->registry_id, REGISTRY_POLICY_KEY, &text);
    if (rc == E_NOTFOUND)
        return ecr_fail(c, ECR_REGISTRY_POLICY_NOT_FOUND, "Registry policy does not exist in the registry with id '%s'",
                        c->registry_id);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    if ((rc = store_setting_delete(c->registry_id, REGISTRY_POLICY_KEY)) < 0) {
        free(text);
        return ecr_fail_internal(c, rc);
    }
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "policyText", json_string(text));
    free(text);
    return 0;
}
