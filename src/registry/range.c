/*
 * This module implements the Range and Content-Range parsers of range.h.
 * Numbers are bounded to 2^62 so that sums cannot overflow; in a Range
 * header a longer run of digits is as good as 2^62 (RFC 9110 lets a client
 * ask for "bytes=0-99999999999999999999999" and get the whole blob).
 */
#include "registry/range.h"

#include <string.h>

#include "core/error.h"
#include "core/util.h"

#define RANGE_NUM_MAX ((uint64_t)1 << 62)

/* "a-b" with either side possibly empty (the caller decides what is allowed) */
static int split_dash(struct slice s, struct slice *a, struct slice *b)
{
    const char *dash = memchr(s.base, '-', s.len);
    if (!dash)
        return error_set(E_INVALID, "range has no '-'");
    *a = slice_trim((struct slice){s.base, (size_t)(dash - s.base)});
    *b = slice_trim((struct slice){dash + 1, s.len - (size_t)(dash - s.base) - 1});
    return 0;
}

/* A byte position of a Range header: digits only, saturating at RANGE_NUM_MAX. */
static int parse_pos(struct slice s, uint64_t *out)
{
    if (s.len == 0)
        return E_INVALID;
    for (size_t i = 0; i < s.len; i++)
        if (s.base[i] < '0' || s.base[i] > '9')
            return E_INVALID;
    if (parse_u64(s, RANGE_NUM_MAX, out) < 0)
        *out = RANGE_NUM_MAX;
    return 0;
}

int range_parse(struct slice header, uint64_t size, uint64_t *first, uint64_t *last)
{
    struct slice a, b;
    uint64_t x, y;
    header = slice_trim(header);
    if (!slice_starts_with(header, "bytes="))
        return error_set(E_INVALID, "range unit is not bytes");
    header.base += 6;
    header.len -= 6;
    if (memchr(header.base, ',', header.len))
        return error_set(E_INVALID, "multiple ranges are not supported");
    if (split_dash(header, &a, &b) < 0)
        return E_INVALID;
    if (a.len == 0) {
        /* suffix: the last y bytes */
        if (parse_pos(b, &y) < 0)
            return error_set(E_INVALID, "bad suffix range");
        if (y == 0 || size == 0)
            return error_set(E_RANGE, "range not satisfiable");
        *first = y >= size ? 0 : size - y;
        *last = size - 1;
        return 0;
    }
    if (parse_pos(a, &x) < 0)
        return error_set(E_INVALID, "bad range start");
    if (b.len == 0) {
        y = size ? size - 1 : 0;
    } else {
        if (parse_pos(b, &y) < 0 || y < x)
            return error_set(E_INVALID, "bad range end");
        if (y >= size)
            y = size ? size - 1 : 0;
    }
    if (x >= size)
        return error_set(E_RANGE, "range not satisfiable");
    *first = x;
    *last = y;
    return 0;
}

int content_range_parse(struct slice header, uint64_t *first, uint64_t *last)
{
    struct slice a, b;
    header = slice_trim(header);
    if (slice_starts_with(header, "bytes=") || slice_starts_with(header, "bytes ")) {
        header.base += 6;
        header.len -= 6;
        const char *slash = memchr(header.base, '/', header.len);
        if (slash)
            header.len = (size_t)(slash - header.base);
    }
    if (split_dash(header, &a, &b) < 0)
        return E_INVALID;
    if (parse_u64(a, RANGE_NUM_MAX, first) < 0 || parse_u64(b, RANGE_NUM_MAX, last) < 0)
        return error_set(E_INVALID, "bad content range");
    if (*last < *first)
        return error_set(E_INVALID, "content range ends before it starts");
    return 0;
}
