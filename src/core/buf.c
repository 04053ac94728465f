/*
 * This module implements the bounded growable string and the slice helpers
 * of buf.h.
 */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"

static char empty_string[1];

struct slice slice_from(const char *z)
{
    struct slice s = {z, z ? strlen(z) : 0};
    return s;
}

/* An empty slice may have a NULL base (slice_from(NULL), a zeroed struct):
 * memcmp must not see it even for zero bytes, so n == 0 is decided first. */
bool slice_eq(struct slice a, const char *z)
{
    size_t n = strlen(z);
    return a.len == n && (n == 0 || memcmp(a.base, z, n) == 0);
}

bool slice_eq_nocase(struct slice a, const char *z)
{
    size_t n = strlen(z);
    return a.len == n && (n == 0 || strncasecmp(a.base, z, n) == 0);
}

struct slice slice_trim(struct slice a)
{
    while (a.len && (a.base[0] == ' ' || a.base[0] == '\t')) {
        a.base++;
        a.len--;
    }
    while (a.len && (a.base[a.len - 1] == ' ' || a.base[a.len - 1] == '\t'))
        a.len--;
    return a;
}

bool slice_starts_with(struct slice a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && (n == 0 || memcmp(a.base, prefix, n) == 0);
}

void buf_init(struct buf *b, size_t max)
{
    b->ptr = empty_string;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    if (b->cap)
        free(b->ptr);
    buf_init(b, b->max);
}

char *buf_detach(struct buf *b)
{
    char *p = b->cap ? b->ptr : xstrdup("");
    buf_init(b, b->max);
    return p;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap)
        b->ptr[0] = '\0';
}

static int buf_grow(struct buf *b, size_t extra)
{
    size_t want;
    if (extra > b->max || b->len > b->max - extra)
        return error_set(E_TOOBIG, "content exceeds the limit of %zu bytes", b->max);
    want = b->len + extra + 1;
    if (want <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap *= 2;
    if (b->cap) {
        b->ptr = xrealloc(b->ptr, cap);
    } else {
        b->ptr = xmalloc(cap);
        b->ptr[0] = '\0';
    }
    b->cap = cap;
    return 0;
}

int buf_put(struct buf *b, const void *data, size_t n)
{
    int rc;
    if (n == 0)
        return 0;
    if ((rc = buf_grow(b, n)) < 0)
        return rc;
    memcpy(b->ptr + b->len, data, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *z)
{
    return buf_put(b, z, strlen(z));
}

int buf_putc(struct buf *b, char c)
{
    return buf_put(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, rc;
    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return error_set(E_ERROR, "bad format");
    if ((rc = buf_grow(b, (size_t)n)) < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* The length of the well-formed UTF-8 sequence at p (jansson's rules), or
 * 0 when there is none. */
size_t utf8_sequence_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n;
    uint32_t v;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, v = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, v = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, v = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) /* a NUL ends the string here too */
            return 0;
        v = (v << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    return n;
}

int buf_put_json_string(struct buf *b, const char *z, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)z, *end = p + n, *run = p;
    int rc = buf_putc(b, '"');
    while (p < end && rc == 0) {
        unsigned c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            p++;
            continue;
        }
        size_t k = c >= 0x80 ? utf8_sequence_len(p) : 0;
        if (k && k <= (size_t)(end - p)) {
            p += k;
            continue;
        }
        char esc[7] = {'\\', (char)c, 0};
        if (c >= 0x80)
            memcpy(esc, "\xef\xbf\xbd", 4); /* U+FFFD */
        else if (c < '\b' || c == '\v' || (c > '\r' && c < 0x20))
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
        else if (c < 0x20)
            esc[1] = "btnvfr"[c - '\b'];
        if ((rc = buf_put(b, run, (size_t)(p - run))) == 0)
            rc = buf_puts(b, esc);
        run = ++p;
    }
    if (rc == 0 && (rc = buf_put(b, run, (size_t)(p - run))) == 0)
        rc = buf_putc(b, '"');
    return rc;
}
