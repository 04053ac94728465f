/*
 * This module implements the managed policy operations: customer managed
 * policies (CreatePolicy, GetPolicy, DeletePolicy, ListPolicies) and their
 * versions (at most five, the default one in force), and attaching managed
 * policies -- customer ones and the AWS-managed ECR policies of
 * iam/managed.h -- to users and groups. Documents are validated by the
 * policy language's parser with IAM's managed policy size limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"
#include "iam/managed.h"
#include "iam/ops.h"
#include "policy/policy.h"
#include "iam/xml.h"
#include "policy/arn.h"

#define POLICY_VERSIONS_MAX 5
#define POLICIES_PER_ENTITY 10
#define AWS_POLICY_PREFIX "arn:aws:iam::aws:policy/"

/* A managed policy named by an ARN: built in, or the account's own. */
struct policy_ref {
    const struct managed_policy *aws;
    struct iam_policy local;
};

/* arn:aws:iam::<account or "aws">:policy/<path><name> */
static bool arn_valid(const char *z)
{
    struct arn a;
    if (arn_parse(&a, slice_from(z)) < 0)
        return false;
    return slice_eq(a.partition, "aws") && slice_eq(a.service, "iam") && a.region.len == 0 &&
           (slice_eq(a.account, "aws") || arn_account_id(a.account)) && slice_starts_with(a.resource, "policy/");
}

/* Loads PolicyArn; NoSuchEntity as IAM words it for the operation
 * ("... does not exist or is not attachable." when attaching). */
static int load_policy(struct iam_call *c, const char *arn, bool attaching, struct policy_ref *out)
{
    memset(out, 0, sizeof(*out));
    if (!arn_valid(arn))
        return iam_fail(c, IAM_INVALID_INPUT, "ARN %s is not valid.", arn);
    if (strncmp(arn, AWS_POLICY_PREFIX, strlen(AWS_POLICY_PREFIX)) == 0) {
        if (managed_policy_lookup(&out->aws, arn) == 0)
            return 0;
    } else {
        int rc = store_policy_get(c->account, arn, &out->local);
        if (rc == 0)
            return 0;
        if (rc != E_NOTFOUND)
            return iam_fail_internal(c, rc);
    }
    if (attaching)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s does not exist or is not attachable.", arn);
    return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
}

int iam_refuse_aws_policy(struct iam_call *c, const char *arn)
{
    const char *who = c->who.is_root ? c->who.arn : c->caller.arn;
    return iam_fail(c, IAM_ACCESS_DENIED, "User: %s is not authorized to perform: %s on resource: policy %s", who,
                    c->op->action, arn);
}

static int refuse_aws(struct iam_call *c, const struct policy_ref *p)
{
    return iam_refuse_aws_policy(c, p->aws->arn);
}

int iam_load_policy(struct iam_call *c, const char *arn, bool *aws)
{
    struct policy_ref p;
    int rc = load_policy(c, arn, false, &p);
    *aws = rc == 0 && p.aws;
    return rc;
}

/* Checks a document as IAM does for managed policies. */
static int check_document(struct iam_call *c, const char *doc)
{
    struct policy *p = NULL;
    int rc = policy_parse(&p, doc, strlen(doc), POLICY_IDENTITY, POLICY_LIMIT_MANAGED);
    policy_free(p);
    if (rc == E_TOOBIG)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "%s", error_message());
    if (rc < 0)
        return iam_fail(c, IAM_MALFORMED_POLICY_DOCUMENT, "%s", error_message());
    return 0;
}

/* "v3" -> 3; 0 for anything else. */
static int version_number(const char *id)
{
    uint64_t v;
    if (!id || id[0] != 'v' || parse_u64(slice_from(id + 1), 1000000, &v) < 0)
        return 0;
    return (int)v;
}

static void xml_policy(struct buf *b, const char *element, const struct policy_ref *p, int64_t attachments, bool details,
                       const char *tags_json)
{
    char ver[16];
    xml_open(b, element);
    if (p->aws) {
        xml_text(b, "PolicyName", p->aws->name);
        xml_text(b, "PolicyId", p->aws->policy_id);
        xml_text(b, "Arn", p->aws->arn);
        xml_text(b, "Path", p->aws->path);
        xml_text(b, "DefaultVersionId", p->aws->default_version);
    } else {
        snprintf(ver, sizeof(ver), "v%d", p->local.default_version);
        xml_text(b, "PolicyName", p->local.name);
        xml_text(b, "PolicyId", p->local.id);
        xml_text(b, "Arn", p->local.arn);
        xml_text(b, "Path", p->local.path);
        xml_text(b, "DefaultVersionId", ver);
    }
    xml_int(b, "AttachmentCount", attachments);
    xml_int(b, "PermissionsBoundaryUsageCount", 0);
    xml_bool(b, "IsAttachable", true);
    if (details) {
        const char *d = p->aws ? p->aws->description : p->local.description;
        if (d && *d)
            xml_text(b, "Description", d);
    }
    if (p->aws) {
        xml_text(b, "CreateDate", p->aws->create_date);
        xml_text(b, "UpdateDate", p->aws->update_date);
    } else {
        xml_time(b, "CreateDate", p->local.created_ms);
        xml_time(b, "UpdateDate", p->local.updated_ms);
    }
    iam_xml_tags(b, tags_json);
    xml_close(b, element);
}

static int attachments_of(struct iam_call *c, const struct policy_ref *p, int64_t *out)
{
    *out = p->local.attachment_count;
    return p->aws ? store_policy_attachment_count(c->account, p->aws->arn, out) : 0;
}

int op_create_policy(struct iam_call *c)
{
    const char *name = iam_str(c, "PolicyName"), *path = iam_str(c, "Path"), *doc = iam_str(c, "PolicyDocument");
    const char *desc = iam_str(c, "Description");
    struct policy_ref p;
    int rc;
    if ((rc = check_document(c, doc)) < 0 || (rc = iam_check_tags(c)) < 0)
        return rc;
    memset(&p, 0, sizeof(p));
    snprintf(p.local.account_id, sizeof(p.local.account_id), "%s", c->account);
    snprintf(p.local.name, sizeof(p.local.name), "%s", name);
    snprintf(p.local.path, sizeof(p.local.path), "%s", path ? path : "/");
    snprintf(p.local.description, sizeof(p.local.description), "%s", desc ? desc : "");
    iam_new_id(p.local.id, "ANPA");
    iam_arn(p.local.arn, sizeof(p.local.arn), c->account, "policy", p.local.path, name);
    p.local.default_version = 1;
    p.local.created_ms = p.local.updated_ms = now_ms();
    char *tags = iam_tags_json(c);
    rc = store_policy_create(&p.local, doc, tags);
    if (rc == E_EXISTS)
        rc = iam_fail(c, IAM_ENTITY_ALREADY_EXISTS, "A policy called %s already exists. Duplicate names are not allowed.", name);
    else if (rc < 0)
        rc = iam_fail_internal(c, rc);
    else
        xml_policy(&c->out, "Policy", &p, 0, true, tags);
    free(tags);
    return rc;
}

int op_get_policy(struct iam_call *c)
{
    struct policy_ref p;
    char *tags = NULL;
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    int64_t attached;
    if ((!p.aws && (rc = store_policy_tags(c->account, p.local.arn, &tags)) < 0) || (rc = attachments_of(c, &p, &attached)) < 0) {
        free(tags);
        return iam_fail_internal(c, rc);
    }
    xml_policy(&c->out, "Policy", &p, attached, true, tags);
    free(tags);
    return 0;
}

static int count_version(void *ctx, const struct iam_policy_version *v)
{
    (*(int *)ctx)++;
    return 0;
}

int op_delete_policy(struct iam_call *c)
{
    struct policy_ref p;
    int versions = 0;
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    if (p.aws)
        return refuse_aws(c, &p);
    if (p.local.attachment_count > 0)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete a policy attached to entities.");
    if ((rc = store_policy_versions(c->account, p.local.arn, count_version, &versions)) < 0)
        return iam_fail_internal(c, rc);
    if (versions > 1)
        return iam_fail(c, IAM_DELETE_CONFLICT,
                        "This policy has more than one version. Before you delete a policy, you must delete the policy's "
                        "versions. The default version is deleted with the policy.");
    if ((rc = store_policy_delete(c->account, p.local.arn)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

/*
 * ListPolicies: the account's policies and the AWS-managed ones in one
 * list ordered by name (the account's first on equal names). The page key
 * is the name and " 0" (local) or " 1" (AWS): names never hold a space, so
 * comparing keys without case orders them as the store orders names.
 */
struct policy_list {
    struct iam_call *c;
    struct iam_page pg;
    const struct managed_policy *aws[16];
    size_t naws, next_aws;
    int error; /* a store failure while listing */
};

static int by_name(const void *a, const void *b)
{
    return strcasecmp((*(const struct managed_policy *const *)a)->name, (*(const struct managed_policy *const *)b)->name);
}

/* Emits the AWS-managed policies ordered before key (all when NULL). */
static bool flush_aws(struct policy_list *l, const char *key)
{
    char k[200];
    while (l->next_aws < l->naws) {
        const struct managed_policy *m = l->aws[l->next_aws];
        snprintf(k, sizeof(k), "%s 1", m->name);
        if (key && strcasecmp(k, key) > 0)
            return true;
        l->next_aws++;
        if (iam_page_take(&l->pg, k)) {
            struct policy_ref p = {.aws = m};
            int64_t attached;
            if ((l->error = store_policy_attachment_count(l->c->account, m->arn, &attached)) < 0)
                return false;
            xml_policy(&l->c->out, "member", &p, attached, false, NULL);
        } else if (l->pg.truncated) {
            return false;
        }
    }
    return true;
}

static int list_local(void *ctx, const struct iam_policy *pol)
{
    struct policy_list *l = ctx;
    char k[200];
    snprintf(k, sizeof(k), "%s 0", pol->name);
    if (!flush_aws(l, k))
        return 1;
    if (!iam_page_take(&l->pg, k))
        return l->pg.truncated;
    struct policy_ref p;
    p.aws = NULL;
    p.local = *pol;
    xml_policy(&l->c->out, "member", &p, pol->attachment_count, false, NULL);
    return 0;
}

int op_list_policies(struct iam_call *c)
{
    struct policy_list *l = xcalloc(1, sizeof(*l));
    const char *scope = iam_str(c, "Scope"), *prefix = iam_str(c, "PathPrefix");
    bool only_attached = iam_bool(c, "OnlyAttached", false);
    int rc = iam_page_begin(c, &l->pg, strcasecmp);
    if (rc < 0) {
        free(l);
        return rc;
    }
    l->c = c;
    if (!scope || strcmp(scope, "Local") != 0) {
        for (const struct managed_policy *m = managed_policy_next(NULL); m && l->naws < 16; m = managed_policy_next(m)) {
            if (prefix && strncmp(m->path, prefix, strlen(prefix)) != 0)
                continue;
            int64_t attached = 0;
            if (only_attached && (rc = store_policy_attachment_count(c->account, m->arn, &attached)) < 0)
                break;
            if (only_attached && attached <= 0)
                continue;
            l->aws[l->naws++] = m;
        }
        qsort(l->aws, l->naws, sizeof(l->aws[0]), by_name);
    }
    xml_open(&c->out, "Policies");
    if (rc == 0 && (!scope || strcmp(scope, "AWS") != 0))
        rc = store_policies_list(c->account, prefix, only_attached, l->pg.after, iam_page_fetch(&l->pg), list_local, l);
    if (rc == 0 && !l->pg.truncated)
        flush_aws(l, NULL);
    if (rc == 0)
        rc = l->error;
    xml_close(&c->out, "Policies");
    iam_page_end(c, &l->pg);
    free(l);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

static void xml_version(struct buf *b, const char *element, const char *document, int version, bool is_default,
                        int64_t created_ms, const char *created_iso)
{
    char id[16];
    snprintf(id, sizeof(id), "v%d", version);
    xml_open(b, element);
    if (document)
        xml_urlencoded(b, "Document", document);
    xml_text(b, "VersionId", id);
    xml_bool(b, "IsDefaultVersion", is_default);
    if (created_iso)
        xml_text(b, "CreateDate", created_iso);
    else
        xml_time(b, "CreateDate", created_ms);
    xml_close(b, element);
}

int op_create_policy_version(struct iam_call *c)
{
    struct policy_ref p;
    const char *doc = iam_str(c, "PolicyDocument");
    bool set_default = iam_bool(c, "SetAsDefault", false);
    int version = 0;
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    if (p.aws)
        return refuse_aws(c, &p);
    if ((rc = check_document(c, doc)) < 0)
        return rc;
    rc = store_policy_version_add(c->account, p.local.arn, doc, set_default, POLICY_VERSIONS_MAX, &version);
    if (rc == E_TOOBIG)
        return iam_fail(c, IAM_LIMIT_EXCEEDED,
                        "A managed policy can have up to %d versions. Before you create a new version, you must delete an "
                        "existing version.",
                        POLICY_VERSIONS_MAX);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    xml_version(&c->out, "PolicyVersion", NULL, version, set_default, now_ms(), NULL);
    return 0;
}

int op_get_policy_version(struct iam_call *c)
{
    struct policy_ref p;
    struct iam_policy_version v;
    const char *id = iam_str(c, "VersionId");
    int n = version_number(id);
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    if (p.aws) {
        if (strcmp(id, p.aws->default_version) != 0)
            return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s version %s does not exist or is not attachable.", p.aws->arn, id);
        xml_version(&c->out, "PolicyVersion", p.aws->document, version_number(p.aws->default_version), true, 0,
                    p.aws->update_date);
        return 0;
    }
    rc = n ? store_policy_version_get(c->account, p.local.arn, n, &v) : E_NOTFOUND;
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s version %s does not exist or is not attachable.", p.local.arn, id);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    xml_version(&c->out, "PolicyVersion", v.document, v.version, v.is_default, v.created_ms, NULL);
    iam_policy_version_release(&v);
    return 0;
}

struct version_list {
    struct iam_call *c;
    struct iam_page pg;
};

/* Versions are listed newest first: "v10" comes before "v9". */
static int version_cmp(const char *a, const char *b)
{
    int x = version_number(a), y = version_number(b);
    return x > y ? -1 : x < y;
}

static int list_version(void *ctx, const struct iam_policy_version *v)
{
    struct version_list *l = ctx;
    char id[16];
    snprintf(id, sizeof(id), "v%d", v->version);
    if (!iam_page_take(&l->pg, id))
        return l->pg.truncated;
    xml_version(&l->c->out, "member", NULL, v->version, v->is_default, v->created_ms, NULL);
    return 0;
}

int op_list_policy_versions(struct iam_call *c)
{
    struct policy_ref p;
    struct version_list l = {.c = c};
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0 || (rc = iam_page_begin(c, &l.pg, version_cmp)) < 0)
        return rc;
    xml_open(&c->out, "Versions");
    if (p.aws) {
        if (iam_page_take(&l.pg, p.aws->default_version))
            xml_version(&c->out, "member", NULL, version_number(p.aws->default_version), true, 0, p.aws->update_date);
    } else {
        rc = store_policy_versions(c->account, p.local.arn, list_version, &l);
    }
    xml_close(&c->out, "Versions");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_delete_policy_version(struct iam_call *c)
{
    struct policy_ref p;
    const char *id = iam_str(c, "VersionId");
    int n = version_number(id);
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    if (p.aws)
        return refuse_aws(c, &p);
    if (n && n == p.local.default_version)
        return iam_fail(c, IAM_DELETE_CONFLICT, "Cannot delete the default version of a policy.");
    rc = n ? store_policy_version_delete(c->account, p.local.arn, n) : E_NOTFOUND;
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s version %s does not exist or is not deletable.", p.local.arn, id);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_set_default_policy_version(struct iam_call *c)
{
    struct policy_ref p;
    const char *id = iam_str(c, "VersionId");
    int n = version_number(id);
    int rc = load_policy(c, iam_str(c, "PolicyArn"), false, &p);
    if (rc < 0)
        return rc;
    if (p.aws)
        return refuse_aws(c, &p);
    rc = n ? store_policy_set_default(c->account, p.local.arn, n) : E_NOTFOUND;
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s version %s does not exist or is not attachable.", p.local.arn, id);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

/* ---- attachments ---- */

/* The user or group an attachment operation names, by its name as stored. */
static int load_entity(struct iam_call *c, enum iam_entity kind, char name[129])
{
    int rc;
    if (kind == IAM_ENTITY_USER) {
        struct iam_identity u;
        rc = iam_load_user(c, iam_str(c, "UserName"), &u);
        snprintf(name, 129, "%s", u.name);
    } else {
        struct iam_identity g;
        rc = iam_load_group(c, iam_str(c, "GroupName"), &g);
        snprintf(name, 129, "%s", g.name);
    }
    return rc;
}

struct find {
    const char *arn;
    bool found;
};

static int find_arn(void *ctx, const char *arn)
{
    struct find *f = ctx;
    if (strcmp(arn, f->arn) == 0)
        f->found = true;
    return f->found;
}

static int attach(struct iam_call *c, enum iam_entity kind)
{
    char name[129];
    struct policy_ref p;
    struct iam_usage use;
    int rc;
    if ((rc = load_entity(c, kind, name)) < 0)
        return rc;
    if ((rc = load_policy(c, iam_str(c, "PolicyArn"), true, &p)) < 0)
        return rc;
    const char *arn = p.aws ? p.aws->arn : p.local.arn;
    struct find f = {arn, false};
    if ((rc = store_iam_usage(c->account, kind, name, &use)) < 0 ||
        (rc = store_attached_policies(c->account, kind, name, NULL, POLICIES_PER_ENTITY + 1, find_arn, &f)) < 0)
        return iam_fail_internal(c, rc);
    if (!f.found && use.attached_policies >= POLICIES_PER_ENTITY)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Cannot exceed quota for %s: %d",
                        kind == IAM_ENTITY_USER ? "PoliciesPerUser" : "PoliciesPerGroup", POLICIES_PER_ENTITY);
    if ((rc = store_policy_attach(c->account, kind, name, arn)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

static int detach(struct iam_call *c, enum iam_entity kind)
{
    char name[129];
    const char *arn = iam_str(c, "PolicyArn");
    int rc;
    if ((rc = load_entity(c, kind, name)) < 0)
        return rc;
    if (!arn_valid(arn))
        return iam_fail(c, IAM_INVALID_INPUT, "ARN %s is not valid.", arn);
    rc = store_policy_detach(c->account, kind, name, arn);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_attach_user_policy(struct iam_call *c)
{
    return attach(c, IAM_ENTITY_USER);
}

int op_detach_user_policy(struct iam_call *c)
{
    return detach(c, IAM_ENTITY_USER);
}

int op_attach_group_policy(struct iam_call *c)
{
    return attach(c, IAM_ENTITY_GROUP);
}

int op_detach_group_policy(struct iam_call *c)
{
    return detach(c, IAM_ENTITY_GROUP);
}

/* The attached policies of an entity (at most a few dozen), sorted by the
 * same keys as ListPolicies. */
struct attached {
    char key[200];
    char *arn;
};

struct attached_list {
    struct attached *items;
    size_t n, cap;
};

static int collect_arn(void *ctx, const char *arn)
{
    struct attached_list *l = ctx;
    const char *slash = strrchr(arn, '/');
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    snprintf(l->items[l->n].key, sizeof(l->items[l->n].key), "%s %c", slash ? slash + 1 : arn,
             strncmp(arn, AWS_POLICY_PREFIX, strlen(AWS_POLICY_PREFIX)) == 0 ? '1' : '0');
    l->items[l->n].arn = xstrdup(arn);
    l->n++;
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcasecmp(((const struct attached *)a)->key, ((const struct attached *)b)->key);
}

static int list_attached(struct iam_call *c, enum iam_entity kind)
{
    char name[129];
    struct iam_page pg;
    struct attached_list l = {0};
    const char *prefix = iam_str(c, "PathPrefix");
    int rc;
    if ((rc = load_entity(c, kind, name)) < 0 || (rc = iam_page_begin(c, &pg, strcasecmp)) < 0)
        return rc;
    rc = store_attached_policies(c->account, kind, name, NULL, 100000, collect_arn, &l);
    if (l.n)
        qsort(l.items, l.n, sizeof(*l.items), by_key);
    xml_open(&c->out, "AttachedPolicies");
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        /* stored ARNs hold ":policy/"; the path lies between ":policy" and the name */
        const char *arn = l.items[i].arn, *path = strstr(arn, ":policy/") + 7, *slash = strrchr(arn, '/');
        size_t path_len = (size_t)(slash + 1 - path);
        if (prefix && (path_len < strlen(prefix) || strncmp(path, prefix, strlen(prefix)) != 0))
            continue;
        if (!iam_page_take(&pg, l.items[i].key)) {
            if (pg.truncated)
                break;
            continue;
        }
        xml_open(&c->out, "member");
        xml_text(&c->out, "PolicyName", slash + 1);
        xml_text(&c->out, "PolicyArn", arn);
        xml_close(&c->out, "member");
    }
    xml_close(&c->out, "AttachedPolicies");
    iam_page_end(c, &pg);
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i].arn);
    free(l.items);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_list_attached_user_policies(struct iam_call *c)
{
    return list_attached(c, IAM_ENTITY_USER);
}

int op_list_attached_group_policies(struct iam_call *c)
{
    return list_attached(c, IAM_ENTITY_GROUP);
}
