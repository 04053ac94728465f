/*
 * PLACEHOLDER until this family is written: every operation answers
 * UnsupportedOperationException.
 */
#include "ecr/ops.h"

int op_create_repository(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_describe_repositories(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_delete_repository(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_put_image_tag_mutability(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_put_image_scanning_configuration(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_tag_resource(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_untag_resource(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_list_tags_for_resource(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_describe_registry(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_get_account_setting(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

int op_put_account_setting(struct ecr_call *c)
{
    return ecr_fail(c, "UnsupportedOperationException", "not implemented yet");
}

