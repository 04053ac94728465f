/*
 * The tags of IAM users and customer managed policies, replaced as a
 * whole: the IAM tagging operations read them (store_identity_tags,
 * store_policy_tags in store.h), change them and write them back in the
 * operation's transaction.
 */
#ifndef BERTH_STORE_IAM_TAGS_H
#define BERTH_STORE_IAM_TAGS_H

/* tags_json: a JSON array of {"Key","Value"}, or NULL for none. E_NOTFOUND
 * when the user (or the policy, by ARN) does not exist. */
int store_user_tags_set(const char *account, const char *user, const char *tags_json);
int store_policy_tags_set(const char *account, const char *arn, const char *tags_json);

#endif
