/*
 * Owned growable strings and borrowed slices.
 *
 * struct buf is always NUL-terminated, never has a NULL ptr after buf_init,
 * and has a maximum size fixed at init: growing past it fails with E_TOOBIG
 * rather than allocating (git strbuf, curl dynbuf). That is how manifest,
 * policy and request-body limits are enforced without special cases.
 *
 * struct slice borrows bytes for parsing without copying (h2o_iovec_t).
 */
#ifndef BERTH_CORE_BUF_H
#define BERTH_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct slice {
    const char *base;
    size_t len;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})
struct slice slice_from(const char *z);
bool slice_eq(struct slice a, const char *z);
bool slice_eq_nocase(struct slice a, const char *z);
bool slice_starts_with(struct slice a, const char *prefix);
/* a without its leading and trailing spaces and tabs (HTTP's OWS). */
struct slice slice_trim(struct slice a);

struct buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* bytes of content allowed, not counting the NUL */
};

#define BUF_UNLIMITED ((size_t)-1 / 2)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Hands the string to the caller (who frees it) and re-initialises b. */
char *buf_detach(struct buf *b);
void buf_reset(struct buf *b);
int buf_put(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *z);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, surrogates or code points past U+10FFFF; jansson's rules), or 0
 * when none begins there. Reads up to its first byte that does not continue
 * a sequence (a NUL does not). */
size_t utf8_sequence_len(const unsigned char *p);
/* Appends n bytes of z as a JSON string, escaped as jansson's json_dumps()
 * escapes ('"', '\\', control characters; nothing else); a byte that begins
 * no well-formed UTF-8 sequence becomes U+FFFD, where jansson would refuse
 * the string. z[n] must be readable (a NUL). */
int buf_put_json_string(struct buf *b, const char *z, size_t n);

#endif
