/*
 * This module implements the XML writing of xml.h. Text is escaped byte by
 * byte (UTF-8 passes through); percent-encoding is libcurl's.
 */
#include "iam/xml.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

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
