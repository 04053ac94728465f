/*
 * Fuzz target for what /v2 reads from an Authorization header, with the
 * parser the server runs (auth_identify_registry): the HTTP Basic
 * credentials (basic_parse, src/auth/basic.c) and, for user AWS, the login
 * token that is the password (token_verify), with a fixed key and clock. A
 * parse must give a user without NUL and a password that together are the
 * decoded bytes; a token that verifies must have sane fields; anything else
 * must be refused without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/basic.h"
#include "auth/token.h"
#include "core/error.h"
#include "check.h"

#define NOW 1800000000

static const unsigned char key[TOKEN_KEY_LEN] = "berth-fuzz-token-key-0123456789";

static void check_token(struct slice z)
{
    struct token t;
    int rc = token_verify(&t, key, z, NOW);
    CHECK(rc == 0 || rc == E_INVALID || rc == E_MISMATCH || rc == E_RANGE);
    if (rc == 0)
        CHECK(t.expires_at > t.issued_at && strlen(t.account_id) == TOKEN_ACCOUNT_LEN && t.principal_arn[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice header = {(const char *)data, size};
    struct basic_credentials b;
    int rc = basic_parse(&b, header);
    CHECK(rc == 0 || rc == E_UNAUTH);
    if (rc == 0) {
        CHECK(b.user.base == (const char *)b.raw && !memchr(b.user.base, '\0', b.user.len));
        CHECK(b.user.len + 1 + b.password.len == b.raw_len && b.password.base == b.user.base + b.user.len + 1);
        if (slice_eq(b.user, "AWS"))
            check_token(b.password);
        basic_release(&b);
        CHECK(b.raw == NULL);
    }
    /* the raw bytes as a token too */
    check_token(header);
    return 0;
}
