/*
 * This module implements the scanning rules of scanning.h: the registry's
 * scanning configuration (kept as a JSON setting of the account), ECR's
 * repository filters, the effective frequency of a repository, and
 * queueing scans.
 */
#include "image/scanning.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "image/manifest.h"
#include "jobs/jobs.h"
#include "store/images_ext.h"
#include "store/locks.h"
#include "store/scans.h"

#define CONFIG_KEY "registry-scanning-configuration"

const char *const scan_frequency_names[3] = {"MANUAL", "SCAN_ON_PUSH", "CONTINUOUS_SCAN"};

int image_scanning_config_get(const char *account, json_t **out)
{
    char *text = NULL;
    int rc = store_setting_get(account, CONFIG_KEY, &text);
    if (rc < 0 && rc != E_NOTFOUND)
        return rc;
    json_t *c = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(c)) {
        json_decref(c);
        c = json_pack("{s:s,s:[]}", "scanType", "BASIC", "rules");
    }
    *out = c;
    return 0;
}

int image_scanning_config_put(const char *account, const char *scan_type, json_t *rules)
{
    if (scan_type && strcmp(scan_type, "BASIC") != 0)
        return error_set(E_UNSUPPORTED,
                         "scanType %s is Amazon Inspector's enhanced scanning, which berth does not have; use BASIC",
                         scan_type);
    size_t i, j;
    json_t *rule, *filter;
    bool seen[3] = {false};
    json_array_foreach(rules, i, rule)
    {
        const char *freq = json_string_value(json_object_get(rule, "scanFrequency"));
        int f = 0;
        while (f < 3 && strcmp(freq, scan_frequency_names[f]) != 0)
            f++;
        if (f == 3)
            return error_set(E_INVALID, "rule %zu: unknown scanFrequency '%s'", i + 1, freq);
        if (seen[f])
            return error_set(E_INVALID, "rule %zu: there is already a %s rule; give one rule several filters", i + 1, freq);
        seen[f] = true;
        json_t *filters = json_object_get(rule, "repositoryFilters");
        if (json_array_size(filters) == 0)
            return error_set(E_INVALID, "rule %zu (%s) has no repositoryFilters", i + 1, freq);
        json_array_foreach(filters, j, filter)
        {
            const char *type = json_string_value(json_object_get(filter, "filterType"));
            if (!type || strcmp(type, "WILDCARD") != 0)
                return error_set(E_INVALID, "rule %zu: filterType must be WILDCARD", i + 1);
        }
    }
    json_t *c = json_pack("{s:s,s:o}", "scanType", "BASIC", "rules", rules ? json_incref(rules) : json_array());
    char *text = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    int rc = store_setting_put(account, CONFIG_KEY, text);
    free(text);
    return rc;
}

bool image_scan_filter_match(const char *filter, const char *name)
{
    if (!strchr(filter, '*'))
        return strstr(name, filter) != NULL;
    /* the model's pattern leaves '*' the only special character; without
     * FNM_PATHNAME it matches '/' too, as ECR's filters do */
    return fnmatch(filter, name, 0) == 0;
}

int image_scan_frequency(const struct repo *repo, enum scan_frequency *out, json_t **applied_out)
{
    json_t *config;
    int rc = image_scanning_config_get(repo->account_id, &config);
    if (rc < 0)
        return rc;
    json_t *rules = json_object_get(config, "rules");
    json_t *applied = json_array();
    enum scan_frequency best = SCAN_MANUAL;
    size_t i, j;
    json_t *rule, *filter;
    json_array_foreach(rules, i, rule)
    {
        const char *freq = json_string_value(json_object_get(rule, "scanFrequency"));
        enum scan_frequency f = strcmp(freq, "CONTINUOUS_SCAN") == 0 ? SCAN_CONTINUOUS
                                : strcmp(freq, "SCAN_ON_PUSH") == 0  ? SCAN_ON_PUSH
                                                                     : SCAN_MANUAL;
        json_array_foreach(json_object_get(rule, "repositoryFilters"), j, filter)
        {
            const char *value = json_string_value(json_object_get(filter, "filter"));
            if (!value || !image_scan_filter_match(value, repo->name))
                continue;
            if (f > best) {
                best = f;
                json_array_clear(applied);
            }
            if (f == best && f != SCAN_MANUAL)
                json_array_append(applied, filter);
        }
    }
    if (json_array_size(rules) == 0)
        best = repo->scan_on_push ? SCAN_ON_PUSH : SCAN_MANUAL;
    json_decref(config);
    *out = best;
    if (applied_out)
        *applied_out = applied;
    else
        json_decref(applied);
    return 0;
}

int image_scannable(const struct manifest *m)
{
    if (!m->config_media_type)
        return error_set(E_UNSUPPORTED, "%s is an image index; scan the images it lists", m->digest);
    if (strcmp(m->config_media_type, "application/vnd.oci.image.config.v1+json") != 0 &&
        strcmp(m->config_media_type, "application/vnd.docker.container.image.v1+json") != 0)
        return error_set(E_UNSUPPORTED, "%s is an artifact (config %s), not a container image", m->digest,
                         m->config_media_type);
    if (m->artifact_type)
        return error_set(E_UNSUPPORTED, "%s is an artifact (%s), not a container image", m->digest, m->artifact_type);
    return 0;
}

static int queue_scan(const struct repo *repo, const char *digest)
{
    char key[JOBS_KEY_MAX];
    snprintf(key, sizeof(key), "%lld:%s", (long long)repo->id, digest);
    return store_job_enqueue(SCAN_JOB, key, NULL, now_ms(), now_ms());
}

int image_scan_start(const struct repo *repo, const char *digest)
{
    struct manifest m;
    int rc = store_begin_repo(repo->id);
    if (rc < 0)
        return rc;
    if ((rc = store_manifest_get(repo->id, digest, false, &m)) < 0)
        goto rollback;
    rc = image_scannable(&m);
    if (rc == 0 && m.status != IMAGE_ACTIVE)
        rc = error_set(E_DENIED, "the image %s is %s: restore it (UpdateImageStorageClass) to scan it", digest,
                       image_status_name(m.status));
    manifest_release(&m);
    if (rc < 0 || (rc = store_scan_request(repo->id, digest, now_ms(), SCAN_INTERVAL_MS)) < 0 ||
        (rc = queue_scan(repo, digest)) < 0 || (rc = store_commit()) < 0)
        goto rollback;
    jobs_kick();
    return 0;
rollback:
    store_rollback();
    return rc;
}

int image_scan_on_push_locked(const struct repo *repo, const struct manifest *m)
{
    enum scan_frequency f;
    int rc = image_scan_frequency(repo, &f, NULL);
    if (rc < 0)
        return rc;
    if (f == SCAN_MANUAL || image_scannable(m) < 0)
        return 0;
    if ((rc = store_scan_request(repo->id, m->digest, now_ms(), 0)) < 0 || (rc = queue_scan(repo, m->digest)) < 0)
        return rc;
    return 1;
}

int image_rescan_all(void)
{
    return jobs_enqueue(RESCAN_JOB, "all", NULL, 0);
}
