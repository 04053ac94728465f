/*
 * Unit tests for src/console/session.c: the session cookie among others,
 * quoted and malformed; the two sign-in forms (by account id or alias) and
 * what is not one; and the limit on failed sign-ins per user and per
 * address, its window, its reset on success, and that it is kept in the
 * store (a store closed and opened again still has it). Also
 * auth/signin.c's password policy and Argon2id round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/signin.h"
#include "console/console.h"
#include "core/error.h"
#include "store/store.h"
#include "tmpdir.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    return tmpdir_make(dir, sizeof(dir), "console") < 0 || store_open(dir) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close_thread();
    return tmpdir_remove(dir);
}

#define SID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cookie(void **state)
{
    (void)state;
    char sid[CONSOLE_SESSION_ID_LEN + 1];
    assert_int_equal(console_cookie_session(sid, "berth_console=" SID), 0);
    assert_string_equal(sid, SID);
    assert_int_equal(console_cookie_session(sid, "a=1; berth_console=\"" SID "\" ; b=2"), 0);
    assert_string_equal(sid, SID);
    /* the first well-formed one wins; malformed ones are no id */
    assert_int_equal(console_cookie_session(sid, "berth_console=xyz; berth_console=" SID), 0);
    assert_int_equal(console_cookie_session(sid, "berth_console=" SID "0"), E_NOTFOUND);
    assert_int_equal(console_cookie_session(sid, "xberth_console=" SID), E_NOTFOUND);
    assert_int_equal(console_cookie_session(sid, "berth_console=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
                     E_NOTFOUND);
    assert_int_equal(console_cookie_session(sid, ";;;=;;berth_console"), E_NOTFOUND);
    assert_int_equal(console_cookie_session(sid, NULL), E_NOTFOUND);
}

static void test_signin_forms(void **state)
{
    (void)state;
    struct signin_form f;
    const char *pw = "{\"account\":\"123456789012\",\"user\":\"alice\",\"password\":\"Pass-word-1\"}";
    assert_int_equal(console_signin_parse(&f, pw, strlen(pw)), 0);
    assert_false(f.key_pair);
    assert_string_equal(f.account, "123456789012");
    assert_string_equal(f.user, "alice");
    assert_string_equal(f.password, "Pass-word-1");
    const char *key = "{\"accessKeyId\":\"AKIAEXAMPLE\",\"secretAccessKey\":\"s3cret\"}";
    assert_int_equal(console_signin_parse(&f, key, strlen(key)), 0);
    assert_true(f.key_pair);
    assert_string_equal(f.access_key_id, "AKIAEXAMPLE");
    assert_string_equal(f.secret, "s3cret");
    /* an alias in place of the id, lower-cased */
    const char *alias = "{\"account\":\"My-Team-42\",\"user\":\"alice\",\"password\":\"Pass-word-1\"}";
    assert_int_equal(console_signin_parse(&f, alias, strlen(alias)), 0);
    assert_string_equal(f.account, "my-team-42");
    assert_true(account_alias_valid("abc"));
    assert_true(account_alias_valid("123456789012x"));
    assert_false(account_alias_valid("ab"));
    assert_false(account_alias_valid("-abc"));
    assert_false(account_alias_valid("abc-"));
    assert_false(account_alias_valid("a--b"));
    assert_false(account_alias_valid("a_b"));

    static const char *const bad[] = {
        "", "[]", "{}", "{\"account\":\"123456789012\",\"user\":\"a\"}",
        "{\"account\":\"12345678901_\",\"user\":\"a\",\"password\":\"p\"}",
        "{\"account\":\"a--b\",\"user\":\"a\",\"password\":\"p\"}",
        "{\"account\":\"ab\",\"user\":\"a\",\"password\":\"p\"}",
        "{\"account\":123456789012,\"user\":\"a\",\"password\":\"p\"}",
        "{\"accessKeyId\":\"AKIA\"}",
        "{\"accessKeyId\":\"AKIA\",\"secretAccessKey\":\"s\",\"password\":\"p\"}",
        "{\"account\":\"123456789012\",\"user\":\"a\\u0000b\",\"password\":\"p\"}",
        "{\"account\":\"123456789012\",\"user\":\"\",\"password\":\"p\"}",
        "{\"account\":\"123456789012\",\"account\":\"123456789012\",\"user\":\"a\",\"password\":\"p\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (console_signin_parse(&f, bad[i], strlen(bad[i])) != E_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(f.password[0], 0);
    }
}

static bool allowed(const char *user, const char *addr, int64_t t, int64_t *retry)
{
    assert_int_equal(signin_limit_wait(user, addr, t, retry), 0);
    return *retry == 0;
}

static void test_rate_limit(void **state)
{
    (void)state;
    int64_t t = 1000000, retry;
    for (int i = 0; i < 5; i++) {
        assert_true(allowed("user/1/bob", "10.0.0.1", t, &retry));
        assert_int_equal(signin_limit_failed("user/1/bob", "10.0.0.1", t), 0);
    }
    assert_false(allowed("user/1/bob", "10.0.0.2", t, &retry));
    assert_true(retry > 0 && retry <= 15 * 60);
    /* another user from the same address is still let in */
    assert_true(allowed("user/1/carol", "10.0.0.1", t, &retry));
    /* the counts are in the store: a server started again still has them */
    store_close_thread();
    assert_int_equal(store_open(dir), 0);
    assert_false(allowed("user/1/bob", "10.0.0.2", t + 60000, &retry));
    assert_true(retry > 0 && retry <= 14 * 60);
    /* after the window, bob may try again, and a new failure starts a new window */
    assert_true(allowed("user/1/bob", "10.0.0.2", t + 15 * 60 * 1000 + 1, &retry));
    assert_int_equal(signin_limit_failed("user/1/bob", "10.0.0.3", t + 15 * 60 * 1000 + 1), 0);
    assert_true(allowed("user/1/bob", "10.0.0.3", t + 15 * 60 * 1000 + 2, &retry));

    /* per address: 20 failures over many users */
    for (int i = 0; i < 20; i++) {
        char u[32];
        snprintf(u, sizeof(u), "user/1/u%d", i);
        assert_int_equal(signin_limit_failed(u, "10.9.9.9", t), 0);
    }
    assert_false(allowed("user/1/new", "10.9.9.9", t, &retry));
    assert_true(allowed("user/1/new", "10.9.9.8", t, &retry));

    /* success forgets the user's failures */
    for (int i = 0; i < 4; i++)
        assert_int_equal(signin_limit_failed("user/1/dan", "10.1.1.1", t), 0);
    assert_int_equal(signin_limit_succeeded("user/1/dan"), 0);
    assert_int_equal(signin_limit_failed("user/1/dan", "10.1.1.2", t), 0);
    assert_true(allowed("user/1/dan", "10.1.1.3", t, &retry));
}

static void test_passwords(void **state)
{
    (void)state;
    char hash[PASSWORD_HASH_MAX];
    assert_non_null(password_policy_violation("Short-1"));
    assert_non_null(password_policy_violation("onlylowercase"));
    assert_null(password_policy_violation("lower-and-1"));
    assert_int_equal(password_hash(hash, "Pass-word-1"), 0);
    assert_memory_equal(hash, "$argon2id$", 10);
    assert_true(password_verify(hash, "Pass-word-1"));
    assert_false(password_verify(hash, "Pass-word-2"));
    assert_false(password_verify("not a hash", "Pass-word-1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_signin_forms),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_passwords),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
