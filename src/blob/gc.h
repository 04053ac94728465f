/*
 * Garbage collection: what no manifest needs any more leaves the disk.
 *
 * A repository link that no manifest of the repository references is
 * dropped once it is older than the grace period (a push links its layers
 * before its manifest arrives); a blob no repository links is then deleted,
 * record first and bytes after (blob_collect() guards the bytes against an
 * upload of the same content racing the collector); files with no record
 * (left by a crash between rename and record) and abandoned upload sessions
 * go too. Safe to run while berth serves.
 *
 * Ages are commit times: a record's created_at or linked_at, a blob file's
 * mtime (upload_commit() sets it when it renames the file into place), so
 * a file whose record is still being written is never old. The record
 * deletions are committed (synchronous=FULL: on disk) before any byte is
 * unlinked; when GC cannot tell whether a record wants a file (the store
 * fails), the file stays. A crash after the commit leaves at worst files
 * with no record, which the next run's orphan walk removes.
 */
#ifndef BERTH_BLOB_GC_H
#define BERTH_BLOB_GC_H

#include <stdint.h>

struct gc_report {
    int64_t links_dropped;
    int64_t blobs_removed;
    int64_t bytes_freed;
    int64_t orphans_removed;
    int64_t uploads_removed;
};

/* grace_ms: how old an unreferenced link, blob or file must be to go;
 * upload_grace_ms: how old an upload session must be to be abandoned. */
int gc_run(struct gc_report *out, int64_t grace_ms, int64_t upload_grace_ms);

#endif
