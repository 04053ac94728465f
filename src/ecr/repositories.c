/*
 * This module implements the repository family of the ECR control plane:
 * CreateRepository, DescribeRepositories, DeleteRepository,
 * PutImageTagMutability, PutImageScanningConfiguration, the resource tags
 * of a repository (TagResource, UntagResource, ListTagsForResource),
 * DescribeRegistry and the account settings (GetAccountSetting,
 * PutAccountSetting).
 *
 * The dispatcher has validated the input against botocore's model; what the
 * model cannot say (tag rules, which mutability takes exclusion filters,
 * the repository quota, the setting names) is checked here, with ECR's
 * error names. Account settings live in the store's settings table, scoped
 * by the account id, under the key "account_setting/<NAME>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "ecr/ops.h"
#include "image/image.h"
#include "image/reference.h"
#include "policy/arn.h"
#include "store/console.h"

/* ECR's limits on resource tags (TooManyTagsException, Tag's documentation). */
#define TAGS_MAX 50
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

#define DESCRIBE_DEFAULT_MAX 100
#define DESCRIBE_HARD_MAX 1000

/* ---- repositories as ECR writes them ---- */

static json_t *repo_json(struct ecr_call *c, const struct repo *r)
{
    char arn[600], uri[600];
    ecr_repo_arn(arn, sizeof(arn), r->account_id, r->name);
    ecr_repo_uri(uri, sizeof(uri), c, r->account_id, r->name);
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:{s:b}}", "repositoryArn", arn, "registryId", r->account_id, "repositoryName", r->name,
                  "repositoryUri", uri, "createdAt", ecr_time(r->created_ms), "imageTagMutability",
                  r->tag_mutability ? r->tag_mutability : "MUTABLE", "imageScanningConfiguration", "scanOnPush", r->scan_on_push);
    if (r->mutability_filters) {
        json_t *filters = json_loads(r->mutability_filters, 0, NULL);
        if (json_is_array(filters) && json_array_size(filters) > 0)
            json_object_set_new(o, "imageTagMutabilityExclusionFilters", filters);
        else
            json_decref(filters);
    }
    json_t *enc = json_pack("{s:s}", "encryptionType", r->encryption_type ? r->encryption_type : "AES256");
    if (r->kms_key)
        json_object_set_new(enc, "kmsKey", json_string(r->kms_key));
    json_object_set_new(o, "encryptionConfiguration", enc);
    return o;
}

static int repo_not_found(struct ecr_call *c, const char *account, const char *name)
{
    return ecr_fail(c, ECR_REPOSITORY_NOT_FOUND, "The repository with name '%s' does not exist in the registry with id '%s'",
                    name, account);
}

/* ---- inputs the model does not fully constrain ---- */

/* Reads imageTagMutability (default MUTABLE) and its exclusion filters:
 * the *_WITH_EXCLUSION settings need at least one filter and the others take
 * none. *filters_out is the filters as stored (a JSON array) or NULL. */
static int read_mutability(struct ecr_call *c, char **mut_out, char **filters_out)
{
    const char *mut = ecr_str(c, "imageTagMutability");
    json_t *filters = json_object_get(c->in, "imageTagMutabilityExclusionFilters");
    bool with_exclusion, have;

    *mut_out = NULL;
    *filters_out = NULL;
    if (!mut)
        mut = "MUTABLE";
    with_exclusion = strcmp(mut, "IMMUTABLE_WITH_EXCLUSION") == 0 || strcmp(mut, "MUTABLE_WITH_EXCLUSION") == 0;
    have = json_is_array(filters) && json_array_size(filters) > 0;
    if (with_exclusion && !have)
        return ecr_fail(c, ECR_INVALID_PARAMETER,
                        "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
                        "'Member must not be null when imageTagMutability is %s'",
                        mut);
    if (!with_exclusion && have)
        return ecr_fail(c, ECR_INVALID_PARAMETER,
                        "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy constraint: "
                        "'Exclusion filters can only be specified with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'");
    if (have) {
        json_t *norm = json_array();
        for (size_t i = 0; i < json_array_size(filters); i++) {
            json_t *f = json_array_get(filters, i);
            json_array_append_new(norm, json_pack("{s:s,s:s}", "filterType", json_string_value(json_object_get(f, "filterType")),
                                                  "filter", json_string_value(json_object_get(f, "filter"))));
        }
        *filters_out = json_dumps(norm, JSON_COMPACT);
        json_decref(norm);
    }
    *mut_out = xstrdup(mut);
    return 0;
}

/* Characters, not bytes: the limits are in Unicode characters. */
static size_t utf8_chars(const char *z)
{
    size_t n = 0;
    for (; *z; z++)
        if (((unsigned char)*z & 0xC0) != 0x80)
            n++;
    return n;
}

/* A tag key: 1 to 128 characters of letters, digits, spaces and _ . : / = + - @,
 * not starting with the reserved aws: prefix (in any case). Non-ASCII
 * characters are taken to be letters. */
static int check_tag_key(struct ecr_call *c, const char *key)
{
    size_t n = utf8_chars(key);
    if (n < 1 || n > TAG_KEY_MAX)
        return ecr_fail(c, ECR_INVALID_TAG_PARAMETER,
                        "The tag key '%.128s' is not valid: tag keys must be between 1 and %d characters long", key, TAG_KEY_MAX);
    if (strncasecmp(key, "aws:", 4) == 0)
        return ecr_fail(c, ECR_INVALID_TAG_PARAMETER,
                        "The tag key '%.128s' is not valid: the aws: prefix is reserved for AWS use", key);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (*p >= 0x80 || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            strchr(" _.:/=+-@", *p))
            continue;
        return ecr_fail(c, ECR_INVALID_TAG_PARAMETER,
                        "The tag key '%.128s' is not valid: tag keys may only contain letters, numbers, spaces and "
                        "the characters _ . : / = + - @",
                        key);
    }
    return 0;
}

/* Checks a TagList (keys and value lengths); the count is checked against
 * what the repository ends up with. */
static int check_tags(struct ecr_call *c, json_t *tags)
{
    for (size_t i = 0; json_is_array(tags) && i < json_array_size(tags); i++) {
        json_t *t = json_array_get(tags, i);
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (check_tag_key(c, k) < 0)
            return -1;
        if (utf8_chars(v) > TAG_VALUE_MAX)
            return ecr_fail(c, ECR_INVALID_TAG_PARAMETER,
                            "The tag value for key '%.128s' is not valid: tag values can be at most %d characters long", k,
                            TAG_VALUE_MAX);
    }
    return 0;
}

/* Writes tags onto repo_id inside the dispatcher's transaction; TooManyTagsException
 * when the repository would hold more than 50. */
static int put_tags(struct ecr_call *c, int64_t repo_id, json_t *tags)
{
    int rc;
    for (size_t i = 0; json_is_array(tags) && i < json_array_size(tags); i++) {
        json_t *t = json_array_get(tags, i);
        rc = store_repo_tag_put(repo_id, json_string_value(json_object_get(t, "Key")),
                                json_string_value(json_object_get(t, "Value")));
        if (rc < 0)
            return ecr_fail_internal(c, rc);
    }
    int64_t n;
    if ((rc = store_repo_tag_count(repo_id, &n)) < 0)
        return ecr_fail_internal(c, rc);
    if (n > TAGS_MAX)
        return ecr_fail(c, ECR_TOO_MANY_TAGS, "The repository would have %lld tags, over the limit of %d tags per repository",
                        (long long)n, TAGS_MAX);
    return 0;
}

/* ---- CreateRepository ---- */

int op_create_repository(struct ecr_call *c)
{
    struct repo r;
    json_t *tags = json_object_get(c->in, "tags");
    json_t *scan = json_object_get(c->in, "imageScanningConfiguration");
    json_t *enc = json_object_get(c->in, "encryptionConfiguration");
    const char *name = ecr_str(c, "repositoryName");
    const struct config *cfg = ecr_config();
    int64_t max = cfg ? cfg->max_repositories : 100000;
    int rc;

    memset(&r, 0, sizeof(r));
    if ((rc = read_mutability(c, &r.tag_mutability, &r.mutability_filters)) < 0)
        goto done;
    if ((rc = check_tags(c, tags)) < 0)
        goto done;
    snprintf(r.account_id, sizeof(r.account_id), "%s", c->registry_id);
    r.name = xstrdup(name);
    r.scan_on_push = json_is_true(json_object_get(scan, "scanOnPush"));
    r.encryption_type = xstrdup(enc ? json_string_value(json_object_get(enc, "encryptionType")) : "AES256");
    if (enc && json_is_string(json_object_get(enc, "kmsKey"))) {
        if (strcmp(r.encryption_type, "AES256") == 0) {
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter at 'encryptionConfiguration.kmsKey' failed to satisfy constraint: "
                          "'A KMS key can only be specified with encryption type KMS or KMS_DSSE'");
            goto done;
        }
        r.kms_key = xstrdup(json_string_value(json_object_get(enc, "kmsKey")));
    }

    /* the quota check and the insert are in the dispatcher's one
     * transaction, which excludes the account's other creates (ecr.c:
     * account_scoped_ops) and every deletion (store_begin()), so that
     * concurrent creates cannot pass the limit together */
    int64_t n;
    if ((rc = store_repo_count(r.account_id, &n)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if (n >= max) {
        rc = ecr_fail(c, ECR_LIMIT_EXCEEDED,
                      "The maximum number of repositories (%lld) has been reached for the registry with id '%s'", (long long)max,
                      r.account_id);
        goto done;
    }
    rc = store_repo_create(&r);
    if (rc == E_EXISTS) {
        rc = ecr_fail(c, ECR_REPOSITORY_ALREADY_EXISTS,
                      "The repository with name '%s' already exists in the registry with id '%s'", r.name, r.account_id);
        goto done;
    }
    if (rc == E_NOTFOUND) {
        rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                      "Invalid parameter at 'registryId' failed to satisfy constraint: 'The registry with id '%s' does not "
                      "exist'",
                      r.account_id);
        goto done;
    }
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    if ((rc = put_tags(c, r.id, tags)) < 0)
        goto done;
    json_object_set_new(c->out, "repository", repo_json(c, &r));

done:
    repo_release(&r);
    return rc;
}

/* ---- DescribeRepositories ---- */

struct repo_page {
    struct ecr_call *c;
    json_t *list;
    int max;
    int n;
    bool more;
    char *last;
};

static int page_add(void *ctx, const struct repo *r)
{
    struct repo_page *p = ctx;
    if (p->n == p->max) {
        p->more = true;
        return 1;
    }
    json_array_append_new(p->list, repo_json(p->c, r));
    p->n++;
    free(p->last);
    p->last = xstrdup(r->name);
    return 0;
}

static int filtered_add(void *ctx, const char *name)
{
    struct repo_page *p = ctx;
    struct repo r;
    if (p->n == p->max) {
        p->more = true;
        return 1;
    }
    int rc = store_repo_get(p->c->registry_id, name, &r);
    if (rc == E_NOTFOUND) /* deleted since the search read it */
        return 0;
    if (rc < 0)
        return rc;
    rc = page_add(p, &r);
    repo_release(&r);
    return rc;
}

/* The console's search (a berth extension of DescribeRepositories, read
 * only from the console's session, so the same action authorizes it): the
 * header X-Berth-Repository-Filter says "prefix:<text>" or
 * "contains:<text>"; the pages are DescribeRepositories' own. Returns 1
 * when there is no filter. */
static int describe_filtered(struct ecr_call *c, struct repo_page *p, const char *after)
{
    const char *f = c->console ? http_header(c->r, "X-Berth-Repository-Filter") : NULL;
    char text[257];
    bool prefix;
    if (!f)
        return 1;
    if (strncmp(f, "prefix:", 7) == 0)
        prefix = true;
    else if (strncmp(f, "contains:", 9) == 0)
        prefix = false;
    else
        return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter: the repository filter is prefix:<text> or contains:<text>");
    f += prefix ? 7 : 9;
    size_t n = strlen(f);
    if (n == 0 || n >= sizeof(text))
        return ecr_fail(c, ECR_INVALID_PARAMETER, "Invalid parameter: the repository filter's text is 1 to 256 characters");
    /* repository names are lower case */
    for (size_t i = 0; i <= n; i++)
        text[i] = (char)(f[i] >= 'A' && f[i] <= 'Z' ? f[i] - 'A' + 'a' : f[i]);
    int rc = store_console_repo_names(c->registry_id, text, prefix, after, p->max + 1, filtered_add, p);
    return rc < 0 ? ecr_fail_internal(c, rc) : 0;
}

int op_describe_repositories(struct ecr_call *c)
{
    json_t *names = json_object_get(c->in, "repositoryNames");
    struct repo_page p = {.c = c, .list = json_array()};
    char *after = NULL;
    int rc = 0;

    if (json_is_array(names)) {
        if (json_object_get(c->in, "maxResults") || json_object_get(c->in, "nextToken")) {
            rc = ecr_fail(c, ECR_INVALID_PARAMETER,
                          "Invalid parameter: maxResults and nextToken cannot be used when repositoryNames is specified");
            goto done;
        }
        for (size_t i = 0; i < json_array_size(names); i++) {
            const char *name = json_string_value(json_array_get(names, i));
            struct repo r;
            rc = store_repo_get(c->registry_id, name, &r);
            if (rc == E_NOTFOUND) {
                rc = repo_not_found(c, c->registry_id, name);
                goto done;
            }
            if (rc < 0) {
                rc = ecr_fail_internal(c, rc);
                goto done;
            }
            json_array_append_new(p.list, repo_json(c, &r));
            repo_release(&r);
        }
    } else {
        if ((rc = ecr_page(c, DESCRIBE_DEFAULT_MAX, DESCRIBE_HARD_MAX, &p.max, &after)) < 0)
            goto done;
        /* one more than a page tells whether there is a next one */
        if ((rc = describe_filtered(c, &p, after)) < 0)
            goto done;
        if (rc == 1 && (rc = store_repo_list(c->registry_id, after, p.max + 1, page_add, &p)) < 0) {
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        if (p.more && p.last)
            ecr_set_next_token(c, p.last);
    }
    json_object_set(c->out, "repositories", p.list);

done:
    json_decref(p.list);
    free(p.last);
    free(after);
    return rc;
}

/* ---- DeleteRepository ---- */

int op_delete_repository(struct ecr_call *c)
{
    struct repo r;
    bool have = false;
    int rc;

    memset(&r, 0, sizeof(r));
    /* the load, the emptiness check and the delete are in the dispatcher's
     * one transaction, so that an image pushed in between is not lost
     * without force */
    if ((rc = ecr_load_repo(c, &r)) < 0)
        goto done;
    have = true;
    if (!json_is_true(json_object_get(c->in, "force"))) {
        int64_t n;
        if ((rc = store_repo_image_count(r.id, &n)) < 0) {
            rc = ecr_fail_internal(c, rc);
            goto done;
        }
        if (n > 0) {
            rc = ecr_fail(c, ECR_REPOSITORY_NOT_EMPTY,
                          "The repository with name '%s' in registry with id '%s' cannot be deleted because it still "
                          "contains images",
                          r.name, r.account_id);
            goto done;
        }
    }
    if ((rc = store_repo_delete(r.id)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set_new(c->out, "repository", repo_json(c, &r));

done:
    if (have)
        repo_release(&r);
    return rc;
}

/* ---- PutImageTagMutability, PutImageScanningConfiguration ---- */

int op_put_image_tag_mutability(struct ecr_call *c)
{
    struct repo r;
    char *mut = NULL, *filters = NULL;
    bool have = false;
    int rc;

    memset(&r, 0, sizeof(r));
    if ((rc = read_mutability(c, &mut, &filters)) < 0)
        goto done;
    if ((rc = ecr_load_repo(c, &r)) < 0)
        goto done;
    have = true;
    free(r.tag_mutability);
    free(r.mutability_filters);
    r.tag_mutability = mut;
    r.mutability_filters = filters;
    mut = filters = NULL;
    if ((rc = store_repo_update(&r)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set_new(c->out, "registryId", json_string(r.account_id));
    json_object_set_new(c->out, "repositoryName", json_string(r.name));
    json_object_set_new(c->out, "imageTagMutability", json_string(r.tag_mutability));
    if (r.mutability_filters)
        json_object_set_new(c->out, "imageTagMutabilityExclusionFilters", json_loads(r.mutability_filters, 0, NULL));

done:
    if (have)
        repo_release(&r);
    free(mut);
    free(filters);
    return rc;
}

int op_put_image_scanning_configuration(struct ecr_call *c)
{
    struct repo r;
    json_t *scan = json_object_get(c->in, "imageScanningConfiguration");
    int rc;

    if ((rc = ecr_load_repo(c, &r)) < 0)
        return rc;
    r.scan_on_push = json_is_true(json_object_get(scan, "scanOnPush"));
    if ((rc = store_repo_update(&r)) < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set_new(c->out, "registryId", json_string(r.account_id));
    json_object_set_new(c->out, "repositoryName", json_string(r.name));
    json_object_set_new(c->out, "imageScanningConfiguration", json_pack("{s:b}", "scanOnPush", r.scan_on_push));

done:
    repo_release(&r);
    return rc;
}

/* ---- resource tags ---- */

/* Loads the repository that resourceArn names: arn:aws:ecr:<region>:<account>:repository/<name>
 * in this server's region (InvalidParameterException otherwise). The
 * dispatcher has authorized the operation on that ARN. */
static int load_arn_repo(struct ecr_call *c, struct repo *out)
{
    const char *z = ecr_str(c, "resourceArn");
    char account[ARN_ACCOUNT_LEN + 1];
    struct arn arn;
    struct slice name;
    int rc;

    if (!z || arn_parse(&arn, slice_from(z)) < 0 || !slice_eq(arn.partition, "aws") ||
        !slice_eq(arn.region, auth_region()) || !arn_ecr_repository(&arn, &name) || !repo_name_valid(name))
        goto invalid;
    /* the name is the end of the ARN: a NUL-terminated string */
    memcpy(account, arn.account.base, ARN_ACCOUNT_LEN);
    account[ARN_ACCOUNT_LEN] = '\0';
    rc = store_repo_get(account, name.base, out);
    if (rc == E_NOTFOUND)
        return repo_not_found(c, account, name.base);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    return 0;

invalid:
    return ecr_fail(c, ECR_INVALID_PARAMETER,
                    "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'");
}

int op_tag_resource(struct ecr_call *c)
{
    struct repo r;
    json_t *tags = json_object_get(c->in, "tags");
    int rc;

    if ((rc = load_arn_repo(c, &r)) < 0)
        return rc;
    if ((rc = check_tags(c, tags)) == 0)
        rc = put_tags(c, r.id, tags);
    repo_release(&r);
    return rc;
}

int op_untag_resource(struct ecr_call *c)
{
    struct repo r;
    json_t *keys = json_object_get(c->in, "tagKeys");
    int rc;

    if ((rc = load_arn_repo(c, &r)) < 0)
        return rc;
    for (size_t i = 0; json_is_array(keys) && i < json_array_size(keys); i++)
        if ((rc = check_tag_key(c, json_string_value(json_array_get(keys, i)))) < 0)
            goto done;
    /* keys the repository does not have are not an error */
    for (size_t i = 0; json_is_array(keys) && i < json_array_size(keys); i++)
        if ((rc = store_repo_tag_delete(r.id, json_string_value(json_array_get(keys, i)))) < 0) {
            rc = ecr_fail_internal(c, rc);
            goto done;
        }

done:
    repo_release(&r);
    return rc;
}

static int tag_add(void *ctx, const char *k, const char *v)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s}", "Key", k, "Value", v));
    return 0;
}

int op_list_tags_for_resource(struct ecr_call *c)
{
    struct repo r;
    json_t *list = json_array();
    int rc;

    if ((rc = load_arn_repo(c, &r)) < 0)
        goto done;
    rc = store_repo_tags_get(r.id, tag_add, list);
    repo_release(&r);
    if (rc < 0) {
        rc = ecr_fail_internal(c, rc);
        goto done;
    }
    json_object_set(c->out, "tags", list);

done:
    json_decref(list);
    return rc;
}

/* ---- DescribeRegistry ---- */

int op_describe_registry(struct ecr_call *c)
{
    /* replication is not configurable yet: no rules */
    json_object_set_new(c->out, "registryId", json_string(c->registry_id));
    json_object_set_new(c->out, "replicationConfiguration", json_pack("{s:[]}", "rules"));
    return 0;
}

/* ---- account settings ---- */

/* The settings of PutAccountSetting's documentation, their values, and the
 * value an account has before it sets one (what a new AWS account has, but
 * for BLOB_MOUNTING: see image.h). */
static const struct account_setting {
    const char *name;
    const char *values[3];
    const char *dflt;
} account_settings[] = {
    {"BASIC_SCAN_TYPE_VERSION", {"AWS_NATIVE", "CLAIR", NULL}, "AWS_NATIVE"},
    {"REGISTRY_POLICY_SCOPE", {"V1", "V2", NULL}, "V2"},
    /* berth's own default (docs/compatibility.md), which mounts obey */
    {"BLOB_MOUNTING", {"ENABLED", "DISABLED", NULL}, IMAGE_BLOB_MOUNTING_DEFAULT},
};

#define NSETTINGS (sizeof(account_settings) / sizeof(account_settings[0]))

static const struct account_setting *setting_find(struct ecr_call *c, const char *name)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(account_settings[i].name, name) == 0)
            return &account_settings[i];
    ecr_fail(c, ECR_VALIDATION,
             "Account setting name '%.64s' is not valid. Valid names are BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE "
             "and BLOB_MOUNTING",
             name);
    return NULL;
}

static void setting_key(char *out, size_t size, const struct account_setting *s)
{
    snprintf(out, size, "account_setting/%s", s->name);
}

int op_get_account_setting(struct ecr_call *c)
{
    const struct account_setting *s = setting_find(c, ecr_str(c, "name"));
    char key[96];
    char *value = NULL;
    if (!s)
        return -1;
    setting_key(key, sizeof(key), s);
    int rc = store_setting_get(c->registry_id, key, &value);
    if (rc < 0 && rc != E_NOTFOUND)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "name", json_string(s->name));
    json_object_set_new(c->out, "value", json_string(value ? value : s->dflt));
    free(value);
    return 0;
}

int op_put_account_setting(struct ecr_call *c)
{
    const struct account_setting *s = setting_find(c, ecr_str(c, "name"));
    const char *value = ecr_str(c, "value");
    char key[96];
    size_t i;
    if (!s)
        return -1;
    for (i = 0; s->values[i]; i++)
        if (strcmp(s->values[i], value) == 0)
            break;
    if (!s->values[i])
        return ecr_fail(c, ECR_VALIDATION, "Account setting value '%.64s' is not valid for %s. Valid values are %s and %s",
                        value, s->name, s->values[0], s->values[1]);
    setting_key(key, sizeof(key), s);
    int rc = store_setting_put(c->registry_id, key, value);
    if (rc < 0)
        return ecr_fail_internal(c, rc);
    json_object_set_new(c->out, "name", json_string(s->name));
    json_object_set_new(c->out, "value", json_string(value));
    return 0;
}
