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

/* ---- account aliases: one per account, unique in the server ---- */

#define ACCOUNT_ALIAS_MAX 64
/* Sets account's alias (replacing its old one); E_EXISTS when another account has it. */
int store_account_alias_set(const char *account, const char *alias);
/* E_NOTFOUND when the account has none. */
int store_account_alias_get(const char *account, char out[ACCOUNT_ALIAS_MAX]);
/* E_NOTFOUND unless alias is account's. */
int store_account_alias_delete(const char *account, const char *alias);
/* The account an alias names; E_NOTFOUND when none. */
int store_account_by_alias(const char *alias, char out[13]);

/* ---- the account password policy ---- */

struct password_policy {
    int64_t min_length;
    bool require_symbols, require_numbers, require_uppercase, require_lowercase;
    bool allow_users_to_change;
    int64_t max_age_days;     /* 0: passwords do not expire */
    int64_t reuse_prevention; /* 0: any earlier password may be used again */
    bool hard_expiry;
};

int store_password_policy_put(const char *account, const struct password_policy *p);
/* E_NOTFOUND when the account has none (IAM's default applies). */
int store_password_policy_get(const char *account, struct password_policy *out);
int store_password_policy_delete(const char *account);

/* A user's passwords, newest first, as hashes with when each was set (the
 * newest is the current one). At most PASSWORD_HISTORY_MAX are kept. */
#define PASSWORD_HISTORY_MAX 24
int store_password_history_add(const char *account, const char *user, const char *hash, int64_t at_ms);
int store_password_history(const char *account, const char *user, int limit,
                           int (*fn)(void *ctx, const char *hash, int64_t set_ms), void *ctx);

/* ---- failed sign-ins, counted in a window per key (a user, an address) ---- */

/* How many failures key has in the window that started at *since_out (0
 * and now_ms when none, or when its window ended before now_ms - window_ms). */
int store_signin_failures_get(const char *key, int64_t now_ms, int64_t window_ms, int64_t *fails_out, int64_t *since_out);
/* One more failure: a window that ended starts again at now_ms. */
int store_signin_failure_add(const char *key, int64_t now_ms, int64_t window_ms);
int store_signin_failures_clear(const char *key);
/* Drops counts whose window started before before_ms. */
int store_signin_failures_expire(int64_t before_ms);

/* The console's repository search: the names of account's repositories
 * after `after` ("" or NULL: from the first), in name order, up to limit,
 * that start with text (prefix) or contain it (otherwise). A prefix is a
 * range of the (account_id, name) index; a substring reads the account's
 * names in that index in order and stops at limit. */
int store_console_repo_names(const char *account, const char *text, bool prefix, const char *after, int limit,
                             int (*fn)(void *ctx, const char *name), void *ctx);

/* The console's Images tab: the digests of repo_id's images of status
 * (its name, "ACTIVE"...; NULL: any), tagged or not (tagged: 1 only those
 * with tags, -1 only those without, 0 both), newest push first (then by
 * digest, descending), after the image (after_pushed_ms, after_digest)
 * (INT64_MAX and "" for the first page), at most limit; fn returns nonzero
 * to stop. One range of the (repo_id, status, pushed_at, digest) index. */
int store_console_images_by_push(int64_t repo_id, const char *status, int tagged, int64_t after_pushed_ms,
                                 const char *after_digest, int limit,
                                 int (*fn)(void *ctx, const char *digest, int64_t pushed_ms), void *ctx);

#endif
