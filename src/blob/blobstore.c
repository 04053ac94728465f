/*
 * This module implements the filesystem blob store and upload sessions of
 * blobstore.h.
 *
 * Once a request has appended PIPE_START bytes to an upload, the rest goes
 * through a pipe (struct hashpipe below): SHA-256 on one thread, the writes
 * and their writeback on another, while the request thread receives.
 * SHA-256 alone runs at about the speed of the disk, so doing the three one
 * after the other took twice as long as the slowest of them.
 *
 * On an s3:// blob store every function of blobstore.h that touches blobs
 * or sessions hands over to s3store.c; the filesystem code below is then
 * used only for the spool files and the commit guard's lock file.
 */
#include "blob/blobstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/s3store.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

static char *root;
/* where blob files and session files are: <root>/blobs and <root>/uploads,
 * or DIR and DIR/uploads for --blob-store file:DIR */
static char *blobs_dir;
static char *uploads_dir;
/* --blob-store s3://...: blobs and sessions are in the object store */
static bool remote;
/* --archive-dir, or NULL: a second place for blobs, looked in after root */
static char *archive_root;

/* Hash states of sessions between requests. A session is either in this
 * table (idle), checked out by exactly one request (busy), or unknown here
 * (after a restart: recomputed from its file on open). */
struct saved_state {
    char id[37];
    uint64_t offset;
    struct hasher hash;
    bool busy;
    bool stale; /* the request holding it lost track: do not keep its hash */
    struct saved_state *next;
};

/* The table is a small hash of chains; idle entries past STATES_MAX are
 * dropped (their hash is recomputed when the session is next committed),
 * so abandoned sessions cannot grow it without bound. */
#define STATE_BUCKETS 256
#define STATES_MAX 1024

static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static struct saved_state *state_buckets[STATE_BUCKETS];
static size_t n_states;

static struct saved_state **state_bucket(const char *id)
{
    unsigned h = 0;
    for (const char *p = id; *p; p++)
        h = h * 31 + (unsigned char)*p;
    return &state_buckets[h % STATE_BUCKETS];
}

/* The entry of id, or NULL. Called locked. */
static struct saved_state *state_find(const char *id)
{
    for (struct saved_state *s = *state_bucket(id); s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* Drops idle entries until the table is at half its bound. Called locked. */
static void states_trim(void)
{
    for (size_t b = 0; b < STATE_BUCKETS && n_states > STATES_MAX / 2; b++) {
        for (struct saved_state **pp = &state_buckets[b]; *pp && n_states > STATES_MAX / 2;) {
            struct saved_state *s = *pp;
            if (s->busy) {
                pp = &s->next;
                continue;
            }
            *pp = s->next;
            hasher_release(&s->hash);
            free(s);
            n_states--;
        }
    }
}

/* A new busy entry for id. Called locked. */
static struct saved_state *state_add(const char *id)
{
    if (n_states >= STATES_MAX)
        states_trim();
    struct saved_state *s = xcalloc(1, sizeof(*s));
    struct saved_state **bucket = state_bucket(id);
    memcpy(s->id, id, sizeof(s->id));
    s->busy = true;
    s->next = *bucket;
    *bucket = s;
    n_states++;
    return s;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return error_set(E_ERROR, "cannot create directory '%s': %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return error_set(E_ERROR, "cannot create directory '%s': %s", tmp, strerror(errno));
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return error_set(E_ERROR, "cannot open directory '%s': %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? 0 : error_set(E_ERROR, "cannot fsync directory '%s': %s", dir, strerror(errno));
}

int blobstore_open(const char *data_dir)
{
    char path[PATH_MAX];
    int rc;
    free(root);
    root = xstrdup(data_dir);
    snprintf(path, sizeof(path), "%s/blobs", root);
    free(blobs_dir);
    blobs_dir = xstrdup(path);
    if ((rc = mkdir_p(path)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/uploads", root);
    free(uploads_dir);
    uploads_dir = xstrdup(path);
    if (remote)
        s3store_close();
    remote = false;
    return mkdir_p(path);
}

int blobstore_use(const char *url)
{
    char path[PATH_MAX];
    int rc;
    if (!url || !url[0])
        return 0;
    if (strncmp(url, "s3://", 5) == 0) {
        if ((rc = s3store_open(url)) < 0)
            return rc;
        remote = true;
        return 0;
    }
    if (strncmp(url, "file:", 5) != 0 || url[5] == '\0')
        return error_set(E_INVALID, "blob store '%s' is neither file:DIR nor s3://BUCKET", url);
    snprintf(path, sizeof(path), "%s", url + 5);
    if ((rc = mkdir_p(path)) < 0)
        return rc;
    free(blobs_dir);
    blobs_dir = xstrdup(path);
    snprintf(path, sizeof(path), "%s/uploads", blobs_dir);
    free(uploads_dir);
    uploads_dir = xstrdup(path);
    return mkdir_p(path);
}

void blobstore_set_upload_memory(uint64_t bytes)
{
    s3store_set_memory(bytes);
}

bool blobstore_remote(void)
{
    return remote;
}

int blob_presign(char *out, size_t cap, const char *digest, int64_t expires)
{
    if (!remote)
        return error_set(E_UNSUPPORTED, "blobs on the filesystem have no presigned URLs");
    return s3store_presign(out, cap, digest, expires);
}

int blob_open_range(const char *digest, uint64_t first, uint64_t len, int *fd_out, uint64_t *size_out)
{
    if (!remote)
        return blob_open(digest, fd_out, size_out);
    int fd = upload_spool(), rc;
    if (fd < 0)
        return fd;
    if ((rc = s3store_blob_fetch(digest, first, len, fd, size_out)) < 0 || (rc = lseek(fd, 0, SEEK_SET) == 0 ? 0 : E_ERROR) < 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

/* <root>/blobs/sha256/ab/abcd... for a validated digest; dir_out gets the
 * containing directory when non-NULL. */
static int blob_path(char out[PATH_MAX], char *dir_out, const char *digest)
{
    int rc = digest_validate(slice_from(digest), NULL);
    if (rc < 0)
        return rc;
    const char *colon = strchr(digest, ':');
    int alg_len = (int)(colon - digest);
    const char *hex = colon + 1;
    snprintf(out, PATH_MAX, "%s/%.*s/%.2s/%s", blobs_dir, alg_len, digest, hex, hex);
    if (dir_out)
        snprintf(dir_out, PATH_MAX, "%s/%.*s/%.2s", blobs_dir, alg_len, digest, hex);
    return 0;
}

/* <archive>/sha256/ab/abcd...: E_NOTFOUND when there is no archive dir. */
static int archive_path(char out[PATH_MAX], char *dir_out, const char *digest)
{
    int rc = digest_validate(slice_from(digest), NULL);
    if (rc < 0)
        return rc;
    if (!archive_root)
        return error_set(E_NOTFOUND, "blob '%s' is not on disk", digest);
    const char *colon = strchr(digest, ':');
    int alg_len = (int)(colon - digest);
    const char *hex = colon + 1;
    snprintf(out, PATH_MAX, "%s/%.*s/%.2s/%s", archive_root, alg_len, digest, hex, hex);
    if (dir_out)
        snprintf(dir_out, PATH_MAX, "%s/%.*s/%.2s", archive_root, alg_len, digest, hex);
    return 0;
}

int blobstore_set_archive(const char *dir)
{
    free(archive_root);
    archive_root = NULL;
    if (!dir || !dir[0])
        return 0;
    if (remote)
        return error_set(E_INVALID, "--archive-dir cannot be used with an s3 blob store");
    archive_root = xstrdup(dir);
    return mkdir_p(archive_root);
}

bool blobstore_has_archive(void)
{
    return archive_root != NULL;
}

int blob_where(const char *digest)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = blob_path(path, NULL, digest), where = 0;
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_blob_stat(digest, NULL, NULL) == 0 ? BLOB_IN_STORE : 0;
    if (stat(path, &st) == 0)
        where |= BLOB_IN_STORE;
    if (archive_path(path, NULL, digest) == 0 && stat(path, &st) == 0)
        where |= BLOB_IN_ARCHIVE;
    return where;
}

static int upload_valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n != 36)
        return error_set(E_NOTFOUND, "upload '%.40s' is unknown", id);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return error_set(E_NOTFOUND, "upload '%.40s' is unknown", id);
    }
    return 0;
}

static void upload_path(char out[PATH_MAX], const char *id)
{
    snprintf(out, PATH_MAX, "%s/%s", uploads_dir, id);
}

int blob_stat(const char *digest, uint64_t *size_out)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_blob_stat(digest, size_out, NULL);
    if (stat(path, &st) != 0 && (archive_path(path, NULL, digest) < 0 || stat(path, &st) != 0))
        return error_set(E_NOTFOUND, "blob '%s' is not on disk", digest);
    if (size_out)
        *size_out = (uint64_t)st.st_size;
    return 0;
}

int blob_open(const char *digest, int *fd_out, uint64_t *size_out)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
    if (remote)
        return blob_open_range(digest, 0, 0, fd_out, size_out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    /* not in the store: it may have moved to the archive dir */
    if (fd < 0 && errno == ENOENT && archive_path(path, NULL, digest) == 0)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(errno == ENOENT ? E_NOTFOUND : E_ERROR, "cannot open blob '%s': %s", digest, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return error_set(E_ERROR, "cannot stat blob '%s': %s", digest, strerror(errno));
    }
    *fd_out = fd;
    *size_out = (uint64_t)st.st_size;
    return 0;
}

int blob_remove(const char *digest)
{
    char path[PATH_MAX];
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_blob_remove(digest);
    if (unlink(path) != 0 && errno != ENOENT)
        return error_set(E_ERROR, "cannot remove blob '%s': %s", digest, strerror(errno));
    if (archive_path(path, NULL, digest) == 0 && unlink(path) != 0 && errno != ENOENT)
        return error_set(E_ERROR, "cannot remove archived blob '%s': %s", digest, strerror(errno));
    return 0;
}

/* An upload goes through a pipe once this many bytes arrive in one request:
 * small blobs are not worth two threads. */
#define PIPE_START ((uint64_t)4 << 20)
#define PIPE_SLOT ((size_t)2 << 20)
#define PIPE_SLOTS 4u
/* The first CACHE_KEEP bytes of a blob stay in the page cache, where a pull
 * that follows a push finds them (reading back from the disk is far slower
 * than from memory); a pipe drops what it wrote past that once it is on the
 * disk, so a huge blob does not push everything else out of the cache. */
#define CACHE_KEEP ((uint64_t)64 << 20)
/* Uploads start writeback this often, so that the fsync at commit finds
 * little left to write. */
#define FLUSH_EVERY ((uint64_t)8 << 20)
/* A pipe's writer waits for the writeback of what it wrote more than this
 * far back (write-behind): the disk writes while the request receives, and
 * an upload never has more than this much waiting for the disk. */
#define WRITE_BEHIND ((uint64_t)32 << 20)
/* A pipe's syncer makes what was written back durable (fdatasync) each time
 * this much more is: a disk with a volatile cache (most virtual disks) then
 * flushes it while the upload goes on, not all of it in the commit's fsync.
 * O_DIRECT writes, used before, saved the copy into the page cache but went
 * to the disk one at a time and still left the commit a cache flush: 1 GiB
 * uploads ran at 540 MB/s on the benchmark's VM, and at 920 MB/s this way
 * (bench/README.md, "Uploads: write-behind"). */
#define SYNC_EVERY ((uint64_t)64 << 20)

/*
 * The pipe of one large upload. The request thread copies what it receives
 * into a ring of slots and publishes each full slot; a hasher thread feeds
 * the slots to SHA-256 and a writer thread writes them to the session file,
 * starting their writeback as it goes and waiting for it WRITE_BEHIND bytes
 * later; a syncer thread makes what was written back durable every
 * SYNC_EVERY bytes, so little is left for the fsync at commit. A slot is
 * refilled once the hasher and the writer are done with it, so memory stays
 * at PIPE_SLOTS slots whatever the size of the blob, and the page cache
 * holds at most WRITE_BEHIND of it past CACHE_KEEP.
 *
 * Slot i holds the file bytes [off[i], off[i] + len[i]). While a pipe runs,
 * the upload's hash belongs to the hasher thread and the file may lag
 * behind u->offset; hashpipe_stop() settles both.
 */
struct hashpipe {
    pthread_t hasher, writer, syncer;
    pthread_mutex_t lock;
    pthread_cond_t work;  /* to the hasher and the writer: a slot is published, or stop */
    pthread_cond_t space; /* to the request thread: a slot was hashed or written */
    pthread_cond_t written_back; /* to the syncer: synced moved, or stop */
    struct hasher *hash;
    int fd; /* the session file */
    char *mem;
    uint64_t off[PIPE_SLOTS];
    size_t len[PIPE_SLOTS];
    unsigned head, hashed, written; /* slots published, hashed, written */
    bool stop;
    bool syncing; /* the syncer runs */
    size_t fill;       /* request thread: bytes in the slot being filled */
    uint64_t next_off; /* request thread: file offset of the next byte */
    uint64_t flushed;  /* writer: writeback started for [0, flushed) */
    uint64_t synced;   /* writeback done for [0, synced) (the writer's; read by the syncer under the lock) */
    uint64_t durable;  /* syncer: fdatasync done for [0, durable) */
    uint64_t stored;   /* the file holds [0, stored) */
    int error;         /* errno of a failed write; nothing after it is written */
};

/* Pipes running now; past max_pipes, uploads are hashed and written inline
 * (more hasher threads than cores would only take turns). */
static unsigned pipes_running, max_pipes;

static char *slot_data(struct hashpipe *p, unsigned i)
{
    return p->mem + (size_t)i * PIPE_SLOT;
}

static void *hasher_main(void *arg)
{
    struct hashpipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->hashed == p->head && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->hashed == p->head)
            break;
        unsigned i = p->hashed % PIPE_SLOTS;
        pthread_mutex_unlock(&p->lock);
        hasher_update(p->hash, slot_data(p, i), p->len[i]);
        pthread_mutex_lock(&p->lock);
        p->hashed++;
        pthread_cond_signal(&p->space);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Returns 0 or an errno. */
static int pwrite_all(int fd, const char *data, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, data, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        data += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Writes slot i, starting the writeback of what was written every
 * FLUSH_EVERY bytes and waiting for the writeback of what lies WRITE_BEHIND
 * bytes back, which past CACHE_KEEP then leaves the page cache. Returns 0 or
 * an errno. */
static int write_slot(struct hashpipe *p, unsigned i)
{
    uint64_t off = p->off[i], end = off + p->len[i];
    int rc = pwrite_all(p->fd, slot_data(p, i), p->len[i], off);
    if (rc != 0 || end - p->flushed < FLUSH_EVERY)
        return rc;
    /* no waiting: this only starts the writeback */
    sync_file_range(p->fd, (off_t)p->flushed, (off_t)(end - p->flushed), SYNC_FILE_RANGE_WRITE);
    p->flushed = end;
    if (end - p->synced > WRITE_BEHIND) {
        uint64_t upto = end - WRITE_BEHIND;
        /* this only paces the writer: a write error is the commit's fsync's to report */
        sync_file_range(p->fd, (off_t)p->synced, (off_t)(upto - p->synced),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        if (upto > CACHE_KEEP) {
            uint64_t from = p->synced > CACHE_KEEP ? p->synced : CACHE_KEEP;
            posix_fadvise(p->fd, (off_t)from, (off_t)(upto - from), POSIX_FADV_DONTNEED);
        }
        pthread_mutex_lock(&p->lock);
        p->synced = upto;
        pthread_cond_signal(&p->written_back);
        pthread_mutex_unlock(&p->lock);
    }
    return 0;
}

/* Only early: the commit's fsync is what makes an upload durable, so a
 * failure here is left for it to report. */
static void *syncer_main(void *arg)
{
    struct hashpipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->synced - p->durable < SYNC_EVERY)
            pthread_cond_wait(&p->written_back, &p->lock);
        if (p->stop)
            break;
        uint64_t to = p->synced;
        pthread_mutex_unlock(&p->lock);
        fdatasync(p->fd);
        pthread_mutex_lock(&p->lock);
        p->durable = to;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void *writer_main(void *arg)
{
    struct hashpipe *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->written == p->head && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->written == p->head)
            break;
        unsigned i = p->written % PIPE_SLOTS;
        bool failed = p->error != 0;
        pthread_mutex_unlock(&p->lock);
        /* after a failure the slots are only passed over, so that the
         * request thread never waits for a writer that has given up */
        int rc = failed ? 0 : write_slot(p, i);
        pthread_mutex_lock(&p->lock);
        if (!failed && rc == 0)
            p->stored = p->off[i] + p->len[i];
        else if (!failed)
            p->error = rc;
        p->written++;
        pthread_cond_signal(&p->space);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void hashpipe_free(struct hashpipe *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->mem != MAP_FAILED)
        munmap(p->mem, PIPE_SLOTS * PIPE_SLOT);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->space);
    pthread_cond_destroy(&p->written_back);
    free(p);
    pthread_mutex_lock(&states_lock);
    pipes_running--;
    pthread_mutex_unlock(&states_lock);
}

/* Sends u's further appends through a pipe; false (and nothing changed)
 * when enough pipes run already or the resources cannot be had. */
static bool hashpipe_start(struct upload *u)
{
    char path[PATH_MAX];
    pthread_mutex_lock(&states_lock);
    if (max_pipes == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        max_pipes = n > 1 ? (unsigned)n : 1;
    }
    bool ok = pipes_running < max_pipes;
    if (ok)
        pipes_running++;
    pthread_mutex_unlock(&states_lock);
    if (!ok)
        return false;
    struct hashpipe *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->space, NULL);
    pthread_cond_init(&p->written_back, NULL);
    p->hash = &u->hash;
    p->next_off = p->stored = u->offset;
    p->flushed = p->synced = p->durable = u->flushed;
    upload_path(path, u->id);
    p->fd = open(path, O_WRONLY | O_CLOEXEC);
    p->mem = mmap(NULL, PIPE_SLOTS * PIPE_SLOT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p->fd < 0 || p->mem == MAP_FAILED || pthread_create(&p->hasher, NULL, hasher_main, p) != 0) {
        hashpipe_free(p);
        return false;
    }
    if (pthread_create(&p->writer, NULL, writer_main, p) != 0) {
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->hasher, NULL);
        hashpipe_free(p);
        return false;
    }
    /* without it the commit's fsync does all the flushing */
    p->syncing = pthread_create(&p->syncer, NULL, syncer_main, p) == 0;
    u->pipe = p;
    return true;
}

static void hashpipe_publish(struct hashpipe *p)
{
    pthread_mutex_lock(&p->lock);
    p->len[p->head % PIPE_SLOTS] = p->fill;
    p->head++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    p->fill = 0;
}

/* Copies data into the ring, waiting while every slot is in use. Returns an
 * errno once the writer has failed. */
static int hashpipe_feed(struct hashpipe *p, const char *data, size_t n)
{
    while (n) {
        unsigned i = p->head % PIPE_SLOTS;
        if (p->fill == 0) {
            pthread_mutex_lock(&p->lock);
            while (p->head - (p->hashed < p->written ? p->hashed : p->written) == PIPE_SLOTS)
                pthread_cond_wait(&p->space, &p->lock);
            int error = p->error;
            p->off[i] = p->next_off;
            pthread_mutex_unlock(&p->lock);
            if (error)
                return error;
        }
        size_t room = PIPE_SLOT - p->fill;
        size_t k = room < n ? room : n;
        memcpy(slot_data(p, i) + p->fill, data, k);
        p->fill += k;
        p->next_off += k;
        data += k;
        n -= k;
        if (k == room)
            hashpipe_publish(p);
    }
    return 0;
}

/* Waits until everything fed is hashed and written and ends the threads:
 * u->hash is u's own again and the file holds [0, u->offset). When a write
 * failed, the file is cut back to what was written, u->offset with it, and
 * the hash (which ran ahead) is dropped. */
static int hashpipe_stop(struct upload *u)
{
    struct hashpipe *p = u->pipe;
    int rc = 0;
    if (!p)
        return 0;
    if (p->fill)
        hashpipe_publish(p);
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_signal(&p->written_back);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->hasher, NULL);
    pthread_join(p->writer, NULL);
    if (p->syncing)
        pthread_join(p->syncer, NULL);
    if (p->error) {
        if (ftruncate(p->fd, (off_t)p->stored) != 0) {
            /* the next open takes the file as it is and hashes it again */
        }
        u->offset = p->stored;
        hasher_release(&u->hash);
        rc = error_set(E_ERROR, "cannot write upload '%s': %s", u->id, strerror(p->error));
    }
    u->pipe = NULL;
    hashpipe_free(p);
    return rc;
}

int upload_begin(struct upload *u)
{
    char path[PATH_MAX];
    if (remote)
        return s3store_upload_begin(u);
    memset(u, 0, sizeof(*u));
    uuid_v4(u->id);
    upload_path(path, u->id);
    /* O_APPEND: a pipe writes through descriptors of its own */
    u->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0)
        return error_set(E_ERROR, "cannot create upload file: %s", strerror(errno));
    hasher_init(&u->hash, DIGEST_SHA256);
    pthread_mutex_lock(&states_lock);
    state_add(u->id);
    pthread_mutex_unlock(&states_lock);
    return 0;
}

int upload_open(struct upload *u, const char *id)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = upload_valid_id(id);
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_upload_open(u, id);
    memset(u, 0, sizeof(*u));
    memcpy(u->id, id, 37);
    upload_path(path, id);
    u->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (u->fd < 0)
        return error_set(E_NOTFOUND, "upload '%s' is unknown", id);
    if (fstat(u->fd, &st) != 0) {
        close(u->fd);
        return error_set(E_ERROR, "cannot stat upload '%s'", id);
    }
    u->offset = (uint64_t)st.st_size;
    u->flushed = u->offset;

    pthread_mutex_lock(&states_lock);
    struct saved_state *s = state_find(id);
    if (s && s->busy) {
        pthread_mutex_unlock(&states_lock);
        close(u->fd);
        return error_set(E_EXISTS, "upload '%s' is being written by another request", id);
    }
    if (!s)
        s = state_add(id);
    s->busy = true;
    if (s->hash.ctx && s->offset == u->offset) {
        u->hash = s->hash;
        s->hash.ctx = NULL;
    } else {
        /* no saved state (a restart, a failed write): the bytes are
         * written without hashing and the commit hashes the file, on
         * whatever thread commits, not on this one */
        hasher_release(&s->hash);
    }
    pthread_mutex_unlock(&states_lock);
    return 0;
}

bool upload_busy(const char *id)
{
    if (remote)
        return s3store_upload_busy(id);
    pthread_mutex_lock(&states_lock);
    struct saved_state *s = state_find(id);
    bool busy = s && s->busy;
    pthread_mutex_unlock(&states_lock);
    return busy;
}

int upload_append(struct upload *u, const void *data, size_t n)
{
    const char *p = data;
    size_t left = n;
    int rc;
    if (u->remote)
        return s3store_upload_append(u, data, n);
    if (!u->pipe && u->appended + n > PIPE_START && u->hash.ctx)
        hashpipe_start(u);
    if (u->pipe) {
        if ((rc = hashpipe_feed(u->pipe, data, n)) != 0)
            return error_set(E_ERROR, "cannot write upload '%s': %s", u->id, strerror(rc));
        u->offset += n;
        u->appended += n;
        return 0;
    }
    while (left) {
        ssize_t w = write(u->fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return error_set(E_ERROR, "cannot write upload '%s': %s", u->id, strerror(errno));
        }
        p += w;
        left -= (size_t)w;
    }
    if (u->hash.ctx)
        hasher_update(&u->hash, data, n);
    u->offset += n;
    u->appended += n;
    if (u->offset - u->flushed >= FLUSH_EVERY) {
        /* no waiting: this only starts the writeback */
        sync_file_range(u->fd, (off_t)u->flushed, (off_t)(u->offset - u->flushed), SYNC_FILE_RANGE_WRITE);
        u->flushed = u->offset;
    }
    return 0;
}

int upload_flush(struct upload *u)
{
    if (u->remote)
        return s3store_upload_flush(u);
    return hashpipe_stop(u);
}

static void state_drop(const char *id)
{
    pthread_mutex_lock(&states_lock);
    for (struct saved_state **pp = state_bucket(id); *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct saved_state *s = *pp;
            *pp = s->next;
            hasher_release(&s->hash);
            free(s);
            n_states--;
            break;
        }
    }
    pthread_mutex_unlock(&states_lock);
}

void upload_close(struct upload *u)
{
    if (u->remote) {
        s3store_upload_close(u);
        return;
    }
    /* a write that failed in the pipe has cut the file and dropped the
     * hash: the state saved below makes the next open hash the file again */
    hashpipe_stop(u);
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    pthread_mutex_lock(&states_lock);
    struct saved_state *s = state_find(u->id);
    if (s) {
        hasher_release(&s->hash);
        if (!s->stale) {
            s->hash = u->hash;
            s->offset = u->offset;
            u->hash.ctx = NULL;
        }
        s->busy = false;
        s->stale = false;
    }
    pthread_mutex_unlock(&states_lock);
    hasher_release(&u->hash);
}

void upload_forget(const char *id)
{
    /* an s3 session is read from the object store at every open */
    if (remote)
        return;
    /* keep the entry (and its busy mark) but not the hash: the next open
     * recomputes it from the file */
    pthread_mutex_lock(&states_lock);
    struct saved_state *s = state_find(id);
    if (s) {
        hasher_release(&s->hash);
        s->stale = s->busy;
    }
    pthread_mutex_unlock(&states_lock);
}

int upload_verify(struct upload *u, const char *expected)
{
    char got[DIGEST_MAX], src[PATH_MAX];
    enum digest_alg alg;
    if (u->remote)
        return s3store_upload_verify(u, expected);
    int rc = digest_validate(slice_from(expected), &alg);
    if (rc < 0 || (rc = hashpipe_stop(u)) < 0)
        return rc;
    u->content_digest[0] = '\0';
    if (alg != DIGEST_SHA256 || !u->hash.ctx) {
        /* the running hash is sha256 and there is none after a restart;
         * other algorithms are rare: hash the file again */
        struct hasher h;
        char *b = xmalloc(1 << 20);
        upload_path(src, u->id);
        int fd = open(src, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            free(b);
            return error_set(E_ERROR, "cannot reopen upload '%s'", u->id);
        }
        hasher_init(&h, alg);
        ssize_t n;
        while ((n = read(fd, b, 1 << 20)) > 0)
            hasher_update(&h, b, (size_t)n);
        close(fd);
        free(b);
        hasher_final(&h, got);
    } else {
        /* finalising consumes the context: keep a copy for a retry */
        struct hasher copy;
        hasher_init(&copy, DIGEST_SHA256);
        hasher_copy(&copy, &u->hash);
        hasher_final(&copy, got);
    }
    if (strcmp(got, expected) != 0) {
        snprintf(u->content_digest, sizeof(u->content_digest), "%s", got);
        return error_set(E_MISMATCH, "digest mismatch: content is '%s', not '%s'", got, expected);
    }

    /* the file's mtime says when its last bytes arrived, which may be long
     * ago; GC measures a blob file's grace from its mtime (a file with no
     * record yet is only old enough to collect once the grace has passed),
     * so from here on it must say when the blob was committed */
    if (futimens(u->fd, NULL) != 0)
        return error_set(E_ERROR, "cannot touch upload '%s': %s", u->id, strerror(errno));
    if (fsync(u->fd) != 0)
        return error_set(E_ERROR, "cannot fsync upload '%s': %s", u->id, strerror(errno));
    return 0;
}

int upload_place(struct upload *u, const char *expected, uint64_t *size_out)
{
    char src[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
    int rc;
    if (u->remote)
        return s3store_upload_place(u, expected, size_out);
    if ((rc = blob_path(dst, dir, expected)) < 0 || (rc = mkdir_p(dir)) < 0)
        return rc;
    upload_path(src, u->id);
    if (rename(src, dst) != 0)
        return error_set(E_ERROR, "cannot move upload '%s' into place: %s", u->id, strerror(errno));
    if ((rc = fsync_dir(dir)) < 0)
        return rc;
    *size_out = u->offset;
    close(u->fd);
    u->fd = -1;
    hasher_release(&u->hash);
    state_drop(u->id);
    return 0;
}

int upload_commit(struct upload *u, const char *expected, uint64_t *size_out)
{
    int rc = upload_verify(u, expected);
    return rc < 0 ? rc : upload_place(u, expected, size_out);
}

int upload_spool(void)
{
    char dir[PATH_MAX], tmpl[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s", uploads_dir);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* a filesystem without O_TMPFILE: a hidden name, unlinked at once */
    snprintf(tmpl, sizeof(tmpl), "%s/.part-XXXXXX", dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0)
        return error_set(E_ERROR, "cannot create a spool file in '%s': %s", dir, strerror(errno));
    unlink(tmpl);
    return fd;
}

int upload_cancel(const char *id)
{
    char path[PATH_MAX];
    int rc = upload_valid_id(id);
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_upload_cancel(id);
    upload_path(path, id);
    state_drop(id);
    if (unlink(path) != 0 && errno != ENOENT)
        return error_set(E_ERROR, "cannot remove upload '%s': %s", id, strerror(errno));
    return 0;
}

int upload_size(const char *id, uint64_t *size_out)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = upload_valid_id(id);
    if (rc < 0)
        return rc;
    if (remote)
        return s3store_upload_size(id, size_out);
    upload_path(path, id);
    if (stat(path, &st) != 0)
        return error_set(E_NOTFOUND, "upload '%s' is unknown", id);
    *size_out = (uint64_t)st.st_size;
    return 0;
}

/* ---- garbage collection ---- */

/* The guard is a lock file: committers share it, the collector takes it
 * alone for each blob it removes. A descriptor of its own per holder, as
 * flock() locks belong to the open file, not the thread. */
static int guard_open(int how)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/.commit-guard", blobs_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set(E_ERROR, "cannot open '%s': %s", path, strerror(errno));
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            close(fd);
            return error_set(E_ERROR, "cannot lock '%s': %s", path, strerror(errno));
        }
    }
    return fd;
}

int blob_guard_enter(void)
{
    return guard_open(LOCK_SH);
}

void blob_guard_leave(int fd)
{
    if (fd >= 0)
        close(fd); /* and with it the lock */
}

static int collect_locked(const char *path, const char *digest, int64_t cutoff_ms,
                          bool (*still_wanted)(void *ctx, const char *digest), void *ctx);

/* blob_collect() on the object store, under the guard: no rename there,
 * so the object's age and the records decide before the one DELETE. */
static int collect_remote(const char *digest, int64_t cutoff_ms, bool (*still_wanted)(void *ctx, const char *digest), void *ctx)
{
    int64_t mtime = 0;
    int rc = s3store_blob_stat(digest, NULL, &mtime);
    if (rc == E_NOTFOUND)
        return 0;
    if (rc < 0)
        return rc;
    if (mtime >= cutoff_ms || still_wanted(ctx, digest))
        return 0;
    return (rc = s3store_blob_remove(digest)) < 0 ? rc : 1;
}

int blob_collect(const char *digest, int64_t cutoff_ms, bool (*still_wanted)(void *ctx, const char *digest), void *ctx)
{
    char path[PATH_MAX];
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
    int guard = guard_open(LOCK_EX);
    if (guard < 0)
        return guard;
    if (remote) {
        rc = collect_remote(digest, cutoff_ms, still_wanted, ctx);
        blob_guard_leave(guard);
        return rc;
    }
    rc = collect_locked(path, digest, cutoff_ms, still_wanted, ctx);
    /* the same for a copy in the archive dir (one there and none here, or
     * both during a move) */
    if (rc >= 0 && archive_path(path, NULL, digest) == 0) {
        int r = collect_locked(path, digest, cutoff_ms, still_wanted, ctx);
        rc = r < 0 ? r : rc | r;
    }
    blob_guard_leave(guard);
    return rc;
}

static int collect_locked(const char *path, const char *digest, int64_t cutoff_ms,
                          bool (*still_wanted)(void *ctx, const char *digest), void *ctx)
{
    char aside[PATH_MAX + 8];
    struct stat st;
    snprintf(aside, sizeof(aside), "%s.gc", path);
    if (rename(path, aside) != 0)
        return errno == ENOENT ? 0 : error_set(E_ERROR, "cannot move blob '%s' aside: %s", digest, strerror(errno));
    /* an upload that renamed the same content into place just now left a
     * young file, or a record that wants it: put it back */
    bool young = stat(aside, &st) != 0 || (int64_t)st.st_mtime * 1000 >= cutoff_ms;
    if (young || still_wanted(ctx, digest)) {
        if (link(aside, path) != 0 && errno != EEXIST)
            return error_set(E_ERROR, "cannot put blob '%s' back: %s", digest, strerror(errno));
        unlink(aside);
        return 0;
    }
    if (unlink(aside) != 0)
        return error_set(E_ERROR, "cannot remove blob '%s': %s", digest, strerror(errno));
    return 1;
}

/* ---- the archive dir ---- */

/* Copies the file at src to dst through a hidden temporary file beside
 * dst: written, given src's mtime (GC's grace goes by it), fsynced, renamed
 * into place, and the rename made durable. A crash leaves at most the
 * temporary file, which no walk takes for a blob. E_NOTFOUND when src is
 * gone. */
static int copy_durably(const char *src, const char *dst, const char *dst_dir, const char *digest)
{
    char tmp[PATH_MAX + 16];
    struct stat st;
    int in = -1, out = -1, rc = 0;
    char *b = NULL;
    uint64_t off = 0;
    if ((rc = mkdir_p(dst_dir)) < 0)
        return rc;
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return error_set(errno == ENOENT ? E_NOTFOUND : E_ERROR, "cannot open blob '%s': %s", digest, strerror(errno));
    snprintf(tmp, sizeof(tmp), "%s/.mv-XXXXXX", dst_dir);
    out = mkostemp(tmp, O_CLOEXEC);
    if (out < 0) {
        rc = error_set(E_ERROR, "cannot create a file in '%s': %s", dst_dir, strerror(errno));
        goto done;
    }
    b = xmalloc(1 << 20);
    for (;;) {
        ssize_t n = read(in, b, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = error_set(E_ERROR, "cannot read blob '%s': %s", digest, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        int w = pwrite_all(out, b, (size_t)n, off);
        if (w != 0) {
            rc = error_set(E_ERROR, "cannot copy blob '%s': %s", digest, strerror(w));
            goto done;
        }
        off += (uint64_t)n;
    }
    if (fstat(in, &st) == 0) {
        struct timespec times[2] = {st.st_atim, st.st_mtim};
        futimens(out, times);
    }
    if (fsync(out) != 0) {
        rc = error_set(E_ERROR, "cannot fsync a copy of blob '%s': %s", digest, strerror(errno));
        goto done;
    }
    if (rename(tmp, dst) != 0) {
        rc = error_set(E_ERROR, "cannot move a copy of blob '%s' into place: %s", digest, strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    rc = fsync_dir(dst_dir);
done:
    if (tmp[0] && out >= 0)
        unlink(tmp);
    if (out >= 0)
        close(out);
    close(in);
    free(b);
    return rc;
}

/* Removes the copy at path once the other copy (at other) exists; under
 * the guard, so that two moves the opposite way cannot each remove the
 * copy the other relies on. Returns 1 removed, 0 kept. */
static int drop_copy_locked(const char *path, const char *dir, const char *other, const char *digest)
{
    struct stat st;
    if (stat(other, &st) != 0)
        return 0;
    if (unlink(path) != 0)
        return errno == ENOENT ? 0 : error_set(E_ERROR, "cannot remove blob '%s': %s", digest, strerror(errno));
    fsync_dir(dir);
    return 1;
}

int blob_archive_move(const char *digest, bool (*still_wanted)(void *ctx, const char *digest), void *ctx)
{
    char path[PATH_MAX], dir[PATH_MAX], apath[PATH_MAX], adir[PATH_MAX];
    struct stat st;
    int rc;
    if ((rc = blob_path(path, dir, digest)) < 0 || (rc = archive_path(apath, adir, digest)) < 0)
        return rc;
    if (stat(apath, &st) != 0) {
        /* the copy is made outside the guard: pushes wait only for the
         * decision below, not for the bytes */
        rc = copy_durably(path, apath, adir, digest);
        if (rc == E_NOTFOUND)
            return 0; /* collected, or moved by another worker */
        if (rc < 0)
            return rc;
    }
    int guard = guard_open(LOCK_EX);
    if (guard < 0)
        return guard;
    /* asked under the guard: a commit of the same content holds it shared
     * until its record is written, and that record makes it wanted */
    if (still_wanted(ctx, digest)) {
        int r = drop_copy_locked(apath, adir, path, digest);
        rc = r < 0 ? r : 0;
    } else {
        rc = drop_copy_locked(path, dir, apath, digest);
    }
    blob_guard_leave(guard);
    return rc;
}

int blob_archive_return(const char *digest)
{
    char path[PATH_MAX], dir[PATH_MAX], apath[PATH_MAX], adir[PATH_MAX];
    struct stat st;
    int rc;
    if ((rc = blob_path(path, dir, digest)) < 0)
        return rc;
    if (archive_path(apath, adir, digest) < 0)
        return 0; /* no archive dir: nothing is ever there */
    if (stat(path, &st) != 0) {
        rc = copy_durably(apath, path, dir, digest);
        if (rc == E_NOTFOUND)
            return 0; /* not archived (or collected) */
        if (rc < 0)
            return rc;
    }
    int guard = guard_open(LOCK_EX);
    if (guard < 0)
        return guard;
    rc = drop_copy_locked(apath, adir, path, digest);
    blob_guard_leave(guard);
    return rc < 0 ? rc : 0;
}

static int walk_dir(const char *dir, int (*fn)(void *ctx, const char *name, int64_t mtime_ms), void *ctx)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char p[PATH_MAX + 256];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (fn(ctx, e->d_name, (int64_t)st.st_mtime * 1000))
            break;
    }
    closedir(d);
    return 0;
}

struct blob_walk {
    const char *alg;
    int (*fn)(void *ctx, const char *digest, int64_t mtime_ms);
    void *ctx;
};

static int blob_walk_file(void *ctx, const char *name, int64_t mtime_ms)
{
    struct blob_walk *w = ctx;
    char digest[DIGEST_MAX + 16];
    snprintf(digest, sizeof(digest), "%s:%s", w->alg, name);
    /* only names that are digests: a stray or half-collected file is not a blob */
    if (digest_validate(slice_from(digest), NULL) < 0)
        return 0;
    return w->fn(w->ctx, digest, mtime_ms);
}

int blob_each(int (*fn)(void *ctx, const char *digest, int64_t mtime_ms), void *ctx)
{
    return blob_each_prefix(0, 256, fn, ctx);
}

int blob_each_prefix(unsigned first, unsigned n, int (*fn)(void *ctx, const char *digest, int64_t mtime_ms), void *ctx)
{
    static const char *const algs[] = {"sha256", "sha512"};
    /* listed for candidates only: blob_collect() decides from the records */
    if (remote)
        return s3store_blob_each_prefix(first, n, fn, ctx);
    for (size_t a = 0; a < 2; a++) {
        for (unsigned k = 0; k < n && k < 256; k++) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s/%s/%02x", blobs_dir, algs[a], (first + k) % 256);
            struct blob_walk w = {algs[a], fn, ctx};
            walk_dir(dir, blob_walk_file, &w);
            if (archive_root) {
                /* a file in the archive dir with no record is as collectable */
                snprintf(dir, sizeof(dir), "%s/%s/%02x", archive_root, algs[a], (first + k) % 256);
                walk_dir(dir, blob_walk_file, &w);
            }
        }
    }
    return 0;
}

int upload_each(int (*fn)(void *ctx, const char *id, int64_t mtime_ms), void *ctx)
{
    if (remote)
        return s3store_upload_each(fn, ctx);
    return walk_dir(uploads_dir, fn, ctx);
}
