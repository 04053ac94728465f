/*
 * This module implements the grammar of lifecycle policies and its
 * validation, sentence by sentence from ECR's "Lifecycle policy
 * properties" and "How lifecycle policies work":
 *
 *   - the document is {"rules": [...]} with at least one rule; a rule has
 *     rulePriority (an integer >= 1, unique), an optional description, a
 *     selection and an action, and nothing else;
 *   - tagStatus is tagged, untagged or any; tagged needs tagPrefixList or
 *     tagPatternList (not both, neither empty, no empty entry), which only
 *     tagged may use; a pattern has at most four '*';
 *   - countType is imageCountMoreThan, sinceImagePushed, sinceImagePulled
 *     or sinceImageTransitioned; countUnit is "days" and goes with the
 *     since* types only, which require it; countNumber is an integer >= 1;
 *   - storageClass is standard (the default) or archive; archive goes with
 *     sinceImageTransitioned only, which requires it;
 *   - action.type is expire, or transition with targetStorageClass
 *     archive; sinceImagePulled may only transition, sinceImageTransitioned
 *     may only expire, and only after 90 days or more;
 *   - among the rules that select one storage class: the rule with
 *     tagStatus any has the highest rulePriority (so there is at most one),
 *     only one rule selects untagged images, and no two rules have the same
 *     set of tag prefixes (or of tag patterns).
 *
 * The rules of different storage classes are separate sets: the guide's
 * "Combining archive and expire rules" example has an `any` rule for each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "lifecycle/lifecycle.h"

#define FAIL_PREFIX "Lifecycle policy validation failure: "

/* Sets the detail for rule i (0-based) and returns E_INVALID. */
static int rule_fail(size_t i, const struct lc_rule *r, const char *fmt, const char *a, const char *b)
{
    char why[512];
    snprintf(why, sizeof(why), fmt, a ? a : "", b ? b : "");
    if (r && r->priority > 0)
        return error_set(E_INVALID, FAIL_PREFIX "rule %zu (rulePriority %lld): %s", i + 1, (long long)r->priority, why);
    return error_set(E_INVALID, FAIL_PREFIX "rule %zu: %s", i + 1, why);
}

static void rule_release(struct lc_rule *r)
{
    for (size_t i = 0; i < r->nprefixes; i++)
        free(r->prefixes[i]);
    free(r->prefixes);
    for (size_t i = 0; i < r->npatterns; i++)
        free(r->patterns[i]);
    free(r->patterns);
}

void lc_policy_free(struct lc_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nrules; i++)
        rule_release(&p->rules[i]);
    free(p->rules);
    free(p);
}

/* Every member of obj is one of the allowed names. */
static int only_members(size_t i, const struct lc_rule *r, json_t *obj, const char *where, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            return rule_fail(i, r, "'%s' is not a property of %s", key, where);
    }
    return 0;
}

static int string_enum(size_t i, const struct lc_rule *r, json_t *obj, const char *name, const char *const *values,
                       int *out, bool required)
{
    json_t *v = json_object_get(obj, name);
    if (!v) {
        if (required)
            return rule_fail(i, r, "'%s' is required", name, NULL);
        return 1;
    }
    if (!json_is_string(v))
        return rule_fail(i, r, "'%s' must be a string", name, NULL);
    for (int k = 0; values[k]; k++)
        if (strcmp(values[k], json_string_value(v)) == 0) {
            *out = k;
            return 0;
        }
    char allowed[256] = "";
    for (int k = 0; values[k]; k++) {
        size_t len = strlen(allowed);
        snprintf(allowed + len, sizeof(allowed) - len, "%s%s", k ? ", " : "", values[k]);
    }
    char what[400];
    snprintf(what, sizeof(what), "'%s' is '%s'", name, json_string_value(v));
    return rule_fail(i, r, "%s; it must be one of: %s", what, allowed);
}

static int string_list(size_t i, const struct lc_rule *r, json_t *v, const char *name, char ***out, size_t *n)
{
    if (!json_is_array(v))
        return rule_fail(i, r, "'%s' must be a list of strings", name, NULL);
    if (json_array_size(v) == 0)
        return rule_fail(i, r, "'%s' must not be empty", name, NULL);
    *out = xcalloc(json_array_size(v), sizeof(char *));
    size_t k;
    json_t *e;
    json_array_foreach(v, k, e)
    {
        if (!json_is_string(e))
            return rule_fail(i, r, "'%s' must be a list of strings", name, NULL);
        if (json_string_length(e) == 0)
            return rule_fail(i, r, "'%s' has an empty entry", name, NULL);
        (*out)[(*n)++] = xstrndup(json_string_value(e), json_string_length(e));
    }
    return 0;
}

static int parse_selection(size_t i, struct lc_rule *r, json_t *sel)
{
    static const char *const members[] = {"tagStatus",   "tagPatternList", "tagPrefixList", "storageClass",
                                          "countType",   "countUnit",      "countNumber",   NULL};
    static const char *const statuses[] = {"tagged", "untagged", "any", NULL};
    static const char *const types[] = {"imageCountMoreThan", "sinceImagePushed", "sinceImagePulled",
                                        "sinceImageTransitioned", NULL};
    static const char *const classes[] = {"standard", "archive", NULL};
    static const char *const units[] = {"days", NULL};
    int rc, k = 0;

    if (!json_is_object(sel))
        return rule_fail(i, r, "'selection' must be an object", NULL, NULL);
    if ((rc = only_members(i, r, sel, "selection", members)) < 0)
        return rc;
    if ((rc = string_enum(i, r, sel, "tagStatus", statuses, &k, true)) < 0)
        return rc;
    r->tag_status = (enum lc_tag_status)k;

    json_t *prefixes = json_object_get(sel, "tagPrefixList"), *patterns = json_object_get(sel, "tagPatternList");
    if (prefixes && patterns)
        return rule_fail(i, r, "tagPrefixList and tagPatternList cannot be used together in one rule", NULL, NULL);
    if (r->tag_status == LC_TAGGED && !prefixes && !patterns)
        return rule_fail(i, r, "tagStatus 'tagged' requires a tagPrefixList or a tagPatternList", NULL, NULL);
    if (r->tag_status != LC_TAGGED && (prefixes || patterns))
        return rule_fail(i, r, "%s may only be used when tagStatus is 'tagged', not '%s'",
                         prefixes ? "tagPrefixList" : "tagPatternList", statuses[r->tag_status]);
    if (prefixes && (rc = string_list(i, r, prefixes, "tagPrefixList", &r->prefixes, &r->nprefixes)) < 0)
        return rc;
    if (patterns && (rc = string_list(i, r, patterns, "tagPatternList", &r->patterns, &r->npatterns)) < 0)
        return rc;
    for (size_t p = 0; p < r->npatterns; p++) {
        int stars = 0;
        for (const char *c = r->patterns[p]; *c; c++)
            stars += *c == '*';
        if (stars > LC_MAX_WILDCARDS)
            return rule_fail(i, r, "tag pattern '%s' has more than four wildcards (*)%s", r->patterns[p], "");
    }

    if ((rc = string_enum(i, r, sel, "countType", types, &k, true)) < 0)
        return rc;
    r->count_type = (enum lc_count_type)k;
    int unit = -1;
    if ((rc = string_enum(i, r, sel, "countUnit", units, &unit, false)) < 0)
        return rc;
    if (r->count_type == LC_COUNT_MORE_THAN && rc == 0)
        return rule_fail(i, r, "countUnit may only be used with countType sinceImagePushed, sinceImagePulled or "
                               "sinceImageTransitioned, not %s",
                         types[r->count_type], NULL);
    if (r->count_type != LC_COUNT_MORE_THAN && rc == 1)
        return rule_fail(i, r, "countType %s requires countUnit 'days'", types[r->count_type], NULL);

    json_t *num = json_object_get(sel, "countNumber");
    if (!num)
        return rule_fail(i, r, "'countNumber' is required", NULL, NULL);
    if (!json_is_integer(num) || json_integer_value(num) < 1 || json_integer_value(num) > 2147483647)
        return rule_fail(i, r, "countNumber must be a positive integer (0 is not accepted)", NULL, NULL);
    r->count = json_integer_value(num);

    k = LC_STANDARD;
    if ((rc = string_enum(i, r, sel, "storageClass", classes, &k, false)) < 0)
        return rc;
    r->storage = (enum lc_storage)k;
    if (r->count_type == LC_SINCE_TRANSITIONED && r->storage != LC_ARCHIVE)
        return rule_fail(i, r, "countType sinceImageTransitioned requires storageClass 'archive'", NULL, NULL);
    if (r->count_type != LC_SINCE_TRANSITIONED && r->storage != LC_STANDARD)
        return rule_fail(i, r, "storageClass 'archive' may only be used with countType sinceImageTransitioned, not %s",
                         types[r->count_type], NULL);
    if (r->count_type == LC_SINCE_TRANSITIONED && r->count < LC_ARCHIVE_MIN_DAYS)
        return rule_fail(i, r, "countType sinceImageTransitioned needs a countNumber of at least 90 days: archived "
                               "images stay in archive for a minimum of 90 days%s",
                         "", NULL);
    return 0;
}

static int parse_action(size_t i, struct lc_rule *r, json_t *act)
{
    static const char *const members[] = {"type", "targetStorageClass", NULL};
    static const char *const types[] = {"expire", "transition", NULL};
    static const char *const targets[] = {"archive", NULL};
    int rc, k = 0, target = -1;

    if (!json_is_object(act))
        return rule_fail(i, r, "'action' must be an object", NULL, NULL);
    if ((rc = only_members(i, r, act, "action", members)) < 0)
        return rc;
    if ((rc = string_enum(i, r, act, "type", types, &k, true)) < 0)
        return rc;
    r->action = k == 0 ? LC_EXPIRE : LC_TRANSITION;
    if ((rc = string_enum(i, r, act, "targetStorageClass", targets, &target, false)) < 0)
        return rc;
    if (r->action == LC_TRANSITION && target < 0)
        return rule_fail(i, r, "action type 'transition' requires targetStorageClass 'archive'", NULL, NULL);
    if (r->action == LC_EXPIRE && target >= 0)
        return rule_fail(i, r, "targetStorageClass may only be used with action type 'transition'", NULL, NULL);
    if (r->count_type == LC_SINCE_PULLED && r->action != LC_TRANSITION)
        return rule_fail(i, r, "countType sinceImagePulled must be used with action type 'transition' (archive first, "
                               "then expire with sinceImageTransitioned)%s",
                         "", NULL);
    if (r->count_type == LC_SINCE_TRANSITIONED && r->action != LC_EXPIRE)
        return rule_fail(i, r, "countType sinceImageTransitioned must be used with action type 'expire'", NULL, NULL);
    return 0;
}

static int parse_rule(size_t i, struct lc_rule *r, json_t *rule)
{
    static const char *const members[] = {"rulePriority", "description", "selection", "action", NULL};
    int rc;
    if (!json_is_object(rule))
        return rule_fail(i, NULL, "a rule must be an object", NULL, NULL);
    json_t *prio = json_object_get(rule, "rulePriority");
    if (!prio)
        return rule_fail(i, NULL, "'rulePriority' is required", NULL, NULL);
    if (!json_is_integer(prio) || json_integer_value(prio) < 1 || json_integer_value(prio) > 2147483647)
        return rule_fail(i, NULL, "rulePriority must be a positive integer", NULL, NULL);
    r->priority = json_integer_value(prio);
    if ((rc = only_members(i, r, rule, "a rule", members)) < 0)
        return rc;
    json_t *desc = json_object_get(rule, "description");
    if (desc && !json_is_string(desc))
        return rule_fail(i, r, "'description' must be a string", NULL, NULL);
    json_t *sel = json_object_get(rule, "selection"), *act = json_object_get(rule, "action");
    if (!sel)
        return rule_fail(i, r, "'selection' is required", NULL, NULL);
    if (!act)
        return rule_fail(i, r, "'action' is required", NULL, NULL);
    if ((rc = parse_selection(i, r, sel)) < 0)
        return rc;
    return parse_action(i, r, act);
}

/* Do the two lists hold the same set of strings? */
static bool same_set(char **a, size_t na, char **b, size_t nb)
{
    if (!na || !nb)
        return false;
    for (size_t x = 0; x < na; x++) {
        bool found = false;
        for (size_t y = 0; y < nb && !found; y++)
            found = strcmp(a[x], b[y]) == 0;
        if (!found)
            return false;
    }
    for (size_t y = 0; y < nb; y++) {
        bool found = false;
        for (size_t x = 0; x < na && !found; x++)
            found = strcmp(a[x], b[y]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static const char *storage_name(enum lc_storage s)
{
    return s == LC_ARCHIVE ? "archive" : "standard";
}

/* The rules among themselves; rules are in document order. */
static int check_rules(const struct lc_policy *p)
{
    for (size_t i = 0; i < p->nrules; i++) {
        const struct lc_rule *r = &p->rules[i];
        for (size_t j = 0; j < i; j++) {
            const struct lc_rule *o = &p->rules[j];
            if (o->priority == r->priority) {
                char other[32];
                snprintf(other, sizeof(other), "%zu", j + 1);
                return rule_fail(i, r, "rulePriority must be unique: rule %s has the same rulePriority%s", other, "");
            }
        }
        for (size_t j = 0; j < p->nrules; j++) {
            const struct lc_rule *o = &p->rules[j];
            if (j == i || o->storage != r->storage)
                continue;
            if (r->tag_status == LC_ANY && o->priority > r->priority)
                return rule_fail(i, r,
                                 "a rule with tagStatus 'any' must have the highest rulePriority of the rules "
                                 "selecting storageClass '%s' and be evaluated last%s",
                                 storage_name(r->storage), "");
            if (j < i && r->tag_status == LC_UNTAGGED && o->tag_status == LC_UNTAGGED)
                return rule_fail(i, r, "only one rule selecting storageClass '%s' may select untagged images%s",
                                 storage_name(r->storage), "");
            if (j < i && (same_set(r->prefixes, r->nprefixes, o->prefixes, o->nprefixes) ||
                          same_set(r->patterns, r->npatterns, o->patterns, o->npatterns)))
                return rule_fail(i, r,
                                 "the rules selecting storageClass '%s' must have unique sets of tag %s: another rule "
                                 "has the same set",
                                 storage_name(r->storage), r->nprefixes ? "prefixes" : "patterns");
        }
    }
    return 0;
}

static int by_priority(const void *a, const void *b)
{
    const struct lc_rule *x = a, *y = b;
    return x->priority < y->priority ? -1 : x->priority > y->priority;
}

int lc_policy_parse(struct lc_policy **out, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *doc = NULL;
    struct lc_policy *p = xcalloc(1, sizeof(*p));
    int rc = 0;

    *out = NULL;
    if (len < LC_TEXT_MIN || len > LC_TEXT_MAX) {
        rc = error_set(E_INVALID, FAIL_PREFIX "the policy text is %zu characters; it must be %d to %d", len, LC_TEXT_MIN,
                       LC_TEXT_MAX);
        goto done;
    }
    if (!(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        rc = error_set(E_INVALID, FAIL_PREFIX "the policy is not valid JSON: %s at line %d, column %d", jerr.text,
                       jerr.line, jerr.column);
        goto done;
    }
    if (!json_is_object(doc)) {
        rc = error_set(E_INVALID, FAIL_PREFIX "the policy must be a JSON object with 'rules'");
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v)
    {
        if (strcmp(key, "rules") != 0) {
            rc = error_set(E_INVALID, FAIL_PREFIX "'%s' is not a property of a lifecycle policy", key);
            goto done;
        }
    }
    json_t *rules = json_object_get(doc, "rules");
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        rc = error_set(E_INVALID, FAIL_PREFIX "'rules' must be a list of at least one rule");
        goto done;
    }
    p->rules = xcalloc(json_array_size(rules), sizeof(struct lc_rule));
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        p->nrules = i + 1;
        if ((rc = parse_rule(i, &p->rules[i], rule)) < 0)
            goto done;
    }
    if ((rc = check_rules(p)) < 0)
        goto done;
    qsort(p->rules, p->nrules, sizeof(struct lc_rule), by_priority);
    *out = p;
    p = NULL;
done:
    json_decref(doc);
    lc_policy_free(p);
    return rc;
}

bool lc_pattern_match(const char *pat, const char *s)
{
    /* the classic greedy glob with one backtrack point: linear enough for
     * four wildcards and tags of 300 characters */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

const char *lc_action_name(enum lc_action a)
{
    return a == LC_EXPIRE ? "EXPIRE" : a == LC_TRANSITION ? "TRANSITION" : "NONE";
}
