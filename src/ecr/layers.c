/*
 * PLACEHOLDER until this family is written: every operation answers
 * UnsupportedOperationException.
 */
#include "ecr/ops.h"

int op_batch_check_layer_availability(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_get_download_url_for_layer(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_initiate_layer_upload(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_upload_layer_part(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_complete_layer_upload(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

