/*
 * Shared between the files of the image service (src/image/), not part of
 * its interface (image.h).
 */
#ifndef BERTH_IMAGE_INTERNAL_H
#define BERTH_IMAGE_INTERNAL_H

#include <stdbool.h>

/* Wakes the maintenance thread now (pulls.c: the pull table is filling). */
void image_service_wake(void);

/* Opens a transaction unless the caller has one; *own says who ends it
 * (image_tx_end commits or rolls back only what image_tx_begin opened).
 * It is repo's (store/locks.h), or excludes every writer when repo is NULL. */
struct repo;
int image_tx_begin(bool *own, const struct repo *repo);
int image_tx_end(bool own, int rc);

/* The thread's commit hook (image_commit_hook_set), in the write's own
 * open transaction: runs its fn (0 without a hook), and after the commit
 * marks it committed. */
int image_hook_run(void);
void image_hook_committed(void);

/* Registers the restore job's handler (archive.c); image_service_start()
 * calls it before the job workers start. */
int image_archive_register_jobs(void);

/* After a manifest put committed (put.c): with an archive dir, queues an
 * "archive-return" job for each blob of the (now ACTIVE) image that is
 * only in the archive dir, e.g. a layer of an archived image that a new
 * push reused through its repository link. Until the job runs the blob is
 * served from the archive dir. */
struct parsed_manifest;
void image_archive_recall(const struct parsed_manifest *pm);

#endif
