/*
 * This module implements the scoped write transactions of store/locks.h:
 * on PostgreSQL, BEGIN and then transaction-scoped advisory locks in a
 * fixed order (the registry key shared, then one scope key exclusive);
 * on SQLite, BEGIN IMMEDIATE. The time to take them is counted by scope
 * (berth_store_lock_wait_seconds; on SQLite all of it as "registry").
 */
#include "store/locks.h"

#include <stdio.h>

#include "store/internal.h"
#include "store/store.h"

#include "core/util.h"

/* The registry key is db.c's writer lock ("berth" in ASCII); the scope
 * keys are two-int keys of classes of their own ("berth" + 4, + 5, + 6;
 * PostgreSQL keeps two-int and one-bigint keys apart). A repository's key
 * is its id folded to 32 bits, an account's the hash of its id: two scopes
 * that share a key only wait for each other more than they need to. */
#define REPO_LOCK "SELECT pg_advisory_xact_lock(1650553464, CAST(%lld AS integer))"
#define ACCOUNT_LOCK "SELECT pg_advisory_xact_lock(1650553465, hashtext(?1))"
#define NAMED_LOCK "SELECT pg_advisory_xact_lock(1650553466, hashtext(?1))"

/* BEGIN, the registry key shared, then the scope's key, in one round trip
 * when the key is a number (then: its statement; NULL: none), or after it
 * when the key is text (key(arg): the statement to bind; NULL: none);
 * rolled back when a lock cannot be taken. */
static int begin_scoped(const char *scope, const char *then, struct db_statement *(*key)(const void *arg), const void *arg)
{
    int64_t t0 = mono_us();
    char sql[256];
    snprintf(sql, sizeof(sql), "%s%s%s", DB_PG_REGISTRY_SHARED, then ? "; " : "", then ? then : "");
    int rc = db_begin_write_with(sql, "begin");
    if (rc == 0 && db_is_pg() && key && (rc = db_done(key(arg), "begin")) < 0)
        store_rollback();
    /* on SQLite every writer excludes all the others */
    if (rc == 0)
        db_lock_waited(db_is_pg() ? scope : "registry", mono_us() - t0);
    return rc;
}

static struct db_statement *account_key(const void *arg)
{
    struct db_statement *st = db_stmt(ACCOUNT_LOCK);
    db_bind_text(st, 1, arg);
    return st;
}

static struct db_statement *named_key(const void *arg)
{
    struct db_statement *st = db_stmt(NAMED_LOCK);
    db_bind_text(st, 1, arg);
    return st;
}

int store_begin_repo(int64_t repo_id)
{
    char lock[128];
    snprintf(lock, sizeof(lock), REPO_LOCK, (long long)((int64_t)(uint32_t)repo_id - 2147483648LL));
    return begin_scoped("repository", lock, NULL, NULL);
}

int store_begin_account(const char *account_id)
{
    return begin_scoped("account", NULL, account_key, account_id);
}

int store_begin_shared(void)
{
    return begin_scoped("shared", NULL, NULL, NULL);
}

int store_begin_shared_unsynced(void)
{
    if (!db_is_pg())
        return store_begin_shared();
    return begin_scoped("shared", "SET LOCAL synchronous_commit TO off", NULL, NULL);
}

int store_begin_named(const char *name)
{
    return begin_scoped(name, NULL, named_key, name);
}
