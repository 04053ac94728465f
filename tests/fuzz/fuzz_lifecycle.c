/*
 * libFuzzer target for the lifecycle policy parser and evaluator: every
 * input is parsed as a lifecycle policy text, and what parses is evaluated
 * over a small fixed repository (tagged, untagged, archived and restored
 * images, an index and its child, a referrer and an orphaned one).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "lifecycle/lifecycle.h"

#define NOW 1800000000000LL
#define DAY LC_DAY_MS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const t1[] = {"prod-1", "beta-1"}, *const t2[] = {"release"}, *const t3[] = {"v1.2.3-sha-abc"};
    static const size_t idx[] = {4};
    static const struct lc_image images[] = {
        {"a", t1, 2, NOW - 40 * DAY, NOW - 10 * DAY, 0, 0, false, NULL, 0, false, -1},
        {"b", t2, 1, NOW - 400 * DAY, 0, NOW - 2 * DAY, 0, false, NULL, 0, false, -1},
        {"c", NULL, 0, NOW - 500 * DAY, 0, 0, NOW - 200 * DAY, true, NULL, 0, false, -1},
        {"d", NULL, 0, NOW - 3 * DAY, 0, 0, 0, false, idx, 1, false, -1},
        {"e", t3, 1, NOW - 3 * DAY, 0, 0, 0, false, NULL, 0, false, -1},
        {"f", NULL, 0, NOW - 1 * DAY, 0, 0, 0, false, NULL, 0, true, 0},
        {"g", NULL, 0, NOW - 1 * DAY, 0, 0, 0, false, NULL, 0, true, -1},
    };
    enum { N = sizeof(images) / sizeof(images[0]) };
    struct lc_decision d[N];
    struct lc_policy *p = NULL;
    if (lc_policy_parse(&p, (const char *)data, size) == 0) {
        (void)lc_evaluate(d, p, images, N, NOW);
        lc_policy_free(p);
    }
    error_clear();
    return 0;
}
