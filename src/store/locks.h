/*
 * Scoped write transactions: which writers of the metadata store exclude
 * each other, on every server that shares one database.
 *
 * On SQLite every write transaction is BEGIN IMMEDIATE: the database has
 * one writer at a time, and each function below is store_begin().
 *
 * On PostgreSQL a write transaction takes transaction-scoped advisory
 * locks right after BEGIN, always in this order, so that no two of them
 * can wait for each other in a cycle:
 *
 *   1. the registry key: EXCLUSIVE for store_begin() (the writer is alone,
 *      as under SQLite: every check-then-write not converted to a scope
 *      keeps today's meaning), SHARED for every scoped writer;
 *   2. at most one scope key, EXCLUSIVE: a repository's (by its id), an
 *      account's (by its id), or a named one (tables of their own that
 *      one kind of writer changes: the vulnerability database).
 *
 * A scope's writers are serialised; writers of different scopes run at
 * the same time. A transaction opened with a scope may read anything but
 * its check-then-write sequences may only rest on rows its scope owns
 * (a repository's manifests, tags, links, scans, lifecycle state; an
 * account's list of repositories), or on rows that only exclusive writers
 * change (repository settings, account settings, IAM). What a repository
 * writer shares with other repositories (a blob's record, a digest's GC
 * review) it changes with single upserts of one key per transaction, so
 * two writers can wait for one another's row but never in a cycle.
 * store_begin_shared() takes only the shared registry key: for writes that
 * rest on the rows they update alone (a job's row, a delivery's).
 *
 * The scopes nest: a function that finds a transaction open joins it
 * (image_tx_begin()), whatever its scope. A repository's writer does not
 * take its account's key: nothing a repository writer checks depends on
 * the account's list of repositories, and a repository being created is
 * not visible to anyone before its transaction commits.
 */
#ifndef BERTH_STORE_LOCKS_H
#define BERTH_STORE_LOCKS_H

#include <stdint.h>

/* A write transaction that excludes other writers of the repository. */
int store_begin_repo(int64_t repo_id);
/* A write transaction that excludes other writers of the account's own
 * rows (its list of repositories: creation at the quota). */
int store_begin_account(const char *account_id);
/* A write transaction that excludes only store_begin()'s writers. */
int store_begin_shared(void);
/* The same, whose commit on PostgreSQL does not wait for the WAL to reach
 * the disk (synchronous_commit off: what a crash may lose is the last
 * moments' commits, never a committed state's consistency). On SQLite,
 * store_begin_shared(): its sync is the connection's setting. */
int store_begin_shared_unsynced(void);
/* A write transaction that excludes the other writers of the named
 * scope ("vulndb": the vulnerability database's tables). */
int store_begin_named(const char *name);

#endif
