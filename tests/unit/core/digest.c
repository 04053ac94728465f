/*
 * Unit tests for src/core/digest.c: digest_validate on the OCI digest
 * grammar (sha256 and sha512 accepted, uppercase hex and malformed
 * algorithms refused, well-formed unknown algorithms E_UNSUPPORTED), and
 * the streaming hasher against FIPS 180 test vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/digest.h"
#include "core/error.h"

#define E256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define E512                                                                                                               \
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538" \
    "327af927da3e"
#define ABC512                                                                                                             \
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9a" \
    "c94fa54ca49f"

static int validate(const char *z)
{
    return digest_validate(slice_from(z), NULL);
}

static void test_validate_good(void **state)
{
    enum digest_alg alg = 0;
    (void)state;
    assert_int_equal(digest_validate(slice_from("sha256:" E256), &alg), 0);
    assert_int_equal(alg, DIGEST_SHA256);
    assert_int_equal(digest_validate(slice_from("sha512:" E512), &alg), 0);
    assert_int_equal(alg, DIGEST_SHA512);
    assert_int_equal(validate("sha256:0000000000000000000000000000000000000000000000000000000000000000"), 0);
    /* the output is optional, and is left alone on failure */
    alg = 0;
    assert_int_equal(digest_validate(slice_from("sha256:" E256 "0"), &alg), E_INVALID);
    assert_int_equal(alg, 0);
    /* a slice: bytes past len are not part of the digest */
    assert_int_equal(digest_validate((struct slice){"sha256:" E256 "XYZ", 71}, NULL), 0);
    assert_true(strlen("sha512:" E512) < DIGEST_MAX);
}

static void test_validate_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "sha256",
        ":" E256,
        "sha256:",
        "sha256" E256,
        "sha256:" E256 "0",                         /* 65 hex */
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", /* 63 hex */
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", /* uppercase hex */
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85G",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85=",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85-",
        "sha512:" E256,
        "sha512:" E512 "00",
        "SHA256:" E256,                             /* uppercase algorithm */
        "Sha256:" E256,
        "sha256 :" E256,
        " sha256:" E256,
        "sha256:" E256 " ",
        "sha256:" E256 "\n",
        "sha256::" E256,
        "sha256:sha256:" E256,
        "sha_256:",                                 /* unknown alg, empty encoded */
        "md5:",
        "+sha256:abc",                              /* separators only between components */
        "sha256+:abc",
        "sha+_256:abc",
        "-:abc",
        "..:abc",
        "sha256/x:abc",
        "sha256:ab/c",                              /* encoded outside [a-zA-Z0-9=_-] */
        "sha256:ab.c",
        "md5:ab+c",
        "md5:ab c",
        "md5:ab%2fc",
        "sha256:../../../../etc/passwd",
        "sha256:\xe3\xb0",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = validate(bad[i]);
        if (rc != E_INVALID)
            fail_msg("digest_validate(\"%s\") = %d, want E_INVALID", bad[i], rc);
    }
    assert_int_equal(digest_validate((struct slice){NULL, 0}, NULL), E_INVALID);
    assert_int_equal(digest_validate((struct slice){"sha256:" E256, 70}, NULL), E_INVALID);
    assert_int_equal(digest_validate((struct slice){"sha256:\0" E256, 72}, NULL), E_INVALID);
    /* the detail quotes the input */
    validate("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
    assert_non_null(strstr(error_message(), "invalid hex in digest 'sha256:E3B0"));
}

static void test_validate_unsupported(void **state)
{
    static const char *const unknown[] = {
        "sha384:" "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
        "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
        "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
        "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "sha256x:" E256,
        "a.b_c-d+e:x=Y_-9",
        "0:0",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        int rc = validate(unknown[i]);
        if (rc != E_UNSUPPORTED)
            fail_msg("digest_validate(\"%s\") = %d, want E_UNSUPPORTED", unknown[i], rc);
    }
    validate("md5:d41d8cd98f00b204e9800998ecf8427e");
    assert_string_equal(error_message(), "unsupported digest algorithm 'md5'");
}

static void test_long_input_message(void **state)
{
    char z[5000];
    (void)state;
    memset(z, 'a', sizeof(z));
    memcpy(z, "sha256:", 7);
    assert_int_equal(digest_validate((struct slice){z, sizeof(z)}, NULL), E_INVALID);
    assert_true(strlen(error_message()) < 300); /* quoted, not copied whole */
    memset(z, 'a', sizeof(z));
    z[4000] = ':';
    assert_int_equal(digest_validate((struct slice){z, sizeof(z)}, NULL), E_UNSUPPORTED);
    assert_true(strlen(error_message()) < 100);
}

static void expect_hash(enum digest_alg alg, const void *data, size_t n, const char *want)
{
    struct hasher h;
    char out[DIGEST_MAX];
    hasher_init(&h, alg);
    hasher_update(&h, data, n);
    hasher_final(&h, out);
    assert_string_equal(out, want);
    assert_null(h.ctx); /* final releases */
    hasher_release(&h); /* and releasing again is harmless */
}

static void test_vectors(void **state)
{
    char out[DIGEST_MAX];
    (void)state;
    expect_hash(DIGEST_SHA256, "", 0, "sha256:" E256);
    expect_hash(DIGEST_SHA256, "abc", 3, "sha256:" ABC256);
    expect_hash(DIGEST_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect_hash(DIGEST_SHA512, "", 0, "sha512:" E512);
    expect_hash(DIGEST_SHA512, "abc", 3, "sha512:" ABC512);
    digest_sha256(out, "abc", 3);
    assert_string_equal(out, "sha256:" ABC256);
    digest_sha256(out, NULL, 0);
    assert_string_equal(out, "sha256:" E256);
    /* what the hasher writes always validates */
    assert_int_equal(validate(out), 0);
}

static void test_million_a_in_pieces(void **state)
{
    struct hasher h;
    char out[DIGEST_MAX];
    char *a = malloc(1000000);
    (void)state;
    memset(a, 'a', 1000000);
    hasher_init(&h, DIGEST_SHA256);
    /* uneven pieces, including empty ones */
    size_t done = 0, step = 0;
    while (done < 1000000) {
        size_t n = (step * 7919) % 65537;
        if (n > 1000000 - done)
            n = 1000000 - done;
        hasher_update(&h, a + done, n);
        done += n;
        step++;
    }
    hasher_final(&h, out);
    assert_string_equal(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    hasher_init(&h, DIGEST_SHA512);
    hasher_update(&h, a, 1000000);
    hasher_final(&h, out);
    assert_string_equal(out, "sha512:e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce57"
                             "7c31beb009c5c2c49aa2e4eadb217ad8cc09b");
    free(a);
}

static void test_copy(void **state)
{
    struct hasher h, copy;
    char a[DIGEST_MAX], b[DIGEST_MAX];
    (void)state;
    hasher_init(&h, DIGEST_SHA256);
    hasher_update(&h, "ab", 2);
    hasher_init(&copy, DIGEST_SHA512); /* the copy takes the source's algorithm */
    hasher_copy(&copy, &h);
    assert_int_equal(copy.alg, DIGEST_SHA256);
    hasher_update(&copy, "c", 1);
    hasher_final(&copy, a);
    assert_string_equal(a, "sha256:" ABC256);
    /* the original continues unaffected */
    hasher_update(&h, "c", 1);
    hasher_final(&h, b);
    assert_string_equal(b, "sha256:" ABC256);

    hasher_init(&h, DIGEST_SHA256);
    hasher_init(&copy, DIGEST_SHA256);
    hasher_copy(&copy, &h);
    hasher_final(&copy, a);
    assert_string_equal(a, "sha256:" E256);
    hasher_release(&h); /* abandon without finalising */
    assert_null(h.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_good),      cmocka_unit_test(test_validate_bad),
        cmocka_unit_test(test_validate_unsupported), cmocka_unit_test(test_long_input_message),
        cmocka_unit_test(test_vectors),            cmocka_unit_test(test_million_a_in_pieces),
        cmocka_unit_test(test_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
