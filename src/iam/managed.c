/*
 * This module implements the table of built-in AWS-managed ECR policies
 * (and CloudTrail's read-only policy, for reading the audit trail).
 *
 * Where the data comes from (checked when written; update both together):
 * - Documents, descriptions, creation and edit times and default versions:
 *   the AWS Managed Policy Reference pages
 *   https://docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html
 *   and the ECR user guide page "AWS managed policies for Amazon Elastic
 *   Container Registry" (security-iam-awsmanpol.html). The reference pages
 *   give creation times to the minute; seconds are 00 here except where the
 *   version's exact time is published (update_date, from the PolicyVersion
 *   CreateDate that `aws iam get-policy-version` returns, as archived by the
 *   MAMIP project: zoph-io/MAMIP policies/<Name>).
 * - Policy ids: `aws iam list-policies --scope AWS` output. No published id
 *   was found for AmazonEC2ContainerRegistryPullOnly (created 2024-10-04) or
 *   AWSCloudTrail_ReadOnlyAccess (created 2022-06-14); their ids below are
 *   berth's own, in the same format.
 */
#include "iam/managed.h"

#include <string.h>

#include "core/error.h"

static const struct managed_policy managed[] = {
    {
        .name = "AmazonEC2ContainerRegistryFullAccess",
        .arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess",
        .path = "/",
        .policy_id = "ANPAIESRL7KD7IIVF6V4W",
        .default_version = "v3",
        .description = "Provides administrative access to Amazon ECR resources",
        .create_date = "2015-12-21T17:06:00Z",
        .update_date = "2020-12-05T00:04:19Z",
        .document = "{\n"
                    "  \"Version\" : \"2012-10-17\",\n"
                    "  \"Statement\" : [\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"ecr:*\",\n"
                    "        \"cloudtrail:LookupEvents\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\"\n"
                    "    },\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"iam:CreateServiceLinkedRole\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\",\n"
                    "      \"Condition\" : {\n"
                    "        \"StringEquals\" : {\n"
                    "          \"iam:AWSServiceName\" : [\n"
                    "            \"replication.ecr.amazonaws.com\"\n"
                    "          ]\n"
                    "        }\n"
                    "      }\n"
                    "    }\n"
                    "  ]\n"
                    "}",
    },
    {
        .name = "AmazonEC2ContainerRegistryPowerUser",
        .arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser",
        .path = "/",
        .policy_id = "ANPAJDNE5PIHROIBGGDDW",
        .default_version = "v3",
        .description = "Provides full access to Amazon EC2 Container Registry repositories, but does not allow repository "
                       "deletion or policy changes.",
        .create_date = "2015-12-21T17:05:00Z",
        .update_date = "2019-12-10T20:48:08Z",
        .document = "{\n"
                    "  \"Version\" : \"2012-10-17\",\n"
                    "  \"Statement\" : [\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"ecr:GetAuthorizationToken\",\n"
                    "        \"ecr:BatchCheckLayerAvailability\",\n"
                    "        \"ecr:GetDownloadUrlForLayer\",\n"
                    "        \"ecr:GetRepositoryPolicy\",\n"
                    "        \"ecr:DescribeRepositories\",\n"
                    "        \"ecr:ListImages\",\n"
                    "        \"ecr:DescribeImages\",\n"
                    "        \"ecr:BatchGetImage\",\n"
                    "        \"ecr:GetLifecyclePolicy\",\n"
                    "        \"ecr:GetLifecyclePolicyPreview\",\n"
                    "        \"ecr:ListTagsForResource\",\n"
                    "        \"ecr:DescribeImageScanFindings\",\n"
                    "        \"ecr:InitiateLayerUpload\",\n"
                    "        \"ecr:UploadLayerPart\",\n"
                    "        \"ecr:CompleteLayerUpload\",\n"
                    "        \"ecr:PutImage\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\"\n"
                    "    }\n"
                    "  ]\n"
                    "}",
    },
    {
        .name = "AmazonEC2ContainerRegistryReadOnly",
        .arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
        .path = "/",
        .policy_id = "ANPAIFYZPA37OOHVIH7KQ",
        .default_version = "v3",
        .description = "Provides read-only access to Amazon EC2 Container Registry repositories.",
        .create_date = "2015-12-21T17:04:00Z",
        .update_date = "2019-12-10T20:56:32Z",
        .document = "{\n"
                    "  \"Version\" : \"2012-10-17\",\n"
                    "  \"Statement\" : [\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"ecr:GetAuthorizationToken\",\n"
                    "        \"ecr:BatchCheckLayerAvailability\",\n"
                    "        \"ecr:GetDownloadUrlForLayer\",\n"
                    "        \"ecr:GetRepositoryPolicy\",\n"
                    "        \"ecr:DescribeRepositories\",\n"
                    "        \"ecr:ListImages\",\n"
                    "        \"ecr:DescribeImages\",\n"
                    "        \"ecr:BatchGetImage\",\n"
                    "        \"ecr:GetLifecyclePolicy\",\n"
                    "        \"ecr:GetLifecyclePolicyPreview\",\n"
                    "        \"ecr:ListTagsForResource\",\n"
                    "        \"ecr:DescribeImageScanFindings\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\"\n"
                    "    }\n"
                    "  ]\n"
                    "}",
    },
    {
        .name = "AmazonEC2ContainerRegistryPullOnly",
        .arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        .path = "/",
        .policy_id = "ANPABERTHECRPULLONLY1",
        .default_version = "v1",
        .description = "Provides access to pull images from Amazon EC2 Container Registry repositories.",
        .create_date = "2024-10-04T16:58:49Z",
        .update_date = "2024-10-04T16:58:49Z",
        .document = "{\n"
                    "  \"Version\" : \"2012-10-17\",\n"
                    "  \"Statement\" : [\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"ecr:GetAuthorizationToken\",\n"
                    "        \"ecr:BatchGetImage\",\n"
                    "        \"ecr:GetDownloadUrlForLayer\",\n"
                    "        \"ecr:BatchImportUpstreamImage\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\"\n"
                    "    }\n"
                    "  ]\n"
                    "}",
    },
    {
        /* reading the audit trail (cloudtrail:LookupEvents) */
        .name = "AWSCloudTrail_ReadOnlyAccess",
        .arn = "arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess",
        .path = "/",
        .policy_id = "ANPABERTHCLOUDTRAILRO",
        .default_version = "v1",
        .description = "Provides read only access to AWS CloudTrail.",
        .create_date = "2022-06-14T17:19:00Z",
        .update_date = "2022-06-14T17:19:00Z",
        .document = "{\n"
                    "  \"Version\" : \"2012-10-17\",\n"
                    "  \"Statement\" : [\n"
                    "    {\n"
                    "      \"Effect\" : \"Allow\",\n"
                    "      \"Action\" : [\n"
                    "        \"cloudtrail:Get*\",\n"
                    "        \"cloudtrail:Describe*\",\n"
                    "        \"cloudtrail:List*\",\n"
                    "        \"cloudtrail:LookupEvents\"\n"
                    "      ],\n"
                    "      \"Resource\" : \"*\"\n"
                    "    }\n"
                    "  ]\n"
                    "}",
    },
};

#define MANAGED_COUNT (sizeof(managed) / sizeof(managed[0]))

int managed_policy_lookup(const struct managed_policy **out, const char *arn)
{
    *out = NULL;
    for (size_t i = 0; arn && i < MANAGED_COUNT; i++) {
        if (strcmp(managed[i].arn, arn) == 0) {
            *out = &managed[i];
            return 0;
        }
    }
    return error_set(E_NOTFOUND, "Policy %s does not exist or is not attachable.", arn ? arn : "");
}

const struct managed_policy *managed_policy_next(const struct managed_policy *prev)
{
    if (!prev)
        return &managed[0];
    if (prev < managed || prev >= managed + MANAGED_COUNT - 1)
        return NULL;
    return prev + 1;
}

size_t managed_policy_count(void)
{
    return MANAGED_COUNT;
}

int managed_policy_parse(struct policy **out, const struct managed_policy *m)
{
    return policy_parse(out, m->document, strlen(m->document), POLICY_IDENTITY, POLICY_LIMIT_MANAGED);
}
