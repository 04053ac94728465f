/*
 * Online garbage collection: what no manifest needs leaves the disk, while
 * berth serves, with no read-only window.
 *
 * The store tracks references as they change (store/gc.h): a repository
 * link no manifest of its repository references, and a blob record no
 * repository links, are queued for review. A pass reviews what has waited
 * the review delay, each batch in a short transaction that re-checks it is
 * still unreferenced and not recently linked, uploaded, mounted or
 * HEAD-checked; then the bytes of deleted records go. A slow sweep of the
 * blob directories removes files that have no record (a crash between
 * rename and record). Passes run as the durable job "gc" (jobs/jobs.h), so
 * one server at a time runs one when several share a store; `berth gc`
 * runs one now, beside a running server.
 */
#ifndef BERTH_BLOB_GC_H
#define BERTH_BLOB_GC_H

#include <stdbool.h>
#include <stdint.h>

struct gc_report {
    int64_t links_dropped;   /* repository links no manifest used */
    int64_t blobs_removed;   /* blob records deleted, with their bytes */
    int64_t bytes_freed;     /* of blobs_removed and orphans_removed */
    int64_t orphans_removed; /* files that had no record */
    int64_t uploads_removed; /* upload sessions (records or files) */
    bool busy;               /* another server was collecting: nothing was done */
};

struct gc_options {
    int64_t delay_ms;        /* the review delay: how long an unreferenced thing waits */
    int64_t upload_grace_ms; /* >= 0: upload sessions idle this long go too (< 0: left to
                              * the image service's expiry) */
    unsigned sweep_first;    /* the orphan sweep covers these fan-out directories */
    unsigned sweep_count;    /* (256: all of them; 0: none) */
    /* called between batches (may be NULL): non-zero stops the pass */
    int (*keep_going)(void *ctx);
    void *ctx;
};

/* Runs one pass; *out says what it reclaimed. */
int gc_run(struct gc_report *out, const struct gc_options *opt);

/* Registers the job kind "gc" and makes sure a periodic pass runs every
 * interval_ms, with delay_ms as the review delay; a sixteenth of the blob
 * directories is swept per pass. Call before jobs_start(). */
int gc_schedule(int64_t delay_ms, int64_t interval_ms);

#endif
