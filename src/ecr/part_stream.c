/*
 * This module implements the streaming reader of part_stream.h: a state
 * machine over the bytes of one JSON object that copies every member but
 * one into a small text for jansson, and decodes the one member's string
 * (JSON escapes, then base64) into a callback as it arrives.
 *
 * Structure is checked here (braces, colons, commas, whitespace); values
 * other than the streamed string are only delimited here and checked by
 * jansson at the end, over a text that is the object with the streamed
 * member left out. So the whole body is valid JSON exactly when the
 * structure is, the streamed string is (checked here as jansson's lexer
 * checks strings) and jansson accepts the rest.
 */
#include "ecr/part_stream.h"

#include <stddef.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/util.h"

enum {
    S_BEGIN,      /* before '{' */
    S_OBJ_FIRST,  /* after '{': a key or '}' */
    S_KEY,        /* inside a key */
    S_COLON,      /* after a key */
    S_VALUE,      /* after ':' */
    S_VAL_STR,    /* inside a string value, copied */
    S_VAL_NEST,   /* inside an object or array value, copied */
    S_VAL_SCALAR, /* inside a number or literal, copied */
    S_STREAM,     /* inside the streamed string */
    S_AFTER,      /* after a value: ',' or '}' */
    S_OBJ_NEXT,   /* after ',': a key */
    S_END         /* after '}': only whitespace */
};

/* escape states inside the streamed string */
enum { E_NONE, E_BACKSLASH, E_HEX, E_LOW_BACKSLASH, E_LOW_U };

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_b64(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

void part_stream_init(struct part_stream *ps, const char *key, part_stream_emit_fn emit, void *ctx)
{
    memset(ps, 0, offsetof(struct part_stream, in));
    ps->key = key;
    ps->emit = emit;
    ps->ctx = ctx;
    ps->state = S_BEGIN;
    ps->base64_ok = true;
    ps->first_eq = UINT64_MAX;
    buf_init(&ps->rest, PART_STREAM_REST_MAX);
}

void part_stream_release(struct part_stream *ps)
{
    buf_release(&ps->rest);
}

static void fail(struct part_stream *ps)
{
    ps->failed = true;
}

static void put(struct part_stream *ps, const void *p, size_t n)
{
    if (buf_put(&ps->rest, p, n) < 0)
        ps->too_big = true;
}

/* Decodes the base64 characters held and hands the bytes on. pad is the
 * number of '=' at their end (only for the string's last batch). */
static void flush_batch(struct part_stream *ps, int pad)
{
    if (ps->in_len == 0)
        return;
    int m = EVP_DecodeBlock(ps->out, (const unsigned char *)ps->in, (int)ps->in_len);
    ps->in_len = 0;
    if (m < 0) {
        /* only characters base64_decode() takes get here: cannot happen */
        ps->base64_ok = false;
        return;
    }
    m -= pad;
    if (m > 0 && ps->emit_error == 0) {
        int rc = ps->emit(ps->ctx, ps->out, (size_t)m);
        if (rc < 0)
            ps->emit_error = rc;
        else
            ps->decoded += (uint64_t)m;
    }
}

/* One byte of the streamed string's decoded value. */
static void push_byte(struct part_stream *ps, unsigned char b)
{
    uint64_t pos = ps->str_len++;
    ps->tail[0] = ps->tail[1];
    ps->tail[1] = (char)b;
    if (!ps->base64_ok)
        return;
    /* as base64_decode(): the alphabet, and '=' only at the very end */
    if (b == '=') {
        if (ps->first_eq == UINT64_MAX)
            ps->first_eq = pos;
    } else if (!is_b64(b) || ps->first_eq != UINT64_MAX) {
        ps->base64_ok = false;
        return;
    }
    if (ps->in_len == sizeof(ps->in))
        flush_batch(ps, 0);
    ps->in[ps->in_len++] = (char)b;
}

static void push_code_point(struct part_stream *ps, uint32_t cp)
{
    if (cp < 0x80) {
        push_byte(ps, (unsigned char)cp);
    } else if (cp < 0x800) {
        push_byte(ps, (unsigned char)(0xC0 | (cp >> 6)));
        push_byte(ps, (unsigned char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        push_byte(ps, (unsigned char)(0xE0 | (cp >> 12)));
        push_byte(ps, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
        push_byte(ps, (unsigned char)(0x80 | (cp & 0x3F)));
    } else {
        push_byte(ps, (unsigned char)(0xF0 | (cp >> 18)));
        push_byte(ps, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)));
        push_byte(ps, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
        push_byte(ps, (unsigned char)(0x80 | (cp & 0x3F)));
    }
}

/* The streamed string has ended: settle its base64. */
static void end_stream(struct part_stream *ps)
{
    uint64_t n = ps->str_len;
    if (ps->base64_ok && (n % 4 != 0 || n > (1u << 30) || (ps->first_eq != UINT64_MAX && ps->first_eq + 2 < n)))
        ps->base64_ok = false;
    if (ps->base64_ok)
        flush_batch(ps, (n >= 1 && ps->tail[1] == '=') + (n >= 2 && ps->tail[0] == '='));
    ps->in_len = 0;
}

/* The first byte of a UTF-8 sequence: how many follow and the range of the
 * next one (jansson's utf8_check_first and utf8_check_full: no overlong
 * forms, no surrogates, nothing past U+10FFFF). */
static bool utf8_lead(struct part_stream *ps, unsigned char c)
{
    ps->u8_lo = 0x80;
    ps->u8_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        ps->u8_need = 1;
    else if (c == 0xE0)
        ps->u8_need = 2, ps->u8_lo = 0xA0;
    else if (c == 0xED)
        ps->u8_need = 2, ps->u8_hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF)
        ps->u8_need = 2;
    else if (c == 0xF0)
        ps->u8_need = 3, ps->u8_lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        ps->u8_need = 3;
    else if (c == 0xF4)
        ps->u8_need = 3, ps->u8_hi = 0x8F;
    else
        return false;
    return true;
}

/* One byte inside the streamed string, checked as jansson's lexer checks
 * a string. */
static void stream_byte(struct part_stream *ps, unsigned char c)
{
    if (ps->u8_need) {
        if (c < ps->u8_lo || c > ps->u8_hi) {
            fail(ps);
            return;
        }
        ps->u8_need--;
        ps->u8_lo = 0x80;
        ps->u8_hi = 0xBF;
        push_byte(ps, c);
        return;
    }
    switch (ps->sesc) {
    case E_NONE:
        if (c == '"') {
            end_stream(ps);
            ps->state = S_AFTER;
        } else if (c == '\\') {
            ps->sesc = E_BACKSLASH;
        } else if (c < 0x20) {
            fail(ps);
        } else if (c < 0x80) {
            push_byte(ps, c);
        } else if (utf8_lead(ps, c)) {
            push_byte(ps, c);
        } else {
            fail(ps);
        }
        return;
    case E_BACKSLASH: {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *p = c ? strchr(from, c) : NULL;
        if (c == 'u') {
            ps->sesc = E_HEX;
            ps->nhex = 0;
            ps->ucp = 0;
        } else if (p) {
            ps->sesc = E_NONE;
            push_byte(ps, (unsigned char)to[p - from]);
        } else {
            fail(ps);
        }
        return;
    }
    case E_HEX: {
        int v = hex_value(c);
        if (v < 0) {
            fail(ps);
            return;
        }
        ps->ucp = ps->ucp << 4 | (uint32_t)v;
        if (++ps->nhex < 4)
            return;
        uint32_t cp = ps->ucp;
        ps->sesc = E_NONE;
        if (ps->high) {
            if (cp < 0xDC00 || cp > 0xDFFF) {
                fail(ps);
                return;
            }
            cp = 0x10000 + ((ps->high - 0xD800) << 10) + (cp - 0xDC00);
            ps->high = 0;
        } else if (cp >= 0xD800 && cp <= 0xDBFF) {
            ps->high = cp;
            ps->sesc = E_LOW_BACKSLASH;
            return;
        } else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
            /* a lone low surrogate; NUL, which jansson refuses by default */
            fail(ps);
            return;
        }
        push_code_point(ps, cp);
        return;
    }
    case E_LOW_BACKSLASH:
        if (c != '\\') {
            fail(ps);
            return;
        }
        ps->sesc = E_LOW_U;
        return;
    case E_LOW_U:
        if (c != 'u') {
            fail(ps);
            return;
        }
        ps->sesc = E_HEX;
        ps->nhex = 0;
        ps->ucp = 0;
        return;
    }
}

/* Is the key just read (raw, between its quotes) the streamed member's
 * name? Only a key that is valid JSON and decodes to it is. */
static bool key_matches(const struct part_stream *ps)
{
    size_t n = strlen(ps->key), j = 0;
    if (ps->keylen > PART_STREAM_KEY_MAX)
        return false;
    for (size_t i = 0; i < ps->keylen; j++) {
        unsigned char c = (unsigned char)ps->keyraw[i++];
        uint32_t cp = c;
        if (c == '\\') {
            if (i >= ps->keylen)
                return false;
            c = (unsigned char)ps->keyraw[i++];
            if (c == 'u') {
                cp = 0;
                for (int k = 0; k < 4; k++) {
                    int v = i < ps->keylen ? hex_value((unsigned char)ps->keyraw[i++]) : -1;
                    if (v < 0)
                        return false;
                    cp = cp << 4 | (uint32_t)v;
                }
            } else if (c == '"' || c == '\\' || c == '/') {
                cp = c;
            } else {
                return false; /* \b \f \n \r \t, or not an escape: not in a name */
            }
        }
        /* the name is printable ASCII: anything else is another key */
        if (cp < 0x20 || cp >= 0x7F || j >= n || (unsigned char)ps->key[j] != cp)
            return false;
    }
    return j == n;
}

static void start_key(struct part_stream *ps)
{
    ps->member_start = ps->rest.len;
    if (ps->members)
        put(ps, ",", 1);
    put(ps, "\"", 1);
    ps->keylen = 0;
    ps->esc = false;
    ps->state = S_KEY;
}

static void value_start(struct part_stream *ps, unsigned char c)
{
    if (c == '"' && key_matches(ps)) {
        /* the member is streamed, not kept: take its key back out; a
         * second one is a duplicate, which jansson refuses */
        if (++ps->nstreamed > 1) {
            fail(ps);
            return;
        }
        ps->rest.len = ps->member_start;
        ps->rest.ptr[ps->rest.len] = '\0';
        ps->streamed = true;
        ps->state = S_STREAM;
        return;
    }
    if (c == ',' || c == '}' || c == ']' || c == ':') {
        fail(ps);
        return;
    }
    ps->members = true;
    put(ps, &c, 1);
    ps->esc = false;
    ps->in_str = false;
    if (c == '"') {
        ps->state = S_VAL_STR;
    } else if (c == '{' || c == '[') {
        ps->depth = 1;
        ps->state = S_VAL_NEST;
    } else {
        ps->state = S_VAL_SCALAR;
    }
}

/* The end of a string whose bytes are being copied: true at its closing quote. */
static bool string_ends(struct part_stream *ps, unsigned char c)
{
    if (ps->esc)
        ps->esc = false;
    else if (c == '\\')
        ps->esc = true;
    else if (c == '"')
        return true;
    return false;
}

static void step(struct part_stream *ps, unsigned char c)
{
    switch (ps->state) {
    case S_BEGIN:
        if (is_ws(c))
            return;
        if (c != '{') {
            fail(ps);
            return;
        }
        put(ps, "{", 1);
        ps->state = S_OBJ_FIRST;
        return;
    case S_OBJ_FIRST:
    case S_OBJ_NEXT:
        if (is_ws(c))
            return;
        if (c == '"') {
            start_key(ps);
            return;
        }
        if (c == '}' && ps->state == S_OBJ_FIRST) {
            put(ps, "}", 1);
            ps->state = S_END;
            return;
        }
        fail(ps);
        return;
    case S_KEY:
        put(ps, &c, 1);
        if (string_ends(ps, c)) {
            ps->state = S_COLON;
            return;
        }
        if (ps->keylen < PART_STREAM_KEY_MAX)
            ps->keyraw[ps->keylen] = (char)c;
        if (ps->keylen <= PART_STREAM_KEY_MAX)
            ps->keylen++;
        return;
    case S_COLON:
        if (is_ws(c))
            return;
        if (c != ':') {
            fail(ps);
            return;
        }
        put(ps, ":", 1);
        ps->state = S_VALUE;
        return;
    case S_VALUE:
        if (is_ws(c))
            return;
        value_start(ps, c);
        return;
    case S_VAL_STR:
        put(ps, &c, 1);
        if (string_ends(ps, c))
            ps->state = S_AFTER;
        return;
    case S_VAL_NEST:
        put(ps, &c, 1);
        if (ps->in_str) {
            ps->in_str = !string_ends(ps, c);
        } else if (c == '"') {
            ps->in_str = true;
        } else if (c == '{' || c == '[') {
            ps->depth++;
        } else if ((c == '}' || c == ']') && --ps->depth == 0) {
            ps->state = S_AFTER;
        }
        return;
    case S_VAL_SCALAR:
        if (!is_ws(c) && c != ',' && c != '}') {
            put(ps, &c, 1);
            return;
        }
        ps->state = S_AFTER;
        step(ps, c);
        return;
    case S_STREAM: {
        stream_byte(ps, c);
        return;
    }
    case S_AFTER:
        if (is_ws(c))
            return;
        if (c == ',') {
            ps->state = S_OBJ_NEXT;
        } else if (c == '}') {
            put(ps, "}", 1);
            ps->state = S_END;
        } else {
            fail(ps);
        }
        return;
    case S_END:
        if (!is_ws(c))
            fail(ps);
        return;
    }
}

void part_stream_feed(struct part_stream *ps, const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    ps->fed += n;
    for (size_t i = 0; i < n && !ps->failed && !ps->too_big; i++) {
        if (ps->state == S_STREAM && ps->sesc == E_NONE && ps->u8_need == 0) {
            /* the bulk of a body: plain base64 characters, taken in a run */
            size_t j = i;
            while (j < n && is_b64(p[j]) && ps->first_eq == UINT64_MAX && ps->in_len < sizeof(ps->in) && ps->base64_ok) {
                ps->in[ps->in_len++] = (char)p[j];
                j++;
            }
            if (j > i) {
                ps->str_len += j - i;
                ps->tail[0] = j - i >= 2 ? (char)p[j - 2] : ps->tail[1];
                ps->tail[1] = (char)p[j - 1];
                i = j - 1;
                continue;
            }
        }
        step(ps, p[i]);
    }
}

int part_stream_finish(struct part_stream *ps, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (ps->too_big)
        return error_set(E_TOOBIG, "the members besides '%s' are longer than %zu bytes", ps->key, PART_STREAM_REST_MAX);
    if (ps->fed == 0)
        buf_puts(&ps->rest, "{}");
    else if (ps->failed || ps->state != S_END)
        return error_set(E_INVALID, "the request body is not a JSON object");
    json_t *doc = json_loadb(ps->rest.ptr, ps->rest.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || !json_is_object(doc) || (ps->streamed && json_object_get(doc, ps->key))) {
        json_decref(doc);
        return error_set(E_INVALID, "the request body is not a JSON object");
    }
    if (ps->streamed)
        json_object_set_new(doc, ps->key, json_string(""));
    *out = doc;
    return 0;
}
