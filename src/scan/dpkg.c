/*
 * This module implements the dpkg half of scan.h's parsers: the status
 * database (/var/lib/dpkg/status) and distroless images' one-file-per-
 * package status.d directory.
 *
 * The file is deb822 stanzas separated by blank lines; a field is
 * "Name: value" and lines starting with a space or tab continue the
 * previous field (only multi-line fields such as Description use them, and
 * none of those is read). A package counts when its Status says it is
 * installed ("install ok installed", "hold ok installed"): removed packages
 * whose configuration stays ("deinstall ok config-files") do not. status.d
 * files often carry no Status at all; there, no Status means installed.
 *
 * The Source field names the source package, and carries the source's own
 * version in parentheses when it differs from the binary's ("Source: glibc
 * (2.36-9+deb12u4)", for a binNMU or a package that versions itself):
 * Debian and Ubuntu advisories are about source packages, so both are kept.
 */
#include "scan/scan.h"

#include <string.h>

#include "core/error.h"
#include "scan/internal.h"

struct stanza {
    struct slice package, version, source, status, arch;
    int has_status;
};

/* "install ok installed": the third word is the package's state. */
static int installed(struct slice status)
{
    struct slice word[3];
    const char *z = status.base, *end = status.base + status.len;
    for (int i = 0; i < 3; i++) {
        while (z < end && *z == ' ')
            z++;
        const char *w = z;
        while (z < end && *z != ' ')
            z++;
        word[i] = (struct slice){w, (size_t)(z - w)};
    }
    while (z < end && *z == ' ')
        z++;
    return z == end && slice_eq(word[1], "ok") && slice_eq(word[2], "installed");
}

static void finish(struct inventory *inv, struct stanza *s, int status_d)
{
    if (s->package.len && s->version.len && (s->has_status ? installed(s->status) : status_d)) {
        struct slice src = {NULL, 0}, src_version = {NULL, 0};
        if (s->source.len) {
            const char *paren = memchr(s->source.base, '(', s->source.len);
            src = s->source;
            if (paren) {
                const char *close = memchr(paren, ')', (size_t)(s->source.base + s->source.len - paren));
                src.len = (size_t)(paren - s->source.base);
                if (close)
                    src_version = slice_trim((struct slice){paren + 1, (size_t)(close - paren - 1)});
            }
            src = slice_trim(src);
        }
        inventory_add(inv, PKG_DPKG, s->package, s->version, src, src_version);
    }
    memset(s, 0, sizeof(*s));
}

int dpkg_parse_status(struct inventory *inv, const char *text, size_t n, int status_d)
{
    struct stanza s;
    struct slice line;
    size_t pos = 0;
    memset(&s, 0, sizeof(s));
    while (next_line(text, n, &pos, &line)) {
        if (slice_trim(line).len == 0) {
            finish(inv, &s, status_d);
            continue;
        }
        if (line.base[0] == ' ' || line.base[0] == '\t')
            continue;
        const char *colon = memchr(line.base, ':', line.len);
        if (!colon)
            continue;
        struct slice key = {line.base, (size_t)(colon - line.base)};
        struct slice value = slice_trim((struct slice){colon + 1, line.len - key.len - 1});
        if (slice_eq_nocase(key, "Package"))
            s.package = value;
        else if (slice_eq_nocase(key, "Version"))
            s.version = value;
        else if (slice_eq_nocase(key, "Source"))
            s.source = value;
        else if (slice_eq_nocase(key, "Status")) {
            s.status = value;
            s.has_status = 1;
        }
    }
    finish(inv, &s, status_d);
    return 0;
}
