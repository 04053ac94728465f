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
