/*
 * libFuzzer target for the SigV4 verifier (src/auth/sigv4.c) and, since
 * they read the same kind of untrusted Authorization values, the registry
 * credential parsers (src/auth/basic.c, src/auth/token.c).
 *
 * The input is used three ways:
 *   - whole, as an Authorization header value for sigv4_parse_authorization,
 *     basic_parse and token_verify;
 *   - as a small HTTP request for sigv4_verify, with a fixed key and clock:
 *       METHOD SP PATH[?QUERY] LF
 *       Name: value LF          (up to 16 headers)
 *       LF
 *       body                    (hashed with SHA-256)
 *   - the same request with its query handed over as decoded parameters.
 * A valid request signed by botocore is in the corpus, so the fuzzer starts
 * from inputs that reach the signature comparison.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/basic.h"
#include "auth/sigv4.h"
#include "auth/token.h"
#include "core/buf.h"
#include "core/digest.h"
#include "core/error.h"

#define NOW 1795435200 /* 2026-11-23T12:00:00Z, the corpus's date */
#define MAX_HEADERS 16
#define MAX_PARAMS 32

static int lookup(void *ctx, struct slice akid, char *secret, size_t cap, size_t *len)
{
    static const char s[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    (void)ctx;
    if (!slice_eq(akid, "AKIAIOSFODNN7EXAMPLE"))
        return E_NOTFOUND;
    if (cap < sizeof(s) - 1)
        return E_TOOBIG;
    memcpy(secret, s, sizeof(s) - 1);
    *len = sizeof(s) - 1;
    return 0;
}

static struct slice next_line(struct slice *rest)
{
    const char *nl = memchr(rest->base, '\n', rest->len);
    struct slice line = {rest->base, nl ? (size_t)(nl - rest->base) : rest->len};
    size_t used = nl ? line.len + 1 : line.len;
    rest->base += used;
    rest->len -= used;
    if (line.len && line.base[line.len - 1] == '\r')
        line.len--;
    return line;
}

static void check_result(int rc, const struct sigv4_result *r)
{
    /* the result is always consistent and its strings terminated */
    if ((rc == 0) != (r->error == SIGV4_OK))
        abort();
    if (strlen(r->message) >= sizeof(r->message) || strlen(r->access_key_id) >= sizeof(r->access_key_id))
        abort();
    (void)sigv4_error_name(r->error, SIGV4_JSON);
    (void)sigv4_error_status(r->error, SIGV4_QUERY);
    (void)sigv4_error_message(r, SIGV4_QUERY);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const services[] = {"ecr", "iam", "sts", NULL};
    static const unsigned char token_key[TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcdef";
    struct sigv4_verifier v = {"us-east-1", services, lookup, NULL, size & 1, (size & 2) != 0};
    struct slice all = {(const char *)data, size};
    struct sigv4_auth auth;
    struct sigv4_header headers[MAX_HEADERS];
    struct sigv4_param params[MAX_PARAMS];
    struct sigv4_request req;
    struct sigv4_result res;
    struct token tok;
    char sha[DIGEST_MAX];
    struct basic_credentials basic;
    int rc;

    /* the parsers, on the raw bytes */
    if (sigv4_parse_authorization(&auth, all) == 0) {
        struct buf b;
        memset(&req, 0, sizeof(req));
        req.method = SLICE_LIT("GET");
        req.path = SLICE_LIT("/");
        req.payload_sha256 = SLICE_LIT("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        buf_init(&b, SIGV4_CANONICAL_MAX);
        sigv4_canonical_request(&b, &req, auth.signed_headers, req.payload_sha256, false);
        buf_release(&b);
    }
    if (basic_parse(&basic, all) == 0) {
        token_verify(&tok, token_key, basic.password, NOW);
        basic_release(&basic);
    }
    token_verify(&tok, token_key, all, NOW);

    /* the request */
    memset(&req, 0, sizeof(req));
    struct slice rest = all, line = next_line(&rest);
    const char *sp = memchr(line.base, ' ', line.len);
    req.method = (struct slice){line.base, sp ? (size_t)(sp - line.base) : line.len};
    struct slice target = sp ? (struct slice){sp + 1, line.len - req.method.len - 1} : (struct slice){line.base, 0};
    const char *qm = memchr(target.base, '?', target.len);
    req.path = (struct slice){target.base, qm ? (size_t)(qm - target.base) : target.len};
    req.query = qm ? (struct slice){qm + 1, target.len - req.path.len - 1} : (struct slice){NULL, 0};
    while (rest.len && req.nheaders < MAX_HEADERS) {
        line = next_line(&rest);
        if (line.len == 0)
            break;
        const char *colon = memchr(line.base, ':', line.len);
        if (!colon)
            continue;
        headers[req.nheaders].name = (struct slice){line.base, (size_t)(colon - line.base)};
        headers[req.nheaders].value = (struct slice){colon + 1, line.len - (size_t)(colon - line.base) - 1};
        req.nheaders++;
    }
    req.headers = headers;
    digest_sha256(sha, rest.base, rest.len);
    req.payload_sha256 = slice_from(sha + 7);

    rc = sigv4_verify(&res, &v, &req, NOW);
    check_result(rc, &res);

    /* again with the query as decoded pairs (split on '&' and '=' only) */
    if (req.query.base) {
        struct slice q = req.query;
        size_t start = 0;
        req.nparams = 0;
        for (size_t i = 0; i <= q.len && req.nparams < MAX_PARAMS; i++) {
            if (i < q.len && q.base[i] != '&')
                continue;
            struct slice p = {q.base + start, i - start};
            const char *eq = memchr(p.base, '=', p.len);
            params[req.nparams].name = (struct slice){p.base, eq ? (size_t)(eq - p.base) : p.len};
            params[req.nparams].value =
                eq ? (struct slice){eq + 1, p.len - (size_t)(eq - p.base) - 1} : (struct slice){p.base + p.len, 0};
            req.nparams++;
            start = i + 1;
        }
        req.params = params;
        req.query = (struct slice){NULL, 0};
        rc = sigv4_verify(&res, &v, &req, NOW);
        check_result(rc, &res);
    }
    return 0;
}
