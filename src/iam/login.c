/*
 * This module implements IAM login profiles, a user's console password:
 * CreateLoginProfile, GetLoginProfile, UpdateLoginProfile,
 * DeleteLoginProfile and ChangePassword (a user changing its own password,
 * giving the old one). Passwords must follow the account's password policy
 * (IAM's default without one; account.c) and are kept only as Argon2id
 * hashes (auth/signin.h); each new one also goes into the user's password
 * history, which PasswordReusePrevention and MaxPasswordAge read. The
 * account root has no login profile: it signs in to the console with its
 * access key pair.
 */
#include <stdio.h>
#include <string.h>

#include "auth/signin.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "iam/ops.h"
#include "iam/xml.h"
#include "store/console.h"

static void xml_profile(struct buf *b, const struct login_profile *p)
{
    xml_open(b, "LoginProfile");
    xml_text(b, "UserName", p->user_name);
    xml_time(b, "CreateDate", p->created_ms);
    xml_bool(b, "PasswordResetRequired", p->reset_required);
    xml_close(b, "LoginProfile");
}

/* The user a login profile operation is about: UserName, else the caller;
 * the root has none. */
static int profile_user(struct iam_call *c, struct iam_identity *out)
{
    bool root;
    int rc = iam_target_user(c, out, &root);
    if (rc == 0 && root)
        return iam_fail(c, IAM_INVALID_INPUT, "The account root has no login profile; it signs in with its access key pair.");
    return rc;
}

static int load_profile(struct iam_call *c, const struct iam_identity *u, struct login_profile *out)
{
    int rc = store_login_profile_get(c->account, u->name, out);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "Login Profile for User %s cannot be found.", u->name);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

/* user's new password, hashed into out; PasswordPolicyViolation as IAM says it. */
static int hash_new_password(struct iam_call *c, const char *user, const char *password, char out[PASSWORD_HASH_MAX])
{
    int rc = iam_password_check(c, user, password);
    if (rc < 0)
        return rc;
    rc = password_hash(out, password);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

/* Remembers a password that was just set (in the operation's transaction). */
static int remember(struct iam_call *c, const char *user, const char *hash)
{
    int rc = store_password_history_add(c->account, user, hash, now_ms());
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_create_login_profile(struct iam_call *c)
{
    struct iam_identity u;
    struct login_profile p;
    const char *password = iam_str(c, "Password");
    int rc = profile_user(c, &u);
    if (rc < 0)
        return rc;
    if (!password)
        return iam_fail(c, IAM_INVALID_INPUT, "Password is required to create a login profile.");
    memset(&p, 0, sizeof(p));
    snprintf(p.account_id, sizeof(p.account_id), "%s", c->account);
    snprintf(p.user_name, sizeof(p.user_name), "%s", u.name);
    p.reset_required = iam_bool(c, "PasswordResetRequired", false);
    p.created_ms = now_ms();
    if ((rc = hash_new_password(c, u.name, password, p.password_hash)) < 0)
        return rc;
    rc = store_login_profile_create(&p);
    if (rc == E_EXISTS)
        return iam_fail(c, IAM_ENTITY_ALREADY_EXISTS, "Login Profile for user %s already exists.", u.name);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    if ((rc = remember(c, u.name, p.password_hash)) < 0)
        return rc;
    xml_profile(&c->out, &p);
    return 0;
}

int op_get_login_profile(struct iam_call *c)
{
    struct iam_identity u;
    struct login_profile p;
    int rc = profile_user(c, &u);
    if (rc < 0 || (rc = load_profile(c, &u, &p)) < 0)
        return rc;
    xml_profile(&c->out, &p);
    return 0;
}

int op_update_login_profile(struct iam_call *c)
{
    struct iam_identity u;
    struct login_profile p;
    char hash[PASSWORD_HASH_MAX];
    const char *password = iam_str(c, "Password");
    int rc = profile_user(c, &u);
    if (rc < 0 || (rc = load_profile(c, &u, &p)) < 0)
        return rc;
    if (password && (rc = hash_new_password(c, u.name, password, hash)) < 0)
        return rc;
    bool reset = iam_bool(c, "PasswordResetRequired", p.reset_required);
    if ((rc = store_login_profile_update(c->account, u.name, password ? hash : NULL, reset)) < 0)
        return iam_fail_internal(c, rc);
    return password ? remember(c, u.name, hash) : 0;
}

int op_delete_login_profile(struct iam_call *c)
{
    struct iam_identity u;
    struct login_profile p;
    int rc = profile_user(c, &u);
    if (rc < 0 || (rc = load_profile(c, &u, &p)) < 0)
        return rc;
    if ((rc = store_login_profile_delete(c->account, u.name)) < 0)
        return iam_fail_internal(c, rc);
    return 0;
}

/* A wrong old password counts as a failed sign-in of the user (after the
 * operation's transaction is rolled back, so that the count stays). */
static void count_wrong_password(struct iam_call *c)
{
    char key[SIGNIN_KEY_MAX];
    signin_user_key(key, sizeof(key), c->account, c->caller.name);
    if (signin_limit_failed(key, c->r->client_ip, now_ms()) < 0)
        log_error("ChangePassword: counting a wrong password: %s", error_message());
}

/* Guessing the old password is limited as guessing at sign-in is, per user
 * and per address and in the same counts: whoever holds a session or a key
 * of the user gets no more tries than the sign-in page gives. */
int op_change_password(struct iam_call *c)
{
    struct login_profile p;
    char hash[PASSWORD_HASH_MAX], key[SIGNIN_KEY_MAX];
    int64_t retry;
    int rc;
    if (c->who.is_root)
        return iam_fail(c, IAM_INVALID_USER_TYPE, "ChangePassword is for IAM users; the account root has no password here.");
    if ((rc = load_profile(c, &c->caller, &p)) < 0)
        return rc;
    signin_user_key(key, sizeof(key), c->account, c->caller.name);
    if ((rc = signin_limit_wait(key, c->r->client_ip, now_ms(), &retry)) < 0)
        return iam_fail_internal(c, rc);
    if (retry > 0)
        return iam_fail(c, IAM_LIMIT_EXCEEDED, "Too many failed password attempts. Try again in %lld minutes.",
                        (long long)((retry + 59) / 60));
    if (!password_verify(p.password_hash, iam_str(c, "OldPassword"))) {
        c->on_rollback = count_wrong_password;
        return iam_fail(c, IAM_INVALID_USER_TYPE, "The old password is incorrect.");
    }
    if ((rc = hash_new_password(c, c->caller.name, iam_str(c, "NewPassword"), hash)) < 0)
        return rc;
    if ((rc = store_login_profile_update(c->account, c->caller.name, hash, false)) < 0 ||
        (rc = signin_limit_succeeded(key)) < 0)
        return iam_fail_internal(c, rc);
    return remember(c, c->caller.name, hash);
}
