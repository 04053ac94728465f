/*
 * This module implements authorization: every control-plane call and every
 * /v2 request asks auth_authorize() whether its principal may perform an
 * ecr:/iam: action on a resource, and the answer comes from the one policy
 * evaluator (policy/policy.h) over the principal's identity policies, the
 * repository's policy and the registry's policy, with AWS's semantics.
 *
 * Parsed policies are cached per thread by their exact text, so a hot path
 * (the same root pulling the same repository) parses nothing.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "policy/arn.h"
#include "policy/policy.h"
#include "store/cache.h"

_Static_assert(sizeof(struct authz_tag) == sizeof(struct policy_tag), "authz_tag mirrors policy_tag");

#define POLICY_CACHE 32
#define ACCOUNT_GRANT_LABEL "account password policy (AllowUsersToChangePassword)"

static auth_identity_source identity_source;

void auth_set_identity_source(auth_identity_source src)
{
    identity_source = src;
}

/*
 * Parsed policies are cached per thread. A decision may use many of them
 * (every identity policy of the caller, the repository's and the
 * registry's), and none it has handed out may be evicted before the
 * decision ends: each slot remembers the last decision that used it
 * (gen), eviction passes over the slots of the current one, and when all
 * are taken the policy is parsed for this decision alone (spill), freed
 * when the next one starts.
 */
struct cached_policy {
    char *text;
    enum policy_kind kind;
    struct policy *policy;
    unsigned gen;
};

static _Thread_local struct cached_policy cache[POLICY_CACHE];
static _Thread_local unsigned cache_next, cache_gen;
static _Thread_local struct policy **spill;
static _Thread_local size_t nspill, spill_cap;

static void spill_release(void)
{
    for (size_t i = 0; i < nspill; i++)
        policy_free(spill[i]);
    nspill = 0;
}

/* A new decision: what the last one held may go. */
static void cache_new_decision(void)
{
    spill_release();
    cache_gen++;
}
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

/* The cache dies with its thread. */
static void cache_free(void *unused)
{
    (void)unused;
    for (int i = 0; i < POLICY_CACHE; i++) {
        free(cache[i].text);
        policy_free(cache[i].policy);
        cache[i].text = NULL;
        cache[i].policy = NULL;
    }
    spill_release();
    free(spill);
    spill = NULL;
    spill_cap = 0;
}

static void cache_key_make(void)
{
    pthread_key_create(&cache_key, cache_free);
}

/* The parsed form of text (NULL when it does not parse: such a policy
 * could only have been stored by an older berth; it is ignored, loudly). */
static const struct policy *policy_cached(const char *text, enum policy_kind kind)
{
    for (int i = 0; i < POLICY_CACHE; i++)
        if (cache[i].text && cache[i].kind == kind && strcmp(cache[i].text, text) == 0) {
            cache[i].gen = cache_gen;
            return cache[i].policy;
        }
    struct policy *p = NULL;
    pthread_once(&cache_key_once, cache_key_make);
    pthread_setspecific(cache_key, (void *)1);
    if (policy_parse(&p, text, strlen(text), kind, POLICY_LIMIT_NONE) < 0) {
        log_warn("ignoring a stored policy that does not parse: %s", error_message());
        p = NULL;
    }
    struct cached_policy *slot = NULL;
    for (int i = 0; i < POLICY_CACHE && !slot; i++) {
        struct cached_policy *s = &cache[cache_next++ % POLICY_CACHE];
        if (!s->text || s->gen != cache_gen)
            slot = s;
    }
    if (!slot) {
        /* every slot serves this decision: this one is its own */
        if (nspill == spill_cap) {
            spill_cap = spill_cap ? spill_cap * 2 : 16;
            spill = xrealloc(spill, spill_cap * sizeof(*spill));
        }
        spill[nspill++] = p;
        return p;
    }
    free(slot->text);
    policy_free(slot->policy);
    slot->text = xstrdup(text);
    slot->kind = kind;
    slot->policy = p;
    slot->gen = cache_gen;
    return p;
}

/* Every identity policy of the caller: no cap, since a Deny left out
 * would be an Allow let in. */
struct identity_list {
    struct policy_attached *items;
    char **labels;
    size_t n, cap;
};

static int add_identity(void *ctx, const char *label, const char *document)
{
    struct identity_list *l = ctx;
    const struct policy *p = policy_cached(document, POLICY_IDENTITY);
    if (!p)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
        l->labels = xrealloc(l->labels, l->cap * sizeof(*l->labels));
    }
    l->labels[l->n] = xstrdup(label);
    l->items[l->n] = (struct policy_attached){p, l->labels[l->n]};
    l->n++;
    return 0;
}

#define MAX_RESOURCE_TAGS 50

struct tag_list {
    struct policy_tag items[MAX_RESOURCE_TAGS];
    size_t n;
};

static int add_resource_tag(void *ctx, const char *k, const char *v)
{
    struct tag_list *l = ctx;
    if (l->n == MAX_RESOURCE_TAGS)
        return 1;
    l->items[l->n++] = (struct policy_tag){xstrdup(k), xstrdup(v)};
    return 0;
}

/* The repository named by an ECR repository ARN, if it is one (a pattern
 * with a wildcard names none). */
static bool repo_from_arn(const char *z, char account[13], char *name, size_t size)
{
    struct arn a;
    struct slice n;
    if (arn_parse(&a, slice_from(z)) < 0) {
        error_clear();
        return false;
    }
    if (!slice_eq(a.partition, "aws") || !arn_ecr_repository(&a, &n) || memchr(n.base, '*', n.len) || n.len >= size)
        return false;
    memcpy(account, a.account.base, ARN_ACCOUNT_LEN);
    account[ARN_ACCOUNT_LEN] = '\0';
    snprintf(name, size, "%.*s", (int)n.len, n.base);
    return true;
}

int auth_principal_from_arn(struct principal *out, const char *z)
{
    struct arn a;
    struct slice user;
    struct iam_identity u;
    bool root;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = arn_parse(&a, slice_from(z))) < 0 || (rc = arn_iam_principal(&a, &root, &user)) < 0)
        return error_set(E_INVALID, "%.300s is not the ARN of an account root or an IAM user", z);
    memcpy(out->account_id, a.account.base, ARN_ACCOUNT_LEN);
    snprintf(out->arn, sizeof(out->arn), "%s", z);
    if (root) {
        out->is_root = true;
        snprintf(out->user_id, sizeof(out->user_id), "%s", out->account_id);
        return 0;
    }
    snprintf(out->user_name, sizeof(out->user_name), "%.*s", (int)user.len, user.base);
    /* the user must exist with exactly this ARN (its path included) */
    rc = store_identity_get(out->account_id, IAM_ENTITY_USER, out->user_name, &u);
    if (rc == E_NOTFOUND || (rc == 0 && strcmp(u.arn, z) != 0))
        return error_set(E_NOTFOUND, "The user with name %s cannot be found.", out->user_name);
    if (rc < 0)
        return rc;
    snprintf(out->user_id, sizeof(out->user_id), "%s", u.id);
    return 0;
}

int auth_decide(struct auth_decision *out, const struct principal *p, const char *action, const char *resource_account,
                const char *resource_arn, const struct authz_context *ctx)
{
    struct identity_list *ids = xcalloc(1, sizeof(*ids));
    struct tag_list *tags = xcalloc(1, sizeof(*tags));
    struct policy_attached resource = {0}, registry = {0};
    char *repo_policy = NULL, *registry_policy = NULL;
    char account[13], name[300];
    struct repo repo;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    cache_new_decision();
    if (p->anonymous) {
        out->allowed = true;
        snprintf(out->result, sizeof(out->result), "allowed");
        snprintf(out->source, sizeof(out->source), "authentication is off");
        free(ids);
        free(tags);
        return 0;
    }
    /* a policy the store failed to read might have denied: a failure
     * decides nothing (out stays "not allowed") and is returned */
    if (!p->is_root && identity_source &&
        (rc = identity_source(p->cache_gen, p->account_id, p->user_name, add_identity, ids)) < 0)
        goto done;
    if (!p->is_root && ctx && ctx->account_grant && (rc = add_identity(ids, ACCOUNT_GRANT_LABEL, ctx->account_grant)) < 0)
        goto done;
    if (repo_from_arn(resource_arn, account, name, sizeof(name)) &&
        (rc = store_cached_repo_get(p->cache_gen, account, name, &repo)) == 0) {
        if (repo.policy) {
            repo_policy = repo.policy;
            repo.policy = NULL;
        }
        rc = store_cached_repo_tags_get(p->cache_gen, repo.id, add_resource_tag, tags);
        repo_release(&repo);
    }
    if (rc < 0 && rc != E_NOTFOUND)
        goto done;
    if (repo_policy) {
        resource.policy = policy_cached(repo_policy, POLICY_RESOURCE);
        resource.label = "repository policy";
    }
    if ((rc = store_cached_setting_get(p->cache_gen, resource_account, "registry_policy", &registry_policy)) == 0) {
        registry.policy = policy_cached(registry_policy, POLICY_RESOURCE);
        registry.label = "registry policy";
    } else if (rc != E_NOTFOUND) {
        goto done;
    }

    struct policy_request req = {
        .principal = {.type = p->is_root ? POLICY_PRINCIPAL_ROOT : POLICY_PRINCIPAL_USER,
                      .arn = p->arn,
                      .account = p->account_id,
                      .username = p->is_root ? NULL : p->user_name,
                      .userid = p->user_id[0] ? p->user_id : NULL},
        .action = action,
        .resource = resource_arn,
        .resource_account = resource_account,
        .source_ip = ctx && ctx->source_ip && *ctx->source_ip ? ctx->source_ip : NULL,
        .secure_transport = ctx ? ctx->secure_transport : false,
        .resource_tags = tags->items,
        .resource_tag_count = tags->n,
        /* struct authz_tag and struct policy_tag are the same pair */
        .request_tags = ctx ? (const struct policy_tag *)ctx->request_tags : NULL,
        .request_tag_count = ctx ? ctx->request_tag_count : 0,
    };
    struct policy_inputs in = {
        .identity = ids->items,
        .identity_count = ids->n,
        .resource = resource.policy ? &resource : NULL,
        .registry = registry.policy ? &registry : NULL,
    };
    struct policy_decision d;
    if ((rc = policy_evaluate(&d, &req, &in)) < 0)
        goto done;
    out->allowed = d.result == POLICY_ALLOW;
    snprintf(out->result, sizeof(out->result), "%s", policy_result_name(d.result));
    snprintf(out->source, sizeof(out->source), "%s",
             d.label ? d.label : (d.type == POLICY_TYPE_NONE && out->allowed ? "account root" : "no policy"));
    snprintf(out->sid, sizeof(out->sid), "%s", d.sid ? d.sid : "");
    if (!out->allowed) {
        struct buf msg;
        buf_init(&msg, sizeof(out->message) - 1);
        policy_decision_message(&msg, &req, &d);
        snprintf(out->message, sizeof(out->message), "%s", msg.ptr);
        buf_release(&msg);
    }
done:
    for (size_t i = 0; i < ids->n; i++)
        free(ids->labels[i]);
    free(ids->labels);
    free(ids->items);
    free(ids);
    for (size_t i = 0; i < tags->n; i++) {
        free((char *)tags->items[i].key);
        free((char *)tags->items[i].value);
    }
    free(tags);
    free(repo_policy);
    free(registry_policy);
    return rc;
}

int auth_authorize(const struct principal *p, const char *action, const char *resource_account, const char *resource_arn,
                   const struct authz_context *ctx)
{
    struct auth_decision d;
    int rc = auth_decide(&d, p, action, resource_account, resource_arn, ctx);
    if (rc < 0)
        return rc;
    if (d.allowed)
        return 0;
    log_info("denied %s %s on %s: %s by %s%s%s", p->arn, action, resource_arn, d.result, d.source, d.sid[0] ? " sid " : "",
             d.sid);
    return error_set(E_DENIED, "%s", d.message);
}
