/*
 * This module implements the HTTP Basic parser of basic.h, which /v2 runs
 * on every request's Authorization header before the login token inside is
 * checked.
 */
#include "auth/basic.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "core/error.h"
#include "core/util.h"

int basic_parse(struct basic_credentials *out, struct slice authorization)
{
    struct slice s = slice_trim(authorization);
    const unsigned char *colon;

    memset(out, 0, sizeof(*out));
    if (s.len == 0)
        return error_set(E_UNAUTH, "authentication required");
    if (s.len < 6 || strncasecmp(s.base, "Basic ", 6) != 0)
        return error_set(E_UNAUTH, "authentication required: use HTTP Basic");
    if (s.len > BASIC_MAX_LEN)
        return error_set(E_UNAUTH, "credentials are too long");
    s = slice_trim((struct slice){s.base + 6, s.len - 6});
    out->raw = base64_decode(s.base, s.len, &out->raw_len);
    if (!out->raw)
        return error_set(E_UNAUTH, "malformed Basic credentials");
    colon = memchr(out->raw, ':', out->raw_len);
    if (!colon || memchr(out->raw, '\0', (size_t)(colon - out->raw))) {
        basic_release(out);
        return error_set(E_UNAUTH, "malformed Basic credentials");
    }
    out->user = (struct slice){(const char *)out->raw, (size_t)(colon - out->raw)};
    out->password = (struct slice){(const char *)colon + 1, out->raw_len - out->user.len - 1};
    return 0;
}

void basic_release(struct basic_credentials *c)
{
    if (c->raw) {
        OPENSSL_cleanse(c->raw, c->raw_len);
        free(c->raw);
    }
    memset(c, 0, sizeof(*c));
}
