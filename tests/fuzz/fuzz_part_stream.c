/*
 * libFuzzer target for the streaming reader of UploadLayerPart bodies
 * (src/ecr/part_stream.c), checked against what it replaces: jansson
 * decoding the whole body (JSON_REJECT_DUPLICATES) and base64_decode() of
 * its layerPartBlob. The first four bytes of an input seed the sizes of
 * the pieces the rest is fed in (1 byte to a few KiB, as a socket delivers
 * them); the rest is the body. The reader must accept exactly the bodies
 * jansson accepts, return the same object (with "" for the streamed
 * string), count the string's length as jansson does, and decode exactly
 * the bytes base64_decode() gives, or refuse exactly what it refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"
#include "ecr/part_stream.h"

static int collect(void *ctx, const void *data, size_t n)
{
    return buf_put(ctx, data, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct part_stream ps;
    struct buf got;
    json_error_t jerr;
    json_t *obj = NULL;
    if (size < 4)
        return 0;
    uint32_t seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    const char *body = (const char *)data + 4;
    size_t n = size - 4;

    buf_init(&got, BUF_UNLIMITED);
    part_stream_init(&ps, "layerPartBlob", collect, &got);
    for (size_t off = 0; off < n;) {
        seed = seed * 1103515245u + 12345u;
        size_t k = (seed >> 16) % 4 == 0 ? 1 + (seed >> 8) % 4096 : 1 + (seed >> 8) % 17;
        if (k > n - off)
            k = n - off;
        part_stream_feed(&ps, body + off, k);
        off += k;
    }
    int rc = part_stream_finish(&ps, &obj);

    if (n == 0) {
        /* an empty body is the empty input, as the dispatcher takes it */
        if (rc < 0 || json_object_size(obj) != 0)
            abort();
        goto done;
    }
    json_t *want = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    bool valid = want && json_is_object(want);
    if (rc == E_TOOBIG) {
        if (n <= PART_STREAM_REST_MAX)
            abort();
        json_decref(want);
        goto done;
    }
    if (valid != (rc == 0))
        abort();
    if (valid) {
        json_t *blob = json_object_get(want, "layerPartBlob");
        if (json_is_string(blob) != ps.streamed)
            abort();
        if (ps.streamed) {
            const char *z = json_string_value(blob);
            size_t len = json_string_length(blob), dlen = 0;
            if (ps.str_len != len || (len >= 1 && ps.tail[1] != z[len - 1]) || (len >= 2 && ps.tail[0] != z[len - 2]))
                abort();
            unsigned char *dec = len ? base64_decode(z, len, &dlen) : NULL;
            bool ok = len == 0 || dec != NULL;
            if (ok != ps.base64_ok || ps.emit_error)
                abort();
            if (ok && (ps.decoded != dlen || got.len != dlen || (dlen && memcmp(got.ptr, dec, dlen) != 0)))
                abort();
            free(dec);
            json_object_set_new(want, "layerPartBlob", json_string(""));
        }
        if (!json_equal(want, obj))
            abort();
    }
    json_decref(want);
done:
    json_decref(obj);
    part_stream_release(&ps);
    buf_release(&got);
    return 0;
}
