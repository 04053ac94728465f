/*
 * PLACEHOLDER until this family is written: every operation answers
 * UnsupportedOperationException.
 */
#include "ecr/ops.h"

int op_list_images(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_describe_images(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_batch_get_image(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_put_image(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_batch_delete_image(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_list_image_referrers(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

