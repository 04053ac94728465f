/*
 * Unit tests for src/registry/reference.c: repository names against
 * botocore's RepositoryName pattern (table cases and an exhaustive
 * comparison with POSIX regexec over short strings), OCI tags, and the /v2
 * path splitter on every route, names that contain route words, trailing
 * slashes and junk.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "image/reference.h"

static bool name_ok(const char *z)
{
    return repo_name_valid(slice_from(z));
}

static bool tag_ok(const char *z)
{
    return tag_valid(slice_from(z));
}

static void test_repo_name_table(void **state)
{
    static const struct {
        const char *name;
        bool ok;
    } cases[] = {
        {"ab", true},
        {"a", false}, /* min 2 */
        {"", false},
        {"web-app", true},
        {"team-a/web-app", true},
        {"a/b", true},
        {"a/b/c/d", true},
        {"a.b", true},
        {"a_b", true},
        {"a__b", true},    /* __ is one separator */
        {"a___b", false},  /* ___ is not */
        {"a-b", true},
        {"a--b", true},    /* -+ */
        {"a-----b", true},
        {"a._b", false},
        {"a_.b", false},
        {"a.-b", false},
        {"a-.b", false},
        {"a-_b", false},
        {"a_-b", false},
        {"a..b", false},
        {"a//b", false},
        {"a/.b", false},
        {"a./b", false},
        {"a/-b", false},
        {"a__/b", false},
        {"/ab", false},
        {"ab/", false},
        {".ab", false},
        {"ab.", false},
        {"_ab", false},
        {"ab_", false},
        {"-ab", false},
        {"ab-", false},
        {"ab--", false},
        {"Ab", false},
        {"aB", false},
        {"a b", false},
        {"a:b", false},
        {"a@b", false},
        {"a\\b", false},
        {"..", false},
        {"../etc", false},
        {"a/../b", false},
        {"0123", true},
        {"9/9", true},
        {"a.b_c__d-e--f/g", true},
        {"team_a__b/web--app.v2", true},
        {"a\xc3\xa9", false},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (name_ok(cases[i].name) != cases[i].ok)
            fail_msg("repo_name_valid(\"%s\") should be %d", cases[i].name, cases[i].ok);
    }
    /* embedded NUL: the slice length counts, not strlen */
    assert_false(repo_name_valid((struct slice){"ab\0cd", 5}));
    assert_true(repo_name_valid((struct slice){"ab\0cd", 2}));
}

static void test_repo_name_length(void **state)
{
    char z[REPO_NAME_MAX + 2];
    (void)state;
    memset(z, 'a', sizeof(z));
    assert_true(repo_name_valid((struct slice){z, 2}));
    assert_true(repo_name_valid((struct slice){z, REPO_NAME_MAX}));
    assert_false(repo_name_valid((struct slice){z, REPO_NAME_MAX + 1}));
    /* 256 characters with every separator kind */
    for (size_t i = 1; i + 1 < REPO_NAME_MAX; i += 4)
        z[i] = "/._-"[(i / 4) % 4];
    assert_true(repo_name_valid((struct slice){z, REPO_NAME_MAX}));
    assert_false(repo_name_valid((struct slice){z, REPO_NAME_MAX + 1}));
}

/* Every string of up to 7 characters over an alphabet that has each kind of
 * character, against the pattern compiled by regcomp (the pattern has no
 * back-references, so POSIX ERE accepts exactly what Python's re does). */
static void test_repo_name_exhaustive(void **state)
{
    static const char alphabet[] = "a9._-/Z";
    const size_t k = sizeof(alphabet) - 1;
    regex_t re;
    char z[8];
    size_t tested = 0;
    (void)state;
    assert_int_equal(regcomp(&re, "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    for (size_t len = 0; len <= 7; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= k;
        for (size_t n = 0; n < total; n++) {
            size_t v = n;
            for (size_t i = 0; i < len; i++) {
                z[i] = alphabet[v % k];
                v /= k;
            }
            z[len] = '\0';
            bool want = len >= 2 && regexec(&re, z, 0, NULL, 0) == 0;
            if (name_ok(z) != want)
                fail_msg("repo_name_valid(\"%s\") is %d, the pattern says %d", z, !want, want);
            tested++;
        }
    }
    regfree(&re);
    assert_true(tested > 900000);
}

static void test_tag(void **state)
{
    char z[TAG_MAX + 2];
    (void)state;
    assert_true(tag_ok("latest"));
    assert_true(tag_ok("v1.2.3"));
    assert_true(tag_ok("_"));
    assert_true(tag_ok("a"));
    assert_true(tag_ok("9"));
    assert_true(tag_ok("A-b_c.D"));
    assert_true(tag_ok("sha256-abc.sig"));
    assert_true(tag_ok("_a.-"));
    assert_false(tag_ok(""));
    assert_false(tag_ok(".hidden"));
    assert_false(tag_ok("-dash"));
    assert_false(tag_ok("a/b"));
    assert_false(tag_ok("a:b"));
    assert_false(tag_ok("a b"));
    assert_false(tag_ok("a+b"));
    assert_false(tag_ok("sha256:abc"));
    assert_false(tag_ok("caf\xc3\xa9"));
    assert_false(tag_valid((struct slice){"a\0b", 3}));
    memset(z, 'x', sizeof(z));
    assert_true(tag_valid((struct slice){z, TAG_MAX}));
    assert_false(tag_valid((struct slice){z, TAG_MAX + 1}));
    z[0] = '.';
    assert_false(tag_valid((struct slice){z, 5}));
}

static void expect_route(const char *path, enum v2_route route, const char *name, const char *ref)
{
    struct v2_path v;
    int rc = v2_path_parse(slice_from(path), &v);
    if (rc != 0)
        fail_msg("v2_path_parse(\"%s\") failed: %d %s", path, rc, error_message());
    if (v.route != route)
        fail_msg("v2_path_parse(\"%s\") route %d, want %d", path, (int)v.route, (int)route);
    if (!slice_eq(v.name, name))
        fail_msg("v2_path_parse(\"%s\") name '%.*s', want '%s'", path, (int)v.name.len, v.name.base, name);
    if (!slice_eq(v.ref, ref))
        fail_msg("v2_path_parse(\"%s\") ref '%.*s', want '%s'", path, (int)v.ref.len, v.ref.base, ref);
}

static void expect_notfound(const char *path)
{
    struct v2_path v;
    int rc = v2_path_parse(slice_from(path), &v);
    if (rc != E_NOTFOUND)
        fail_msg("v2_path_parse(\"%s\") = %d (route %d), want E_NOTFOUND", path, rc, (int)v.route);
}

#define D "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define U "3f0e7c5e-8a8b-4a6e-9f51-0c2b7e1d4a10"

static void test_routes(void **state)
{
    (void)state;
    expect_route("/v2", V2_BASE, "", "");
    expect_route("/v2/", V2_BASE, "", "");
    expect_route("/v2/_catalog", V2_CATALOG, "", "");
    expect_route("/v2/web/tags/list", V2_TAGS, "web", "list");
    expect_route("/v2/team-a/web-app/tags/list", V2_TAGS, "team-a/web-app", "list");
    expect_route("/v2/web/manifests/latest", V2_MANIFEST, "web", "latest");
    expect_route("/v2/web/manifests/" D, V2_MANIFEST, "web", D);
    expect_route("/v2/a/b/c/manifests/v1", V2_MANIFEST, "a/b/c", "v1");
    expect_route("/v2/web/blobs/" D, V2_BLOB, "web", D);
    expect_route("/v2/web/blobs/uploads/", V2_UPLOAD_START, "web", "");
    expect_route("/v2/web/blobs/uploads", V2_UPLOAD_START, "web", "");
    expect_route("/v2/team/web/blobs/uploads/", V2_UPLOAD_START, "team/web", "");
    expect_route("/v2/web/blobs/uploads/" U, V2_UPLOAD, "web", U);
    expect_route("/v2/team/web/blobs/uploads/" U, V2_UPLOAD, "team/web", U);
    expect_route("/v2/web/referrers/" D, V2_REFERRERS, "web", D);
    /* the splitter does not judge names or references: handlers do */
    expect_route("/v2/WEB/manifests/" D, V2_MANIFEST, "WEB", D);
    expect_route("/v2/web/blobs/not-a-digest", V2_BLOB, "web", "not-a-digest");
    expect_route("/v2/web/blobs/uploads/..", V2_UPLOAD, "web", "..");
}

static void test_route_words_in_names(void **state)
{
    (void)state;
    expect_route("/v2/blobs/blobs/" D, V2_BLOB, "blobs", D);
    expect_route("/v2/manifests/manifests/latest", V2_MANIFEST, "manifests", "latest");
    expect_route("/v2/a/manifests/b/manifests/latest", V2_MANIFEST, "a/manifests/b", "latest");
    expect_route("/v2/a/blobs/b/blobs/" D, V2_BLOB, "a/blobs/b", D);
    expect_route("/v2/a/blobs/uploads/blobs/" D, V2_BLOB, "a/blobs/uploads", D);
    expect_route("/v2/a/blobs/uploads/blobs/uploads/", V2_UPLOAD_START, "a/blobs/uploads", "");
    expect_route("/v2/a/blobs/uploads/blobs/uploads/" U, V2_UPLOAD, "a/blobs/uploads", U);
    expect_route("/v2/tags/tags/list", V2_TAGS, "tags", "list");
    expect_route("/v2/a/tags/list/tags/list", V2_TAGS, "a/tags/list", "list");
    expect_route("/v2/referrers/referrers/" D, V2_REFERRERS, "referrers", D);
    expect_route("/v2/_catalog/manifests/x", V2_MANIFEST, "_catalog", "x");
    expect_route("/v2/v2/manifests/x", V2_MANIFEST, "v2", "x");
    /* a tag named like a route word */
    expect_route("/v2/web/manifests/manifests", V2_MANIFEST, "web", "manifests");
    expect_route("/v2/web/manifests/blobs", V2_MANIFEST, "web", "blobs");
    expect_route("/v2/web/manifests/uploads", V2_MANIFEST, "web", "uploads");
    expect_route("/v2/web/manifests/list", V2_MANIFEST, "web", "list");
}

static void test_junk(void **state)
{
    (void)state;
    expect_notfound("");
    expect_notfound("/");
    expect_notfound("/v");
    expect_notfound("/v1/");
    expect_notfound("/V2/");
    expect_notfound("/v2x");
    expect_notfound("/v22/web/tags/list");
    expect_notfound("v2/web/tags/list");
    expect_notfound("/v2//");
    expect_notfound("/v2///");
    expect_notfound("/v2/_catalog/");
    expect_notfound("/v2/_catalogue");
    expect_notfound("/v2/web");
    expect_notfound("/v2/web/");
    expect_notfound("/v2/web/tags");
    expect_notfound("/v2/web/tags/");
    expect_notfound("/v2/web/tags/list/");
    expect_notfound("/v2/web/tags/lists");
    expect_notfound("/v2/web/manifests");
    expect_notfound("/v2/web/manifests/");
    expect_notfound("/v2/web/manifests/latest/");
    expect_notfound("/v2/web/blobs");
    expect_notfound("/v2/web/blobs/");
    expect_notfound("/v2/web/blobs/" D "/");
    expect_notfound("/v2/web/blobs/uploads/" U "/");
    expect_notfound("/v2/web/referrers/");
    expect_notfound("/v2/web/unknown/x");
    expect_notfound("/v2/manifests/latest"); /* no name */
    expect_notfound("/v2/blobs/" D);
    expect_notfound("/v2/blobs/uploads/");
    expect_notfound("/v2/blobs/uploads/" U);
    expect_notfound("/v2/tags/list");
    expect_notfound("/v2/referrers/" D);
    expect_notfound("/v2//blobs/uploads/");
    expect_notfound("/v2//manifests/latest");
    expect_notfound("/v2//blobs/uploads/" U);
    expect_notfound("/v2/web/uploads/" U);
    expect_notfound("/v2/web/blobs/uploads/../../etc");
}

static void test_out_is_reset(void **state)
{
    struct v2_path v;
    (void)state;
    memset(&v, 0x5a, sizeof(v));
    assert_int_equal(v2_path_parse(slice_from("/nope"), &v), E_NOTFOUND);
    assert_int_equal(v.name.len, 0);
    assert_int_equal(v.ref.len, 0);
    /* a slice that is not NUL-terminated: only len bytes are read */
    static const char path[] = "/v2/web/manifests/latestXXXX";
    assert_int_equal(v2_path_parse((struct slice){path, sizeof(path) - 1 - 4}, &v), 0);
    assert_int_equal(v.route, V2_MANIFEST);
    assert_true(slice_eq(v.ref, "latest"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repo_name_table),
        cmocka_unit_test(test_repo_name_length),
        cmocka_unit_test(test_repo_name_exhaustive),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_route_words_in_names),
        cmocka_unit_test(test_junk),
        cmocka_unit_test(test_out_is_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
