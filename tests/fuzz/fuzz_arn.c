/*
 * libFuzzer target for the ARN parser (src/policy/arn.c) and its helpers.
 * A parse that succeeds must give back the input: "arn:" and the five
 * fields joined by ':' are the input's bytes, every field lies inside it,
 * and no field but the resource holds a colon. The helpers may only accept
 * what they promise (a 12-digit account, an "ecr" repository, an "iam"
 * principal).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "policy/arn.h"
#include "check.h"

static int inside(struct slice f, struct slice z)
{
    return f.len == 0 || (f.base >= z.base && f.base + f.len <= z.base + z.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice z = {(const char *)data, size};
    struct arn a;
    struct slice name, user;
    bool root;
    int rc = arn_parse(&a, z);
    CHECK(rc == 0 || rc == E_INVALID);
    error_clear();
    if (rc < 0)
        return 0;
    const struct slice *f[5] = {&a.partition, &a.service, &a.region, &a.account, &a.resource};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    buf_puts(&b, "arn");
    for (int i = 0; i < 5; i++) {
        CHECK(inside(*f[i], z));
        CHECK(i == 4 || !memchr(f[i]->base, ':', f[i]->len));
        buf_putc(&b, ':');
        buf_put(&b, f[i]->base, f[i]->len);
    }
    CHECK(b.len == z.len && memcmp(b.ptr, z.base, z.len) == 0);
    CHECK(a.partition.len && a.service.len && a.resource.len);
    buf_release(&b);

    if (arn_ecr_repository(&a, &name)) {
        CHECK(arn_account_id(a.account) && slice_eq(a.service, "ecr") && name.len > 0 && inside(name, z));
        CHECK(name.base + name.len == z.base + z.len);
    }
    if (arn_iam_principal(&a, &root, &user) == 0) {
        CHECK(slice_eq(a.service, "iam") && arn_account_id(a.account));
        CHECK(root ? slice_eq(a.resource, "root") : (user.len > 0 && inside(user, z) && !memchr(user.base, '/', user.len)));
    }
    error_clear();
    /* as a C string, the way most callers hold an ARN */
    char *s = malloc(size + 1);
    char acct[ARN_ACCOUNT_LEN + 1];
    memcpy(s, data, size);
    s[size] = '\0';
    if (arn_account_of(acct, s))
        CHECK(strlen(acct) == ARN_ACCOUNT_LEN && memcmp(acct, a.account.base, ARN_ACCOUNT_LEN) == 0);
    free(s);
    return 0;
}
