/*
 * Running lifecycle policies against repositories: reading a repository's
 * images from the store, evaluating its policy (lifecycle.h), acting
 * through the image service (an expiry is image_delete(), as
 * BatchDeleteImage deletes an image by digest), and recording every action
 * in the history. Runs are background jobs of the durable queue: kind
 * "lifecycle" (one periodic job per repository with a policy, key = the
 * repository id) and "lifecycle-preview" (one job per preview started).
 */
#ifndef BERTH_LIFECYCLE_RUN_H
#define BERTH_LIFECYCLE_RUN_H

#include <stdint.h>

#include "store/lifecycle.h"
#include "store/store.h"

#define LIFECYCLE_JOB "lifecycle"
#define LIFECYCLE_PREVIEW_JOB "lifecycle-preview"

/* Sets how often each repository's policy runs (ms) and registers the two
 * job kinds' handlers (call before jobs_start()). */
int lifecycle_start(int64_t interval_ms);
int64_t lifecycle_interval_ms(void);

/* Schedules (or keeps) the periodic run of a repository's policy, first
 * one interval from now; lifecycle_unschedule() removes it. Both run in the
 * caller's transaction when one is open. */
int lifecycle_schedule(int64_t repo_id);
int lifecycle_unschedule(int64_t repo_id);

/* Called with each action a run takes, after it is recorded. */
typedef void (*lifecycle_report)(void *ctx, const struct lifecycle_event *e);

/* Runs the repository's policy at now_ms. *acted_out (may be NULL) counts
 * the actions. E_NOTFOUND when the repository has no policy. */
int lifecycle_run(const struct repo *repo, int64_t now_ms, lifecycle_report fn, void *ctx, int *acted_out);

/* Evaluates policy text (NULL: the repository's policy) over the
 * repository's images at now_ms without acting: *acted_out gets how many
 * images it would act on. For benchmarks and tests. */
int lifecycle_evaluate(int64_t repo_id, const char *text, int64_t now_ms, size_t *acted_out);

/* Computes the repository's pending preview (store_lifecycle_preview_*)
 * and marks it COMPLETE, or FAILED with the reason. */
int lifecycle_preview_run(int64_t repo_id, int64_t now_ms);

#endif
