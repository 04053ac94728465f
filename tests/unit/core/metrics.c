/*
 * Unit tests of src/core/metrics.c: the text exposition (HELP and TYPE
 * lines, label escaping, cumulative histogram buckets whose +Inf bucket is
 * the count), one series per combination of label values however many
 * threads ask for it at once, and the "_other" series a full family falls
 * back to. The file is included to reach a small family of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/metrics.c"

static const int64_t test_bounds[] = {100, 1000, -1};
static struct metric_family small = {"t_small_total", "A small family", COUNTER, {"k", NULL}, NULL, 4, NULL, {0}};
static struct metric_family timing = {"t_seconds", "A histogram", HISTOGRAM, {"op", NULL}, test_bounds, 8, NULL, {0}};

static char *render_family(struct metric_family *f)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    unsigned cap = f->cap;
    struct metric_series *slots = slots_of(f);
    for (unsigned k = 0; k < cap; k++)
        if (slots[k].state == READY)
            assert_int_equal(render_series(&b, f, &slots[k]), 0);
    if (f->other.state == READY)
        assert_int_equal(render_series(&b, f, &f->other), 0);
    return buf_detach(&b);
}

static void histogram_buckets_are_cumulative(void **state)
{
    const char *const op[] = {"Get"};
    struct metric_series *s = metric_get(&timing, op);
    metric_observe_us(s, 50);      /* <= 100 µs */
    metric_observe_us(s, 100);     /* on the bound: counted in it */
    metric_observe_us(s, 500);     /* <= 1 ms */
    metric_observe_us(s, 2000000); /* above every bound */
    char *text = render_family(&timing);
    assert_non_null(strstr(text, "t_seconds_bucket{op=\"Get\",le=\"0.0001\"} 2\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{op=\"Get\",le=\"0.001\"} 3\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{op=\"Get\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(text, "t_seconds_sum{op=\"Get\"} 2.000650\n"));
    assert_non_null(strstr(text, "t_seconds_count{op=\"Get\"} 4\n"));
    free(text);
}

static void label_values_are_escaped(void **state)
{
    struct buf b;
    static const char *const names[] = {"v", NULL};
    const char *const values[] = {"a\"b\\c\nd"};
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(metrics_render_sample(&b, "t_x", names, values, 3), 0);
    assert_string_equal(b.ptr, "t_x{v=\"a\\\"b\\\\c\\nd\"} 3\n");
    buf_release(&b);
}

static void values_longer_than_a_slot_keeps_are_one_series(void **state)
{
    char a[100], b[100];
    memset(a, 'x', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[80] = 'y'; /* differs past what is kept */
    const char *const va[] = {a}, *const vb[] = {b};
    assert_ptr_equal(metric_get(&timing, va), metric_get(&timing, vb));
}

static void a_full_family_counts_the_rest_as_other(void **state)
{
    char key[16];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        const char *const v[] = {key};
        metric_add(metric_get(&small, v), 1);
    }
    /* the same combination is the same series */
    const char *const k0[] = {"k0"};
    assert_ptr_equal(metric_get(&small, k0), metric_get(&small, k0));
    char *text = render_family(&small);
    assert_non_null(strstr(text, "t_small_total{k=\"k0\"} 1\n"));
    assert_non_null(strstr(text, "t_small_total{k=\"_other\"} 2\n"));
    free(text);
}

static void *add_many(void *arg)
{
    const char *const v[] = {(const char *)arg};
    for (int i = 0; i < 10000; i++)
        metric_add(metric_get(&metric_jobs_run, v), 1);
    return NULL;
}

static void concurrent_updates_are_all_counted(void **state)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, add_many, i % 2 ? "odd" : "even"), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(metrics_render(&b), 0);
    assert_non_null(strstr(b.ptr, "# TYPE berth_jobs_run_total counter\n"));
    assert_non_null(strstr(b.ptr, "berth_jobs_run_total{kind=\"odd\"} 20000\n"));
    assert_non_null(strstr(b.ptr, "berth_jobs_run_total{kind=\"even\"} 20000\n"));
    /* families without labels always show their series */
    assert_non_null(strstr(b.ptr, "berth_http_requests_in_flight 0\n"));
    assert_non_null(strstr(b.ptr, "berth_store_step_duration_seconds_count 0\n"));
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(values_longer_than_a_slot_keeps_are_one_series),
        cmocka_unit_test(a_full_family_counts_the_rest_as_other),
        cmocka_unit_test(concurrent_updates_are_all_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
