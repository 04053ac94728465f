/*
 * This module implements the filesystem blob store and upload sessions of
 * blobstore.h.
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
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

static char *root;

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

static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static struct saved_state *states;

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
    if ((rc = mkdir_p(path)) < 0)
        return rc;
    snprintf(path, sizeof(path), "%s/uploads", root);
    return mkdir_p(path);
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
    snprintf(out, PATH_MAX, "%s/blobs/%.*s/%.2s/%s", root, alg_len, digest, hex, hex);
    if (dir_out)
        snprintf(dir_out, PATH_MAX, "%s/blobs/%.*s/%.2s", root, alg_len, digest, hex);
    return 0;
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
    snprintf(out, PATH_MAX, "%s/uploads/%s", root, id);
}

int blob_stat(const char *digest, uint64_t *size_out)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
    if (stat(path, &st) != 0)
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    if (unlink(path) != 0 && errno != ENOENT)
        return error_set(E_ERROR, "cannot remove blob '%s': %s", digest, strerror(errno));
    return 0;
}

int upload_begin(struct upload *u)
{
    char path[PATH_MAX];
    memset(u, 0, sizeof(*u));
    uuid_v4(u->id);
    upload_path(path, u->id);
    u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0)
        return error_set(E_ERROR, "cannot create upload file: %s", strerror(errno));
    hasher_init(&u->hash, DIGEST_SHA256);
    pthread_mutex_lock(&states_lock);
    struct saved_state *s = xcalloc(1, sizeof(*s));
    memcpy(s->id, u->id, sizeof(s->id));
    s->busy = true;
    s->next = states;
    states = s;
    pthread_mutex_unlock(&states_lock);
    return 0;
}

static int rehash(struct upload *u, uint64_t upto)
{
    char path[PATH_MAX];
    upload_path(path, u->id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(E_ERROR, "cannot reopen upload '%s': %s", u->id, strerror(errno));
    hasher_release(&u->hash);
    hasher_init(&u->hash, DIGEST_SHA256);
    static const size_t chunk = 1 << 20;
    char *b = xmalloc(chunk);
    uint64_t done = 0;
    int rc = 0;
    while (done < upto) {
        ssize_t n = read(fd, b, (size_t)(upto - done < chunk ? upto - done : chunk));
        if (n <= 0) {
            rc = error_set(E_ERROR, "cannot read upload '%s'", u->id);
            break;
        }
        hasher_update(&u->hash, b, (size_t)n);
        done += (uint64_t)n;
    }
    free(b);
    close(fd);
    return rc;
}

int upload_open(struct upload *u, const char *id)
{
    char path[PATH_MAX];
    struct stat st;
    int rc = upload_valid_id(id);
    if (rc < 0)
        return rc;
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

    bool have_state = false;
    pthread_mutex_lock(&states_lock);
    struct saved_state *s;
    for (s = states; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            break;
    if (s && s->busy) {
        pthread_mutex_unlock(&states_lock);
        close(u->fd);
        return error_set(E_EXISTS, "upload '%s' is being written by another request", id);
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        memcpy(s->id, id, 37);
        s->next = states;
        states = s;
    }
    s->busy = true;
    if (s->hash.ctx && s->offset == u->offset) {
        u->hash = s->hash;
        s->hash.ctx = NULL;
        have_state = true;
    } else {
        hasher_release(&s->hash);
    }
    pthread_mutex_unlock(&states_lock);

    if (!have_state && (rc = rehash(u, u->offset)) < 0) {
        hasher_release(&u->hash); /* a partial hash must not be kept */
        upload_close(u);
        return rc;
    }
    if (!have_state && !u->hash.ctx)
        hasher_init(&u->hash, DIGEST_SHA256);
    return 0;
}

int upload_append(struct upload *u, const void *data, size_t n)
{
    const char *p = data;
    size_t left = n;
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
    hasher_update(&u->hash, data, n);
    u->offset += n;
    return 0;
}

static void state_drop(const char *id)
{
    pthread_mutex_lock(&states_lock);
    for (struct saved_state **pp = &states; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct saved_state *s = *pp;
            *pp = s->next;
            hasher_release(&s->hash);
            free(s);
            break;
        }
    }
    pthread_mutex_unlock(&states_lock);
}

void upload_close(struct upload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    pthread_mutex_lock(&states_lock);
    for (struct saved_state *s = states; s; s = s->next) {
        if (strcmp(s->id, u->id) == 0) {
            hasher_release(&s->hash);
            if (!s->stale) {
                s->hash = u->hash;
                s->offset = u->offset;
                u->hash.ctx = NULL;
            }
            s->busy = false;
            s->stale = false;
            break;
        }
    }
    pthread_mutex_unlock(&states_lock);
    hasher_release(&u->hash);
}

void upload_forget(const char *id)
{
    /* keep the entry (and its busy mark) but not the hash: the next open
     * recomputes it from the file */
    pthread_mutex_lock(&states_lock);
    for (struct saved_state *s = states; s; s = s->next)
        if (strcmp(s->id, id) == 0) {
            hasher_release(&s->hash);
            s->stale = s->busy;
            break;
        }
    pthread_mutex_unlock(&states_lock);
}

int upload_commit(struct upload *u, const char *expected, uint64_t *size_out)
{
    char got[DIGEST_MAX], src[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX];
    enum digest_alg alg;
    int rc = digest_validate(slice_from(expected), &alg);
    if (rc < 0)
        return rc;
    if (alg != DIGEST_SHA256) {
        /* the running hash is sha256; other algorithms are rare: hash again */
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
    if (strcmp(got, expected) != 0)
        return error_set(E_MISMATCH, "digest mismatch: content is '%s', not '%s'", got, expected);

    if (fsync(u->fd) != 0)
        return error_set(E_ERROR, "cannot fsync upload '%s': %s", u->id, strerror(errno));
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

int upload_cancel(const char *id)
{
    char path[PATH_MAX];
    int rc = upload_valid_id(id);
    if (rc < 0)
        return rc;
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
    upload_path(path, id);
    if (stat(path, &st) != 0)
        return error_set(E_NOTFOUND, "upload '%s' is unknown", id);
    *size_out = (uint64_t)st.st_size;
    return 0;
}

/* ---- garbage collection ---- */

int blob_collect(const char *digest, int64_t cutoff_ms, bool (*still_wanted)(void *ctx, const char *digest), void *ctx)
{
    char path[PATH_MAX], aside[PATH_MAX + 8];
    struct stat st;
    int rc = blob_path(path, NULL, digest);
    if (rc < 0)
        return rc;
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
    static const char *const algs[] = {"sha256", "sha512"};
    for (size_t a = 0; a < 2; a++) {
        for (int i = 0; i < 256; i++) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof(dir), "%s/blobs/%s/%02x", root, algs[a], i);
            struct blob_walk w = {algs[a], fn, ctx};
            walk_dir(dir, blob_walk_file, &w);
        }
    }
    return 0;
}

int upload_each(int (*fn)(void *ctx, const char *id, int64_t mtime_ms), void *ctx)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/uploads", root);
    return walk_dir(dir, fn, ctx);
}
