/*
 * This module implements the lifecycle policy evaluator (lifecycle.h): for
 * a repository's images at a given time, which rule acts on each image.
 *
 * It follows "Lifecycle policy evaluation rules" of ECR's user guide:
 * all rules are evaluated at the same time (each identifies the images its
 * tag condition and storage class select and marks those its count
 * condition takes), then applied in priority order; an image is acted on by
 * at most one rule; an image that a rule identifies cannot be taken by a
 * lower-priority rule, though lower rules still count it; imageCountMoreThan
 * sorts youngest first and takes all past the count; since* take what is
 * older than the number of days; an image a manifest list references is
 * not expired or archived before the list; reference artifacts go with
 * their subject, and after it when it is gone.
 *
 * Cost: O(rules * n log n) for n images, no allocation per image beyond a
 * few arrays of n.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "lifecycle/lifecycle.h"

static bool is_tagged(const struct lc_image *im)
{
    return im->ntags > 0;
}

static bool has_prefix(const struct lc_image *im, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t t = 0; t < im->ntags; t++)
        if (strncmp(im->tags[t], prefix, n) == 0)
            return true;
    return false;
}

static bool has_match(const struct lc_image *im, const char *pattern)
{
    for (size_t t = 0; t < im->ntags; t++)
        if (lc_pattern_match(pattern, im->tags[t]))
            return true;
    return false;
}

/* Does the rule's tag condition and storage class select the image? An
 * image is matched when every prefix (pattern) of the list matches one of
 * its tags. Artifacts with a subject are never selected: they follow it. */
static bool identifies(const struct lc_rule *r, const struct lc_image *im)
{
    if (im->has_subject)
        return false;
    if ((r->storage == LC_ARCHIVE) != im->archived)
        return false;
    switch (r->tag_status) {
    case LC_ANY:
        return true;
    case LC_UNTAGGED:
        return !is_tagged(im);
    case LC_TAGGED:
        if (!is_tagged(im))
            return false;
        for (size_t k = 0; k < r->nprefixes; k++)
            if (!has_prefix(im, r->prefixes[k]))
                return false;
        for (size_t k = 0; k < r->npatterns; k++)
            if (!has_match(im, r->patterns[k]))
                return false;
        return true;
    }
    return false;
}

/* The time an image counts from for its age and its order: its push, or
 * its restore from archive when that is later. */
static int64_t age_time(const struct lc_image *im)
{
    return im->last_activated_ms > im->pushed_ms ? im->last_activated_ms : im->pushed_ms;
}

/* sinceImagePulled: the last recorded pull; a restore since then counts as
 * one; never pulled (nor restored) counts from the push. */
static int64_t pull_time(const struct lc_image *im)
{
    int64_t t = im->last_pull_ms > im->last_activated_ms ? im->last_pull_ms : im->last_activated_ms;
    return t ? t : im->pushed_ms;
}

/* Youngest first; equal times: the later position is the younger. */
static int by_youngest(const void *a, const void *b, void *ctx)
{
    const struct lc_image *images = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int64_t tx = age_time(&images[x]), ty = age_time(&images[y]);
    if (tx != ty)
        return tx > ty ? -1 : 1;
    return x > y ? -1 : x < y;
}

/* Applies rule r: marks what its count condition takes among what it
 * identifies (sel, nsel) and gives each marked image nobody claimed yet. */
static void apply_rule(struct lc_decision *out, const bool *claimed, const struct lc_rule *r, const struct lc_image *images,
                       size_t *sel, size_t nsel, int64_t now_ms)
{
    int64_t cutoff = now_ms - r->count * LC_DAY_MS;
    if (r->count_type == LC_COUNT_MORE_THAN)
        qsort_r(sel, nsel, sizeof(size_t), by_youngest, (void *)images);
    for (size_t k = 0; k < nsel; k++) {
        const struct lc_image *im = &images[sel[k]];
        bool marked = false;
        switch (r->count_type) {
        case LC_COUNT_MORE_THAN:
            marked = k >= (size_t)r->count;
            break;
        case LC_SINCE_PUSHED:
            marked = age_time(im) < cutoff;
            break;
        case LC_SINCE_PULLED:
            marked = pull_time(im) < cutoff;
            break;
        case LC_SINCE_TRANSITIONED:
            marked = im->last_archived_ms && im->last_archived_ms < cutoff;
            break;
        }
        if (marked && !claimed[sel[k]] && out[sel[k]].action == LC_NONE) {
            out[sel[k]].action = r->action;
            out[sel[k]].priority = r->priority;
        }
    }
}

/* Referrers take the decision of the image at the end of their subject
 * chain; when that is gone from the repository, they expire under the
 * policy's first rule. Iterative, so a long chain cannot overflow the stack. */
static void follow_subjects(struct lc_decision *out, const struct lc_policy *p, const struct lc_image *images, size_t n)
{
    unsigned char *state = xcalloc(n ? n : 1, 1); /* 0 open, 1 on the walk, 2 done */
    size_t *walk = xmalloc((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        if (!images[i].has_subject || state[i] == 2)
            continue;
        size_t nwalk = 0, at = i;
        struct lc_decision root = {LC_NONE, 0, true};
        for (;;) {
            if (!images[at].has_subject) {
                root.action = out[at].action;
                root.priority = out[at].priority;
                break;
            }
            if (state[at] == 2) {
                root = out[at];
                break;
            }
            if (state[at] == 1 || images[at].subject < 0 || (size_t)images[at].subject >= n) {
                /* gone (or a cycle, which digests cannot make): expire */
                if (state[at] == 0)
                    walk[nwalk++] = at;
                root.action = LC_EXPIRE;
                root.priority = p->rules[0].priority;
                break;
            }
            state[at] = 1;
            walk[nwalk++] = at;
            at = (size_t)images[at].subject;
        }
        for (size_t k = 0; k < nwalk; k++) {
            const struct lc_image *im = &images[walk[k]];
            struct lc_decision d = root;
            d.follows_subject = true;
            if (d.action == LC_TRANSITION && im->archived)
                d.action = LC_NONE;
            out[walk[k]] = d;
            state[walk[k]] = 2;
        }
    }
    free(walk);
    free(state);
}

/* May image i go as decided, given its indexes and its subject? */
static bool allowed(const struct lc_decision *out, const struct lc_image *images, size_t n, size_t i)
{
    const struct lc_image *im = &images[i];
    for (size_t k = 0; k < im->nparents; k++) {
        size_t p = im->parents[k];
        if (p >= n)
            continue;
        if (out[p].action == LC_EXPIRE)
            continue;
        if (out[p].action == LC_TRANSITION && out[i].action == LC_TRANSITION)
            continue;
        return false;
    }
    if (im->has_subject && im->subject >= 0 && (size_t)im->subject < n && out[im->subject].action == LC_NONE &&
        out[i].follows_subject)
        return false;
    return true;
}

size_t lc_evaluate(struct lc_decision *out, const struct lc_policy *p, const struct lc_image *images, size_t n,
                   int64_t now_ms)
{
    bool *claimed = xcalloc(n ? n : 1, sizeof(bool));
    size_t *sel = xmalloc((n ? n : 1) * sizeof(size_t));

    for (size_t i = 0; i < n; i++)
        out[i] = (struct lc_decision){LC_NONE, 0, false};
    for (size_t r = 0; r < p->nrules; r++) {
        const struct lc_rule *rule = &p->rules[r];
        size_t nsel = 0;
        for (size_t i = 0; i < n; i++)
            if (identifies(rule, &images[i]))
                sel[nsel++] = i;
        apply_rule(out, claimed, rule, images, sel, nsel, now_ms);
        for (size_t k = 0; k < nsel; k++)
            claimed[sel[k]] = true;
    }
    follow_subjects(out, p, images, n);

    /* an image a manifest list references goes only with the list: drop
     * what may not go until nothing changes (nested indexes need a pass
     * per level) */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < n; i++)
            if (out[i].action != LC_NONE && !allowed(out, images, n, i)) {
                out[i] = (struct lc_decision){LC_NONE, 0, false};
                changed = true;
            }
    }
    size_t acted = 0;
    for (size_t i = 0; i < n; i++)
        acted += out[i].action != LC_NONE;
    free(sel);
    free(claimed);
    return acted;
}
