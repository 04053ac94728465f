/*
 * This module implements the metadata store of store.h on SQLite.
 *
 * Each thread opens its own connection on first use and keeps its prepared
 * statements (keyed by the address of the SQL literal) for its lifetime, so
 * a request costs no parsing of SQL. Writers use BEGIN IMMEDIATE so two
 * threads never deadlock upgrading read locks; the busy timeout absorbs
 * short waits on the single WAL writer.
 */
#include "store/store.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

static char *db_path;

static const char *const migrations[] = {
    /* 1: the data plane */
    "CREATE TABLE accounts(id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
    "CREATE TABLE access_keys(id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_name TEXT, secret_enc TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Active', created_at INTEGER NOT NULL);"
    "CREATE TABLE repositories(id INTEGER PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  name TEXT NOT NULL, created_at INTEGER NOT NULL, tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE',"
    "  mutability_filters TEXT, scan_on_push INTEGER NOT NULL DEFAULT 0, encryption_type TEXT NOT NULL DEFAULT 'AES256',"
    "  kms_key TEXT, policy TEXT, lifecycle_policy TEXT, UNIQUE(account_id, name));"
    "CREATE TABLE repo_tags(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY(repo_id, key)) WITHOUT ROWID;"
    "CREATE TABLE blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE repo_blobs(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  digest TEXT NOT NULL REFERENCES blobs(digest), PRIMARY KEY(repo_id, digest)) WITHOUT ROWID;"
    "CREATE TABLE manifests(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, digest TEXT NOT NULL,"
    "  media_type TEXT NOT NULL, artifact_type TEXT, config_media_type TEXT, subject TEXT, size INTEGER NOT NULL,"
    "  image_size INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL, pushed_at INTEGER NOT NULL, last_pull INTEGER,"
    "  PRIMARY KEY(repo_id, digest));"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject) WHERE subject IS NOT NULL;"
    "CREATE TABLE tags(repo_id INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY(repo_id, name), FOREIGN KEY(repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE)"
    "  WITHOUT ROWID;"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE manifest_blobs(repo_id INTEGER NOT NULL, manifest_digest TEXT NOT NULL, blob_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, manifest_digest, blob_digest),"
    "  FOREIGN KEY(repo_id, manifest_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE manifest_refs(repo_id INTEGER NOT NULL, parent_digest TEXT NOT NULL, child_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, parent_digest, child_digest),"
    "  FOREIGN KEY(repo_id, parent_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE INDEX manifest_refs_child ON manifest_refs(repo_id, child_digest);"
    "CREATE TABLE uploads(id TEXT PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE settings(scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(scope, key))"
    "  WITHOUT ROWID;",
    /* 2: identity -- IAM users, groups, memberships, customer managed policies and their versions, attachments of
     * managed policies (customer and arn:aws:iam::aws:policy/...) and inline policies; names are unique regardless
     * of case, as in IAM */
    "CREATE TABLE iam_users(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL, tags TEXT,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_groups(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_group_members(account_id TEXT NOT NULL, group_name TEXT NOT NULL COLLATE NOCASE,"
    "  user_name TEXT NOT NULL COLLATE NOCASE, added_at INTEGER NOT NULL, PRIMARY KEY(account_id, group_name, user_name),"
    "  FOREIGN KEY(account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE INDEX iam_group_members_user ON iam_group_members(account_id, user_name);"
    "CREATE TABLE iam_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL UNIQUE,"
    "  description TEXT NOT NULL DEFAULT '', default_version INTEGER NOT NULL, next_version INTEGER NOT NULL, tags TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_policy_versions(policy_arn TEXT NOT NULL REFERENCES iam_policies(arn) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL, document TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(policy_arn, version))"
    "  WITHOUT ROWID;"
    "CREATE TABLE iam_attachments(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name TEXT NOT NULL COLLATE NOCASE,"
    "  policy_arn TEXT NOT NULL, attached_at INTEGER NOT NULL, PRIMARY KEY(account_id, entity, entity_name, policy_arn))"
    "  WITHOUT ROWID;"
    "CREATE INDEX iam_attachments_policy ON iam_attachments(account_id, policy_arn);"
    "CREATE TABLE iam_inline_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name TEXT NOT NULL COLLATE NOCASE,"
    "  name TEXT NOT NULL COLLATE NOCASE, document TEXT NOT NULL, PRIMARY KEY(account_id, entity, entity_name, name))"
    "  WITHOUT ROWID;"
    "CREATE INDEX access_keys_user ON access_keys(account_id, user_name);",
    /* 3: garbage collection needs to know when a blob was (last) linked to a repository */
    "ALTER TABLE repo_blobs ADD COLUMN linked_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE INDEX manifest_blobs_blob ON manifest_blobs(repo_id, blob_digest);",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

struct stmt_slot {
    const char *sql;
    sqlite3_stmt *stmt;
};

static _Thread_local sqlite3 *tdb;
static _Thread_local struct stmt_slot tcache[256];

static int db_error(const char *what)
{
    return error_set(E_ERROR, "database: %s: %s", what, tdb ? sqlite3_errmsg(tdb) : "not open");
}

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;

static void thread_exit(void *unused)
{
    (void)unused;
    store_close_thread();
}

static void make_thread_key(void)
{
    pthread_key_create(&thread_key, thread_exit);
}

static sqlite3 *db(void)
{
    if (tdb)
        return tdb;
    /* the connection is closed when its thread ends */
    pthread_once(&thread_key_once, make_thread_key);
    pthread_setspecific(thread_key, (void *)1);
    if (sqlite3_open_v2(db_path, &tdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        log_error("cannot open database '%s': %s", db_path, sqlite3_errmsg(tdb));
        abort();
    }
    sqlite3_busy_timeout(tdb, 10000);
    sqlite3_exec(tdb, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", NULL, NULL, NULL);
    return tdb;
}

/* The cached statement for sql (a string literal), reset and unbound. */
static sqlite3_stmt *stmt(const char *sql)
{
    sqlite3 *d = db();
    size_t n = sizeof(tcache) / sizeof(tcache[0]);
    for (size_t i = 0; i < n; i++) {
        if (tcache[i].sql == sql) {
            sqlite3_reset(tcache[i].stmt);
            sqlite3_clear_bindings(tcache[i].stmt);
            return tcache[i].stmt;
        }
        if (!tcache[i].sql) {
            if (sqlite3_prepare_v3(d, sql, -1, SQLITE_PREPARE_PERSISTENT, &tcache[i].stmt, NULL) != SQLITE_OK) {
                log_error("cannot prepare '%s': %s", sql, sqlite3_errmsg(d));
                abort(); /* SQL in this file is fixed: a bad statement is a bug */
            }
            tcache[i].sql = sql;
            return tcache[i].stmt;
        }
    }
    log_error("statement cache full");
    abort();
}

static void bind_text(sqlite3_stmt *st, int i, const char *z)
{
    if (z)
        sqlite3_bind_text(st, i, z, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *z = sqlite3_column_text(st, i);
    return z ? xstrdup((const char *)z) : NULL;
}

static void col_copy(char *out, size_t size, sqlite3_stmt *st, int i)
{
    const unsigned char *z = sqlite3_column_text(st, i);
    snprintf(out, size, "%s", z ? (const char *)z : "");
}

/* Runs a statement that returns no rows; maps constraint failures. */
static int step_done(sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    int ext = sqlite3_extended_errcode(db());
    sqlite3_reset(st);
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return error_set(E_EXISTS, "%s: already exists", what);
    if (ext == SQLITE_CONSTRAINT_FOREIGNKEY)
        return error_set(E_NOTFOUND, "%s: refers to something that does not exist", what);
    return db_error(what);
}

static int64_t count_query(sqlite3_stmt *st)
{
    int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

int store_open(const char *data_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/berth.db", data_dir);
    free(db_path);
    db_path = xstrdup(path);
    sqlite3 *d = db();
    int version = 0;
    sqlite3_stmt *st;
    sqlite3_prepare_v2(d, "PRAGMA user_version", -1, &st, NULL);
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > NMIGRATIONS)
        return error_set(E_UNSUPPORTED, "database schema version %d is newer than this berth (%d)", version, NMIGRATIONS);
    for (int v = version; v < NMIGRATIONS; v++) {
        char pragma[64];
        char *err = NULL;
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", v + 1);
        if (sqlite3_exec(d, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(d, migrations[v], NULL, NULL, &err) != SQLITE_OK ||
            sqlite3_exec(d, pragma, NULL, NULL, &err) != SQLITE_OK || sqlite3_exec(d, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
            int rc = error_set(E_ERROR, "database migration to version %d failed: %s", v + 1, err ? err : "?");
            sqlite3_free(err);
            sqlite3_exec(d, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        log_info("database migrated to schema version %d", v + 1);
    }
    return 0;
}

void store_close_thread(void)
{
    for (size_t i = 0; i < sizeof(tcache) / sizeof(tcache[0]); i++) {
        if (tcache[i].stmt)
            sqlite3_finalize(tcache[i].stmt);
        tcache[i].stmt = NULL;
        tcache[i].sql = NULL;
    }
    if (tdb)
        sqlite3_close(tdb);
    tdb = NULL;
}

int store_begin(void)
{
    return step_done(stmt("BEGIN IMMEDIATE"), "begin");
}

int store_commit(void)
{
    return step_done(stmt("COMMIT"), "commit");
}

void store_rollback(void)
{
    if (!sqlite3_get_autocommit(db()))
        step_done(stmt("ROLLBACK"), "rollback");
}

/* ---- accounts and keys ---- */

int store_account_create(const char *account_id)
{
    sqlite3_stmt *st = stmt("INSERT INTO accounts(id, created_at) VALUES(?1, ?2)");
    bind_text(st, 1, account_id);
    sqlite3_bind_int64(st, 2, now_ms());
    return step_done(st, "account");
}

int store_account_exists(const char *account_id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM accounts WHERE id = ?1");
    bind_text(st, 1, account_id);
    return count_query(st) > 0 ? 0 : error_set(E_NOTFOUND, "account '%s' does not exist", account_id);
}

int store_accounts_each(int (*fn)(void *ctx, const char *id), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT id FROM accounts ORDER BY created_at, rowid");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0)))
            break;
    sqlite3_reset(st);
    return 0;
}

int store_account_default(char out[13])
{
    sqlite3_stmt *st = stmt("SELECT id FROM accounts ORDER BY created_at, rowid LIMIT 1");
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        col_copy(out, 13, st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

void access_key_release(struct access_key *k)
{
    free(k->user_name);
    free(k->secret_enc);
    k->user_name = k->secret_enc = NULL;
}

int store_access_key_put(const char *id, const char *account_id, const char *user_name, const char *secret_enc)
{
    sqlite3_stmt *st =
        stmt("INSERT INTO access_keys(id, account_id, user_name, secret_enc, created_at) VALUES(?1, ?2, ?3, ?4, ?5)");
    bind_text(st, 1, id);
    bind_text(st, 2, account_id);
    bind_text(st, 3, user_name);
    bind_text(st, 4, secret_enc);
    sqlite3_bind_int64(st, 5, now_ms());
    return step_done(st, "access key");
}

static void key_from_row(sqlite3_stmt *st, struct access_key *k)
{
    memset(k, 0, sizeof(*k));
    col_copy(k->id, sizeof(k->id), st, 0);
    col_copy(k->account_id, sizeof(k->account_id), st, 1);
    k->user_name = col_dup(st, 2);
    k->secret_enc = col_dup(st, 3);
    col_copy(k->status, sizeof(k->status), st, 4);
    k->created_ms = sqlite3_column_int64(st, 5);
}

int store_access_key_get(const char *id, struct access_key *out)
{
    sqlite3_stmt *st =
        stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys WHERE id = ?1");
    int rc = E_NOTFOUND;
    bind_text(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        key_from_row(st, out);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int store_access_key_delete(const char *id)
{
    sqlite3_stmt *st = stmt("DELETE FROM access_keys WHERE id = ?1");
    bind_text(st, 1, id);
    int rc = step_done(st, "access key");
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "access key '%s' does not exist", id);
    return rc;
}

int store_root_keys(const char *account_id, int (*fn)(void *ctx, const struct access_key *k), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys "
                            "WHERE account_id = ?1 AND user_name IS NULL ORDER BY created_at DESC");
    bind_text(st, 1, account_id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct access_key k;
        key_from_row(st, &k);
        int stop = fn(ctx, &k);
        access_key_release(&k);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---- repositories ---- */

#define REPO_COLUMNS                                                                                                       \
    "id, account_id, name, created_at, tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key, policy, " \
    "lifecycle_policy"

void repo_release(struct repo *r)
{
    free(r->name);
    free(r->tag_mutability);
    free(r->mutability_filters);
    free(r->encryption_type);
    free(r->kms_key);
    free(r->policy);
    free(r->lifecycle_policy);
    memset(r, 0, sizeof(*r));
}

static void repo_from_row(sqlite3_stmt *st, struct repo *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    col_copy(r->account_id, sizeof(r->account_id), st, 1);
    r->name = col_dup(st, 2);
    r->created_ms = sqlite3_column_int64(st, 3);
    r->tag_mutability = col_dup(st, 4);
    r->mutability_filters = col_dup(st, 5);
    r->scan_on_push = sqlite3_column_int(st, 6) != 0;
    r->encryption_type = col_dup(st, 7);
    r->kms_key = col_dup(st, 8);
    r->policy = col_dup(st, 9);
    r->lifecycle_policy = col_dup(st, 10);
}

static int repo_one(sqlite3_stmt *st, struct repo *out, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        repo_from_row(st, out);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? error_set(E_NOTFOUND, "repository '%s' does not exist", what) : db_error("repository");
}

int store_repo_get(const char *account_id, const char *name, struct repo *out)
{
    sqlite3_stmt *st = stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE account_id = ?1 AND name = ?2");
    bind_text(st, 1, account_id);
    bind_text(st, 2, name);
    return repo_one(st, out, name);
}

int store_repo_get_by_id(int64_t id, struct repo *out)
{
    sqlite3_stmt *st = stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    return repo_one(st, out, "?");
}

static void bind_repo(sqlite3_stmt *st, const struct repo *r)
{
    bind_text(st, 1, r->account_id);
    bind_text(st, 2, r->name);
    bind_text(st, 3, r->tag_mutability ? r->tag_mutability : "MUTABLE");
    bind_text(st, 4, r->mutability_filters);
    sqlite3_bind_int(st, 5, r->scan_on_push);
    bind_text(st, 6, r->encryption_type ? r->encryption_type : "AES256");
    bind_text(st, 7, r->kms_key);
    bind_text(st, 8, r->policy);
    bind_text(st, 9, r->lifecycle_policy);
}

int store_repo_create(struct repo *r)
{
    sqlite3_stmt *st = stmt("INSERT INTO repositories(account_id, name, tag_mutability, mutability_filters, scan_on_push, "
                            "encryption_type, kms_key, policy, lifecycle_policy, created_at) "
                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    bind_repo(st, r);
    r->created_ms = now_ms();
    sqlite3_bind_int64(st, 10, r->created_ms);
    int rc = step_done(st, "repository");
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "repository '%s' already exists", r->name);
    if (rc == 0)
        r->id = sqlite3_last_insert_rowid(db());
    return rc;
}

int store_repo_update(const struct repo *r)
{
    sqlite3_stmt *st = stmt("UPDATE repositories SET account_id = ?1, name = ?2, tag_mutability = ?3, mutability_filters = ?4,"
                            " scan_on_push = ?5, encryption_type = ?6, kms_key = ?7, policy = ?8, lifecycle_policy = ?9"
                            " WHERE id = ?10");
    bind_repo(st, r);
    sqlite3_bind_int64(st, 10, r->id);
    return step_done(st, "repository");
}

int store_repo_delete(int64_t id)
{
    /* manifests first: their children (tags, refs) cascade from them */
    sqlite3_stmt *st = stmt("DELETE FROM manifests WHERE repo_id = ?1");
    sqlite3_bind_int64(st, 1, id);
    int rc = step_done(st, "manifests");
    if (rc < 0)
        return rc;
    st = stmt("DELETE FROM repositories WHERE id = ?1");
    sqlite3_bind_int64(st, 1, id);
    rc = step_done(st, "repository");
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "repository %lld does not exist", (long long)id);
    return rc;
}

int64_t store_repo_count(const char *account_id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM repositories WHERE account_id = ?1");
    bind_text(st, 1, account_id);
    return count_query(st);
}

int store_repo_list(const char *account_id, const char *after, int limit, int (*fn)(void *ctx, const struct repo *r),
                    void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE account_id = ?1 AND name > ?2 "
                            "ORDER BY name LIMIT ?3");
    bind_text(st, 1, account_id);
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct repo r;
        repo_from_row(st, &r);
        int stop = fn(ctx, &r);
        repo_release(&r);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("repositories");
}

int64_t store_repo_image_count(int64_t repo_id)
{
    return store_manifest_count(repo_id);
}

int store_repo_tags_get(int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT key, value FROM repo_tags WHERE repo_id = ?1 ORDER BY key");
    sqlite3_bind_int64(st, 1, repo_id);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1)))
            break;
    sqlite3_reset(st);
    return 0;
}

int store_repo_tag_put(int64_t repo_id, const char *key, const char *value)
{
    sqlite3_stmt *st = stmt("INSERT INTO repo_tags(repo_id, key, value) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT(repo_id, key) DO UPDATE SET value = excluded.value");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, key);
    bind_text(st, 3, value);
    return step_done(st, "resource tag");
}

int store_repo_tag_delete(int64_t repo_id, const char *key)
{
    sqlite3_stmt *st = stmt("DELETE FROM repo_tags WHERE repo_id = ?1 AND key = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, key);
    return step_done(st, "resource tag");
}

int64_t store_repo_tag_count(int64_t repo_id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM repo_tags WHERE repo_id = ?1");
    sqlite3_bind_int64(st, 1, repo_id);
    return count_query(st);
}

/* ---- blobs ---- */

int store_blob_add(const char *digest, uint64_t size)
{
    sqlite3_stmt *st = stmt("INSERT INTO blobs(digest, size, created_at) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING");
    bind_text(st, 1, digest);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 3, now_ms());
    return step_done(st, "blob");
}

int store_blob_link(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("INSERT INTO repo_blobs(repo_id, digest, linked_at) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, now_ms());
    return step_done(st, "blob link");
}

int store_blob_linked(int64_t repo_id, const char *digest, uint64_t *size_out)
{
    sqlite3_stmt *st = stmt("SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
                            "WHERE r.repo_id = ?1 AND r.digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (size_out)
            *size_out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "blob '%s' is not in the repository", digest);
}

int store_blob_unlink(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    int rc = step_done(st, "blob link");
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "blob '%s' is not in the repository", digest);
    return rc;
}

int store_blob_size(const char *digest, uint64_t *size_out)
{
    sqlite3_stmt *st = stmt("SELECT size FROM blobs WHERE digest = ?1");
    bind_text(st, 1, digest);
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *size_out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "blob '%s' is unknown", digest);
}

/* ---- manifests and tags ---- */

void manifest_release(struct manifest *m)
{
    free(m->media_type);
    free(m->artifact_type);
    free(m->config_media_type);
    free(m->subject);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

#define MANIFEST_COLUMNS                                                                                                   \
    "digest, media_type, artifact_type, config_media_type, subject, size, image_size, pushed_at, last_pull"

static void manifest_from_row(sqlite3_stmt *st, struct manifest *m, bool with_body)
{
    memset(m, 0, sizeof(*m));
    col_copy(m->digest, sizeof(m->digest), st, 0);
    m->media_type = col_dup(st, 1);
    m->artifact_type = col_dup(st, 2);
    m->config_media_type = col_dup(st, 3);
    m->subject = col_dup(st, 4);
    m->size = (uint64_t)sqlite3_column_int64(st, 5);
    m->image_size = (uint64_t)sqlite3_column_int64(st, 6);
    m->pushed_ms = sqlite3_column_int64(st, 7);
    m->last_pull_ms = sqlite3_column_int64(st, 8);
    if (with_body) {
        int n = sqlite3_column_bytes(st, 9);
        m->body = xmalloc((size_t)n + 1);
        memcpy(m->body, sqlite3_column_blob(st, 9), (size_t)n);
        m->body[n] = '\0';
    }
}

int store_manifest_put(int64_t repo_id, const struct manifest *m, const struct manifest_ref *refs, size_t nrefs,
                       const char *tag)
{
    int rc;
    sqlite3_stmt *st = stmt("INSERT INTO manifests(repo_id, digest, media_type, artifact_type, config_media_type, subject, "
                            "size, image_size, body, pushed_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                            "ON CONFLICT DO NOTHING");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, m->digest);
    bind_text(st, 3, m->media_type);
    bind_text(st, 4, m->artifact_type);
    bind_text(st, 5, m->config_media_type);
    bind_text(st, 6, m->subject);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)m->size);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)m->image_size);
    sqlite3_bind_blob(st, 9, m->body, (int)m->size, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, m->pushed_ms ? m->pushed_ms : now_ms());
    if ((rc = step_done(st, "manifest")) < 0)
        return rc;
    bool inserted = sqlite3_changes(db()) > 0;
    for (size_t i = 0; inserted && i < nrefs; i++) {
        if (refs[i].is_manifest)
            st = stmt("INSERT INTO manifest_refs(repo_id, parent_digest, child_digest) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT DO NOTHING");
        else
            st = stmt("INSERT INTO manifest_blobs(repo_id, manifest_digest, blob_digest) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT DO NOTHING");
        sqlite3_bind_int64(st, 1, repo_id);
        bind_text(st, 2, m->digest);
        bind_text(st, 3, refs[i].digest);
        if ((rc = step_done(st, "manifest reference")) < 0)
            return rc;
    }
    if (tag)
        return store_tag_put(repo_id, tag, m->digest);
    return 0;
}

int store_manifest_get(int64_t repo_id, const char *digest, bool with_body, struct manifest *out)
{
    sqlite3_stmt *st = with_body ? stmt("SELECT " MANIFEST_COLUMNS ", body FROM manifests WHERE repo_id = ?1 AND digest = ?2")
                                 : stmt("SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        manifest_from_row(st, out, with_body);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
}

int store_manifest_exists(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    return count_query(st) > 0 ? 0 : error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
}

int store_manifest_delete(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    int rc = step_done(st, "manifest");
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
    return rc;
}

int64_t store_manifest_parent_count(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM manifest_refs WHERE repo_id = ?1 AND child_digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    return count_query(st);
}

int store_manifest_touch_pull(int64_t repo_id, const char *digest, int64_t ms)
{
    sqlite3_stmt *st = stmt("UPDATE manifests SET last_pull = ?3 WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    sqlite3_bind_int64(st, 3, ms);
    return step_done(st, "manifest");
}

int64_t store_manifest_count(int64_t repo_id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM manifests WHERE repo_id = ?1");
    sqlite3_bind_int64(st, 1, repo_id);
    return count_query(st);
}

int store_tag_resolve(int64_t repo_id, const char *tag, char out[DIGEST_MAX])
{
    sqlite3_stmt *st = stmt("SELECT digest FROM tags WHERE repo_id = ?1 AND name = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, tag);
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        col_copy(out, DIGEST_MAX, st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "tag '%s' is unknown", tag);
}

int store_tag_put(int64_t repo_id, const char *tag, const char *digest)
{
    sqlite3_stmt *st = stmt("INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?1, ?2, ?3, ?4) "
                            "ON CONFLICT(repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, tag);
    bind_text(st, 3, digest);
    sqlite3_bind_int64(st, 4, now_ms());
    return step_done(st, "tag");
}

int store_tag_delete(int64_t repo_id, const char *tag)
{
    sqlite3_stmt *st = stmt("DELETE FROM tags WHERE repo_id = ?1 AND name = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, tag);
    int rc = step_done(st, "tag");
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "tag '%s' is unknown", tag);
    return rc;
}

int64_t store_tag_count_for(int64_t repo_id, const char *digest)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM tags WHERE repo_id = ?1 AND digest = ?2");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    return count_query(st);
}

int store_tags_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const char *tag, const char *digest),
                    void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT name, digest FROM tags WHERE repo_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1)))
            break;
    sqlite3_reset(st);
    return 0;
}

int store_tags_of(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *tag), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT name FROM tags WHERE repo_id = ?1 AND digest = ?2 ORDER BY name");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0)))
            break;
    sqlite3_reset(st);
    return 0;
}

int store_referrers(int64_t repo_id, const char *subject, int (*fn)(void *ctx, const struct manifest *m), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " MANIFEST_COLUMNS ", body FROM manifests WHERE repo_id = ?1 AND subject = ?2 "
                            "ORDER BY digest");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, subject);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct manifest m;
        manifest_from_row(st, &m, true);
        int stop = fn(ctx, &m);
        manifest_release(&m);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return 0;
}

int store_manifests_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const struct manifest *m),
                         void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest > ?2 "
                            "ORDER BY digest LIMIT ?3");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, after ? after : "");
    sqlite3_bind_int(st, 3, limit);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct manifest m;
        manifest_from_row(st, &m, false);
        int stop = fn(ctx, &m);
        manifest_release(&m);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return 0;
}

/* ---- upload sessions ---- */

int store_upload_create(const char *id, int64_t repo_id)
{
    sqlite3_stmt *st = stmt("INSERT INTO uploads(id, repo_id, created_at) VALUES(?1, ?2, ?3)");
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, repo_id);
    sqlite3_bind_int64(st, 3, now_ms());
    return step_done(st, "upload");
}

int store_upload_get(const char *id, int64_t repo_id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM uploads WHERE id = ?1 AND repo_id = ?2");
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, repo_id);
    return count_query(st) > 0 ? 0 : error_set(E_NOTFOUND, "upload '%s' is unknown", id);
}

int store_upload_delete(const char *id)
{
    sqlite3_stmt *st = stmt("DELETE FROM uploads WHERE id = ?1");
    bind_text(st, 1, id);
    return step_done(st, "upload");
}

/* ---- settings ---- */

int store_setting_get(const char *scope, const char *key, char **out)
{
    sqlite3_stmt *st = stmt("SELECT value FROM settings WHERE scope = ?1 AND key = ?2");
    bind_text(st, 1, scope);
    bind_text(st, 2, key);
    int rc = E_NOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *out = col_dup(st, 0);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int store_setting_delete(const char *scope, const char *key)
{
    sqlite3_stmt *st = stmt("DELETE FROM settings WHERE scope = ?1 AND key = ?2");
    bind_text(st, 1, scope);
    bind_text(st, 2, key);
    return step_done(st, "setting");
}

int store_setting_put(const char *scope, const char *key, const char *value)
{
    sqlite3_stmt *st = stmt("INSERT INTO settings(scope, key, value) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value");
    bind_text(st, 1, scope);
    bind_text(st, 2, key);
    bind_text(st, 3, value);
    return step_done(st, "setting");
}

/* ---- images (ECR BatchDeleteImage) ---- */

int store_manifest_parents(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT parent_digest FROM manifest_refs WHERE repo_id = ?1 AND child_digest = ?2 "
                            "ORDER BY parent_digest");
    sqlite3_bind_int64(st, 1, repo_id);
    bind_text(st, 2, digest);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0)))
            break;
    sqlite3_reset(st);
    return 0;
}

/* ---- IAM: users, groups, managed and inline policies ---- */

static const char *entity_name(enum iam_entity kind)
{
    return kind == IAM_ENTITY_USER ? "user" : "group";
}

#define IAM_ENTITY_COLUMNS "account_id, name, path, id, arn, created_at"

/* Users and groups have the same columns and the same record layout. */
#define ENTITY_FROM_ROW(st, e)                                                                                             \
    do {                                                                                                                   \
        memset((e), 0, sizeof(*(e)));                                                                                      \
        col_copy((e)->account_id, sizeof((e)->account_id), (st), 0);                                                       \
        col_copy((e)->name, sizeof((e)->name), (st), 1);                                                                   \
        col_copy((e)->path, sizeof((e)->path), (st), 2);                                                                   \
        col_copy((e)->id, sizeof((e)->id), (st), 3);                                                                       \
        col_copy((e)->arn, sizeof((e)->arn), (st), 4);                                                                     \
        (e)->created_ms = sqlite3_column_int64((st), 5);                                                                   \
    } while (0)

static int entity_create(sqlite3_stmt *st, const char *account, const char *name, const char *path, const char *id,
                         const char *arn, int64_t created_ms, const char *what)
{
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    bind_text(st, 3, path);
    bind_text(st, 4, id);
    bind_text(st, 5, arn);
    sqlite3_bind_int64(st, 6, created_ms ? created_ms : now_ms());
    int rc = step_done(st, what);
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "%s with name %s already exists", what, name);
    return rc;
}

static int changed_or_notfound(int rc, const char *what, const char *name)
{
    if (rc == 0 && sqlite3_changes(db()) == 0)
        return error_set(E_NOTFOUND, "%s '%s' does not exist", what, name);
    return rc;
}

int store_user_create(const struct iam_user *u, const char *tags_json)
{
    sqlite3_stmt *st = stmt("INSERT INTO iam_users(account_id, name, path, id, arn, created_at, tags) "
                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    bind_text(st, 7, tags_json);
    return entity_create(st, u->account_id, u->name, u->path, u->id, u->arn, u->created_ms, "user");
}

int store_user_get(const char *account, const char *name, struct iam_user *out)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_ENTITY_COLUMNS " FROM iam_users WHERE account_id = ?1 AND name = ?2");
    int rc = E_NOTFOUND;
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        ENTITY_FROM_ROW(st, out);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "user '%s' does not exist", name);
}

/* The text of one column of one row, malloc'd into *out (NULL for SQL NULL). */
static int text_query(sqlite3_stmt *st, char **out, const char *what)
{
    int rc = sqlite3_step(st);
    *out = NULL;
    if (rc == SQLITE_ROW)
        *out = col_dup(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? error_set(E_NOTFOUND, "%s does not exist", what) : db_error(what);
}

int store_user_tags(const char *account, const char *name, char **out)
{
    sqlite3_stmt *st = stmt("SELECT tags FROM iam_users WHERE account_id = ?1 AND name = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    return text_query(st, out, "user");
}

int store_user_delete(const char *account, const char *name)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_users WHERE account_id = ?1 AND name = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    return changed_or_notfound(step_done(st, "user"), "user", name);
}

int store_users_list(const char *account, const char *path_prefix, const char *after, int limit,
                     int (*fn)(void *ctx, const struct iam_user *u), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_ENTITY_COLUMNS " FROM iam_users WHERE account_id = ?1 AND name > ?2 "
                            "AND (?3 IS NULL OR substr(path, 1, length(?3)) = ?3) ORDER BY name LIMIT ?4");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, after ? after : "");
    bind_text(st, 3, path_prefix);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_user u;
        ENTITY_FROM_ROW(st, &u);
        if (fn(ctx, &u))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("users");
}

int store_group_create(const struct iam_group *g)
{
    sqlite3_stmt *st = stmt("INSERT INTO iam_groups(account_id, name, path, id, arn, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    return entity_create(st, g->account_id, g->name, g->path, g->id, g->arn, g->created_ms, "group");
}

int store_group_get(const char *account, const char *name, struct iam_group *out)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_ENTITY_COLUMNS " FROM iam_groups WHERE account_id = ?1 AND name = ?2");
    int rc = E_NOTFOUND;
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        ENTITY_FROM_ROW(st, out);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "group '%s' does not exist", name);
}

int store_group_delete(const char *account, const char *name)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_groups WHERE account_id = ?1 AND name = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, name);
    return changed_or_notfound(step_done(st, "group"), "group", name);
}

int store_groups_list(const char *account, const char *path_prefix, const char *after, int limit,
                      int (*fn)(void *ctx, const struct iam_group *g), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_ENTITY_COLUMNS " FROM iam_groups WHERE account_id = ?1 AND name > ?2 "
                            "AND (?3 IS NULL OR substr(path, 1, length(?3)) = ?3) ORDER BY name LIMIT ?4");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, after ? after : "");
    bind_text(st, 3, path_prefix);
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_group g;
        ENTITY_FROM_ROW(st, &g);
        if (fn(ctx, &g))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("groups");
}

int store_group_add_user(const char *account, const char *group, const char *user)
{
    sqlite3_stmt *st = stmt("INSERT INTO iam_group_members(account_id, group_name, user_name, added_at) "
                            "VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    bind_text(st, 1, account);
    bind_text(st, 2, group);
    bind_text(st, 3, user);
    sqlite3_bind_int64(st, 4, now_ms());
    return step_done(st, "group member");
}

int store_group_remove_user(const char *account, const char *group, const char *user)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_group_members WHERE account_id = ?1 AND group_name = ?2 AND user_name = ?3");
    bind_text(st, 1, account);
    bind_text(st, 2, group);
    bind_text(st, 3, user);
    return changed_or_notfound(step_done(st, "group member"), "group member", user);
}

int store_group_members(const char *account, const char *group, const char *after, int limit,
                        int (*fn)(void *ctx, const struct iam_user *u), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT u.account_id, u.name, u.path, u.id, u.arn, u.created_at FROM iam_group_members m "
                            "JOIN iam_users u ON u.account_id = m.account_id AND u.name = m.user_name "
                            "WHERE m.account_id = ?1 AND m.group_name = ?2 AND u.name > ?3 ORDER BY u.name LIMIT ?4");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, group);
    bind_text(st, 3, after ? after : "");
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_user u;
        ENTITY_FROM_ROW(st, &u);
        if (fn(ctx, &u))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("group members");
}

int store_user_groups(const char *account, const char *user, const char *after, int limit,
                      int (*fn)(void *ctx, const struct iam_group *g), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT g.account_id, g.name, g.path, g.id, g.arn, g.created_at FROM iam_group_members m "
                            "JOIN iam_groups g ON g.account_id = m.account_id AND g.name = m.group_name "
                            "WHERE m.account_id = ?1 AND m.user_name = ?2 AND g.name > ?3 ORDER BY g.name LIMIT ?4");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, user);
    bind_text(st, 3, after ? after : "");
    sqlite3_bind_int(st, 4, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_group g;
        ENTITY_FROM_ROW(st, &g);
        if (fn(ctx, &g))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("groups of user");
}

int store_iam_usage(const char *account, enum iam_entity kind, const char *name, struct iam_usage *out)
{
    sqlite3_stmt *st = stmt("SELECT "
                            " (SELECT count(*) FROM access_keys WHERE ?2 = 'user' AND account_id = ?1 AND user_name = ?3),"
                            " (SELECT count(*) FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3),"
                            " (SELECT count(*) FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3),"
                            " (SELECT count(*) FROM iam_group_members WHERE ?2 = 'user' AND account_id = ?1 AND user_name = ?3),"
                            " (SELECT count(*) FROM iam_group_members WHERE ?2 = 'group' AND account_id = ?1 AND group_name = ?3)");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    memset(out, 0, sizeof(*out));
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->access_keys = sqlite3_column_int64(st, 0);
        out->inline_policies = sqlite3_column_int64(st, 1);
        out->attached_policies = sqlite3_column_int64(st, 2);
        out->groups = sqlite3_column_int64(st, 3);
        out->members = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : db_error("usage");
}

void iam_policy_version_release(struct iam_policy_version *v)
{
    free(v->document);
    memset(v, 0, sizeof(*v));
}

#define IAM_POLICY_COLUMNS                                                                                                 \
    "p.account_id, p.name, p.path, p.id, p.arn, p.description, p.default_version, p.created_at, p.updated_at, "           \
    "(SELECT count(*) FROM iam_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)"

static void policy_from_row(sqlite3_stmt *st, struct iam_policy *p)
{
    memset(p, 0, sizeof(*p));
    col_copy(p->account_id, sizeof(p->account_id), st, 0);
    col_copy(p->name, sizeof(p->name), st, 1);
    col_copy(p->path, sizeof(p->path), st, 2);
    col_copy(p->id, sizeof(p->id), st, 3);
    col_copy(p->arn, sizeof(p->arn), st, 4);
    col_copy(p->description, sizeof(p->description), st, 5);
    p->default_version = sqlite3_column_int(st, 6);
    p->created_ms = sqlite3_column_int64(st, 7);
    p->updated_ms = sqlite3_column_int64(st, 8);
    p->attachment_count = sqlite3_column_int64(st, 9);
}

int store_policy_create(const struct iam_policy *p, const char *document, const char *tags_json)
{
    int64_t now = p->created_ms ? p->created_ms : now_ms();
    sqlite3_stmt *st = stmt("INSERT INTO iam_policies(account_id, name, path, id, arn, description, default_version, "
                            "next_version, tags, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1, 2, ?7, ?8, ?8)");
    bind_text(st, 1, p->account_id);
    bind_text(st, 2, p->name);
    bind_text(st, 3, p->path);
    bind_text(st, 4, p->id);
    bind_text(st, 5, p->arn);
    bind_text(st, 6, p->description);
    bind_text(st, 7, tags_json);
    sqlite3_bind_int64(st, 8, now);
    int rc = step_done(st, "policy");
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "policy %s already exists", p->name);
    if (rc < 0)
        return rc;
    st = stmt("INSERT INTO iam_policy_versions(policy_arn, version, document, created_at) VALUES(?1, 1, ?2, ?3)");
    bind_text(st, 1, p->arn);
    bind_text(st, 2, document);
    sqlite3_bind_int64(st, 3, now);
    return step_done(st, "policy version");
}

int store_policy_get(const char *account, const char *arn, struct iam_policy *out)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_POLICY_COLUMNS " FROM iam_policies p WHERE p.account_id = ?1 AND p.arn = ?2");
    int rc = E_NOTFOUND;
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    if (sqlite3_step(st) == SQLITE_ROW) {
        policy_from_row(st, out);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "policy '%s' does not exist", arn);
}

int store_policy_tags(const char *account, const char *arn, char **out)
{
    sqlite3_stmt *st = stmt("SELECT tags FROM iam_policies WHERE account_id = ?1 AND arn = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    return text_query(st, out, "policy");
}

int store_policy_delete(const char *account, const char *arn)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_policies WHERE account_id = ?1 AND arn = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    return changed_or_notfound(step_done(st, "policy"), "policy", arn);
}

int store_policies_list(const char *account, const char *path_prefix, bool only_attached, const char *after, int limit,
                        int (*fn)(void *ctx, const struct iam_policy *p), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT " IAM_POLICY_COLUMNS " FROM iam_policies p WHERE p.account_id = ?1 AND p.name > ?2 "
                            "AND (?3 IS NULL OR substr(p.path, 1, length(?3)) = ?3) AND (?4 = 0 OR EXISTS (SELECT 1 FROM "
                            "iam_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)) "
                            "ORDER BY p.name LIMIT ?5");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, after ? after : "");
    bind_text(st, 3, path_prefix);
    sqlite3_bind_int(st, 4, only_attached);
    sqlite3_bind_int(st, 5, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_policy p;
        policy_from_row(st, &p);
        if (fn(ctx, &p))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("policies");
}

int store_policy_version_add(const char *account, const char *arn, const char *document, bool set_default, int max_versions,
                             int *version_out)
{
    sqlite3_stmt *st = stmt("SELECT p.next_version, (SELECT count(*) FROM iam_policy_versions v WHERE v.policy_arn = p.arn) "
                            "FROM iam_policies p WHERE p.account_id = ?1 AND p.arn = ?2");
    int next = 0, count = 0, rc;
    int64_t now = now_ms();
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        next = sqlite3_column_int(st, 0);
        count = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? error_set(E_NOTFOUND, "policy '%s' does not exist", arn) : db_error("policy");
    if (count >= max_versions)
        return error_set(E_TOOBIG, "policy '%s' has %d versions already", arn, count);
    st = stmt("INSERT INTO iam_policy_versions(policy_arn, version, document, created_at) VALUES(?1, ?2, ?3, ?4)");
    bind_text(st, 1, arn);
    sqlite3_bind_int(st, 2, next);
    bind_text(st, 3, document);
    sqlite3_bind_int64(st, 4, now);
    if ((rc = step_done(st, "policy version")) < 0)
        return rc;
    st = stmt("UPDATE iam_policies SET next_version = ?3 + 1, default_version = CASE WHEN ?4 THEN ?3 ELSE default_version END,"
              " updated_at = CASE WHEN ?4 THEN ?5 ELSE updated_at END WHERE account_id = ?1 AND arn = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    sqlite3_bind_int(st, 3, next);
    sqlite3_bind_int(st, 4, set_default);
    sqlite3_bind_int64(st, 5, now);
    if ((rc = step_done(st, "policy")) < 0)
        return rc;
    *version_out = next;
    return 0;
}

static void version_from_row(sqlite3_stmt *st, struct iam_policy_version *v)
{
    memset(v, 0, sizeof(*v));
    v->version = sqlite3_column_int(st, 0);
    v->is_default = sqlite3_column_int(st, 1) != 0;
    v->created_ms = sqlite3_column_int64(st, 2);
    v->document = col_dup(st, 3);
}

int store_policy_version_get(const char *account, const char *arn, int version, struct iam_policy_version *out)
{
    sqlite3_stmt *st = stmt("SELECT v.version, v.version = p.default_version, v.created_at, v.document "
                            "FROM iam_policy_versions v JOIN iam_policies p ON p.arn = v.policy_arn "
                            "WHERE p.account_id = ?1 AND p.arn = ?2 AND v.version = ?3");
    int rc = E_NOTFOUND;
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    sqlite3_bind_int(st, 3, version);
    if (sqlite3_step(st) == SQLITE_ROW) {
        version_from_row(st, out);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "policy '%s' has no version v%d", arn, version);
}

int store_policy_versions(const char *account, const char *arn, int (*fn)(void *ctx, const struct iam_policy_version *v),
                          void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT v.version, v.version = p.default_version, v.created_at, v.document "
                            "FROM iam_policy_versions v JOIN iam_policies p ON p.arn = v.policy_arn "
                            "WHERE p.account_id = ?1 AND p.arn = ?2 ORDER BY v.version DESC");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_policy_version v;
        version_from_row(st, &v);
        int stop = fn(ctx, &v);
        iam_policy_version_release(&v);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("policy versions");
}

int store_policy_version_delete(const char *account, const char *arn, int version)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_policy_versions WHERE version = ?3 AND policy_arn = "
                            "(SELECT arn FROM iam_policies WHERE account_id = ?1 AND arn = ?2)");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    sqlite3_bind_int(st, 3, version);
    return changed_or_notfound(step_done(st, "policy version"), "policy version of", arn);
}

int store_policy_set_default(const char *account, const char *arn, int version)
{
    sqlite3_stmt *st = stmt("UPDATE iam_policies SET default_version = ?3, updated_at = ?4 WHERE account_id = ?1 AND arn = ?2 "
                            "AND EXISTS (SELECT 1 FROM iam_policy_versions v WHERE v.policy_arn = ?2 AND v.version = ?3)");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    sqlite3_bind_int(st, 3, version);
    sqlite3_bind_int64(st, 4, now_ms());
    return changed_or_notfound(step_done(st, "policy"), "policy version of", arn);
}

int64_t store_policy_attachment_count(const char *account, const char *arn)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM iam_attachments WHERE account_id = ?1 AND policy_arn = ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, arn);
    return count_query(st);
}

int store_policy_attach(const char *account, enum iam_entity kind, const char *name, const char *arn)
{
    sqlite3_stmt *st = stmt("INSERT INTO iam_attachments(account_id, entity, entity_name, policy_arn, attached_at) "
                            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, arn);
    sqlite3_bind_int64(st, 5, now_ms());
    return step_done(st, "policy attachment");
}

int store_policy_detach(const char *account, enum iam_entity kind, const char *name, const char *arn)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND policy_arn = ?4");
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, arn);
    return changed_or_notfound(step_done(st, "policy attachment"), "attachment of", arn);
}

int store_attached_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                            int (*fn)(void *ctx, const char *arn), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT policy_arn FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND policy_arn > ?4 ORDER BY policy_arn LIMIT ?5");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, after ? after : "");
    sqlite3_bind_int(st, 5, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("attached policies");
}

int store_inline_policy_put(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            const char *document)
{
    sqlite3_stmt *st = stmt("INSERT INTO iam_inline_policies(account_id, entity, entity_name, name, document) "
                            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO UPDATE SET document = excluded.document");
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, policy_name);
    bind_text(st, 5, document);
    return step_done(st, "inline policy");
}

int store_inline_policy_get(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            char name_out[129], char **document_out)
{
    sqlite3_stmt *st = stmt("SELECT name, document FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 "
                            "AND entity_name = ?3 AND name = ?4");
    int rc = E_NOTFOUND;
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, policy_name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (name_out)
            col_copy(name_out, 129, st, 0);
        *document_out = col_dup(st, 1);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc == 0 ? 0 : error_set(E_NOTFOUND, "inline policy '%s' does not exist", policy_name);
}

int store_inline_policy_delete(const char *account, enum iam_entity kind, const char *name, const char *policy_name)
{
    sqlite3_stmt *st = stmt("DELETE FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND name = ?4");
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, policy_name);
    return changed_or_notfound(step_done(st, "inline policy"), "inline policy", policy_name);
}

int store_inline_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                          int (*fn)(void *ctx, const char *policy_name, const char *document), void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT name, document FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 "
                            "AND entity_name = ?3 AND name > ?4 ORDER BY name LIMIT ?5");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, entity_name(kind));
    bind_text(st, 3, name);
    bind_text(st, 4, after ? after : "");
    sqlite3_bind_int(st, 5, limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(ctx, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1)))
            break;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("inline policies");
}

int store_access_keys_of(const char *account, const char *user_name, int (*fn)(void *ctx, const struct access_key *k),
                         void *ctx)
{
    sqlite3_stmt *st = stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys "
                            "WHERE account_id = ?1 AND user_name IS ?2 ORDER BY id");
    int rc;
    bind_text(st, 1, account);
    bind_text(st, 2, user_name);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct access_key k;
        key_from_row(st, &k);
        int stop = fn(ctx, &k);
        access_key_release(&k);
        if (stop)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_error("access keys");
}

int64_t store_access_key_count(const char *account, const char *user_name)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM access_keys WHERE account_id = ?1 AND user_name IS ?2");
    bind_text(st, 1, account);
    bind_text(st, 2, user_name);
    return count_query(st);
}

int store_access_key_set_status(const char *id, const char *status)
{
    sqlite3_stmt *st = stmt("UPDATE access_keys SET status = ?2 WHERE id = ?1");
    bind_text(st, 1, id);
    bind_text(st, 2, status);
    return changed_or_notfound(step_done(st, "access key"), "access key", id);
}

int store_account_created(const char *account, int64_t *out_ms)
{
    sqlite3_stmt *st = stmt("SELECT created_at FROM accounts WHERE id = ?1");
    int rc;
    bind_text(st, 1, account);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *out_ms = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : error_set(E_NOTFOUND, "account '%s' does not exist", account);
}

struct identity_row {
    char *label;
    char *document;
};

int store_identity_policies(const char *account, const char *user_name,
                            int (*fn)(void *ctx, const char *label, const char *document), void *ctx)
{
    struct identity_row *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!user_name)
        return 0;
    sqlite3_stmt *st = stmt(
        "SELECT 'inline:user/' || entity_name || '/' || name, document FROM iam_inline_policies "
        " WHERE account_id = ?1 AND entity = 'user' AND entity_name = ?2 "
        "UNION ALL "
        "SELECT 'inline:group/' || p.entity_name || '/' || p.name, p.document FROM iam_inline_policies p "
        " JOIN iam_group_members m ON m.account_id = p.account_id AND m.group_name = p.entity_name "
        " WHERE p.account_id = ?1 AND p.entity = 'group' AND m.user_name = ?2 "
        "UNION ALL "
        "SELECT a.policy_arn, v.document FROM (SELECT DISTINCT policy_arn FROM iam_attachments WHERE account_id = ?1 AND "
        "  ((entity = 'user' AND entity_name = ?2) OR (entity = 'group' AND entity_name IN "
        "  (SELECT group_name FROM iam_group_members WHERE account_id = ?1 AND user_name = ?2)))) a "
        " LEFT JOIN iam_policies p ON p.arn = a.policy_arn "
        " LEFT JOIN iam_policy_versions v ON v.policy_arn = p.arn AND v.version = p.default_version");
    bind_text(st, 1, account);
    bind_text(st, 2, user_name);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *label = (const char *)sqlite3_column_text(st, 0);
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (!label)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n].label = xstrdup(label);
        rows[n].document = doc ? xstrdup(doc) : NULL; /* an AWS-managed ARN: the caller knows those */
        n++;
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE ? 0 : db_error("identity policies");
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fn(ctx, rows[i].label, rows[i].document))
            rc = 1;
        free(rows[i].label);
        free(rows[i].document);
    }
    free(rows);
    return rc < 0 ? rc : 0;
}

/* ---- garbage collection ---- */

int store_gc_unlink_unused(int64_t cutoff_ms, int64_t *n_out)
{
    /* a link nobody's manifest uses, made before the cutoff: a push in
     * progress links its blobs before its manifest arrives, so young links
     * are left alone */
    sqlite3_stmt *st = stmt("DELETE FROM repo_blobs WHERE linked_at < ?1 AND NOT EXISTS (SELECT 1 FROM manifest_blobs m "
                            "WHERE m.repo_id = repo_blobs.repo_id AND m.blob_digest = repo_blobs.digest)");
    sqlite3_bind_int64(st, 1, cutoff_ms);
    int rc = step_done(st, "blob links");
    if (rc == 0 && n_out)
        *n_out = sqlite3_changes(db());
    return rc;
}

int store_gc_blobs(int64_t cutoff_ms, int (*fn)(void *ctx, const char *digest), void *ctx)
{
    sqlite3_stmt *st = stmt("DELETE FROM blobs WHERE created_at < ?1 AND NOT EXISTS "
                            "(SELECT 1 FROM repo_blobs r WHERE r.digest = blobs.digest) RETURNING digest");
    int rc;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error("blobs");
}

int store_gc_uploads(int64_t cutoff_ms, int (*fn)(void *ctx, const char *id), void *ctx)
{
    sqlite3_stmt *st = stmt("DELETE FROM uploads WHERE created_at < ?1 RETURNING id");
    int rc;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ctx, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : db_error("uploads");
}

int store_upload_exists(const char *id)
{
    sqlite3_stmt *st = stmt("SELECT count(*) FROM uploads WHERE id = ?1");
    bind_text(st, 1, id);
    return count_query(st) > 0 ? 0 : E_NOTFOUND;
}

/* ---- consistency check (fsck/fsck.c): read-only iteration ----
 *
 * berth fsck reads everything below inside one read transaction, which in
 * WAL mode is a consistent snapshot while a server keeps writing. Nothing
 * here writes: the connection is opened read-only and never migrates. Each
 * iterator hands rows to fn, which returns non-zero to stop, and returns 0
 * or a database error (never 0 for a failed query). */

int store_open_readonly(const char *data_dir)
{
    char path[PATH_MAX];
    sqlite3_stmt *st = NULL;
    int version = -1, rc;
    snprintf(path, sizeof(path), "%s/berth.db", data_dir);
    store_close_thread();
    free(db_path);
    db_path = xstrdup(path);
    if (sqlite3_open_v2(db_path, &tdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        rc = error_set(E_NOTFOUND, "cannot open database '%s': %s", db_path, sqlite3_errmsg(tdb));
        sqlite3_close(tdb);
        tdb = NULL;
        return rc;
    }
    sqlite3_busy_timeout(tdb, 10000);
    if (sqlite3_prepare_v2(tdb, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0)
        return db_error("schema version");
    if (version < 1 || version > NMIGRATIONS)
        return error_set(E_UNSUPPORTED, "database schema version %d is not one this berth reads (1 to %d)", version, NMIGRATIONS);
    return 0;
}

int store_snapshot_begin(void)
{
    /* a deferred BEGIN takes its snapshot at the first read: take it now */
    int rc = step_done(stmt("BEGIN"), "begin");
    if (rc == 0 && count_query(stmt("SELECT count(*) FROM sqlite_schema")) < 0) {
        rc = db_error("snapshot");
        store_rollback();
    }
    return rc;
}

void store_snapshot_end(void)
{
    store_rollback();
}

/* Steps st to its end, calling row() for each row until it returns non-zero. */
static int each_row(sqlite3_stmt *st, const char *what, int (*row)(sqlite3_stmt *st, void *ctx), void *ctx)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (row(st, ctx)) {
            rc = SQLITE_DONE;
            break;
        }
    rc = rc == SQLITE_DONE ? 0 : db_error(what);
    sqlite3_reset(st);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *z = sqlite3_column_text(st, i);
    return z ? (const char *)z : "";
}

struct repositories_each {
    int (*fn)(void *ctx, int64_t id, const char *account_id, const char *name);
    void *ctx;
};

static int repositories_row(sqlite3_stmt *st, void *ctx)
{
    struct repositories_each *e = ctx;
    return e->fn(e->ctx, sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2));
}

int store_repositories_each(int (*fn)(void *ctx, int64_t id, const char *account_id, const char *name), void *ctx)
{
    struct repositories_each e = {fn, ctx};
    return each_row(stmt("SELECT id, account_id, name FROM repositories ORDER BY id"), "repositories", repositories_row, &e);
}

struct digests_each {
    int (*fn)(void *ctx, int64_t repo_id, const char *digest);
    void *ctx;
};

static int digests_row(sqlite3_stmt *st, void *ctx)
{
    struct digests_each *e = ctx;
    return e->fn(e->ctx, sqlite3_column_int64(st, 0), col_text(st, 1));
}

int store_manifests_each(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct digests_each e = {fn, ctx};
    return each_row(stmt("SELECT repo_id, digest FROM manifests ORDER BY repo_id, digest"), "manifests", digests_row, &e);
}

int store_blob_repositories(const char *digest, int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct digests_each e = {fn, ctx};
    sqlite3_stmt *st = stmt("SELECT repo_id, digest FROM repo_blobs WHERE digest = ?1 ORDER BY repo_id");
    bind_text(st, 1, digest);
    return each_row(st, "blob links", digests_row, &e);
}

struct references_each {
    int (*fn)(void *ctx, const struct store_reference *r);
    void *ctx;
};

static int references_row(sqlite3_stmt *st, void *ctx)
{
    struct references_each *e = ctx;
    struct store_reference r = {
        .repo_id = sqlite3_column_int64(st, 0),
        .manifest = col_text(st, 1),
        .target = col_text(st, 2),
        .is_manifest = sqlite3_column_int(st, 3) != 0,
        .target_exists = sqlite3_column_int(st, 4) != 0,
        .target_linked = sqlite3_column_int(st, 5) != 0,
    };
    return e->fn(e->ctx, &r);
}

int store_references_each(int (*fn)(void *ctx, const struct store_reference *r), void *ctx)
{
    struct references_each e = {fn, ctx};
    sqlite3_stmt *st = stmt("SELECT m.repo_id, m.manifest_digest, m.blob_digest, 0,"
                            "  EXISTS (SELECT 1 FROM blobs b WHERE b.digest = m.blob_digest),"
                            "  EXISTS (SELECT 1 FROM repo_blobs r WHERE r.repo_id = m.repo_id AND r.digest = m.blob_digest)"
                            " FROM manifest_blobs m "
                            "UNION ALL "
                            "SELECT c.repo_id, c.parent_digest, c.child_digest, 1,"
                            "  EXISTS (SELECT 1 FROM manifests x WHERE x.repo_id = c.repo_id AND x.digest = c.child_digest), 1"
                            " FROM manifest_refs c "
                            "ORDER BY 1, 2, 3");
    return each_row(st, "manifest references", references_row, &e);
}

struct tags_each {
    int (*fn)(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists);
    void *ctx;
};

static int tags_row(sqlite3_stmt *st, void *ctx)
{
    struct tags_each *e = ctx;
    return e->fn(e->ctx, sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2), sqlite3_column_int(st, 3) != 0);
}

int store_all_tags_each(int (*fn)(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists), void *ctx)
{
    struct tags_each e = {fn, ctx};
    sqlite3_stmt *st = stmt("SELECT t.repo_id, t.name, t.digest,"
                            "  EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = t.repo_id AND m.digest = t.digest)"
                            " FROM tags t ORDER BY t.repo_id, t.name");
    return each_row(st, "tags", tags_row, &e);
}

struct blobs_each {
    int (*fn)(void *ctx, const char *digest, uint64_t size);
    void *ctx;
};

static int blobs_row(sqlite3_stmt *st, void *ctx)
{
    struct blobs_each *e = ctx;
    return e->fn(e->ctx, col_text(st, 0), (uint64_t)sqlite3_column_int64(st, 1));
}

int store_blobs_each(int (*fn)(void *ctx, const char *digest, uint64_t size), void *ctx)
{
    struct blobs_each e = {fn, ctx};
    return each_row(stmt("SELECT digest, size FROM blobs ORDER BY digest"), "blobs", blobs_row, &e);
}

struct uploads_each {
    int (*fn)(void *ctx, const char *id, int64_t repo_id);
    void *ctx;
};

static int uploads_row(sqlite3_stmt *st, void *ctx)
{
    struct uploads_each *e = ctx;
    return e->fn(e->ctx, col_text(st, 0), sqlite3_column_int64(st, 1));
}

int store_uploads_each(int (*fn)(void *ctx, const char *id, int64_t repo_id), void *ctx)
{
    struct uploads_each e = {fn, ctx};
    return each_row(stmt("SELECT id, repo_id FROM uploads ORDER BY id"), "uploads", uploads_row, &e);
}
