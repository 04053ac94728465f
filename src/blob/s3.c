/*
 * This module implements the S3 client of s3.h: one libcurl easy handle
 * per thread (kept, so connections to the object store are reused), each
 * request signed with SigV4 through auth/sigv4.c's sigv4_sign(), replies
 * parsed with libxml2.
 */
#include "blob/s3.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/sigv4.h"
#include "core/alloc.h"
#include "core/digest.h"
#include "core/error.h"
#include "core/log.h"
#include "core/util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ERROR_BODY_MAX (16 * 1024)
#define XML_MAX (1 << 20)

/* ---- configuration ---------------------------------------------------- */

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~' || c == '/';
}

bool s3_key_valid(const char *key)
{
    size_t n = strlen(key), start = 0;
    if (n == 0 || n > 1024)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && !key_char(key[i]))
            return false;
        if (i < n && key[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && key[start] == '.') || (len == 2 && key[start] == '.' && key[start + 1] == '.'))
            return false;
        start = i + 1;
    }
    return true;
}

static bool bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '-' || b[i] == '.'))
            return false;
    return true;
}

/* The value of query parameter name in q (decoded), or NULL. */
static char *query_param(const char *q, const char *name)
{
    size_t nlen = strlen(name);
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
            char *v = xmalloc(len - nlen), *o = v;
            for (const char *p = q + nlen + 1; p < q + len; p++) {
                if (*p == '%' && p + 2 < q + len + 1 && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
                    *o++ = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
                    p += 2;
                } else {
                    *o++ = *p;
                }
            }
            *o = '\0';
            return v;
        }
        q = end ? end + 1 : NULL;
    }
    return NULL;
}

int s3_parse_url(struct s3 *out, const char *url)
{
    const char *p = url, *q, *slash, *hostp;
    char *endpoint = NULL, *region = NULL, *style = NULL;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (strncmp(p, "s3://", 5) != 0)
        return error_set(E_INVALID, "blob store '%s' is not an s3:// URL", url);
    p += 5;
    q = strchr(p, '?');
    size_t path_len = q ? (size_t)(q - p) : strlen(p);
    slash = memchr(p, '/', path_len);
    size_t blen = slash ? (size_t)(slash - p) : path_len;
    if (!bucket_valid(p, blen))
        return error_set(E_INVALID, "s3 blob store: bucket name '%.*s' is not a valid bucket name", (int)blen, p);
    out->bucket = xstrndup(p, blen);
    out->prefix = xstrdup("");
    if (slash && path_len > blen + 1) {
        size_t plen = path_len - blen - 1;
        char *pre = xstrndup(slash + 1, plen);
        while (plen && pre[plen - 1] == '/')
            pre[--plen] = '\0';
        if (plen && !s3_key_valid(pre)) {
            free(pre);
            rc = error_set(E_INVALID, "s3 blob store: prefix may only use letters, digits, '-', '_', '.', '~' and '/'");
            goto done;
        }
        free(out->prefix);
        out->prefix = xmalloc(plen + 2);
        snprintf(out->prefix, plen + 2, "%s%s", pre, plen ? "/" : "");
        free(pre);
    }
    endpoint = query_param(q ? q + 1 : NULL, "endpoint");
    region = query_param(q ? q + 1 : NULL, "region");
    style = query_param(q ? q + 1 : NULL, "path_style");
    if (!endpoint || (strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0)) {
        rc = error_set(E_INVALID, "s3 blob store: endpoint=http://host:port (or https://) is required");
        goto done;
    }
    size_t elen = strlen(endpoint);
    while (elen && endpoint[elen - 1] == '/')
        endpoint[--elen] = '\0';
    hostp = strstr(endpoint, "://") + 3;
    if (!*hostp || strchr(hostp, '/') || strchr(hostp, '@')) {
        rc = error_set(E_INVALID, "s3 blob store: endpoint must be scheme://host[:port] only");
        goto done;
    }
    out->path_style = style && strcmp(style, "1") == 0;
    out->region = xstrdup(region && *region ? region : "us-east-1");
    if (out->path_style) {
        out->endpoint = xstrdup(endpoint);
        out->host = xstrdup(hostp);
    } else {
        /* virtual-hosted: the bucket is the first label of the host */
        size_t n = elen + strlen(out->bucket) + 2;
        out->endpoint = xmalloc(n);
        snprintf(out->endpoint, n, "%.*s%s.%s", (int)(hostp - endpoint), endpoint, out->bucket, hostp);
        out->host = xmalloc(strlen(hostp) + strlen(out->bucket) + 2);
        snprintf(out->host, strlen(hostp) + strlen(out->bucket) + 2, "%s.%s", out->bucket, hostp);
    }
    out->timeout_seconds = 0;
done:
    free(endpoint);
    free(region);
    free(style);
    if (rc < 0)
        s3_release(out);
    return rc;
}

static char *trimmed(char *z)
{
    while (*z == ' ' || *z == '\t')
        z++;
    size_t n = strlen(z);
    while (n && (z[n - 1] == ' ' || z[n - 1] == '\t' || z[n - 1] == '\r' || z[n - 1] == '\n'))
        z[--n] = '\0';
    return z;
}

int s3_load_credentials(struct s3 *s)
{
    const char *id = getenv("BERTH_S3_ACCESS_KEY_ID"), *secret = getenv("BERTH_S3_SECRET_ACCESS_KEY");
    const char *file = getenv("BERTH_S3_CREDENTIALS_FILE");
    if (id && *id && secret && *secret) {
        s->access_key_id = xstrdup(id);
        s->secret = xstrdup(secret);
        return 0;
    }
    if (!file || !*file)
        return error_set(E_INVALID, "s3 blob store: set BERTH_S3_ACCESS_KEY_ID and BERTH_S3_SECRET_ACCESS_KEY, or "
                                    "BERTH_S3_CREDENTIALS_FILE");
    FILE *f = fopen(file, "r");
    if (!f)
        return error_set(E_INVALID, "s3 blob store: cannot read credentials file '%s': %s", file, strerror(errno));
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trimmed(line), *v = trimmed(eq + 1);
        if (strcmp(k, "access_key_id") == 0 || strcmp(k, "aws_access_key_id") == 0) {
            free(s->access_key_id);
            s->access_key_id = xstrdup(v);
        } else if (strcmp(k, "secret_access_key") == 0 || strcmp(k, "aws_secret_access_key") == 0) {
            free(s->secret);
            s->secret = xstrdup(v);
        }
    }
    fclose(f);
    explicit_bzero(line, sizeof(line));
    if (!s->access_key_id || !*s->access_key_id || !s->secret || !*s->secret)
        return error_set(E_INVALID, "s3 blob store: credentials file '%s' lacks access_key_id or secret_access_key", file);
    return 0;
}

void s3_release(struct s3 *s)
{
    free(s->bucket);
    free(s->prefix);
    free(s->endpoint);
    free(s->host);
    free(s->region);
    free(s->access_key_id);
    if (s->secret) {
        explicit_bzero(s->secret, strlen(s->secret));
        free(s->secret);
    }
    memset(s, 0, sizeof(*s));
}

/* ---- XML replies ------------------------------------------------------ */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

int s3_xml_field(const char *xml, size_t n, const char *root, const char *field, char *out, size_t cap)
{
    int rc = E_NOTFOUND;
    if (cap)
        out[0] = '\0';
    if (n == 0 || n > XML_MAX)
        return error_set(E_INVALID, "s3 reply is not an XML document");
    pthread_once(&xml_once, xml_init);
    xmlDocPtr doc = xmlReadMemory(xml, (int)n, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return error_set(E_INVALID, "s3 reply is not an XML document");
    xmlNodePtr r = xmlDocGetRootElement(doc);
    /* S3 never sends a DTD: a document with one (entities to expand) is not a reply */
    if (doc->intSubset || doc->extSubset) {
        rc = error_set(E_INVALID, "s3 reply has a document type declaration");
        goto done;
    }
    if (!r || strcmp((const char *)r->name, root) != 0)
        goto done;
    for (xmlNodePtr c = r->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, field) != 0)
            continue;
        xmlChar *text = xmlNodeGetContent(c);
        if (cap)
            snprintf(out, cap, "%s", text ? (const char *)text : "");
        xmlFree(text);
        rc = 0;
        break;
    }
done:
    xmlFreeDoc(doc);
    return rc;
}

/* "2026-11-29T05:31:36.000Z" as milliseconds since the epoch; 0 when malformed. */
static int64_t parse_iso_time(const char *z)
{
    int y, mo, d, h, mi, sec;
    if (sscanf(z, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60 || y < 1970)
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    return (int64_t)timegm(&tm) * 1000;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

int s3_list_parse(const char *xml, size_t n, s3_list_fn fn, void *ctx, bool *truncated, char *next, size_t cap)
{
    int rc = 0;
    *truncated = false;
    if (cap)
        next[0] = '\0';
    if (n == 0 || n > 16 * XML_MAX)
        return error_set(E_INVALID, "s3 listing is not an XML document");
    pthread_once(&xml_once, xml_init);
    xmlDocPtr doc = xmlReadMemory(xml, (int)n, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return error_set(E_INVALID, "s3 listing is not an XML document");
    xmlNodePtr r = xmlDocGetRootElement(doc);
    if (doc->intSubset || doc->extSubset || !r || strcmp((const char *)r->name, "ListBucketResult") != 0) {
        rc = error_set(E_INVALID, "s3 listing is not a ListBucketResult");
        goto done;
    }
    for (xmlNodePtr c = r->children; c && rc == 0; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)c->name, "IsTruncated") == 0) {
            xmlChar *t = xmlNodeGetContent(c);
            *truncated = t && strcmp((const char *)t, "true") == 0;
            xmlFree(t);
        } else if (strcmp((const char *)c->name, "NextContinuationToken") == 0) {
            xmlChar *t = xmlNodeGetContent(c);
            if (cap)
                snprintf(next, cap, "%s", t ? (const char *)t : "");
            xmlFree(t);
        } else if (strcmp((const char *)c->name, "Contents") == 0) {
            xmlNodePtr k = child(c, "Key"), m = child(c, "LastModified");
            xmlChar *key = k ? xmlNodeGetContent(k) : NULL, *mt = m ? xmlNodeGetContent(m) : NULL;
            if (key && s3_key_valid((const char *)key) && fn(ctx, (const char *)key, mt ? parse_iso_time((const char *)mt) : 0))
                rc = 1;
            xmlFree(key);
            xmlFree(mt);
        }
    }
done:
    xmlFreeDoc(doc);
    return rc;
}

/* ---- requests --------------------------------------------------------- */

struct call {
    const char *method;
    const char *key;   /* without the prefix applied: the full object key */
    const char *query; /* raw, already encoded; NULL for none */
    const char *copy_source;
    bool if_none_match;
    const void *body;
    size_t n;
    uint64_t range_first, range_len;
    int fd;          /* the body of a 2xx GET goes here when >= 0 */
    struct buf *out; /* ... or here */
    /* results */
    struct s3_reply reply; /* what the headers said */
    uint64_t written;      /* bytes of a 2xx reply's body written to fd */
    struct buf err; /* the body of a reply that is not 2xx */
    size_t sent;
    int write_errno;
};

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void handle_key_init(void)
{
    pthread_key_create(&handle_key, handle_free);
}

static CURL *thread_handle(void)
{
    pthread_once(&handle_once, handle_key_init);
    CURL *h = pthread_getspecific(handle_key);
    if (h) {
        curl_easy_reset(h);
        return h;
    }
    if (!(h = curl_easy_init()))
        abort();
    pthread_setspecific(handle_key, h);
    return h;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ctx)
{
    struct call *c = ctx;
    size_t want = size * nitems, left = c->n - c->sent;
    if (want > left)
        want = left;
    memcpy(dst, (const char *)c->body + c->sent, want);
    c->sent += want;
    return want;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct call *c = ctx;
    size_t n = size * nmemb;
    if (c->reply.status < 200 || c->reply.status >= 300) {
        /* an error document: keep its start for the message */
        size_t room = c->err.max > c->err.len + 1 ? c->err.max - c->err.len - 1 : 0;
        buf_put(&c->err, data, n < room ? n : room);
        return n;
    }
    if (c->fd >= 0) {
        size_t done = 0;
        /* a ranged GET takes the range's length, and no more: an object
         * store's reply is not trusted to keep to it */
        if (c->range_len && (c->written > c->range_len || n > c->range_len - c->written)) {
            c->write_errno = EFBIG;
            return 0;
        }
        c->written += n;
        while (done < n) {
            ssize_t w = write(c->fd, data + done, n - done);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                c->write_errno = w < 0 ? errno : EIO;
                return 0;
            }
            done += (size_t)w;
        }
        return n;
    }
    if (c->out && buf_put(c->out, data, n) < 0)
        return 0;
    return n;
}

void s3_reply_init(struct s3_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->range_start = UINT64_MAX;
}

void s3_reply_header(struct s3_reply *r, const char *data, size_t n)
{
    size_t len = n;
    while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    struct slice line = slice_trim((struct slice){data, len});
    if (slice_starts_with(line, "HTTP/")) {
        /* a new status line (after a 100 Continue, too): its code */
        const char *sp = memchr(line.base, ' ', line.len);
        uint64_t code = 0;
        if (sp && line.base + line.len - sp > 3)
            parse_u64((struct slice){sp + 1, 3}, 999, &code);
        r->status = (long)code;
        return;
    }
    const char *colon = memchr(line.base, ':', line.len);
    if (!colon)
        return;
    struct slice name = {line.base, (size_t)(colon - line.base)};
    struct slice value = slice_trim((struct slice){colon + 1, line.len - name.len - 1});
    if (slice_eq_nocase(name, "ETag")) {
        snprintf(r->obj.etag, sizeof(r->obj.etag), "%.*s", (int)(value.len < sizeof(r->obj.etag) ? value.len : sizeof(r->obj.etag)),
                 value.base);
    } else if (slice_eq_nocase(name, "Content-Length")) {
        parse_u64(value, UINT64_MAX, &r->obj.size);
    } else if (slice_eq_nocase(name, "Content-Range")) {
        /* "bytes FIRST-LAST/TOTAL" */
        const char *slash = memchr(value.base, '/', value.len), *dash = memchr(value.base, '-', value.len);
        if (slash)
            parse_u64((struct slice){slash + 1, (size_t)(value.base + value.len - slash - 1)}, UINT64_MAX, &r->total);
        if (dash && slice_starts_with(value, "bytes ") &&
            parse_u64((struct slice){value.base + 6, (size_t)(dash - value.base - 6)}, UINT64_MAX, &r->range_start) < 0)
            r->range_start = UINT64_MAX;
    } else if (slice_eq_nocase(name, "Last-Modified")) {
        char z[64];
        snprintf(z, sizeof(z), "%.*s", (int)(value.len < sizeof(z) ? value.len : sizeof(z)), value.base);
        time_t t = curl_getdate(z, NULL);
        if (t > 0)
            r->obj.mtime_ms = (int64_t)t * 1000;
    }
}

static size_t on_header(char *data, size_t size, size_t nitems, void *ctx)
{
    struct call *c = ctx;
    s3_reply_header(&c->reply, data, size * nitems);
    return size * nitems;
}

/* A query value or path part with everything but unreserved characters
 * percent-encoded. */
static void encode_into(struct buf *b, const char *z)
{
    for (const unsigned char *p = (const unsigned char *)z; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
            *p == '.' || *p == '~')
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

/* "/bucket/key" or "/key" (virtual-hosted); key may be NULL for the bucket. */
static void object_path(struct buf *b, const struct s3 *s, const char *key)
{
    if (s->path_style)
        buf_printf(b, "/%s", s->bucket);
    buf_printf(b, "/%s", key ? key : "");
}

static int fail_call(struct call *c, const char *what)
{
    char code[64] = "", msg[256] = "";
    if (c->err.len)
        s3_xml_field(c->err.ptr, c->err.len, "Error", "Code", code, sizeof(code));
    if (c->err.len)
        s3_xml_field(c->err.ptr, c->err.len, "Error", "Message", msg, sizeof(msg));
    error_clear();
    int e = E_ERROR;
    if (c->reply.status == 404)
        e = E_NOTFOUND;
    else if (c->reply.status == 412)
        e = E_EXISTS;
    return error_set(e, "object store: %s '%s' failed: HTTP %ld %s%s%s", what, c->key ? c->key : "", c->reply.status,
                     code[0] ? code : "", msg[0] ? ": " : "", msg);
}

/* Signs and performs c; 0 for a 2xx reply. */
static int perform(struct s3 *s, struct call *c, const char *what)
{
    struct buf path, url;
    char amz_date[17], sig[65], payload[DIGEST_MAX], auth[1024], range[96];
    struct sigv4_header hs[4];
    size_t nh = 0;
    struct curl_slist *headers = NULL;
    int rc;

    assert(!c->key || s3_key_valid(c->key));
    buf_init(&path, 4096);
    buf_init(&url, 8192);
    buf_init(&c->err, ERROR_BODY_MAX);
    object_path(&path, s, c->key);
    int64_t t = now_ms() / 1000;
    sigv4_amz_date(amz_date, t);
    if (c->body && c->n) {
        digest_sha256(payload, c->body, c->n);
        memmove(payload, payload + 7, strlen(payload + 7) + 1);
    } else {
        snprintf(payload, sizeof(payload), "%s", EMPTY_SHA256);
    }
    hs[nh++] = (struct sigv4_header){slice_from("host"), slice_from(s->host)};
    hs[nh++] = (struct sigv4_header){slice_from("x-amz-content-sha256"), slice_from(payload)};
    if (c->copy_source)
        hs[nh++] = (struct sigv4_header){slice_from("x-amz-copy-source"), slice_from(c->copy_source)};
    hs[nh++] = (struct sigv4_header){slice_from("x-amz-date"), slice_from(amz_date)};
    struct sigv4_request req = {
        .method = slice_from(c->method),
        .path = {path.ptr, path.len},
        .query = slice_from(c->query ? c->query : ""),
        .headers = hs,
        .nheaders = nh,
        .payload_sha256 = slice_from(payload),
    };
    const char *signed_headers =
        c->copy_source ? "host;x-amz-content-sha256;x-amz-copy-source;x-amz-date" : "host;x-amz-content-sha256;x-amz-date";
    struct sigv4_signer signer = {s->access_key_id, s->secret, s->region, "s3"};
    if ((rc = sigv4_sign(sig, &req, slice_from(signed_headers), false, &signer, t)) < 0)
        goto done;
    snprintf(auth, sizeof(auth), "Authorization: %s Credential=%s/%.8s/%s/s3/%s, SignedHeaders=%s, Signature=%s",
             SIGV4_ALGORITHM, s->access_key_id, amz_date, s->region, SIGV4_TERMINATOR, signed_headers, sig);

    char hdr[1200];
    snprintf(hdr, sizeof(hdr), "Host: %s", s->host);
    headers = curl_slist_append(headers, hdr);
    snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", payload);
    headers = curl_slist_append(headers, hdr);
    snprintf(hdr, sizeof(hdr), "x-amz-date: %s", amz_date);
    headers = curl_slist_append(headers, hdr);
    if (c->copy_source) {
        snprintf(hdr, sizeof(hdr), "x-amz-copy-source: %s", c->copy_source);
        headers = curl_slist_append(headers, hdr);
    }
    if (c->if_none_match)
        headers = curl_slist_append(headers, "If-None-Match: *");
    if (c->range_len) {
        snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-%" PRIu64, c->range_first, c->range_first + c->range_len - 1);
        headers = curl_slist_append(headers, range);
    }
    headers = curl_slist_append(headers, auth);
    headers = curl_slist_append(headers, "Expect:");
    explicit_bzero(auth, sizeof(auth));

    buf_printf(&url, "%s%.*s", s->endpoint, (int)path.len, path.ptr);
    if (c->query && *c->query)
        buf_printf(&url, "?%s", c->query);

    CURL *h = thread_handle();
    curl_easy_setopt(h, CURLOPT_URL, url.ptr);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* a store that stops answering mid-transfer: give up after 30 s of
     * no progress rather than hold the request forever */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
    if (s->timeout_seconds)
        curl_easy_setopt(h, CURLOPT_TIMEOUT, s->timeout_seconds);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    if (strcmp(c->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(c->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->n);
    } else if (strcmp(c->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, c);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->n);
    } else if (strcmp(c->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->reply.status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    if (c->write_errno == EFBIG) {
        rc = error_set(E_ERROR, "object store: %s '%s' answered more than the %" PRIu64 " bytes asked for", what,
                       c->key ? c->key : "", c->range_len);
        goto done;
    }
    if (c->write_errno) {
        rc = error_set(E_ERROR, "object store: cannot write '%s' locally: %s", c->key ? c->key : "", strerror(c->write_errno));
        goto done;
    }
    if (cc != CURLE_OK) {
        rc = error_set(E_ERROR, "object store unavailable: %s '%s': %s", what, c->key ? c->key : "", curl_easy_strerror(cc));
        goto done;
    }
    rc = c->reply.status >= 200 && c->reply.status < 300 ? 0 : fail_call(c, what);
done:
    curl_slist_free_all(headers);
    buf_release(&path);
    buf_release(&url);
    return rc;
}

static void call_init(struct call *c, const char *method, const char *key)
{
    memset(c, 0, sizeof(*c));
    c->method = method;
    c->key = key;
    c->fd = -1;
    s3_reply_init(&c->reply);
}

int s3_put(struct s3 *s, const char *key, const void *data, size_t n, bool if_none_match)
{
    struct call c;
    call_init(&c, "PUT", key);
    c.body = data;
    c.n = n;
    c.if_none_match = if_none_match;
    int rc = perform(s, &c, "PUT");
    buf_release(&c.err);
    return rc;
}

int s3_get_fd(struct s3 *s, const char *key, uint64_t first, uint64_t len, int fd, struct s3_object *out)
{
    struct call c;
    call_init(&c, "GET", key);
    c.fd = fd;
    c.range_first = first;
    c.range_len = len;
    int rc = perform(s, &c, "GET");
    /* a store that ignored the Range (200, the object from its start) or
     * answered another range must not pass for the bytes asked for */
    if (rc == 0 && len && (c.reply.status != 206 || c.reply.range_start != first || c.written != len))
        rc = error_set(E_ERROR, "object store: GET '%s' bytes %" PRIu64 "+%" PRIu64 " answered HTTP %ld with %" PRIu64
                                " bytes from %s",
                       key, first, len, c.reply.status, c.written, c.reply.range_start == first ? "there" : "elsewhere");
    if (rc == 0 && out) {
        *out = c.reply.obj;
        if (c.reply.total)
            out->size = c.reply.total;
    }
    buf_release(&c.err);
    return rc;
}

int s3_get_buf(struct s3 *s, const char *key, struct buf *b)
{
    struct call c;
    call_init(&c, "GET", key);
    c.out = b;
    int rc = perform(s, &c, "GET");
    if (rc == E_ERROR && c.reply.status >= 200 && c.reply.status < 300)
        rc = error_set(E_TOOBIG, "object store: '%s' is larger than expected", key);
    buf_release(&c.err);
    return rc;
}

int s3_head(struct s3 *s, const char *key, struct s3_object *out)
{
    struct call c;
    call_init(&c, "HEAD", key);
    int rc = perform(s, &c, "HEAD");
    if (rc == 0 && out)
        *out = c.reply.obj;
    buf_release(&c.err);
    return rc;
}

int s3_delete(struct s3 *s, const char *key)
{
    struct call c;
    call_init(&c, "DELETE", key);
    int rc = perform(s, &c, "DELETE");
    buf_release(&c.err);
    return rc == E_NOTFOUND ? 0 : rc;
}

/* CopyObject and CompleteMultipartUpload may answer 200 and still fail:
 * the error is then the document. */
static int check_document(struct call *c, struct buf *reply, const char *what)
{
    char code[64];
    if (s3_xml_field(reply->ptr, reply->len, "Error", "Code", code, sizeof(code)) == 0) {
        buf_reset(&c->err);
        buf_put(&c->err, reply->ptr, reply->len < ERROR_BODY_MAX - 1 ? reply->len : ERROR_BODY_MAX - 1);
        c->reply.status = 500;
        return fail_call(c, what);
    }
    error_clear();
    return 0;
}

int s3_copy(struct s3 *s, const char *dst, const char *src)
{
    struct call c;
    struct buf reply, source;
    buf_init(&reply, 64 * 1024);
    buf_init(&source, 2048);
    buf_printf(&source, "/%s/%s", s->bucket, src);
    call_init(&c, "PUT", dst);
    c.copy_source = source.ptr;
    c.out = &reply;
    int rc = perform(s, &c, "copy");
    if (rc == 0)
        rc = check_document(&c, &reply, "copy");
    buf_release(&c.err);
    buf_release(&reply);
    buf_release(&source);
    return rc;
}

int s3_multipart_create(struct s3 *s, const char *key, char upload_id[S3_UPLOAD_ID_MAX])
{
    struct call c;
    struct buf reply;
    buf_init(&reply, 64 * 1024);
    call_init(&c, "POST", key);
    c.query = "uploads=";
    c.out = &reply;
    int rc = perform(s, &c, "CreateMultipartUpload");
    if (rc == 0 && s3_xml_field(reply.ptr, reply.len, "InitiateMultipartUploadResult", "UploadId", upload_id,
                                S3_UPLOAD_ID_MAX) < 0)
        rc = error_set(E_ERROR, "object store: CreateMultipartUpload '%s' answered without an UploadId", key);
    if (rc == 0 && (!upload_id[0] || strlen(upload_id) >= S3_UPLOAD_ID_MAX - 1))
        rc = error_set(E_ERROR, "object store: CreateMultipartUpload '%s' answered an unusable UploadId", key);
    buf_release(&c.err);
    buf_release(&reply);
    return rc;
}

static void upload_query(struct buf *q, int part, const char *upload_id)
{
    if (part > 0)
        buf_printf(q, "partNumber=%d&", part);
    buf_puts(q, "uploadId=");
    encode_into(q, upload_id);
}

int s3_multipart_part(struct s3 *s, const char *key, const char *upload_id, int part, const void *data, size_t n,
                      char etag_out[80])
{
    struct call c;
    struct buf q;
    buf_init(&q, 1024);
    upload_query(&q, part, upload_id);
    call_init(&c, "PUT", key);
    c.query = q.ptr;
    c.body = data;
    c.n = n;
    int rc = perform(s, &c, "UploadPart");
    if (rc == 0 && !c.reply.obj.etag[0])
        rc = error_set(E_ERROR, "object store: UploadPart '%s' answered without an ETag", key);
    if (rc == 0)
        memcpy(etag_out, c.reply.obj.etag, 80);
    buf_release(&c.err);
    buf_release(&q);
    return rc;
}

int s3_multipart_complete(struct s3 *s, const char *key, const char *upload_id, char (*etags)[80], int n)
{
    struct call c;
    struct buf q, body, reply;
    buf_init(&q, 1024);
    buf_init(&body, (size_t)n * 160 + 256);
    buf_init(&reply, 64 * 1024);
    upload_query(&q, 0, upload_id);
    buf_puts(&body, "<CompleteMultipartUpload>");
    for (int i = 0; i < n; i++) {
        /* ETags are quoted hex: nothing in them needs escaping, but a
         * store's odd one must not break the document */
        buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        for (const char *p = etags[i]; *p; p++)
            if (*p != '<' && *p != '&' && *p != '>')
                buf_putc(&body, *p);
        buf_puts(&body, "</ETag></Part>");
    }
    buf_puts(&body, "</CompleteMultipartUpload>");
    call_init(&c, "POST", key);
    c.query = q.ptr;
    c.body = body.ptr;
    c.n = body.len;
    c.out = &reply;
    int rc = perform(s, &c, "CompleteMultipartUpload");
    if (rc == 0)
        rc = check_document(&c, &reply, "CompleteMultipartUpload");
    buf_release(&c.err);
    buf_release(&q);
    buf_release(&body);
    buf_release(&reply);
    return rc;
}

int s3_multipart_abort(struct s3 *s, const char *key, const char *upload_id)
{
    struct call c;
    struct buf q;
    buf_init(&q, 1024);
    upload_query(&q, 0, upload_id);
    call_init(&c, "DELETE", key);
    c.query = q.ptr;
    int rc = perform(s, &c, "AbortMultipartUpload");
    buf_release(&c.err);
    buf_release(&q);
    return rc == E_NOTFOUND ? 0 : rc;
}

/* The caller's fn, for the keys that begin with the prefix listed: a
 * store's listing is not trusted to keep to it, and callers read each key
 * past the prefix. */
struct prefixed {
    const char *prefix;
    size_t len;
    s3_list_fn fn;
    void *ctx;
};

static int listed_under_prefix(void *ctx, const char *key, int64_t mtime_ms)
{
    struct prefixed *p = ctx;
    if (strncmp(key, p->prefix, p->len) != 0)
        return 0;
    return p->fn(p->ctx, key, mtime_ms);
}

int s3_list(struct s3 *s, const char *prefix, s3_list_fn fn, void *ctx)
{
    char token[1024] = "", previous[1024] = "";
    bool truncated = true;
    int rc = 0;
    struct prefixed under = {prefix, strlen(prefix), fn, ctx};
    for (int page = 0; truncated && rc == 0; page++) {
        struct call c;
        struct buf q, reply;
        buf_init(&q, 4096);
        buf_init(&reply, 16 * XML_MAX);
        if (token[0]) {
            buf_puts(&q, "continuation-token=");
            encode_into(&q, token);
            buf_putc(&q, '&');
        }
        buf_puts(&q, "list-type=2&max-keys=1000&prefix=");
        encode_into(&q, prefix);
        call_init(&c, "GET", NULL);
        c.query = q.ptr;
        c.out = &reply;
        snprintf(previous, sizeof(previous), "%s", token);
        if ((rc = perform(s, &c, "ListObjectsV2")) == 0) {
            rc = s3_list_parse(reply.ptr, reply.len, listed_under_prefix, &under, &truncated, token, sizeof(token));
            /* a truncated page must say where the next begins, and not
             * where this one did (the listing would never end) */
            if (rc == 0 && truncated && !token[0])
                rc = error_set(E_ERROR, "object store: ListObjectsV2 '%s' is truncated without a continuation token", prefix);
            if (rc == 0 && truncated && strcmp(token, previous) == 0)
                rc = error_set(E_ERROR, "object store: ListObjectsV2 '%s' answered the same continuation token again", prefix);
        }
        buf_release(&c.err);
        buf_release(&q);
        buf_release(&reply);
    }
    return rc < 0 ? rc : 0;
}

int s3_presign_get(struct s3 *s, char *out, size_t cap, const char *key, int64_t expires)
{
    struct buf path, q, cred;
    char amz_date[17], sig[65];
    int rc;
    int64_t t = now_ms() / 1000;
    sigv4_amz_date(amz_date, t);
    buf_init(&path, 4096);
    buf_init(&q, 4096);
    buf_init(&cred, 1024);
    object_path(&path, s, key);
    buf_printf(&cred, "%s/%.8s/%s/s3/%s", s->access_key_id, amz_date, s->region, SIGV4_TERMINATOR);
    buf_printf(&q, "X-Amz-Algorithm=%s&X-Amz-Credential=", SIGV4_ALGORITHM);
    encode_into(&q, cred.ptr);
    buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%" PRId64 "&X-Amz-SignedHeaders=host", amz_date, expires);
    struct sigv4_header hs[1] = {{slice_from("host"), slice_from(s->host)}};
    struct sigv4_request req = {
        .method = slice_from("GET"),
        .path = {path.ptr, path.len},
        .query = {q.ptr, q.len},
        .headers = hs,
        .nheaders = 1,
        .payload_sha256 = slice_from("UNSIGNED-PAYLOAD"),
    };
    struct sigv4_signer signer = {s->access_key_id, s->secret, s->region, "s3"};
    if ((rc = sigv4_sign(sig, &req, slice_from("host"), true, &signer, t)) == 0) {
        int n = snprintf(out, cap, "%s%.*s?%s&X-Amz-Signature=%s", s->endpoint, (int)path.len, path.ptr, q.ptr, sig);
        if (n < 0 || (size_t)n >= cap)
            rc = error_set(E_TOOBIG, "presigned URL for '%s' is too long", key);
    }
    buf_release(&path);
    buf_release(&q);
    buf_release(&cred);
    return rc;
}
