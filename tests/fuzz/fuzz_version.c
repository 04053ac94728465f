/*
 * libFuzzer target for version comparison (src/scan/version.c): the input
 * is two versions separated by a NUL byte. For dpkg, apk and rpm the
 * comparison must be antisymmetric (a<b exactly when b>a) and reflexive,
 * on any bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan/version.h"
#include "check.h"

static int sign(int v)
{
    return v < 0 ? -1 : v > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *z = malloc(size + 2);
    memcpy(z, data, size);
    z[size] = 0;
    z[size + 1] = 0;
    const char *a = z, *b = z + strlen(z) + 1;
    if (b > z + size)
        b = z + size + 1;
    static const enum version_kind kinds[] = {VERSION_DPKG, VERSION_APK, VERSION_RPM};
    for (size_t k = 0; k < 3; k++) {
        CHECK(version_compare(kinds[k], a, a) == 0);
        CHECK(version_compare(kinds[k], b, b) == 0);
        CHECK(sign(version_compare(kinds[k], a, b)) == -sign(version_compare(kinds[k], b, a)));
    }
    CHECK(sign(version_rpmvercmp(a, b)) == -sign(version_rpmvercmp(b, a)));
    free(z);
    return 0;
}
