/*
 * Amazon Resource Names, parsed in one place:
 *
 *   arn:<partition>:<service>:<region>:<account>:<resource>
 *   arn:aws:ecr:us-east-1:123456789012:repository/team-a/web
 *   arn:aws:iam::123456789012:user/ops/alice      (IAM is global: no region)
 *   arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly
 *
 * The resource is everything after the fifth colon and may itself contain
 * colons and slashes. These are ARNs of resources and principals, not the
 * patterns of a policy's Resource element (wildcards and variables: see
 * policy_resource_match in policy.h).
 */
#ifndef BERTH_POLICY_ARN_H
#define BERTH_POLICY_ARN_H

#include <stdbool.h>

#include "core/buf.h"

#define ARN_ACCOUNT_LEN 12

struct arn {
    struct slice partition; /* "aws" */
    struct slice service;   /* "ecr", "iam", "sts" */
    struct slice region;    /* "" for global services */
    struct slice account;   /* 12 digits; "aws" for AWS-managed policies; "" for some services */
    struct slice resource;  /* "repository/team-a/web", "user/ops/alice", "root" */
};

/*
 * Splits z into its fields, which borrow from z. E_INVALID (the detail names
 * z) unless z starts with "arn:" and has five more colon-separated fields of
 * which partition, service and resource are not empty. No field but the
 * resource contains a colon.
 */
int arn_parse(struct arn *out, struct slice z);

/* Is s an account id: exactly 12 ASCII digits? */
bool arn_account_id(struct slice s);

/* Copies the account id of the ARN z into out and returns true; false (out
 * "") when z is not an ARN or its account is not a 12-digit id. */
bool arn_account_of(char out[ARN_ACCOUNT_LEN + 1], const char *z);

/*
 * The repository an ECR repository ARN names: service "ecr", a 12-digit
 * account, and a resource "repository/<name>" with a non-empty name. The
 * name is not checked against ECR's repository name pattern.
 */
bool arn_ecr_repository(const struct arn *a, struct slice *name_out);

/*
 * What an IAM principal ARN names in its account: "root", or the user name
 * of "user/<path>/<name>" (the part after the last slash, in *user_out).
 * Needs service "iam" and a 12-digit account. E_INVALID otherwise.
 */
int arn_iam_principal(const struct arn *a, bool *is_root_out, struct slice *user_out);

#endif
