/*
 * The rows of lifecycle policies (lifecycle/ is the logic; these are its
 * statements): a repository's policy text and when it last ran, the one
 * preview a repository has and its results, the images of a repository as
 * the evaluator needs them (read in three bulk queries, not one per
 * image), and the history of what policies did. Times are milliseconds
 * since the epoch.
 */
#ifndef BERTH_STORE_LIFECYCLE_H
#define BERTH_STORE_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

/* The repository's policy (*text_out, caller frees) and when it last ran
 * (*evaluated_out, 0 never; may be NULL). E_NOTFOUND when it has none. */
int store_lifecycle_policy_get(int64_t repo_id, char **text_out, int64_t *evaluated_out);
int store_lifecycle_policy_put(int64_t repo_id, const char *text);
/* E_NOTFOUND when the repository has no policy. */
int store_lifecycle_policy_delete(int64_t repo_id);
int store_lifecycle_evaluated(int64_t repo_id, int64_t ms);
/* The repositories that have a policy, by id. */
int store_lifecycle_repos(int (*fn)(void *ctx, int64_t repo_id), void *ctx);

/* The images of a repository: manifests in digest order; then tags and
 * index links (parent lists child) in any order. */
int store_lifecycle_manifests(int64_t repo_id,
                              int (*fn)(void *ctx, const char *digest, int64_t pushed_ms, int64_t last_pull_ms,
                                        const char *subject),
                              void *ctx);
int store_lifecycle_tags(int64_t repo_id, int (*fn)(void *ctx, const char *digest, const char *tag), void *ctx);
int store_lifecycle_links(int64_t repo_id, int (*fn)(void *ctx, const char *parent, const char *child), void *ctx);

struct lifecycle_preview {
    char *policy;
    char status[16]; /* IN_PROGRESS, COMPLETE, FAILED */
    int64_t started_ms;
    char *error; /* FAILED: why; else NULL */
    int64_t expiring, transitioning;
};
void lifecycle_preview_release(struct lifecycle_preview *p);
/* Starts a repository's preview anew (its old results go). */
int store_lifecycle_preview_start(int64_t repo_id, const char *policy, int64_t ms);
/* E_NOTFOUND when the repository has none. */
int store_lifecycle_preview_get(int64_t repo_id, struct lifecycle_preview *out);

struct lifecycle_result {
    int64_t seq;
    const char *digest;
    const char *tags_json; /* JSON array of strings */
    bool tagged;
    int64_t pushed_ms;
    const char *action; /* EXPIRE | TRANSITION */
    int64_t priority;
    const char *storage_class; /* STANDARD | ARCHIVE */
};
int store_lifecycle_preview_add(int64_t repo_id, const struct lifecycle_result *r);
/* Ends the preview: status COMPLETE or FAILED (error says why). */
int store_lifecycle_preview_finish(int64_t repo_id, const char *status, const char *error, int64_t expiring,
                                   int64_t transitioning, int64_t ms);
/* Results after seq `after`, at most limit; tagged: 1 tagged only, 0
 * untagged only, -1 all; digest (may be NULL) picks one image. */
int store_lifecycle_preview_results(int64_t repo_id, int64_t after, int limit, int tagged, const char *digest,
                                    int (*fn)(void *ctx, const struct lifecycle_result *r), void *ctx);

struct lifecycle_event {
    int64_t id;
    const char *account_id, *repository, *digest, *tags_json, *action, *outcome;
    int64_t priority;
    int64_t at_ms;
};
int store_lifecycle_history_add(const struct lifecycle_event *e);
/* Oldest first; account and repository (each may be NULL) narrow it. */
int store_lifecycle_history(const char *account_id, const char *repository,
                            int (*fn)(void *ctx, const struct lifecycle_event *e), void *ctx);

#endif
