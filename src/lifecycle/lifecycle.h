/*
 * Lifecycle policies, as ECR's user guide defines them ("Lifecycle policy
 * properties", "How lifecycle policies work", "Examples of lifecycle
 * policies"): the grammar and its validation (policy.c), and the evaluator
 * that decides, for a repository's images at a given time, which rule acts
 * on each image (evaluate.c). Both are pure: no I/O, no store, no clock,
 * so they are tested from tables. Running a policy against a repository
 * (reading its images, deleting through the image service, recording what
 * was done) is run.c's, declared in run.h.
 */
#ifndef BERTH_LIFECYCLE_LIFECYCLE_H
#define BERTH_LIFECYCLE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LC_TEXT_MIN 100
#define LC_TEXT_MAX 30720
#define LC_MAX_WILDCARDS 4
/* sinceImageTransitioned: archived images stay at least 90 days */
#define LC_ARCHIVE_MIN_DAYS 90
#define LC_DAY_MS 86400000LL

enum lc_tag_status { LC_TAGGED, LC_UNTAGGED, LC_ANY };
enum lc_count_type { LC_COUNT_MORE_THAN, LC_SINCE_PUSHED, LC_SINCE_PULLED, LC_SINCE_TRANSITIONED };
enum lc_storage { LC_STANDARD, LC_ARCHIVE };
enum lc_action { LC_NONE, LC_EXPIRE, LC_TRANSITION };

struct lc_rule {
    int64_t priority;
    enum lc_tag_status tag_status;
    char **prefixes; /* tagPrefixList, or NULL */
    size_t nprefixes;
    char **patterns; /* tagPatternList, or NULL */
    size_t npatterns;
    enum lc_storage storage;
    enum lc_count_type count_type;
    int64_t count;
    enum lc_action action; /* the target of a transition is always archive */
};

/* A validated policy; rules are sorted by priority, lowest first. */
struct lc_policy {
    struct lc_rule *rules;
    size_t nrules;
};

/* Parses and validates a lifecycle policy text. E_INVALID with a message
 * naming the rule (by its position and rulePriority) and the reason, in
 * the words ECR's InvalidParameterException uses after "Lifecycle policy
 * validation failure: ". */
int lc_policy_parse(struct lc_policy **out, const char *text, size_t len);
void lc_policy_free(struct lc_policy *p);

/* Does tag match pattern ('*' is any run of characters, the rest literal)? */
bool lc_pattern_match(const char *pattern, const char *tag);

/* One image of the repository, as the evaluator sees it. Times are ms since
 * the epoch, 0 when there is none. */
struct lc_image {
    const char *digest;
    const char *const *tags;
    size_t ntags;
    int64_t pushed_ms;
    int64_t last_pull_ms;      /* lastRecordedPullTime */
    int64_t last_activated_ms; /* restored from archive at */
    int64_t last_archived_ms;  /* archived at */
    bool archived;             /* storage class ARCHIVE */
    /* The indexes of this repository that list the image (positions in the
     * image array); such an image goes only when all of them go. */
    const size_t *parents;
    size_t nparents;
    /* An artifact whose subject is an image of this repository: the
     * position of the subject, or -1. has_subject with subject -1 means its
     * subject is not in the repository (any more). */
    bool has_subject;
    long subject;
};

struct lc_decision {
    enum lc_action action; /* LC_NONE: the image stays as it is */
    int64_t priority;      /* the rule that acts (appliedRulePriority) */
    bool follows_subject;  /* a referrer that goes with (or after) its subject */
};

/* Decides, for each of the n images, what the policy does at now_ms;
 * out has n entries. Returns how many images are acted on. What it does:
 *
 *  - every rule identifies the images its tag status, tag lists and
 *    storage class select, and marks those its count condition takes, all
 *    rules at once; then, in priority order, an image goes to the first
 *    rule that marked it unless a higher-priority rule identified it;
 *  - imageCountMoreThan keeps the newest N by push time (restore time for
 *    an image restored from archive), ties broken by position (later is
 *    newer); the since* types take images older than N days;
 *  - an image an index lists is acted on only when every such index is
 *    (expired, for an expiry; expired or archived, for an archival);
 *  - artifacts with a subject are not selected by rules: they follow their
 *    subject (same action, same rule) and, when their subject is gone from
 *    the repository, expire under the policy's first rule. */
size_t lc_evaluate(struct lc_decision *out, const struct lc_policy *p, const struct lc_image *images, size_t n,
                   int64_t now_ms);

const char *lc_action_name(enum lc_action a); /* "EXPIRE", "TRANSITION", "NONE" */

#endif
