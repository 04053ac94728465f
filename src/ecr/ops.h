/*
 * The handlers of the ECR operations, one file per family:
 * auth_token.c, repositories.c, images.c, layers.c, pull_times.c, scanning.c, policies.c,
 * lifecycle.c. The table that maps
 * operation names to them and to IAM actions is in ops.c.
 */
#ifndef BERTH_ECR_OPS_H
#define BERTH_ECR_OPS_H

#include "ecr/ecr.h"

/* auth_token.c */
int op_get_authorization_token(struct ecr_call *c);

/* repositories.c */
int op_create_repository(struct ecr_call *c);
int op_describe_repositories(struct ecr_call *c);
int op_delete_repository(struct ecr_call *c);
int op_put_image_tag_mutability(struct ecr_call *c);
int op_put_image_scanning_configuration(struct ecr_call *c);
int op_tag_resource(struct ecr_call *c);
int op_untag_resource(struct ecr_call *c);
int op_list_tags_for_resource(struct ecr_call *c);
int op_describe_registry(struct ecr_call *c);
int op_get_account_setting(struct ecr_call *c);
int op_put_account_setting(struct ecr_call *c);

/* images.c */
int op_list_images(struct ecr_call *c);
int op_describe_images(struct ecr_call *c);
int op_batch_get_image(struct ecr_call *c);
int op_put_image(struct ecr_call *c);
int op_batch_delete_image(struct ecr_call *c);
int op_list_image_referrers(struct ecr_call *c);
int op_update_image_storage_class(struct ecr_call *c);

/* pull_times.c */
int op_register_pull_time_update_exclusion(struct ecr_call *c);
int op_deregister_pull_time_update_exclusion(struct ecr_call *c);
int op_list_pull_time_update_exclusions(struct ecr_call *c);

/* layers.c */
int op_batch_check_layer_availability(struct ecr_call *c);
int op_get_download_url_for_layer(struct ecr_call *c);
int op_initiate_layer_upload(struct ecr_call *c);
int op_upload_layer_part(struct ecr_call *c);
/* UploadLayerPart's body, taken as it arrives (c->part): layerPartBlob is
 * decoded into a spool file, every other member kept for the input. */
struct layer_part *layer_part_new(void);
void layer_part_feed(struct layer_part *p, const char *data, size_t n);
/* The input object, "" standing in for layerPartBlob; E_INVALID when the
 * body is not a JSON object, E_TOOBIG when its other members are too long. */
int layer_part_input(struct layer_part *p, json_t **out);
/* The model's check of layerPartBlob (its length), which the input's ""
 * cannot show; E_INVALID with the validator's message. */
int layer_part_validate(struct layer_part *p, int input_shape);
void layer_part_free(struct layer_part *p);
int op_complete_layer_upload(struct ecr_call *c);

/* scanning.c */
int op_get_registry_scanning_configuration(struct ecr_call *c);
int op_put_registry_scanning_configuration(struct ecr_call *c);
int op_batch_get_repository_scanning_configuration(struct ecr_call *c);
int op_start_image_scan(struct ecr_call *c);
int op_describe_image_scan_findings(struct ecr_call *c);
/* The imageScanStatus and findingSeverityCounts of a scan, as ECR writes them. */
struct scan_record;
json_t *ecr_scan_status(const struct scan_record *s);
json_t *ecr_severity_counts(const struct scan_record *s);

/* policies.c */
int op_set_repository_policy(struct ecr_call *c);
int op_get_repository_policy(struct ecr_call *c);
int op_delete_repository_policy(struct ecr_call *c);
int op_put_registry_policy(struct ecr_call *c);
int op_get_registry_policy(struct ecr_call *c);
int op_delete_registry_policy(struct ecr_call *c);

/* lifecycle.c */
int op_put_lifecycle_policy(struct ecr_call *c);
int op_get_lifecycle_policy(struct ecr_call *c);
int op_delete_lifecycle_policy(struct ecr_call *c);
int op_start_lifecycle_policy_preview(struct ecr_call *c);
int op_get_lifecycle_policy_preview(struct ecr_call *c);

#endif
