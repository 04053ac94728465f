/*
 * What a console sign-in checks: IAM users' console passwords (login
 * profiles, hashed with Argon2id from libargon2) and access key pairs (the
 * account root signs in with its key pair, as `berth` printed it on the
 * first start). Failures say only that the credentials are wrong.
 */
#ifndef BERTH_AUTH_SIGNIN_H
#define BERTH_AUTH_SIGNIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"

#define PASSWORD_HASH_MAX 160

/* An Argon2id hash of password in PHC string form, with a fresh salt. */
int password_hash(char out[PASSWORD_HASH_MAX], const char *password);
/* Whether password matches hash (libargon2 compares in constant time). */
bool password_verify(const char *hash, const char *password);
/* PasswordPolicyViolation's sentence when password breaks IAM's default
 * password policy, else NULL. */
const char *password_policy_violation(const char *password);

/* E_UNAUTH unless account has a user with a login profile whose password
 * this is; fills out and *reset_required. The hash is computed even when
 * no such user exists, so timing does not tell users apart. */
int signin_password(struct principal *out, bool *reset_required, const char *account, const char *user,
                    const char *password);
/* E_UNAUTH unless secret is the secret of the active access key akid
 * (compared in constant time); fills out. */
int signin_key_pair(struct principal *out, const char *akid, const char *secret);
/* E_UNAUTH unless akid is still an active key of principal arn. */
int signin_key_active(const char *akid, const char *arn);

/* Failed password attempts (console sign-ins, ChangePassword), counted
 * per user (user_key: "user/<account>/<name>" in lower case, or
 * "key/<access key id>") and per client address in a 15-minute window, in
 * the store: 5 per user, 20 per address. signin_limit_wait() sets *retry_s
 * to the seconds to wait before another attempt (0: now); a success clears
 * the user's count. Each returns 0 or the store's E_*. */
#define SIGNIN_KEY_MAX 200
/* The key a user's attempts are counted under: "user/<account>/<name>" in lower case. */
void signin_user_key(char *out, size_t size, const char *account, const char *user);
int signin_limit_wait(const char *user_key, const char *addr, int64_t now_ms, int64_t *retry_s);
int signin_limit_failed(const char *user_key, const char *addr, int64_t now_ms);
int signin_limit_succeeded(const char *user_key);

/* Is z an account alias as IAM's pattern has it:
 * ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$ (the model's regex has a
 * lookahead, which POSIX regexes lack, so it is checked here)? */
bool account_alias_valid(const char *z);

#endif
