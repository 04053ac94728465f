/*
 * The blob commit guard across servers: what keeps GC on one server from
 * deleting the bytes of a blob that a push on another server is committing.
 *
 * A commit places the blob's bytes under its digest (an S3 PUT or copy, a
 * rename on a filesystem) and only then writes its record; GC deletes the
 * record first and then, having found that no record wants the bytes,
 * deletes them. Between a commit's placement and its record, and between
 * GC's "no record" and its delete, the two must exclude each other. On one
 * machine blobstore.c's lock file does that (blob_guard_enter()); servers
 * that share a database and a bucket do not share a lock file, so there the
 * guard lives in the database they share:
 *
 *   - a PostgreSQL session advisory lock per digest (a 32-bit key from the
 *     digest's first hex digits, in a class of its own): a committer holds
 *     it shared from before the placement until its record is committed;
 *     GC takes it exclusively with pg_try_advisory_lock() around the last
 *     look at the records and the delete, and keeps the bytes when a commit
 *     holds it (the commit will record them, or leave them to the sweep);
 *   - a session lock outlives the transactions in between, and PostgreSQL
 *     releases it when the holder's connection ends, so a server that dies
 *     mid-commit leaves nothing to expire; the store reopens a lost
 *     connection by itself, which drops the lock: store_guard_check() notices
 *     (the connection's number changed) so that the committer fails rather
 *     than record bytes GC may have taken, and GC keeps the bytes.
 *
 * Why not a grace window (delete only objects older than some time): an
 * object's age comes from the object store's clock and a record's from a
 * server's, S3's Last-Modified of a multipart upload may be when it began,
 * and a slow commit (a copy of a 5 GiB blob, a stalled object store) can
 * outlast any window, so no window is safe without bounding a commit's
 * length. The lock needs no clock, costs a committer two statements, and,
 * being per digest, never makes a push wait for GC's work on other blobs.
 *
 * What remains: the database restarting after GC's last look at the
 * records and before its DELETE reaches the object store, with a whole
 * commit of the same digest on another server in that millisecond (GC does
 * not learn that its connection died until its next statement). `berth
 * fsck` reports such a blob (record without bytes).
 *
 * On SQLite (one machine) these calls do nothing: the lock file guards.
 */
#ifndef BERTH_STORE_GUARD_H
#define BERTH_STORE_GUARD_H

#include <stdbool.h>
#include <stdint.h>

struct store_guard {
    int64_t key;     /* the digest's lock key */
    unsigned conn;   /* db_connection() when taken; 0 when nothing is held */
    bool exclusive;
};

/* For a committer: waits until it holds digest's guard shared (other
 * commits of the digest share it; GC's delete of it excludes it). */
int store_guard_share(struct store_guard *out, const char *digest);
/* For a collector: 1 when it now holds digest's guard exclusively, 0 when
 * a commit holds it (leave the bytes), or an error. 1 on SQLite. */
int store_guard_try_exclusive(struct store_guard *out, const char *digest);
/* 0 while the guard is held; E_UNAVAILABLE when the connection that took
 * it was lost since (and the lock with it). A committer checks inside the
 * transaction that writes its record, before the COMMIT; a collector after
 * its last look at the records. */
int store_guard_check(const struct store_guard *g);
/* Releases the guard (nothing to do when its connection is gone). */
void store_guard_release(struct store_guard *g);

#endif
