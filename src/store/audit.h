/*
 * The rows of the audit trail (audit/ builds the records; these are its
 * statements): one row per CloudTrail event record of an account, with the
 * attributes LookupEvents filters on kept beside the record's JSON, and
 * the record's resources (type, name) in a table of their own so that a
 * lookup by resource uses an index. Rows are numbered in the order they
 * were written (seq): a lookup lists newest first and a page continues
 * below the last seq it served. Times are milliseconds since the epoch.
 */
#ifndef BERTH_STORE_AUDIT_H
#define BERTH_STORE_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#define AUDIT_RESOURCES_MAX 4

struct audit_resource {
    const char *type; /* AWS::ECR::Repository, AWS::IAM::User, ... */
    const char *name;
};

struct audit_row {
    int64_t seq;  /* set by the store */
    const char *account_id; /* whose history it is in (recipientAccountId) */
    const char *event_id;
    int64_t event_ms;
    const char *event_name;
    const char *event_source;
    const char *username;      /* "" when none */
    const char *access_key_id; /* "" when none */
    bool read_only;
    struct audit_resource resources[AUDIT_RESOURCES_MAX];
    int nresources;
    const char *record; /* the CloudTrail event as audit/ stores it (audit_event_json() makes the whole event of it) */
};

/* Sets how this thread's connection commits: full (synchronous=FULL, the
 * store's default: COMMIT waits for the WAL to reach the disk) or not
 * (synchronous=NORMAL: a commit is in the WAL file, which survives the
 * process being killed, and reaches the disk with the next sync of the WAL,
 * any FULL commit or a checkpoint). Outside a transaction. SQLite's only:
 * on PostgreSQL a transaction says it (store_begin_shared_unsynced()). */
int store_audit_sync(bool full);

/* PostgreSQL: stages rows (n >= 1) in a transaction of their own, in one
 * round trip; synced: its commit waits for the WAL flush (a write's record
 * among them), else synchronous_commit is off for it. */
int store_audit_write_pg(const struct audit_row *const *rows, unsigned n, bool synced);

/* Stages a row in the caller's transaction: one row into the table of
 * records, which has no index but its key, so that a transaction pays for
 * little more than the row; the record stays there. store_audit_move()
 * indexes staged rows, which makes them visible to lookups. */
int store_audit_stage(const struct audit_row *row);
/* Indexes up to limit staged rows, oldest first (call inside a write
 * transaction); *moved_out counts them. Safe against another server doing
 * the same (SQLite's writers take turns; PostgreSQL's movers take a lock). */
int store_audit_move(int limit, int64_t *moved_out);
/* Copies what the WAL holds into the database file as far as readers
 * allow, without waiting for them or for writers (SQLite's PASSIVE
 * checkpoint; nothing on PostgreSQL): the WAL's own checkpoint, run by
 * whichever commit finds it past 1000 pages, is then rarely a request's.
 * Outside a transaction. */
int store_audit_checkpoint(void);
/* Are any rows staged? (outside or inside a transaction) */
int store_audit_any_staged(bool *any);

/* What a lookup filters on: at most one attribute (AWS allows one). */
enum audit_attr {
    AUDIT_ATTR_NONE,
    AUDIT_ATTR_EVENT_NAME,
    AUDIT_ATTR_USERNAME,
    AUDIT_ATTR_ACCESS_KEY_ID,
    AUDIT_ATTR_READ_ONLY, /* value "true" or "false" */
    AUDIT_ATTR_EVENT_ID,
    AUDIT_ATTR_EVENT_SOURCE,
    AUDIT_ATTR_RESOURCE_NAME,
    AUDIT_ATTR_RESOURCE_TYPE,
    AUDIT_NATTRS
};

struct audit_query {
    const char *account_id;
    enum audit_attr attr;
    const char *value;
    int64_t start_ms, end_ms; /* inclusive */
    int64_t before_seq;       /* rows below this seq (INT64_MAX: from the newest) */
    int limit;
};
/* Calls fn with the matching rows, newest first, up to q->limit; stops
 * early when fn returns non-zero. */
int store_audit_lookup(const struct audit_query *q, int (*fn)(void *ctx, const struct audit_row *row), void *ctx);

/* Deletes up to limit indexed rows older than before_ms; *deleted_out
 * counts them. */
int store_audit_prune(int64_t before_ms, int limit, int64_t *deleted_out);

#endif
