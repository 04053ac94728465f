/*
 * The store's side of the archive dir (blob/blobstore.h): which blobs an
 * archived image names, and whether a blob is needed by anything but
 * archived images. Conventions are store.h's.
 */
#ifndef BERTH_STORE_ARCHIVE_H
#define BERTH_STORE_ARCHIVE_H

#include <stdint.h>

/* Calls fn with every blob the manifest (repo_id, digest) names directly
 * (its config and layers); fn returns non-zero to stop. */
int store_manifest_blobs_each(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *blob), void *ctx);

/* Is the blob wanted in the main store? 1 when a manifest that is not
 * ARCHIVED references it in some repository, or a repository links it
 * with no manifest referencing it there (a push or mount on its way);
 * 0 when only archived images use it; E_NOTFOUND when it has no record. */
int store_blob_live(const char *digest);

#endif
