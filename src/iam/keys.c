/*
 * This module implements the access key operations: CreateAccessKey (the
 * secret is in this one reply and nowhere else; IAM allows two keys per
 * user), ListAccessKeys, UpdateAccessKey (Active/Inactive, effective at
 * once: every signed request reads the key's status) and DeleteAccessKey.
 * Without UserName they act on the caller's own keys, the root's included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "iam/ops.h"
#include "iam/xml.h"

#define ACCESS_KEYS_PER_USER 2

/* The key named by AccessKeyId if it belongs to the target user (the root
 * when user is NULL); NoSuchEntity otherwise, as IAM words it. */
static int load_key(struct iam_call *c, const char *user, struct access_key *out)
{
    const char *id = iam_str(c, "AccessKeyId");
    int rc = store_access_key_get(id, out);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The Access Key with id %s cannot be found.", id);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    bool mine = strcmp(out->account_id, c->account) == 0 &&
                (user ? out->user_name && strcmp(out->user_name, user) == 0 : out->user_name == NULL);
    if (!mine) {
        access_key_release(out);
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The Access Key with id %s cannot be found.", id);
    }
    return 0;
}

static void xml_key(struct buf *b, const char *element, const char *user, const char *id, const char *status,
                    const char *secret, int64_t created_ms)
{
    xml_open(b, element);
    xml_text(b, "UserName", user);
    xml_text(b, "AccessKeyId", id);
    xml_text(b, "Status", status);
    xml_text(b, "SecretAccessKey", secret);
    xml_time(b, "CreateDate", created_ms);
    xml_close(b, element);
}

int op_create_access_key(struct iam_call *c)
{
    struct iam_identity u;
    struct access_key k;
    bool root;
    char akid[21], secret[41];
    int rc = iam_target_user(c, &u, &root);
    if (rc < 0)
        return rc;
    const char *user = root ? NULL : u.name;
    int64_t n;
    if ((rc = store_access_key_count(c->account, user, &n)) < 0)
        return iam_fail_internal(c, rc);
    if (n >= ACCESS_KEYS_PER_USER)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Cannot exceed quota for AccessKeysPerUser: %d", ACCESS_KEYS_PER_USER);
    auth_new_access_key(akid, secret);
    if ((rc = auth_store_key(akid, c->account, user, secret)) < 0 || (rc = store_access_key_get(akid, &k)) < 0) {
        memset(secret, 0, sizeof(secret));
        return iam_fail_internal(c, rc);
    }
    xml_key(&c->out, "AccessKey", user, akid, k.status, secret, k.created_ms);
    access_key_release(&k);
    memset(secret, 0, sizeof(secret));
    return 0;
}

struct key_list {
    struct iam_call *c;
    struct iam_page pg;
};

static int list_key(void *ctx, const struct access_key *k)
{
    struct key_list *l = ctx;
    if (!iam_page_take(&l->pg, k->id))
        return l->pg.truncated;
    xml_key(&l->c->out, "member", k->user_name, k->id, k->status, NULL, k->created_ms);
    return 0;
}

int op_list_access_keys(struct iam_call *c)
{
    struct iam_identity u;
    struct key_list l = {.c = c};
    bool root;
    int rc = iam_target_user(c, &u, &root);
    if (rc < 0 || (rc = iam_page_begin(c, &l.pg, strcmp)) < 0)
        return rc;
    xml_open(&c->out, "AccessKeyMetadata");
    rc = store_access_keys_of(c->account, root ? NULL : u.name, list_key, &l);
    xml_close(&c->out, "AccessKeyMetadata");
    iam_page_end(c, &l.pg);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_update_access_key(struct iam_call *c)
{
    struct iam_identity u;
    struct access_key k;
    bool root;
    const char *status = iam_str(c, "Status");
    int rc = iam_target_user(c, &u, &root);
    if (rc < 0)
        return rc;
    if (strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0)
        return iam_fail(c, IAM_INVALID_INPUT, "Status must be Active or Inactive.");
    if ((rc = load_key(c, root ? NULL : u.name, &k)) < 0)
        return rc;
    rc = store_access_key_set_status(k.id, status);
    access_key_release(&k);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_delete_access_key(struct iam_call *c)
{
    struct iam_identity u;
    struct access_key k;
    bool root;
    int rc = iam_target_user(c, &u, &root);
    if (rc < 0 || (rc = load_key(c, root ? NULL : u.name, &k)) < 0)
        return rc;
    rc = store_access_key_delete(k.id);
    access_key_release(&k);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}
