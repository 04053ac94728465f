/*
 * Events (EventBridge's role): ECR's events, in the shapes Amazon ECR sends
 * to EventBridge, written to a durable outbox in the store and delivered to
 * the webhooks an operator configured (`berth admin webhook ...`).
 *
 * Event shapes (envelope: version "0", id, detail-type, source "aws.ecr",
 * account, time, region, resources [the repository ARN], detail):
 *
 *   "ECR Image Action"     a push or a delete: result SUCCESS or FAILURE,
 *                          repository-name, image-digest, action-type
 *                          PUSH or DELETE, image-tag (when there is one),
 *                          manifest-media-type and artifact-media-type on a push
 *   "ECR Image Scan"       a basic scan ended: scan-status, repository-name,
 *                          finding-severity-counts, image-digest, image-tags
 *   "ECR Lifecycle Action" a lifecycle policy expired (or archived) an image:
 *                          action-type EXPIRE (TRANSITION), image-action-type,
 *                          repository-name, image-digest, image-tags
 *
 * An event is written in the transaction of the change it reports where
 * there is one (the *_locked functions), so a committed change always has
 * its event and a rolled-back one never does; otherwise right after it.
 * Each event gets a pending delivery for every webhook whose filter takes
 * it (one that none takes is not kept), and a "webhook" job per (webhook,
 * stream) delivers them in order (events/deliver.c).
 */
#ifndef BERTH_EVENTS_EVENTS_H
#define BERTH_EVENTS_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct repo;
struct config;

/* ---- emitting ---- */

/* "ECR Image Action" inside the caller's transaction. action "PUSH" or
 * "DELETE", result "SUCCESS" or "FAILURE"; tag and the media types may
 * be NULL. */
int events_image_action_locked(const struct repo *repo, const char *action, const char *result, const char *digest,
                               const char *tag, const char *manifest_media_type, const char *artifact_media_type);
/* The same in a transaction of its own (a refused push has none). */
int events_image_action(const struct repo *repo, const char *action, const char *result, const char *digest,
                        const char *tag);
/* "ECR Image Scan" for the scan of digest as the store has it now (its
 * status, counts and the image's tags), in a transaction of its own. */
int events_image_scan(const struct repo *repo, const char *digest);
/* "ECR Lifecycle Action" inside the caller's transaction; action "EXPIRE"
 * or "TRANSITION"; tags_json a JSON array of the image's tags. */
int events_lifecycle_locked(const struct repo *repo, const char *action, const char *digest, const char *tags_json);

/* After the transaction that emitted events committed: wakes the job
 * workers that deliver them (nothing when none was emitted). After a
 * rollback: forgets that some were. */
void events_committed(void);
void events_rolled_back(void);

/* ---- webhooks ---- */

/* A filter is "" (every event) or comma-separated conditions, all of which
 * must hold: detail-type=<value> or repository-name=<value>, a value
 * matching exactly or, ending in '*', as a prefix. E_INVALID (detail says
 * why) otherwise. */
int events_filter_check(const char *filter);
bool events_filter_match(const char *filter, const char *detail_type, const char *repository);

/* ---- delivery ---- */

struct events_options {
    int64_t backoff_base_ms; /* the first retry waits this long; each next one twice as long */
    int64_t backoff_max_ms;  /* ... up to this */
    int max_attempts;        /* then the delivery is given up (failed) */
    int64_t connect_timeout_ms;
    int64_t timeout_ms;      /* the whole request */
    int64_t retention_ms;    /* finished deliveries and their events are kept this long */
};
/* Registers the delivery and prune jobs (before jobs_start()) and makes
 * sure every stream with pending deliveries has its job. */
int events_start(const struct events_options *o);

/* `berth admin webhook ...`: argv[3] is the subcommand. Returns the exit
 * status. */
int events_admin(int argc, char **argv);

#endif
