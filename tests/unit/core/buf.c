/*
 * Unit tests for src/core/buf.c: the slice helpers and the bounded growable
 * string (always NUL-terminated, never NULL, E_TOOBIG exactly past its
 * maximum, content untouched by a refused write).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"

static void test_slices(void **state)
{
    (void)state;
    struct slice s = slice_from("hello");
    assert_int_equal(s.len, 5);
    assert_int_equal(slice_from(NULL).len, 0);
    assert_int_equal(slice_from("").len, 0);
    assert_int_equal(SLICE_LIT("abc").len, 3);
    assert_true(slice_eq(s, "hello"));
    assert_false(slice_eq(s, "hell"));
    assert_false(slice_eq(s, "hello!"));
    assert_false(slice_eq(s, "HELLO"));
    assert_true(slice_eq_nocase(s, "HeLLo"));
    assert_false(slice_eq_nocase(s, "HeLL"));
    assert_true(slice_eq(slice_from(""), ""));
    assert_true(slice_starts_with(s, ""));
    assert_true(slice_starts_with(s, "he"));
    assert_true(slice_starts_with(s, "hello"));
    assert_false(slice_starts_with(s, "hello!"));
    assert_false(slice_starts_with(s, "H"));
    /* only len bytes count */
    struct slice part = {"hello", 3};
    assert_true(slice_eq(part, "hel"));
    assert_false(slice_starts_with(part, "hell"));
    struct slice nul = {"a\0b", 3};
    assert_false(slice_eq(nul, "a"));
    /* empty slices with no base at all (a zeroed struct, slice_from(NULL)) */
    struct slice none = {NULL, 0};
    assert_true(slice_eq(none, ""));
    assert_true(slice_eq_nocase(none, ""));
    assert_true(slice_starts_with(none, ""));
    assert_false(slice_eq(none, "a"));
    assert_false(slice_starts_with(none, "a"));
    assert_true(slice_eq(slice_from(NULL), ""));
}

static void test_init_release(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 16);
    assert_non_null(b.ptr);
    assert_string_equal(b.ptr, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 16);
    buf_reset(&b); /* on the shared empty string: a no-op */
    assert_string_equal(b.ptr, "");
    buf_release(&b); /* nothing allocated yet */
    assert_non_null(b.ptr);
    assert_int_equal(b.max, 16);
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_string_equal(b.ptr, "abc");
    buf_release(&b);
    assert_string_equal(b.ptr, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 16); /* the limit survives release */
    assert_int_equal(buf_puts(&b, "0123456789abcdef"), 0);
    buf_release(&b);
}

static void test_limits(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "1234"), 0);
    assert_int_equal(buf_put(&b, "5678", 4), 0); /* exactly at max */
    assert_string_equal(b.ptr, "12345678");
    assert_int_equal(b.len, 8);
    error_clear();
    assert_int_equal(buf_putc(&b, 'x'), E_TOOBIG);
    assert_string_equal(error_message(), "content exceeds the limit of 8 bytes");
    assert_int_equal(buf_puts(&b, "x"), E_TOOBIG);
    assert_int_equal(buf_printf(&b, "%d", 1), E_TOOBIG);
    assert_int_equal(buf_put(&b, "", 0), 0); /* nothing is always fine */
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    assert_string_equal(b.ptr, "12345678"); /* untouched by refusals */
    assert_int_equal(b.len, 8);
    buf_reset(&b);
    assert_string_equal(b.ptr, "");
    assert_int_equal(b.len, 0);
    /* a single write larger than the limit, and one that would wrap size_t */
    assert_int_equal(buf_put(&b, "123456789", 9), E_TOOBIG);
    assert_int_equal(buf_put(&b, "x", SIZE_MAX), E_TOOBIG);
    assert_int_equal(buf_put(&b, "x", SIZE_MAX - 2), E_TOOBIG);
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_printf(&b, "%09d", 7), E_TOOBIG);
    assert_int_equal(buf_printf(&b, "%08d", 7), 0);
    assert_string_equal(b.ptr, "00000007");
    buf_release(&b);

    /* a zero limit refuses everything but nothing */
    buf_init(&b, 0);
    assert_int_equal(buf_putc(&b, 'a'), E_TOOBIG);
    assert_int_equal(buf_put(&b, "a", 0), 0);
    assert_string_equal(b.ptr, "");
    buf_release(&b);

    /* a limit that is not a power of two, reached in small steps */
    buf_init(&b, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
    assert_int_equal(buf_putc(&b, 'z'), E_TOOBIG);
    assert_int_equal(strlen(b.ptr), 1000);
    assert_true(b.cap >= 1001);
    buf_release(&b);
}

static void test_growth(void **state)
{
    struct buf b;
    char chunk[1000];
    (void)state;
    memset(chunk, 'q', sizeof(chunk));
    buf_init(&b, BUF_UNLIMITED);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf_put(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 1000000);
    assert_int_equal(b.ptr[b.len], '\0');
    assert_int_equal(b.ptr[999999], 'q');
    assert_int_equal(buf_printf(&b, "%s-%d-%c", "end", 42, '!'), 0);
    assert_string_equal(b.ptr + 1000000, "end-42-!");
    /* binary content with NULs keeps its length */
    buf_reset(&b);
    assert_int_equal(buf_put(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.ptr, "a\0b", 4);
    buf_release(&b);
}

static void test_detach(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 32);
    char *z = buf_detach(&b); /* never allocated: still a string the caller frees */
    assert_non_null(z);
    assert_string_equal(z, "");
    free(z);
    assert_int_equal(buf_printf(&b, "%s=%u", "n", 7u), 0);
    z = buf_detach(&b);
    assert_string_equal(z, "n=7");
    assert_string_equal(b.ptr, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(b.max, 32);
    assert_int_equal(buf_puts(&b, "again"), 0); /* b is usable and independent */
    assert_string_equal(z, "n=7");
    free(z);
    buf_release(&b);
}

static int vput(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

static void test_vprintf(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 10);
    assert_int_equal(vput(&b, "%s", "abc"), 0);
    assert_int_equal(vput(&b, "%d", 12345), 0);
    assert_int_equal(vput(&b, "%s", "xyz"), E_TOOBIG);
    assert_int_equal(vput(&b, "%s", "xy"), 0);
    assert_string_equal(b.ptr, "abc12345xy");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slices), cmocka_unit_test(test_init_release), cmocka_unit_test(test_limits),
        cmocka_unit_test(test_growth), cmocka_unit_test(test_detach),       cmocka_unit_test(test_vprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
