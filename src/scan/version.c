/*
 * This module implements version comparison for dpkg, apk and rpm
 * (version.h), each after its package manager's own rules: dpkg's
 * verrevcmp over epoch, upstream version and revision (Debian Policy
 * 5.6.12), apk-tools' token grammar, and rpm's rpmvercmp over epoch,
 * version and release. Comparisons are total: any bytes compare without
 * failing, and only ASCII classes are used (never the locale's).
 */
#include "scan/version.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_lower(int c)
{
    return c >= 'a' && c <= 'z';
}

static int sign(long long v)
{
    return v < 0 ? -1 : v > 0;
}

/* ---- dpkg ---- */

/* The weight of one character in a non-digit run: '~' before the end of
 * the string, the end before letters, letters before everything else. */
static int dpkg_order(int c)
{
    if (is_digit(c))
        return 0;
    if (is_alpha(c))
        return c;
    if (c == '~')
        return -1;
    if (c)
        return c + 256;
    return 0;
}

/* verrevcmp on [a, a + na) and [b, b + nb): alternating non-digit runs
 * (by dpkg_order) and digit runs (numerically, any length). */
static int dpkg_verrevcmp(const char *a, size_t na, const char *b, size_t nb)
{
    size_t i = 0, j = 0;
    while (i < na || j < nb) {
        while ((i < na && !is_digit((unsigned char)a[i])) || (j < nb && !is_digit((unsigned char)b[j]))) {
            int ac = dpkg_order(i < na ? (unsigned char)a[i] : 0);
            int bc = dpkg_order(j < nb ? (unsigned char)b[j] : 0);
            if (ac != bc)
                return sign(ac - bc);
            i++;
            j++;
        }
        while (i < na && a[i] == '0')
            i++;
        while (j < nb && b[j] == '0')
            j++;
        int first_diff = 0;
        while (i < na && j < nb && is_digit((unsigned char)a[i]) && is_digit((unsigned char)b[j])) {
            if (!first_diff)
                first_diff = a[i] - b[j];
            i++;
            j++;
        }
        if (i < na && is_digit((unsigned char)a[i]))
            return 1;
        if (j < nb && is_digit((unsigned char)b[j]))
            return -1;
        if (first_diff)
            return sign(first_diff);
    }
    return 0;
}

struct evr {
    const char *epoch; /* digits, or NULL when absent */
    size_t epoch_len;
    const char *version;
    size_t version_len;
    const char *release; /* NULL when absent */
    size_t release_len;
};

/* Splits [epoch:]version[-release]: the epoch is the digits before the
 * first ':' (anything else there leaves the colon in the version), the
 * release what follows the last '-'. */
static void evr_split(struct evr *out, const char *z)
{
    const char *colon = strchr(z, ':');
    memset(out, 0, sizeof(*out));
    if (colon && colon > z) {
        bool digits = true;
        for (const char *p = z; p < colon; p++)
            digits = digits && is_digit((unsigned char)*p);
        if (digits) {
            out->epoch = z;
            out->epoch_len = (size_t)(colon - z);
            z = colon + 1;
        }
    }
    const char *dash = strrchr(z, '-');
    out->version = z;
    out->version_len = dash ? (size_t)(dash - z) : strlen(z);
    if (dash) {
        out->release = dash + 1;
        out->release_len = strlen(dash + 1);
    }
}

/* Epochs as numbers of any length (leading zeros ignored); absent is 0. */
static int epoch_cmp(const struct evr *a, const struct evr *b)
{
    const char *pa = a->epoch ? a->epoch : "0", *pb = b->epoch ? b->epoch : "0";
    size_t na = a->epoch ? a->epoch_len : 1, nb = b->epoch ? b->epoch_len : 1;
    while (na > 1 && *pa == '0')
        pa++, na--;
    while (nb > 1 && *pb == '0')
        pb++, nb--;
    if (na != nb)
        return na < nb ? -1 : 1;
    int rc = memcmp(pa, pb, na);
    return sign(rc);
}

int version_compare_dpkg(const char *a, const char *b)
{
    struct evr ea, eb;
    evr_split(&ea, a);
    evr_split(&eb, b);
    int rc = epoch_cmp(&ea, &eb);
    if (rc)
        return rc;
    rc = dpkg_verrevcmp(ea.version, ea.version_len, eb.version, eb.version_len);
    if (rc)
        return rc;
    /* no revision compares as "" (which equals "0") */
    return dpkg_verrevcmp(ea.release ? ea.release : "", ea.release_len, eb.release ? eb.release : "", eb.release_len);
}

/* ---- rpm ---- */

static bool is_alnum(int c)
{
    return is_digit(c) || is_alpha(c);
}

static int rpm_segcmp(const char *a, size_t na, const char *b, size_t nb)
{
    size_t i = 0, j = 0;
    if (na == nb && memcmp(a, b, na) == 0)
        return 0;
    while (i < na || j < nb) {
        while (i < na && !is_alnum((unsigned char)a[i]) && a[i] != '~' && a[i] != '^')
            i++;
        while (j < nb && !is_alnum((unsigned char)b[j]) && b[j] != '~' && b[j] != '^')
            j++;
        int ca = i < na ? a[i] : 0, cb = j < nb ? b[j] : 0;
        /* '~' sorts before everything, the end of the string included */
        if (ca == '~' || cb == '~') {
            if (ca != '~')
                return 1;
            if (cb != '~')
                return -1;
            i++, j++;
            continue;
        }
        /* '^' sorts after the end of the string but before anything else */
        if (ca == '^' || cb == '^') {
            if (!ca)
                return -1;
            if (!cb)
                return 1;
            if (ca != '^')
                return 1;
            if (cb != '^')
                return -1;
            i++, j++;
            continue;
        }
        if (!ca || !cb)
            break;
        size_t si = i, sj = j;
        bool num = is_digit(ca);
        if (num) {
            while (i < na && is_digit((unsigned char)a[i]))
                i++;
            while (j < nb && is_digit((unsigned char)b[j]))
                j++;
        } else {
            while (i < na && is_alpha((unsigned char)a[i]))
                i++;
            while (j < nb && is_alpha((unsigned char)b[j]))
                j++;
        }
        /* a numeric segment is newer than an alphabetic one */
        if (j == sj)
            return num ? 1 : -1;
        if (num) {
            while (si < i - 1 && a[si] == '0')
                si++;
            while (sj < j - 1 && b[sj] == '0')
                sj++;
            if (i - si != j - sj)
                return i - si > j - sj ? 1 : -1;
        }
        size_t la = i - si, lb = j - sj;
        int rc = memcmp(a + si, b + sj, la < lb ? la : lb);
        if (rc)
            return sign(rc);
        if (la != lb)
            return la > lb ? 1 : -1;
    }
    if (i >= na && j >= nb)
        return 0;
    return i >= na ? -1 : 1;
}

int version_rpmvercmp(const char *a, const char *b)
{
    return rpm_segcmp(a, strlen(a), b, strlen(b));
}

int version_compare_rpm(const char *a, const char *b)
{
    struct evr ea, eb;
    evr_split(&ea, a);
    evr_split(&eb, b);
    int rc = epoch_cmp(&ea, &eb);
    if (rc)
        return rc;
    rc = rpm_segcmp(ea.version, ea.version_len, eb.version, eb.version_len);
    if (rc || !ea.release || !eb.release)
        return rc;
    return rpm_segcmp(ea.release, ea.release_len, eb.release, eb.release_len);
}

/* ---- apk ---- */

/* What the next token of an apk version is; the order matters: a version
 * goes forward through these (with the few steps back the grammar
 * allows), and when two versions agree up to the point where one has a
 * later kind of token than the other, the earlier kind is the newer. */
enum apk_token {
    APK_INVALID = -1,
    APK_DIGIT_OR_ZERO, /* a component after '.' */
    APK_DIGIT,         /* the first component, or the rest of one after its leading zeros */
    APK_LETTER,        /* one letter after the digits */
    APK_SUFFIX,        /* _alpha, _beta, _pre, _rc, _cvs, _svn, _git, _hg, _p */
    APK_SUFFIX_NO,     /* the number after a suffix */
    APK_HASH,          /* ~<commit hash> */
    APK_REVISION_NO,   /* the N of -rN */
    APK_END,
};

struct apk_cursor {
    const char *p;
    size_t n;
    enum apk_token type;
};

/* Decides the kind of the token at c->p from the previous kind. */
static void apk_next(struct apk_cursor *c)
{
    enum apk_token prev = c->type, t = APK_INVALID;
    if (c->n == 0) {
        t = APK_END;
    } else if ((prev == APK_DIGIT || prev == APK_DIGIT_OR_ZERO) && is_lower((unsigned char)c->p[0])) {
        t = APK_LETTER;
    } else if (prev == APK_LETTER && is_digit((unsigned char)c->p[0])) {
        t = APK_DIGIT;
    } else if (prev == APK_SUFFIX && is_digit((unsigned char)c->p[0])) {
        t = APK_SUFFIX_NO;
    } else {
        switch (c->p[0]) {
        case '.':
            t = APK_DIGIT_OR_ZERO;
            break;
        case '_':
            t = APK_SUFFIX;
            break;
        case '~':
            t = APK_HASH;
            break;
        case '-':
            if (c->n > 1 && c->p[1] == 'r') {
                t = APK_REVISION_NO;
                c->p++, c->n--;
            }
            break;
        }
        c->p++, c->n--;
    }
    if (t < prev && !((t == APK_DIGIT_OR_ZERO && prev == APK_DIGIT) || (t == APK_SUFFIX && prev == APK_SUFFIX_NO) ||
                      (t == APK_DIGIT && prev == APK_LETTER)))
        t = APK_INVALID;
    c->type = t;
}

static const char *const apk_pre[] = {"alpha", "beta", "pre", "rc"};
static const char *const apk_post[] = {"cvs", "svn", "git", "hg", "p"};

/* The rank of the suffix name at c->p: negative for pre-release suffixes,
 * zero or more for post-release ones; *len its length; 0 with *len 0 when
 * it is no suffix apk knows. */
static int apk_suffix(const struct apk_cursor *c, size_t *len)
{
    int n = (int)(sizeof(apk_pre) / sizeof(apk_pre[0]));
    for (int k = 0; k < n; k++) {
        size_t l = strlen(apk_pre[k]);
        if (l <= c->n && memcmp(c->p, apk_pre[k], l) == 0) {
            *len = l;
            return k - n;
        }
    }
    for (int k = 0; k < (int)(sizeof(apk_post) / sizeof(apk_post[0])); k++) {
        size_t l = strlen(apk_post[k]);
        if (l <= c->n && memcmp(c->p, apk_post[k], l) == 0) {
            *len = l;
            return k;
        }
    }
    *len = 0;
    return 0;
}

/* Reads the token of kind c->type, returns its value and finds the kind
 * of the next one. Numbers saturate rather than overflow. */
static int64_t apk_token(struct apk_cursor *c)
{
    int64_t v = 0;
    size_t i = 0;
    enum apk_token forced = APK_INVALID;
    if (c->n == 0) {
        c->type = APK_END;
        return 0;
    }
    switch (c->type) {
    case APK_DIGIT_OR_ZERO:
        if (c->p[0] == '0') {
            /* leading zeros: 1.01 < 1.1, and 1.001 < 1.01 */
            while (i < c->n && c->p[i] == '0')
                i++;
            v = -(int64_t)i;
            /* apk-tools goes on reading digits here whatever follows, so
             * that 1.0_rc1 would sort after 1.0; only more digits do */
            if (i < c->n && is_digit((unsigned char)c->p[i]))
                forced = APK_DIGIT;
            else
                c->type = APK_DIGIT;
            break;
        }
        /* fall through */
    case APK_DIGIT:
    case APK_SUFFIX_NO:
    case APK_REVISION_NO:
        while (i < c->n && is_digit((unsigned char)c->p[i])) {
            if (v < INT64_MAX / 100)
                v = v * 10 + (c->p[i] - '0');
            i++;
        }
        break;
    case APK_LETTER:
        v = (unsigned char)c->p[i++];
        break;
    case APK_HASH:
        /* a commit hash orders nothing */
        while (i < c->n && (is_digit((unsigned char)c->p[i]) || (c->p[i] >= 'a' && c->p[i] <= 'f')))
            i++;
        break;
    case APK_SUFFIX:
        v = apk_suffix(c, &i);
        if (i)
            break;
        c->type = APK_INVALID; /* a suffix apk does not know */
        return -1;
    default:
        c->type = APK_INVALID;
        return -1;
    }
    c->p += i;
    c->n -= i;
    if (c->n == 0)
        c->type = APK_END;
    else if (forced != APK_INVALID)
        c->type = forced;
    else
        apk_next(c);
    return v;
}

int version_compare_apk(const char *a, const char *b)
{
    struct apk_cursor ca = {a, strlen(a), APK_DIGIT}, cb = {b, strlen(b), APK_DIGIT};
    int64_t va = 0, vb = 0;
    while (ca.type == cb.type && ca.type != APK_END && ca.type != APK_INVALID && va == vb) {
        va = apk_token(&ca);
        vb = apk_token(&cb);
    }
    if (va != vb)
        return va < vb ? -1 : 1;
    if (ca.type == cb.type)
        return 0;
    /* equal so far: the longer version is newer unless what it has more
     * of is a pre-release suffix */
    size_t len;
    if (ca.type == APK_SUFFIX && apk_suffix(&ca, &len) < 0)
        return -1;
    if (cb.type == APK_SUFFIX && apk_suffix(&cb, &len) < 0)
        return 1;
    return ca.type > cb.type ? -1 : 1;
}

int version_compare(enum version_kind kind, const char *a, const char *b)
{
    switch (kind) {
    case VERSION_DPKG:
        return version_compare_dpkg(a, b);
    case VERSION_APK:
        return version_compare_apk(a, b);
    case VERSION_RPM:
        return version_compare_rpm(a, b);
    }
    return 0;
}
