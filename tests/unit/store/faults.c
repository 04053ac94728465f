/*
 * Fault injection for src/store/store.c and its callers that delete:
 * nothing is lost when SQLite fails.
 *
 * A VFS shim, registered as SQLite's default, passes every call to the
 * real "unix" VFS but counts the calls that touch the disk or take a lock
 * (open, read, write, sync, truncate, size, delete, lock, shared-memory map
 * and lock) and makes the Nth one fail: an I/O error of the kind the call
 * would report, or SQLITE_BUSY for a lock. A fault is either transient
 * (that one call fails) or sticky (every call from the Nth on fails, as a
 * disk that went away). For N = 1, 2, ... until the operation runs without
 * reaching the Nth call, each trial starts from a copy of the same data
 * directory with a cold connection and runs one operation:
 *
 *   - gc_run() over a repository with garbage (a blob linked by no
 *     manifest, a blob no repository links, a file with no record, an
 *     abandoned upload) and images whose blobs must stay;
 *   - ECR BatchDeleteImage removing one of two tags, an image's last tag,
 *     an image by digest, a child an index protects, and all at once.
 *
 * Afterwards, read with a connection of its own: the database is intact;
 * every blob a manifest references still has its record, its link and its
 * bytes; every blob record has its bytes; and the tags and manifests are
 * exactly as before the operation when it reported a failure, exactly as a
 * run without faults leaves them when it reported success. And every commit
 * syncs the WAL, so what was acknowledged survives power loss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <sqlite3.h>

#include "blob/blobstore.h"
#include "blob/gc.h"
#include "core/buf.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "ecr/ecr.h"
#include "ecr/ops.h"
#include "image/image.h"
#include "store/store.h"

#define ACCT "111122223333"
#define HOUR_MS ((int64_t)3600 * 1000)

/* ---- the VFS shim ---- */

static struct {
    bool armed;
    bool sticky;
    long count; /* calls counted since armed */
    long at;    /* the call that fails */
    bool hit;   /* a fault was returned */
} F;

static long syncs; /* xSync calls, faulted or not */

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* lives right after this struct */
};

/* SQLITE_OK, or the fault this call returns. */
static int fault(int code)
{
    if (!F.armed)
        return SQLITE_OK;
    F.count++;
    if (F.count == F.at || (F.sticky && F.count > F.at)) {
        F.hit = true;
        return code;
    }
    return SQLITE_OK;
}

/* A lock that cannot be had now: busy once, or an I/O error on a disk that
 * went away (a sticky busy would only make SQLite wait out its timeout). */
static int lock_fault(int ioerr)
{
    return fault(F.sticky ? ioerr : SQLITE_BUSY);
}

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    int rc = fault(SQLITE_IOERR_READ);
    return rc ? rc : REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    int rc = fault(SQLITE_IOERR_WRITE);
    return rc ? rc : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    int rc = fault(SQLITE_IOERR_TRUNCATE);
    return rc ? rc : REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
    syncs++;
    int rc = fault(SQLITE_IOERR_FSYNC);
    return rc ? rc : REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = fault(SQLITE_IOERR_FSTAT);
    return rc ? rc : REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int shim_lock(sqlite3_file *f, int level)
{
    int rc = lock_fault(SQLITE_IOERR_LOCK);
    return rc ? rc : REAL(f)->pMethods->xLock(REAL(f), level);
}

static int shim_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int shim_check_reserved(sqlite3_file *f, int *out)
{
    int rc = fault(SQLITE_IOERR_CHECKRESERVEDLOCK);
    return rc ? rc : REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int shim_device_characteristics(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int shim_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **pp)
{
    int rc = fault(SQLITE_IOERR_SHMMAP);
    return rc ? rc : REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, pp);
}

static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    int rc = flags & SQLITE_SHM_LOCK ? lock_fault(SQLITE_IOERR_SHMLOCK) : SQLITE_OK;
    return rc ? rc : REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int shim_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_reserved,
    shim_file_control,
    shim_sector_size,
    shim_device_characteristics,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    struct shim_file *p = (struct shim_file *)file;
    p->base.pMethods = NULL;
    p->real = (sqlite3_file *)&p[1];
    int rc = fault(SQLITE_CANTOPEN);
    if (rc)
        return rc;
    rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out_flags);
    if (p->real->pMethods)
        p->base.pMethods = &shim_io;
    return rc;
}

static int shim_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    int rc = fault(SQLITE_IOERR_DELETE);
    return rc ? rc : real_vfs->xDelete(real_vfs, name, sync_dir);
}

static void shim_register(void)
{
    real_vfs = sqlite3_vfs_find("unix");
    assert_non_null(real_vfs);
    shim_vfs = *real_vfs;
    shim_vfs.pNext = NULL;
    shim_vfs.zName = "berth-faults";
    shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
    shim_vfs.xOpen = shim_open;
    shim_vfs.xDelete = shim_delete;
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void arm(long at, bool sticky)
{
    memset(&F, 0, sizeof(F));
    F.at = at;
    F.sticky = sticky;
    F.armed = true;
}

static void disarm(void)
{
    F.armed = false;
}

/* ---- the data directory every trial starts from ---- */

static char template_dir[64], trial_dir[80];
static char dig_b[8][DIGEST_MAX]; /* blobs 1..7 */
static char dig_a[DIGEST_MAX], dig_bimg[DIGEST_MAX], dig_c[DIGEST_MAX], dig_idx[DIGEST_MAX];
static const char *const upload_id = "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a10";

static void shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shell(const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static void blob_file(char out[256], const char *dir, const char *digest)
{
    snprintf(out, 256, "%s/blobs/sha256/%.2s/%s", dir, digest + 7, digest + 7);
}

/* Commits content as a blob file (the real upload path) and returns its digest. */
static void put_bytes(char out[DIGEST_MAX], const char *content)
{
    struct upload u;
    uint64_t size;
    digest_sha256(out, content, strlen(content));
    assert_int_equal(upload_begin(&u), 0);
    assert_int_equal(upload_append(&u, content, strlen(content)), 0);
    assert_int_equal(upload_commit(&u, out, &size), 0);
}

static void put_manifest(int64_t repo, char out[DIGEST_MAX], const char *body, const struct manifest_ref *refs, size_t n,
                         const char *tag)
{
    struct manifest m;
    memset(&m, 0, sizeof(m));
    digest_sha256(m.digest, body, strlen(body));
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.config_media_type = "application/vnd.oci.image.config.v1+json";
    m.body = (char *)body;
    m.size = strlen(body);
    assert_int_equal(store_manifest_put(repo, &m, refs, n, tag), 0);
    memcpy(out, m.digest, DIGEST_MAX);
}

static void sql(const char *dir, const char *text)
{
    char path[128];
    sqlite3 *d;
    snprintf(path, sizeof(path), "%s/berth.db", dir);
    assert_int_equal(sqlite3_open_v2(path, &d, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
    assert_int_equal(sqlite3_exec(d, text, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
}

/*
 * Repository "web":
 *   A (blobs 1, 2) tagged v1 and latest; B (blobs 2, 3) tagged v2;
 *   C (blob 4) untagged, listed by the index I tagged idx;
 *   blob 5 linked but used by no manifest (an abandoned push);
 *   blob 6 with a record and no link; blob 7 a file with no record;
 *   an upload session two days old.
 * Everything is an hour old, so a grace of a minute lets GC take what
 * nothing uses.
 */
static void make_template(void)
{
    struct repo r;
    char path[256];
    /* tmpfs where there is one: thousands of trials, each with its fsyncs */
    struct stat st;
    snprintf(template_dir, sizeof(template_dir), "%s/berth-faults-XXXXXX", stat("/dev/shm", &st) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(template_dir));
    snprintf(trial_dir, sizeof(trial_dir), "%s.trial", template_dir);
    assert_int_equal(store_open(template_dir), 0);
    assert_int_equal(blobstore_open(template_dir), 0);
    assert_int_equal(store_account_create(ACCT), 0);
    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), ACCT);
    r.name = "web";
    assert_int_equal(store_repo_create(&r), 0);
    for (int i = 1; i <= 7; i++) {
        char content[32];
        snprintf(content, sizeof(content), "layer %d", i);
        put_bytes(dig_b[i], content);
        if (i <= 6)
            assert_int_equal(store_blob_add(dig_b[i], strlen(content)), 0);
        if (i <= 5)
            assert_int_equal(store_blob_link(r.id, dig_b[i]), 0);
    }
    struct manifest_ref ra[] = {{dig_b[1], false}, {dig_b[2], false}}, rb[] = {{dig_b[2], false}, {dig_b[3], false}},
                        rc[] = {{dig_b[4], false}};
    put_manifest(r.id, dig_a, "{\"image\":\"A\"}", ra, 2, "v1");
    assert_int_equal(store_tag_put(r.id, "latest", dig_a), 0);
    put_manifest(r.id, dig_bimg, "{\"image\":\"B\"}", rb, 2, "v2");
    put_manifest(r.id, dig_c, "{\"image\":\"C\"}", rc, 1, NULL);
    struct manifest_ref ri[] = {{dig_c, true}};
    put_manifest(r.id, dig_idx, "{\"index\":\"I\"}", ri, 1, "idx");
    assert_int_equal(store_upload_create(upload_id, r.id), 0);
    store_close_thread();

    sql(template_dir, "UPDATE blobs SET created_at = created_at - 3600000;"
                      "UPDATE repo_blobs SET linked_at = linked_at - 3600000;"
                      "UPDATE gc_link_reviews SET queued_at = queued_at - 3600000;"
                      "UPDATE gc_blob_reviews SET queued_at = queued_at - 3600000;"
                      "UPDATE uploads SET created_at = created_at - 172800000, updated_at = updated_at - 172800000;");
    snprintf(path, sizeof(path), "%s/uploads/%s", template_dir, upload_id);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    shell("find '%s/blobs' -type f -exec touch -d '1 hour ago' {} +", template_dir);
    shell("touch -d '2 days ago' '%s'", path);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* Copies the template into the trial directory: directories and the
 * database are copied, blob and upload files linked (an operation only
 * renames and unlinks those, which leaves the template's names alone). */
static int copy_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    char dst[512];
    (void)ftw;
    snprintf(dst, sizeof(dst), "%s%s", trial_dir, path + strlen(template_dir));
    if (type == FTW_D)
        return mkdir(dst, st->st_mode & 07777);
    if (!strstr(path, "/berth.db"))
        return link(path, dst);
    int in = open(path, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char b[1 << 16];
    ssize_t n = -1;
    while (in >= 0 && out >= 0 && (n = read(in, b, sizeof(b))) > 0)
        if (write(out, b, (size_t)n) != n)
            break;
    int rc = in >= 0 && out >= 0 && n == 0 ? 0 : -1;
    close(in);
    close(out);
    return rc;
}

/* A fresh copy of the template, the store and blob store opened on it, and
 * no connection open: the operation starts cold. */
static void trial_begin(void)
{
    struct stat st;
    if (stat(trial_dir, &st) == 0)
        assert_int_equal(nftw(trial_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    assert_int_equal(nftw(template_dir, copy_entry, 16, FTW_PHYS), 0);
    assert_int_equal(store_open(trial_dir), 0);
    assert_int_equal(blobstore_open(trial_dir), 0);
    store_close_thread();
}

/* ---- what must hold after every trial ---- */

struct state {
    char *tags;      /* "repo name digest" lines */
    char *manifests; /* "repo digest" lines */
};

static void state_release(struct state *s)
{
    free(s->tags);
    free(s->manifests);
}

static char *rows(sqlite3 *d, const char *query)
{
    sqlite3_stmt *st;
    struct buf b;
    buf_init(&b, 1 << 20);
    assert_int_equal(sqlite3_prepare_v2(d, query, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    char *out = strdup(b.ptr);
    buf_release(&b);
    return out;
}

static bool file_has_size(const char *digest, int64_t size)
{
    char path[256];
    struct stat st;
    blob_file(path, trial_dir, digest);
    return stat(path, &st) == 0 && st.st_size == size;
}

/* Checks the invariants of the trial directory and returns its tags and
 * manifests. The store's connection must be closed. */
static struct state check(const char *what, long n)
{
    char path[128];
    sqlite3 *d;
    sqlite3_stmt *st;
    struct state s;
    snprintf(path, sizeof(path), "%s/berth.db", trial_dir);
    assert_int_equal(sqlite3_open_v2(path, &d, SQLITE_OPEN_READWRITE, "unix"), SQLITE_OK);
    char *ok = rows(d, "PRAGMA integrity_check");
    if (strcmp(ok, "ok\n") != 0)
        fail_msg("%s, fault at %ld: database damaged: %s", what, n, ok);
    free(ok);
    assert_int_equal(
        sqlite3_prepare_v2(d,
                           "SELECT m.blob_digest, b.size, "
                           " EXISTS (SELECT 1 FROM repo_blobs r WHERE r.repo_id = m.repo_id AND r.digest = m.blob_digest) "
                           "FROM manifest_blobs m LEFT JOIN blobs b ON b.digest = m.blob_digest",
                           -1, &st, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *digest = (const char *)sqlite3_column_text(st, 0);
        if (sqlite3_column_type(st, 1) == SQLITE_NULL)
            fail_msg("%s, fault at %ld: referenced blob %s lost its record", what, n, digest);
        if (!sqlite3_column_int(st, 2))
            fail_msg("%s, fault at %ld: referenced blob %s lost its link", what, n, digest);
        if (!file_has_size(digest, sqlite3_column_int64(st, 1)))
            fail_msg("%s, fault at %ld: referenced blob %s lost its bytes", what, n, digest);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(d, "SELECT digest, size FROM blobs", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (!file_has_size((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1)))
            fail_msg("%s, fault at %ld: blob %s has a record and no bytes", what, n, sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    s.tags = rows(d, "SELECT repo_id || ' ' || name || ' ' || digest FROM tags ORDER BY 1");
    s.manifests = rows(d, "SELECT repo_id || ' ' || digest FROM manifests ORDER BY 1");
    sqlite3_close(d);
    return s;
}

static void assert_same_state(const struct state *got, const struct state *want, const char *what, long n, const char *which)
{
    if (strcmp(got->tags, want->tags) != 0 || strcmp(got->manifests, want->manifests) != 0)
        fail_msg("%s, fault at %ld: tags and manifests are not %s:\n%s%s-- want --\n%s%s", what, n, which, got->tags,
                 got->manifests, want->tags, want->manifests);
}

static bool exists_in(const char *dir, const char *sub, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s%s", dir, sub, name);
    return stat(path, &st) == 0;
}

/* ---- the operations ---- */

static int run_gc(json_t **reply)
{
    struct gc_report rep;
    *reply = NULL;
    struct gc_options opt = {.delay_ms = 60 * 1000, .upload_grace_ms = 24 * HOUR_MS, .sweep_count = 256};
    return gc_run(&rep, &opt);
}

static const char *delete_ids;

/* BatchDeleteImage of delete_ids in repository "web"; 0 when it answered
 * 200 (failures in the answer included), -1 for an error reply. */
static int run_batch_delete(json_t **reply)
{
    struct ecr_call c;
    memset(&c, 0, sizeof(c));
    c.in = json_pack("{s:s,s:o}", "repositoryName", "web", "imageIds", json_loads(delete_ids, 0, NULL));
    c.out = json_object();
    c.op = "BatchDeleteImage";
    snprintf(c.registry_id, sizeof(c.registry_id), ACCT);
    int rc = op_batch_delete_image(&c);
    json_decref(c.in);
    if (rc < 0) {
        assert_non_null(c.err_type);
        json_decref(c.out);
        *reply = NULL;
        return -1;
    }
    *reply = c.out;
    return 0;
}

/*
 * Runs op without faults, then with a fault at each counted call in turn
 * (transient and sticky), checking the invariants after each. Returns the
 * number of calls the operation makes.
 */
static long sweep(const char *what, int (*op)(json_t **reply), struct state *before_out, struct state *after_out)
{
    json_t *want_reply, *reply;
    trial_begin();
    struct state before = check(what, 0);
    trial_begin();
    arm(0, false); /* count only */
    assert_int_equal(op(&want_reply), 0);
    long calls = F.count;
    disarm();
    store_close_thread();
    struct state after = check(what, 0);
    assert_true(calls > 10);

    long trials = 0;
    for (int sticky = 0; sticky <= 1; sticky++) {
        for (long n = 1;; n++) {
            trials++;
            trial_begin();
            arm(n, sticky);
            int rc = op(&reply);
            bool hit = F.hit;
            disarm();
            store_close_thread();
            struct state got = check(what, n);
            if (rc == 0) {
                assert_same_state(&got, &after, what, n, "as a run without faults leaves them");
                if (want_reply && !json_equal(reply, want_reply)) {
                    char *a = json_dumps(reply, JSON_SORT_KEYS), *b = json_dumps(want_reply, JSON_SORT_KEYS);
                    fail_msg("%s, fault at %ld: answered %s, not %s", what, n, a, b);
                }
            } else {
                assert_same_state(&got, &before, what, n, "as before the failed operation");
            }
            json_decref(reply);
            state_release(&got);
            if (!hit)
                break;
        }
    }
    print_message("%s: %ld calls to the disk, %ld trials\n", what, calls, trials);
    json_decref(want_reply);
    if (before_out)
        *before_out = before;
    else
        state_release(&before);
    if (after_out)
        *after_out = after;
    else
        state_release(&after);
    return calls;
}

/* ---- tests ---- */

static void test_gc(void **state)
{
    (void)state;
    struct state before, after;
    sweep("gc", run_gc, &before, &after);
    /* the run without faults took the garbage and nothing else */
    assert_same_state(&after, &before, "gc", 0, "unchanged");
    trial_begin();
    json_t *none;
    assert_int_equal(run_gc(&none), 0);
    store_close_thread();
    for (int i = 1; i <= 4; i++)
        assert_true(file_has_size(dig_b[i], 7));
    for (int i = 5; i <= 7; i++)
        assert_false(file_has_size(dig_b[i], 7));
    assert_false(exists_in(trial_dir, "uploads/", upload_id));
    state_release(&before);
    state_release(&after);
}

static void delete_sweep(const char *ids, const char *changes)
{
    struct state before, after;
    delete_ids = ids;
    sweep(ids, run_batch_delete, &before, &after);
    /* the run without faults made the change (or, refused, none) */
    if (changes)
        assert_true(strcmp(after.tags, before.tags) != 0);
    else
        assert_same_state(&after, &before, ids, 0, "unchanged");
    if (changes)
        assert_null(strstr(after.tags, changes));
    state_release(&before);
    state_release(&after);
}

static char ids_buf[4][512];

static void test_delete_one_of_two_tags(void **state)
{
    (void)state;
    delete_sweep("[{\"imageTag\":\"v1\"}]", " v1 ");
}

static void test_delete_last_tag(void **state)
{
    (void)state;
    delete_sweep("[{\"imageTag\":\"v2\"}]", " v2 ");
}

static void test_delete_by_digest(void **state)
{
    (void)state;
    snprintf(ids_buf[0], sizeof(ids_buf[0]), "[{\"imageDigest\":\"%s\"}]", dig_a);
    delete_sweep(ids_buf[0], " latest ");
}

static void test_delete_protected_child(void **state)
{
    (void)state;
    snprintf(ids_buf[1], sizeof(ids_buf[1]), "[{\"imageDigest\":\"%s\"}]", dig_c);
    delete_sweep(ids_buf[1], NULL);
}

static void test_delete_several(void **state)
{
    (void)state;
    snprintf(ids_buf[2], sizeof(ids_buf[2]),
             "[{\"imageTag\":\"latest\"},{\"imageTag\":\"v2\"},{\"imageDigest\":\"%s\"},{\"imageTag\":\"idx\"}]", dig_c);
    delete_sweep(ids_buf[2], " idx ");
}

static const char *unlink_digest;

/* /v2 DELETE of a blob in repository "web" (image_blob_unlink): 0 when it
 * unlinked the blob or refused it for an image that uses it, -1 for an
 * error; the answer says which. */
static int run_blob_unlink(json_t **reply)
{
    struct repo r;
    int rc = store_repo_get(ACCT, "web", &r);
    if (rc == 0) {
        rc = image_blob_unlink(&r, unlink_digest);
        repo_release(&r);
    }
    *reply = rc == 0 || rc == E_CONFLICT ? json_string(rc == 0 ? "unlinked" : "in use") : NULL;
    return *reply ? 0 : -1;
}

static void test_v2_blob_delete_of_a_used_blob(void **state)
{
    (void)state;
    struct state before, after;
    unlink_digest = dig_b[2]; /* a layer of A and of B */
    sweep("unlink used blob", run_blob_unlink, &before, &after);
    assert_same_state(&after, &before, "unlink used blob", 0, "unchanged");
    state_release(&before);
    state_release(&after);
}

static void test_v2_blob_delete_of_an_unused_blob(void **state)
{
    (void)state;
    unlink_digest = dig_b[5]; /* linked, used by no image */
    sweep("unlink unused blob", run_blob_unlink, NULL, NULL);
}

/* Every lookup says E_ERROR, never E_NOTFOUND, when its query fails. */
static void test_lookups_fail_as_errors(void **state)
{
    (void)state;
    char out[DIGEST_MAX], *text = NULL;
    uint64_t size;
    int64_t n;
    struct manifest m;
    struct repo r;
    struct access_key k;
    for (int sticky = 0; sticky <= 1; sticky++) {
        for (long at = 1;; at++) {
            int rcs[12], nr = 0;
            trial_begin();
            arm(at, sticky);
            rcs[nr++] = store_repo_get(ACCT, "web", &r);
            if (rcs[nr - 1] == 0)
                repo_release(&r);
            rcs[nr++] = store_tag_resolve(1, "v1", out);
            rcs[nr++] = store_tag_resolve(1, "nope", out);
            rcs[nr++] = store_manifest_exists(1, dig_a);
            rcs[nr++] = store_manifest_get(1, dig_bimg, true, &m);
            if (rcs[nr - 1] == 0)
                manifest_release(&m);
            rcs[nr++] = store_blob_size(dig_b[1], &size);
            rcs[nr++] = store_blob_linked(1, dig_b[7], &size);
            rcs[nr++] = store_upload_get(upload_id, 1);
            rcs[nr++] = store_access_key_get("AKIANOPE", &k);
            rcs[nr++] = store_setting_get("", "nope", &text);
            rcs[nr++] = store_tag_count_for(1, dig_a, &n);
            rcs[nr++] = store_manifest_parent_count(1, dig_c, &n);
            bool hit = F.hit;
            disarm();
            store_close_thread();
            /* without a fault: found, found, absent, found, found, found,
             * absent, found, absent, absent, counted, counted */
            static const int clean[] = {0, 0, E_NOTFOUND, 0, 0, 0, E_NOTFOUND, 0, E_NOTFOUND, E_NOTFOUND, 0, 0};
            for (int i = 0; i < nr; i++) {
                if (rcs[i] != clean[i] && rcs[i] != E_ERROR)
                    fail_msg("lookup %d with a fault at %ld%s: %d, neither %d nor E_ERROR", i, at, sticky ? " on" : "", rcs[i],
                             clean[i]);
                if (!hit && rcs[i] != clean[i])
                    fail_msg("lookup %d without a fault: %d, not %d", i, rcs[i], clean[i]);
            }
            if (sticky && hit)
                assert_int_equal(rcs[nr - 1], E_ERROR); /* the disk is gone: the last one cannot succeed */
            if (!hit)
                break;
        }
    }
}

/* An acknowledged write is on disk: every commit syncs the WAL
 * (synchronous=FULL; NORMAL syncs only at checkpoints). */
static void test_commit_syncs(void **state)
{
    (void)state;
    char digest[DIGEST_MAX];
    trial_begin();
    assert_int_equal(store_setting_put("", "warm", "up"), 0); /* the WAL exists */
    for (int i = 0; i < 3; i++) {
        long before = syncs;
        digest_sha256(digest, (const char *)&i, sizeof(i));
        assert_int_equal(store_begin(), 0);
        assert_int_equal(store_blob_add(digest, 4), 0);
        assert_int_equal(store_blob_link(1, digest), 0);
        assert_int_equal(store_commit(), 0);
        assert_true(syncs > before);
        before = syncs;
        assert_int_equal(store_tag_put(1, "moved", dig_a), 0); /* autocommit */
        assert_true(syncs > before);
    }
    store_close_thread();
}

static int group_setup(void **state)
{
    (void)state;
    log_level = -1; /* the failures under test are logged */
    shim_register();
    make_template();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    store_close_thread();
    shell("rm -rf '%s' '%s'", template_dir, trial_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookups_fail_as_errors), cmocka_unit_test(test_gc),
        cmocka_unit_test(test_delete_one_of_two_tags), cmocka_unit_test(test_delete_last_tag),
        cmocka_unit_test(test_delete_by_digest),       cmocka_unit_test(test_delete_protected_child),
        cmocka_unit_test(test_delete_several),         cmocka_unit_test(test_commit_syncs),
        cmocka_unit_test(test_v2_blob_delete_of_a_used_blob), cmocka_unit_test(test_v2_blob_delete_of_an_unused_blob),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
