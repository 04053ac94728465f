/*
 * Helpers shared by the package database parsers of scan/ (not part of
 * scan.h's interface).
 */
#ifndef BERTH_SCAN_INTERNAL_H
#define BERTH_SCAN_INTERNAL_H

#include <stddef.h>
#include <string.h>

#include "core/buf.h"

/* The next line of text from *pos, without its "\n" or "\r\n"; 0 at the
 * end. */
static inline int next_line(const char *text, size_t n, size_t *pos, struct slice *line)
{
    if (*pos >= n)
        return 0;
    const char *z = text + *pos;
    const char *nl = memchr(z, '\n', n - *pos);
    size_t len = nl ? (size_t)(nl - z) : n - *pos;
    *pos += len + (nl ? 1 : 0);
    if (len && z[len - 1] == '\r')
        len--;
    line->base = z;
    line->len = len;
    return 1;
}

#endif
