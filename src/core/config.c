/*
 * This module implements the settings table of config.h and the three
 * sources that fill it: config file, environment and command-line flags.
 */
#include "core/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"

enum setting_type { T_STRING, T_INT };

struct setting {
    const char *name;
    const char *env;
    enum setting_type type;
    size_t offset;
    const char *def;
    int64_t min, max;
    const char *help;
};

#define S(field, env, def, help) {#field, env, T_STRING, offsetof(struct config, field), def, 0, 0, help}
#define I(field, env, def, lo, hi, help) {#field, env, T_INT, offsetof(struct config, field), def, lo, hi, help}
/* Quota defaults are ECR's (Amazon ECR service quotas page). */

static const struct setting settings[] = {
    {"listen", "BERTH_LISTEN", T_STRING, offsetof(struct config, listen), "127.0.0.1:5000", 0, 0,
     "address and port to listen on (host:port, [v6]:port)"},
    {"data", "BERTH_DATA", T_STRING, offsetof(struct config, data_dir), "./data", 0, 0,
     "data directory: metadata database, blobs, keys"},
    {"database", "BERTH_DATABASE", T_STRING, offsetof(struct config, database), "", 0, 0,
     "metadata database: sqlite:PATH or postgresql://user:pass@host:port/db (empty: sqlite:<data>/berth.db)"},
    {"key-file", "BERTH_KEY_FILE", T_STRING, offsetof(struct config, key_file), "", 0, 0,
     "file with the server keys every server of one registry shares (required with a postgresql:// database)"},
    {"archive-dir", "BERTH_ARCHIVE_DIR", T_STRING, offsetof(struct config, archive_dir), "", 0, 0,
     "where the blobs of archived images move (a slower disk); empty: they stay in the data directory"},
    {"blob-store", "BERTH_BLOB_STORE", T_STRING, offsetof(struct config, blob_store), "", 0, 0,
     "where blob bytes live: file:DIR (default file:<data>/blobs) or "
     "s3://BUCKET[/PREFIX]?endpoint=http://host:port&region=REGION[&path_style=1]"},
    {"store-cache", "BERTH_STORE_CACHE", T_STRING, offsetof(struct config, store_cache), "on", 0, 0,
     "on keeps the rows that identify and authorize callers in memory, checked against the database's cache generation "
     "on every request; off reads them from the database every time"},
    {"blob-redirect", "BERTH_BLOB_REDIRECT", T_STRING, offsetof(struct config, blob_redirect), "on", 0, 0,
     "on an s3 blob store: on answers blob downloads with 307 to a presigned URL, off streams the bytes through berth"},
    {"s3-upload-memory-mb", "BERTH_S3_UPLOAD_MEMORY_MB", T_INT, offsetof(struct config, s3_upload_memory_mb), "512", 8,
     1048576, "on an s3 blob store: each upload a request is writing stages 8 MiB; at most this many MiB of them at once "
     "(more concurrent uploads are refused with 429 TOOMANYREQUESTS and Retry-After)"},
    {"tls-cert", "BERTH_TLS_CERT", T_STRING, offsetof(struct config, tls_cert), "", 0, 0,
     "PEM certificate file; serves HTTPS when set with --tls-key"},
    {"tls-key", "BERTH_TLS_KEY", T_STRING, offsetof(struct config, tls_key), "", 0, 0, "PEM private key file"},
    S(region, "BERTH_REGION", "us-east-1", "the region this server is"),
    S(domain, "BERTH_DOMAIN", "",
      "registry domain: hosts <account>.dkr.ecr.<region>.<domain> select the account (empty: the address berth is reached at)"),
    {"log-level", "BERTH_LOG_LEVEL", T_STRING, offsetof(struct config, log_level), "info", 0, 0,
     "error, warn, info or debug"},
    {"log-format", "BERTH_LOG_FORMAT", T_STRING, offsetof(struct config, log_format), "text", 0, 0,
     "text, or json for one JSON object per line (log shippers)"},
    {"log-file", "BERTH_LOG_FILE", T_STRING, offsetof(struct config, log_file), "", 0, 0,
     "write the log to this file instead of stderr; SIGHUP reopens it (logrotate)"},
    {"metrics-listen", "BERTH_METRICS_LISTEN", T_STRING, offsetof(struct config, metrics_listen), "", 0, 0,
     "serve /metrics (and /healthz, /readyz) on this host:port instead of on --listen"},
    {"metrics-token", "BERTH_METRICS_TOKEN", T_STRING, offsetof(struct config, metrics_token), "", 0, 0,
     "when set, /metrics needs 'Authorization: Bearer <token>'"},
    {"shutdown-timeout", "BERTH_SHUTDOWN_TIMEOUT", T_INT, offsetof(struct config, shutdown_timeout), "10", 0, 3600,
     "seconds requests in flight get to finish after SIGTERM before they are cut off"},
    S(auth, "BERTH_AUTH", "on", "on, or none to switch authentication off (benchmarks only)"),
    I(threads, "BERTH_THREADS", "8", 1, 256, "HTTP worker threads"),
    {"client-header-timeout", "BERTH_CLIENT_HEADER_TIMEOUT", T_INT, offsetof(struct config, client_header_timeout), "60", 1,
     3600, "seconds a client has to send a request's headers (from connecting, or from the previous response)"},
    {"max-connections", "BERTH_MAX_CONNECTIONS", T_INT, offsetof(struct config, max_connections), "2048", 16, 1000000,
     "open client connections; more are closed at once"},
    {"max-connections-per-ip", "BERTH_MAX_CONNECTIONS_PER_IP", T_INT, offsetof(struct config, max_connections_per_ip), "0", 0,
     1000000, "open connections from one client address (0: no limit)"},
    {"trusted-proxies", "BERTH_TRUSTED_PROXIES", T_STRING, offsetof(struct config, trusted_proxies), "", 0, 0,
     "load balancers (comma-separated addresses or networks, e.g. 10.0.0.5,10.1.0.0/16) whose X-Forwarded-For and "
     "X-Forwarded-Proto name the client's address and scheme; from anyone else those headers are ignored"},
    {"body-buffer-budget-mb", "BERTH_BODY_BUFFER_BUDGET_MB", T_INT, offsetof(struct config, body_buffer_budget_mb), "256", 1,
     1048576, "MiB of request bodies held in memory at once, all requests together; past it requests are refused"},
    {"defer-threads", "BERTH_DEFER_THREADS", T_INT, offsetof(struct config, defer_threads), "32", 1, 1024,
     "most threads for work moved off the HTTP threads (writes, which may wait for locks; big fsyncs), started as needed"},
    {"job-workers", "BERTH_JOB_WORKERS", T_INT, offsetof(struct config, job_workers), "2", 0, 64,
     "threads that run background jobs (GC, lifecycle, scans); 0 leaves them to other servers"},
    {"max-repositories", "BERTH_MAX_REPOSITORIES", T_INT, offsetof(struct config, max_repositories), "100000", 1,
     10000000, "repositories per registry"},
    {"max-images-per-repository", "BERTH_MAX_IMAGES_PER_REPOSITORY", T_INT, offsetof(struct config, max_images_per_repo),
     "100000", 1, 10000000, "images per repository"},
    {"max-tags-per-image", "BERTH_MAX_TAGS_PER_IMAGE", T_INT, offsetof(struct config, max_tags_per_image), "1000", 1,
     100000, "tags per image"},
    {"max-layer-size-mb", "BERTH_MAX_LAYER_SIZE_MB", T_INT, offsetof(struct config, max_layer_size_mb), "52000", 1,
     10000000, "largest blob, in MiB"},
    {"max-layer-parts", "BERTH_MAX_LAYER_PARTS", T_INT, offsetof(struct config, max_layer_parts), "4200", 1, 1000000,
     "parts in one layer upload"},
    {"token-hours", "BERTH_TOKEN_HOURS", T_INT, offsetof(struct config, token_hours), "12", 1, 168,
     "lifetime of registry login tokens, in hours"},
    {"lifecycle-interval-seconds", "BERTH_LIFECYCLE_INTERVAL_SECONDS", T_INT,
     offsetof(struct config, lifecycle_interval_seconds), "86400", 1, 31536000,
     "how often each repository's lifecycle policy runs (first run one interval after PutLifecyclePolicy)"},
    {"upload-expiry-seconds", "BERTH_UPLOAD_EXPIRY_SECONDS", T_INT, offsetof(struct config, upload_expiry_seconds), "86400",
     1, 31536000, "an upload session nobody has written to for this long is removed, with its bytes"},
    {"pull-time-flush-seconds", "BERTH_PULL_TIME_FLUSH_SECONDS", T_INT, offsetof(struct config, pull_time_flush_seconds),
     "10", 1, 86400, "pull times are kept in memory and written at most this long after the pull"},
    {"restore-delay-seconds", "BERTH_RESTORE_DELAY_SECONDS", T_INT, offsetof(struct config, restore_delay_seconds), "0", 0,
     86400, "an image restored from the archive is ACTIVATING for this long before it is ACTIVE"},
    {"scan-max-layer-mb", "BERTH_SCAN_MAX_LAYER_MB", T_INT, offsetof(struct config, scan_max_layer_mb), "8192", 1, 10000000,
     "a scan fails an image one of whose layers expands past this many MiB"},
    {"gc-review-delay-seconds", "BERTH_GC_REVIEW_DELAY_SECONDS", T_INT, offsetof(struct config, gc_review_delay_seconds),
     "3600", 0, 31536000, "an unreferenced blob link waits this long (from its last upload, mount or HEAD) before GC drops it"},
    {"gc-interval-seconds", "BERTH_GC_INTERVAL_SECONDS", T_INT, offsetof(struct config, gc_interval_seconds), "300", 1,
     86400, "how often the background GC pass runs"},
    {"webhook-backoff-base-ms", "BERTH_WEBHOOK_BACKOFF_BASE_MS", T_INT, offsetof(struct config, webhook_backoff_base_ms),
     "1000", 1, 3600000, "a webhook delivery that failed is tried again after this many ms, then twice as long each time"},
    {"webhook-backoff-max-seconds", "BERTH_WEBHOOK_BACKOFF_MAX_SECONDS", T_INT,
     offsetof(struct config, webhook_backoff_max_seconds), "300", 1, 86400, "the longest wait between two attempts of a delivery"},
    {"webhook-max-attempts", "BERTH_WEBHOOK_MAX_ATTEMPTS", T_INT, offsetof(struct config, webhook_max_attempts), "20", 1,
     1000, "attempts of a webhook delivery before it is given up (failed), so later events of its repository go on"},
    {"webhook-connect-timeout-seconds", "BERTH_WEBHOOK_CONNECT_TIMEOUT_SECONDS", T_INT,
     offsetof(struct config, webhook_connect_timeout_seconds), "5", 1, 240, "seconds to connect to a webhook"},
    /* at most 240: an attempt ends well within the delivery job's lease (jobs.h) */
    {"webhook-timeout-seconds", "BERTH_WEBHOOK_TIMEOUT_SECONDS", T_INT, offsetof(struct config, webhook_timeout_seconds),
     "15", 1, 240, "seconds a webhook has to answer a delivery, connecting included"},
    {"webhook-retention-hours", "BERTH_WEBHOOK_RETENTION_HOURS", T_INT, offsetof(struct config, webhook_retention_hours),
     "168", 1, 87600, "delivered and given-up deliveries, and events no delivery needs, are kept this long"},
    S(audit, "BERTH_AUDIT", "on",
      "on records every ECR, IAM and CloudTrail call and every /v2 write in the audit trail (aws cloudtrail lookup-events); off "
      "records nothing (benchmarks)"),
    {"audit-retention-days", "BERTH_AUDIT_RETENTION_DAYS", T_INT, offsetof(struct config, audit_retention_days), "90", 1,
     36500, "audit records older than this many days are deleted (CloudTrail's event history keeps 90)"},
    {"audit-prune-interval-seconds", "BERTH_AUDIT_PRUNE_INTERVAL_SECONDS", T_INT,
     offsetof(struct config, audit_prune_interval_seconds), "3600", 1, 86400,
     "how often audit records past the retention are deleted"},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static int setting_apply(struct config *c, const struct setting *s, const char *value)
{
    char *base = (char *)c + s->offset;
    if (s->type == T_STRING) {
        char **dst = (char **)base;
        free(*dst);
        *dst = xstrdup(value);
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < s->min || v > s->max)
        return error_set(E_INVALID, "setting '%s' must be a number from %lld to %lld, not '%s'", s->name, (long long)s->min,
                         (long long)s->max, value);
    *(int64_t *)base = v;
    return 0;
}

static const struct setting *setting_find(const char *name, size_t n)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].name) == n && strncmp(settings[i].name, name, n) == 0)
            return &settings[i];
    return NULL;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NSETTINGS; i++)
        setting_apply(c, &settings[i], settings[i].def);
}

void config_release(struct config *c)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].type == T_STRING) {
            char **p = (char **)((char *)c + settings[i].offset);
            free(*p);
            *p = NULL;
        }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int config_load_file(struct config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0, rc = 0;
    if (!f)
        return error_set(E_NOTFOUND, "cannot open config file '%s': %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
            rc = error_set(E_INVALID, "%s:%d: line is longer than %zu bytes", path, lineno, sizeof(line) - 2);
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = error_set(E_INVALID, "%s:%d: expected 'name = value'", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        const struct setting *st = setting_find(key, strlen(key));
        if (!st) {
            rc = error_set(E_INVALID, "%s:%d: unknown setting '%s'", path, lineno, key);
            break;
        }
        if ((rc = setting_apply(c, st, value)) < 0)
            break;
    }
    fclose(f);
    return rc;
}

int config_load_env(struct config *c)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        int rc;
        if (v && *v && (rc = setting_apply(c, &settings[i], v)) < 0)
            return rc;
    }
    return 0;
}

int config_apply_flag(struct config *c, int argc, char **argv, int *argi)
{
    const char *arg = argv[*argi];
    if (strncmp(arg, "--", 2) != 0)
        return 1;
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    const struct setting *st = setting_find(name, n);
    if (!st)
        return 1;
    const char *value;
    if (eq) {
        value = eq + 1;
    } else {
        if (*argi + 1 >= argc)
            return error_set(E_INVALID, "option '--%s' needs a value", st->name);
        value = argv[++*argi];
    }
    (*argi)++;
    return setting_apply(c, st, value);
}

void config_print_help(void)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        printf("  --%-28s %s\n  %-30s env %s, default '%s'\n", settings[i].name, settings[i].help, "", settings[i].env,
               settings[i].def);
}
