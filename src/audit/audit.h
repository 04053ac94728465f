/*
 * The audit trail: every ECR, IAM and CloudTrail call and every /v2 write
 * becomes a CloudTrail event record (eventVersion, userIdentity,
 * eventTime, eventSource, eventName, awsRegion, sourceIPAddress,
 * userAgent, requestParameters and responseElements with secrets
 * redacted, errorCode/errorMessage, requestID, eventID, readOnly,
 * eventType, managementEvent, recipientAccountId), kept in the store
 * (store/audit.h) and read back with CloudTrail's LookupEvents
 * (cloudtrail/).
 *
 * Records go to a bounded queue and into the store many to a transaction
 * (group commit). A write (a call that is not read-only) waits until its
 * record is committed, writing the batch itself when no one else is, so a
 * reply that acknowledges a write is never sent before its record is on
 * the disk; a read only queues its record, which a writer thread commits. A
 * full queue makes callers wait for room (memory stays bounded). Old
 * records are pruned by a periodic job ("audit-prune").
 */
#ifndef BERTH_AUDIT_AUDIT_H
#define BERTH_AUDIT_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "http/server.h"
#include "store/audit.h"

#define AUDIT_SOURCE_ECR "ecr.amazonaws.com"
#define AUDIT_SOURCE_IAM "iam.amazonaws.com"
#define AUDIT_SOURCE_STS "sts.amazonaws.com"
#define AUDIT_SOURCE_CLOUDTRAIL "cloudtrail.amazonaws.com"

/* What CloudTrail shows in place of a secret. */
#define AUDIT_HIDDEN "HIDDEN_DUE_TO_SECURITY_REASONS"

struct audit_options {
    bool on;
    int64_t retention_ms;      /* records older than this are pruned */
    int64_t prune_interval_ms; /* how often the prune job runs */
    unsigned queue_max;        /* records waiting for the writer; 0: 8192 */
};

/* Starts the writer thread and registers the prune job (before
 * jobs_start()). Without it audit_record() records nothing. */
int audit_start(const struct audit_options *o);
/* Writes what is queued and stops the writer; after the servers stop. */
void audit_stop(void);
bool audit_enabled(void);

/* One call, as its surface saw it. Everything is borrowed for the call. */
struct audit_call {
    struct request *r;        /* source address and User-Agent */
    const char *source;       /* AUDIT_SOURCE_* */
    const char *name;         /* the operation (eventName) */
    bool read_only;
    const struct principal *who;
    const char *caller_arn;   /* NULL: who->arn */
    json_t *request;          /* requestParameters (redacted in the record); NULL: none */
    json_t *response;         /* responseElements, likewise */
    json_t *additional;       /* additionalEventData; NULL: none */
    const char *error_code;   /* NULL on success */
    const char *error_message;
    const char *request_id;   /* the x-amzn-RequestId answered; NULL: a fresh one */
    const char *resource_account; /* the owner of the resources when not the caller's account; NULL: the caller's */
    struct audit_resource resources[AUDIT_RESOURCES_MAX];
    int nresources;
    /* Set: the record is an event of the service itself (eventType
     * AwsServiceEvent, invoked by "AWS Internal", as ECR's lifecycle
     * PolicyExecutionEvent), with this as its serviceEventDetails; who
     * names only the account. */
    json_t *service_event;
};

/* Records a call (nothing when auditing is off or not started). Waits for
 * the record to be committed when it is a write that succeeded (a read's
 * or a failed call's is written within a second); call it outside any store
 * transaction of the calling thread (it may write the batch on its own
 * connection). */
void audit_record(const struct audit_call *a);
/* Records a write in the caller's own open store transaction, which
 * commits it with the write (or rolls it back): no transaction or sync of
 * its own. 0 (also when auditing is off), or the store's E_* code. */
int audit_record_in_transaction(const struct audit_call *a);
/* Lets a process that does not serve (berth admin) write records with
 * audit_record_in_transaction(); audit_start() sets it for a server. */
void audit_in_transaction_enable(bool on);
/* Adds a resource to a call unless it is there already or the list is full. */
void audit_add_resource(struct audit_call *a, const char *type, const char *name);

/* The CloudTrail event JSON of a row that store_audit_lookup() found:
 * its record with the fields that the row's columns hold put back (a
 * record is stored without them). Caller frees. */
char *audit_event_json(const struct audit_row *row);

/* Is an operation read-only, by its name (Get, List, Describe, BatchGet,
 * BatchCheck, Lookup, Simulate, ...)? */
bool audit_read_only(const char *operation);

/* Returns once every record queued before the call is committed: a lookup
 * sees the calls that came before it. */
void audit_sync(void);

/* A copy of doc with every secret replaced by AUDIT_HIDDEN (keys such as
 * authorizationToken, SecretAccessKey, Password, whatever their case) and
 * every string over 8 KiB shortened. */
json_t *audit_redact(json_t *doc);

/* A copy of z (NULL: "") that is valid UTF-8: each byte that does not
 * begin a well-formed sequence (RFC 3629: no overlong forms, surrogates or
 * code points past U+10FFFF) becomes U+FFFD. What a client sent (an IAM
 * Action, a User-Agent, a message quoting either) can be any bytes, and a
 * record's strings must be JSON strings and PostgreSQL text. Caller frees. */
char *audit_utf8(const char *z);

/* The prune job's work, for tests and `berth admin`: deletes records older
 * than now - retention; *deleted_out counts them. */
int audit_prune(int64_t now_ms, int64_t retention_ms, int64_t *deleted_out);

#endif
