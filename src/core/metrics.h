/*
 * Process metrics for Prometheus: counters, gauges and histograms with
 * labels, updated with atomic operations only, and rendered in the text
 * exposition format (version 0.0.4) by metrics_render().
 *
 * Every family berth has is declared here and described in one table in
 * metrics.c (name, help, type, label names, histogram buckets), so the
 * set of metrics is read in one place. A series (one combination of label
 * values) is found with metric_get(): a lock-free open-addressed table per
 * family; the first request for a combination claims a slot. Label values
 * must come from bounded sets (operation names from a table, status codes,
 * job kinds), never from raw input. A family whose table is full counts
 * new combinations in one series whose labels are all "_other".
 *
 * Updating a series found once (metric_add, metric_observe_us) is a few
 * relaxed atomic additions; callers on hot paths keep the pointer.
 */
#ifndef BERTH_CORE_METRICS_H
#define BERTH_CORE_METRICS_H

#include <stdint.h>

#include "core/buf.h"

struct metric_family;
struct metric_series;

/* http/server.c */
extern struct metric_family metric_http_requests;      /* counter {surface, operation, code} */
extern struct metric_family metric_http_duration;      /* histogram {surface, operation} */
extern struct metric_family metric_http_received;      /* counter {surface}: request body bytes */
extern struct metric_family metric_http_sent;          /* counter {surface}: response body bytes */
extern struct metric_family metric_http_in_flight;     /* gauge: requests begun and not completed */
extern struct metric_family metric_http_defer_threads; /* gauge: threads of the servers' defer pools */
extern struct metric_family metric_http_body_budget;   /* gauge: request body bytes buffered or reserved */
extern struct metric_family metric_http_connections;   /* counter: connections accepted */
/* store/store.c */
extern struct metric_family metric_store_step;         /* histogram: one sqlite3_step() */
extern struct metric_family metric_store_lock_wait;    /* histogram {scope}: a write transaction's locks taken */
/* store/cache.c */
extern struct metric_family metric_store_cache;        /* counter {result}: hit, miss */
/* jobs/jobs.c */
extern struct metric_family metric_jobs_run;           /* counter {kind} */
extern struct metric_family metric_jobs_failed;        /* counter {kind} */
extern struct metric_family metric_job_duration;       /* histogram {kind} */
/* audit/audit.c */
extern struct metric_family metric_audit_records;      /* counter {result}: written, lost */
extern struct metric_family metric_audit_commit;       /* histogram: one batch of records written */
extern struct metric_family metric_audit_index;        /* counter: transactions that indexed records */

/* The series of f for the label values (as many as f has labels; NULL for
 * a family without labels). Never NULL. */
struct metric_series *metric_get(struct metric_family *f, const char *const *values);
/* Counter: adds n (n >= 0). Gauge: adds n (either sign). */
void metric_add(struct metric_series *s, int64_t n);
/* Histogram: one observation of us microseconds. */
void metric_observe_us(struct metric_series *s, int64_t us);

/* Appends every family, in the table's order, in the text format. */
int metrics_render(struct buf *out);

/* Helpers for a metric rendered by its owner at scrape time (a value that
 * is read then rather than counted): the HELP and TYPE lines, then one
 * sample. Label values are escaped. */
int metrics_render_header(struct buf *out, const char *name, const char *type, const char *help);
int metrics_render_sample(struct buf *out, const char *name, const char *const *label_names, const char *const *values,
                          double value);

#endif
