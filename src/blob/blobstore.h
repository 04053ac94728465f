/*
 * The filesystem blob store and upload sessions.
 *
 * Blobs live at <data>/blobs/<alg>/<first two hex>/<hex>, named by digest
 * and shared by every repository (deduplicated). An upload is a file at
 * <data>/uploads/<uuid>; committing it verifies the digest, fsyncs, and
 * renames it into place, so a crash leaves either no blob or a whole one.
 * Paths are built only from digests that passed digest_validate() and from
 * uuids this module generated: no name from the network becomes a path.
 *
 * The running hash of an upload is kept in memory between requests (a
 * bounded table); after a restart, or once evicted, the commit recomputes
 * it from the file.
 *
 * The blob store may instead be an S3-compatible object store
 * (blobstore_use() with an s3:// URL, implemented in s3store.c): the same
 * functions then keep blobs and sessions there, and blob_open() hands out
 * an unnamed scratch file with the blob's bytes. What needs a local disk
 * (upload_spool(), the commit guard's lock file) stays in the data
 * directory; the archive dir is refused with it.
 *
 * A large upload is hashed and written on threads of its own while the
 * request goes on receiving: between upload_append() calls the file may
 * lag behind offset and the hash belong to another thread. upload_flush(),
 * upload_close() and upload_commit() wait for both to catch up.
 */
#ifndef BERTH_BLOB_BLOBSTORE_H
#define BERTH_BLOB_BLOBSTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/digest.h"

int blobstore_open(const char *data_dir);
/* Where blobs go, after blobstore_open(): NULL, "" or "file:" + the
 * default: <data>/blobs; "file:DIR": DIR (sessions in DIR/uploads);
 * "s3://BUCKET[/PREFIX]?endpoint=...": an S3-compatible object store with
 * credentials from the environment (s3.h). */
int blobstore_use(const char *url);
/* On an s3:// store: the most memory the staging buffers of uploads being
 * written may take at once (s3store.c); past it a request gets E_BUSY. */
void blobstore_set_upload_memory(uint64_t bytes);
/* Is the blob store an object store (s3://)? */
bool blobstore_remote(void);
/* A URL that downloads the blob straight from the object store for
 * expires seconds (E_UNSUPPORTED on the filesystem store). */
int blob_presign(char *out, size_t cap, const char *digest, int64_t expires);
/* The bytes [first, first+len) of the blob (len 0: to its end) in an
 * unnamed scratch file, positioned at 0; *size_out is the blob's size. On
 * the filesystem store this is blob_open() (the caller seeks). */
int blob_open_range(const char *digest, uint64_t first, uint64_t len, int *fd_out, uint64_t *size_out);

/* E_NOTFOUND when the blob is not on disk. */
int blob_stat(const char *digest, uint64_t *size_out);
/* Opens the blob read-only; the caller owns *fd_out. */
int blob_open(const char *digest, int *fd_out, uint64_t *size_out);
/* Removes the blob from the store and from the archive dir. */
int blob_remove(const char *digest);

/*
 * The archive dir (--archive-dir): a second place for blobs, typically a
 * slower disk, where the blobs of archived images move. Blobs there are at
 * <dir>/<alg>/<first two hex>/<hex>. blob_stat() and blob_open() look in
 * the store first and then there; blob_collect() and blob_remove() remove
 * from both. A move copies, fsyncs and renames into the other place before
 * it removes the original, so after a crash the bytes are in one place or
 * in both (reads take the store's; the next move or GC tidies up).
 */
int blobstore_set_archive(const char *dir); /* NULL or "": none */
bool blobstore_has_archive(void);
#define BLOB_IN_STORE 1
#define BLOB_IN_ARCHIVE 2
/* Where the blob's file is: BLOB_IN_STORE | BLOB_IN_ARCHIVE, 0 for nowhere. */
int blob_where(const char *digest);
/* Moves the blob from the store to the archive dir unless still_wanted()
 * (asked under the commit guard, after the copy is made) says an active
 * image or a push needs it; then the archive copy goes instead. Returns 1
 * when moved, 0 when kept (or not in the store). */
int blob_archive_move(const char *digest, bool (*still_wanted)(void *ctx, const char *digest), void *ctx);
/* Moves the blob from the archive dir back into the store (nothing to do
 * when it is not there). */
int blob_archive_return(const char *digest);

struct hashpipe;
struct s3_session;

struct upload {
    char id[37];
    int fd;
    uint64_t offset;       /* bytes appended so far */
    struct hasher hash;    /* sha256 over [0, offset), after open and flush */
    struct hashpipe *pipe; /* hasher and writer threads, while a large append runs */
    uint64_t appended;     /* bytes appended through this struct */
    uint64_t flushed;      /* writeback started for [0, flushed) */
    char content_digest[DIGEST_MAX]; /* after E_MISMATCH from upload_commit: what the content is */
    struct s3_session *remote;       /* the session, on an s3 blob store (fd is then -1) */
};

/* Is u an open session (not yet closed, placed or failed to open)? */
static inline bool upload_is_open(const struct upload *u)
{
    return u->fd >= 0 || u->remote != NULL;
}

/* Creates a new upload session file and fills u (open for appending). */
int upload_begin(struct upload *u);
/* Opens an existing session. E_NOTFOUND when there is none; E_EXISTS when
 * another request is writing to it right now. Opening never reads the
 * file: without a saved hash state (after a restart) the commit hashes it. */
int upload_open(struct upload *u, const char *id);
/* Is a request writing to the session right now? */
bool upload_busy(const char *id);
int upload_append(struct upload *u, const void *data, size_t n);
/* Waits until every appended byte is in the file and in the hash. A write
 * that failed on the way is reported here (or by the next append, or the
 * commit); the session then ends where the file does. */
int upload_flush(struct upload *u);
/* Verifies the content against expected (any supported algorithm), makes it
 * durable and visible as a blob, and removes the session. The blob file's
 * mtime is the time of the commit (GC's grace for a file starts there). On
 * E_MISMATCH the session is kept so the client may retry. *size_out is the
 * blob's size. */
int upload_commit(struct upload *u, const char *expected, uint64_t *size_out);
/* upload_commit() in two steps, for callers with work in between:
 * upload_verify() checks the content against expected and makes the file
 * durable with its mtime set to now (E_MISMATCH: the session stays);
 * upload_place() then renames it into place as the blob, makes the rename
 * durable and ends the session. */
int upload_verify(struct upload *u, const char *expected);
int upload_place(struct upload *u, const char *expected, uint64_t *size_out);
/* Returns the session to the table of open sessions (keeps the hash state). */
void upload_close(struct upload *u);
/* An unnamed scratch file beside the sessions (a body spooled before it
 * may join one): gone when closed, or after a crash, never seen by the
 * sessions' scan. Returns the descriptor or a negative E_*. */
int upload_spool(void);
/* Removes the session file and any saved state. */
int upload_cancel(const char *id);
/* Size of an existing session's data so far. */
int upload_size(const char *id, uint64_t *size_out);
/* Drops a session's cached hash state (after a failed or partial write). */
void upload_forget(const char *id);

/*
 * The commit guard: whoever commits a blob holds it (shared) from before
 * upload_place() until the blob's record is written, and blob_collect()
 * takes it exclusively, so a collector (in this process or in `berth gc`)
 * never removes bytes whose record is on its way. Returns a descriptor to
 * pass to blob_guard_leave(), or a negative E_*. The lock file guards one
 * machine; servers sharing a PostgreSQL database also take the guard there
 * (store/guard.h), before this one.
 */
int blob_guard_enter(void);
void blob_guard_leave(int fd);

/*
 * Garbage collection of one blob's bytes, safe against a concurrent upload
 * of the same content: the file is first renamed aside, then removed only
 * if it is older than cutoff_ms and still_wanted() (asked after the rename)
 * says no record needs it; otherwise it is put back. Returns 1 when the
 * bytes were removed, 0 when they were kept.
 */
int blob_collect(const char *digest, int64_t cutoff_ms, bool (*still_wanted)(void *ctx, const char *digest), void *ctx);
/* Calls fn for every blob file on disk (its digest and modification time,
 * which is when it was committed). */
int blob_each(int (*fn)(void *ctx, const char *digest, int64_t mtime_ms), void *ctx);
/* blob_each() over the n (at most 256) fan-out directories from first
 * (mod 256): the files whose digest's hex begins with those two digits. */
int blob_each_prefix(unsigned first, unsigned n, int (*fn)(void *ctx, const char *digest, int64_t mtime_ms), void *ctx);
/* Calls fn for every upload session file on disk. On an s3 store both
 * walks list the bucket (blobs/ and uploads/<id>/state): GC's candidates
 * for its orphan sweep, each checked against the records before anything
 * is removed. */
int upload_each(int (*fn)(void *ctx, const char *id, int64_t mtime_ms), void *ctx);

#endif
