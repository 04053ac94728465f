/*
 * The registry surface (/v2): OCI Distribution Spec 1.1, which is the Docker
 * Registry HTTP API V2.
 */
#ifndef BERTH_REGISTRY_REGISTRY_H
#define BERTH_REGISTRY_REGISTRY_H

#include <stdbool.h>

#include "core/config.h"
#include "http/server.h"

extern const struct surface registry_surface;
void registry_configure(const struct config *c);

#endif
