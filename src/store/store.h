/*
 * Metadata store: the one place that speaks SQL.
 *
 * One interface, two engines chosen at start (--database): SQLite in WAL
 * mode (the default, <data>/berth.db) or PostgreSQL (several servers on one
 * database form one registry). One connection per thread (opened on first
 * use); the schema is versioned per engine (SQLite's PRAGMA user_version,
 * PostgreSQL's berth_schema table) and migrated forward at open. The SQL and
 * the driver layer under it are in internal.h and db.c.
 *
 * store_begin() keeps one meaning on both: the transaction is the only
 * writer until it ends (SQLite's BEGIN IMMEDIATE; on PostgreSQL an
 * advisory lock every other server's writers take too), so check-then-write
 * sequences need no further locking. Writes that change only one
 * repository's rows (or an account's list of repositories) use the scoped
 * transactions of store/locks.h instead, which exclude only that scope's
 * writers on PostgreSQL. Reads outside a transaction see committed data.
 *
 * Every function returns 0 or a negative E_* code with the detail set.
 * E_NOTFOUND means the query ran and found nothing; a query that failed
 * (busy database, I/O error, a transaction SQLite rolled back) is E_ERROR
 * (E_UNAVAILABLE when the database server does not answer),
 * never E_NOTFOUND, and never a count of 0 or a shorter list: iterators
 * return E_ERROR when a step fails, even after calling fn for earlier rows,
 * and counts are written to *out only on success. After an error inside
 * store_begin() ... store_commit(), the caller rolls back: every statement
 * fails until it does.
 * Strings handed out in records are owned by the record and freed by its
 * _release function.
 */
#ifndef BERTH_STORE_STORE_H
#define BERTH_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/digest.h"

/* The database store_open() uses: "sqlite:PATH" or "postgresql://..."
 * (--database); NULL or "" for sqlite:<data_dir>/berth.db. */
int store_set_database(const char *url);
int store_open(const char *data_dir);
/* The schema version of the open database and the one this berth writes. */
int store_schema_version(int *out, int *latest);
void store_close_thread(void);

int store_begin(void); /* BEGIN IMMEDIATE, or BEGIN + the registry's advisory lock, exclusive */
int store_commit(void);
void store_rollback(void);

/* ---- accounts and keys ---- */
int store_account_create(const char *account_id);
int store_account_exists(const char *account_id);
/* Every account, oldest first. */
int store_accounts_each(int (*fn)(void *ctx, const char *id), void *ctx);
/* The account created first: the one a fresh server made or was given. */
int store_account_default(char out[13]);

struct access_key {
    char id[32];
    char account_id[13];
    char *user_name;  /* NULL for the root key */
    char *secret_enc; /* sealed with the server key */
    char status[12];  /* Active | Inactive */
    int64_t created_ms;
};
void access_key_release(struct access_key *k);
int store_access_key_put(const char *id, const char *account_id, const char *user_name, const char *secret_enc);
int store_access_key_get(const char *id, struct access_key *out);
int store_access_key_delete(const char *id);
/* Root keys of an account, newest first. */
int store_root_keys(const char *account_id, int (*fn)(void *ctx, const struct access_key *k), void *ctx);

/* ---- repositories ---- */
struct repo {
    int64_t id;
    char account_id[13];
    char *name;
    int64_t created_ms;
    char *tag_mutability;      /* MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION */
    char *mutability_filters;  /* JSON array or NULL */
    bool scan_on_push;
    char *encryption_type;     /* AES256 | KMS | KMS_DSSE */
    char *kms_key;
    char *policy;              /* JSON or NULL */
    char *lifecycle_policy;    /* JSON or NULL */
};
void repo_release(struct repo *r);
int store_repo_get(const char *account_id, const char *name, struct repo *out);
int store_repo_get_by_id(int64_t id, struct repo *out);
/* E_EXISTS when taken; fills out->id and created_ms. */
int store_repo_create(struct repo *r);
int store_repo_update(const struct repo *r);
int store_repo_delete(int64_t id);
int store_repo_count(const char *account_id, int64_t *out);
/* Repositories of an account in name order, after `after` (NULL: from the
 * start), at most limit; fn returns non-zero to stop. */
int store_repo_list(const char *account_id, const char *after, int limit, int (*fn)(void *ctx, const struct repo *r),
                    void *ctx);
int store_repo_image_count(int64_t repo_id, int64_t *out);

/* resource tags of a repository */
int store_repo_tags_get(int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx);
int store_repo_tag_put(int64_t repo_id, const char *key, const char *value);
int store_repo_tag_delete(int64_t repo_id, const char *key);
int store_repo_tag_count(int64_t repo_id, int64_t *out);

/* ---- blobs ---- */
int store_blob_add(const char *digest, uint64_t size);
int store_blob_link(int64_t repo_id, const char *digest);
/* 0 with *size_out when the blob is linked to the repository, E_NOTFOUND if not. */
int store_blob_linked(int64_t repo_id, const char *digest, uint64_t *size_out);
int store_blob_unlink(int64_t repo_id, const char *digest);
/* Size of a blob known to the server (any repository). */
int store_blob_size(const char *digest, uint64_t *size_out);

/* ---- manifests and tags ---- */
struct manifest {
    char digest[DIGEST_MAX];
    char *media_type;
    char *artifact_type;     /* artifactType, or NULL */
    char *config_media_type; /* NULL for indexes */
    char *subject;           /* subject digest, or NULL */
    uint64_t size;
    uint64_t image_size;     /* config + layers, for DescribeImages */
    char *body;
    int64_t pushed_ms;
    int64_t last_pull_ms;
    int status;              /* enum image_status (store/images_ext.h): ACTIVE, ARCHIVED, ACTIVATING */
};
void manifest_release(struct manifest *m);

struct manifest_ref {
    const char *digest;
    bool is_manifest; /* child manifest rather than blob */
};

/* Stores m (if new) with its references and points tag (may be NULL) at it.
 * Runs inside the caller's transaction. */
int store_manifest_put(int64_t repo_id, const struct manifest *m, const struct manifest_ref *refs, size_t nrefs,
                       const char *tag);
int store_manifest_get(int64_t repo_id, const char *digest, bool with_body, struct manifest *out);
int store_manifest_exists(int64_t repo_id, const char *digest);
int store_manifest_delete(int64_t repo_id, const char *digest);
/* Parents (indexes) in this repository that reference digest. */
int store_manifest_parent_count(int64_t repo_id, const char *digest, int64_t *out);
int store_manifest_touch_pull(int64_t repo_id, const char *digest, int64_t ms);
int store_manifest_count(int64_t repo_id, int64_t *out);

int store_tag_resolve(int64_t repo_id, const char *tag, char out[DIGEST_MAX]);
int store_tag_put(int64_t repo_id, const char *tag, const char *digest);
int store_tag_delete(int64_t repo_id, const char *tag);
int store_tag_count_for(int64_t repo_id, const char *digest, int64_t *out);
int store_tags_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const char *tag, const char *digest),
                    void *ctx);
int store_tags_of(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *tag), void *ctx);
/* Manifests whose subject is digest. */
int store_referrers(int64_t repo_id, const char *subject, int (*fn)(void *ctx, const struct manifest *m), void *ctx);
/* All manifests of a repository ordered by digest after `after`. */
int store_manifests_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const struct manifest *m),
                         void *ctx);

/* ---- upload sessions ---- */
int store_upload_create(const char *id, int64_t repo_id);
/* E_NOTFOUND unless the session exists and belongs to repo_id. */
int store_upload_get(const char *id, int64_t repo_id);
int store_upload_delete(const char *id);
/* Notes activity on the session at ms: one more part when part is true,
 * else only when its last activity is older than stale_before_ms. */
int store_upload_touch(const char *id, bool part, int64_t ms, int64_t stale_before_ms);
int store_upload_parts(const char *id, int64_t *out);
/* Sessions with no activity since cutoff, oldest first, at most limit; fn
 * is called after the query, so it may use the store. */
int store_uploads_idle(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, const char *id), void *ctx);
/* Manifests of a repository that reference the blob (config or layer), in
 * digest order, at most limit. */
int store_blob_users(int64_t repo_id, const char *digest, int limit, int (*fn)(void *ctx, const char *manifest), void *ctx);
/* True while this thread's connection has a transaction open. */
bool store_in_transaction(void);

/* ---- key/value settings (per account, or "" for the server) ---- */
int store_setting_get(const char *scope, const char *key, char **out);
int store_setting_put(const char *scope, const char *key, const char *value);
/* Records value unless the setting exists (then leaves it). */
int store_setting_add(const char *scope, const char *key, const char *value);
/* true when the database may be shared by several servers (PostgreSQL). */
bool store_is_shared(void);
/* The database in use, its password masked (for messages). */
const char *store_database(void);
int store_setting_delete(const char *scope, const char *key);

/* ---- images (ECR BatchDeleteImage) ---- */
/* The indexes in this repository that list digest, in digest order. */
int store_manifest_parents(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx);

/* ---- IAM: users, groups, managed and inline policies ----
 * Names of users, groups and policies are unique per account regardless of
 * case, and are found regardless of case, as in IAM; records carry the name
 * as created. Lists are ordered by name (attached policies by ARN) and
 * start after `after` (NULL: from the start); fn returns non-zero to stop. */
enum iam_entity { IAM_ENTITY_USER, IAM_ENTITY_GROUP };

/* An IAM identity: a user or a group, the same record for both. */
struct iam_identity {
    enum iam_entity kind;
    char account_id[13];
    char name[129];
    char path[513];
    char id[32];   /* AIDA... for a user, AGPA... for a group */
    char arn[700]; /* arn:aws:iam::<account>:user<path><name> or ...:group<path><name> */
    int64_t created_ms;
};

/* E_EXISTS when the name is taken (among identities of its kind);
 * tags_json is a JSON array of {"Key","Value"} or NULL (always NULL for a
 * group: E_INVALID otherwise). */
int store_identity_create(const struct iam_identity *e, const char *tags_json);
int store_identity_get(const char *account, enum iam_entity kind, const char *name, struct iam_identity *out);
/* The identity's tags as stored (*out NULL when none; caller frees). */
int store_identity_tags(const char *account, enum iam_entity kind, const char *name, char **out);
int store_identity_delete(const char *account, enum iam_entity kind, const char *name);
/* Identities of one kind; path_prefix NULL for all. */
int store_identities_list(const char *account, enum iam_entity kind, const char *path_prefix, const char *after, int limit,
                          int (*fn)(void *ctx, const struct iam_identity *e), void *ctx);
/* Membership; adding twice is not an error, removing a non-member is E_NOTFOUND. */
int store_group_add_user(const char *account, const char *group, const char *user);
int store_group_remove_user(const char *account, const char *group, const char *user);
/* The other side of an identity's memberships, by name: the groups of a
 * user (kind USER), the users in a group (kind GROUP). */
int store_memberships(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                      int (*fn)(void *ctx, const struct iam_identity *e), void *ctx);

/* What still refers to a user or a group (IAM refuses to delete either
 * while anything does). groups: of a user; members: of a group. */
struct iam_usage {
    int64_t access_keys, inline_policies, attached_policies, groups, members;
};
int store_iam_usage(const char *account, enum iam_entity kind, const char *name, struct iam_usage *out);

/* A customer managed policy. Versions are numbered from 1 (v1) and never
 * reused; is_default is derived from default_version, attachment_count
 * from the attachments. */
struct iam_policy {
    char account_id[13];
    char name[129];
    char path[513];
    char id[32];   /* ANPA... */
    char arn[700]; /* arn:aws:iam::<account>:policy<path><name> */
    char description[1001];
    int default_version;
    int64_t attachment_count;
    int64_t created_ms;
    int64_t updated_ms; /* when the default version last changed */
};

struct iam_policy_version {
    int version;
    bool is_default;
    int64_t created_ms;
    char *document; /* owned; freed by iam_policy_version_release */
};
void iam_policy_version_release(struct iam_policy_version *v);

/* Creates the policy with document as its default version v1. E_EXISTS
 * when the name is taken. */
int store_policy_create(const struct iam_policy *p, const char *document, const char *tags_json);
int store_policy_get(const char *account, const char *arn, struct iam_policy *out);
int store_policy_tags(const char *account, const char *arn, char **out);
/* Deletes the policy and its versions (callers check attachments first). */
int store_policy_delete(const char *account, const char *arn);
/* Customer policies by name; only_attached skips those attached to nothing. */
int store_policies_list(const char *account, const char *path_prefix, bool only_attached, const char *after, int limit,
                        int (*fn)(void *ctx, const struct iam_policy *p), void *ctx);
/* Adds the next version; E_TOOBIG when the policy has max_versions already. */
int store_policy_version_add(const char *account, const char *arn, const char *document, bool set_default, int max_versions,
                             int *version_out);
int store_policy_version_get(const char *account, const char *arn, int version, struct iam_policy_version *out);
/* Every version, newest first. */
int store_policy_versions(const char *account, const char *arn, int (*fn)(void *ctx, const struct iam_policy_version *v),
                          void *ctx);
int store_policy_version_delete(const char *account, const char *arn, int version);
int store_policy_set_default(const char *account, const char *arn, int version);
/* Attachments of any policy ARN (customer or arn:aws:iam::aws:policy/...)
 * to users and groups of the account. Attaching twice is not an error;
 * detaching what is not attached is E_NOTFOUND. */
int store_policy_attachment_count(const char *account, const char *arn, int64_t *out);
int store_policy_attach(const char *account, enum iam_entity kind, const char *name, const char *arn);
int store_policy_detach(const char *account, enum iam_entity kind, const char *name, const char *arn);
int store_attached_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                            int (*fn)(void *ctx, const char *arn), void *ctx);

/* Inline policies of a user or group, by policy name. */
int store_inline_policy_put(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            const char *document);
/* name_out (may be NULL) gets the policy name as stored; *document_out is malloc'd. */
int store_inline_policy_get(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            char name_out[129], char **document_out);
int store_inline_policy_delete(const char *account, enum iam_entity kind, const char *name, const char *policy_name);
int store_inline_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                          int (*fn)(void *ctx, const char *policy_name, const char *document), void *ctx);

/* Access keys of a user (user_name NULL: the root's), by id. */
int store_access_keys_of(const char *account, const char *user_name, int (*fn)(void *ctx, const struct access_key *k),
                         void *ctx);
int store_access_key_count(const char *account, const char *user_name, int64_t *out);
/* status: Active | Inactive; E_NOTFOUND for an unknown id. */
int store_access_key_set_status(const char *id, const char *status);

int store_account_created(const char *account, int64_t *out_ms);

/* Every identity-based policy of a user, for the authorization engine:
 * its inline policies (label "inline:user/<user>/<policy>"), the default
 * version of each managed policy attached to it or to one of its groups
 * (label: the policy's ARN; document NULL for an attached arn:aws:iam::aws:policy/...
 * or a deleted customer policy: the store keeps no AWS-managed documents),
 * and its groups' inline policies ("inline:group/<group>/<policy>"). fn is
 * called after the query is done, so it may use the store; non-zero stops.
 * A root user (user_name NULL) has none. */
int store_identity_policies(const char *account, const char *user_name,
                            int (*fn)(void *ctx, const char *label, const char *document), void *ctx);

/* ---- upload sessions, for GC (blob/gc.c) and fsck ---- */
/* 0 when an upload session with this id exists (in any repository),
 * E_NOTFOUND when none does. */
int store_upload_exists(const char *id);

/* ---- consistency check (berth fsck): read-only iteration ----
 * store_open_readonly() opens the database of data_dir read-only on this
 * thread (E_NOTFOUND when there is none; never creates or migrates one).
 * Between store_snapshot_begin() and store_snapshot_end() every read sees one
 * committed state, however a running server writes meanwhile. Iterators call
 * fn for each row (non-zero stops) and return 0 or a database error. */
int store_open_readonly(const char *data_dir);
int store_snapshot_begin(void);
void store_snapshot_end(void);

int store_repositories_each(int (*fn)(void *ctx, int64_t id, const char *account_id, const char *name), void *ctx);
int store_manifests_each(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx);

/* A reference of a manifest: to a blob (config, layer) or a child manifest. */
struct store_reference {
    int64_t repo_id;
    const char *manifest; /* the referring manifest */
    const char *target;   /* the blob or child manifest */
    bool is_manifest;
    bool target_exists;   /* blob: has a record; child: is a manifest of the repository */
    bool target_linked;   /* blob: the repository links it; child: always true */
};
int store_references_each(int (*fn)(void *ctx, const struct store_reference *r), void *ctx);
int store_all_tags_each(int (*fn)(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists),
                        void *ctx);
int store_blobs_each(int (*fn)(void *ctx, const char *digest, uint64_t size), void *ctx);
/* The repositories that link digest. */
int store_blob_repositories(const char *digest, int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx);
int store_uploads_each(int (*fn)(void *ctx, const char *id, int64_t repo_id), void *ctx);

#endif
