/*
 * LookupEvents' input, read and checked: the one lookup attribute AWS
 * allows, the time range, MaxResults and the NextToken (berth's own: the
 * seq below which the next page starts), with CloudTrail's error for each
 * mistake. A leaf of the CloudTrail surface that the fuzzer drives.
 */
#ifndef BERTH_CLOUDTRAIL_LOOKUP_H
#define BERTH_CLOUDTRAIL_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cloudtrail/model_gen.h"
#include "store/audit.h"

#define LOOKUP_MAX_RESULTS 50
#define LOOKUP_VALUE_MAX 2000

struct lookup_request {
    enum audit_attr attr;
    const char *value; /* borrowed from the input */
    int64_t start_ms, end_ms;
    int max_results;
    int64_t before_seq; /* INT64_MAX without a NextToken */
    bool insight;       /* EventCategory insight: berth records no Insights events */
};

/* Reads in (a JSON object) into out; 0, or -1 with *err and msg set. */
int lookup_parse(struct lookup_request *out, json_t *in, enum cloudtrail_error *err, char *msg, size_t size);

/* The NextToken that continues a lookup below seq; caller frees. */
char *lookup_token(int64_t seq);

#endif
