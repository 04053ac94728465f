/*
 * The operation table of the identity surface: operation name, API
 * version, handler, the IAM action it is authorized as, what that action is
 * checked on, whether it writes (and so runs in one transaction), and
 * whether its reply has a result element. Operations of IAM's model that are
 * not in this table answer InvalidAction naming the operation.
 */
#include "iam/ops.h"

#define IAM(name, handler, resource, writes, result) {#name, IAM_VERSION, handler, "iam:" #name, resource, writes, result}

const struct iam_op iam_ops[] = {
    IAM(CreateUser, op_create_user, IAM_RES_USER, true, true),
    IAM(GetUser, op_get_user, IAM_RES_USER, false, true),
    IAM(ListUsers, op_list_users, IAM_RES_USERS, false, true),
    IAM(DeleteUser, op_delete_user, IAM_RES_USER, true, false),

    IAM(CreateAccessKey, op_create_access_key, IAM_RES_USER, true, true),
    IAM(ListAccessKeys, op_list_access_keys, IAM_RES_USER, false, true),
    IAM(UpdateAccessKey, op_update_access_key, IAM_RES_USER, true, false),
    IAM(DeleteAccessKey, op_delete_access_key, IAM_RES_USER, true, false),

    IAM(CreateLoginProfile, op_create_login_profile, IAM_RES_USER, true, true),
    IAM(GetLoginProfile, op_get_login_profile, IAM_RES_USER, false, true),
    IAM(UpdateLoginProfile, op_update_login_profile, IAM_RES_USER, true, false),
    IAM(DeleteLoginProfile, op_delete_login_profile, IAM_RES_USER, true, false),
    IAM(ChangePassword, op_change_password, IAM_RES_USER, true, false),

    IAM(CreateGroup, op_create_group, IAM_RES_GROUP, true, true),
    IAM(GetGroup, op_get_group, IAM_RES_GROUP, false, true),
    IAM(ListGroups, op_list_groups, IAM_RES_GROUPS, false, true),
    IAM(DeleteGroup, op_delete_group, IAM_RES_GROUP, true, false),
    IAM(AddUserToGroup, op_add_user_to_group, IAM_RES_GROUP, true, false),
    IAM(RemoveUserFromGroup, op_remove_user_from_group, IAM_RES_GROUP, true, false),
    IAM(ListGroupsForUser, op_list_groups_for_user, IAM_RES_USER, false, true),

    IAM(CreatePolicy, op_create_policy, IAM_RES_NEW_POLICY, true, true),
    IAM(GetPolicy, op_get_policy, IAM_RES_POLICY, false, true),
    IAM(DeletePolicy, op_delete_policy, IAM_RES_POLICY, true, false),
    IAM(ListPolicies, op_list_policies, IAM_RES_POLICIES, false, true),
    IAM(CreatePolicyVersion, op_create_policy_version, IAM_RES_POLICY, true, true),
    IAM(GetPolicyVersion, op_get_policy_version, IAM_RES_POLICY, false, true),
    IAM(ListPolicyVersions, op_list_policy_versions, IAM_RES_POLICY, false, true),
    IAM(DeletePolicyVersion, op_delete_policy_version, IAM_RES_POLICY, true, false),
    IAM(SetDefaultPolicyVersion, op_set_default_policy_version, IAM_RES_POLICY, true, false),
    IAM(AttachUserPolicy, op_attach_user_policy, IAM_RES_USER, true, false),
    IAM(DetachUserPolicy, op_detach_user_policy, IAM_RES_USER, true, false),
    IAM(AttachGroupPolicy, op_attach_group_policy, IAM_RES_GROUP, true, false),
    IAM(DetachGroupPolicy, op_detach_group_policy, IAM_RES_GROUP, true, false),
    IAM(ListAttachedUserPolicies, op_list_attached_user_policies, IAM_RES_USER, false, true),
    IAM(ListAttachedGroupPolicies, op_list_attached_group_policies, IAM_RES_GROUP, false, true),

    IAM(PutUserPolicy, op_put_user_policy, IAM_RES_USER, true, false),
    IAM(GetUserPolicy, op_get_user_policy, IAM_RES_USER, false, true),
    IAM(DeleteUserPolicy, op_delete_user_policy, IAM_RES_USER, true, false),
    IAM(ListUserPolicies, op_list_user_policies, IAM_RES_USER, false, true),
    IAM(PutGroupPolicy, op_put_group_policy, IAM_RES_GROUP, true, false),
    IAM(GetGroupPolicy, op_get_group_policy, IAM_RES_GROUP, false, true),
    IAM(DeleteGroupPolicy, op_delete_group_policy, IAM_RES_GROUP, true, false),
    IAM(ListGroupPolicies, op_list_group_policies, IAM_RES_GROUP, false, true),

    IAM(TagUser, op_tag_user, IAM_RES_USER, true, false),
    IAM(UntagUser, op_untag_user, IAM_RES_USER, true, false),
    IAM(ListUserTags, op_list_user_tags, IAM_RES_USER, false, true),
    IAM(TagPolicy, op_tag_policy, IAM_RES_POLICY, true, false),
    IAM(UntagPolicy, op_untag_policy, IAM_RES_POLICY, true, false),
    IAM(ListPolicyTags, op_list_policy_tags, IAM_RES_POLICY, false, true),

    IAM(CreateAccountAlias, op_create_account_alias, IAM_RES_ACCOUNT, true, false),
    IAM(ListAccountAliases, op_list_account_aliases, IAM_RES_ACCOUNT, false, true),
    IAM(DeleteAccountAlias, op_delete_account_alias, IAM_RES_ACCOUNT, true, false),
    IAM(UpdateAccountPasswordPolicy, op_update_account_password_policy, IAM_RES_ACCOUNT, true, false),
    IAM(GetAccountPasswordPolicy, op_get_account_password_policy, IAM_RES_ACCOUNT, false, true),
    IAM(DeleteAccountPasswordPolicy, op_delete_account_password_policy, IAM_RES_ACCOUNT, true, false),

    IAM(SimulatePrincipalPolicy, op_simulate_principal_policy, IAM_RES_USERS, false, true),

    {"GetCallerIdentity", STS_VERSION, op_get_caller_identity, "sts:GetCallerIdentity", IAM_RES_NONE, false, true},
};

const size_t iam_nops = sizeof(iam_ops) / sizeof(iam_ops[0]);
