/*
 * Unit tests for src/auth/basic.c: the HTTP Basic credentials /v2 reads,
 * as docker, podman and curl send them, and the malformed values it must
 * refuse with E_UNAUTH (and a message that never repeats the secret).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/basic.h"
#include "auth/token.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"

static void assert_slice(struct slice s, const char *z)
{
    if (s.len != strlen(z) || memcmp(s.base, z, s.len) != 0)
        fail_msg("'%.*s' is not '%s'", (int)s.len, s.base ? s.base : "", z);
}

static void test_docker_login(void **state)
{
    (void)state;
    /* docker sends GetAuthorizationToken's authorizationToken as it is */
    char *data = token_authorization_data("the.login-token_");
    char header[256];
    struct basic_credentials b;
    snprintf(header, sizeof(header), "Basic %s", data);
    assert_int_equal(basic_parse(&b, slice_from(header)), 0);
    assert_slice(b.user, "AWS");
    assert_slice(b.password, "the.login-token_");
    basic_release(&b);
    assert_null(b.raw);
    /* any case of the scheme, extra spaces */
    snprintf(header, sizeof(header), " \tbasic   %s \t", data);
    assert_int_equal(basic_parse(&b, slice_from(header)), 0);
    assert_slice(b.password, "the.login-token_");
    basic_release(&b);
    free(data);
}

static void test_colons_and_empty_fields(void **state)
{
    (void)state;
    struct basic_credentials b;
    char header[128], *enc;

    /* the password is everything after the first colon */
    enc = base64_encode("AWS:a:b:c", 9);
    snprintf(header, sizeof(header), "Basic %s", enc);
    assert_int_equal(basic_parse(&b, slice_from(header)), 0);
    assert_slice(b.user, "AWS");
    assert_slice(b.password, "a:b:c");
    basic_release(&b);
    free(enc);

    enc = base64_encode(":", 1);
    snprintf(header, sizeof(header), "Basic %s", enc);
    assert_int_equal(basic_parse(&b, slice_from(header)), 0);
    assert_int_equal(b.user.len, 0);
    assert_int_equal(b.password.len, 0);
    basic_release(&b);
    free(enc);

    /* a NUL may be in the password (the token check refuses it) but not in the user */
    enc = base64_encode("AWS\0x:pw", 8);
    snprintf(header, sizeof(header), "Basic %s", enc);
    assert_int_equal(basic_parse(&b, slice_from(header)), E_UNAUTH);
    free(enc);
    enc = base64_encode("AWS:p\0w", 7);
    snprintf(header, sizeof(header), "Basic %s", enc);
    assert_int_equal(basic_parse(&b, slice_from(header)), 0);
    assert_int_equal(b.password.len, 3);
    basic_release(&b);
    free(enc);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        const char *message;
    } cases[] = {
        {"", "authentication required"},
        {"   ", "authentication required"},
        {"Basic", "authentication required: use HTTP Basic"},
        {"Bearer abc.def", "authentication required: use HTTP Basic"},
        {"Digest username=\"x\"", "authentication required: use HTTP Basic"},
        {"Basicx QVdTOng=", "authentication required: use HTTP Basic"},
        {"Basic !!!!", "malformed Basic credentials"},
        {"Basic bm9jb2xvbg==", "malformed Basic credentials"}, /* "nocolon" */
        {"Basic  ", "authentication required: use HTTP Basic"},
    };
    struct basic_credentials b;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (basic_parse(&b, slice_from(cases[i].header)) != E_UNAUTH)
            fail_msg("'%s' accepted", cases[i].header);
        assert_string_equal(error_message(), cases[i].message);
        assert_null(b.raw);
    }
    /* over the limit, even when it is valid base64 */
    char *big = malloc(BASIC_MAX_LEN + 16);
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'A', BASIC_MAX_LEN);
    big[6 + BASIC_MAX_LEN] = '\0';
    assert_int_equal(basic_parse(&b, slice_from(big)), E_UNAUTH);
    assert_string_equal(error_message(), "credentials are too long");
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_login),
        cmocka_unit_test(test_colons_and_empty_fields),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
