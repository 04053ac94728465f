/*
 * This module implements delivering events to webhooks (events.h): the
 * "webhook" job, one per (webhook, stream), and the periodic prune job.
 *
 * A job sends its stream's pending deliveries oldest first, one at a time:
 * an HTTP POST of the event (application/json) signed with the webhook's
 * secret. A 2xx answer delivers it and the next one is sent; any other
 * answer, or none within the timeouts, leaves it pending with its next
 * attempt after an exponential backoff, and the job ends, queued again for
 * that time. So a delivery blocks the later events of its stream until it
 * is delivered or given up (after max_attempts), while other streams and
 * webhooks, with jobs of their own, go on. A server that stops or dies
 * mid-attempt sends the delivery again later: delivery is at least once.
 *
 * Successes are recorded in batches (at most MARKS_MAX deliveries or
 * MARKS_MS), not one write each: a crash before a batch is recorded sends
 * its deliveries again, which at least once allows, and the requests keep
 * the database's write lock to themselves more of the time.
 *
 * Signature: X-Berth-Signature is "sha256=" and the hex HMAC-SHA256, keyed
 * with the secret, of "<X-Berth-Timestamp>.<body>" (docs/operations.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/keystore.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "events/internal.h"
#include "jobs/jobs.h"
#include "store/events.h"

static struct events_options opts = {
    .backoff_base_ms = 1000,
    .backoff_max_ms = 300000,
    .max_attempts = 20,
    .connect_timeout_ms = 5000,
    .timeout_ms = 15000,
    .retention_ms = 7 * 86400000LL,
};

/* The wait before attempt n + 1, after n failed attempts. */
static int64_t backoff_ms(int failed)
{
    int64_t d = opts.backoff_base_ms;
    for (int i = 1; i < failed && d < opts.backoff_max_ms; i++)
        d *= 2;
    return d < opts.backoff_max_ms ? d : opts.backoff_max_ms;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

/* "sha256=<hex>" of HMAC-SHA256(secret, "<ts>.<body>"). */
static void sign(char out[80], const char *secret, const char *ts, const char *body)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    size_t nts = strlen(ts), nbody = strlen(body);
    unsigned char *msg = malloc(nts + 1 + nbody);
    if (!msg)
        abort();
    memcpy(msg, ts, nts);
    msg[nts] = '.';
    memcpy(msg + nts + 1, body, nbody);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, nts + 1 + nbody, md, &n);
    free(msg);
    memcpy(out, "sha256=", 7);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

/* One attempt: 0 on a 2xx answer, else E_ERROR with err (and *status
 * when an answer came). */
static int post(int *status, char err[CURL_ERROR_SIZE], const char *url, const char *secret, const struct delivery *d)
{
    char ts[24], sig[80], h[5][160];
    struct curl_slist *headers = NULL;
    long code = 0;
    int rc = 0;
    *status = 0;
    err[0] = '\0';
    snprintf(ts, sizeof(ts), "%lld", (long long)(now_ms() / 1000));
    sign(sig, secret, ts, d->body);
    snprintf(h[0], sizeof(h[0]), "X-Berth-Event-Id: %s", d->event_id);
    snprintf(h[1], sizeof(h[1]), "X-Berth-Timestamp: %s", ts);
    snprintf(h[2], sizeof(h[2]), "X-Berth-Signature: %s", sig);
    snprintf(h[3], sizeof(h[3]), "X-Berth-Event-Type: %s", d->detail_type);
    snprintf(h[4], sizeof(h[4]), "X-Berth-Delivery: %lld", (long long)d->id);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    for (int i = 0; i < 5; i++)
        headers = curl_slist_append(headers, h[i]);
    CURL *c = curl_easy_init();
    if (!c || !headers) {
        snprintf(err, CURL_ERROR_SIZE, "cannot set up a request");
        rc = E_ERROR;
        goto done;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-webhook/1");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->body));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)opts.timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (!err[0])
            snprintf(err, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
        rc = E_ERROR;
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    *status = (int)code;
    if (code < 200 || code > 299) {
        snprintf(err, CURL_ERROR_SIZE, "HTTP %ld", code);
        rc = E_ERROR;
    }
done:
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    return rc;
}

#define MARKS_MAX 64
#define MARKS_MS 1000

/* Deliveries sent with success, not yet recorded. */
struct marks {
    int64_t ids[MARKS_MAX];
    int status[MARKS_MAX];
    size_t n;
    int64_t first_ms; /* when the oldest of them was sent */
};

static int marks_flush(struct marks *m)
{
    if (m->n == 0)
        return 0;
    int rc = store_deliveries_delivered(m->ids, m->status, m->n, now_ms());
    m->n = 0;
    return rc;
}

/* Splits a job key "<webhook id> <stream>". */
static int parse_key(const char *key, char webhook_id[WEBHOOK_ID_MAX], const char **stream)
{
    const char *sp = strchr(key, ' ');
    if (!sp || sp == key || (size_t)(sp - key) >= WEBHOOK_ID_MAX || !sp[1])
        return error_set(E_INVALID, "webhook job key '%s' is not '<webhook> <stream>'", key);
    memcpy(webhook_id, key, (size_t)(sp - key));
    webhook_id[sp - key] = '\0';
    *stream = sp + 1;
    return 0;
}

/* Sends the head delivery d: 1 when the next one may follow now, 0 when
 * the stream waits (queued again), or a store failure. */
static int attempt(struct marks *m, const struct job *job, const struct webhook *w, const char *secret,
                   const struct delivery *d)
{
    int status;
    char err[CURL_ERROR_SIZE];
    int rc = post(&status, err, w->url, secret, d);
    int64_t now = now_ms();
    if (rc == 0) {
        log_debug("webhook %s: event %s delivered (HTTP %d, attempt %d)", w->id, d->event_id, status, d->attempts + 1);
        if (m->n == 0)
            m->first_ms = now;
        m->ids[m->n] = d->id;
        m->status[m->n++] = status;
        if (m->n == MARKS_MAX || now - m->first_ms >= MARKS_MS)
            return (rc = marks_flush(m)) < 0 ? rc : 1;
        return 1;
    }
    if ((rc = marks_flush(m)) < 0)
        return rc;
    int failed = d->attempts + 1;
    bool give_up = failed >= opts.max_attempts;
    int64_t next = now + backoff_ms(failed);
    log_info("webhook %s: event %s not delivered (attempt %d%s): %s", w->id, d->event_id, failed,
             give_up ? ", giving up" : "", err);
    if ((rc = store_delivery_attempted(d->id, give_up ? "failed" : "pending", status, err, give_up ? 0 : next,
                                       give_up ? now : 0)) < 0)
        return rc;
    if (give_up)
        return 1;
    return (rc = jobs_enqueue(EVENTS_JOB, job->key, NULL, next)) < 0 ? rc : 0;
}

static int deliver_job(const struct job *job, void *ctx)
{
    (void)ctx;
    char id[WEBHOOK_ID_MAX], *secret = NULL;
    const char *stream = NULL;
    struct webhook w = {0};
    struct marks m = {.n = 0};
    int64_t renewed = now_ms(), after = 0;
    int rc, flushed;
    if (parse_key(job->key, id, &stream) < 0) {
        log_warn("%s", error_message());
        return 0; /* nothing to retry */
    }
    if ((rc = store_webhook_get(id, &w)) == E_NOTFOUND)
        return 0; /* removed, with its deliveries */
    if (rc < 0 || (rc = keystore_open_secret(w.secret_enc, w.id, &secret)) < 0)
        goto done;
    while (!jobs_stopping()) {
        struct delivery d;
        /* an attempt takes at most the timeout (at most 240 s): the lease
         * is renewed only when the next one could outlast it, a write per
         * delivery less that the requests would wait for */
        if (now_ms() - renewed > JOBS_LEASE_MS - opts.timeout_ms - 10000) {
            if ((rc = jobs_extend(job)) < 0)
                break;
            renewed = now_ms();
        }
        if ((rc = store_delivery_next(w.id, stream, after, &d)) <= 0)
            break;
        after = d.id;
        if (d.next_attempt > now_ms())
            rc = jobs_enqueue(EVENTS_JOB, job->key, NULL, d.next_attempt);
        else
            rc = attempt(&m, job, &w, secret, &d);
        delivery_release(&d);
        if (rc <= 0)
            break;
    }
    /* stopping: events_start() queues the stream again at the next start */
done:
    if ((flushed = marks_flush(&m)) < 0 && rc >= 0)
        rc = flushed;
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
    webhook_release(&w);
    return rc < 0 ? rc : 0;
}

static int prune_job(const struct job *job, void *ctx)
{
    (void)job;
    (void)ctx;
    int64_t removed = 0;
    int rc = store_events_prune(now_ms() - opts.retention_ms, &removed);
    if (rc == 0 && removed)
        log_info("webhooks: pruned %lld finished deliveries and events", (long long)removed);
    return rc;
}

static int requeue(void *ctx, const char *webhook_id, const char *stream, int64_t due)
{
    char key[JOBS_KEY_MAX];
    int *rc = ctx;
    events_job_key(key, webhook_id, stream);
    *rc = jobs_enqueue(EVENTS_JOB, key, NULL, due);
    return *rc < 0;
}

int events_start(const struct events_options *o)
{
    int rc = 0, queued = 0;
    if (o)
        opts = *o;
    if (opts.max_attempts < 1)
        opts.max_attempts = 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if ((rc = jobs_register(EVENTS_JOB, deliver_job, NULL)) < 0 ||
        (rc = jobs_register(EVENTS_PRUNE_JOB, prune_job, NULL)) < 0)
        return rc;
    int64_t period = opts.retention_ms / 4;
    if (period > 3600000)
        period = 3600000;
    if (period < 1000)
        period = 1000;
    if ((rc = jobs_every(EVENTS_PRUNE_JOB, "all", period, now_ms() + period)) < 0)
        return rc;
    if ((rc = store_delivery_streams(requeue, &queued)) < 0)
        return rc;
    return queued < 0 ? queued : 0;
}
