/*
 * This module implements the secretbox of secretbox.h: AES-256-GCM sealing
 * through OpenSSL's EVP interface, the master key file (created atomically
 * with mode 0600), and HKDF-SHA256 derivation of the per-use keys.
 */
#include "auth/secretbox.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

#define PREFIX_LEN (sizeof(SECRETBOX_PREFIX) - 1)
#define SEALED_MAX (PREFIX_LEN + 4 * ((SECRETBOX_NONCE_LEN + SECRETBOX_PLAIN_MAX + SECRETBOX_TAG_LEN + 2) / 3))

/* ---- key derivation --------------------------------------------------- */

static void hkdf_sha256(unsigned char out[SECRETBOX_KEY_LEN], const unsigned char master[SECRETBOX_KEY_LEN], const char *label)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[5];
    char digest[] = "SHA256";
    char salt[] = "berth";

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)master, SECRETBOX_KEY_LEN);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, strlen(salt));
    params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label));
    params[4] = OSSL_PARAM_construct_end();
    /* a missing HKDF means a broken OpenSSL install: nothing to recover */
    if (!ctx || EVP_KDF_derive(ctx, out, SECRETBOX_KEY_LEN, params) != 1)
        abort();
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

void secretbox_keys_derive(struct secretbox_keys *out, const unsigned char master[SECRETBOX_KEY_LEN])
{
    hkdf_sha256(out->box.key, master, "berth secretbox v1");
    hkdf_sha256(out->token, master, "berth token v1");
}

void secretbox_keys_release(struct secretbox_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

void secretbox_init(struct secretbox *sb, const unsigned char key[SECRETBOX_KEY_LEN])
{
    memcpy(sb->key, key, SECRETBOX_KEY_LEN);
}

void secretbox_release(struct secretbox *sb)
{
    OPENSSL_cleanse(sb->key, sizeof(sb->key));
}

/* ---- the key file ----------------------------------------------------- */

static int read_key(unsigned char master[SECRETBOX_KEY_LEN], int fd, const char *path)
{
    struct stat st;
    size_t got = 0;
    if (fstat(fd, &st) != 0)
        return error_set(E_ERROR, "cannot stat key file '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return error_set(E_INVALID, "key file '%s' is not a regular file", path);
    if (st.st_size != SECRETBOX_KEY_LEN)
        return error_set(E_INVALID, "key file '%s' must hold exactly %d bytes, not %lld", path, SECRETBOX_KEY_LEN,
                         (long long)st.st_size);
    if (st.st_mode & 077)
        log_warn("key file '%s' can be read by group or others (mode %03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    while (got < SECRETBOX_KEY_LEN) {
        ssize_t n = read(fd, master + got, SECRETBOX_KEY_LEN - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return error_set(E_ERROR, "cannot read key file '%s': %s", path, n < 0 ? strerror(errno) : "short file");
        got += (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fsync_parent(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

/* Writes a fresh key to a temporary file, then links it to path: link()
 * fails with EEXIST if another process won the race, and a crash leaves at
 * worst a stray temporary file, never a short key at path. */
static int create_key(const char *path)
{
    unsigned char key[SECRETBOX_KEY_LEN];
    size_t n = strlen(path) + sizeof(".tmp.XXXXXX");
    char *tmp = xmalloc(n);
    int fd, rc = 0;

    snprintf(tmp, n, "%s.tmp.XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = error_set(E_ERROR, "cannot create key file '%s': %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    random_bytes(key, sizeof(key));
    if (fchmod(fd, 0600) != 0 || write_all(fd, key, sizeof(key)) != 0 || fsync(fd) != 0)
        rc = error_set(E_ERROR, "cannot write key file '%s': %s", tmp, strerror(errno));
    OPENSSL_cleanse(key, sizeof(key));
    close(fd);
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
        rc = error_set(E_ERROR, "cannot create key file '%s': %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    if (rc == 0)
        fsync_parent(path);
    return rc;
}

int secretbox_keyfile_load(unsigned char master[SECRETBOX_KEY_LEN], const char *path)
{
    int fd, rc;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if ((rc = create_key(path)) < 0)
            return rc;
        log_info("created server key file '%s'", path);
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0)
        return error_set(E_ERROR, "cannot open key file '%s': %s", path, strerror(errno));
    rc = read_key(master, fd, path);
    close(fd);
    if (rc < 0)
        OPENSSL_cleanse(master, SECRETBOX_KEY_LEN);
    return rc;
}

int secretbox_keys_load(struct secretbox_keys *out, const char *path)
{
    unsigned char master[SECRETBOX_KEY_LEN];
    int rc = secretbox_keyfile_load(master, path);
    if (rc == 0)
        secretbox_keys_derive(out, master);
    OPENSSL_cleanse(master, sizeof(master));
    return rc;
}

/* ---- sealing ---------------------------------------------------------- */

/* GCM authenticates the version prefix, then the caller's data. */
static int add_aad(EVP_CIPHER_CTX *ctx, struct slice aad)
{
    int outl;
    if (EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)SECRETBOX_PREFIX, (int)PREFIX_LEN) != 1)
        return -1;
    if (aad.len && EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)aad.base, (int)aad.len) != 1)
        return -1;
    return 0;
}

int secretbox_seal(char **out, const struct secretbox *sb, const void *plain, size_t n, struct slice aad)
{
    size_t rawlen = SECRETBOX_NONCE_LEN + n + SECRETBOX_TAG_LEN;
    unsigned char *raw;
    EVP_CIPHER_CTX *ctx;
    int outl, finl, rc = 0;

    *out = NULL;
    if (n > SECRETBOX_PLAIN_MAX || aad.len > SECRETBOX_PLAIN_MAX)
        return error_set(E_TOOBIG, "secret longer than %d bytes", SECRETBOX_PLAIN_MAX);
    raw = xmalloc(rawlen);
    random_bytes(raw, SECRETBOX_NONCE_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, sb->key, raw) != 1 || add_aad(ctx, aad) != 0 ||
        EVP_EncryptUpdate(ctx, raw + SECRETBOX_NONCE_LEN, &outl, plain, (int)n) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + SECRETBOX_NONCE_LEN + outl, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRETBOX_TAG_LEN, raw + SECRETBOX_NONCE_LEN + n) != 1) {
        rc = error_set(E_ERROR, "AES-256-GCM encryption failed");
        goto done;
    }
    char *b64 = base64_encode(raw, rawlen);
    size_t blen = strlen(b64);
    *out = xmalloc(PREFIX_LEN + blen + 1);
    memcpy(*out, SECRETBOX_PREFIX, PREFIX_LEN);
    memcpy(*out + PREFIX_LEN, b64, blen + 1);
    free(b64);
done:
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    return rc;
}

int secretbox_open(void *out, size_t cap, size_t *len, const struct secretbox *sb, struct slice sealed, struct slice aad)
{
    unsigned char *raw = NULL, *plain = NULL;
    size_t rawlen = 0, n = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    int outl, finl, rc = 0;

    *len = 0;
    if (sealed.len > SEALED_MAX || !slice_starts_with(sealed, SECRETBOX_PREFIX))
        return error_set(E_INVALID, "not a sealed secret");
    raw = base64_decode(sealed.base + PREFIX_LEN, sealed.len - PREFIX_LEN, &rawlen);
    if (!raw || rawlen < SECRETBOX_NONCE_LEN + SECRETBOX_TAG_LEN) {
        rc = error_set(E_INVALID, "not a sealed secret");
        goto done;
    }
    n = rawlen - SECRETBOX_NONCE_LEN - SECRETBOX_TAG_LEN;
    if (n > cap) {
        rc = error_set(E_TOOBIG, "sealed secret of %zu bytes does not fit in %zu", n, cap);
        goto done;
    }
    plain = xmalloc(n + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, sb->key, raw) != 1 || add_aad(ctx, aad) != 0 ||
        EVP_DecryptUpdate(ctx, plain, &outl, raw + SECRETBOX_NONCE_LEN, (int)n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRETBOX_TAG_LEN, raw + SECRETBOX_NONCE_LEN + n) != 1) {
        rc = error_set(E_ERROR, "AES-256-GCM decryption failed");
        goto done;
    }
    if (EVP_DecryptFinal_ex(ctx, plain + outl, &finl) != 1) {
        rc = error_set(E_MISMATCH, "sealed secret failed authentication");
        goto done;
    }
    memcpy(out, plain, n);
    *len = n;
done:
    if (plain) {
        OPENSSL_cleanse(plain, n + 1);
        free(plain);
    }
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    return rc;
}
