/*
 * This module implements store/images_ext.h on SQLite: image status and
 * its times, the filtered pages of ListImages, DescribeImages and
 * ListImageReferrers, batched pull-time writes and pull-time update
 * exclusions.
 *
 * Every page is one range scan of an index (migration 5 makes them): the
 * tag filter reads tag_count, which triggers on tags keep, instead of
 * asking the tags table about each manifest; the status filter reads the
 * status column. So a page costs the same on a repository of 100 images
 * and of 100,000, whatever the filters select.
 */
#include "store/images_ext.h"
#include "store/internal.h"
#include "store/locks.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static const char *const status_names[] = {"ACTIVE", "ARCHIVED", "ACTIVATING"};

const char *image_status_name(enum image_status s)
{
    return status_names[s];
}

int image_status_parse(const char *z, int *out)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(z, status_names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    if (strcmp(z, "ANY") == 0) {
        *out = IMAGE_STATUS_ANY;
        return 0;
    }
    return error_set(E_INVALID, "image status '%s' is not one of ACTIVE, ARCHIVED, ACTIVATING, ANY", z);
}

int store_status_from_text(const char *z)
{
    int s;
    return image_status_parse(z, &s) == 0 && s >= 0 ? (enum image_status)s : IMAGE_ACTIVE;
}

void image_record_release(struct image_record *r)
{
    manifest_release(&r->m);
    free(r->annotations);
    free(r->tags);
    memset(r, 0, sizeof(*r));
}

/* The tags come with the row (a lookup in tags' primary key per image, inside the same statement),
 * so a page of 100 images is one statement, not 101. */
#define RECORD_COLUMNS                                                                                                     \
    MANIFEST_COLUMNS ", archived_at, activated_at, tag_count, annotations, CASE WHEN tag_count > 0 THEN "          \
                     "(SELECT group_concat(name, ',') FROM (SELECT name FROM tags t WHERE t.repo_id = manifests.repo_id "  \
                     "AND t.digest = manifests.digest ORDER BY name) AS n) END"

static void record_from_row(struct db_statement *st, struct image_record *r)
{
    manifest_from_row(st, &r->m, false);
    r->status = (enum image_status)r->m.status;
    r->archived_ms = db_col_int64(st, 10);
    r->activated_ms = db_col_int64(st, 11);
    r->tag_count = db_col_int64(st, 12);
    r->annotations = db_col_dup(st, 13);
    r->tags = db_col_dup(st, 14);
}

/* Steps st, handing each row to fn as a record. */
static int each_record(struct db_statement *st, const char *what, int (*fn)(void *ctx, const struct image_record *r), void *ctx)
{
    int rc;
    while ((rc = db_step(st)) == DB_ROW) {
        struct image_record r;
        record_from_row(st, &r);
        int stop = fn(ctx, &r);
        image_record_release(&r);
        if (stop)
            break;
    }
    return db_end(st, rc, what);
}

int store_image_get(int64_t repo_id, const char *digest, struct image_record *out)
{
    struct db_statement *st = db_stmt("SELECT " RECORD_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    int rc = db_row(st, "image");
    if (rc == 1)
        record_from_row(st, out);
    db_reset(st);
    if (rc == 0)
        return error_set(E_NOTFOUND, "manifest '%s' is unknown", digest);
    return rc < 0 ? rc : 0;
}

/* One statement per combination of filters, each written so that SQLite
 * serves it from the matching index of migration 5 ([tags][status != ANY]). */
#define PAGE_SELECT "SELECT " RECORD_COLUMNS " FROM manifests WHERE repo_id = ?1 AND digest > ?2 "
#define PAGE_END " ORDER BY digest LIMIT ?3"
static const char *const page_sql[3][2] = {
    [TAGS_ANY] = {PAGE_SELECT PAGE_END, PAGE_SELECT "AND status = ?4" PAGE_END},
    [TAGS_TAGGED] = {PAGE_SELECT "AND tag_count > 0" PAGE_END, PAGE_SELECT "AND status = ?4 AND tag_count > 0" PAGE_END},
    [TAGS_UNTAGGED] = {PAGE_SELECT "AND tag_count = 0" PAGE_END, PAGE_SELECT "AND status = ?4 AND tag_count = 0" PAGE_END},
};

int store_images_page(int64_t repo_id, enum tag_filter tags, int status, const char *after, int limit,
                      int (*fn)(void *ctx, const struct image_record *r), void *ctx)
{
    bool by_status = status != IMAGE_STATUS_ANY;
    struct db_statement *st = db_stmt(page_sql[tags][by_status]);
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    if (by_status)
        db_bind_text(st, 4, image_status_name((enum image_status)status));
    return each_record(st, "images", fn, ctx);
}

int store_tagged_page(int64_t repo_id, int status, const char *after, int limit,
                      int (*fn)(void *ctx, const char *tag, const char *digest), void *ctx)
{
    if (status == IMAGE_STATUS_ANY)
        return store_tags_list(repo_id, after, limit, fn, ctx);
    /* Most images are ACTIVE: walk the tags in name order and skip the few
     * others. ARCHIVED and ACTIVATING images are few: start from them (the
     * status index) and sort their tags, rather than walk every tag. */
    struct db_statement *st =
        status == IMAGE_ACTIVE
            ? db_stmt("SELECT t.name, t.digest FROM tags t JOIN manifests m ON m.repo_id = t.repo_id AND "
                      "m.digest = t.digest WHERE t.repo_id = ?1 AND t.name > ?2 AND m.status = ?4 "
                      "ORDER BY t.name LIMIT ?3")
            /* CROSS JOIN and the unary + are SQLite's ways to fix the join order and keep it off tags' index */
            : db_stmt(DB_SQL("SELECT t.name, t.digest FROM manifests m CROSS JOIN tags t ON t.repo_id = m.repo_id AND "
                             "t.digest = m.digest WHERE m.repo_id = ?1 AND m.status = ?4 AND m.tag_count > 0 AND "
                             "+t.name > ?2 ORDER BY t.name LIMIT ?3",
                             "SELECT t.name, t.digest FROM manifests m JOIN tags t ON t.repo_id = m.repo_id AND "
                             "t.digest = m.digest WHERE m.repo_id = ?1 AND m.status = ?4 AND m.tag_count > 0 AND "
                             "t.name > ?2 ORDER BY t.name LIMIT ?3"));
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    db_bind_text(st, 4, image_status_name((enum image_status)status));
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_text(st, 0), db_col_text(st, 1)))
            break;
    return db_end(st, rc, "tags");
}

int store_referrers_page(int64_t repo_id, const char *subject, int status, const char *after, int limit,
                         int (*fn)(void *ctx, const struct image_record *r), void *ctx)
{
    struct db_statement *st =
        status == IMAGE_STATUS_ANY
            ? db_stmt("SELECT " RECORD_COLUMNS " FROM manifests WHERE repo_id = ?1 AND subject = ?2 AND digest > ?3 "
                      "ORDER BY digest LIMIT ?4")
            : db_stmt("SELECT " RECORD_COLUMNS " FROM manifests WHERE repo_id = ?1 AND subject = ?2 AND digest > ?3 "
                      "AND status = ?5 ORDER BY digest LIMIT ?4");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, subject);
    db_bind_text(st, 3, after ? after : "");
    db_bind_int64(st, 4, limit);
    if (status != IMAGE_STATUS_ANY)
        db_bind_text(st, 5, image_status_name((enum image_status)status));
    return each_record(st, "referrers", fn, ctx);
}

int store_image_set_status(int64_t repo_id, const char *digest, enum image_status from, enum image_status to, int64_t ms)
{
    struct db_statement *st = db_stmt("UPDATE manifests SET status = ?4, "
                               "archived_at = CASE WHEN ?4 = 'ARCHIVED' THEN ?5 ELSE archived_at END, "
                               "activated_at = CASE WHEN ?4 = 'ACTIVE' THEN ?5 ELSE activated_at END "
                               "WHERE repo_id = ?1 AND digest = ?2 AND status = ?3");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_text(st, 3, image_status_name(from));
    db_bind_text(st, 4, image_status_name(to));
    db_bind_int64(st, 5, ms);
    int rc = db_done(st, "image status");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "image '%s' is not %s", digest, image_status_name(from));
    return rc;
}

int store_index_image_size(int64_t repo_id, const struct manifest_ref *refs, size_t nrefs, uint64_t *out)
{
    *out = 0;
    for (size_t i = 0; i < nrefs; i++) {
        if (!refs[i].is_manifest)
            continue;
        struct db_statement *st = db_stmt("SELECT image_size FROM manifests WHERE repo_id = ?1 AND digest = ?2");
        db_bind_int64(st, 1, repo_id);
        db_bind_text(st, 2, refs[i].digest);
        int rc = db_row(st, "manifest size");
        if (rc < 0)
            return rc;
        if (rc == 1 && (uint64_t)db_col_int64(st, 0) > *out)
            *out = (uint64_t)db_col_int64(st, 0);
        db_reset(st);
    }
    return 0;
}

int store_image_set_annotations(int64_t repo_id, const char *digest, const char *annotations)
{
    struct db_statement *st = db_stmt("UPDATE manifests SET annotations = ?3 WHERE repo_id = ?1 AND digest = ?2");
    db_bind_int64(st, 1, repo_id);
    db_bind_text(st, 2, digest);
    db_bind_text(st, 3, annotations);
    return db_done(st, "manifest annotations");
}

/* ---- pull times ---- */

static int by_repo(const void *a, const void *b)
{
    int64_t x = ((const struct pull_time *)a)->repo_id, y = ((const struct pull_time *)b)->repo_id;
    return x < y ? -1 : x > y;
}

/* Pull times v[0..n) in a transaction: on PostgreSQL one of the
 * repository v[0].repo_id's, which all of v are (they update the rows the
 * repository's writers update: a tag moved changes its images' tag counts;
 * holding rows of several repositories at once could wait for two writers
 * in a cycle); on SQLite, the single writer's, for all of them. */
static int write_some(const struct pull_time *v, size_t n)
{
    int rc = db_is_pg() ? store_begin_repo(v[0].repo_id) : store_begin();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* an image deleted since its pull matches nothing, which is fine */
        struct db_statement *st = db_stmt("UPDATE manifests SET last_pull = ?3 WHERE repo_id = ?1 AND digest = ?2 "
                                   "AND coalesce(last_pull, 0) < ?3");
        db_bind_int64(st, 1, v[i].repo_id);
        db_bind_text(st, 2, v[i].digest);
        db_bind_int64(st, 3, v[i].ms);
        rc = db_done(st, "pull time");
    }
    if (rc == 0 && (rc = store_commit()) == 0)
        return 0;
    store_rollback();
    return rc;
}

int store_pull_times_write(const struct pull_time *v, size_t n)
{
    if (!db_is_pg())
        return n ? write_some(v, n) : 0;
    struct pull_time *sorted = xmalloc((n ? n : 1) * sizeof(*sorted));
    int rc = 0;
    if (n)
        memcpy(sorted, v, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), by_repo);
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        for (j = i + 1; j < n && sorted[j].repo_id == sorted[i].repo_id; j++)
            ;
        rc = write_some(sorted + i, j - i);
    }
    free(sorted);
    return rc;
}

/* ---- pull-time update exclusions ---- */

int store_pull_exclusion_add(const char *account, const char *arn, int64_t ms)
{
    struct db_statement *st = db_stmt("INSERT INTO pull_time_exclusions(account_id, principal_arn, created_at) VALUES(?1, ?2, ?3)");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    db_bind_int64(st, 3, ms);
    return db_done(st, "pull time exclusion");
}

int store_pull_exclusion_delete(const char *account, const char *arn)
{
    struct db_statement *st = db_stmt("DELETE FROM pull_time_exclusions WHERE account_id = ?1 AND principal_arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    int rc = db_done(st, "pull time exclusion");
    if (rc == 0 && db_changes() == 0)
        return error_set(E_NOTFOUND, "principal '%s' is not excluded", arn);
    return rc;
}

int store_pull_exclusion_exists(const char *account, const char *arn)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM pull_time_exclusions WHERE account_id = ?1 AND principal_arn = ?2");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, arn);
    return db_exists(st, "pull time exclusion", arn, "is not excluded");
}

int store_pull_exclusion_count(const char *account, int64_t *out)
{
    struct db_statement *st = db_stmt("SELECT count(*) FROM pull_time_exclusions WHERE account_id = ?1");
    db_bind_text(st, 1, account);
    return db_count(st, out, "pull time exclusions");
}

int store_pull_exclusions_list(const char *account, const char *after, int limit,
                               int (*fn)(void *ctx, const char *arn, int64_t created_ms), void *ctx)
{
    struct db_statement *st = db_stmt("SELECT principal_arn, created_at FROM pull_time_exclusions WHERE account_id = ?1 "
                               "AND principal_arn > ?2 ORDER BY principal_arn LIMIT ?3");
    db_bind_text(st, 1, account);
    db_bind_text(st, 2, after ? after : "");
    db_bind_int64(st, 3, limit);
    int rc;
    while ((rc = db_step(st)) == DB_ROW)
        if (fn(ctx, db_col_text(st, 0), db_col_int64(st, 1)))
            break;
    return db_end(st, rc, "pull time exclusions");
}
