/*
 * A caller for unit tests that build audit records: an account's root
 * (user NULL) or one of its IAM users, with the ARN and key ID they get.
 */
#ifndef BERTH_TESTS_PRINCIPAL_H
#define BERTH_TESTS_PRINCIPAL_H

#include <stdio.h>
#include <string.h>

#include "auth/auth.h"

static inline void test_principal(struct principal *p, const char *account, const char *user)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->account_id, sizeof(p->account_id), "%s", account);
    snprintf(p->access_key_id, sizeof(p->access_key_id), "AKIA%s", user ? "USER" : "ROOT");
    if (user) {
        snprintf(p->user_name, sizeof(p->user_name), "%s", user);
        snprintf(p->user_id, sizeof(p->user_id), "AIDAEXAMPLE");
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:user/%s", account, user);
    } else {
        p->is_root = true;
        snprintf(p->arn, sizeof(p->arn), "arn:aws:iam::%s:root", account);
    }
}

#endif
