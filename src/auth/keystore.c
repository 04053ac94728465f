/*
 * This module implements the server key store of keystore.h. The sealing
 * itself is secretbox's (AES-256-GCM, keys derived from one master key
 * file); this file only decides where that file lives and keeps the keys
 * loaded for the life of the process.
 */
#include "auth/keystore.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/secretbox.h"
#include "core/alloc.h"
#include "core/error.h"

static struct secretbox_keys keys;

int keystore_open(const char *data_dir, const char *key_file)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    if (key_file && *key_file)
        return secretbox_keys_load(&keys, key_file);
    snprintf(dir, sizeof(dir), "%s/keys", data_dir);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/master.key", dir);
    return secretbox_keys_load(&keys, path);
}

void keystore_check_value(char out[65])
{
    static const char what[] = "berth server key check v1";
    unsigned char md[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), keys.token, 32, (const unsigned char *)what, sizeof(what) - 1, md, &n);
    for (unsigned int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void keystore_close(void)
{
    secretbox_keys_release(&keys);
}

const unsigned char *keystore_token_key(void)
{
    return keys.token;
}

int keystore_seal_secret(const char *secret, const char *akid, char **out)
{
    return secretbox_seal(out, &keys.box, secret, strlen(secret), slice_from(akid));
}

int keystore_open_secret(const char *sealed, const char *akid, char **out)
{
    char plain[SECRETBOX_PLAIN_MAX + 1];
    size_t n;
    int rc = secretbox_open(plain, SECRETBOX_PLAIN_MAX, &n, &keys.box, slice_from(sealed), slice_from(akid));
    if (rc < 0)
        return rc;
    plain[n] = '\0';
    *out = xstrndup(plain, n);
    OPENSSL_cleanse(plain, sizeof(plain));
    return 0;
}
