/*
 * This module implements the operational endpoints of ops.h: /healthz,
 * /readyz and /metrics. Each is answered at once on the HTTP thread: the
 * checks are a read of the database's schema and the creation of an
 * unnamed file in the blob store (closed at once), and the exposition is a
 * walk over the metrics tables plus one count(*) of open uploads.
 */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "blob/blobstore.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/util.h"
#include "store/health.h"

#define METRICS_MAX (16u << 20)

static struct {
    char *version;
    char *token;
    bool metrics_on_main;
    double started; /* wall clock, seconds */
} ops;

void ops_configure(const struct ops_options *opt)
{
    ops_release();
    ops.version = xstrdup(opt->version ? opt->version : "");
    ops.token = opt->metrics_token && *opt->metrics_token ? xstrdup(opt->metrics_token) : NULL;
    ops.metrics_on_main = opt->metrics_on_main;
    ops.started = (double)now_ms() / 1000.0;
}

void ops_release(void)
{
    free(ops.version);
    if (ops.token)
        memset(ops.token, 0, strlen(ops.token));
    free(ops.token);
    ops.version = ops.token = NULL;
}

static void respond_text(struct request *r, unsigned status, const char *text)
{
    http_respond(r, status, "text/plain; charset=utf-8", text, strlen(text));
    http_set_header(r, "Cache-Control", "no-store");
}

static void healthz(struct request *r)
{
    respond_text(r, 200, "ok\n");
}

static void readyz(struct request *r)
{
    char msg[512];
    int fd;
    if (store_ping() < 0) {
        snprintf(msg, sizeof(msg), "not ready: metadata store: %s\n", error_message());
        log_warn("readyz: metadata store: %s", error_message());
        respond_text(r, 503, msg);
        return;
    }
    if ((fd = upload_spool()) < 0) {
        snprintf(msg, sizeof(msg), "not ready: blob store: %s\n", error_message());
        log_warn("readyz: blob store: %s", error_message());
        respond_text(r, 503, msg);
        return;
    }
    close(fd);
    respond_text(r, 200, "ready\n");
}

/* Authorization: Bearer <token>, compared in constant time. */
static bool metrics_allowed(struct request *r)
{
    static const char prefix[] = "Bearer ";
    if (!ops.token)
        return true;
    const char *h = http_header(r, "Authorization");
    if (!h || strncasecmp(h, prefix, sizeof(prefix) - 1) != 0)
        return false;
    h += sizeof(prefix) - 1;
    return secure_equal(h, strlen(h), ops.token, strlen(ops.token));
}

/* What is read when scraped rather than counted. */
static int render_scrape_time(struct buf *out)
{
    static const char *const build_labels[] = {"version", NULL};
    const char *const build_values[] = {ops.version};
    int64_t uploads = 0;
    int rc = 0;
    rc |= metrics_render_header(out, "berth_build_info", "gauge", "The running berth's version (always 1)");
    rc |= metrics_render_sample(out, "berth_build_info", build_labels, build_values, 1);
    rc |= metrics_render_header(out, "berth_process_start_time_seconds", "gauge",
                                "When this process started, in seconds since the Unix epoch");
    rc |= metrics_render_sample(out, "berth_process_start_time_seconds", NULL, NULL, ops.started);
    if (store_uploads_open(&uploads) < 0) {
        log_warn("metrics: %s", error_message());
        return rc; /* the rest of the exposition is still worth having */
    }
    rc |= metrics_render_header(out, "berth_uploads_in_flight", "gauge",
                                "Blob upload sessions begun and not yet completed, cancelled or expired "
                                "(every server sharing the store)");
    rc |= metrics_render_sample(out, "berth_uploads_in_flight", NULL, NULL, (double)uploads);
    return rc;
}

static void metrics(struct request *r)
{
    struct buf b;
    if (!metrics_allowed(r)) {
        respond_text(r, 401, "a bearer token is needed for /metrics\n");
        http_set_header(r, "WWW-Authenticate", "Bearer realm=\"berth metrics\"");
        return;
    }
    buf_init(&b, METRICS_MAX);
    if (metrics_render(&b) < 0 || render_scrape_time(&b) < 0) {
        buf_release(&b);
        respond_text(r, 500, "cannot render the metrics\n");
        return;
    }
    http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr, b.len);
    http_set_header(r, "Cache-Control", "no-store");
    buf_release(&b);
}

struct endpoint {
    const char *path;
    const char *name; /* the operation label of its metrics */
    bool metrics;     /* /metrics: on the main listener only when configured */
    void (*serve)(struct request *r);
};

static const struct endpoint endpoints[] = {
    {"/healthz", "Healthz", false, healthz},
    {"/readyz", "Readyz", false, readyz},
    {"/metrics", "Metrics", true, metrics},
};

static const struct endpoint *endpoint_of(const struct request *r, bool metrics_here)
{
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
        if (strcmp(r->path, endpoints[i].path) == 0 && (!endpoints[i].metrics || metrics_here))
            return &endpoints[i];
    return NULL;
}

static void serve(struct request *r, bool metrics_here)
{
    const struct endpoint *e = endpoint_of(r, metrics_here);
    r->route = e->name;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        respond_text(r, 405, "method not allowed\n");
        http_set_header(r, "Allow", "GET, HEAD");
        return;
    }
    e->serve(r);
}

static bool main_claims(struct request *r)
{
    return endpoint_of(r, ops.metrics_on_main) != NULL;
}

static void main_begin(struct request *r)
{
    serve(r, ops.metrics_on_main);
}

static bool metrics_claims(struct request *r)
{
    return endpoint_of(r, true) != NULL;
}

static void metrics_begin(struct request *r)
{
    serve(r, true);
}

static void no_finish(struct request *r)
{
    /* every endpoint answers in begin() */
    (void)r;
}

const struct surface ops_surface = {
    .name = "ops",
    .claims = main_claims,
    .begin = main_begin,
    .finish = no_finish,
};

const struct surface ops_metrics_surface = {
    .name = "ops",
    .claims = metrics_claims,
    .begin = metrics_begin,
    .finish = no_finish,
};
