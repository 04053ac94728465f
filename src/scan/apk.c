/*
 * This module implements the apk half of scan.h's parsers: Alpine's
 * installed database (/lib/apk/db/installed).
 *
 * The database is stanzas separated by blank lines, one "X:value" field
 * per line with a one-letter key (apk-tools' doc/apk-package(5)): P is the
 * package name, V its version, o its origin, the aport (source package) it
 * was built from, which Alpine's advisories name. Packages built from one
 * aport share its version, so the origin's version is the package's.
 */
#include "scan/scan.h"

#include <string.h>

#include "scan/internal.h"

int apk_parse_installed(struct inventory *inv, const char *text, size_t n)
{
    struct slice name = {NULL, 0}, version = {NULL, 0}, origin = {NULL, 0}, line;
    size_t pos = 0;
    int more;
    do {
        more = next_line(text, n, &pos, &line);
        if (!more || line.len == 0) {
            if (name.len && version.len)
                inventory_add(inv, PKG_APK, name, version, origin, version);
            name.len = version.len = origin.len = 0;
            continue;
        }
        if (line.len < 2 || line.base[1] != ':')
            continue;
        struct slice value = {line.base + 2, line.len - 2};
        if (line.base[0] == 'P')
            name = value;
        else if (line.base[0] == 'V')
            version = value;
        else if (line.base[0] == 'o')
            origin = value;
    } while (more);
    return 0;
}
