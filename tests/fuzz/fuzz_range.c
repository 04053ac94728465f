/*
 * libFuzzer target for the Range and Content-Range parsers
 * (src/registry/range.c). The first 8 bytes of the input (little-endian,
 * zero-padded) are the blob size, so sizes near 0, near 2^62 and near 2^64
 * are all reached; the rest is the header. A successful parse must name a
 * range inside the blob (Range) or an ordered, bounded pair (Content-Range).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "registry/range.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t blob_size = 0, first = 0, last = 0;
    size_t n = size < 8 ? size : 8;
    for (size_t i = 0; i < n; i++)
        blob_size |= (uint64_t)data[i] << (8 * i);
    struct slice header = {(const char *)data + n, size - n};

    int rc = range_parse(header, blob_size, &first, &last);
    CHECK(rc == 0 || rc == E_INVALID || rc == E_RANGE);
    if (rc == 0)
        CHECK(blob_size > 0 && first <= last && last < blob_size);
    /* the same header against a few fixed sizes */
    static const uint64_t sizes[] = {0, 1, 10, (uint64_t)1 << 62, UINT64_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        rc = range_parse(header, sizes[i], &first, &last);
        CHECK(rc == 0 || rc == E_INVALID || rc == E_RANGE);
        if (rc == 0)
            CHECK(sizes[i] > 0 && first <= last && last < sizes[i]);
    }

    rc = content_range_parse(header, &first, &last);
    CHECK(rc == 0 || rc == E_INVALID);
    if (rc == 0)
        CHECK(first <= last && last <= ((uint64_t)1 << 62));
    return 0;
}
