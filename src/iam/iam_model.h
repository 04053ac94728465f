/*
 * IAM's service model as data: the shapes and operations of botocore's
 * iam 2010-05-08 service-2.json, generated into model_gen.c by
 * scripts/gen_model.py (python3 scripts/gen_model.py iam 2010-05-08 >
 * src/iam/model_gen.c) and checked by the validator of ecr/model.h.
 */
#ifndef BERTH_IAM_IAM_MODEL_H
#define BERTH_IAM_IAM_MODEL_H

#include "ecr/model.h"

extern const struct model_shape iam_shapes[];
extern const size_t iam_nshapes;
extern const struct model_operation iam_operations[];
extern const size_t iam_noperations;

#endif
