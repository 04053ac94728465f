/*
 * What the operational endpoints ask of the store: is it reachable, and
 * how many upload sessions are open (for /readyz and /metrics).
 */
#ifndef BERTH_STORE_HEALTH_H
#define BERTH_STORE_HEALTH_H

#include <stdint.h>

/* 0 when this thread's connection answers a read of the schema. */
int store_ping(void);
/* Upload sessions begun and not yet completed, cancelled or expired. */
int store_uploads_open(int64_t *out);

#endif
