/*
 * This module implements store/console.h: the iam_login_profiles table (a
 * profile goes with its user), the console_sessions table, and the
 * console's repository search over the repositories table.
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
