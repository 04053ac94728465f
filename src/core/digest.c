/*
 * This module implements digest validation and streaming hashing.
 */
#include "core/digest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/error.h"

static const struct {
    const char *prefix;
    size_t hexlen;
    enum digest_alg alg;
} algorithms[] = {
    {"sha256:", 64, DIGEST_SHA256},
    {"sha512:", 128, DIGEST_SHA512},
};

/* at most this much of a bad digest is quoted in a message */
#define QUOTE(s) (int)((s).len > 200 ? 200 : (s).len), (s).base

int digest_validate(struct slice s, enum digest_alg *alg_out)
{
    const char *colon = s.len ? memchr(s.base, ':', s.len) : NULL;
    if (!colon || colon == s.base || colon == s.base + s.len - 1)
        return error_set(E_INVALID, "invalid digest '%.*s'", QUOTE(s));
    /* grammar from the OCI image spec:
     *   algorithm ::= [a-z0-9]+ ([+._-] [a-z0-9]+)*
     *   encoded   ::= [a-zA-Z0-9=_-]+ */
    bool after_sep = true;
    for (const char *p = s.base; p < colon; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            after_sep = false;
        } else if (!after_sep && (*p == '+' || *p == '.' || *p == '_' || *p == '-')) {
            after_sep = true;
        } else {
            return error_set(E_INVALID, "invalid digest algorithm in '%.*s'", QUOTE(s));
        }
    }
    if (after_sep)
        return error_set(E_INVALID, "invalid digest algorithm in '%.*s'", QUOTE(s));
    for (const char *p = colon + 1; p < s.base + s.len; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '=' || *p == '_' ||
              *p == '-'))
            return error_set(E_INVALID, "invalid encoding in digest '%.*s'", QUOTE(s));
    for (size_t i = 0; i < sizeof(algorithms) / sizeof(algorithms[0]); i++) {
        size_t plen = strlen(algorithms[i].prefix);
        if (s.len < plen || memcmp(s.base, algorithms[i].prefix, plen) != 0)
            continue;
        if (s.len - plen != algorithms[i].hexlen)
            return error_set(E_INVALID, "invalid digest length in '%.*s'", QUOTE(s));
        for (size_t j = plen; j < s.len; j++) {
            char c = s.base[j];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                return error_set(E_INVALID, "invalid hex in digest '%.*s'", QUOTE(s));
        }
        if (alg_out)
            *alg_out = algorithms[i].alg;
        return 0;
    }
    return error_set(E_UNSUPPORTED, "unsupported digest algorithm '%.*s'", (int)(colon - s.base > 32 ? 32 : colon - s.base),
                     s.base);
}

void hasher_init(struct hasher *h, enum digest_alg alg)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256(), NULL);
    h->ctx = ctx;
    h->alg = alg;
}

void hasher_update(struct hasher *h, const void *data, size_t n)
{
    EVP_DigestUpdate(h->ctx, data, n);
}

void hasher_final(struct hasher *h, char out[DIGEST_MAX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    EVP_DigestFinal_ex(h->ctx, md, &n);
    const char *prefix = h->alg == DIGEST_SHA512 ? "sha512:" : "sha256:";
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    for (unsigned int i = 0; i < n; i++) {
        out[p++] = hex[md[i] >> 4];
        out[p++] = hex[md[i] & 15];
    }
    out[p] = '\0';
    hasher_release(h);
}

void hasher_release(struct hasher *h)
{
    if (h->ctx)
        EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void hasher_copy(struct hasher *dst, const struct hasher *src)
{
    EVP_MD_CTX_copy_ex(dst->ctx, src->ctx);
    dst->alg = src->alg;
}

void digest_sha256(char out[DIGEST_MAX], const void *data, size_t n)
{
    struct hasher h;
    hasher_init(&h, DIGEST_SHA256);
    hasher_update(&h, data, n);
    hasher_final(&h, out);
}
