/*
 * Which images are scanned, and when: the registry's scanning
 * configuration (ECR's PutRegistryScanningConfiguration) and each
 * repository's scanOnPush, and asking for a scan, which puts a "scan" job
 * on the durable queue (jobs/jobs.h). The scan itself (reading layers,
 * matching packages) is scan/'s, which registers the job's handler.
 *
 * Precedence: a registry configuration with at least one rule decides for
 * every repository: a repository that a CONTINUOUS_SCAN rule's filter
 * matches is scanned on push and again whenever the vulnerability data
 * changes; one that a SCAN_ON_PUSH rule's filter matches is scanned on
 * push; the others are scanned only when asked (MANUAL). Where both kinds
 * of rule match, CONTINUOUS_SCAN wins, as ECR documents for its filters.
 * Without registry rules, the repository's own scanOnPush decides
 * (SCAN_ON_PUSH or MANUAL). Filters match as ECR's: a filter without `*`
 * matches every name that contains it; with `*`, the whole name must match
 * with each `*` standing for any characters.
 */
#ifndef BERTH_IMAGE_SCANNING_H
#define BERTH_IMAGE_SCANNING_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

enum scan_frequency { SCAN_MANUAL, SCAN_ON_PUSH, SCAN_CONTINUOUS };
extern const char *const scan_frequency_names[3]; /* MANUAL, SCAN_ON_PUSH, CONTINUOUS_SCAN */

/* One basic scan per image per this much time, counting scans on push. */
#define SCAN_INTERVAL_MS ((int64_t)24 * 3600 * 1000)
/* The job kind scan/ handles; its key is "<repository id>:<digest>". */
#define SCAN_JOB "scan"
/* The job that matches every stored inventory again (key "all"). */
#define RESCAN_JOB "rescan"

/* The account's registry scanning configuration as ECR shows it
 * ({"scanType":"BASIC","rules":[...]}; no rules when never set). */
int image_scanning_config_get(const char *account, json_t **out);
/* Replaces it. E_UNSUPPORTED for scanType ENHANCED (Amazon Inspector);
 * E_INVALID (detail says why) for a rule berth cannot take. */
int image_scanning_config_put(const char *account, const char *scan_type, json_t *rules);

/* Does filter (ECR's wildcard filter) match the repository name? */
bool image_scan_filter_match(const char *filter, const char *name);

/* How the repository's images are scanned, and the filters that made it
 * so (*applied_out, may be NULL; an empty array when the repository's own
 * setting decided). */
int image_scan_frequency(const struct repo *repo, enum scan_frequency *out, json_t **applied_out);

/* Is the stored manifest an image berth can scan? E_UNSUPPORTED (detail
 * says why) for an index, an artifact or an image without layers. */
int image_scannable(const struct manifest *m);

/* Asks for a scan of the image digest of repo: E_NOTFOUND when there is no
 * such image, E_UNSUPPORTED when it cannot be scanned, E_DENIED when it
 * is archived (or being restored), E_TOOBIG when it was scanned less than
 * SCAN_INTERVAL_MS ago. */
int image_scan_start(const struct repo *repo, const char *digest);

/* Within image_put's transaction: when the repository scans on push and
 * the new manifest is an image, records the scan as asked for and queues
 * it, so that a crash after the push's commit loses no scan. Returns
 * whether a job was queued (the caller wakes the workers after its
 * commit, jobs_kick()) or a negative E_*. */
int image_scan_on_push_locked(const struct repo *repo, const struct manifest *m);

/* Queues a new matching of every stored inventory (after the
 * vulnerability data changed). */
int image_rescan_all(void);

#endif
