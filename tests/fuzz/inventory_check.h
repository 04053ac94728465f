/*
 * Shared by the scan/ fuzz targets: what every inventory must satisfy,
 * whatever input made it. Each package's fields are non-empty printable
 * ASCII without spaces (what matching and the JSON form rely on), the list
 * is sorted without duplicates, and the JSON form reads back to itself.
 */
#ifndef BERTH_FUZZ_INVENTORY_CHECK_H
#define BERTH_FUZZ_INVENTORY_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "scan/scan.h"

static inline void check_field(const char *z)
{
    size_t n = strlen(z);
    if (n == 0 || n > 256)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)z[i] <= 0x20 || (unsigned char)z[i] >= 0x7f)
            abort();
}

static inline void check_inventory(struct inventory *inv)
{
    inventory_finish(inv);
    for (size_t i = 0; i < inv->npkgs; i++) {
        const struct package *p = &inv->pkgs[i];
        if (p->format < PKG_DPKG || p->format > PKG_RPM)
            abort();
        check_field(p->name);
        check_field(p->version);
        check_field(p->source_name);
        check_field(p->source_version);
        if (i > 0 && strcmp(inv->pkgs[i - 1].name, p->name) > 0)
            abort();
    }
    char *z = inventory_to_json(inv);
    struct inventory back;
    if (inventory_from_json(&back, z, strlen(z)) != 0 || back.npkgs != inv->npkgs)
        abort();
    char *again = inventory_to_json(&back);
    if (strcmp(z, again) != 0)
        abort();
    free(again);
    free(z);
    inventory_release(&back);
    error_clear();
}

#endif
