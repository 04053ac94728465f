/*
 * libFuzzer target for the layer walker (src/scan/layers.c): any bytes,
 * applied as a layer (then again as a second layer, so whiteouts and
 * replacements meet a lower layer), under small limits, are refused with
 * E_INVALID or E_TOOBIG or give a view whose files respect the limits and
 * whose inventory is sane.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_check.h"

static const char *const paths[] = {"etc/os-release", "usr/lib/os-release", "var/lib/dpkg/status", "lib/apk/db/installed",
                                    "var/lib/rpm/rpmdb.sqlite"};

static int each(void *ctx, const char *name, struct slice content)
{
    size_t *total = ctx;
    if (!name[0] || strchr(name, '/') || content.len > 4096)
        abort();
    *total += content.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scan_limits l;
    scan_limits_default(&l);
    l.max_layer_bytes = 1 << 20;
    l.max_layer_entries = 1000;
    l.max_file_bytes = 4096;
    l.max_view_bytes = 16384;
    l.max_files = 64;
    struct scan_view *v = scan_view_new(&l);
    int rc = 0;
    for (int layer = 0; layer < 2 && rc == 0; layer++) {
        rc = scan_view_apply_mem(v, data, size);
        if (rc != 0 && rc != E_INVALID && rc != E_TOOBIG)
            abort();
    }
    if (rc == 0) {
        struct slice s;
        size_t total = 0;
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
            if (scan_view_get(v, paths[i], &s) == 0 && s.len > 4096)
                abort();
        scan_view_each(v, "var/lib/dpkg/status.d", each, &total);
        if (total > 16384)
            abort();
        const struct scan_stats *st = scan_view_stats(v);
        if (st->layers != 2 || st->bytes_expanded > 2u << 20)
            abort();
        struct inventory inv;
        inventory_init(&inv);
        inventory_from_view(&inv, v);
        check_inventory(&inv);
        inventory_release(&inv);
    }
    scan_view_free(v);
    error_clear();
    return 0;
}
