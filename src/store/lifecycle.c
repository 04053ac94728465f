/*
 * This module implements the lifecycle rows of store/lifecycle.h on
 * SQLite. The policy text lives in the repository's row (its
 * lifecycle_policy column, beside lifecycle_evaluated_at); a preview is one
 * row per repository with its results numbered in the order the evaluator
 * gave them, so that a page is a range of seq; the history names the
 * repository by account and name, so it outlives the repository.
 */
#include "store/lifecycle.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/internal.h"

int store_lifecycle_policy_get(int64_t repo_id, char **text_out, int64_t *evaluated_out)
{
    struct db_statement *st = db_stmt("SELECT lifecycle_policy, coalesce(lifecycle_evaluated_at, 0) FROM repositories"
                               " WHERE id = ?1 AND lifecycle_policy IS NOT NULL");
    db_bind_int64(st, 1, repo_id);
    int rc = db_row(st, "lifecycle policy");
    if (rc == 1) {
        *text_out = db_col_dup(st, 0);
        if (evaluated_out)
            *evaluated_out = db_col_int64(st, 1);
    }
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "the repository has no lifecycle policy");
    return rc < 0 ? rc : 0;
}

int store_lifecycle_policy_put(int64_t repo_id, const char *text)
{
    struct db_statement *st = db_stmt("UPDATE repositories SET lifecycle_policy = ?2 WHERE id = ?1");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, text);
    return db_done(st, "lifecycle policy");
}

int store_lifecycle_policy_delete(int64_t repo_id)
{
    struct db_statement *st = db_stmt("UPDATE repositories SET lifecycle_policy = NULL, lifecycle_evaluated_at = NULL"
                               " WHERE id = ?1 AND lifecycle_policy IS NOT NULL");
    db_bind_int64(st, 1, repo_id);
    int rc = db_done(st, "lifecycle policy");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "the repository has no lifecycle policy");
    return rc;
}

int store_lifecycle_evaluated(int64_t repo_id, int64_t ms)
{
    struct db_statement *st = db_stmt("UPDATE repositories SET lifecycle_evaluated_at = ?2 WHERE id = ?1");
    db_bind_int64(st, 1, repo_id);
    db_bind_int64(st, 2, ms);
    return db_done(st, "lifecycle policy");
}

struct id_fn {
    int (*fn)(void *ctx, int64_t id);
    void *ctx;
};

static int id_row(struct db_statement *st, void *ctx)
{
    struct id_fn *f = ctx;
    return f->fn(f->ctx, db_col_int64(st, 0));
}

int store_lifecycle_repos(int (*fn)(void *ctx, int64_t repo_id), void *ctx)
{
    struct id_fn f = {fn, ctx};
    return db_each_row(db_stmt("SELECT id FROM repositories WHERE lifecycle_policy IS NOT NULL ORDER BY id"),
                       "repositories", id_row, &f);
}

struct manifest_fn {
    int (*fn)(void *ctx, const struct lifecycle_manifest *m);
    void *ctx;
};

static int manifest_row(struct db_statement *st, void *ctx)
{
    struct manifest_fn *f = ctx;
    struct lifecycle_manifest m = {
        .digest = db_col_text(st, 0),
        .pushed_ms = db_col_int64(st, 1),
        .last_pull_ms = db_col_int64(st, 2),
        .subject = db_col_is_null(st, 3) ? NULL : db_col_text(st, 3),
        .status = db_col_text(st, 4),
        .archived_ms = db_col_int64(st, 5),
        .activated_ms = db_col_int64(st, 6),
    };
    return f->fn(f->ctx, &m);
}

int store_lifecycle_manifests(int64_t repo_id, int (*fn)(void *ctx, const struct lifecycle_manifest *m), void *ctx)
{
    struct manifest_fn f = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT digest, pushed_at, coalesce(last_pull, 0), subject, status,"
                               " coalesce(archived_at, 0), coalesce(activated_at, 0) FROM manifests"
                               " WHERE repo_id = ?1 ORDER BY digest");
    db_bind_int64(st, 1, repo_id);
    return db_each_row(st, "manifests", manifest_row, &f);
}

struct pair_fn {
    int (*fn)(void *ctx, const char *a, const char *b);
    void *ctx;
};

static int pair_row(struct db_statement *st, void *ctx)
{
    struct pair_fn *f = ctx;
    return f->fn(f->ctx, db_col_text(st, 0), db_col_text(st, 1));
}

int store_lifecycle_tags(int64_t repo_id, int (*fn)(void *ctx, const char *digest, const char *tag), void *ctx)
{
    struct pair_fn f = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT digest, name FROM tags WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    return db_each_row(st, "tags", pair_row, &f);
}

int store_lifecycle_links(int64_t repo_id, int (*fn)(void *ctx, const char *parent, const char *child), void *ctx)
{
    struct pair_fn f = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT parent_digest, child_digest FROM manifest_refs WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    return db_each_row(st, "manifest links", pair_row, &f);
}

void lifecycle_preview_release(struct lifecycle_preview *p)
{
    free(p->policy);
    free(p->error);
    p->policy = p->error = NULL;
}

int store_lifecycle_preview_start(int64_t repo_id, const char *policy, int64_t ms)
{
    struct db_statement *st = db_stmt("DELETE FROM lifecycle_preview_results WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    int rc = db_done(st, "lifecycle preview");
    if (rc < 0)
        return rc;
    st = db_stmt("INSERT INTO lifecycle_previews(repo_id, policy, status, started_at) VALUES(?1, ?2, 'IN_PROGRESS', ?3)"
                 " ON CONFLICT(repo_id) DO UPDATE SET policy = excluded.policy, status = excluded.status,"
                 " started_at = excluded.started_at, finished_at = NULL, error = NULL, expiring = 0, transitioning = 0");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, policy);
    db_bind_int64(st, 3, ms);
    return db_done(st, "lifecycle preview");
}

int store_lifecycle_preview_get(int64_t repo_id, struct lifecycle_preview *out)
{
    struct db_statement *st = db_stmt("SELECT policy, status, started_at, error, expiring, transitioning"
                               " FROM lifecycle_previews WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    int rc = db_row(st, "lifecycle preview");
    if (rc == 1) {
        out->policy = db_col_dup(st, 0);
        db_col_copy(out->status, sizeof(out->status), st, 1);
        out->started_ms = db_col_int64(st, 2);
        out->error = db_col_dup(st, 3);
        out->expiring = db_col_int64(st, 4);
        out->transitioning = db_col_int64(st, 5);
    }
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "the repository has no lifecycle policy preview");
    return rc < 0 ? rc : 0;
}

int store_lifecycle_preview_add(int64_t repo_id, const struct lifecycle_result *r)
{
    struct db_statement *st = db_stmt("INSERT INTO lifecycle_preview_results(repo_id, seq, digest, tags, tagged, pushed_at,"
                               " action, priority, storage_class) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    db_bind_int64(st, 1, repo_id);
    db_bind_int64(st, 2, r->seq);
    db_bind_text(st, 3, r->digest);
    db_bind_text(st, 4, r->tags_json);
    db_bind_int64(st, 5, r->tagged);
    db_bind_int64(st, 6, r->pushed_ms);
    db_bind_text(st, 7, r->action);
    db_bind_int64(st, 8, r->priority);
    db_bind_text(st, 9, r->storage_class);
    return db_done(st, "lifecycle preview result");
}

int store_lifecycle_preview_finish(int64_t repo_id, const char *status, const char *error, int64_t expiring,
                                   int64_t transitioning, int64_t ms)
{
    struct db_statement *st = db_stmt("UPDATE lifecycle_previews SET status = ?2, error = ?3, expiring = ?4,"
                               " transitioning = ?5, finished_at = ?6 WHERE repo_id = ?1");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, status);
    db_bind_text(st, 3, error);
    db_bind_int64(st, 4, expiring);
    db_bind_int64(st, 5, transitioning);
    db_bind_int64(st, 6, ms);
    return db_done(st, "lifecycle preview");
}

struct result_fn {
    int (*fn)(void *ctx, const struct lifecycle_result *r);
    void *ctx;
};

static int result_row(struct db_statement *st, void *ctx)
{
    struct result_fn *f = ctx;
    struct lifecycle_result r = {
        .seq = db_col_int64(st, 0),
        .digest = db_col_text(st, 1),
        .tags_json = db_col_text(st, 2),
        .tagged = db_col_int(st, 3) != 0,
        .pushed_ms = db_col_int64(st, 4),
        .action = db_col_text(st, 5),
        .priority = db_col_int64(st, 6),
        .storage_class = db_col_text(st, 7),
    };
    return f->fn(f->ctx, &r);
}

int store_lifecycle_preview_results(int64_t repo_id, int64_t after, int limit, int tagged, const char *digest,
                                    int (*fn)(void *ctx, const struct lifecycle_result *r), void *ctx)
{
    struct result_fn f = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT seq, digest, tags, tagged, pushed_at, action, priority, storage_class"
                               " FROM lifecycle_preview_results WHERE repo_id = ?1 AND seq > ?2"
                               " AND (?4 < 0 OR tagged = ?4) AND (CAST(?5 AS TEXT) IS NULL OR digest = ?5) ORDER BY seq LIMIT ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_int64(st, 2, after);
    db_bind_int64(st, 3, limit);
    db_bind_int64(st, 4, tagged);
    db_bind_text(st, 5, digest);
    return db_each_row(st, "lifecycle preview results", result_row, &f);
}

int store_lifecycle_history_add(const struct lifecycle_event *e)
{
    struct db_statement *st = db_stmt("INSERT INTO lifecycle_history(account_id, repository, digest, tags, priority, action,"
                               " outcome, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    db_bind_text(st, 1, e->account_id);
    db_bind_text(st, 2, e->repository);
    db_bind_text(st, 3, e->digest);
    db_bind_text(st, 4, e->tags_json);
    db_bind_int64(st, 5, e->priority);
    db_bind_text(st, 6, e->action);
    db_bind_text(st, 7, e->outcome);
    db_bind_int64(st, 8, e->at_ms);
    return db_done(st, "lifecycle history");
}

struct event_fn {
    int (*fn)(void *ctx, const struct lifecycle_event *e);
    void *ctx;
};

static int event_row(struct db_statement *st, void *ctx)
{
    struct event_fn *f = ctx;
    struct lifecycle_event e = {
        .id = db_col_int64(st, 0),
        .account_id = db_col_text(st, 1),
        .repository = db_col_text(st, 2),
        .digest = db_col_text(st, 3),
        .tags_json = db_col_text(st, 4),
        .priority = db_col_int64(st, 5),
        .action = db_col_text(st, 6),
        .outcome = db_col_text(st, 7),
        .at_ms = db_col_int64(st, 8),
    };
    return f->fn(f->ctx, &e);
}

int store_lifecycle_history(const char *account_id, const char *repository,
                            int (*fn)(void *ctx, const struct lifecycle_event *e), void *ctx)
{
    struct event_fn f = {fn, ctx};
    struct db_statement *st = db_stmt("SELECT id, account_id, repository, digest, tags, priority, action, outcome, at"
                               " FROM lifecycle_history WHERE (CAST(?1 AS TEXT) IS NULL OR account_id = ?1)"
                               " AND (CAST(?2 AS TEXT) IS NULL OR repository = ?2) ORDER BY id");
    db_bind_text(st, 1, account_id);
    db_bind_text(st, 2, repository);
    return db_each_row(st, "lifecycle history", event_row, &f);
}
