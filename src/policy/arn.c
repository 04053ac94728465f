/*
 * This module implements the parsing of Amazon Resource Names (arn.h): the
 * one place where berth splits an ARN into partition, service, region,
 * account and resource, for the authorizer, the ECR and IAM adapters and the
 * policy simulator alike.
 */
#include "policy/arn.h"

#include <string.h>

#include "core/error.h"

int arn_parse(struct arn *out, struct slice z)
{
    struct slice *fields[4] = {&out->partition, &out->service, &out->region, &out->account};
    const char *p = z.base, *end = z.base + z.len;

    memset(out, 0, sizeof(*out));
    if (z.len < 4 || memcmp(z.base, "arn:", 4) != 0)
        goto invalid;
    p += 4;
    for (int i = 0; i < 4; i++) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (!colon)
            goto invalid;
        *fields[i] = (struct slice){p, (size_t)(colon - p)};
        p = colon + 1;
    }
    out->resource = (struct slice){p, (size_t)(end - p)};
    if (out->partition.len == 0 || out->service.len == 0 || out->resource.len == 0 || memchr(z.base, '\0', z.len))
        goto invalid;
    return 0;

invalid:
    memset(out, 0, sizeof(*out));
    return error_set(E_INVALID, "'%.*s' is not an ARN", (int)(z.len > 300 ? 300 : z.len), z.base);
}

bool arn_account_id(struct slice s)
{
    if (s.len != ARN_ACCOUNT_LEN)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.base[i] < '0' || s.base[i] > '9')
            return false;
    return true;
}

bool arn_account_of(char out[ARN_ACCOUNT_LEN + 1], const char *z)
{
    struct arn a;
    out[0] = '\0';
    if (arn_parse(&a, slice_from(z)) < 0) {
        error_clear();
        return false;
    }
    if (!arn_account_id(a.account))
        return false;
    memcpy(out, a.account.base, ARN_ACCOUNT_LEN);
    out[ARN_ACCOUNT_LEN] = '\0';
    return true;
}

bool arn_ecr_repository(const struct arn *a, struct slice *name_out)
{
    static const char prefix[] = "repository/";
    const size_t n = sizeof(prefix) - 1;
    if (!slice_eq(a->service, "ecr") || !arn_account_id(a->account) || a->resource.len <= n ||
        memcmp(a->resource.base, prefix, n) != 0)
        return false;
    *name_out = (struct slice){a->resource.base + n, a->resource.len - n};
    return true;
}

int arn_iam_principal(const struct arn *a, bool *is_root_out, struct slice *user_out)
{
    *is_root_out = false;
    *user_out = (struct slice){NULL, 0};
    if (!slice_eq(a->service, "iam") || !arn_account_id(a->account) || a->region.len != 0)
        return error_set(E_INVALID, "not the ARN of an IAM principal");
    if (slice_eq(a->resource, "root")) {
        *is_root_out = true;
        return 0;
    }
    if (!slice_starts_with(a->resource, "user/"))
        return error_set(E_INVALID, "not the ARN of an account root or an IAM user");
    const char *last = a->resource.base + a->resource.len;
    const char *name = last;
    while (name > a->resource.base && name[-1] != '/')
        name--;
    if (name == last)
        return error_set(E_INVALID, "the user ARN has no user name");
    *user_out = (struct slice){name, (size_t)(last - name)};
    return 0;
}
