/*
 * Durable background work: a queue of jobs kept in the store and run by
 * this server's worker threads.
 *
 * A job is (kind, key, arg): kind names the handler ("gc", "lifecycle",
 * "scan"), key says what it is about (a repository id, an image digest)
 * and is unique among the pending jobs of its kind, so enqueueing the
 * same work twice keeps one job; arg is a short string for the handler.
 *
 * A worker claims a due job by writing a lease (its owner and an expiry)
 * in the store, in one transaction, so two servers sharing a store never
 * run the same job at once; a server that dies mid-job leaves a lease
 * that expires, after which another worker runs the job again. Handlers
 * are therefore idempotent. A job that succeeds is removed, or, when it
 * is periodic, scheduled again one period later; one that fails is tried
 * again after a growing delay, and after JOBS_MAX_ATTEMPTS it stays in the
 * queue marked failed (`berth admin jobs` lists it) until enqueued again.
 */
#ifndef BERTH_JOBS_JOBS_H
#define BERTH_JOBS_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/jobs.h" /* struct job */

#define JOBS_MAX_ATTEMPTS 5
/* How long a claimed job is its worker's; jobs_extend() renews it. */
#define JOBS_LEASE_MS (5 * 60 * 1000)

/* A handler runs one job; it returns 0 when done, or a negative E_* code
 * with the detail set to have the job tried again later. It may call
 * jobs_extend() to keep its lease during long work. */
typedef int (*job_handler)(const struct job *job, void *ctx);

/* Registers the handler of kind; call before jobs_start(). */
int jobs_register(const char *kind, job_handler fn, void *ctx);

/* Adds a job that runs at run_at_ms (0: now). When a pending job of the
 * same kind and key exists it stays, taking the earlier run time (and arg
 * when given). Wakes this server's workers. */
int jobs_enqueue(const char *kind, const char *key, const char *arg, int64_t run_at_ms);

/* Wakes this server's workers: after a transaction that enqueued jobs
 * with store_job_enqueue() commits. */
void jobs_kick(void);

/* Makes sure a periodic job of kind and key exists that runs every
 * period_ms, first at first_ms (0: now). An existing one keeps its next
 * run time and takes the new period. */
int jobs_every(const char *kind, const char *key, int64_t period_ms, int64_t first_ms);

/* Removes the pending job of kind and key (E_NOTFOUND when none). */
int jobs_cancel(const char *kind, const char *key);

/* Starts nthreads workers that run due jobs until jobs_stop(), which waits
 * for running handlers to return. */
int jobs_start(int nthreads);
void jobs_stop(void);
/* Has jobs_stop() been called? Long handlers check it between steps. */
bool jobs_stopping(void);

/* Claims and runs, on this thread, every due job of kind (NULL: any kind)
 * and key (NULL: any key); for `berth admin ... run` and tests. *ran_out
 * (may be NULL) counts the jobs run; returns the first failure. */
int jobs_run_due(const char *kind, const char *key, int *ran_out);

/* Extends the lease of the job this thread runs by the lease time. */
int jobs_extend(const struct job *job);

/* Calls fn with every job in the queue, oldest run time first. */
int jobs_list(int (*fn)(void *ctx, const struct job *job), void *ctx);

#endif
