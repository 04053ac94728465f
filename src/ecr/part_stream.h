/*
 * A streaming reader for the body of UploadLayerPart: one JSON object whose
 * member layerPartBlob carries up to 20 MiB base64-encoded, read as it
 * arrives without holding the body.
 *
 * The bytes are fed in pieces of any size. The streamed member's string is
 * checked as jansson checks a string (escapes, surrogate pairs, UTF-8, no
 * control characters), checked as base64 the way base64_decode() in
 * core/util.h checks it, and decoded into the emit callback in batches of a
 * few KiB. Every other member is kept as its JSON text (a few hundred bytes
 * for a real request, PART_STREAM_REST_MAX at most) and given to jansson at
 * the end, so the object that part_stream_finish() returns is the object
 * jansson would have decoded from the whole body, with "" standing in for
 * the streamed string. A body that jansson would refuse is refused.
 */
#ifndef BERTH_ECR_PART_STREAM_H
#define BERTH_ECR_PART_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

/* The JSON text of the members other than the streamed one. */
#define PART_STREAM_REST_MAX ((size_t)64 << 10)
/* base64 characters decoded at a time (a multiple of 4), and their bytes */
#define PART_STREAM_BATCH ((size_t)32 << 10)
#define PART_STREAM_KEY_MAX 128 /* longest raw key compared with the streamed member's name */

/* Receives decoded bytes; a negative return stops further calls (the
 * error is kept in emit_error). */
typedef int (*part_stream_emit_fn)(void *ctx, const void *data, size_t n);

struct part_stream {
    const char *key; /* the streamed member's name */
    part_stream_emit_fn emit;
    void *ctx;

    /* what the body said, once part_stream_finish() has run */
    bool streamed;    /* the member was present with a string value */
    uint64_t str_len; /* its decoded length in bytes, as json_string_length() counts */
    char tail[2];     /* its last two characters ('\0' where it had fewer) */
    bool base64_ok;   /* base64_decode() would decode it (vacuously true for "") */
    uint64_t decoded; /* bytes given to emit; the whole decoded value when base64_ok */
    int emit_error;   /* first error emit returned, 0 if none */

    /* parser state: see part_stream.c */
    int state, depth, nstreamed;
    bool in_str, esc, too_big, failed, members;
    uint64_t fed;
    size_t member_start;
    struct buf rest;
    char keyraw[PART_STREAM_KEY_MAX];
    size_t keylen;
    int sesc;     /* escape state inside the streamed string */
    uint32_t ucp; /* \u code point being read */
    int nhex;
    uint32_t high; /* a high surrogate waiting for its low half */
    int u8_need;   /* UTF-8 continuation bytes still expected */
    unsigned char u8_lo, u8_hi;
    uint64_t first_eq; /* position of the first '=', or UINT64_MAX */
    /* the buffers last: part_stream_init() clears what comes before them */
    size_t in_len;
    char in[PART_STREAM_BATCH];
    unsigned char out[PART_STREAM_BATCH / 4 * 3 + 1];
};

/* Sets up ps to stream member key's base64 string into emit. */
void part_stream_init(struct part_stream *ps, const char *key, part_stream_emit_fn emit, void *ctx);
/* Takes the next n bytes of the body. Never fails: an error is remembered
 * and reported by part_stream_finish(). */
void part_stream_feed(struct part_stream *ps, const char *data, size_t n);
/*
 * Ends the body. Returns 0 and the decoded object in *out (the caller's; an
 * empty body is {}), E_INVALID when the body is not a JSON object jansson
 * would decode (JSON_REJECT_DUPLICATES), E_TOOBIG when the members other
 * than the streamed one exceed PART_STREAM_REST_MAX.
 */
int part_stream_finish(struct part_stream *ps, json_t **out);
void part_stream_release(struct part_stream *ps);

#endif
