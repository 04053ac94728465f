/*
 * Unit tests for src/auth/sigv4.c: SigV4 verification against AWS's
 * published signing test suite (AKIDEXAMPLE, 20150830T123600Z, service
 * "service"), against requests signed by botocore, and one test per way a
 * request is refused, checking the AWS error name and message.
 *
 * The botocore vectors were made with botocore 1.43 and these credentials:
 *
 *   import datetime, botocore.auth as A
 *   from botocore.awsrequest import AWSRequest
 *   from botocore.credentials import Credentials
 *   A.get_current_datetime = lambda *a, **k: datetime.datetime(2026, 11, 23, 12, 0, 0)
 *   c = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
 *   r = AWSRequest(method="POST", url="http://localhost:5000/", data=b"{}", headers={
 *       "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
 *       "Content-Type": "application/x-amz-json-1.1", "User-Agent": "aws-cli/2.0"})
 *   A.SigV4Auth(c, "ecr", "us-east-1").add_auth(r)           # header form
 *   A.SigV4QueryAuth(c, "ecr", "us-east-1", expires=3600)      # presigned form
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/sigv4.h"
#include "core/buf.h"
#include "core/digest.h"
#include "core/error.h"

#define SUITE_NOW 1440938160 /* 2015-08-30T12:36:00Z */
#define BOTO_NOW 1795435200  /* 2026-11-23T12:00:00Z */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const struct {
    const char *akid, *secret;
} keys[] = {
    {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
    {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
};

static int lookups;
static int lookup_fails;

static int lookup(void *ctx, struct slice akid, char *secret, size_t cap, size_t *len)
{
    (void)ctx;
    lookups++;
    if (lookup_fails)
        return E_ERROR;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (slice_eq(akid, keys[i].akid)) {
            size_t n = strlen(keys[i].secret);
            assert_true(n <= cap);
            memcpy(secret, keys[i].secret, n);
            *len = n;
            return 0;
        }
    }
    return E_NOTFOUND;
}

static const char *const suite_services[] = {"service", NULL};
static const char *const ecr_services[] = {"ecr", NULL};
static const char *const iam_services[] = {"iam", "sts", NULL};

static const struct sigv4_verifier suite_verifier = {"us-east-1", suite_services, lookup, NULL, false, false};
static const struct sigv4_verifier ecr_verifier = {"us-east-1", ecr_services, lookup, NULL, false, false};
static const struct sigv4_verifier iam_verifier = {"us-east-1", iam_services, lookup, NULL, false, false};

/* A request made of literals: headers as "Name", "value" pairs ending in NULL. */
struct req {
    struct sigv4_request r;
    struct sigv4_header h[16];
    char sha[DIGEST_MAX];
};

static void make(struct req *q, const char *method, const char *path, const char *query, const char *body, const char *const *hdrs)
{
    memset(q, 0, sizeof(*q));
    q->r.method = slice_from(method);
    q->r.path = slice_from(path);
    if (query)
        q->r.query = slice_from(query);
    size_t n = 0;
    for (; hdrs && hdrs[2 * n]; n++) {
        assert_true(n < 16);
        q->h[n].name = slice_from(hdrs[2 * n]);
        q->h[n].value = slice_from(hdrs[2 * n + 1]);
    }
    q->r.headers = q->h;
    q->r.nheaders = n;
    digest_sha256(q->sha, body, strlen(body));
    q->r.payload_sha256 = slice_from(q->sha + 7); /* past "sha256:" */
}

static int verify(struct sigv4_result *res, const struct sigv4_verifier *v, struct req *q, int64_t now)
{
    return sigv4_verify(res, v, &q->r, now);
}

#define SUITE_AUTH(signed, sig)                                                                                                    \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=" signed ", Signature=" sig

static void expect_suite_ok(const char *method, const char *path, const char *query, const char *const *hdrs)
{
    struct req q;
    struct sigv4_result res;
    make(&q, method, path, query, "", hdrs);
    int rc = verify(&res, &suite_verifier, &q, SUITE_NOW);
    if (rc != 0)
        fail_msg("%s %s: %s", method, path, res.message);
    assert_int_equal(res.error, SIGV4_OK);
    assert_string_equal(res.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(res.region, "us-east-1");
    assert_string_equal(res.service, "service");
    assert_string_equal(res.date, "20150830");
    assert_int_equal(res.signed_at, SUITE_NOW);
}

/* ---- AWS signing test suite ---------------------------------------------- */

static void test_suite_get_vanilla(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "example.amazonaws.com",
                       "X-Amz-Date",
                       "20150830T123600Z",
                       "Authorization",
                       SUITE_AUTH("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
                       NULL};
    expect_suite_ok("GET", "/", NULL, h);
    /* get-relative-relative-normalized: dot segments resolve to "/" */
    expect_suite_ok("GET", "/example1/example2/../..", NULL, h);
}

static void test_suite_query_order(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "example.amazonaws.com",
                       "X-Amz-Date",
                       "20150830T123600Z",
                       "Authorization",
                       SUITE_AUTH("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
                       NULL};
    expect_suite_ok("GET", "/", "Param2=value2&Param1=value1", h);
}

static void test_suite_query_unreserved(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "example.amazonaws.com",
                       "X-Amz-Date",
                       "20150830T123600Z",
                       "Authorization",
                       SUITE_AUTH("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
                       NULL};
    expect_suite_ok("GET", "/",
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                    "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    h);
}

static void test_suite_utf8(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "example.amazonaws.com",
                       "X-Amz-Date",
                       "20150830T123600Z",
                       "Authorization",
                       SUITE_AUTH("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
                       NULL};
    expect_suite_ok("GET", "/\xe1\x88\xb4", NULL, h);
    const char *hq[] = {"Host",
                        "example.amazonaws.com",
                        "X-Amz-Date",
                        "20150830T123600Z",
                        "Authorization",
                        SUITE_AUTH("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
                        NULL};
    expect_suite_ok("GET", "/", "\xe1\x88\xb4=bar", hq);
}

static void test_suite_paths(void **state)
{
    (void)state;
    const char *space[] = {"Host",
                           "example.amazonaws.com",
                           "X-Amz-Date",
                           "20150830T123600Z",
                           "Authorization",
                           SUITE_AUTH("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
                           NULL};
    expect_suite_ok("GET", "/example space/", NULL, space);
    const char *slashes[] = {"Host",
                             "example.amazonaws.com",
                             "X-Amz-Date",
                             "20150830T123600Z",
                             "Authorization",
                             SUITE_AUTH("host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),
                             NULL};
    expect_suite_ok("GET", "//example//", NULL, slashes);
}

static void test_suite_header_values(void **state)
{
    (void)state;
    const char *trim[] = {
        "Host",
        "example.amazonaws.com",
        "My-Header1",
        " value1",
        "My-Header2",
        " \"a   b   c\"",
        "X-Amz-Date",
        "20150830T123600Z",
        "Authorization",
        SUITE_AUTH("host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
        NULL};
    expect_suite_ok("GET", "/", NULL, trim);
    const char *dup[] = {
        "Host",
        "example.amazonaws.com",
        "My-Header1",
        "value2",
        "My-Header1",
        "value2",
        "My-Header1",
        "value1",
        "X-Amz-Date",
        "20150830T123600Z",
        "Authorization",
        SUITE_AUTH("host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
        NULL};
    expect_suite_ok("GET", "/", NULL, dup);
    /* get-header-value-multiline: the suite reads each folded line as one
     * more value of the header (value1,value2,value3) */
    const char *multi[] = {
        "Host",
        "example.amazonaws.com",
        "My-Header1",
        "value1",
        "My-Header1",
        "  value2",
        "My-Header1",
        "     value3",
        "X-Amz-Date",
        "20150830T123600Z",
        "Authorization",
        SUITE_AUTH("host;my-header1;x-amz-date", "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790"),
        NULL};
    expect_suite_ok("GET", "/", NULL, multi);
    /* get-header-value-order: repeated headers keep their order */
    const char *order[] = {
        "Host",
        "example.amazonaws.com",
        "My-Header1",
        "value4",
        "My-Header1",
        "value1",
        "My-Header1",
        "value3",
        "My-Header1",
        "value2",
        "X-Amz-Date",
        "20150830T123600Z",
        "Authorization",
        SUITE_AUTH("host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
        NULL};
    expect_suite_ok("GET", "/", NULL, order);
}

static void test_suite_presigned(void **state)
{
    (void)state;
    const char *h[] = {"Host", "example.amazonaws.com", NULL};
    struct req q;
    struct sigv4_result res;
    make(&q, "GET", "/\xe1\x88\xb4",
         "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
         "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600"
         "&X-Amz-Signature=10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44",
         "", h);
    assert_int_equal(verify(&res, &suite_verifier, &q, SUITE_NOW + 3000), 0);
    assert_true(res.presigned);
    make(&q, "GET", "/",
         "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256"
         "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
         "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600"
         "&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
         "", h);
    assert_int_equal(verify(&res, &suite_verifier, &q, SUITE_NOW), 0);
    /* past X-Amz-Expires */
    assert_int_equal(verify(&res, &suite_verifier, &q, SUITE_NOW + 3601), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_EXPIRED);
    assert_string_equal(res.message, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
                                     "(20150830T133601Z - 3600 sec.)");
}

/* The decoded-parameter form of the query gives the same answer. */
static void test_decoded_params(void **state)
{
    (void)state;
    const char *h[] = {"Host", "example.amazonaws.com", NULL};
    struct sigv4_param p[] = {
        {SLICE_LIT("Param2"), SLICE_LIT("value2")},
        {SLICE_LIT("Param1"), SLICE_LIT("value1")},
        {SLICE_LIT("X-Amz-Algorithm"), SLICE_LIT("AWS4-HMAC-SHA256")},
        {SLICE_LIT("X-Amz-Credential"), SLICE_LIT("AKIDEXAMPLE/20150830/us-east-1/service/aws4_request")},
        {SLICE_LIT("X-Amz-Date"), SLICE_LIT("20150830T123600Z")},
        {SLICE_LIT("X-Amz-SignedHeaders"), SLICE_LIT("host")},
        {SLICE_LIT("X-Amz-Expires"), SLICE_LIT("3600")},
        {SLICE_LIT("X-Amz-Signature"), SLICE_LIT("86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5")},
    };
    struct req q;
    struct sigv4_result res;
    make(&q, "GET", "/", NULL, "", h);
    q.r.params = p;
    q.r.nparams = sizeof(p) / sizeof(p[0]);
    assert_int_equal(verify(&res, &suite_verifier, &q, SUITE_NOW), 0);
    assert_true(res.presigned);
}

/* ---- botocore ------------------------------------------------------------ */

#define BOTO_AUTH(scope, signed, sig)                                                                                              \
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/" scope                                                   \
    "/aws4_request, SignedHeaders=" signed ", Signature=" sig

static const char *gat_headers[] = {"Host",
                                    "localhost:5000",
                                    "X-Amz-Target",
                                    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                                    "Content-Type",
                                    "application/x-amz-json-1.1",
                                    "User-Agent",
                                    "aws-cli/2.0",
                                    "X-Amz-Date",
                                    "20261123T120000Z",
                                    "Content-Length",
                                    "2",
                                    "Authorization",
                                    BOTO_AUTH("ecr", "content-type;host;x-amz-date;x-amz-target",
                                              "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"),
                                    NULL};

static void test_botocore_ecr(void **state)
{
    (void)state;
    struct req q;
    struct sigv4_result res;
    make(&q, "POST", "/", NULL, "{}", gat_headers);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), 0);
    assert_string_equal(res.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    assert_string_equal(res.service, "ecr");
    assert_false(res.presigned);
    /* 14 minutes either way is within the window */
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW + 14 * 60), 0);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW - 14 * 60), 0);

    const char *h[] = {"host",
                       "localhost:5000",
                       "X-Amz-Target",
                       "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
                       "Content-Type",
                       "application/x-amz-json-1.1",
                       "X-Amz-Meta-Note",
                       "  two   spaces\tand tab  ",
                       "X-AMZ-DATE",
                       "20261123T120000Z",
                       "authorization",
                       BOTO_AUTH("ecr", "content-type;host;x-amz-date;x-amz-meta-note;x-amz-target",
                                 "d52e5ba13d82577cc58e6059bbbe716a1dd437c8fb9db044034546f1aafce6ee"),
                       NULL};
    make(&q, "POST", "/", NULL, "{\"repositoryNames\": [\"team-a/web-app\"], \"maxResults\": 10}", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), 0);
}

static void test_botocore_iam(void **state)
{
    (void)state;
    const char *h[] = {
        "Host",
        "localhost:5000",
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
        "X-Amz-Date",
        "20261123T120000Z",
        "Authorization",
        BOTO_AUTH("iam", "content-type;host;x-amz-date", "831a7e6a4d7447d95c49c4a2870ff693de765b5d8b1da7b84b6620d1716c22fd"),
        NULL};
    struct req q;
    struct sigv4_result res;
    make(&q, "POST", "/", NULL, "Action=ListUsers&Version=2010-05-08", h);
    assert_int_equal(verify(&res, &iam_verifier, &q, BOTO_NOW), 0);
    assert_string_equal(res.service, "iam");
    /* the same request at an ECR endpoint names the wrong service */
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_WRONG_SERVICE);
    assert_string_equal(res.message, "Credential should be scoped to correct service: 'ecr'. ");
}

/* A path that botocore normalises (dot segments) and encodes twice. */
static void test_botocore_path(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "localhost:5000",
                       "X-Amz-Date",
                       "20261123T120000Z",
                       "Authorization",
                       BOTO_AUTH("ecr", "host;x-amz-date", "5fa3ad02b31170db2188df428f0c6e759af7d454617c61723b80a7f4ce26104e"),
                       NULL};
    struct req q;
    struct sigv4_result res;
    struct buf b;
    make(&q, "GET", "/v2/team-a/web%20app/./x/../manifests/sha256:abc", NULL, "", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), 0);

    buf_init(&b, 4096);
    assert_int_equal(sigv4_canonical_request(&b, &q.r, SLICE_LIT("host;x-amz-date"), SLICE_LIT(EMPTY_SHA256), false), 0);
    assert_string_equal(b.ptr, "GET\n"
                               "/v2/team-a/web%2520app/manifests/sha256%3Aabc\n"
                               "\n"
                               "host:localhost:5000\n"
                               "x-amz-date:20261123T120000Z\n"
                               "\n"
                               "host;x-amz-date\n" EMPTY_SHA256);
    buf_release(&b);
}

static const char *boto_presigned_query =
    "Action=GetAuthorizationToken&Version=2015-09-21&note=a%20b%2Bc&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261123%2Fus-east-1%2Fecr%2Faws4_request&X-Amz-Date=20261123T120000Z"
    "&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=90ae18e5b8b0e2a287f06dffca7ecf1758f3fe5c18f42674f254daa1a74cbb54";

static void test_botocore_presigned(void **state)
{
    (void)state;
    const char *h[] = {"Host", "localhost:5000", NULL};
    struct req q;
    struct sigv4_result res;
    struct buf b;
    make(&q, "GET", "/", boto_presigned_query, "", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW + 3599), 0);
    assert_true(res.presigned);
    assert_string_equal(res.access_key_id, "AKIAIOSFODNN7EXAMPLE");

    buf_init(&b, 4096);
    assert_int_equal(sigv4_canonical_request(&b, &q.r, SLICE_LIT("host"), SLICE_LIT(EMPTY_SHA256), true), 0);
    assert_string_equal(b.ptr, "GET\n/\n"
                               "Action=GetAuthorizationToken&Version=2015-09-21&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                               "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261123%2Fus-east-1%2Fecr%2Faws4_request"
                               "&X-Amz-Date=20261123T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&note=a%20b%2Bc\n"
                               "host:localhost:5000\n\nhost\n" EMPTY_SHA256);
    buf_release(&b);

    /* expired one second after X-Amz-Expires */
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW + 3601), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_EXPIRED);
    /* a changed parameter breaks the signature */
    const char *tampered = "Action=DeleteRepository&Version=2015-09-21&note=a%20b%2Bc&X-Amz-Algorithm=AWS4-HMAC-SHA256"
                           "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261123%2Fus-east-1%2Fecr%2Faws4_request"
                           "&X-Amz-Date=20261123T120000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
                           "&X-Amz-Signature=90ae18e5b8b0e2a287f06dffca7ecf1758f3fe5c18f42674f254daa1a74cbb54";
    make(&q, "GET", "/", tampered, "", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_SIGNATURE_MISMATCH);
}

/* ---- refusals ------------------------------------------------------------ */

/* Runs the GetAuthorizationToken request with one header replaced (or
 * removed, value NULL) and expects error e. */
/* gat_headers with header name set to value (left out when value is NULL), into h[32]. */
static void gat_with(const char **h, const char *name, const char *value)
{
    size_t n = 0;
    bool replaced = false;
    for (size_t i = 0; gat_headers[i]; i += 2) {
        if (name && strcmp(gat_headers[i], name) == 0) {
            replaced = true;
            if (!value)
                continue;
            h[n++] = name;
            h[n++] = value;
            continue;
        }
        h[n++] = gat_headers[i];
        h[n++] = gat_headers[i + 1];
    }
    if (name && !replaced && value) {
        h[n++] = name;
        h[n++] = value;
    }
    h[n] = NULL;
}

static void expect_refused(const char *name, const char *value, const char *body, int64_t now, const struct sigv4_verifier *v,
                           enum sigv4_error e, const char *message)
{
    const char *h[32];
    struct req q;
    struct sigv4_result res;
    gat_with(h, name, value);
    make(&q, "POST", "/", NULL, body, h);
    int rc = verify(&res, v, &q, now);
    if (res.error != e)
        fail_msg("expected error %d, got %d: %s", e, res.error, res.message);
    assert_int_equal(rc, e == SIGV4_OK ? 0 : e == SIGV4_INTERNAL ? E_ERROR : E_UNAUTH);
    if (message)
        assert_string_equal(res.message, message);
    if (e != SIGV4_OK) /* the thread's detail holds the same message, perhaps cut short */
        assert_int_equal(strncmp(error_message(), res.message, strlen(error_message())), 0);
}

static const char msg_sig[] = "The request signature we calculated does not match the signature you provided. "
                              "Check your AWS Secret Access Key and signing method. "
                              "Consult the service documentation for details.";

static void test_wrong_secret(void **state)
{
    (void)state;
    /* AKIDEXAMPLE has another secret: same request, signature no longer matches */
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/ecr/aws4_request, "
                   "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
                   "Signature=5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_SIGNATURE_MISMATCH, msg_sig);
    /* a flipped signature digit */
    expect_refused("Authorization",
                   BOTO_AUTH("ecr", "content-type;host;x-amz-date;x-amz-target",
                             "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4d"),
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_SIGNATURE_MISMATCH, msg_sig);
    /* a changed signed header */
    expect_refused("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DeleteRepository", "{}", BOTO_NOW, &ecr_verifier,
                   SIGV4_SIGNATURE_MISMATCH, msg_sig);
    /* an unsigned header may change */
    expect_refused("User-Agent", "curl/8", "{}", BOTO_NOW, &ecr_verifier, SIGV4_OK, NULL);
}

static void test_altered_body(void **state)
{
    (void)state;
    expect_refused(NULL, NULL, "{\"registryIds\":[\"999999999999\"]}", BOTO_NOW, &ecr_verifier, SIGV4_SIGNATURE_MISMATCH, msg_sig);
    /* a declared payload hash must be the body's */
    expect_refused("X-Amz-Content-SHA256", EMPTY_SHA256, "{}", BOTO_NOW, &ecr_verifier, SIGV4_PAYLOAD_MISMATCH,
                   "The provided 'x-amz-content-sha256' header does not match what was computed.");
    expect_refused("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD", "{}", BOTO_NOW, &ecr_verifier, SIGV4_PAYLOAD_MISMATCH, NULL);
}

static void test_expired_and_future(void **state)
{
    (void)state;
    expect_refused(NULL, NULL, "{}", BOTO_NOW + 30 * 60, &ecr_verifier, SIGV4_EXPIRED,
                   "Signature expired: 20261123T120000Z is now earlier than 20261123T121500Z "
                   "(20261123T123000Z - 15 min.)");
    expect_refused(NULL, NULL, "{}", BOTO_NOW - 60 * 60, &ecr_verifier, SIGV4_NOT_YET_CURRENT,
                   "Signature not yet current: 20261123T120000Z is still later than 20261123T111500Z "
                   "(20261123T110000Z + 15 min.)");
    /* the window is inclusive at 15 minutes */
    expect_refused(NULL, NULL, "{}", BOTO_NOW + 15 * 60, &ecr_verifier, SIGV4_OK, NULL);
    expect_refused(NULL, NULL, "{}", BOTO_NOW + 15 * 60 + 1, &ecr_verifier, SIGV4_EXPIRED, NULL);
}

static void test_wrong_scope(void **state)
{
    (void)state;
    static const char *const eu_services[] = {"ecr", NULL};
    struct sigv4_verifier eu = {"eu-west-1", eu_services, lookup, NULL, false, false};
    /* a global service (IAM, STS) takes a signature scoped to any region */
    struct sigv4_verifier global = {"eu-west-1", suite_services, lookup, NULL, false, true};
    struct sigv4_verifier regional = {"eu-west-1", suite_services, lookup, NULL, false, false};
    const char *h[] = {"Host",
                       "example.amazonaws.com",
                       "X-Amz-Date",
                       "20150830T123600Z",
                       "Authorization",
                       SUITE_AUTH("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
                       NULL};
    struct req q;
    struct sigv4_result res;
    make(&q, "GET", "/", NULL, "", h);
    assert_int_equal(verify(&res, &global, &q, SUITE_NOW), 0);
    assert_string_equal(res.region, "us-east-1");
    assert_int_equal(verify(&res, &regional, &q, SUITE_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_WRONG_REGION);
    expect_refused(NULL, NULL, "{}", BOTO_NOW, &eu, SIGV4_WRONG_REGION,
                   "Credential should be scoped to a valid region, not 'us-east-1'. This server is region 'eu-west-1'.");
    expect_refused(NULL, NULL, "{}", BOTO_NOW, &iam_verifier, SIGV4_WRONG_SERVICE,
                   "Credential should be scoped to correct service: 'iam'. ");
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261122/us-east-1/ecr/aws4_request, "
                   "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_WRONG_DATE,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                   "'20261122' != '20261123', from '20261123T120000Z'.");
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/ecr/aws5_request, "
                   "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_WRONG_TERMINATOR,
                   "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ");
}

static void test_host_not_signed(void **state)
{
    (void)state;
    expect_refused("Authorization",
                   BOTO_AUTH("ecr", "content-type;x-amz-date;x-amz-target",
                             "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"),
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_HEADER_NOT_SIGNED,
                   "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
    expect_refused("Authorization", BOTO_AUTH("ecr", "", "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"), "{}",
                   BOTO_NOW, &ecr_verifier, SIGV4_HEADER_NOT_SIGNED, NULL);
    /* the date header must be signed too, or a captured request could be replayed with a new date */
    expect_refused(
        "Authorization",
        BOTO_AUTH("ecr", "content-type;host;x-amz-target", "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"),
        "{}", BOTO_NOW, &ecr_verifier, SIGV4_HEADER_NOT_SIGNED, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
}

static void test_unknown_key(void **state)
{
    (void)state;
    lookups = 0;
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20261123/us-east-1/ecr/aws4_request, "
                   "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_UNKNOWN_KEY, "The security token included in the request is invalid.");
    assert_int_equal(lookups, 1);
    expect_refused("X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLE", "{}", BOTO_NOW, &ecr_verifier, SIGV4_UNKNOWN_KEY, NULL);
    lookup_fails = 1;
    expect_refused(NULL, NULL, "{}", BOTO_NOW, &ecr_verifier, SIGV4_INTERNAL, NULL);
    lookup_fails = 0;
}

/* sigv4_precheck(): everything but the payload and the signature, with no body. */
static enum sigv4_error precheck(const char *name, const char *value, int64_t now, const struct sigv4_verifier *v)
{
    const char *h[32];
    struct req q;
    struct sigv4_result res;
    gat_with(h, name, value);
    make(&q, "POST", "/", NULL, "", h);
    q.r.payload_sha256 = (struct slice){NULL, 0}; /* no body yet */
    int rc = sigv4_precheck(&res, v, &q.r, now);
    assert_int_equal(rc, res.error == SIGV4_OK ? 0 : res.error == SIGV4_INTERNAL ? E_ERROR : E_UNAUTH);
    return res.error;
}

static void test_precheck(void **state)
{
    (void)state;
    lookups = 0;
    assert_int_equal(precheck(NULL, NULL, BOTO_NOW, &ecr_verifier), SIGV4_OK);
    assert_int_equal(lookups, 1); /* the key was looked up */
    /* what only the body or the signature shows passes here */
    assert_int_equal(precheck("X-Amz-Content-SHA256", EMPTY_SHA256, BOTO_NOW, &ecr_verifier), SIGV4_OK);
    assert_int_equal(precheck("Authorization",
                              BOTO_AUTH("ecr", "content-type;host;x-amz-date;x-amz-target",
                                        "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4d"),
                              BOTO_NOW, &ecr_verifier),
                     SIGV4_OK);
    /* what the headers show does not */
    assert_int_equal(precheck("Authorization", NULL, BOTO_NOW, &ecr_verifier), SIGV4_MISSING_AUTH);
    assert_int_equal(precheck("Authorization", "AWS4-HMAC-SHA256 Credential=x", BOTO_NOW, &ecr_verifier), SIGV4_INCOMPLETE);
    assert_int_equal(precheck(NULL, NULL, BOTO_NOW + 30 * 60, &ecr_verifier), SIGV4_EXPIRED);
    assert_int_equal(precheck(NULL, NULL, BOTO_NOW - 30 * 60, &ecr_verifier), SIGV4_NOT_YET_CURRENT);
    assert_int_equal(precheck(NULL, NULL, BOTO_NOW, &iam_verifier), SIGV4_WRONG_SERVICE);
    assert_int_equal(precheck("Authorization",
                              "AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20261123/us-east-1/ecr/aws4_request, "
                              "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00",
                              BOTO_NOW, &ecr_verifier),
                     SIGV4_UNKNOWN_KEY);
    assert_int_equal(precheck("Authorization",
                              BOTO_AUTH("ecr", "content-type;x-amz-date;x-amz-target",
                                        "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"),
                              BOTO_NOW, &ecr_verifier),
                     SIGV4_HEADER_NOT_SIGNED);
    lookup_fails = 1;
    assert_int_equal(precheck(NULL, NULL, BOTO_NOW, &ecr_verifier), SIGV4_INTERNAL);
    lookup_fails = 0;
}

static void test_missing_and_malformed(void **state)
{
    (void)state;
    expect_refused("Authorization", NULL, "{}", BOTO_NOW, &ecr_verifier, SIGV4_MISSING_AUTH, NULL);
    expect_refused("Authorization", "Bearer abc.def", "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Authorization header requires 'Credential' parameter. "
                   "Authorization header requires 'Signature' parameter. "
                   "Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc.def");
    expect_refused("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/ecr/aws4_request", "{}",
                   BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Authorization header requires 'Signature' parameter. "
                   "Authorization header requires 'SignedHeaders' parameter. "
                   "Authorization=AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/ecr/aws4_request");
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE /20261123/us-east-1/ecr/aws4_request, "
                   "SignedHeaders=host;x-amz-date, Signature=00",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "'/20261123/us-east-1/ecr/aws4_request' not a valid key=value pair (missing equal-sign) in "
                   "Authorization header: 'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE "
                   "/20261123/us-east-1/ecr/aws4_request, SignedHeaders=host;x-amz-date, Signature=00'.");
    expect_refused("Authorization",
                   "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/ecr, "
                   "SignedHeaders=host;x-amz-date, Signature=00",
                   "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got "
                   "'AKIAIOSFODNN7EXAMPLE/20261123/us-east-1/ecr'");
    expect_refused("X-Amz-Date", NULL, "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                   "Authorization=" BOTO_AUTH("ecr", "content-type;host;x-amz-date;x-amz-target",
                                              "5a5ecda2a3b3eaff0b298f1cceb871fbaf146b9a42f8660bc74192bd6a087f4c"));
    expect_refused("X-Amz-Date", "2026-11-23T12:00:00Z", "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Date must be in ISO-8601 'basic format'. Got '2026-11-23T12:00:00Z'. "
                   "See http://en.wikipedia.org/wiki/ISO_8601");
    expect_refused("X-Amz-Date", "20261131T120000Z", "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE, NULL);
    /* control characters from the client never reach a message */
    expect_refused("Authorization", "Bad\x01\x7f", "{}", BOTO_NOW, &ecr_verifier, SIGV4_INCOMPLETE,
                   "Authorization header requires 'Credential' parameter. "
                   "Authorization header requires 'Signature' parameter. "
                   "Authorization header requires 'SignedHeaders' parameter. Authorization=Bad??");
}

static void test_presigned_malformed(void **state)
{
    (void)state;
    const char *h[] = {"Host", "localhost:5000", NULL};
    struct req q;
    struct sigv4_result res;
    make(&q, "GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261123T120000Z", "", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_INCOMPLETE);
    assert_string_equal(res.message, "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                                     "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                                     "X-Amz-Expires parameters.");
    make(&q, "GET", "/",
         "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261123%2Fus-east-1%2Fecr%2F"
         "aws4_request&X-Amz-Date=20261123T120000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00",
         "", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_INCOMPLETE);
    assert_string_equal(res.message, "X-Amz-Expires must be less than a week (in seconds); that is, the given "
                                     "X-Amz-Expires must be less than 604800 seconds");
    /* both forms at once */
    const char *both[] = {"Host", "localhost:5000", "Authorization", "AWS4-HMAC-SHA256 Credential=x", NULL};
    make(&q, "GET", "/", boto_presigned_query, "", both);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_INCOMPLETE);
}

static void test_http_date(void **state)
{
    (void)state;
    /* the Date header instead of X-Amz-Date: parsed, and converted for the string to sign */
    struct req q;
    struct sigv4_result res;
    const char *h[] = {
        "Host", "localhost:5000", "Date", "Mon, 23 Nov 2026 12:00:00 GMT", "Authorization", BOTO_AUTH("ecr", "date;host", "00"),
        NULL};
    make(&q, "POST", "/", NULL, "{}", h);
    assert_int_equal(verify(&res, &ecr_verifier, &q, BOTO_NOW), E_UNAUTH);
    assert_int_equal(res.error, SIGV4_SIGNATURE_MISMATCH); /* everything else passed */
    assert_int_equal(res.signed_at, BOTO_NOW);
    h[3] = "Mon, 23 Nov 2026 12:00:00 -0000";
    make(&q, "POST", "/", NULL, "{}", h);
    verify(&res, &ecr_verifier, &q, BOTO_NOW);
    assert_int_equal(res.error, SIGV4_SIGNATURE_MISMATCH);
    h[3] = "Mon, 23 Nov 2026 12:00:00 PST";
    make(&q, "POST", "/", NULL, "{}", h);
    verify(&res, &ecr_verifier, &q, BOTO_NOW);
    assert_int_equal(res.error, SIGV4_INCOMPLETE);
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(sigv4_error_name(SIGV4_UNKNOWN_KEY, SIGV4_JSON), "UnrecognizedClientException");
    assert_string_equal(sigv4_error_name(SIGV4_UNKNOWN_KEY, SIGV4_QUERY), "InvalidClientTokenId");
    assert_string_equal(sigv4_error_name(SIGV4_SIGNATURE_MISMATCH, SIGV4_JSON), "InvalidSignatureException");
    assert_string_equal(sigv4_error_name(SIGV4_EXPIRED, SIGV4_QUERY), "SignatureDoesNotMatch");
    assert_string_equal(sigv4_error_name(SIGV4_INCOMPLETE, SIGV4_JSON), "IncompleteSignatureException");
    assert_string_equal(sigv4_error_name(SIGV4_INCOMPLETE, SIGV4_QUERY), "IncompleteSignature");
    assert_string_equal(sigv4_error_name(SIGV4_MISSING_AUTH, SIGV4_JSON), "MissingAuthenticationTokenException");
    assert_int_equal(sigv4_error_status(SIGV4_SIGNATURE_MISMATCH, SIGV4_QUERY), 403);
    assert_int_equal(sigv4_error_status(SIGV4_INCOMPLETE, SIGV4_JSON), 400);
    assert_int_equal(sigv4_error_status(SIGV4_INTERNAL, SIGV4_JSON), 500);
    struct sigv4_result r = {.error = SIGV4_MISSING_AUTH};
    assert_string_equal(sigv4_error_message(&r, SIGV4_QUERY), "Request is missing Authentication Token");
    assert_string_equal(sigv4_error_message(&r, SIGV4_JSON), "Missing Authentication Token");
    for (int e = 1; e < SIGV4_ERROR_COUNT; e++) {
        assert_true(strlen(sigv4_error_name((enum sigv4_error)e, SIGV4_JSON)) > 0);
        assert_true(strlen(sigv4_error_name((enum sigv4_error)e, SIGV4_QUERY)) > 0);
    }
}

static void test_parse_authorization(void **state)
{
    (void)state;
    struct sigv4_auth a;
    assert_int_equal(sigv4_parse_authorization(&a, SLICE_LIT("AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/ecr/"
                                                             "aws4_request,SignedHeaders=host;x-amz-date,Signature=ab")),
                     0);
    assert_true(slice_eq(a.access_key_id, "AKID"));
    assert_true(slice_eq(a.date, "20261123"));
    assert_true(slice_eq(a.region, "us-east-1"));
    assert_true(slice_eq(a.service, "ecr"));
    assert_true(slice_eq(a.terminator, "aws4_request"));
    assert_true(slice_eq(a.signed_headers, "host;x-amz-date"));
    assert_true(slice_eq(a.signature, "ab"));
    /* duplicates, empty credential parts, an empty header */
    assert_int_equal(sigv4_parse_authorization(&a, SLICE_LIT("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Credential=a/b/c/d/e, "
                                                             "SignedHeaders=host, Signature=ab")),
                     E_INVALID);
    assert_int_equal(sigv4_parse_authorization(&a, SLICE_LIT("AWS4-HMAC-SHA256 Credential=a//c/d/e, SignedHeaders=host, "
                                                             "Signature=ab")),
                     E_INVALID);
    assert_int_equal(sigv4_parse_authorization(&a, SLICE_LIT("")), E_INVALID);
    assert_int_equal(sigv4_parse_authorization(&a, (struct slice){NULL, 0}), E_INVALID);
    assert_int_equal(sigv4_parse_credential(&a, SLICE_LIT("a/b/c/d/e/f")), E_INVALID);
    /* an overlong header is refused before it is looked at */
    static char big[SIGV4_AUTHORIZATION_MAX + 2];
    memset(big, 'A', sizeof(big));
    assert_int_equal(sigv4_parse_authorization(&a, (struct slice){big, sizeof(big)}), E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_get_vanilla),
        cmocka_unit_test(test_suite_query_order),
        cmocka_unit_test(test_suite_query_unreserved),
        cmocka_unit_test(test_suite_utf8),
        cmocka_unit_test(test_suite_paths),
        cmocka_unit_test(test_suite_header_values),
        cmocka_unit_test(test_suite_presigned),
        cmocka_unit_test(test_decoded_params),
        cmocka_unit_test(test_botocore_ecr),
        cmocka_unit_test(test_botocore_iam),
        cmocka_unit_test(test_botocore_path),
        cmocka_unit_test(test_botocore_presigned),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_altered_body),
        cmocka_unit_test(test_expired_and_future),
        cmocka_unit_test(test_wrong_scope),
        cmocka_unit_test(test_host_not_signed),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_precheck),
        cmocka_unit_test(test_missing_and_malformed),
        cmocka_unit_test(test_presigned_malformed),
        cmocka_unit_test(test_http_date),
        cmocka_unit_test(test_error_names),
        cmocka_unit_test(test_parse_authorization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
