/*
 * Small helpers every module needs: random identifiers, hex, base64 (through
 * OpenSSL), constant-time comparison, clock and timestamp formatting, and
 * checked integer parsing (atoi is banned).
 */
#ifndef BERTH_CORE_UTIL_H
#define BERTH_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Fills out with n cryptographically random bytes. */
void random_bytes(void *out, size_t n);
/* The same for identifiers that must be unique and unguessable but are not
 * keys (UUIDs): cheaper, from a per-thread pool. */
void random_id_bytes(void *out, size_t n);
/* Writes 2*n lowercase hex characters and a NUL. */
void hex_encode(char *out, const void *data, size_t n);
/* The value of one hex digit (either case), or -1. */
int hex_value(int c);
/* The text of a UUID's 16 bytes: 8-4-4-4-12 lowercase hex digits. */
void uuid_format(char out[37], const unsigned char b[16]);
/* A random RFC 4122 version-4 UUID string (37 bytes with NUL). */
void uuid_v4(char out[37]);
/* Random string of n characters drawn from alphabet, NUL-terminated. */
void random_string(char *out, size_t n, const char *alphabet);

/* Standard base64 with padding; result is malloc'd and NUL-terminated. */
char *base64_encode(const void *data, size_t n);
/* Decodes standard base64 (padding required). Returns a malloc'd buffer (NUL-
 * terminated for convenience) and its length, or NULL when malformed. */
unsigned char *base64_decode(const char *z, size_t n, size_t *len_out);

/* Constant-time equality of two byte strings of possibly different length. */
bool secure_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Wall clock in milliseconds and monotonic clock in microseconds. */
int64_t now_ms(void);
int64_t mono_us(void);
/* ISO-8601 UTC with millisecond precision: 2026-11-23T12:34:56.789Z */
void format_time_iso(char out[32], int64_t ms);
/* RFC 7231 HTTP date. */
void format_time_http(char out[40], int64_t ms);

/* Marks the calling thread as one that serves many clients in turn (an HTTP
 * event loop), where nothing may wait for a lock: the store says so in its
 * log when a write transaction begins on it anyway (see http_defer()). */
void thread_forbid_waits(bool forbid);
bool thread_waits_forbidden(void);

/* Parses a whole decimal non-negative integer with bounds; E_INVALID otherwise. */
int parse_u64(struct slice s, uint64_t max, uint64_t *out);

#endif
