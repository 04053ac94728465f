/*
 * This module implements the distribution half of scan.h: os-release(5)
 * parsing and the OSV ecosystem name each distribution's advisories use.
 *
 * os-release is KEY=value lines; a value may be quoted with " or ' and,
 * inside double quotes, escape " \ $ ` with a backslash. The ecosystem
 * names are spelled as osv.dev's records spell them:
 *
 *   debian 12            -> Debian:12
 *   ubuntu 22.04 (LTS)   -> Ubuntu:22.04:LTS, a non-LTS release Ubuntu:23.10
 *   alpine 3.19.1        -> Alpine:v3.19
 *   rhel 9.3             -> Red Hat:enterprise_linux:9 (records add "::appstream",
 *                           "::baseos"...: a matcher compares this prefix)
 *   rocky 9.3            -> Rocky Linux:9
 *   almalinux 9.3        -> AlmaLinux:9
 *
 * Fedora and Amazon Linux have no OSV ecosystem: their distribution is
 * reported and their packages listed, with no ecosystem to match against.
 */
#include "scan/scan.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "scan/internal.h"

#define OS_VALUE_MAX 256

/* The value after '=', unquoted; NULL when malformed. */
static char *os_value(struct slice v)
{
    struct buf b;
    v = slice_trim(v);
    buf_init(&b, OS_VALUE_MAX);
    if (v.len && (v.base[0] == '"' || v.base[0] == '\'')) {
        char q = v.base[0];
        size_t i = 1;
        for (; i < v.len && v.base[i] != q; i++) {
            char c = v.base[i];
            if (q == '"' && c == '\\' && i + 1 < v.len && strchr("\"\\$`", v.base[i + 1]))
                c = v.base[++i];
            if (buf_putc(&b, c) < 0)
                goto bad;
        }
        if (i >= v.len)
            goto bad; /* unterminated */
    } else if (buf_put(&b, v.base, v.len) < 0) {
        goto bad;
    }
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.ptr[i] < 0x20)
            goto bad;
    return buf_detach(&b);
bad:
    buf_release(&b);
    return NULL;
}

/* The first `parts` dot-separated numbers of version ("3.19.1", 2 -> "3.19");
 * NULL unless each is digits. */
static char *version_prefix(const char *version, int parts)
{
    const char *z = version;
    for (int i = 0; i < parts; i++) {
        if (i > 0) {
            if (*z != '.')
                return NULL;
            z++;
        }
        if (*z < '0' || *z > '9')
            return NULL;
        while (*z >= '0' && *z <= '9')
            z++;
    }
    return xstrndup(version, (size_t)(z - version));
}

char *os_ecosystem(const char *id, const char *version_id, const char *version)
{
    struct buf b;
    char *v = NULL;
    if (!id || !version_id)
        return NULL;
    buf_init(&b, BUF_UNLIMITED);
    if (strcmp(id, "debian") == 0 && (v = version_prefix(version_id, 1)) != NULL) {
        buf_printf(&b, "Debian:%s", v);
    } else if (strcmp(id, "ubuntu") == 0 && (v = version_prefix(version_id, 2)) != NULL) {
        buf_printf(&b, "Ubuntu:%s%s", v, version && strstr(version, "LTS") ? ":LTS" : "");
    } else if (strcmp(id, "alpine") == 0 && (v = version_prefix(version_id, 2)) != NULL) {
        buf_printf(&b, "Alpine:v%s", v);
    } else if (strcmp(id, "rhel") == 0 && (v = version_prefix(version_id, 1)) != NULL) {
        buf_printf(&b, "Red Hat:enterprise_linux:%s", v);
    } else if (strcmp(id, "rocky") == 0 && (v = version_prefix(version_id, 1)) != NULL) {
        buf_printf(&b, "Rocky Linux:%s", v);
    } else if (strcmp(id, "almalinux") == 0 && (v = version_prefix(version_id, 1)) != NULL) {
        buf_printf(&b, "AlmaLinux:%s", v);
    }
    free(v);
    if (b.len == 0) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static void set(char **field, char *value)
{
    free(*field);
    *field = value;
}

int os_release_parse(struct inventory *inv, const char *text, size_t n)
{
    char *id = NULL, *version_id = NULL, *name = NULL, *version = NULL;
    struct slice line;
    size_t pos = 0;
    while (next_line(text, n, &pos, &line)) {
        struct slice s = slice_trim(line);
        const char *eq = s.len ? memchr(s.base, '=', s.len) : NULL;
        if (!eq || s.base[0] == '#')
            continue;
        struct slice key = {s.base, (size_t)(eq - s.base)};
        struct slice val = {eq + 1, s.len - key.len - 1};
        char **field = slice_eq(key, "ID")           ? &id
                       : slice_eq(key, "VERSION_ID")  ? &version_id
                       : slice_eq(key, "PRETTY_NAME") ? &name
                       : slice_eq(key, "VERSION")     ? &version
                                                      : NULL;
        if (field)
            set(field, os_value(val));
    }
    if (id) {
        /* ID is lowercase by definition; keep it so */
        for (char *z = id; *z; z++)
            if (*z >= 'A' && *z <= 'Z')
                *z = (char)(*z - 'A' + 'a');
    }
    set(&inv->ecosystem, os_ecosystem(id, version_id, version));
    set(&inv->os_id, id);
    set(&inv->os_version, version_id);
    set(&inv->os_name, name);
    free(version);
    return 0;
}
