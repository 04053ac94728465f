/*
 * A service model as data: the shapes and operations of botocore's
 * service-2.json, generated into <service>/model_gen.c by
 * scripts/gen_model.py, and the validator that checks a request against
 * them the way the service does (required members, types, min/max,
 * patterns, enums). Shared by every AWS-protocol adapter (ecr/ for JSON 1.1,
 * iam/ for Query); it depends on core/ only.
 */
#ifndef BERTH_MODEL_MODEL_H
#define BERTH_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum shape_type { SH_STRUCT, SH_LIST, SH_MAP, SH_STRING, SH_INTEGER, SH_LONG, SH_BOOLEAN, SH_BLOB, SH_TIMESTAMP, SH_DOUBLE };

struct model_member {
    const char *name;
    int shape;
    bool required;
};

struct model_shape {
    const char *name;
    enum shape_type type;
    bool has_min, has_max;
    int64_t min, max;
    const char *pattern;       /* POSIX ERE, anchored */
    const char *model_pattern; /* as the model writes it, for messages */
    const char *const *enums;  /* NULL-terminated */
    const struct model_member *members;
    size_t nmembers;
    int item;       /* list */
    int key, value; /* map */
};

struct model_operation {
    const char *name;
    int input; /* shape index, -1 for none */
    const char *errors; /* comma-separated error shape names */
};

/* One error of a service: its code on the wire ("RepositoryNotFoundException",
 * "NoSuchEntity") and the HTTP status it is answered with. Each service's
 * table is generated, indexed by its enum (<service>/model_gen.h). */
struct model_error {
    const char *code;
    unsigned status;
};

/* Compiles the patterns once; E_ERROR if one does not compile (a bug). */
int model_init(const struct model_shape *shapes, size_t n);

const struct model_operation *model_operation_find(const struct model_operation *ops, size_t n, struct slice name);

/* Validates a decoded JSON input (a json_t *) against shape; on failure
 * returns E_INVALID with an AWS-style message as the detail:
 * "Invalid parameter at 'repositoryName' failed to satisfy constraint: '...'". */
int model_validate(const struct model_shape *shapes, int shape, const void *json);

#endif
