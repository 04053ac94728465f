/*
 * This module implements the scoped write transactions of store/locks.h:
 * on PostgreSQL, BEGIN and then transaction-scoped advisory locks in a
 * fixed order (the registry key shared, then one scope key exclusive);
 * on SQLite, BEGIN IMMEDIATE. The time to take them is counted by scope
 * (berth_store_lock_wait_seconds; on SQLite all of it as "registry").
 */
#include "store/locks.h"
#include "store/internal.h"
#include "store/store.h"

#include "core/util.h"

/* The registry key is db.c's writer lock ("berth" in ASCII); the scope
 * keys are two-int keys of classes of their own ("berth" + 4 and + 5;
 * PostgreSQL keeps two-int and one-bigint keys apart). A repository's key
 * is its id folded to 32 bits, an account's the hash of its id: two scopes
 * that share a key only wait for each other more than they need to. */
#define REGISTRY_SHARED "SELECT pg_advisory_xact_lock_shared(1650553460)"
#define REPO_LOCK "SELECT pg_advisory_xact_lock(1650553464, CAST(?1 AS integer))"
#define ACCOUNT_LOCK "SELECT pg_advisory_xact_lock(1650553465, hashtext(?1))"

/* BEGIN, the registry key shared, then the scope's key (the statement
 * key(arg) makes, bound; key NULL: none); rolled back when a lock cannot
 * be taken. */
static int begin_scoped(const char *scope, struct db_statement *(*key)(const void *arg), const void *arg)
{
    int64_t t0 = mono_us();
    int rc = db_begin_write();
    if (rc < 0 || !db_is_pg())
        goto done;
    if ((rc = db_done(db_stmt(REGISTRY_SHARED), "begin")) == 0 && key)
        rc = db_done(key(arg), "begin");
    if (rc < 0)
        store_rollback();
done:
    /* on SQLite every writer excludes all the others */
    if (rc == 0)
        db_lock_waited(db_is_pg() ? scope : "registry", mono_us() - t0);
    return rc;
}

static struct db_statement *repo_key(const void *arg)
{
    struct db_statement *st = db_stmt(REPO_LOCK);
    int64_t id = *(const int64_t *)arg;
    db_bind_int64(st, 1, (int64_t)(uint32_t)id - 2147483648LL);
    return st;
}

static struct db_statement *account_key(const void *arg)
{
    struct db_statement *st = db_stmt(ACCOUNT_LOCK);
    db_bind_text(st, 1, arg);
    return st;
}

int store_begin_repo(int64_t repo_id)
{
    return begin_scoped("repository", repo_key, &repo_id);
}

int store_begin_account(const char *account_id)
{
    return begin_scoped("account", account_key, account_id);
}

int store_begin_shared(void)
{
    return begin_scoped("shared", NULL, NULL);
}
