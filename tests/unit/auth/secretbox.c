/*
 * Unit tests for src/auth/secretbox.c: AES-256-GCM sealing round trips,
 * tamper detection, associated data, the key file (created 0600, reused,
 * refused when the wrong size) and the separation of derived keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/secretbox.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"

#define TOKEN_KEY_VECTOR "7c6af1d9298f45a8caaf7bb5fc60e6a1e41779e2d72344f26cadd9474242c636"
#define BOX_KEY_VECTOR "da53cf336b6b0da89d2cd797fa84eaff1f9d353507eaf33a52626fdbc0d1c6cc"

static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

static void box_with(struct secretbox *sb, unsigned char fill)
{
    unsigned char k[SECRETBOX_KEY_LEN];
    memset(k, fill, sizeof(k));
    secretbox_init(sb, k);
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct secretbox sb;
    char *sealed, *again;
    char out[128];
    size_t n;
    box_with(&sb, 7);
    assert_int_equal(secretbox_seal(&sealed, &sb, secret, strlen(secret), SLICE_LIT("AKIAIOSFODNN7EXAMPLE")), 0);
    assert_true(strncmp(sealed, "sb1:", 4) == 0);
    assert_null(strstr(sealed, "wJalr"));
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, slice_from(sealed), SLICE_LIT("AKIAIOSFODNN7EXAMPLE")), 0);
    assert_int_equal(n, strlen(secret));
    assert_memory_equal(out, secret, n);
    /* a fresh nonce each time */
    assert_int_equal(secretbox_seal(&again, &sb, secret, strlen(secret), SLICE_LIT("AKIAIOSFODNN7EXAMPLE")), 0);
    assert_string_not_equal(sealed, again);
    free(again);
    free(sealed);
    /* empty plaintext and empty associated data */
    assert_int_equal(secretbox_seal(&sealed, &sb, "", 0, SLICE_LIT("")), 0);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, slice_from(sealed), SLICE_LIT("")), 0);
    assert_int_equal(n, 0);
    free(sealed);
    secretbox_release(&sb);
}

static void test_tamper(void **state)
{
    (void)state;
    struct secretbox sb, other;
    char *sealed;
    char out[128];
    size_t n;
    box_with(&sb, 7);
    box_with(&other, 8);
    assert_int_equal(secretbox_seal(&sealed, &sb, secret, strlen(secret), SLICE_LIT("AKID1")), 0);
    size_t len = strlen(sealed);

    /* flip one bit of every decoded byte in turn: nonce, ciphertext and tag */
    size_t rawlen;
    unsigned char *raw = base64_decode(sealed + 4, len - 4, &rawlen);
    assert_non_null(raw);
    assert_int_equal(rawlen, SECRETBOX_NONCE_LEN + strlen(secret) + SECRETBOX_TAG_LEN);
    for (size_t i = 0; i < rawlen; i++) {
        raw[i] ^= 0x01;
        char *b = base64_encode(raw, rawlen);
        char *t = malloc(strlen(b) + 5);
        snprintf(t, strlen(b) + 5, "sb1:%s", b);
        assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, slice_from(t), SLICE_LIT("AKID1")), E_MISMATCH);
        free(t);
        free(b);
        raw[i] ^= 0x01;
    }
    free(raw);

    /* another key, other associated data */
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &other, slice_from(sealed), SLICE_LIT("AKID1")), E_MISMATCH);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, slice_from(sealed), SLICE_LIT("AKID2")), E_MISMATCH);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, slice_from(sealed), SLICE_LIT("")), E_MISMATCH);
    /* truncated */
    assert_int_not_equal(secretbox_open(out, sizeof(out), &n, &sb, (struct slice){sealed, len - 4}, SLICE_LIT("AKID1")), 0);
    /* too small an output buffer */
    assert_int_equal(secretbox_open(out, 8, &n, &sb, slice_from(sealed), SLICE_LIT("AKID1")), E_TOOBIG);
    free(sealed);
}

static void test_malformed(void **state)
{
    (void)state;
    struct secretbox sb;
    char out[64];
    size_t n;
    box_with(&sb, 1);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, SLICE_LIT(""), SLICE_LIT("")), E_INVALID);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, SLICE_LIT("plaintext"), SLICE_LIT("")), E_INVALID);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, SLICE_LIT("sb2:AAAA"), SLICE_LIT("")), E_INVALID);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, SLICE_LIT("sb1:!!!!"), SLICE_LIT("")), E_INVALID);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &sb, SLICE_LIT("sb1:AAAA"), SLICE_LIT("")), E_INVALID);
    char *sealed = (char *)1;
    static char big[SECRETBOX_PLAIN_MAX + 1];
    assert_int_equal(secretbox_seal(&sealed, &sb, big, sizeof(big), SLICE_LIT("")), E_TOOBIG);
    assert_null(sealed);
}

static void test_keyfile(void **state)
{
    (void)state;
    char dir[] = "/tmp/berth-secretbox-XXXXXX";
    char path[256];
    unsigned char a[SECRETBOX_KEY_LEN], b[SECRETBOX_KEY_LEN];
    struct stat st;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/server.key", dir);

    /* created on first use, 0600, exactly 32 bytes */
    assert_int_equal(secretbox_keyfile_load(a, path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, SECRETBOX_KEY_LEN);
    /* reused afterwards */
    assert_int_equal(secretbox_keyfile_load(b, path), 0);
    assert_memory_equal(a, b, SECRETBOX_KEY_LEN);

    /* the derived keys are stable, distinct, and not the master key */
    struct secretbox_keys k1, k2;
    assert_int_equal(secretbox_keys_load(&k1, path), 0);
    secretbox_keys_derive(&k2, a);
    assert_memory_equal(&k1, &k2, sizeof(k1));
    assert_memory_not_equal(k1.box.key, k1.token, SECRETBOX_KEY_LEN);
    assert_memory_not_equal(k1.box.key, a, SECRETBOX_KEY_LEN);
    assert_memory_not_equal(k1.token, a, SECRETBOX_KEY_LEN);
    /* sealed with the loaded key, opened with the derived one */
    char *sealed;
    char out[64];
    size_t n;
    assert_int_equal(secretbox_seal(&sealed, &k1.box, "s3cret", 6, SLICE_LIT("")), 0);
    assert_int_equal(secretbox_open(out, sizeof(out), &n, &k2.box, slice_from(sealed), SLICE_LIT("")), 0);
    free(sealed);
    secretbox_keys_release(&k1);
    secretbox_keys_release(&k2);

    /* a file of the wrong size is refused, not silently replaced */
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("short", 1, 5, f);
    fclose(f);
    assert_int_equal(secretbox_keyfile_load(a, path), E_INVALID);

    /* an unwritable place is an error */
    assert_int_equal(secretbox_keyfile_load(a, "/nonexistent-dir/berth/server.key"), E_ERROR);

    unlink(path);
    rmdir(dir);
}

/* HKDF-SHA256 against an independent computation (Python's hmac module):
 *   prk = HMAC(b"berth", bytes(range(32)))
 *   okm = HMAC(prk, b"berth token v1" + b"\x01")    (and "berth secretbox v1") */
static void test_derivation_vector(void **state)
{
    (void)state;
    unsigned char master[SECRETBOX_KEY_LEN];
    struct secretbox_keys k;
    char hex[2 * SECRETBOX_KEY_LEN + 1];
    for (int i = 0; i < SECRETBOX_KEY_LEN; i++)
        master[i] = (unsigned char)i;
    secretbox_keys_derive(&k, master);
    hex_encode(hex, k.token, SECRETBOX_KEY_LEN);
    assert_string_equal(hex, TOKEN_KEY_VECTOR);
    hex_encode(hex, k.box.key, SECRETBOX_KEY_LEN);
    assert_string_equal(hex, BOX_KEY_VECTOR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),         cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_keyfile),
        cmocka_unit_test(test_derivation_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
