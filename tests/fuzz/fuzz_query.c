/*
 * libFuzzer target for the AWS Query request decoder (src/iam/query.c):
 * every input is parsed as a form body; what parses is turned into the
 * input structure of the operation its Action names (when IAM's model has
 * it) and of a few operations with lists and nested structures, and each
 * result is checked by the model validator, as the IAM surface does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "iam/model_gen.h"
#include "iam/query.h"

static void build(const struct query_form *f, const char *op)
{
    const struct model_operation *mop = model_operation_find(iam_operations, iam_noperations, slice_from(op));
    json_t *in = NULL;
    if (!mop)
        return;
    if (query_form_to_json(&in, f, iam_shapes, mop->input) == 0) {
        (void)model_validate(iam_shapes, mop->input, in);
        char *s = json_dumps(in, JSON_COMPACT);
        free(s);
    }
    json_decref(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static const char *const fixed[] = {"CreateUser", "CreatePolicy", "TagUser", "UpdateAssumeRolePolicy",
                                        "SimulatePrincipalPolicy", "ListPolicies"};
    struct query_form f;
    if (!ready) {
        if (model_init(iam_shapes, iam_nshapes) < 0)
            abort();
        ready = 1;
    }
    if (query_form_parse(&f, (const char *)data, size) == 0) {
        const char *action = query_form_get(&f, "Action");
        if (action)
            build(&f, action);
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            build(&f, fixed[i]);
    }
    query_form_release(&f);
    return 0;
}
