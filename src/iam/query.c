/*
 * This module implements the AWS Query request decoding of query.h: the
 * form body split into pairs and percent-decoded (by libcurl's unescaper,
 * after '+' became a space), then each pair's dotted name walked down the
 * input shape to the place its value belongs. Lists are filled by index
 * (holes allowed, as in AWS) and compacted at the end.
 */
#include "iam/query.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/util.h"

void query_form_release(struct query_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->params[i].name);
        free(f->params[i].value);
    }
    free(f->params);
    memset(f, 0, sizeof(*f));
}

/* Decodes one form component into a malloc'd, NUL-terminated string. */
static int decode(char **out, size_t *len_out, const char *z, size_t n)
{
    char *plus = xstrndup(z, n);
    int olen = 0;
    *out = NULL;
    if (n > INT_MAX) {
        free(plus);
        return error_set(E_TOOBIG, "a form field is too long");
    }
    for (size_t i = 0; i < n; i++)
        if (plus[i] == '+')
            plus[i] = ' ';
    char *dec = curl_easy_unescape(NULL, plus, (int)n, &olen);
    free(plus);
    if (!dec)
        return error_set(E_ERROR, "cannot decode a form field");
    if (memchr(dec, '\0', (size_t)olen)) {
        curl_free(dec);
        return error_set(E_INVALID, "a form field contains a NUL byte");
    }
    *out = xstrndup(dec, (size_t)olen);
    *len_out = (size_t)olen;
    curl_free(dec);
    return 0;
}

int query_form_parse(struct query_form *out, const char *body, size_t len)
{
    const char *p = body, *end = body + len;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            const char *eq = memchr(p, '=', (size_t)(stop - p));
            const char *name_end = eq ? eq : stop;
            struct query_param qp = {0};
            size_t name_len = 0;
            if (out->n == QUERY_PARAMS_MAX) {
                rc = error_set(E_TOOBIG, "the request has more than %d parameters", QUERY_PARAMS_MAX);
                goto done;
            }
            if ((rc = decode(&qp.name, &name_len, p, (size_t)(name_end - p))) < 0)
                goto done;
            if (name_len > QUERY_NAME_MAX) {
                free(qp.name);
                rc = error_set(E_INVALID, "a parameter name is longer than %d characters", QUERY_NAME_MAX);
                goto done;
            }
            if (eq)
                rc = decode(&qp.value, &qp.value_len, eq + 1, (size_t)(stop - eq - 1));
            else
                qp.value = xstrdup("");
            if (rc < 0) {
                free(qp.name);
                goto done;
            }
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 16;
                out->params = xrealloc(out->params, out->cap * sizeof(*out->params));
            }
            out->params[out->n++] = qp;
        }
        p = amp ? amp + 1 : end;
    }
done:
    if (rc < 0)
        query_form_release(out);
    return rc;
}

const char *query_form_get(const struct query_form *f, const char *name)
{
    for (size_t i = f->n; i-- > 0;)
        if (strcmp(f->params[i].name, name) == 0)
            return f->params[i].value;
    return NULL;
}

/* The value as the scalar shape wants it; NULL when it is not UTF-8. */
static json_t *scalar(const struct model_shape *s, const char *v, size_t n)
{
    switch (s->type) {
    case SH_INTEGER:
    case SH_LONG: {
        char *endp = NULL;
        long long x;
        if (n == 0 || n > 20)
            break;
        x = strtoll(v, &endp, 10);
        if (endp && *endp == '\0' && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
            return json_integer(x);
        break;
    }
    case SH_BOOLEAN:
        if (strcmp(v, "true") == 0)
            return json_true();
        if (strcmp(v, "false") == 0)
            return json_false();
        break;
    case SH_DOUBLE: {
        char *endp = NULL;
        double d = n ? strtod(v, &endp) : 0;
        if (n && endp && *endp == '\0')
            return json_real(d);
        break;
    }
    default:
        break;
    }
    return json_stringn(v, n);
}

/* One component of a dotted name: [*p, next '.' or end). */
static struct slice component(const char **p)
{
    const char *dot = strchr(*p, '.');
    struct slice s = {*p, dot ? (size_t)(dot - *p) : strlen(*p)};
    *p = dot ? dot + 1 : *p + s.len;
    return s;
}

static bool parse_index(struct slice s, size_t *out)
{
    uint64_t v;
    if (s.len == 0 || s.len > 6 || s.base[0] == '0' || parse_u64(s, QUERY_INDEX_MAX, &v) < 0)
        return false;
    *out = (size_t)v;
    return true;
}

/* The child container (object or array) of parent at key/index for shape
 * type t, created when absent; NULL when something else is there. */
static json_t *child(json_t *parent, const char *key, size_t index, enum shape_type t)
{
    json_t *c = key ? json_object_get(parent, key) : json_array_get(parent, index);
    bool want_array = t == SH_LIST;
    if (c && !json_is_null(c))
        return (want_array ? json_is_array(c) : json_is_object(c)) ? c : NULL;
    c = want_array ? json_array() : json_object();
    if (key) {
        json_object_set_new(parent, key, c);
    } else {
        while (json_array_size(parent) <= index)
            json_array_append_new(parent, json_null());
        json_array_set_new(parent, index, c);
    }
    return c;
}

static int set_value(json_t *parent, const char *key, size_t index, json_t *v)
{
    if (!v)
        return error_set(E_INVALID, "a parameter value is not valid UTF-8");
    if (key) {
        json_object_set_new(parent, key, v);
    } else {
        while (json_array_size(parent) <= index)
            json_array_append_new(parent, json_null());
        json_array_set_new(parent, index, v);
    }
    return 0;
}

/* Puts one pair in place; pairs that fit nowhere are ignored. */
static int place(json_t *root, const struct model_shape *shapes, int shape, const struct query_param *qp)
{
    const char *p = qp->name;
    json_t *cur = root;
    int sh = shape;
    char key[QUERY_NAME_MAX + 1];

    for (;;) {
        const struct model_shape *s = &shapes[sh];
        const char *k = NULL;
        size_t index = 0;
        int next;
        if (s->type == SH_STRUCT) {
            struct slice c = component(&p);
            const struct model_member *m = NULL;
            for (size_t i = 0; i < s->nmembers && !m; i++)
                if (slice_eq(c, s->members[i].name))
                    m = &s->members[i];
            if (!m)
                return 0;
            snprintf(key, sizeof(key), "%s", m->name);
            k = key;
            next = m->shape;
        } else if (s->type == SH_LIST) {
            struct slice c = component(&p);
            if (!slice_eq(c, "member") || !parse_index(component(&p), &index))
                return 0;
            index--;
            next = s->item;
        } else {
            return 0; /* maps: IAM's inputs have none */
        }
        const struct model_shape *ns = &shapes[next];
        if (*p == '\0') {
            if (ns->type == SH_LIST && qp->value_len == 0) {
                (void)child(cur, k, index, SH_LIST); /* Name= : an empty list */
                return 0;
            }
            if (ns->type == SH_STRUCT || ns->type == SH_LIST || ns->type == SH_MAP)
                return 0;
            return set_value(cur, k, index, scalar(ns, qp->value, qp->value_len));
        }
        if (ns->type != SH_STRUCT && ns->type != SH_LIST)
            return 0;
        cur = child(cur, k, index, ns->type);
        if (!cur)
            return 0;
        sh = next;
    }
}

/* Drops the holes (nulls) that sparse indexes left in lists. */
static void compact(json_t *j)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) compact(v);
    } else if (json_is_array(j)) {
        for (size_t i = json_array_size(j); i-- > 0;) {
            if (json_is_null(json_array_get(j, i)))
                json_array_remove(j, i);
            else
                compact(json_array_get(j, i));
        }
    }
}

int query_form_to_json(json_t **out, const struct query_form *f, const struct model_shape *shapes, int shape)
{
    json_t *root = json_object();
    *out = NULL;
    if (shape >= 0 && shapes[shape].type == SH_STRUCT) {
        for (size_t i = 0; i < f->n; i++) {
            int rc = place(root, shapes, shape, &f->params[i]);
            if (rc < 0) {
                json_decref(root);
                return rc;
            }
        }
    }
    compact(root);
    *out = root;
    return 0;
}
