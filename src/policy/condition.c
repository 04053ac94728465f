/*
 * This module implements the Condition element of IAM policies: parsing a
 * Condition block into operators, keys and typed values, and deciding it
 * against a request context.
 *
 * Operators (IAM reference_policies_elements_condition_operators): the
 * String, Arn, Numeric and Date families with their negations and orderings,
 * Bool, BinaryEquals, IpAddress/NotIpAddress (IPv4 and IPv6 CIDR), Null;
 * each but Null may carry the ...IfExists suffix and the ForAnyValue: or
 * ForAllValues: set qualifier. Unknown operators make the document invalid.
 *
 * Semantics, as AWS documents them:
 * - operators in a block, and keys under one operator, are AND'd; the values
 *   listed for one key are OR'd, and for a negated operator NOR'd (the
 *   negated operator is the negation of its positive form);
 * - a key absent from the request makes a positive operator false and a
 *   negated one true; ...IfExists makes any operator true when the key is
 *   absent; Null tests only presence;
 * - ForAllValues is true when every request value matches (and when the key
 *   is absent or empty); ForAnyValue when at least one does (false when the
 *   key is absent).
 *
 * Numeric, date, IP and binary values are parsed when the policy is parsed,
 * so a document with a malformed one is rejected rather than silently never
 * matching; those operators do not take policy variables.
 */
#define BERTH_POLICY_INTERNAL
#include "policy/policy.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/ipnet.h"
#include "core/util.h"

enum family { F_STRING, F_STRING_NOCASE, F_STRING_LIKE, F_ARN, F_NUMERIC, F_DATE, F_BOOL, F_BINARY, F_IP, F_NULL };
enum cmp { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum set_op { SET_NONE, SET_ANY, SET_ALL };

static const struct operator_def {
    const char *name;
    enum family family;
    enum cmp cmp;
    bool negated;
} operators[] = {
    {"StringEquals", F_STRING, CMP_EQ, false},
    {"StringNotEquals", F_STRING, CMP_EQ, true},
    {"StringEqualsIgnoreCase", F_STRING_NOCASE, CMP_EQ, false},
    {"StringNotEqualsIgnoreCase", F_STRING_NOCASE, CMP_EQ, true},
    {"StringLike", F_STRING_LIKE, CMP_EQ, false},
    {"StringNotLike", F_STRING_LIKE, CMP_EQ, true},
    {"ArnEquals", F_ARN, CMP_EQ, false},
    {"ArnLike", F_ARN, CMP_EQ, false},
    {"ArnNotEquals", F_ARN, CMP_EQ, true},
    {"ArnNotLike", F_ARN, CMP_EQ, true},
    {"NumericEquals", F_NUMERIC, CMP_EQ, false},
    {"NumericNotEquals", F_NUMERIC, CMP_EQ, true},
    {"NumericLessThan", F_NUMERIC, CMP_LT, false},
    {"NumericLessThanEquals", F_NUMERIC, CMP_LE, false},
    {"NumericGreaterThan", F_NUMERIC, CMP_GT, false},
    {"NumericGreaterThanEquals", F_NUMERIC, CMP_GE, false},
    {"DateEquals", F_DATE, CMP_EQ, false},
    {"DateNotEquals", F_DATE, CMP_EQ, true},
    {"DateLessThan", F_DATE, CMP_LT, false},
    {"DateLessThanEquals", F_DATE, CMP_LE, false},
    {"DateGreaterThan", F_DATE, CMP_GT, false},
    {"DateGreaterThanEquals", F_DATE, CMP_GE, false},
    {"Bool", F_BOOL, CMP_EQ, false},
    {"BinaryEquals", F_BINARY, CMP_EQ, false},
    {"IpAddress", F_IP, CMP_EQ, false},
    {"NotIpAddress", F_IP, CMP_EQ, true},
    {"Null", F_NULL, CMP_EQ, false},
};

struct value {
    char *text;
    bool vars; /* substitute policy variables when matching */
    union {
        double num;
        int64_t ms;
        bool b;
        struct ip_net ip;
        struct {
            unsigned char *p;
            size_t n;
        } bin;
    } u;
};

struct cond {
    const struct operator_def *op;
    enum set_op set;
    bool if_exists;
    char *key;
    struct value *values;
    size_t nvalues;
};

struct policy_cond {
    struct cond *conds;
    size_t n;
};

/* ---- value parsers (used for policy values and request values alike) ---- */

/* A decimal number: [+-]digits[.digits][(e|E)[+-]digits]; no hex, inf, nan. */
static bool parse_number(const char *z, double *out)
{
    const char *p = z;
    char *end;
    bool digits = false;
    if (*p == '+' || *p == '-')
        p++;
    while (isdigit((unsigned char)*p)) {
        p++;
        digits = true;
    }
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p != '\0')
        return false;
    *out = strtod(z, &end);
    return end == p && isfinite(*out);
}

static bool take_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return false;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so no gmtime/timegm is needed. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Dates as IAM accepts them: epoch seconds ("1700000000"), a date
 * ("2024-01-31") or an ISO 8601 date-time ("2024-01-31T12:00:00Z", with
 * optional seconds, fraction and a Z or +hh:mm offset; UTC when absent).
 */
static bool parse_date(const char *z, int64_t *out_ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = z;
    int y, mo, d, h = 0, mi = 0, s = 0, ms = 0, off = 0;
    bool all_digits = *z != '\0';
    for (const char *q = z; *q; q++)
        if (!isdigit((unsigned char)*q))
            all_digits = false;
    if (all_digits) {
        uint64_t secs;
        if (parse_u64(slice_from(z), (uint64_t)INT64_MAX / 1000, &secs) < 0) {
            error_clear();
            return false;
        }
        *out_ms = (int64_t)secs * 1000;
        return true;
    }
    if (!take_digits(&p, 4, &y) || *p++ != '-' || !take_digits(&p, 2, &mo) || *p++ != '-' || !take_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap_year(y)))
        return false;
    if (*p == 'T' || *p == 't') {
        p++;
        if (!take_digits(&p, 2, &h) || *p++ != ':' || !take_digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!take_digits(&p, 2, &s))
                return false;
            if (*p == '.') {
                int scale = 100;
                p++;
                if (!isdigit((unsigned char)*p))
                    return false;
                for (; isdigit((unsigned char)*p); p++) {
                    ms += (*p - '0') * scale;
                    scale /= 10;
                }
            }
        }
        if (h > 23 || mi > 59 || s > 60)
            return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (!take_digits(&p, 2, &oh))
                return false;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && !take_digits(&p, 2, &om))
                return false;
            if (oh > 23 || om > 59)
                return false;
            off = sign * (oh * 60 + om);
        }
    }
    if (*p != '\0')
        return false;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s - (int64_t)off * 60;
    *out_ms = secs * 1000 + ms;
    return true;
}

static bool parse_bool(const char *z, bool *out)
{
    if (strcasecmp(z, "true") == 0)
        *out = true;
    else if (strcasecmp(z, "false") == 0)
        *out = false;
    else
        return false;
    return true;
}

/* ---- parsing a Condition block ---- */

static const struct operator_def *find_operator(const char *name, enum set_op *set, bool *if_exists)
{
    char base[64];
    size_t n;
    *set = SET_NONE;
    *if_exists = false;
    if (strncasecmp(name, "ForAnyValue:", 12) == 0) {
        *set = SET_ANY;
        name += 12;
    } else if (strncasecmp(name, "ForAllValues:", 13) == 0) {
        *set = SET_ALL;
        name += 13;
    }
    n = strlen(name);
    if (n >= sizeof(base))
        return NULL;
    memcpy(base, name, n + 1);
    if (n > 8 && strcasecmp(base + n - 8, "IfExists") == 0) {
        *if_exists = true;
        base[n - 8] = '\0';
    }
    for (size_t i = 0; i < sizeof(operators) / sizeof(operators[0]); i++) {
        if (strcasecmp(operators[i].name, base) == 0) {
            if (operators[i].family == F_NULL && (*if_exists || *set != SET_NONE))
                return NULL;
            return &operators[i];
        }
    }
    return NULL;
}

/* The text of a scalar JSON condition value: strings as they are, numbers
 * and booleans as they are written. NULL for anything else. */
static char *scalar_text(json_t *v)
{
    char num[64];
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_true(v))
        return xstrdup("true");
    if (json_is_false(v))
        return xstrdup("false");
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return xstrdup(num);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        snprintf(num, sizeof(num), "%.15g", d);
        if (strtod(num, NULL) != d)
            snprintf(num, sizeof(num), "%.17g", d);
        return xstrdup(num);
    }
    return NULL;
}

static int parse_value(struct value *out, const struct operator_def *op, json_t *v, bool variables)
{
    out->text = scalar_text(v);
    if (!out->text)
        return error_set(E_INVALID, POLICY_MSG_SYNTAX);
    out->vars = variables && strstr(out->text, "${") != NULL;
    switch (op->family) {
    case F_NUMERIC:
        if (!parse_number(out->text, &out->u.num))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        break;
    case F_DATE:
        if (!parse_date(out->text, &out->u.ms))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        break;
    case F_IP:
        if (!ip_net_parse(out->text, true, &out->u.ip))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        break;
    case F_BINARY:
        out->u.bin.p = base64_decode(out->text, strlen(out->text), &out->u.bin.n);
        if (!out->u.bin.p)
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        break;
    case F_BOOL:
    case F_NULL:
        if ((op->family == F_NULL || !out->vars) && !parse_bool(out->text, &out->u.b))
            return error_set(E_INVALID, POLICY_MSG_SYNTAX);
        break;
    default:
        break;
    }
    return 0;
}

static bool valid_key(const char *key)
{
    const char *colon = strchr(key, ':');
    return colon && colon != key && colon[1] != '\0';
}

static void value_release(struct value *v, const struct operator_def *op)
{
    free(v->text);
    if (op && op->family == F_BINARY)
        free(v->u.bin.p);
}

static void cond_release(struct cond *c)
{
    free(c->key);
    for (size_t i = 0; i < c->nvalues; i++)
        value_release(&c->values[i], c->op);
    free(c->values);
}

void policy_cond_free(struct policy_cond *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->n; i++)
        cond_release(&pc->conds[i]);
    free(pc->conds);
    free(pc);
}

int policy_cond_parse(struct policy_cond **out, json_t *condition, bool variables)
{
    struct policy_cond *pc = xcalloc(1, sizeof(*pc));
    const char *opname, *key;
    json_t *block, *v;
    size_t cap = 0;
    int rc = 0;

    *out = NULL;
    if (!json_is_object(condition)) {
        rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
        goto done;
    }
    json_object_foreach(condition, opname, block)
    {
        enum set_op set;
        bool if_exists;
        const struct operator_def *op = find_operator(opname, &set, &if_exists);
        if (!op || !json_is_object(block)) {
            rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
            goto done;
        }
        json_object_foreach(block, key, v)
        {
            struct cond *c;
            size_t nv = json_is_array(v) ? json_array_size(v) : 1;
            if (!valid_key(key)) {
                rc = error_set(E_INVALID, POLICY_MSG_VENDOR);
                goto done;
            }
            if (nv == 0) {
                rc = error_set(E_INVALID, POLICY_MSG_SYNTAX);
                goto done;
            }
            if (pc->n == cap) {
                cap = cap ? cap * 2 : 4;
                pc->conds = xrealloc(pc->conds, cap * sizeof(*pc->conds));
            }
            c = &pc->conds[pc->n++];
            memset(c, 0, sizeof(*c));
            c->op = op;
            c->set = set;
            c->if_exists = if_exists;
            c->key = xstrdup(key);
            c->values = xcalloc(nv, sizeof(*c->values));
            for (size_t i = 0; i < nv; i++) {
                c->nvalues = i + 1;
                if ((rc = parse_value(&c->values[i], op, json_is_array(v) ? json_array_get(v, i) : v, variables)) < 0)
                    goto done;
            }
        }
    }
    *out = pc;
    pc = NULL;
done:
    policy_cond_free(pc);
    return rc;
}

/* ---- evaluation ---- */

/* Does the request value cv match the policy value pv (positive form)? */
static bool value_matches(const struct cond *c, const struct value *pv, const char *cv, const struct policy_ctx *ctx)
{
    struct buf b;
    bool r = false;
    double num;
    int64_t ms;
    struct ip_net ip;
    enum policy_expand_mode mode = POLICY_EXPAND_LITERAL;

    switch (c->op->family) {
    case F_NUMERIC:
        if (!parse_number(cv, &num))
            return false;
        switch (c->op->cmp) {
        case CMP_EQ:
            return num == pv->u.num;
        case CMP_LT:
            return num < pv->u.num;
        case CMP_LE:
            return num <= pv->u.num;
        case CMP_GT:
            return num > pv->u.num;
        case CMP_GE:
            return num >= pv->u.num;
        }
        return false;
    case F_DATE:
        if (!parse_date(cv, &ms))
            return false;
        switch (c->op->cmp) {
        case CMP_EQ:
            return ms == pv->u.ms;
        case CMP_LT:
            return ms < pv->u.ms;
        case CMP_LE:
            return ms <= pv->u.ms;
        case CMP_GT:
            return ms > pv->u.ms;
        case CMP_GE:
            return ms >= pv->u.ms;
        }
        return false;
    case F_IP:
        return ip_net_parse(cv, false, &ip) && ip_net_contains(&pv->u.ip, &ip);
    case F_BINARY: {
        size_t n;
        unsigned char *p = base64_decode(cv, strlen(cv), &n);
        r = p && n == pv->u.bin.n && memcmp(p, pv->u.bin.p, n) == 0;
        free(p);
        return r;
    }
    case F_STRING_LIKE:
    case F_ARN:
        mode = POLICY_EXPAND_PATTERN;
        break;
    default:
        break;
    }

    buf_init(&b, BUF_UNLIMITED);
    if (policy_expand(&b, pv->text, ctx, pv->vars, mode) < 0) {
        error_clear();
        goto done;
    }
    switch (c->op->family) {
    case F_STRING:
        r = strcmp(b.ptr, cv) == 0;
        break;
    case F_STRING_NOCASE:
    case F_BOOL:
        r = strcasecmp(b.ptr, cv) == 0;
        break;
    case F_STRING_LIKE:
        r = policy_glob(b.ptr, b.len, cv, strlen(cv), POLICY_GLOB_ESCAPES);
        break;
    case F_ARN:
        r = policy_arn_like(b.ptr, cv);
        break;
    default:
        break;
    }
done:
    buf_release(&b);
    return r;
}

static bool any_value_matches(const struct cond *c, const char *cv, const struct policy_ctx *ctx)
{
    for (size_t i = 0; i < c->nvalues; i++)
        if (value_matches(c, &c->values[i], cv, ctx))
            return true;
    return false;
}

static bool cond_match(const struct cond *c, const struct policy_ctx *ctx)
{
    const struct policy_ctx_entry *e = policy_ctx_get(ctx, c->key);
    bool present = e && e->count > 0;
    bool neg = c->op->negated;

    if (c->op->family == F_NULL) {
        for (size_t i = 0; i < c->nvalues; i++)
            if (c->values[i].u.b == !present)
                return true;
        return false;
    }
    if (!present) {
        if (c->set == SET_ALL || c->if_exists)
            return true;
        if (c->set == SET_ANY)
            return false;
        return neg;
    }
    switch (c->set) {
    case SET_ALL:
        for (size_t i = 0; i < e->count; i++)
            if (any_value_matches(c, e->values[i], ctx) == neg)
                return false;
        return true;
    case SET_ANY:
        for (size_t i = 0; i < e->count; i++)
            if (any_value_matches(c, e->values[i], ctx) != neg)
                return true;
        return false;
    case SET_NONE:
        break;
    }
    for (size_t i = 0; i < e->count; i++)
        if (any_value_matches(c, e->values[i], ctx))
            return !neg;
    return neg;
}

bool policy_cond_match(const struct policy_cond *pc, const struct policy_ctx *ctx)
{
    if (!pc)
        return true;
    for (size_t i = 0; i < pc->n; i++)
        if (!cond_match(&pc->conds[i], ctx))
            return false;
    return true;
}
