/*
 * The authentication and authorization seam. Handlers ask it two questions:
 * who is calling (auth_identify_*), and may they perform ecr:<Action> on a
 * resource (auth_authorize). Handlers never look at credentials themselves.
 */
#ifndef BERTH_AUTH_AUTH_H
#define BERTH_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct principal {
    char account_id[13];
    char arn[704];         /* arn:aws:iam::<account>:root or :user/<path><name> */
    char user_name[129];   /* "" for the account root */
    char user_id[32];      /* AIDA... for users, the account id for root */
    char access_key_id[32];
    bool is_root;
    bool anonymous;        /* authentication is switched off */
    /* The store's cache generation read when the request identified this
     * principal (store/cache.h): the request reads the rows that decide what
     * it may do through the cache at that generation. 0: no cache (a
     * principal made another way, e.g. from an ARN). */
    uint64_t cache_gen;
};

/* A tag sent with a request (aws:RequestTag/<k>, aws:TagKeys). */
struct authz_tag {
    const char *key;
    const char *value;
};

/* Request facts the policy conditions may look at. */
struct authz_context {
    const char *source_ip;
    bool secure_transport;
    const struct authz_tag *request_tags; /* NULL: the request carries no tags */
    size_t request_tag_count;
    /* an identity policy the account gives every IAM user besides the
     * user's own (the password policy's AllowUsersToChangePassword), or NULL */
    const char *account_grant;
};

/* Loads the server keys, creates the default account and root key on the
 * first start (printing the credentials once and writing them 0600 to
 * <data>/credentials). */
int auth_init(const struct config *cfg);
void auth_shutdown(void);

bool auth_enabled(void);
/* A principal for the default account when authentication is off. */
void auth_anonymous(struct principal *out);

/* /v2: from the Authorization header (HTTP Basic). E_UNAUTH when missing or
 * not valid; the detail says why (never the secret). */
int auth_identify_registry(const char *authorization, struct principal *out);

struct request;

/* Why a signed request was refused, in the protocol's own terms. */
struct auth_failure {
    const char *type; /* e.g. InvalidSignatureException / SignatureDoesNotMatch */
    unsigned status;
    char message[1024];
};

/* Control plane: verifies the request's SigV4 signature (header or query
 * form) for one of services (NULL-terminated, e.g. {"ecr", NULL}) and fills
 * out with the key's principal. protocol is enum sigv4_protocol (JSON or
 * Query) and picks the error names. payload_sha256 is the body's hex hash. */
int auth_identify_sigv4(struct request *r, const char *payload_sha256, const char *const *services, int protocol,
                        struct principal *out, struct auth_failure *fail);

/* The part of auth_identify_sigv4() that needs no body: the signature's
 * form, scope, clock and key (sigv4_precheck()), for refusing a request
 * before its body is read. 0 or E_UNAUTH with fail filled. */
int auth_precheck_sigv4(struct request *r, const char *const *services, int protocol, struct auth_failure *fail);

/* /v2 login: a token for p, valid for the configured hours; *out is malloc'd
 * (the password of `docker login -u AWS`). */
int auth_mint_registry_token(const struct principal *p, char **out, int64_t *expires_ms);

/* Presigned blob downloads (GetDownloadUrlForLayer): the query string that
 * lets the holder GET or HEAD one blob of one repository as p until
 * expires_s (epoch seconds), and its check on /v2. The URL is for reading
 * only: its MAC covers the method class, the key, account, repository,
 * digest and expiry. */
void auth_presign_blob(char *out, size_t size, const struct principal *p, const char *account, const char *name,
                       const char *digest, int64_t expires_s);
/* The check without the key lookup: E_UNAUTH unless method is GET or HEAD
 * and sig is the MAC of the other fields (compared in constant time) with
 * expires (epoch seconds, as in the query) not before now_s. */
int auth_presign_verify(const char *method, const char *akid, const char *expires, const char *sig, const char *account,
                        const char *name, const char *digest, int64_t now_s);
/* E_UNAUTH unless the request is a GET or HEAD carrying a valid, unexpired
 * presigned query for exactly this account, repository and digest, made
 * with a key that is still active; fills out. */
int auth_identify_presigned(struct request *r, const char *account, const char *name, const char *digest,
                            struct principal *out);

/* Is p allowed action (e.g. "ecr:PutImage") on resource_arn, a resource of
 * resource_account? E_DENIED with AWS's message as the detail. Decided by
 * the one policy evaluator (policy/policy.h) over the principal's identity
 * policies, the repository policy and the registry policy. */
int auth_authorize(const struct principal *p, const char *action, const char *resource_account, const char *resource_arn,
                   const struct authz_context *ctx);

/* The decision with its explanation, for the simulator and denial logs. */
struct auth_decision {
    bool allowed;
    char result[16];   /* allowed | explicitDeny | implicitDeny */
    char source[300];  /* the deciding policy: its ARN/label, "repository policy", "registry policy" */
    char sid[128];
    char message[1200]; /* AWS's denial message; "" when allowed */
};
int auth_decide(struct auth_decision *out, const struct principal *p, const char *action, const char *resource_account,
                const char *resource_arn, const struct authz_context *ctx);

/* Where identity policies come from: a callback yielding (label, document)
 * for every policy of (account, user), read through the store's cache at
 * cache_gen (0: from the database). Set once at start by the IAM module. */
typedef int (*auth_identity_source)(uint64_t cache_gen, const char *account, const char *user_name,
                                    int (*fn)(void *ctx, const char *label, const char *document), void *ctx);
void auth_set_identity_source(auth_identity_source src);

/* A fresh access key pair (AKIA + 16, and a 40-character secret). */
int auth_new_access_key(char akid[21], char secret[41]);
/* Stores a key, its secret sealed with the server key; user_name NULL for root. */
int auth_store_key(const char *akid, const char *account, const char *user_name, const char *secret);

/* The principal an IAM ARN names: the root of its account, or one of its
 * users (with the user's id from the store). E_INVALID when the ARN names
 * neither; E_NOTFOUND when no user has exactly this ARN. */
int auth_principal_from_arn(struct principal *out, const char *arn);

/* The principal an access key acts as (its user's ARN and id, or the root). */
struct access_key;
int auth_principal_for_key(struct principal *out, const struct access_key *k);

/* arn:aws:ecr:<region>:<account>:repository/<name> */
void auth_repo_arn(char *out, size_t size, const char *account, const char *name);
const char *auth_region(void);

#endif
