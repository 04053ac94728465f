/*
 * The store's image records beyond store.h's manifests: storage status
 * (the archive storage class), the stored aggregates that keep listing
 * fast at any repository size (a manifest's tag count, an index's size,
 * a referrer's annotations), filtered pages served by indexes, batched
 * pull-time writes and the registry's pull-time update exclusions.
 * Conventions are store.h's: 0 or a negative E_*, E_NOTFOUND only when
 * the query ran and found nothing; fn returns non-zero to stop.
 */
#ifndef BERTH_STORE_IMAGES_EXT_H
#define BERTH_STORE_IMAGES_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ECR's ImageStatus; the stored text is its name. */
enum image_status { IMAGE_ACTIVE, IMAGE_ARCHIVED, IMAGE_ACTIVATING };
/* A status filter that selects every status. */
#define IMAGE_STATUS_ANY (-1)
const char *image_status_name(enum image_status s);
/* The status named z (ACTIVE, ARCHIVED, ACTIVATING, or ANY: IMAGE_STATUS_ANY);
 * E_INVALID for anything else. */
int image_status_parse(const char *z, int *out);

/* A manifest (without its body) with what the listings show of it. */
struct image_record {
    struct manifest m;
    enum image_status status;
    int64_t archived_ms;  /* last moved to the archive; 0: never */
    int64_t activated_ms; /* last restored from it; 0: never */
    int64_t tag_count;
    char *annotations; /* a referrer's annotations (JSON object), or NULL */
    char *tags;        /* its tags in name order, comma-separated (tags have no commas); NULL when none */
};
void image_record_release(struct image_record *r);

enum tag_filter { TAGS_ANY, TAGS_TAGGED, TAGS_UNTAGGED };

int store_image_get(int64_t repo_id, const char *digest, struct image_record *out);
/* The images of a repository that pass the filters (status: an enum
 * image_status or IMAGE_STATUS_ANY), in digest order after `after` (NULL:
 * from the start), at most limit; each page is one indexed range scan. */
int store_images_page(int64_t repo_id, enum tag_filter tags, int status, const char *after, int limit,
                      int (*fn)(void *ctx, const struct image_record *r), void *ctx);
/* (tag, digest) pairs of the images with the status, in tag order. */
int store_tagged_page(int64_t repo_id, int status, const char *after, int limit,
                      int (*fn)(void *ctx, const char *tag, const char *digest), void *ctx);
/* Manifests whose subject is subject, with the status, in digest order. */
int store_referrers_page(int64_t repo_id, const char *subject, int status, const char *after, int limit,
                         int (*fn)(void *ctx, const struct image_record *r), void *ctx);

/* Moves the image from status `from` to `to` at ms (archived_at when to is
 * ARCHIVED, activated_at when it is ACTIVE). E_NOTFOUND when the image is
 * not there or not in `from`. */
int store_image_set_status(int64_t repo_id, const char *digest, enum image_status from, enum image_status to, int64_t ms);
/* The largest image_size among the child manifests an index lists (0 when
 * none); for the index's own image_size, computed when it is put. */
int store_index_image_size(int64_t repo_id, const struct manifest_ref *refs, size_t nrefs, uint64_t *out);
/* Keeps a referrer's annotations (JSON object text) with its record. */
int store_image_set_annotations(int64_t repo_id, const char *digest, const char *annotations);

/* ---- pull times ---- */
struct pull_time {
    int64_t repo_id;
    char digest[DIGEST_MAX];
    int64_t ms;
};
/* Writes pull times, in one transaction (on PostgreSQL one per
 * repository); a recorded time never goes back. On failure some may be
 * written: writing them again changes nothing. */
int store_pull_times_write(const struct pull_time *v, size_t n);

/* ---- pull-time update exclusions (per registry) ---- */
/* E_EXISTS when the principal is excluded already. */
int store_pull_exclusion_add(const char *account, const char *arn, int64_t ms);
int store_pull_exclusion_delete(const char *account, const char *arn);
/* 0 when arn is excluded, E_NOTFOUND when not. */
int store_pull_exclusion_exists(const char *account, const char *arn);
int store_pull_exclusion_count(const char *account, int64_t *out);
int store_pull_exclusions_list(const char *account, const char *after, int limit,
                               int (*fn)(void *ctx, const char *arn, int64_t created_ms), void *ctx);

#endif
