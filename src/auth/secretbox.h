/*
 * Secrets at rest, and the server's keys.
 *
 * SigV4 needs the plaintext secret access key to verify a signature, so the
 * secrets cannot be stored hashed; they are stored sealed with AES-256-GCM
 * under a key that lives in a file apart from the database. A stolen
 * database alone reveals no secret.
 *
 * Keys. The server has one 32-byte master key, kept raw in a file (the path
 * is the caller's, typically <data>/server.key, mode 0600, created from
 * RAND_bytes on the first start). Every key in use is derived from it with
 * HKDF-SHA256 (RFC 5869, OpenSSL's EVP_KDF "HKDF"), salt "berth", and a
 * label per use as the info string:
 *
 *   "berth secretbox v1"   AES-256-GCM key for secrets at rest
 *   "berth token v1"       HMAC-SHA256 key for registry login tokens
 *
 * so that the two uses never share a key, and one file is all there is to
 * back up. Replacing the file invalidates every sealed secret and every
 * login token.
 *
 * Sealed format: "sb1:" followed by standard base64 of
 * nonce (12 random bytes) || ciphertext || GCM tag (16 bytes). The version
 * prefix and the caller's associated data (e.g. the access key id, so a
 * sealed secret cannot be moved to another key's row) are authenticated.
 */
#ifndef BERTH_AUTH_SECRETBOX_H
#define BERTH_AUTH_SECRETBOX_H

#include <stddef.h>

#include "core/buf.h"

#define SECRETBOX_KEY_LEN 32
#define SECRETBOX_NONCE_LEN 12
#define SECRETBOX_TAG_LEN 16
#define SECRETBOX_PREFIX "sb1:"
#define SECRETBOX_PLAIN_MAX 4096 /* largest secret sealed or opened */

struct secretbox {
    unsigned char key[SECRETBOX_KEY_LEN];
};

/* The keys derived from the master key file. */
struct secretbox_keys {
    struct secretbox box;                   /* seals secrets at rest */
    unsigned char token[SECRETBOX_KEY_LEN]; /* signs registry login tokens (auth/token.h) */
};

/*
 * Reads the 32-byte master key at path, or, when there is no file, creates
 * one with mode 0600 from RAND_bytes (written to a temporary file, fsynced
 * and linked into place, so a crash never leaves a short key and two
 * processes starting together agree on one key). E_INVALID when the file is
 * not exactly 32 bytes, E_ERROR on I/O errors. Warns when group or others
 * can read it.
 */
int secretbox_keyfile_load(unsigned char master[SECRETBOX_KEY_LEN], const char *path);

/* Derives both keys from a master key (see the labels above). */
void secretbox_keys_derive(struct secretbox_keys *out, const unsigned char master[SECRETBOX_KEY_LEN]);

/* secretbox_keyfile_load + secretbox_keys_derive; the master key is wiped. */
int secretbox_keys_load(struct secretbox_keys *out, const char *path);

/* Wipes the keys. */
void secretbox_keys_release(struct secretbox_keys *k);

void secretbox_init(struct secretbox *sb, const unsigned char key[SECRETBOX_KEY_LEN]);
void secretbox_release(struct secretbox *sb);

/*
 * Seals n bytes of plain with a fresh random nonce; *out is a malloc'd
 * "sb1:..." string the caller frees. aad may be empty. E_TOOBIG past
 * SECRETBOX_PLAIN_MAX.
 */
int secretbox_seal(char **out, const struct secretbox *sb, const void *plain, size_t n, struct slice aad);

/*
 * Opens a sealed string into out (cap bytes; the plaintext is not
 * NUL-terminated), its length in *len. E_INVALID when sealed is not a
 * sealed string, E_MISMATCH when it fails authentication (tampered, another
 * key, other associated data), E_TOOBIG when cap is too small. The caller
 * wipes out when done (OPENSSL_cleanse).
 */
int secretbox_open(void *out, size_t cap, size_t *len, const struct secretbox *sb, struct slice sealed, struct slice aad);

#endif
