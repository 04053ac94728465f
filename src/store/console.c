/*
 * This module implements store/console.h: the iam_login_profiles table (a
 * profile goes with its user), the console_sessions table, what sign-in
 * reads (account aliases, the account password policy, users' past
 * passwords, failed sign-ins), and the console's repository search over
 * the repositories table.
 */
#include "store/console.h"

#include <string.h>

#include "core/error.h"
#include "store/internal.h"

int store_login_profile_create(const struct login_profile *p)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_login_profiles(account_id, user_name, password_hash, reset_required, created_at)"
                               " VALUES (?1, ?2, ?3, ?4, ?5)");
    db_bind_text(st, 1, p->account_id);
    db_bind_text(st, 2, p->user_name);
    db_bind_text(st, 3, p->password_hash);
    if (st) {
        db_bind_int64(st, 4, p->reset_required);
        db_bind_int64(st, 5, p->created_ms);
    }
    return db_done(st, "login profile");
}

int store_login_profile_get(const char *account, const char *user, struct login_profile *out)
{
    struct db_statement *st = db_stmt("SELECT user_name, password_hash, reset_required, created_at FROM iam_login_profiles"
                               " WHERE account_id = ?1 AND user_name = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    int rc = db_row(st, "login profile");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return error_set(E_NOTFOUND, "Login Profile for User %s cannot be found.", user);
    memset(out, 0, sizeof(*out));
    strncat(out->account_id, account, sizeof(out->account_id) - 1);
    db_col_copy(out->user_name, sizeof(out->user_name), st, 0);
    db_col_copy(out->password_hash, sizeof(out->password_hash), st, 1);
    out->reset_required = db_col_int(st, 2) != 0;
    out->created_ms = db_col_int64(st, 3);
    db_reset(st);
    return 0;
}

int store_login_profile_update(const char *account, const char *user, const char *hash, bool reset_required)
{
    struct db_statement *st = db_stmt("UPDATE iam_login_profiles SET password_hash = coalesce(?3, password_hash),"
                               " reset_required = ?4 WHERE account_id = ?1 AND user_name = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    db_bind_text(st, 3, hash);
    if (st)
        db_bind_int64(st, 4, reset_required);
    int rc = db_done(st, "login profile");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "Login Profile for User %s cannot be found.", user);
    return rc;
}

int store_login_profile_delete(const char *account, const char *user)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_login_profiles WHERE account_id = ?1 AND user_name = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    int rc = db_done(st, "login profile");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "Login Profile for User %s cannot be found.", user);
    return rc;
}

int store_console_session_put(const struct console_session *s)
{
    struct db_statement *st = db_stmt("INSERT INTO console_sessions(id_hash, account_id, principal_arn, access_key_id, csrf,"
                               " must_change_password, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    db_bind_text(st, 1, s->id_hash);
    db_bind_text(st, 2, s->account_id);
    db_bind_text(st, 3, s->principal_arn);
    db_bind_text(st, 4, s->access_key_id);
    db_bind_text(st, 5, s->csrf);
    if (st) {
        db_bind_int64(st, 6, s->must_change_password);
        db_bind_int64(st, 7, s->created_ms);
        db_bind_int64(st, 8, s->expires_ms);
    }
    return db_done(st, "console session");
}

int store_console_session_get(const char *id_hash, int64_t now_ms, struct console_session *out)
{
    struct db_statement *st = db_stmt("SELECT account_id, principal_arn, access_key_id, csrf, must_change_password, created_at,"
                               " expires_at FROM console_sessions WHERE id_hash = ?1 AND expires_at > ?2");
    db_bind_text(st, 1, id_hash);
    if (st)
        db_bind_int64(st, 2, now_ms);
    int rc = db_row(st, "console session");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return error_set(E_NOTFOUND, "the console session has ended");
    memset(out, 0, sizeof(*out));
    strncat(out->id_hash, id_hash, sizeof(out->id_hash) - 1);
    db_col_copy(out->account_id, sizeof(out->account_id), st, 0);
    db_col_copy(out->principal_arn, sizeof(out->principal_arn), st, 1);
    db_col_copy(out->access_key_id, sizeof(out->access_key_id), st, 2);
    db_col_copy(out->csrf, sizeof(out->csrf), st, 3);
    out->must_change_password = db_col_int(st, 4) != 0;
    out->created_ms = db_col_int64(st, 5);
    out->expires_ms = db_col_int64(st, 6);
    db_reset(st);
    return 0;
}

int store_console_session_delete(const char *id_hash)
{
    struct db_statement *st = db_stmt("DELETE FROM console_sessions WHERE id_hash = ?1");
    db_bind_text(st, 1, id_hash);
    return db_done(st, "console session");
}

int store_console_session_password_changed(const char *id_hash)
{
    struct db_statement *st = db_stmt("UPDATE console_sessions SET must_change_password = 0 WHERE id_hash = ?1");
    db_bind_text(st, 1, id_hash);
    return db_done(st, "console session");
}

int store_console_sessions_expire(int64_t now_ms)
{
    struct db_statement *st = db_stmt("DELETE FROM console_sessions WHERE expires_at <= ?1");
    if (st)
        db_bind_int64(st, 1, now_ms);
    return db_done(st, "console sessions");
}

int store_console_repo_names(const char *account, const char *text, bool prefix, const char *after, int limit,
                             int (*fn)(void *ctx, const char *name), void *ctx)
{
    struct db_statement *st;
    char upper[300];
    int rc;
    if (prefix) {
        /* names n with text <= n < text-with-its-last-byte-raised: an index range */
        size_t n = strlen(text);
        if (n == 0 || n >= sizeof(upper) || (unsigned char)text[n - 1] == 0xff)
            return error_set(E_INVALID, "the search prefix is empty or too long");
        memcpy(upper, text, n + 1);
        upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
        st = db_stmt("SELECT name FROM repositories WHERE account_id = ?1 AND name > ?2 AND name >= ?3 AND name < ?4"
                     " ORDER BY name LIMIT ?5");
        db_bind_text(st, 3, text);
        db_bind_text(st, 4, upper);
        db_bind_int64(st, 5, limit);
    } else {
        st = db_stmt(DB_SQL("SELECT name FROM repositories WHERE account_id = ?1 AND name > ?2 AND instr(name, ?3) > 0"
                            " ORDER BY name LIMIT ?4",
                            "SELECT name FROM repositories WHERE account_id = ?1 AND name > ?2 AND strpos(name, ?3) > 0"
                            " ORDER BY name LIMIT ?4"));
        db_bind_text(st, 3, text);
        db_bind_int64(st, 4, limit);
    }
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, after ? after : "");
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0)))
            break;
    return db_end(st, rc, "repositories");
}

int store_console_images_by_push(int64_t repo_id, const char *status, int tagged, int64_t after_pushed_ms,
                                 const char *after_digest, int limit,
                                 int (*fn)(void *ctx, const char *digest, int64_t pushed_ms), void *ctx)
{
    /* [status given][tagged + 1]; row values compare as the index orders */
#define PUSH_SELECT "SELECT digest, pushed_at FROM manifests WHERE repo_id = ?1 AND (pushed_at, digest) < (?2, ?3) "
#define PUSH_END " ORDER BY pushed_at DESC, digest DESC LIMIT ?4"
    static const char *const sql[2][3] = {
        {PUSH_SELECT "AND tag_count = 0" PUSH_END, PUSH_SELECT PUSH_END, PUSH_SELECT "AND tag_count > 0" PUSH_END},
        {PUSH_SELECT "AND status = ?5 AND tag_count = 0" PUSH_END, PUSH_SELECT "AND status = ?5" PUSH_END,
         PUSH_SELECT "AND status = ?5 AND tag_count > 0" PUSH_END},
    };
#undef PUSH_SELECT
#undef PUSH_END
    int rc;
    struct db_statement *st = db_stmt(sql[status != NULL][tagged > 0 ? 2 : tagged < 0 ? 0 : 1]);
    db_bind_int64(st, 1, repo_id);
    db_bind_int64(st, 2, after_pushed_ms);
    db_bind_text(st, 3, after_digest);
    db_bind_int64(st, 4, limit);
    if (status)
        db_bind_text(st, 5, status);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0), db_col_int64(st, 1)))
            break;
    return db_end(st, rc, "images");
}

/* ---- account aliases ---- */

int store_account_alias_set(const char *account, const char *alias)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_account_aliases(account_id, alias) VALUES (?1, ?2)"
                                      " ON CONFLICT(account_id) DO UPDATE SET alias = excluded.alias");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, alias);
    return db_done(st, "account alias");
}

int store_account_alias_get(const char *account, char out[ACCOUNT_ALIAS_MAX])
{
    struct db_statement *st = db_stmt("SELECT alias FROM iam_account_aliases WHERE account_id = ?1");
    db_bind_text(st, 1, account);
    int rc = db_row(st, "account alias");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return error_set(E_NOTFOUND, "the account has no alias");
    db_col_copy(out, ACCOUNT_ALIAS_MAX, st, 0);
    db_reset(st);
    return 0;
}

int store_account_alias_delete(const char *account, const char *alias)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_account_aliases WHERE account_id = ?1 AND alias = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, alias);
    int rc = db_done(st, "account alias");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "The account alias %s cannot be found.", alias);
    return rc;
}

int store_account_by_alias(const char *alias, char out[13])
{
    struct db_statement *st = db_stmt("SELECT account_id FROM iam_account_aliases WHERE alias = ?1");
    db_bind_text(st, 1, alias);
    int rc = db_row(st, "account alias");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return error_set(E_NOTFOUND, "no account has the alias '%s'", alias);
    db_col_copy(out, 13, st, 0);
    db_reset(st);
    return 0;
}

/* ---- the account password policy ---- */

int store_password_policy_put(const char *account, const struct password_policy *p)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO iam_password_policies(account_id, min_length, require_symbols, require_numbers, require_uppercase,"
        " require_lowercase, allow_users_to_change, max_age_days, reuse_prevention, hard_expiry)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT(account_id) DO UPDATE SET"
        " min_length = excluded.min_length, require_symbols = excluded.require_symbols,"
        " require_numbers = excluded.require_numbers, require_uppercase = excluded.require_uppercase,"
        " require_lowercase = excluded.require_lowercase, allow_users_to_change = excluded.allow_users_to_change,"
        " max_age_days = excluded.max_age_days, reuse_prevention = excluded.reuse_prevention,"
        " hard_expiry = excluded.hard_expiry");
    db_bind_text(st, 1, account);
    db_bind_int64(st, 2, p->min_length);
    db_bind_int64(st, 3, p->require_symbols);
    db_bind_int64(st, 4, p->require_numbers);
    db_bind_int64(st, 5, p->require_uppercase);
    db_bind_int64(st, 6, p->require_lowercase);
    db_bind_int64(st, 7, p->allow_users_to_change);
    db_bind_int64(st, 8, p->max_age_days);
    db_bind_int64(st, 9, p->reuse_prevention);
    db_bind_int64(st, 10, p->hard_expiry);
    return db_done(st, "password policy");
}

int store_password_policy_get(const char *account, struct password_policy *out)
{
    struct db_statement *st = db_stmt("SELECT min_length, require_symbols, require_numbers, require_uppercase,"
                                      " require_lowercase, allow_users_to_change, max_age_days, reuse_prevention,"
                                      " hard_expiry FROM iam_password_policies WHERE account_id = ?1");
    db_bind_text(st, 1, account);
    int rc = db_row(st, "password policy");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return error_set(E_NOTFOUND, "The Password Policy with domain name %s cannot be found.", account);
    out->min_length = db_col_int64(st, 0);
    out->require_symbols = db_col_int(st, 1) != 0;
    out->require_numbers = db_col_int(st, 2) != 0;
    out->require_uppercase = db_col_int(st, 3) != 0;
    out->require_lowercase = db_col_int(st, 4) != 0;
    out->allow_users_to_change = db_col_int(st, 5) != 0;
    out->max_age_days = db_col_int64(st, 6);
    out->reuse_prevention = db_col_int64(st, 7);
    out->hard_expiry = db_col_int(st, 8) != 0;
    db_reset(st);
    return 0;
}

int store_password_policy_delete(const char *account)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_password_policies WHERE account_id = ?1");
    db_bind_text(st, 1, account);
    int rc = db_done(st, "password policy");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "The Password Policy with domain name %s cannot be found.", account);
    return rc;
}

int store_password_history_add(const char *account, const char *user, const char *hash, int64_t at_ms)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_password_history(account_id, user_name, password_hash, set_at)"
                                      " VALUES (?1, ?2, ?3, ?4)");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    db_bind_text(st, 3, hash);
    db_bind_int64(st, 4, at_ms);
    int rc = db_done(st, "password history");
    if (rc < 0)
        return rc;
    /* only the newest are ever compared */
    st = db_stmt("DELETE FROM iam_password_history WHERE account_id = ?1 AND user_name = ?2 AND set_at < ("
                 "SELECT set_at FROM iam_password_history WHERE account_id = ?1 AND user_name = ?2"
                 " ORDER BY set_at DESC LIMIT 1 OFFSET ?3)");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    db_bind_int64(st, 3, PASSWORD_HISTORY_MAX - 1);
    return db_done(st, "password history");
}

int store_password_history(const char *account, const char *user, int limit,
                           int (*fn)(void *ctx, const char *hash, int64_t set_ms), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT password_hash, set_at FROM iam_password_history"
                                      " WHERE account_id = ?1 AND user_name = ?2 ORDER BY set_at DESC LIMIT ?3");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user);
    db_bind_int64(st, 3, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0), db_col_int64(st, 1)))
            break;
    return db_end(st, rc, "password history");
}

/* ---- failed sign-ins ---- */

int store_signin_failures_get(const char *key, int64_t now_ms, int64_t window_ms, int64_t *fails_out, int64_t *since_out)
{
    struct db_statement *st = db_stmt("SELECT fails, since_at FROM console_signin_failures WHERE key = ?1 AND since_at >= ?2");
    db_bind_text(st, 1, key);
    db_bind_int64(st, 2, now_ms - window_ms);
    *fails_out = 0;
    *since_out = now_ms;
    int rc = db_row(st, "sign-in failures");
    if (rc <= 0)
        return rc;
    *fails_out = db_col_int64(st, 0);
    *since_out = db_col_int64(st, 1);
    db_reset(st);
    return 0;
}

int store_signin_failure_add(const char *key, int64_t now_ms, int64_t window_ms)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO console_signin_failures(key, fails, since_at) VALUES (?1, 1, ?2) ON CONFLICT(key) DO UPDATE SET"
        " fails = CASE WHEN console_signin_failures.since_at < ?3 THEN 1 ELSE console_signin_failures.fails + 1 END,"
        " since_at = CASE WHEN console_signin_failures.since_at < ?3 THEN ?2 ELSE console_signin_failures.since_at END");
    db_bind_text(st, 1, key);
    db_bind_int64(st, 2, now_ms);
    db_bind_int64(st, 3, now_ms - window_ms);
    return db_done(st, "sign-in failures");
}

int store_signin_failures_clear(const char *key)
{
    struct db_statement *st = db_stmt("DELETE FROM console_signin_failures WHERE key = ?1");
    db_bind_text(st, 1, key);
    return db_done(st, "sign-in failures");
}

int store_signin_failures_expire(int64_t before_ms)
{
    struct db_statement *st = db_stmt("DELETE FROM console_signin_failures WHERE since_at < ?1");
    db_bind_int64(st, 1, before_ms);
    return db_done(st, "sign-in failures");
}
