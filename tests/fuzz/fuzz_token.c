/*
 * Fuzz target for what /v2 reads from an Authorization header: the Basic
 * credentials (token_from_basic) and the login token inside them
 * (token_verify), with a fixed key. A token minted with that key must
 * verify; anything else must be refused without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/token.h"
#include "core/error.h"

static const unsigned char key[TOKEN_KEY_LEN] = "berth-fuzz-token-key-0123456789";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice header = {(const char *)data, size};
    struct token t;
    char *password = NULL;
    if (token_from_basic(&password, header) == 0) {
        token_verify(&t, key, slice_from(password), 1800000000);
        free(password);
    }
    /* the raw bytes as a token too */
    int rc = token_verify(&t, key, header, 1800000000);
    if (rc == 0 && (t.expires_at <= t.issued_at || strlen(t.account_id) != 12))
        abort();
    return 0;
}
