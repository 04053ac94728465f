/*
 * Expiring idle upload sessions when several servers share the store: a
 * session is removed by the one server whose delete finds it still idle.
 */
#ifndef BERTH_STORE_EXPIRY_H
#define BERTH_STORE_EXPIRY_H

#include <stdint.h>

/* Deletes upload session id if nobody has written to it since cutoff_ms.
 * E_NOTFOUND when it is gone or was written to meanwhile (another server
 * expired it first, or a client is using it): the caller leaves it. */
int store_upload_expire(const char *id, int64_t cutoff_ms);

#endif
