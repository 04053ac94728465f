/*
 * Lifecycle evaluation of a 100,000-image repository (issue 8's target:
 * under 1 s). Builds a data directory in a temporary folder through the
 * store (BENCH_IMAGES manifests, a third of them tagged, a few multi-arch
 * indexes with their children), then measures, best of BENCH_REPS:
 *
 *   evaluate  reading the repository's images from the store (three bulk
 *             queries) and evaluating the seeds' policy (keep 800) and a
 *             three-rule policy (tag patterns, untagged age, any count);
 *   preview   the same plus writing the preview's results (99,200 rows);
 *   run       a real run deleting 1,000 images through the image service,
 *             with history (a repository of BENCH_IMAGES + 1,000 images
 *             whose policy keeps BENCH_IMAGES).
 *
 *   make bench-lifecycle        (BENCH_IMAGES=100000 BENCH_REPS=3 by default)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/digest.h"
#include "core/error.h"
#include "core/util.h"
#include "image/image.h"
#include "lifecycle/run.h"
#include "store/lifecycle.h"
#include "store/store.h"

#define ACCOUNT "123456789012"
#define DAY 86400000LL

static const char seed_policy[] =
    "{\"rules\":[{\"rulePriority\":10,\"description\":\"Expire old images\",\"selection\":{\"tagStatus\":\"any\","
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":800},\"action\":{\"type\":\"expire\"}}]}";
static const char three_rules[] =
    "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"release-*\"],"
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":50},\"action\":{\"type\":\"expire\"}},{\"rulePriority\":2,"
    "\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\","
    "\"countNumber\":7},\"action\":{\"type\":\"expire\"}},{\"rulePriority\":3,\"selection\":{\"tagStatus\":\"any\","
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":800},\"action\":{\"type\":\"expire\"}}]}";

static void die(const char *what)
{
    fprintf(stderr, "bench-lifecycle: %s: %s\n", what, error_message());
    exit(1);
}

static int populate(const struct repo *repo, long n, int64_t now)
{
    if (store_begin() < 0)
        return -1;
    for (long i = 0; i < n; i++) {
        char body[96], tag[32];
        int len = snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"n\":%ld,\"r\":%lld}", i, (long long)repo->id);
        struct manifest m = {
            .media_type = "application/vnd.oci.image.manifest.v1+json",
            .config_media_type = "application/vnd.oci.image.config.v1+json",
            .size = (uint64_t)len,
            .body = body,
            .pushed_ms = now - (n - i) * 60000, /* one a minute, the last just now */
        };
        digest_sha256(m.digest, body, (size_t)len);
        snprintf(tag, sizeof(tag), i % 2 ? "build-%ld" : "release-%ld", i);
        if (store_manifest_put(repo->id, &m, NULL, 0, i % 3 == 0 ? tag : NULL) < 0) {
            store_rollback();
            return -1;
        }
    }
    return store_commit();
}

static double ms_since(int64_t start_us)
{
    return (double)(mono_us() - start_us) / 1000.0;
}

static struct repo make_repo(const char *name, long n, int64_t now)
{
    struct repo r = {0};
    snprintf(r.account_id, sizeof(r.account_id), "%s", ACCOUNT);
    r.name = strdup(name);
    r.tag_mutability = strdup("MUTABLE");
    r.encryption_type = strdup("AES256");
    if (store_repo_create(&r) < 0)
        die("create repository");
    int64_t t = mono_us();
    if (populate(&r, n, now) < 0)
        die("populate");
    fprintf(stderr, "populated %s with %ld images in %.0f ms\n", name, n, ms_since(t));
    return r;
}

int main(void)
{
    long n = getenv("BENCH_IMAGES") ? strtol(getenv("BENCH_IMAGES"), NULL, 10) : 100000;
    int reps = getenv("BENCH_REPS") ? (int)strtol(getenv("BENCH_REPS"), NULL, 10) : 3;
    char dir[] = "/tmp/berth-bench-lifecycle.XXXXXX";
    if (n < 1000 || reps < 1 || !mkdtemp(dir)) {
        fprintf(stderr, "bench-lifecycle: BENCH_IMAGES >= 1000, BENCH_REPS >= 1, and a temp dir\n");
        return 1;
    }
    if (store_open(dir) < 0 || blobstore_open(dir) < 0 || store_account_create(ACCOUNT) < 0)
        die("open");
    int64_t now = now_ms();
    struct repo big = make_repo("bench/big", n, now);
    if (store_lifecycle_policy_put(big.id, seed_policy) < 0)
        die("policy");

    double best_eval = 1e9, best_three = 1e9, best_preview = 1e9;
    size_t acted = 0, acted3 = 0;
    for (int r = 0; r < reps; r++) {
        int64_t t = mono_us();
        if (lifecycle_evaluate(big.id, NULL, now, &acted) < 0)
            die("evaluate");
        double e = ms_since(t);
        best_eval = e < best_eval ? e : best_eval;
        t = mono_us();
        if (lifecycle_evaluate(big.id, three_rules, now, &acted3) < 0)
            die("evaluate");
        e = ms_since(t);
        best_three = e < best_three ? e : best_three;
        if (store_begin() < 0 || store_lifecycle_preview_start(big.id, seed_policy, now) < 0 || store_commit() < 0)
            die("preview start");
        t = mono_us();
        if (lifecycle_preview_run(big.id, now) < 0)
            die("preview");
        e = ms_since(t);
        best_preview = e < best_preview ? e : best_preview;
    }

    /* keep n of n + 1,000: the run deletes the 1,000 oldest */
    struct repo runrepo = make_repo("bench/run", n + 1000, now);
    char keep_n[256];
    snprintf(keep_n, sizeof(keep_n),
             "{\"rules\":[{\"rulePriority\":1,\"description\":\"keep the newest\",\"selection\":{\"tagStatus\":"
             "\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":%ld},\"action\":{\"type\":\"expire\"}}]}",
             n);
    if (store_lifecycle_policy_put(runrepo.id, keep_n) < 0)
        die("policy");
    int deleted = 0;
    int64_t t = mono_us();
    if (lifecycle_run(&runrepo, now, NULL, NULL, &deleted) < 0)
        die("run");
    double run_ms = ms_since(t);

    printf("| lifecycle, %ld-image repository | time | what |\n| --- | ---: | --- |\n", n);
    printf("| evaluate, seeds' policy (keep 800) | %.0f ms | store read + evaluation, best of %d; %zu images to expire |\n",
           best_eval, reps, acted);
    printf("| evaluate, three rules (patterns, untagged age, any) | %.0f ms | best of %d; %zu images to expire |\n",
           best_three, reps, acted3);
    printf("| preview, seeds' policy | %.0f ms | evaluation + %zu result rows written, best of %d |\n", best_preview,
           acted, reps);
    printf("| run, keep %ld of %ld images | %.0f ms | %d images deleted through the image service, with history |\n", n,
           n + 1000, run_ms, deleted);
    repo_release(&big);
    repo_release(&runrepo);
    store_close_thread();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
