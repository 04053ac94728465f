/*
 * This module implements online garbage collection (gc.h): passes over the
 * review queues the store keeps, a slow sweep for files with no record,
 * and the job that runs passes in the background.
 *
 * A pass, in order:
 *
 *   1. links: due link reviews are read in batches; each batch is one
 *      short write transaction in which store_gc_review_link() drops a
 *      link only if no manifest of its repository references it and both
 *      the link (linked_at) and its review (queued_at) are older than the
 *      delay. When that was the blob's last link, the blob's record goes
 *      in the same transaction; once it is committed, the bytes of each
 *      deleted record go through blob_collect().
 *   2. blobs: due blob reviews (the blobs of a deleted repository), the
 *      same way.
 *   3. the sweep: blob files older than the delay with no record (a crash
 *      between rename and record, or between GC's commit and its unlink)
 *      go through blob_collect(). Each file costs one read; no write
 *      transaction is held.
 *   4. upload session files with no record, and, when asked, sessions idle
 *      for longer than the upload grace.
 *
 * Why a push never loses a blob it is about to reference. A push makes
 * its manifest refer to blobs the repository links; image_put() checks
 * each link inside the transaction that inserts the references, and the
 * reviewer drops a link only inside a transaction that finds no reference,
 * so the two are ordered by the store's single writer: either the manifest
 * commits first (the link is referenced and stays) or the link goes first
 * (the manifest is refused as BLOB_UNKNOWN: never a manifest pointing at
 * nothing). What remains is not to drop a link a client was just told
 * about:
 *
 *   - upload: image_upload_commit() writes the link with linked_at = now
 *     (also when the repository had it), and a new link queues a review at
 *     that time; the reviewer wants linked_at older than the delay;
 *   - mount: image_blob_mount() checks the source link and writes the
 *     destination link (linked_at = now) in one transaction; a source link
 *     the reviewer dropped first makes the mount fail and the client
 *     uploads;
 *   - HEAD / BatchCheckLayerAvailability: image_blob_check() reads the
 *     link and its pending review; when the review is older than a tenth
 *     of the delay it restarts it at now and confirms the link in one
 *     transaction (if the reviewer won the race, the client hears 404 and
 *     uploads). So a client told "present" has at least nine tenths of the
 *     delay to put its manifest.
 *
 * Blob records depend only on links (a foreign key), and a blob's review
 * deletes the record only when no link exists, in its transaction. The
 * bytes need one more guard: an upload of the same content renames its
 * file into place before its record is written. The upload holds the
 * commit guard (blob_guard_enter(), shared) from before its rename until
 * its record and link are committed, and blob_collect() takes the guard
 * exclusively and re-reads the record after moving the file aside: it
 * sees the new record and puts the file back. (The sweep, which has no
 * record deletion of its own to go by, also spares files younger than
 * the delay.) A crash after GC's commit leaves bytes with no record, which
 * the sweep removes. Records are deleted before bytes, always: no record
 * ever names missing bytes.
 *
 * The lock file guards one machine. Servers that share a PostgreSQL
 * database and an object store also share the guard in the database
 * (store/guard.h): before blob_collect() GC takes the digest's guard
 * exclusively, without waiting; a commit of the same digest that holds it
 * (shared) is about to record the bytes, so GC leaves them (to the sweep,
 * should that commit fail). has_record() then runs on the connection that
 * holds the guard, and counts the bytes as wanted when that connection was
 * lost and reopened meanwhile (the guard went with it).
 */
#include "blob/gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blobstore.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "jobs/jobs.h"
#include "store/gc.h"
#include "store/guard.h"
#include "store/store.h"

/* Reviews per write transaction: each is a few primary-key lookups. */
#define BATCH 128
/* Orphan upload files younger than this stay whatever the delay (a
 * session's file is made just before its record). */
#define UPLOAD_FILE_GRACE_MS ((int64_t)10 * 60 * 1000)

struct item {
    int64_t repo_id;
    char digest[DIGEST_MAX];
    uint64_t size;
};

struct batch {
    struct item items[BATCH];
    size_t n;
};

static int add_link(void *ctx, int64_t repo_id, const char *digest)
{
    struct batch *b = ctx;
    b->items[b->n].repo_id = repo_id;
    snprintf(b->items[b->n].digest, DIGEST_MAX, "%s", digest);
    return ++b->n == BATCH;
}

static int add_blob(void *ctx, const char *digest)
{
    return add_link(ctx, 0, digest);
}

/* Does a record want the blob's bytes? Only a lookup that ran and found
 * nothing says no: when the store fails, the bytes stay. */
static bool has_record(void *ctx, const char *digest)
{
    uint64_t size;
    (void)ctx;
    int rc = store_blob_size(digest, &size);
    if (rc < 0 && rc != E_NOTFOUND)
        log_warn("gc: keeping '%s': %s", digest, error_message());
    return rc != E_NOTFOUND;
}

/* has_record(), under the guard g (the context): also wanted when the
 * lookup had to reopen the connection that held the guard. */
static bool guarded_record(void *ctx, const char *digest)
{
    if (has_record(NULL, digest))
        return true;
    if (store_guard_check(ctx) < 0) {
        log_warn("gc: keeping '%s': %s", digest, error_message());
        return true;
    }
    return false;
}

/* blob_collect() under the blob's guard across servers: 1 removed, 0 kept
 * (also when a commit of it holds the guard now). */
static int collect(const char *digest, int64_t cutoff_ms)
{
    struct store_guard g;
    int rc = store_guard_try_exclusive(&g, digest);
    if (rc <= 0) {
        if (rc == 0)
            log_debug("gc: keeping '%s' for now: a commit of it is under way", digest);
        return rc;
    }
    rc = blob_collect(digest, cutoff_ms, guarded_record, &g);
    store_guard_release(&g);
    return rc;
}

static bool stop_now(const struct gc_options *opt)
{
    return opt->keep_going && opt->keep_going(opt->ctx) != 0;
}

/* Reviews one item of a batch inside its transaction: a link (repo_id > 0)
 * and, when that dropped the blob's last link, the blob at once (its
 * review, queued by the trigger, goes in the same transaction: no second
 * write of the same pages); or a blob. Adds a deleted blob record to dead. */
static int review_item(struct gc_report *out, const struct item *it, int64_t cutoff, struct item *dead, size_t *ndead)
{
    uint64_t size = 0;
    int rc;
    if (it->repo_id) {
        if ((rc = store_gc_review_link(it->repo_id, it->digest, cutoff)) != 1)
            return rc;
        out->links_dropped++;
    }
    if ((rc = store_gc_review_blob(it->digest, &size)) == 1) {
        dead[*ndead] = *it;
        dead[(*ndead)++].size = size;
    }
    return rc < 0 ? rc : 0;
}

/* The due reviews of links (links true) or of blobs, a batch per short
 * transaction, each followed by the bytes of the blob records it deleted. */
static int review(struct gc_report *out, const struct gc_options *opt, int64_t cutoff, bool links)
{
    struct batch *b = xcalloc(1, sizeof(*b));
    struct item *dead = xcalloc(BATCH, sizeof(*dead));
    int rc = 0;
    for (;;) {
        size_t ndead = 0;
        int64_t dropped = out->links_dropped;
        b->n = 0;
        /* a blob's review is due at once: what protects a blob a client
         * was told about is its link (reviewed with the delay) */
        rc = links ? store_gc_due_links(cutoff, BATCH, add_link, b) : store_gc_due_blobs(INT64_MAX, BATCH, add_blob, b);
        if (rc < 0 || b->n == 0 || (rc = store_begin()) < 0)
            break;
        for (size_t i = 0; i < b->n && rc >= 0; i++)
            rc = review_item(out, &b->items[i], cutoff, dead, &ndead);
        if (rc < 0 || (rc = store_commit()) < 0) {
            store_rollback();
            out->links_dropped = dropped;
            break;
        }
        /* the records are gone (and on disk: synchronous=FULL); now the
         * bytes, whatever their age: an upload of the same content that
         * renamed its file into place since holds the commit guard until
         * its record is written, and blob_collect() reads the record again
         * under the guard */
        for (size_t i = 0; i < ndead; i++) {
            int r = collect(dead[i].digest, INT64_MAX);
            if (r < 0)
                log_warn("gc: %s", error_message());
            if (r == 1) {
                out->blobs_removed++;
                out->bytes_freed += (int64_t)dead[i].size;
            }
        }
        if (b->n < BATCH || stop_now(opt))
            break;
    }
    free(dead);
    free(b);
    return rc < 0 ? rc : 0;
}

struct orphan_walk {
    int64_t cutoff;
    struct gc_report *report;
    const struct gc_options *opt;
    unsigned seen;
};

static int orphan_blob(void *ctx, const char *digest, int64_t mtime_ms)
{
    struct orphan_walk *w = ctx;
    uint64_t size = 0;
    if ((++w->seen % 4096) == 0 && stop_now(w->opt))
        return 1;
    if (mtime_ms >= w->cutoff || has_record(NULL, digest))
        return 0;
    blob_stat(digest, &size);
    if (collect(digest, w->cutoff) == 1) {
        w->report->orphans_removed++;
        w->report->bytes_freed += (int64_t)size;
    }
    return 0;
}

static int orphan_upload(void *ctx, const char *id, int64_t mtime_ms)
{
    struct orphan_walk *w = ctx;
    if (mtime_ms >= w->cutoff || strlen(id) != 36)
        return 0;
    int rc = store_upload_exists(id);
    if (rc != E_NOTFOUND) {
        if (rc < 0)
            log_warn("gc: keeping upload '%s': %s", id, error_message());
        return 0;
    }
    if (upload_cancel(id) == 0)
        w->report->uploads_removed++;
    return 0;
}

struct id_list {
    char (*ids)[40];
    size_t n, cap;
};

static int add_id(void *ctx, const char *id)
{
    struct id_list *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = xrealloc(l->ids, l->cap * sizeof(*l->ids));
    }
    snprintf(l->ids[l->n++], sizeof(l->ids[0]), "%s", id);
    return 0;
}

static int expire_uploads(struct gc_report *out, int64_t cutoff)
{
    struct id_list l = {0};
    int rc = store_gc_uploads(cutoff, add_id, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (upload_cancel(l.ids[i]) == 0)
            out->uploads_removed++;
    free(l.ids);
    return rc;
}

static int gc_pass(struct gc_report *out, const struct gc_options *opt);

int gc_run(struct gc_report *out, const struct gc_options *opt)
{
    memset(out, 0, sizeof(*out));
    int rc = store_gc_lock();
    if (rc <= 0) {
        out->busy = rc == 0;
        return rc;
    }
    rc = gc_pass(out, opt);
    store_gc_unlock();
    return rc;
}

static int gc_pass(struct gc_report *out, const struct gc_options *opt)
{
    int64_t now = now_ms(), cutoff = now - opt->delay_ms;
    int rc;

    if ((rc = review(out, opt, cutoff, true)) < 0 || (rc = review(out, opt, cutoff, false)) < 0)
        return rc;
    if (opt->upload_grace_ms >= 0 && (rc = expire_uploads(out, now - opt->upload_grace_ms)) < 0)
        return rc;
    struct orphan_walk w = {cutoff, out, opt, 0};
    if (opt->sweep_count && !stop_now(opt))
        blob_each_prefix(opt->sweep_first, opt->sweep_count, orphan_blob, &w);
    int64_t file_grace = opt->upload_grace_ms >= 0             ? opt->upload_grace_ms
                         : opt->delay_ms > UPLOAD_FILE_GRACE_MS ? opt->delay_ms
                                                                : UPLOAD_FILE_GRACE_MS;
    w.cutoff = now - file_grace;
    if (!stop_now(opt))
        upload_each(orphan_upload, &w);
    return 0;
}

/* ---- the background job ---- */

/* Fan-out directories swept per background pass: all 256 in sixteen. */
#define SWEEP_PER_PASS 16

static int64_t job_delay_ms;
static unsigned job_sweep_next;

/* Between batches: stop when the server stops; keep the lease (a write,
 * so at most one every ten seconds). */
static _Thread_local int64_t job_extended_ms;

static int job_keep_going(void *ctx)
{
    const struct job *job = ctx;
    if (jobs_stopping())
        return 1;
    if (now_ms() - job_extended_ms > 10000 && jobs_extend(job) == 0)
        job_extended_ms = now_ms();
    return 0;
}

static int gc_job(const struct job *job, void *ctx)
{
    struct gc_report rep;
    (void)ctx;
    struct gc_options opt = {
        .delay_ms = job_delay_ms,
        .upload_grace_ms = -1,
        .sweep_first = __atomic_fetch_add(&job_sweep_next, SWEEP_PER_PASS, __ATOMIC_RELAXED) % 256,
        .sweep_count = SWEEP_PER_PASS,
        .keep_going = job_keep_going,
        .ctx = (void *)job,
    };
    job_extended_ms = now_ms();
    int rc = gc_run(&rep, &opt);
    if (rc < 0)
        return rc;
    if (rep.links_dropped || rep.blobs_removed || rep.orphans_removed || rep.uploads_removed)
        log_info("gc: %lld unused links dropped, %lld blobs and %lld orphan files removed (%lld bytes), %lld upload files",
                 (long long)rep.links_dropped, (long long)rep.blobs_removed, (long long)rep.orphans_removed,
                 (long long)rep.bytes_freed, (long long)rep.uploads_removed);
    return 0;
}

int gc_schedule(int64_t delay_ms, int64_t interval_ms)
{
    int rc;
    job_delay_ms = delay_ms;
    if ((rc = jobs_register("gc", gc_job, NULL)) < 0)
        return rc;
    return jobs_every("gc", "pass", interval_ms, 0);
}
