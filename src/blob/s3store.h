/*
 * The S3 implementation of blobstore.h's blobs and upload sessions, for
 * blobstore.c to dispatch to when the blob store is an s3:// URL. Not for
 * use outside src/blob/.
 */
#ifndef BERTH_BLOB_S3STORE_H
#define BERTH_BLOB_S3STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "blob/blobstore.h"

int s3store_open(const char *url);
void s3store_close(void);

int s3store_blob_stat(const char *digest, uint64_t *size_out, int64_t *mtime_ms_out);
/* Downloads the blob into fd (a scratch file) at its current position. */
int s3store_blob_fetch(const char *digest, uint64_t first, uint64_t len, int fd, uint64_t *size_out);
int s3store_blob_remove(const char *digest);
/* The object store's blobs and sessions, for GC's sweep of what has no
 * record (blob_each_prefix(), upload_each()): listed, never trusted. */
int s3store_blob_each_prefix(unsigned first, unsigned n, int (*fn)(void *ctx, const char *digest, int64_t mtime_ms),
                             void *ctx);
int s3store_upload_each(int (*fn)(void *ctx, const char *id, int64_t mtime_ms), void *ctx);
int s3store_presign(char *out, size_t cap, const char *digest, int64_t expires);

/* The most memory sessions' staging buffers may take at once (default
 * 512 MiB); at least one buffer. */
void s3store_set_memory(uint64_t bytes);
bool s3store_upload_busy(const char *id);
int s3store_upload_begin(struct upload *u);
int s3store_upload_open(struct upload *u, const char *id);
int s3store_upload_append(struct upload *u, const void *data, size_t n);
int s3store_upload_flush(struct upload *u);
void s3store_upload_close(struct upload *u);
int s3store_upload_verify(struct upload *u, const char *expected);
int s3store_upload_place(struct upload *u, const char *expected, uint64_t *size_out);
int s3store_upload_cancel(const char *id);
int s3store_upload_size(const char *id, uint64_t *size_out);

/* The hash state of a session as text and back (exposed for unit tests). */
#define S3STORE_HASH_TEXT 240
void s3store_hash_save(char out[S3STORE_HASH_TEXT], const void *sha256_ctx);
int s3store_hash_load(void *sha256_ctx, const char *text);

#endif
