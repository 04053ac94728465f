/*
 * This module implements the metrics of metrics.h: the table of families,
 * each family's lock-free table of series, the atomic updates, and the
 * Prometheus text format.
 *
 * A slot of a family's table goes from empty to "being written" (one
 * compare-and-swap decides which thread fills it) to ready; a reader that
 * meets a slot being written waits the few instructions it takes. Slots
 * are never freed, so a pointer from metric_get() stays valid for the life
 * of the process. Histogram buckets are kept non-cumulative and summed
 * when rendered; the count is their total, so a scrape is always
 * consistent with itself.
 */
#include "core/metrics.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define LABELS_MAX 3
#define VALUE_MAX 64
#define BUCKETS_MAX 16

enum metric_type { COUNTER, GAUGE, HISTOGRAM };

struct metric_series {
    _Atomic int state; /* EMPTY, FILLING, READY */
    uint32_t hash;
    char values[LABELS_MAX][VALUE_MAX];
    _Atomic int64_t value; /* counter, gauge */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t buckets[BUCKETS_MAX + 1]; /* the last one is +Inf */
    const int64_t *bounds_us;                  /* the family's, for metric_observe_us() */
    int nbounds;
};

enum { EMPTY, FILLING, READY };

struct metric_family {
    const char *name;
    const char *help;
    enum metric_type type;
    const char *labels[LABELS_MAX + 1]; /* NULL-terminated */
    const int64_t *bounds_us;          /* histogram upper bounds, ascending, in microseconds */
    unsigned cap;                      /* slots, a power of two; 0: 256 */
    _Atomic(struct metric_series *) slots;
    struct metric_series other; /* where combinations go once the table is full */
};

/* Request latency: 1 ms to a minute (blob uploads and downloads are long). */
static const int64_t http_bounds[] = {1000,   2500,   5000,    10000,   25000,   50000,    100000,   250000,
                                      500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000, -1};
/* One statement step: 10 µs to a second. */
static const int64_t store_bounds[] = {10,    25,    50,     100,    250,    500,     1000,    2500,
                                       5000,  10000, 25000,  50000,  100000, 250000,  1000000, -1};
/* A background job: 10 ms to ten minutes. */
static const int64_t job_bounds[] = {10000, 100000, 1000000, 10000000, 60000000, 600000000, -1};

struct metric_family metric_http_requests = {
    "berth_http_requests_total", "HTTP requests completed, by surface, API operation and status code", COUNTER,
    {"surface", "operation", "code", NULL}, NULL, 1024, NULL, {0}};
struct metric_family metric_http_duration = {
    "berth_http_request_duration_seconds", "Time from a request's headers to its last response byte", HISTOGRAM,
    {"surface", "operation", NULL}, http_bounds, 512, NULL, {0}};
struct metric_family metric_http_received = {"berth_http_request_body_bytes_total", "Request body bytes received",
                                             COUNTER, {"surface", NULL}, NULL, 16, NULL, {0}};
struct metric_family metric_http_sent = {"berth_http_response_body_bytes_total", "Response body bytes sent", COUNTER,
                                         {"surface", NULL}, NULL, 16, NULL, {0}};
struct metric_family metric_http_in_flight = {"berth_http_requests_in_flight", "Requests begun and not yet completed",
                                              GAUGE, {NULL}, NULL, 1, NULL, {0}};
struct metric_family metric_http_defer_threads = {"berth_http_defer_threads",
                                                  "Threads that run requests' work off the HTTP threads (started as needed)",
                                                  GAUGE, {NULL}, NULL, 1, NULL, {0}};
struct metric_family metric_http_body_budget = {"berth_http_body_buffer_bytes",
                                                "Bytes of request bodies held in memory or reserved for them (the limit is --body-buffer-budget-mb)",
                                                GAUGE, {NULL}, NULL, 1, NULL, {0}};
struct metric_family metric_http_connections = {"berth_http_connections_total", "Client connections accepted", COUNTER,
                                                {NULL}, NULL, 1, NULL, {0}};
struct metric_family metric_store_step = {"berth_store_step_duration_seconds",
                                          "Time of one metadata store statement step (sqlite3_step)", HISTOGRAM,
                                          {NULL}, store_bounds, 1, NULL, {0}};
struct metric_family metric_store_lock_wait = {
    "berth_store_lock_wait_seconds",
    "Time a write transaction waited for its locks, by scope (registry: every writer excluded; repository, account,"
    " shared: see store/locks.h)",
    HISTOGRAM, {"scope", NULL}, store_bounds, 8, NULL, {0}};
struct metric_family metric_store_cache = {"berth_store_cache_lookups_total",
                                           "Lookups of the store's read cache, answered from memory (hit) or the database (miss)",
                                           COUNTER, {"result", NULL}, NULL, 4, NULL, {0}};
struct metric_family metric_jobs_run = {"berth_jobs_run_total", "Background jobs run, by kind", COUNTER,
                                        {"kind", NULL}, NULL, 64, NULL, {0}};
struct metric_family metric_jobs_failed = {"berth_jobs_failed_total", "Background job runs that failed, by kind",
                                           COUNTER, {"kind", NULL}, NULL, 64, NULL, {0}};
struct metric_family metric_job_duration = {"berth_job_duration_seconds", "Time a background job ran, by kind",
                                            HISTOGRAM, {"kind", NULL}, job_bounds, 64, NULL, {0}};
struct metric_family metric_audit_records = {"berth_audit_records_total",
                                             "Audit trail records written to the store, or lost after failed writes",
                                             COUNTER, {"result", NULL}, NULL, 4, NULL, {0}};
struct metric_family metric_audit_commit = {"berth_audit_commit_duration_seconds",
                                            "Time to write one batch of audit records (one transaction)", HISTOGRAM,
                                            {NULL}, store_bounds, 1, NULL, {0}};

struct metric_family metric_audit_index = {"berth_audit_index_batches_total",
                                           "Transactions that indexed staged audit records for lookups", COUNTER,
                                           {NULL}, NULL, 1, NULL, {0}};

/* The order of the exposition. */
static struct metric_family *const families[] = {
    &metric_http_requests, &metric_http_duration, &metric_http_received, &metric_http_sent, &metric_http_in_flight,
    &metric_http_defer_threads, &metric_http_body_budget, &metric_http_connections, &metric_store_step, &metric_store_lock_wait, &metric_store_cache, &metric_jobs_run, &metric_jobs_failed, &metric_job_duration,
    &metric_audit_records, &metric_audit_commit, &metric_audit_index,
};

static int nlabels(const struct metric_family *f)
{
    int n = 0;
    while (n < LABELS_MAX && f->labels[n])
        n++;
    return n;
}

static int nbounds(const struct metric_family *f)
{
    int n = 0;
    while (f->bounds_us && n < BUCKETS_MAX && f->bounds_us[n] >= 0)
        n++;
    return n;
}

static struct metric_series *slots_of(struct metric_family *f)
{
    struct metric_series *p = atomic_load_explicit(&f->slots, memory_order_acquire);
    if (p)
        return p;
    struct metric_series *fresh = xcalloc(f->cap ? f->cap : 256, sizeof(*fresh));
    if (atomic_compare_exchange_strong(&f->slots, &p, fresh))
        return fresh;
    free(fresh); /* another thread was first; p is its table */
    return p;
}

static uint32_t hash_values(const char *const *values, int n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    /* over what a slot keeps of each value, so that values cut to the same
     * prefix are one series */
    for (int i = 0; i < n; i++) {
        for (const char *z = values[i]; *z && z - values[i] < VALUE_MAX - 1; z++)
            h = (h ^ (unsigned char)*z) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

static bool same_values(const struct metric_series *s, const char *const *values, int n)
{
    for (int i = 0; i < n; i++)
        if (strncmp(s->values[i], values[i], VALUE_MAX - 1) != 0)
            return false;
    return true;
}

static void fill(struct metric_series *s, const struct metric_family *f, uint32_t h, const char *const *values, int n)
{
    s->hash = h;
    s->bounds_us = f->bounds_us;
    s->nbounds = nbounds(f);
    for (int i = 0; i < n; i++)
        snprintf(s->values[i], VALUE_MAX, "%s", values[i]);
}

struct metric_series *metric_get(struct metric_family *f, const char *const *values)
{
    static const char *const none[LABELS_MAX] = {"", "", ""};
    static const char *const other[LABELS_MAX] = {"_other", "_other", "_other"};
    int n = nlabels(f);
    unsigned cap = f->cap ? f->cap : 256;
    if (!values)
        values = none;
    struct metric_series *slots = slots_of(f);
    uint32_t h = hash_values(values, n);
    for (unsigned probe = 0; probe < cap; probe++) {
        struct metric_series *s = &slots[(h + probe) & (cap - 1)];
        int state = atomic_load_explicit(&s->state, memory_order_acquire);
        if (state == EMPTY) {
            int expected = EMPTY;
            if (atomic_compare_exchange_strong(&s->state, &expected, FILLING)) {
                fill(s, f, h, values, n);
                atomic_store_explicit(&s->state, READY, memory_order_release);
                return s;
            }
            state = expected;
        }
        while (state == FILLING) {
            sched_yield();
            state = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->hash == h && same_values(s, values, n))
            return s;
    }
    /* full: one shared series, filled once */
    int expected = EMPTY;
    if (atomic_compare_exchange_strong(&f->other.state, &expected, FILLING)) {
        fill(&f->other, f, 0, other, n);
        atomic_store_explicit(&f->other.state, READY, memory_order_release);
    }
    while (atomic_load_explicit(&f->other.state, memory_order_acquire) != READY)
        sched_yield();
    return &f->other;
}

void metric_add(struct metric_series *s, int64_t n)
{
    atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void metric_observe_us(struct metric_series *s, int64_t us)
{
    int b = 0;
    if (us < 0)
        us = 0;
    while (b < s->nbounds && us > s->bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)us, memory_order_relaxed);
}

/* ---- the text format ---------------------------------------------------- */

static int put_escaped(struct buf *out, const char *z)
{
    int rc = 0;
    for (; *z && rc == 0; z++) {
        if (*z == '\\')
            rc = buf_puts(out, "\\\\");
        else if (*z == '"')
            rc = buf_puts(out, "\\\"");
        else if (*z == '\n')
            rc = buf_puts(out, "\\n");
        else
            rc = buf_putc(out, *z);
    }
    return rc;
}

/* {a="x",b="y"} with an extra le="..." when le is not NULL; nothing when
 * there are no labels at all. */
static int put_labels(struct buf *out, const char *const *names, const char *const *values, int n, const char *le)
{
    int rc = 0;
    if (n == 0 && !le)
        return 0;
    rc |= buf_putc(out, '{');
    for (int i = 0; i < n; i++) {
        rc |= buf_printf(out, "%s%s=\"", i ? "," : "", names[i]);
        rc |= put_escaped(out, values[i]);
        rc |= buf_putc(out, '"');
    }
    if (le)
        rc |= buf_printf(out, "%sle=\"%s\"", n ? "," : "", le);
    rc |= buf_putc(out, '}');
    return rc;
}

int metrics_render_header(struct buf *out, const char *name, const char *type, const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int metrics_render_sample(struct buf *out, const char *name, const char *const *label_names, const char *const *values,
                          double value)
{
    int n = 0;
    while (label_names && label_names[n])
        n++;
    int rc = buf_puts(out, name);
    rc |= put_labels(out, label_names, values, n, NULL);
    rc |= buf_printf(out, " %.17g\n", value);
    return rc;
}

static int render_series(struct buf *out, const struct metric_family *f, const struct metric_series *s)
{
    int n = nlabels(f), rc = 0;
    const char *values[LABELS_MAX];
    for (int i = 0; i < n; i++)
        values[i] = s->values[i];
    if (f->type != HISTOGRAM) {
        rc |= buf_puts(out, f->name);
        rc |= put_labels(out, f->labels, values, n, NULL);
        return rc | buf_printf(out, " %lld\n", (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
    }
    uint64_t cumulative = 0;
    char le[32];
    for (int b = 0; b <= s->nbounds; b++) {
        cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        if (b < s->nbounds)
            snprintf(le, sizeof(le), "%g", (double)s->bounds_us[b] / 1e6);
        else
            snprintf(le, sizeof(le), "+Inf");
        rc |= buf_printf(out, "%s_bucket", f->name);
        rc |= put_labels(out, f->labels, values, n, le);
        rc |= buf_printf(out, " %llu\n", (unsigned long long)cumulative);
    }
    rc |= buf_printf(out, "%s_sum", f->name);
    rc |= put_labels(out, f->labels, values, n, NULL);
    rc |= buf_printf(out, " %.6f\n", (double)atomic_load_explicit(&s->sum_us, memory_order_relaxed) / 1e6);
    rc |= buf_printf(out, "%s_count", f->name);
    rc |= put_labels(out, f->labels, values, n, NULL);
    return rc | buf_printf(out, " %llu\n", (unsigned long long)cumulative);
}

int metrics_render(struct buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int rc = 0;
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        struct metric_family *f = families[i];
        unsigned cap = f->cap ? f->cap : 256;
        if (nlabels(f) == 0)
            metric_get(f, NULL); /* a family without labels always shows its one series */
        rc |= metrics_render_header(out, f->name, type_names[f->type], f->help);
        struct metric_series *slots = slots_of(f);
        for (unsigned k = 0; k < cap; k++)
            if (atomic_load_explicit(&slots[k].state, memory_order_acquire) == READY)
                rc |= render_series(out, f, &slots[k]);
        if (atomic_load_explicit(&f->other.state, memory_order_acquire) == READY)
            rc |= render_series(out, f, &f->other);
    }
    return rc < 0 ? rc : 0;
}
