/*
 * This module implements the helpers of util.h.
 */
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/alloc.h"
#include "core/error.h"

void random_bytes(void *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1)
        abort();
}

void hex_encode(char *out, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void uuid_format(char out[37], const unsigned char b[16])
{
    char h[33];
    hex_encode(h, b, 16);
    memcpy(out, h, 8);
    out[8] = '-';
    memcpy(out + 9, h + 8, 4);
    out[13] = '-';
    memcpy(out + 14, h + 12, 4);
    out[18] = '-';
    memcpy(out + 19, h + 16, 4);
    out[23] = '-';
    memcpy(out + 24, h + 20, 12);
    out[36] = '\0';
}

/* Identifiers draw from a per-thread pool of the same generator's bytes:
 * one RAND_bytes() call (a few microseconds under OpenSSL 3's locks) per
 * 32 identifiers instead of one each. berth never forks, so no two
 * processes share a pool. */
void random_id_bytes(void *out, size_t n)
{
    static _Thread_local unsigned char pool[512];
    static _Thread_local size_t used = sizeof(pool);
    if (n > sizeof(pool)) {
        random_bytes(out, n);
        return;
    }
    if (used + n > sizeof(pool)) {
        random_bytes(pool, sizeof(pool));
        used = 0;
    }
    memcpy(out, pool + used, n); /* each byte handed out once */
    used += n;
}

static _Thread_local bool waits_forbidden;

void thread_forbid_waits(bool forbid)
{
    waits_forbidden = forbid;
}

bool thread_waits_forbidden(void)
{
    return waits_forbidden;
}

void uuid_v4(char out[37])
{
    unsigned char b[16];
    random_id_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    uuid_format(out, b);
}

void random_string(char *out, size_t n, const char *alphabet)
{
    size_t alen = strlen(alphabet);
    size_t limit = 256 - (256 % alen); /* reject to avoid modulo bias */
    size_t i = 0;
    while (i < n) {
        unsigned char b[64];
        random_bytes(b, sizeof(b));
        for (size_t j = 0; j < sizeof(b) && i < n; j++)
            if (b[j] < limit)
                out[i++] = alphabet[b[j] % alen];
    }
    out[n] = '\0';
}

char *base64_encode(const void *data, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

unsigned char *base64_decode(const char *z, size_t n, size_t *len_out)
{
    if (n % 4 != 0 || n > (1u << 30))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = z[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
                  (c == '=' && i >= n - 2);
        if (!ok)
            return NULL;
    }
    if (n >= 2 && z[n - 2] == '=' && z[n - 1] != '=')
        return NULL;
    unsigned char *out = xmalloc(n / 4 * 3 + 1);
    int m = EVP_DecodeBlock(out, (const unsigned char *)z, (int)n);
    if (m < 0) {
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes */
    if (n && z[n - 1] == '=')
        m--;
    if (n > 1 && z[n - 2] == '=')
        m--;
    out[m] = '\0';
    *len_out = (size_t)m;
    return out;
}

bool secure_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void format_time_iso(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

void format_time_http(char out[40], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

int parse_u64(struct slice s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 20)
        return error_set(E_INVALID, "invalid number");
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        if (c < '0' || c > '9')
            return error_set(E_INVALID, "invalid number");
        uint64_t d = (uint64_t)(c - '0');
        /* v * 10 + d <= max, without letting max - d wrap when max < 9 */
        if (d > max || v > (max - d) / 10)
            return error_set(E_INVALID, "number out of range");
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
