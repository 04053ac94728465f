/*
 * Unit tests for the S3 client's pieces that need no object store
 * (src/blob/s3.c): the s3:// URL, keys, the XML reader, and SigV4 signing
 * through auth/sigv4.c (AWS's published S3 examples, and a round trip
 * through the verifier), plus the saved SHA-256 state of s3store.c; and
 * what the client does with a store's replies that are wrong (a listing
 * outside the prefix asked for or one whose token never moves, a ranged
 * GET answered with other bytes), against a loopback server that answers
 * canned replies.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/sigv4.h"
#include "blob/s3.h"
#include "blob/s3store.h"
#include "core/error.h"
#include "core/util.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define T20130524 1369353600 /* 2013-05-24T00:00:00Z */
#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_parse_url(void **state)
{
    struct s3 s;
    assert_int_equal(s3_parse_url(&s, "s3://berth-blobs/a/b/?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=eu-west-1&path_style=1"), 0);
    assert_string_equal(s.bucket, "berth-blobs");
    assert_string_equal(s.prefix, "a/b/");
    assert_string_equal(s.endpoint, "http://127.0.0.1:7480");
    assert_string_equal(s.host, "127.0.0.1:7480");
    assert_string_equal(s.region, "eu-west-1");
    assert_true(s.path_style);
    s3_release(&s);
    /* virtual-hosted: the bucket joins the host */
    assert_int_equal(s3_parse_url(&s, "s3://bkt?endpoint=https://s3.example.com"), 0);
    assert_string_equal(s.prefix, "");
    assert_string_equal(s.endpoint, "https://bkt.s3.example.com");
    assert_string_equal(s.host, "bkt.s3.example.com");
    assert_string_equal(s.region, "us-east-1");
    assert_false(s.path_style);
    s3_release(&s);
    static const char *const bad[] = {
        "file:/x",
        "s3://",
        "s3://Bad_Bucket?endpoint=http://h:1",
        "s3://ok-bucket",                               /* no endpoint */
        "s3://ok-bucket?endpoint=ftp://h",
        "s3://ok-bucket?endpoint=http://h:1/path",
        "s3://ok-bucket?endpoint=http://user@h:1",
        "s3://ok-bucket/../x?endpoint=http://h:1",
        "s3://ok-bucket/a//b?endpoint=http://h:1",
        "s3://ok-bucket/a b?endpoint=http://h:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (s3_parse_url(&s, bad[i]) != E_INVALID)
            fail_msg("accepted '%s'", bad[i]);
}

static void test_key_valid(void **state)
{
    assert_true(s3_key_valid("p/blobs/sha256/ab/abcdef"));
    assert_true(s3_key_valid("uploads/0f0e-1/state"));
    assert_false(s3_key_valid(""));
    assert_false(s3_key_valid("/lead"));
    assert_false(s3_key_valid("a//b"));
    assert_false(s3_key_valid("a/./b"));
    assert_false(s3_key_valid("a/../b"));
    assert_false(s3_key_valid("a/b/"));
    assert_false(s3_key_valid("a?b"));
    assert_false(s3_key_valid("a%2Fb"));
}

static void test_xml_field(void **state)
{
    char out[64];
    const char *err = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchUpload</Code><Message>gone &amp; "
                      "forgotten</Message></Error>";
    assert_int_equal(s3_xml_field(err, strlen(err), "Error", "Code", out, sizeof(out)), 0);
    assert_string_equal(out, "NoSuchUpload");
    assert_int_equal(s3_xml_field(err, strlen(err), "Error", "Message", out, sizeof(out)), 0);
    assert_string_equal(out, "gone & forgotten");
    assert_int_equal(s3_xml_field(err, strlen(err), "Error", "Key", out, sizeof(out)), E_NOTFOUND);
    assert_int_equal(s3_xml_field(err, strlen(err), "InitiateMultipartUploadResult", "UploadId", out, sizeof(out)),
                     E_NOTFOUND);
    const char *init = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
                       "<UploadId>2~abc-DEF_123</UploadId></InitiateMultipartUploadResult>";
    assert_int_equal(s3_xml_field(init, strlen(init), "InitiateMultipartUploadResult", "UploadId", out, sizeof(out)), 0);
    assert_string_equal(out, "2~abc-DEF_123");
    /* truncated to the buffer, always terminated */
    char tiny[4];
    assert_int_equal(s3_xml_field(init, strlen(init), "InitiateMultipartUploadResult", "UploadId", tiny, sizeof(tiny)), 0);
    assert_string_equal(tiny, "2~a");
    assert_int_equal(s3_xml_field("not xml", 7, "Error", "Code", out, sizeof(out)), E_INVALID);
    assert_int_equal(s3_xml_field("", 0, "Error", "Code", out, sizeof(out)), E_INVALID);
    /* no entities: a DTD is refused, nothing outside the document is read */
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE Error [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
                      "<Error><Code>&x;</Code></Error>";
    assert_int_equal(s3_xml_field(xxe, strlen(xxe), "Error", "Code", out, sizeof(out)), E_INVALID);
    assert_null(strstr(out, "root:"));
}

struct listing {
    int n;
    char keys[4][200];
    int64_t mtimes[4];
};

static int collect(void *ctx, const char *key, int64_t mtime_ms)
{
    struct listing *l = ctx;
    snprintf(l->keys[l->n], sizeof(l->keys[0]), "%s", key);
    l->mtimes[l->n++] = mtime_ms;
    return l->n == 4;
}

static void test_list_parse(void **state)
{
    const char *page = "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok/1=</NextContinuationToken>"
                       "<Contents><Key>p/blobs/sha256/7b/7b78</Key><LastModified>2026-11-29T05:31:36.000Z</LastModified>"
                       "</Contents><Contents><Key>p/../escape</Key></Contents>"
                       "<Contents><Key>p/uploads/x/state</Key></Contents></ListBucketResult>";
    struct listing l = {0};
    bool truncated = false;
    char next[64];
    assert_int_equal(s3_list_parse(page, strlen(page), collect, &l, &truncated, next, sizeof(next)), 0);
    assert_int_equal(l.n, 2); /* the key with ".." is not one of ours */
    assert_string_equal(l.keys[0], "p/blobs/sha256/7b/7b78");
    assert_int_equal(l.mtimes[0], INT64_C(1795930296000));
    assert_string_equal(l.keys[1], "p/uploads/x/state");
    assert_int_equal(l.mtimes[1], 0);
    assert_true(truncated);
    assert_string_equal(next, "tok/1=");
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
    assert_int_equal(s3_list_parse(last, strlen(last), collect, &l, &truncated, next, sizeof(next)), 0);
    assert_false(truncated);
    assert_int_equal(s3_list_parse("<Error><Code>AccessDenied</Code></Error>", 41, collect, &l, &truncated, next,
                                   sizeof(next)),
                     E_INVALID);
}

static struct slice sl(const char *z)
{
    return slice_from(z);
}

/* AWS's S3 SigV4 example "GET Object" (sig-v4-header-based-auth). */
static void test_sign_aws_example(void **state)
{
    struct sigv4_header hs[] = {
        {sl("host"), sl("examplebucket.s3.amazonaws.com")},
        {sl("range"), sl("bytes=0-9")},
        {sl("x-amz-content-sha256"), sl(EMPTY)},
        {sl("x-amz-date"), sl("20130524T000000Z")},
    };
    struct sigv4_request req = {.method = sl("GET"), .path = sl("/test.txt"), .query = sl(""), .headers = hs,
                                .nheaders = 4, .payload_sha256 = sl(EMPTY)};
    struct sigv4_signer s = {AKID, SECRET, "us-east-1", "s3"};
    char sig[65];
    assert_int_equal(sigv4_sign(sig, &req, sl("host;range;x-amz-content-sha256;x-amz-date"), false, &s, T20130524), 0);
    assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* AWS's presigned-URL example (sigv4-query-string-auth). */
static void test_presign_aws_example(void **state)
{
    struct sigv4_header hs[] = {{sl("host"), sl("examplebucket.s3.amazonaws.com")}};
    struct sigv4_request req = {
        .method = sl("GET"),
        .path = sl("/test.txt"),
        .query = sl("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
                    "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"),
        .headers = hs,
        .nheaders = 1,
        .payload_sha256 = sl("UNSIGNED-PAYLOAD"),
    };
    struct sigv4_signer s = {AKID, SECRET, "us-east-1", "s3"};
    char sig[65];
    assert_int_equal(sigv4_sign(sig, &req, sl("host"), true, &s, T20130524), 0);
    assert_string_equal(sig, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

static int secret_cb(void *ctx, struct slice id, char *secret, size_t cap, size_t *len)
{
    if (!slice_eq(id, AKID))
        return E_NOTFOUND;
    *len = strlen(SECRET);
    memcpy(secret, SECRET, *len);
    return 0;
}

/* What sigv4_sign() signs, sigv4_verify() accepts: one canonical request for both. */
static void test_sign_then_verify(void **state)
{
    char date[17], sig[65], auth[512];
    sigv4_amz_date(date, T20130524);
    assert_string_equal(date, "20130524T000000Z");
    struct sigv4_header hs[3] = {
        {sl("host"), sl("127.0.0.1:5000")},
        {sl("x-amz-date"), sl(date)},
        {sl("authorization"), sl("")},
    };
    struct sigv4_request req = {.method = sl("POST"), .path = sl("/"), .query = sl("a=1&b=x%20y"), .headers = hs,
                                .nheaders = 2, .payload_sha256 = sl(EMPTY)};
    struct sigv4_signer s = {AKID, SECRET, "us-east-1", "ecr"};
    assert_int_equal(sigv4_sign(sig, &req, sl("host;x-amz-date"), false, &s, T20130524), 0);
    snprintf(auth, sizeof(auth),
             "AWS4-HMAC-SHA256 Credential=" AKID "/20130524/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, "
             "Signature=%s",
             sig);
    hs[2].value = sl(auth);
    req.nheaders = 3;
    static const char *const services[] = {"ecr", NULL};
    struct sigv4_verifier v = {.region = "us-east-1", .services = services, .secret = secret_cb};
    struct sigv4_result res;
    assert_int_equal(sigv4_verify(&res, &v, &req, T20130524 + 5), 0);
    /* one byte of the query changed: refused */
    req.query = sl("a=2&b=x%20y");
    assert_int_equal(sigv4_verify(&res, &v, &req, T20130524 + 5), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_SIGNATURE_MISMATCH);
}

/* The saved hash state continues exactly where it stopped. */
static void test_hash_state_round_trip(void **state)
{
    unsigned char data[1000], a[32], b[32];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7);
    SHA256(data, sizeof(data), a);
    for (size_t cut = 0; cut <= sizeof(data); cut += 37) {
        SHA256_CTX c1, c2;
        char text[S3STORE_HASH_TEXT];
        SHA256_Init(&c1);
        SHA256_Update(&c1, data, cut);
        s3store_hash_save(text, &c1);
        memset(&c2, 0xaa, sizeof(c2));
        assert_int_equal(s3store_hash_load(&c2, text), 0);
        SHA256_Update(&c2, data + cut, sizeof(data) - cut);
        SHA256_Final(b, &c2);
        assert_memory_equal(a, b, 32);
    }
    SHA256_CTX c;
    assert_int_equal(s3store_hash_load(&c, "00"), E_INVALID);
    char text[S3STORE_HASH_TEXT];
    SHA256_Init(&c);
    s3store_hash_save(text, &c);
    text[7] = 'g';
    assert_int_equal(s3store_hash_load(&c, text), E_INVALID);
}

/* ---- a store that answers canned replies ---- */

#define CANNED_MAX 8

static struct canned {
    int listener;
    int port;
    const char *replies[CANNED_MAX]; /* one per request, in order; the last repeats */
    int n, served;
    char last_request[1024];
    pthread_t thread;
} fake;

static void *fake_serve(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(fake.listener, NULL, NULL);
        if (c < 0)
            return NULL;
        char req[4096];
        size_t got = 0;
        while (got < sizeof(req) - 1) {
            ssize_t r = read(c, req + got, sizeof(req) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[got] = '\0';
        snprintf(fake.last_request, sizeof(fake.last_request), "%.*s", (int)strcspn(req, "\r"), req);
        const char *reply = fake.replies[fake.served < fake.n ? fake.served : fake.n - 1];
        fake.served++;
        size_t len = strlen(reply), off = 0;
        while (off < len) {
            ssize_t w = write(c, reply + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(c);
    }
}

/* Starts the fake store and points s at it (path-style). */
static void fake_start(struct s3 *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    char url[128];
    fake.listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.listener >= 0);
    assert_int_equal(bind(fake.listener, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fake.listener, 8), 0);
    assert_int_equal(getsockname(fake.listener, (struct sockaddr *)&a, &alen), 0);
    fake.port = ntohs(a.sin_port);
    fake.served = 0;
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_serve, NULL), 0);
    snprintf(url, sizeof(url), "s3://bkt/p?endpoint=http://127.0.0.1:%d&path_style=1", fake.port);
    assert_int_equal(s3_parse_url(s, url), 0);
    s->access_key_id = strdup(AKID);
    s->secret = strdup(SECRET);
    s->timeout_seconds = 10;
}

static void fake_stop(struct s3 *s)
{
    shutdown(fake.listener, SHUT_RDWR);
    close(fake.listener);
    pthread_join(fake.thread, NULL);
    s3_release(s);
}

/* An HTTP reply with body. */
static const char *reply_of(char *out, size_t cap, const char *status_and_headers, const char *body)
{
    snprintf(out, cap, "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s", status_and_headers, strlen(body),
             body);
    return out;
}

static int count_key(void *ctx, const char *key, int64_t mtime_ms)
{
    (void)mtime_ms;
    struct listing *l = ctx;
    /* what s3store's walkers do: the name past the prefix */
    assert_true(strlen(key) >= strlen("p/blobs/"));
    snprintf(l->keys[l->n % 4], sizeof(l->keys[0]), "%s", key + strlen("p/blobs/"));
    l->n++;
    return 0;
}

/* A listing may hold keys outside the prefix asked for (a store's
 * mistake, or a hostile one): the caller, which reads past the prefix, is
 * never given one. */
static void test_list_keeps_to_the_prefix(void **state)
{
    struct s3 s;
    struct listing l = {0};
    char r1[1024];
    fake.replies[0] = reply_of(r1, sizeof(r1), "200 OK",
                               "<ListBucketResult><IsTruncated>false</IsTruncated>"
                               "<Contents><Key>a</Key></Contents>"
                               "<Contents><Key>p/blob</Key></Contents>"
                               "<Contents><Key>p/blobs/x1</Key></Contents>"
                               "<Contents><Key>q/blobs/x2</Key></Contents></ListBucketResult>");
    fake.n = 1;
    fake_start(&s);
    assert_int_equal(s3_list(&s, "p/blobs/", count_key, &l), 0);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.keys[0], "x1");
    assert_non_null(strstr(fake.last_request, "prefix=p%2Fblobs%2F"));
    fake_stop(&s);
}

/* A truncated page whose continuation token is the one it was asked with
 * would be asked for again forever: the listing fails instead. */
static void test_list_token_must_move(void **state)
{
    struct s3 s;
    struct listing l = {0};
    char r1[1024], r2[1024];
    fake.replies[0] = reply_of(r1, sizeof(r1), "200 OK",
                               "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t1"
                               "</NextContinuationToken><Contents><Key>p/blobs/x1</Key></Contents></ListBucketResult>");
    fake.replies[1] = reply_of(r2, sizeof(r2), "200 OK",
                               "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t1"
                               "</NextContinuationToken><Contents><Key>p/blobs/x2</Key></Contents></ListBucketResult>");
    fake.n = 2;
    fake_start(&s);
    assert_int_equal(s3_list(&s, "p/blobs/", count_key, &l), E_ERROR);
    assert_non_null(strstr(error_message(), "same continuation token"));
    assert_int_equal(fake.served, 2);
    assert_int_equal(l.n, 2);
    fake_stop(&s);
}

/* A ranged GET answered with other bytes than those asked for fails, and
 * writes no more than the range into the file. */
static void test_ranged_get_takes_only_its_range(void **state)
{
    struct s3 s;
    char r[1024];
    FILE *f = tmpfile();
    int fd = fileno(f);
    struct s3_object o;
    fake.n = 1;
    /* the Range ignored: the object from its start */
    fake.replies[0] = reply_of(r, sizeof(r), "200 OK", "0123456789");
    fake_start(&s);
    assert_int_equal(s3_get_fd(&s, "p/blobs/x", 4, 3, fd, &o), E_ERROR);
    assert_non_null(strstr(fake.last_request, "GET /bkt/p/blobs/x"));
    fake_stop(&s);
    /* another range */
    fake.replies[0] = reply_of(r, sizeof(r), "206 Partial Content\r\nContent-Range: bytes 0-2/10", "012");
    fake_start(&s);
    assert_int_equal(s3_get_fd(&s, "p/blobs/x", 4, 3, fd, &o), E_ERROR);
    fake_stop(&s);
    /* more bytes than the range */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    fake.replies[0] = reply_of(r, sizeof(r), "206 Partial Content\r\nContent-Range: bytes 4-6/10", "456789");
    fake_start(&s);
    assert_int_equal(s3_get_fd(&s, "p/blobs/x", 4, 3, fd, &o), E_ERROR);
    assert_true(lseek(fd, 0, SEEK_END) <= 3);
    fake_stop(&s);
    /* the range itself */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    fake.replies[0] = reply_of(r, sizeof(r), "206 Partial Content\r\nContent-Range: bytes 4-6/10", "456");
    fake_start(&s);
    assert_int_equal(s3_get_fd(&s, "p/blobs/x", 4, 3, fd, &o), 0);
    assert_int_equal(o.size, 10);
    char got[8] = "";
    assert_int_equal(pread(fd, got, sizeof(got), 0), 3);
    assert_memory_equal(got, "456", 3);
    fake_stop(&s);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test(test_xml_field),
        cmocka_unit_test(test_list_parse),
        cmocka_unit_test(test_sign_aws_example),
        cmocka_unit_test(test_presign_aws_example),
        cmocka_unit_test(test_sign_then_verify),
        cmocka_unit_test(test_hash_state_round_trip),
        cmocka_unit_test(test_list_keeps_to_the_prefix),
        cmocka_unit_test(test_list_token_must_move),
        cmocka_unit_test(test_ranged_get_takes_only_its_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
