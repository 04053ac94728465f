/*
 * Unit tests for src/lifecycle/run.c (and the rows of src/store/lifecycle.c)
 * on a real store in a temporary directory: a run deletes an index before
 * the images it lists and an artifact with its subject, oldest first, and
 * records each action; what an index that stays lists is not touched; a
 * preview writes its results in rule order, oldest first, and a stored
 * preview whose text no longer parses is FAILED; a preview job the queue
 * gives up on leaves the preview FAILED, not IN_PROGRESS; a transition
 * archives through the image service and sinceImageTransitioned expires
 * what has been archived long enough.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/log.h"
#include "lifecycle/run.c"
#include "store/images_ext.h"
#include "tmpdir.h"

#define ACCT "111122223333"
#define MIN 60000LL

static char dir[64];
static struct repo repo;
static int64_t t0;

/* Makes name the repository the tests put images in. */
static int use_repo(const char *name)
{
    repo_release(&repo);
    memset(&repo, 0, sizeof(repo));
    snprintf(repo.account_id, sizeof(repo.account_id), "%s", ACCT);
    repo.name = strdup(name);
    repo.tag_mutability = strdup("MUTABLE");
    repo.encryption_type = strdup("AES256");
    return store_repo_create(&repo);
}

static int setup(void **state)
{
    log_level = LOG_ERROR;
    snprintf(dir, sizeof(dir), "/tmp/berth-lifecycle-test-XXXXXX");
    if (!mkdtemp(dir) || store_open(dir) < 0 || store_account_create(ACCT) < 0)
        return -1;
    t0 = now_ms() - 100 * MIN;
    return use_repo("team/app");
}

static int teardown(void **state)
{
    repo_release(&repo);
    store_close_thread();
    return tmpdir_remove(dir);
}

static void sql(const char *q)
{
    char path[128];
    sqlite3 *d;
    snprintf(path, sizeof(path), "%s/berth.db", dir);
    assert_int_equal(sqlite3_open(path, &d), SQLITE_OK);
    assert_int_equal(sqlite3_exec(d, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(d);
}

/* Puts a manifest pushed `minute` minutes after t0; returns its digest. */
static const char *put(char out[DIGEST_MAX], const char *name, int minute, const char *tag, const char *subject,
                       const char *const *children, size_t nchildren)
{
    char body[128];
    int len = snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"name\":\"%s\"}", name);
    struct manifest m = {
        .media_type = "application/vnd.oci.image.manifest.v1+json",
        .subject = (char *)subject,
        .size = (uint64_t)len,
        .body = body,
        .pushed_ms = t0 + minute * MIN,
    };
    struct manifest_ref refs[4];
    digest_sha256(m.digest, body, (size_t)len);
    for (size_t i = 0; i < nchildren; i++)
        refs[i] = (struct manifest_ref){children[i], true};
    assert_int_equal(store_manifest_put(repo.id, &m, refs, nchildren, tag), 0);
    memcpy(out, m.digest, DIGEST_MAX);
    return out;
}

struct seen {
    char lines[16][400];
    int n;
};

static void note(void *ctx, const struct lifecycle_event *e)
{
    struct seen *s = ctx;
    if (s->n < 16)
        snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%.12s %s %lld %s %s", e->digest + 7, e->tags_json,
                 (long long)e->priority, e->action, e->outcome);
}

static int count_history(void *ctx, const struct lifecycle_event *e)
{
    (*(int *)ctx)++;
    assert_string_equal(e->repository, "team/app");
    return 0;
}

static void test_run_order_index_and_referrers(void **state)
{
    char a[DIGEST_MAX], b[DIGEST_MAX], idx[DIGEST_MAX], sig[DIGEST_MAX], x[DIGEST_MAX], y[DIGEST_MAX],
        keep[DIGEST_MAX], shared[DIGEST_MAX], idx2[DIGEST_MAX];
    /* a, b: children of idx (pushed first); sig signs idx; shared is listed
     * by idx and by idx2, which stays */
    put(a, "a", 1, NULL, NULL, NULL, 0);
    put(b, "b", 2, NULL, NULL, NULL, 0);
    put(shared, "shared", 3, NULL, NULL, NULL, 0);
    const char *kids[] = {a, b, shared};
    put(idx, "idx", 4, "v1", NULL, kids, 3);
    put(sig, "sig", 5, NULL, idx, NULL, 0);
    put(x, "x", 6, "v2", NULL, NULL, 0);
    put(y, "y", 7, "v3", NULL, NULL, 0);
    const char *kids2[] = {shared};
    put(idx2, "idx2", 8, "v4", NULL, kids2, 1);
    put(keep, "keep", 9, "v5", NULL, NULL, 0);

    /* tagged v1..v3 go (keep the two newest tagged: v4, v5); the untagged
     * rule keeps nothing of its own, so a, b go only with idx */
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"two newest\",\"selection\":{\"tagStatus\":\"tagged\","
        "\"tagPatternList\":[\"v*\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":2},\"action\":{\"type\":"
        "\"expire\"}},{\"rulePriority\":2,\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\","
        "\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}";
    assert_int_equal(store_lifecycle_policy_put(repo.id, policy), 0);

    size_t would = 0;
    assert_int_equal(lifecycle_evaluate(repo.id, NULL, now_ms(), &would), 0);
    struct seen s = {0};
    int acted = 0;
    assert_int_equal(lifecycle_run(&repo, now_ms(), note, &s, &acted), 0);
    assert_int_equal(acted, 6);
    assert_int_equal(would, 6);
    /* oldest first; a and b are refused while idx is there, then go after it */
    char want[6][64];
    snprintf(want[0], 64, "%.12s [\"v1\"] 1 EXPIRE expired", idx + 7);
    snprintf(want[1], 64, "%.12s [] 1 EXPIRE expired", sig + 7);
    snprintf(want[2], 64, "%.12s [\"v2\"] 1 EXPIRE expired", x + 7);
    snprintf(want[3], 64, "%.12s [\"v3\"] 1 EXPIRE expired", y + 7);
    snprintf(want[4], 64, "%.12s [] 2 EXPIRE expired", a + 7);
    snprintf(want[5], 64, "%.12s [] 2 EXPIRE expired", b + 7);
    for (int i = 0; i < 6; i++)
        assert_string_equal(s.lines[i], want[i]);
    assert_int_equal(store_manifest_exists(repo.id, a), E_NOTFOUND);
    assert_int_equal(store_manifest_exists(repo.id, idx), E_NOTFOUND);
    assert_int_equal(store_manifest_exists(repo.id, shared), 0);
    assert_int_equal(store_manifest_exists(repo.id, keep), 0);
    int64_t evaluated = 0;
    char *text = NULL;
    assert_int_equal(store_lifecycle_policy_get(repo.id, &text, &evaluated), 0);
    assert_true(evaluated > 0);
    free(text);
    int n = 0;
    assert_int_equal(store_lifecycle_history(ACCT, "team/app", count_history, &n), 0);
    assert_int_equal(n, 6);
    n = 0;
    assert_int_equal(store_lifecycle_history(ACCT, "team/other", count_history, &n), 0);
    assert_int_equal(n, 0);
    /* nothing more the second time */
    assert_int_equal(lifecycle_run(&repo, now_ms(), NULL, NULL, &acted), 0);
    assert_int_equal(acted, 0);
}

struct results {
    char digests[8][DIGEST_MAX];
    int64_t prio[8];
    int n;
};

static int collect(void *ctx, const struct lifecycle_result *r)
{
    struct results *rs = ctx;
    if (rs->n < 8) {
        snprintf(rs->digests[rs->n], DIGEST_MAX, "%s", r->digest);
        rs->prio[rs->n++] = r->priority;
    }
    return 0;
}

static void test_preview(void **state)
{
    char a[DIGEST_MAX], b[DIGEST_MAX], c[DIGEST_MAX], d[DIGEST_MAX];
    assert_int_equal(use_repo("team/preview"), 0);
    put(d, "pd", 20, "rel-2", NULL, NULL, 0);
    put(a, "pa", 21, NULL, NULL, NULL, 0);
    put(b, "pb", 22, "rel-1", NULL, NULL, 0);
    put(c, "pc", 23, NULL, NULL, NULL, 0);
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"rel\"],"
        "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}},{\"rulePriority\":"
        "2,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{"
        "\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}]}";
    assert_int_equal(store_lifecycle_preview_start(repo.id, policy, now_ms()), 0);
    assert_int_equal(lifecycle_preview_run(repo.id, now_ms()), 0);
    struct lifecycle_preview pv = {0};
    assert_int_equal(store_lifecycle_preview_get(repo.id, &pv), 0);
    assert_string_equal(pv.status, "COMPLETE");
    assert_int_equal(pv.expiring, 1);
    assert_int_equal(pv.transitioning, 1);
    lifecycle_preview_release(&pv);
    struct results rs = {0};
    assert_int_equal(store_lifecycle_preview_results(repo.id, 0, 10, -1, NULL, collect, &rs), 0);
    /* rule 1 takes d (older rel); rule 2 keeps c and takes a (b is rule 1's) */
    assert_int_equal(rs.n, 2);
    assert_string_equal(rs.digests[0], d);
    assert_int_equal(rs.prio[0], 1);
    assert_string_equal(rs.digests[1], a);
    assert_int_equal(rs.prio[1], 2);
    /* filters: untagged only, one digest */
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(store_lifecycle_preview_results(repo.id, 0, 10, 0, NULL, collect, &rs), 0);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.digests[0], a);
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(store_lifecycle_preview_results(repo.id, 1, 10, -1, NULL, collect, &rs), 0);
    assert_int_equal(rs.n, 1); /* after seq 1 */

    /* a stored text that does not parse: FAILED, with the reason */
    assert_int_equal(store_lifecycle_preview_start(repo.id, "{\"rules\": 7}", now_ms()), 0);
    assert_int_equal(lifecycle_preview_run(repo.id, now_ms()), 0);
    assert_int_equal(store_lifecycle_preview_get(repo.id, &pv), 0);
    assert_string_equal(pv.status, "FAILED");
    assert_non_null(strstr(pv.error, "Lifecycle policy validation failure"));
    lifecycle_preview_release(&pv);
}

static void test_preview_job_gives_up_as_failed(void **state)
{
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"keep one\",\"selection\":{\"tagStatus\":\"any\","
        "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}";
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)repo.id);
    struct job job = {.arg = "", .attempts = 0};
    snprintf(job.kind, sizeof(job.kind), "%s", LIFECYCLE_PREVIEW_JOB);
    snprintf(job.key, sizeof(job.key), "%s", key);
    assert_int_equal(store_lifecycle_preview_start(repo.id, policy, now_ms()), 0);
    /* the results cannot be written: the job fails, and is retried */
    sql("ALTER TABLE lifecycle_preview_results RENAME TO broken");
    assert_true(preview_job(&job, NULL) < 0);
    struct lifecycle_preview pv = {0};
    assert_int_equal(store_lifecycle_preview_get(repo.id, &pv), 0);
    assert_string_equal(pv.status, "IN_PROGRESS");
    lifecycle_preview_release(&pv);
    /* its last attempt: the preview is FAILED and the job done */
    job.attempts = JOBS_MAX_ATTEMPTS - 1;
    assert_int_equal(preview_job(&job, NULL), 0);
    assert_int_equal(store_lifecycle_preview_get(repo.id, &pv), 0);
    assert_string_equal(pv.status, "FAILED");
    assert_non_null(pv.error);
    lifecycle_preview_release(&pv);
    sql("ALTER TABLE broken RENAME TO lifecycle_preview_results");
}

static void test_transition_then_expire(void **state)
{
    char a[DIGEST_MAX], b[DIGEST_MAX], c[DIGEST_MAX];
    assert_int_equal(use_repo("team/archive"), 0);
    put(a, "ta", 30, "x1", NULL, NULL, 0);
    put(b, "tb", 31, NULL, NULL, NULL, 0);
    put(c, "tc", 32, "x3", NULL, NULL, 0);
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\","
        "\"countNumber\":1},\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},{\"rulePriority\":"
        "2,\"selection\":{\"tagStatus\":\"any\",\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\","
        "\"countUnit\":\"days\",\"countNumber\":90},\"action\":{\"type\":\"expire\"}}]}";
    assert_int_equal(store_lifecycle_policy_put(repo.id, policy), 0);
    struct seen s = {0};
    int acted = 0;
    assert_int_equal(lifecycle_run(&repo, now_ms(), note, &s, &acted), 0);
    assert_int_equal(acted, 2);
    assert_non_null(strstr(s.lines[0], "[\"x1\"] 1 TRANSITION archived"));
    assert_non_null(strstr(s.lines[1], "[] 1 TRANSITION archived"));
    struct image_record r;
    assert_int_equal(store_image_get(repo.id, a, &r), 0);
    assert_int_equal(r.status, IMAGE_ARCHIVED);
    assert_true(r.archived_ms > 0);
    image_record_release(&r);
    /* again: archived images are not standard any more, and not 90 days archived */
    assert_int_equal(lifecycle_run(&repo, now_ms(), NULL, NULL, &acted), 0);
    assert_int_equal(acted, 0);
    /* 91 days on, rule 2 expires them */
    assert_int_equal(lifecycle_run(&repo, now_ms() + 91 * 86400000LL, NULL, NULL, &acted), 0);
    assert_int_equal(acted, 2);
    assert_int_equal(store_manifest_exists(repo.id, a), E_NOTFOUND);
    assert_int_equal(store_manifest_exists(repo.id, b), E_NOTFOUND);
    assert_int_equal(store_manifest_exists(repo.id, c), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_order_index_and_referrers),
        cmocka_unit_test(test_preview),
        cmocka_unit_test(test_preview_job_gives_up_as_failed),
        cmocka_unit_test(test_transition_then_expire),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
