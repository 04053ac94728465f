/*
 * The job queue's rows (jobs/jobs.h is the queue; these are its
 * statements). Times are milliseconds since the epoch.
 */
#ifndef BERTH_STORE_JOBS_H
#define BERTH_STORE_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#define JOBS_KIND_MAX 32
#define JOBS_KEY_MAX 512
#define JOBS_ARG_MAX 4096
#define JOBS_OWNER_MAX 64

struct job {
    int64_t id;
    char kind[JOBS_KIND_MAX];
    char key[JOBS_KEY_MAX];
    char *arg;          /* "" when none */
    int64_t run_at;     /* when it is due */
    int64_t period_ms;  /* 0: runs once */
    int attempts;       /* failed runs so far */
    bool failed;        /* gave up */
    char *last_error;   /* NULL when none */
    char owner[JOBS_OWNER_MAX]; /* "" when nobody runs it */
    int64_t lease_until;
};

void store_job_free(struct job *j);

/* Inserts (kind, key), or updates the pending row: the earlier run time,
 * arg when not empty, failures forgotten. A row running now (leased until
 * after now) is marked to run again at run_at when its run ends. */
int store_job_enqueue(const char *kind, const char *key, const char *arg, int64_t run_at, int64_t now);
/* Inserts a periodic row, or sets the period of the existing one. */
int store_job_every(const char *kind, const char *key, int64_t period_ms, int64_t first, int64_t now);
/* Deletes the row (E_NOTFOUND when none). */
int store_job_cancel(const char *kind, const char *key);
/* Leases the due row (run_at <= now, not failed, lease expired) with the
 * earliest run time of kind and key (NULL: any) to owner until
 * lease_until: 1 with *out filled (free with store_job_free), 0 when none
 * is due. */
int store_job_claim(const char *kind, const char *key, const char *owner, int64_t now, int64_t lease_until,
                    struct job *out);
/* The end of a successful run by j->owner: the row goes, or, when it is
 * periodic or was enqueued again meanwhile, is due again (at next_run for
 * a periodic one). Nothing happens when the lease was lost. */
int store_job_done(const struct job *j, int64_t next_run);
/* The end of a failed run: attempts + 1, due again at retry_at, or failed
 * for good when give_up. */
int store_job_fail(const struct job *j, const char *message, int64_t retry_at, bool give_up);
/* Moves j's lease to lease_until; E_NOTFOUND when j->owner lost it. */
int store_job_extend(const struct job *j, int64_t lease_until);
/* The earliest run time among kind's rows that are not failed (0 when
 * none; the caller still checks leases). */
int store_job_next(const char *kind, int64_t *out);
/* Frees every lease (a start's, on a store no other server shares: the
 * leases a killed process held would otherwise keep their jobs until they
 * expire); *freed_out counts them. */
int store_jobs_release_all(int *freed_out);
/* Every row, earliest run time first. */
int store_jobs_each(int (*fn)(void *ctx, const struct job *j), void *ctx);

#endif
