/*
 * libFuzzer target for apk's installed-database parser (src/scan/apk.c):
 * any bytes give an inventory whose packages are sane and whose JSON form
 * reads back to itself; each package's name and version appear in the
 * input as its P: and V: lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct inventory inv;
    inventory_init(&inv);
    if (apk_parse_installed(&inv, (const char *)data, size) != 0)
        abort();
    check_inventory(&inv);
    for (size_t i = 0; i < inv.npkgs; i++) {
        char line[300];
        int n = snprintf(line, sizeof(line), "P:%s", inv.pkgs[i].name);
        if (!memmem(data, size, line, (size_t)n))
            abort();
        n = snprintf(line, sizeof(line), "V:%s", inv.pkgs[i].version);
        if (!memmem(data, size, line, (size_t)n))
            abort();
    }
    inventory_release(&inv);
    return 0;
}
