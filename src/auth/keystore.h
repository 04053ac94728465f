/*
 * The server's own keys, kept in <data>/keys/ apart from the database (or in
 * the --key-file every server of one registry shares): the key that seals
 * secret access keys at rest and the key that signs registry login tokens.
 */
#ifndef BERTH_AUTH_KEYSTORE_H
#define BERTH_AUTH_KEYSTORE_H

#include <stddef.h>

/* key_file: the master key file (created when missing); NULL or "" for
 * <data_dir>/keys/master.key. */
int keystore_open(const char *data_dir, const char *key_file);
/* A value that identifies the keys without revealing them (hex HMAC of a
 * fixed string), recorded in the database at first start. */
void keystore_check_value(char out[65]);
void keystore_close(void);
/* Seals a secret for storage, bound to the access key id it belongs to (so
 * a sealed secret moved to another key's row does not open); *out is
 * malloc'd. */
int keystore_seal_secret(const char *secret, const char *akid, char **out);
/* Opens a sealed secret; *out is malloc'd and NUL-terminated. */
int keystore_open_secret(const char *sealed, const char *akid, char **out);
/* The 32-byte key that signs registry login tokens. */
const unsigned char *keystore_token_key(void);

#endif
