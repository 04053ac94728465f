/*
 * The two range headers of the registry API:
 *   Range: bytes=<first>-<last> | bytes=<first>- | bytes=-<suffix>   (blob GET)
 *   Content-Range: <first>-<last>                                    (upload PATCH)
 * (for the latter also "bytes=<first>-<last>" and "bytes <first>-<last>/<total|*>",
 * which some clients send).
 */
#ifndef BERTH_REGISTRY_RANGE_H
#define BERTH_REGISTRY_RANGE_H

#include <stdint.h>

#include "core/buf.h"

/* Resolves a Range header against a blob of size bytes into an inclusive
 * [first, last]. E_INVALID when malformed or multi-range (serve the whole
 * blob), E_RANGE when well-formed but unsatisfiable (416). */
int range_parse(struct slice header, uint64_t size, uint64_t *first, uint64_t *last);

/* Parses a Content-Range of an upload chunk into an inclusive [first, last]. */
int content_range_parse(struct slice header, uint64_t *first, uint64_t *last);

#endif
