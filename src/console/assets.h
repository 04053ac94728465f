/*
 * The console's files, built into the binary (assets_data.S includes them with
 * .incbin at build time, so berth serves its pages offline and needs
 * nothing at run time).
 */
#ifndef BERTH_CONSOLE_ASSETS_H
#define BERTH_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
    const char *name; /* path under /console/ */
    const char *content_type;
    const char *data;
    size_t size;
    char etag[24]; /* "<16 hex of its SHA-256>" */
};

/* The asset of that name, or NULL. */
const struct console_asset *console_asset_find(const char *name);

#endif
