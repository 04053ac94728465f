/*
 * This module implements name and tag validation and the /v2 path splitter.
 * Names may themselves contain "blobs" or "manifests" components, so the
 * path is split from its end, where the grammar is unambiguous: a tag,
 * digest or upload id never contains '/'.
 */
#include "image/reference.h"

#include <string.h>

#include "core/error.h"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool repo_name_valid(struct slice name)
{
    /* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
     * as a full match: runs of [a-z0-9] joined by exactly one separator,
     * which is '/', '.', '_', "__" or any number of '-' */
    size_t i = 0, n = name.len;
    const char *z = name.base;
    if (n < 2 || n > REPO_NAME_MAX)
        return false;
    for (;;) {
        size_t start = i;
        while (i < n && is_lower_alnum(z[i]))
            i++;
        if (i == start)
            return false;
        if (i == n)
            return true;
        switch (z[i]) {
        case '/':
        case '.':
            i++;
            break;
        case '_':
            i++;
            if (i < n && z[i] == '_')
                i++;
            break;
        case '-':
            while (i < n && z[i] == '-')
                i++;
            break;
        default:
            return false;
        }
    }
}

bool tag_valid(struct slice tag)
{
    if (tag.len < 1 || tag.len > TAG_MAX)
        return false;
    for (size_t i = 0; i < tag.len; i++) {
        char c = tag.base[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  (i > 0 && (c == '.' || c == '-'));
        if (!ok)
            return false;
    }
    return true;
}

/* The last path component of s[0, end) and where it starts. */
static struct slice last_component(struct slice s, size_t end, size_t *start_out)
{
    size_t i = end;
    while (i > 0 && s.base[i - 1] != '/')
        i--;
    *start_out = i;
    struct slice c = {s.base + i, end - i};
    return c;
}

int v2_path_parse(struct slice path, struct v2_path *out)
{
    memset(out, 0, sizeof(*out));
    if (!slice_starts_with(path, "/v2"))
        return error_set(E_NOTFOUND, "not a registry path");
    struct slice rest = {path.base + 3, path.len - 3};
    if (rest.len == 0 || slice_eq(rest, "/")) {
        out->route = V2_BASE;
        return 0;
    }
    if (rest.base[0] != '/')
        return error_set(E_NOTFOUND, "not a registry path");
    rest.base++;
    rest.len--;
    if (slice_eq(rest, "_catalog")) {
        out->route = V2_CATALOG;
        return 0;
    }

    /* /blobs/uploads/ (trailing slash optional) */
    size_t end = rest.len;
    bool trailing = end > 0 && rest.base[end - 1] == '/';
    if (trailing)
        end--;
    size_t s1, s2, s3;
    struct slice c1 = last_component(rest, end, &s1);
    if (s1 < 2)
        return error_set(E_NOTFOUND, "not a registry path");
    struct slice c2 = last_component(rest, s1 - 1, &s2);
    if (slice_eq(c1, "uploads") && slice_eq(c2, "blobs") && s2 >= 2) {
        out->route = V2_UPLOAD_START;
        out->name = (struct slice){rest.base, s2 - 1};
        return 0;
    }
    if (trailing)
        return error_set(E_NOTFOUND, "not a registry path");
    if (s2 < 2)
        return error_set(E_NOTFOUND, "not a registry path");
    struct slice c3 = last_component(rest, s2 - 1, &s3);
    if (slice_eq(c2, "uploads") && slice_eq(c3, "blobs") && s3 >= 2) {
        out->route = V2_UPLOAD;
        out->name = (struct slice){rest.base, s3 - 1};
        out->ref = c1;
        return 0;
    }
    out->name = (struct slice){rest.base, s2 - 1};
    out->ref = c1;
    if (slice_eq(c2, "manifests"))
        out->route = V2_MANIFEST;
    else if (slice_eq(c2, "blobs"))
        out->route = V2_BLOB;
    else if (slice_eq(c2, "referrers"))
        out->route = V2_REFERRERS;
    else if (slice_eq(c2, "tags") && slice_eq(c1, "list"))
        out->route = V2_TAGS;
    else
        return error_set(E_NOTFOUND, "not a registry path");
    if (c1.len == 0)
        return error_set(E_NOTFOUND, "not a registry path");
    return 0;
}
