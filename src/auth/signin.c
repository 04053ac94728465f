/*
 * This module implements auth/signin.h: Argon2id password hashes (RFC 9106
 * parameters as OWASP recommends for interactive logins: 19 MiB, two
 * passes, one lane), IAM's default password policy, the two ways to
 * sign in to the console, and the limit on failed password attempts (a
 * console sign-in, IAM's ChangePassword), per user and per client address,
 * counted in the store (store/console.h) so that a restart forgets nothing
 * and the servers sharing a database share the counts.
 */
#include "auth/signin.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <argon2.h>

#include "auth/keystore.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "store/console.h"
#include "store/store.h"

#define ARGON2_T_COST 2
#define ARGON2_M_COST_KIB 19456
#define ARGON2_LANES 1
#define ARGON2_SALT_LEN 16
#define ARGON2_HASH_LEN 32
#define PASSWORD_MIN_LEN 8
#define LIMIT_WINDOW_MS (15 * 60 * 1000)
#define LIMIT_PER_USER 5
#define LIMIT_PER_ADDR 20

int password_hash(char out[PASSWORD_HASH_MAX], const char *password)
{
    unsigned char salt[ARGON2_SALT_LEN];
    random_bytes(salt, sizeof(salt));
    int rc = argon2id_hash_encoded(ARGON2_T_COST, ARGON2_M_COST_KIB, ARGON2_LANES, password, strlen(password), salt,
                                   sizeof(salt), ARGON2_HASH_LEN, out, PASSWORD_HASH_MAX);
    if (rc != ARGON2_OK)
        return error_set(E_ERROR, "hashing a password: %s", argon2_error_message(rc));
    return 0;
}

bool password_verify(const char *hash, const char *password)
{
    return argon2id_verify(hash, password, strlen(password)) == ARGON2_OK;
}

const char *password_policy_violation(const char *password)
{
    int upper = 0, lower = 0, digit = 0, other = 0;
    if (strlen(password) < PASSWORD_MIN_LEN)
        return "Password should have a minimum length of 8";
    for (const unsigned char *p = (const unsigned char *)password; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            upper = 1;
        else if (*p >= 'a' && *p <= 'z')
            lower = 1;
        else if (*p >= '0' && *p <= '9')
            digit = 1;
        else
            other = 1;
    }
    if (upper + lower + digit + other < 3)
        return "Password should have at least three of: uppercase letters, lowercase letters, numbers and symbols";
    return NULL;
}

bool account_alias_valid(const char *z)
{
    size_t n = strlen(z);
    if (n < 3 || n > 63 || z[0] == '-' || z[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        bool ok = (z[i] >= 'a' && z[i] <= 'z') || (z[i] >= '0' && z[i] <= '9') || (z[i] == '-' && z[i + 1] != '-');
        if (!ok)
            return false;
    }
    return true;
}

/* A hash of nothing anyone knows, verified against when there is no user,
 * so a sign-in takes as long whether the user exists or not. */
static char dummy_hash[PASSWORD_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
    char pw[33];
    random_string(pw, 32, "abcdefghijklmnopqrstuvwxyz0123456789");
    pw[32] = '\0';
    if (password_hash(dummy_hash, pw) < 0)
        dummy_hash[0] = '\0';
}

int signin_password(struct principal *out, bool *reset_required, const char *account, const char *user,
                    const char *password)
{
    struct login_profile lp;
    int rc = store_login_profile_get(account, user, &lp);
    if (rc < 0 && rc != E_NOTFOUND)
        return rc;
    if (rc == E_NOTFOUND) {
        pthread_once(&dummy_once, dummy_init);
        if (dummy_hash[0])
            (void)password_verify(dummy_hash, password);
        return error_set(E_UNAUTH, "no login profile for '%s' in account %s", user, account);
    }
    if (!password_verify(lp.password_hash, password))
        return error_set(E_UNAUTH, "wrong password for '%s' in account %s", user, account);
    struct iam_identity u;
    if ((rc = store_identity_get(account, IAM_ENTITY_USER, lp.user_name, &u)) < 0)
        return rc == E_NOTFOUND ? error_set(E_UNAUTH, "the user '%s' is gone", user) : rc;
    memset(out, 0, sizeof(*out));
    snprintf(out->account_id, sizeof(out->account_id), "%s", account);
    snprintf(out->arn, sizeof(out->arn), "%s", u.arn);
    snprintf(out->user_name, sizeof(out->user_name), "%s", u.name);
    snprintf(out->user_id, sizeof(out->user_id), "%s", u.id);
    *reset_required = lp.reset_required;
    return 0;
}

int signin_key_pair(struct principal *out, const char *akid, const char *secret)
{
    struct access_key k;
    char *real = NULL;
    int rc = store_access_key_get(akid, &k);
    if (rc == E_NOTFOUND)
        return error_set(E_UNAUTH, "no access key '%.40s'", akid);
    if (rc < 0)
        return rc;
    if ((rc = keystore_open_secret(k.secret_enc, k.id, &real)) < 0)
        goto done;
    bool same = secure_equal(real, strlen(real), secret, strlen(secret));
    if (!same || strcmp(k.status, "Active") != 0) {
        rc = error_set(E_UNAUTH, "access key '%s' refused: %s", k.id, same ? "not active" : "wrong secret");
        goto done;
    }
    rc = auth_principal_for_key(out, &k);
done:
    if (real) {
        memset(real, 0, strlen(real));
        free(real);
    }
    access_key_release(&k);
    return rc;
}

int signin_key_active(const char *akid, const char *arn)
{
    struct access_key k;
    struct principal p;
    int rc = store_access_key_get(akid, &k);
    if (rc == E_NOTFOUND)
        return error_set(E_UNAUTH, "the access key '%s' is gone", akid);
    if (rc < 0)
        return rc;
    bool active = strcmp(k.status, "Active") == 0;
    rc = active ? auth_principal_for_key(&p, &k) : 0;
    access_key_release(&k);
    if (rc < 0)
        return rc;
    if (!active || strcmp(p.arn, arn) != 0)
        return error_set(E_UNAUTH, "the access key '%s' is no longer active", akid);
    return 0;
}

/* ---- failed password attempts ---- */

void signin_user_key(char *out, size_t size, const char *account, const char *user)
{
    snprintf(out, size, "user/%s/%s", account, user);
    for (char *p = out; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
}

/* The waits of one key: the seconds until its window ends when it has
 * reached limit, else 0. */
static int key_wait(const char *prefix, const char *key, int limit, int64_t now_ms, int64_t *wait_s)
{
    char k[220];
    int64_t fails, since;
    snprintf(k, sizeof(k), "%s:%s", prefix, key);
    int rc = store_signin_failures_get(k, now_ms, LIMIT_WINDOW_MS, &fails, &since);
    *wait_s = 0;
    if (rc == 0 && fails >= limit) {
        int64_t left = since + LIMIT_WINDOW_MS - now_ms;
        *wait_s = left > 0 ? (left + 999) / 1000 : 0;
    }
    return rc;
}

int signin_limit_wait(const char *user_key, const char *addr, int64_t now_ms, int64_t *retry_s)
{
    int64_t a = 0, b = 0;
    int rc = key_wait("u", user_key, LIMIT_PER_USER, now_ms, &a);
    if (rc == 0)
        rc = key_wait("a", addr, LIMIT_PER_ADDR, now_ms, &b);
    *retry_s = a > b ? a : b;
    return rc;
}

int signin_limit_failed(const char *user_key, const char *addr, int64_t now_ms)
{
    char k[220];
    int rc = store_signin_failures_expire(now_ms - LIMIT_WINDOW_MS);
    snprintf(k, sizeof(k), "u:%s", user_key);
    if (rc == 0)
        rc = store_signin_failure_add(k, now_ms, LIMIT_WINDOW_MS);
    snprintf(k, sizeof(k), "a:%s", addr);
    if (rc == 0)
        rc = store_signin_failure_add(k, now_ms, LIMIT_WINDOW_MS);
    return rc;
}

int signin_limit_succeeded(const char *user_key)
{
    char k[220];
    snprintf(k, sizeof(k), "u:%s", user_key);
    return store_signin_failures_clear(k);
}
