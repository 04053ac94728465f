/*
 * Unit tests for src/lifecycle/policy.c: every validation rule of ECR's
 * "Lifecycle policy properties" and "How lifecycle policies work", each
 * with a policy that breaks it and the words the refusal must contain
 * (which rule, and why), the policies of the examples page that must be
 * accepted, and the text length bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "lifecycle/lifecycle.h"

#define N(a) (sizeof(a) / sizeof(a[0]))

/* A rule with the given selection members and action. */
#define R(prio, sel, act) "{\"rulePriority\":" #prio ",\"description\":\"a rule\",\"selection\":{" sel "},\"action\":{" act "}}"
#define EXPIRE "\"type\":\"expire\""
#define ARCHIVE "\"type\":\"transition\",\"targetStorageClass\":\"archive\""
#define COUNT(n) "\"countType\":\"imageCountMoreThan\",\"countNumber\":" #n
#define PUSHED(n) "\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":" #n
#define ANY "\"tagStatus\":\"any\","
#define UNTAGGED "\"tagStatus\":\"untagged\","
#define TAGGED(list) "\"tagStatus\":\"tagged\",\"tagPrefixList\":[" list "],"
#define PATTERN(list) "\"tagStatus\":\"tagged\",\"tagPatternList\":[" list "],"
#define POLICY(rules) "{\"rules\":[" rules "]}"

/* The text, padded with spaces to the 100 characters a policy needs. */
static const char *padded(const char *text)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%-100s", text);
    return buf;
}

static void expect_invalid(const char *text, const char *want1, const char *want2)
{
    struct lc_policy *p = (void *)1;
    text = padded(text);
    int rc = lc_policy_parse(&p, text, strlen(text));
    if (rc != E_INVALID)
        fail_msg("accepted (rc %d), want a refusal naming '%s':\n%s", rc, want1, text);
    assert_null(p);
    const char *msg = error_message();
    if (!strstr(msg, "Lifecycle policy validation failure: ") || !strstr(msg, want1) || (want2 && !strstr(msg, want2)))
        fail_msg("message \"%s\" lacks '%s' / '%s'", msg, want1, want2 ? want2 : "");
}

static void expect_valid(const char *text, size_t nrules)
{
    struct lc_policy *p = NULL;
    text = padded(text);
    if (lc_policy_parse(&p, text, strlen(text)) != 0)
        fail_msg("refused: %s\n%s", error_message(), text);
    assert_int_equal(p->nrules, nrules);
    for (size_t i = 1; i < p->nrules; i++)
        assert_true(p->rules[i - 1].priority < p->rules[i].priority);
    lc_policy_free(p);
}

static void test_rules(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want1, *want2;
    } bad[] = {
        /* rulePriority is unique */
        {POLICY(R(1, UNTAGGED COUNT(1), EXPIRE) "," R(1, TAGGED("\"v\"") COUNT(1), EXPIRE)), "rule 2 (rulePriority 1)",
         "rulePriority must be unique"},
        /* rulePriority is a positive integer, required */
        {POLICY(R(0, UNTAGGED COUNT(1), EXPIRE) "," R(2, TAGGED("\"v\"") COUNT(1), EXPIRE)), "rule 1",
         "rulePriority must be a positive integer"},
        {POLICY("{\"selection\":{" UNTAGGED COUNT(1) "},\"action\":{" EXPIRE "},\"description\":\"no priority here\"}"),
         "rule 1", "'rulePriority' is required"},
        /* tagStatus is tagged|untagged|any */
        {POLICY(R(1, "\"tagStatus\":\"TAGGED\",\"tagPrefixList\":[\"v\"]," COUNT(1), EXPIRE)), "'tagStatus' is 'TAGGED'",
         "tagged, untagged, any"},
        {POLICY(R(1, COUNT(1) ",\"tagPrefixList\":[\"prod\"]", EXPIRE)), "rule 1 (rulePriority 1)", "'tagStatus' is required"},
        /* tagged needs a list */
        {POLICY(R(1, "\"tagStatus\":\"tagged\"," COUNT(1), EXPIRE)), "rule 1",
         "tagStatus 'tagged' requires a tagPrefixList or a tagPatternList"},
        /* not both lists */
        {POLICY(R(1, "\"tagStatus\":\"tagged\",\"tagPrefixList\":[\"a\"],\"tagPatternList\":[\"a*\"]," COUNT(1), EXPIRE)),
         "rule 1", "cannot be used together"},
        /* at most four wildcards */
        {POLICY(R(1, PATTERN("\"test*1*2*3*4*5*6\"") COUNT(1), EXPIRE)), "'test*1*2*3*4*5*6'", "more than four wildcards"},
        {POLICY(R(1, PATTERN("\"*a*b*c*d*\"") COUNT(1), EXPIRE)), "'*a*b*c*d*'", "more than four wildcards"},
        /* untagged (and any) forbid both lists */
        {POLICY(R(1, "\"tagStatus\":\"untagged\",\"tagPrefixList\":[\"a\"]," COUNT(1), EXPIRE)), "tagPrefixList",
         "only be used when tagStatus is 'tagged', not 'untagged'"},
        {POLICY(R(1, "\"tagStatus\":\"untagged\",\"tagPatternList\":[\"a*\"]," COUNT(1), EXPIRE)), "tagPatternList",
         "not 'untagged'"},
        {POLICY(R(1, "\"tagStatus\":\"any\",\"tagPatternList\":[\"a*\"]," COUNT(1), EXPIRE)), "tagPatternList", "not 'any'"},
        /* empty lists and entries */
        {POLICY(R(1, TAGGED("") COUNT(1), EXPIRE)), "'tagPrefixList' must not be empty", NULL},
        {POLICY(R(1, PATTERN("\"\"") COUNT(1), EXPIRE)), "'tagPatternList' has an empty entry", NULL},
        /* the any rule has the highest priority */
        {POLICY(R(1, ANY COUNT(5), EXPIRE) "," R(2, UNTAGGED COUNT(1), EXPIRE)), "rule 1 (rulePriority 1)",
         "tagStatus 'any' must have the highest rulePriority"},
        {POLICY(R(3, ANY COUNT(5), EXPIRE) "," R(2, ANY PUSHED(3), EXPIRE)), "rule 2 (rulePriority 2)",
         "tagStatus 'any' must have the highest rulePriority"},
        /* only one rule selects untagged images */
        {POLICY(R(1, UNTAGGED COUNT(5), EXPIRE) "," R(2, UNTAGGED PUSHED(3), EXPIRE)), "rule 2 (rulePriority 2)",
         "only one rule selecting storageClass 'standard' may select untagged images"},
        /* a unique set of prefixes */
        {POLICY(R(1, TAGGED("\"a\",\"b\"") COUNT(5), EXPIRE) "," R(2, TAGGED("\"b\",\"a\"") PUSHED(3), EXPIRE)),
         "rule 2 (rulePriority 2)", "unique sets of tag prefixes"},
        {POLICY(R(1, PATTERN("\"a*\"") COUNT(5), EXPIRE) "," R(2, PATTERN("\"a*\"") PUSHED(3), EXPIRE)), "rule 2",
         "unique sets of tag patterns"},
        /* countType */
        {POLICY(R(1, UNTAGGED "\"countType\":\"sinceImageCreated\",\"countNumber\":1", EXPIRE)),
         "'countType' is 'sinceImageCreated'", "imageCountMoreThan, sinceImagePushed, sinceImagePulled, sinceImageTransitioned"},
        {POLICY(R(1, UNTAGGED "\"countNumber\":1,\"countUnit\":\"days\"", EXPIRE)), "'countType' is required", NULL},
        /* countUnit days only with since* (and required there) */
        {POLICY(R(1, UNTAGGED COUNT(1) ",\"countUnit\":\"days\"", EXPIRE)), "countUnit may only be used with",
         "not imageCountMoreThan"},
        {POLICY(R(1, UNTAGGED "\"countType\":\"sinceImagePushed\",\"countNumber\":1", EXPIRE)),
         "countType sinceImagePushed requires countUnit 'days'", NULL},
        {POLICY(R(1, UNTAGGED "\"countType\":\"sinceImagePushed\",\"countUnit\":\"hours\",\"countNumber\":1", EXPIRE)),
         "'countUnit' is 'hours'", "days"},
        /* countNumber >= 1 */
        {POLICY(R(1, UNTAGGED COUNT(0), EXPIRE)), "countNumber must be a positive integer", "0 is not accepted"},
        {POLICY(R(1, UNTAGGED "\"countType\":\"imageCountMoreThan\",\"countNumber\":1.5", EXPIRE)),
         "countNumber must be a positive integer", NULL},
        {POLICY(R(1, UNTAGGED "\"countType\":\"imageCountMoreThan\",\"countNumber\":\"3\"", EXPIRE)),
         "countNumber must be a positive integer", NULL},
        {POLICY(R(1, UNTAGGED "\"countType\":\"imageCountMoreThan\"", EXPIRE)), "'countNumber' is required", NULL},
        /* storageClass standard|archive, archive only with sinceImageTransitioned (which needs it) */
        {POLICY(R(1, UNTAGGED "\"storageClass\":\"glacier\"," COUNT(1), EXPIRE)), "'storageClass' is 'glacier'",
         "standard, archive"},
        {POLICY(R(1, UNTAGGED "\"storageClass\":\"archive\"," COUNT(1), EXPIRE)),
         "storageClass 'archive' may only be used with countType sinceImageTransitioned", NULL},
        {POLICY(R(1, ANY "\"countType\":\"sinceImageTransitioned\",\"countUnit\":\"days\",\"countNumber\":100", EXPIRE)),
         "sinceImageTransitioned requires storageClass 'archive'", NULL},
        {POLICY(R(1, ANY "\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\",\"countUnit\":\"days\","
                         "\"countNumber\":30",
                  EXPIRE)),
         "at least 90 days", NULL},
        /* action: expire, or transition to archive */
        {POLICY(R(1, UNTAGGED COUNT(1), "\"type\":\"delete\"")), "'type' is 'delete'", "expire, transition"},
        {POLICY(R(1, UNTAGGED COUNT(1), "\"type\":\"transition\"")), "transition' requires targetStorageClass 'archive'",
         NULL},
        {POLICY(R(1, UNTAGGED COUNT(1), "\"type\":\"transition\",\"targetStorageClass\":\"standard\"")),
         "'targetStorageClass' is 'standard'", "archive"},
        {POLICY(R(1, UNTAGGED COUNT(1), "\"type\":\"expire\",\"targetStorageClass\":\"archive\"")),
         "targetStorageClass may only be used with action type 'transition'", NULL},
        {POLICY(R(1, UNTAGGED "\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":9", EXPIRE)),
         "sinceImagePulled must be used with action type 'transition'", NULL},
        {POLICY(R(1, ANY "\"storageClass\":\"archive\",\"countType\":\"sinceImageTransitioned\",\"countUnit\":\"days\","
                         "\"countNumber\":365",
                  ARCHIVE)),
         "sinceImageTransitioned must be used with action type 'expire'", NULL},
        /* structure */
        {POLICY(R(1, UNTAGGED COUNT(1) ",\"tagFilter\":\"x\"", EXPIRE)), "'tagFilter' is not a property of selection", NULL},
        {"{\"rules\":[],\"comment\":\"nothing here, but long enough to pass the hundred character minimum text\"}",
         "'comment' is not a property of a lifecycle policy", NULL},
        {"{\"rules\":[], \"padding\": null}                                                                           ",
         "is not a property", NULL},
        {"{\"rules\":[]}                                                                                            ",
         "'rules' must be a list of at least one rule", NULL},
        {"[\"rules\"]                                                                                                  ",
         "must be a JSON object", NULL},
        {"{\"rules\":[{\"rulePriority\":1,\"rulePriority\":2}]}                                                          ",
         "not valid JSON", NULL},
        {POLICY(R(1, UNTAGGED COUNT(1), EXPIRE)) "trailing", "not valid JSON", NULL},
        {"{\"rules\":[1]}                                                                                               ",
         "rule 1: a rule must be an object", NULL},
        {POLICY("{\"rulePriority\":1,\"description\":7,\"selection\":{" UNTAGGED COUNT(1) "},\"action\":{" EXPIRE "}}"),
         "'description' must be a string", NULL},
        {POLICY("{\"rulePriority\":1,\"description\":\"no action at all in this rule\",\"selection\":{" UNTAGGED COUNT(1) "}}"),
         "'action' is required", NULL},
    };
    for (size_t i = 0; i < N(bad); i++)
        expect_invalid(bad[i].text, bad[i].want1, bad[i].want2);
}

static void test_valid(void **state)
{
    (void)state;
    /* the page's template fields, the seeds' policy, the examples */
    expect_valid(POLICY(R(1, ANY COUNT(800), EXPIRE)), 1);
    expect_valid(POLICY(R(1, PATTERN("\"*test*1*2*3\", \"test*1*2*3*\"") COUNT(1), EXPIRE)), 1);
    /* each storage class has its own `any` rule */
    expect_valid(POLICY(R(1, ANY PUSHED(30), ARCHIVE) "," R(2, ANY "\"storageClass\":\"archive\",\"countType\":"
                                                                    "\"sinceImageTransitioned\",\"countUnit\":\"days\","
                                                                    "\"countNumber\":365",
                                                               EXPIRE)),
                 2);
    /* priorities need not be sequential nor in order; pattern and prefix
     * lists in different rules; storageClass standard explicitly */
    expect_valid(POLICY(R(30, ANY COUNT(9), EXPIRE) "," R(5, TAGGED("\"prod\"") COUNT(3), EXPIRE) "," R(
                     7, PATTERN("\"prod*\"") PUSHED(14), EXPIRE) "," R(9, UNTAGGED "\"storageClass\":\"standard\"," PUSHED(1),
                                                                       EXPIRE)),
                 4);
    expect_valid(POLICY(R(1, ANY "\"countType\":\"sinceImagePulled\",\"countUnit\":\"days\",\"countNumber\":90", ARCHIVE)), 1);
}

static void test_length(void **state)
{
    (void)state;
    char text[LC_TEXT_MAX + 2];
    const char *base = POLICY(R(1, UNTAGGED COUNT(1), EXPIRE));
    size_t n = strlen(base);
    memcpy(text, base, n);
    /* whitespace pads it to the limits */
    memset(text + n, ' ', sizeof(text) - n);
    struct lc_policy *p = NULL;
    assert_int_equal(lc_policy_parse(&p, text, LC_TEXT_MAX), 0);
    lc_policy_free(p);
    assert_int_equal(lc_policy_parse(&p, text, LC_TEXT_MAX + 1), E_INVALID);
    assert_non_null(strstr(error_message(), "30721 characters; it must be 100 to 30720"));
    assert_int_equal(lc_policy_parse(&p, "{\"rules\":[]}", 12), E_INVALID);
    assert_non_null(strstr(error_message(), "12 characters"));
    assert_int_equal(lc_policy_parse(&p, text, 100), E_INVALID); /* cut JSON */
    assert_non_null(strstr(error_message(), "not valid JSON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
