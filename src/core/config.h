/*
 * Server configuration: one table of settings (redis static_configs[]), each
 * with its name (also the config-file key and the --flag), the environment
 * variable that sets it, its default and its bounds. Precedence, lowest to
 * highest: default, config file, environment, command line.
 */
#ifndef BERTH_CORE_CONFIG_H
#define BERTH_CORE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct config {
    char *listen;    /* host:port */
    char *data_dir;
    char *archive_dir; /* "" keeps archived images' blobs in the store */
    char *blob_store;  /* "" (<data>/blobs), file:DIR or s3://BUCKET[/PREFIX]?endpoint=... */
    char *store_cache;   /* "on": authentication and authorization rows are read through store/cache.c; "off": never */
    char *blob_redirect; /* "on": blob GETs on an s3 store answer 307 to a presigned URL; "off": proxied */
    char *database;    /* "" for sqlite:<data_dir>/berth.db; may hold a password */
    char *key_file;    /* "" keeps the keys in <data_dir>/keys */
    char *tls_cert;  /* PEM file; empty for plain HTTP */
    char *tls_key;
    char *region;
    char *domain;    /* registry hosts are <account>.dkr.ecr.<region>.<domain> when set */
    char *log_level;
    char *log_format; /* text or json */
    char *log_file;   /* "" for stderr */
    char *metrics_listen; /* "" serves /metrics on listen */
    char *metrics_token;  /* "" leaves /metrics open; a secret */
    char *trusted_proxies; /* load balancers whose X-Forwarded-For/-Proto count; "" none */
    char *auth;      /* "on" or "none" */
    int64_t threads;
    int64_t client_header_timeout;   /* seconds to send a request's headers */
    int64_t max_connections;
    int64_t max_connections_per_ip;  /* 0: no limit */
    int64_t body_buffer_budget_mb;   /* buffered request bodies, all requests together */
    int64_t s3_upload_memory_mb;     /* staging buffers of uploads to an s3 store, all together */
    int64_t defer_threads;           /* threads for long work moved off the HTTP threads */
    int64_t job_workers;             /* background job threads */
    int64_t max_repositories;        /* per registry */
    int64_t max_images_per_repo;
    int64_t max_tags_per_image;
    int64_t max_layer_size_mb;
    int64_t max_layer_parts;
    int64_t token_hours;
    int64_t upload_expiry_seconds; /* idle upload sessions are removed after this */
    int64_t shutdown_timeout;      /* seconds in-flight requests get after SIGTERM */
    int64_t pull_time_flush_seconds; /* pull times wait in memory at most this long */
    int64_t restore_delay_seconds;   /* a restore from the archive completes after this */
    int64_t scan_max_layer_mb;     /* what one layer may expand to when a scan reads it */
    int64_t lifecycle_interval_seconds; /* each repository's lifecycle policy runs this often */
    int64_t gc_review_delay_seconds; /* unreferenced links wait this long for GC */
    int64_t gc_interval_seconds;     /* between background GC passes */
    int64_t webhook_backoff_base_ms;   /* a failed webhook delivery waits this long, then twice as long ... */
    int64_t webhook_backoff_max_seconds; /* ... up to this */
    int64_t webhook_max_attempts;      /* then it is given up */
    int64_t webhook_connect_timeout_seconds;
    int64_t webhook_timeout_seconds;   /* one delivery request, in all */
    int64_t webhook_retention_hours;   /* finished deliveries and their events are kept this long */
    char *audit;                     /* "on" or "off": the audit trail */
    int64_t audit_retention_days;    /* audit records older than this are pruned */
    int64_t audit_prune_interval_seconds;
};

void config_defaults(struct config *c);
void config_release(struct config *c);
/* Applies a "key = value" file. E_INVALID with detail on a bad line. */
int config_load_file(struct config *c, const char *path);
/* Applies BERTH_* environment variables. */
int config_load_env(struct config *c);
/* Applies --name value / --name=value flags; *argi advances past what was
 * consumed. Returns 1 when argv[*argi] is not a setting flag. */
int config_apply_flag(struct config *c, int argc, char **argv, int *argi);
/* Prints the settings table for --help. */
void config_print_help(void);

#endif
