/*
 * Unit tests of the durable job queue (src/jobs/jobs.c over
 * src/store/jobs.c): one pending job per kind and key, leases that only
 * one worker holds, work enqueued during a run is not lost, failures are
 * retried later and given up after JOBS_MAX_ATTEMPTS, periodic jobs come
 * back one period later, the worker threads run every job once, and runs
 * and failures are counted in the metrics by kind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "tmpdir.h"

static char dir[64];

static int setup(void **state)
{
    log_level = LOG_ERROR;
    snprintf(dir, sizeof(dir), "/tmp/berth-jobs-test-XXXXXX");
    if (!mkdtemp(dir) || store_open(dir) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    store_close_thread();
    return tmpdir_remove(dir);
}

/* ---- a handler that counts and can be told to fail ---- */

static pthread_mutex_t runs_lock = PTHREAD_MUTEX_INITIALIZER;
static int runs, fail_next;
static char last_arg[64];
static int seen[200];

static int count_job(const struct job *job, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&runs_lock);
    runs++;
    snprintf(last_arg, sizeof(last_arg), "%s", job->arg);
    int k = atoi(job->key);
    if (k >= 0 && k < 200)
        seen[k]++;
    bool fail = fail_next > 0;
    if (fail)
        fail_next--;
    pthread_mutex_unlock(&runs_lock);
    usleep(1000);
    return fail ? error_set(E_ERROR, "told to fail") : 0;
}

static void reset_counts(void)
{
    runs = fail_next = 0;
    memset(seen, 0, sizeof(seen));
}

struct found {
    int n;
    struct job last; /* arg and last_error not kept */
    char last_error[64];
};

static int collect(void *ctx, const struct job *j)
{
    struct found *f = ctx;
    f->n++;
    f->last = *j;
    f->last.arg = f->last.last_error = NULL;
    snprintf(f->last_error, sizeof(f->last_error), "%s", j->last_error ? j->last_error : "");
    return 0;
}

static struct found list_jobs(void)
{
    struct found f = {0};
    assert_int_equal(jobs_list(collect, &f), 0);
    return f;
}

static void one_pending_job_per_kind_and_key(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("count", count_job, NULL), 0);
    assert_int_equal(jobs_enqueue("count", "repo-1", "first", 0), 0);
    assert_int_equal(jobs_enqueue("count", "repo-1", "second", 0), 0);
    assert_int_equal(jobs_enqueue("count", "repo-1", NULL, 0), 0);
    assert_int_equal(list_jobs().n, 1);

    int ran = -1;
    assert_int_equal(jobs_run_due("count", NULL, &ran), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(runs, 1);
    assert_string_equal(last_arg, "second"); /* the latest non-empty arg */
    assert_int_equal(list_jobs().n, 0);      /* done: gone */
}

static void a_future_job_waits(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("count", count_job, NULL), 0);
    assert_int_equal(jobs_enqueue("count", "later", NULL, now_ms() + 60000), 0);
    int ran = -1;
    assert_int_equal(jobs_run_due(NULL, NULL, &ran), 0);
    assert_int_equal(ran, 0);
    /* enqueued again for now: the earlier time wins */
    assert_int_equal(jobs_enqueue("count", "later", NULL, 0), 0);
    assert_int_equal(jobs_run_due(NULL, "later", &ran), 0);
    assert_int_equal(ran, 1);
    /* a job of a kind nobody registered is never run */
    assert_int_equal(jobs_enqueue("unknown-kind", "x", NULL, 0), 0);
    assert_int_equal(jobs_run_due(NULL, NULL, &ran), 0);
    assert_int_equal(ran, 0);
    assert_int_equal(jobs_cancel("unknown-kind", "x"), 0);
    assert_int_equal(jobs_cancel("unknown-kind", "x"), E_NOTFOUND);
}

static void failures_are_retried_then_given_up(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("count", count_job, NULL), 0);
    fail_next = 100;
    int64_t before = now_ms();
    assert_int_equal(jobs_enqueue("count", "flaky", NULL, 0), 0);
    int ran;
    assert_int_equal(jobs_run_due("count", NULL, &ran), E_ERROR);
    assert_int_equal(ran, 1);
    struct found f = list_jobs();
    assert_int_equal(f.n, 1);
    assert_int_equal(f.last.attempts, 1);
    assert_false(f.last.failed);
    assert_string_equal(f.last_error, "told to fail");
    assert_true(f.last.run_at >= before + 10000); /* retried later, not now */
    assert_int_equal(jobs_run_due("count", NULL, &ran), 0);
    assert_int_equal(ran, 0);

    /* make it due again until it has failed JOBS_MAX_ATTEMPTS times */
    for (int i = 2; i <= JOBS_MAX_ATTEMPTS; i++) {
        assert_int_equal(jobs_enqueue("count", "flaky", NULL, 0), 0);
        assert_int_equal(jobs_run_due("count", NULL, &ran), E_ERROR);
        assert_int_equal(list_jobs().last.attempts, i);
    }
    f = list_jobs();
    assert_true(f.last.failed);
    assert_int_equal(runs, JOBS_MAX_ATTEMPTS);
    assert_int_equal(jobs_run_due("count", NULL, &ran), 0);
    assert_int_equal(ran, 0);

    /* enqueueing a failed job again starts it afresh */
    fail_next = 0;
    assert_int_equal(jobs_enqueue("count", "flaky", NULL, 0), 0);
    f = list_jobs();
    assert_false(f.last.failed);
    assert_int_equal(f.last.attempts, 0);
    assert_int_equal(jobs_run_due("count", NULL, &ran), 0);
    assert_int_equal(ran, 1);
    assert_int_equal(list_jobs().n, 0);
}

static void periodic_jobs_come_back(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("count", count_job, NULL), 0);
    assert_int_equal(jobs_every("count", "daily", 86400000, 0), 0);
    int ran;
    int64_t before = now_ms();
    assert_int_equal(jobs_run_due("count", NULL, &ran), 0);
    assert_int_equal(ran, 1);
    struct found f = list_jobs();
    assert_int_equal(f.n, 1);
    assert_true(f.last.run_at >= before + 86400000 && f.last.run_at <= now_ms() + 86400000);
    assert_int_equal(f.last.period_ms, 86400000);
    /* scheduling it again (a restart) keeps the next run; a shorter period pulls it in */
    assert_int_equal(jobs_every("count", "daily", 86400000, 0), 0);
    assert_int_equal(list_jobs().last.run_at, f.last.run_at);
    assert_int_equal(jobs_every("count", "daily", 60000, 0), 0);
    assert_true(list_jobs().last.run_at <= now_ms() + 60000);
    /* a failing periodic job is never given up */
    fail_next = 100;
    for (int i = 0; i < JOBS_MAX_ATTEMPTS + 1; i++) {
        assert_int_equal(jobs_enqueue("count", "daily", NULL, 0), 0);
        assert_int_equal(jobs_run_due("count", NULL, &ran), E_ERROR);
    }
    f = list_jobs();
    assert_false(f.last.failed);
    assert_true(f.last.run_at <= now_ms() + 60000); /* retried within its period */
    fail_next = 0;
}

static void one_worker_holds_a_lease(void **state)
{
    struct job a, b;
    int64_t now = now_ms();
    assert_int_equal(store_job_enqueue("lease", "k", NULL, now, now), 0);
    assert_int_equal(store_job_claim("lease", NULL, "A", now, now + 1000, &a), 1);
    assert_int_equal(store_job_claim("lease", NULL, "B", now + 500, now + 1500, &b), 0);
    /* A's lease ran out (its server died): B takes the job over */
    assert_int_equal(store_job_claim("lease", NULL, "B", now + 1001, now + 5000, &b), 1);
    assert_int_equal(b.id, a.id);
    /* A, late, finds it lost the job: nothing it does changes the row */
    assert_int_equal(store_job_done(&a, 0), 0);
    assert_int_equal(store_job_extend(&a, now + 9000), E_NOTFOUND);
    struct found f = list_jobs();
    assert_int_equal(f.n, 1);
    assert_string_equal(f.last.owner, "B");
    /* enqueued while B runs it: B's end leaves it due again, not gone */
    assert_int_equal(store_job_enqueue("lease", "k", NULL, now + 2000, now + 1002), 0);
    assert_int_equal(store_job_done(&b, 0), 0);
    f = list_jobs();
    assert_int_equal(f.n, 1);
    assert_string_equal(f.last.owner, "");
    assert_int_equal(f.last.run_at, now + 2000);
    store_job_free(&a);
    assert_int_equal(store_job_claim("lease", NULL, "C", now + 2000, now + 3000, &a), 1);
    assert_int_equal(store_job_done(&a, 0), 0);
    assert_int_equal(list_jobs().n, 0);
    store_job_free(&a);
    store_job_free(&b);
}

/* ---- threads ---- */

struct claimer {
    const char *owner;
    int claimed;
    int ids[200];
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    struct job j;
    int rc;
    while ((rc = store_job_claim("race", NULL, c->owner, now_ms(), now_ms() + 60000, &j)) == 1) {
        c->ids[c->claimed++] = atoi(j.key);
        store_job_done(&j, 0);
        store_job_free(&j);
    }
    store_close_thread();
    return rc < 0 ? (void *)1 : NULL;
}

static void two_claimers_never_take_the_same_job(void **state)
{
    int64_t now = now_ms();
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "%d", i);
        assert_int_equal(store_job_enqueue("race", key, NULL, now, now), 0);
    }
    struct claimer a = {.owner = "A"}, b = {.owner = "B"};
    pthread_t ta, tb;
    void *ra, *rb;
    pthread_create(&ta, NULL, claim_all, &a);
    pthread_create(&tb, NULL, claim_all, &b);
    pthread_join(ta, &ra);
    pthread_join(tb, &rb);
    assert_null(ra);
    assert_null(rb);
    assert_int_equal(a.claimed + b.claimed, 100);
    int count[100] = {0};
    for (int i = 0; i < a.claimed; i++)
        count[a.ids[i]]++;
    for (int i = 0; i < b.claimed; i++)
        count[b.ids[i]]++;
    for (int i = 0; i < 100; i++)
        assert_int_equal(count[i], 1);
}

static void workers_run_every_job_once(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("count", count_job, NULL), 0);
    assert_int_equal(jobs_start(2), 0);
    char key[16];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "%d", i);
        assert_int_equal(jobs_enqueue("count", key, NULL, 0), 0);
    }
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        pthread_mutex_lock(&runs_lock);
        int n = runs;
        pthread_mutex_unlock(&runs_lock);
        if (n >= 100 && list_jobs().n == 0)
            break;
        usleep(10000);
    }
    int64_t t0 = now_ms();
    jobs_stop();
    assert_true(now_ms() - t0 < 1000); /* sleeping workers wake to stop */
    assert_int_equal(runs, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(list_jobs().n, 0);
}

/* The value of the sample line that starts with prefix in the exposition. */
static long long sample(const char *prefix)
{
    struct buf b;
    long long v = -1;
    buf_init(&b, BUF_UNLIMITED);
    assert_int_equal(metrics_render(&b), 0);
    for (char *line = b.ptr; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            v = strtoll(line + strlen(prefix), NULL, 10);
        line = nl ? nl + 1 : NULL;
    }
    buf_release(&b);
    return v;
}

static void runs_and_failures_are_counted_by_kind(void **state)
{
    reset_counts();
    assert_int_equal(jobs_register("metered", count_job, NULL), 0);
    /* before any run the kind has no series */
    assert_int_equal(sample("berth_jobs_run_total{kind=\"metered\"} "), -1);
    assert_int_equal(jobs_enqueue("metered", "a", NULL, 0), 0);
    assert_int_equal(jobs_enqueue("metered", "b", NULL, 0), 0);
    fail_next = 1;
    int ran = 0;
    assert_int_equal(jobs_run_due("metered", NULL, &ran), E_ERROR);
    assert_int_equal(ran, 2);
    assert_int_equal(sample("berth_jobs_run_total{kind=\"metered\"} "), 2);
    assert_int_equal(sample("berth_jobs_failed_total{kind=\"metered\"} "), 1);
    assert_int_equal(sample("berth_job_duration_seconds_count{kind=\"metered\"} "), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(one_pending_job_per_kind_and_key, setup, teardown),
        cmocka_unit_test_setup_teardown(a_future_job_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(failures_are_retried_then_given_up, setup, teardown),
        cmocka_unit_test_setup_teardown(periodic_jobs_come_back, setup, teardown),
        cmocka_unit_test_setup_teardown(one_worker_holds_a_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(two_claimers_never_take_the_same_job, setup, teardown),
        cmocka_unit_test_setup_teardown(workers_run_every_job_once, setup, teardown),
        cmocka_unit_test_setup_teardown(runs_and_failures_are_counted_by_kind, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
