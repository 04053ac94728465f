/*
 * libFuzzer target for the dpkg status parser (src/scan/dpkg.c) and the
 * os-release parser beside it: any bytes, read as a status file and as a
 * distroless status.d file, give an inventory whose packages are sane and
 * whose JSON form reads back to itself; a package is listed only when the
 * input holds its name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int status_d = 0; status_d < 2; status_d++) {
        struct inventory inv;
        inventory_init(&inv);
        if (dpkg_parse_status(&inv, (const char *)data, size, status_d) != 0)
            abort();
        os_release_parse(&inv, (const char *)data, size);
        check_inventory(&inv);
        for (size_t i = 0; i < inv.npkgs; i++)
            if (!memmem(data, size, inv.pkgs[i].name, strlen(inv.pkgs[i].name)))
                abort();
        inventory_release(&inv);
    }
    return 0;
}
