/*
 * This module implements the tagging operations of IAM users and customer
 * managed policies: TagUser, UntagUser, ListUserTags, TagPolicy,
 * UntagPolicy and ListPolicyTags. Tag keys are unique per resource without
 * regard to case, as IAM has them: tagging with "department" replaces a
 * "Department" tag, and untagging "DEPARTMENT" removes it. A resource holds
 * at most IAM_TAGS_MAX tags; lists are sorted by key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "iam/ops.h"
#include "iam/xml.h"
#include "store/iam_tags.h"

#define IAM_TAGS_MAX 50

static const char *tag_key(json_t *t)
{
    return json_string_value(json_object_get(t, "Key"));
}

int iam_check_tags(struct iam_call *c)
{
    json_t *tags = json_object_get(c->in, "Tags");
    for (size_t i = 0; i < json_array_size(tags); i++)
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(tag_key(json_array_get(tags, i)), tag_key(json_array_get(tags, j))) == 0)
                return iam_fail(c, IAM_INVALID_INPUT, "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
    return 0;
}

/* The stored tags as an array (empty for none or unreadable text). */
static json_t *tags_load(const char *tags_json)
{
    json_t *a = tags_json ? json_loads(tags_json, 0, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(tag_key(*(json_t *const *)a), tag_key(*(json_t *const *)b));
}

/* The tags sorted by key, as text to store (NULL for none); takes a. */
static char *tags_dump(json_t *a)
{
    size_t n = json_array_size(a);
    char *z = NULL;
    if (n > 0) {
        json_t **v = xcalloc(n, sizeof(*v));
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++)
            v[i] = json_array_get(a, i);
        qsort(v, n, sizeof(*v), by_key);
        for (size_t i = 0; i < n; i++)
            json_array_append(sorted, v[i]);
        z = json_dumps(sorted, JSON_COMPACT);
        json_decref(sorted);
        free(v);
    }
    json_decref(a);
    return z;
}

/* The index of key in a, compared without case, or -1. */
static long tags_find(json_t *a, const char *key)
{
    for (size_t i = 0; i < json_array_size(a); i++)
        if (strcasecmp(tag_key(json_array_get(a, i)), key) == 0)
            return (long)i;
    return -1;
}

/* The stored tags with the input's Tags added or replacing those of the
 * same key; LimitExceeded past IAM_TAGS_MAX (quota names IAM's quota). */
static int tags_add(struct iam_call *c, const char *stored, const char *quota, char **out)
{
    json_t *in = json_object_get(c->in, "Tags"), *t;
    size_t i;
    int rc;
    *out = NULL;
    if ((rc = iam_check_tags(c)) < 0)
        return rc;
    json_t *a = tags_load(stored);
    json_array_foreach(in, i, t)
    {
        long at = tags_find(a, tag_key(t));
        json_t *copy = json_pack("{s:s,s:s}", "Key", tag_key(t), "Value", json_string_value(json_object_get(t, "Value")));
        if (at >= 0)
            json_array_set_new(a, (size_t)at, copy);
        else
            json_array_append_new(a, copy);
    }
    if (json_array_size(a) > IAM_TAGS_MAX) {
        json_decref(a);
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Cannot exceed quota for %s: %d.", quota, IAM_TAGS_MAX);
    }
    *out = tags_dump(a);
    return 0;
}

/* The stored tags without the input's TagKeys (absent keys are no error). */
static char *tags_remove(struct iam_call *c, const char *stored)
{
    json_t *keys = json_object_get(c->in, "TagKeys"), *k;
    size_t i;
    json_t *a = tags_load(stored);
    json_array_foreach(keys, i, k)
    {
        long at = tags_find(a, json_string_value(k));
        if (at >= 0)
            json_array_remove(a, (size_t)at);
    }
    return tags_dump(a);
}

/* <Tags> (sorted by key, a page of MaxItems after Marker), IsTruncated, Marker. */
static int tags_list(struct iam_call *c, const char *stored)
{
    struct iam_page pg;
    int rc = iam_page_begin(c, &pg, strcmp);
    if (rc < 0)
        return rc;
    char *sorted = tags_dump(tags_load(stored));
    json_t *a = tags_load(sorted), *t;
    size_t i;
    xml_open(&c->out, "Tags");
    json_array_foreach(a, i, t)
    {
        if (!iam_page_take(&pg, tag_key(t))) {
            if (pg.truncated)
                break;
            continue;
        }
        xml_open(&c->out, "member");
        xml_text(&c->out, "Key", tag_key(t));
        xml_text(&c->out, "Value", json_string_value(json_object_get(t, "Value")));
        xml_close(&c->out, "member");
    }
    xml_close(&c->out, "Tags");
    iam_page_end(c, &pg);
    json_decref(a);
    free(sorted);
    return 0;
}

/* ---- users ---- */

/* Loads UserName and its stored tags (*tags NULL for none). */
static int user_tags(struct iam_call *c, struct iam_identity *u, char **tags)
{
    int rc = iam_load_user(c, iam_str(c, "UserName"), u);
    if (rc < 0)
        return rc;
    if ((rc = store_identity_tags(c->account, IAM_ENTITY_USER, u->name, tags)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

static int user_tags_save(struct iam_call *c, const struct iam_identity *u, char *tags)
{
    int rc = store_user_tags_set(c->account, u->name, tags);
    free(tags);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_tag_user(struct iam_call *c)
{
    struct iam_identity u;
    char *tags = NULL, *next = NULL;
    int rc = user_tags(c, &u, &tags);
    if (rc == 0)
        rc = tags_add(c, tags, "TagsPerUser", &next);
    free(tags);
    return rc < 0 ? rc : user_tags_save(c, &u, next);
}

int op_untag_user(struct iam_call *c)
{
    struct iam_identity u;
    char *tags = NULL;
    int rc = user_tags(c, &u, &tags);
    if (rc < 0)
        return rc;
    char *next = tags_remove(c, tags);
    free(tags);
    return user_tags_save(c, &u, next);
}

int op_list_user_tags(struct iam_call *c)
{
    struct iam_identity u;
    char *tags = NULL;
    int rc = user_tags(c, &u, &tags);
    if (rc == 0)
        rc = tags_list(c, tags);
    free(tags);
    return rc;
}

/* ---- customer managed policies ---- */

/* Loads PolicyArn and its stored tags; *aws is set for an AWS-managed
 * policy, which has none and takes none. */
static int policy_tags(struct iam_call *c, const char **arn, bool *aws, char **tags)
{
    int rc = iam_load_policy(c, iam_str(c, "PolicyArn"), aws);
    *arn = iam_str(c, "PolicyArn");
    *tags = NULL;
    if (rc < 0 || *aws)
        return rc;
    if ((rc = store_policy_tags(c->account, *arn, tags)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

static int policy_tags_save(struct iam_call *c, const char *arn, char *tags)
{
    int rc = store_policy_tags_set(c->account, arn, tags);
    free(tags);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_tag_policy(struct iam_call *c)
{
    const char *arn;
    bool aws;
    char *tags = NULL, *next = NULL;
    int rc = policy_tags(c, &arn, &aws, &tags);
    if (rc == 0 && aws)
        rc = iam_refuse_aws_policy(c, arn);
    if (rc == 0)
        rc = tags_add(c, tags, "TagsPerPolicy", &next);
    free(tags);
    return rc < 0 ? rc : policy_tags_save(c, arn, next);
}

int op_untag_policy(struct iam_call *c)
{
    const char *arn;
    bool aws;
    char *tags = NULL;
    int rc = policy_tags(c, &arn, &aws, &tags);
    if (rc == 0 && aws)
        rc = iam_refuse_aws_policy(c, arn);
    if (rc < 0) {
        free(tags);
        return rc;
    }
    char *next = tags_remove(c, tags);
    free(tags);
    return policy_tags_save(c, arn, next);
}

int op_list_policy_tags(struct iam_call *c)
{
    const char *arn;
    bool aws;
    char *tags = NULL;
    int rc = policy_tags(c, &arn, &aws, &tags);
    if (rc == 0)
        rc = tags_list(c, tags);
    free(tags);
    return rc;
}
