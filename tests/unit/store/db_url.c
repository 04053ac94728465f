/*
 * Unit tests for the database URL's display form (src/store/db.c,
 * db_describe): a password never shows, whether libpq would take it from
 * the URL's user information or from a password= parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/internal.h"

static const char *shown(const char *url)
{
    assert_int_equal(db_configure(url), 0);
    return db_describe();
}

static void test_passwords_are_masked(void **state)
{
    (void)state;
    assert_string_equal(shown("postgresql://berth:SEKRIT@db.example:5432/berth"), "postgresql://berth:***@db.example:5432/berth");
    assert_string_equal(shown("postgresql://u@127.0.0.1:1/db?password=SEKRIT"), "postgresql://u@127.0.0.1:1/db?password=***");
    assert_string_equal(shown("postgresql:///db?user=u&password=SEKRIT&sslmode=require"),
                        "postgresql:///db?user=u&password=***&sslmode=require");
    assert_string_equal(shown("postgres://u:p%40ss@h/db?PASSWORD=x&password=y"), "postgres://u:***@h/db?PASSWORD=***&password=***");
    /* an @ in the path or query is not the end of the user information */
    assert_string_equal(shown("postgresql://h/db?application_name=a@b"), "postgresql://h/db?application_name=a@b");
    assert_string_equal(shown("postgresql://u@h/db"), "postgresql://u@h/db");
    assert_string_equal(shown("sqlite:/var/lib/berth/berth.db"), "sqlite:/var/lib/berth/berth.db");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passwords_are_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
