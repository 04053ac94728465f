/*
 * This module implements AWS Signature Version 4 verification: parsing the
 * Authorization header and the presigned X-Amz-* query parameters, checking
 * scope and clock, building the canonical request the way botocore does,
 * deriving the signing key and comparing signatures in constant time. The
 * messages are the ones AWS sends, so that SDK users see familiar errors.
 */
#include "auth/sigv4.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

#define ECHO_MAX 400 /* bytes of client input quoted back in a message */
#define AMZ_DATE_LEN 16
#define UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

static const struct {
    const char *json_name;
    const char *query_name;
    int json_status;
    int query_status;
} error_table[SIGV4_ERROR_COUNT] = {
    [SIGV4_OK] = {"", "", 200, 200},
    [SIGV4_MISSING_AUTH] = {"MissingAuthenticationTokenException", "MissingAuthenticationToken", 403, 403},
    [SIGV4_INCOMPLETE] = {"IncompleteSignatureException", "IncompleteSignature", 400, 400},
    [SIGV4_UNKNOWN_KEY] = {"UnrecognizedClientException", "InvalidClientTokenId", 400, 403},
    [SIGV4_SIGNATURE_MISMATCH] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_PAYLOAD_MISMATCH] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_EXPIRED] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_NOT_YET_CURRENT] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_WRONG_REGION] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_WRONG_SERVICE] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_WRONG_DATE] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_WRONG_TERMINATOR] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_HEADER_NOT_SIGNED] = {"InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
    [SIGV4_INTERNAL] = {"InternalFailure", "InternalFailure", 500, 500},
};

static const char msg_bad_signature[] = "The request signature we calculated does not match the signature you provided. "
                                        "Check your AWS Secret Access Key and signing method. "
                                        "Consult the service documentation for details.";
static const char msg_bad_token[] = "The security token included in the request is invalid.";
static const char msg_query_required[] = "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                                         "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, "
                                         "and X-Amz-Expires parameters.";

const char *sigv4_error_name(enum sigv4_error e, enum sigv4_protocol p)
{
    if ((unsigned)e >= SIGV4_ERROR_COUNT)
        e = SIGV4_INTERNAL;
    return p == SIGV4_QUERY ? error_table[e].query_name : error_table[e].json_name;
}

int sigv4_error_status(enum sigv4_error e, enum sigv4_protocol p)
{
    if ((unsigned)e >= SIGV4_ERROR_COUNT)
        e = SIGV4_INTERNAL;
    return p == SIGV4_QUERY ? error_table[e].query_status : error_table[e].json_status;
}

const char *sigv4_error_message(const struct sigv4_result *r, enum sigv4_protocol p)
{
    if (r->error == SIGV4_MISSING_AUTH)
        return p == SIGV4_QUERY ? "Request is missing Authentication Token" : "Missing Authentication Token";
    return r->message;
}

/* ---- small helpers ---------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The whitespace Python's str.split() breaks on, within ASCII (botocore
 * canonicalises header values with ' '.join(value.split())). */
static bool is_split_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static struct slice trim_ows(struct slice s)
{
    while (s.len && is_ows(s.base[0])) {
        s.base++;
        s.len--;
    }
    while (s.len && is_ows(s.base[s.len - 1]))
        s.len--;
    return s;
}

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '~';
}

/* tchar of RFC 9110: what a header name may be made of. */
static bool is_tchar(unsigned char c)
{
    return is_unreserved(c) || (c && strchr("!#$%&'*+^`|", c) != NULL);
}

/* Copies client input into out for quoting in a message: bounded, and with
 * control and non-ASCII bytes replaced so a message can never carry them. */
static void echo(char *out, size_t cap, struct slice s)
{
    size_t n = 0, limit = cap - 4 < ECHO_MAX ? cap - 4 : ECHO_MAX;
    assert(cap > 4);
    for (size_t i = 0; i < s.len && n < limit; i++) {
        unsigned char c = (unsigned char)s.base[i];
        out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    if (s.len > limit) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
}

static int uri_encode(struct buf *out, const char *p, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)p[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            rc = buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_put(out, e, 3);
        }
    }
    return rc;
}

/* Form-style decoding: %XX and '+'. A '%' not followed by two hex digits is
 * kept as it is. Returns a malloc'd copy; *len_out gets its length. */
static char *query_decode(struct slice s, size_t *len_out)
{
    char *out = xmalloc(s.len + 1);
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        int hi, lo;
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < s.len && (hi = hex_value(s.base[i + 1])) >= 0 && (lo = hex_value(s.base[i + 2])) >= 0) {
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    *len_out = n;
    return out;
}

static void hmac_sha256(unsigned char out[32], const void *key, size_t keylen, const void *data, size_t n)
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len))
        abort();
}

/* ---- dates ------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil); no time zone or locale involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static bool make_time(int64_t *out, int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60)
        return false;
    if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

/* YYYYMMDDTHHMMSSZ */
static bool parse_amz_date(struct slice s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    if (s.len != AMZ_DATE_LEN || s.base[8] != 'T' || s.base[15] != 'Z')
        return false;
    if (!digits(s.base, 4, &y) || !digits(s.base + 4, 2, &mo) || !digits(s.base + 6, 2, &d) || !digits(s.base + 9, 2, &h) ||
        !digits(s.base + 11, 2, &mi) || !digits(s.base + 13, 2, &sec))
        return false;
    return make_time(out, y, mo, d, h, mi, sec);
}

/* IMF-fixdate (RFC 9110): "Sun, 06 Nov 1994 08:49:37 GMT". Python's
 * email.utils.formatdate, which botocore uses for Date, writes "-0000". */
static bool parse_http_date(struct slice s, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int y, mo = 0, d, h, mi, sec;
    const char *p = s.base;
    if (s.len != 29 && s.len != 31)
        return false;
    if (p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' || p[19] != ':' || p[22] != ':' || p[25] != ' ')
        return false;
    for (int i = 0; i < 12; i++)
        if (memcmp(p + 8, months + 3 * i, 3) == 0)
            mo = i + 1;
    if (!mo || !digits(p + 5, 2, &d) || !digits(p + 12, 4, &y) || !digits(p + 17, 2, &h) || !digits(p + 20, 2, &mi) ||
        !digits(p + 23, 2, &sec))
        return false;
    struct slice zone = {p + 26, s.len - 26};
    if (!slice_eq(zone, "GMT") && !slice_eq(zone, "UTC") && !slice_eq(zone, "+0000") && !slice_eq(zone, "-0000"))
        return false;
    return make_time(out, y, mo, d, h, mi, sec);
}

static void format_amz_date(char out[AMZ_DATE_LEN + 1], int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != AMZ_DATE_LEN)
        snprintf(out, AMZ_DATE_LEN + 1, "%s", "00000000T000000Z");
}

/* ---- parsing the signature parts --------------------------------------- */

int sigv4_parse_credential(struct sigv4_auth *out, struct slice credential)
{
    struct slice part[5];
    size_t n = 0, start = 0;
    char e[ECHO_MAX + 4];
    for (size_t i = 0; i <= credential.len; i++) {
        if (i < credential.len && credential.base[i] != '/')
            continue;
        if (n < 5)
            part[n] = (struct slice){credential.base + start, i - start};
        n++;
        start = i + 1;
    }
    bool ok = n == 5;
    for (size_t i = 0; ok && i < 5; i++)
        ok = part[i].len > 0;
    if (!ok) {
        echo(e, sizeof(e), credential);
        return error_set(E_INVALID,
                         "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
                         "got '%s'",
                         e);
    }
    out->credential = credential;
    out->access_key_id = part[0];
    out->date = part[1];
    out->region = part[2];
    out->service = part[3];
    out->terminator = part[4];
    return 0;
}

/*
 * AWS splits the part after the algorithm on commas and whitespace; every
 * piece must be key=value. Missing parameters are reported together, with
 * the missing date (have_date false) in the same message, the way AWS does.
 */
static int parse_authorization(struct sigv4_auth *out, struct slice header, bool have_date)
{
    static const size_t alen = sizeof(SIGV4_ALGORITHM) - 1;
    struct slice s, cred = {NULL, 0}, sh = {NULL, 0}, sig = {NULL, 0};
    bool have_cred = false, have_sh = false, have_sig = false;
    char e[ECHO_MAX + 4], h[ECHO_MAX + 4];
    struct buf msg;
    int rc;

    memset(out, 0, sizeof(*out));
    if (header.base == NULL)
        header.len = 0;
    if (header.len > SIGV4_AUTHORIZATION_MAX)
        return error_set(E_INVALID, "Authorization header is longer than %d bytes", SIGV4_AUTHORIZATION_MAX);
    s = trim_ows(header);
    echo(h, sizeof(h), s);

    if (s.len > alen && memcmp(s.base, SIGV4_ALGORITHM, alen) == 0 && is_ows(s.base[alen])) {
        size_t i = alen;
        while (i < s.len) {
            size_t start;
            while (i < s.len && (s.base[i] == ',' || is_ows(s.base[i])))
                i++;
            if (i == s.len)
                break;
            start = i;
            while (i < s.len && s.base[i] != ',' && !is_ows(s.base[i]))
                i++;
            struct slice piece = {s.base + start, i - start};
            const char *eq = memchr(piece.base, '=', piece.len);
            if (!eq) {
                echo(e, sizeof(e), piece);
                return error_set(E_INVALID, "'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.",
                                 e, h);
            }
            struct slice key = {piece.base, (size_t)(eq - piece.base)};
            struct slice val = {eq + 1, piece.len - key.len - 1};
            struct slice *dst = NULL;
            bool *seen = NULL;
            if (slice_eq(key, "Credential")) {
                dst = &cred;
                seen = &have_cred;
            } else if (slice_eq(key, "SignedHeaders")) {
                dst = &sh;
                seen = &have_sh;
            } else if (slice_eq(key, "Signature")) {
                dst = &sig;
                seen = &have_sig;
            }
            if (!dst)
                continue; /* AWS ignores parameters it does not know */
            if (*seen) {
                echo(e, sizeof(e), key);
                return error_set(E_INVALID, "Authorization header has more than one '%s' parameter. Authorization=%s", e, h);
            }
            *seen = true;
            *dst = val;
        }
    }

    if (have_cred && have_sh && have_sig && have_date) {
        if ((rc = sigv4_parse_credential(out, cred)) < 0)
            return rc;
        out->signed_headers = sh;
        out->signature = sig;
        return 0;
    }
    buf_init(&msg, 1024);
    if (!have_cred)
        buf_puts(&msg, "Authorization header requires 'Credential' parameter. ");
    if (!have_sig)
        buf_puts(&msg, "Authorization header requires 'Signature' parameter. ");
    if (!have_sh)
        buf_puts(&msg, "Authorization header requires 'SignedHeaders' parameter. ");
    if (!have_date)
        buf_puts(&msg, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    buf_printf(&msg, "Authorization=%s", h);
    rc = error_set(E_INVALID, "%s", msg.ptr);
    buf_release(&msg);
    return rc;
}

int sigv4_parse_authorization(struct sigv4_auth *out, struct slice header)
{
    return parse_authorization(out, header, true);
}

/* ---- the request ------------------------------------------------------ */

/* A query parameter, decoded (for lookups) and encoded (for the canonical
 * query). */
struct qparam {
    char *name, *value; /* decoded, NUL-terminated, may contain NULs */
    size_t nlen, vlen;
    char *ename, *evalue; /* canonical encoding */
};

struct qlist {
    struct qparam *v;
    size_t n;
};

static void qlist_release(struct qlist *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].name);
        free(q->v[i].value);
        free(q->v[i].ename);
        free(q->v[i].evalue);
    }
    free(q->v);
    q->v = NULL;
    q->n = 0;
}

static char *encode_copy(const char *p, size_t n)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    uri_encode(&b, p, n, false);
    return buf_detach(&b);
}

static void qlist_add(struct qlist *q, char *name, size_t nlen, char *value, size_t vlen)
{
    struct qparam *p = &q->v[q->n++];
    p->name = name;
    p->nlen = nlen;
    p->value = value;
    p->vlen = vlen;
    p->ename = encode_copy(name, nlen);
    p->evalue = encode_copy(value, vlen);
}

static int qlist_load(struct qlist *q, const struct sigv4_request *req)
{
    q->v = NULL;
    q->n = 0;
    if (req->query.base) {
        struct slice s = req->query;
        size_t count = 1;
        for (size_t i = 0; i < s.len; i++)
            count += s.base[i] == '&';
        if (count > SIGV4_QUERY_PARAMS_MAX)
            return error_set(E_TOOBIG, "more than %d query parameters", SIGV4_QUERY_PARAMS_MAX);
        q->v = xcalloc(count, sizeof(*q->v));
        size_t start = 0;
        for (size_t i = 0; i <= s.len; i++) {
            if (i < s.len && s.base[i] != '&')
                continue;
            struct slice piece = {s.base + start, i - start};
            start = i + 1;
            if (piece.len == 0)
                continue;
            const char *eq = memchr(piece.base, '=', piece.len);
            struct slice rn = {piece.base, eq ? (size_t)(eq - piece.base) : piece.len};
            struct slice rv = {eq ? eq + 1 : piece.base + piece.len, eq ? piece.len - rn.len - 1 : 0};
            size_t nlen, vlen;
            char *name = query_decode(rn, &nlen);
            char *value = query_decode(rv, &vlen);
            qlist_add(q, name, nlen, value, vlen);
        }
        return 0;
    }
    if (req->nparams > SIGV4_QUERY_PARAMS_MAX)
        return error_set(E_TOOBIG, "more than %d query parameters", SIGV4_QUERY_PARAMS_MAX);
    if (req->nparams)
        q->v = xcalloc(req->nparams, sizeof(*q->v));
    for (size_t i = 0; i < req->nparams; i++) {
        struct slice n = req->params[i].name, v = req->params[i].value;
        qlist_add(q, xstrndup(n.base ? n.base : "", n.len), n.len, xstrndup(v.base ? v.base : "", v.len), v.len);
    }
    return 0;
}

/* The decoded parameter called name: *found counts occurrences, the first is returned. */
static struct slice qlist_get(const struct qlist *q, const char *name, int *found)
{
    struct slice r = {NULL, 0};
    *found = 0;
    for (size_t i = 0; i < q->n; i++) {
        struct slice n = {q->v[i].name, q->v[i].nlen};
        if (slice_eq(n, name) && (*found)++ == 0)
            r = (struct slice){q->v[i].value, q->v[i].vlen};
    }
    return r;
}

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int c = strcmp(x->ename, y->ename);
    return c ? c : strcmp(x->evalue, y->evalue);
}

/* All values of header name (lowercase), canonicalised and joined with ','.
 * *count says how many headers matched. */
static int header_value(struct buf *out, const struct sigv4_request *req, struct slice name, int *count)
{
    int rc = 0;
    *count = 0;
    for (size_t i = 0; i < req->nheaders && rc == 0; i++) {
        const struct sigv4_header *h = &req->headers[i];
        if (h->name.len != name.len || strncasecmp(h->name.base, name.base, name.len) != 0)
            continue;
        if ((*count)++ > 0)
            rc = buf_putc(out, ',');
        /* trim, and collapse every run of whitespace into one space */
        bool space = false, any = false;
        for (size_t j = 0; j < h->value.len && rc == 0; j++) {
            char c = h->value.base[j];
            if (is_split_space(c)) {
                space = any;
                continue;
            }
            if (space)
                rc = buf_putc(out, ' ');
            if (rc == 0)
                rc = buf_putc(out, c);
            space = false;
            any = true;
        }
    }
    return rc;
}

static struct slice find_header(const struct sigv4_request *req, const char *name, int *count)
{
    struct slice r = {NULL, 0};
    *count = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        if (slice_eq_nocase(req->headers[i].name, name) && (*count)++ == 0)
            r = trim_ows(req->headers[i].value);
    return r;
}

struct hname {
    char z[SIGV4_HEADER_NAME_MAX + 1];
    size_t len;
};

static int hname_cmp(const void *a, const void *b)
{
    return strcmp(((const struct hname *)a)->z, ((const struct hname *)b)->z);
}

/* Lowercases, sorts and de-duplicates a SignedHeaders list into names. */
static int parse_signed_headers(struct hname *names, size_t *count, struct slice list)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= list.len; i++) {
        if (i < list.len && list.base[i] != ';')
            continue;
        struct slice s = {list.base + start, i - start};
        start = i + 1;
        if (s.len == 0)
            continue;
        if (n == SIGV4_SIGNED_HEADERS_MAX)
            return error_set(E_INVALID, "SignedHeaders names more than %d headers", SIGV4_SIGNED_HEADERS_MAX);
        if (s.len > SIGV4_HEADER_NAME_MAX)
            return error_set(E_INVALID, "SignedHeaders names a header longer than %d bytes", SIGV4_HEADER_NAME_MAX);
        for (size_t j = 0; j < s.len; j++) {
            unsigned char c = (unsigned char)s.base[j];
            if (!is_tchar(c))
                return error_set(E_INVALID, "SignedHeaders contains an invalid header name");
            names[n].z[j] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
        names[n].z[s.len] = '\0';
        names[n].len = s.len;
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), hname_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(names[m - 1].z, names[i].z) != 0)
            names[m++] = names[i];
    *count = m;
    return 0;
}

static bool names_contain(const struct hname *names, size_t n, const char *z)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i].z, z) == 0)
            return true;
    return false;
}

/* botocore's normalize_url_path + quote(safe='/~'): RFC 3986 dot-segment
 * removal, empty segments dropped, then every byte percent-encoded except
 * unreserved characters and '/'. */
static int canonical_uri(struct buf *out, struct slice path)
{
    size_t nseg = 0, cap = 1, start = 0;
    struct slice *seg;
    int rc = 0;

    if (path.base == NULL || path.len == 0)
        return buf_putc(out, '/');
    for (size_t i = 0; i < path.len; i++)
        cap += path.base[i] == '/';
    seg = xmalloc(cap * sizeof(*seg));
    for (size_t i = 0; i <= path.len; i++) {
        if (i < path.len && path.base[i] != '/')
            continue;
        struct slice s = {path.base + start, i - start};
        start = i + 1;
        if (s.len == 0 || slice_eq(s, "."))
            continue;
        if (slice_eq(s, "..")) {
            if (nseg)
                nseg--;
            continue;
        }
        seg[nseg++] = s;
    }
    if (path.base[0] == '/')
        rc = buf_putc(out, '/');
    for (size_t i = 0; i < nseg && rc == 0; i++) {
        if (i)
            rc = buf_putc(out, '/');
        if (rc == 0)
            rc = uri_encode(out, seg[i].base, seg[i].len, false);
    }
    if (rc == 0 && path.base[path.len - 1] == '/' && nseg)
        rc = buf_putc(out, '/');
    free(seg);
    return rc;
}

static int build_canonical(struct buf *out, const struct sigv4_request *req, struct qlist *q, const struct hname *names,
                           size_t nnames, struct slice payload, bool presigned)
{
    int rc, count;
    bool first = true;

    if ((rc = buf_put(out, req->method.base, req->method.len)) < 0 || (rc = buf_putc(out, '\n')) < 0)
        return rc;
    if ((rc = canonical_uri(out, req->path)) < 0 || (rc = buf_putc(out, '\n')) < 0)
        return rc;
    if (q->n > 1)
        qsort(q->v, q->n, sizeof(*q->v), qparam_cmp);
    for (size_t i = 0; i < q->n; i++) {
        if (presigned && q->v[i].nlen == 15 && memcmp(q->v[i].name, "X-Amz-Signature", 15) == 0)
            continue;
        if ((rc = buf_printf(out, "%s%s=%s", first ? "" : "&", q->v[i].ename, q->v[i].evalue)) < 0)
            return rc;
        first = false;
    }
    if ((rc = buf_putc(out, '\n')) < 0)
        return rc;
    for (size_t i = 0; i < nnames; i++) {
        struct slice n = {names[i].z, names[i].len};
        if ((rc = buf_printf(out, "%s:", names[i].z)) < 0 || (rc = header_value(out, req, n, &count)) < 0 ||
            (rc = buf_putc(out, '\n')) < 0)
            return rc;
    }
    if ((rc = buf_putc(out, '\n')) < 0)
        return rc;
    for (size_t i = 0; i < nnames; i++)
        if ((rc = buf_printf(out, "%s%s", i ? ";" : "", names[i].z)) < 0)
            return rc;
    if ((rc = buf_putc(out, '\n')) < 0 || (rc = buf_put(out, payload.base, payload.len)) < 0)
        return rc;
    return 0;
}

int sigv4_canonical_request(struct buf *out, const struct sigv4_request *req, struct slice signed_headers,
                            struct slice payload_hash, bool presigned)
{
    struct hname names[SIGV4_SIGNED_HEADERS_MAX];
    size_t nnames;
    struct qlist q = {NULL, 0};
    struct buf b;
    int rc;

    buf_init(&b, SIGV4_CANONICAL_MAX);
    if ((rc = parse_signed_headers(names, &nnames, signed_headers)) < 0 || (rc = qlist_load(&q, req)) < 0 ||
        (rc = build_canonical(&b, req, &q, names, nnames, payload_hash, presigned)) < 0)
        goto done;
    rc = buf_put(out, b.ptr, b.len);
done:
    qlist_release(&q);
    buf_release(&b);
    return rc;
}

/*
 * The string to sign for the canonical request creq and its signature, as
 * lowercase hex: the one implementation of SigV4's signing steps, used to
 * check a request (verify()) and to sign one (sigv4_sign()). key_secret is
 * "AWS4" followed by the secret access key.
 */
static void sign_canonical(char out[65], const struct buf *creq, const char *amz_date, struct slice date, struct slice region,
                           struct slice service, const char *key_secret, size_t keylen)
{
    unsigned char h[32], key[32], sig[32];
    char hh[65];
    unsigned int hl = 32;
    struct buf sts;
    buf_init(&sts, 1024);
    if (!EVP_Digest(creq->ptr, creq->len, h, &hl, EVP_sha256(), NULL))
        abort();
    hex_encode(hh, h, 32);
    buf_printf(&sts, "%s\n%s\n%.*s/%.*s/%.*s/%s\n%s", SIGV4_ALGORITHM, amz_date, (int)date.len, date.base, (int)region.len,
               region.base, (int)service.len, service.base, SIGV4_TERMINATOR, hh);
    hmac_sha256(key, key_secret, keylen, date.base, date.len);
    hmac_sha256(key, key, 32, region.base, region.len);
    hmac_sha256(key, key, 32, service.base, service.len);
    hmac_sha256(key, key, 32, SIGV4_TERMINATOR, sizeof(SIGV4_TERMINATOR) - 1);
    hmac_sha256(sig, key, 32, sts.ptr, sts.len);
    hex_encode(out, sig, 32);
    OPENSSL_cleanse(key, sizeof(key));
    buf_release(&sts);
}

int sigv4_sign(char out[65], const struct sigv4_request *req, struct slice signed_headers, bool presigned,
               const struct sigv4_signer *s, int64_t t)
{
    struct hname names[SIGV4_SIGNED_HEADERS_MAX];
    size_t nnames, slen = strlen(s->secret);
    struct qlist q = {NULL, 0};
    char ts[AMZ_DATE_LEN + 1], secret[SIGV4_SECRET_MAX + 4 + 1];
    struct buf creq;
    int rc;

    if (slen > SIGV4_SECRET_MAX)
        return error_set(E_INVALID, "secret access key is longer than %d bytes", SIGV4_SECRET_MAX);
    format_amz_date(ts, t);
    memcpy(secret, "AWS4", 4);
    memcpy(secret + 4, s->secret, slen);
    buf_init(&creq, SIGV4_CANONICAL_MAX);
    if ((rc = parse_signed_headers(names, &nnames, signed_headers)) < 0 || (rc = qlist_load(&q, req)) < 0 ||
        (rc = build_canonical(&creq, req, &q, names, nnames, req->payload_sha256, presigned)) < 0)
        goto done;
    sign_canonical(out, &creq, ts, (struct slice){ts, 8}, slice_from(s->region), slice_from(s->service), secret, 4 + slen);
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    qlist_release(&q);
    buf_release(&creq);
    return rc;
}

void sigv4_amz_date(char out[17], int64_t t)
{
    format_amz_date(out, t);
}

/* ---- verification ----------------------------------------------------- */

static int fail(struct sigv4_result *r, enum sigv4_error e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(struct sigv4_result *r, enum sigv4_error e, const char *fmt, ...)
{
    va_list ap;
    r->error = e;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    return error_set(e == SIGV4_INTERNAL ? E_ERROR : E_UNAUTH, "%s", r->message);
}

/* Copies a credential field for the result, printable ASCII only. */
static void copy_field(char *dst, size_t cap, struct slice s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.base[i];
        dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    dst[n] = '\0';
}

static bool service_ok(const struct sigv4_verifier *v, struct slice service)
{
    for (const char *const *p = v->services; p && *p; p++)
        if (slice_eq(service, *p))
            return true;
    return false;
}

static bool printable_key(struct slice k)
{
    if (k.len > SIGV4_ACCESS_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < k.len; i++)
        if ((unsigned char)k.base[i] <= 0x20 || (unsigned char)k.base[i] >= 0x7f)
            return false;
    return true;
}

/* Finds how the request is signed and fills auth, the timestamp and
 * expires (0 for header signing). */
static int read_signature(struct sigv4_result *out, struct sigv4_auth *auth, struct slice *stamp, int64_t *expires,
                          const struct sigv4_request *req, const struct qlist *q)
{
    int nauth, nalg, ndate, n;
    char e[ECHO_MAX + 4];
    struct slice authz = find_header(req, "authorization", &nauth);
    struct slice alg = qlist_get(q, "X-Amz-Algorithm", &nalg);

    *expires = 0;
    if (nauth == 0 && nalg == 0) {
        int ncred, nsig;
        qlist_get(q, "X-Amz-Credential", &ncred);
        qlist_get(q, "X-Amz-Signature", &nsig);
        if (ncred == 0 && nsig == 0)
            return fail(out, SIGV4_MISSING_AUTH, "Missing Authentication Token");
    }
    if (nauth > 1)
        return fail(out, SIGV4_INCOMPLETE, "Request has more than one Authorization header");
    if (nauth && (nalg || qlist_get(q, "X-Amz-Signature", &n).base))
        return fail(out, SIGV4_INCOMPLETE,
                    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");

    if (nauth) {
        struct slice xdate = find_header(req, "x-amz-date", &ndate);
        int nd;
        struct slice date = find_header(req, "date", &nd);
        *stamp = ndate ? xdate : date;
        if (parse_authorization(auth, authz, ndate > 0 || nd > 0) < 0)
            return fail(out, SIGV4_INCOMPLETE, "%s", error_message());
        if ((ndate > 1) || (!ndate && nd > 1))
            return fail(out, SIGV4_INCOMPLETE, "Request has more than one '%s' header", ndate ? "X-Amz-Date" : "Date");
        return 0;
    }

    out->presigned = true;
    static const char *const required[] = {"X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Signature",
                                           "X-Amz-Date",      "X-Amz-SignedHeaders", "X-Amz-Expires"};
    struct slice val[6];
    for (int i = 0; i < 6; i++) {
        val[i] = qlist_get(q, required[i], &n);
        if (n == 0)
            return fail(out, SIGV4_INCOMPLETE, "%s", msg_query_required);
        if (n > 1)
            return fail(out, SIGV4_INCOMPLETE, "Query-string parameter '%s' appears more than once.", required[i]);
    }
    if (!slice_eq(alg, SIGV4_ALGORITHM)) {
        echo(e, sizeof(e), alg);
        return fail(out, SIGV4_INCOMPLETE, "X-Amz-Algorithm only supports \"%s\", not \"%s\".", SIGV4_ALGORITHM, e);
    }
    if (sigv4_parse_credential(auth, val[1]) < 0)
        return fail(out, SIGV4_INCOMPLETE, "%s", error_message());
    auth->signature = val[2];
    *stamp = val[3];
    auth->signed_headers = val[4];
    uint64_t x;
    if (parse_u64(val[5], UINT64_MAX, &x) < 0)
        return fail(out, SIGV4_INCOMPLETE, "X-Amz-Expires should be a number");
    if (x == 0)
        return fail(out, SIGV4_INCOMPLETE, "X-Amz-Expires must be at least 1 second");
    if (x > SIGV4_MAX_EXPIRES_SECONDS)
        return fail(out, SIGV4_INCOMPLETE,
                    "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
                    "than %d seconds",
                    SIGV4_MAX_EXPIRES_SECONDS);
    *expires = (int64_t)x;
    return 0;
}

/* sigv4_verify(), or with headers_only sigv4_precheck(): everything up to
 * and including the secret lookup but the payload hash. */
static int verify(struct sigv4_result *out, const struct sigv4_verifier *v, const struct sigv4_request *req, int64_t now,
                  bool headers_only)
{
    struct sigv4_auth auth;
    struct qlist q = {NULL, 0};
    struct hname names[SIGV4_SIGNED_HEADERS_MAX];
    size_t nnames = 0;
    struct slice stamp = {NULL, 0}, payload = req->payload_sha256;
    int64_t t, expires;
    char ts[AMZ_DATE_LEN + 1], lo[AMZ_DATE_LEN + 1], nw[AMZ_DATE_LEN + 1], e[ECHO_MAX + 4];
    char secret[SIGV4_SECRET_MAX + 4 + 1];
    size_t slen = 0;
    char sighex[65];
    struct buf creq;
    int rc, n;

    assert(v->secret != NULL && v->region != NULL);
    memset(out, 0, sizeof(*out));
    memcpy(secret, "AWS4", 4);
    buf_init(&creq, SIGV4_CANONICAL_MAX);

    if (qlist_load(&q, req) < 0) {
        rc = fail(out, SIGV4_INCOMPLETE, "%s", error_message());
        goto done;
    }
    if ((rc = read_signature(out, &auth, &stamp, &expires, req, &q)) < 0)
        goto done;
    copy_field(out->access_key_id, sizeof(out->access_key_id), auth.access_key_id);
    copy_field(out->date, sizeof(out->date), auth.date);
    copy_field(out->region, sizeof(out->region), auth.region);
    copy_field(out->service, sizeof(out->service), auth.service);

    /* The date: X-Amz-Date in the basic ISO 8601 format, or an HTTP Date. */
    if (!parse_amz_date(stamp, &t) && (out->presigned || !parse_http_date(stamp, &t))) {
        echo(e, sizeof(e), stamp);
        rc = fail(out, SIGV4_INCOMPLETE,
                  "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", e);
        goto done;
    }
    out->signed_at = t;
    format_amz_date(ts, t);

    /* berth issues no temporary credentials, so no session token is valid */
    int ntok_header, ntok_query;
    find_header(req, "x-amz-security-token", &ntok_header);
    qlist_get(&q, "X-Amz-Security-Token", &ntok_query);
    if (ntok_header || ntok_query) {
        rc = fail(out, SIGV4_UNKNOWN_KEY, "%s", msg_bad_token);
        goto done;
    }

    /* The credential scope. */
    if (auth.date.len != 8 || memcmp(auth.date.base, ts, 8) != 0) {
        echo(e, sizeof(e), auth.date);
        rc = fail(out, SIGV4_WRONG_DATE,
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != "
                  "'%.8s', from '%s'.",
                  e, ts, ts);
        goto done;
    }
    if (!slice_eq(auth.region, v->region) && !(v->any_region && auth.region.len > 0)) {
        echo(e, sizeof(e), auth.region);
        /* AWS's sentence, and which region this server is, so a client set
         * to another region learns what to set instead */
        rc = fail(out, SIGV4_WRONG_REGION, "Credential should be scoped to a valid region, not '%s'. This server is region '%s'.",
                  e, v->region);
        goto done;
    }
    if (!service_ok(v, auth.service)) {
        rc = fail(out, SIGV4_WRONG_SERVICE, "Credential should be scoped to correct service: '%s'. ",
                  v->services && v->services[0] ? v->services[0] : "");
        goto done;
    }
    if (!slice_eq(auth.terminator, SIGV4_TERMINATOR)) {
        echo(e, sizeof(e), auth.terminator);
        rc = fail(out, SIGV4_WRONG_TERMINATOR, "Credential should be scoped with a valid terminator: '%s', not '%s'. ",
                  SIGV4_TERMINATOR, e);
        goto done;
    }

    /* The clock. */
    format_amz_date(nw, now);
    if (t > now + SIGV4_MAX_SKEW_SECONDS) {
        format_amz_date(lo, now + SIGV4_MAX_SKEW_SECONDS);
        rc = fail(out, SIGV4_NOT_YET_CURRENT, "Signature not yet current: %s is still later than %s (%s + 15 min.)", ts, lo, nw);
        goto done;
    }
    if (!out->presigned && t < now - SIGV4_MAX_SKEW_SECONDS) {
        format_amz_date(lo, now - SIGV4_MAX_SKEW_SECONDS);
        rc = fail(out, SIGV4_EXPIRED, "Signature expired: %s is now earlier than %s (%s - 15 min.)", ts, lo, nw);
        goto done;
    }
    if (out->presigned && t < now - expires) {
        format_amz_date(lo, now - expires);
        rc = fail(out, SIGV4_EXPIRED, "Signature expired: %s is now earlier than %s (%s - %lld sec.)", ts, lo, nw,
                  (long long)expires);
        goto done;
    }

    /* What must be signed. */
    if (parse_signed_headers(names, &nnames, auth.signed_headers) < 0) {
        rc = fail(out, SIGV4_INCOMPLETE, "%s", error_message());
        goto done;
    }
    if (!names_contain(names, nnames, "host") && !names_contain(names, nnames, ":authority")) {
        rc = fail(out, SIGV4_HEADER_NOT_SIGNED, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        goto done;
    }
    if (!out->presigned) {
        find_header(req, "x-amz-date", &n);
        const char *dh = n ? "x-amz-date" : "date";
        if (!names_contain(names, nnames, dh)) {
            rc = fail(out, SIGV4_HEADER_NOT_SIGNED, "'%s' must be a 'SignedHeader' in the AWS Authorization.",
                      n ? "X-Amz-Date" : "Date");
            goto done;
        }
    }

    /* The payload: the body's hash, unless the client declared otherwise. */
    struct slice declared = find_header(req, "x-amz-content-sha256", &n);
    if (n && !headers_only) {
        if (v->allow_unsigned_payload && slice_eq(declared, UNSIGNED_PAYLOAD)) {
            payload = declared;
            out->unsigned_payload = true;
        } else if (declared.len != req->payload_sha256.len ||
                   strncasecmp(declared.base, req->payload_sha256.base, declared.len) != 0) {
            rc = fail(out, SIGV4_PAYLOAD_MISMATCH, "The provided 'x-amz-content-sha256' header does not match what was computed.");
            goto done;
        }
    }

    /* The secret. */
    if (!printable_key(auth.access_key_id)) {
        rc = fail(out, SIGV4_UNKNOWN_KEY, "%s", msg_bad_token);
        goto done;
    }
    rc = v->secret(v->ctx, auth.access_key_id, secret + 4, SIGV4_SECRET_MAX, &slen);
    if (rc == E_NOTFOUND) {
        rc = fail(out, SIGV4_UNKNOWN_KEY, "%s", msg_bad_token);
        goto done;
    }
    if (rc < 0 || slen > SIGV4_SECRET_MAX) {
        rc = fail(out, SIGV4_INTERNAL, "secret lookup failed for access key '%s'", out->access_key_id);
        goto done;
    }
    if (headers_only) {
        rc = 0;
        goto done;
    }

    /* The canonical request, the string to sign, the signature: the same
     * steps sigv4_sign() takes. */
    if (build_canonical(&creq, req, &q, names, nnames, payload, out->presigned) < 0) {
        rc = fail(out, SIGV4_INCOMPLETE, "%s", error_message());
        goto done;
    }
    sign_canonical(sighex, &creq, ts, auth.date, auth.region, auth.service, secret, 4 + slen);
    if (!secure_equal(sighex, 64, auth.signature.base, auth.signature.len)) {
        rc = fail(out, SIGV4_SIGNATURE_MISMATCH, "%s", msg_bad_signature);
        goto done;
    }
    rc = 0;

done:
    OPENSSL_cleanse(secret, sizeof(secret));
    qlist_release(&q);
    buf_release(&creq);
    return rc;
}

int sigv4_verify(struct sigv4_result *out, const struct sigv4_verifier *v, const struct sigv4_request *req, int64_t now)
{
    return verify(out, v, req, now, false);
}

int sigv4_precheck(struct sigv4_result *out, const struct sigv4_verifier *v, const struct sigv4_request *req, int64_t now)
{
    return verify(out, v, req, now, true);
}
