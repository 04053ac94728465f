/*
 * A read cache of the rows that every authenticated request reads and few
 * requests change: access keys, IAM users, a user's identity policies,
 * repositories with their resource tags, settings (the registry policy)
 * and pull-time exclusions. See store/cache.c for how it stays correct across servers.
 *
 * Every call takes the generation its request read with
 * store_cache_generation() when it identified its caller (auth.c keeps it
 * in struct principal). Generation 0 means "no cache": the call reads the
 * database, as the store function of the same name does. Inside a
 * transaction every call reads the database too (this thread's connection
 * may see writes nobody else does yet). Results, errors and their details
 * are those of the store functions they stand for. Lookups are counted in
 * berth_store_cache_lookups_total{result="hit"|"miss"}.
 */
#ifndef BERTH_STORE_CACHE_H
#define BERTH_STORE_CACHE_H

#include <stdint.h>

#include "store/images_ext.h"
#include "store/store.h"

/* The database's cache generation now (>= 1): changes whenever a cached
 * row changes, in the transaction that changes it. */
int store_cache_generation(uint64_t *out);

int store_cached_access_key_get(uint64_t gen, const char *id, struct access_key *out);
int store_cached_user_get(uint64_t gen, const char *account, const char *name, struct iam_identity *out);
int store_cached_identity_policies(uint64_t gen, const char *account, const char *user_name,
                                   int (*fn)(void *ctx, const char *label, const char *document), void *ctx);
int store_cached_repo_get(uint64_t gen, const char *account_id, const char *name, struct repo *out);
int store_cached_repo_tags_get(uint64_t gen, int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx);
int store_cached_setting_get(uint64_t gen, const char *scope, const char *key, char **out);
int store_cached_pull_exclusion_exists(uint64_t gen, const char *account, const char *arn);

#endif
