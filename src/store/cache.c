/*
 * This module implements the read cache of store/cache.h: the rows that
 * identify a caller and decide what it may do (access keys, IAM users, a
 * user's identity policies, repositories and their resource tags, the
 * registry policy, pull-time exclusions), kept in this process so that a
 * manifest GET on PostgreSQL makes three round trips instead of eight to
 * ten.
 *
 * Invalidation, across every server of one database: the table
 * cache_generation holds one number, and triggers on every table whose
 * rows are cached (store.c, the migration of "the read cache's
 * generation") add one to it in the same statement that inserts, updates
 * or deletes such a row. So the number moves in the transaction that makes the change, whichever server,
 * `berth admin` command or migration makes it, and no code path can forget
 * to invalidate. A request reads the number once, when it identifies its
 * caller (one primary-key read), and uses only entries loaded under that
 * very number; an entry of any other generation is read again. A change
 * committed before a request began is therefore seen by that request on
 * every server, as if nothing were cached: nothing is eventually
 * consistent, there is no TTL and no notification that could arrive late.
 * An entry is loaded after the generation was read, so what it holds is
 * never older than its generation says.
 *
 * Chosen over LISTEN/NOTIFY (no read per request, but the notice reaches
 * the other server after the writer's COMMIT returns, so a client that
 * changes a policy through one server and calls the other at once could
 * still pass; and a lost listening connection must be noticed) and over a
 * TTL (stale by design; IAM's own eventual consistency would allow seconds,
 * ECR's repository policies take effect at once). The cost is the one read
 * per request and a write of one row per change of a cached table, which
 * is rare (IAM and repository settings, not pushes: repositories' trigger
 * watches the columns cached here, not lifecycle_evaluated_at).
 *
 * An access key is kept as the store has it, its secret sealed: nothing
 * decrypted stays in memory longer than the request that opens it.
 *
 * Generations start at a random number in each database and only grow; a
 * lower one than this process has seen (a database restored from a backup
 * under running servers) empties the cache.
 *
 * Each kind of row has a fixed table of slots, one per hash of its key, so
 * memory is bounded whatever names callers send (a miss, E_NOTFOUND, is
 * cached too); a collision replaces the slot. One mutex guards all tables:
 * it is held to copy an entry in or out, never while the database is read.
 */
#include "store/cache.h"
#include "store/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/metrics.h"

#define SLOTS 256

/* What every slot has: the generation it was loaded under (0: empty), its
 * key, and the lookup's result (0, or E_NOTFOUND with its detail). */
struct entry {
    uint64_t gen;
    char *key;
    int rc;
    char *detail;
};

/* A list of string pairs (tags; labels and documents, a document may be NULL). */
struct pairs {
    size_t n;
    char **a;
    char **b;
};

/* One kind of cached row: how a value is read from the store (arg: the
 * lookup's own parameters), copied (a deep copy into zeroed or released
 * memory) and released (also a zeroed one). */
struct kind {
    int (*load)(void *out, const void *arg);
    void (*copy)(void *out, const void *value);
    void (*release)(void *value);
};

struct slot {
    struct entry e;
    union {
        struct access_key key;
        struct iam_identity user;
        struct pairs pairs;
        struct repo repo;
        char *setting;
    } v;
};

/* One table per kind (a user's rows are larger than the others'; the
 * tables are touched only where used). */
static struct slot keys[SLOTS], users[SLOTS], policies[SLOTS], repo_tags[SLOTS], repos[SLOTS], settings[SLOTS], exclusions[SLOTS];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct metric_series *series[2]; /* misses, hits */
static pthread_once_t series_once = PTHREAD_ONCE_INIT;

static void series_find(void)
{
    const char *const miss[] = {"miss", NULL}, *const hit[] = {"hit", NULL};
    series[0] = metric_get(&metric_store_cache, miss);
    series[1] = metric_get(&metric_store_cache, hit);
}

static void count(bool hit)
{
    pthread_once(&series_once, series_find);
    metric_add(series[hit], 1);
}

/* The slot index of key (FNV-1a). */
static size_t slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h % SLOTS);
}

/* The parameters of a lookup by two names (account and name, scope and
 * key). */
struct named {
    const char *account;
    const char *name;
};

static char *dup_or_null(const char *z)
{
    return z ? xstrdup(z) : NULL;
}

/*
 * The lookup every kind shares: the value of key under gen into out, from
 * key's slot of table when it was loaded under gen for this very key, else
 * from the store (k->load), remembered there unless the slot already holds
 * a newer generation. Not usable without a generation or in
 * a transaction: this connection may then see its own uncommitted writes,
 * which must not be cached, and would not see them in the cache.
 */
static int cached(struct slot *table, const struct kind *k, uint64_t gen, const char *key, const void *arg, void *out)
{
    struct slot *s = &table[slot_of(key)];
    struct entry *e = &s->e;
    void *value = &s->v;
    char detail[512];
    int rc;
    if (gen == 0 || store_in_transaction()) {
        count(false);
        return k->load(out, arg);
    }
    pthread_mutex_lock(&lock);
    bool hit = e->gen == gen && e->key && strcmp(e->key, key) == 0;
    if (hit) {
        rc = e->rc;
        if (rc == 0)
            k->copy(out, value);
        else
            snprintf(detail, sizeof(detail), "%s", e->detail);
    }
    pthread_mutex_unlock(&lock);
    count(hit);
    if (hit)
        return rc == 0 ? 0 : error_set(rc, "%s", detail);
    if ((rc = k->load(out, arg)) < 0 && rc != E_NOTFOUND)
        return rc;
    snprintf(detail, sizeof(detail), "%s", rc < 0 ? error_message() : "");
    pthread_mutex_lock(&lock);
    if (e->gen <= gen) {
        free(e->key);
        free(e->detail);
        k->release(value);
        e->gen = gen;
        e->key = xstrdup(key);
        e->rc = rc;
        e->detail = xstrdup(detail);
        if (rc == 0)
            k->copy(value, out);
    }
    pthread_mutex_unlock(&lock);
    return rc == 0 ? 0 : error_set(rc, "%s", detail);
}

/* cached() with the key made of two names, which no other pair makes;
 * names too long for a key (none valid is) are read from the store. */
static int cached_named(struct slot *table, const struct kind *k, uint64_t gen, const char *a, const char *b, void *out)
{
    char key[640];
    struct named n = {a, b};
    int len = snprintf(key, sizeof(key), "%zu:%s/%s", strlen(a), a, b);
    return cached(table, k, len < 0 || (size_t)len >= sizeof(key) ? 0 : gen, key, &n, out);
}

/* ---- access keys */

static int key_load(void *out, const void *arg)
{
    return store_access_key_get(arg, out);
}

static void key_copy(void *out, const void *value)
{
    struct access_key *o = out;
    const struct access_key *k = value;
    *o = *k;
    o->user_name = dup_or_null(k->user_name);
    o->secret_enc = dup_or_null(k->secret_enc);
}

static void key_release(void *value)
{
    access_key_release(value);
}

static const struct kind key_kind = {key_load, key_copy, key_release};

int store_cached_access_key_get(uint64_t gen, const char *id, struct access_key *out)
{
    return cached(keys, &key_kind, gen, id, id, out);
}

/* ---- IAM users */

static int user_load(void *out, const void *arg)
{
    const struct named *n = arg;
    return store_identity_get(n->account, IAM_ENTITY_USER, n->name, out);
}

static void user_copy(void *out, const void *value)
{
    memcpy(out, value, sizeof(struct iam_identity));
}

static void nothing_to_release(void *value)
{
    (void)value;
}

static const struct kind user_kind = {user_load, user_copy, nothing_to_release};

int store_cached_user_get(uint64_t gen, const char *account, const char *name, struct iam_identity *out)
{
    return cached_named(users, &user_kind, gen, account, name, out);
}

/* ---- lists of pairs: identity policies, repository tags */

static int pairs_add(void *ctx, const char *a, const char *b)
{
    struct pairs *p = ctx;
    p->a = xrealloc(p->a, (p->n + 1) * sizeof(*p->a));
    p->b = xrealloc(p->b, (p->n + 1) * sizeof(*p->b));
    p->a[p->n] = xstrdup(a);
    p->b[p->n] = dup_or_null(b);
    p->n++;
    return 0;
}

static void pairs_copy(void *out, const void *value)
{
    const struct pairs *p = value;
    memset(out, 0, sizeof(struct pairs));
    for (size_t i = 0; i < p->n; i++)
        pairs_add(out, p->a[i], p->b[i]);
}

static void pairs_release(void *value)
{
    struct pairs *p = value;
    for (size_t i = 0; i < p->n; i++) {
        free(p->a[i]);
        free(p->b[i]);
    }
    free(p->a);
    free(p->b);
    memset(p, 0, sizeof(*p));
}

/* Calls fn for each pair (after the lock is released, as the store
 * functions call it after their query), until it returns non-zero; then
 * releases the list. */
static int pairs_each(int rc, struct pairs *p, int (*fn)(void *ctx, const char *a, const char *b), void *ctx)
{
    for (size_t i = 0; rc == 0 && i < p->n; i++)
        if (fn(ctx, p->a[i], p->b[i]))
            break;
    pairs_release(p);
    return rc;
}

static int policies_load(void *out, const void *arg)
{
    const struct named *n = arg;
    memset(out, 0, sizeof(struct pairs));
    return store_identity_policies(n->account, n->name, pairs_add, out);
}

static const struct kind policies_kind = {policies_load, pairs_copy, pairs_release};

int store_cached_identity_policies(uint64_t gen, const char *account, const char *user_name,
                                   int (*fn)(void *ctx, const char *label, const char *document), void *ctx)
{
    struct pairs p = {0};
    if (!user_name)
        return 0; /* a root user has none */
    int rc = cached_named(policies, &policies_kind, gen, account, user_name, &p);
    return pairs_each(rc, &p, fn, ctx);
}

static int tags_load(void *out, const void *arg)
{
    memset(out, 0, sizeof(struct pairs));
    return store_repo_tags_get(*(const int64_t *)arg, pairs_add, out);
}

static const struct kind tags_kind = {tags_load, pairs_copy, pairs_release};

int store_cached_repo_tags_get(uint64_t gen, int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    char key[24];
    struct pairs p = {0};
    snprintf(key, sizeof(key), "%lld", (long long)repo_id);
    int rc = cached(repo_tags, &tags_kind, gen, key, &repo_id, &p);
    return pairs_each(rc, &p, fn, ctx);
}

/* ---- repositories */

static int repo_load(void *out, const void *arg)
{
    const struct named *n = arg;
    return store_repo_get(n->account, n->name, out);
}

static void repo_copy(void *out, const void *value)
{
    struct repo *o = out;
    const struct repo *r = value;
    *o = *r;
    o->name = dup_or_null(r->name);
    o->tag_mutability = dup_or_null(r->tag_mutability);
    o->mutability_filters = dup_or_null(r->mutability_filters);
    o->encryption_type = dup_or_null(r->encryption_type);
    o->kms_key = dup_or_null(r->kms_key);
    o->policy = dup_or_null(r->policy);
    o->lifecycle_policy = dup_or_null(r->lifecycle_policy);
}

static void repo_free_fields(void *value)
{
    repo_release(value);
}

static const struct kind repo_kind = {repo_load, repo_copy, repo_free_fields};

int store_cached_repo_get(uint64_t gen, const char *account_id, const char *name, struct repo *out)
{
    return cached_named(repos, &repo_kind, gen, account_id, name, out);
}

/* ---- settings */

static int setting_load(void *out, const void *arg)
{
    const struct named *n = arg;
    return store_setting_get(n->account, n->name, out);
}

static void setting_copy(void *out, const void *value)
{
    *(char **)out = xstrdup(*(char *const *)value);
}

static void setting_release(void *value)
{
    free(*(char **)value);
    *(char **)value = NULL;
}

static const struct kind setting_kind = {setting_load, setting_copy, setting_release};

int store_cached_setting_get(uint64_t gen, const char *scope, const char *name, char **out)
{
    return cached_named(settings, &setting_kind, gen, scope, name, out);
}

/* ---- pull-time exclusions: only the answer (0 or E_NOTFOUND) is kept */

static int exclusion_load(void *out, const void *arg)
{
    (void)out;
    const struct named *n = arg;
    return store_pull_exclusion_exists(n->account, n->name);
}

static void nothing_to_copy(void *out, const void *value)
{
    (void)out;
    (void)value;
}

static const struct kind exclusion_kind = {exclusion_load, nothing_to_copy, nothing_to_release};

int store_cached_pull_exclusion_exists(uint64_t gen, const char *account, const char *arn)
{
    return cached_named(exclusions, &exclusion_kind, gen, account, arn, NULL);
}

/* ---- the generation */

/* The highest generation read; one lower means another database (restored
 * from a backup, or replaced) and empties the cache. */
static uint64_t highest;

static void forget_everything(void)
{
    static struct slot *const tables[] = {keys, users, policies, repo_tags, repos, settings, exclusions};
    static const struct kind *const kinds[] = {&key_kind,  &user_kind,    &policies_kind, &tags_kind,
                                               &repo_kind, &setting_kind, &exclusion_kind};
    for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
        for (size_t i = 0; i < SLOTS; i++) {
            struct slot *s = &tables[t][i];
            free(s->e.key);
            free(s->e.detail);
            kinds[t]->release(&s->v);
            memset(&s->e, 0, sizeof(s->e));
        }
}

int store_cache_generation(uint64_t *out)
{
    struct db_statement *st = db_stmt("SELECT gen FROM cache_generation WHERE id = 1");
    int rc = db_row(st, "cache generation");
    if (rc == 1)
        *out = (uint64_t)db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_ERROR, "database: no cache generation");
    if (rc < 0)
        return rc;
    /* (a request that read its number just before another's change may
     * also come here: that costs the entries, never a stale answer) */
    pthread_mutex_lock(&lock);
    if (*out < highest)
        forget_everything();
    highest = *out;
    pthread_mutex_unlock(&lock);
    return 0;
}
