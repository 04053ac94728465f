/*
 * This module implements the consistency check of fsck.h.
 *
 * A blob's file may be in the store or, with --archive-dir, in the archive
 * dir (blob/blobstore.h): either is fine, both is noted (not a problem),
 * neither is missing-blob-file.
 *
 * Pass one reads the snapshot: references and tags are judged there and
 * then; blob records and upload sessions are copied out, and the snapshot
 * is let go (a long-held read transaction would keep a busy server's WAL
 * from being checkpointed). Pass two checks each blob's file (its size,
 * and its digest with --verify-digests) and each session's file. What
 * fails there becomes a suspect; suspects are looked at again over a few
 * rounds, each a fresh read of the record and then of the file, and one is
 * reported only if its record is still there and its file still wrong in
 * every round.
 *
 * BERTH_FSCK_TEST_PAUSE_MS (tests only) pauses between the two passes and
 * says so on stderr, so that a test can change the data directory inside
 * that window.
 */
#include "fsck/fsck.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob/blobstore.h"
#include "core/alloc.h"
#include "core/digest.h"
#include "core/error.h"
#include "store/gc.h"
#include "store/store.h"

#define READ_CHUNK (1 << 20)
#define NAMES_SHOWN 5

struct repo_name {
    int64_t id;
    char *name; /* account/name */
};

struct blob_rec {
    char digest[DIGEST_MAX];
    uint64_t size;
};

struct upload_rec {
    char id[40];
    int64_t repo_id;
};

enum file_state { FILE_OK, FILE_MISSING, FILE_SIZE, FILE_CONTENT, FILE_UNREADABLE };

struct file_check {
    enum file_state state;
    uint64_t on_disk;
    char content[DIGEST_MAX];
    char error[160];
};

struct suspect {
    size_t index; /* into blobs or uploads */
    struct file_check check;
    uint64_t size; /* the record's size, as last read */
    bool resolved;
};

struct fsck {
    const struct fsck_options *opt;
    struct fsck_report *rep;
    struct repo_name *repos;
    size_t nrepos, caprepos;
    struct blob_rec *blobs;
    size_t nblobs, capblobs;
    struct upload_rec *uploads;
    size_t nuploads, capuploads;
    char *buf; /* READ_CHUNK bytes for hashing */
    size_t *both; /* indexes of blobs in the store and in the archive dir */
    size_t nboth, capboth;
};

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return p;
    *cap = *cap ? *cap * 2 : 64;
    return xrealloc(p, *cap * size);
}

static void problem(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct fsck *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f->opt->out, fmt, ap);
    va_end(ap);
    fputc('\n', f->opt->out);
    f->rep->problems++;
}

/* The repository's account/name, or "#<id>" for one the snapshot lacks. */
static const char *repo_name(struct fsck *f, int64_t id, char tmp[32])
{
    size_t lo = 0, hi = f->nrepos;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->repos[mid].id == id)
            return f->repos[mid].name;
        if (f->repos[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    snprintf(tmp, 32, "#%lld", (long long)id);
    return tmp;
}

/* ---- pass one: the snapshot ---- */

static int on_repository(void *ctx, int64_t id, const char *account_id, const char *name)
{
    struct fsck *f = ctx;
    size_t n = strlen(account_id) + strlen(name) + 2;
    f->repos = grow(f->repos, &f->caprepos, f->nrepos, sizeof(*f->repos));
    f->repos[f->nrepos].id = id;
    f->repos[f->nrepos].name = xmalloc(n);
    snprintf(f->repos[f->nrepos].name, n, "%s/%s", account_id, name);
    f->nrepos++;
    f->rep->repositories++;
    return 0;
}

static int on_manifest(void *ctx, int64_t repo_id, const char *digest)
{
    struct fsck *f = ctx;
    f->rep->manifests++;
    return 0;
}

static int on_reference(void *ctx, const struct store_reference *r)
{
    struct fsck *f = ctx;
    char tmp[32];
    const char *repo = repo_name(f, r->repo_id, tmp);
    f->rep->references++;
    if (r->is_manifest && !r->target_exists)
        problem(f, "missing-child repository=%s manifest=%s child=%s", repo, r->manifest, r->target);
    else if (!r->is_manifest && !r->target_exists)
        problem(f, "missing-blob repository=%s manifest=%s blob=%s", repo, r->manifest, r->target);
    else if (!r->is_manifest && !r->target_linked)
        problem(f, "unlinked-blob repository=%s manifest=%s blob=%s", repo, r->manifest, r->target);
    return 0;
}

static int on_tag(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists)
{
    struct fsck *f = ctx;
    char tmp[32];
    f->rep->tags++;
    if (!manifest_exists)
        problem(f, "dangling-tag repository=%s tag=%s manifest=%s", repo_name(f, repo_id, tmp), tag, digest);
    return 0;
}

static int on_blob(void *ctx, const char *digest, uint64_t size)
{
    struct fsck *f = ctx;
    f->blobs = grow(f->blobs, &f->capblobs, f->nblobs, sizeof(*f->blobs));
    snprintf(f->blobs[f->nblobs].digest, DIGEST_MAX, "%s", digest);
    f->blobs[f->nblobs].size = size;
    f->nblobs++;
    f->rep->blobs++;
    f->rep->blob_bytes += (int64_t)size;
    return 0;
}

static int on_upload(void *ctx, const char *id, int64_t repo_id)
{
    struct fsck *f = ctx;
    f->uploads = grow(f->uploads, &f->capuploads, f->nuploads, sizeof(*f->uploads));
    snprintf(f->uploads[f->nuploads].id, sizeof(f->uploads[f->nuploads].id), "%s", id);
    f->uploads[f->nuploads].repo_id = repo_id;
    f->nuploads++;
    f->rep->uploads++;
    return 0;
}

/* An unreferenced link or blob record with no GC review would never be
 * looked at again: its bytes would stay forever (store/gc.h). */
static int on_untracked(void *ctx, int64_t repo_id, const char *digest)
{
    struct fsck *f = ctx;
    char tmp[32];
    if (repo_id)
        problem(f, "untracked-link repository=%s blob=%s", repo_name(f, repo_id, tmp), digest);
    else
        problem(f, "untracked-blob blob=%s", digest);
    return 0;
}

static int read_snapshot(struct fsck *f)
{
    int rc;
    if ((rc = store_snapshot_begin()) < 0)
        return rc;
    if ((rc = store_repositories_each(on_repository, f)) < 0 || (rc = store_manifests_each(on_manifest, f)) < 0 ||
        (rc = store_references_each(on_reference, f)) < 0 || (rc = store_all_tags_each(on_tag, f)) < 0 ||
        (rc = store_blobs_each(on_blob, f)) < 0 || (rc = store_uploads_each(on_upload, f)) < 0 ||
        (rc = store_gc_untracked_each(on_untracked, f)) < 0) {
        store_snapshot_end();
        return rc;
    }
    store_snapshot_end();
    return 0;
}

/* ---- pass two: the files ---- */

static void check_blob_file(struct fsck *f, struct file_check *out, const char *digest, uint64_t size)
{
    enum digest_alg alg;
    int fd = -1;
    memset(out, 0, sizeof(*out));
    /* on an object store, a size check is a HEAD, not a download */
    int rc = blobstore_remote() && !f->opt->verify_digests ? blob_stat(digest, &out->on_disk)
                                                            : blob_open(digest, &fd, &out->on_disk);
    if (rc == E_NOTFOUND) {
        out->state = FILE_MISSING;
        return;
    }
    if (rc < 0) {
        out->state = FILE_UNREADABLE;
        snprintf(out->error, sizeof(out->error), "%s", error_message());
        return;
    }
    if (out->on_disk != size) {
        out->state = FILE_SIZE;
    } else if (f->opt->verify_digests && digest_validate(slice_from(digest), &alg) == 0) {
        struct hasher h;
        ssize_t n;
        hasher_init(&h, alg);
        while ((n = read(fd, f->buf, READ_CHUNK)) > 0)
            hasher_update(&h, f->buf, (size_t)n);
        if (n < 0) {
            hasher_release(&h);
            out->state = FILE_UNREADABLE;
            snprintf(out->error, sizeof(out->error), "read: %s", strerror(errno));
        } else {
            hasher_final(&h, out->content);
            if (strcmp(out->content, digest) != 0)
                out->state = FILE_CONTENT;
        }
    }
    if (fd >= 0)
        close(fd);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static const int recheck_delays_ms[] = {0, 50, 200, 600};
#define RECHECK_ROUNDS (sizeof(recheck_delays_ms) / sizeof(recheck_delays_ms[0]))

struct blob_names {
    struct fsck *f;
    struct buf names;
    size_t n;
};

static int blob_repository(void *ctx, int64_t repo_id, const char *digest)
{
    struct blob_names *b = ctx;
    char tmp[32];
    if (b->n++ < NAMES_SHOWN)
        buf_printf(&b->names, "%s%s", b->n > 1 ? "," : "", repo_name(b->f, repo_id, tmp));
    return 0;
}

/* One line for a blob whose file stayed wrong, naming the repositories
 * that link it (from a fresh read: the report is about now). */
static void report_blob(struct fsck *f, const char *digest, const struct suspect *s)
{
    struct blob_names b = {.f = f};
    buf_init(&b.names, 4096);
    store_blob_repositories(digest, blob_repository, &b);
    if (b.n > NAMES_SHOWN)
        buf_printf(&b.names, ",+%zu more", b.n - NAMES_SHOWN);
    const char *repos = b.n ? b.names.ptr : "-";
    switch (s->check.state) {
    case FILE_MISSING:
        problem(f, "missing-blob-file blob=%s size=%llu repositories=%s", digest, (unsigned long long)s->size, repos);
        break;
    case FILE_SIZE:
        problem(f, "wrong-blob-size blob=%s size=%llu on-disk=%llu repositories=%s", digest, (unsigned long long)s->size,
                (unsigned long long)s->check.on_disk, repos);
        break;
    case FILE_CONTENT:
        problem(f, "wrong-blob-digest blob=%s content=%s repositories=%s", digest, s->check.content, repos);
        break;
    case FILE_UNREADABLE:
        problem(f, "unreadable-blob-file blob=%s repositories=%s error=\"%s\"", digest, repos, s->check.error);
        break;
    case FILE_OK:
        break;
    }
    buf_release(&b.names);
}

/* Looks at each suspect again over RECHECK_ROUNDS rounds with recheck(),
 * which returns 1 while the suspect still looks wrong, 0 once it does not
 * (resolved for good), or a negative error that ends the check. */
static int recheck_suspects(struct fsck *f, struct suspect *sus, size_t nsus, int (*recheck)(struct fsck *f, struct suspect *s))
{
    for (size_t round = 0; round < RECHECK_ROUNDS && nsus; round++) {
        bool open = false;
        sleep_ms(recheck_delays_ms[round]);
        for (size_t k = 0; k < nsus; k++) {
            if (sus[k].resolved)
                continue;
            int r = recheck(f, &sus[k]);
            if (r < 0)
                return r;
            sus[k].resolved = r == 0;
            open = open || r == 1;
        }
        if (!open)
            break;
    }
    return 0;
}

static int recheck_blob(struct fsck *f, struct suspect *s)
{
    /* record first, then file: a GC deletes them in that order */
    int r = store_blob_size(f->blobs[s->index].digest, &s->size);
    if (r == E_NOTFOUND)
        return 0;
    if (r < 0)
        return r;
    check_blob_file(f, &s->check, f->blobs[s->index].digest, s->size);
    return s->check.state != FILE_OK;
}

static int check_blobs(struct fsck *f)
{
    struct suspect *sus = NULL;
    size_t nsus = 0, cap = 0;
    for (size_t i = 0; i < f->nblobs; i++) {
        struct file_check c;
        check_blob_file(f, &c, f->blobs[i].digest, f->blobs[i].size);
        if (c.state == FILE_OK) {
            /* found in the store or the archive dir (blob_open looks in
             * both); in both is no problem (a move cut short, or a push
             * of the layer after it moved: reads take the store's) */
            int where = blob_where(f->blobs[i].digest);
            if (where > 0 && (where & BLOB_IN_ARCHIVE))
                f->rep->archived_blobs++;
            if (where == (BLOB_IN_STORE | BLOB_IN_ARCHIVE)) {
                f->both = grow(f->both, &f->capboth, f->nboth, sizeof(*f->both));
                f->both[f->nboth++] = i;
                f->rep->blobs_in_both++;
            }
            continue;
        }
        sus = grow(sus, &cap, nsus, sizeof(*sus));
        sus[nsus++] = (struct suspect){.index = i, .check = c, .size = f->blobs[i].size};
    }
    int rc = recheck_suspects(f, sus, nsus, recheck_blob);
    for (size_t k = 0; rc == 0 && k < nsus; k++)
        if (!sus[k].resolved)
            report_blob(f, f->blobs[sus[k].index].digest, &sus[k]);
    free(sus);
    return rc;
}

static int recheck_upload(struct fsck *f, struct suspect *s)
{
    uint64_t size;
    /* a commit renames the file away before it drops the record */
    return store_upload_exists(f->uploads[s->index].id) == 0 && upload_size(f->uploads[s->index].id, &size) < 0;
}

static int check_uploads(struct fsck *f)
{
    struct suspect *sus = NULL;
    size_t nsus = 0, cap = 0;
    uint64_t size;
    for (size_t i = 0; i < f->nuploads; i++) {
        if (upload_size(f->uploads[i].id, &size) == 0)
            continue;
        sus = grow(sus, &cap, nsus, sizeof(*sus));
        sus[nsus++] = (struct suspect){.index = i};
    }
    int rc = recheck_suspects(f, sus, nsus, recheck_upload);
    for (size_t k = 0; rc == 0 && k < nsus; k++) {
        char tmp[32];
        const struct upload_rec *u = &f->uploads[sus[k].index];
        if (!sus[k].resolved)
            problem(f, "missing-upload-file repository=%s upload=%s", repo_name(f, u->repo_id, tmp), u->id);
    }
    free(sus);
    return rc;
}

static void test_pause(void)
{
    const char *z = getenv("BERTH_FSCK_TEST_PAUSE_MS");
    char *end;
    long ms = z ? strtol(z, &end, 10) : 0;
    if (!z || *end || ms <= 0 || ms > 600000)
        return;
    fprintf(stderr, "fsck: snapshot read; pausing %ld ms\n", ms);
    fflush(stderr);
    sleep_ms((int)ms);
}

int fsck_run(struct fsck_report *out, const char *data_dir, const struct fsck_options *opt)
{
    struct fsck f = {.opt = opt, .rep = out};
    int rc;

    memset(out, 0, sizeof(*out));
    /* read-only: a missing database is an error here, never created */
    if ((rc = store_open_readonly(data_dir)) < 0 || (rc = blobstore_open(data_dir)) < 0 ||
        (rc = blobstore_use(opt->blob_store)) < 0 || (rc = read_snapshot(&f)) < 0)
        goto done;
    test_pause();
    f.buf = xmalloc(READ_CHUNK);
    if ((rc = check_blobs(&f)) < 0 || (rc = check_uploads(&f)) < 0)
        goto done;
    fprintf(opt->out,
            "fsck: checked %lld repositories, %lld manifests, %lld references, %lld tags, %lld blobs (%lld bytes%s), "
            "%lld uploads: %lld problem%s\n",
            (long long)out->repositories, (long long)out->manifests, (long long)out->references, (long long)out->tags,
            (long long)out->blobs, (long long)out->blob_bytes, opt->verify_digests ? ", digests verified" : "",
            (long long)out->uploads, (long long)out->problems, out->problems == 1 ? "" : "s");
    if (blobstore_has_archive())
        fprintf(opt->out, "fsck: %lld blobs in the archive dir, %lld in both places\n", (long long)out->archived_blobs,
                (long long)out->blobs_in_both);
    /* after the summary, and not problems: reads take the store's copy */
    for (size_t k = 0; k < f.nboth; k++)
        fprintf(opt->out, "fsck: note: blob-in-both-places blob=%s\n", f.blobs[f.both[k]].digest);
    rc = 0;
done:
    for (size_t i = 0; i < f.nrepos; i++)
        free(f.repos[i].name);
    free(f.repos);
    free(f.blobs);
    free(f.both);
    free(f.uploads);
    free(f.buf);
    store_close_thread();
    return rc;
}
