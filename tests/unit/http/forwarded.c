/*
 * Unit tests for src/http/forwarded.c: the trusted-proxy list (addresses
 * and networks, v4 and v6, refused entries named) and what X-Forwarded-For
 * and X-Forwarded-Proto are taken to say (their last entry only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "http/forwarded.h"

static void test_proxies(void **state)
{
    struct forwarded_proxies p;
    (void)state;
    assert_int_equal(forwarded_proxies_parse(&p, ""), 0);
    assert_int_equal(p.n, 0);
    assert_false(forwarded_proxies_has(&p, "127.0.0.1"));
    assert_int_equal(forwarded_proxies_parse(&p, NULL), 0);
    assert_int_equal(forwarded_proxies_parse(&p, " 127.0.0.1 , 10.1.0.0/16,::1,2001:db8::/32"), 0);
    assert_int_equal(p.n, 4);
    assert_true(forwarded_proxies_has(&p, "127.0.0.1"));
    assert_false(forwarded_proxies_has(&p, "127.0.0.2"));
    assert_true(forwarded_proxies_has(&p, "10.1.255.3"));
    assert_false(forwarded_proxies_has(&p, "10.2.0.1"));
    assert_true(forwarded_proxies_has(&p, "::1"));
    assert_true(forwarded_proxies_has(&p, "2001:db8:7::5"));
    assert_true(forwarded_proxies_has(&p, "::ffff:127.0.0.1")); /* a mapped address is its IPv4 one */
    assert_false(forwarded_proxies_has(&p, ""));
    assert_false(forwarded_proxies_has(&p, NULL));
    assert_false(forwarded_proxies_has(&p, "not an address"));
    forwarded_proxies_release(&p);
    assert_int_equal(p.n, 0);

    const char *bad[] = {"10.0.0.0/33", "127.0.0.1,", ",127.0.0.1", "localhost", "1.2.3.4/x", "::1/129", " , "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(forwarded_proxies_parse(&p, bad[i]), E_INVALID);
        assert_non_null(strstr(error_message(), "is not an address or network"));
        assert_null(p.nets);
    }
}

static void test_forwarded_for(void **state)
{
    char ip[64];
    (void)state;
    assert_int_equal(forwarded_for(ip, sizeof(ip), slice_from("203.0.113.9")), 0);
    assert_string_equal(ip, "203.0.113.9");
    /* the proxy that connected added the last entry; the ones before prove nothing */
    assert_int_equal(forwarded_for(ip, sizeof(ip), slice_from("10.9.9.9, 198.51.100.7")), 0);
    assert_string_equal(ip, "198.51.100.7");
    assert_int_equal(forwarded_for(ip, sizeof(ip), slice_from("evil,2001:db8::7  ")), 0);
    assert_string_equal(ip, "2001:db8::7");
    const char *bad[] = {"", " ", "198.51.100.7,", "unknown", "198.51.100.7:443", "10.0.0.0/8", "1.2.3.4, x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(forwarded_for(ip, sizeof(ip), slice_from(bad[i])), E_INVALID);
    /* no room for the address: refused, not cut */
    assert_int_equal(forwarded_for(ip, 8, slice_from("203.0.113.9")), E_INVALID);
}

static void test_forwarded_proto(void **state)
{
    (void)state;
    assert_int_equal(forwarded_proto(slice_from("https")), 1);
    assert_int_equal(forwarded_proto(slice_from("HTTPS")), 1);
    assert_int_equal(forwarded_proto(slice_from("http")), 0);
    assert_int_equal(forwarded_proto(slice_from("https, http")), 0);
    assert_int_equal(forwarded_proto(slice_from("http, https ")), 1);
    assert_int_equal(forwarded_proto(slice_from("")), E_INVALID);
    assert_int_equal(forwarded_proto(slice_from("ftp")), E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxies),
        cmocka_unit_test(test_forwarded_for),
        cmocka_unit_test(test_forwarded_proto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
