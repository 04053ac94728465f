/*
 * This module implements the XML writing of xml.h. Text is escaped byte by
 * byte (UTF-8 passes through); percent-encoding is libcurl's. It also reads
 * such a reply back as JSON (xml_to_json), for the audit trail.
 */
#include "iam/xml.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/buf.h"

void xml_escape(struct buf *b, const char *text)
{
    const char *run = text;
    for (const char *p = text; *p; p++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char)*p;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&apos;";
            break;
        case '\r':
            rep = "&#xD;"; /* a literal CR would be normalised away by the reader */
            break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n')
                rep = "\xEF\xBF\xBD";
        }
        if (rep) {
            buf_put(b, run, (size_t)(p - run));
            buf_puts(b, rep);
            run = p + 1;
        }
    }
    buf_puts(b, run);
}

void xml_open(struct buf *b, const char *name)
{
    buf_printf(b, "<%s>", name);
}

void xml_close(struct buf *b, const char *name)
{
    buf_printf(b, "</%s>", name);
}

void xml_text(struct buf *b, const char *name, const char *text)
{
    if (!text)
        return;
    xml_open(b, name);
    xml_escape(b, text);
    xml_close(b, name);
}

void xml_bool(struct buf *b, const char *name, bool v)
{
    buf_printf(b, "<%s>%s</%s>", name, v ? "true" : "false", name);
}

void xml_int(struct buf *b, const char *name, int64_t v)
{
    buf_printf(b, "<%s>%" PRId64 "</%s>", name, v, name);
}

void xml_format_time(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

void xml_time(struct buf *b, const char *name, int64_t ms)
{
    char t[32];
    xml_format_time(t, ms);
    xml_text(b, name, t);
}

void xml_urlencoded(struct buf *b, const char *name, const char *text)
{
    size_t n = strlen(text);
    char *enc = curl_easy_escape(NULL, text, n > (size_t)INT32_MAX ? INT32_MAX : (int)n);
    xml_text(b, name, enc ? enc : "");
    curl_free(enc);
}

/* ---- reading our own replies back (xml_to_json) ---- */

#define XML_DEPTH_MAX 16

static json_t *read_content(const char **p, const char *end, int depth);

/* Text up to the next '<', with the five entities of xml_escape() undone. */
static json_t *read_text(const char **p, const char *end)
{
    static const struct {
        const char *entity;
        char c;
    } entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#39;", '\''}};
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    while (*p < end && **p != '<') {
        bool matched = false;
        for (size_t i = 0; !matched && i < sizeof(entities) / sizeof(entities[0]) && **p == '&'; i++) {
            size_t len = strlen(entities[i].entity);
            if ((size_t)(end - *p) >= len && memcmp(*p, entities[i].entity, len) == 0) {
                buf_putc(&b, entities[i].c);
                *p += len;
                matched = true;
            }
        }
        if (!matched)
            buf_putc(&b, *(*p)++);
    }
    json_t *out = json_stringn(b.ptr, b.len);
    buf_release(&b);
    return out;
}

/* <name>, its content and </name>; the name goes to out (lowerCamelCase). */
static json_t *read_element(const char **p, const char *end, char *name, size_t size, int depth)
{
    const char *q = *p + 1, *gt = memchr(q, '>', (size_t)(end - q));
    size_t len = gt ? (size_t)(gt - q) : 0;
    if (!gt || len == 0 || len >= size || memchr(q, ' ', len) || memchr(q, '/', len))
        return NULL;
    memcpy(name, q, len);
    name[len] = '\0';
    *p = gt + 1;
    json_t *v = read_content(p, end, depth + 1);
    if (!v || (size_t)(end - *p) < len + 3 || (*p)[0] != '<' || (*p)[1] != '/' || memcmp(*p + 2, name, len) != 0 ||
        (*p)[len + 2] != '>') {
        json_decref(v);
        return NULL;
    }
    *p += len + 3;
    if (name[0] >= 'A' && name[0] <= 'Z')
        name[0] = (char)(name[0] - 'A' + 'a');
    return v;
}

/* What is between an element's tags: child elements, or text. */
static json_t *read_content(const char **p, const char *end, int depth)
{
    char name[128];
    if (depth > XML_DEPTH_MAX)
        return NULL;
    if (*p >= end || **p != '<' || (*p + 1 < end && (*p)[1] == '/'))
        return read_text(p, end);
    json_t *obj = json_object(), *list = json_array();
    bool all_members = true;
    while (*p < end && **p == '<' && !(*p + 1 < end && (*p)[1] == '/')) {
        json_t *v = read_element(p, end, name, sizeof(name), depth);
        if (!v) {
            json_decref(obj);
            json_decref(list);
            return NULL;
        }
        all_members = all_members && strcmp(name, "member") == 0;
        json_array_append(list, v);
        json_object_set_new(obj, name, v);
    }
    if (all_members) {
        json_decref(obj);
        return list;
    }
    json_decref(list);
    return obj;
}

json_t *xml_to_json(const char *xml, size_t n)
{
    const char *p = xml, *end = xml + n;
    if (n == 0)
        return json_object();
    json_t *v = read_content(&p, end, 0);
    if (v && (p != end || !json_is_object(v))) {
        json_decref(v);
        v = NULL;
    }
    return v;
}
