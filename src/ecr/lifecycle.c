/*
 * This module implements the lifecycle policy operations of ECR:
 * PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy,
 * StartLifecyclePolicyPreview and GetLifecyclePolicyPreview. Policies are
 * validated by lifecycle/ (the grammar the evaluator runs), stored with
 * the repository, and run by the "lifecycle" job every
 * --lifecycle-interval-seconds; a preview is a "lifecycle-preview" job
 * whose results GetLifecyclePolicyPreview pages through (IN_PROGRESS until
 * it has run, then COMPLETE or FAILED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "ecr/ops.h"
#include "jobs/jobs.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/run.h"
#include "store/lifecycle.h"

#define BAD_TOKEN "Invalid parameter at 'nextToken': the token is not valid"

/* InvalidParameterException naming the rule and why, as ECR words it. */
static int check_policy(struct ecr_call *c, const char *text)
{
    struct lc_policy *p = NULL;
    int rc = lc_policy_parse(&p, text, strlen(text));
    lc_policy_free(p);
    if (rc < 0)
        return ecr_fail(c, ECR_INVALID_PARAMETER,
                        "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '%s'", error_message());
    return 0;
}

static void set_repo_ids(struct ecr_call *c, const struct repo *repo)
{
    json_object_set_new(c->out, "registryId", json_string(repo->account_id));
    json_object_set_new(c->out, "repositoryName", json_string(repo->name));
}

static int no_policy(struct ecr_call *c, const struct repo *repo)
{
    return ecr_fail(c, ECR_LIFECYCLE_POLICY_NOT_FOUND,
                    "Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'",
                    repo->name, repo->account_id);
}

int op_put_lifecycle_policy(struct ecr_call *c)
{
    struct repo repo;
    const char *text = ecr_str(c, "lifecyclePolicyText");
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = check_policy(c, text)) < 0)
        goto done;
    if ((rc = store_lifecycle_policy_put(repo.id, text)) < 0 || (rc = lifecycle_schedule(repo.id)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    set_repo_ids(c, &repo);
    json_object_set_new(c->out, "lifecyclePolicyText", json_string(text));
done:
    repo_release(&repo);
    return rc;
}

/* Loads the repository's policy into *text (E_NOTFOUND answered). */
static int get_policy(struct ecr_call *c, const struct repo *repo, char **text, int64_t *evaluated)
{
    int rc = store_lifecycle_policy_get(repo->id, text, evaluated);
    if (rc == E_NOTFOUND)
        return no_policy(c, repo);
    return rc < 0 ? ecr_fail_internal(c, rc) : 0;
}

static void set_policy(struct ecr_call *c, const struct repo *repo, const char *text, int64_t evaluated)
{
    set_repo_ids(c, repo);
    json_object_set_new(c->out, "lifecyclePolicyText", json_string(text));
    if (evaluated)
        json_object_set_new(c->out, "lastEvaluatedAt", ecr_time(evaluated));
}

int op_get_lifecycle_policy(struct ecr_call *c)
{
    struct repo repo;
    char *text = NULL;
    int64_t evaluated = 0;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    int rc = get_policy(c, &repo, &text, &evaluated);
    if (rc == 0)
        set_policy(c, &repo, text, evaluated);
    free(text);
    repo_release(&repo);
    return rc;
}

int op_delete_lifecycle_policy(struct ecr_call *c)
{
    struct repo repo;
    char *text = NULL;
    int64_t evaluated = 0;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    int rc = get_policy(c, &repo, &text, &evaluated);
    if (rc == 0 && ((rc = store_lifecycle_policy_delete(repo.id)) < 0 || (rc = lifecycle_unschedule(repo.id)) < 0))
        rc = ecr_fail_internal(c, rc);
    if (rc == 0)
        set_policy(c, &repo, text, evaluated);
    free(text);
    repo_release(&repo);
    return rc;
}

/* Not in the dispatcher's transaction: the preview's row is committed
 * before its job is queued, so the worker the queue wakes finds it. */
int op_start_lifecycle_policy_preview(struct ecr_call *c)
{
    struct repo repo;
    struct lifecycle_preview pv = {0};
    char *stored = NULL, key[32];
    const char *text = ecr_str(c, "lifecyclePolicyText");
    int rc;
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if (!text) {
        if ((rc = get_policy(c, &repo, &stored, NULL)) < 0)
            goto done;
        text = stored;
    }
    if ((rc = check_policy(c, text)) < 0)
        goto done;
    if ((rc = store_begin()) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    rc = store_lifecycle_preview_get(repo.id, &pv);
    if (rc == 0 && strcmp(pv.status, "IN_PROGRESS") == 0) {
        store_rollback();
        rc = ecr_fail(c, ECR_LIFECYCLE_POLICY_PREVIEW_IN_PROGRESS,
                      "Previous lifecycle policy preview request has not been completed for the repository with name '%s' "
                      "in the registry with id '%s'",
                      repo.name, repo.account_id);
        goto done;
    }
    if ((rc == 0 || rc == E_NOTFOUND) && (rc = store_lifecycle_preview_start(repo.id, text, now_ms())) == 0)
        rc = store_commit();
    if (rc < 0) {
        store_rollback();
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    snprintf(key, sizeof(key), "%lld", (long long)repo.id);
    if ((rc = jobs_enqueue(LIFECYCLE_PREVIEW_JOB, key, NULL, 0)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    set_repo_ids(c, &repo);
    json_object_set_new(c->out, "lifecyclePolicyText", json_string(text));
    json_object_set_new(c->out, "status", json_string("IN_PROGRESS"));
done:
    lifecycle_preview_release(&pv);
    free(stored);
    repo_release(&repo);
    return rc;
}

struct page {
    json_t *results;
    int64_t last; /* seq of the last result added */
    int n, limit; /* limit 0: no limit */
    bool more;    /* a result past the limit exists */
};

static int add_result(void *ctx, const struct lifecycle_result *r)
{
    struct page *pg = ctx;
    if (pg->limit && pg->n >= pg->limit) {
        pg->more = true;
        return 1;
    }
    json_t *o = json_object();
    json_t *tags = json_loads(r->tags_json, 0, NULL);
    json_object_set_new(o, "imageTags", tags ? tags : json_array());
    json_object_set_new(o, "imageDigest", json_string(r->digest));
    json_object_set_new(o, "imagePushedAt", ecr_time(r->pushed_ms));
    json_t *action = json_object();
    json_object_set_new(action, "type", json_string(r->action));
    if (strcmp(r->action, "TRANSITION") == 0)
        json_object_set_new(action, "targetStorageClass", json_string("ARCHIVE"));
    json_object_set_new(o, "action", action);
    json_object_set_new(o, "appliedRulePriority", json_integer(r->priority));
    json_object_set_new(o, "storageClass", json_string(r->storage_class));
    json_array_append_new(pg->results, o);
    pg->last = r->seq;
    pg->n++;
    return 0;
}

/* The results for the images imageIds names (by digest or tag). */
static int results_by_ids(struct ecr_call *c, const struct repo *repo, json_t *ids, int tagged, struct page *pg)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        char digest[DIGEST_MAX];
        const char *d = json_string_value(json_object_get(id, "imageDigest"));
        const char *tag = json_string_value(json_object_get(id, "imageTag"));
        if (!d && tag) {
            if (store_tag_resolve(repo->id, tag, digest) < 0)
                continue;
            d = digest;
        }
        if (!d)
            return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'imageIds': an image id needs imageDigest "
                                                      "or imageTag");
        int rc = store_lifecycle_preview_results(repo->id, 0, 1, tagged, d, add_result, pg);
        if (rc < 0)
            return ecr_fail_internal(c, rc);
    }
    return 0;
}

int op_get_lifecycle_policy_preview(struct ecr_call *c)
{
    struct repo repo;
    struct lifecycle_preview pv = {0};
    struct page pg = {0};
    char *after = NULL;
    int max = 100, rc;
    json_t *ids = json_object_get(c->in, "imageIds");
    if (ecr_load_repo(c, &repo) < 0)
        return -1;
    if ((rc = store_lifecycle_preview_get(repo.id, &pv)) == E_NOTFOUND) {
        rc = ecr_fail(c, ECR_LIFECYCLE_POLICY_PREVIEW_NOT_FOUND,
                      "Lifecycle policy preview does not exist for the repository with name '%s' in the registry with "
                      "id '%s'",
                      repo.name, repo.account_id);
        goto done;
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    int tagged = -1;
    const char *status = json_string_value(json_object_get(json_object_get(c->in, "filter"), "tagStatus"));
    if (status)
        tagged = strcmp(status, "TAGGED") == 0 ? 1 : strcmp(status, "UNTAGGED") == 0 ? 0 : -1;

    pg.results = json_array();
    set_repo_ids(c, &repo);
    json_object_set_new(c->out, "lifecyclePolicyText", json_string(pv.policy));
    json_object_set_new(c->out, "status", json_string(pv.status));
    json_object_set_new(c->out, "previewResults", pg.results);
    if (ids) {
        if (json_object_get(c->in, "nextToken") || json_object_get(c->in, "maxResults"))
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter: nextToken and maxResults cannot be used when imageIds are given");
        else
            rc = results_by_ids(c, &repo, ids, tagged, &pg);
        if (rc < 0)
            goto done;
    } else {
        if ((rc = ecr_page(c, 100, 100, &max, &after)) < 0)
            goto done;
        int64_t from = 0;
        if (after) {
            char *end;
            from = strtoll(after, &end, 10);
            if (end == after || *end || from < 0) {
                rc = ecr_fail(c, ECR_INVALID_PARAMETER, BAD_TOKEN);
                goto done;
            }
        }
        /* one more than a page says whether there is a next one */
        pg.limit = max;
        if ((rc = store_lifecycle_preview_results(repo.id, from, max + 1, tagged, NULL, add_result, &pg)) < 0) {
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        if (pg.more) {
            char tok[32];
            snprintf(tok, sizeof(tok), "%lld", (long long)pg.last);
            ecr_set_next_token(c, tok);
        }
    }
    if (strcmp(pv.status, "COMPLETE") == 0) {
        json_t *summary = json_object();
        json_object_set_new(summary, "expiringImageTotalCount", json_integer(pv.expiring));
        if (pv.transitioning) {
            json_t *t = json_object();
            json_object_set_new(t, "targetStorageClass", json_string("ARCHIVE"));
            json_object_set_new(t, "imageTotalCount", json_integer(pv.transitioning));
            json_t *list = json_array();
            json_array_append_new(list, t);
            json_object_set_new(summary, "transitioningImageTotalCounts", list);
        }
        json_object_set_new(c->out, "summary", summary);
    }
    rc = 0;
done:
    free(after);
    lifecycle_preview_release(&pv);
    repo_release(&repo);
    return rc;
}
