/*
 * The ECR operations of image scanning: the registry's scanning
 * configuration, each repository's effective one, asking for a scan and
 * reading its findings. Which images are scanned and when is the image
 * service's (image/scanning.h); the scan itself runs as a job (scan/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ecr/ops.h"
#include "image/scanning.h"
#include "store/scans.h"

#define FINDINGS_DEFAULT_MAX 100
#define FINDINGS_MAX 1000

int op_get_registry_scanning_configuration(struct ecr_call *c)
{
    json_t *config;
    int rc = image_scanning_config_get(c->registry_id, &config);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "scanningConfiguration", config);
    return 0;
}

int op_put_registry_scanning_configuration(struct ecr_call *c)
{
    json_t *rules = json_object_get(c->in, "rules");
    int rc = image_scanning_config_put(c->registry_id, ecr_str(c, "scanType"), rules);
    if (rc == E_UNSUPPORTED || rc == E_INVALID)
        return ecr_fail(c, ECR_INVALID_PARAMETER, "%s", error_message());
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_t *config;
    if ((rc = image_scanning_config_get(c->registry_id, &config)) < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "registryScanningConfiguration", config);
    return 0;
}

int op_batch_get_repository_scanning_configuration(struct ecr_call *c)
{
    json_t *names = json_object_get(c->in, "repositoryNames"), *configs = json_array(), *failures = json_array();
    json_t *name;
    size_t i;
    int rc = 0;
    json_array_foreach(names, i, name)
    {
        struct repo r;
        const char *n = json_string_value(name);
        if ((rc = store_repo_get(c->registry_id, n, &r)) == E_NOTFOUND) {
            json_array_append_new(failures,
                                  json_pack("{s:s,s:s,s:s}", "repositoryName", n, "failureCode", "REPOSITORY_NOT_FOUND",
                                            "failureReason", "REPOSITORY_NOT_FOUND"));
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        enum scan_frequency f;
        json_t *applied;
        if ((rc = image_scan_frequency(&r, &f, &applied)) == 0) {
            char arn[600];
            ecr_repo_arn(arn, sizeof(arn), r.account_id, r.name);
            json_array_append_new(configs, json_pack("{s:s,s:s,s:b,s:s,s:o}", "repositoryArn", arn, "repositoryName", r.name,
                                                     "scanOnPush", f != SCAN_MANUAL, "scanFrequency",
                                                     scan_frequency_names[f], "appliedScanFilters", applied));
        }
        repo_release(&r);
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        json_decref(configs);
        json_decref(failures);
        return ecr_fail_internal(c, rc);
    }
    json_object_set_new(c->out, "scanningConfigurations", configs);
    json_object_set_new(c->out, "failures", failures);
    return 0;
}

/* The imageId of a reply: the digest, and the tag the request named. */
static json_t *reply_image_id(struct ecr_call *c, const char *digest)
{
    const char *tag = json_string_value(json_object_get(json_object_get(c->in, "imageId"), "imageTag"));
    json_t *id = json_pack("{s:s}", "imageDigest", digest);
    if (tag)
        json_object_set_new(id, "imageTag", json_string(tag));
    return id;
}

int op_start_image_scan(struct ecr_call *c)
{
    struct repo r;
    char digest[DIGEST_MAX];
    int rc = ecr_load_repo(c, &r);
    if (rc < 0)
        return rc;
    if ((rc = ecr_image_lookup(c, &r, json_object_get(c->in, "imageId"), digest)) < 0)
        goto done;
    rc = image_scan_start(&r, digest);
    if (rc == E_UNSUPPORTED)
        rc = ecr_fail(c, ECR_UNSUPPORTED_IMAGE_TYPE, "The image is of a type that cannot be scanned: %s", error_message());
    else if (rc == E_DENIED)
        rc = ecr_fail(c, ECR_IMAGE_ARCHIVED, "%s", error_message());
    else if (rc == E_TOOBIG)
        rc = ecr_fail(c, ECR_LIMIT_EXCEEDED,
                      "The scan quota per image has been exceeded. Wait and try again: an image can be scanned once every "
                      "24 hours, counting its scan on push");
    else if (rc == E_NOTFOUND)
        rc = ecr_fail(c, ECR_IMAGE_NOT_FOUND, "The image %s does not exist within the repository with name '%s' in the "
                      "registry with id '%s'", digest, r.name, r.account_id);
    else if (rc < 0)
        rc = ecr_fail_internal(c, rc);
    if (rc < 0)
        goto done;
    json_object_set_new(c->out, "registryId", json_string(r.account_id));
    json_object_set_new(c->out, "repositoryName", json_string(r.name));
    json_object_set_new(c->out, "imageId", reply_image_id(c, digest));
    json_object_set_new(c->out, "imageScanStatus", json_pack("{s:s}", "status", "IN_PROGRESS"));
done:
    repo_release(&r);
    return rc;
}

/* ECR's words for each status. */
static const char *status_description(const struct scan_record *s)
{
    if (s->description)
        return s->description;
    if (strcmp(s->status, "COMPLETE") == 0)
        return "The scan was completed successfully.";
    return NULL;
}

json_t *ecr_scan_status(const struct scan_record *s)
{
    json_t *st = json_pack("{s:s}", "status", s->status);
    const char *d = status_description(s);
    if (d)
        json_object_set_new(st, "description", json_string(d));
    return st;
}

json_t *ecr_severity_counts(const struct scan_record *s)
{
    json_t *counts = json_object();
    for (int i = 0; i < SEV_COUNT; i++)
        if (s->counts[i])
            json_object_set_new(counts, scan_severity_names[i], json_integer(s->counts[i]));
    return counts;
}

struct findings_page {
    json_t *list;
    int64_t last;
};

static int add_finding(void *ctx, int64_t pos, const char *finding)
{
    struct findings_page *p = ctx;
    json_t *f = json_loads(finding, 0, NULL);
    if (f)
        json_array_append_new(p->list, f);
    p->last = pos;
    return 0;
}

int op_describe_image_scan_findings(struct ecr_call *c)
{
    struct repo r;
    struct scan_record s;
    char digest[DIGEST_MAX], *after = NULL;
    int max, rc = ecr_load_repo(c, &r);
    if (rc < 0)
        return rc;
    if ((rc = ecr_image_lookup(c, &r, json_object_get(c->in, "imageId"), digest)) < 0 ||
        (rc = ecr_page(c, FINDINGS_DEFAULT_MAX, FINDINGS_MAX, &max, &after)) < 0)
        goto done;
    char *end = NULL;
    long long from = after ? strtoll(after, &end, 10) : 0;
    if (after && (*end || from < 0)) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter at 'nextToken': the token is not valid");
        goto done;
    }
    if ((rc = store_scan_get(r.id, digest, &s)) == E_NOTFOUND) {
        const char *tag = json_string_value(json_object_get(json_object_get(c->in, "imageId"), "imageTag"));
        rc = ecr_fail(c, ECR_SCAN_NOT_FOUND,
                      "Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'%s'}' in the repository "
                      "with name '%s' in the registry with id '%s'",
                      digest, tag ? tag : "null", r.name, r.account_id);
        goto done;
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set_new(c->out, "registryId", json_string(r.account_id));
    json_object_set_new(c->out, "repositoryName", json_string(r.name));
    json_object_set_new(c->out, "imageId", reply_image_id(c, digest));
    json_object_set_new(c->out, "imageScanStatus", ecr_scan_status(&s));
    if (strcmp(s.status, "COMPLETE") == 0) {
        struct findings_page page = {json_array(), 0};
        if ((rc = store_scan_findings(r.id, digest, from, max, add_finding, &page)) < 0) {
            json_decref(page.list);
            scan_record_release(&s);
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        json_object_set_new(c->out, "imageScanFindings",
                            json_pack("{s:o,s:o,s:o,s:o}", "imageScanCompletedAt", ecr_time(s.completed_at),
                                      "vulnerabilitySourceUpdatedAt", ecr_time(s.source_updated_at),
                                      "findingSeverityCounts", ecr_severity_counts(&s), "findings", page.list));
        if (page.last > 0 && page.last < s.findings) {
            char tok[32];
            snprintf(tok, sizeof(tok), "%lld", (long long)page.last);
            ecr_set_next_token(c, tok);
        }
    }
    scan_record_release(&s);
done:
    free(after);
    repo_release(&r);
    return rc;
}
