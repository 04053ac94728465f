/*
 * Metadata store: the one place that speaks SQL.
 *
 * SQLite in WAL mode, one connection per thread (opened on first use), the
 * schema versioned by PRAGMA user_version and migrated forward at open.
 * Every function returns 0 or a negative E_* code with the detail set.
 * Strings handed out in records are owned by the record and freed by its
 * _release function.
 */
#ifndef BERTH_STORE_STORE_H
#define BERTH_STORE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/digest.h"

int store_open(const char *data_dir);
void store_close_thread(void);

int store_begin(void); /* BEGIN IMMEDIATE */
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
int64_t store_repo_count(const char *account_id);
/* Repositories of an account in name order, after `after` (NULL: from the
 * start), at most limit; fn returns non-zero to stop. */
int store_repo_list(const char *account_id, const char *after, int limit, int (*fn)(void *ctx, const struct repo *r),
                    void *ctx);
int64_t store_repo_image_count(int64_t repo_id);

/* resource tags of a repository */
int store_repo_tags_get(int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx);
int store_repo_tag_put(int64_t repo_id, const char *key, const char *value);
int store_repo_tag_delete(int64_t repo_id, const char *key);
int64_t store_repo_tag_count(int64_t repo_id);

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
int64_t store_manifest_parent_count(int64_t repo_id, const char *digest);
int store_manifest_touch_pull(int64_t repo_id, const char *digest, int64_t ms);
int64_t store_manifest_count(int64_t repo_id);

int store_tag_resolve(int64_t repo_id, const char *tag, char out[DIGEST_MAX]);
int store_tag_put(int64_t repo_id, const char *tag, const char *digest);
int store_tag_delete(int64_t repo_id, const char *tag);
int64_t store_tag_count_for(int64_t repo_id, const char *digest);
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

/* ---- key/value settings (per account, or "" for the server) ---- */
int store_setting_get(const char *scope, const char *key, char **out);
int store_setting_put(const char *scope, const char *key, const char *value);
int store_setting_delete(const char *scope, const char *key);

/* ---- images (ECR BatchDeleteImage) ---- */
/* The indexes in this repository that list digest, in digest order. */
int store_manifest_parents(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx);

#endif
