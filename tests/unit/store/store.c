/*
 * Unit tests for src/store/store.c against a fresh data directory per test:
 * migrations, accounts and keys, repositories (create, lookup, list pages,
 * resource tags, delete with everything hanging off it), blob links,
 * manifests with references and tags, moving tags, referrers by subject,
 * upload sessions, settings, transactions and per-thread connections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "store/store.h"
#include "tmpdir.h"

#define ACCT "111122223333"
#define ACCT2 "444455556666"

struct fixture {
    char dir[128];
};

static int rm_rf(const char *dir)
{
    return tmpdir_remove(dir);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-store-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (store_open(f->dir) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close_thread();
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* the same database through a separate handle, to look behind the API */
static int64_t sql_int(struct fixture *f, const char *sql)
{
    char path[160];
    sqlite3 *d;
    sqlite3_stmt *st;
    int64_t v = -1;
    snprintf(path, sizeof(path), "%s/berth.db", f->dir);
    assert_int_equal(sqlite3_open(path, &d), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return v;
}

static void sql_exec(struct fixture *f, const char *sql)
{
    char path[160];
    sqlite3 *d;
    snprintf(path, sizeof(path), "%s/berth.db", f->dir);
    assert_int_equal(sqlite3_open(path, &d), SQLITE_OK);
    assert_int_equal(sqlite3_exec(d, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
}

static int64_t make_repo(const char *account, const char *name)
{
    struct repo r;
    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), "%s", account);
    r.name = (char *)name;
    assert_int_equal(store_repo_create(&r), 0);
    assert_true(r.id > 0);
    return r.id;
}

/* A manifest record for body (digest computed over it). */
static struct manifest make_manifest(const char *body, const char *subject)
{
    struct manifest m;
    memset(&m, 0, sizeof(m));
    digest_sha256(m.digest, body, strlen(body));
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.config_media_type = "application/vnd.oci.image.config.v1+json";
    m.subject = (char *)subject;
    m.body = (char *)body;
    m.size = strlen(body);
    m.image_size = 1000;
    return m;
}

static void digest_of(char out[DIGEST_MAX], const char *z)
{
    digest_sha256(out, z, strlen(z));
}

/* The count a store_*_count() call wrote to n_out; the call must succeed. */
static int64_t n_out;

static int64_t count_ok(int rc)
{
    assert_int_equal(rc, 0);
    return n_out;
}

/* ---- collectors for the iterating functions ---- */

struct names {
    int n;
    char v[16][300];
};

static int collect_repo(void *ctx, const struct repo *r)
{
    struct names *c = ctx;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", r->name);
    return 0;
}

static int collect_tag(void *ctx, const char *tag, const char *digest)
{
    struct names *c = ctx;
    (void)digest;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", tag);
    return 0;
}

static int collect_tag1(void *ctx, const char *tag)
{
    return collect_tag(ctx, tag, NULL);
}

static int collect_manifest(void *ctx, const struct manifest *m)
{
    struct names *c = ctx;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", m->digest);
    return 0;
}

static int collect_id(void *ctx, const char *id)
{
    return collect_tag(ctx, id, NULL);
}

static int collect_kv(void *ctx, const char *k, const char *v)
{
    struct names *c = ctx;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s=%s", k, v);
    return 0;
}

static int stop_after_one(void *ctx, const struct repo *r)
{
    collect_repo(ctx, r);
    return 1;
}

/* ---- tests ---- */

static void test_migrations(void **state)
{
    struct fixture *f = *state;
    int64_t v = sql_int(f, "PRAGMA user_version");
    assert_true(v >= 1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                                "('accounts','access_keys','repositories','repo_tags','blobs','repo_blobs','manifests',"
                                "'tags','manifest_blobs','manifest_refs','uploads','settings')"),
                     12);
    assert_int_equal(store_account_create(ACCT), 0);

    /* reopening migrates nothing and keeps the data */
    store_close_thread();
    assert_int_equal(store_open(f->dir), 0);
    assert_int_equal(sql_int(f, "PRAGMA user_version"), v);
    assert_int_equal(store_account_exists(ACCT), 0);

    /* a database from a newer berth is refused, not downgraded */
    store_close_thread();
    sql_exec(f, "PRAGMA user_version = 9999");
    assert_int_equal(store_open(f->dir), E_UNSUPPORTED);
    assert_non_null(strstr(error_message(), "9999"));
    assert_int_equal(sql_int(f, "PRAGMA user_version"), 9999);
}

static void test_migration_failure_rolls_back(void **state)
{
    struct fixture *f = *state;
    char dir[sizeof(f->dir)];
    /* a database whose version 0 already has a conflicting table */
    snprintf(dir, sizeof(dir), "%.100s/other", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    struct fixture g;
    snprintf(g.dir, sizeof(g.dir), "%s", dir);
    sql_exec(&g, "CREATE TABLE settings(x)");
    store_close_thread();
    assert_int_equal(store_open(dir), E_ERROR);
    assert_non_null(strstr(error_message(), "migration to version 1 failed"));
    assert_int_equal(sql_int(&g, "PRAGMA user_version"), 0);
    assert_int_equal(sql_int(&g, "SELECT count(*) FROM sqlite_master WHERE name = 'accounts'"), 0);
    store_close_thread();
    assert_int_equal(store_open(f->dir), 0);
}

static void test_accounts(void **state)
{
    char def[13];
    struct names c = {0};
    (void)state;
    assert_int_equal(store_account_default(def), E_NOTFOUND);
    assert_int_equal(store_account_exists(ACCT), E_NOTFOUND);
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(store_account_create(ACCT2), 0);
    assert_int_equal(store_account_create(ACCT), E_EXISTS);
    assert_int_equal(store_account_exists(ACCT), 0);
    assert_int_equal(store_account_exists(ACCT2), 0);
    assert_int_equal(store_account_exists("000000000000"), E_NOTFOUND);
    assert_int_equal(store_account_default(def), 0);
    assert_string_equal(def, ACCT);
    assert_int_equal(store_accounts_each(collect_id, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], ACCT);
    assert_string_equal(c.v[1], ACCT2);
}

static int collect_key(void *ctx, const struct access_key *k)
{
    struct names *c = ctx;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s", k->id);
    return 0;
}

static void test_access_keys(void **state)
{
    struct access_key k;
    struct names c = {0};
    (void)state;
    assert_int_equal(store_access_key_put("AKIAROOT0000000001", ACCT, NULL, "sealed1"), E_NOTFOUND); /* no account */
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(store_access_key_put("AKIAROOT0000000001", ACCT, NULL, "sealed1"), 0);
    usleep(2000);
    assert_int_equal(store_access_key_put("AKIAROOT0000000002", ACCT, NULL, "sealed2"), 0);
    assert_int_equal(store_access_key_put("AKIAUSER0000000003", ACCT, "alice", "sealed3"), 0);
    assert_int_equal(store_access_key_put("AKIAROOT0000000001", ACCT, NULL, "again"), E_EXISTS);

    assert_int_equal(store_access_key_get("AKIAUSER0000000003", &k), 0);
    assert_string_equal(k.id, "AKIAUSER0000000003");
    assert_string_equal(k.account_id, ACCT);
    assert_string_equal(k.user_name, "alice");
    assert_string_equal(k.secret_enc, "sealed3");
    assert_string_equal(k.status, "Active");
    assert_true(k.created_ms > 0);
    access_key_release(&k);
    assert_null(k.user_name);
    assert_int_equal(store_access_key_get("AKIAROOT0000000001", &k), 0);
    assert_null(k.user_name);
    access_key_release(&k);
    assert_int_equal(store_access_key_get("AKIANOPE", &k), E_NOTFOUND);

    /* root keys only, newest first */
    assert_int_equal(store_root_keys(ACCT, collect_key, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], "AKIAROOT0000000002");
    assert_string_equal(c.v[1], "AKIAROOT0000000001");

    assert_int_equal(store_access_key_delete("AKIAROOT0000000002"), 0);
    assert_int_equal(store_access_key_delete("AKIAROOT0000000002"), E_NOTFOUND);
    assert_int_equal(store_access_key_get("AKIAROOT0000000002", &k), E_NOTFOUND);
}

static void test_repositories(void **state)
{
    struct repo r, got;
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(store_account_create(ACCT2), 0);

    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), ACCT);
    r.name = "team-a/web-app";
    assert_int_equal(store_repo_create(&r), 0);
    assert_true(r.id > 0);
    assert_true(r.created_ms > 0);
    int64_t id = r.id;

    assert_int_equal(store_repo_get(ACCT, "team-a/web-app", &got), 0);
    assert_int_equal(got.id, id);
    assert_string_equal(got.account_id, ACCT);
    assert_string_equal(got.name, "team-a/web-app");
    assert_int_equal(got.created_ms, r.created_ms);
    assert_string_equal(got.tag_mutability, "MUTABLE"); /* defaults */
    assert_string_equal(got.encryption_type, "AES256");
    assert_false(got.scan_on_push);
    assert_null(got.kms_key);
    assert_null(got.policy);
    assert_null(got.lifecycle_policy);
    assert_null(got.mutability_filters);

    /* update every field */
    got.tag_mutability = (free(got.tag_mutability), strdup("IMMUTABLE_WITH_EXCLUSION"));
    got.mutability_filters = strdup("[{\"filter\":\"latest\",\"filterType\":\"WILDCARD\"}]");
    got.scan_on_push = true;
    got.encryption_type = (free(got.encryption_type), strdup("KMS"));
    got.kms_key = strdup("arn:aws:kms:us-east-1:" ACCT ":key/k");
    got.policy = strdup("{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    got.lifecycle_policy = strdup("{\"rules\":[]}");
    assert_int_equal(store_repo_update(&got), 0);
    repo_release(&got);
    assert_null(got.name);
    assert_int_equal(store_repo_get_by_id(id, &got), 0);
    assert_string_equal(got.tag_mutability, "IMMUTABLE_WITH_EXCLUSION");
    assert_string_equal(got.mutability_filters, "[{\"filter\":\"latest\",\"filterType\":\"WILDCARD\"}]");
    assert_true(got.scan_on_push);
    assert_string_equal(got.encryption_type, "KMS");
    assert_string_equal(got.kms_key, "arn:aws:kms:us-east-1:" ACCT ":key/k");
    assert_string_equal(got.policy, "{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    assert_string_equal(got.lifecycle_policy, "{\"rules\":[]}");
    repo_release(&got);

    /* names are unique per account, not per server */
    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), ACCT);
    r.name = "team-a/web-app";
    assert_int_equal(store_repo_create(&r), E_EXISTS);
    assert_non_null(strstr(error_message(), "team-a/web-app"));
    snprintf(r.account_id, sizeof(r.account_id), ACCT2);
    assert_int_equal(store_repo_create(&r), 0);
    assert_true(r.id != id);
    snprintf(r.account_id, sizeof(r.account_id), "999999999999");
    r.name = "orphan";
    assert_int_equal(store_repo_create(&r), E_NOTFOUND); /* no such account */

    assert_int_equal(store_repo_get(ACCT, "nope", &got), E_NOTFOUND);
    assert_int_equal(store_repo_get(ACCT2, "team-a/web-app", &got), 0);
    assert_int_equal(got.id, r.id);
    repo_release(&got);
    assert_int_equal(store_repo_get_by_id(987654, &got), E_NOTFOUND);
    assert_int_equal(count_ok(store_repo_count(ACCT, &n_out)), 1);
    assert_int_equal(count_ok(store_repo_count(ACCT2, &n_out)), 1);
    assert_int_equal(count_ok(store_repo_count("000000000000", &n_out)), 0);

    /* renaming onto a taken name */
    int64_t other = make_repo(ACCT, "other");
    assert_int_equal(store_repo_get_by_id(other, &got), 0);
    free(got.name);
    got.name = strdup("team-a/web-app");
    assert_int_equal(store_repo_update(&got), E_EXISTS);
    repo_release(&got);
}

static void test_repo_list_pages(void **state)
{
    static const char *const names[] = {"b", "a/x", "a", "c-1", "a/y", "z", "a_b"};
    struct names c = {0};
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(store_account_create(ACCT2), 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        make_repo(ACCT, names[i]);
    make_repo(ACCT2, "elsewhere");

    /* byte order, pages of 3 chained by the last name */
    const char *after = NULL;
    char last[300];
    int pages = 0;
    for (;;) {
        int before = c.n;
        assert_int_equal(store_repo_list(ACCT, after, 3, collect_repo, &c), 0);
        pages++;
        if (c.n - before < 3)
            break;
        snprintf(last, sizeof(last), "%s", c.v[c.n - 1]);
        after = last;
    }
    assert_int_equal(pages, 3);
    assert_int_equal(c.n, 7);
    static const char *const want[] = {"a", "a/x", "a/y", "a_b", "b", "c-1", "z"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(c.v[i], want[i]);

    /* after a name that is not there, and past the end */
    c.n = 0;
    assert_int_equal(store_repo_list(ACCT, "a/z", 100, collect_repo, &c), 0);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.v[0], "a_b");
    c.n = 0;
    assert_int_equal(store_repo_list(ACCT, "z", 100, collect_repo, &c), 0);
    assert_int_equal(c.n, 0);
    /* the callback can stop early */
    c.n = 0;
    assert_int_equal(store_repo_list(ACCT, NULL, 100, stop_after_one, &c), 0);
    assert_int_equal(c.n, 1);
    /* and the statement is reusable right after */
    c.n = 0;
    assert_int_equal(store_repo_list(ACCT2, NULL, 100, collect_repo, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0], "elsewhere");
}

static void test_repo_resource_tags(void **state)
{
    struct names c = {0};
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web");
    assert_int_equal(count_ok(store_repo_tag_count(id, &n_out)), 0);
    assert_int_equal(store_repo_tag_put(id, "team", "a"), 0);
    assert_int_equal(store_repo_tag_put(id, "env", "prod"), 0);
    assert_int_equal(store_repo_tag_put(id, "team", "b"), 0); /* overwrite */
    assert_int_equal(count_ok(store_repo_tag_count(id, &n_out)), 2);
    assert_int_equal(store_repo_tags_get(id, collect_kv, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], "env=prod");
    assert_string_equal(c.v[1], "team=b");
    assert_int_equal(store_repo_tag_delete(id, "env"), 0);
    assert_int_equal(store_repo_tag_delete(id, "env"), 0); /* deleting a missing tag is not an error */
    assert_int_equal(count_ok(store_repo_tag_count(id, &n_out)), 1);
    assert_int_equal(store_repo_tag_put(424242, "k", "v"), E_NOTFOUND);
}

static void test_blobs(void **state)
{
    char d1[DIGEST_MAX], d2[DIGEST_MAX];
    uint64_t size = 0;
    (void)state;
    digest_of(d1, "layer one");
    digest_of(d2, "layer two");
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t a = make_repo(ACCT, "a"), b = make_repo(ACCT, "b");

    assert_int_equal(store_blob_size(d1, &size), E_NOTFOUND);
    assert_int_equal(store_blob_link(a, d1), E_NOTFOUND); /* unknown blob */
    assert_int_equal(store_blob_add(d1, 9), 0);
    assert_int_equal(store_blob_add(d1, 9), 0); /* idempotent */
    assert_int_equal(store_blob_size(d1, &size), 0);
    assert_int_equal(size, 9);
    assert_int_equal(store_blob_linked(a, d1, &size), E_NOTFOUND); /* known, but not linked here */
    assert_int_equal(store_blob_link(a, d1), 0);
    assert_int_equal(store_blob_link(a, d1), 0); /* idempotent */
    assert_int_equal(store_blob_link(424242, d1), E_NOTFOUND); /* unknown repository */
    size = 0;
    assert_int_equal(store_blob_linked(a, d1, &size), 0);
    assert_int_equal(size, 9);
    assert_int_equal(store_blob_linked(a, d1, NULL), 0);
    assert_int_equal(store_blob_linked(b, d1, &size), E_NOTFOUND); /* a repository serves only its own */
    assert_int_equal(store_blob_linked(a, d2, &size), E_NOTFOUND);

    /* big sizes survive the trip through int64 */
    assert_int_equal(store_blob_add(d2, (uint64_t)52000 << 20), 0);
    assert_int_equal(store_blob_link(b, d2), 0);
    assert_int_equal(store_blob_linked(b, d2, &size), 0);
    assert_true(size == (uint64_t)52000 << 20);

    assert_int_equal(store_blob_unlink(a, d1), 0);
    assert_int_equal(store_blob_unlink(a, d1), E_NOTFOUND);
    assert_int_equal(store_blob_linked(a, d1, &size), E_NOTFOUND);
    assert_int_equal(store_blob_size(d1, &size), 0); /* the blob itself stays for GC */
}

static void test_manifests_and_tags(void **state)
{
    struct fixture *f = *state;
    struct manifest got;
    char dig[DIGEST_MAX], layer[DIGEST_MAX], cfg[DIGEST_MAX];
    (void)f;
    digest_of(layer, "layer");
    digest_of(cfg, "config");
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web"), other = make_repo(ACCT, "other");

    /* a body with a NUL in it: stored as bytes, by its size */
    static const char body_bytes[] = "{\"schemaVersion\":2}\0tail";
    struct manifest m = make_manifest("{\"schemaVersion\":2,\"x\":1}", NULL);
    m.artifact_type = "application/vnd.example";
    m.pushed_ms = 1795435200000;
    struct manifest_ref refs[] = {{cfg, false}, {layer, false}, {layer, false}};
    assert_int_equal(store_manifest_put(id, &m, refs, 3, "v1"), 0);
    assert_int_equal(store_manifest_exists(id, m.digest), 0);
    assert_int_equal(store_manifest_exists(other, m.digest), E_NOTFOUND);
    assert_int_equal(count_ok(store_manifest_count(id, &n_out)), 1);
    assert_int_equal(count_ok(store_repo_image_count(id, &n_out)), 1);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM manifest_blobs"), 2);

    assert_int_equal(store_manifest_get(id, m.digest, true, &got), 0);
    assert_string_equal(got.digest, m.digest);
    assert_string_equal(got.media_type, m.media_type);
    assert_string_equal(got.artifact_type, "application/vnd.example");
    assert_string_equal(got.config_media_type, m.config_media_type);
    assert_null(got.subject);
    assert_int_equal(got.size, m.size);
    assert_int_equal(got.image_size, 1000);
    assert_int_equal(got.pushed_ms, 1795435200000);
    assert_int_equal(got.last_pull_ms, 0);
    assert_string_equal(got.body, m.body);
    manifest_release(&got);
    assert_int_equal(store_manifest_get(id, m.digest, false, &got), 0);
    assert_null(got.body);
    manifest_release(&got);
    assert_int_equal(store_manifest_get(other, m.digest, true, &got), E_NOTFOUND);

    struct manifest bin = make_manifest("x", NULL);
    bin.body = (char *)body_bytes;
    bin.size = sizeof(body_bytes) - 1;
    digest_sha256(bin.digest, body_bytes, bin.size);
    assert_int_equal(store_manifest_put(id, &bin, NULL, 0, NULL), 0);
    assert_int_equal(store_manifest_get(id, bin.digest, true, &got), 0);
    assert_int_equal(got.size, sizeof(body_bytes) - 1);
    assert_memory_equal(got.body, body_bytes, sizeof(body_bytes));
    manifest_release(&got);

    /* tags */
    assert_int_equal(store_tag_resolve(id, "v1", dig), 0);
    assert_string_equal(dig, m.digest);
    assert_int_equal(store_tag_resolve(id, "v2", dig), E_NOTFOUND);
    assert_int_equal(store_tag_resolve(other, "v1", dig), E_NOTFOUND);
    /* the same manifest again: another tag, references not duplicated */
    m.pushed_ms = 1;
    assert_int_equal(store_manifest_put(id, &m, refs, 2, "latest"), 0);
    assert_int_equal(count_ok(store_manifest_count(id, &n_out)), 2);
    assert_int_equal(store_manifest_get(id, m.digest, false, &got), 0);
    assert_int_equal(got.pushed_ms, 1795435200000); /* first push kept */
    manifest_release(&got);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM manifest_blobs"), 2);
    assert_int_equal(count_ok(store_tag_count_for(id, m.digest, &n_out)), 2);
    struct names c = {0};
    assert_int_equal(store_tags_of(id, m.digest, collect_tag1, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], "latest");
    assert_string_equal(c.v[1], "v1");

    /* a tag must point at a manifest of its own repository */
    assert_int_equal(store_tag_put(id, "ghost", "sha256:0000000000000000000000000000000000000000000000000000000000000000"),
                     E_NOTFOUND);
    assert_int_equal(store_tag_put(other, "v1", m.digest), E_NOTFOUND);

    /* last pull */
    assert_int_equal(store_manifest_touch_pull(id, m.digest, 1795435299000), 0);
    assert_int_equal(store_manifest_get(id, m.digest, false, &got), 0);
    assert_int_equal(got.last_pull_ms, 1795435299000);
    manifest_release(&got);

    /* deleting a tag, then the manifest: its other tags and references go with it */
    assert_int_equal(store_tag_delete(id, "latest"), 0);
    assert_int_equal(store_tag_delete(id, "latest"), E_NOTFOUND);
    assert_int_equal(count_ok(store_tag_count_for(id, m.digest, &n_out)), 1);
    assert_int_equal(store_manifest_delete(id, m.digest), 0);
    assert_int_equal(store_manifest_delete(id, m.digest), E_NOTFOUND);
    assert_int_equal(store_tag_resolve(id, "v1", dig), E_NOTFOUND);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM manifest_blobs"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM tags"), 0);
    assert_int_equal(count_ok(store_manifest_count(id, &n_out)), 1);
}

static void test_tag_move(void **state)
{
    char dig[DIGEST_MAX];
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web");
    struct manifest a = make_manifest("{\"a\":1}", NULL), b = make_manifest("{\"b\":2}", NULL);
    assert_int_equal(store_manifest_put(id, &a, NULL, 0, "latest"), 0);
    assert_int_equal(store_manifest_put(id, &b, NULL, 0, "latest"), 0);
    assert_int_equal(store_tag_resolve(id, "latest", dig), 0);
    assert_string_equal(dig, b.digest);
    assert_int_equal(count_ok(store_tag_count_for(id, a.digest, &n_out)), 0);
    assert_int_equal(count_ok(store_tag_count_for(id, b.digest, &n_out)), 1);
    assert_int_equal(store_manifest_exists(id, a.digest), 0); /* untagged, not deleted */
    assert_int_equal(store_tag_put(id, "latest", a.digest), 0);
    assert_int_equal(store_tag_resolve(id, "latest", dig), 0);
    assert_string_equal(dig, a.digest);
    /* tags are case-sensitive */
    assert_int_equal(store_tag_put(id, "Latest", b.digest), 0);
    assert_int_equal(store_tag_resolve(id, "Latest", dig), 0);
    assert_string_equal(dig, b.digest);
}

static void test_tags_list_pages(void **state)
{
    struct names c = {0};
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web");
    struct manifest m = make_manifest("{}", NULL);
    assert_int_equal(store_manifest_put(id, &m, NULL, 0, NULL), 0);
    static const char *const tags[] = {"v2", "v10", "latest", "V1", "_x", "1.0"};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(store_tag_put(id, tags[i], m.digest), 0);
    assert_int_equal(store_tags_list(id, NULL, 4, collect_tag, &c), 0);
    assert_int_equal(c.n, 4);
    assert_int_equal(store_tags_list(id, c.v[3], 4, collect_tag, &c), 0);
    assert_int_equal(c.n, 6);
    static const char *const want[] = {"1.0", "V1", "_x", "latest", "v10", "v2"}; /* byte order */
    for (int i = 0; i < 6; i++)
        assert_string_equal(c.v[i], want[i]);
    c.n = 0;
    assert_int_equal(store_tags_list(id, "v2", 4, collect_tag, &c), 0);
    assert_int_equal(c.n, 0);
}

static void test_index_refs(void **state)
{
    struct fixture *f = *state;
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web");
    struct manifest amd = make_manifest("{\"arch\":\"amd64\"}", NULL), arm = make_manifest("{\"arch\":\"arm64\"}", NULL);
    struct manifest idx = make_manifest("{\"manifests\":[]}", NULL);
    idx.config_media_type = NULL;
    idx.media_type = "application/vnd.oci.image.index.v1+json";
    assert_int_equal(store_manifest_put(id, &amd, NULL, 0, NULL), 0);
    assert_int_equal(store_manifest_put(id, &arm, NULL, 0, NULL), 0);
    struct manifest_ref refs[] = {{amd.digest, true}, {arm.digest, true}};
    assert_int_equal(store_manifest_put(id, &idx, refs, 2, "multi"), 0);
    assert_int_equal(count_ok(store_manifest_parent_count(id, amd.digest, &n_out)), 1);
    assert_int_equal(count_ok(store_manifest_parent_count(id, arm.digest, &n_out)), 1);
    assert_int_equal(count_ok(store_manifest_parent_count(id, idx.digest, &n_out)), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM manifest_refs"), 2);
    /* deleting the index frees its children */
    assert_int_equal(store_manifest_delete(id, idx.digest), 0);
    assert_int_equal(count_ok(store_manifest_parent_count(id, amd.digest, &n_out)), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM manifest_refs"), 0);
}

static void test_referrers(void **state)
{
    struct names c = {0};
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web"), other = make_repo(ACCT, "other");
    struct manifest subj = make_manifest("{\"image\":1}", NULL);
    assert_int_equal(store_manifest_put(id, &subj, NULL, 0, "v1"), 0);
    struct manifest sig = make_manifest("{\"sig\":1}", subj.digest), sbom = make_manifest("{\"sbom\":1}", subj.digest);
    sig.artifact_type = "application/vnd.dev.cosign.artifact.sig.v1+json";
    struct manifest unrelated = make_manifest("{\"other\":1}", "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    assert_int_equal(store_manifest_put(id, &sig, NULL, 0, NULL), 0);
    assert_int_equal(store_manifest_put(id, &sbom, NULL, 0, NULL), 0);
    assert_int_equal(store_manifest_put(id, &unrelated, NULL, 0, NULL), 0); /* subject not (yet) pushed: allowed */
    assert_int_equal(store_manifest_put(other, &sig, NULL, 0, NULL), 0);

    assert_int_equal(store_referrers(id, subj.digest, collect_manifest, &c), 0);
    assert_int_equal(c.n, 2);
    /* digest order */
    assert_true(strcmp(c.v[0], c.v[1]) < 0);
    assert_true((strcmp(c.v[0], sig.digest) == 0 && strcmp(c.v[1], sbom.digest) == 0) ||
                (strcmp(c.v[1], sig.digest) == 0 && strcmp(c.v[0], sbom.digest) == 0));
    c.n = 0;
    assert_int_equal(store_referrers(id, unrelated.subject, collect_manifest, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0], unrelated.digest);
    c.n = 0;
    assert_int_equal(store_referrers(id, sig.digest, collect_manifest, &c), 0);
    assert_int_equal(c.n, 0);
    c.n = 0;
    assert_int_equal(store_referrers(other, subj.digest, collect_manifest, &c), 0);
    assert_int_equal(c.n, 1);

    struct manifest got;
    assert_int_equal(store_manifest_get(id, sig.digest, false, &got), 0);
    assert_string_equal(got.subject, subj.digest);
    assert_string_equal(got.artifact_type, "application/vnd.dev.cosign.artifact.sig.v1+json");
    manifest_release(&got);

    /* all manifests, paged by digest */
    c.n = 0;
    assert_int_equal(store_manifests_list(id, NULL, 2, collect_manifest, &c), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(store_manifests_list(id, c.v[1], 2, collect_manifest, &c), 0);
    assert_int_equal(c.n, 4);
    for (int i = 1; i < 4; i++)
        assert_true(strcmp(c.v[i - 1], c.v[i]) < 0);
}

static void test_uploads(void **state)
{
    static const char *const u1 = "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a10";
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web"), other = make_repo(ACCT, "other");
    assert_int_equal(store_upload_get(u1, id), E_NOTFOUND);
    assert_int_equal(store_upload_create(u1, 424242), E_NOTFOUND); /* unknown repository */
    assert_int_equal(store_upload_create(u1, id), 0);
    assert_int_equal(store_upload_create(u1, other), E_EXISTS);
    assert_int_equal(store_upload_get(u1, id), 0);
    assert_int_equal(store_upload_get(u1, other), E_NOTFOUND); /* sessions belong to one repository */
    assert_int_equal(store_upload_delete(u1), 0);
    assert_int_equal(store_upload_get(u1, id), E_NOTFOUND);
    assert_int_equal(store_upload_delete(u1), 0);
}

static void test_repo_delete_cascades(void **state)
{
    struct fixture *f = *state;
    char d[DIGEST_MAX];
    char dig[DIGEST_MAX];
    uint64_t size;
    digest_of(d, "blob");
    assert_int_equal(store_account_create(ACCT), 0);
    int64_t id = make_repo(ACCT, "web"), keep = make_repo(ACCT, "keep");
    assert_int_equal(store_blob_add(d, 4), 0);
    assert_int_equal(store_blob_link(id, d), 0);
    assert_int_equal(store_blob_link(keep, d), 0);
    struct manifest a = make_manifest("{\"a\":1}", NULL), idx = make_manifest("{\"idx\":1}", NULL);
    struct manifest_ref blob_ref = {d, false}, child_ref = {a.digest, true};
    assert_int_equal(store_manifest_put(id, &a, &blob_ref, 1, "a"), 0);
    assert_int_equal(store_manifest_put(id, &idx, &child_ref, 1, "idx"), 0);
    assert_int_equal(store_manifest_put(keep, &a, &blob_ref, 1, "a"), 0);
    assert_int_equal(store_repo_tag_put(id, "team", "x"), 0);
    assert_int_equal(store_upload_create("3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a10", id), 0);

    assert_int_equal(store_repo_delete(id), 0);
    struct repo r;
    assert_int_equal(store_repo_get(ACCT, "web", &r), E_NOTFOUND);
    assert_int_equal(count_ok(store_manifest_count(id, &n_out)), 0);
    assert_int_equal(store_tag_resolve(id, "a", dig), E_NOTFOUND);
    assert_int_equal(store_blob_linked(id, d, &size), E_NOTFOUND);
    assert_int_equal(count_ok(store_repo_tag_count(id, &n_out)), 0);
    assert_int_equal(store_upload_get("3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a10", id), E_NOTFOUND);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT (SELECT count(*) FROM manifest_refs WHERE repo_id = %lld) + "
                               "(SELECT count(*) FROM manifest_blobs WHERE repo_id = %lld)",
             (long long)id, (long long)id);
    assert_int_equal(sql_int(f, sql), 0);
    /* the other repository and the shared blob are untouched */
    assert_int_equal(store_blob_linked(keep, d, &size), 0);
    assert_int_equal(store_tag_resolve(keep, "a", dig), 0);
    assert_string_equal(dig, a.digest);
    assert_int_equal(store_blob_size(d, &size), 0);
    /* the name is free again */
    assert_true(make_repo(ACCT, "web") != 0);
}

static void test_settings(void **state)
{
    char *v = NULL;
    (void)state;
    assert_int_equal(store_setting_get("", "signing_key", &v), E_NOTFOUND);
    assert_null(v);
    assert_int_equal(store_setting_put("", "signing_key", "k1"), 0);
    assert_int_equal(store_setting_put(ACCT, "signing_key", "per-account"), 0);
    assert_int_equal(store_setting_get("", "signing_key", &v), 0);
    assert_string_equal(v, "k1");
    free(v);
    assert_int_equal(store_setting_put("", "signing_key", "k2"), 0);
    assert_int_equal(store_setting_get("", "signing_key", &v), 0);
    assert_string_equal(v, "k2");
    free(v);
    assert_int_equal(store_setting_get(ACCT, "signing_key", &v), 0);
    assert_string_equal(v, "per-account");
    free(v);
    assert_int_equal(store_setting_delete(ACCT, "signing_key"), 0);
    assert_int_equal(store_setting_get(ACCT, "signing_key", &v), E_NOTFOUND);
    assert_int_equal(store_setting_get("", "signing_key", &v), 0);
    free(v);
    assert_int_equal(store_setting_put("", "empty", ""), 0);
    assert_int_equal(store_setting_get("", "empty", &v), 0);
    assert_string_equal(v, "");
    free(v);
}

static void test_transactions(void **state)
{
    (void)state;
    store_rollback(); /* outside a transaction: nothing to do */
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_account_create(ACCT), 0);
    store_rollback();
    assert_int_equal(store_account_exists(ACCT), E_NOTFOUND);
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(store_account_create(ACCT2), 0);
    assert_int_equal(store_commit(), 0);
    assert_int_equal(store_account_exists(ACCT2), 0);
    /* a failure inside a transaction leaves it usable for rollback */
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_account_create("777777777777"), 0);
    assert_int_equal(store_account_create(ACCT), E_EXISTS);
    store_rollback();
    assert_int_equal(store_account_exists("777777777777"), E_NOTFOUND);
    assert_int_equal(store_account_exists(ACCT), 0);
}

static struct iam_identity make_identity(enum iam_entity kind, const char *name, const char *path)
{
    struct iam_identity e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    snprintf(e.account_id, sizeof(e.account_id), ACCT);
    snprintf(e.name, sizeof(e.name), "%s", name);
    snprintf(e.path, sizeof(e.path), "%s", path);
    snprintf(e.id, sizeof(e.id), "%s%s", kind == IAM_ENTITY_USER ? "AIDA" : "AGPA", name);
    snprintf(e.arn, sizeof(e.arn), "arn:aws:iam::" ACCT ":%s%s%s", kind == IAM_ENTITY_USER ? "user" : "group", path, name);
    return e;
}

static int collect_identity(void *ctx, const struct iam_identity *e)
{
    struct names *c = ctx;
    snprintf(c->v[c->n++], sizeof(c->v[0]), "%s%.64s%.64s", e->kind == IAM_ENTITY_USER ? "u:" : "g:", e->path, e->name);
    return 0;
}

/* Users and groups: one implementation, the same behaviour for both kinds. */
static void test_identities(void **state)
{
    (void)state;
    struct iam_identity got;
    char *tags = NULL;
    assert_int_equal(store_account_create(ACCT), 0);
    for (int k = 0; k < 2; k++) {
        enum iam_entity kind = k == 0 ? IAM_ENTITY_USER : IAM_ENTITY_GROUP;
        struct names c = {0};
        struct iam_identity a = make_identity(kind, "Alice", "/"), b = make_identity(kind, "bob", "/dev/"),
                            z = make_identity(kind, "zed", "/dev/");
        a.created_ms = 1234;
        assert_int_equal(store_identity_create(&a, kind == IAM_ENTITY_USER ? "[{\"Key\":\"k\",\"Value\":\"v\"}]" : NULL), 0);
        assert_int_equal(store_identity_create(&b, NULL), 0);
        assert_int_equal(store_identity_create(&z, NULL), 0);
        struct iam_identity dup = make_identity(kind, "ALICE", "/other/");
        assert_int_equal(store_identity_create(&dup, NULL), E_EXISTS); /* names are unique regardless of case */
        assert_int_equal(store_identity_get(ACCT, kind, "alice", &got), 0);
        assert_int_equal(got.kind, kind);
        assert_string_equal(got.name, "Alice"); /* as created */
        assert_string_equal(got.id, a.id);
        assert_string_equal(got.arn, a.arn);
        assert_int_equal(got.created_ms, 1234);
        assert_int_equal(store_identity_get(ACCT, kind, "nobody", &got), E_NOTFOUND);
        assert_int_equal(store_identity_get("999999999999", kind, "Alice", &got), E_NOTFOUND);
        assert_int_equal(store_identity_tags(ACCT, kind, "ALICE", &tags), 0);
        if (kind == IAM_ENTITY_USER)
            assert_string_equal(tags, "[{\"Key\":\"k\",\"Value\":\"v\"}]");
        else
            assert_null(tags);
        free(tags);
        assert_int_equal(store_identity_tags(ACCT, kind, "nobody", &tags), E_NOTFOUND);
        /* by name, by path prefix, in pages */
        assert_int_equal(store_identities_list(ACCT, kind, NULL, NULL, 2, collect_identity, &c), 0);
        assert_int_equal(store_identities_list(ACCT, kind, NULL, "bob", 2, collect_identity, &c), 0);
        assert_int_equal(c.n, 3);
        assert_string_equal(c.v[0], kind == IAM_ENTITY_USER ? "u:/Alice" : "g:/Alice");
        assert_string_equal(c.v[2], kind == IAM_ENTITY_USER ? "u:/dev/zed" : "g:/dev/zed");
        c.n = 0;
        assert_int_equal(store_identities_list(ACCT, kind, "/dev/", NULL, 100, collect_identity, &c), 0);
        assert_int_equal(c.n, 2);
    }
    /* a user and a group may share a name; a group takes no tags */
    struct iam_identity g = make_identity(IAM_ENTITY_GROUP, "tagged", "/");
    assert_int_equal(store_identity_create(&g, "[]"), E_INVALID);
    assert_int_equal(store_identity_get(ACCT, IAM_ENTITY_GROUP, "tagged", &got), E_NOTFOUND);

    /* memberships, seen from either side */
    struct names c = {0};
    assert_int_equal(store_group_add_user(ACCT, "alice", "BOB"), 0);
    assert_int_equal(store_group_add_user(ACCT, "alice", "bob"), 0); /* twice is fine */
    assert_int_equal(store_group_add_user(ACCT, "zed", "bob"), 0);
    assert_int_equal(store_group_add_user(ACCT, "alice", "zed"), 0);
    assert_int_equal(store_group_add_user(ACCT, "alice", "nobody"), E_NOTFOUND);
    assert_int_equal(store_memberships(ACCT, IAM_ENTITY_USER, "bob", NULL, 100, collect_identity, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.v[0], "g:/Alice");
    assert_string_equal(c.v[1], "g:/dev/zed");
    c.n = 0;
    assert_int_equal(store_memberships(ACCT, IAM_ENTITY_GROUP, "ALICE", "bob", 100, collect_identity, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0], "u:/dev/zed");
    assert_int_equal(store_group_remove_user(ACCT, "zed", "bob"), 0);
    assert_int_equal(store_group_remove_user(ACCT, "zed", "bob"), E_NOTFOUND);

    /* deleting an identity ends its memberships */
    assert_int_equal(store_identity_delete(ACCT, IAM_ENTITY_USER, "ZED"), 0);
    assert_int_equal(store_identity_delete(ACCT, IAM_ENTITY_USER, "zed"), E_NOTFOUND);
    c.n = 0;
    assert_int_equal(store_memberships(ACCT, IAM_ENTITY_GROUP, "alice", NULL, 100, collect_identity, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0], "u:/dev/bob");
    assert_int_equal(store_identity_delete(ACCT, IAM_ENTITY_GROUP, "Alice"), 0);
    c.n = 0;
    assert_int_equal(store_memberships(ACCT, IAM_ENTITY_USER, "bob", NULL, 100, collect_identity, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(store_identity_get(ACCT, IAM_ENTITY_USER, "alice", &got), 0); /* the user of that name stays */
}

static void *other_thread(void *arg)
{
    int *rc = arg;
    char def[13];
    /* a new thread opens its own connection and sees committed data */
    rc[0] = store_account_exists(ACCT);
    rc[1] = store_account_default(def);
    rc[2] = store_account_create("888888888888");
    store_close_thread();
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t;
    int rc[3] = {1, 1, 1};
    (void)state;
    assert_int_equal(store_account_create(ACCT), 0);
    assert_int_equal(pthread_create(&t, NULL, other_thread, rc), 0);
    pthread_join(t, NULL);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], 0);
    assert_int_equal(store_account_exists("888888888888"), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_migrations),        T(test_migration_failure_rolls_back),
        T(test_accounts),          T(test_access_keys),
        T(test_repositories),      T(test_repo_list_pages),
        T(test_repo_resource_tags), T(test_blobs),
        T(test_manifests_and_tags), T(test_tag_move),
        T(test_tags_list_pages),   T(test_index_refs),
        T(test_referrers),         T(test_uploads),
        T(test_repo_delete_cascades), T(test_settings),
        T(test_transactions),      T(test_threads),
        T(test_identities),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
