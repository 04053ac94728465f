/*
 * Image scans: one row per image (repository, manifest digest) with its
 * status, its severity counts, the package inventory the scan read from
 * its layers (so a vulnerability database update can match again without
 * reading layers), and its findings, each a JSON object as ECR's
 * ImageScanFinding. Rows go with their image (a trigger on manifests)
 * and their repository.
 */
#ifndef BERTH_STORE_SCANS_H
#define BERTH_STORE_SCANS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/digest.h"

/* ECR's FindingSeverity values, in the order counts are kept. */
enum scan_severity { SEV_INFORMATIONAL, SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL, SEV_UNDEFINED, SEV_COUNT };
extern const char *const scan_severity_names[SEV_COUNT];
/* SEV_COUNT when name is not one. */
enum scan_severity scan_severity_of(const char *name);

struct scan_record {
    int64_t repo_id;
    char digest[DIGEST_MAX];
    char status[32];       /* IN_PROGRESS, COMPLETE, FAILED, UNSUPPORTED_IMAGE */
    char *description;     /* NULL when none */
    int64_t requested_at;  /* the last scan asked for (push or StartImageScan) */
    int64_t completed_at;  /* 0 until one completes */
    int64_t source_updated_at; /* the vulnerability data the findings come from */
    int64_t counts[SEV_COUNT];
    int64_t findings;      /* how many */
};
void scan_record_release(struct scan_record *s);

/* E_NOTFOUND when the image was never scanned. */
int store_scan_get(int64_t repo_id, const char *digest, struct scan_record *out);
/* Marks the image IN_PROGRESS as asked for at now. When a scan was asked
 * for less than min_interval_ms before now, nothing changes and the
 * answer is E_TOOBIG (one scan per image per interval). */
int store_scan_request(int64_t repo_id, const char *digest, int64_t now, int64_t min_interval_ms);
/* Ends a scan that could not run: status (FAILED, UNSUPPORTED_IMAGE) and why. */
int store_scan_fail(int64_t repo_id, const char *digest, const char *status, const char *description, int64_t now);
/* Keeps the inventory (JSON) read from the image's layers. */
int store_scan_inventory_put(int64_t repo_id, const char *digest, const char *inventory);
/* The inventory; *out is NULL when the image has none yet. */
int store_scan_inventory_get(int64_t repo_id, const char *digest, char **out);
/* Completes a scan: replaces its findings (JSON objects, most severe
 * first) and counts, status COMPLETE, in one transaction (the caller's
 * when one is open). */
int store_scan_complete(int64_t repo_id, const char *digest, int64_t completed_at, int64_t source_updated_at,
                        const int64_t counts[SEV_COUNT], char *const *findings, int64_t n);
/* The findings after position `after` (0: from the first), at most limit,
 * in their order; fn gets each one's position and JSON. */
int store_scan_findings(int64_t repo_id, const char *digest, int64_t after, int limit,
                        int (*fn)(void *ctx, int64_t pos, const char *finding), void *ctx);
/* Calls fn with every image that has an inventory (read first, so fn may
 * write); fn returns non-zero to stop. */
int store_scans_with_inventory(int (*fn)(void *ctx, int64_t repo_id, const char *digest), void *ctx);

#endif
