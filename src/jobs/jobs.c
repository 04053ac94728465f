/*
 * This module implements the durable job queue of jobs.h: handler
 * registration, the worker threads, and running a claimed job to its end.
 *
 * A worker looks for a due job of each registered kind in turn; when none
 * is due it sleeps until the earliest job of its kinds falls due, for at
 * most JOBS_POLL_MS (jobs enqueued by another server sharing the store
 * wake nobody here), or until this server enqueues one. The rows, leases
 * and their races are the store's (store/jobs.c).
 */
#include "jobs/jobs.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/store.h"

#define JOBS_KINDS_MAX 16
#define JOBS_POLL_MS 2000
/* A failed job waits 10 s, then 20 s, 40 s ... at most an hour. */
#define JOBS_RETRY_MS 10000
#define JOBS_RETRY_MAX_MS (3600 * 1000)

static struct {
    char kind[JOBS_KIND_MAX];
    job_handler fn;
    void *ctx;
} handlers[JOBS_KINDS_MAX];
static int nhandlers;

static pthread_t *workers;
static int nworkers;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping;
static unsigned kicks; /* counts jobs_enqueue() calls, under lock */

/* "host:pid:random" names this process in the leases it takes. */
static char owner_base[48];
static pthread_once_t owner_once = PTHREAD_ONCE_INIT;

static void make_owner_base(void)
{
    char host[24] = "", rnd[7];
    gethostname(host, sizeof(host) - 1);
    random_string(rnd, sizeof(rnd) - 1, "abcdefghijklmnopqrstuvwxyz0123456789");
    snprintf(owner_base, sizeof(owner_base), "%s:%ld:%s", host, (long)getpid(), rnd);
}

static void owner_of(char out[JOBS_OWNER_MAX], const char *who)
{
    pthread_once(&owner_once, make_owner_base);
    snprintf(out, JOBS_OWNER_MAX, "%s:%s", owner_base, who);
}

int jobs_register(const char *kind, job_handler fn, void *ctx)
{
    if (nhandlers == JOBS_KINDS_MAX || strlen(kind) >= JOBS_KIND_MAX)
        return error_set(E_INVALID, "cannot register job kind '%s'", kind);
    for (int i = 0; i < nhandlers; i++)
        if (strcmp(handlers[i].kind, kind) == 0) {
            handlers[i].fn = fn;
            handlers[i].ctx = ctx;
            return 0;
        }
    snprintf(handlers[nhandlers].kind, JOBS_KIND_MAX, "%s", kind);
    handlers[nhandlers].fn = fn;
    handlers[nhandlers].ctx = ctx;
    nhandlers++;
    return 0;
}

static int check_job(const char *kind, const char *key, const char *arg)
{
    if (!*kind || strlen(kind) >= JOBS_KIND_MAX)
        return error_set(E_INVALID, "job kind '%s' is empty or longer than %d", kind, JOBS_KIND_MAX - 1);
    if (strlen(key) >= JOBS_KEY_MAX)
        return error_set(E_INVALID, "%s job key is longer than %d", kind, JOBS_KEY_MAX - 1);
    if (arg && strlen(arg) >= JOBS_ARG_MAX)
        return error_set(E_INVALID, "%s job argument is longer than %d", kind, JOBS_ARG_MAX - 1);
    return 0;
}

void jobs_kick(void)
{
    pthread_mutex_lock(&lock);
    kicks++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
}

int jobs_enqueue(const char *kind, const char *key, const char *arg, int64_t run_at_ms)
{
    int64_t now = now_ms();
    int rc = check_job(kind, key, arg);
    if (rc == 0)
        rc = store_job_enqueue(kind, key, arg, run_at_ms > 0 ? run_at_ms : now, now);
    if (rc == 0)
        jobs_kick();
    return rc;
}

int jobs_every(const char *kind, const char *key, int64_t period_ms, int64_t first_ms)
{
    int64_t now = now_ms();
    if (period_ms <= 0)
        return error_set(E_INVALID, "%s job period must be positive", kind);
    int rc = check_job(kind, key, NULL);
    if (rc == 0)
        rc = store_job_every(kind, key, period_ms, first_ms > 0 ? first_ms : now, now);
    if (rc == 0)
        jobs_kick();
    return rc;
}

int jobs_cancel(const char *kind, const char *key)
{
    return store_job_cancel(kind, key);
}

int jobs_extend(const struct job *job)
{
    return store_job_extend(job, now_ms() + JOBS_LEASE_MS);
}

bool jobs_stopping(void)
{
    pthread_mutex_lock(&lock);
    bool s = stopping;
    pthread_mutex_unlock(&lock);
    return s;
}

static int64_t retry_delay(int attempts)
{
    int64_t d = JOBS_RETRY_MS;
    for (int i = 1; i < attempts && d < JOBS_RETRY_MAX_MS; i++)
        d *= 2;
    return d < JOBS_RETRY_MAX_MS ? d : JOBS_RETRY_MAX_MS;
}

/* Runs a claimed job and records how it ended; returns the handler's result. */
static int run_job(int h, struct job *j)
{
    int64_t started = now_ms(), t0 = mono_us();
    int rc = handlers[h].fn(j, handlers[h].ctx);
    int64_t now = now_ms();
    int end;
    const char *const kind[] = {handlers[h].kind};
    metric_add(metric_get(&metric_jobs_run, kind), 1);
    metric_observe_us(metric_get(&metric_job_duration, kind), mono_us() - t0);
    if (rc < 0)
        metric_add(metric_get(&metric_jobs_failed, kind), 1);
    if (rc == 0) {
        log_debug("job %s '%s' done in %lld ms", j->kind, j->key, (long long)(now - started));
        end = store_job_done(j, j->period_ms > 0 ? now + j->period_ms : now);
    } else {
        /* capture the handler's message before the store may replace it */
        char *why = xstrdup(error_message());
        int attempts = j->attempts + 1;
        int64_t delay = retry_delay(attempts);
        bool give_up = j->period_ms == 0 && attempts >= JOBS_MAX_ATTEMPTS;
        if (j->period_ms > 0 && delay > j->period_ms)
            delay = j->period_ms;
        log_warn("job %s '%s' failed (attempt %d%s): %s", j->kind, j->key, attempts,
                 give_up ? ", giving up" : "", why);
        end = store_job_fail(j, why, now + delay, give_up);
        error_set(rc, "%s", why);
        free(why);
    }
    if (end < 0)
        log_warn("job %s '%s': %s", j->kind, j->key, error_message());
    return rc;
}

/* Claims and runs one due job of handler h (matching key when not NULL):
 * 1 when one ran (*rc_out its result), 0 when none was due, or the
 * store's failure. */
static int run_one(int h, const char *key, const char *owner, int *rc_out)
{
    struct job j;
    int64_t now = now_ms();
    int rc = store_job_claim(handlers[h].kind, key, owner, now, now + JOBS_LEASE_MS, &j);
    if (rc <= 0)
        return rc;
    *rc_out = run_job(h, &j);
    store_job_free(&j);
    return 1;
}

int jobs_run_due(const char *kind, const char *key, int *ran_out)
{
    char owner[JOBS_OWNER_MAX];
    int ran = 0, first = 0;
    owner_of(owner, "now");
    for (int h = 0; h < nhandlers; h++) {
        if (kind && strcmp(kind, handlers[h].kind) != 0)
            continue;
        for (;;) {
            int result = 0, rc = run_one(h, key, owner, &result);
            if (rc < 0) {
                first = first ? first : rc;
                break;
            }
            if (rc == 0)
                break;
            ran++;
            if (result < 0 && !first)
                first = result;
        }
    }
    if (ran_out)
        *ran_out = ran;
    return first;
}

static void *worker_main(void *arg)
{
    char owner[JOBS_OWNER_MAX], who[16];
    snprintf(who, sizeof(who), "w%d", (int)(intptr_t)arg);
    owner_of(owner, who);
    pthread_mutex_lock(&lock);
    while (!stopping) {
        unsigned seen = kicks;
        pthread_mutex_unlock(&lock);
        bool ran = false;
        int64_t next = 0;
        for (int h = 0; h < nhandlers && !jobs_stopping(); h++) {
            int result, rc = run_one(h, NULL, owner, &result);
            if (rc < 0)
                log_warn("jobs: %s", error_message());
            ran |= rc == 1;
            int64_t due;
            if (rc == 0 && store_job_next(handlers[h].kind, &due) == 0 && due > 0 && (next == 0 || due < next))
                next = due;
        }
        pthread_mutex_lock(&lock);
        if (ran || stopping || kicks != seen)
            continue;
        int64_t wait = JOBS_POLL_MS;
        if (next > 0 && next - now_ms() < wait)
            wait = next - now_ms() > 10 ? next - now_ms() : 10;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!stopping && kicks == seen && pthread_cond_timedwait(&wake, &lock, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int jobs_start(int nthreads)
{
    if (nthreads <= 0)
        return 0;
    /* alone on the store, every lease is a dead process's (this one's
     * before a kill -9): its jobs run now, not when the lease runs out */
    int freed;
    if (!store_is_shared() && store_jobs_release_all(&freed) == 0 && freed > 0)
        log_info("%d job lease%s of a previous run freed", freed, freed == 1 ? "" : "s");
    workers = xcalloc((size_t)nthreads, sizeof(*workers));
    stopping = false;
    for (nworkers = 0; nworkers < nthreads; nworkers++)
        if (pthread_create(&workers[nworkers], NULL, worker_main, (void *)(intptr_t)nworkers) != 0) {
            jobs_stop();
            return error_set(E_ERROR, "cannot start job workers");
        }
    log_info("%d job worker%s for %d kind%s", nthreads, nthreads == 1 ? "" : "s", nhandlers, nhandlers == 1 ? "" : "s");
    return 0;
}

void jobs_stop(void)
{
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    free(workers);
    workers = NULL;
    nworkers = 0;
}


int jobs_list(int (*fn)(void *ctx, const struct job *job), void *ctx)
{
    return store_jobs_each(fn, ctx);
}
