/*
 * Fuzz target for the ECR JSON request decoder: the body of a control-plane
 * call is decoded the way the dispatcher does (jansson, duplicate keys
 * refused) and validated against the input shape of an operation chosen by
 * the first byte, with botocore's constraints (src/ecr/model.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "ecr/model_gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (model_init(ecr_shapes, ecr_nshapes) < 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    const struct model_operation *op = &ecr_operations[data[0] % ecr_noperations];
    json_error_t err;
    json_t *in = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &err);
    if (!in)
        return 0;
    int rc = model_validate(ecr_shapes, op->input, in);
    /* a refusal always explains itself in AWS's words */
    if (rc < 0 && strncmp(error_message(), "Invalid parameter at '", 22) != 0)
        abort();
    json_decref(in);
    return 0;
}
