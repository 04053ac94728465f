/*
 * libFuzzer target for the audit trail's hand-written JSON (src/core/buf.c,
 * buf_put_json_string; src/audit/audit.c, audit_event_json). Any bytes
 * written as a JSON string parse back with jansson; bytes that are UTF-8
 * come back the same and are written as jansson's json_dumps() writes them.
 * A stored record of any text is put back together without a crash: a
 * compact one that put_record() could have written becomes JSON that
 * jansson parses, anything else is returned as stored.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *z = malloc(size + 1);
    memcpy(z, data, size);
    z[size] = '\0';

    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    CHECK(buf_put_json_string(&b, z, size) == 0);
    json_t *back = json_loadb(b.ptr, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(json_is_string(back));
    json_t *orig = json_stringn(z, size);
    if (orig) { /* UTF-8: the same bytes, written as jansson writes them */
        CHECK(json_string_length(back) == size && memcmp(json_string_value(back), z, size) == 0);
        char *dumped = json_dumps(orig, JSON_ENCODE_ANY | JSON_COMPACT);
        CHECK(dumped && strcmp(dumped, b.ptr) == 0);
        free(dumped);
    }
    json_decref(orig);
    json_decref(back);
    buf_release(&b);

    struct audit_row row = {.account_id = "111122223333", .event_id = "0190f0e4-7c2a-7b3d-8e4f-0123456789ab",
                            .event_ms = 1732885200000LL, .event_name = "PutImage", .event_source = "ecr.amazonaws.com",
                            .username = "root", .access_key_id = "", .read_only = false, .nresources = 1, .record = z};
    row.resources[0] = (struct audit_resource){"AWS::ECR::Repository", "team/web"};
    char *rec = audit_event_json(&row);
    CHECK(rec);
    if (strcmp(rec, z) != 0) { /* put back together: JSON whose stored members are JSON */
        json_t *j = json_loads(rec, JSON_ALLOW_NUL, NULL);
        json_t *stored = json_loads(z, JSON_ALLOW_NUL, NULL);
        CHECK(!stored || j);
        CHECK(!j || json_is_string(json_object_get(j, "eventID")));
        json_decref(stored);
        json_decref(j);
    }
    free(rec);
    free(z);
    return 0;
}
