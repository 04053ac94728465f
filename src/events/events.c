/*
 * This module implements emitting events (events.h): building each event
 * in the shape Amazon ECR sends to EventBridge, writing it to the outbox,
 * giving it a pending delivery for every webhook whose filter takes it,
 * and queueing the job of each (webhook, stream) that received one; and
 * the webhook filters. An event that no webhook takes is not written.
 *
 * The job rows are written in the caller's transaction like the event, so
 * a committed event always has a job that delivers it; the workers are
 * woken once the transaction commits (events_committed()), as they cannot
 * see the rows before.
 */
#include "events/events.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "auth/auth.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"
#include "events/internal.h"
#include "jobs/jobs.h"
#include "store/events.h"
#include "store/jobs.h"
#include "store/locks.h"
#include "store/scans.h"
#include "store/store.h"

/* Set when this thread emitted events in the open transaction. */
static _Thread_local bool emitted;

/* When this process last woke the job workers for events (ms). */
static _Atomic int64_t last_kick;

/* A worker that wakes looks up when the next job of each kind is due, so
 * one wake-up per coalescing interval suffices: the events' jobs are due
 * no sooner. Each wake-up costs every idle worker a claim attempt per job
 * kind, writes that requests would otherwise wait for. */
void events_committed(void)
{
    int64_t now = now_ms();
    if (emitted && now - atomic_load(&last_kick) >= EVENTS_COALESCE_MS) {
        atomic_store(&last_kick, now);
        jobs_kick();
    }
    emitted = false;
}

void events_rolled_back(void)
{
    emitted = false;
}

/* ---- filters ---- */

/* The condition of filter starting at *p (up to ',' or the end): its key
 * and value as slices; *p moves past it. */
static void next_condition(const char **p, struct slice *key, struct slice *value)
{
    const char *start = *p, *end = strchr(start, ','), *eq;
    if (!end)
        end = start + strlen(start);
    eq = memchr(start, '=', (size_t)(end - start));
    *key = (struct slice){start, eq ? (size_t)(eq - start) : (size_t)(end - start)};
    *value = eq ? (struct slice){eq + 1, (size_t)(end - eq - 1)} : (struct slice){end, 0};
    *p = *end ? end + 1 : end;
}

static bool slice_is(struct slice s, const char *z)
{
    return s.len == strlen(z) && memcmp(s.base, z, s.len) == 0;
}

int events_filter_check(const char *filter)
{
    if (strlen(filter) > 1024)
        return error_set(E_INVALID, "the filter is longer than 1024 characters");
    for (const char *p = filter; *p;) {
        struct slice key, value;
        next_condition(&p, &key, &value);
        if (!slice_is(key, "detail-type") && !slice_is(key, "repository-name"))
            return error_set(E_INVALID, "filter condition '%.*s' is not detail-type=VALUE or repository-name=VALUE",
                             (int)(key.len + value.len + (value.len ? 1 : 0)), key.base);
        if (value.len == 0)
            return error_set(E_INVALID, "filter condition '%.*s' has no value", (int)key.len, key.base);
        const char *star = memchr(value.base, '*', value.len);
        if (star && star != value.base + value.len - 1)
            return error_set(E_INVALID, "filter value '%.*s': '*' may only end a value (a prefix match)",
                             (int)value.len, value.base);
        if (*p == '\0' && p > filter && p[-1] == ',')
            return error_set(E_INVALID, "the filter ends with ','");
    }
    return 0;
}

static bool value_matches(struct slice value, const char *subject)
{
    if (value.len && value.base[value.len - 1] == '*')
        return strncmp(subject, value.base, value.len - 1) == 0;
    return slice_is(value, subject);
}

bool events_filter_match(const char *filter, const char *detail_type, const char *repository)
{
    for (const char *p = filter; *p;) {
        struct slice key, value;
        next_condition(&p, &key, &value);
        const char *subject = slice_is(key, "detail-type") ? detail_type : repository;
        if (!value_matches(value, subject))
            return false;
    }
    return true;
}

/* ---- the outbox ---- */

void events_job_key(char out[JOBS_KEY_MAX], const char *webhook_id, const char *stream)
{
    snprintf(out, JOBS_KEY_MAX, "%s %s", webhook_id, stream);
}

struct fanout {
    const char *detail_type, *repository;
    char (*ids)[WEBHOOK_ID_MAX];
    size_t n, cap;
};

static int pick_webhook(void *ctx, const struct webhook *w)
{
    struct fanout *f = ctx;
    if (!events_filter_match(w->filter, f->detail_type, f->repository))
        return 0;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 4;
        f->ids = xrealloc(f->ids, f->cap * sizeof(*f->ids));
    }
    snprintf(f->ids[f->n++], WEBHOOK_ID_MAX, "%s", w->id);
    return 0;
}

/* Writes the event (detail is taken) in the open transaction, with a
 * delivery and a queued job for each webhook that takes it; an event no
 * webhook takes is not kept. */
static int emit_locked(const struct repo *repo, const char *detail_type, json_t *detail)
{
    char id[37], when[32], arn[1024], stream[300], key[JOBS_KEY_MAX]; /* names are at most 256 */
    int64_t now = now_ms(), seq = 0;
    struct fanout f = {detail_type, repo->name, NULL, 0, 0};
    int rc = store_webhooks_each(pick_webhook, &f);
    if (rc < 0 || f.n == 0) {
        json_decref(detail);
        free(f.ids);
        return rc;
    }
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    uuid_v4(id);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    auth_repo_arn(arn, sizeof(arn), repo->account_id, repo->name);
    snprintf(stream, sizeof(stream), "%s/%s", repo->account_id, repo->name);
    /* as AWS's samples: an image action names no resource, a scan or a
     * lifecycle action its repository */
    json_t *resources = json_array();
    if (strcmp(detail_type, "ECR Image Action") != 0)
        json_array_append_new(resources, json_string(arn));
    json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "version", "0", "id", id, "detail-type", detail_type,
                          "source", "aws.ecr", "account", repo->account_id, "time", when, "region", auth_region(),
                          "resources", resources, "detail", detail);
    char *body = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    struct event_row row = {id, detail_type, stream, body, now};
    rc = store_event_add(&row, &seq);
    for (size_t i = 0; i < f.n && rc == 0; i++) {
        events_job_key(key, f.ids[i], stream);
        if ((rc = store_delivery_add(f.ids[i], seq, stream, now)) == 0)
            rc = store_job_enqueue(EVENTS_JOB, key, NULL, now + EVENTS_COALESCE_MS, now);
    }
    free(body);
    free(f.ids);
    if (rc == 0)
        emitted = true;
    return rc;
}

/* emit_locked() in a transaction of its own. */
static int emit(const struct repo *repo, const char *detail_type, json_t *detail)
{
    /* its rows are new ones, and its jobs' keys name the repository */
    int rc = store_begin_repo(repo->id);
    if (rc < 0) {
        json_decref(detail);
        return rc;
    }
    if ((rc = emit_locked(repo, detail_type, detail)) == 0 && (rc = store_commit()) == 0) {
        events_committed();
        return 0;
    }
    store_rollback();
    events_rolled_back();
    return rc;
}

static void set_string(json_t *o, const char *key, const char *value)
{
    if (value && *value)
        json_object_set_new(o, key, json_string(value));
}

static json_t *image_action(const struct repo *repo, const char *action, const char *result, const char *digest,
                            const char *tag, const char *manifest_media_type, const char *artifact_media_type)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "result", result, "repository-name", repo->name, "image-digest", digest,
                          "action-type", action);
    set_string(d, "image-tag", tag);
    set_string(d, "manifest-media-type", manifest_media_type);
    set_string(d, "artifact-media-type", artifact_media_type);
    return d;
}

int events_image_action_locked(const struct repo *repo, const char *action, const char *result, const char *digest,
                               const char *tag, const char *manifest_media_type, const char *artifact_media_type)
{
    return emit_locked(repo, "ECR Image Action",
                       image_action(repo, action, result, digest, tag, manifest_media_type, artifact_media_type));
}

int events_image_action(const struct repo *repo, const char *action, const char *result, const char *digest,
                        const char *tag)
{
    return emit(repo, "ECR Image Action", image_action(repo, action, result, digest, tag, NULL, NULL));
}

static int add_tag(void *ctx, const char *tag)
{
    json_array_append_new(ctx, json_string(tag));
    return 0;
}

int events_image_scan(const struct repo *repo, const char *digest)
{
    struct scan_record s;
    int rc = store_scan_get(repo->id, digest, &s);
    if (rc < 0)
        return rc;
    json_t *counts = json_object(), *tags = json_array();
    for (int i = 0; i < SEV_COUNT; i++)
        if (s.counts[i] > 0)
            json_object_set_new(counts, scan_severity_names[i], json_integer(s.counts[i]));
    json_t *d = json_pack("{s:s,s:s,s:o,s:s,s:o}", "scan-status", s.status, "repository-name", repo->name,
                          "finding-severity-counts", counts, "image-digest", digest, "image-tags", tags);
    scan_record_release(&s);
    if ((rc = store_tags_of(repo->id, digest, add_tag, tags)) < 0) {
        json_decref(d);
        return rc;
    }
    return emit(repo, "ECR Image Scan", d);
}

int events_lifecycle_locked(const struct repo *repo, const char *action, const char *digest, const char *tags_json)
{
    json_t *tags = json_loads(tags_json ? tags_json : "[]", 0, NULL);
    if (!json_is_array(tags)) {
        json_decref(tags);
        tags = json_array();
    }
    json_t *d = json_pack("{s:s,s:s,s:o,s:s,s:s}", "action-type", action, "image-digest", digest, "image-tags", tags,
                          "image-action-type", action, "repository-name", repo->name);
    return emit_locked(repo, "ECR Lifecycle Action", d);
}
