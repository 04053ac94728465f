/*
 * libFuzzer target for the reader of an object store's reply headers
 * (s3_reply_header() in src/blob/s3.c), which sees every header line
 * radosgw or any S3 store sends: the input is split into lines at '\n',
 * each handed over as libcurl does (with its line end). The status stays
 * within 0..999, the ETag is NUL-terminated within its buffer, and a
 * Content-Range's first byte is one the line spelled out.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct s3_reply r;
    const char *p = (const char *)data, *end = p + size;
    s3_reply_init(&r);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        /* a copy of exactly the line, so that reading past it is caught */
        char *line = malloc(n ? n : 1);
        memcpy(line, p, n);
        s3_reply_header(&r, line, n);
        free(line);
        CHECK(r.status >= 0 && r.status <= 999);
        CHECK(memchr(r.obj.etag, '\0', sizeof(r.obj.etag)) != NULL);
        CHECK(r.range_start == UINT64_MAX || memmem(data, size, "bytes ", 6) != NULL);
        p += n;
    }
    return 0;
}
