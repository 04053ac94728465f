/*
 * This module implements the untrusted-input side of console sign-in: the
 * session cookie's parser and the sign-in body's parser. (The limit on
 * failed sign-ins is auth/signin.h's: IAM's ChangePassword checks a
 * password too.)
 */
#include "console/console.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/signin.h"
#include "core/error.h"
#include "store/console.h"

#define SIGNIN_BODY_MAX 4096

static bool is_session_id(const char *z, size_t n)
{
    if (n != CONSOLE_SESSION_ID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((z[i] >= '0' && z[i] <= '9') || (z[i] >= 'a' && z[i] <= 'f')))
            return false;
    return true;
}

int console_cookie_session(char out[CONSOLE_SESSION_ID_LEN + 1], const char *cookie_header)
{
    static const char name[] = CONSOLE_COOKIE;
    const char *p = cookie_header;
    if (!p)
        return E_NOTFOUND;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *k = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t klen = (size_t)(p - k);
        while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
            klen--;
        if (*p != '=')
            continue;
        const char *v = ++p;
        while (*p && *p != ';')
            p++;
        size_t vlen = (size_t)(p - v);
        while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        while (vlen && (*v == ' ' || *v == '\t'))
            v++, vlen--;
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
            v++, vlen -= 2;
        if (klen == sizeof(name) - 1 && memcmp(k, name, klen) == 0 && is_session_id(v, vlen)) {
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return 0;
        }
    }
    return E_NOTFOUND;
}

static bool is_account_id(const char *z)
{
    return strlen(z) == 12 && strspn(z, "0123456789") == 12;
}

/* Copies member key of doc (a string no longer than size-1 bytes, without
 * NUL) to out; false when it is absent. */
static int take(char *out, size_t size, json_t *doc, const char *key, bool *present)
{
    json_t *v = json_object_get(doc, key);
    *present = v != NULL;
    out[0] = '\0';
    if (!v)
        return 0;
    if (!json_is_string(v))
        return error_set(E_INVALID, "%s must be a string", key);
    size_t n = json_string_length(v);
    if (n == 0 || n >= size || memchr(json_string_value(v), '\0', n))
        return error_set(E_INVALID, "%s must have 1 to %zu characters", key, size - 1);
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

int console_signin_parse(struct signin_form *out, const char *body, size_t n)
{
    json_error_t jerr;
    bool has_acct, has_user, has_pw, has_akid, has_secret;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (n > SIGNIN_BODY_MAX)
        return error_set(E_INVALID, "the sign-in request is too long");
    json_t *doc = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        rc = error_set(E_INVALID, "the sign-in request is not a JSON object");
        goto done;
    }
    if ((rc = take(out->account, sizeof(out->account), doc, "account", &has_acct)) < 0 ||
        (rc = take(out->user, sizeof(out->user), doc, "user", &has_user)) < 0 ||
        (rc = take(out->password, sizeof(out->password), doc, "password", &has_pw)) < 0 ||
        (rc = take(out->access_key_id, sizeof(out->access_key_id), doc, "accessKeyId", &has_akid)) < 0 ||
        (rc = take(out->secret, sizeof(out->secret), doc, "secretAccessKey", &has_secret)) < 0)
        goto done;
    if (has_akid || has_secret) {
        if (!has_akid || !has_secret || has_user || has_pw) {
            rc = error_set(E_INVALID, "a key pair sign-in takes accessKeyId and secretAccessKey only");
            goto done;
        }
        out->key_pair = true;
        goto done;
    }
    if (!has_acct || !has_user || !has_pw) {
        rc = error_set(E_INVALID, "a password sign-in takes account, user and password");
        goto done;
    }
    for (char *p = out->account; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    if (!is_account_id(out->account) && !account_alias_valid(out->account))
        rc = error_set(E_INVALID, "the account is a 12-digit account id or the account's alias");
done:
    json_decref(doc);
    if (rc < 0)
        console_signin_wipe(out);
    return rc;
}

void console_signin_wipe(struct signin_form *f)
{
    volatile unsigned char *p = (volatile unsigned char *)f;
    for (size_t i = 0; i < sizeof(*f); i++)
        p[i] = 0;
}
