/*
 * This module implements running lifecycle policies (run.h): it loads a
 * repository's images in three bulk queries (manifests, tags, index links),
 * hands them to the evaluator, and carries out its decisions through the
 * image service, recording each in the history.
 *
 * An expiry deletes the image by digest with image_delete(), the call
 * behind BatchDeleteImage, so the same rules hold: an image an index lists
 * is not deleted while the index stays; a transition is image_archive(),
 * the call behind UpdateImageStorageClass, under its rules (an image an
 * active index lists is not archived before the index). Before deleting, the run checks in
 * the same transaction that the image still has the tags it was judged by
 * (a push may have tagged it since); deletes go in transactions of a
 * batch each, with their history, and an image refused because an index
 * that goes later in the run lists it is tried again after that index.
 *
 * What a batch expired or archived is also one CloudTrail record of the
 * account, in the batch's transaction: ECR's "PolicyExecutionEvent"
 * (eventType AwsServiceEvent), whose serviceEventDetails name the
 * repository, the policy's rules and each image with the rule that acted
 * on it. `aws cloudtrail lookup-events` and the console read it.
 */
#include "lifecycle/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "image/image.h"
#include "jobs/jobs.h"
#include "lifecycle/lifecycle.h"
#include "store/locks.h"

#define BATCH 200

static int64_t interval_ms = 86400000;

/* ---- the images of a repository ---- */

struct image_set {
    struct lc_image *im;
    char **digests; /* sorted, as the store lists them */
    char **subjects;
    char ***tags;
    size_t *ntags;
    size_t **parents;
    size_t n, cap;
    int64_t repo_id;
};

static void image_set_release(struct image_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->digests[i]);
        free(s->subjects[i]);
        for (size_t t = 0; t < s->ntags[i]; t++)
            free(s->tags[i][t]);
        free(s->tags[i]);
        free(s->parents[i]);
    }
    free(s->im);
    free(s->digests);
    free(s->subjects);
    free(s->tags);
    free(s->ntags);
    free(s->parents);
    memset(s, 0, sizeof(*s));
}

static int add_manifest(void *ctx, const struct lifecycle_manifest *m)
{
    struct image_set *s = ctx;
    /* an image being restored is neither standard nor archive yet: no
     * rule selects it until the restore completes */
    if (strcmp(m->status, "ACTIVATING") == 0)
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->im = xrealloc(s->im, s->cap * sizeof(*s->im));
        s->digests = xrealloc(s->digests, s->cap * sizeof(char *));
        s->subjects = xrealloc(s->subjects, s->cap * sizeof(char *));
        s->tags = xrealloc(s->tags, s->cap * sizeof(char **));
        s->ntags = xrealloc(s->ntags, s->cap * sizeof(size_t));
        s->parents = xrealloc(s->parents, s->cap * sizeof(size_t *));
    }
    size_t i = s->n++;
    s->digests[i] = xstrdup(m->digest);
    s->subjects[i] = m->subject ? xstrdup(m->subject) : NULL;
    s->tags[i] = NULL;
    s->ntags[i] = 0;
    s->parents[i] = NULL;
    s->im[i] = (struct lc_image){
        .pushed_ms = m->pushed_ms,
        /* with the pulls still waiting in memory to be written */
        .last_pull_ms = image_pull_time(s->repo_id, m->digest, m->last_pull_ms),
        .last_activated_ms = m->activated_ms,
        .last_archived_ms = m->archived_ms,
        .archived = strcmp(m->status, "ARCHIVED") == 0,
        .subject = -1,
    };
    return 0;
}

static long find_digest(const struct image_set *s, const char *digest)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->digests[mid], digest);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static bool power_of_two(size_t n)
{
    return n && (n & (n - 1)) == 0;
}

static int add_tag(void *ctx, const char *digest, const char *tag)
{
    struct image_set *s = ctx;
    long i = find_digest(s, digest);
    if (i < 0)
        return 0;
    size_t n = s->ntags[i];
    if (n == 0 || power_of_two(n))
        s->tags[i] = xrealloc(s->tags[i], (n ? n * 2 : 1) * sizeof(char *));
    s->tags[i][s->ntags[i]++] = xstrdup(tag);
    return 0;
}

static int add_link(void *ctx, const char *parent, const char *child)
{
    struct image_set *s = ctx;
    long p = find_digest(s, parent), c = find_digest(s, child);
    if (p < 0 || c < 0)
        return 0;
    size_t n = s->im[c].nparents;
    if (n == 0 || power_of_two(n))
        s->parents[c] = xrealloc(s->parents[c], (n ? n * 2 : 1) * sizeof(size_t));
    s->parents[c][s->im[c].nparents++] = (size_t)p;
    return 0;
}

static int load_images(struct image_set *s, int64_t repo_id)
{
    int rc;
    memset(s, 0, sizeof(*s));
    s->repo_id = repo_id;
    if ((rc = store_lifecycle_manifests(repo_id, add_manifest, s)) < 0 ||
        (rc = store_lifecycle_tags(repo_id, add_tag, s)) < 0 || (rc = store_lifecycle_links(repo_id, add_link, s)) < 0)
        return rc;
    for (size_t i = 0; i < s->n; i++) {
        struct lc_image *im = &s->im[i];
        im->digest = s->digests[i];
        im->tags = (const char *const *)s->tags[i];
        im->ntags = s->ntags[i];
        im->parents = s->parents[i];
        if (s->subjects[i]) {
            im->has_subject = true;
            im->subject = find_digest(s, s->subjects[i]);
        }
    }
    return 0;
}

static char *tags_json(const struct lc_image *im)
{
    json_t *a = json_array();
    for (size_t t = 0; t < im->ntags; t++)
        json_array_append_new(a, json_string(im->tags[t]));
    char *z = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return z;
}

/* Parses text, or the repository's stored policy when text is NULL (then
 * given to *stored_out when that is not NULL). */
static int load_policy(struct lc_policy **out, int64_t repo_id, const char *text, char **stored_out)
{
    char *stored = NULL;
    int rc = 0;
    if (!text) {
        if ((rc = store_lifecycle_policy_get(repo_id, &stored, NULL)) < 0)
            return rc;
        text = stored;
    }
    rc = lc_policy_parse(out, text, strlen(text));
    if (stored_out && rc == 0)
        *stored_out = stored;
    else
        free(stored);
    return rc;
}

/* ---- the CloudTrail record of a run ---- */

/* The policy's rules as PolicyExecutionEvent words them ("Any", "Image
 * count more than"); text was validated by lc_policy_parse. */
static json_t *event_rules(const char *text)
{
    static const char *const counts[][2] = {{"imageCountMoreThan", "Image count more than"},
                                            {"sinceImagePushed", "Since image pushed"},
                                            {"sinceImagePulled", "Since image pulled"},
                                            {"sinceImageTransitioned", "Since image transitioned"}};
    json_t *doc = json_loads(text, 0, NULL), *out = json_array(), *r;
    size_t i;
    json_array_foreach(json_object_get(doc, "rules"), i, r)
    {
        json_t *sel = json_object_get(r, "selection"), *ev = json_object();
        const char *status = json_string_value(json_object_get(sel, "tagStatus"));
        const char *count = json_string_value(json_object_get(sel, "countType"));
        char word[16];
        snprintf(word, sizeof(word), "%s", status ? status : "any");
        word[0] = (char)(word[0] >= 'a' && word[0] <= 'z' ? word[0] - 'a' + 'A' : word[0]);
        json_object_set_new(ev, "tagStatus", json_string(word));
        json_t *prefixes = json_object_get(sel, "tagPrefixList");
        json_object_set_new(ev, "tagPrefixList", prefixes ? json_deep_copy(prefixes) : json_array());
        if (json_object_get(sel, "tagPatternList"))
            json_object_set_new(ev, "tagPatternList", json_deep_copy(json_object_get(sel, "tagPatternList")));
        for (size_t k = 0; count && k < sizeof(counts) / sizeof(counts[0]); k++)
            if (strcmp(count, counts[k][0]) == 0)
                count = counts[k][1];
        json_object_set_new(ev, "countType", json_string(count ? count : ""));
        json_object_set_new(ev, "countNumber", json_deep_copy(json_object_get(sel, "countNumber")));
        if (json_object_get(sel, "countUnit"))
            json_object_set_new(ev, "countUnit", json_deep_copy(json_object_get(sel, "countUnit")));
        json_t *rule = json_pack("{s:O,s:o}", "rulePriority", json_object_get(r, "rulePriority"), "lifecycleEventSelection", ev);
        if (json_is_string(json_object_get(r, "description")))
            json_object_set(rule, "description", json_object_get(r, "description"));
        const char *action = json_string_value(json_object_get(json_object_get(r, "action"), "type"));
        json_object_set_new(rule, "action", json_string(action ? action : "expire"));
        json_array_append_new(out, rule);
    }
    json_decref(doc);
    return out;
}

static json_t *event_image(const struct lc_image *im, const struct lc_decision *d)
{
    json_t *tags = json_array();
    for (size_t t = 0; t < im->ntags; t++)
        json_array_append_new(tags, json_string(im->tags[t]));
    return json_pack("{s:{s:s,s:s,s:o,s:I},s:I,s:s}", "lifecycleEventImage", "digest", im->digest, "tagStatus",
                     im->ntags ? "Tagged" : "Untagged", "tagList", tags, "pushedAt", (json_int_t)im->pushed_ms, "rulePriority",
                     (json_int_t)d->priority, "action", d->action == LC_EXPIRE ? "expire" : "transition");
}

/* The PolicyExecutionEvent of one batch's actions, in its transaction. */
static int record_execution(const struct repo *repo, json_t *rules, json_t *actions, int64_t now_ms)
{
    struct principal who;
    memset(&who, 0, sizeof(who));
    snprintf(who.account_id, sizeof(who.account_id), "%s", repo->account_id);
    json_t *details = json_pack("{s:s,s:{s:O,s:I,s:i},s:O}", "repositoryName", repo->name, "lifecycleEventPolicy",
                                "lifecycleEventRules", rules, "lastEvaluatedAt", (json_int_t)now_ms, "policyVersion", 1,
                                "lifecycleEventImageActions", actions);
    struct audit_call a = {
        .source = AUDIT_SOURCE_ECR, .name = "PolicyExecutionEvent", .read_only = true, .who = &who, .service_event = details};
    /* named by its ARN, as CloudTrail has it: a lookup by this ResourceName
     * finds a repository's lifecycle events and nothing else */
    char arn[600];
    auth_repo_arn(arn, sizeof(arn), repo->account_id, repo->name);
    audit_add_resource(&a, "AWS::ECR::Repository", arn);
    int rc = audit_record_in_transaction(&a);
    json_decref(details);
    return rc;
}

/* Oldest push first; equal times in digest order. */
static int by_push(const void *a, const void *b, void *ctx)
{
    const struct lc_image *im = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (im[x].pushed_ms != im[y].pushed_ms)
        return im[x].pushed_ms < im[y].pushed_ms ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* ---- runs ---- */

struct tag_check {
    const struct lc_image *im;
    size_t seen;
    bool differs;
};

static int check_tag(void *ctx, const char *tag)
{
    struct tag_check *c = ctx;
    bool found = false;
    for (size_t t = 0; t < c->im->ntags && !found; t++)
        found = strcmp(c->im->tags[t], tag) == 0;
    c->seen++;
    c->differs |= !found;
    return c->differs;
}

/* Does the image still have exactly the tags it was judged by? */
static int same_tags(int64_t repo_id, const struct lc_image *im, bool *out)
{
    struct tag_check c = {im, 0, false};
    int rc = store_tags_of(repo_id, im->digest, check_tag, &c);
    *out = rc == 0 && !c.differs && c.seen == im->ntags;
    return rc;
}

#define OUTCOME_MAX 600

static struct lifecycle_event event_of(const struct repo *repo, const struct lc_image *im, const struct lc_decision *d,
                                       char *tags, const char *outcome, int64_t now_ms)
{
    return (struct lifecycle_event){
        .account_id = repo->account_id,
        .repository = repo->name,
        .digest = im->digest,
        .tags_json = tags,
        .action = lc_action_name(d->action),
        .outcome = outcome,
        .priority = d->priority,
        .at_ms = now_ms,
    };
}

/* Carries out one decision inside the open transaction and records it in
 * the history: 1 when done (or settled: skipped or kept) with
 * outcome set, 0 when an index still lists the image (try again later in
 * the run), or an error. */
static int act(char outcome[OUTCOME_MAX], const struct repo *repo, const struct lc_image *im, const struct lc_decision *d,
               bool last_try, int64_t now_ms)
{
    bool same, expire = d->action == LC_EXPIRE, acted = false;
    int rc = same_tags(repo->id, im, &same);
    if (rc < 0)
        return rc;
    if (!same) {
        snprintf(outcome, OUTCOME_MAX, "skipped: its tags changed after the evaluation");
    } else if ((rc = expire ? image_delete(repo, im->digest) : image_archive(repo, im->digest)) == E_NOTFOUND) {
        snprintf(outcome, OUTCOME_MAX, "skipped: already deleted");
    } else if (rc == E_UNSUPPORTED) {
        snprintf(outcome, OUTCOME_MAX, "skipped: %s", error_message()); /* archived or restored meanwhile */
    } else if (rc == E_CONFLICT && !last_try) {
        return 0;
    } else if (rc == E_CONFLICT) {
        snprintf(outcome, OUTCOME_MAX, "kept: %s", error_message());
    } else if (rc < 0) {
        return rc;
    } else {
        snprintf(outcome, OUTCOME_MAX, expire ? "expired" : "archived");
        acted = true;
    }
    char *tags = tags_json(im);
    struct lifecycle_event e = event_of(repo, im, d, tags, outcome, now_ms);
    rc = store_lifecycle_history_add(&e);
    if (rc == 0 && acted)
        rc = events_lifecycle_locked(repo, expire ? "EXPIRE" : "TRANSITION", im->digest, tags);
    free(tags);
    return rc < 0 ? rc : 1;
}

/* Runs the pending decisions (positions in todo), BATCH per transaction;
 * what an index still lists is put back in todo. Each action is reported
 * to fn once its transaction is committed. */
static int act_all(const struct repo *repo, json_t *rules, const struct image_set *s, const struct lc_decision *d,
                   size_t *todo, size_t *ntodo, bool last_try, int64_t now_ms, lifecycle_report fn, void *ctx, int *acted)
{
    size_t kept = 0, done[BATCH];
    char(*outcomes)[OUTCOME_MAX] = xmalloc(BATCH * OUTCOME_MAX);
    int rc = 0;
    for (size_t k = 0; k < *ntodo && rc == 0;) {
        /* the repository's writers wait for the batch; others go on */
        if ((rc = store_begin_repo(repo->id)) < 0)
            break;
        size_t end = k + BATCH < *ntodo ? k + BATCH : *ntodo, ndone = 0;
        json_t *actions = json_array();
        for (; k < end; k++) {
            size_t i = todo[k];
            if ((rc = act(outcomes[ndone], repo, &s->im[i], &d[i], last_try, now_ms)) < 0)
                break;
            if (rc == 0) {
                todo[kept++] = i;
            } else {
                if (strcmp(outcomes[ndone], "expired") == 0 || strcmp(outcomes[ndone], "archived") == 0)
                    json_array_append_new(actions, event_image(&s->im[i], &d[i]));
                done[ndone++] = i;
            }
            rc = 0;
        }
        if (rc == 0 && json_array_size(actions))
            rc = record_execution(repo, rules, actions, now_ms);
        /* the run's time commits with its first actions: a reader who sees
         * an image expired sees the policy evaluated */
        if (rc == 0 && ndone)
            rc = store_lifecycle_evaluated(repo->id, now_ms);
        json_decref(actions);
        if (rc == 0)
            rc = store_commit();
        if (rc < 0) {
            store_rollback();
            events_rolled_back();
            break;
        }
        events_committed();
        *acted += (int)ndone;
        for (size_t j = 0; fn && j < ndone; j++) {
            char *tags = tags_json(&s->im[done[j]]);
            struct lifecycle_event e = event_of(repo, &s->im[done[j]], &d[done[j]], tags, outcomes[j], now_ms);
            fn(ctx, &e);
            free(tags);
        }
    }
    free(outcomes);
    if (rc == 0)
        *ntodo = kept;
    return rc;
}

int lifecycle_run(const struct repo *repo, int64_t now_ms, lifecycle_report fn, void *ctx, int *acted_out)
{
    struct lc_policy *p = NULL;
    struct image_set s;
    struct lc_decision *d = NULL;
    size_t *todo = NULL, ntodo = 0;
    char *text = NULL;
    json_t *rules = NULL;
    int acted = 0, rc;

    memset(&s, 0, sizeof(s));
    if ((rc = load_policy(&p, repo->id, NULL, &text)) < 0 || (rc = load_images(&s, repo->id)) < 0)
        goto done;
    rules = event_rules(text);
    d = xmalloc((s.n ? s.n : 1) * sizeof(*d));
    lc_evaluate(d, p, s.im, s.n, now_ms);
    /* older images before newer ones, as the guide has it */
    todo = xmalloc((s.n ? s.n : 1) * sizeof(size_t));
    for (size_t i = 0; i < s.n; i++)
        if (d[i].action != LC_NONE)
            todo[ntodo++] = i;
    qsort_r(todo, ntodo, sizeof(size_t), by_push, s.im);
    /* each pass deletes what no remaining index lists; an index deleted
     * frees its children for the next pass */
    for (size_t before = ntodo + 1; ntodo && ntodo < before;) {
        before = ntodo;
        if ((rc = act_all(repo, rules, &s, d, todo, &ntodo, false, now_ms, fn, ctx, &acted)) < 0)
            goto done;
    }
    if (ntodo && (rc = act_all(repo, rules, &s, d, todo, &ntodo, true, now_ms, fn, ctx, &acted)) < 0)
        goto done;
    rc = store_lifecycle_evaluated(repo->id, now_ms);
done:
    if (acted_out)
        *acted_out = acted;
    free(todo);
    free(d);
    free(text);
    json_decref(rules);
    image_set_release(&s);
    lc_policy_free(p);
    return rc;
}

int lifecycle_evaluate(int64_t repo_id, const char *text, int64_t now_ms, size_t *acted_out)
{
    struct lc_policy *p = NULL;
    struct image_set s;
    int rc;
    memset(&s, 0, sizeof(s));
    if ((rc = load_policy(&p, repo_id, text, NULL)) == 0 && (rc = load_images(&s, repo_id)) == 0) {
        struct lc_decision *d = xmalloc((s.n ? s.n : 1) * sizeof(*d));
        *acted_out = lc_evaluate(d, p, s.im, s.n, now_ms);
        free(d);
    }
    image_set_release(&s);
    lc_policy_free(p);
    return rc;
}

/* ---- previews ---- */

int lifecycle_preview_run(int64_t repo_id, int64_t now_ms)
{
    struct lifecycle_preview pv = {0};
    struct lc_policy *p = NULL;
    struct image_set s;
    struct lc_decision *d = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    if ((rc = store_lifecycle_preview_get(repo_id, &pv)) < 0)
        return rc;
    if (strcmp(pv.status, "IN_PROGRESS") != 0)
        goto done;
    if (lc_policy_parse(&p, pv.policy, strlen(pv.policy)) < 0) {
        rc = store_lifecycle_preview_finish(repo_id, "FAILED", error_message(), 0, 0, now_ms);
        goto done;
    }
    if ((rc = load_images(&s, repo_id)) < 0)
        goto done;
    d = xmalloc((s.n ? s.n : 1) * sizeof(*d));
    lc_evaluate(d, p, s.im, s.n, now_ms);
    if ((rc = store_begin_repo(repo_id)) < 0)
        goto done;
    int64_t seq = 0, expiring = 0, transitioning = 0;
    /* in rule order, oldest first within a rule */
    size_t *order = xmalloc((s.n ? s.n : 1) * sizeof(size_t)), norder = 0;
    for (size_t i = 0; i < s.n; i++)
        if (d[i].action != LC_NONE)
            order[norder++] = i;
    qsort_r(order, norder, sizeof(size_t), by_push, s.im);
    for (size_t r = 0; r < p->nrules && rc == 0; r++)
        for (size_t k = 0; k < norder && rc == 0; k++) {
            size_t i = order[k];
            if (d[i].priority != p->rules[r].priority)
                continue;
            char *tags = tags_json(&s.im[i]);
            struct lifecycle_result res = {
                .seq = ++seq,
                .digest = s.im[i].digest,
                .tags_json = tags,
                .tagged = s.im[i].ntags > 0,
                .pushed_ms = s.im[i].pushed_ms,
                .action = lc_action_name(d[i].action),
                .priority = d[i].priority,
                .storage_class = s.im[i].archived ? "ARCHIVE" : "STANDARD",
            };
            rc = store_lifecycle_preview_add(repo_id, &res);
            free(tags);
            expiring += d[i].action == LC_EXPIRE;
            transitioning += d[i].action == LC_TRANSITION;
        }
    free(order);
    if (rc == 0)
        rc = store_lifecycle_preview_finish(repo_id, "COMPLETE", NULL, expiring, transitioning, now_ms);
    if (rc == 0)
        rc = store_commit();
    if (rc < 0)
        store_rollback();
done:
    free(d);
    image_set_release(&s);
    lc_policy_free(p);
    lifecycle_preview_release(&pv);
    return rc;
}

/* ---- jobs ---- */

static int parse_repo_id(const char *key, int64_t *out)
{
    char *end;
    long long v = strtoll(key, &end, 10);
    if (end == key || *end || v <= 0)
        return error_set(E_INVALID, "lifecycle job key '%s' is not a repository id", key);
    *out = v;
    return 0;
}

static int run_job(const struct job *job, void *ctx)
{
    int64_t id;
    struct repo repo;
    int rc = parse_repo_id(job->key, &id);
    if (rc < 0)
        return rc;
    if ((rc = store_repo_get_by_id(id, &repo)) == E_NOTFOUND) {
        jobs_cancel(LIFECYCLE_JOB, job->key); /* the repository is gone */
        return 0;
    }
    if (rc < 0)
        return rc;
    int acted = 0;
    rc = lifecycle_run(&repo, now_ms(), NULL, NULL, &acted);
    if (rc == E_NOTFOUND) {
        jobs_cancel(LIFECYCLE_JOB, job->key); /* the policy is gone */
        rc = 0;
    } else if (rc == 0 && acted) {
        log_info("lifecycle: %s/%s: %d action(s)", repo.account_id, repo.name, acted);
    }
    repo_release(&repo);
    return rc;
}

static int preview_job(const struct job *job, void *ctx)
{
    int64_t id;
    int rc = parse_repo_id(job->key, &id);
    if (rc < 0)
        return rc;
    rc = lifecycle_preview_run(id, now_ms());
    if (rc == E_NOTFOUND)
        return 0;
    if (rc < 0 && job->attempts + 1 >= JOBS_MAX_ATTEMPTS) {
        /* the queue gives up on the job: say so, or the preview would stay
         * IN_PROGRESS and refuse every new one */
        char why[512];
        snprintf(why, sizeof(why), "%s", error_message());
        if (store_lifecycle_preview_finish(id, "FAILED", why, 0, 0, now_ms()) == 0)
            return 0;
        error_set(rc, "%s", why);
    }
    return rc;
}

int lifecycle_start(int64_t ms)
{
    int rc;
    interval_ms = ms;
    if ((rc = jobs_register(LIFECYCLE_JOB, run_job, NULL)) < 0)
        return rc;
    return jobs_register(LIFECYCLE_PREVIEW_JOB, preview_job, NULL);
}

int64_t lifecycle_interval_ms(void)
{
    return interval_ms;
}

int lifecycle_schedule(int64_t repo_id)
{
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)repo_id);
    return jobs_every(LIFECYCLE_JOB, key, interval_ms, now_ms() + interval_ms);
}

int lifecycle_unschedule(int64_t repo_id)
{
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)repo_id);
    int rc = jobs_cancel(LIFECYCLE_JOB, key);
    return rc == E_NOTFOUND ? 0 : rc;
}
