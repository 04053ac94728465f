/*
 * HTTP Basic credentials (RFC 7617) as /v2 receives them: `docker login -u
 * AWS` sends "Authorization: Basic base64(AWS:<password>)" on every request,
 * the password being the login token of GetAuthorizationToken (token.h).
 * This is the parser the server uses (auth_identify_registry); its input is
 * untrusted and it has a fuzz target (tests/fuzz/fuzz_token.c).
 */
#ifndef BERTH_AUTH_BASIC_H
#define BERTH_AUTH_BASIC_H

#include <stddef.h>

#include "core/buf.h"

/* The longest Authorization value taken: a login token (TOKEN_MAX_LEN) in
 * base64 with room to spare. */
#define BASIC_MAX_LEN 8192

struct basic_credentials {
    struct slice user;     /* borrowed from raw; holds no NUL */
    struct slice password; /* borrowed from raw; everything after the first ':' */
    unsigned char *raw;    /* the decoded "user:password", wiped by basic_release */
    size_t raw_len;
};

/*
 * Parses an Authorization header value: the scheme "Basic" (any case), one
 * or more spaces, then base64 of "user:password"; spaces and tabs around the
 * value are ignored. Fails with E_UNAUTH and a message that is safe to send
 * back (it never repeats the credentials): no header, another scheme, a
 * value over BASIC_MAX_LEN, not base64, no ':', or a NUL in the user. On
 * success the caller releases out with basic_release.
 */
int basic_parse(struct basic_credentials *out, struct slice authorization);
/* Wipes and frees the decoded credentials; safe on a zeroed struct. */
void basic_release(struct basic_credentials *c);

#endif
