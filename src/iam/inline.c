/*
 * This module implements the inline policy operations of users and groups:
 * Put/Get/Delete/List User- and GroupPolicy. Documents are validated by the
 * policy language's parser; IAM limits the inline policies of one user to
 * 2,048 characters in total and of one group to 5,120 (whitespace not
 * counted), and returns documents URL-encoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "iam/ops.h"
#include "policy/policy.h"
#include "iam/xml.h"

/* What differs between users and groups. */
struct holder {
    enum iam_entity kind;
    const char *label;      /* "user" */
    const char *name_param; /* "UserName" */
    struct policy_limit limit;
    char name[129]; /* as stored */
};

static int load_holder(struct iam_call *c, enum iam_entity kind, struct holder *h)
{
    int rc;
    memset(h, 0, sizeof(*h));
    h->kind = kind;
    if (kind == IAM_ENTITY_USER) {
        struct iam_identity u;
        h->label = "user";
        h->name_param = "UserName";
        h->limit = POLICY_LIMIT_USER_INLINE;
        rc = iam_load_user(c, iam_str(c, h->name_param), &u);
        snprintf(h->name, sizeof(h->name), "%s", u.name);
    } else {
        struct iam_identity g;
        h->label = "group";
        h->name_param = "GroupName";
        h->limit = POLICY_LIMIT_GROUP_INLINE;
        rc = iam_load_group(c, iam_str(c, h->name_param), &g);
        snprintf(h->name, sizeof(h->name), "%s", g.name);
    }
    return rc;
}

struct size_sum {
    const char *except; /* the policy being replaced */
    size_t total;
};

static int add_size(void *ctx, const char *name, const char *document)
{
    struct size_sum *s = ctx;
    if (strcasecmp(name, s->except) != 0)
        s->total += policy_size(document, strlen(document), false);
    return 0;
}

static int put_policy(struct iam_call *c, enum iam_entity kind)
{
    struct holder h;
    struct policy *p = NULL;
    const char *name = iam_str(c, "PolicyName"), *doc = iam_str(c, "PolicyDocument");
    int rc = load_holder(c, kind, &h);
    if (rc < 0)
        return rc;
    rc = policy_parse(&p, doc, strlen(doc), POLICY_IDENTITY, h.limit);
    policy_free(p);
    if (rc == E_INVALID)
        return iam_fail(c, IAM_MALFORMED_POLICY_DOCUMENT, "%s", error_message());
    struct size_sum sum = {name, rc == E_TOOBIG ? h.limit.max + 1 : policy_size(doc, strlen(doc), false)};
    if (rc < 0 && rc != E_TOOBIG)
        return iam_fail_internal(c, rc);
    if ((rc = store_inline_policies(c->account, kind, h.name, NULL, 100000, add_size, &sum)) < 0)
        return iam_fail_internal(c, rc);
    if (sum.total > h.limit.max)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Maximum policy size of %zu bytes exceeded for %s %s", h.limit.max, h.label, h.name);
    if ((rc = store_inline_policy_put(c->account, kind, h.name, name, doc)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

static int get_policy(struct iam_call *c, enum iam_entity kind)
{
    struct holder h;
    char stored[129];
    char *doc = NULL;
    const char *name = iam_str(c, "PolicyName");
    int rc = load_holder(c, kind, &h);
    if (rc < 0)
        return rc;
    rc = store_inline_policy_get(c->account, kind, h.name, name, stored, &doc);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The %s policy with name %s cannot be found.", h.label, name);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    xml_text(&c->out, h.name_param, h.name);
    xml_text(&c->out, "PolicyName", stored);
    xml_urlencoded(&c->out, "PolicyDocument", doc);
    free(doc);
    return 0;
}

static int delete_policy(struct iam_call *c, enum iam_entity kind)
{
    struct holder h;
    const char *name = iam_str(c, "PolicyName");
    int rc = load_holder(c, kind, &h);
    if (rc < 0)
        return rc;
    rc = store_inline_policy_delete(c->account, kind, h.name, name);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The %s policy with name %s cannot be found.", h.label, name);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

struct name_list {
    struct iam_call *c;
    struct iam_page pg;
};

static int list_name(void *ctx, const char *name, const char *document)
{
    struct name_list *l = ctx;
    if (!iam_page_take(&l->pg, name))
        return l->pg.truncated;
    xml_text(&l->c->out, "member", name);
    return 0;
}

static int list_policies(struct iam_call *c, enum iam_entity kind)
{
    struct holder h;
    struct name_list l = {.c = c};
    int rc = load_holder(c, kind, &h);
    if (rc < 0 || (rc = iam_page_begin(c, &l.pg, NULL)) < 0)
        return rc;
    xml_open(&c->out, "PolicyNames");
    rc = store_inline_policies(c->account, kind, h.name, l.pg.after, iam_page_fetch(&l.pg), list_name, &l);
    xml_close(&c->out, "PolicyNames");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_put_user_policy(struct iam_call *c)
{
    return put_policy(c, IAM_ENTITY_USER);
}

int op_get_user_policy(struct iam_call *c)
{
    return get_policy(c, IAM_ENTITY_USER);
}

int op_delete_user_policy(struct iam_call *c)
{
    return delete_policy(c, IAM_ENTITY_USER);
}

int op_list_user_policies(struct iam_call *c)
{
    return list_policies(c, IAM_ENTITY_USER);
}

int op_put_group_policy(struct iam_call *c)
{
    return put_policy(c, IAM_ENTITY_GROUP);
}

int op_get_group_policy(struct iam_call *c)
{
    return get_policy(c, IAM_ENTITY_GROUP);
}

int op_delete_group_policy(struct iam_call *c)
{
    return delete_policy(c, IAM_ENTITY_GROUP);
}

int op_list_group_policies(struct iam_call *c)
{
    return list_policies(c, IAM_ENTITY_GROUP);
}
