/*
 * Unit tests for src/registry/range.c: the Range header of blob GETs
 * (bytes=a-b, a-, -suffix; multi-range and other units rejected;
 * unsatisfiable ranges as E_RANGE; numbers past 2^62) and the Content-Range
 * of upload chunks in the forms clients send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "registry/range.h"

#define BIG ((uint64_t)1 << 62)

static void expect_range(const char *h, uint64_t size, uint64_t first, uint64_t last)
{
    uint64_t f = 12345, l = 12345;
    int rc = range_parse(slice_from(h), size, &f, &l);
    if (rc != 0)
        fail_msg("range_parse(\"%s\", %llu) = %d (%s), want %llu-%llu", h, (unsigned long long)size, rc, error_message(),
                 (unsigned long long)first, (unsigned long long)last);
    if (f != first || l != last)
        fail_msg("range_parse(\"%s\", %llu) = %llu-%llu, want %llu-%llu", h, (unsigned long long)size,
                 (unsigned long long)f, (unsigned long long)l, (unsigned long long)first, (unsigned long long)last);
}

static void expect_range_error(const char *h, uint64_t size, int want)
{
    uint64_t f = 12345, l = 12345;
    int rc = range_parse(slice_from(h), size, &f, &l);
    if (rc != want)
        fail_msg("range_parse(\"%s\", %llu) = %d, want %d", h, (unsigned long long)size, rc, want);
    /* outputs are untouched on failure */
    assert_int_equal(f, 12345);
    assert_int_equal(l, 12345);
}

static void test_range_forms(void **state)
{
    (void)state;
    expect_range("bytes=0-0", 10, 0, 0);
    expect_range("bytes=0-9", 10, 0, 9);
    expect_range("bytes=2-5", 10, 2, 5);
    expect_range("bytes=9-9", 10, 9, 9);
    expect_range("bytes=3-", 10, 3, 9);
    expect_range("bytes=0-", 10, 0, 9);
    expect_range("bytes=9-", 10, 9, 9);
    expect_range("bytes=-1", 10, 9, 9);
    expect_range("bytes=-4", 10, 6, 9);
    expect_range("bytes=-10", 10, 0, 9);
    expect_range("bytes=-11", 10, 0, 9); /* longer suffix: whole blob */
    expect_range("bytes=0-0", 1, 0, 0);
    expect_range("bytes=-1", 1, 0, 0);
    /* last past the end is clamped */
    expect_range("bytes=5-100", 10, 5, 9);
    expect_range("bytes=0-10", 10, 0, 9);
    /* whitespace around the spec and its numbers */
    expect_range("  bytes=1-2  ", 10, 1, 2);
    expect_range("bytes= 1 - 2 ", 10, 1, 2);
    expect_range("bytes=\t-3", 10, 7, 9);
    expect_range("bytes=007-008", 10, 7, 8);
}

static void test_range_unsatisfiable(void **state)
{
    (void)state;
    expect_range_error("bytes=10-", 10, E_RANGE);
    expect_range_error("bytes=10-20", 10, E_RANGE);
    expect_range_error("bytes=11-11", 10, E_RANGE);
    expect_range_error("bytes=0-", 0, E_RANGE);
    expect_range_error("bytes=0-0", 0, E_RANGE);
    expect_range_error("bytes=-1", 0, E_RANGE);
    expect_range_error("bytes=-0", 10, E_RANGE);
    expect_range_error("bytes=-000", 10, E_RANGE);
}

static void test_range_malformed(void **state)
{
    (void)state;
    expect_range_error("", 10, E_INVALID);
    expect_range_error("bytes", 10, E_INVALID);
    expect_range_error("bytes=", 10, E_INVALID);
    expect_range_error("bytes=-", 10, E_INVALID);
    expect_range_error("bytes=5", 10, E_INVALID);
    expect_range_error("bytes=a-b", 10, E_INVALID);
    expect_range_error("bytes=1-a", 10, E_INVALID);
    expect_range_error("bytes=+1-2", 10, E_INVALID);
    expect_range_error("bytes=1-+2", 10, E_INVALID);
    expect_range_error("bytes=--1", 10, E_INVALID);
    expect_range_error("bytes=1--2", 10, E_INVALID);
    expect_range_error("bytes=1-2-3", 10, E_INVALID);
    expect_range_error("bytes=0x1-2", 10, E_INVALID);
    expect_range_error("bytes=1 2-3", 10, E_INVALID);
    expect_range_error("bytes=5-3", 10, E_INVALID); /* last before first: ignore the header */
    expect_range_error("bytes=5-3", 0, E_INVALID);
    expect_range_error("items=0-1", 10, E_INVALID);
    expect_range_error("bytes 0-1", 10, E_INVALID);
    expect_range_error("bytes:0-1", 10, E_INVALID);
    expect_range_error("bytes=0-1,3-4", 10, E_INVALID);
    expect_range_error("bytes=0-1, 3-4", 10, E_INVALID);
    expect_range_error("bytes=-1,-2", 10, E_INVALID);
    expect_range_error("bytes=,0-1", 10, E_INVALID);
    expect_range_error("bytes=0-1,", 10, E_INVALID);
    /* the header is a slice: bytes past len are not read */
    uint64_t f, l;
    assert_int_equal(range_parse((struct slice){"bytes=1-2,5-6", 9}, 10, &f, &l), 0);
    assert_int_equal(f, 1);
    assert_int_equal(l, 2);
    assert_int_equal(range_parse((struct slice){"bytes=1-2", 6}, 10, &f, &l), E_INVALID);
}

static void test_range_overflow(void **state)
{
    (void)state;
    /* an end beyond any size means "to the end" (RFC 9110 14.1.2) */
    expect_range("bytes=0-99999999999999999999999999", 10, 0, 9);
    expect_range("bytes=0-18446744073709551615", 10, 0, 9);
    expect_range("bytes=0-18446744073709551616", 10, 0, 9);
    expect_range("bytes=3-4611686018427387904", 10, 3, 9);
    /* a suffix longer than the blob is the whole blob */
    expect_range("bytes=-99999999999999999999999999", 10, 0, 9);
    expect_range("bytes=-18446744073709551615", 10, 0, 9);
    /* a start beyond the blob is unsatisfiable however it is written */
    expect_range_error("bytes=18446744073709551615-", 10, E_RANGE);
    expect_range_error("bytes=99999999999999999999999999-", 10, E_RANGE);
    expect_range_error("bytes=99999999999999999999999999-99999999999999999999999999", 10, E_RANGE);
    expect_range_error("bytes=99999999999999999999999999-5", 10, E_INVALID);
    /* huge blobs */
    expect_range("bytes=0-", BIG - 1, 0, BIG - 2);
    expect_range("bytes=-1", UINT64_MAX, UINT64_MAX - 1, UINT64_MAX - 1);
    expect_range("bytes=-99999999999999999999", UINT64_MAX, UINT64_MAX - BIG, UINT64_MAX - 1);
    expect_range("bytes=4611686018427387903-", UINT64_MAX, BIG - 1, UINT64_MAX - 1);
    expect_range("bytes=5-", UINT64_MAX, 5, UINT64_MAX - 1);
}

static void expect_cr(const char *h, uint64_t first, uint64_t last)
{
    uint64_t f = 0, l = 0;
    int rc = content_range_parse(slice_from(h), &f, &l);
    if (rc != 0)
        fail_msg("content_range_parse(\"%s\") = %d (%s)", h, rc, error_message());
    if (f != first || l != last)
        fail_msg("content_range_parse(\"%s\") = %llu-%llu", h, (unsigned long long)f, (unsigned long long)l);
}

static void expect_cr_invalid(const char *h)
{
    uint64_t f, l;
    int rc = content_range_parse(slice_from(h), &f, &l);
    if (rc != E_INVALID)
        fail_msg("content_range_parse(\"%s\") = %d, want E_INVALID", h, rc);
}

static void test_content_range(void **state)
{
    (void)state;
    expect_cr("0-0", 0, 0);
    expect_cr("0-99", 0, 99);
    expect_cr("100-199", 100, 199);
    expect_cr(" 5-6 ", 5, 6);
    expect_cr("bytes=0-99", 0, 99);
    expect_cr("bytes 0-99/100", 0, 99);
    expect_cr("bytes 0-99/*", 0, 99);
    expect_cr("bytes=100-199/*", 100, 199);
    expect_cr("4611686018427387903-4611686018427387904", BIG - 1, BIG);

    expect_cr_invalid("");
    expect_cr_invalid("-");
    expect_cr_invalid("0");
    expect_cr_invalid("0-");
    expect_cr_invalid("-99");
    expect_cr_invalid("5-4");
    expect_cr_invalid("a-b");
    expect_cr_invalid("0-99/100"); /* a total only after the unit */
    expect_cr_invalid("bytes */100");
    expect_cr_invalid("bytes 0-99,100-199/*");
    expect_cr_invalid("0--1");
    expect_cr_invalid("+0-1");
    expect_cr_invalid("0-18446744073709551615");
    expect_cr_invalid("0-4611686018427387905");
    expect_cr_invalid("99999999999999999999999-99999999999999999999999");
    expect_cr_invalid("bytes=");
    expect_cr_invalid("bytes ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_forms),        cmocka_unit_test(test_range_unsatisfiable),
        cmocka_unit_test(test_range_malformed),    cmocka_unit_test(test_range_overflow),
        cmocka_unit_test(test_content_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
