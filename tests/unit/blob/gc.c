/*
 * Unit tests for src/blob/gc.c in a fresh data directory per test: what
 * GC takes (a link no manifest uses, the blob no repository links, a file
 * with no record) and what it leaves (everything a manifest references,
 * anything younger than the review delay, a link confirmed to a client
 * lately), with ages taken from commit times: a blob renamed into place
 * from an upload whose bytes arrived long ago is young until its record is
 * written, and bytes left by a crash after GC's commit are removed by the
 * next run. The review queues the store's triggers keep are checked after
 * each change: nothing unreferenced is ever left without a review.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <sqlite3.h>

#include "blob/blobstore.h"
#include "blob/gc.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "store/gc.h"
#include "store/store.h"
#include "tmpdir.h"

#define ACCT "111122223333"
#define MINUTE_MS ((int64_t)60 * 1000)
#define HOUR_MS (60 * MINUTE_MS)

struct fixture {
    char dir[128];
    int64_t repo;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct repo r;
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-gc-test-XXXXXX");
    if (!mkdtemp(f->dir) || store_open(f->dir) < 0 || blobstore_open(f->dir) < 0 || store_account_create(ACCT) < 0)
        return -1;
    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), ACCT);
    r.name = "web";
    if (store_repo_create(&r) < 0)
        return -1;
    f->repo = r.id;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_close_thread();
    if (tmpdir_remove(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static void blob_file(char out[320], struct fixture *f, const char *digest)
{
    snprintf(out, 320, "%s/blobs/sha256/%.2s/%s", f->dir, digest + 7, digest + 7);
}

static bool on_disk(struct fixture *f, const char *digest)
{
    char path[320];
    struct stat st;
    blob_file(path, f, digest);
    return stat(path, &st) == 0;
}

static void age_file(const char *path, int64_t ms)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= ms / 1000;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void sql(struct fixture *f, const char *text)
{
    char path[160];
    sqlite3 *d;
    snprintf(path, sizeof(path), "%s/berth.db", f->dir);
    assert_int_equal(sqlite3_open(path, &d), SQLITE_OK);
    assert_int_equal(sqlite3_exec(d, text, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
}

/* Uploads content as a blob file (no record) and returns its digest. */
static void put_bytes(char out[DIGEST_MAX], const char *content)
{
    struct upload u;
    uint64_t size;
    digest_sha256(out, content, strlen(content));
    assert_int_equal(upload_begin(&u), 0);
    assert_int_equal(upload_append(&u, content, strlen(content)), 0);
    assert_int_equal(upload_commit(&u, out, &size), 0);
}

/* A blob with its record and link, an hour old on disk and in the store. */
static void put_old_blob(struct fixture *f, char out[DIGEST_MAX], const char *content, bool link)
{
    char path[320];
    put_bytes(out, content);
    assert_int_equal(store_blob_add(out, strlen(content)), 0);
    if (link)
        assert_int_equal(store_blob_link(f->repo, out), 0);
    blob_file(path, f, out);
    age_file(path, HOUR_MS);
}

static void age_records(struct fixture *f)
{
    sql(f, "UPDATE blobs SET created_at = created_at - 3600000; UPDATE repo_blobs SET linked_at = linked_at - 3600000;"
           "UPDATE gc_link_reviews SET queued_at = queued_at - 3600000; UPDATE gc_blob_reviews SET queued_at = queued_at - 3600000");
}

static int count_untracked(void *ctx, int64_t repo_id, const char *digest)
{
    (*(int *)ctx)++;
    return 0;
}

/* Every link no manifest uses and every blob no repository links has a review. */
static void assert_tracked(void)
{
    int n = 0;
    assert_int_equal(store_gc_untracked_each(count_untracked, &n), 0);
    assert_int_equal(n, 0);
}

/* One pass with a review delay of a minute, sweeping every directory. */
static int gc_pass(struct gc_report *rep)
{
    struct gc_options opt = {.delay_ms = MINUTE_MS, .upload_grace_ms = 24 * HOUR_MS, .sweep_count = 256};
    int rc = gc_run(rep, &opt);
    assert_tracked();
    return rc;
}

static void put_manifest(struct fixture *f, struct manifest *m, const char *body, const char *layer, const char *tag)
{
    memset(m, 0, sizeof(*m));
    m->body = (char *)body;
    m->size = strlen(body);
    digest_sha256(m->digest, m->body, m->size);
    m->media_type = "application/vnd.oci.image.manifest.v1+json";
    struct manifest_ref ref = {layer, false};
    assert_int_equal(store_manifest_put(f->repo, m, &ref, 1, tag), 0);
}

static void test_collects_what_nothing_uses(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    char used[DIGEST_MAX], unused[DIGEST_MAX], unlinked[DIGEST_MAX], orphan[DIGEST_MAX], path[320];
    uint64_t size;
    put_old_blob(f, used, "used layer", true);
    put_old_blob(f, unused, "pushed, never used", true);
    put_old_blob(f, unlinked, "linked nowhere", false);
    put_bytes(orphan, "a file with no record");
    blob_file(path, f, orphan);
    age_file(path, HOUR_MS);
    struct manifest m;
    put_manifest(f, &m, "{\"m\":1}", used, "v1");
    assert_tracked();
    age_records(f);

    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped, 1);
    assert_int_equal(rep.blobs_removed, 2);
    assert_int_equal(rep.orphans_removed, 1);
    assert_true(on_disk(f, used));
    assert_int_equal(store_blob_linked(f->repo, used, &size), 0);
    const char *gone[] = {unused, unlinked, orphan};
    for (int i = 0; i < 3; i++) {
        assert_false(on_disk(f, gone[i]));
        assert_int_equal(store_blob_size(gone[i], &size), E_NOTFOUND);
    }
    /* a second run finds nothing */
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.blobs_removed + rep.orphans_removed + rep.links_dropped, 0);
    assert_true(on_disk(f, used));
}

/* An upload whose last bytes arrived two hours ago is committed: the file
 * is renamed into place, and its record is not written yet (a slow commit:
 * the request is between upload_commit() and store_blob_add()). GC runs
 * now, with a grace of a minute. The file must stay: its age is counted
 * from the commit, not from its last write. */
static void test_spares_a_blob_committed_before_its_record(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    struct upload u;
    char digest[DIGEST_MAX], id[37], path[320];
    uint64_t size;
    const char *content = "bytes that arrived long ago";
    digest_sha256(digest, content, strlen(content));
    assert_int_equal(upload_begin(&u), 0);
    memcpy(id, u.id, sizeof(id));
    assert_int_equal(upload_append(&u, content, strlen(content)), 0);
    upload_close(&u);
    snprintf(path, sizeof(path), "%s/uploads/%s", f->dir, id);
    age_file(path, 2 * HOUR_MS);

    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(upload_commit(&u, digest, &size), 0);
    assert_int_equal(store_blob_size(digest, &size), E_NOTFOUND); /* no record yet */
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.orphans_removed, 0);
    assert_true(on_disk(f, digest));

    /* the commit finishes: the blob is served */
    assert_int_equal(store_blob_add(digest, strlen(content)), 0);
    assert_int_equal(store_blob_link(f->repo, digest), 0);
    assert_int_equal(gc_pass(&rep), 0);
    assert_true(on_disk(f, digest));
    assert_int_equal(store_blob_linked(f->repo, digest, &size), 0);
}

/* GC committed the deletion of a record and the process died before it
 * unlinked the bytes: the next run removes them as an orphan. */
static void test_removes_bytes_left_by_a_crash_after_commit(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    char digest[DIGEST_MAX];
    uint64_t size;
    put_old_blob(f, digest, "record deleted, bytes left", false);
    sql(f, "DELETE FROM blobs");
    assert_true(on_disk(f, digest));
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.orphans_removed, 1);
    assert_false(on_disk(f, digest));
    assert_int_equal(store_blob_size(digest, &size), E_NOTFOUND);
}

/* Nothing younger than the grace goes: a fresh link no manifest uses yet
 * (a push between its layers and its manifest), a fresh file. */
static void test_spares_the_young(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    char linked[DIGEST_MAX], orphan[DIGEST_MAX];
    uint64_t size;
    put_bytes(linked, "layer of a push in progress");
    assert_int_equal(store_blob_add(linked, strlen("layer of a push in progress")), 0);
    assert_int_equal(store_blob_link(f->repo, linked), 0);
    put_bytes(orphan, "just renamed into place");
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped + rep.blobs_removed + rep.orphans_removed, 0);
    assert_true(on_disk(f, linked));
    assert_true(on_disk(f, orphan));
    assert_int_equal(store_blob_linked(f->repo, linked, &size), 0);
}

/* A link a client was just told about (HEAD, BatchCheckLayerAvailability:
 * store_gc_link_touch()) waits the whole delay again, however old it is. */
static void test_spares_a_link_confirmed_lately(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    char digest[DIGEST_MAX];
    uint64_t size;
    put_old_blob(f, digest, "checked by a push just now", true);
    age_records(f);
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_gc_link_touch(f->repo, digest, now_ms()), 0);
    assert_int_equal(store_commit(), 0);
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped + rep.blobs_removed, 0);
    assert_int_equal(store_blob_linked(f->repo, digest, &size), 0);
    /* the manifest lands: the link is referenced, its review ends */
    struct manifest m;
    put_manifest(f, &m, "{\"m\":2}", digest, "v2");
    int64_t links, blobs;
    assert_int_equal(store_gc_pending(&links, &blobs), 0);
    assert_int_equal(links + blobs, 0);
    /* a link GC dropped cannot be touched back: the client hears "absent" */
    char gone[DIGEST_MAX];
    put_old_blob(f, gone, "dropped before the check", true);
    age_records(f);
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped, 1);
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_gc_link_touch(f->repo, gone, now_ms()), E_NOTFOUND);
    store_rollback();
}

/* Uploading content the repository already links makes the link young
 * again (image_upload_commit() links it anew). */
static void test_spares_a_link_uploaded_again(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    char digest[DIGEST_MAX];
    uint64_t size;
    put_old_blob(f, digest, "uploaded twice", true);
    age_records(f);
    assert_int_equal(store_blob_link(f->repo, digest), 0);
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped, 0);
    assert_int_equal(store_blob_linked(f->repo, digest, &size), 0);
}

/* Deleting a manifest, or a whole repository, queues what it used: once
 * the delay has passed, the links and the bytes go; what another
 * repository still uses stays. */
static void test_deletes_free_their_bytes(void **state)
{
    struct fixture *f = *state;
    struct gc_report rep;
    struct manifest m1, m2;
    struct repo other;
    char mine[DIGEST_MAX], shared[DIGEST_MAX];
    uint64_t size;
    memset(&other, 0, sizeof(other));
    snprintf(other.account_id, sizeof(other.account_id), ACCT);
    other.name = "other";
    assert_int_equal(store_repo_create(&other), 0);
    put_old_blob(f, mine, "only web uses this", true);
    put_old_blob(f, shared, "both use this", true);
    assert_int_equal(store_blob_link(other.id, shared), 0);
    put_manifest(f, &m1, "{\"m\":1}", mine, "a");
    put_manifest(f, &m2, "{\"m\":2}", shared, "b");
    struct manifest m3;
    memset(&m3, 0, sizeof(m3));
    m3.body = "{\"m\":3}";
    m3.size = strlen(m3.body);
    digest_sha256(m3.digest, m3.body, m3.size);
    m3.media_type = "application/vnd.oci.image.manifest.v1+json";
    struct manifest_ref ref = {shared, false};
    assert_int_equal(store_manifest_put(other.id, &m3, &ref, 1, "c"), 0);
    assert_tracked();

    assert_int_equal(store_manifest_delete(f->repo, m1.digest), 0);
    assert_int_equal(store_manifest_delete(f->repo, m2.digest), 0);
    assert_tracked();
    /* not before the delay */
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped + rep.blobs_removed, 0);
    age_records(f);
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.links_dropped, 2);
    assert_int_equal(rep.blobs_removed, 1);
    assert_int_equal(rep.bytes_freed, (int64_t)strlen("only web uses this"));
    assert_false(on_disk(f, mine));
    assert_true(on_disk(f, shared));
    assert_int_equal(store_blob_linked(other.id, shared, &size), 0);

    /* the other repository goes (DeleteRepository --force): its links
     * cascade, and the blob's review is due at once */
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_repo_delete(other.id), 0);
    assert_int_equal(store_commit(), 0);
    assert_tracked();
    assert_int_equal(gc_pass(&rep), 0);
    assert_int_equal(rep.blobs_removed, 1);
    assert_false(on_disk(f, shared));
    assert_int_equal(store_blob_size(shared, &size), E_NOTFOUND);
    int64_t links, blobs;
    assert_int_equal(store_gc_pending(&links, &blobs), 0);
    assert_int_equal(links + blobs, 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_collects_what_nothing_uses),
        T(test_spares_a_blob_committed_before_its_record),
        T(test_removes_bytes_left_by_a_crash_after_commit),
        T(test_spares_the_young),
        T(test_spares_a_link_confirmed_lately),
        T(test_spares_a_link_uploaded_again),
        T(test_deletes_free_their_bytes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
