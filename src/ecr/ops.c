/*
 * The operation table of the ECR control plane: operation name, handler,
 * the IAM action the operation is authorized as, what that action is
 * checked on (the repository named in the input, the registry, or "*"),
 * whether the handler runs in one write transaction of the dispatcher, and
 * whether it may wait otherwise (writes of its own, long disk work). Both
 * kinds run on a defer thread.
 * Operations of the model that are not in this table answer
 * UnsupportedOperationException naming the operation.
 */
#include "ecr/ops.h"

const struct ecr_op ecr_ops[] = {
    {"GetAuthorizationToken", op_get_authorization_token, "ecr:GetAuthorizationToken", RES_ANY, false, false},

    {"CreateRepository", op_create_repository, "ecr:CreateRepository", RES_REPOSITORY, true, false},
    {"DescribeRepositories", op_describe_repositories, "ecr:DescribeRepositories", RES_NAMES, false, false},
    {"DeleteRepository", op_delete_repository, "ecr:DeleteRepository", RES_REPOSITORY, true, false},
    {"PutImageTagMutability", op_put_image_tag_mutability, "ecr:PutImageTagMutability", RES_REPOSITORY, true, false},
    {"PutImageScanningConfiguration", op_put_image_scanning_configuration, "ecr:PutImageScanningConfiguration",
     RES_REPOSITORY, true, false},
    {"TagResource", op_tag_resource, "ecr:TagResource", RES_ARN, true, false},
    {"UntagResource", op_untag_resource, "ecr:UntagResource", RES_ARN, true, false},
    {"ListTagsForResource", op_list_tags_for_resource, "ecr:ListTagsForResource", RES_ARN, false, false},
    {"DescribeRegistry", op_describe_registry, "ecr:DescribeRegistry", RES_REGISTRY, false, false},
    {"GetAccountSetting", op_get_account_setting, "ecr:GetAccountSetting", RES_REGISTRY, false, false},
    {"PutAccountSetting", op_put_account_setting, "ecr:PutAccountSetting", RES_REGISTRY, true, false},

    {"ListImages", op_list_images, "ecr:ListImages", RES_REPOSITORY, false, false},
    {"DescribeImages", op_describe_images, "ecr:DescribeImages", RES_REPOSITORY, false, false},
    {"BatchGetImage", op_batch_get_image, "ecr:BatchGetImage", RES_REPOSITORY, false, false},
    {"PutImage", op_put_image, "ecr:PutImage", RES_REPOSITORY, false, true},
    {"BatchDeleteImage", op_batch_delete_image, "ecr:BatchDeleteImage", RES_REPOSITORY, false, true},
    {"ListImageReferrers", op_list_image_referrers, "ecr:BatchGetImage", RES_REPOSITORY, false, false},
    {"UpdateImageStorageClass", op_update_image_storage_class, "ecr:UpdateImageStorageClass", RES_REPOSITORY, false, true},
    {"RegisterPullTimeUpdateExclusion", op_register_pull_time_update_exclusion, "ecr:RegisterPullTimeUpdateExclusion",
     RES_REGISTRY, true, false},
    {"DeregisterPullTimeUpdateExclusion", op_deregister_pull_time_update_exclusion, "ecr:DeregisterPullTimeUpdateExclusion",
     RES_REGISTRY, true, false},
    {"ListPullTimeUpdateExclusions", op_list_pull_time_update_exclusions, "ecr:ListPullTimeUpdateExclusions", RES_REGISTRY,
     false, false},

    {"BatchCheckLayerAvailability", op_batch_check_layer_availability, "ecr:BatchCheckLayerAvailability", RES_REPOSITORY, false, true},
    {"GetDownloadUrlForLayer", op_get_download_url_for_layer, "ecr:GetDownloadUrlForLayer", RES_REPOSITORY, false, false},
    {"InitiateLayerUpload", op_initiate_layer_upload, "ecr:InitiateLayerUpload", RES_REPOSITORY, false, true},
    {"UploadLayerPart", op_upload_layer_part, "ecr:UploadLayerPart", RES_REPOSITORY, false, true},
    {"CompleteLayerUpload", op_complete_layer_upload, "ecr:CompleteLayerUpload", RES_REPOSITORY, false, true},

    {"GetRegistryScanningConfiguration", op_get_registry_scanning_configuration, "ecr:GetRegistryScanningConfiguration",
     RES_REGISTRY, false, false},
    {"PutRegistryScanningConfiguration", op_put_registry_scanning_configuration, "ecr:PutRegistryScanningConfiguration",
     RES_REGISTRY, true, false},
    {"BatchGetRepositoryScanningConfiguration", op_batch_get_repository_scanning_configuration,
     "ecr:BatchGetRepositoryScanningConfiguration", RES_NAMES, false, false},
    {"StartImageScan", op_start_image_scan, "ecr:StartImageScan", RES_REPOSITORY, false, true},
    {"DescribeImageScanFindings", op_describe_image_scan_findings, "ecr:DescribeImageScanFindings", RES_REPOSITORY, false,
     false},

    {"SetRepositoryPolicy", op_set_repository_policy, "ecr:SetRepositoryPolicy", RES_REPOSITORY, true, false},
    {"GetRepositoryPolicy", op_get_repository_policy, "ecr:GetRepositoryPolicy", RES_REPOSITORY, false, false},
    {"DeleteRepositoryPolicy", op_delete_repository_policy, "ecr:DeleteRepositoryPolicy", RES_REPOSITORY, true, false},
    {"PutRegistryPolicy", op_put_registry_policy, "ecr:PutRegistryPolicy", RES_REGISTRY, true, false},
    {"GetRegistryPolicy", op_get_registry_policy, "ecr:GetRegistryPolicy", RES_REGISTRY, false, false},
    {"DeleteRegistryPolicy", op_delete_registry_policy, "ecr:DeleteRegistryPolicy", RES_REGISTRY, true, false},

    {"PutLifecyclePolicy", op_put_lifecycle_policy, "ecr:PutLifecyclePolicy", RES_REPOSITORY, true, false},
    {"GetLifecyclePolicy", op_get_lifecycle_policy, "ecr:GetLifecyclePolicy", RES_REPOSITORY, false, false},
    {"DeleteLifecyclePolicy", op_delete_lifecycle_policy, "ecr:DeleteLifecyclePolicy", RES_REPOSITORY, true, false},
    {"StartLifecyclePolicyPreview", op_start_lifecycle_policy_preview, "ecr:StartLifecyclePolicyPreview", RES_REPOSITORY,
     false, true},
    {"GetLifecyclePolicyPreview", op_get_lifecycle_policy_preview, "ecr:GetLifecyclePolicyPreview", RES_REPOSITORY, false,
     false},
};

const size_t ecr_nops = sizeof(ecr_ops) / sizeof(ecr_ops[0]);
