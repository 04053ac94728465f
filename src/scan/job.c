/*
 * This module implements the scan jobs of job.h.
 *
 * A scan ends in one of ECR's statuses: COMPLETE with the findings, most
 * severe first; UNSUPPORTED_IMAGE when the image's operating system is not
 * one the vulnerability data covers (or its layers are not tar layers);
 * FAILED with the reason when its layers cannot be read (a layer missing,
 * a limit passed). A failure of the store is retried by the queue, and
 * recorded as FAILED at the last attempt, so no scan stays IN_PROGRESS.
 *
 * The inventory is kept before matching, so "rescan" never reads layers:
 * it loads each ecosystem's entries into memory once (vuln_index) and
 * matches the inventories against them.
 */
#include "scan/job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "events/events.h"
#include "image/scanning.h"
#include "jobs/jobs.h"
#include "scan/match.h"
#include "scan/scan.h"
#include "store/images_ext.h"
#include "store/scans.h"
#include "store/store.h"
#include "store/vulndb.h"

#define UNSUPPORTED_OS "The operating system and/or package manager are not supported."
/* Inventories matched between two renewals of the rescan job's lease. */
#define RESCAN_EXTEND_EVERY 500
/* Ecosystems whose entries a rescan keeps in memory at once. */
#define RESCAN_INDEXES 8

/* ---- findings ---- */

struct findings {
    json_t *list;
    int64_t counts[SEV_COUNT];
};

static void attribute(json_t *attrs, const char *key, const char *value)
{
    if (value && *value)
        json_array_append_new(attrs, json_pack("{s:s,s:s}", "key", key, "value", value));
}

static int add_finding(void *ctx, const struct vuln_finding *f)
{
    struct findings *out = ctx;
    enum scan_severity sev = scan_severity_of(f->severity);
    if (sev == SEV_COUNT)
        sev = SEV_UNDEFINED;
    json_t *attrs = json_array();
    char score[16];
    attribute(attrs, "package_version", f->package_version);
    attribute(attrs, "package_name", f->package_name);
    if (f->cvss3_vector) {
        snprintf(score, sizeof(score), "%.1f", f->cvss3_score);
        attribute(attrs, "CVSS3_VECTOR", f->cvss3_vector);
        attribute(attrs, "CVSS3_SCORE", score);
    }
    if (f->cvss2_vector) {
        snprintf(score, sizeof(score), "%.1f", f->cvss2_score);
        attribute(attrs, "CVSS2_VECTOR", f->cvss2_vector);
        attribute(attrs, "CVSS2_SCORE", score);
    }
    json_t *finding = json_pack("{s:s,s:s,s:o}", "name", f->id, "severity", scan_severity_names[sev], "attributes", attrs);
    if (f->description && *f->description)
        json_object_set_new(finding, "description", json_string(f->description));
    if (f->uri && *f->uri)
        json_object_set_new(finding, "uri", json_string(f->uri));
    json_array_append_new(out->list, finding);
    out->counts[sev]++;
    return 0;
}

/* How severe, for ordering: CRITICAL first, UNDEFINED and INFORMATIONAL last. */
static int rank(json_t *finding)
{
    static const int order[SEV_COUNT] = {[SEV_CRITICAL] = 0, [SEV_HIGH] = 1, [SEV_MEDIUM] = 2, [SEV_LOW] = 3,
                                         [SEV_INFORMATIONAL] = 4, [SEV_UNDEFINED] = 5};
    enum scan_severity s = scan_severity_of(json_string_value(json_object_get(finding, "severity")));
    return s == SEV_COUNT ? SEV_COUNT : order[s];
}

static const char *attr_of(json_t *finding, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(finding, "attributes"), i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
            return json_string_value(json_object_get(a, "value"));
    }
    return "";
}

static int by_severity(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    int d = rank(a) - rank(b);
    if (d)
        return d;
    if ((d = strcmp(json_string_value(json_object_get(a, "name")), json_string_value(json_object_get(b, "name")))))
        return d;
    return strcmp(attr_of(a, "package_name"), attr_of(b, "package_name"));
}

/* Stores the findings as the image's completed scan. */
static int complete(int64_t repo_id, const char *digest, struct findings *f)
{
    size_t n = json_array_size(f->list);
    json_t **items = xcalloc(n + 1, sizeof(*items));
    char **texts = xcalloc(n + 1, sizeof(*texts));
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(f->list, i);
    qsort(items, n, sizeof(*items), by_severity);
    for (size_t i = 0; i < n; i++)
        texts[i] = json_dumps(items[i], JSON_COMPACT);
    int64_t updated = 0;
    char source[256];
    int rc = store_vuln_updated(&updated, source, sizeof(source));
    if (rc == 0)
        rc = store_scan_complete(repo_id, digest, now_ms(), updated, f->counts, texts, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(items);
    return rc;
}

/* The packages of inv as the matcher takes them (pointing into inv). */
static struct package_query *queries_of(const struct inventory *inv)
{
    struct package_query *q = xcalloc(inv->npkgs + 1, sizeof(*q));
    for (size_t i = 0; i < inv->npkgs; i++)
        q[i] = (struct package_query){inv->pkgs[i].name, inv->pkgs[i].version, inv->pkgs[i].source_name,
                                      inv->pkgs[i].source_version};
    return q;
}

/* ---- one image ---- */

static int parse_key(const char *key, int64_t *repo_id, char digest[DIGEST_MAX])
{
    char *end;
    long long id = strtoll(key, &end, 10);
    if (end == key || *end != ':' || strlen(end + 1) >= DIGEST_MAX)
        return error_set(E_INVALID, "scan job key '%s' is not <repository id>:<digest>", key);
    *repo_id = id;
    snprintf(digest, DIGEST_MAX, "%s", end + 1);
    return 0;
}

/* Reads, keeps and matches the inventory; 0 with the scan's end
 * recorded, or a failure of the store to retry. */
static int scan_one(const struct repo *repo, const char *digest)
{
    struct inventory inv;
    int rc = scan_image_inventory(repo, digest, &inv);
    if (rc == E_UNSUPPORTED) {
        rc = store_scan_fail(repo->id, digest, "UNSUPPORTED_IMAGE", error_message(), now_ms());
        goto done;
    }
    if (rc == E_NOTFOUND || rc == E_TOOBIG || rc == E_INVALID || rc == E_MISMATCH) {
        log_warn("scan of %s in %s failed: %s", digest, repo->name, error_message());
        rc = store_scan_fail(repo->id, digest, "FAILED", error_message(), now_ms());
        goto done;
    }
    if (rc < 0)
        goto done;
    char *json = inventory_to_json(&inv);
    rc = store_scan_inventory_put(repo->id, digest, json);
    free(json);
    if (rc < 0)
        goto done;
    if (!inv.ecosystem) {
        rc = store_scan_fail(repo->id, digest, "UNSUPPORTED_IMAGE", UNSUPPORTED_OS, now_ms());
        goto done;
    }
    struct findings f = {json_array(), {0}};
    struct package_query *q = queries_of(&inv);
    rc = vuln_match(q, inv.npkgs, inv.ecosystem, add_finding, &f);
    free(q);
    if (rc == E_UNSUPPORTED)
        rc = store_scan_fail(repo->id, digest, "UNSUPPORTED_IMAGE", UNSUPPORTED_OS, now_ms());
    else if (rc == 0)
        rc = complete(repo->id, digest, &f);
    if (rc == 0)
        log_info("scanned %s in %s: %s, %zu packages, %zu findings", digest, repo->name, inv.ecosystem, inv.npkgs,
                 json_array_size(f.list));
    json_decref(f.list);
done:
    inventory_release(&inv);
    return rc;
}

/* The "ECR Image Scan" event of a scan that ended, right after its end
 * was recorded (a failure to write it is logged: the scan stands). */
static void scan_ended(const struct repo *repo, const char *digest)
{
    if (events_image_scan(repo, digest) < 0)
        log_warn("event of the scan of %s in %s: %s", digest, repo->name, error_message());
}

static int run_scan(const struct job *job, void *ctx)
{
    (void)ctx;
    int64_t repo_id = 0;
    char digest[DIGEST_MAX];
    struct repo repo;
    if (parse_key(job->key, &repo_id, digest) < 0) {
        log_warn("%s", error_message());
        return 0; /* nothing to retry */
    }
    int rc = store_repo_get_by_id(repo_id, &repo);
    if (rc == E_NOTFOUND)
        return 0; /* the repository went; its scans with it */
    if (rc < 0)
        return rc;
    struct manifest m;
    if ((rc = store_manifest_get(repo_id, digest, false, &m)) == E_NOTFOUND) {
        repo_release(&repo);
        return 0; /* deleted since: its scan went with it */
    }
    bool archived = rc == 0 && m.status != IMAGE_ACTIVE;
    if (rc == 0)
        manifest_release(&m);
    if (archived) /* archived after the scan was asked for */
        rc = store_scan_fail(repo_id, digest, "IMAGE_ARCHIVED", "The image is archived and cannot be scanned.", now_ms());
    else if (rc == 0)
        rc = scan_one(&repo, digest);
    if (rc < 0 && job->attempts + 1 >= JOBS_MAX_ATTEMPTS) {
        char why[512];
        snprintf(why, sizeof(why), "%s", error_message());
        if (store_scan_fail(repo_id, digest, "FAILED", why, now_ms()) == 0)
            scan_ended(&repo, digest);
        error_set(rc, "%s", why);
    } else if (rc == 0) {
        scan_ended(&repo, digest);
    }
    repo_release(&repo);
    return rc;
}

/* ---- every image scanned continuously ---- */

struct rescan {
    const struct job *job;
    int64_t repo_id; /* the repository of the last image, and whether it is scanned continuously */
    bool continuous;
    struct {
        char *ecosystem;
        struct vuln_index *index; /* NULL: the data does not cover it */
    } cache[RESCAN_INDEXES];
    size_t ncache, next_evict;
    int64_t matched, skipped;
    int error;
};

static int index_for(struct rescan *r, const char *ecosystem, struct vuln_index **out)
{
    for (size_t i = 0; i < r->ncache; i++)
        if (strcmp(r->cache[i].ecosystem, ecosystem) == 0) {
            *out = r->cache[i].index;
            return 0;
        }
    struct vuln_index *idx = NULL;
    int rc = vuln_index_load(&idx, ecosystem);
    if (rc < 0 && rc != E_UNSUPPORTED)
        return rc;
    size_t slot = r->ncache < RESCAN_INDEXES ? r->ncache++ : r->next_evict++ % RESCAN_INDEXES;
    if (slot < r->ncache && r->cache[slot].ecosystem) {
        free(r->cache[slot].ecosystem);
        vuln_index_free(r->cache[slot].index);
    }
    r->cache[slot].ecosystem = xstrdup(ecosystem);
    r->cache[slot].index = idx;
    *out = idx;
    return 0;
}

static int rematch_one(void *ctx, int64_t repo_id, const char *digest)
{
    struct rescan *r = ctx;
    if (repo_id != r->repo_id) {
        struct repo repo;
        enum scan_frequency f = SCAN_MANUAL;
        int rc = store_repo_get_by_id(repo_id, &repo);
        if (rc == 0) {
            rc = image_scan_frequency(&repo, &f, NULL);
            repo_release(&repo);
        }
        if (rc < 0 && rc != E_NOTFOUND) {
            r->error = rc;
            return 1;
        }
        r->repo_id = repo_id;
        r->continuous = rc == 0 && f == SCAN_CONTINUOUS;
    }
    if (!r->continuous) {
        r->skipped++;
        return 0;
    }
    char *json = NULL;
    struct inventory inv;
    int rc = store_scan_inventory_get(repo_id, digest, &json);
    if (rc < 0 || !json) {
        free(json);
        r->error = rc;
        return rc < 0;
    }
    rc = inventory_from_json(&inv, json, strlen(json));
    free(json);
    struct vuln_index *idx = NULL;
    if (rc == 0 && inv.ecosystem && (rc = index_for(r, inv.ecosystem, &idx)) == 0 && idx) {
        struct findings f = {json_array(), {0}};
        struct package_query *q = queries_of(&inv);
        rc = vuln_index_match(idx, q, inv.npkgs, add_finding, &f);
        free(q);
        if (rc == 0)
            rc = complete(repo_id, digest, &f);
        json_decref(f.list);
        r->matched++;
    }
    inventory_release(&inv);
    if (rc == E_INVALID) { /* an inventory this berth cannot read: scan the image again */
        log_warn("rescan: %s", error_message());
        rc = 0;
    }
    if (rc < 0) {
        r->error = rc;
        return 1;
    }
    if (r->matched % RESCAN_EXTEND_EVERY == 0 && (rc = jobs_extend(r->job)) < 0) {
        r->error = rc;
        return 1;
    }
    return jobs_stopping();
}

static int run_rescan(const struct job *job, void *ctx)
{
    (void)ctx;
    struct rescan r = {.job = job, .repo_id = -1};
    int64_t t0 = now_ms();
    int rc = store_scans_with_inventory(rematch_one, &r);
    for (size_t i = 0; i < r.ncache; i++) {
        free(r.cache[i].ecosystem);
        vuln_index_free(r.cache[i].index);
    }
    if (rc == 0)
        rc = r.error;
    if (rc == 0 && jobs_stopping())
        rc = error_set(E_BUSY, "stopped before every image was matched");
    if (rc == 0)
        log_info("rescan: %" PRId64 " images matched again in %" PRId64 " ms (%" PRId64 " not scanned continuously)",
                 r.matched, now_ms() - t0, r.skipped);
    return rc;
}

int scan_jobs_register(void)
{
    int rc = jobs_register(SCAN_JOB, run_scan, NULL);
    if (rc == 0)
        rc = jobs_register(RESCAN_JOB, run_rescan, NULL);
    return rc;
}
