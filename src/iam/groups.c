/*
 * This module implements the group operations: CreateGroup, GetGroup (with
 * its users), ListGroups, DeleteGroup (refused while the group has members
 * or policies), AddUserToGroup, RemoveUserFromGroup and ListGroupsForUser.
 */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "iam/ops.h"
#include "iam/xml.h"

#define GROUPS_PER_USER 10

int op_create_group(struct iam_call *c)
{
    const char *name = iam_str(c, "GroupName"), *path = iam_str(c, "Path");
    struct iam_identity g;
    memset(&g, 0, sizeof(g));
    g.kind = IAM_ENTITY_GROUP;
    snprintf(g.account_id, sizeof(g.account_id), "%s", c->account);
    snprintf(g.name, sizeof(g.name), "%s", name);
    snprintf(g.path, sizeof(g.path), "%s", path ? path : "/");
    iam_new_id(g.id, "AGPA");
    iam_arn(g.arn, sizeof(g.arn), c->account, "group", g.path, g.name);
    g.created_ms = now_ms();
    int rc = store_identity_create(&g, NULL);
    if (rc == E_EXISTS)
        return iam_fail(c, IAM_ENTITY_ALREADY_EXISTS, "Group with name %s already exists.", name);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    iam_xml_group(&c->out, "Group", &g);
    return 0;
}

struct list {
    struct iam_call *c;
    struct iam_page pg;
};

static int list_member(void *ctx, const struct iam_identity *u)
{
    struct list *l = ctx;
    if (!iam_page_take(&l->pg, u->name))
        return l->pg.truncated;
    iam_xml_user(&l->c->out, "member", u, NULL);
    return 0;
}

int op_get_group(struct iam_call *c)
{
    struct iam_identity g;
    struct list l = {.c = c};
    int rc = iam_load_group(c, iam_str(c, "GroupName"), &g);
    if (rc < 0 || (rc = iam_page_begin(c, &l.pg, NULL)) < 0)
        return rc;
    iam_xml_group(&c->out, "Group", &g);
    xml_open(&c->out, "Users");
    rc = store_memberships(c->account, IAM_ENTITY_GROUP, g.name, l.pg.after, iam_page_fetch(&l.pg), list_member, &l);
    xml_close(&c->out, "Users");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

static int list_group(void *ctx, const struct iam_identity *g)
{
    struct list *l = ctx;
    if (!iam_page_take(&l->pg, g->name))
        return l->pg.truncated;
    iam_xml_group(&l->c->out, "member", g);
    return 0;
}

int op_list_groups(struct iam_call *c)
{
    struct list l = {.c = c};
    int rc = iam_page_begin(c, &l.pg, NULL);
    if (rc < 0)
        return rc;
    xml_open(&c->out, "Groups");
    rc = store_identities_list(c->account, IAM_ENTITY_GROUP, iam_str(c, "PathPrefix"), l.pg.after, iam_page_fetch(&l.pg),
                               list_group, &l);
    xml_close(&c->out, "Groups");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_delete_group(struct iam_call *c)
{
    struct iam_identity g;
    struct iam_usage use;
    int rc = iam_load_group(c, iam_str(c, "GroupName"), &g);
    if (rc < 0)
        return rc;
    if ((rc = store_iam_usage(c->account, IAM_ENTITY_GROUP, g.name, &use)) < 0)
        return iam_fail_internal(c, rc);
    if (use.members)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must remove users from group first.");
    if (use.inline_policies)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must delete policies first.");
    if (use.attached_policies)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete entity, must detach all policies first.");
    if ((rc = store_identity_delete(c->account, IAM_ENTITY_GROUP, g.name)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

int op_add_user_to_group(struct iam_call *c)
{
    struct iam_identity g;
    struct iam_identity u;
    struct iam_usage use;
    int rc;
    if ((rc = iam_load_group(c, iam_str(c, "GroupName"), &g)) < 0 || (rc = iam_load_user(c, iam_str(c, "UserName"), &u)) < 0)
        return rc;
    if ((rc = store_iam_usage(c->account, IAM_ENTITY_USER, u.name, &use)) < 0)
        return iam_fail_internal(c, rc);
    if (use.groups >= GROUPS_PER_USER)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Cannot exceed quota for GroupsPerUser: %d", GROUPS_PER_USER);
    if ((rc = store_group_add_user(c->account, g.name, u.name)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

int op_remove_user_from_group(struct iam_call *c)
{
    struct iam_identity g;
    struct iam_identity u;
    int rc;
    if ((rc = iam_load_group(c, iam_str(c, "GroupName"), &g)) < 0 || (rc = iam_load_user(c, iam_str(c, "UserName"), &u)) < 0)
        return rc;
    rc = store_group_remove_user(c->account, g.name, u.name);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The user with name %s cannot be found in group %s.", u.name, g.name);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_list_groups_for_user(struct iam_call *c)
{
    struct iam_identity u;
    struct list l = {.c = c};
    int rc = iam_load_user(c, iam_str(c, "UserName"), &u);
    if (rc < 0 || (rc = iam_page_begin(c, &l.pg, NULL)) < 0)
        return rc;
    xml_open(&c->out, "Groups");
    rc = store_memberships(c->account, IAM_ENTITY_USER, u.name, l.pg.after, iam_page_fetch(&l.pg), list_group, &l);
    xml_close(&c->out, "Groups");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}
