/*
 * What the web console keeps in the store: IAM login profiles (a user's
 * console password, as an Argon2id hash, never the password) and console
 * sessions (by the SHA-256 of the session id the cookie carries, so the
 * database alone does not let anyone sign in).
 */
#ifndef BERTH_STORE_CONSOLE_H
#define BERTH_STORE_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/digest.h"

struct login_profile {
    char account_id[13];
    char user_name[129];
    char password_hash[160]; /* Argon2id, PHC string form */
    bool reset_required;
    int64_t created_ms;
};

/* E_EXISTS when the user has one; E_NOTFOUND when the user does not exist. */
int store_login_profile_create(const struct login_profile *p);
int store_login_profile_get(const char *account, const char *user, struct login_profile *out);
/* Sets the hash (hash NULL: keep it) and the reset flag; E_NOTFOUND without a profile. */
int store_login_profile_update(const char *account, const char *user, const char *hash, bool reset_required);
int store_login_profile_delete(const char *account, const char *user);

struct console_session {
    char id_hash[DIGEST_MAX]; /* sha256:<hex> of the session id */
    char account_id[13];
    char principal_arn[704];
    char access_key_id[32];  /* signed in with a key pair: it must stay active; "" otherwise */
    char csrf[48];
    bool must_change_password;
    int64_t created_ms, expires_ms;
};

int store_console_session_put(const struct console_session *s);
/* E_NOTFOUND when absent or expired at now_ms. */
int store_console_session_get(const char *id_hash, int64_t now_ms, struct console_session *out);
int store_console_session_delete(const char *id_hash);
int store_console_session_password_changed(const char *id_hash);
/* Drops sessions that expired before now_ms. */
int store_console_sessions_expire(int64_t now_ms);

/* The console's repository search: the names of account's repositories
 * after `after` ("" or NULL: from the first), in name order, up to limit,
 * that start with text (prefix) or contain it (otherwise). A prefix is a
 * range of the (account_id, name) index; a substring reads the account's
 * names in that index in order and stops at limit. */
int store_console_repo_names(const char *account, const char *text, bool prefix, const char *after, int limit,
                             int (*fn)(void *ctx, const char *name), void *ctx);

#endif
