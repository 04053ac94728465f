/*
 * This module implements the image service's configuration and its
 * maintenance thread (image.h).
 *
 * The maintenance thread expires upload sessions that nobody has touched
 * for limits.upload_expiry_ms: the record goes first (the session then no
 * longer exists for any request), the file and any hash state after. A
 * session a request is writing to right now is left for the next round.
 * It also writes the pull times pulls.c keeps in memory, every
 * limits.pull_flush_ms and when pulls.c wakes it, and once more at stop.
 * It keeps the thread's commit hook, which a write runs before its commit.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "image/internal.h"
#include "store/expiry.h"

/* How long pull times wait in memory when limits.pull_flush_ms is 0. */
#define PULL_FLUSH_DEFAULT_MS (10 * 1000)
/* Sessions expired per round, so one round never holds the store long. */
#define EXPIRE_BATCH 256

static struct image_limits limits;
static pthread_t maint;
static bool maint_running;
static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_wake = PTHREAD_COND_INITIALIZER;
static bool maint_stop;
static bool maint_woken;

static _Thread_local struct image_commit_hook *commit_hook;

void image_commit_hook_set(struct image_commit_hook *hook)
{
    if (hook)
        hook->committed = false;
    commit_hook = hook;
}

int image_hook_run(void)
{
    return commit_hook && commit_hook->fn ? commit_hook->fn(commit_hook->ctx) : 0;
}

void image_hook_committed(void)
{
    if (commit_hook)
        commit_hook->committed = true;
}

const struct image_limits *image_limits(void)
{
    return &limits;
}

struct expiry_round {
    int64_t cutoff_ms;
    int n;
};

/* Servers sharing the store list the same idle sessions: the delete
 * checks idleness again, and only the server whose delete removed the
 * record removes the bytes and counts it. */
static int expire_one(void *ctx, const char *id)
{
    struct expiry_round *round = ctx;
    int rc;
    if (upload_busy(id))
        return 0;
    if ((rc = store_upload_expire(id, round->cutoff_ms)) == E_NOTFOUND) {
        error_clear();
        return 0;
    }
    if (rc < 0) {
        log_warn("upload expiry: %s", error_message());
        return 1;
    }
    upload_cancel(id);
    round->n++;
    return 0;
}

/* One round of session expiry; returns how many sessions went. */
static int expire_sessions(void)
{
    if (limits.upload_expiry_ms <= 0)
        return 0;
    struct expiry_round round = {now_ms() - limits.upload_expiry_ms, 0};
    int n = 0;
    if (store_uploads_idle(round.cutoff_ms, EXPIRE_BATCH, expire_one, &round) < 0)
        log_warn("upload expiry: %s", error_message());
    n = round.n;
    if (n)
        log_info("expired %d idle upload session%s", n, n == 1 ? "" : "s");
    return n;
}

void image_service_wake(void)
{
    pthread_mutex_lock(&maint_lock);
    maint_woken = true;
    pthread_cond_broadcast(&maint_wake);
    pthread_mutex_unlock(&maint_lock);
}

static void *maint_main(void *arg)
{
    (void)arg;
    /* a round a minute, or more often when sessions expire sooner or pull
     * times are written sooner */
    int64_t period_ms = 60 * 1000;
    if (limits.upload_expiry_ms > 0 && limits.upload_expiry_ms / 4 < period_ms)
        period_ms = limits.upload_expiry_ms / 4 > 100 ? limits.upload_expiry_ms / 4 : 100;
    if (limits.pull_flush_ms < period_ms)
        period_ms = limits.pull_flush_ms > 100 ? limits.pull_flush_ms : 100;
    int64_t next_flush = now_ms() + limits.pull_flush_ms;
    pthread_mutex_lock(&maint_lock);
    while (!maint_stop) {
        bool woken = maint_woken;
        maint_woken = false;
        pthread_mutex_unlock(&maint_lock);
        if (woken || now_ms() >= next_flush) {
            image_pull_times_flush();
            next_flush = now_ms() + limits.pull_flush_ms;
        }
        if (!woken)
            while (expire_sessions() == EXPIRE_BATCH)
                ;
        pthread_mutex_lock(&maint_lock);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period_ms / 1000;
        ts.tv_nsec += (period_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        if (!maint_stop && !maint_woken)
            pthread_cond_timedwait(&maint_wake, &maint_lock, &ts);
    }
    pthread_mutex_unlock(&maint_lock);
    image_pull_times_flush();
    store_close_thread();
    return NULL;
}

int image_service_start(const struct image_limits *l)
{
    limits = *l;
    if (limits.pull_flush_ms <= 0)
        limits.pull_flush_ms = PULL_FLUSH_DEFAULT_MS;
    maint_stop = false;
    if (image_archive_register_jobs() < 0)
        return -1;
    if (pthread_create(&maint, NULL, maint_main, NULL) != 0)
        return error_set(E_ERROR, "cannot start the image service's maintenance thread");
    maint_running = true;
    return 0;
}

void image_service_stop(void)
{
    if (!maint_running)
        return;
    pthread_mutex_lock(&maint_lock);
    maint_stop = true;
    pthread_cond_broadcast(&maint_wake);
    pthread_mutex_unlock(&maint_lock);
    pthread_join(maint, NULL);
    maint_running = false;
}
