/*
 * Unit tests for src/store/images_ext.c against a fresh data directory per
 * test: the tag count the triggers keep through every way a tag changes,
 * the filtered pages (every combination of tag and status filter, paged
 * three at a time, against the answer computed here), status transitions,
 * batched pull times that never go back, and pull-time exclusions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "store/images_ext.h"
#include "store/store.h"
#include "tmpdir.h"

#define ACCT "111122223333"
#define NIMG 12

static char dir[64];

static int setup(void **state)
{
    (void)state;
    log_level = LOG_ERROR;
    snprintf(dir, sizeof(dir), "/tmp/berth-images-ext-XXXXXX");
    if (!mkdtemp(dir) || store_open(dir) < 0 || store_account_create(ACCT) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close_thread();
    return tmpdir_remove(dir);
}

static int64_t make_repo(const char *name)
{
    struct repo r;
    memset(&r, 0, sizeof(r));
    snprintf(r.account_id, sizeof(r.account_id), "%s", ACCT);
    r.name = (char *)name;
    assert_int_equal(store_repo_create(&r), 0);
    return r.id;
}

/* Puts manifest number i (its digest into out) with tag (may be NULL). */
static void put(int64_t repo, int i, const char *tag, char out[DIGEST_MAX])
{
    char body[64];
    struct manifest m;
    memset(&m, 0, sizeof(m));
    snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"n\":%d}", i);
    digest_sha256(m.digest, body, strlen(body));
    m.media_type = "application/vnd.oci.image.manifest.v1+json";
    m.size = strlen(body);
    m.image_size = 1000 + (uint64_t)i;
    m.body = body;
    assert_int_equal(store_begin(), 0);
    assert_int_equal(store_manifest_put(repo, &m, NULL, 0, tag), 0);
    assert_int_equal(store_commit(), 0);
    memcpy(out, m.digest, DIGEST_MAX);
}

static int64_t tag_count(int64_t repo, const char *digest)
{
    struct image_record r;
    assert_int_equal(store_image_get(repo, digest, &r), 0);
    int64_t n = r.tag_count;
    image_record_release(&r);
    return n;
}

static void test_tag_count_follows_tags(void **state)
{
    (void)state;
    char a[DIGEST_MAX], b[DIGEST_MAX];
    int64_t repo = make_repo("counts");
    put(repo, 1, "one", a);
    put(repo, 2, NULL, b);
    assert_int_equal(tag_count(repo, a), 1);
    assert_int_equal(tag_count(repo, b), 0);
    assert_int_equal(store_tag_put(repo, "two", a), 0);
    assert_int_equal(tag_count(repo, a), 2);
    assert_int_equal(store_tag_put(repo, "two", a), 0); /* the same again: no change */
    assert_int_equal(tag_count(repo, a), 2);
    assert_int_equal(store_tag_put(repo, "one", b), 0); /* a tag moves */
    assert_int_equal(tag_count(repo, a), 1);
    assert_int_equal(tag_count(repo, b), 1);
    assert_int_equal(store_tag_delete(repo, "two"), 0);
    assert_int_equal(tag_count(repo, a), 0);

    struct image_record r;
    assert_int_equal(store_image_get(repo, b, &r), 0);
    assert_string_equal(r.tags, "one");
    assert_int_equal(r.status, IMAGE_ACTIVE);
    image_record_release(&r);
    assert_int_equal(store_tag_put(repo, "alpha", b), 0);
    assert_int_equal(store_image_get(repo, b, &r), 0);
    assert_string_equal(r.tags, "alpha,one");
    image_record_release(&r);

    /* deleting the manifest takes its tags; the other image's count is untouched */
    assert_int_equal(store_tag_put(repo, "zeta", a), 0);
    assert_int_equal(store_manifest_delete(repo, b), 0);
    assert_int_equal(tag_count(repo, a), 1);
    assert_int_equal(store_image_get(repo, b, &r), E_NOTFOUND);
}

struct collect {
    char digests[NIMG][DIGEST_MAX];
    int n;
};

static int collect_one(void *ctx, const struct image_record *r)
{
    struct collect *c = ctx;
    assert_true(c->n < NIMG);
    memcpy(c->digests[c->n++], r->m.digest, DIGEST_MAX);
    return 0;
}

static int cmp_digest(const void *x, const void *y)
{
    return strcmp(x, y);
}

static void test_pages_of_every_filter(void **state)
{
    (void)state;
    char d[NIMG][DIGEST_MAX];
    bool tagged[NIMG];
    enum image_status st[NIMG];
    int64_t repo = make_repo("pages"), other = make_repo("other");
    for (int i = 0; i < NIMG; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "t%d", i);
        tagged[i] = i % 3 != 0;
        put(repo, i, tagged[i] ? tag : NULL, d[i]);
        st[i] = i % 4 == 1 ? IMAGE_ARCHIVED : i % 4 == 2 ? IMAGE_ACTIVATING : IMAGE_ACTIVE;
        if (st[i] != IMAGE_ACTIVE)
            assert_int_equal(store_image_set_status(repo, d[i], IMAGE_ACTIVE, IMAGE_ARCHIVED, 5), 0);
        if (st[i] == IMAGE_ACTIVATING)
            assert_int_equal(store_image_set_status(repo, d[i], IMAGE_ARCHIVED, IMAGE_ACTIVATING, 6), 0);
    }
    char unrelated[DIGEST_MAX];
    put(other, 0, NULL, unrelated); /* same digest as d[0], another repository */

    for (int tf = TAGS_ANY; tf <= TAGS_UNTAGGED; tf++) {
        for (int sf = IMAGE_STATUS_ANY; sf <= IMAGE_ACTIVATING; sf++) {
            struct collect want = {.n = 0}, got = {.n = 0};
            for (int i = 0; i < NIMG; i++)
                if ((tf == TAGS_ANY || (tf == TAGS_TAGGED) == tagged[i]) && (sf == IMAGE_STATUS_ANY || (int)st[i] == sf))
                    memcpy(want.digests[want.n++], d[i], DIGEST_MAX);
            qsort(want.digests, (size_t)want.n, DIGEST_MAX, cmp_digest);
            /* pages of three, each starting after the last digest of the one before */
            for (;;) {
                int before = got.n;
                const char *after = got.n ? got.digests[got.n - 1] : NULL;
                char cursor[DIGEST_MAX] = "";
                if (after)
                    memcpy(cursor, after, DIGEST_MAX);
                assert_int_equal(store_images_page(repo, tf, sf, after ? cursor : NULL, 3, collect_one, &got), 0);
                assert_true(got.n - before <= 3);
                if (got.n - before < 3)
                    break;
            }
            assert_int_equal(got.n, want.n);
            for (int i = 0; i < want.n; i++)
                assert_string_equal(got.digests[i], want.digests[i]);
        }
    }
}

static int collect_tag(void *ctx, const char *tag, const char *digest)
{
    char *out = ctx;
    size_t n = strlen(out);
    (void)digest;
    snprintf(out + n, 64 - n, "%s%s", n ? "," : "", tag);
    return 0;
}

static void test_tagged_pages_by_status(void **state)
{
    (void)state;
    char d[4][DIGEST_MAX], got[64];
    int64_t repo = make_repo("tagged");
    put(repo, 0, "a0", d[0]);
    put(repo, 1, "b1", d[1]);
    put(repo, 2, "c2", d[2]);
    put(repo, 3, NULL, d[3]);
    assert_int_equal(store_tag_put(repo, "a1", d[1]), 0);
    assert_int_equal(store_image_set_status(repo, d[1], IMAGE_ACTIVE, IMAGE_ARCHIVED, 1), 0);
    assert_int_equal(store_image_set_status(repo, d[3], IMAGE_ACTIVE, IMAGE_ARCHIVED, 1), 0);
    got[0] = '\0';
    assert_int_equal(store_tagged_page(repo, IMAGE_ARCHIVED, NULL, 10, collect_tag, got), 0);
    assert_string_equal(got, "a1,b1");
    got[0] = '\0';
    assert_int_equal(store_tagged_page(repo, IMAGE_ARCHIVED, "a1", 10, collect_tag, got), 0);
    assert_string_equal(got, "b1");
    got[0] = '\0';
    assert_int_equal(store_tagged_page(repo, IMAGE_ACTIVE, NULL, 1, collect_tag, got), 0);
    assert_string_equal(got, "a0");
    got[0] = '\0';
    assert_int_equal(store_tagged_page(repo, IMAGE_ACTIVE, "a0", 10, collect_tag, got), 0);
    assert_string_equal(got, "c2");
    got[0] = '\0';
    assert_int_equal(store_tagged_page(repo, IMAGE_STATUS_ANY, NULL, 10, collect_tag, got), 0);
    assert_string_equal(got, "a0,a1,b1,c2");
}

static void test_status_transitions(void **state)
{
    (void)state;
    char a[DIGEST_MAX];
    struct image_record r;
    int64_t repo = make_repo("status");
    put(repo, 1, "v1", a);
    assert_int_equal(store_image_set_status(repo, a, IMAGE_ARCHIVED, IMAGE_ACTIVATING, 10), E_NOTFOUND);
    assert_int_equal(store_image_set_status(repo, a, IMAGE_ACTIVE, IMAGE_ARCHIVED, 20), 0);
    assert_int_equal(store_image_set_status(repo, a, IMAGE_ACTIVE, IMAGE_ARCHIVED, 21), E_NOTFOUND);
    assert_int_equal(store_image_set_status(repo, a, IMAGE_ARCHIVED, IMAGE_ACTIVATING, 30), 0);
    assert_int_equal(store_image_get(repo, a, &r), 0);
    assert_int_equal(r.status, IMAGE_ACTIVATING);
    assert_int_equal(r.archived_ms, 20);
    assert_int_equal(r.activated_ms, 0);
    image_record_release(&r);
    assert_int_equal(store_image_set_status(repo, a, IMAGE_ACTIVATING, IMAGE_ACTIVE, 40), 0);
    assert_int_equal(store_image_get(repo, a, &r), 0);
    assert_int_equal(r.status, IMAGE_ACTIVE);
    assert_int_equal(r.archived_ms, 20);
    assert_int_equal(r.activated_ms, 40);
    image_record_release(&r);
    int s;
    assert_int_equal(image_status_parse("ANY", &s), 0);
    assert_int_equal(s, IMAGE_STATUS_ANY);
    assert_int_equal(image_status_parse("active", &s), E_INVALID);
}

static void test_pull_times_never_go_back(void **state)
{
    (void)state;
    struct pull_time v[2];
    struct manifest m;
    memset(v, 0, sizeof(v));
    int64_t repo = make_repo("pulls");
    put(repo, 1, NULL, v[0].digest);
    v[0].repo_id = repo;
    v[0].ms = 2000;
    v[1] = v[0];
    snprintf(v[1].digest, sizeof(v[1].digest), "sha256:%064d", 0); /* gone meanwhile: matches nothing */
    assert_int_equal(store_pull_times_write(v, 2), 0);
    v[0].ms = 1000;
    assert_int_equal(store_pull_times_write(v, 1), 0);
    assert_int_equal(store_manifest_get(repo, v[0].digest, false, &m), 0);
    assert_int_equal(m.last_pull_ms, 2000);
    manifest_release(&m);
}

static int collect_arn(void *ctx, const char *arn, int64_t created_ms)
{
    char *out = ctx;
    size_t n = strlen(out);
    (void)created_ms;
    out[n] = arn[strlen(arn) - 1];
    out[n + 1] = '\0';
    return 0;
}

static void test_exclusions(void **state)
{
    (void)state;
    const char *a = "arn:aws:iam::111122223333:user/a", *b = "arn:aws:iam::111122223333:user/b";
    int64_t n;
    char seen[8] = "";
    assert_int_equal(store_pull_exclusion_exists(ACCT, a), E_NOTFOUND);
    assert_int_equal(store_pull_exclusion_add(ACCT, b, 1), 0);
    assert_int_equal(store_pull_exclusion_add(ACCT, a, 2), 0);
    assert_int_equal(store_pull_exclusion_add(ACCT, a, 3), E_EXISTS);
    assert_int_equal(store_pull_exclusion_exists(ACCT, a), 0);
    assert_int_equal(store_pull_exclusion_count(ACCT, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_pull_exclusions_list(ACCT, NULL, 10, collect_arn, seen), 0);
    assert_string_equal(seen, "ab");
    seen[0] = '\0';
    assert_int_equal(store_pull_exclusions_list(ACCT, a, 10, collect_arn, seen), 0);
    assert_string_equal(seen, "b");
    assert_int_equal(store_pull_exclusion_delete(ACCT, a), 0);
    assert_int_equal(store_pull_exclusion_delete(ACCT, a), E_NOTFOUND);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_tag_count_follows_tags), T(test_pages_of_every_filter), T(test_tagged_pages_by_status), T(test_status_transitions),
        T(test_pull_times_never_go_back), T(test_exclusions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
