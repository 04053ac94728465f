/*
 * This module implements the metadata store of store.h on SQLite.
 *
 * Each thread opens its own connection on first use (WAL, synchronous=FULL:
 * a committed transaction is on disk when COMMIT returns) and keeps its prepared
 * statements (keyed by the address of the SQL literal) for its lifetime, so
 * a request costs no parsing of SQL. Writers use BEGIN IMMEDIATE so two
 * threads never deadlock upgrading read locks; the busy timeout absorbs
 * short waits on the single WAL writer.
 */
#include "store/store.h"
#include "store/internal.h"

#include <assert.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"

/* The read cache's triggers (migration 16): a row of table changed, so the cache generation moves. */
#define CACHE_BUMP_EVENT(table, name, event)                                                                               \
    "CREATE TRIGGER cache_" table "_" name " AFTER " event " ON " table                                                    \
    " BEGIN UPDATE cache_generation SET gen = gen + 1 WHERE id = 1; END;"
#define CACHE_BUMP(table)                                                                                                  \
    CACHE_BUMP_EVENT(table, "insert", "INSERT") CACHE_BUMP_EVENT(table, "update", "UPDATE")                                \
    CACHE_BUMP_EVENT(table, "delete", "DELETE")

static const char *const migrations[] = {
    /* 1: the data plane */
    "CREATE TABLE accounts(id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
    "CREATE TABLE access_keys(id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_name TEXT, secret_enc TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Active', created_at INTEGER NOT NULL);"
    "CREATE TABLE repositories(id INTEGER PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id),"
    "  name TEXT NOT NULL, created_at INTEGER NOT NULL, tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE',"
    "  mutability_filters TEXT, scan_on_push INTEGER NOT NULL DEFAULT 0, encryption_type TEXT NOT NULL DEFAULT 'AES256',"
    "  kms_key TEXT, policy TEXT, lifecycle_policy TEXT, UNIQUE(account_id, name));"
    "CREATE TABLE repo_tags(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY(repo_id, key)) WITHOUT ROWID;"
    "CREATE TABLE blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE repo_blobs(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  digest TEXT NOT NULL REFERENCES blobs(digest), PRIMARY KEY(repo_id, digest)) WITHOUT ROWID;"
    "CREATE TABLE manifests(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, digest TEXT NOT NULL,"
    "  media_type TEXT NOT NULL, artifact_type TEXT, config_media_type TEXT, subject TEXT, size INTEGER NOT NULL,"
    "  image_size INTEGER NOT NULL DEFAULT 0, body BLOB NOT NULL, pushed_at INTEGER NOT NULL, last_pull INTEGER,"
    "  PRIMARY KEY(repo_id, digest));"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject) WHERE subject IS NOT NULL;"
    "CREATE TABLE tags(repo_id INTEGER NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY(repo_id, name), FOREIGN KEY(repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE)"
    "  WITHOUT ROWID;"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE manifest_blobs(repo_id INTEGER NOT NULL, manifest_digest TEXT NOT NULL, blob_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, manifest_digest, blob_digest),"
    "  FOREIGN KEY(repo_id, manifest_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE manifest_refs(repo_id INTEGER NOT NULL, parent_digest TEXT NOT NULL, child_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, parent_digest, child_digest),"
    "  FOREIGN KEY(repo_id, parent_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE INDEX manifest_refs_child ON manifest_refs(repo_id, child_digest);"
    "CREATE TABLE uploads(id TEXT PRIMARY KEY, repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE settings(scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(scope, key))"
    "  WITHOUT ROWID;",
    /* 2: identity -- IAM users, groups, memberships, customer managed policies and their versions, attachments of
     * managed policies (customer and arn:aws:iam::aws:policy/...) and inline policies; names are unique regardless
     * of case, as in IAM */
    "CREATE TABLE iam_users(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL, tags TEXT,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_groups(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_group_members(account_id TEXT NOT NULL, group_name TEXT NOT NULL COLLATE NOCASE,"
    "  user_name TEXT NOT NULL COLLATE NOCASE, added_at INTEGER NOT NULL, PRIMARY KEY(account_id, group_name, user_name),"
    "  FOREIGN KEY(account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE INDEX iam_group_members_user ON iam_group_members(account_id, user_name);"
    "CREATE TABLE iam_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL UNIQUE,"
    "  description TEXT NOT NULL DEFAULT '', default_version INTEGER NOT NULL, next_version INTEGER NOT NULL, tags TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY(account_id, name)) WITHOUT ROWID;"
    "CREATE TABLE iam_policy_versions(policy_arn TEXT NOT NULL REFERENCES iam_policies(arn) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL, document TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(policy_arn, version))"
    "  WITHOUT ROWID;"
    "CREATE TABLE iam_attachments(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name TEXT NOT NULL COLLATE NOCASE,"
    "  policy_arn TEXT NOT NULL, attached_at INTEGER NOT NULL, PRIMARY KEY(account_id, entity, entity_name, policy_arn))"
    "  WITHOUT ROWID;"
    "CREATE INDEX iam_attachments_policy ON iam_attachments(account_id, policy_arn);"
    "CREATE TABLE iam_inline_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name TEXT NOT NULL COLLATE NOCASE,"
    "  name TEXT NOT NULL COLLATE NOCASE, document TEXT NOT NULL, PRIMARY KEY(account_id, entity, entity_name, name))"
    "  WITHOUT ROWID;"
    "CREATE INDEX access_keys_user ON access_keys(account_id, user_name);",
    /* 3: garbage collection needs to know when a blob was (last) linked to a repository */
    "ALTER TABLE repo_blobs ADD COLUMN linked_at INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE INDEX manifest_blobs_blob ON manifest_blobs(repo_id, blob_digest);",
    /* 4: upload sessions carry their last activity (for expiry) and their ECR part count */
    "ALTER TABLE uploads ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE uploads ADD COLUMN parts INTEGER NOT NULL DEFAULT 0;"
    "UPDATE uploads SET updated_at = created_at;"
    "CREATE INDEX uploads_updated ON uploads(updated_at);",
    /* 5: the durable job queue (store/jobs.c) */
    "CREATE TABLE jobs(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, arg TEXT NOT NULL DEFAULT '',"
    " run_at INTEGER NOT NULL, period_ms INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0, last_error TEXT, owner TEXT NOT NULL DEFAULT '',"
    " lease_until INTEGER NOT NULL DEFAULT 0, again INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
    " UNIQUE(kind, key));"
    "CREATE INDEX jobs_due ON jobs(kind, run_at) WHERE failed = 0;",
    /* 6: image scans (store/scans.c); they go with their image */
    "CREATE TABLE image_scans(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL, status TEXT NOT NULL, description TEXT, requested_at INTEGER NOT NULL DEFAULT 0,"
    " completed_at INTEGER NOT NULL DEFAULT 0, source_updated_at INTEGER NOT NULL DEFAULT 0, counts TEXT,"
    " findings INTEGER NOT NULL DEFAULT 0, inventory TEXT, PRIMARY KEY(repo_id, digest)) WITHOUT ROWID;"
    "CREATE TABLE scan_findings(repo_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    " digest TEXT NOT NULL, pos INTEGER NOT NULL, finding TEXT NOT NULL, PRIMARY KEY(repo_id, digest, pos)) WITHOUT ROWID;"
    "CREATE TRIGGER manifests_scans AFTER DELETE ON manifests BEGIN"
    " DELETE FROM image_scans WHERE repo_id = old.repo_id AND digest = old.digest;"
    " DELETE FROM scan_findings WHERE repo_id = old.repo_id AND digest = old.digest; END;",
    /* 7: the vulnerability database (store/vulndb.c): OSV records, the package versions they affect per
     * ecosystem, looked up by (ecosystem key, package), and when the data was last updated */
    "CREATE TABLE vuln_records(id TEXT PRIMARY KEY, modified TEXT NOT NULL, modified_ms INTEGER NOT NULL,"
    "  summary TEXT NOT NULL, details TEXT NOT NULL, aliases TEXT NOT NULL, uri TEXT NOT NULL,"
    "  cvss3_vector TEXT, cvss3_score REAL, cvss2_vector TEXT, cvss2_score REAL, imported_at INTEGER NOT NULL);"
    "CREATE INDEX vuln_records_imported ON vuln_records(imported_at);"
    "CREATE TABLE vuln_affected(record_id TEXT NOT NULL REFERENCES vuln_records(id) ON DELETE CASCADE,"
    "  ecosystem TEXT NOT NULL, eco_key TEXT NOT NULL, package TEXT NOT NULL, severity TEXT NOT NULL,"
    "  ranges TEXT NOT NULL, versions TEXT NOT NULL);"
    "CREATE INDEX vuln_affected_package ON vuln_affected(eco_key, package);"
    "CREATE INDEX vuln_affected_record ON vuln_affected(record_id);"
    "CREATE TABLE vuln_source(name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 8: listing at scale and the archive storage class (store/images_ext.c): each manifest carries its tag count
     * (kept by triggers on tags, so every path that tags or untags keeps it), its storage status with the times it
     * was last archived and restored, and a referrer its annotations; an index's image_size becomes its largest
     * child's (ECR's definition, computed at put from then on); partial indexes serve the tagStatus and imageStatus
     * filters; pull-time update exclusions are kept per registry */
    "ALTER TABLE manifests ADD COLUMN tag_count INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE manifests ADD COLUMN status TEXT NOT NULL DEFAULT 'ACTIVE';"
    "ALTER TABLE manifests ADD COLUMN archived_at INTEGER;"
    "ALTER TABLE manifests ADD COLUMN activated_at INTEGER;"
    "ALTER TABLE manifests ADD COLUMN annotations TEXT;"
    "UPDATE manifests SET tag_count ="
    "  (SELECT count(*) FROM tags t WHERE t.repo_id = manifests.repo_id AND t.digest = manifests.digest);"
    "UPDATE manifests SET annotations = json_extract(CAST(body AS TEXT), '$.annotations')"
    "  WHERE subject IS NOT NULL AND json_valid(CAST(body AS TEXT));"
    "UPDATE manifests SET image_size = coalesce((SELECT max(c.image_size) FROM manifest_refs r JOIN manifests c"
    "  ON c.repo_id = r.repo_id AND c.digest = r.child_digest WHERE r.repo_id = manifests.repo_id"
    "  AND r.parent_digest = manifests.digest AND c.media_type NOT IN ('application/vnd.oci.image.index.v1+json',"
    "  'application/vnd.docker.distribution.manifest.list.v2+json')), 0)"
    "  WHERE media_type IN ('application/vnd.oci.image.index.v1+json',"
    "  'application/vnd.docker.distribution.manifest.list.v2+json');"
    "UPDATE manifests SET image_size = max(image_size, coalesce((SELECT max(c.image_size) FROM manifest_refs r"
    "  JOIN manifests c ON c.repo_id = r.repo_id AND c.digest = r.child_digest WHERE r.repo_id = manifests.repo_id"
    "  AND r.parent_digest = manifests.digest), 0))"
    "  WHERE media_type IN ('application/vnd.oci.image.index.v1+json',"
    "  'application/vnd.docker.distribution.manifest.list.v2+json');"
    "CREATE TRIGGER tags_count_insert AFTER INSERT ON tags BEGIN"
    "  UPDATE manifests SET tag_count = tag_count + 1 WHERE repo_id = new.repo_id AND digest = new.digest; END;"
    "CREATE TRIGGER tags_count_delete AFTER DELETE ON tags BEGIN"
    "  UPDATE manifests SET tag_count = tag_count - 1 WHERE repo_id = old.repo_id AND digest = old.digest; END;"
    "CREATE TRIGGER tags_count_move AFTER UPDATE OF digest ON tags WHEN old.digest <> new.digest BEGIN"
    "  UPDATE manifests SET tag_count = tag_count - 1 WHERE repo_id = old.repo_id AND digest = old.digest;"
    "  UPDATE manifests SET tag_count = tag_count + 1 WHERE repo_id = new.repo_id AND digest = new.digest; END;"
    "CREATE INDEX manifests_status ON manifests(repo_id, status, digest);"
    "CREATE INDEX manifests_untagged ON manifests(repo_id, digest) WHERE tag_count = 0;"
    "CREATE INDEX manifests_tagged ON manifests(repo_id, digest) WHERE tag_count > 0;"
    "CREATE INDEX manifests_status_untagged ON manifests(repo_id, status, digest) WHERE tag_count = 0;"
    "CREATE INDEX manifests_status_tagged ON manifests(repo_id, status, digest) WHERE tag_count > 0;"
    "CREATE TABLE pull_time_exclusions(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  principal_arn TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(account_id, principal_arn)) WITHOUT ROWID;",
    /* 9: lifecycle policies (store/lifecycle.c): when each repository's policy last ran, its preview and its
     * results, and the history of what policies did (kept after the repository goes) */
    "ALTER TABLE repositories ADD COLUMN lifecycle_evaluated_at INTEGER;"
    "CREATE TABLE lifecycle_previews(repo_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,"
    " policy TEXT NOT NULL, status TEXT NOT NULL, started_at INTEGER NOT NULL, finished_at INTEGER, error TEXT,"
    " expiring INTEGER NOT NULL DEFAULT 0, transitioning INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE lifecycle_preview_results(repo_id INTEGER NOT NULL REFERENCES lifecycle_previews(repo_id)"
    " ON DELETE CASCADE, seq INTEGER NOT NULL, digest TEXT NOT NULL, tags TEXT NOT NULL, tagged INTEGER NOT NULL,"
    " pushed_at INTEGER NOT NULL, action TEXT NOT NULL, priority INTEGER NOT NULL, storage_class TEXT NOT NULL,"
    " PRIMARY KEY(repo_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE lifecycle_history(id INTEGER PRIMARY KEY, account_id TEXT NOT NULL, repository TEXT NOT NULL,"
    " digest TEXT NOT NULL, tags TEXT NOT NULL, priority INTEGER NOT NULL, action TEXT NOT NULL,"
    " outcome TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX lifecycle_history_repo ON lifecycle_history(account_id, repository, id);"
    /* a covering index, so evaluating a repository reads no manifest bodies */
    "CREATE INDEX manifests_lifecycle ON manifests(repo_id, digest, pushed_at, last_pull, subject);",
    /* 10: lifecycle policies see the archive storage class: the covering index takes its columns */
    "DROP INDEX manifests_lifecycle;"
    "CREATE INDEX manifests_lifecycle ON manifests(repo_id, digest, pushed_at, last_pull, subject, status, archived_at,"
    " activated_at);",
    /* 11: online garbage collection (store/gc.h) -- review queues: a repository link that no manifest of its
     * repository references, and a blob record that no repository links, each have a review row. Triggers keep
     * them in the transaction that adds or drops the reference, whatever path does it (foreign-key cascades of a
     * manifest or repository delete included); the backfill queues what exists, due from its own age. */
    "CREATE TABLE gc_link_reviews(repo_id INTEGER NOT NULL, digest TEXT NOT NULL, queued_at INTEGER NOT NULL,"
    "  PRIMARY KEY(repo_id, digest)) WITHOUT ROWID;"
    "CREATE INDEX gc_link_reviews_due ON gc_link_reviews(queued_at);"
    "CREATE TABLE gc_blob_reviews(digest TEXT PRIMARY KEY, queued_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX gc_blob_reviews_due ON gc_blob_reviews(queued_at);"
    "CREATE TRIGGER gc_blob_added AFTER INSERT ON blobs BEGIN"
    "  INSERT OR REPLACE INTO gc_blob_reviews(digest, queued_at) SELECT new.digest, new.created_at"
    "    WHERE NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = new.digest);"
    "END;"
    "CREATE TRIGGER gc_link_added AFTER INSERT ON repo_blobs BEGIN"
    "  INSERT OR REPLACE INTO gc_link_reviews(repo_id, digest, queued_at) SELECT new.repo_id, new.digest, new.linked_at"
    "    WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE repo_id = new.repo_id AND blob_digest = new.digest);"
    "  DELETE FROM gc_blob_reviews WHERE digest = new.digest;"
    "END;"
    "CREATE TRIGGER gc_link_dropped AFTER DELETE ON repo_blobs BEGIN"
    "  DELETE FROM gc_link_reviews WHERE repo_id = old.repo_id AND digest = old.digest;"
    "  INSERT OR REPLACE INTO gc_blob_reviews(digest, queued_at)"
    "    SELECT old.digest, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    "    WHERE NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = old.digest);"
    "END;"
    "CREATE TRIGGER gc_ref_added AFTER INSERT ON manifest_blobs BEGIN"
    "  DELETE FROM gc_link_reviews WHERE repo_id = new.repo_id AND digest = new.blob_digest;"
    "END;"
    "CREATE TRIGGER gc_ref_dropped AFTER DELETE ON manifest_blobs BEGIN"
    "  INSERT OR REPLACE INTO gc_link_reviews(repo_id, digest, queued_at)"
    "    SELECT old.repo_id, old.blob_digest, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    "    WHERE EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = old.repo_id AND digest = old.blob_digest)"
    "    AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE repo_id = old.repo_id AND blob_digest = old.blob_digest);"
    "END;"
    "INSERT INTO gc_link_reviews(repo_id, digest, queued_at) SELECT repo_id, digest, linked_at FROM repo_blobs r"
    "  WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs m WHERE m.repo_id = r.repo_id AND m.blob_digest = r.digest);"
    "INSERT INTO gc_blob_reviews(digest, queued_at) SELECT digest, created_at FROM blobs b"
    "  WHERE NOT EXISTS (SELECT 1 FROM repo_blobs r WHERE r.digest = b.digest);",
    /* 12: events (store/events.c): the outbox of ECR events, the webhooks they are delivered to, and one delivery
     * row per (webhook, event); a stream is "<account>/<repository>", the unit delivered in order */
    "CREATE TABLE webhooks(id TEXT PRIMARY KEY, url TEXT NOT NULL, secret_enc TEXT NOT NULL,"
    " filter TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, detail_type TEXT NOT NULL,"
    " stream TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE INDEX events_created ON events(created_at);"
    "CREATE TABLE webhook_deliveries(id INTEGER PRIMARY KEY,"
    " webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
    " event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE, stream TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, last_status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT, next_attempt INTEGER NOT NULL, finished_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);"
    "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, stream, id) WHERE state = 'pending';"
    "CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_seq);"
    "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE state <> 'pending';",
    /* 13: the web console (store/console.c) -- IAM login profiles (an Argon2id hash; the profile goes with its
     * user) and console sessions, by the hash of the id their cookie carries */
    "CREATE TABLE iam_login_profiles(account_id TEXT NOT NULL, user_name TEXT NOT NULL COLLATE NOCASE,"
    "  password_hash TEXT NOT NULL, reset_required INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(account_id, user_name),"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE) WITHOUT ROWID;"
    "CREATE TABLE console_sessions(id_hash TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, principal_arn TEXT NOT NULL,"
    "  access_key_id TEXT NOT NULL, csrf TEXT NOT NULL, must_change_password INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);",
    /* 14: the audit trail (store/audit.h): CloudTrail event records, newest by seq, with an index per lookup
     * attribute (each with the account first: an account reads only its own history) and one on time for pruning */
    "CREATE TABLE audit_events(seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, event_id TEXT NOT NULL,"
    " event_time INTEGER NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL, username TEXT NOT NULL,"
    " access_key_id TEXT NOT NULL, read_only INTEGER NOT NULL, resources TEXT NOT NULL, record TEXT NOT NULL);"
    "CREATE INDEX audit_events_account ON audit_events(account_id, seq);"
    "CREATE INDEX audit_events_time ON audit_events(event_time);"
    "CREATE INDEX audit_events_name ON audit_events(account_id, event_name, seq);"
    "CREATE INDEX audit_events_user ON audit_events(account_id, username, seq);"
    "CREATE INDEX audit_events_key ON audit_events(account_id, access_key_id, seq);"
    "CREATE INDEX audit_events_id ON audit_events(event_id);"
    "CREATE INDEX audit_events_source ON audit_events(account_id, event_source, seq);"
    "CREATE INDEX audit_events_read_only ON audit_events(account_id, read_only, seq);"
    "CREATE TABLE audit_resources(seq INTEGER NOT NULL, account_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL);"
    "CREATE INDEX audit_resources_seq ON audit_resources(seq);"
    "CREATE INDEX audit_resources_name ON audit_resources(account_id, name, seq);"
    "CREATE INDEX audit_resources_type ON audit_resources(account_id, type, seq);",
    /* 15: records of writes staged in the write's own transaction, with no index to update there; the audit
     * writer moves them into audit_events in batches (store_audit_move) */
    "CREATE TABLE audit_pending(seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, event_id TEXT NOT NULL,"
    " event_time INTEGER NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL, username TEXT NOT NULL,"
    " access_key_id TEXT NOT NULL, read_only INTEGER NOT NULL, resources TEXT NOT NULL, record TEXT NOT NULL);",
    /* 16: the read cache's generation (store/cache.c): one number that every insert, update and delete of a row
     * the cache keeps adds one to, in the same statement, whoever makes the change; repositories' trigger watches
     * the cached columns only (not lifecycle_evaluated_at, which lifecycle runs write). It starts at a random
     * number, so that two databases (a test's, a replaced one) do not share generations */
    "CREATE TABLE cache_generation(id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL);"
    "INSERT INTO cache_generation(id, gen) VALUES (1, 1 + abs(random() % 1000000000000));"
    CACHE_BUMP("accounts")
    CACHE_BUMP("access_keys")
    CACHE_BUMP("iam_users")
    CACHE_BUMP("iam_groups")
    CACHE_BUMP("iam_group_members")
    CACHE_BUMP("iam_policies")
    CACHE_BUMP("iam_policy_versions")
    CACHE_BUMP("iam_attachments")
    CACHE_BUMP("iam_inline_policies")
    CACHE_BUMP("repo_tags")
    CACHE_BUMP("settings")
    CACHE_BUMP("pull_time_exclusions")
    CACHE_BUMP_EVENT("repositories", "insert", "INSERT") CACHE_BUMP_EVENT("repositories", "delete", "DELETE")
    CACHE_BUMP_EVENT("repositories", "update",
                     "UPDATE OF account_id, name, tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key,"
                     " policy, lifecycle_policy"),
    /* 17: the console's sign-in (store/console.c) -- account aliases (one per account, unique in the server), the
     * account password policy, the hashes of a user's past passwords (PasswordReusePrevention; the newest says
     * when the password was set, for MaxPasswordAge), and failed sign-ins counted per user and per address */
    "CREATE TABLE iam_account_aliases(account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  alias TEXT NOT NULL UNIQUE) WITHOUT ROWID;"
    "CREATE TABLE iam_password_policies(account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  min_length INTEGER NOT NULL, require_symbols INTEGER NOT NULL, require_numbers INTEGER NOT NULL,"
    "  require_uppercase INTEGER NOT NULL, require_lowercase INTEGER NOT NULL, allow_users_to_change INTEGER NOT NULL,"
    "  max_age_days INTEGER NOT NULL, reuse_prevention INTEGER NOT NULL, hard_expiry INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE iam_password_history(account_id TEXT NOT NULL, user_name TEXT NOT NULL COLLATE NOCASE,"
    "  password_hash TEXT NOT NULL, set_at INTEGER NOT NULL,"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE);"
    "CREATE INDEX iam_password_history_user ON iam_password_history(account_id, user_name, set_at);"
    "CREATE TABLE console_signin_failures(key TEXT PRIMARY KEY, fails INTEGER NOT NULL, since_at INTEGER NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE INDEX console_signin_failures_since ON console_signin_failures(since_at);",
    /* 18: the console's Images tab, newest push first across pages (store_console_images_by_push): a range of
     * this index per page */
    "CREATE INDEX manifests_pushed ON manifests(repo_id, status, pushed_at, digest);",
};

/* PostgreSQL's schema, versioned on its own: a new migration appends to
 * both lists (the first entry here says how the types differ) */
#define PG_CACHE_BUMP(table, events)                                                                                       \
    "CREATE TRIGGER cache_" table " AFTER " events " ON " table " FOR EACH ROW EXECUTE FUNCTION cache_bump();"

static const char *const pg_migrations[] = {
    /* 1: what SQLite's migrations 1 to 11 make, in PostgreSQL's types: 64-bit integers throughout, BYTEA for
     * bodies, identity columns for SQLite's INTEGER PRIMARY KEY (accounts get one for SQLite's rowid order), citext
     * for IAM names compared regardless of case (SQLite's COLLATE NOCASE), triggers as plpgsql functions */
    "CREATE EXTENSION IF NOT EXISTS citext;"
    "CREATE TABLE accounts(id TEXT PRIMARY KEY, created_at BIGINT NOT NULL, seq BIGINT GENERATED ALWAYS AS IDENTITY);"
    "CREATE TABLE access_keys(id TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  user_name CITEXT, secret_enc TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'Active', created_at BIGINT NOT NULL);"
    "CREATE INDEX access_keys_user ON access_keys(account_id, user_name);"
    "CREATE TABLE repositories(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id), name TEXT NOT NULL, created_at BIGINT NOT NULL,"
    "  tag_mutability TEXT NOT NULL DEFAULT 'MUTABLE', mutability_filters TEXT, scan_on_push BIGINT NOT NULL DEFAULT 0,"
    "  encryption_type TEXT NOT NULL DEFAULT 'AES256', kms_key TEXT, policy TEXT, lifecycle_policy TEXT,"
    "  lifecycle_evaluated_at BIGINT, UNIQUE(account_id, name));"
    "CREATE TABLE repo_tags(repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, PRIMARY KEY(repo_id, key));"
    "CREATE TABLE blobs(digest TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE repo_blobs(repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  digest TEXT NOT NULL REFERENCES blobs(digest), linked_at BIGINT NOT NULL DEFAULT 0, PRIMARY KEY(repo_id, digest));"
    "CREATE INDEX repo_blobs_digest ON repo_blobs(digest);"
    "CREATE TABLE manifests(repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE, digest TEXT NOT NULL,"
    "  media_type TEXT NOT NULL, artifact_type TEXT, config_media_type TEXT, subject TEXT, size BIGINT NOT NULL,"
    "  image_size BIGINT NOT NULL DEFAULT 0, body BYTEA NOT NULL, pushed_at BIGINT NOT NULL, last_pull BIGINT,"
    "  tag_count BIGINT NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'ACTIVE', archived_at BIGINT, activated_at BIGINT,"
    "  annotations TEXT, PRIMARY KEY(repo_id, digest));"
    "CREATE INDEX manifests_subject ON manifests(repo_id, subject) WHERE subject IS NOT NULL;"
    "CREATE INDEX manifests_status ON manifests(repo_id, status, digest);"
    "CREATE INDEX manifests_untagged ON manifests(repo_id, digest) WHERE tag_count = 0;"
    "CREATE INDEX manifests_tagged ON manifests(repo_id, digest) WHERE tag_count > 0;"
    "CREATE INDEX manifests_status_untagged ON manifests(repo_id, status, digest) WHERE tag_count = 0;"
    "CREATE INDEX manifests_status_tagged ON manifests(repo_id, status, digest) WHERE tag_count > 0;"
    "CREATE INDEX manifests_lifecycle ON manifests(repo_id, digest, pushed_at, last_pull, subject, status, archived_at,"
    "  activated_at);"
    "CREATE TABLE tags(repo_id BIGINT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, updated_at BIGINT NOT NULL,"
    "  PRIMARY KEY(repo_id, name), FOREIGN KEY(repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE);"
    "CREATE INDEX tags_digest ON tags(repo_id, digest);"
    "CREATE TABLE manifest_blobs(repo_id BIGINT NOT NULL, manifest_digest TEXT NOT NULL, blob_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, manifest_digest, blob_digest),"
    "  FOREIGN KEY(repo_id, manifest_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE);"
    "CREATE INDEX manifest_blobs_blob ON manifest_blobs(repo_id, blob_digest);"
    "CREATE TABLE manifest_refs(repo_id BIGINT NOT NULL, parent_digest TEXT NOT NULL, child_digest TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, parent_digest, child_digest),"
    "  FOREIGN KEY(repo_id, parent_digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE);"
    "CREATE INDEX manifest_refs_child ON manifest_refs(repo_id, child_digest);"
    "CREATE TABLE uploads(id TEXT PRIMARY KEY, repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL DEFAULT 0, parts BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX uploads_updated ON uploads(updated_at);"
    "CREATE TABLE settings(scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(scope, key));"
    "CREATE TABLE iam_users(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name CITEXT NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL, tags TEXT,"
    "  created_at BIGINT NOT NULL, PRIMARY KEY(account_id, name));"
    "CREATE TABLE iam_groups(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name CITEXT NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL, PRIMARY KEY(account_id, name));"
    "CREATE TABLE iam_group_members(account_id TEXT NOT NULL, group_name CITEXT NOT NULL, user_name CITEXT NOT NULL,"
    "  added_at BIGINT NOT NULL, PRIMARY KEY(account_id, group_name, user_name),"
    "  FOREIGN KEY(account_id, group_name) REFERENCES iam_groups(account_id, name) ON DELETE CASCADE,"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE);"
    "CREATE INDEX iam_group_members_user ON iam_group_members(account_id, user_name);"
    "CREATE TABLE iam_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name CITEXT NOT NULL, path TEXT NOT NULL, id TEXT NOT NULL UNIQUE, arn TEXT NOT NULL UNIQUE,"
    "  description TEXT NOT NULL DEFAULT '', default_version BIGINT NOT NULL, next_version BIGINT NOT NULL, tags TEXT,"
    "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY(account_id, name));"
    "CREATE TABLE iam_policy_versions(policy_arn TEXT NOT NULL REFERENCES iam_policies(arn) ON DELETE CASCADE,"
    "  version BIGINT NOT NULL, document TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY(policy_arn, version));"
    "CREATE TABLE iam_attachments(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name CITEXT NOT NULL,"
    "  policy_arn TEXT NOT NULL, attached_at BIGINT NOT NULL, PRIMARY KEY(account_id, entity, entity_name, policy_arn));"
    "CREATE INDEX iam_attachments_policy ON iam_attachments(account_id, policy_arn);"
    "CREATE TABLE iam_inline_policies(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  entity TEXT NOT NULL CHECK(entity IN ('user', 'group')), entity_name CITEXT NOT NULL,"
    "  name CITEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY(account_id, entity, entity_name, name));"
    "CREATE TABLE jobs(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL,"
    "  arg TEXT NOT NULL DEFAULT '', run_at BIGINT NOT NULL, period_ms BIGINT NOT NULL DEFAULT 0,"
    "  attempts BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0, last_error TEXT,"
    "  owner TEXT NOT NULL DEFAULT '', lease_until BIGINT NOT NULL DEFAULT 0, again BIGINT NOT NULL DEFAULT 0,"
    "  created_at BIGINT NOT NULL, UNIQUE(kind, key));"
    "CREATE INDEX jobs_due ON jobs(kind, run_at) WHERE failed = 0;"
    "CREATE TABLE image_scans(repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  digest TEXT NOT NULL, status TEXT NOT NULL, description TEXT, requested_at BIGINT NOT NULL DEFAULT 0,"
    "  completed_at BIGINT NOT NULL DEFAULT 0, source_updated_at BIGINT NOT NULL DEFAULT 0, counts TEXT,"
    "  findings BIGINT NOT NULL DEFAULT 0, inventory TEXT, PRIMARY KEY(repo_id, digest));"
    "CREATE TABLE scan_findings(repo_id BIGINT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,"
    "  digest TEXT NOT NULL, pos BIGINT NOT NULL, finding TEXT NOT NULL, PRIMARY KEY(repo_id, digest, pos));"
    "CREATE TABLE vuln_records(id TEXT PRIMARY KEY, modified TEXT NOT NULL, modified_ms BIGINT NOT NULL,"
    "  summary TEXT NOT NULL, details TEXT NOT NULL, aliases TEXT NOT NULL, uri TEXT NOT NULL,"
    "  cvss3_vector TEXT, cvss3_score DOUBLE PRECISION, cvss2_vector TEXT, cvss2_score DOUBLE PRECISION,"
    "  imported_at BIGINT NOT NULL);"
    "CREATE INDEX vuln_records_imported ON vuln_records(imported_at);"
    "CREATE TABLE vuln_affected(record_id TEXT NOT NULL REFERENCES vuln_records(id) ON DELETE CASCADE,"
    "  ecosystem TEXT NOT NULL, eco_key TEXT NOT NULL, package TEXT NOT NULL, severity TEXT NOT NULL,"
    "  ranges TEXT NOT NULL, versions TEXT NOT NULL);"
    "CREATE INDEX vuln_affected_package ON vuln_affected(eco_key, package);"
    "CREATE INDEX vuln_affected_record ON vuln_affected(record_id);"
    "CREATE TABLE vuln_source(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE pull_time_exclusions(account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  principal_arn TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY(account_id, principal_arn));"
    "CREATE TABLE lifecycle_previews(repo_id BIGINT PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,"
    "  policy TEXT NOT NULL, status TEXT NOT NULL, started_at BIGINT NOT NULL, finished_at BIGINT, error TEXT,"
    "  expiring BIGINT NOT NULL DEFAULT 0, transitioning BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE lifecycle_preview_results(repo_id BIGINT NOT NULL REFERENCES lifecycle_previews(repo_id)"
    "  ON DELETE CASCADE, seq BIGINT NOT NULL, digest TEXT NOT NULL, tags TEXT NOT NULL, tagged BIGINT NOT NULL,"
    "  pushed_at BIGINT NOT NULL, action TEXT NOT NULL, priority BIGINT NOT NULL, storage_class TEXT NOT NULL,"
    "  PRIMARY KEY(repo_id, seq));"
    "CREATE TABLE lifecycle_history(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL,"
    "  repository TEXT NOT NULL, digest TEXT NOT NULL, tags TEXT NOT NULL, priority BIGINT NOT NULL,"
    "  action TEXT NOT NULL, outcome TEXT NOT NULL, at BIGINT NOT NULL);"
    "CREATE INDEX lifecycle_history_repo ON lifecycle_history(account_id, repository, id);"
    "CREATE TABLE gc_link_reviews(repo_id BIGINT NOT NULL, digest TEXT NOT NULL, queued_at BIGINT NOT NULL,"
    "  PRIMARY KEY(repo_id, digest));"
    "CREATE INDEX gc_link_reviews_due ON gc_link_reviews(queued_at);"
    "CREATE TABLE gc_blob_reviews(digest TEXT PRIMARY KEY, queued_at BIGINT NOT NULL);"
    "CREATE INDEX gc_blob_reviews_due ON gc_blob_reviews(queued_at);"
    /* the triggers of SQLite's migrations 6, 8 and 11 */
    "CREATE FUNCTION berth_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS"
    "  $$ SELECT CAST(extract(epoch FROM clock_timestamp()) * 1000 AS BIGINT) $$;"
    "CREATE FUNCTION manifests_scans() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  DELETE FROM image_scans WHERE repo_id = old.repo_id AND digest = old.digest;"
    "  DELETE FROM scan_findings WHERE repo_id = old.repo_id AND digest = old.digest; RETURN NULL; END $$;"
    "CREATE TRIGGER manifests_scans AFTER DELETE ON manifests FOR EACH ROW EXECUTE FUNCTION manifests_scans();"
    "CREATE FUNCTION tags_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP IN ('DELETE', 'UPDATE') THEN"
    "    UPDATE manifests SET tag_count = tag_count - 1 WHERE repo_id = old.repo_id AND digest = old.digest; END IF;"
    "  IF TG_OP IN ('INSERT', 'UPDATE') THEN"
    "    UPDATE manifests SET tag_count = tag_count + 1 WHERE repo_id = new.repo_id AND digest = new.digest; END IF;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER tags_count_insert AFTER INSERT ON tags FOR EACH ROW EXECUTE FUNCTION tags_count();"
    "CREATE TRIGGER tags_count_delete AFTER DELETE ON tags FOR EACH ROW EXECUTE FUNCTION tags_count();"
    "CREATE TRIGGER tags_count_move AFTER UPDATE OF digest ON tags FOR EACH ROW WHEN (old.digest <> new.digest)"
    "  EXECUTE FUNCTION tags_count();"
    "CREATE FUNCTION gc_blob_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO gc_blob_reviews(digest, queued_at) SELECT new.digest, new.created_at"
    "    WHERE NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = new.digest)"
    "    ON CONFLICT (digest) DO UPDATE SET queued_at = excluded.queued_at;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER gc_blob_added AFTER INSERT ON blobs FOR EACH ROW EXECUTE FUNCTION gc_blob_added();"
    "CREATE FUNCTION gc_link_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO gc_link_reviews(repo_id, digest, queued_at) SELECT new.repo_id, new.digest, new.linked_at"
    "    WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE repo_id = new.repo_id AND blob_digest = new.digest)"
    "    ON CONFLICT (repo_id, digest) DO UPDATE SET queued_at = excluded.queued_at;"
    "  DELETE FROM gc_blob_reviews WHERE digest = new.digest;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER gc_link_added AFTER INSERT ON repo_blobs FOR EACH ROW EXECUTE FUNCTION gc_link_added();"
    "CREATE FUNCTION gc_link_dropped() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  DELETE FROM gc_link_reviews WHERE repo_id = old.repo_id AND digest = old.digest;"
    "  INSERT INTO gc_blob_reviews(digest, queued_at) SELECT old.digest, berth_now_ms()"
    "    WHERE NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = old.digest)"
    "    ON CONFLICT (digest) DO UPDATE SET queued_at = excluded.queued_at;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER gc_link_dropped AFTER DELETE ON repo_blobs FOR EACH ROW EXECUTE FUNCTION gc_link_dropped();"
    "CREATE FUNCTION gc_ref_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  DELETE FROM gc_link_reviews WHERE repo_id = new.repo_id AND digest = new.blob_digest;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER gc_ref_added AFTER INSERT ON manifest_blobs FOR EACH ROW EXECUTE FUNCTION gc_ref_added();"
    "CREATE FUNCTION gc_ref_dropped() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO gc_link_reviews(repo_id, digest, queued_at) SELECT old.repo_id, old.blob_digest, berth_now_ms()"
    "    WHERE EXISTS (SELECT 1 FROM repo_blobs WHERE repo_id = old.repo_id AND digest = old.blob_digest)"
    "    AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE repo_id = old.repo_id AND blob_digest = old.blob_digest)"
    "    ON CONFLICT (repo_id, digest) DO UPDATE SET queued_at = excluded.queued_at;"
    "  RETURN NULL; END $$;"
    "CREATE TRIGGER gc_ref_dropped AFTER DELETE ON manifest_blobs FOR EACH ROW EXECUTE FUNCTION gc_ref_dropped();",
    /* 2: SQLite's 12, events (store/events.c) */
    "CREATE TABLE webhooks(id TEXT PRIMARY KEY, url TEXT NOT NULL, secret_enc TEXT NOT NULL,"
    " filter TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);"
    "CREATE TABLE events(seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    " detail_type TEXT NOT NULL, stream TEXT NOT NULL, body TEXT NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE INDEX events_created ON events(created_at);"
    "CREATE TABLE webhook_deliveries(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    " webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,"
    " event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE, stream TEXT NOT NULL,"
    " state TEXT NOT NULL DEFAULT 'pending', attempts BIGINT NOT NULL DEFAULT 0, last_status BIGINT NOT NULL DEFAULT 0,"
    " last_error TEXT, next_attempt BIGINT NOT NULL, finished_at BIGINT NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);"
    "CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(webhook_id, stream, id) WHERE state = 'pending';"
    "CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_seq);"
    "CREATE INDEX webhook_deliveries_finished ON webhook_deliveries(finished_at) WHERE state <> 'pending';",
    /* 3: SQLite's 13, the web console (store/console.c) */
    "CREATE TABLE iam_login_profiles(account_id TEXT NOT NULL, user_name CITEXT NOT NULL,"
    "  password_hash TEXT NOT NULL, reset_required BIGINT NOT NULL, created_at BIGINT NOT NULL,"
    "  PRIMARY KEY(account_id, user_name),"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE);"
    "CREATE TABLE console_sessions(id_hash TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, principal_arn TEXT NOT NULL,"
    "  access_key_id TEXT NOT NULL, csrf TEXT NOT NULL, must_change_password BIGINT NOT NULL,"
    "  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);"
    "CREATE INDEX console_sessions_expiry ON console_sessions(expires_at);",
    /* 4: SQLite's 14, the audit trail (store/audit.h) */
    "CREATE TABLE audit_events(seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL, event_time BIGINT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,"
    " username TEXT NOT NULL, access_key_id TEXT NOT NULL, read_only BIGINT NOT NULL, resources TEXT NOT NULL,"
    " record TEXT NOT NULL);"
    "CREATE INDEX audit_events_account ON audit_events(account_id, seq);"
    "CREATE INDEX audit_events_time ON audit_events(event_time);"
    "CREATE INDEX audit_events_name ON audit_events(account_id, event_name, seq);"
    "CREATE INDEX audit_events_user ON audit_events(account_id, username, seq);"
    "CREATE INDEX audit_events_key ON audit_events(account_id, access_key_id, seq);"
    "CREATE INDEX audit_events_id ON audit_events(event_id);"
    "CREATE INDEX audit_events_source ON audit_events(account_id, event_source, seq);"
    "CREATE INDEX audit_events_read_only ON audit_events(account_id, read_only, seq);"
    "CREATE TABLE audit_resources(seq BIGINT NOT NULL, account_id TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL);"
    "CREATE INDEX audit_resources_seq ON audit_resources(seq);"
    "CREATE INDEX audit_resources_name ON audit_resources(account_id, name, seq);"
    "CREATE INDEX audit_resources_type ON audit_resources(account_id, type, seq);",
    /* 5: SQLite's 15, staged audit records */
    "CREATE TABLE audit_pending(seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL,"
    " event_id TEXT NOT NULL, event_time BIGINT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,"
    " username TEXT NOT NULL, access_key_id TEXT NOT NULL, read_only BIGINT NOT NULL, resources TEXT NOT NULL,"
    " record TEXT NOT NULL);",
    /* 6: SQLite's 16, the read cache's generation (store/cache.c), its triggers row by row as there */
    "CREATE TABLE cache_generation(id BIGINT PRIMARY KEY CHECK (id = 1), gen BIGINT NOT NULL);"
    "INSERT INTO cache_generation(id, gen) VALUES (1, 1 + floor(random() * 1000000000000)::bigint);"
    "CREATE FUNCTION cache_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    "  UPDATE cache_generation SET gen = gen + 1 WHERE id = 1; RETURN NULL; END $$;"
    PG_CACHE_BUMP("accounts", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("access_keys", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_users", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_groups", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_group_members", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_policies", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_policy_versions", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_attachments", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("iam_inline_policies", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("repo_tags", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("settings", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("pull_time_exclusions", "INSERT OR UPDATE OR DELETE")
    PG_CACHE_BUMP("repositories", "INSERT OR DELETE OR UPDATE OF account_id, name, tag_mutability, mutability_filters,"
                                  " scan_on_push, encryption_type, kms_key, policy, lifecycle_policy"),
    /* 7: SQLite's 17, the console's sign-in (store/console.c) */
    "CREATE TABLE iam_account_aliases(account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  alias TEXT NOT NULL UNIQUE);"
    "CREATE TABLE iam_password_policies(account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
    "  min_length BIGINT NOT NULL, require_symbols BIGINT NOT NULL, require_numbers BIGINT NOT NULL,"
    "  require_uppercase BIGINT NOT NULL, require_lowercase BIGINT NOT NULL, allow_users_to_change BIGINT NOT NULL,"
    "  max_age_days BIGINT NOT NULL, reuse_prevention BIGINT NOT NULL, hard_expiry BIGINT NOT NULL);"
    "CREATE TABLE iam_password_history(account_id TEXT NOT NULL, user_name CITEXT NOT NULL,"
    "  password_hash TEXT NOT NULL, set_at BIGINT NOT NULL,"
    "  FOREIGN KEY(account_id, user_name) REFERENCES iam_users(account_id, name) ON DELETE CASCADE);"
    "CREATE INDEX iam_password_history_user ON iam_password_history(account_id, user_name, set_at);"
    "CREATE TABLE console_signin_failures(key TEXT PRIMARY KEY, fails BIGINT NOT NULL, since_at BIGINT NOT NULL);"
    "CREATE INDEX console_signin_failures_since ON console_signin_failures(since_at);",
    /* 8: SQLite's 18, the console's Images tab in push order */
    "CREATE INDEX manifests_pushed ON manifests(repo_id, status, pushed_at, digest);",
};

#define NPG_MIGRATIONS ((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static char *database_url; /* --database, or NULL for sqlite:<data>/berth.db */

int store_set_database(const char *url)
{
    free(database_url);
    database_url = url && *url ? xstrdup(url) : NULL;
    return 0;
}

static int configure(const char *data_dir)
{
    char url[PATH_MAX + 16];
    if (database_url)
        return db_configure(database_url);
    snprintf(url, sizeof(url), "sqlite:%s/berth.db", data_dir);
    return db_configure(url);
}

/* The schema version of the database; 0 for a new one. */
static int schema_version(int *out)
{
    struct db_statement *st =
        db_stmt(DB_SQL("PRAGMA user_version", "SELECT coalesce(max(version), 0) FROM berth_schema"));
    int rc = db_row(st, "schema version");
    if (rc == 1)
        *out = db_col_int(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_ERROR, "database: no schema version");
    return rc < 0 ? rc : 0;
}

static int nmigrations(void)
{
    return db_is_pg() ? NPG_MIGRATIONS : NMIGRATIONS;
}

/* Moves the schema forward to version target, in one transaction that,
 * on PostgreSQL, also keeps a second server from migrating at the same
 * time (it waits, then finds nothing left to do). */
static int migrate(int target)
{
    int version = 0, rc;
    if (db_is_pg() &&
        (rc = db_exec("CREATE TABLE IF NOT EXISTS berth_schema(version INTEGER NOT NULL)", "schema version")) < 0)
        return rc;
    if ((rc = db_exec(DB_SQL("BEGIN IMMEDIATE", "BEGIN; SELECT pg_advisory_xact_lock(1650553461)"), "migration")) < 0)
        return rc;
    if ((rc = schema_version(&version)) < 0)
        goto done;
    if (version > nmigrations()) {
        rc = error_set(E_UNSUPPORTED, "database schema version %d is newer than this berth (%d)", version, nmigrations());
        goto done;
    }
    for (int v = version; v < target; v++) {
        char set[96];
        if (db_is_pg())
            snprintf(set, sizeof(set), "DELETE FROM berth_schema; INSERT INTO berth_schema(version) VALUES(%d)", v + 1);
        else
            snprintf(set, sizeof(set), "PRAGMA user_version=%d", v + 1);
        if ((rc = db_exec(db_is_pg() ? pg_migrations[v] : migrations[v], "migration")) < 0 ||
            (rc = db_exec(set, "migration")) < 0) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s", error_message());
            rc = error_set(E_ERROR, "database migration to version %d failed: %s", v + 1, msg);
            goto done;
        }
        log_info("database migrated to schema version %d", v + 1);
    }
    rc = db_exec("COMMIT", "migration");
done:
    if (rc < 0)
        db_exec("ROLLBACK", "migration");
    return rc;
}

int store_open(const char *data_dir)
{
    int rc = configure(data_dir);
    return rc < 0 ? rc : migrate(nmigrations());
}

int store_schema_version(int *out, int *latest)
{
    *latest = nmigrations();
    return schema_version(out);
}

/* ---- accounts and keys ---- */

int store_account_create(const char *account_id)
{
    struct db_statement *st = db_stmt("INSERT INTO accounts(id, created_at) VALUES(?1, ?2)");
    db_bind_text(st, 1, account_id);
    db_bind_int64(st, 2, now_ms());
    return db_done(st, "account");
}

int store_account_exists(const char *account_id)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM accounts WHERE id = ?1");
    db_bind_text(st, 1, account_id);
    return db_exists(st, "account", account_id, "does not exist");
}

int store_accounts_each(int (*fn)(void *ctx, const char *id), void *ctx)
{
    struct db_statement *st = db_stmt(DB_SQL("SELECT id FROM accounts ORDER BY created_at, rowid", "SELECT id FROM accounts ORDER BY created_at, seq"));
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0)))
            break;
    return db_end(st, rc, "accounts");
}

int store_account_default(char out[13])
{
    struct db_statement *st = db_stmt(DB_SQL("SELECT id FROM accounts ORDER BY created_at, rowid LIMIT 1",
                                                   "SELECT id FROM accounts ORDER BY created_at, seq LIMIT 1"));
    int rc = db_row(st, "accounts");
    if (rc == 1)
        db_col_copy(out, 13, st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "there is no account");
    return rc < 0 ? rc : 0;
}

void access_key_release(struct access_key *k)
{
    free(k->user_name);
    free(k->secret_enc);
    k->user_name = k->secret_enc = NULL;
}

int store_access_key_put(const char *id, const char *account_id, const char *user_name, const char *secret_enc)
{
    struct db_statement *st =
        db_stmt("INSERT INTO access_keys(id, account_id, user_name, secret_enc, created_at) VALUES(?1, ?2, ?3, ?4, ?5)");
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, account_id);
    db_bind_text(st, 3, user_name);
    db_bind_text(st, 4, secret_enc);
    db_bind_int64(st, 5, now_ms());
    return db_done(st, "access key");
}

static void key_from_row(struct db_statement *st, struct access_key *k)
{
    memset(k, 0, sizeof(*k));
    db_col_copy(k->id, sizeof(k->id), st, 0);
    db_col_copy(k->account_id, sizeof(k->account_id), st, 1);
    k->user_name = db_col_dup(st, 2);
    k->secret_enc = db_col_dup(st, 3);
    db_col_copy(k->status, sizeof(k->status), st, 4);
    k->created_ms = db_col_int64(st, 5);
}

int store_access_key_get(const char *id, struct access_key *out)
{
    struct db_statement *st = db_stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys WHERE id = ?1");
    db_bind_text(st, 1, id);
    int rc = db_row(st, "access key");
    if (rc == 1)
        key_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "access key '%s' does not exist", id);
    return rc < 0 ? rc : 0;
}

int store_access_key_delete(const char *id)
{
    struct db_statement *st = db_stmt("DELETE FROM access_keys WHERE id = ?1");
    db_bind_text(st, 1, id);
    int rc = db_done(st, "access key");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "access key '%s' does not exist", id);
    return rc;
}

int store_root_keys(const char *account_id, int (*fn)(void *ctx, const struct access_key *k), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys "
                            "WHERE account_id = ?1 AND user_name IS NULL ORDER BY created_at DESC");
    int rc;
    db_bind_text(st, 1, account_id);
    while ((rc = db_step(st)) == DB_ROW) {
        struct access_key k;
        key_from_row(st, &k);
        int stop = fn(ctx, &k);
        access_key_release(&k);
        if (stop)
            break;
    }
    return db_end(st, rc, "root keys");
}

/* ---- repositories ---- */

#define REPO_COLUMNS                                                                                                       \
    "id, account_id, name, created_at, tag_mutability, mutability_filters, scan_on_push, encryption_type, kms_key, policy, " \
    "lifecycle_policy"

void repo_release(struct repo *r)
{
    free(r->name);
    free(r->tag_mutability);
    free(r->mutability_filters);
    free(r->encryption_type);
    free(r->kms_key);
    free(r->policy);
    free(r->lifecycle_policy);
    memset(r, 0, sizeof(*r));
}

static void repo_from_row(struct db_statement *st, struct repo *r)
{
    memset(r, 0, sizeof(*r));
    r->id = db_col_int64(st, 0);
    db_col_copy(r->account_id, sizeof(r->account_id), st, 1);
    r->name = db_col_dup(st, 2);
    r->created_ms = db_col_int64(st, 3);
    r->tag_mutability = db_col_dup(st, 4);
    r->mutability_filters = db_col_dup(st, 5);
    r->scan_on_push = db_col_int(st, 6) != 0;
    r->encryption_type = db_col_dup(st, 7);
    r->kms_key = db_col_dup(st, 8);
    r->policy = db_col_dup(st, 9);
    r->lifecycle_policy = db_col_dup(st, 10);
}

static int repo_one(struct db_statement *st, struct repo *out, const char *what)
{
    int rc = db_row(st, "repository");
    if (rc == 1)
        repo_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "repository '%s' does not exist", what);
    return rc < 0 ? rc : 0;
}

int store_repo_get(const char *account_id, const char *name, struct repo *out)
{
    struct db_statement *st = db_stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE account_id = ?1 AND name = ?2");
    db_bind_text(st, 1, account_id);
    db_bind_text(st, 2, name);
    return repo_one(st, out, name);
}

int store_repo_get_by_id(int64_t id, struct repo *out)
{
    struct db_statement *st = db_stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE id = ?1");
    db_bind_int64(st, 1, id);
    return repo_one(st, out, "?");
}

static void bind_repo(struct db_statement *st, const struct repo *r)
{
    db_bind_text(st, 1, r->account_id);
    db_bind_text(st, 2, r->name);
    db_bind_text(st, 3, r->tag_mutability ? r->tag_mutability : "MUTABLE");
    db_bind_text(st, 4, r->mutability_filters);
    db_bind_int64(st, 5, r->scan_on_push);
    db_bind_text(st, 6, r->encryption_type ? r->encryption_type : "AES256");
    db_bind_text(st, 7, r->kms_key);
    db_bind_text(st, 8, r->policy);
    db_bind_text(st, 9, r->lifecycle_policy);
}

int store_repo_create(struct repo *r)
{
    struct db_statement *st = db_stmt("INSERT INTO repositories(account_id, name, tag_mutability, mutability_filters, scan_on_push, "
                            "encryption_type, kms_key, policy, lifecycle_policy, created_at) "
                            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id");
    bind_repo(st, r);
    r->created_ms = now_ms();
    db_bind_int64(st, 10, r->created_ms);
    int rc = db_row(st, "repository");
    if (rc == 1)
        r->id = db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_ERROR, "database: repository: no id");
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "repository '%s' already exists", r->name);
    return rc < 0 ? rc : 0;
}

int store_repo_update(const struct repo *r)
{
    struct db_statement *st = db_stmt("UPDATE repositories SET account_id = ?1, name = ?2, tag_mutability = ?3, mutability_filters = ?4,"
                            " scan_on_push = ?5, encryption_type = ?6, kms_key = ?7, policy = ?8, lifecycle_policy = ?9"
                            " WHERE id = ?10");
    bind_repo(st, r);
    db_bind_int64(st, 10, r->id);
    return db_done(st, "repository");
}

int store_repo_delete(int64_t id)
{
    /* manifests first: their children (tags, refs) cascade from them */
    struct db_statement *st = db_stmt("DELETE FROM manifests WHERE repo_id = ?1");
    db_bind_int64(st, 1, id);
    int rc = db_done(st, "manifests");
    if (rc < 0)
        return rc;
    st = db_stmt("DELETE FROM repositories WHERE id = ?1");
    db_bind_int64(st, 1, id);
    rc = db_done(st, "repository");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "repository %lld does not exist", (long long)id);
    return rc;
}

int store_repo_count(const char *account_id, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM repositories WHERE account_id = ?1");
    db_bind_text(st, 1, account_id);
    return db_count(st, out, "repositories");
}

int store_repo_list(const char *account_id, const char *after, int limit, int (*fn)(void *ctx, const struct repo *r),
                    void *ctx)
{
    struct db_statement *st = db_stmt("SELECT " REPO_COLUMNS " FROM repositories WHERE account_id = ?1 AND name > ?2 "
                            "ORDER BY name LIMIT ?3");
    db_bind_text(st, 1, account_id);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct repo r;
        repo_from_row(st, &r);
        int stop = fn(ctx, &r);
        repo_release(&r);
        if (stop)
            break;
    }
    return db_end(st, rc, "repositories");
}

int store_repo_image_count(int64_t repo_id, int64_t *out)
{
    return store_manifest_count(repo_id, out);
}

int store_repo_tags_get(int64_t repo_id, int (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT key, value FROM repo_tags WHERE repo_id = ?1 ORDER BY key");
    int rc;
    db_bind_int64(st, 1, repo_id);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0), db_col_ztext(st, 1)))
            break;
    return db_end(st, rc, "resource tags");
}

int store_repo_tag_put(int64_t repo_id, const char *key, const char *value)
{
    struct db_statement *st = db_stmt("INSERT INTO repo_tags(repo_id, key, value) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT(repo_id, key) DO UPDATE SET value = excluded.value");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, key);
    db_bind_text(st, 3, value);
    return db_done(st, "resource tag");
}

int store_repo_tag_delete(int64_t repo_id, const char *key)
{
    struct db_statement *st = db_stmt("DELETE FROM repo_tags WHERE repo_id = ?1 AND key = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, key);
    return db_done(st, "resource tag");
}

int store_repo_tag_count(int64_t repo_id, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM repo_tags WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    return db_count(st, out, "resource tags");
}

/* ---- blobs ---- */

int store_blob_add(const char *digest, uint64_t size)
{
    struct db_statement *st = db_stmt("INSERT INTO blobs(digest, size, created_at) VALUES(?1, ?2, ?3) ON CONFLICT DO NOTHING");
    db_bind_text(st, 1, digest);
    db_bind_int64(st, 2, (int64_t)size);
    db_bind_int64(st, 3, now_ms());
    return db_done(st, "blob");
}

int store_blob_link(int64_t repo_id, const char *digest)
{
    struct db_statement *st = db_stmt("INSERT INTO repo_blobs(repo_id, digest, linked_at) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT(repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, now_ms());
    return db_done(st, "blob link");
}

int store_blob_linked(int64_t repo_id, const char *digest, uint64_t *size_out)
{
    struct db_statement *st = db_stmt("SELECT b.size FROM repo_blobs r JOIN blobs b ON b.digest = r.digest "
                            "WHERE r.repo_id = ?1 AND r.digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_row(st, "blob link");
    if (rc == 1 && size_out)
        *size_out = (uint64_t)db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "blob '%s' is not in the repository", digest);
    return rc < 0 ? rc : 0;
}

int store_blob_unlink(int64_t repo_id, const char *digest)
{
    struct db_statement *st = db_stmt("DELETE FROM repo_blobs WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_done(st, "blob link");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "blob '%s' is not in the repository", digest);
    return rc;
}

int store_blob_size(const char *digest, uint64_t *size_out)
{
    struct db_statement *st = db_stmt("SELECT size FROM blobs WHERE digest = ?1");
    db_bind_text(st, 1, digest);
    int rc = db_row(st, "blob");
    if (rc == 1)
        *size_out = (uint64_t)db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "blob '%s' is unknown", digest);
    return rc < 0 ? rc : 0;
}

/* ---- manifests and tags ---- */

void manifest_release(struct manifest *m)
{
    free(m->media_type);
    free(m->artifact_type);
    free(m->config_media_type);
    free(m->subject);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

void manifest_from_row(struct db_statement *st, struct manifest *m, bool with_body)
{
    memset(m, 0, sizeof(*m));
    db_col_copy(m->digest, sizeof(m->digest), st, 0);
    m->media_type = db_col_dup(st, 1);
    m->artifact_type = db_col_dup(st, 2);
    m->config_media_type = db_col_dup(st, 3);
    m->subject = db_col_dup(st, 4);
    m->size = (uint64_t)db_col_int64(st, 5);
    m->image_size = (uint64_t)db_col_int64(st, 6);
    m->pushed_ms = db_col_int64(st, 7);
    m->last_pull_ms = db_col_int64(st, 8);
    m->status = store_status_from_text(db_col_text(st, 9));
    if (with_body) {
        int n = db_col_bytes(st, 10);
        m->body = xmalloc((size_t)n + 1);
        memcpy(m->body, db_col_blob(st, 10), (size_t)n);
        m->body[n] = '\0';
    }
}

int store_manifest_put(int64_t repo_id, const struct manifest *m, const struct manifest_ref *refs, size_t nrefs,
                       const char *tag)
{
    int rc;
    struct db_statement *st = db_stmt("INSERT INTO manifests(repo_id, digest, media_type, artifact_type, config_media_type, subject, "
                            "size, image_size, body, pushed_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                            "ON CONFLICT DO NOTHING");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, m->digest);
    db_bind_text(st, 3, m->media_type);
    db_bind_text(st, 4, m->artifact_type);
    db_bind_text(st, 5, m->config_media_type);
    db_bind_text(st, 6, m->subject);
    db_bind_int64(st, 7, (int64_t)m->size);
    db_bind_int64(st, 8, (int64_t)m->image_size);
    db_bind_blob(st, 9, m->body, (int)m->size);
    db_bind_int64(st, 10, m->pushed_ms ? m->pushed_ms : now_ms());
    if ((rc = db_done(st, "manifest")) < 0)
        return rc;
    bool inserted = db_changes() > 0;
    for (size_t i = 0; inserted && i < nrefs; i++) {
        if (refs[i].is_manifest)
            st = db_stmt("INSERT INTO manifest_refs(repo_id, parent_digest, child_digest) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT DO NOTHING");
        else
            st = db_stmt("INSERT INTO manifest_blobs(repo_id, manifest_digest, blob_digest) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT DO NOTHING");
        db_bind_int64(st, 1, repo_id);
        db_bind_text(st, 2, m->digest);
        db_bind_text(st, 3, refs[i].digest);
        if ((rc = db_done(st, "manifest reference")) < 0)
            return rc;
    }
    if (tag)
        return store_tag_put(repo_id, tag, m->digest);
    return 0;
}

int store_manifest_get(int64_t repo_id, const char *digest, bool with_body, struct manifest *out)
{
    struct db_statement *st = with_body ? db_stmt("SELECT " MANIFEST_COLUMNS ", body FROM manifests WHERE repo_id = ?1 AND digest = ?2")
                                 : db_stmt("SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_row(st, "manifest");
    if (rc == 1)
        manifest_from_row(st, out, with_body);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
    return rc < 0 ? rc : 0;
}

int store_manifest_exists(int64_t repo_id, const char *digest)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    return db_exists(st, "manifest", digest, "is unknown");
}

int store_manifest_delete(int64_t repo_id, const char *digest)
{
    struct db_statement *st = db_stmt("DELETE FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_done(st, "manifest");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
    return rc;
}

int store_manifest_parent_count(int64_t repo_id, const char *digest, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM manifest_refs WHERE repo_id = ?1 AND child_digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    return db_count(st, out, "manifest parents");
}

int store_manifest_touch_pull(int64_t repo_id, const char *digest, int64_t ms)
{
    struct db_statement *st = db_stmt("UPDATE manifests SET last_pull = ?3 WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, ms);
    return db_done(st, "manifest");
}

int store_manifest_count(int64_t repo_id, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM manifests WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    return db_count(st, out, "manifests");
}

int store_tag_resolve(int64_t repo_id, const char *tag, char out[DIGEST_MAX])
{
    struct db_statement *st = db_stmt("SELECT digest FROM tags WHERE repo_id = ?1 AND name = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, tag);
    int rc = db_row(st, "tag");
    if (rc == 1)
        db_col_copy(out, DIGEST_MAX, st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "tag '%s' is unknown", tag);
    return rc < 0 ? rc : 0;
}

int store_tag_put(int64_t repo_id, const char *tag, const char *digest)
{
    struct db_statement *st = db_stmt("INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?1, ?2, ?3, ?4) "
                            "ON CONFLICT(repo_id, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, tag);
    db_bind_text(st, 3, digest);
    db_bind_int64(st, 4, now_ms());
    return db_done(st, "tag");
}

int store_tag_delete(int64_t repo_id, const char *tag)
{
    struct db_statement *st = db_stmt("DELETE FROM tags WHERE repo_id = ?1 AND name = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, tag);
    int rc = db_done(st, "tag");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "tag '%s' is unknown", tag);
    return rc;
}

int store_tag_count_for(int64_t repo_id, const char *digest, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM tags WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    return db_count(st, out, "tags");
}

int store_tags_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const char *tag, const char *digest),
                    void *ctx)
{
    struct db_statement *st = db_stmt("SELECT name, digest FROM tags WHERE repo_id = ?1 AND name > ?2 ORDER BY name LIMIT ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0), db_col_ztext(st, 1)))
            break;
    return db_end(st, rc, "tags");
}

int store_tags_of(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *tag), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT name FROM tags WHERE repo_id = ?1 AND digest = ?2 ORDER BY name");
    int rc;
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0)))
            break;
    return db_end(st, rc, "tags");
}

int store_referrers(int64_t repo_id, const char *subject, int (*fn)(void *ctx, const struct manifest *m), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT " MANIFEST_COLUMNS ", body FROM manifests WHERE repo_id = ?1 AND subject = ?2 "
                            "ORDER BY digest");
    int rc;
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, subject);
    while ((rc = db_step(st)) == DB_ROW) {
        struct manifest m;
        manifest_from_row(st, &m, true);
        int stop = fn(ctx, &m);
        manifest_release(&m);
        if (stop)
            break;
    }
    return db_end(st, rc, "referrers");
}

int store_manifests_list(int64_t repo_id, const char *after, int limit, int (*fn)(void *ctx, const struct manifest *m),
                         void *ctx)
{
    struct db_statement *st = db_stmt("SELECT " MANIFEST_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest > ?2 "
                            "ORDER BY digest LIMIT ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct manifest m;
        manifest_from_row(st, &m, false);
        int stop = fn(ctx, &m);
        manifest_release(&m);
        if (stop)
            break;
    }
    return db_end(st, rc, "manifests");
}

/* ---- upload sessions ---- */

int store_upload_create(const char *id, int64_t repo_id)
{
    struct db_statement *st = db_stmt("INSERT INTO uploads(id, repo_id, created_at, updated_at) VALUES(?1, ?2, ?3, ?3)");
    db_bind_text(st, 1, id);
    db_bind_int64(st, 2, repo_id);
    db_bind_int64(st, 3, now_ms());
    return db_done(st, "upload");
}

int store_upload_get(const char *id, int64_t repo_id)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM uploads WHERE id = ?1 AND repo_id = ?2");
    db_bind_text(st, 1, id);
    db_bind_int64(st, 2, repo_id);
    return db_exists(st, "upload", id, "is unknown");
}

int store_upload_delete(const char *id)
{
    struct db_statement *st = db_stmt("DELETE FROM uploads WHERE id = ?1");
    db_bind_text(st, 1, id);
    return db_done(st, "upload");
}

int store_upload_touch(const char *id, bool part, int64_t ms, int64_t stale_before_ms)
{
    /* a plain touch of a session touched recently changes no row, so its
     * autocommit writes (and syncs) nothing */
    struct db_statement *st = db_stmt("UPDATE uploads SET updated_at = ?2, parts = parts + ?3 WHERE id = ?1 AND (?3 = 1 OR updated_at < ?4)");
    db_bind_text(st, 1, id);
    db_bind_int64(st, 2, ms);
    db_bind_int64(st, 3, part ? 1 : 0);
    db_bind_int64(st, 4, stale_before_ms);
    return db_done(st, "upload");
}

int store_upload_parts(const char *id, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT parts FROM uploads WHERE id = ?1");
    db_bind_text(st, 1, id);
    int rc = db_step(st);
    if (rc == DB_ROW)
        *out = db_col_int64(st, 0);
    db_reset(st);
    if (rc == DB_ROW)
        return 0;
    return rc == DB_DONE ? error_set(E_NOTFOUND, "upload '%s' is unknown", id) : db_error("upload");
}

int store_uploads_idle(int64_t cutoff_ms, int limit, int (*fn)(void *ctx, const char *id), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT id FROM uploads WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2");
    int rc;
    db_bind_int64(st, 1, cutoff_ms);
    db_bind_int64(st, 2, limit);
    /* ids are copied out before fn runs: fn may use the store */
    json_t *ids = json_array();
    while ((rc = db_step(st)) == DB_ROW)
        json_array_append_new(ids, json_string(db_col_ztext(st, 0)));
    db_reset(st);
    if (rc != DB_DONE) {
        json_decref(ids);
        return db_error("uploads");
    }
    for (size_t i = 0; i < json_array_size(ids); i++)
        if (fn(ctx, json_string_value(json_array_get(ids, i))))
            break;
    json_decref(ids);
    return 0;
}

int store_blob_users(int64_t repo_id, const char *digest, int limit, int (*fn)(void *ctx, const char *manifest), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT manifest_digest FROM manifest_blobs WHERE repo_id = ?1 AND blob_digest = ?2"
                            " ORDER BY manifest_digest LIMIT ?3");
    int rc;
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_int64(st, 3, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0))) {
            rc = DB_DONE;
            break;
        }
    db_reset(st);
    return rc == DB_DONE ? 0 : db_error("manifest blobs");
}

/* ---- settings ---- */

int store_setting_get(const char *scope, const char *key, char **out)
{
    struct db_statement *st = db_stmt("SELECT value FROM settings WHERE scope = ?1 AND key = ?2");
    db_bind_text(st, 1, scope);
    db_bind_text(st, 2, key);
    int rc = db_row(st, "setting");
    if (rc == 1)
        *out = db_col_dup(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "setting '%s' is not set", key);
    return rc < 0 ? rc : 0;
}

int store_setting_delete(const char *scope, const char *key)
{
    struct db_statement *st = db_stmt("DELETE FROM settings WHERE scope = ?1 AND key = ?2");
    db_bind_text(st, 1, scope);
    db_bind_text(st, 2, key);
    return db_done(st, "setting");
}

int store_setting_add(const char *scope, const char *key, const char *value)
{
    struct db_statement *st =
        db_stmt("INSERT INTO settings(scope, key, value) VALUES(?1, ?2, ?3) ON CONFLICT(scope, key) DO NOTHING");
    db_bind_text(st, 1, scope);
    db_bind_text(st, 2, key);
    db_bind_text(st, 3, value);
    return db_done(st, "setting");
}

bool store_is_shared(void)
{
    return db_is_pg();
}

const char *store_database(void)
{
    return db_describe();
}

int store_setting_put(const char *scope, const char *key, const char *value)
{
    struct db_statement *st = db_stmt("INSERT INTO settings(scope, key, value) VALUES(?1, ?2, ?3) "
                            "ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value");
    db_bind_text(st, 1, scope);
    db_bind_text(st, 2, key);
    db_bind_text(st, 3, value);
    return db_done(st, "setting");
}

/* ---- images (ECR BatchDeleteImage) ---- */

int store_manifest_parents(int64_t repo_id, const char *digest, int (*fn)(void *ctx, const char *parent), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT parent_digest FROM manifest_refs WHERE repo_id = ?1 AND child_digest = ?2 "
                            "ORDER BY parent_digest");
    int rc;
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0)))
            break;
    return db_end(st, rc, "manifest parents");
}

/* ---- IAM: users, groups, managed and inline policies ---- */

static const char *entity_name(enum iam_entity kind)
{
    return kind == IAM_ENTITY_USER ? "user" : "group";
}

static int changed_or_notfound(int rc, const char *what, const char *name)
{
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "%s '%s' does not exist", what, name);
    return rc;
}

/* The text of one column of one row, malloc'd into *out (NULL for SQL NULL). */
static int text_query(struct db_statement *st, char **out, const char *what)
{
    int rc = db_row(st, what);
    *out = NULL;
    if (rc == 1)
        *out = db_col_dup(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "%s does not exist", what);
    return rc < 0 ? rc : 0;
}

/*
 * Users and groups are one kind of record in two tables with the same
 * columns (a group's tags are always NULL: IAM groups take none), so one
 * implementation serves both with the statements of each kind below.
 * Every SELECT of an identity returns IDENTITY_COLUMNS.
 */
#define IDENTITY_COLUMNS "account_id, name, path, id, arn, created_at"

static const struct identity_sql {
    const char *create; /* ?1..?6 the columns, ?7 the tags */
    const char *get;
    const char *tags;
    const char *remove;
    const char *list;
    const char *memberships; /* the other kind, across iam_group_members */
} identity_sql[] = {
    [IAM_ENTITY_USER] =
        {
            "INSERT INTO iam_users(account_id, name, path, id, arn, created_at, tags) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            "SELECT " IDENTITY_COLUMNS " FROM iam_users WHERE account_id = ?1 AND name = ?2",
            "SELECT tags FROM iam_users WHERE account_id = ?1 AND name = ?2",
            "DELETE FROM iam_users WHERE account_id = ?1 AND name = ?2",
            "SELECT " IDENTITY_COLUMNS " FROM iam_users WHERE account_id = ?1 AND name > ?2 "
            "AND (CAST(?3 AS TEXT) IS NULL OR substr(path, 1, length(?3)) = ?3) ORDER BY name LIMIT ?4",
            "SELECT g.account_id, g.name, g.path, g.id, g.arn, g.created_at FROM iam_group_members m "
            "JOIN iam_groups g ON g.account_id = m.account_id AND g.name = m.group_name "
            "WHERE m.account_id = ?1 AND m.user_name = ?2 AND g.name > ?3 ORDER BY g.name LIMIT ?4",
        },
    [IAM_ENTITY_GROUP] =
        {
            "INSERT INTO iam_groups(account_id, name, path, id, arn, created_at) "
            "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE CAST(?7 AS TEXT) IS NULL",
            "SELECT " IDENTITY_COLUMNS " FROM iam_groups WHERE account_id = ?1 AND name = ?2",
            "SELECT NULL FROM iam_groups WHERE account_id = ?1 AND name = ?2",
            "DELETE FROM iam_groups WHERE account_id = ?1 AND name = ?2",
            "SELECT " IDENTITY_COLUMNS " FROM iam_groups WHERE account_id = ?1 AND name > ?2 "
            "AND (CAST(?3 AS TEXT) IS NULL OR substr(path, 1, length(?3)) = ?3) ORDER BY name LIMIT ?4",
            "SELECT u.account_id, u.name, u.path, u.id, u.arn, u.created_at FROM iam_group_members m "
            "JOIN iam_users u ON u.account_id = m.account_id AND u.name = m.user_name "
            "WHERE m.account_id = ?1 AND m.group_name = ?2 AND u.name > ?3 ORDER BY u.name LIMIT ?4",
        },
};

static const struct identity_sql *sql_of(enum iam_entity kind)
{
    assert(kind == IAM_ENTITY_USER || kind == IAM_ENTITY_GROUP);
    return &identity_sql[kind];
}

static void identity_from_row(struct db_statement *st, enum iam_entity kind, struct iam_identity *e)
{
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    db_col_copy(e->account_id, sizeof(e->account_id), st, 0);
    db_col_copy(e->name, sizeof(e->name), st, 1);
    db_col_copy(e->path, sizeof(e->path), st, 2);
    db_col_copy(e->id, sizeof(e->id), st, 3);
    db_col_copy(e->arn, sizeof(e->arn), st, 4);
    e->created_ms = db_col_int64(st, 5);
}

/* One of identity_sql's statements with ?1 (the account) and ?2 bound. */
static struct db_statement *identity_stmt(const char *sql, const char *account, const char *name)
{
    struct db_statement *st = db_stmt(sql);
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, name);
    return st;
}

int store_identity_create(const struct iam_identity *e, const char *tags_json)
{
    const char *what = entity_name(e->kind);
    if (e->kind == IAM_ENTITY_GROUP && tags_json)
        return error_set(E_INVALID, "a group takes no tags");
    struct db_statement *st = identity_stmt(sql_of(e->kind)->create, e->account_id, e->name);
    db_bind_text(st, 3, e->path);
    db_bind_text(st, 4, e->id);
    db_bind_text(st, 5, e->arn);
    db_bind_int64(st, 6, e->created_ms ? e->created_ms : now_ms());
    db_bind_text(st, 7, tags_json);
    int rc = db_done(st, what);
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "%s with name %s already exists", what, e->name);
    return rc;
}

int store_identity_get(const char *account, enum iam_entity kind, const char *name, struct iam_identity *out)
{
    struct db_statement *st = identity_stmt(sql_of(kind)->get, account, name);
    int rc = db_row(st, entity_name(kind));
    if (rc == 1)
        identity_from_row(st, kind, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "%s '%s' does not exist", entity_name(kind), name);
    return rc < 0 ? rc : 0;
}

int store_identity_tags(const char *account, enum iam_entity kind, const char *name, char **out)
{
    return text_query(identity_stmt(sql_of(kind)->tags, account, name), out, entity_name(kind));
}

int store_identity_delete(const char *account, enum iam_entity kind, const char *name)
{
    struct db_statement *st = identity_stmt(sql_of(kind)->remove, account, name);
    return changed_or_notfound(db_done(st, entity_name(kind)), entity_name(kind), name);
}

/* Calls fn with each row of st, an identity of kind; ends the statement. */
static int identity_rows(struct db_statement *st, enum iam_entity kind, int (*fn)(void *ctx, const struct iam_identity *e), void *ctx,
                         const char *what)
{
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct iam_identity e;
        identity_from_row(st, kind, &e);
        if (fn(ctx, &e))
            break;
    }
    return db_end(st, rc, what);
}

int store_identities_list(const char *account, enum iam_entity kind, const char *path_prefix, const char *after, int limit,
                          int (*fn)(void *ctx, const struct iam_identity *e), void *ctx)
{
    struct db_statement *st = identity_stmt(sql_of(kind)->list, account, after ? after : "");
    db_bind_text(st, 3, path_prefix);
    db_bind_int64(st, 4, limit);
    return identity_rows(st, kind, fn, ctx, kind == IAM_ENTITY_USER ? "users" : "groups");
}

int store_memberships(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                      int (*fn)(void *ctx, const struct iam_identity *e), void *ctx)
{
    struct db_statement *st = identity_stmt(sql_of(kind)->memberships, account, name);
    db_bind_text(st, 3, after ? after : "");
    db_bind_int64(st, 4, limit);
    return identity_rows(st, kind == IAM_ENTITY_USER ? IAM_ENTITY_GROUP : IAM_ENTITY_USER, fn, ctx, "group members");
}

int store_group_add_user(const char *account, const char *group, const char *user)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_group_members(account_id, group_name, user_name, added_at) "
                            "VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, group);
    db_bind_text(st, 3, user);
    db_bind_int64(st, 4, now_ms());
    return db_done(st, "group member");
}

int store_group_remove_user(const char *account, const char *group, const char *user)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_group_members WHERE account_id = ?1 AND group_name = ?2 AND user_name = ?3");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, group);
    db_bind_text(st, 3, user);
    return changed_or_notfound(db_done(st, "group member"), "group member", user);
}

int store_iam_usage(const char *account, enum iam_entity kind, const char *name, struct iam_usage *out)
{
    struct db_statement *st = db_stmt("SELECT "
                            " (SELECT count(*) FROM access_keys WHERE ?2 = 'user' AND account_id = ?1 AND user_name = ?3),"
                            " (SELECT count(*) FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3),"
                            " (SELECT count(*) FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3),"
                            " (SELECT count(*) FROM iam_group_members WHERE ?2 = 'user' AND account_id = ?1 AND user_name = ?3),"
                            " (SELECT count(*) FROM iam_group_members WHERE ?2 = 'group' AND account_id = ?1 AND group_name = ?3)");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    memset(out, 0, sizeof(*out));
    if ((rc = db_row(st, "usage")) == 1) {
        out->access_keys = db_col_int64(st, 0);
        out->inline_policies = db_col_int64(st, 1);
        out->attached_policies = db_col_int64(st, 2);
        out->groups = db_col_int64(st, 3);
        out->members = db_col_int64(st, 4);
    }
    db_reset(st);
    if (rc == 0) /* a row of counts always comes back */
        return error_set(E_ERROR, "database: usage: no row");
    return rc < 0 ? rc : 0;
}

void iam_policy_version_release(struct iam_policy_version *v)
{
    free(v->document);
    memset(v, 0, sizeof(*v));
}

#define IAM_POLICY_COLUMNS                                                                                                 \
    "p.account_id, p.name, p.path, p.id, p.arn, p.description, p.default_version, p.created_at, p.updated_at, "           \
    "(SELECT count(*) FROM iam_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)"

static void policy_from_row(struct db_statement *st, struct iam_policy *p)
{
    memset(p, 0, sizeof(*p));
    db_col_copy(p->account_id, sizeof(p->account_id), st, 0);
    db_col_copy(p->name, sizeof(p->name), st, 1);
    db_col_copy(p->path, sizeof(p->path), st, 2);
    db_col_copy(p->id, sizeof(p->id), st, 3);
    db_col_copy(p->arn, sizeof(p->arn), st, 4);
    db_col_copy(p->description, sizeof(p->description), st, 5);
    p->default_version = db_col_int(st, 6);
    p->created_ms = db_col_int64(st, 7);
    p->updated_ms = db_col_int64(st, 8);
    p->attachment_count = db_col_int64(st, 9);
}

int store_policy_create(const struct iam_policy *p, const char *document, const char *tags_json)
{
    int64_t now = p->created_ms ? p->created_ms : now_ms();
    struct db_statement *st = db_stmt("INSERT INTO iam_policies(account_id, name, path, id, arn, description, default_version, "
                            "next_version, tags, created_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1, 2, ?7, ?8, ?8)");
    db_bind_text(st, 1, p->account_id);
    db_bind_text(st, 2, p->name);
    db_bind_text(st, 3, p->path);
    db_bind_text(st, 4, p->id);
    db_bind_text(st, 5, p->arn);
    db_bind_text(st, 6, p->description);
    db_bind_text(st, 7, tags_json);
    db_bind_int64(st, 8, now);
    int rc = db_done(st, "policy");
    if (rc == E_EXISTS)
        return error_set(E_EXISTS, "policy %s already exists", p->name);
    if (rc < 0)
        return rc;
    st = db_stmt("INSERT INTO iam_policy_versions(policy_arn, version, document, created_at) VALUES(?1, 1, ?2, ?3)");
    db_bind_text(st, 1, p->arn);
    db_bind_text(st, 2, document);
    db_bind_int64(st, 3, now);
    return db_done(st, "policy version");
}

int store_policy_get(const char *account, const char *arn, struct iam_policy *out)
{
    struct db_statement *st = db_stmt("SELECT " IAM_POLICY_COLUMNS " FROM iam_policies p WHERE p.account_id = ?1 AND p.arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    int rc = db_row(st, "policy");
    if (rc == 1)
        policy_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "policy '%s' does not exist", arn);
    return rc < 0 ? rc : 0;
}

int store_policy_tags(const char *account, const char *arn, char **out)
{
    struct db_statement *st = db_stmt("SELECT tags FROM iam_policies WHERE account_id = ?1 AND arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    return text_query(st, out, "policy");
}

int store_policy_delete(const char *account, const char *arn)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_policies WHERE account_id = ?1 AND arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    return changed_or_notfound(db_done(st, "policy"), "policy", arn);
}

int store_policies_list(const char *account, const char *path_prefix, bool only_attached, const char *after, int limit,
                        int (*fn)(void *ctx, const struct iam_policy *p), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT " IAM_POLICY_COLUMNS " FROM iam_policies p WHERE p.account_id = ?1 AND p.name > ?2 "
                            "AND (CAST(?3 AS TEXT) IS NULL OR substr(p.path, 1, length(?3)) = ?3) AND (?4 = 0 OR EXISTS (SELECT 1 FROM "
                            "iam_attachments a WHERE a.account_id = p.account_id AND a.policy_arn = p.arn)) "
                            "ORDER BY p.name LIMIT ?5");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, after ? after : "");
    db_bind_text(st, 3, path_prefix);
    db_bind_int64(st, 4, only_attached);
    db_bind_int64(st, 5, limit);
    while ((rc = db_step(st)) == DB_ROW) {
        struct iam_policy p;
        policy_from_row(st, &p);
        if (fn(ctx, &p))
            break;
    }
    return db_end(st, rc, "policies");
}

int store_policy_version_add(const char *account, const char *arn, const char *document, bool set_default, int max_versions,
                             int *version_out)
{
    struct db_statement *st = db_stmt("SELECT p.next_version, (SELECT count(*) FROM iam_policy_versions v WHERE v.policy_arn = p.arn) "
                            "FROM iam_policies p WHERE p.account_id = ?1 AND p.arn = ?2");
    int next = 0, count = 0, rc;
    int64_t now = now_ms();
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    rc = db_row(st, "policy");
    if (rc == 1) {
        next = db_col_int(st, 0);
        count = db_col_int(st, 1);
    }
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "policy '%s' does not exist", arn);
    if (rc < 0)
        return rc;
    if (count >= max_versions)
        return error_set(E_TOOBIG, "policy '%s' has %d versions already", arn, count);
    st = db_stmt("INSERT INTO iam_policy_versions(policy_arn, version, document, created_at) VALUES(?1, ?2, ?3, ?4)");
    db_bind_text(st, 1, arn);
    db_bind_int64(st, 2, next);
    db_bind_text(st, 3, document);
    db_bind_int64(st, 4, now);
    if ((rc = db_done(st, "policy version")) < 0)
        return rc;
    st = db_stmt("UPDATE iam_policies SET next_version = ?3 + 1, default_version = CASE WHEN ?4 THEN ?3 ELSE default_version END,"
              " updated_at = CASE WHEN ?4 THEN ?5 ELSE updated_at END WHERE account_id = ?1 AND arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    db_bind_int64(st, 3, next);
    db_bind_int64(st, 4, set_default);
    db_bind_int64(st, 5, now);
    if ((rc = db_done(st, "policy")) < 0)
        return rc;
    *version_out = next;
    return 0;
}

static void version_from_row(struct db_statement *st, struct iam_policy_version *v)
{
    memset(v, 0, sizeof(*v));
    v->version = db_col_int(st, 0);
    v->is_default = db_col_int(st, 1) != 0;
    v->created_ms = db_col_int64(st, 2);
    v->document = db_col_dup(st, 3);
}

int store_policy_version_get(const char *account, const char *arn, int version, struct iam_policy_version *out)
{
    struct db_statement *st = db_stmt("SELECT v.version, v.version = p.default_version, v.created_at, v.document "
                            "FROM iam_policy_versions v JOIN iam_policies p ON p.arn = v.policy_arn "
                            "WHERE p.account_id = ?1 AND p.arn = ?2 AND v.version = ?3");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    db_bind_int64(st, 3, version);
    int rc = db_row(st, "policy version");
    if (rc == 1)
        version_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "policy '%s' has no version v%d", arn, version);
    return rc < 0 ? rc : 0;
}

int store_policy_versions(const char *account, const char *arn, int (*fn)(void *ctx, const struct iam_policy_version *v),
                          void *ctx)
{
    struct db_statement *st = db_stmt("SELECT v.version, v.version = p.default_version, v.created_at, v.document "
                            "FROM iam_policy_versions v JOIN iam_policies p ON p.arn = v.policy_arn "
                            "WHERE p.account_id = ?1 AND p.arn = ?2 ORDER BY v.version DESC");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    while ((rc = db_step(st)) == DB_ROW) {
        struct iam_policy_version v;
        version_from_row(st, &v);
        int stop = fn(ctx, &v);
        iam_policy_version_release(&v);
        if (stop)
            break;
    }
    return db_end(st, rc, "policy versions");
}

int store_policy_version_delete(const char *account, const char *arn, int version)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_policy_versions WHERE version = ?3 AND policy_arn = "
                            "(SELECT arn FROM iam_policies WHERE account_id = ?1 AND arn = ?2)");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    db_bind_int64(st, 3, version);
    return changed_or_notfound(db_done(st, "policy version"), "policy version of", arn);
}

int store_policy_set_default(const char *account, const char *arn, int version)
{
    struct db_statement *st = db_stmt("UPDATE iam_policies SET default_version = ?3, updated_at = ?4 WHERE account_id = ?1 AND arn = ?2 "
                            "AND EXISTS (SELECT 1 FROM iam_policy_versions v WHERE v.policy_arn = ?2 AND v.version = ?3)");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    db_bind_int64(st, 3, version);
    db_bind_int64(st, 4, now_ms());
    return changed_or_notfound(db_done(st, "policy"), "policy version of", arn);
}

int store_policy_attachment_count(const char *account, const char *arn, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM iam_attachments WHERE account_id = ?1 AND policy_arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    return db_count(st, out, "policy attachments");
}

int store_policy_attach(const char *account, enum iam_entity kind, const char *name, const char *arn)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_attachments(account_id, entity, entity_name, policy_arn, attached_at) "
                            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, arn);
    db_bind_int64(st, 5, now_ms());
    return db_done(st, "policy attachment");
}

int store_policy_detach(const char *account, enum iam_entity kind, const char *name, const char *arn)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND policy_arn = ?4");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, arn);
    return changed_or_notfound(db_done(st, "policy attachment"), "attachment of", arn);
}

int store_attached_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                            int (*fn)(void *ctx, const char *arn), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT policy_arn FROM iam_attachments WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND policy_arn > ?4 ORDER BY policy_arn LIMIT ?5");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, after ? after : "");
    db_bind_int64(st, 5, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0)))
            break;
    return db_end(st, rc, "attached policies");
}

int store_inline_policy_put(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            const char *document)
{
    struct db_statement *st = db_stmt("INSERT INTO iam_inline_policies(account_id, entity, entity_name, name, document) "
                            "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(account_id, entity, entity_name, name) DO UPDATE SET document = excluded.document");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, policy_name);
    db_bind_text(st, 5, document);
    return db_done(st, "inline policy");
}

int store_inline_policy_get(const char *account, enum iam_entity kind, const char *name, const char *policy_name,
                            char name_out[129], char **document_out)
{
    struct db_statement *st = db_stmt("SELECT name, document FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 "
                            "AND entity_name = ?3 AND name = ?4");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, policy_name);
    int rc = db_row(st, "inline policy");
    if (rc == 1) {
        if (name_out)
            db_col_copy(name_out, 129, st, 0);
        *document_out = db_col_dup(st, 1);
    }
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "inline policy '%s' does not exist", policy_name);
    return rc < 0 ? rc : 0;
}

int store_inline_policy_delete(const char *account, enum iam_entity kind, const char *name, const char *policy_name)
{
    struct db_statement *st = db_stmt("DELETE FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 AND entity_name = ?3 "
                            "AND name = ?4");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, policy_name);
    return changed_or_notfound(db_done(st, "inline policy"), "inline policy", policy_name);
}

int store_inline_policies(const char *account, enum iam_entity kind, const char *name, const char *after, int limit,
                          int (*fn)(void *ctx, const char *policy_name, const char *document), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT name, document FROM iam_inline_policies WHERE account_id = ?1 AND entity = ?2 "
                            "AND entity_name = ?3 AND name > ?4 ORDER BY name LIMIT ?5");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, entity_name(kind));
    db_bind_text(st, 3, name);
    db_bind_text(st, 4, after ? after : "");
    db_bind_int64(st, 5, limit);
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_ztext(st, 0), db_col_ztext(st, 1)))
            break;
    return db_end(st, rc, "inline policies");
}

int store_access_keys_of(const char *account, const char *user_name, int (*fn)(void *ctx, const struct access_key *k),
                         void *ctx)
{
    struct db_statement *st = db_stmt("SELECT id, account_id, user_name, secret_enc, status, created_at FROM access_keys "
                            "WHERE account_id = ?1 AND user_name IS ?2 ORDER BY id");
    int rc;
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user_name);
    while ((rc = db_step(st)) == DB_ROW) {
        struct access_key k;
        key_from_row(st, &k);
        int stop = fn(ctx, &k);
        access_key_release(&k);
        if (stop)
            break;
    }
    return db_end(st, rc, "access keys");
}

int store_access_key_count(const char *account, const char *user_name, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM access_keys WHERE account_id = ?1 AND user_name IS ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user_name);
    return db_count(st, out, "access keys");
}

int store_access_key_set_status(const char *id, const char *status)
{
    struct db_statement *st = db_stmt("UPDATE access_keys SET status = ?2 WHERE id = ?1");
    db_bind_text(st, 1, id);
    db_bind_text(st, 2, status);
    return changed_or_notfound(db_done(st, "access key"), "access key", id);
}

int store_account_created(const char *account, int64_t *out_ms)
{
    struct db_statement *st = db_stmt("SELECT created_at FROM accounts WHERE id = ?1");
    db_bind_text(st, 1, account);
    int rc = db_row(st, "account");
    if (rc == 1)
        *out_ms = db_col_int64(st, 0);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "account '%s' does not exist", account);
    return rc < 0 ? rc : 0;
}

struct identity_row {
    char *label;
    char *document;
};

int store_identity_policies(const char *account, const char *user_name,
                            int (*fn)(void *ctx, const char *label, const char *document), void *ctx)
{
    struct identity_row *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    if (!user_name)
        return 0;
    struct db_statement *st = db_stmt(
        "SELECT 'inline:user/' || entity_name || '/' || name, document FROM iam_inline_policies "
        " WHERE account_id = ?1 AND entity = 'user' AND entity_name = ?2 "
        "UNION ALL "
        "SELECT 'inline:group/' || p.entity_name || '/' || p.name, p.document FROM iam_inline_policies p "
        " JOIN iam_group_members m ON m.account_id = p.account_id AND m.group_name = p.entity_name "
        " WHERE p.account_id = ?1 AND p.entity = 'group' AND m.user_name = ?2 "
        "UNION ALL "
        "SELECT a.policy_arn, v.document FROM (SELECT DISTINCT policy_arn FROM iam_attachments WHERE account_id = ?1 AND "
        "  ((entity = 'user' AND entity_name = ?2) OR (entity = 'group' AND entity_name IN "
        "  (SELECT group_name FROM iam_group_members WHERE account_id = ?1 AND user_name = ?2)))) a "
        " LEFT JOIN iam_policies p ON p.arn = a.policy_arn "
        " LEFT JOIN iam_policy_versions v ON v.policy_arn = p.arn AND v.version = p.default_version");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, user_name);
    while ((rc = db_step(st)) == DB_ROW) {
        const char *label = db_col_ztext(st, 0);
        const char *doc = db_col_ztext(st, 1);
        if (!label)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            rows = xrealloc(rows, cap * sizeof(*rows));
        }
        rows[n].label = xstrdup(label);
        rows[n].document = doc ? xstrdup(doc) : NULL; /* an AWS-managed ARN: the caller knows those */
        n++;
    }
    rc = db_end(st, rc, "identity policies");
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && fn(ctx, rows[i].label, rows[i].document))
            rc = 1;
        free(rows[i].label);
        free(rows[i].document);
    }
    free(rows);
    return rc < 0 ? rc : 0;
}

int store_upload_exists(const char *id)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM uploads WHERE id = ?1");
    db_bind_text(st, 1, id);
    return db_exists(st, "upload", id, "is unknown");
}

/* ---- consistency check (fsck/fsck.c): read-only iteration ----
 *
 * berth fsck reads everything below inside one read transaction, which in
 * WAL mode is a consistent snapshot while a server keeps writing. Nothing
 * here writes: the connection is opened read-only and never migrates. Each
 * iterator hands rows to fn, which returns non-zero to stop, and returns 0
 * or a database error (never 0 for a failed query). */

int store_open_readonly(const char *data_dir)
{
    int version = -1, rc;
    if ((rc = configure(data_dir)) < 0 || (rc = db_open_readonly()) < 0)
        return rc;
    if (db_is_pg()) {
        int64_t n = 0;
        rc = db_count(db_stmt("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = "
                              "'berth_schema'"),
                      &n, "schema version");
        if (rc < 0)
            return rc;
        if (n == 0)
            return error_set(E_NOTFOUND, "no berth database at '%s': it has no berth schema", db_describe());
    }
    if ((rc = schema_version(&version)) < 0)
        return rc;
    if (version < 1 || version > nmigrations())
        return error_set(E_UNSUPPORTED, "database schema version %d is not one this berth reads (1 to %d)", version,
                         nmigrations());
    return 0;
}

int store_snapshot_begin(void)
{
    /* the snapshot is taken at the first read: take it now */
    int64_t n;
    int rc = db_begin_read();
    if (rc == 0 && (rc = db_count(db_stmt("SELECT count(*) FROM accounts"), &n, "snapshot")) < 0)
        store_rollback();
    return rc;
}

void store_snapshot_end(void)
{
    store_rollback();
}

struct repositories_each {
    int (*fn)(void *ctx, int64_t id, const char *account_id, const char *name);
    void *ctx;
};

static int repositories_row(struct db_statement *st, void *ctx)
{
    struct repositories_each *e = ctx;
    return e->fn(e->ctx, db_col_int64(st, 0), db_col_text(st, 1), db_col_text(st, 2));
}

int store_repositories_each(int (*fn)(void *ctx, int64_t id, const char *account_id, const char *name), void *ctx)
{
    struct repositories_each e = {fn, ctx};
    return db_each_row(db_stmt("SELECT id, account_id, name FROM repositories ORDER BY id"), "repositories", repositories_row, &e);
}

struct digests_each {
    int (*fn)(void *ctx, int64_t repo_id, const char *digest);
    void *ctx;
};

static int digests_row(struct db_statement *st, void *ctx)
{
    struct digests_each *e = ctx;
    return e->fn(e->ctx, db_col_int64(st, 0), db_col_text(st, 1));
}

int store_manifests_each(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct digests_each e = {fn, ctx};
    return db_each_row(db_stmt("SELECT repo_id, digest FROM manifests ORDER BY repo_id, digest"), "manifests", digests_row, &e);
}

int store_blob_repositories(const char *digest, int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx)
{
    struct digests_each e = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT repo_id, digest FROM repo_blobs WHERE digest = ?1 ORDER BY repo_id");
    db_bind_text(st, 1, digest);
    return db_each_row(st, "blob links", digests_row, &e);
}

struct references_each {
    int (*fn)(void *ctx, const struct store_reference *r);
    void *ctx;
};

static int references_row(struct db_statement *st, void *ctx)
{
    struct references_each *e = ctx;
    struct store_reference r = {
        .repo_id = db_col_int64(st, 0),
        .manifest = db_col_text(st, 1),
        .target = db_col_text(st, 2),
        .is_manifest = db_col_int(st, 3) != 0,
        .target_exists = db_col_int(st, 4) != 0,
        .target_linked = db_col_int(st, 5) != 0,
    };
    return e->fn(e->ctx, &r);
}

int store_references_each(int (*fn)(void *ctx, const struct store_reference *r), void *ctx)
{
    struct references_each e = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT m.repo_id, m.manifest_digest, m.blob_digest, 0,"
                            "  CAST(EXISTS (SELECT 1 FROM blobs b WHERE b.digest = m.blob_digest) AS INTEGER),"
                            "  CAST(EXISTS (SELECT 1 FROM repo_blobs r WHERE r.repo_id = m.repo_id AND r.digest = m.blob_digest)"
                            "  AS INTEGER)"
                            " FROM manifest_blobs m "
                            "UNION ALL "
                            "SELECT c.repo_id, c.parent_digest, c.child_digest, 1,"
                            "  CAST(EXISTS (SELECT 1 FROM manifests x WHERE x.repo_id = c.repo_id AND x.digest = c.child_digest) AS INTEGER), 1"
                            " FROM manifest_refs c "
                            "ORDER BY 1, 2, 3");
    return db_each_row(st, "manifest references", references_row, &e);
}

struct tags_each {
    int (*fn)(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists);
    void *ctx;
};

static int tags_row(struct db_statement *st, void *ctx)
{
    struct tags_each *e = ctx;
    return e->fn(e->ctx, db_col_int64(st, 0), db_col_text(st, 1), db_col_text(st, 2), db_col_int(st, 3) != 0);
}

int store_all_tags_each(int (*fn)(void *ctx, int64_t repo_id, const char *tag, const char *digest, bool manifest_exists), void *ctx)
{
    struct tags_each e = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT t.repo_id, t.name, t.digest,"
                            "  EXISTS (SELECT 1 FROM manifests m WHERE m.repo_id = t.repo_id AND m.digest = t.digest)"
                            " FROM tags t ORDER BY t.repo_id, t.name");
    return db_each_row(st, "tags", tags_row, &e);
}

struct blobs_each {
    int (*fn)(void *ctx, const char *digest, uint64_t size);
    void *ctx;
};

static int blobs_row(struct db_statement *st, void *ctx)
{
    struct blobs_each *e = ctx;
    return e->fn(e->ctx, db_col_text(st, 0), (uint64_t)db_col_int64(st, 1));
}

int store_blobs_each(int (*fn)(void *ctx, const char *digest, uint64_t size), void *ctx)
{
    struct blobs_each e = {fn, ctx};
    return db_each_row(db_stmt("SELECT digest, size FROM blobs ORDER BY digest"), "blobs", blobs_row, &e);
}

struct uploads_each {
    int (*fn)(void *ctx, const char *id, int64_t repo_id);
    void *ctx;
};

static int uploads_row(struct db_statement *st, void *ctx)
{
    struct uploads_each *e = ctx;
    return e->fn(e->ctx, db_col_text(st, 0), db_col_int64(st, 1));
}

int store_uploads_each(int (*fn)(void *ctx, const char *id, int64_t repo_id), void *ctx)
{
    struct uploads_each e = {fn, ctx};
    return db_each_row(db_stmt("SELECT id, repo_id FROM uploads ORDER BY id"), "uploads", uploads_row, &e);
}
