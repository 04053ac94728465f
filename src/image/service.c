/*
 * This module implements the image service's configuration, its
 * maintenance thread and pull-time recording (image.h).
 *
 * The maintenance thread expires upload sessions that nobody has touched
 * for limits.upload_expiry_ms: the record goes first (the session then no
 * longer exists for any request), the file and any hash state after. A
 * session a request is writing to right now is left for the next round.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"

/* Pull times are kept to this resolution: at most one write per image per
 * hour, as lifecycle rules count pulls in days. */
#define PULL_TIME_RESOLUTION_MS (3600 * 1000)
/* Sessions expired per round, so one round never holds the store long. */
#define EXPIRE_BATCH 256

static struct image_limits limits;
static pthread_t maint;
static bool maint_running;
static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_wake = PTHREAD_COND_INITIALIZER;
static bool maint_stop;

const struct image_limits *image_limits(void)
{
    return &limits;
}

static int expire_one(void *ctx, const char *id)
{
    int *n = ctx;
    if (upload_busy(id))
        return 0;
    if (store_upload_delete(id) < 0) {
        log_warn("upload expiry: %s", error_message());
        return 1;
    }
    upload_cancel(id);
    (*n)++;
    return 0;
}

/* One round of session expiry; returns how many sessions went. */
static int expire_sessions(void)
{
    int n = 0;
    if (limits.upload_expiry_ms <= 0)
        return 0;
    if (store_uploads_idle(now_ms() - limits.upload_expiry_ms, EXPIRE_BATCH, expire_one, &n) < 0)
        log_warn("upload expiry: %s", error_message());
    if (n)
        log_info("expired %d idle upload session%s", n, n == 1 ? "" : "s");
    return n;
}

static void *maint_main(void *arg)
{
    (void)arg;
    /* a round a minute, or more often when sessions expire sooner */
    int64_t period_ms = 60 * 1000;
    if (limits.upload_expiry_ms > 0 && limits.upload_expiry_ms / 4 < period_ms)
        period_ms = limits.upload_expiry_ms / 4 > 100 ? limits.upload_expiry_ms / 4 : 100;
    pthread_mutex_lock(&maint_lock);
    while (!maint_stop) {
        pthread_mutex_unlock(&maint_lock);
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
        if (!maint_stop)
            pthread_cond_timedwait(&maint_wake, &maint_lock, &ts);
    }
    pthread_mutex_unlock(&maint_lock);
    store_close_thread();
    return NULL;
}

int image_service_start(const struct image_limits *l)
{
    limits = *l;
    maint_stop = false;
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

void image_record_pull(int64_t repo_id, const char *digest, int64_t last_pull_ms)
{
    int64_t now = now_ms();
    if (now - last_pull_ms <= PULL_TIME_RESOLUTION_MS)
        return;
    /* a lost pull time is not worth failing a pull for */
    if (store_manifest_touch_pull(repo_id, digest, now) < 0)
        log_warn("recording a pull of %s: %s", digest, error_message());
}
