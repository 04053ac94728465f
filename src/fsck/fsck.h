/*
 * berth fsck: checks that the metadata and the bytes of a data directory
 * agree, while a server runs on it or not.
 *
 * The records are read in one read transaction (a consistent snapshot);
 * the files are then checked against the snapshot's records. A finding
 * about bytes can be the work of a server that moved on since the snapshot
 * (a GC that deleted the record and then the file, an upload that renamed
 * its file into place and then dropped its session), so each such finding
 * is checked again against fresh reads, and reported only if it persists.
 * Metadata that points at nothing is reported from the snapshot alone: a
 * committed state with a dangling reference is a problem whatever follows.
 * Files with no record are not problems (a commit in progress, or a crash
 * between rename and record, which berth gc cleans up). A link no manifest
 * uses, or a blob record no repository links, without a pending GC review
 * is one: GC would never free it (untracked-link, untracked-blob).
 */
#ifndef BERTH_FSCK_FSCK_H
#define BERTH_FSCK_FSCK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct fsck_options {
    bool verify_digests; /* hash every blob file, not only its size */
    FILE *out;           /* one line per problem, then the summary */
    const char *blob_store; /* --blob-store (NULL: the data directory's) */
};

struct fsck_report {
    int64_t repositories;
    int64_t manifests;
    int64_t references; /* blobs and child manifests named by manifests */
    int64_t tags;
    int64_t blobs;
    int64_t blob_bytes;
    int64_t uploads;
    int64_t archived_blobs; /* found in the archive dir (--archive-dir) */
    int64_t blobs_in_both;  /* in the store and in the archive dir */
    int64_t problems;
};

/* Checks data_dir. Returns 0 when the check ran to the end (out->problems
 * says what it found), a negative E_* with the detail set when it could not
 * (no database, a failed read). Opens the database read-only on the calling
 * thread. */
int fsck_run(struct fsck_report *out, const char *data_dir, const struct fsck_options *opt);

#endif
