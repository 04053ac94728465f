/*
 * The operation table of the ECR control plane: operation name, handler,
 * the IAM action the operation is authorized as, and what that action is
 * checked on (the repository named in the input, the registry, or "*").
 * Operations of the model that are not in this table answer
 * UnsupportedOperationException naming the operation.
 */
#include "ecr/ops.h"

const struct ecr_op ecr_ops[] = {
    {"GetAuthorizationToken", op_get_authorization_token, "ecr:GetAuthorizationToken", RES_ANY},

    {"CreateRepository", op_create_repository, "ecr:CreateRepository", RES_REPOSITORY},
    {"DescribeRepositories", op_describe_repositories, "ecr:DescribeRepositories", RES_NAMES},
    {"DeleteRepository", op_delete_repository, "ecr:DeleteRepository", RES_REPOSITORY},
    {"PutImageTagMutability", op_put_image_tag_mutability, "ecr:PutImageTagMutability", RES_REPOSITORY},
    {"PutImageScanningConfiguration", op_put_image_scanning_configuration, "ecr:PutImageScanningConfiguration",
     RES_REPOSITORY},
    {"TagResource", op_tag_resource, "ecr:TagResource", RES_ARN},
    {"UntagResource", op_untag_resource, "ecr:UntagResource", RES_ARN},
    {"ListTagsForResource", op_list_tags_for_resource, "ecr:ListTagsForResource", RES_ARN},
    {"DescribeRegistry", op_describe_registry, "ecr:DescribeRegistry", RES_REGISTRY},
    {"GetAccountSetting", op_get_account_setting, "ecr:GetAccountSetting", RES_REGISTRY},
    {"PutAccountSetting", op_put_account_setting, "ecr:PutAccountSetting", RES_REGISTRY},

    {"ListImages", op_list_images, "ecr:ListImages", RES_REPOSITORY},
    {"DescribeImages", op_describe_images, "ecr:DescribeImages", RES_REPOSITORY},
    {"BatchGetImage", op_batch_get_image, "ecr:BatchGetImage", RES_REPOSITORY},
    {"PutImage", op_put_image, "ecr:PutImage", RES_REPOSITORY},
    {"BatchDeleteImage", op_batch_delete_image, "ecr:BatchDeleteImage", RES_REPOSITORY},
    {"ListImageReferrers", op_list_image_referrers, "ecr:BatchGetImage", RES_REPOSITORY},

    {"BatchCheckLayerAvailability", op_batch_check_layer_availability, "ecr:BatchCheckLayerAvailability", RES_REPOSITORY},
    {"GetDownloadUrlForLayer", op_get_download_url_for_layer, "ecr:GetDownloadUrlForLayer", RES_REPOSITORY},
    {"InitiateLayerUpload", op_initiate_layer_upload, "ecr:InitiateLayerUpload", RES_REPOSITORY},
    {"UploadLayerPart", op_upload_layer_part, "ecr:UploadLayerPart", RES_REPOSITORY},
    {"CompleteLayerUpload", op_complete_layer_upload, "ecr:CompleteLayerUpload", RES_REPOSITORY},

    {"SetRepositoryPolicy", op_set_repository_policy, "ecr:SetRepositoryPolicy", RES_REPOSITORY},
    {"GetRepositoryPolicy", op_get_repository_policy, "ecr:GetRepositoryPolicy", RES_REPOSITORY},
    {"DeleteRepositoryPolicy", op_delete_repository_policy, "ecr:DeleteRepositoryPolicy", RES_REPOSITORY},
    {"PutRegistryPolicy", op_put_registry_policy, "ecr:PutRegistryPolicy", RES_REGISTRY},
    {"GetRegistryPolicy", op_get_registry_policy, "ecr:GetRegistryPolicy", RES_REGISTRY},
    {"DeleteRegistryPolicy", op_delete_registry_policy, "ecr:DeleteRegistryPolicy", RES_REGISTRY},
};

const size_t ecr_nops = sizeof(ecr_ops) / sizeof(ecr_ops[0]);
