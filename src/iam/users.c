/*
 * This module implements the user operations: CreateUser, GetUser (the
 * caller when no UserName is given, the account root included), ListUsers
 * and DeleteUser, which IAM refuses while the user still has access keys,
 * policies or group memberships.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "iam/ops.h"
#include "iam/xml.h"
#include "store/console.h"

int op_create_user(struct iam_call *c)
{
    const char *name = iam_str(c, "UserName"), *path = iam_str(c, "Path");
    struct iam_identity u;
    int rc;
    if (iam_str(c, "PermissionsBoundary"))
        return iam_fail(c, IAM_INVALID_INPUT, "permissions boundaries are not supported by this berth");
    if ((rc = iam_check_tags(c)) < 0)
        return rc;
    memset(&u, 0, sizeof(u));
    u.kind = IAM_ENTITY_USER;
    snprintf(u.account_id, sizeof(u.account_id), "%s", c->account);
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.path, sizeof(u.path), "%s", path ? path : "/");
    iam_new_id(u.id, "AIDA");
    iam_arn(u.arn, sizeof(u.arn), c->account, "user", u.path, u.name);
    u.created_ms = now_ms();
    char *tags = iam_tags_json(c);
    rc = store_identity_create(&u, tags);
    if (rc == E_EXISTS)
        rc = iam_fail(c, IAM_ENTITY_ALREADY_EXISTS, "User with name %s already exists.", name);
    else if (rc < 0)
        rc = iam_fail_internal(c, rc);
    else
        iam_xml_user(&c->out, "User", &u, tags);
    free(tags);
    return rc;
}

int op_get_user(struct iam_call *c)
{
    struct iam_identity u;
    bool root;
    char *tags = NULL;
    int rc = iam_target_user(c, &u, &root);
    if (rc < 0)
        return rc;
    if (root) {
        /* the root user has no name or path, and its id is the account's */
        int64_t created = 0;
        if ((rc = store_account_created(c->account, &created)) < 0)
            return iam_fail_internal(c, rc);
        xml_open(&c->out, "User");
        xml_text(&c->out, "UserId", c->account);
        xml_text(&c->out, "Arn", c->who.arn);
        xml_time(&c->out, "CreateDate", created);
        xml_close(&c->out, "User");
        return 0;
    }
    if ((rc = store_identity_tags(c->account, IAM_ENTITY_USER, u.name, &tags)) < 0 && rc != E_NOTFOUND)
        return iam_fail_internal(c, rc);
    iam_xml_user(&c->out, "User", &u, tags);
    free(tags);
    return 0;
}

struct user_list {
    struct iam_call *c;
    struct iam_page pg;
};

static int list_user(void *ctx, const struct iam_identity *u)
{
    struct user_list *l = ctx;
    if (!iam_page_take(&l->pg, u->name))
        return l->pg.truncated;
    iam_xml_user(&l->c->out, "member", u, NULL);
    return 0;
}

int op_list_users(struct iam_call *c)
{
    struct user_list l = {.c = c};
    int rc = iam_page_begin(c, &l.pg, NULL);
    if (rc < 0)
        return rc;
    xml_open(&c->out, "Users");
    rc = store_identities_list(c->account, IAM_ENTITY_USER, iam_str(c, "PathPrefix"), l.pg.after, iam_page_fetch(&l.pg), list_user,
                               &l);
    xml_close(&c->out, "Users");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_delete_user(struct iam_call *c)
{
    struct iam_identity u;
    struct iam_usage use;
    int rc = iam_load_user(c, iam_str(c, "UserName"), &u);
    if (rc < 0)
        return rc;
    if ((rc = store_iam_usage(c->account, IAM_ENTITY_USER, u.name, &use)) < 0)
        return iam_fail_internal(c, rc);
    struct login_profile lp;
    if ((rc = store_login_profile_get(c->account, u.name, &lp)) == 0)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must delete login profile first.");
    if (rc != E_NOTFOUND)
        return iam_fail_internal(c, rc);
    if (use.access_keys)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must delete access keys first.");
    if (use.inline_policies)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must delete policies first.");
    if (use.attached_policies)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must detach all policies first.");
    if (use.groups)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must remove users from group first.");
    if ((rc = store_identity_delete(c->account, IAM_ENTITY_USER, u.name)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}
