/*
 * Unit tests for src/core/util.c: hex, uuids and random strings, base64
 * (RFC 4648 vectors, round trips of every length, and the malformed inputs
 * that must be refused), constant-time comparison, time formatting and
 * parse_u64 at and past its bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/util.h"

static void test_hex(void **state)
{
    char out[16];
    (void)state;
    hex_encode(out, "\x00\x01\xab\xff", 4);
    assert_string_equal(out, "0001abff");
    hex_encode(out, "", 0);
    assert_string_equal(out, "");
}

static void test_uuid(void **state)
{
    char a[37], b[37];
    (void)state;
    for (int n = 0; n < 100; n++) {
        uuid_v4(a);
        assert_int_equal(strlen(a), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(a[i], '-');
            else
                assert_non_null(strchr("0123456789abcdef", a[i]));
        }
        assert_int_equal(a[14], '4');                 /* version 4 */
        assert_non_null(strchr("89ab", a[19]));       /* RFC 4122 variant */
    }
    uuid_v4(b);
    assert_string_not_equal(a, b);
}

static void test_random_string(void **state)
{
    char out[201];
    int seen[3] = {0, 0, 0};
    (void)state;
    random_string(out, 200, "xyz");
    assert_int_equal(strlen(out), 200);
    for (int i = 0; i < 200; i++) {
        assert_non_null(strchr("xyz", out[i]));
        seen[out[i] - 'x']++;
    }
    assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    random_string(out, 0, "ab");
    assert_string_equal(out, "");
    random_string(out, 10, "A");
    assert_string_equal(out, "AAAAAAAAAA");
}

static void expect_decode(const char *in, const char *want, size_t want_len)
{
    size_t len = 999;
    unsigned char *out = base64_decode(in, strlen(in), &len);
    if (!out)
        fail_msg("base64_decode(\"%s\") refused", in);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[len], '\0');
    free(out);
}

static void expect_reject(const char *in, size_t n)
{
    size_t len = 999;
    unsigned char *out = base64_decode(in, n, &len);
    if (out)
        fail_msg("base64_decode(\"%.*s\") accepted (%zu bytes)", (int)n, in, len);
    assert_int_equal(len, 999);
}

static void test_base64_vectors(void **state)
{
    static const struct {
        const char *plain, *enc;
    } v[] = {
        {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"AWS:secret", "QVdTOnNlY3JldA=="},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char *e = base64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(e, v[i].enc);
        free(e);
        expect_decode(v[i].enc, v[i].plain, strlen(v[i].plain));
    }
    expect_decode("+/+/", "\xfb\xff\xbf", 3);
    expect_decode("AAAA", "\0\0\0", 3);
}

static void test_base64_round_trip(void **state)
{
    unsigned char data[300];
    (void)state;
    random_bytes(data, sizeof(data));
    data[0] = 0;
    data[1] = 0xff;
    for (size_t n = 0; n <= sizeof(data); n++) {
        char *e = base64_encode(data, n);
        assert_int_equal(strlen(e), 4 * ((n + 2) / 3));
        size_t len;
        unsigned char *d = base64_decode(e, strlen(e), &len);
        assert_non_null(d);
        assert_int_equal(len, n);
        assert_memory_equal(d, data, n);
        free(d);
        free(e);
    }
}

static void test_base64_rejects(void **state)
{
    static const char *const bad[] = {
        "Zg",       /* padding required */
        "Zg=",      /* length not a multiple of 4 */
        "Zm9vY",    "Z===",     "====",     "=Zm9",     "Zm=v",     "Zg=a",     "Zm9v====", "Zg==Zg==",
        "Zm9v\n",   "Zm9 v",    " Zm9v",    "Zm9v ",    "Zm9-",     "Zm9_",     /* url-safe alphabet */
        "Zm9\x80",  "Zm9.",     "Zm9vYg=\n", "A=A=",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_reject(bad[i], strlen(bad[i]));
    expect_reject("Zm9\0", 4);
    expect_reject("\0\0\0\0", 4);
}

static void test_secure_equal(void **state)
{
    (void)state;
    assert_true(secure_equal("abc", 3, "abc", 3));
    assert_false(secure_equal("abc", 3, "abd", 3));
    assert_false(secure_equal("abc", 3, "abcd", 4));
    assert_false(secure_equal("abc", 3, "ab", 2));
    assert_true(secure_equal("", 0, "", 0));
    assert_true(secure_equal("a\0b", 3, "a\0b", 3));
    assert_false(secure_equal("a\0b", 3, "a\0c", 3));
}

static void test_time(void **state)
{
    char iso[32], http[40];
    (void)state;
    format_time_iso(iso, 0);
    assert_string_equal(iso, "1970-01-01T00:00:00.000Z");
    format_time_iso(iso, 1795435200123);
    assert_string_equal(iso, "2026-11-23T12:00:00.123Z");
    format_time_iso(iso, 951782400007); /* leap day */
    assert_string_equal(iso, "2000-02-29T00:00:00.007Z");
    format_time_http(http, 0);
    assert_string_equal(http, "Thu, 01 Jan 1970 00:00:00 GMT");
    format_time_http(http, 1795435200999);
    assert_string_equal(http, "Mon, 23 Nov 2026 12:00:00 GMT");
    int64_t t = now_ms();
    assert_true(t > 1577836800000); /* after 2020 */
    int64_t a = mono_us(), b = mono_us();
    assert_true(b >= a);
}

static void expect_u64(const char *z, uint64_t max, uint64_t want)
{
    uint64_t v = 12345;
    int rc = parse_u64(slice_from(z), max, &v);
    if (rc != 0 || v != want)
        fail_msg("parse_u64(\"%s\", %llu) = %d, %llu", z, (unsigned long long)max, rc, (unsigned long long)v);
}

static void expect_u64_invalid(const char *z, uint64_t max)
{
    uint64_t v = 12345;
    int rc = parse_u64(slice_from(z), max, &v);
    if (rc != E_INVALID)
        fail_msg("parse_u64(\"%s\", %llu) = %d (%llu), want E_INVALID", z, (unsigned long long)max, rc,
                 (unsigned long long)v);
    assert_int_equal(v, 12345);
}

static void test_parse_u64(void **state)
{
    (void)state;
    expect_u64("0", 0, 0);
    expect_u64("7", 10, 7);
    expect_u64("10", 10, 10);
    expect_u64("00010", 10, 10);
    expect_u64("65535", 65535, 65535);
    expect_u64("18446744073709551615", UINT64_MAX, UINT64_MAX);
    expect_u64("9223372036854775807", INT64_MAX, INT64_MAX);
    expect_u64("00000000000000000001", UINT64_MAX, 1); /* 20 digits */
    expect_u64("5", 5, 5);
    expect_u64("9", 9, 9);

    expect_u64_invalid("11", 10);
    expect_u64_invalid("65536", 65535);
    expect_u64_invalid("18446744073709551616", UINT64_MAX);
    expect_u64_invalid("99999999999999999999", UINT64_MAX);
    expect_u64_invalid("9223372036854775808", INT64_MAX);
    expect_u64_invalid("000000000000000000001", UINT64_MAX); /* more than 20 characters */
    /* bounds below 9: a digit larger than the bound itself */
    expect_u64_invalid("1", 0);
    expect_u64_invalid("6", 5);
    expect_u64_invalid("9", 8);
    expect_u64_invalid("10", 9);
    expect_u64_invalid("", 100);
    expect_u64_invalid("-1", 100);
    expect_u64_invalid("+1", 100);
    expect_u64_invalid(" 1", 100);
    expect_u64_invalid("1 ", 100);
    expect_u64_invalid("1.0", 100);
    expect_u64_invalid("0x1", 100);
    expect_u64_invalid("1e2", 1000);
    expect_u64_invalid("\xd9\xa1", 100); /* ARABIC-INDIC DIGIT ONE */

    /* a slice: bytes after len are not read */
    uint64_t v;
    assert_int_equal(parse_u64((struct slice){"123abc", 3}, 1000, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(parse_u64((struct slice){"1\0", 2}, 1000, &v), E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_random_string),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_base64_rejects),
        cmocka_unit_test(test_secure_equal),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_parse_u64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
