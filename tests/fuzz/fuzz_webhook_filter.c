/*
 * libFuzzer target for a webhook's filter (src/events/events.c), which an
 * operator gives `berth admin webhook add --filter` and every event is
 * matched against: the input is "<filter>\n<detail-type>\n<repository>".
 * A filter events_filter_check() refuses gives E_INVALID with a message;
 * one it accepts is matched against the event without reading outside it,
 * takes every event when it is empty, and takes an event whose detail
 * type and repository are the values of its conditions when none ends in
 * '*'.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "events/events.h"
#include "check.h"

/* Does every condition of an accepted filter name the value it would have
 * to match (no prefix), for the event's own values? */
static bool exact_for(const char *filter, const char *detail_type, const char *repository)
{
    const char *p = filter;
    while (*p) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t klen = (size_t)(eq - p);
        const char *subject = klen == strlen("detail-type") && memcmp(p, "detail-type", klen) == 0 ? detail_type : repository;
        size_t vlen = len - klen - 1;
        if (memchr(eq + 1, '*', vlen) || strlen(subject) != vlen || memcmp(subject, eq + 1, vlen) != 0)
            return false;
        p = end ? end + 1 : p + len;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *z = malloc(size + 1), *detail_type = NULL, *repository = NULL;
    memcpy(z, data, size);
    z[size] = '\0';
    detail_type = strchr(z, '\n');
    if (detail_type) {
        *detail_type++ = '\0';
        repository = strchr(detail_type, '\n');
        if (repository)
            *repository++ = '\0';
    }
    if (!detail_type)
        detail_type = (char *)"ECR Image Action";
    if (!repository)
        repository = (char *)"team-a/web";
    int rc = events_filter_check(z);
    CHECK(rc == 0 || rc == E_INVALID);
    if (rc < 0) {
        CHECK(error_message()[0] != '\0');
    } else {
        bool match = events_filter_match(z, detail_type, repository);
        if (!z[0])
            CHECK(match);
        if (exact_for(z, detail_type, repository))
            CHECK(match);
    }
    error_clear();
    free(z);
    return 0;
}
