/*
 * The operational endpoints, outside /v2 and the AWS APIs and without
 * their authentication:
 *   GET /healthz   200 while the process serves (liveness);
 *   GET /readyz    200 when the store answers and the blob store takes a
 *                  new file, 503 with the reason otherwise (readiness);
 *   GET /metrics   the Prometheus text exposition of core/metrics.h and
 *                  what is read at scrape time (open uploads, build info),
 *                  behind a bearer token when one is configured.
 * /metrics is served by ops_surface on the main listener unless it has a
 * listener of its own (--metrics-listen), which serves ops_metrics_surface.
 */
#ifndef BERTH_OPS_OPS_H
#define BERTH_OPS_OPS_H

#include <stdbool.h>

#include "http/server.h"

struct ops_options {
    const char *version;       /* for berth_build_info */
    const char *metrics_token; /* "" or NULL: /metrics is open */
    bool metrics_on_main;      /* serve /metrics from ops_surface too */
};

/* Copies what it keeps; call before serving. */
void ops_configure(const struct ops_options *opt);
void ops_release(void);

extern const struct surface ops_surface;
extern const struct surface ops_metrics_surface;

#endif
