/*
 * Unit tests for the schema migrations of src/store/store.c on SQLite: a
 * database left at every older schema version (with an account and a
 * repository in it from version 1 on) is moved to the latest by
 * store_open(), keeps what it held and works as a new one does.
 * (PostgreSQL's list is covered by tests/integration/test_postgres.py.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/log.h"
#include "tmpdir.h"

/* the static migrate() and configure() */
#include "store/store.c"

#define ACCT "111122223333"

static void test_every_older_version_moves_to_the_latest(void **state)
{
    (void)state;
    log_level = LOG_ERROR;
    for (int from = 0; from < NMIGRATIONS; from++) {
        char dir[64];
        int version = -1, latest = -1;
        assert_int_equal(tmpdir_make(dir, sizeof(dir), "migrate"), 0);
        assert_int_equal(store_set_database(NULL), 0);
        assert_int_equal(configure(dir), 0);
        assert_int_equal(migrate(from), 0);
        assert_int_equal(schema_version(&version), 0);
        assert_int_equal(version, from);
        if (from >= 1)
            assert_int_equal(db_exec("INSERT INTO accounts(id, created_at) VALUES('" ACCT "', 1);"
                                     "INSERT INTO repositories(account_id, name, created_at) VALUES('" ACCT "', 'old', 2);",
                                     "seed"),
                             0);
        store_close_thread();

        assert_int_equal(store_open(dir), 0);
        assert_int_equal(store_schema_version(&version, &latest), 0);
        assert_int_equal(version, NMIGRATIONS);
        assert_int_equal(latest, NMIGRATIONS);
        if (from == 0)
            assert_int_equal(store_account_create(ACCT), 0);
        assert_int_equal(store_account_exists(ACCT), 0);
        struct repo r = {.account_id = ACCT, .name = "new"};
        assert_int_equal(store_repo_create(&r), 0);
        assert_true(r.id > 0);
        if (from >= 1) {
            struct repo old;
            memset(&old, 0, sizeof(old));
            assert_int_equal(store_repo_get(ACCT, "old", &old), 0);
            assert_true(old.id > 0 && old.id != r.id);
            repo_release(&old);
        }
        /* opening again finds nothing to do */
        store_close_thread();
        assert_int_equal(store_open(dir), 0);
        assert_int_equal(store_schema_version(&version, &latest), 0);
        assert_int_equal(version, NMIGRATIONS);
        store_close_thread();
        tmpdir_remove(dir);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_older_version_moves_to_the_latest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
