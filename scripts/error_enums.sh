#!/bin/sh
# Rewrites error codes written as strings at the call sites of ecr_fail()
# and iam_fail() into the enums generated from the models (ecr/model_gen.h,
# iam/model_gen.h):
#
#   ecr_fail(c, "RepositoryNotFoundException", ...)  ->  ecr_fail(c, ECR_REPOSITORY_NOT_FOUND, ...)
#   iam_fail(c, "NoSuchEntity", ...)                 ->  iam_fail(c, IAM_NO_SUCH_ENTITY, ...)
#
# and the error that ecr/layers.c's open_session() hands on to ecr_fail().
# Idempotent: run it again after merging branches that add call sites.
#
#   sh scripts/error_enums.sh [FILE...]      (default: src/ecr/*.c src/iam/*.c)
set -e
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- src/ecr/*.c src/iam/*.c
{
    python3 scripts/gen_model.py --sed ecr 2015-09-21 iam 2010-05-08
    echo 's/const char \*busy_type/enum ecr_error busy_type/'
} | sed -E -i -f /dev/stdin "$@"
