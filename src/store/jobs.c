/*
 * This module implements the job queue's rows (store/jobs.h) on SQLite.
 *
 * One row per (kind, key). A worker claims a row with a single UPDATE that
 * writes its lease (owner, lease_until) only where the lease has run out,
 * so of two workers, on one server or two sharing the database, exactly
 * one gets it. Every later change of the row by the worker names the
 * owner: a worker whose lease expired and was taken over changes nothing.
 * `again` remembers that the job was enqueued while it ran, so that the
 * work asked for meanwhile is not lost when the run ends.
 */
#include "store/jobs.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/error.h"
#include "store/internal.h"
#include "store/locks.h"
#include "store/store.h"

void store_job_free(struct job *j)
{
    free(j->arg);
    free(j->last_error);
    j->arg = j->last_error = NULL;
}

int store_job_enqueue(const char *kind, const char *key, const char *arg, int64_t run_at, int64_t now)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO jobs(kind, key, arg, run_at, created_at) VALUES(?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(kind, key) DO UPDATE SET"
        "  arg = CASE WHEN excluded.arg <> '' THEN excluded.arg ELSE jobs.arg END,"
        "  again = CASE WHEN jobs.lease_until > ?5 THEN 1 ELSE jobs.again END,"
        "  run_at = CASE WHEN jobs.lease_until > ?5 OR jobs.failed <> 0 THEN excluded.run_at"
        "           WHEN jobs.run_at < excluded.run_at THEN jobs.run_at ELSE excluded.run_at END,"
        "  attempts = CASE WHEN jobs.failed <> 0 THEN 0 ELSE jobs.attempts END,"
        "  failed = 0");
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, key);
    db_bind_text(st, 3, arg ? arg : "");
    db_bind_int64(st, 4, run_at);
    db_bind_int64(st, 5, now);
    return db_done(st, "enqueue job");
}

int store_job_every(const char *kind, const char *key, int64_t period_ms, int64_t first, int64_t now)
{
    struct db_statement *st = db_stmt(
        "INSERT INTO jobs(kind, key, run_at, period_ms, created_at) VALUES(?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT(kind, key) DO UPDATE SET period_ms = excluded.period_ms,"
        "  run_at = CASE WHEN jobs.run_at < ?5 + excluded.period_ms THEN jobs.run_at ELSE ?5 + excluded.period_ms END,"
        "  failed = 0");
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, key);
    db_bind_int64(st, 3, first);
    db_bind_int64(st, 4, period_ms);
    db_bind_int64(st, 5, now);
    return db_done(st, "schedule job");
}

int store_job_cancel(const char *kind, const char *key)
{
    struct db_statement *st = db_stmt("DELETE FROM jobs WHERE kind = ?1 AND key = ?2");
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, key);
    int rc = db_done(st, "cancel job");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "no %s job for '%s'", kind, key);
    return rc;
}

static void job_from_row(struct db_statement *st, struct job *j)
{
    j->id = db_col_int64(st, 0);
    db_col_copy(j->kind, sizeof(j->kind), st, 1);
    db_col_copy(j->key, sizeof(j->key), st, 2);
    j->arg = xstrdup(db_col_text(st, 3));
    j->run_at = db_col_int64(st, 4);
    j->period_ms = db_col_int64(st, 5);
    j->attempts = db_col_int(st, 6);
    j->failed = db_col_int(st, 7) != 0;
    j->last_error = db_col_dup(st, 8);
    db_col_copy(j->owner, sizeof(j->owner), st, 9);
    j->lease_until = db_col_int64(st, 10);
}

int store_job_claim(const char *kind, const char *key, const char *owner, int64_t now, int64_t lease_until,
                    struct job *out)
{
    /* on PostgreSQL, servers claiming at the same time skip the row another one is taking */
    struct db_statement *st = db_stmt(DB_SQL(
        "UPDATE jobs SET owner = ?3, lease_until = ?5 WHERE id = ("
        " SELECT id FROM jobs WHERE (CAST(?1 AS TEXT) IS NULL OR kind = ?1) AND (CAST(?2 AS TEXT) IS NULL OR key = ?2)"
        "  AND failed = 0 AND run_at <= ?4 AND lease_until <= ?4 ORDER BY run_at LIMIT 1)"
        " RETURNING id, kind, key, arg, run_at, period_ms, attempts, failed, last_error, owner, lease_until",
        "UPDATE jobs SET owner = ?3, lease_until = ?5 WHERE id = ("
        " SELECT id FROM jobs WHERE (CAST(?1 AS TEXT) IS NULL OR kind = ?1) AND (CAST(?2 AS TEXT) IS NULL OR key = ?2)"
        "  AND failed = 0 AND run_at <= ?4 AND lease_until <= ?4 ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, kind, key, arg, run_at, period_ms, attempts, failed, last_error, owner, lease_until"));
    db_bind_text(st, 1, kind);
    db_bind_text(st, 2, key);
    db_bind_text(st, 3, owner);
    db_bind_int64(st, 4, now);
    db_bind_int64(st, 5, lease_until);
    int rc = db_row(st, "claim job");
    if (rc == 1) {
        job_from_row(st, out);
        /* the UPDATE is complete only when the statement is */
        int end = db_end(st, db_step(st), "claim job");
        if (end < 0) {
            store_job_free(out);
            return end;
        }
    }
    return rc;
}

int store_job_done(const struct job *j, int64_t next_run)
{
    /* the job's own row, named by its owner: no other writer need wait */
    int rc = store_begin_shared();
    if (rc < 0)
        return rc;
    struct db_statement *st;
    /* On PostgreSQL the row is locked first, so that the UPDATE and the
     * DELETE below each read it as the last enqueue left it. Unlocked, each
     * read it as of its own start: an enqueue that marked it again while
     * the UPDATE began was passed by, the DELETE waited for that enqueue
     * and then passed the row by too (no longer again = 0), and the job
     * stayed leased to this finished worker, its new work with it, until
     * the lease ran out. On SQLite this transaction is the only writer. */
    if (db_is_pg()) {
        int64_t n;
        st = db_stmt("SELECT count(*) FROM (SELECT id FROM jobs WHERE id = ?1 FOR UPDATE) AS j");
        db_bind_int64(st, 1, j->id);
        if ((rc = db_count(st, &n, "finish job")) < 0) {
            store_rollback();
            return rc;
        }
    }
    st = db_stmt(
        "UPDATE jobs SET owner = '', lease_until = 0, attempts = 0, last_error = NULL,"
        " run_at = CASE WHEN again <> 0 THEN run_at ELSE ?3 END, again = 0"
        " WHERE id = ?1 AND owner = ?2 AND (again <> 0 OR period_ms > 0)");
    db_bind_int64(st, 1, j->id);
    db_bind_text(st, 2, j->owner);
    db_bind_int64(st, 3, next_run);
    rc = db_done(st, "finish job");
    if (rc == 0) {
        st = db_stmt("DELETE FROM jobs WHERE id = ?1 AND owner = ?2 AND again = 0 AND period_ms = 0");
        db_bind_int64(st, 1, j->id);
        db_bind_text(st, 2, j->owner);
        rc = db_done(st, "finish job");
    }
    if (rc == 0)
        return store_commit();
    store_rollback();
    return rc;
}

int store_job_fail(const struct job *j, const char *message, int64_t retry_at, bool give_up)
{
    struct db_statement *st = db_stmt(
        "UPDATE jobs SET owner = '', lease_until = 0, attempts = attempts + 1, last_error = ?3,"
        " run_at = CASE WHEN again <> 0 AND run_at < ?4 THEN run_at ELSE ?4 END,"
        " failed = CASE WHEN ?5 <> 0 AND again = 0 THEN 1 ELSE 0 END, again = 0"
        " WHERE id = ?1 AND owner = ?2");
    db_bind_int64(st, 1, j->id);
    db_bind_text(st, 2, j->owner);
    db_bind_text(st, 3, message);
    db_bind_int64(st, 4, retry_at);
    db_bind_int64(st, 5, give_up);
    return db_done(st, "record job failure");
}

int store_jobs_release_all(int *freed_out)
{
    int rc = db_done(db_stmt("UPDATE jobs SET owner = '', lease_until = 0 WHERE lease_until > 0"), "free leases");
    *freed_out = rc == 0 ? (int)db_changes() : 0;
    return rc;
}

int store_job_extend(const struct job *j, int64_t lease_until)
{
    struct db_statement *st = db_stmt("UPDATE jobs SET lease_until = ?3 WHERE id = ?1 AND owner = ?2");
    db_bind_int64(st, 1, j->id);
    db_bind_text(st, 2, j->owner);
    db_bind_int64(st, 3, lease_until);
    int rc = db_done(st, "extend job lease");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "the lease of %s job '%s' was lost", j->kind, j->key);
    return rc;
}

int store_job_next(const char *kind, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT coalesce(min(CASE WHEN run_at > lease_until THEN run_at ELSE lease_until END), 0)"
                                      " FROM jobs WHERE kind = ?1 AND failed = 0");
    db_bind_text(st, 1, kind);
    return db_count(st, out, "next job");
}

int store_jobs_each(int (*fn)(void *ctx, const struct job *j), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT id, kind, key, arg, run_at, period_ms, attempts, failed, last_error, owner,"
                               " lease_until FROM jobs ORDER BY run_at, id");
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct job j;
        job_from_row(st, &j);
        int stop = fn(ctx, &j);
        store_job_free(&j);
        if (stop)
            break;
    }
    return db_end(st, rc, "list jobs");
}
