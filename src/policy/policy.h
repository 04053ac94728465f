/*
 * The IAM policy language: parsing and validating policy documents, and the
 * one evaluator that decides every request with AWS's semantics. A leaf
 * module: it depends on core/ only; auth/ (which asks it every question),
 * iam/ and ecr/ (which validate documents with it) use it.
 *
 * A document is parsed once (policy_parse) for one kind: identity-based
 * (attached to a user or group; Principal is forbidden) or resource-based (a
 * repository policy or the registry policy; Principal is required). Invalid
 * documents fail with E_INVALID and an IAM MalformedPolicyDocument message
 * ("Syntax errors in policy.", "Policy document should not specify a
 * principal.", ...); documents over the size limit fail with E_TOOBIG.
 *
 * policy_evaluate() follows the IAM evaluation logic for one account's
 * resources: default deny; an explicit Deny in any applicable policy wins;
 * within one account an Allow from an identity-based policy, or from a
 * resource-based policy that names the principal itself (its user ARN or
 * "*"), is enough; across accounts both an identity-based Allow and a
 * resource-based Allow naming the principal or its account are required. A
 * resource-based statement naming only the account ("123456789012" or
 * "arn:aws:iam::123456789012:root") delegates to that account, as in AWS: it
 * lets the account's users in when their own identity policies allow it, and
 * it grants the account's root user directly. The root user of an account is
 * allowed everything on that account's resources unless a resource-based
 * policy denies it explicitly; only the repository-policy actions
 * (ecr:Get/Set/DeleteRepositoryPolicy) are the root's even then, so that no
 * policy can lock an account out of its repositories for good.
 *
 * Policy variables (${aws:username}, ${aws:PrincipalAccount}, ${*}, ...) are
 * substituted in Resource, NotResource and in the values of the string, ARN
 * and Bool condition operators, for documents with Version 2012-10-17; in
 * 2008-10-17 documents (and documents without Version) they are literal text,
 * as AWS documents.
 *
 * Condition keys are looked up case-insensitively. The evaluator derives the
 * global keys from the request: aws:PrincipalArn, aws:PrincipalAccount,
 * aws:PrincipalType ("Account" for root, "User"), aws:username, aws:userid,
 * aws:CurrentTime, aws:EpochTime, aws:SecureTransport, aws:SourceIp,
 * aws:ResourceAccount, aws:ResourceTag/<k> and ecr:ResourceTag/<k> (from the
 * resource's tags), aws:RequestTag/<k> and the multi-valued aws:TagKeys (from
 * the request's tags). Keys in the request's explicit context override
 * derived ones.
 */
#ifndef BERTH_POLICY_POLICY_H
#define BERTH_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum policy_kind {
    POLICY_IDENTITY, /* user/group inline or managed policy: no Principal */
    POLICY_RESOURCE  /* repository or registry policy: Principal required */
};

/*
 * A size limit for one document. IAM counts characters without whitespace
 * (reference_iam-quotas: user inline policies 2,048 in total, group 5,120,
 * role 10,240, managed policies 6,144); ECR counts the policy text as sent
 * (RepositoryPolicyText and RegistryPolicyText: max 10240 in the service
 * model). max 0 means no limit.
 */
struct policy_limit {
    size_t max;
    bool count_whitespace;
};

#define POLICY_LIMIT_USER_INLINE ((struct policy_limit){2048, false})
#define POLICY_LIMIT_GROUP_INLINE ((struct policy_limit){5120, false})
#define POLICY_LIMIT_ROLE_INLINE ((struct policy_limit){10240, false})
#define POLICY_LIMIT_MANAGED ((struct policy_limit){6144, false})
#define POLICY_LIMIT_REPOSITORY ((struct policy_limit){10240, true})
#define POLICY_LIMIT_REGISTRY ((struct policy_limit){10240, true})
#define POLICY_LIMIT_NONE ((struct policy_limit){0, true})

/* A parsed, validated policy document. Immutable; may be shared by threads. */
struct policy;

/*
 * Parses and validates text[0..len) as a policy of the given kind. On success
 * *out owns the result (free with policy_free). Fails with E_TOOBIG when the
 * document exceeds limit ("Cannot exceed quota for PolicySize: 6144") and
 * E_INVALID with an IAM MalformedPolicyDocument message otherwise.
 */
int policy_parse(struct policy **out, const char *text, size_t len, enum policy_kind kind, struct policy_limit limit);
void policy_free(struct policy *p);

/* The size of a document as IAM counts it (characters, whitespace optional),
 * for limits on the sum of several inline policies. */
size_t policy_size(const char *text, size_t len, bool count_whitespace);

enum policy_kind policy_kind(const struct policy *p);
/* "2012-10-17" or "2008-10-17" (also for documents without Version). */
const char *policy_version(const struct policy *p);
size_t policy_statement_count(const struct policy *p);

/* Who is calling. For the root user username is NULL and userid is the
 * account id. */
enum policy_principal_type { POLICY_PRINCIPAL_ROOT, POLICY_PRINCIPAL_USER };

struct policy_principal {
    enum policy_principal_type type;
    const char *arn;     /* arn:aws:iam::123456789012:root or ...:user/path/name */
    const char *account; /* 12 digits */
    const char *username;
    const char *userid; /* AIDA... */
};

struct policy_tag {
    const char *key;
    const char *value;
};

/* One explicit condition key with its values (several for multi-valued keys). */
struct policy_context_key {
    const char *key;
    const char *const *values;
    size_t count;
};

struct policy_request {
    struct policy_principal principal;
    const char *action;           /* ecr:PutImage */
    const char *resource;         /* arn:aws:ecr:region:account:repository/name, or "*" */
    const char *resource_account; /* account owning the resource (the registry) */
    int64_t now_ms;               /* aws:CurrentTime; 0 reads the clock */
    const char *source_ip;        /* aws:SourceIp, NULL when unknown */
    bool secure_transport;        /* aws:SecureTransport */
    const struct policy_tag *resource_tags;
    size_t resource_tag_count;
    /* Tags sent with the request; aws:TagKeys exists when request_tags is
     * non-NULL (even with count 0). */
    const struct policy_tag *request_tags;
    size_t request_tag_count;
    const struct policy_context_key *context;
    size_t context_count;
};

/* A policy that applies to a request, with the label used to explain a
 * decision ("arn:aws:iam::aws:policy/...", "user inline policy NAME"). */
struct policy_attached {
    const struct policy *policy;
    const char *label;
};

struct policy_inputs {
    const struct policy_attached *identity; /* the principal's identity-based policies */
    size_t identity_count;
    const struct policy_attached *resource; /* the repository policy, or NULL */
    const struct policy_attached *registry; /* the registry policy, or NULL */
};

enum policy_result { POLICY_IMPLICIT_DENY = 0, POLICY_ALLOW, POLICY_EXPLICIT_DENY };

enum policy_type {
    POLICY_TYPE_NONE = 0, /* root's implicit permission within its own account (label NULL, or
                             the escape hatch's label for the repository-policy actions) */
    POLICY_TYPE_IDENTITY,
    POLICY_TYPE_RESOURCE, /* the repository policy */
    POLICY_TYPE_REGISTRY  /* the registry policy (a resource-based policy) */
};

/*
 * The outcome and what decided it. For ALLOW and EXPLICIT_DENY, type, label
 * and sid name the deciding statement (sid NULL when it has none). For
 * IMPLICIT_DENY, type is the kind of policy that failed to allow: IDENTITY
 * ("no identity-based policy allows") or RESOURCE ("no resource-based policy
 * allows", cross-account only), and label and sid are NULL. label and sid
 * borrow from the inputs and the parsed policies.
 */
struct policy_decision {
    enum policy_result result;
    enum policy_type type;
    const char *label;
    const char *sid;
    bool cross_account;
};

/*
 * Decides req against in. Fails only with E_INVALID when the request lacks
 * action, resource, resource_account, principal arn or account.
 */
int policy_evaluate(struct policy_decision *out, const struct policy_request *req, const struct policy_inputs *in);

/*
 * Appends AWS's access-denied message for a denial, e.g. "User:
 * arn:aws:iam::123456789012:user/alice is not authorized to perform:
 * ecr:PutImage on resource: arn:aws:ecr:...:repository/web because no
 * identity-based policy allows the ecr:PutImage action". Appends nothing for
 * an ALLOW.
 */
int policy_decision_message(struct buf *out, const struct policy_request *req, const struct policy_decision *d);

/* "allowed", "explicitDeny", "implicitDeny" (IAM's EvalDecision values). */
const char *policy_result_name(enum policy_result r);

#ifdef BERTH_POLICY_INTERNAL
/*
 * Shared by src/policy/policy.c and src/policy/condition.c only (and their tests):
 * the evaluation context, wildcard matching and variable substitution, and
 * the Condition block.
 */
#include <jansson.h>

struct policy_ctx_entry {
    char *key;
    char **values;
    size_t count;
};

struct policy_ctx {
    struct policy_ctx_entry *entries;
    size_t count;
    size_t cap;
};

/* The entry for key (case-insensitive), or NULL when the key is absent. */
const struct policy_ctx_entry *policy_ctx_get(const struct policy_ctx *ctx, const char *key);

enum { POLICY_GLOB_NOCASE = 1, POLICY_GLOB_ESCAPES = 2 };
/* Matches s against a pattern with * and ? (with ESCAPES, "\c" is literal c). */
bool policy_glob(const char *pat, size_t plen, const char *s, size_t slen, int flags);
/* ARN matching as in Resource: within colon-separated segments, where a *
 * ending a segment may also match beyond colons. pat is an escaped pattern. */
bool policy_resource_match(const char *pat, const char *arn);
/* ARN matching as in ArnLike/ArnEquals: each of the six components on its
 * own; a pattern or value that is not a six-part ARN matches nothing (the
 * pattern "*" matches everything). */
bool policy_arn_like(const char *pat, const char *arn);

enum policy_expand_mode {
    POLICY_EXPAND_LITERAL, /* plain text: ${*} becomes * */
    POLICY_EXPAND_PATTERN  /* a pattern for policy_glob with ESCAPES */
};
/* Writes text with policy variables substituted (when variables is true)
 * into out. E_NOTFOUND when a variable has no single value and no default. */
int policy_expand(struct buf *out, const char *text, const struct policy_ctx *ctx, bool variables, enum policy_expand_mode mode);

/* One statement's Condition block (condition.c). */
struct policy_cond;
int policy_cond_parse(struct policy_cond **out, json_t *condition, bool variables);
bool policy_cond_match(const struct policy_cond *c, const struct policy_ctx *ctx);
void policy_cond_free(struct policy_cond *c);

/* IAM's catch-all MalformedPolicyDocument message. */
#define POLICY_MSG_SYNTAX "Syntax errors in policy."
#define POLICY_MSG_VENDOR "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
#endif

#endif
