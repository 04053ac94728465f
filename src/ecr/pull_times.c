/*
 * This module implements the pull-time update exclusions of the ECR control
 * plane: RegisterPullTimeUpdateExclusion, DeregisterPullTimeUpdateExclusion
 * and ListPullTimeUpdateExclusions. An exclusion names an IAM principal of
 * any account whose pulls from this registry leave lastRecordedPullTime
 * alone (image_record_pull() checks it); the model has checked the ARN's
 * form (arn:aws:iam::<account>:(user|role)/...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ecr/ops.h"
#include "image/image.h"

int op_register_pull_time_update_exclusion(struct ecr_call *c)
{
    const char *arn = ecr_str(c, "principalArn");
    int64_t created;
    int rc = image_pull_exclusion_register(c->registry_id, arn, &created);
    if (rc == E_EXISTS)
        return ecr_fail(c, ECR_EXCLUSION_ALREADY_EXISTS, "%s", error_message());
    if (rc == E_TOOBIG)
        return ecr_fail(c, ECR_LIMIT_EXCEEDED, "%s", error_message());
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "principalArn", json_string(arn));
    json_object_set_new(c->out, "createdAt", ecr_time(created));
    return 0;
}

int op_deregister_pull_time_update_exclusion(struct ecr_call *c)
{
    const char *arn = ecr_str(c, "principalArn");
    int rc = image_pull_exclusion_deregister(c->registry_id, arn);
    if (rc == E_NOTFOUND)
        return ecr_fail(c, ECR_EXCLUSION_NOT_FOUND, "%s", error_message());
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "principalArn", json_string(arn));
    return 0;
}

static int add_exclusion(void *ctx, const char *arn, int64_t created_ms)
{
    (void)created_ms;
    json_array_append_new(ctx, json_string(arn));
    return 0;
}

int op_list_pull_time_update_exclusions(struct ecr_call *c)
{
    char *after = NULL;
    int max, rc;
    json_t *list = json_array();
    json_object_set_new(c->out, "pullTimeUpdateExclusions", list);
    if (ecr_page(c, 100, 1000, &max, &after) < 0)
        return -1;
    if (after && strncmp(after, "x:", 2) != 0) {
        free(after);
        return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'nextToken': the token is not valid");
    }
    rc = store_pull_exclusions_list(c->registry_id, after ? after + 2 : NULL, max + 1, add_exclusion, list);
    free(after);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    if (json_array_size(list) > (size_t)max) {
        char key[300];
        json_array_remove(list, (size_t)max);
        snprintf(key, sizeof(key), "x:%s", json_string_value(json_array_get(list, (size_t)max - 1)));
        ecr_set_next_token(c, key);
    }
    return 0;
}
