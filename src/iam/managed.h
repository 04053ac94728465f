/*
 * The AWS-managed ECR policies that berth carries built in, under their real
 * ARNs (arn:aws:iam::aws:policy/...), with their real documents and metadata:
 * AmazonEC2ContainerRegistryFullAccess, ...PowerUser, ...ReadOnly and
 * ...PullOnly. They are the "AWS" scope of ListPolicies and can be attached
 * to users and groups like customer managed policies, but never changed.
 */
#ifndef BERTH_IAM_MANAGED_H
#define BERTH_IAM_MANAGED_H

#include <stddef.h>

#include "policy/policy.h"

struct managed_policy {
    const char *name;            /* AmazonEC2ContainerRegistryReadOnly */
    const char *arn;             /* arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly */
    const char *path;            /* "/" */
    const char *policy_id;       /* ANPA... */
    const char *default_version; /* "v3" */
    const char *description;
    const char *create_date; /* ISO 8601 UTC: when the policy was created */
    const char *update_date; /* when its default version was created */
    const char *document;    /* the default version's JSON document */
};

/* The managed policy with this ARN; E_NOTFOUND (with detail) when none. */
int managed_policy_lookup(const struct managed_policy **out, const char *arn);

/* Iteration in a fixed order: managed_policy_next(NULL) is the first policy,
 * NULL follows the last. */
const struct managed_policy *managed_policy_next(const struct managed_policy *prev);
size_t managed_policy_count(void);

/* Parses m's document as an identity-based policy (always succeeds for the
 * built-in documents; the unit tests check it). */
int managed_policy_parse(struct policy **out, const struct managed_policy *m);

#endif
