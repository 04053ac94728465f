/*
 * Registry login tokens.
 *
 * ECR's GetAuthorizationToken returns base64("AWS:" + password), valid for
 * 12 hours; `docker login -u AWS` then sends the password as HTTP Basic on
 * every /v2 request. In berth the password is a token the server signs. It
 * names the account, the principal, and the access key id used to mint it
 * (so that deleting the key or its user can invalidate the token: the /v2
 * layer checks the key still exists), and carries the issue and expiry
 * times.
 *
 * Format, version 1, before encoding (integers big-endian):
 *
 *   u8   version (1)
 *   i64  issued_at, seconds since the epoch
 *   i64  expires_at
 *   u8   length, then the 12-digit account id
 *   u16  length, then the principal ARN
 *   u8   length, then the access key id
 *   32   HMAC-SHA256 over everything above, with the token key
 *
 * encoded as base64url without padding: no ':' (safe inside HTTP Basic), no
 * '+' or '/', and under TOKEN_MAX_LEN characters. The key is the "berth
 * token v1" key of auth/secretbox.h. Tokens are not secret from their
 * holder (the fields are readable), only unforgeable.
 */
#ifndef BERTH_AUTH_TOKEN_H
#define BERTH_AUTH_TOKEN_H

#include <stdint.h>

#include "core/buf.h"

#define TOKEN_VERSION 1
#define TOKEN_KEY_LEN 32
#define TOKEN_LIFETIME_SECONDS (12 * 3600)
#define TOKEN_MAX_LEN 2048 /* characters, encoded */
#define TOKEN_ACCOUNT_LEN 12
#define TOKEN_ARN_MAX 1023
#define TOKEN_ACCESS_KEY_ID_MAX 128
#define TOKEN_CLOCK_SKEW_SECONDS 300 /* how far in the future issued_at may be */

struct token {
    char account_id[TOKEN_ACCOUNT_LEN + 1];
    char principal_arn[TOKEN_ARN_MAX + 1];
    char access_key_id[TOKEN_ACCESS_KEY_ID_MAX + 1];
    int64_t issued_at;
    int64_t expires_at;
};

/* Fills t for a token issued now for TOKEN_LIFETIME_SECONDS. E_INVALID when
 * a field does not fit (see token_mint). */
int token_init(struct token *t, const char *account_id, const char *principal_arn, const char *access_key_id, int64_t now);

/*
 * Signs t into *out, a malloc'd NUL-terminated token the caller frees.
 * E_INVALID when the account id is not 12 digits, the ARN is empty or
 * longer than TOKEN_ARN_MAX, a field holds a byte outside printable ASCII,
 * or expires_at is not after issued_at.
 */
int token_mint(char **out, const unsigned char key[TOKEN_KEY_LEN], const struct token *t);

/*
 * Checks a token and fills out with its fields. Returns 0; E_INVALID when it
 * is not a well-formed token (bad encoding, length, version, fields);
 * E_MISMATCH when the MAC does not match (tampered, or another server key);
 * E_RANGE when it has expired at now or claims to be issued in the future.
 * The MAC is checked, in constant time, before any field is trusted.
 */
int token_verify(struct token *out, const unsigned char key[TOKEN_KEY_LEN], struct slice token, int64_t now);

/* base64("AWS:" + token): GetAuthorizationToken's authorizationToken.
 * malloc'd; the caller frees. */
char *token_authorization_data(const char *token);

#endif
