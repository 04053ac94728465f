/*
 * Unit tests for src/auth/token.c: minting and verifying registry login
 * tokens, and refusing expired, malformed, tampered and wrong-key tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/token.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"

#define NOW 1795435200 /* 2026-11-23T12:00:00Z */

static const unsigned char key[TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char other_key[TOKEN_KEY_LEN] = "fedcba9876543210fedcba9876543210";

static char *mint_default(void)
{
    struct token t;
    char *z;
    assert_int_equal(token_init(&t, "123456789012", "arn:aws:iam::123456789012:user/ci/deployer", "AKIAIOSFODNN7EXAMPLE", NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), 0);
    return z;
}

static void test_roundtrip(void **state)
{
    (void)state;
    char *z = mint_default();
    struct token t;
    assert_int_equal(token_verify(&t, key, slice_from(z), NOW + 60), 0);
    assert_string_equal(t.account_id, "123456789012");
    assert_string_equal(t.principal_arn, "arn:aws:iam::123456789012:user/ci/deployer");
    assert_string_equal(t.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_int_equal(t.issued_at, NOW);
    assert_int_equal(t.expires_at, NOW + 12 * 3600);
    /* safe in HTTP Basic and URLs: base64url, unpadded */
    assert_null(strpbrk(z, ":+/= "));
    assert_true(strlen(z) < TOKEN_MAX_LEN);
    free(z);
}

static void test_expiry(void **state)
{
    (void)state;
    char *z = mint_default();
    struct token t;
    assert_int_equal(token_verify(&t, key, slice_from(z), NOW + 12 * 3600 - 1), 0);
    assert_int_equal(token_verify(&t, key, slice_from(z), NOW + 12 * 3600), E_RANGE);
    /* the fields are still there for the log line */
    assert_string_equal(t.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    /* issued well in the future: the minting clock was wrong */
    assert_int_equal(token_verify(&t, key, slice_from(z), NOW - TOKEN_CLOCK_SKEW_SECONDS - 1), E_RANGE);
    assert_int_equal(token_verify(&t, key, slice_from(z), NOW - TOKEN_CLOCK_SKEW_SECONDS), 0);
    free(z);
}

static void test_wrong_key(void **state)
{
    (void)state;
    char *z = mint_default();
    struct token t;
    assert_int_equal(token_verify(&t, other_key, slice_from(z), NOW), E_MISMATCH);
    assert_string_equal(t.account_id, "");
    free(z);
}

static void test_tampered(void **state)
{
    (void)state;
    char *z = mint_default();
    size_t n = strlen(z);
    struct token t;
    /* every single-character change is caught */
    for (size_t i = 0; i < n; i++) {
        char saved = z[i];
        z[i] = saved == 'A' ? 'B' : 'A';
        int rc = token_verify(&t, key, slice_from(z), NOW);
        assert_true(rc == E_MISMATCH || rc == E_INVALID);
        z[i] = saved;
    }
    /* truncated, extended */
    assert_int_equal(token_verify(&t, key, (struct slice){z, n - 4}, NOW), E_MISMATCH);
    char *longer = malloc(n + 5);
    memcpy(longer, z, n);
    memcpy(longer + n, "AAAA", 5);
    assert_int_not_equal(token_verify(&t, key, slice_from(longer), NOW), 0);
    free(longer);
    free(z);
}

static void test_forged_fields(void **state)
{
    (void)state;
    /* a token minted for one account cannot be edited to name another: the
     * MAC covers the fields, so re-encoding with a changed account fails */
    char *z = mint_default();
    size_t n;
    char *std = strdup(z);
    for (char *p = std; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    size_t len = strlen(std);
    char *padded = calloc(len + 4, 1);
    memcpy(padded, std, len);
    while (len % 4)
        padded[len++] = '=';
    unsigned char *raw = base64_decode(padded, len, &n);
    assert_non_null(raw);
    assert_int_equal(raw[0], TOKEN_VERSION);
    assert_memory_equal(raw + 18, "123456789012", 12);
    raw[18 + 11] = '9';
    char *b = base64_encode(raw, n);
    for (char *p = b; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p == '=' ? '\0' : *p;
    struct token t;
    assert_int_equal(token_verify(&t, key, slice_from(b), NOW), E_MISMATCH);
    free(b);
    free(raw);
    free(padded);
    free(std);
    free(z);
}

static void test_malformed(void **state)
{
    (void)state;
    struct token t;
    assert_int_equal(token_verify(&t, key, SLICE_LIT(""), NOW), E_INVALID);
    assert_int_equal(token_verify(&t, key, (struct slice){NULL, 0}, NOW), E_INVALID);
    assert_int_equal(token_verify(&t, key, SLICE_LIT("not a token"), NOW), E_INVALID);
    assert_int_equal(token_verify(&t, key, SLICE_LIT("AAAA"), NOW), E_INVALID);
    assert_int_equal(token_verify(&t, key, SLICE_LIT("A"), NOW), E_INVALID);
    assert_int_equal(token_verify(&t, key, SLICE_LIT("abc:def"), NOW), E_INVALID);
    static char big[TOKEN_MAX_LEN + 8];
    memset(big, 'A', sizeof(big) - 1);
    assert_int_equal(token_verify(&t, key, slice_from(big), NOW), E_INVALID);
    /* another version byte */
    unsigned char raw[80] = {2};
    char *b = base64_encode(raw, sizeof(raw));
    assert_int_equal(token_verify(&t, key, slice_from(b), NOW), E_INVALID);
    free(b);
}

static void test_mint_rejects(void **state)
{
    (void)state;
    struct token t;
    char *z = (char *)1;
    assert_int_equal(token_init(&t, "12345678901", "arn:aws:iam::12345678901:root", "AKID", NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), E_INVALID);
    assert_null(z);
    assert_int_equal(token_init(&t, "12345678901a", "arn", "AKID", NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), E_INVALID);
    assert_int_equal(token_init(&t, "123456789012", "", "AKID", NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), E_INVALID);
    assert_int_equal(token_init(&t, "123456789012", "arn\nx", "AKID", NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), E_INVALID);
    assert_int_equal(token_init(&t, "1234567890123", "arn", "AKID", NOW), E_INVALID);
    assert_int_equal(token_init(&t, "123456789012", "arn", "AKID", NOW), 0);
    t.expires_at = t.issued_at;
    assert_int_equal(token_mint(&z, key, &t), E_INVALID);
}

static void test_longest_fits(void **state)
{
    (void)state;
    struct token t;
    char arn[TOKEN_ARN_MAX + 1], akid[TOKEN_ACCESS_KEY_ID_MAX + 1];
    char *z;
    memset(arn, 'a', TOKEN_ARN_MAX);
    arn[TOKEN_ARN_MAX] = '\0';
    memset(akid, 'K', TOKEN_ACCESS_KEY_ID_MAX);
    akid[TOKEN_ACCESS_KEY_ID_MAX] = '\0';
    assert_int_equal(token_init(&t, "123456789012", arn, akid, NOW), 0);
    assert_int_equal(token_mint(&z, key, &t), 0);
    assert_true(strlen(z) < TOKEN_MAX_LEN);
    struct token u;
    assert_int_equal(token_verify(&u, key, slice_from(z), NOW), 0);
    assert_string_equal(u.principal_arn, arn);
    assert_string_equal(u.access_key_id, akid);
    free(z);
}

static void test_authorization_data(void **state)
{
    (void)state;
    char *z = mint_default();
    char *data = token_authorization_data(z);
    size_t n;
    unsigned char *plain = base64_decode(data, strlen(data), &n);
    assert_non_null(plain);
    assert_memory_equal(plain, "AWS:", 4);
    assert_string_equal((char *)plain + 4, z);
    free(plain);
    free(data);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_expiry),        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_tampered),     cmocka_unit_test(test_forged_fields), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_mint_rejects), cmocka_unit_test(test_longest_fits),  cmocka_unit_test(test_authorization_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
