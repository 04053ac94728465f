/*
 * libFuzzer target for what a browser sends the console before it is
 * signed in (src/console/session.c): the Cookie header's parser and the
 * sign-in body's parser. The first byte picks the parser, the rest is the
 * input. A cookie that parses gives a session id of 64 lowercase hex
 * digits; a sign-in form that parses is one of the two forms, with
 * NUL-terminated fields that fit, and a password form's account is 12
 * digits.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/signin.h"
#include "console/console.h"
#include "core/error.h"
#include "check.h"

static void check_cookie(const uint8_t *data, size_t size)
{
    char header[8192], sid[CONSOLE_SESSION_ID_LEN + 1];
    if (size >= sizeof(header))
        size = sizeof(header) - 1;
    memcpy(header, data, size);
    header[size] = '\0'; /* a header value ends at its first NUL */
    if (console_cookie_session(sid, header) < 0)
        return;
    CHECK(strlen(sid) == CONSOLE_SESSION_ID_LEN);
    for (size_t i = 0; i < CONSOLE_SESSION_ID_LEN; i++)
        CHECK((sid[i] >= '0' && sid[i] <= '9') || (sid[i] >= 'a' && sid[i] <= 'f'));
    CHECK(strstr(header, sid) != NULL);
}

static void check_signin(const uint8_t *data, size_t size)
{
    struct signin_form f;
    int rc = console_signin_parse(&f, (const char *)data, size);
    CHECK(rc == 0 || rc == E_INVALID);
    error_clear();
    if (rc < 0)
        return;
    CHECK(memchr(f.account, '\0', sizeof(f.account)) && memchr(f.user, '\0', sizeof(f.user)));
    CHECK(memchr(f.password, '\0', sizeof(f.password)) && memchr(f.access_key_id, '\0', sizeof(f.access_key_id)));
    CHECK(memchr(f.secret, '\0', sizeof(f.secret)));
    if (f.key_pair) {
        CHECK(f.access_key_id[0] && f.secret[0] && !f.user[0] && !f.password[0]);
    } else {
        /* the 12-digit id, or an alias as IAM's pattern has it (lower case) */
        CHECK(f.user[0] && f.password[0]);
        CHECK((strlen(f.account) == 12 && strspn(f.account, "0123456789") == 12) || account_alias_valid(f.account));
        CHECK(strspn(f.account, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(f.account));
    }
    console_signin_wipe(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        check_signin(data + 1, size - 1);
    else
        check_cookie(data + 1, size - 1);
    return 0;
}
