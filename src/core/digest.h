/*
 * Content digests ("sha256:<64 hex>", "sha512:<128 hex>") and streaming
 * SHA-256 over OpenSSL's EVP interface (SHA-NI where the CPU has it).
 */
#ifndef BERTH_CORE_DIGEST_H
#define BERTH_CORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

#define DIGEST_MAX 136 /* "sha512:" + 128 hex + NUL, rounded */

enum digest_alg { DIGEST_SHA256 = 1, DIGEST_SHA512 = 2 };

/* Checks that s is a digest this registry understands (lowercase hex of the
 * right length after a known algorithm). E_INVALID when malformed,
 * E_UNSUPPORTED when the algorithm is well-formed but unknown. */
int digest_validate(struct slice s, enum digest_alg *alg_out);

struct hasher {
    void *ctx; /* EVP_MD_CTX */
    enum digest_alg alg;
};

void hasher_init(struct hasher *h, enum digest_alg alg);
void hasher_update(struct hasher *h, const void *data, size_t n);
/* Writes "alg:hex" into out (DIGEST_MAX bytes) and releases the context. */
void hasher_final(struct hasher *h, char out[DIGEST_MAX]);
void hasher_release(struct hasher *h);
/* Makes dst (initialised) a copy of src's running state. */
void hasher_copy(struct hasher *dst, const struct hasher *src);

/* One-shot sha256 of a buffer, as "sha256:<hex>". */
void digest_sha256(char out[DIGEST_MAX], const void *data, size_t n);

#endif
