/*
 * The berth command line: `berth serve`, `berth admin ...`, `berth version`.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "blob/blobstore.h"
#include "blob/gc.h"
#include "console/console.h"
#include "cloudtrail/cloudtrail.h"
#include "store/copy.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"
#include "ecr/ecr.h"
#include "events/events.h"
#include "fsck/fsck.h"
#include "http/server.h"
#include "iam/iam.h"
#include "image/image.h"
#include "image/scanning.h"
#include "jobs/jobs.h"
#include "lifecycle/run.h"
#include "ops/ops.h"
#include "policy/arn.h"
#include "registry/registry.h"
#include "scan/job.h"
#include "scan/scan.h"
#include "scan/vulndb.h"
#include "store/lifecycle.h"
#include "store/store.h"
#include "store/vulndb.h"

#define BERTH_VERSION "0.1.0"

static void usage(void)
{
    printf("berth %s: a self-hosted container registry with the Amazon ECR API\n\n"
           "usage:\n"
           "  berth serve [options]      run the registry (/v2) and the ECR control plane\n"
           "  berth admin <command>      manage accounts and keys (berth admin --help)\n"
           "  berth gc [--data DIR] [--gc-review-delay-seconds N] [--upload-grace-hours N]\n"
           "                             remove blobs no manifest needs, and abandoned uploads\n"
           "  berth fsck [--data DIR] [--verify-digests]\n"
           "                             check that metadata and blobs agree (safe while serving);\n"
           "                             exit 1 when a problem is found, 2 when the check cannot run\n"
           "  berth vulndb import PATH | sync --url URL | status [--data DIR]\n"
           "                             load OSV vulnerability data (a directory of .json files or a\n"
           "                             zip such as osv.dev's all.zip), download and load a zip, or\n"
           "                             say what is loaded and when\n"
           "  berth migrate [--data DIR] [--database URL]\n"
           "                             move the metadata database's schema forward (berth serve\n"
           "                             also does at start) and print its version\n"
           "  berth migrate --from sqlite:PATH --database postgresql://...\n"
           "                             copy a registry's metadata into an empty PostgreSQL database\n"
           "  berth version              print the version\n\n"
           "berth serve --help lists the options.\n",
           BERTH_VERSION);
}

static void serve_usage(void)
{
    printf("usage: berth serve [--config FILE] [options]\n\n"
           "Each option can also be set in a config file (name = value) or the environment.\n"
           "Precedence: flags, then environment, then the config file, then defaults.\n\n");
    config_print_help();
    printf("\nFirst start: creates an account and a root access key, prints them once and writes\n"
           "them (0600) to <data>/credentials. BERTH_ACCOUNT_ID, BERTH_ROOT_ACCESS_KEY_ID and\n"
           "BERTH_ROOT_SECRET_ACCESS_KEY give them instead.\n");
}

/* Loads the configuration for a command: --config first, then the rest. */
static int load_config(struct config *cfg, int argc, char **argv, int start, int (*extra)(int argc, char **argv, int *i))
{
    config_defaults(cfg);
    for (int i = start; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && config_load_file(cfg, argv[i + 1]) < 0) {
            fprintf(stderr, "berth: %s\n", error_message());
            return -1;
        }
    if (config_load_env(cfg) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return -1;
    }
    for (int i = start; i < argc;) {
        if (strcmp(argv[i], "--config") == 0) {
            i += 2;
            continue;
        }
        int rc = config_apply_flag(cfg, argc, argv, &i);
        if (rc < 0) {
            fprintf(stderr, "berth: %s\n", error_message());
            return -1;
        }
        if (rc == 1) {
            if (extra && extra(argc, argv, &i) == 0)
                continue;
            fprintf(stderr, "berth: unknown option '%s' (see --help)\n", argv[i]);
            return -1;
        }
    }
    int lvl = log_level_parse(cfg->log_level);
    if (lvl < 0) {
        fprintf(stderr, "berth: log level '%s' is not error, warn, info or debug\n", cfg->log_level);
        return -1;
    }
    log_level = lvl;
    store_set_database(cfg->database);
    int format = log_format_parse(cfg->log_format);
    if (format < 0) {
        fprintf(stderr, "berth: log format '%s' is not text or json\n", cfg->log_format);
        return -1;
    }
    log_set_format(format);
    if (strcmp(cfg->auth, "on") != 0 && strcmp(cfg->auth, "none") != 0) {
        fprintf(stderr, "berth: --auth is 'on' or 'none'\n");
        return -1;
    }
    if (strcmp(cfg->blob_redirect, "on") != 0 && strcmp(cfg->blob_redirect, "off") != 0) {
        fprintf(stderr, "berth: --blob-redirect is 'on' or 'off'\n");
        return -1;
    }
    if (strcmp(cfg->store_cache, "on") != 0 && strcmp(cfg->store_cache, "off") != 0) {
        fprintf(stderr, "berth: --store-cache is 'on' or 'off'\n");
        return -1;
    }
    if (strcmp(cfg->audit, "on") != 0 && strcmp(cfg->audit, "off") != 0) {
        fprintf(stderr, "berth: --audit is 'on' or 'off'\n");
        return -1;
    }
    return 0;
}

/* Opens the data directory: database, blobs, keys, default account. */
static int open_data(struct config *cfg)
{
    if (mkdir(cfg->data_dir, 0700) != 0 && access(cfg->data_dir, W_OK) != 0) {
        fprintf(stderr, "berth: cannot use data directory '%s'\n", cfg->data_dir);
        return -1;
    }
    blobstore_set_upload_memory((uint64_t)cfg->s3_upload_memory_mb << 20);
    if (store_open(cfg->data_dir) < 0 || blobstore_open(cfg->data_dir) < 0 || blobstore_use(cfg->blob_store) < 0 ||
        blobstore_set_archive(cfg->archive_dir) < 0 ||
        auth_init(cfg) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return -1;
    }
    iam_configure(cfg);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct config cfg;
    /* SIGINT, SIGTERM and SIGHUP are taken by the main thread alone, with
     * sigwait() below: blocked here, before any thread starts, so every
     * thread inherits the mask. (A handler with pause() lost them: the
     * kernel may run the handler on any thread, or between the flag's test
     * and pause(), and the main thread slept on.) */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            serve_usage();
            return 0;
        }
    if (load_config(&cfg, argc, argv, 2, NULL) < 0)
        return 1;
    if (cfg.log_file[0] && log_open(cfg.log_file) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }
    if (open_data(&cfg) < 0)
        return 1;
    registry_configure(&cfg);
    ecr_configure(&cfg);
    console_configure(&cfg);
    cloudtrail_configure();
    struct image_limits limits = {
        .max_images = cfg.max_images_per_repo,
        .max_tags = cfg.max_tags_per_image,
        .max_blob_bytes = (uint64_t)cfg.max_layer_size_mb << 20,
        .max_parts = cfg.max_layer_parts,
        .upload_expiry_ms = cfg.upload_expiry_seconds * 1000,
        .pull_flush_ms = cfg.pull_time_flush_seconds * 1000,
        .restore_delay_ms = cfg.restore_delay_seconds * 1000,
        .gc_delay_ms = cfg.gc_review_delay_seconds * 1000,
    };
    struct scan_limits scan;
    scan_limits_default(&scan);
    scan.max_layer_bytes = (uint64_t)cfg.scan_max_layer_mb << 20;
    scan_set_limits(&scan);
    if (image_service_start(&limits) < 0 ||
        gc_schedule(cfg.gc_review_delay_seconds * 1000, cfg.gc_interval_seconds * 1000) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }

    struct audit_options audit = {
        .on = strcmp(cfg.audit, "on") == 0,
        .retention_ms = cfg.audit_retention_days * 86400000,
        .prune_interval_ms = cfg.audit_prune_interval_seconds * 1000,
    };
    struct events_options events = {
        .backoff_base_ms = cfg.webhook_backoff_base_ms,
        .backoff_max_ms = cfg.webhook_backoff_max_seconds * 1000,
        .max_attempts = (int)cfg.webhook_max_attempts,
        .connect_timeout_ms = cfg.webhook_connect_timeout_seconds * 1000,
        .timeout_ms = cfg.webhook_timeout_seconds * 1000,
        .retention_ms = cfg.webhook_retention_hours * 3600000,
    };
    if (scan_jobs_register() < 0 || lifecycle_start(cfg.lifecycle_interval_seconds * 1000) < 0 || events_start(&events) < 0 ||
        audit_start(&audit) < 0 || jobs_start((int)cfg.job_workers) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }

    bool metrics_apart = cfg.metrics_listen[0] != '\0';
    struct ops_options ops = {.version = BERTH_VERSION, .metrics_token = cfg.metrics_token, .metrics_on_main = !metrics_apart};
    ops_configure(&ops);
    static const struct surface *const surfaces[] = {&ops_surface, &registry_surface, &ecr_surface, &cloudtrail_surface,
                                                     &iam_surface, &console_surface, NULL};
    static const struct surface *const metrics_surfaces[] = {&ops_metrics_surface, NULL};
    struct server_options opt = {
        .listen = cfg.listen,
        .tls_cert_file = cfg.tls_cert,
        .tls_key_file = cfg.tls_key,
        .threads = (unsigned)cfg.threads,
        .surfaces = surfaces,
        .header_timeout_s = (unsigned)cfg.client_header_timeout,
        .max_connections = (unsigned)cfg.max_connections,
        .max_connections_per_ip = (unsigned)cfg.max_connections_per_ip,
        .body_budget_bytes = (uint64_t)cfg.body_buffer_budget_mb << 20,
        .defer_threads = (unsigned)cfg.defer_threads,
        .trusted_proxies = cfg.trusted_proxies,
    };
    /* the metrics listener is plain HTTP with a thread of its own */
    struct server_options mopt = {
        .listen = cfg.metrics_listen,
        .threads = 1,
        .surfaces = metrics_surfaces,
        .header_timeout_s = (unsigned)cfg.client_header_timeout,
        .max_connections = 64,
        .defer_threads = 1,
    };
    struct server *srv = NULL, *msrv = NULL;
    if (server_start(&srv, &opt) < 0 || (metrics_apart && server_start(&msrv, &mopt) < 0)) {
        fprintf(stderr, "berth: %s\n", error_message());
        server_stop(srv);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    log_info("berth %s listening on %s%s (region %s, data %s)", BERTH_VERSION, cfg.tls_cert[0] ? "https://" : "http://",
             cfg.listen, cfg.region, cfg.data_dir);
    log_info("metadata database %s", store_database());
    if (metrics_apart)
        log_info("metrics on http://%s/metrics", cfg.metrics_listen);
    for (int sig = 0; sig != SIGINT && sig != SIGTERM;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            if (log_reopen() < 0)
                fprintf(stderr, "berth: %s\n", error_message());
            else
                log_info("log file reopened");
        }
    }
    /* Graceful: no new connections; what is in flight gets the shutdown
     * timeout to finish; then whatever is left is cut off. An upload cut
     * off keeps what it wrote and resumes after a restart. */
    log_info("stopping: no new connections; waiting up to %llds for requests in flight", (long long)cfg.shutdown_timeout);
    int64_t t0 = mono_us();
    unsigned left = server_drain(srv, cfg.shutdown_timeout * 1000);
    int64_t spent_ms = (mono_us() - t0) / 1000;
    if (left)
        log_warn("stopping: %u request%s still in flight after %llds; cutting %s off", left, left == 1 ? "" : "s",
                 (long long)cfg.shutdown_timeout, left == 1 ? "it" : "them");
    server_drain(msrv, 0);
    server_stop(srv);
    server_stop(msrv);
    audit_stop();
    jobs_stop();
    image_service_stop();
    auth_shutdown();
    store_close_thread();
    ops_release();
    log_info("stopped after %lld ms", (long long)spent_ms);
    config_release(&cfg);
    return 0;
}

/* ---- berth admin ---- */

static const char *admin_opt(int argc, char **argv, const char *name)
{
    for (int i = 3; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static int gc_extra(int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--upload-grace-hours") == 0 && *i + 1 < argc) {
        *i += 2;
        return 0;
    }
    return 1;
}

/* berth gc: one pass of the online GC now (safe while serving), with the
 * configured review delay; reports what it reclaimed. */
static int cmd_gc(int argc, char **argv)
{
    struct config cfg;
    long upload_hours = -1;
    for (int i = 2; i + 1 < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--upload-grace-hours") == 0) {
            long v = strtol(argv[i + 1], &end, 10);
            if (*end || v < 0 || v > 1000000) {
                fprintf(stderr, "berth: %s takes a number\n", argv[i]);
                return 2;
            }
            upload_hours = v;
        }
    }
    if (load_config(&cfg, argc, argv, 2, gc_extra) < 0 || open_data(&cfg) < 0) {
        config_release(&cfg);
        return 1;
    }
    struct gc_report rep;
    struct gc_options opt = {
        .delay_ms = cfg.gc_review_delay_seconds * 1000,
        .upload_grace_ms = upload_hours < 0 ? -1 : (int64_t)upload_hours * 3600000,
        .sweep_first = 0,
        .sweep_count = 256,
    };
    int64_t t0 = now_ms();
    if (gc_run(&rep, &opt) < 0) {
        fprintf(stderr, "berth: gc: %s\n", error_message());
        store_close_thread();
        config_release(&cfg);
        return 1;
    }
    if (rep.busy)
        printf("gc: another server is collecting now; nothing was done\n");
    printf("gc: %lld unused links dropped, %lld blobs and %lld orphan files removed (%lld bytes), %lld uploads "
           "abandoned in %lld ms\n",
           (long long)rep.links_dropped, (long long)rep.blobs_removed, (long long)rep.orphans_removed,
           (long long)rep.bytes_freed, (long long)rep.uploads_removed, (long long)(now_ms() - t0));
    store_close_thread();
    auth_shutdown();
    config_release(&cfg);
    return 0;
}

static int fsck_extra(int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--verify-digests") != 0)
        return 1;
    (*i)++;
    return 0;
}

/* berth fsck: reads only, so it needs no stopped server (fsck/fsck.h). */
static int cmd_fsck(int argc, char **argv)
{
    struct config cfg;
    struct fsck_report rep;
    struct fsck_options opt = {.out = stdout};
    for (int i = 2; i < argc; i++)
        opt.verify_digests = opt.verify_digests || strcmp(argv[i], "--verify-digests") == 0;
    if (load_config(&cfg, argc, argv, 2, fsck_extra) < 0) {
        config_release(&cfg);
        return 2;
    }
    int rc = blobstore_set_archive(cfg.archive_dir);
    opt.blob_store = cfg.blob_store;
    if (rc == 0)
        rc = fsck_run(&rep, cfg.data_dir, &opt);
    if (rc < 0)
        fprintf(stderr, "berth: fsck: %s\n", error_message());
    config_release(&cfg);
    return rc < 0 ? 2 : rep.problems ? 1 : 0;
}

static int admin_extra(int argc, char **argv, int *i)
{
    /* the admin commands' own options are read by admin_opt */
    static const char *const own[] = {"--account-id", "--access-key-id", "--principal", "--action", "--resource", "--context",
                                      "--repository", "--at", "--secret", "--filter", "--webhook", "--state", NULL};
    for (const char *const *o = own; *o; o++)
        if (strcmp(argv[*i], *o) == 0 && *i + 1 < argc) {
            *i += 2;
            return 0;
        }
    return 1;
}

static void admin_usage(void)
{
    printf("usage: berth admin <command> [--data DIR] [options]\n\n"
           "  create-account [--account-id ID]      a new account (12 digits; random when omitted) and its root key\n"
           "  list-accounts                         accounts and their root access key ids\n"
           "  create-root-key --account-id ID       another root access key for the account\n"
           "  rotate-root-key --account-id ID       a new root key; the account's other root keys are deleted\n"
           "  delete-root-key --access-key-id AKID  delete a root access key\n"
           "  simulate --principal ARN --action ecr:PutImage --resource ARN [--context aws:SourceIp=1.2.3.4 ...]\n"
           "                                        the policy decision for a request, and the statement that decided it\n"
           "  jobs                                  the background job queue: kind, key, state, next run, attempts, last error\n"
           "  lifecycle run [--repository R] [--account-id ID] [--at EPOCH_SECONDS]\n"
           "                                        run lifecycle policies now (as of --at) and print each action\n"
           "  lifecycle history [--repository R] [--account-id ID]\n"
           "                                        what lifecycle policies did: time, repository, digest, tags, rule, action, outcome\n"
           "  webhook add URL [--secret S|-] [--filter detail-type=...,repository-name=...]\n"
           "                                        deliver ECR events to URL (signed with S; berth makes one when omitted)\n"
           "  webhook list | webhook remove ID      the webhooks; remove one with its deliveries\n"
           "  webhook deliveries [--webhook ID] [--state pending|delivered|failed]\n"
           "                                        each delivery: state, attempts, last status and error, next attempt\n\n"
           "Secrets are printed once, on standard output. The commands work while berth serves.\n");
}

static int print_new_root_key(const char *account)
{
    char akid[21], secret[41];
    auth_new_access_key(akid, secret);
    if (auth_store_key(akid, account, NULL, secret) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }
    printf("account %s\n[berth-%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", account, account, akid, secret);
    return 0;
}

struct key_list {
    char ids[64][32];
    int n;
};

static int collect_key(void *ctx, const struct access_key *k)
{
    struct key_list *l = ctx;
    if (l->n < 64)
        snprintf(l->ids[l->n++], sizeof(l->ids[0]), "%s", k->id);
    return 0;
}

static int print_account(void *ctx, const char *id)
{
    struct key_list keys = {0};
    int *error = ctx, rc = store_root_keys(id, collect_key, &keys);
    if (rc < 0) {
        *error = rc;
        return 1;
    }
    printf("%s", id);
    for (int i = 0; i < keys.n; i++)
        printf(" %s", keys.ids[i]);
    printf("\n");
    return 0;
}

static int admin_list_accounts(void)
{
    int error = 0, rc = store_accounts_each(print_account, &error);
    if (rc == 0)
        rc = error;
    if (rc < 0)
        fprintf(stderr, "berth: %s\n", error_message());
    return rc;
}

static int print_job(void *ctx, const struct job *j)
{
    (void)ctx;
    char when[32];
    time_t t = (time_t)(j->run_at / 1000);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    const char *state = j->failed ? "failed" : j->lease_until > now_ms() ? "running" : "pending";
    printf("%s\t%s\t%s\t%s\t%d\t%s\n", j->kind, j->key, state, when, j->attempts, j->last_error ? j->last_error : "");
    return 0;
}

/* berth admin jobs: the queue, one job per line. */
static int admin_jobs(void)
{
    printf("KIND\tKEY\tSTATE\tNEXT RUN\tATTEMPTS\tLAST ERROR\n");
    if (jobs_list(print_job, NULL) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }
    return 0;
}

/* ---- berth admin lifecycle ---- */

static void print_event(void *ctx, const struct lifecycle_event *e)
{
    char when[32];
    format_time_iso(when, e->at_ms);
    printf("%s\t%s/%s\t%s\t%s\t%lld\t%s\t%s\n", when, e->account_id, e->repository, e->digest, e->tags_json,
           (long long)e->priority, e->action, e->outcome);
}

static int print_history(void *ctx, const struct lifecycle_event *e)
{
    print_event(ctx, e);
    return 0;
}

#define LIFECYCLE_COLUMNS "TIME\tREPOSITORY\tDIGEST\tTAGS\tRULE\tACTION\tOUTCOME\n"

struct lifecycle_pick {
    const char *account, *repository;
    int64_t *ids;
    size_t n, cap;
};

static int pick_repo(void *ctx, int64_t id)
{
    struct lifecycle_pick *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->ids = realloc(p->ids, p->cap * sizeof(int64_t));
        if (!p->ids)
            abort();
    }
    p->ids[p->n++] = id;
    return 0;
}

/* berth admin lifecycle run: every policy (or one repository's) now. */
static int admin_lifecycle_run(int argc, char **argv)
{
    struct lifecycle_pick pick = {admin_opt(argc, argv, "--account-id"), admin_opt(argc, argv, "--repository"), NULL, 0, 0};
    const char *at = admin_opt(argc, argv, "--at");
    int64_t now = now_ms();
    int rc = 0, found = 0;
    if (at) {
        char *end;
        long long v = strtoll(at, &end, 10);
        if (end == at || *end || v < 0) {
            fprintf(stderr, "berth: --at is a time in seconds since the epoch\n");
            return 2;
        }
        now = (int64_t)v * 1000;
    }
    if (store_lifecycle_repos(pick_repo, &pick) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        free(pick.ids);
        return 1;
    }
    printf(LIFECYCLE_COLUMNS);
    for (size_t i = 0; i < pick.n; i++) {
        struct repo repo;
        if (store_repo_get_by_id(pick.ids[i], &repo) < 0)
            continue;
        if ((!pick.account || strcmp(pick.account, repo.account_id) == 0) &&
            (!pick.repository || strcmp(pick.repository, repo.name) == 0)) {
            int acted = 0;
            found++;
            if (lifecycle_run(&repo, now, print_event, NULL, &acted) < 0) {
                fprintf(stderr, "berth: lifecycle %s/%s: %s\n", repo.account_id, repo.name, error_message());
                rc = 1;
            }
            fprintf(stderr, "%s/%s: %d action(s)\n", repo.account_id, repo.name, acted);
        }
        repo_release(&repo);
    }
    free(pick.ids);
    if (pick.repository && !found) {
        fprintf(stderr, "berth: no repository '%s' has a lifecycle policy\n", pick.repository);
        return 1;
    }
    return rc;
}

static int admin_lifecycle(int argc, char **argv)
{
    const char *sub = argc > 3 ? argv[3] : "";
    if (strcmp(sub, "run") == 0)
        return admin_lifecycle_run(argc, argv);
    if (strcmp(sub, "history") == 0) {
        printf(LIFECYCLE_COLUMNS);
        if (store_lifecycle_history(admin_opt(argc, argv, "--account-id"), admin_opt(argc, argv, "--repository"),
                                    print_history, NULL) < 0) {
            fprintf(stderr, "berth: %s\n", error_message());
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "berth: admin lifecycle run|history [--repository R] [--account-id ID]\n");
    return 2;
}

/* berth admin simulate: what would the evaluator decide, and why. */
static int admin_simulate(int argc, char **argv)
{
    const char *arn = admin_opt(argc, argv, "--principal"), *action = admin_opt(argc, argv, "--action"),
               *resource = admin_opt(argc, argv, "--resource");
    struct principal p;
    struct authz_context ctx = {0};
    char ip[64] = "";
    if (!arn || !action || !resource) {
        fprintf(stderr, "berth: simulate needs --principal, --action and --resource\n");
        return 2;
    }
    if (auth_principal_from_arn(&p, arn) < 0) {
        fprintf(stderr, "berth: --principal: %s (arn:aws:iam::<account>:root or :user/<path/>name)\n", error_message());
        return 2;
    }
    for (int i = 3; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--context") != 0)
            continue;
        const char *kv = argv[i + 1];
        if (strncasecmp(kv, "aws:SourceIp=", 13) == 0)
            snprintf(ip, sizeof(ip), "%s", kv + 13);
        else if (strncasecmp(kv, "aws:SecureTransport=", 20) == 0)
            ctx.secure_transport = strcasecmp(kv + 20, "true") == 0;
        else {
            fprintf(stderr, "berth: unsupported --context '%s' (aws:SourceIp, aws:SecureTransport)\n", kv);
            return 2;
        }
    }
    ctx.source_ip = ip;
    /* the resource's account, else the principal's */
    char racct[ARN_ACCOUNT_LEN + 1];
    const char *account = arn_account_of(racct, resource) ? racct : p.account_id;
    struct auth_decision d;
    if (auth_decide(&d, &p, action, account, resource, &ctx) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        return 1;
    }
    printf("decision: %s\n", d.result);
    printf("decided by: %s%s%s\n", d.source, d.sid[0] ? ", statement " : "", d.sid);
    if (d.message[0])
        printf("message: %s\n", d.message);
    return d.allowed ? 0 : 3;
}

static int admin_run(int argc, char **argv);

static int cmd_admin(int argc, char **argv)
{
    struct config cfg;
    if (argc < 3 || strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) {
        admin_usage();
        return argc < 3 ? 2 : 0;
    }
    /* berth admin lifecycle run|history: the word after the command is not an option */
    int first = strcmp(argv[2], "lifecycle") == 0 && argc > 3 ? 4 : 3;
    /* berth admin webhook add URL | remove ID: nor are the words after webhook */
    while (strcmp(argv[2], "webhook") == 0 && first < argc && first < 5 && argv[first][0] != '-')
        first++;
    if (load_config(&cfg, argc, argv, first, admin_extra) < 0 || open_data(&cfg) < 0) {
        config_release(&cfg);
        return 1;
    }
    /* what an admin command does in a store transaction (a lifecycle run's
     * PolicyExecutionEvent) is in the audit trail as the server's would be */
    audit_in_transaction_enable(strcmp(cfg.audit, "on") == 0);
    int rc = admin_run(argc, argv);
    store_close_thread();
    auth_shutdown();
    config_release(&cfg);
    return rc;
}

static int admin_run(int argc, char **argv)
{
    const char *cmd = argv[2];
    const char *account = admin_opt(argc, argv, "--account-id");
    int rc = 0;
    if (strcmp(cmd, "create-account") == 0) {
        char id[13];
        if (account) {
            snprintf(id, sizeof(id), "%s", account);
        } else {
            random_string(id, 12, "0123456789");
            if (id[0] == '0')
                id[0] = '1';
        }
        if (strlen(id) != 12 || strspn(id, "0123456789") != 12) {
            fprintf(stderr, "berth: an account id is 12 digits\n");
            return 1;
        }
        if (store_account_create(id) < 0) {
            fprintf(stderr, "berth: account %s: %s\n", id, error_message());
            return 1;
        }
        rc = print_new_root_key(id);
    } else if (strcmp(cmd, "list-accounts") == 0) {
        rc = admin_list_accounts();
    } else if (strcmp(cmd, "create-root-key") == 0 || strcmp(cmd, "rotate-root-key") == 0) {
        if (!account || store_account_exists(account) < 0) {
            fprintf(stderr, "berth: --account-id must name an existing account\n");
            return 1;
        }
        struct key_list old = {0};
        if ((rc = store_root_keys(account, collect_key, &old)) < 0) {
            fprintf(stderr, "berth: %s\n", error_message());
            return 1;
        }
        rc = print_new_root_key(account);
        if (rc == 0 && strcmp(cmd, "rotate-root-key") == 0)
            for (int i = 0; i < old.n; i++) {
                store_access_key_delete(old.ids[i]);
                printf("deleted %s\n", old.ids[i]);
            }
    } else if (strcmp(cmd, "simulate") == 0) {
        rc = admin_simulate(argc, argv);
    } else if (strcmp(cmd, "jobs") == 0) {
        rc = admin_jobs();
    } else if (strcmp(cmd, "lifecycle") == 0) {
        rc = admin_lifecycle(argc, argv);
    } else if (strcmp(cmd, "webhook") == 0) {
        rc = events_admin(argc, argv);
    } else if (strcmp(cmd, "delete-root-key") == 0) {
        const char *akid = admin_opt(argc, argv, "--access-key-id");
        struct access_key k;
        if (!akid || store_access_key_get(akid, &k) < 0) {
            fprintf(stderr, "berth: --access-key-id must name an existing key\n");
            return 1;
        }
        bool root = k.user_name == NULL;
        access_key_release(&k);
        if (!root) {
            fprintf(stderr, "berth: %s belongs to an IAM user: delete it with aws iam delete-access-key\n", akid);
            return 1;
        }
        rc = store_access_key_delete(akid) < 0;
        if (!rc)
            printf("deleted %s\n", akid);
    } else {
        fprintf(stderr, "berth: unknown admin command '%s'\n", cmd);
        admin_usage();
        return 2;
    }
    return rc;
}

static int vulndb_extra(int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--url") == 0 && *i + 1 < argc) {
        *i += 2;
        return 0;
    }
    return 1;
}

static int print_vulndb_count(void *ctx, const char *ecosystem, int64_t records)
{
    (void)ctx;
    printf("  %s: %lld\n", ecosystem, (long long)records);
    return 0;
}

static int vulndb_status(void)
{
    int64_t total, updated;
    char source[1024], when[32];
    if (store_vuln_total(&total) < 0 || store_vuln_updated(&updated, source, sizeof(source)) < 0)
        return -1;
    if (!updated) {
        printf("vulnerability database: empty, never updated\n");
        return 0;
    }
    format_time_iso(when, updated);
    printf("vulnerability database: %lld records, updated %s from %s\n", (long long)total, when, source);
    return store_vuln_counts(print_vulndb_count, NULL);
}

/* berth vulndb: the vulnerability database that image scans match against. */
static int cmd_vulndb(int argc, char **argv)
{
    struct config cfg;
    const char *sub = argc > 2 ? argv[2] : "";
    const char *url = NULL, *path = NULL;
    int first = 3;
    if (strcmp(sub, "import") == 0 && argc > 3 && argv[3][0] != '-') {
        path = argv[3];
        first = 4;
    }
    for (int i = first; i + 1 < argc; i++)
        if (strcmp(argv[i], "--url") == 0)
            url = argv[i + 1];
    if ((strcmp(sub, "import") == 0 && !path) || (strcmp(sub, "sync") == 0 && !url) ||
        (strcmp(sub, "import") != 0 && strcmp(sub, "sync") != 0 && strcmp(sub, "status") != 0)) {
        fprintf(stderr, "usage: berth vulndb import PATH | sync --url URL | status [--data DIR]\n");
        return 2;
    }
    if (load_config(&cfg, argc, argv, first, vulndb_extra) < 0) {
        config_release(&cfg);
        return 2;
    }
    int rc = 0;
    if (mkdir(cfg.data_dir, 0700) != 0 && access(cfg.data_dir, W_OK) != 0) {
        fprintf(stderr, "berth: cannot use data directory '%s'\n", cfg.data_dir);
        rc = -1;
    } else if (store_open(cfg.data_dir) < 0) {
        fprintf(stderr, "berth: %s\n", error_message());
        rc = -1;
    } else if (strcmp(sub, "status") == 0) {
        rc = vulndb_status();
        if (rc < 0)
            fprintf(stderr, "berth: vulndb: %s\n", error_message());
    } else {
        struct vulndb_import_stats st;
        if (path) {
            rc = vulndb_import(path, &st);
        } else {
            curl_global_init(CURL_GLOBAL_DEFAULT);
            rc = vulndb_sync(url, cfg.data_dir, &st);
            curl_global_cleanup();
        }
        if (rc < 0)
            fprintf(stderr, "berth: %s\n", error_message());
        else
            printf("vulndb: %lld records read: %lld stored, %lld unchanged, %lld withdrawn, %lld skipped (no OS "
                   "ecosystem), %lld invalid\n",
                   (long long)st.read, (long long)st.stored, (long long)st.unchanged, (long long)st.withdrawn,
                   (long long)st.skipped, (long long)st.invalid);
        /* new data: the images scanned continuously are matched again (by
         * the server's job workers, from the queue in the store) */
        if (rc == 0 && st.stored + st.withdrawn > 0 && (rc = image_rescan_all()) < 0)
            fprintf(stderr, "berth: %s\n", error_message());
        else if (rc == 0 && st.stored + st.withdrawn > 0)
            printf("vulndb: images scanned continuously will be matched against the new data\n");
    }
    store_close_thread();
    config_release(&cfg);
    return rc < 0 ? 1 : 0;
}

static const char *migrate_from;

static int migrate_extra(int argc, char **argv, int *i)
{
    if (strcmp(argv[*i], "--from") != 0 || *i + 1 >= argc)
        return 1;
    migrate_from = argv[*i + 1];
    *i += 2;
    return 0;
}

/* berth migrate --from sqlite:PATH: the registry's metadata moves into the
 * empty PostgreSQL database of --database (both schemas brought forward
 * first). */
static int migrate_copy(const struct config *cfg)
{
    struct store_copy_report rep;
    if (strncmp(migrate_from, "sqlite:", 7) != 0 || strncmp(cfg->database, "postgresql://", 13) != 0)
        return error_set(E_INVALID, "berth migrate --from takes sqlite:PATH, and --database a postgresql:// URL");
    store_set_database(migrate_from);
    int rc = store_open(cfg->data_dir);
    store_close_thread();
    store_set_database(cfg->database);
    if (rc < 0 || (rc = store_open(cfg->data_dir)) < 0 || (rc = store_copy_from_sqlite(migrate_from + 7, &rep)) < 0)
        return rc;
    printf("copied %lld rows of %lld tables (%lld images and index manifests) from %s to %s\n", (long long)rep.rows,
           (long long)rep.tables, (long long)rep.manifests, migrate_from, store_database());
    return 0;
}

/* berth migrate: the schema moves forward as at start, without serving. */
static int cmd_migrate(int argc, char **argv)
{
    struct config cfg;
    int version = 0, latest = 0;
    if (load_config(&cfg, argc, argv, 2, migrate_extra) < 0) {
        config_release(&cfg);
        return 2;
    }
    int rc = 0;
    if (migrate_from) {
        if (migrate_copy(&cfg) < 0) {
            fprintf(stderr, "berth: migrate: %s\n", error_message());
            rc = -1;
        }
    } else if (!cfg.database[0] && mkdir(cfg.data_dir, 0700) != 0 && access(cfg.data_dir, W_OK) != 0) {
        fprintf(stderr, "berth: cannot use data directory '%s'\n", cfg.data_dir);
        rc = -1;
    } else if (store_open(cfg.data_dir) < 0 || store_schema_version(&version, &latest) < 0) {
        fprintf(stderr, "berth: migrate: %s\n", error_message());
        rc = -1;
    } else {
        printf("database schema version %d (this berth's: %d)\n", version, latest);
    }
    store_close_thread();
    config_release(&cfg);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("berth %s\n", BERTH_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc, argv);
    if (strcmp(argv[1], "admin") == 0)
        return cmd_admin(argc, argv);
    if (strcmp(argv[1], "gc") == 0)
        return cmd_gc(argc, argv);
    if (strcmp(argv[1], "fsck") == 0)
        return cmd_fsck(argc, argv);
    if (strcmp(argv[1], "vulndb") == 0)
        return cmd_vulndb(argc, argv);
    if (strcmp(argv[1], "migrate") == 0)
        return cmd_migrate(argc, argv);
    fprintf(stderr, "berth: unknown command '%s' (see berth --help)\n", argv[1]);
    return 2;
}
