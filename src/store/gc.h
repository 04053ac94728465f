/*
 * The store's side of online garbage collection (blob/gc.c): the review
 * queues and the short transactions that act on them.
 *
 * Two queues, kept by triggers (migration 5 in store.c) inside the very
 * transaction that adds or drops a reference, whatever path does it:
 *
 *   - gc_link_reviews holds each repository link (repo_blobs) that no
 *     manifest of its repository references: queued when the link is made
 *     (a push links its layers before its manifest arrives) and when the
 *     last manifest that used it goes; removed when a manifest references
 *     it again or the link goes;
 *   - gc_blob_reviews holds each blob record that no repository links:
 *     queued when the last link goes; removed when a link is made.
 *
 * queued_at is when the reference went (or, for a link, when it was made
 * or last confirmed to a client by store_gc_link_touch()); a review is due
 * once that is older than the review delay. Every act re-checks, inside
 * its transaction, that the thing is still unreferenced and still old.
 */
#ifndef BERTH_STORE_GC_H
#define BERTH_STORE_GC_H

#include <stdbool.h>
#include <stdint.h>

/* Calls fn with up to limit link reviews queued before cutoff_ms, oldest
 * first. fn is called while the query runs: it must not use the store. */
int store_gc_due_links(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx);
/* Reviews one link, inside the caller's transaction: drops it when no
 * manifest of its repository references it and both the link and its
 * review are older than cutoff_ms (1: dropped; the trigger then queues the
 * blob's review if this was its last link); otherwise removes a review
 * that is no longer needed, or defers a young link's review to its
 * linked_at (0: kept). */
int store_gc_review_link(int64_t repo_id, const char *digest, int64_t cutoff_ms);

/* Calls fn with up to limit blob reviews queued before cutoff_ms (fn must
 * not use the store). */
int store_gc_due_blobs(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, const char *digest), void *ctx);
/* Reviews one blob record inside the caller's transaction: deletes it
 * when no repository links it (1, with *size_out), and ends its review
 * either way (0: kept, or no record). */
int store_gc_review_blob(const char *digest, uint64_t *size_out);

/* 0 with *size_out when repo links digest, E_NOTFOUND if not; *review_ms_out
 * is when the link's pending review was queued (0: none, a manifest uses
 * the link). One read. */
int store_gc_link_get(int64_t repo_id, const char *digest, uint64_t *size_out, int64_t *review_ms_out);
/* Inside the caller's transaction: restarts the link's pending review at
 * now_ms, then confirms the link is still there (E_NOTFOUND if not). */
int store_gc_link_touch(int64_t repo_id, const char *digest, int64_t now_ms);

/* Deletes upload sessions idle since before cutoff_ms, calling fn with
 * each id (fn must not use the store). */
int store_gc_uploads(int64_t cutoff_ms, int (*fn)(void *ctx, const char *id), void *ctx);

/* For fsck, inside a snapshot: calls fn with each link no manifest
 * references that has no review (repo_id > 0), and each blob record no
 * repository links that has no review (repo_id 0): GC would never look at
 * them again. */
int store_gc_untracked_each(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx);
/* Pending reviews (for reports and tests). */
int store_gc_pending(int64_t *links_out, int64_t *blobs_out);

/* GC runs on one server at a time: 1 when this thread now holds the lock
 * (on PostgreSQL a session advisory lock, released with the connection if
 * the server dies; SQLite's single machine needs none), 0 when another
 * server holds it, or an error. */
int store_gc_lock(void);
void store_gc_unlock(void);

#endif
