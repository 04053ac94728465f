/*
 * This module implements the reading of LookupEvents' input (lookup.h).
 * Types are checked here too (a number where a string belongs is the
 * attribute's own error, as CloudTrail answers), so nothing after it
 * looks at the input again.
 */
#include "cloudtrail/lookup.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define TOKEN_PREFIX "ct1:"

static const char *const attr_names[AUDIT_NATTRS] = {
    [AUDIT_ATTR_EVENT_NAME] = "EventName",       [AUDIT_ATTR_USERNAME] = "Username",
    [AUDIT_ATTR_ACCESS_KEY_ID] = "AccessKeyId",  [AUDIT_ATTR_READ_ONLY] = "ReadOnly",
    [AUDIT_ATTR_EVENT_ID] = "EventId",           [AUDIT_ATTR_EVENT_SOURCE] = "EventSource",
    [AUDIT_ATTR_RESOURCE_NAME] = "ResourceName", [AUDIT_ATTR_RESOURCE_TYPE] = "ResourceType",
};

static int fail(enum cloudtrail_error *err, char *msg, size_t size, enum cloudtrail_error e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(enum cloudtrail_error *err, char *msg, size_t size, enum cloudtrail_error e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    *err = e;
    return -1;
}

/* A timestamp of the JSON protocol: epoch seconds, a number. */
static int read_time(json_t *v, int64_t *out)
{
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 253402300799.0) /* 9999-12-31 */
        return -1;
    *out = (int64_t)(d * 1000.0);
    return 0;
}

char *lookup_token(int64_t seq)
{
    char raw[48];
    snprintf(raw, sizeof(raw), TOKEN_PREFIX "%lld", (long long)seq);
    return base64_encode(raw, strlen(raw));
}

static int read_token(const char *z, int64_t *out)
{
    size_t n;
    unsigned char *raw = base64_decode(z, strlen(z), &n);
    int rc = -1;
    if (raw && n > strlen(TOKEN_PREFIX) && n < 40 && memcmp(raw, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) == 0) {
        char digits[48], *end;
        memcpy(digits, raw + strlen(TOKEN_PREFIX), n - strlen(TOKEN_PREFIX));
        digits[n - strlen(TOKEN_PREFIX)] = '\0';
        errno = 0;
        long long v = strtoll(digits, &end, 10);
        if (!errno && end != digits && !*end && digits[0] >= '0' && digits[0] <= '9' && v > 0) {
            *out = v;
            rc = 0;
        }
    }
    free(raw);
    return rc;
}

static int read_attribute(struct lookup_request *out, json_t *list, enum cloudtrail_error *err, char *msg, size_t size)
{
    enum cloudtrail_error e = CLOUDTRAIL_INVALID_LOOKUP_ATTRIBUTES;
    if (!json_is_array(list))
        return fail(err, msg, size, e, "LookupAttributes must be a list");
    if (json_array_size(list) == 0)
        return 0;
    if (json_array_size(list) > 1)
        return fail(err, msg, size, e, "You can only specify one lookup attribute.");
    json_t *a = json_array_get(list, 0);
    json_t *key = json_object_get(a, "AttributeKey"), *value = json_object_get(a, "AttributeValue");
    if (!json_is_object(a) || !json_is_string(key) || !json_is_string(value))
        return fail(err, msg, size, e, "A lookup attribute needs an AttributeKey and an AttributeValue.");
    for (int i = 1; i < AUDIT_NATTRS; i++)
        if (strcmp(json_string_value(key), attr_names[i]) == 0)
            out->attr = (enum audit_attr)i;
    if (out->attr == AUDIT_ATTR_NONE)
        return fail(err, msg, size, e, "Invalid AttributeKey '%.64s': it is one of EventId, EventName, ReadOnly, Username, "
                    "ResourceType, ResourceName, EventSource, AccessKeyId.", json_string_value(key));
    size_t n = json_string_length(value);
    out->value = json_string_value(value);
    if (n == 0 || n > LOOKUP_VALUE_MAX || strlen(out->value) != n)
        return fail(err, msg, size, e, "The AttributeValue of %s must be 1 to %d characters.", attr_names[out->attr],
                    LOOKUP_VALUE_MAX);
    if (out->attr == AUDIT_ATTR_READ_ONLY && strcmp(out->value, "true") != 0 && strcmp(out->value, "false") != 0)
        return fail(err, msg, size, e, "The AttributeValue of ReadOnly must be true or false.");
    return 0;
}

int lookup_parse(struct lookup_request *out, json_t *in, enum cloudtrail_error *err, char *msg, size_t size)
{
    json_t *v;
    memset(out, 0, sizeof(*out));
    out->end_ms = INT64_MAX;
    out->before_seq = INT64_MAX;
    out->max_results = LOOKUP_MAX_RESULTS;
    if (!json_is_object(in))
        return fail(err, msg, size, CLOUDTRAIL_SERIALIZATION, "the request body is not a JSON object");
    if ((v = json_object_get(in, "LookupAttributes")) && !json_is_null(v) && read_attribute(out, v, err, msg, size) < 0)
        return -1;
    if ((v = json_object_get(in, "StartTime")) && !json_is_null(v) && read_time(v, &out->start_ms) < 0)
        return fail(err, msg, size, CLOUDTRAIL_INVALID_TIME_RANGE, "StartTime is not a valid time.");
    if ((v = json_object_get(in, "EndTime")) && !json_is_null(v) && read_time(v, &out->end_ms) < 0)
        return fail(err, msg, size, CLOUDTRAIL_INVALID_TIME_RANGE, "EndTime is not a valid time.");
    if (out->start_ms > out->end_ms)
        return fail(err, msg, size, CLOUDTRAIL_INVALID_TIME_RANGE, "Start time must be before end time.");
    if ((v = json_object_get(in, "MaxResults")) && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > LOOKUP_MAX_RESULTS)
            return fail(err, msg, size, CLOUDTRAIL_INVALID_MAX_RESULTS, "MaxResults must be from 1 to %d.",
                        LOOKUP_MAX_RESULTS);
        out->max_results = (int)json_integer_value(v);
    }
    if ((v = json_object_get(in, "NextToken")) && !json_is_null(v))
        if (!json_is_string(v) || read_token(json_string_value(v), &out->before_seq) < 0)
            return fail(err, msg, size, CLOUDTRAIL_INVALID_NEXT_TOKEN, "Invalid NextToken.");
    if ((v = json_object_get(in, "EventCategory")) && !json_is_null(v)) {
        if (!json_is_string(v) || strcmp(json_string_value(v), "insight") != 0)
            return fail(err, msg, size, CLOUDTRAIL_INVALID_EVENT_CATEGORY, "EventCategory must be insight.");
        out->insight = true;
    }
    return 0;
}
