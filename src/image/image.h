/*
 * The image service: the one place where the rules about images live.
 *
 * Both protocol adapters (/v2 in registry/, the ECR control plane in ecr/)
 * and every background job (GC, lifecycle, scanning) put, reference and
 * delete images through these functions, which read and write through
 * store/ (metadata) and blob/ (bytes). They own:
 *
 *   - upload sessions: a record in the store (repository, start, last
 *     activity, parts) beside a file in the blob store; sessions nobody
 *     touched for the configured time are expired inside the server;
 *   - blob commit: verify, make durable, rename into place, then record
 *     and link in one transaction (a crash in between leaves only bytes
 *     without a record, which GC removes);
 *   - cross-repository mounts, as the account's BLOB_MOUNTING setting says;
 *   - image put: the manifest and everything it references, tag
 *     immutability and quotas, all checked inside the write's transaction
 *     so that no concurrent delete or GC can leave it pointing at nothing;
 *   - deletes: an image an index lists cannot go; a blob an image uses
 *     cannot be unlinked; the same rules whichever surface asks;
 *   - pull-time recording.
 *
 * Functions return 0 or a negative E_* code with the detail set; each
 * adapter turns the code into its own protocol's error.
 */
#ifndef BERTH_IMAGE_IMAGE_H
#define BERTH_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blobstore.h"
#include "core/digest.h"
#include "store/images_ext.h"
#include "store/store.h"

struct image_limits {
    int64_t max_images;       /* per repository; 0 = none */
    int64_t max_tags;         /* per image; 0 = none */
    uint64_t max_blob_bytes;  /* largest layer; 0 = none */
    int64_t max_parts;        /* ECR layer parts per upload; 0 = none */
    int64_t upload_expiry_ms; /* idle sessions older than this are removed; 0 = never */
    int64_t pull_flush_ms;    /* pull times wait in memory at most this long; 0 = the default */
    int64_t restore_delay_ms; /* a restore from the archive completes after this long */
    int64_t gc_delay_ms;      /* GC's review delay (blob/gc.h): HEAD checks restart reviews */
};

/* Sets the limits and starts the service's maintenance thread (session
 * expiry); image_service_stop() ends it. */
int image_service_start(const struct image_limits *l);
void image_service_stop(void);
const struct image_limits *image_limits(void);

/* ---- the caller's step in a write's transaction ----
 * A caller that must write something of its own with a write of the
 * service, committed or rolled back with it (the registry's audit record
 * of a /v2 write), sets a hook on its thread around the call. The write
 * (image_put, image_delete, image_untag, image_blob_unlink,
 * image_upload_commit, image_blob_mount) calls hook->fn in the transaction
 * that commits it, right before the commit (fn's failure rolls the write
 * back and fails it), and sets hook->committed once the commit succeeded.
 * Only a write that opens its own transaction calls it. NULL clears it;
 * the caller clears it before the hook goes out of scope. */
struct image_commit_hook {
    int (*fn)(void *ctx);
    void *ctx;
    bool committed;
};
void image_commit_hook_set(struct image_commit_hook *hook);

/* ---- upload sessions ---- */

/* Starts a session for repo: its file and its record. */
int image_upload_start(char id_out[37], const struct repo *repo);
/* Opens the session id of repo for writing. E_NOTFOUND when there is no
 * such session in repo; E_EXISTS while another request writes to it. */
int image_upload_open(struct upload *u, const struct repo *repo, const char *id);
/* Appends to an open session, enforcing the largest blob size. */
int image_upload_append(struct upload *u, const void *data, size_t n);
/* Records that a request wrote to the session: its last activity (kept to
 * a tenth of the expiry time, so not every request writes), and one more
 * ECR part when part is true. */
int image_upload_touch(const char *id, bool part);
int image_upload_parts(const char *id, int64_t *out);
/* Waits until every byte appended is in the file (the answer to a chunk
 * promises it). */
int image_upload_flush(struct upload *u);
/* After a failed or partial write: the session keeps what reached its
 * file, and the commit hashes the file again. */
void image_upload_forget(const char *id);
/* A scratch file for bytes that may later join a session (blobstore.h's
 * upload_spool); the caller closes it. */
int image_upload_spool(void);
/* Ends this request's hold on the open session (it stays for the next). */
void image_upload_close(struct upload *u);

/* Verifies the open session against digest, makes it a durable blob, and
 * links it to repo, ending the session. *linked_before (may be NULL) says
 * the repository had the blob already. On E_MISMATCH the session stays. */
int image_upload_commit(struct upload *u, const struct repo *repo, const char *digest, uint64_t *size_out,
                        bool *linked_before);
/* Removes the session (record and file). E_NOTFOUND when repo has none. */
int image_upload_cancel(const struct repo *repo, const char *id);
/* Bytes received so far by the session id of repo. */
int image_upload_size(const struct repo *repo, const char *id, uint64_t *out);

/* ---- blobs ---- */

/* Links the blob digest of src to dst without moving bytes: E_DENIED when
 * the account's BLOB_MOUNTING setting is DISABLED or the repositories'
 * encryption differs, E_NOTFOUND when src does not have the blob. The
 * caller has checked that its principal may read src. */
int image_blob_mount(const struct repo *dst, const struct repo *src, const char *digest);
/* Is cross-repository mounting on for the account (BLOB_MOUNTING)? */
int image_blob_mounting(const char *account_id, bool *out);
/* The value an account has before it sets BLOB_MOUNTING. */
#define IMAGE_BLOB_MOUNTING_DEFAULT "ENABLED"
/* Opens the bytes of a blob for serving; the caller owns *fd_out. */
int image_blob_open(const char *digest, int *fd_out, uint64_t *size_out);
/* Is the blob in repo (E_NOTFOUND when not), for a client that will refer
 * to it (HEAD, BatchCheckLayerAvailability)? When a GC review of the link
 * is pending it restarts it, so the answer "present" stays true for at
 * least nine tenths of the review delay (see blob/gc.c). That is a write,
 * which may wait for the repository's lock: unless may_wait, it returns
 * IMAGE_CHECK_WRITES instead, for the caller to call again where a wait
 * holds up no one (http_defer()). */
#define IMAGE_CHECK_WRITES 1
int image_blob_check(const struct repo *repo, const char *digest, bool may_wait, uint64_t *size_out);
/* Are the blob's bytes there (E_NOTFOUND when not)? */
int image_blob_present(const char *digest);
/* Are blobs in an object store, so that clients may download them from
 * there (image_blob_url)? */
bool image_blobs_remote(void);
/* A URL of the object store that serves the blob's bytes for expires
 * seconds. E_UNSUPPORTED when blobs are on the filesystem. */
int image_blob_url(char *out, size_t cap, const char *digest, int64_t expires);
/* The bytes [first, first+len) of a blob (len 0: all) for serving; *fd_out
 * holds exactly them from offset 0 when image_blobs_remote(), else the
 * whole blob (the caller seeks). */
int image_blob_open_range(const char *digest, uint64_t first, uint64_t len, int *fd_out, uint64_t *size_out);
/* Removes the blob from repo. E_CONFLICT while an image of repo uses it
 * (the detail names the image), E_NOTFOUND when repo does not have it. */
int image_blob_unlink(const struct repo *repo, const char *digest);

/* ---- putting images ---- */

enum image_failure {
    IMG_OK = 0,
    IMG_INVALID,          /* not a manifest we take (detail says why) */
    IMG_DIGEST_MISMATCH,  /* the digest asked for is not the content's */
    IMG_BLOB_UNKNOWN,     /* a config or layer is not in the repository */
    IMG_MANIFEST_UNKNOWN, /* a child manifest is not in the repository */
    IMG_TAG_IMMUTABLE,    /* the tag exists on another image and may not move */
    IMG_ALREADY_EXISTS,   /* the same manifest already carries this tag (ECR) */
    IMG_LIMIT,            /* images per repository or tags per image */
    IMG_INTERNAL,
};

struct image_put_result {
    enum image_failure failure;
    char digest[DIGEST_MAX];
    char missing[DIGEST_MAX]; /* the unknown blob or manifest */
    char subject[DIGEST_MAX]; /* "" when the manifest has none */
    const char *media_type;   /* canonical */
    bool created;             /* a new manifest (not only a tag) */
};

/* Stores body as an image of repo, tagged with tag (may be NULL).
 * expect_digest (may be NULL) must equal the content's digest; its
 * algorithm picks the hash. content_type may be NULL. Returns 0, or a
 * negative E_* with out->failure saying which failure and the detail set. */
int image_put(struct image_put_result *out, const struct repo *repo, const char *body, size_t n, const char *content_type,
              const char *tag, const char *expect_digest);

/* Is tag immutable in repo (mutability setting and exclusion filters)? */
bool image_tag_immutable(const struct repo *repo, const char *tag);

/* ---- deleting images ----
 * Each runs inside the caller's transaction when one is open (ECR's
 * BatchDeleteImage deletes a batch in one), otherwise in its own. */

/* Deletes the image digest with all its tags. E_CONFLICT while an index of
 * repo lists it (the detail names the indexes), E_NOTFOUND if absent. */
int image_delete(const struct repo *repo, const char *digest);
/* Removes tag. With delete_if_last, removing an image's last tag deletes
 * the image, as ECR does (E_CONFLICT if an index lists it; nothing is
 * removed then). digest_out (may be NULL) gets the image the tag named. */
int image_untag(const struct repo *repo, const char *tag, bool delete_if_last, char digest_out[DIGEST_MAX]);
/* Calls fn with each index of repo that lists digest. */
int image_parents(const struct repo *repo, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx);

/* ---- storage class: the archive ----
 * An image is ACTIVE, ARCHIVED or ACTIVATING (being restored). Archived and
 * activating images are listed and described but not pulled (a /v2
 * manifest GET answers 404, BatchGetImage a failure), as in ECR. Pushing
 * the same manifest again makes it ACTIVE at once. */

/* Moves an ACTIVE image to the archive. E_NOTFOUND when absent,
 * E_UNSUPPORTED when it is not ACTIVE, E_CONFLICT while an active index of
 * the repository lists it (the index would list a child that cannot be
 * pulled). Runs inside the caller's transaction when one is open. */
int image_archive(const struct repo *repo, const char *digest);
/* Starts restoring an ARCHIVED image: it is ACTIVATING until the
 * "image-restore" job completes it (limits.restore_delay_ms later). An
 * image already ACTIVATING stays so (0). E_UNSUPPORTED when it is ACTIVE,
 * E_NOTFOUND when absent. *status_out (may be NULL) gets its status. */
int image_restore(const struct repo *repo, const char *digest, enum image_status *status_out);
/* Completes a restore: ACTIVATING becomes ACTIVE with lastActivatedAt now.
 * 0 as well when the image is no longer ACTIVATING (deleted, or pushed
 * again meanwhile), so the job that calls it may run twice. */
int image_restore_finish(int64_t repo_id, const char *digest);
/* The "archive-move" job's work (with an archive dir): moves each blob of
 * the archived image that only archived images use to the archive dir.
 * Nothing when the image is no longer ARCHIVED; safe to run twice. */
int image_archive_move(int64_t repo_id, const char *digest);
/* 0 when the stored image m may be pulled; E_NOTFOUND (detail: why) when
 * it is archived or being restored. Reads nothing: the status comes with m. */
int image_pullable(const struct manifest *m);

/* ---- pulls ----
 * Pull times are kept in memory and written in batches by the service's
 * maintenance thread (every limits.pull_flush_ms, when the table fills,
 * and at image_service_stop()), so a pull never waits for a write. */

/* Records that principal_arn pulled the image of repo_id at now, unless
 * the registry (account_id) excludes the principal from pull times (read
 * through the store's cache at cache_gen, the request's principal's; 0:
 * from the database). */
void image_record_pull(int64_t repo_id, const char *digest, const char *account_id, const char *principal_arn,
                       uint64_t cache_gen);
/* The image's last recorded pull: stored_ms (the store's) or a later one
 * still waiting in memory; 0 when never pulled. */
int64_t image_pull_time(int64_t repo_id, const char *digest, int64_t stored_ms);
/* Writes the pull times waiting in memory now. */
int image_pull_times_flush(void);

/* Pull-time update exclusions of a registry: principals whose pulls leave
 * lastRecordedPullTime alone. Register: E_EXISTS when excluded already,
 * E_TOOBIG past IMAGE_PULL_EXCLUSIONS_MAX (ECR's list maximum); *created_out
 * gets its time. Deregister: E_NOTFOUND when not excluded. */
#define IMAGE_PULL_EXCLUSIONS_MAX 100
int image_pull_exclusion_register(const char *account_id, const char *principal_arn, int64_t *created_out);
int image_pull_exclusion_deregister(const char *account_id, const char *principal_arn);

#endif
