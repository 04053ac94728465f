/*
 * libFuzzer target for the readers of S3's XML replies (s3_xml_field() and
 * s3_list_parse() in src/blob/s3.c): every input is read as an error
 * document, a CreateMultipartUpload reply, a CompleteMultipartUpload reply
 * and a ListObjectsV2 page, as the S3 client does with what an object
 * store answers. Every key listed must be one s3_key_valid() accepts. A field found must be
 * NUL-terminated within its buffer; nothing may be fetched or expanded
 * from outside the input (no network, no external entities).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/s3.h"
#include "core/error.h"
#include "check.h"

static int listed(void *ctx, const char *key, int64_t mtime_ms)
{
    CHECK(s3_key_valid(key));
    CHECK(mtime_ms >= 0);
    return ++*(int *)ctx > 5000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[][2] = {
        {"Error", "Code"},
        {"Error", "Message"},
        {"InitiateMultipartUploadResult", "UploadId"},
        {"CompleteMultipartUploadResult", "ETag"},
    };
    char out[S3_UPLOAD_ID_MAX], tiny[4];
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        memset(out, 'x', sizeof(out));
        int rc = s3_xml_field((const char *)data, size, fields[i][0], fields[i][1], out, sizeof(out));
        CHECK(rc == 0 || rc == E_NOTFOUND || rc == E_INVALID);
        CHECK(memchr(out, '\0', sizeof(out)) != NULL);
        rc = s3_xml_field((const char *)data, size, fields[i][0], fields[i][1], tiny, sizeof(tiny));
        CHECK(memchr(tiny, '\0', sizeof(tiny)) != NULL);
        /* nothing from /etc/passwd can appear: external entities are not loaded */
        if (rc == 0)
            CHECK(strstr(out, "root:") == NULL || memmem(data, size, "root:", 5) != NULL);
    }
    char next[64];
    bool truncated = true;
    int count = 0;
    memset(next, 'x', sizeof(next));
    int rc = s3_list_parse((const char *)data, size, listed, &count, &truncated, next, sizeof(next));
    CHECK(rc == 0 || rc == 1 || rc == E_INVALID);
    CHECK(memchr(next, '\0', sizeof(next)) != NULL);
    CHECK(rc != E_INVALID || !truncated);
    error_clear();
    return 0;
}
