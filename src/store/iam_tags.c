/*
 * This module implements store/iam_tags.h on SQLite: the tags column of
 * iam_users and iam_policies (the same JSON text CreateUser and
 * CreatePolicy store).
 */
#include "store/iam_tags.h"

#include "core/error.h"
#include "store/internal.h"

/* Binds account, name and tags to st and runs it; E_NOTFOUND when no row changed. */
static int tags_set(struct db_statement *st, const char *account, const char *name, const char *tags_json, const char *what)
{
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, name);
    db_bind_text(st, 3, tags_json);
    int rc = db_done(st, what);
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "%s '%s' does not exist", what, name);
    return rc;
}

int store_user_tags_set(const char *account, const char *user, const char *tags_json)
{
    return tags_set(db_stmt("UPDATE iam_users SET tags = ?3 WHERE account_id = ?1 AND name = ?2"), account, user, tags_json,
                    "user");
}

int store_policy_tags_set(const char *account, const char *arn, const char *tags_json)
{
    return tags_set(db_stmt("UPDATE iam_policies SET tags = ?3 WHERE account_id = ?1 AND arn = ?2"), account, arn, tags_json,
                    "policy");
}
