/*
 * Unit tests for src/blob/blobstore.c in a fresh data directory per test:
 * upload sessions (begin, append, close, open again with the kept hash
 * state or, after a simulated restart, with the hash recomputed from the
 * file), commit with the right and a wrong digest (the session survives a
 * mismatch), sha512 commits, cancel, and that no path is ever built from an
 * invalid digest or upload id. Large appends go through the hasher and
 * writer threads: odd piece sizes, unaligned starts, a blob past the part
 * kept in the page cache and past the syncer's first sync, sessions resumed
 * across pipes, and a write that fails half-way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>

#include "blob/blobstore.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "tmpdir.h"

struct fixture {
    char dir[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    log_level = LOG_ERROR;
    snprintf(f->dir, sizeof(f->dir), "/tmp/berth-blob-test-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (blobstore_open(f->dir) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (tmpdir_remove(f->dir) != 0)
        return -1;
    free(f);
    return 0;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void sha256_of(char out[DIGEST_MAX], const char *z)
{
    digest_sha256(out, z, strlen(z));
}

static void sha512_of(char out[DIGEST_MAX], const void *data, size_t n)
{
    struct hasher h;
    hasher_init(&h, DIGEST_SHA512);
    hasher_update(&h, data, n);
    hasher_final(&h, out);
}

/* The whole content of a committed blob. */
static char *read_blob(const char *digest, uint64_t *size_out)
{
    int fd = -1;
    uint64_t size = 0;
    assert_int_equal(blob_open(digest, &fd, &size), 0);
    char *b = malloc(size + 1);
    assert_int_equal(pread(fd, b, size, 0), (ssize_t)size);
    b[size] = '\0';
    close(fd);
    *size_out = size;
    return b;
}

static void upload_file(char out[256], struct fixture *f, const char *id)
{
    snprintf(out, 256, "%.128s/uploads/%s", f->dir, id);
}

static void test_layout(void **state)
{
    struct fixture *f = *state;
    char p[256];
    snprintf(p, sizeof(p), "%s/blobs", f->dir);
    assert_true(exists(p));
    snprintf(p, sizeof(p), "%s/uploads", f->dir);
    assert_true(exists(p));
    /* opening again is fine */
    assert_int_equal(blobstore_open(f->dir), 0);
}

static void test_upload_commit(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char path[256], d[DIGEST_MAX], id[37];
    uint64_t size = 0;

    assert_int_equal(upload_begin(&u), 0);
    assert_int_equal(strlen(u.id), 36);
    assert_true(u.fd >= 0);
    assert_int_equal(u.offset, 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    assert_true(exists(path));
    assert_int_equal(upload_append(&u, "hello ", 6), 0);
    assert_int_equal(upload_append(&u, "", 0), 0);
    assert_int_equal(u.offset, 6);
    upload_close(&u);
    assert_int_equal(u.fd, -1);
    assert_int_equal(upload_size(id, &size), 0);
    assert_int_equal(size, 6);

    /* the next request continues where the last stopped, with the kept state */
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, 6);
    assert_int_equal(upload_append(&u, "world", 5), 0);
    sha256_of(d, "hello world");
    size = 0;
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, 11);
    assert_int_equal(u.fd, -1);
    upload_close(&u); /* harmless after a commit */

    /* the blob is in place under its digest, the session is gone */
    char blob[400];
    snprintf(blob, sizeof(blob), "%s/blobs/sha256/%.2s/%s", f->dir, d + 7, d + 7);
    assert_true(exists(blob));
    assert_false(exists(path));
    assert_int_equal(blob_stat(d, &size), 0);
    assert_int_equal(size, 11);
    char *content = read_blob(d, &size);
    assert_string_equal(content, "hello world");
    free(content);
    assert_int_equal(upload_size(id, &size), E_NOTFOUND);
    assert_int_equal(upload_open(&u, id), E_NOTFOUND);
}

static void test_empty_blob(void **state)
{
    struct upload u;
    char d[DIGEST_MAX];
    uint64_t size = 99;
    (void)state;
    assert_int_equal(upload_begin(&u), 0);
    sha256_of(d, "");
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, 0);
    assert_int_equal(blob_stat(d, &size), 0);
    assert_int_equal(size, 0);
}

static void test_restart_rehash(void **state)
{
    struct upload u;
    char d[DIGEST_MAX], id[37];
    uint64_t size;
    (void)state;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    assert_int_equal(upload_append(&u, "abc", 3), 0);
    upload_close(&u);
    /* a restart loses the in-memory hash state: opening does not read the
     * file (that would stall an HTTP thread); the commit hashes it */
    upload_forget(id);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, 3);
    assert_null(u.hash.ctx);
    assert_int_equal(upload_append(&u, "def", 3), 0);
    upload_close(&u);
    upload_forget(id);
    upload_forget(id); /* forgetting twice, or an unknown id, is harmless */
    upload_forget("not-an-id");
    assert_int_equal(upload_open(&u, id), 0);
    sha256_of(d, "abcdef");
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, 6);
}

static void test_rehash_large(void **state)
{
    struct upload u;
    char d[DIGEST_MAX], id[37];
    uint64_t size;
    size_t n = (3u << 20) + 12345; /* more than the 1 MiB rehash chunk, not a multiple of it */
    unsigned char *data = malloc(n);
    (void)state;
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + (i >> 11));
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    assert_int_equal(upload_append(&u, data, n / 2), 0);
    upload_close(&u);
    upload_forget(id);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, n / 2);
    assert_int_equal(upload_append(&u, data + n / 2, n - n / 2), 0);
    upload_close(&u);
    upload_forget(id);
    assert_int_equal(upload_open(&u, id), 0);
    digest_sha256(d, data, n);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, n);
    free(data);
}

static void test_state_offset_mismatch(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char d[DIGEST_MAX], id[37], path[256];
    uint64_t size;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    assert_int_equal(upload_append(&u, "abc", 3), 0);
    upload_close(&u);
    /* the file grew without the saved state knowing (a write that failed
     * half-way, another process): the stale state must not be used */
    upload_file(path, f, id);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "XYZ", 3), 3);
    close(fd);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, 6);
    sha256_of(d, "abcXYZ");
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, 6);
}

static void test_busy(void **state)
{
    struct upload u, v;
    char id[37];
    (void)state;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    /* a session being written is not handed to a second request */
    assert_int_equal(upload_open(&v, id), E_EXISTS);
    upload_close(&u);
    assert_int_equal(upload_open(&v, id), 0);
    assert_int_equal(upload_open(&u, id), E_EXISTS);
    upload_close(&v);
    assert_int_equal(upload_cancel(id), 0);
}

static void test_wrong_digest_keeps_session(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char right[DIGEST_MAX], wrong[DIGEST_MAX], id[37], path[256];
    uint64_t size = 77;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    assert_int_equal(upload_append(&u, "payload", 7), 0);
    sha256_of(right, "payload");
    sha256_of(wrong, "payloaD");
    assert_int_equal(upload_commit(&u, wrong, &size), E_MISMATCH);
    assert_non_null(strstr(error_message(), right));
    assert_int_equal(size, 77);
    assert_true(exists(path));
    assert_int_equal(blob_stat(wrong, &size), E_NOTFOUND);
    /* a malformed or unknown expected digest fails before anything moves */
    assert_int_equal(upload_commit(&u, "sha256:abc", &size), E_INVALID);
    assert_int_equal(upload_commit(&u, "sha256:../../../etc/passwd", &size), E_INVALID);
    assert_int_equal(upload_commit(&u, "md5:d41d8cd98f00b204e9800998ecf8427e", &size), E_UNSUPPORTED);
    assert_true(exists(path));
    /* the same open session can still be committed (the hash was not consumed) */
    assert_int_equal(upload_append(&u, "", 0), 0);
    assert_int_equal(upload_commit(&u, wrong, &size), E_MISMATCH);
    assert_int_equal(upload_commit(&u, right, &size), 0);
    assert_int_equal(size, 7);
    assert_false(exists(path));

    /* and after a mismatch, the client may close, continue and retry */
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    assert_int_equal(upload_append(&u, "part1", 5), 0);
    sha256_of(wrong, "part1");
    sha256_of(right, "part1part2");
    assert_int_equal(upload_commit(&u, right, &size), E_MISMATCH);
    upload_close(&u);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(upload_append(&u, "part2", 5), 0);
    assert_int_equal(upload_commit(&u, wrong, &size), E_MISMATCH);
    assert_int_equal(upload_commit(&u, right, &size), 0);
}

static void test_sha512_commit(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char d[DIGEST_MAX], d256[DIGEST_MAX], id[37], blob[400];
    uint64_t size;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    assert_int_equal(upload_append(&u, "sha512 ", 7), 0);
    upload_close(&u);
    upload_forget(id);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(upload_append(&u, "content", 7), 0);
    sha512_of(d, "sha512 content", 14);
    sha256_of(d256, "sha512 content");
    /* a sha512 digest of other content is a mismatch too */
    char bad[DIGEST_MAX];
    sha512_of(bad, "sha512 contenT", 14);
    assert_int_equal(upload_commit(&u, bad, &size), E_MISMATCH);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, 14);
    snprintf(blob, sizeof(blob), "%s/blobs/sha512/%.2s/%s", f->dir, d + 7, d + 7);
    assert_true(exists(blob));
    assert_int_equal(blob_stat(d, &size), 0);
    assert_int_equal(size, 14);
    assert_int_equal(blob_stat(d256, &size), E_NOTFOUND); /* stored under the digest it was committed as */
    char *content = read_blob(d, &size);
    assert_string_equal(content, "sha512 content");
    free(content);
}

static void test_dedupe(void **state)
{
    struct upload u;
    char d[DIGEST_MAX];
    uint64_t size;
    (void)state;
    sha256_of(d, "same");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(upload_begin(&u), 0);
        assert_int_equal(upload_append(&u, "same", 4), 0);
        assert_int_equal(upload_commit(&u, d, &size), 0);
    }
    assert_int_equal(blob_stat(d, &size), 0);
    assert_int_equal(size, 4);
}

static void test_cancel(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char id[37], path[256];
    uint64_t size;
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    assert_int_equal(upload_append(&u, "abc", 3), 0);
    upload_close(&u);
    assert_int_equal(upload_cancel(id), 0);
    assert_false(exists(path));
    assert_int_equal(upload_size(id, &size), E_NOTFOUND);
    assert_int_equal(upload_open(&u, id), E_NOTFOUND);
    assert_int_equal(upload_cancel(id), 0); /* already gone */
    /* a well-formed id nobody created */
    assert_int_equal(upload_open(&u, "00000000-0000-4000-8000-000000000000"), E_NOTFOUND);
    assert_int_equal(upload_size("00000000-0000-4000-8000-000000000000", &size), E_NOTFOUND);
}

static void test_bad_upload_ids(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    uint64_t size;
    char sentinel[256], id[37];
    static const char *const bad[] = {
        "",
        "../../etc",
        "../sentinel",
        "../uploads/../sentinel",
        "/etc/passwd",
        "3F0E7C5E-8A8B-4A6E-9F51-0C2B7E1D4A10", /* uppercase: not one this module made */
        "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a1",
        "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a100",
        "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a1/",
        "3f0e7c5e-8a8b-4a6e-9f51/0c2b7e1d4a10x",
        "3f0e7c5e08a8b04a6e09f5100c2b7e1d4a10",
        "..3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a",
        "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a1\n",
        "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4g10",
    };
    /* a file the traversals would reach */
    snprintf(sentinel, sizeof(sentinel), "%s/sentinel", f->dir);
    FILE *fp = fopen(sentinel, "w");
    assert_non_null(fp);
    fputs("keep", fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (upload_open(&u, bad[i]) != E_NOTFOUND)
            fail_msg("upload_open(\"%s\") did not refuse", bad[i]);
        if (upload_cancel(bad[i]) != E_NOTFOUND)
            fail_msg("upload_cancel(\"%s\") did not refuse", bad[i]);
        if (upload_size(bad[i], &size) != E_NOTFOUND)
            fail_msg("upload_size(\"%s\") did not refuse", bad[i]);
        upload_forget(bad[i]);
    }
    assert_true(exists(sentinel));
    /* a real session's id with a suffix is not that session */
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_close(&u);
    char longer[64];
    snprintf(longer, sizeof(longer), "%s/../../sentinel", id);
    assert_int_equal(upload_cancel(longer), E_NOTFOUND);
    assert_true(exists(sentinel));
    assert_int_equal(upload_size(id, &size), 0);
    assert_int_equal(upload_cancel(id), 0);
}

static void test_bad_digests(void **state)
{
    struct fixture *f = *state;
    char sentinel[256];
    uint64_t size;
    int fd = -1;
    static const char *const bad[] = {
        "",
        "sha256:../../../sentinel",
        "sha256:../../sentinel",
        "../sentinel",
        "sha256:" "../../../../../../../../../../../../../../../../../../../../../../../sentinel",
        "sha256/../../sentinel:abc",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
    };
    snprintf(sentinel, sizeof(sentinel), "%s/sentinel", f->dir);
    FILE *fp = fopen(sentinel, "w");
    assert_non_null(fp);
    fclose(fp);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (blob_stat(bad[i], &size) != E_INVALID)
            fail_msg("blob_stat(\"%s\") did not refuse", bad[i]);
        if (blob_open(bad[i], &fd, &size) != E_INVALID)
            fail_msg("blob_open(\"%s\") did not refuse", bad[i]);
        if (blob_remove(bad[i]) != E_INVALID)
            fail_msg("blob_remove(\"%s\") did not refuse", bad[i]);
    }
    assert_int_equal(fd, -1);
    assert_true(exists(sentinel));
    assert_int_equal(blob_stat("md5:d41d8cd98f00b204e9800998ecf8427e", &size), E_UNSUPPORTED);
    /* well-formed digests that are not there */
    char d[DIGEST_MAX];
    sha256_of(d, "never uploaded");
    assert_int_equal(blob_stat(d, &size), E_NOTFOUND);
    assert_int_equal(blob_open(d, &fd, &size), E_NOTFOUND);
    assert_int_equal(blob_remove(d), 0);
}

static void test_blob_remove(void **state)
{
    struct upload u;
    char d[DIGEST_MAX];
    uint64_t size;
    (void)state;
    sha256_of(d, "gone soon");
    assert_int_equal(upload_begin(&u), 0);
    assert_int_equal(upload_append(&u, "gone soon", 9), 0);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(blob_stat(d, NULL), 0);
    assert_int_equal(blob_remove(d), 0);
    assert_int_equal(blob_stat(d, &size), E_NOTFOUND);
}


/* n bytes that differ from offset to offset (a shifted copy would not hash
 * the same). */
static unsigned char *pattern(size_t n)
{
    unsigned char *b = malloc(n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (unsigned char)x;
    }
    return b;
}

/* Appends data[from, to) in pieces of the given sizes, round and round. */
static void append_pieces(struct upload *u, const unsigned char *data, size_t from, size_t to, const size_t *sizes, size_t nsizes)
{
    for (size_t i = 0; from < to; i++) {
        size_t k = sizes[i % nsizes];
        if (k > to - from)
            k = to - from;
        assert_int_equal(upload_append(u, data + from, k), 0);
        from += k;
    }
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void test_pipe_large(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char d[DIGEST_MAX], id[37], path[256];
    uint64_t size;
    /* past the 64 MiB kept in the page cache and the syncer's first 64 MiB
     * (32 MiB behind the writer), ending unaligned */
    size_t n = (110u << 20) + 4097;
    unsigned char *data = pattern(n);
    static const size_t sizes[] = {3, (4u << 20) + 1, 262143, 1 << 20, 65536, (2u << 20) + 5, 7};
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    append_pieces(&u, data, 0, n, sizes, sizeof(sizes) / sizeof(sizes[0]));
    assert_int_equal(u.offset, n);
    assert_int_equal(upload_flush(&u), 0);
    assert_int_equal(file_size(path), n);
    assert_int_equal(upload_flush(&u), 0); /* twice is harmless */
    /* the flushed hash is the content's, and so is the one kept by close */
    struct hasher h;
    char got[DIGEST_MAX];
    hasher_init(&h, DIGEST_SHA256);
    hasher_copy(&h, &u.hash);
    hasher_final(&h, got);
    digest_sha256(d, data, n);
    assert_string_equal(got, d);
    upload_close(&u);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, n);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, n);
    char *content = read_blob(d, &size);
    assert_int_equal(size, n);
    assert_memory_equal(content, data, n);
    free(content);
    free(data);
}

static void test_pipe_resume(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char d[DIGEST_MAX], wrong[DIGEST_MAX], id[37], path[256];
    uint64_t size;
    size_t n = (75u << 20) + 1234, cut1 = (10u << 20) + 7, cut2 = (66u << 20) + 3;
    unsigned char *data = pattern(n);
    static const size_t sizes[] = {(1u << 20) - 1, 131072, 5};
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    append_pieces(&u, data, 0, cut1, sizes, 3);
    upload_close(&u);
    assert_int_equal(file_size(path), cut1);
    /* a restart: the hash comes from the file; the next pipe starts at an
     * unaligned offset and crosses the part kept in the page cache */
    upload_forget(id);
    assert_int_equal(upload_open(&u, id), 0);
    assert_int_equal(u.offset, cut1);
    append_pieces(&u, data, cut1, cut2, sizes, 3);
    upload_close(&u);
    assert_int_equal(upload_open(&u, id), 0); /* the kept hash this time */
    assert_int_equal(u.offset, cut2);
    /* one append larger than the whole ring */
    assert_int_equal(upload_append(&u, data + cut2, n - cut2), 0);
    digest_sha256(wrong, data, n - 1);
    assert_int_equal(upload_commit(&u, wrong, &size), E_MISMATCH);
    assert_int_equal(file_size(path), n);
    digest_sha256(d, data, n);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, n);
    char *content = read_blob(d, &size);
    assert_memory_equal(content, data, n);
    free(content);
    free(data);
}

static void test_pipe_write_error(void **state)
{
    struct fixture *f = *state;
    struct upload u;
    char d[DIGEST_MAX], id[37], path[256];
    uint64_t size;
    size_t n = 30u << 20, limit = (20u << 20) + 100;
    unsigned char *data = pattern(n);
    struct rlimit old, lim;
    /* writes past limit fail with EFBIG half-way through the pipe */
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = limit;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(upload_begin(&u), 0);
    snprintf(id, sizeof(id), "%s", u.id);
    upload_file(path, f, id);
    for (size_t off = 0; off < n; off += 1u << 20)
        if (upload_append(&u, data + off, 1u << 20) < 0)
            break;
    /* found by an append or by the flush; the flush reports it in any case */
    assert_true(upload_flush(&u) < 0);
    assert_non_null(strstr(error_message(), "cannot write upload"));
    assert_int_equal(upload_flush(&u), 0); /* the session now ends where the file does */
    assert_true(u.offset <= limit);
    assert_int_equal(file_size(path), u.offset);
    upload_close(&u);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    /* the client asks where the upload stands and goes on from there */
    assert_int_equal(upload_open(&u, id), 0);
    size_t at = (size_t)u.offset;
    assert_true(at > 0 && at <= limit);
    assert_int_equal(upload_append(&u, data + at, n - at), 0);
    digest_sha256(d, data, n);
    assert_int_equal(upload_commit(&u, d, &size), 0);
    assert_int_equal(size, n);
    free(data);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_layout),       T(test_upload_commit),
        T(test_empty_blob),   T(test_restart_rehash),
        T(test_rehash_large), T(test_state_offset_mismatch),
        T(test_busy),         T(test_wrong_digest_keeps_session),
        T(test_sha512_commit), T(test_dedupe),
        T(test_cancel),       T(test_bad_upload_ids),
        T(test_bad_digests),  T(test_blob_remove),
        T(test_pipe_large),   T(test_pipe_resume),
        T(test_pipe_write_error),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
