/*
 * This module implements IAM policy documents: the grammar and validation of
 * policy_parse() (Version, Statement, Sid, Effect, Principal/NotPrincipal,
 * Action/NotAction, Resource/NotResource; Condition is in condition.c), the
 * request context with its derived global keys, wildcard and ARN matching,
 * policy variables, and the evaluator policy_evaluate() with AWS's rules for
 * identity-based and resource-based policies (see policy.h).
 *
 * Messages for invalid documents are IAM's MalformedPolicyDocument texts,
 * so the IAM and ECR front ends can return them as they are.
 */
#define BERTH_POLICY_INTERNAL
#include "policy/policy.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/util.h"
#include "policy/arn.h"

#define MSG_PRINCIPAL_FORBIDDEN "Policy document should not specify a principal."
#define MSG_PRINCIPAL_MISSING "Missing required field Principal"
#define MSG_EFFECT_MISSING "Missing required field Effect"
#define MSG_ACTIONS "Policy statement must contain actions."
#define MSG_RESOURCES "Policy statement must contain resources."
#define MSG_VERSION "The policy failed legacy parsing"
#define MSG_COLON "Actions/Condition can contain only one colon."
#define MSG_VENDOR_WILDCARD "Action vendors (e.g., aws, ec2, etc.) must not contain wildcards"
#define MSG_RESOURCE_VENDOR "Resource vendor must be fully qualified and cannot contain regexes."
#define MSG_SID_UNIQUE "Statement IDs (SID) in a single policy must be unique."
#define MSG_SID_ALNUM                                                                                                              \
    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"

enum principal_kind { P_ANY, P_ACCOUNT, P_ARN, P_SERVICE };

struct principal_entry {
    enum principal_kind kind;
    char *value; /* account id, ARN or service name */
};

struct strings {
    char **v;
    size_t n;
};

enum resource_mode { R_IMPLIED, R_RESOURCE, R_NOT_RESOURCE };

struct statement {
    char *sid;
    bool deny;
    bool not_principal;
    struct principal_entry *principals; /* none in identity policies */
    size_t nprincipals;
    bool not_action;
    struct strings actions;
    enum resource_mode resource_mode;
    struct strings resources;
    struct policy_cond *cond;
};

struct policy {
    enum policy_kind kind;
    bool v2012; /* policy variables are substituted */
    struct statement *st;
    size_t n;
};

/* ---- request context ---- */

static void ctx_add(struct policy_ctx *ctx, const char *key, const char *const *values, size_t count)
{
    struct policy_ctx_entry *e;
    if (ctx->count == ctx->cap) {
        ctx->cap = ctx->cap ? ctx->cap * 2 : 32;
        ctx->entries = xrealloc(ctx->entries, ctx->cap * sizeof(*ctx->entries));
    }
    e = &ctx->entries[ctx->count++];
    e->key = xstrdup(key);
    e->count = count;
    e->values = xcalloc(count ? count : 1, sizeof(*e->values));
    for (size_t i = 0; i < count; i++)
        e->values[i] = xstrdup(values[i] ? values[i] : "");
}

static void ctx_add1(struct policy_ctx *ctx, const char *key, const char *value)
{
    if (value)
        ctx_add(ctx, key, &value, 1);
}

static void ctx_add_tag(struct policy_ctx *ctx, const char *prefix, const struct policy_tag *t)
{
    struct buf k;
    if (!t->key)
        return;
    buf_init(&k, BUF_UNLIMITED);
    buf_printf(&k, "%s%s", prefix, t->key);
    ctx_add1(ctx, k.ptr, t->value ? t->value : "");
    buf_release(&k);
}

static void ctx_release(struct policy_ctx *ctx)
{
    for (size_t i = 0; i < ctx->count; i++) {
        for (size_t j = 0; j < ctx->entries[i].count; j++)
            free(ctx->entries[i].values[j]);
        free(ctx->entries[i].values);
        free(ctx->entries[i].key);
    }
    free(ctx->entries);
    memset(ctx, 0, sizeof(*ctx));
}

const struct policy_ctx_entry *policy_ctx_get(const struct policy_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->count; i++)
        if (strcasecmp(ctx->entries[i].key, key) == 0)
            return &ctx->entries[i];
    return NULL;
}

/* Explicit keys first, so that they win over derived ones in lookups. */
static void ctx_build(struct policy_ctx *ctx, const struct policy_request *req)
{
    const struct policy_principal *p = &req->principal;
    char now_iso[32], epoch[24];
    int64_t now = req->now_ms ? req->now_ms : now_ms();

    memset(ctx, 0, sizeof(*ctx));
    for (size_t i = 0; i < req->context_count; i++)
        if (req->context[i].key)
            ctx_add(ctx, req->context[i].key, req->context[i].values, req->context[i].values ? req->context[i].count : 0);

    format_time_iso(now_iso, now);
    snprintf(epoch, sizeof(epoch), "%" PRId64, now / 1000);
    ctx_add1(ctx, "aws:CurrentTime", now_iso);
    ctx_add1(ctx, "aws:EpochTime", epoch);
    ctx_add1(ctx, "aws:SecureTransport", req->secure_transport ? "true" : "false");
    ctx_add1(ctx, "aws:SourceIp", req->source_ip);
    ctx_add1(ctx, "aws:PrincipalArn", p->arn);
    ctx_add1(ctx, "aws:PrincipalAccount", p->account);
    ctx_add1(ctx, "aws:PrincipalType", p->type == POLICY_PRINCIPAL_ROOT ? "Account" : "User");
    ctx_add1(ctx, "aws:userid", p->type == POLICY_PRINCIPAL_ROOT ? p->account : p->userid);
    if (p->type == POLICY_PRINCIPAL_USER)
        ctx_add1(ctx, "aws:username", p->username);
    ctx_add1(ctx, "aws:ResourceAccount", req->resource_account);
    for (size_t i = 0; req->resource_tags && i < req->resource_tag_count; i++) {
        ctx_add_tag(ctx, "aws:ResourceTag/", &req->resource_tags[i]);
        ctx_add_tag(ctx, "ecr:ResourceTag/", &req->resource_tags[i]);
    }
    if (req->request_tags) {
        const char **keys = xcalloc(req->request_tag_count + 1, sizeof(*keys));
        size_t n = 0;
        for (size_t i = 0; i < req->request_tag_count; i++) {
            ctx_add_tag(ctx, "aws:RequestTag/", &req->request_tags[i]);
            if (req->request_tags[i].key)
                keys[n++] = req->request_tags[i].key;
        }
        ctx_add(ctx, "aws:TagKeys", keys, n);
        free(keys);
    }
}

/* ---- matching ---- */

static bool char_eq(char a, char b, int flags)
{
    if (flags & POLICY_GLOB_NOCASE)
        return tolower((unsigned char)a) == tolower((unsigned char)b);
    return a == b;
}

/* Length of the UTF-8 sequence starting at s[i], so that ? matches one
 * character rather than one byte. */
static size_t utf8_step(const char *s, size_t i, size_t n)
{
    size_t j = i + 1;
    while (j < n && ((unsigned char)s[j] & 0xc0) == 0x80)
        j++;
    return j - i;
}

/*
 * Iterative matching with one backtrack point (the last *), linear in
 * practice and never exponential, whatever the pattern.
 */
bool policy_glob(const char *pat, size_t plen, const char *s, size_t slen, int flags)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    bool esc = flags & POLICY_GLOB_ESCAPES;

    while (si < slen) {
        if (pi < plen) {
            char pc = pat[pi];
            size_t adv = 1;
            bool literal = false;
            if (esc && pc == '\\' && pi + 1 < plen) {
                pc = pat[pi + 1];
                adv = 2;
                literal = true;
            }
            if (!literal && pc == '*') {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            if (!literal && pc == '?') {
                pi++;
                si += utf8_step(s, si, slen);
                continue;
            }
            if (char_eq(pc, s[si], flags)) {
                pi += adv;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

/* Splits z at its first five ':' (skipping "\c" pairs when esc), giving six
 * segments when z is a full ARN. Returns the number of segments. */
static size_t arn_split(const char *z, bool esc, struct slice seg[6])
{
    size_t n = 0;
    const char *start = z, *p = z;
    while (*p && n < 5) {
        if (esc && *p == '\\' && p[1]) {
            p += 2;
            continue;
        }
        if (*p == ':') {
            seg[n].base = start;
            seg[n++].len = (size_t)(p - start);
            start = p + 1;
        }
        p++;
    }
    seg[n].base = start;
    seg[n++].len = strlen(start);
    return n;
}

bool policy_arn_like(const char *pat, const char *arn)
{
    struct slice ps[6], vs[6];
    size_t pn, vn;
    if (strcmp(pat, "*") == 0)
        return true;
    pn = arn_split(pat, true, ps);
    vn = arn_split(arn, false, vs);
    if (pn != 6 || vn != 6)
        return false;
    for (size_t i = 0; i < 6; i++)
        if (!policy_glob(ps[i].base, ps[i].len, vs[i].base, vs[i].len, POLICY_GLOB_ESCAPES))
            return false;
    return true;
}

/* Splits z at every ':' (skipping "\c" pairs when esc) into a malloc'd array. */
static struct slice *split_all(const char *z, bool esc, size_t *n_out)
{
    size_t n = 1, i = 0;
    struct slice *seg;
    const char *start = z;
    for (const char *p = z; *p; p++) {
        if (esc && *p == '\\' && p[1])
            p++;
        else if (*p == ':')
            n++;
    }
    seg = xmalloc(n * sizeof(*seg));
    for (const char *p = z;; p++) {
        if (esc && *p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == ':' || *p == '\0') {
            seg[i].base = start;
            seg[i++].len = (size_t)(p - start);
            start = p + 1;
            if (*p == '\0')
                break;
        }
    }
    *n_out = n;
    return seg;
}

/* Does the segment end with an unescaped '*'? */
static bool trailing_star(struct slice s)
{
    size_t bs = 0;
    if (s.len == 0 || s.base[s.len - 1] != '*')
        return false;
    while (bs + 1 < s.len && s.base[s.len - 2 - bs] == '\\')
        bs++;
    return bs % 2 == 0;
}

/* Pattern segments from i against value segments from j. memo holds 0
 * (unknown), 1 (no) or 2 (yes) per (i, j). */
static bool segments_match(const struct slice *ps, size_t pn, size_t i, const struct slice *vs, size_t vn, size_t j,
                           unsigned char *memo)
{
    unsigned char *m = &memo[i * (vn + 1) + j];
    bool r = false;
    if (i == pn)
        return j == vn;
    if (j == vn)
        return false;
    if (*m)
        return *m == 2;
    if (policy_glob(ps[i].base, ps[i].len, vs[j].base, vs[j].len, POLICY_GLOB_ESCAPES)) {
        if (trailing_star(ps[i])) {
            for (size_t k = j + 1; k <= vn && !r; k++)
                r = segments_match(ps, pn, i + 1, vs, vn, k, memo);
        } else {
            r = segments_match(ps, pn, i + 1, vs, vn, j + 1, memo);
        }
    }
    *m = r ? 2 : 1;
    return r;
}

/*
 * Resource matching (IAM reference_policies_elements_resource): wildcards
 * work within the colon-separated segments of the ARN, except that a * that
 * ends a segment may also match beyond colons ("arn:aws:ecr:*" covers every
 * ECR ARN).
 */
bool policy_resource_match(const char *pat, const char *arn)
{
    size_t pn, vn;
    struct slice *ps = split_all(pat, true, &pn), *vs = split_all(arn, false, &vn);
    bool r = false;
    if (pn <= vn && vn <= 1024) {
        unsigned char *memo = xcalloc((pn + 1) * (vn + 1), 1);
        r = segments_match(ps, pn, 0, vs, vn, 0, memo);
        free(memo);
    }
    free(ps);
    free(vs);
    return r;
}

static void put_text(struct buf *out, const char *z, size_t n, enum policy_expand_mode mode)
{
    for (size_t i = 0; i < n; i++) {
        if (mode == POLICY_EXPAND_PATTERN && (z[i] == '*' || z[i] == '?' || z[i] == '\\'))
            buf_putc(out, '\\');
        buf_putc(out, z[i]);
    }
}

/*
 * Substitutes ${key} and ${key, 'default'} (IAM reference_policies_variables)
 * and the escapes ${*}, ${?}, ${$}. Text outside variables keeps its meaning:
 * in PATTERN mode its * and ? stay wildcards and a backslash is escaped;
 * substituted values are always literal.
 */
int policy_expand(struct buf *out, const char *text, const struct policy_ctx *ctx, bool variables, enum policy_expand_mode mode)
{
    const char *p = text;
    while (*p) {
        const char *close, *comma;
        char key[256];
        size_t klen;
        const struct policy_ctx_entry *e;

        if (!variables || p[0] != '$' || p[1] != '{' || !(close = strchr(p + 2, '}'))) {
            if (mode == POLICY_EXPAND_PATTERN && *p == '\\')
                buf_putc(out, '\\');
            buf_putc(out, *p++);
            continue;
        }
        if (close == p + 3 && (p[2] == '*' || p[2] == '?' || p[2] == '$')) {
            put_text(out, p + 2, 1, mode);
            p = close + 1;
            continue;
        }
        comma = memchr(p + 2, ',', (size_t)(close - p - 2));
        klen = (size_t)((comma ? comma : close) - (p + 2));
        while (klen && isspace((unsigned char)p[2 + klen - 1]))
            klen--;
        if (klen == 0 || klen >= sizeof(key))
            return error_set(E_NOTFOUND, "policy variable has no value");
        memcpy(key, p + 2, klen);
        key[klen] = '\0';
        e = policy_ctx_get(ctx, key);
        if (e && e->count == 1) {
            put_text(out, e->values[0], strlen(e->values[0]), mode);
        } else {
            /* a default: ${key, 'value'} */
            const char *q = comma ? comma + 1 : NULL, *end;
            while (q && isspace((unsigned char)*q))
                q++;
            if (!q || *q != '\'' || !(end = memchr(q + 1, '\'', (size_t)(close - q - 1))))
                return error_set(E_NOTFOUND, "policy variable '%s' has no value", key);
            put_text(out, q + 1, (size_t)(end - q - 1), mode);
        }
        p = close + 1;
    }
    return 0;
}

/* ---- parsing ---- */

size_t policy_size(const char *text, size_t len, bool count_whitespace)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xc0) == 0x80)
            continue; /* count characters, not bytes */
        if (!count_whitespace && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
            continue;
        n++;
    }
    return n;
}

static void strings_release(struct strings *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static void statement_release(struct statement *st)
{
    free(st->sid);
    for (size_t i = 0; i < st->nprincipals; i++)
        free(st->principals[i].value);
    free(st->principals);
    strings_release(&st->actions);
    strings_release(&st->resources);
    policy_cond_free(st->cond);
}

void policy_free(struct policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        statement_release(&p->st[i]);
    free(p->st);
    free(p);
}

/* A string or a non-empty array of strings; empty_msg when empty. */
static int parse_strings(struct strings *out, json_t *v, const char *empty_msg)
{
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v))
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    if (n == 0)
        return error_set(E_INVALID, "%s", empty_msg);
    out->v = xcalloc(n, sizeof(*out->v));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(e))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        out->v[i] = xstrdup(json_string_value(e));
        out->n = i + 1;
    }
    return 0;
}

static bool is_vendor_char(char c)
{
    return isalnum((unsigned char)c) || c == '-';
}

static int check_action(const char *a)
{
    const char *colon = strchr(a, ':');
    if (strcmp(a, "*") == 0)
        return 0;
    if (!colon || colon == a)
        return error_set(E_INVALID, POLICY_MSG_VENDOR);
    if (strchr(colon + 1, ':'))
        return error_set(E_INVALID, MSG_COLON);
    for (const char *p = a; p < colon; p++) {
        if (*p == '*' || *p == '?')
            return error_set(E_INVALID, MSG_VENDOR_WILDCARD);
        if (!is_vendor_char(*p))
            return error_set(E_INVALID, POLICY_MSG_VENDOR);
    }
    if (colon[1] == '\0')
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    return 0;
}

/* "*" or an ARN whose partition and service are literal:
 * arn:partition:service:region:account:resource, or a shorter prefix ending
 * in * ("arn:aws:ecr:*"). */
static int check_resource(const char *r)
{
    struct slice seg[6];
    size_t n;
    if (strcmp(r, "*") == 0)
        return 0;
    if (strncmp(r, "arn:", 4) != 0)
        return error_set(E_INVALID, "Resource %s must be in ARN format or \"*\".", r);
    n = arn_split(r, false, seg);
    if (n < 3 || (n < 6 && (seg[n - 1].len == 0 || seg[n - 1].base[seg[n - 1].len - 1] != '*')))
        return error_set(E_INVALID, "Resource %s must be in ARN format or \"*\".", r);
    for (size_t i = 1; i <= 2 && i < n; i++) {
        if (seg[i].len == 0 || memchr(seg[i].base, '*', seg[i].len) || memchr(seg[i].base, '?', seg[i].len))
            return error_set(E_INVALID, MSG_RESOURCE_VENDOR);
    }
    return 0;
}

/*
 * An "AWS" principal: "*", an account id, an account ARN
 * (arn:aws:iam::123456789012:root) or the ARN of a user, role or session.
 * Wildcards are allowed only as the whole value "*".
 */
static int parse_aws_principal(struct principal_entry *out, const char *v)
{
    static const char *const kinds[] = {"user/", "role/", "assumed-role/", "federated-user/"};
    struct arn a;
    bool iam;
    if (strcmp(v, "*") == 0) {
        out->kind = P_ANY;
        return 0;
    }
    if (arn_account_id(slice_from(v))) {
        out->kind = P_ACCOUNT;
        out->value = xstrdup(v);
        return 0;
    }
    if (strchr(v, '*') || strchr(v, '?') || arn_parse(&a, slice_from(v)) < 0)
        goto invalid;
    iam = slice_eq(a.service, "iam");
    if ((!iam && !slice_eq(a.service, "sts")) || a.region.len != 0 || !arn_account_id(a.account))
        goto invalid;
    if (iam && slice_eq(a.resource, "root")) {
        out->kind = P_ACCOUNT;
        out->value = xstrndup(a.account.base, a.account.len);
        return 0;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (slice_starts_with(a.resource, kinds[i]) && a.resource.len > strlen(kinds[i])) {
            out->kind = P_ARN;
            out->value = xstrdup(v);
            return 0;
        }
    }
invalid:
    return error_set(E_INVALID, "Invalid principal in policy: \"AWS\":\"%s\"", v);
}

static int parse_service_principal(struct principal_entry *out, const char *v)
{
    if (*v == '\0' || strchr(v, '*') || strchr(v, '?') || strchr(v, ' '))
        return error_set(E_INVALID, "Invalid principal in policy: \"Service\":\"%s\"", v);
    out->kind = P_SERVICE;
    out->value = xstrdup(v);
    return 0;
}

static int parse_principal(struct statement *st, json_t *v)
{
    const char *type;
    json_t *vals;
    size_t cap = 0;
    int rc;

    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return error_set(E_INVALID, "Invalid principal in policy: \"%s\"", json_string_value(v));
        st->principals = xcalloc(1, sizeof(*st->principals));
        st->principals[0].kind = P_ANY;
        st->nprincipals = 1;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    json_object_foreach(v, type, vals)
    {
        bool aws = strcmp(type, "AWS") == 0;
        size_t n = json_is_array(vals) ? json_array_size(vals) : 1;
        if (!aws && strcmp(type, "Service") != 0) {
            const char *shown = json_is_string(vals) ? json_string_value(vals) : "";
            return error_set(E_INVALID, "Invalid principal in policy: \"%s\":\"%s\"", type, shown);
        }
        if ((!json_is_array(vals) && !json_is_string(vals)) || n == 0)
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_is_array(vals) ? json_array_get(vals, i) : vals;
            struct principal_entry *pe;
            if (!json_is_string(e))
                return error_set(E_INVALID, POLICY_MSG_SYNTAX);
            if (st->nprincipals == cap) {
                cap = cap ? cap * 2 : 4;
                st->principals = xrealloc(st->principals, cap * sizeof(*st->principals));
            }
            pe = &st->principals[st->nprincipals];
            memset(pe, 0, sizeof(*pe));
            rc = aws ? parse_aws_principal(pe, json_string_value(e)) : parse_service_principal(pe, json_string_value(e));
            if (rc < 0)
                return rc;
            st->nprincipals++;
        }
    }
    return 0;
}

static bool sid_alnum(const char *z)
{
    for (; *z; z++)
        if (!isalnum((unsigned char)*z))
            return false;
    return true;
}

static int parse_statement(struct statement *st, json_t *obj, const struct policy *p)
{
    static const char *const known[] = {"Sid",       "Effect",   "Principal",   "NotPrincipal", "Action",
                                        "NotAction", "Resource", "NotResource", "Condition"};
    const char *name;
    json_t *v, *effect, *principal, *action, *resource;
    int rc;

    if (!json_is_object(obj))
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    json_object_foreach(obj, name, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
            ok = strcmp(name, known[i]) == 0;
        if (!ok)
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    }

    if ((v = json_object_get(obj, "Sid"))) {
        if (!json_is_string(v))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        if (p->kind == POLICY_IDENTITY && !sid_alnum(json_string_value(v)))
            return error_set(E_INVALID, MSG_SID_ALNUM);
        st->sid = xstrdup(json_string_value(v));
    }

    effect = json_object_get(obj, "Effect");
    if (!effect)
        return error_set(E_INVALID, MSG_EFFECT_MISSING);
    if (!json_is_string(effect))
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    if (strcmp(json_string_value(effect), "Allow") == 0)
        st->deny = false;
    else if (strcmp(json_string_value(effect), "Deny") == 0)
        st->deny = true;
    else
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);

    principal = json_object_get(obj, "Principal");
    v = json_object_get(obj, "NotPrincipal");
    if (principal && v)
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    if (p->kind == POLICY_IDENTITY && (principal || v))
        return error_set(E_INVALID, MSG_PRINCIPAL_FORBIDDEN);
    if (p->kind == POLICY_RESOURCE) {
        if (!principal && !v)
            return error_set(E_INVALID, MSG_PRINCIPAL_MISSING);
        st->not_principal = v != NULL;
        if ((rc = parse_principal(st, principal ? principal : v)) < 0)
            return rc;
    }

    action = json_object_get(obj, "Action");
    v = json_object_get(obj, "NotAction");
    if (action && v)
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    if (!action && !v)
        return error_set(E_INVALID, MSG_ACTIONS);
    st->not_action = v != NULL;
    if ((rc = parse_strings(&st->actions, action ? action : v, MSG_ACTIONS)) < 0)
        return rc;
    for (size_t i = 0; i < st->actions.n; i++)
        if ((rc = check_action(st->actions.v[i])) < 0)
            return rc;

    resource = json_object_get(obj, "Resource");
    v = json_object_get(obj, "NotResource");
    if (resource && v)
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    if (!resource && !v) {
        /* A resource-based policy applies to the resource it is attached to. */
        if (p->kind == POLICY_IDENTITY)
            return error_set(E_INVALID, MSG_RESOURCES);
        st->resource_mode = R_IMPLIED;
    } else {
        st->resource_mode = resource ? R_RESOURCE : R_NOT_RESOURCE;
        if ((rc = parse_strings(&st->resources, resource ? resource : v, MSG_RESOURCES)) < 0)
            return rc;
        for (size_t i = 0; i < st->resources.n; i++)
            if ((rc = check_resource(st->resources.v[i])) < 0)
                return rc;
    }

    if ((v = json_object_get(obj, "Condition")) && (rc = policy_cond_parse(&st->cond, v, p->v2012)) < 0)
        return rc;
    return 0;
}

int policy_parse(struct policy **out, const char *text, size_t len, enum policy_kind kind, struct policy_limit limit)
{
    struct policy *p = NULL;
    json_t *root = NULL, *stmts, *v;
    json_error_t jerr;
    const char *name;
    size_t n;
    int rc = 0;

    *out = NULL;
    if (limit.max && policy_size(text, len, limit.count_whitespace) > limit.max) {
        rc = error_set(E_TOOBIG, "Cannot exceed quota for PolicySize: %zu", limit.max);
        goto done;
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
        goto done;
    }
    p = xcalloc(1, sizeof(*p));
    p->kind = kind;
    json_object_foreach(root, name, v)
    {
        if (strcmp(name, "Version") != 0 && strcmp(name, "Id") != 0 && strcmp(name, "Statement") != 0) {
            rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
            goto done;
        }
    }
    if ((v = json_object_get(root, "Version"))) {
        const char *ver = json_is_string(v) ? json_string_value(v) : "";
        if (strcmp(ver, "2012-10-17") == 0) {
            p->v2012 = true;
        } else if (strcmp(ver, "2008-10-17") != 0) {
            rc = error_set(E_INVALID, MSG_VERSION);
            goto done;
        }
    }
    if ((v = json_object_get(root, "Id")) && !json_is_string(v)) {
        rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
        goto done;
    }
    stmts = json_object_get(root, "Statement");
    if (!stmts || (!json_is_object(stmts) && !json_is_array(stmts))) {
        rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
        goto done;
    }
    n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    if (n == 0) {
        rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
        goto done;
    }
    p->st = xcalloc(n, sizeof(*p->st));
    for (size_t i = 0; i < n; i++) {
        p->n = i + 1;
        if ((rc = parse_statement(&p->st[i], json_is_array(stmts) ? json_array_get(stmts, i) : stmts, p)) < 0)
            goto done;
        for (size_t j = 0; p->st[i].sid && p->st[i].sid[0] && j < i; j++) {
            if (p->st[j].sid && strcmp(p->st[j].sid, p->st[i].sid) == 0) {
                rc = error_set(E_INVALID, MSG_SID_UNIQUE);
                goto done;
            }
        }
    }
    *out = p;
    p = NULL;
done:
    policy_free(p);
    json_decref(root);
    return rc;
}

enum policy_kind policy_kind(const struct policy *p)
{
    return p->kind;
}

const char *policy_version(const struct policy *p)
{
    return p->v2012 ? "2012-10-17" : "2008-10-17";
}

size_t policy_statement_count(const struct policy *p)
{
    return p->n;
}

/* ---- evaluation ---- */

/* How a resource-based statement's principal matches the caller. DIRECT
 * grants on its own; DELEGATED (the caller's account is named) only lets
 * the account's own identity policies decide. */
enum pmatch { PM_NONE, PM_DELEGATED, PM_DIRECT };

static enum pmatch principal_match(const struct statement *st, const struct policy_principal *who)
{
    bool root = who->type == POLICY_PRINCIPAL_ROOT;
    enum pmatch best = PM_NONE;

    if (st->not_principal) {
        /* The caller is excluded only when every identity it acts as (its
         * own ARN and its account) is listed, as in AWS. */
        bool self_listed = false, account_listed = false;
        for (size_t i = 0; i < st->nprincipals; i++) {
            const struct principal_entry *e = &st->principals[i];
            if (e->kind == P_ANY) {
                self_listed = account_listed = true;
            } else if (e->kind == P_ACCOUNT && strcmp(e->value, who->account) == 0) {
                account_listed = true;
            } else if (e->kind == P_ARN && strcmp(e->value, who->arn) == 0) {
                self_listed = true;
            }
        }
        if (root ? account_listed : (self_listed && account_listed))
            return PM_NONE;
        return PM_DIRECT;
    }
    for (size_t i = 0; i < st->nprincipals; i++) {
        const struct principal_entry *e = &st->principals[i];
        switch (e->kind) {
        case P_ANY:
            return PM_DIRECT;
        case P_ACCOUNT:
            if (strcmp(e->value, who->account) == 0) {
                if (root)
                    return PM_DIRECT;
                best = PM_DELEGATED;
            }
            break;
        case P_ARN:
            if (strcmp(e->value, who->arn) == 0)
                return PM_DIRECT;
            break;
        case P_SERVICE:
            break;
        }
    }
    return best;
}

static bool action_match(const struct statement *st, const char *action)
{
    bool hit = false;
    for (size_t i = 0; i < st->actions.n && !hit; i++)
        hit = policy_glob(st->actions.v[i], strlen(st->actions.v[i]), action, strlen(action), POLICY_GLOB_NOCASE);
    return hit != st->not_action;
}

static bool resource_match(const struct statement *st, const struct policy *p, const char *resource, const struct policy_ctx *ctx)
{
    bool hit = false;
    struct buf b;
    if (st->resource_mode == R_IMPLIED)
        return true;
    buf_init(&b, BUF_UNLIMITED);
    for (size_t i = 0; i < st->resources.n && !hit; i++) {
        if (strcmp(st->resources.v[i], "*") == 0) {
            hit = true;
            break;
        }
        buf_reset(&b);
        if (policy_expand(&b, st->resources.v[i], ctx, p->v2012, POLICY_EXPAND_PATTERN) < 0) {
            error_clear(); /* a variable without a value matches nothing */
            continue;
        }
        hit = policy_resource_match(b.ptr, resource);
    }
    buf_release(&b);
    return hit != (st->resource_mode == R_NOT_RESOURCE);
}

/* Does the statement apply to the request? For resource-based policies
 * *level says how the principal matched. */
static bool statement_applies(const struct statement *st, const struct policy *p, const struct policy_request *req,
                              const struct policy_ctx *ctx, enum pmatch *level)
{
    *level = PM_DIRECT;
    if (!action_match(st, req->action))
        return false;
    if (p->kind == POLICY_RESOURCE && (*level = principal_match(st, &req->principal)) == PM_NONE)
        return false;
    return resource_match(st, p, req->resource, ctx) && policy_cond_match(st->cond, ctx);
}

/* The first statement of one policy with the given effect that applies, and
 * how its principal matched; NULL when none. With want_direct, a DELEGATED
 * match keeps looking for a DIRECT one. */
static const struct statement *find_statement(const struct policy *p, bool deny, const struct policy_request *req,
                                              const struct policy_ctx *ctx, enum pmatch *level)
{
    const struct statement *found = NULL;
    enum pmatch best = PM_NONE, l;
    for (size_t i = 0; i < p->n; i++) {
        const struct statement *st = &p->st[i];
        if (st->deny != deny || !statement_applies(st, p, req, ctx, &l))
            continue;
        if (l > best) {
            best = l;
            found = st;
        }
        if (best == PM_DIRECT)
            break;
    }
    *level = best;
    return found;
}

/*
 * What the root user of an account may always do to the account's own
 * resources, even against an explicit deny: manage a repository's policy,
 * so that a policy that denies everyone cannot lock the account out for
 * good (S3 keeps the same escape hatch for bucket policies; see
 * docs/compatibility.md).
 */
static const char *const root_always[] = {"ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"};

#define ROOT_ALWAYS_LABEL "account root (may always manage its repositories' policies)"

static bool root_always_allowed(const char *action)
{
    for (size_t i = 0; i < sizeof(root_always) / sizeof(root_always[0]); i++)
        if (strcasecmp(root_always[i], action) == 0)
            return true;
    return false;
}

static void decide(struct policy_decision *out, enum policy_result r, enum policy_type t, const char *label,
                   const struct statement *st)
{
    out->result = r;
    out->type = t;
    out->label = label;
    out->sid = st ? st->sid : NULL;
}

int policy_evaluate(struct policy_decision *out, const struct policy_request *req, const struct policy_inputs *in)
{
    const struct policy_principal *who = &req->principal;
    const struct policy_attached *resource_side[2];
    const enum policy_type resource_type[2] = {POLICY_TYPE_RESOURCE, POLICY_TYPE_REGISTRY};
    const struct statement *st, *id_allow = NULL, *res_allow = NULL;
    const char *id_label = NULL, *res_label = NULL;
    enum policy_type res_type = POLICY_TYPE_RESOURCE;
    enum pmatch level, res_level = PM_NONE;
    struct policy_ctx ctx;
    bool root, cross;

    memset(out, 0, sizeof(*out));
    if (!req->action || !req->resource || !req->resource_account || !who->arn || !who->account)
        return error_set(E_INVALID, "incomplete authorization request");
    root = who->type == POLICY_PRINCIPAL_ROOT;
    cross = strcmp(who->account, req->resource_account) != 0;
    out->cross_account = cross;
    resource_side[0] = in ? in->resource : NULL;
    resource_side[1] = in ? in->registry : NULL;
    ctx_build(&ctx, req);

    /* 0. The root's escape hatch comes before any policy. */
    if (root && !cross && root_always_allowed(req->action)) {
        decide(out, POLICY_ALLOW, POLICY_TYPE_NONE, ROOT_ALWAYS_LABEL, NULL);
        goto done;
    }

    /* 1. An explicit Deny anywhere decides. The root user has no identity
     * policies. */
    for (size_t i = 0; in && !root && i < in->identity_count; i++) {
        const struct policy_attached *a = &in->identity[i];
        if (a->policy && (st = find_statement(a->policy, true, req, &ctx, &level))) {
            decide(out, POLICY_EXPLICIT_DENY, POLICY_TYPE_IDENTITY, a->label, st);
            goto done;
        }
    }
    for (int k = 0; k < 2; k++) {
        const struct policy_attached *a = resource_side[k];
        if (a && a->policy && (st = find_statement(a->policy, true, req, &ctx, &level))) {
            decide(out, POLICY_EXPLICIT_DENY, resource_type[k], a->label, st);
            goto done;
        }
    }

    /* 2. Allows from each side. */
    for (size_t i = 0; in && !root && i < in->identity_count && !id_allow; i++) {
        const struct policy_attached *a = &in->identity[i];
        if (a->policy && (id_allow = find_statement(a->policy, false, req, &ctx, &level)))
            id_label = a->label;
    }
    for (int k = 0; k < 2 && res_level != PM_DIRECT; k++) {
        const struct policy_attached *a = resource_side[k];
        if (a && a->policy && (st = find_statement(a->policy, false, req, &ctx, &level)) && level > res_level) {
            res_allow = st;
            res_level = level;
            res_label = a->label;
            res_type = resource_type[k];
        }
    }

    /* 3. Combine: same account needs one side, another account both. */
    if (root && !cross) {
        decide(out, POLICY_ALLOW, POLICY_TYPE_NONE, NULL, NULL);
    } else if (!cross) {
        if (id_allow)
            decide(out, POLICY_ALLOW, POLICY_TYPE_IDENTITY, id_label, id_allow);
        else if (res_level == PM_DIRECT)
            decide(out, POLICY_ALLOW, res_type, res_label, res_allow);
        else
            decide(out, POLICY_IMPLICIT_DENY, POLICY_TYPE_IDENTITY, NULL, NULL);
    } else if (!root && !id_allow) {
        decide(out, POLICY_IMPLICIT_DENY, POLICY_TYPE_IDENTITY, NULL, NULL);
    } else if (res_level != PM_NONE) {
        decide(out, POLICY_ALLOW, res_type, res_label, res_allow);
    } else {
        decide(out, POLICY_IMPLICIT_DENY, POLICY_TYPE_RESOURCE, NULL, NULL);
    }
done:
    ctx_release(&ctx);
    return 0;
}

int policy_decision_message(struct buf *out, const struct policy_request *req, const struct policy_decision *d)
{
    const char *kind = d->type == POLICY_TYPE_IDENTITY ? "identity-based" : "resource-based";
    if (d->result == POLICY_ALLOW)
        return 0;
    if (d->result == POLICY_EXPLICIT_DENY)
        return buf_printf(out, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a%s %s policy",
                          req->principal.arn, req->action, req->resource, d->type == POLICY_TYPE_IDENTITY ? "n" : "", kind);
    return buf_printf(out, "User: %s is not authorized to perform: %s on resource: %s because no %s policy allows the %s action",
                      req->principal.arn, req->action, req->resource, kind, req->action);
}

const char *policy_result_name(enum policy_result r)
{
    switch (r) {
    case POLICY_ALLOW:
        return "allowed";
    case POLICY_EXPLICIT_DENY:
        return "explicitDeny";
    case POLICY_IMPLICIT_DENY:
        break;
    }
    return "implicitDeny";
}
