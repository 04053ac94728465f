/*
 * Unit tests for src/store/cache.c on SQLite, a fresh data directory per
 * test: every write of a cached table moves the cache generation, and the
 * writes of pushes and lifecycle runs do not; a lookup at a generation is
 * answered from memory (it still returns what was read at that generation
 * after a change) and reads the database again at the next one; a miss is
 * remembered and forgotten the same way; generation 0 and a transaction
 * read the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/log.h"
#include "store/cache.h"
#include "store/images_ext.h"
#include "store/lifecycle.h"
#include "store/store.h"
#include "tmpdir.h"

#define ACCOUNT "123456789012"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    log_level = LOG_ERROR;
    snprintf(dir, sizeof(dir), "/tmp/berth-cache-XXXXXX");
    if (!mkdtemp(dir) || store_open(dir) < 0 || store_account_create(ACCOUNT) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close_thread();
    return tmpdir_remove(dir);
}

static uint64_t generation(void)
{
    uint64_t g = 0;
    assert_int_equal(store_cache_generation(&g), 0);
    assert_true(g >= 1);
    return g;
}

static int64_t make_repo(const char *name)
{
    struct repo r = {0};
    snprintf(r.account_id, sizeof(r.account_id), ACCOUNT);
    r.name = (char *)name;
    assert_int_equal(store_repo_create(&r), 0);
    return r.id;
}

static void set_repo_policy(const char *name, const char *policy)
{
    struct repo r;
    assert_int_equal(store_repo_get(ACCOUNT, name, &r), 0);
    free(r.policy);
    r.policy = policy ? strdup(policy) : NULL;
    assert_int_equal(store_repo_update(&r), 0);
    repo_release(&r);
}

static void test_writes_of_cached_tables_move_the_generation(void **state)
{
    (void)state;
    struct iam_identity u = {.kind = IAM_ENTITY_USER, .account_id = ACCOUNT, .name = "alice", .path = "/",
                             .id = "AIDAALICE0000000000", .arn = "arn:aws:iam::" ACCOUNT ":user/alice", .created_ms = 1};
    struct iam_identity g = {.kind = IAM_ENTITY_GROUP, .account_id = ACCOUNT, .name = "devs", .path = "/",
                             .id = "AGPADEVS00000000000", .arn = "arn:aws:iam::" ACCOUNT ":group/devs", .created_ms = 1};
    uint64_t before = generation();
    int64_t id = make_repo("app");
    uint64_t now = generation();
    assert_true(now > before);
#define MOVES(write)                                                                                                       \
    do {                                                                                                                   \
        before = generation();                                                                                             \
        assert_int_equal((write), 0);                                                                                      \
        assert_true(generation() > before);                                                                                \
    } while (0)
    MOVES(store_access_key_put("AKIAUNITTESTKEY00001", ACCOUNT, NULL, "sealed"));
    MOVES(store_access_key_set_status("AKIAUNITTESTKEY00001", "Inactive"));
    MOVES(store_access_key_delete("AKIAUNITTESTKEY00001"));
    MOVES(store_identity_create(&u, NULL));
    MOVES(store_identity_create(&g, NULL));
    MOVES(store_group_add_user(ACCOUNT, "devs", "alice"));
    MOVES(store_policy_attach(ACCOUNT, IAM_ENTITY_USER, "alice", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"));
    MOVES(store_policy_detach(ACCOUNT, IAM_ENTITY_USER, "alice", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"));
    MOVES(store_inline_policy_put(ACCOUNT, IAM_ENTITY_GROUP, "devs", "p", "{\"Version\":\"2012-10-17\",\"Statement\":[]}"));
    MOVES(store_repo_tag_put(id, "team", "a"));
    MOVES(store_setting_put(ACCOUNT, "registry_policy", "{}"));
    MOVES(store_pull_exclusion_add(ACCOUNT, u.arn, 1));
    MOVES(store_repo_delete(make_repo("gone")));
    before = generation();
    set_repo_policy("app", "{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    assert_true(generation() > before);
#undef MOVES
    /* what pushes and lifecycle runs write is not cached: the generation stays */
    before = generation();
    assert_int_equal(store_lifecycle_evaluated(id, 5), 0);
    assert_int_equal(store_blob_add("sha256:" "0000000000000000000000000000000000000000000000000000000000000001", 3), 0);
    assert_int_equal(store_blob_link(id, "sha256:" "0000000000000000000000000000000000000000000000000000000000000001"), 0);
    assert_int_equal(generation(), before);
}

static void test_a_lookup_is_answered_at_its_generation(void **state)
{
    (void)state;
    struct repo r;
    make_repo("app");
    uint64_t g1 = generation();
    assert_int_equal(store_cached_repo_get(g1, ACCOUNT, "app", &r), 0);
    assert_null(r.policy);
    repo_release(&r);
    set_repo_policy("app", "{\"new\":1}");
    uint64_t g2 = generation();
    assert_true(g2 > g1);
    /* a request of the old generation still sees what it would have read then */
    assert_int_equal(store_cached_repo_get(g1, ACCOUNT, "app", &r), 0);
    assert_null(r.policy);
    repo_release(&r);
    /* the next generation reads the database again */
    assert_int_equal(store_cached_repo_get(g2, ACCOUNT, "app", &r), 0);
    assert_string_equal(r.policy, "{\"new\":1}");
    repo_release(&r);
    /* generation 0 always reads the database */
    set_repo_policy("app", NULL);
    assert_int_equal(store_cached_repo_get(0, ACCOUNT, "app", &r), 0);
    assert_null(r.policy);
    repo_release(&r);
}

static void test_a_miss_is_remembered_until_the_generation_moves(void **state)
{
    (void)state;
    struct access_key k;
    uint64_t g1 = generation();
    assert_int_equal(store_cached_access_key_get(g1, "AKIAUNITTESTKEY00002", &k), E_NOTFOUND);
    assert_non_null(strstr(error_message(), "AKIAUNITTESTKEY00002"));
    assert_int_equal(store_access_key_put("AKIAUNITTESTKEY00002", ACCOUNT, NULL, "sealed"), 0);
    assert_int_equal(store_cached_access_key_get(g1, "AKIAUNITTESTKEY00002", &k), E_NOTFOUND);
    assert_int_equal(store_cached_access_key_get(generation(), "AKIAUNITTESTKEY00002", &k), 0);
    assert_string_equal(k.secret_enc, "sealed");
    assert_null(k.user_name);
    access_key_release(&k);
}

static void test_a_transaction_reads_the_database(void **state)
{
    (void)state;
    struct repo r;
    make_repo("app");
    uint64_t g = generation();
    assert_int_equal(store_cached_repo_get(g, ACCOUNT, "app", &r), 0);
    repo_release(&r);
    assert_int_equal(store_begin(), 0);
    set_repo_policy("app", "{\"uncommitted\":1}");
    assert_int_equal(store_cached_repo_get(g, ACCOUNT, "app", &r), 0);
    assert_string_equal(r.policy, "{\"uncommitted\":1}");
    repo_release(&r);
    store_rollback();
    /* and what it saw was not remembered */
    assert_int_equal(store_cached_repo_get(g, ACCOUNT, "app", &r), 0);
    assert_null(r.policy);
    repo_release(&r);
}

static int collect(void *ctx, const char *a, const char *b)
{
    snprintf(ctx, 256, "%s=%s", a, b ? b : "(null)");
    return 0;
}

static void test_lists_and_settings_come_back_as_stored(void **state)
{
    (void)state;
    char got[256] = "";
    char *value = NULL;
    int64_t id = make_repo("app");
    assert_int_equal(store_repo_tag_put(id, "team", "a"), 0);
    uint64_t g = generation();
    for (int i = 0; i < 2; i++) { /* a miss, then a hit */
        got[0] = '\0';
        assert_int_equal(store_cached_repo_tags_get(g, id, collect, got), 0);
        assert_string_equal(got, "team=a");
        assert_int_equal(store_cached_setting_get(g, ACCOUNT, "registry_policy", &value), E_NOTFOUND);
        assert_int_equal(store_cached_pull_exclusion_exists(g, ACCOUNT, "arn:aws:iam::" ACCOUNT ":root"), E_NOTFOUND);
        assert_int_equal(store_cached_identity_policies(g, ACCOUNT, NULL, collect, got), 0);
    }
    assert_int_equal(store_setting_put(ACCOUNT, "registry_policy", "{\"p\":1}"), 0);
    assert_int_equal(store_cached_setting_get(generation(), ACCOUNT, "registry_policy", &value), 0);
    assert_string_equal(value, "{\"p\":1}");
    free(value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writes_of_cached_tables_move_the_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_lookup_is_answered_at_its_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_miss_is_remembered_until_the_generation_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_transaction_reads_the_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_settings_come_back_as_stored, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
