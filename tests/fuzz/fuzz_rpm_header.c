/*
 * libFuzzer target for the rpm header blob parser (src/scan/rpm.c): any
 * bytes are either refused with E_INVALID or give at most one sane
 * package whose name is in the blob. Inputs that start like an SQLite
 * database are also read as an rpmdb, which must not crash either.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inventory inv;
    inventory_init(&inv);
    int rc = rpm_parse_header(&inv, data, size);
    if (rc != 0 && rc != E_INVALID)
        abort();
    if (rc != 0 && inv.npkgs != 0)
        abort();
    if (inv.npkgs > 1 || (inv.npkgs == 1 && !memmem(data, size, inv.pkgs[0].name, strlen(inv.pkgs[0].name))))
        abort();
    check_inventory(&inv);
    inventory_release(&inv);
    if (size >= 16 && memcmp(data, "SQLite format 3", 16) == 0) {
        inventory_init(&inv);
        rc = rpm_parse_sqlite(&inv, data, size);
        if (rc != 0 && rc != E_INVALID)
            abort();
        check_inventory(&inv);
        inventory_release(&inv);
    }
    error_clear();
    return 0;
}
