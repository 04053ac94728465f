/*
 * This module implements the account-wide IAM settings that sign-in reads:
 * the account alias (CreateAccountAlias, ListAccountAliases,
 * DeleteAccountAlias; one per account, unique in the server, so a user can
 * sign in to the console with it in place of the 12-digit id) and the
 * account password policy (UpdateAccountPasswordPolicy,
 * GetAccountPasswordPolicy, DeleteAccountPasswordPolicy), with the check
 * that CreateLoginProfile, UpdateLoginProfile and ChangePassword apply to
 * a new password (iam_password_check). Without a policy, IAM's default
 * applies (auth/signin.h's password_policy_violation). The policy's
 * AllowUsersToChangePassword gives every IAM user of the account
 * iam:ChangePassword on itself and iam:GetAccountPasswordPolicy, as IAM's
 * user guide says ("Permit IAM users to change their own passwords"):
 * iam_password_change_grant() is that grant as a policy the evaluator adds
 * to the user's own, so an explicit Deny still wins.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/signin.h"
#include "core/error.h"
#include "iam/ops.h"
#include "iam/xml.h"
#include "store/console.h"

/* The characters IAM counts as symbols (UpdateAccountPasswordPolicy's RequireSymbols). */
#define SYMBOLS "!@#$%^&*()_+-=[]{}|'"

/* ---- aliases ---- */

int op_create_account_alias(struct iam_call *c)
{
    const char *alias = iam_str(c, "AccountAlias");
    if (!account_alias_valid(alias))
        return iam_fail(c, IAM_VALIDATION_ERROR,
                        "1 validation error detected: Value '%s' at 'accountAlias' failed to satisfy constraint: Member must "
                        "satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$",
                        alias);
    int rc = store_account_alias_set(c->account, alias);
    if (rc == E_EXISTS)
        return iam_fail(c, IAM_ENTITY_ALREADY_EXISTS, "The account alias %s already exists.", alias);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_list_account_aliases(struct iam_call *c)
{
    char alias[ACCOUNT_ALIAS_MAX];
    int rc = store_account_alias_get(c->account, alias);
    if (rc < 0 && rc != E_NOTFOUND)
        return iam_fail_internal(c, rc);
    /* an account has at most one: never more than a page */
    xml_open(&c->out, "AccountAliases");
    if (rc == 0)
        xml_text(&c->out, "member", alias);
    xml_close(&c->out, "AccountAliases");
    xml_bool(&c->out, "IsTruncated", false);
    return 0;
}

int op_delete_account_alias(struct iam_call *c)
{
    const char *alias = iam_str(c, "AccountAlias");
    int rc = store_account_alias_delete(c->account, alias);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The account alias %s cannot be found.", alias);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

/* ---- the password policy ---- */

/* An integer parameter (the model has checked its type and range); dflt when absent. */
static int64_t int_param(struct iam_call *c, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(c->in, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int op_update_account_password_policy(struct iam_call *c)
{
    /* every field not given takes its default, as IAM's update replaces the whole policy */
    struct password_policy p = {
        .min_length = int_param(c, "MinimumPasswordLength", 6),
        .require_symbols = iam_bool(c, "RequireSymbols", false),
        .require_numbers = iam_bool(c, "RequireNumbers", false),
        .require_uppercase = iam_bool(c, "RequireUppercaseCharacters", false),
        .require_lowercase = iam_bool(c, "RequireLowercaseCharacters", false),
        .allow_users_to_change = iam_bool(c, "AllowUsersToChangePassword", false),
        .max_age_days = int_param(c, "MaxPasswordAge", 0),
        .reuse_prevention = int_param(c, "PasswordReusePrevention", 0),
        .hard_expiry = iam_bool(c, "HardExpiry", false),
    };
    int rc = store_password_policy_put(c->account, &p);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

int op_get_account_password_policy(struct iam_call *c)
{
    struct password_policy p;
    int rc = store_password_policy_get(c->account, &p);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The Password Policy with domain name %s cannot be found.", c->account);
    if (rc < 0)
        return iam_fail_internal(c, rc);
    struct buf *b = &c->out;
    xml_open(b, "PasswordPolicy");
    xml_int(b, "MinimumPasswordLength", p.min_length);
    xml_bool(b, "RequireSymbols", p.require_symbols);
    xml_bool(b, "RequireNumbers", p.require_numbers);
    xml_bool(b, "RequireUppercaseCharacters", p.require_uppercase);
    xml_bool(b, "RequireLowercaseCharacters", p.require_lowercase);
    xml_bool(b, "AllowUsersToChangePassword", p.allow_users_to_change);
    xml_bool(b, "ExpirePasswords", p.max_age_days > 0);
    if (p.max_age_days > 0)
        xml_int(b, "MaxPasswordAge", p.max_age_days);
    if (p.reuse_prevention > 0)
        xml_int(b, "PasswordReusePrevention", p.reuse_prevention);
    if (p.max_age_days > 0)
        xml_bool(b, "HardExpiry", p.hard_expiry);
    xml_close(b, "PasswordPolicy");
    return 0;
}

int op_delete_account_password_policy(struct iam_call *c)
{
    int rc = store_password_policy_delete(c->account);
    if (rc == E_NOTFOUND)
        return iam_fail(c, IAM_NO_SUCH_ENTITY, "The Password Policy with domain name %s cannot be found.", c->account);
    return rc < 0 ? iam_fail_internal(c, rc) : 0;
}

/* ---- the check of a new password ---- */

struct reuse {
    const char *password;
    bool used;
};

static int compare_old(void *ctx, const char *hash, int64_t set_ms)
{
    struct reuse *r = ctx;
    (void)set_ms;
    r->used = password_verify(hash, r->password);
    return r->used;
}

const char *iam_password_violation(const struct password_policy *p, const char *password, char *why, size_t size)
{
    bool upper = false, lower = false, digit = false, symbol = false;
    if (!p)
        return password_policy_violation(password);
    for (const char *z = password; *z; z++) {
        upper |= *z >= 'A' && *z <= 'Z';
        lower |= *z >= 'a' && *z <= 'z';
        digit |= *z >= '0' && *z <= '9';
        symbol |= strchr(SYMBOLS, *z) != NULL;
    }
    if ((int64_t)strlen(password) < p->min_length)
        snprintf(why, size, "Password should have a minimum length of %lld", (long long)p->min_length);
    else if (p->require_uppercase && !upper)
        snprintf(why, size, "Password should have at least one uppercase letter");
    else if (p->require_lowercase && !lower)
        snprintf(why, size, "Password should have at least one lowercase letter");
    else if (p->require_numbers && !digit)
        snprintf(why, size, "Password should have at least one number");
    else if (p->require_symbols && !symbol)
        snprintf(why, size, "Password should have at least one symbol");
    else
        return NULL;
    return why;
}

int iam_password_check(struct iam_call *c, const char *user, const char *password)
{
    struct password_policy p;
    char why[128];
    int rc = store_password_policy_get(c->account, &p);
    if (rc < 0 && rc != E_NOTFOUND)
        return iam_fail_internal(c, rc);
    const char *bad = iam_password_violation(rc == 0 ? &p : NULL, password, why, sizeof(why));
    if (bad)
        return iam_fail(c, IAM_PASSWORD_POLICY_VIOLATION, "%s", bad);
    if (rc == 0 && p.reuse_prevention > 0) {
        struct reuse r = {password, false};
        if ((rc = store_password_history(c->account, user, (int)p.reuse_prevention, compare_old, &r)) < 0)
            return iam_fail_internal(c, rc);
        if (r.used)
            return iam_fail(c, IAM_PASSWORD_POLICY_VIOLATION, "Password should not be one of your last %lld passwords",
                            (long long)p.reuse_prevention);
    }
    return 0;
}

int iam_password_change_grant(char **out, const struct principal *who, const char *action)
{
    struct password_policy p;
    *out = NULL;
    if (who->is_root || who->anonymous ||
        (strcmp(action, "iam:ChangePassword") != 0 && strcmp(action, "iam:GetAccountPasswordPolicy") != 0))
        return 0;
    int rc = store_password_policy_get(who->account_id, &p);
    if (rc == E_NOTFOUND) {
        error_clear();
        return 0;
    }
    if (rc < 0 || !p.allow_users_to_change)
        return rc;
    json_t *doc = json_pack("{s:s,s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}", "Version", "2012-10-17", "Statement", "Sid",
                            "ChangeOwnPassword", "Effect", "Allow", "Action", "iam:ChangePassword", "Resource", who->arn,
                            "Sid", "ViewAccountPasswordRequirements", "Effect", "Allow", "Action",
                            "iam:GetAccountPasswordPolicy", "Resource", "*");
    *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return 0;
}
