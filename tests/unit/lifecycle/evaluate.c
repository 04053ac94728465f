/*
 * Unit tests for src/lifecycle/evaluate.c: every example of ECR's
 * "Examples of lifecycle policies" page (the current page with
 * tagPatternList and its archive examples, and the older page's
 * tagPrefixList versions of the multiple-rule examples), each with the
 * repository the page gives and the result computed by hand from the
 * documented push order, then the edge cases the evaluation rules imply:
 * ties, boundaries, storage classes, pull and restore times, images that
 * an index lists, and artifacts with a subject.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the tables leave trailing fields of struct spec out */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "core/buf.h"
#include "core/error.h"
#include "lifecycle/lifecycle.h"

#define NOW 1800000000000LL /* 2027-01-15 */
#define DAY LC_DAY_MS
#define MAXIMG 16

/* One image of a test repository. Times are days before NOW (0: none). */
struct spec {
    const char *name;
    const char *tags; /* comma-separated; "" untagged */
    double pushed;
    double pulled;
    double activated;
    double archived_at; /* > 0: the image is archived since then */
    const char *parents; /* names of the indexes that list it, comma-separated */
    const char *subject; /* name of its subject, "-" when gone, NULL when none */
};

static int64_t ago(double days)
{
    return days > 0 ? NOW - (int64_t)(days * (double)DAY) : 0;
}

static size_t split(char *z, const char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(z, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    return n;
}

static long find(const struct spec *s, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return (long)i;
    fail_msg("no image '%s' in the table", name);
    return -1;
}

/* Evaluates policy over the table at NOW and compares "A=E1 B=T2 ..." (the
 * images acted on, in table order; E expire, T transition, then the rule
 * priority) with want. */
static void check(const char *policy, const struct spec *s, size_t n, const char *want)
{
    struct lc_policy *p = NULL;
    struct lc_image im[MAXIMG];
    struct lc_decision d[MAXIMG];
    char tagbuf[MAXIMG][256], parbuf[MAXIMG][256];
    const char *tags[MAXIMG][8], *pnames[MAXIMG][8];
    size_t parents[MAXIMG][8];

    assert_true(n <= MAXIMG);
    if (lc_policy_parse(&p, policy, strlen(policy)) != 0)
        fail_msg("policy does not parse: %s\n%s", error_message(), policy);
    for (size_t i = 0; i < n; i++) {
        snprintf(tagbuf[i], sizeof(tagbuf[i]), "%s", s[i].tags);
        snprintf(parbuf[i], sizeof(parbuf[i]), "%s", s[i].parents ? s[i].parents : "");
        size_t np = split(parbuf[i], pnames[i], 8);
        for (size_t k = 0; k < np; k++)
            parents[i][k] = (size_t)find(s, n, pnames[i][k]);
        im[i] = (struct lc_image){
            .digest = s[i].name,
            .tags = tags[i],
            .ntags = split(tagbuf[i], tags[i], 8),
            .pushed_ms = ago(s[i].pushed),
            .last_pull_ms = ago(s[i].pulled),
            .last_activated_ms = ago(s[i].activated),
            .last_archived_ms = ago(s[i].archived_at),
            .archived = s[i].archived_at > 0,
            .parents = parents[i],
            .nparents = np,
            .has_subject = s[i].subject != NULL,
            .subject = !s[i].subject || strcmp(s[i].subject, "-") == 0 ? -1 : find(s, n, s[i].subject),
        };
    }
    size_t acted = lc_evaluate(d, p, im, n, NOW);
    struct buf got;
    buf_init(&got, 4096);
    size_t counted = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i].action != LC_NONE) {
            buf_printf(&got, "%s%s=%c%lld", got.len ? " " : "", s[i].name, d[i].action == LC_EXPIRE ? 'E' : 'T',
                       (long long)d[i].priority);
            counted++;
        }
    if (strcmp(got.ptr, want) != 0)
        fail_msg("got \"%s\", want \"%s\" for\n%s", got.ptr, want, policy);
    assert_int_equal(acted, counted);
    buf_release(&got);
    lc_policy_free(p);
}

#define N(a) (sizeof(a) / sizeof(a[0]))

/* ---- the examples page ---- */

static void test_example_image_age(void **state)
{
    (void)state;
    /* "expires images with a tag starting with prod ... older than 14 days" */
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Expire images older than 14 days\",\"selection\":{"
        "\"tagStatus\":\"tagged\",\"tagPatternList\":[\"prod*\"],\"countType\":\"sinceImagePushed\",\"countUnit\":"
        "\"days\",\"countNumber\":14},\"action\":{\"type\":\"expire\"}}]}";
    static const struct spec repo[] = {
        {"A", "prod-1", 20},         /* older than 14 days: expired */
        {"B", "prod-2,latest", 15},  /* older: expired */
        {"C", "prod-3", 13},         /* younger */
        {"D", "dev-1", 30},          /* no prod tag */
        {"E", "", 30},               /* untagged */
        {"F", "production", 14.5},   /* prod* matches production */
    };
    check(policy, repo, N(repo), "A=E1 B=E1 F=E1");
    /* the older page: untagged images older than 14 days */
    static const char untagged[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Expire images older than 14 days\",\"selection\":{"
        "\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":14},"
        "\"action\":{\"type\":\"expire\"}}]}";
    check(untagged, repo, N(repo), "E=E1");
}

static void test_example_last_pulled(void **state)
{
    (void)state;
    /* "transitions images to archive storage that haven't been pulled in 90 days" */
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Archive images not pulled in 90 days\",\"selection\":{"
        "\"tagStatus\":\"any\",\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":90},"
        "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}}]}";
    static const struct spec repo[] = {
        {"A", "v1", 200, 100},      /* last pulled 100 days ago: archived */
        {"B", "v2", 200, 10},       /* pulled recently */
        {"C", "", 100},             /* never pulled: its push counts, 100 days */
        {"D", "v4", 10},            /* never pulled, pushed 10 days ago */
        {"E", "v5", 300, 0, 0, 95}, /* already archived: the rule selects standard */
        {"F", "v6", 300, 120, 5},   /* restored 5 days ago, not pulled since: counts from the restore */
    };
    check(policy, repo, N(repo), "A=T1 C=T1");
}

static void test_example_transition_time(void **state)
{
    (void)state;
    /* "expires archived images that have been in archive storage for more than 365 days" */
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Expire images archived for more than 365 days\","
        "\"selection\":{\"tagStatus\":\"any\",\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\","
        "\"countUnit\":\"days\",\"countNumber\":365},\"action\":{\"type\":\"expire\"}}]}";
    static const struct spec repo[] = {
        {"A", "v1", 800, 0, 0, 400}, /* archived 400 days ago */
        {"B", "v2", 800, 0, 0, 100}, /* archived 100 days ago */
        {"C", "v3", 800},            /* standard: not selected however old */
        {"D", "", 900, 0, 0, 366},
    };
    check(policy, repo, N(repo), "A=E1 D=E1");
}

static void test_example_image_count(void **state)
{
    (void)state;
    /* "keeps only one untagged image and expires all others" */
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Keep only one untagged image, expire all others\","
        "\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"imageCountMoreThan\",\"countNumber\":1},"
        "\"action\":{\"type\":\"expire\"}}]}";
    static const struct spec repo[] = {
        {"A", "", 3}, {"B", "", 2}, {"C", "", 1}, /* C is the newest untagged */
        {"D", "x", 5},                            /* tagged: not selected */
    };
    check(policy, repo, N(repo), "A=E1 B=E1");
}

/* Filtering on multiple rules: Image A [beta-1, prod-1] 10 days, B [beta-2,
 * prod-2] 9 days, C [beta-3] 8 days. */
static const struct spec multi[] = {
    {"A", "beta-1,prod-1", 10},
    {"B", "beta-2,prod-2", 9},
    {"C", "beta-3", 8},
};

#define RULE(prio, kind, list, count)                                                                                  \
    "{\"rulePriority\":" #prio ",\"description\":\"Rule " #prio "\",\"selection\":{\"tagStatus\":\"tagged\",\"" kind    \
    "\":[" list "],\"countType\":\"imageCountMoreThan\",\"countNumber\":" #count "},\"action\":{\"type\":\"expire\"}}"

static void test_example_multiple_rules_a(void **state)
{
    (void)state;
    /* rule 1 (prod) marks A; rule 2 (beta) marks A and B, but A is rule 1's
     * and B was identified by rule 1: result A */
    check("{\"rules\":[" RULE(1, "tagPatternList", "\"prod*\"", 1) "," RULE(2, "tagPatternList", "\"beta*\"", 1) "]}",
          multi, N(multi), "A=E1");
    check("{\"rules\":[" RULE(1, "tagPrefixList", "\"prod\"", 1) "," RULE(2, "tagPrefixList", "\"beta\"", 1) "]}", multi,
          N(multi), "A=E1");
}

static void test_example_multiple_rules_b(void **state)
{
    (void)state;
    /* rule 1 (beta) sees all three and marks A and B; rule 2 (prod) sees
     * nothing left: result A and B */
    check("{\"rules\":[" RULE(1, "tagPatternList", "\"beta*\"", 1) "," RULE(2, "tagPatternList", "\"prod*\"", 1) "]}",
          multi, N(multi), "A=E1 B=E1");
    check("{\"rules\":[" RULE(1, "tagPrefixList", "\"beta\"", 1) "," RULE(2, "tagPrefixList", "\"prod\"", 1) "]}", multi,
          N(multi), "A=E1 B=E1");
}

static void test_example_multiple_tags_a(void **state)
{
    (void)state;
    /* images must match all listed patterns: C and F; older than 5 days: C */
    static const struct spec repo[] = {
        {"A", "alpha-1", 12}, {"B", "beta-1", 11}, {"C", "alpha-2,beta-2", 10},
        {"D", "alpha-3", 4},  {"E", "beta-3", 3},  {"F", "alpha-4,beta-4", 2},
    };
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Rule 1\",\"selection\":{\"tagStatus\":\"tagged\","
          "\"tagPatternList\":[\"alpha*\",\"beta*\"],\"countType\":\"sinceImagePushed\",\"countNumber\":5,"
          "\"countUnit\":\"days\"},\"action\":{\"type\":\"expire\"}}]}",
          repo, N(repo), "C=E1");
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Rule 1\",\"selection\":{\"tagStatus\":\"tagged\","
          "\"tagPrefixList\":[\"alpha\",\"beta\"],\"countType\":\"sinceImagePushed\",\"countNumber\":5,"
          "\"countUnit\":\"days\"},\"action\":{\"type\":\"expire\"}}]}",
          repo, N(repo), "C=E1");
}

static void test_example_multiple_tags_b(void **state)
{
    (void)state;
    /* tags are not exclusive: all three match; keep the newest (C) */
    static const struct spec repo[] = {
        {"A", "alpha-1,beta-1,gamma-1", 10},
        {"B", "alpha-2,beta-2", 9},
        {"C", "alpha-3,beta-3,gamma-2", 8},
    };
    check("{\"rules\":[" RULE(1, "tagPatternList", "\"alpha*\",\"beta*\"", 1) "]}", repo, N(repo), "A=E1 B=E1");
    check("{\"rules\":[" RULE(1, "tagPrefixList", "\"alpha\",\"beta\"", 1) "]}", repo, N(repo), "A=E1 B=E1");
}

static void test_example_all_images_a(void **state)
{
    (void)state;
    static const struct spec repo[] = {
        {"A", "alpha-1", 4}, {"B", "beta-1", 3}, {"C", "", 2}, {"D", "alpha-2", 1},
    };
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Rule 1\",\"selection\":{\"tagStatus\":\"any\","
          "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}",
          repo, N(repo), "A=E1 B=E1 C=E1");
}

static void test_example_all_images_b(void **state)
{
    (void)state;
    /* D and E are both "pushed 1 day ago"; the page keeps E as the newest
     * (E is pushed after D), and E is not older than one day */
    static const struct spec repo[] = {
        {"A", "alpha-1,beta-1", 4}, {"B", "", 3}, {"C", "alpha-2", 2}, {"D", "git hash", 1}, {"E", "", 0.999},
    };
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Rule 1\",\"selection\":{\"tagStatus\":\"tagged\","
          "\"tagPatternList\":[\"alpha*\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{"
          "\"type\":\"expire\"}},{\"rulePriority\":2,\"description\":\"Rule 2\",\"selection\":{\"tagStatus\":"
          "\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":1},\"action\":{"
          "\"type\":\"expire\"}},{\"rulePriority\":3,\"description\":\"Rule 3\",\"selection\":{\"tagStatus\":\"any\","
          "\"countType\":\"imageCountMoreThan\",\"countNumber\":1},\"action\":{\"type\":\"expire\"}}]}",
          repo, N(repo), "A=E1 B=E2 D=E3");
}

static void test_example_archive(void **state)
{
    (void)state;
    /* "archives images with tags starting with prod that are older than 30 days" */
    static const struct spec repo[] = {
        {"A", "prod-1", 31}, {"B", "prod-2", 29}, {"C", "dev", 60}, {"D", "", 60},
    };
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Archive production images older than 30 days\","
          "\"selection\":{\"tagStatus\":\"tagged\",\"tagPatternList\":[\"prod*\"],\"countType\":\"sinceImagePushed\","
          "\"countUnit\":\"days\",\"countNumber\":30},\"action\":{\"type\":\"transition\",\"targetStorageClass\":"
          "\"archive\"}}]}",
          repo, N(repo), "A=T1");
    /* "archives images older than 30 days and then permanently expires images
     * that have been archived for more than 365 days": two sets of rules, one
     * per storage class, each with its own `any` rule */
    static const struct spec both[] = {
        {"A", "v1", 40},            /* standard, 40 days: archived by rule 1 */
        {"B", "v2", 10},            /* standard, young */
        {"C", "v3", 900, 0, 0, 400}, /* archived 400 days ago: expired by rule 2 */
        {"D", "v4", 900, 0, 0, 100}, /* archived 100 days ago */
        {"E", "", 45},              /* standard, untagged, 45 days: archived */
    };
    check("{\"rules\":[{\"rulePriority\":1,\"description\":\"Archive images older than 30 days\",\"selection\":{"
          "\"tagStatus\":\"any\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":30},"
          "\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},{\"rulePriority\":2,"
          "\"description\":\"Expire images archived for more than 365 days\",\"selection\":{\"tagStatus\":\"any\","
          "\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\",\"countUnit\":\"days\","
          "\"countNumber\":365},\"action\":{\"type\":\"expire\"}}]}",
          both, N(both), "A=T1 C=E2 E=T1");
}

/* ---- edge cases ---- */

#define ANY_COUNT(n)                                                                                                   \
    "{\"rules\":[{\"rulePriority\":1,\"description\":\"keep the newest\",\"selection\":{\"tagStatus\":\"any\","          \
    "\"countType\":\"imageCountMoreThan\",\"countNumber\":" #n "},\"action\":{\"type\":\"expire\"}}]}"

static void test_count_ties_and_bounds(void **state)
{
    (void)state;
    /* equal push times: the later position is the newer */
    static const struct spec ties[] = {{"A", "a", 2}, {"B", "b", 2}, {"C", "c", 2}};
    check(ANY_COUNT(1), ties, N(ties), "A=E1 B=E1");
    check(ANY_COUNT(3), ties, N(ties), "");
    check(ANY_COUNT(800), ties, N(ties), "");
    /* push order, not table order, decides */
    static const struct spec order[] = {{"A", "a", 1}, {"B", "b", 3}, {"C", "c", 2}};
    check(ANY_COUNT(2), order, N(order), "B=E1");
    /* a restored image counts from its restore */
    static const struct spec restored[] = {{"A", "a", 100, 0, 0.5}, {"B", "b", 3}, {"C", "c", 2}};
    check(ANY_COUNT(2), restored, N(restored), "B=E1");
}

static void test_since_boundary(void **state)
{
    (void)state;
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":7,\"description\":\"older than two days\",\"selection\":{\"tagStatus\":\"any\","
        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":2},\"action\":{\"type\":\"expire\"}}]}";
    static const struct spec repo[] = {{"A", "a", 2}, {"B", "b", 2.0001}, {"C", "", 1.9999}};
    /* exactly two days is not older than two days */
    check(policy, repo, N(repo), "B=E7");
}

static void test_shield_and_order(void **state)
{
    (void)state;
    /* a higher rule that identifies an image (even without marking it)
     * keeps every lower rule from taking it; lower rules still count it */
    static const struct spec repo[] = {
        {"A", "release-1", 50}, {"B", "release-2", 40}, {"C", "", 30}, {"D", "", 20}, {"E", "dev", 10},
    };
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":10,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"release\"],"
        "\"countType\":\"imageCountMoreThan\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}},{\"rulePriority\":"
        "20,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":2},\"action\":{"
        "\"type\":\"expire\"}}]}";
    /* any keeps the two newest (E, D) and marks C, B, A; A and B are rule 10's */
    check(policy, repo, N(repo), "C=E20");
    /* rules apply in priority order whatever their order in the document */
    static const char reversed[] =
        "{\"rules\":[{\"rulePriority\":20,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\","
        "\"countNumber\":2},\"action\":{\"type\":\"expire\"}},{\"rulePriority\":10,\"selection\":{\"tagStatus\":"
        "\"tagged\",\"tagPrefixList\":[\"release\"],\"countType\":\"imageCountMoreThan\",\"countNumber\":1},"
        "\"action\":{\"type\":\"expire\"}}]}";
    check(reversed, repo, N(repo), "A=E10 C=E20");
}

static void test_prefix_and_pattern_semantics(void **state)
{
    (void)state;
    static const struct spec repo[] = {
        {"A", "prod", 9},           {"B", "production-team1", 8}, {"C", "repo-production", 7},
        {"D", "pro", 6},            {"E", "PROD", 5},             {"F", "x-prod-y,release", 4},
        {"G", "prod1,rel-2", 3},
    };
#define TAGGED_OLD(kind, list)                                                                                         \
    "{\"rules\":[{\"rulePriority\":1,\"description\":\"tag list semantics\",\"selection\":{\"tagStatus\":\"tagged\",\"" \
    kind "\":[" list "],\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":1},"                 \
    "\"action\":{\"type\":\"expire\"}}]}"
    check(TAGGED_OLD("tagPatternList", "\"prod*\""), repo, N(repo), "A=E1 B=E1 G=E1");
    check(TAGGED_OLD("tagPatternList", "\"*prod*\""), repo, N(repo), "A=E1 B=E1 C=E1 F=E1 G=E1");
    /* a pattern without '*' is the whole tag */
    check(TAGGED_OLD("tagPatternList", "\"prod\""), repo, N(repo), "A=E1");
    check(TAGGED_OLD("tagPrefixList", "\"prod\""), repo, N(repo), "A=E1 B=E1 G=E1");
    /* several prefixes: each must match one of the image's tags */
    check(TAGGED_OLD("tagPrefixList", "\"prod\",\"rel\""), repo, N(repo), "G=E1");
    check(TAGGED_OLD("tagPatternList", "\"*prod*\",\"rel*\""), repo, N(repo), "F=E1 G=E1");
}

static void test_index_children(void **state)
{
    (void)state;
    /* I1 (old) lists a1 and s; I2 (new) lists b1 and s */
    static const struct spec repo[] = {
        {"I1", "old", 10}, {"a1", "", 10, 0, 0, 0, "I1"}, {"s", "", 10, 0, 0, 0, "I1,I2"},
        {"I2", "new", 1},  {"b1", "", 1, 0, 0, 0, "I2"},
    };
    static const char policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"old\"],"
        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}},"
        "{\"rulePriority\":2,\"selection\":{\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":"
        "\"days\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}}]}";
    /* a1 goes with its index; s stays while I2 lists it */
    check(policy, repo, N(repo), "I1=E1 a1=E2");
    /* children marked while their index stays are kept */
    static const char untagged_only[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"untagged only\",\"selection\":{\"tagStatus\":\"untagged\","
        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}}]}";
    check(untagged_only, repo, N(repo), "");
    /* nested: J lists I1, which lists a1; all go only when J goes */
    static const struct spec nested[] = {
        {"J", "top", 10}, {"I1", "", 10, 0, 0, 0, "J"}, {"a1", "", 10, 0, 0, 0, "I1"},
    };
    check(untagged_only, nested, N(nested), "");
    /* equal times: a1 (last) is the newest and stays; J and I1 go */
    check(ANY_COUNT(1), nested, N(nested), "J=E1 I1=E1");
    check(ANY_COUNT(1) /* J is the newest by position */, nested, 1, "");
    static const char any_old[] =
        "{\"rules\":[{\"rulePriority\":3,\"description\":\"everything old\",\"selection\":{\"tagStatus\":\"any\","
        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":5},\"action\":{\"type\":\"expire\"}}]}";
    check(any_old, nested, N(nested), "J=E3 I1=E3 a1=E3");
}

static void test_referrers(void **state)
{
    (void)state;
    /* sig signs A; sbom signs B; att is a referrer of sig; orphan's subject
     * is gone. Referrers are not counted by the rules. */
    static const struct spec repo[] = {
        {"A", "v1", 10}, {"sig", "", 10, 0, 0, 0, NULL, "A"}, {"att", "", 9, 0, 0, 0, NULL, "sig"},
        {"B", "v2", 5},  {"sbom", "", 5, 0, 0, 0, NULL, "B"}, {"C", "v3", 1},
        {"orphan", "", 1, 0, 0, 0, NULL, "-"},
    };
    /* keep 2: C and B stay, A goes with sig and att; orphan expires */
    check(ANY_COUNT(2), repo, N(repo), "A=E1 sig=E1 att=E1 orphan=E1");
    check(ANY_COUNT(3), repo, N(repo), "orphan=E1");
    /* an archived subject takes its referrers to archive */
    static const char archive_old[] =
        "{\"rules\":[{\"rulePriority\":4,\"description\":\"archive old\",\"selection\":{\"tagStatus\":\"any\","
        "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":7},\"action\":{\"type\":"
        "\"transition\",\"targetStorageClass\":\"archive\"}}]}";
    check(archive_old, repo, N(repo), "A=T4 sig=T4 att=T4 orphan=E4");
}

static void test_storage_classes(void **state)
{
    (void)state;
    /* a standard rule never sees archived images, and the reverse */
    static const struct spec repo[] = {
        {"A", "v1", 500, 0, 0, 200}, {"B", "v2", 400}, {"C", "v3", 300, 0, 0, 95}, {"D", "v4", 1},
    };
    check(ANY_COUNT(1), repo, N(repo), "B=E1");
    static const char both[] =
        "{\"rules\":[{\"rulePriority\":1,\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\","
        "\"countNumber\":1},\"action\":{\"type\":\"transition\",\"targetStorageClass\":\"archive\"}},{\"rulePriority\":"
        "2,\"selection\":{\"tagStatus\":\"any\",\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\","
        "\"countUnit\":\"days\",\"countNumber\":100},\"action\":{\"type\":\"expire\"}}]}";
    check(both, repo, N(repo), "A=E2 B=T1");
}

static void test_many_images(void **state)
{
    (void)state;
    /* 100,000 images: the seeds' policy keeps the newest 800 */
    enum { COUNT = 100000 };
    struct lc_image *im = calloc(COUNT, sizeof(*im));
    struct lc_decision *d = calloc(COUNT, sizeof(*d));
    static const char *const tag[] = {"t"};
    static const char seed_policy[] =
        "{\"rules\":[{\"rulePriority\":1,\"description\":\"Keep last 800 images\",\"selection\":{\"tagStatus\":\"any\","
        "\"countType\":\"imageCountMoreThan\",\"countNumber\":800},\"action\":{\"type\":\"expire\"}}]}";
    struct lc_policy *p = NULL;
    assert_int_equal(lc_policy_parse(&p, seed_policy, strlen(seed_policy)), 0);
    for (size_t i = 0; i < COUNT; i++)
        im[i] = (struct lc_image){.digest = "x", .tags = tag, .ntags = i % 3 == 0, .pushed_ms = NOW - (int64_t)(i * 7919 % COUNT) * 1000, .subject = -1};
    assert_int_equal(lc_evaluate(d, p, im, COUNT, NOW), COUNT - 800);
    /* the kept ones are the 800 newest */
    for (size_t i = 0; i < COUNT; i++)
        assert_int_equal(d[i].action == LC_NONE, (int64_t)(i * 7919 % COUNT) < 800);
    lc_policy_free(p);
    free(im);
    free(d);
}

static void test_pattern_match(void **state)
{
    (void)state;
    static const struct {
        const char *pattern, *tag;
        bool match;
    } cases[] = {
        {"prod*", "prod", true},        {"prod*", "prod1", true},       {"prod*", "production-team1", true},
        {"*prod*", "repo-production", true}, {"*prod*", "prod-team", true}, {"prod*", "xprod", false},
        {"prod", "prod", true},         {"prod", "prod1", false},       {"*", "", true},
        {"*", "anything", true},        {"a*b*c", "aXbYbZc", true},     {"a*b*c", "aXbYbZ", false},
        {"*test*1*2*3", "my-test-1-2-3", true}, {"test*1*2*3*", "test123", true}, {"*-sha-*", "v1-sha-abc", true},
        {"**", "x", true},              {"a*", "", false},              {"v1.*", "v1.2", true},
        {"v?", "v1", false},            {"v?", "v?", true},
    };
    for (size_t i = 0; i < N(cases); i++)
        if (lc_pattern_match(cases[i].pattern, cases[i].tag) != cases[i].match)
            fail_msg("'%s' vs '%s': want %s", cases[i].pattern, cases[i].tag, cases[i].match ? "match" : "no match");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_image_age),
        cmocka_unit_test(test_example_last_pulled),
        cmocka_unit_test(test_example_transition_time),
        cmocka_unit_test(test_example_image_count),
        cmocka_unit_test(test_example_multiple_rules_a),
        cmocka_unit_test(test_example_multiple_rules_b),
        cmocka_unit_test(test_example_multiple_tags_a),
        cmocka_unit_test(test_example_multiple_tags_b),
        cmocka_unit_test(test_example_all_images_a),
        cmocka_unit_test(test_example_all_images_b),
        cmocka_unit_test(test_example_archive),
        cmocka_unit_test(test_count_ties_and_bounds),
        cmocka_unit_test(test_since_boundary),
        cmocka_unit_test(test_shield_and_order),
        cmocka_unit_test(test_prefix_and_pattern_semantics),
        cmocka_unit_test(test_index_children),
        cmocka_unit_test(test_referrers),
        cmocka_unit_test(test_storage_classes),
        cmocka_unit_test(test_many_images),
        cmocka_unit_test(test_pattern_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
