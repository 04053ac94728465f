/*
 * libFuzzer target for LookupEvents' input (src/cloudtrail/lookup.c): every
 * input is parsed as JSON as the CloudTrail surface does, and what parses
 * is read as a lookup; a NextToken the reader accepted must be one that
 * lookup_token() could have made. The same bytes are also read as our own
 * IAM reply XML (src/iam/xml.c xml_to_json), whose reader the audit trail
 * runs on every IAM write.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cloudtrail/lookup.h"
#include "iam/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lookup_request lr;
    enum cloudtrail_error err;
    char msg[256];
    json_error_t jerr;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (in && lookup_parse(&lr, in, &err, msg, sizeof(msg)) == 0) {
        if (lr.before_seq != INT64_MAX) {
            char *tok = lookup_token(lr.before_seq);
            if (!tok || strlen(tok) == 0)
                abort();
            free(tok);
        }
        if (lr.start_ms > lr.end_ms || lr.max_results < 1 || lr.max_results > LOOKUP_MAX_RESULTS)
            abort();
        if (lr.attr != AUDIT_ATTR_NONE && (!lr.value || !*lr.value))
            abort();
    }
    json_decref(in);
    json_t *x = xml_to_json((const char *)data, size);
    json_decref(x);
    return 0;
}
