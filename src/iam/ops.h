/*
 * The handlers of the IAM and STS operations, one file per family:
 * users.c, groups.c, keys.c, policies.c (managed policies and their
 * attachments), inline.c (inline policies), tags.c (tagging of users
 * and policies) and sts.c. The table that maps
 * operation names to them and to IAM actions is in ops.c.
 */
#ifndef BERTH_IAM_OPS_H
#define BERTH_IAM_OPS_H

#include "iam/iam.h"

/* users.c */
int op_create_user(struct iam_call *c);
int op_get_user(struct iam_call *c);
int op_list_users(struct iam_call *c);
int op_delete_user(struct iam_call *c);

/* keys.c */
int op_create_access_key(struct iam_call *c);
int op_list_access_keys(struct iam_call *c);
int op_update_access_key(struct iam_call *c);
int op_delete_access_key(struct iam_call *c);

/* groups.c */
int op_create_group(struct iam_call *c);
int op_get_group(struct iam_call *c);
int op_list_groups(struct iam_call *c);
int op_delete_group(struct iam_call *c);
int op_add_user_to_group(struct iam_call *c);
int op_remove_user_from_group(struct iam_call *c);
int op_list_groups_for_user(struct iam_call *c);

/* policies.c */
int op_create_policy(struct iam_call *c);
int op_get_policy(struct iam_call *c);
int op_delete_policy(struct iam_call *c);
int op_list_policies(struct iam_call *c);
int op_create_policy_version(struct iam_call *c);
int op_get_policy_version(struct iam_call *c);
int op_list_policy_versions(struct iam_call *c);
int op_delete_policy_version(struct iam_call *c);
int op_set_default_policy_version(struct iam_call *c);
int op_attach_user_policy(struct iam_call *c);
int op_detach_user_policy(struct iam_call *c);
int op_attach_group_policy(struct iam_call *c);
int op_detach_group_policy(struct iam_call *c);
int op_list_attached_user_policies(struct iam_call *c);
int op_list_attached_group_policies(struct iam_call *c);

/* login.c */
int op_create_login_profile(struct iam_call *c);
int op_get_login_profile(struct iam_call *c);
int op_update_login_profile(struct iam_call *c);
int op_delete_login_profile(struct iam_call *c);
int op_change_password(struct iam_call *c);

/* account.c */
int op_create_account_alias(struct iam_call *c);
int op_list_account_aliases(struct iam_call *c);
int op_delete_account_alias(struct iam_call *c);
int op_update_account_password_policy(struct iam_call *c);
int op_get_account_password_policy(struct iam_call *c);
int op_delete_account_password_policy(struct iam_call *c);
/* Checks a new password for user against the account's password policy
 * (IAM's default without one) and, when the policy says so, the user's
 * last passwords: PasswordPolicyViolation with IAM's sentence, or 0. */
int iam_password_check(struct iam_call *c, const char *user, const char *password);
/* When the account's password policy has AllowUsersToChangePassword and
 * action is iam:ChangePassword or iam:GetAccountPasswordPolicy, the policy
 * document that gives an IAM user those two on itself, as IAM does for
 * every user of the account without a policy saying so (*out NULL
 * otherwise; the caller frees it). */
int iam_password_change_grant(char **out, const struct principal *who, const char *action);
struct password_policy;
/* The policy's complaint about password (p NULL: IAM's default policy),
 * written into why; NULL when it complies. */
const char *iam_password_violation(const struct password_policy *p, const char *password, char *why, size_t size);

/* inline.c */
int op_put_user_policy(struct iam_call *c);
int op_get_user_policy(struct iam_call *c);
int op_delete_user_policy(struct iam_call *c);
int op_list_user_policies(struct iam_call *c);
int op_put_group_policy(struct iam_call *c);
int op_get_group_policy(struct iam_call *c);
int op_delete_group_policy(struct iam_call *c);
int op_list_group_policies(struct iam_call *c);

/* tags.c */
int op_tag_user(struct iam_call *c);
int op_untag_user(struct iam_call *c);
int op_list_user_tags(struct iam_call *c);
int op_tag_policy(struct iam_call *c);
int op_untag_policy(struct iam_call *c);
int op_list_policy_tags(struct iam_call *c);

/* sts.c */
int op_get_caller_identity(struct iam_call *c);
/* simulate.c */
int op_simulate_principal_policy(struct iam_call *c);

#endif
