/*
 * This module implements pull-time recording (image.h): a pull costs one
 * indexed read (is the principal excluded from pull times?) and an entry
 * in an in-memory table, and no database write; the service's
 * maintenance thread writes the table in one transaction every
 * limits.pull_flush_ms, sooner when it fills, and at shutdown.
 *
 * The table lives in this process, so its flush is this process's own
 * periodic work rather than a job on the shared queue: a job another
 * server claimed could not see this server's table. A crash loses at most
 * one flush period of pull times, which lifecycle rules, counting in days,
 * do not notice (ECR itself refreshes lastRecordedPullTime only "at least
 * once every 24 hours").
 *
 * While a batch is being written it stays visible to image_pull_time(), so
 * DescribeImages on this server never shows a pull time going back.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "image/image.h"
#include "image/internal.h"
#include "store/cache.h"

/* Slots in the table; a flush is asked for at three quarters full, and a
 * pull that finds it full (the flush lags) is dropped and counted. */
#define PULL_SLOTS 16384
#define PULL_FLUSH_AT (PULL_SLOTS * 3 / 4)

static pthread_mutex_t pull_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pull_time *table;  /* PULL_SLOTS slots; repo_id 0 marks a free one */
static size_t used;
static struct pull_time *writing; /* the batch being written, or NULL */
static size_t nwriting;
static uint64_t dropped;

static size_t slot_of(int64_t repo_id, const char *digest)
{
    /* FNV-1a over the repository id and the digest */
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint64_t)((repo_id >> (8 * i)) & 0xff)) * 1099511628211ULL;
    for (const char *p = digest; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h % PULL_SLOTS);
}

/* The slot of (repo_id, digest), or the free slot where it would go; NULL
 * when the table is full. Called with pull_lock held. */
static struct pull_time *find(int64_t repo_id, const char *digest)
{
    if (!table)
        table = xcalloc(PULL_SLOTS, sizeof(*table));
    size_t i = slot_of(repo_id, digest);
    for (size_t n = 0; n < PULL_SLOTS; n++, i = (i + 1) % PULL_SLOTS) {
        struct pull_time *p = &table[i];
        if (p->repo_id == 0 || (p->repo_id == repo_id && strcmp(p->digest, digest) == 0))
            return p;
    }
    return NULL;
}

void image_record_pull(int64_t repo_id, const char *digest, const char *account_id, const char *principal_arn,
                       uint64_t cache_gen)
{
    int64_t now = now_ms();
    bool wake = false;
    if (strlen(digest) >= DIGEST_MAX)
        return;
    if (principal_arn && *principal_arn) {
        int rc = store_cached_pull_exclusion_exists(cache_gen, account_id, principal_arn);
        if (rc == 0)
            return;
        if (rc != E_NOTFOUND) /* a lost pull time is not worth failing a pull for */
            log_warn("recording a pull of %s: %s", digest, error_message());
    }
    pthread_mutex_lock(&pull_lock);
    struct pull_time *p = find(repo_id, digest);
    if (!p) {
        dropped++;
    } else {
        if (p->repo_id == 0) {
            p->repo_id = repo_id;
            memcpy(p->digest, digest, strlen(digest) + 1);
            used++;
        }
        if (now > p->ms)
            p->ms = now;
        wake = used == PULL_FLUSH_AT;
    }
    pthread_mutex_unlock(&pull_lock);
    if (wake)
        image_service_wake();
}

int64_t image_pull_time(int64_t repo_id, const char *digest, int64_t stored_ms)
{
    int64_t t = stored_ms;
    pthread_mutex_lock(&pull_lock);
    struct pull_time *p = table ? find(repo_id, digest) : NULL;
    if (p && p->repo_id && p->ms > t)
        t = p->ms;
    for (size_t i = 0; i < nwriting; i++)
        if (writing[i].repo_id == repo_id && writing[i].ms > t && strcmp(writing[i].digest, digest) == 0)
            t = writing[i].ms;
    pthread_mutex_unlock(&pull_lock);
    return t;
}

int image_pull_times_flush(void)
{
    static pthread_mutex_t one_flush = PTHREAD_MUTEX_INITIALIZER;
    struct pull_time *batch;
    size_t n = 0;
    uint64_t lost;
    int rc = 0;

    pthread_mutex_lock(&one_flush);
    pthread_mutex_lock(&pull_lock);
    batch = xmalloc((used ? used : 1) * sizeof(*batch));
    for (size_t i = 0; table && i < PULL_SLOTS && n < used; i++)
        if (table[i].repo_id)
            batch[n++] = table[i];
    if (table)
        memset(table, 0, PULL_SLOTS * sizeof(*table));
    used = 0;
    writing = batch;
    nwriting = n;
    lost = dropped;
    dropped = 0;
    pthread_mutex_unlock(&pull_lock);

    if (lost)
        log_warn("%llu pull time%s dropped: the table was full", (unsigned long long)lost, lost == 1 ? "" : "s");
    if (n && (rc = store_pull_times_write(batch, n)) < 0)
        log_warn("writing %zu pull times: %s", n, error_message());

    pthread_mutex_lock(&pull_lock);
    if (rc < 0) {
        /* keep them for the next flush, as far as they fit */
        for (size_t i = 0; i < n; i++) {
            struct pull_time *p = find(batch[i].repo_id, batch[i].digest);
            if (p && p->repo_id == 0) {
                *p = batch[i];
                used++;
            } else if (p && batch[i].ms > p->ms) {
                p->ms = batch[i].ms;
            }
        }
    }
    writing = NULL;
    nwriting = 0;
    pthread_mutex_unlock(&pull_lock);
    pthread_mutex_unlock(&one_flush);
    free(batch);
    return rc;
}

int image_pull_exclusion_register(const char *account_id, const char *principal_arn, int64_t *created_out)
{
    int64_t n, now = now_ms();
    int rc = store_pull_exclusion_exists(account_id, principal_arn);
    if (rc == 0)
        return error_set(E_EXISTS, "principal '%s' is already excluded from pull time updates", principal_arn);
    if (rc != E_NOTFOUND)
        return rc;
    if ((rc = store_pull_exclusion_count(account_id, &n)) < 0)
        return rc;
    if (n >= IMAGE_PULL_EXCLUSIONS_MAX)
        return error_set(E_TOOBIG, "the registry already has the maximum of %d pull time update exclusions",
                         IMAGE_PULL_EXCLUSIONS_MAX);
    if ((rc = store_pull_exclusion_add(account_id, principal_arn, now)) < 0)
        return rc;
    *created_out = now;
    return 0;
}

int image_pull_exclusion_deregister(const char *account_id, const char *principal_arn)
{
    int rc = store_pull_exclusion_delete(account_id, principal_arn);
    if (rc == E_NOTFOUND)
        return error_set(E_NOTFOUND, "principal '%s' is not excluded from pull time updates", principal_arn);
    return rc;
}
