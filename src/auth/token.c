/*
 * This module implements the registry login tokens of token.h: a versioned
 * binary record, MACed with HMAC-SHA256 and encoded as unpadded base64url,
 * and the "AWS:<token>" pair GetAuthorizationToken hands out (auth/basic.c
 * reads it back).
 */
#include "auth/token.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#define MAC_LEN 32
#define FIXED_LEN (1 + 8 + 8 + 1 + 2 + 1) /* version, times, three lengths */
#define RAW_MAX (FIXED_LEN + TOKEN_ACCOUNT_LEN + TOKEN_ARN_MAX + TOKEN_ACCESS_KEY_ID_MAX + MAC_LEN)

static bool printable(const char *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)z[i] < 0x20 || (unsigned char)z[i] >= 0x7f)
            return false;
    return true;
}

static bool account_ok(const char *z, size_t n)
{
    if (n != TOKEN_ACCOUNT_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (z[i] < '0' || z[i] > '9')
            return false;
    return true;
}

static void mac(unsigned char out[MAC_LEN], const unsigned char key[TOKEN_KEY_LEN], const unsigned char *p, size_t n)
{
    unsigned int len = MAC_LEN;
    if (!HMAC(EVP_sha256(), key, TOKEN_KEY_LEN, p, n, out, &len))
        abort();
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

int token_init(struct token *t, const char *account_id, const char *principal_arn, const char *access_key_id, int64_t now)
{
    memset(t, 0, sizeof(*t));
    if (strlen(account_id) > TOKEN_ACCOUNT_LEN || strlen(principal_arn) > TOKEN_ARN_MAX ||
        strlen(access_key_id) > TOKEN_ACCESS_KEY_ID_MAX)
        return error_set(E_INVALID, "token field too long");
    memcpy(t->account_id, account_id, strlen(account_id) + 1);
    memcpy(t->principal_arn, principal_arn, strlen(principal_arn) + 1);
    memcpy(t->access_key_id, access_key_id, strlen(access_key_id) + 1);
    t->issued_at = now;
    t->expires_at = now + TOKEN_LIFETIME_SECONDS;
    return 0;
}

int token_mint(char **out, const unsigned char key[TOKEN_KEY_LEN], const struct token *t)
{
    unsigned char raw[RAW_MAX];
    size_t na = strnlen(t->account_id, sizeof(t->account_id));
    size_t nr = strnlen(t->principal_arn, sizeof(t->principal_arn));
    size_t nk = strnlen(t->access_key_id, sizeof(t->access_key_id));
    size_t n = 0;

    *out = NULL;
    if (!account_ok(t->account_id, na))
        return error_set(E_INVALID, "token account id '%.*s' is not 12 digits", (int)na, t->account_id);
    if (nr == 0 || nr > TOKEN_ARN_MAX || !printable(t->principal_arn, nr))
        return error_set(E_INVALID, "token principal ARN is empty, too long or not printable");
    if (nk > TOKEN_ACCESS_KEY_ID_MAX || !printable(t->access_key_id, nk))
        return error_set(E_INVALID, "token access key id is too long or not printable");
    if (t->expires_at <= t->issued_at)
        return error_set(E_INVALID, "token expires before it is issued");

    raw[n++] = TOKEN_VERSION;
    put_u64(raw + n, (uint64_t)t->issued_at);
    n += 8;
    put_u64(raw + n, (uint64_t)t->expires_at);
    n += 8;
    raw[n++] = (unsigned char)na;
    memcpy(raw + n, t->account_id, na);
    n += na;
    raw[n++] = (unsigned char)(nr >> 8);
    raw[n++] = (unsigned char)(nr & 0xff);
    memcpy(raw + n, t->principal_arn, nr);
    n += nr;
    raw[n++] = (unsigned char)nk;
    memcpy(raw + n, t->access_key_id, nk);
    n += nk;
    mac(raw + n, key, raw, n);
    n += MAC_LEN;

    /* base64url, unpadded */
    char *b = base64_encode(raw, n);
    size_t len = strlen(b);
    while (len && b[len - 1] == '=')
        len--;
    b[len] = '\0';
    for (size_t i = 0; i < len; i++)
        b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    *out = b;
    return 0;
}

static int malformed(void)
{
    return error_set(E_INVALID, "malformed registry token");
}

int token_verify(struct token *out, const unsigned char key[TOKEN_KEY_LEN], struct slice token, int64_t now)
{
    char b64[TOKEN_MAX_LEN + 4];
    unsigned char expect[MAC_LEN];
    unsigned char *raw = NULL;
    size_t n = 0, at, na, nr, nk;
    int rc;

    memset(out, 0, sizeof(*out));
    if (token.base == NULL || token.len == 0 || token.len >= TOKEN_MAX_LEN || token.len % 4 == 1)
        return malformed();
    /* back to padded standard base64 for the decoder */
    for (size_t i = 0; i < token.len; i++) {
        char c = token.base[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return malformed();
        b64[i] = c;
    }
    n = token.len;
    while (n % 4)
        b64[n++] = '=';
    raw = base64_decode(b64, n, &n);
    if (!raw || n < FIXED_LEN + MAC_LEN || n > RAW_MAX) {
        rc = malformed();
        goto done;
    }
    if (raw[0] != TOKEN_VERSION) {
        rc = error_set(E_INVALID, "unsupported registry token version %u", raw[0]);
        goto done;
    }
    mac(expect, key, raw, n - MAC_LEN);
    if (!secure_equal(expect, MAC_LEN, raw + n - MAC_LEN, MAC_LEN)) {
        rc = error_set(E_MISMATCH, "registry token signature does not match");
        goto done;
    }

    /* authenticated from here on, but still parsed defensively */
    n -= MAC_LEN;
    at = 17;
    na = raw[at++];
    if (at + na + 2 > n || !account_ok((const char *)raw + at, na)) {
        rc = malformed();
        goto done;
    }
    memcpy(out->account_id, raw + at, na);
    at += na;
    nr = (size_t)raw[at] << 8 | raw[at + 1];
    at += 2;
    if (nr == 0 || nr > TOKEN_ARN_MAX || at + nr + 1 > n || !printable((const char *)raw + at, nr)) {
        rc = malformed();
        goto done;
    }
    memcpy(out->principal_arn, raw + at, nr);
    at += nr;
    nk = raw[at++];
    if (nk > TOKEN_ACCESS_KEY_ID_MAX || at + nk != n || !printable((const char *)raw + at, nk)) {
        rc = malformed();
        goto done;
    }
    memcpy(out->access_key_id, raw + at, nk);
    out->issued_at = (int64_t)get_u64(raw + 1);
    out->expires_at = (int64_t)get_u64(raw + 9);
    if (out->expires_at <= out->issued_at) {
        rc = malformed();
        goto done;
    }
    if (now >= out->expires_at) {
        rc = error_set(E_RANGE, "registry token expired");
        goto done;
    }
    if (out->issued_at > now + TOKEN_CLOCK_SKEW_SECONDS) {
        rc = error_set(E_RANGE, "registry token issued in the future");
        goto done;
    }
    rc = 0;
done:
    free(raw);
    if (rc < 0 && rc != E_RANGE)
        memset(out, 0, sizeof(*out));
    return rc;
}

char *token_authorization_data(const char *token)
{
    size_t n = strlen(token);
    char *plain = xmalloc(4 + n + 1);
    memcpy(plain, "AWS:", 4);
    memcpy(plain + 4, token, n + 1);
    char *b = base64_encode(plain, 4 + n);
    OPENSSL_cleanse(plain, 4 + n);
    free(plain);
    return b;
}
