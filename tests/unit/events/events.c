/*
 * Unit tests for the webhook filters of src/events/events.c: what
 * events_filter_check() accepts and refuses, and how events_filter_match()
 * matches (exact values, a trailing '*' as a prefix, conditions AND-ed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "events/events.h"

static void test_check(void **state)
{
    (void)state;
    static const char *const good[] = {"", "detail-type=ECR Image Action", "repository-name=team-a/*",
                                       "detail-type=ECR Image Scan,repository-name=app", "repository-name=*",
                                       "repository-name=a=b"};
    static const char *const bad[] = {"repository=x", "detail-type=", "repository-name=a*b", "detail-type=X,",
                                      ",detail-type=X", "nonsense", "detail-type=X,,repository-name=y", "=x"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(events_filter_check(good[i]), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(events_filter_check(bad[i]), E_INVALID);
    char longer[1100];
    memset(longer, 'a', sizeof(longer) - 1);
    memcpy(longer, "repository-name=", 16);
    longer[sizeof(longer) - 1] = '\0';
    assert_int_equal(events_filter_check(longer), E_INVALID);
}

static void test_match(void **state)
{
    (void)state;
    const char *push = "ECR Image Action", *scan = "ECR Image Scan";
    assert_true(events_filter_match("", push, "any/repo"));
    assert_true(events_filter_match("detail-type=ECR Image Action", push, "r"));
    assert_false(events_filter_match("detail-type=ECR Image Action", scan, "r"));
    assert_false(events_filter_match("detail-type=ECR Image", push, "r")); /* exact, not a prefix */
    assert_true(events_filter_match("detail-type=ECR Image*", scan, "r"));
    assert_true(events_filter_match("repository-name=team-a/*", push, "team-a/web"));
    assert_false(events_filter_match("repository-name=team-a/*", push, "team-b/web"));
    assert_true(events_filter_match("repository-name=*", push, "x"));
    assert_true(events_filter_match("detail-type=ECR Image Scan,repository-name=app", scan, "app"));
    assert_false(events_filter_match("detail-type=ECR Image Scan,repository-name=app", push, "app"));
    assert_false(events_filter_match("detail-type=ECR Image Scan,repository-name=app", scan, "app2"));
    assert_true(events_filter_match("repository-name=a=b", push, "a=b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
