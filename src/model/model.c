/*
 * This module implements the model validator of model.h. Patterns are
 * compiled once at start (POSIX regcomp; the generator already translated
 * them to ERE); a request is then walked member by member, and the first
 * violation is reported with its path the way AWS names it (memberName,
 * list.member.N, map keys).
 */
#include "model/model.h"

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"

struct compiled {
    const struct model_shape *shapes;
    size_t n;
    regex_t *re; /* one per shape; only those with patterns compiled */
    struct compiled *next;
};

static struct compiled *compiled_list;

int model_init(const struct model_shape *shapes, size_t n)
{
    for (struct compiled *c = compiled_list; c; c = c->next)
        if (c->shapes == shapes)
            return 0;
    struct compiled *c = xcalloc(1, sizeof(*c));
    c->shapes = shapes;
    c->n = n;
    c->re = xcalloc(n, sizeof(regex_t));
    for (size_t i = 0; i < n; i++) {
        if (!shapes[i].pattern)
            continue;
        if (regcomp(&c->re[i], shapes[i].pattern, REG_EXTENDED | REG_NOSUB) != 0)
            return error_set(E_ERROR, "model pattern of '%s' does not compile: %s", shapes[i].name, shapes[i].pattern);
    }
    c->next = compiled_list;
    compiled_list = c;
    return 0;
}

static const regex_t *pattern_of(const struct model_shape *shapes, int shape)
{
    for (struct compiled *c = compiled_list; c; c = c->next)
        if (c->shapes == shapes)
            return &c->re[shape];
    return NULL;
}

const struct model_operation *model_operation_find(const struct model_operation *ops, size_t n, struct slice name)
{
    for (size_t i = 0; i < n; i++)
        if (slice_eq(name, ops[i].name))
            return &ops[i];
    return NULL;
}

static int fail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(const char *path, const char *fmt, ...)
{
    char constraint[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(constraint, sizeof(constraint), fmt, ap);
    va_end(ap);
    return error_set(E_INVALID, "Invalid parameter at '%s' failed to satisfy constraint: '%s'", path, constraint);
}

/* A string's length as AWS's services count it (Java's String.length():
 * UTF-16 code units), from its UTF-8 bytes (valid: jansson checked them). */
static int64_t utf16_length(const char *z, size_t n)
{
    int64_t units = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)z[i];
        if ((b & 0xC0) != 0x80)
            units += b >= 0xF0 ? 2 : 1;
    }
    return units;
}

static int check_length(const struct model_shape *s, const char *path, int64_t n, const char *what)
{
    if (s->has_min && n < s->min)
        return fail(path, "Member must have %s greater than or equal to %lld", what, (long long)s->min);
    if (s->has_max && n > s->max)
        return fail(path, "Member must have %s less than or equal to %lld", what, (long long)s->max);
    return 0;
}

static int validate(const struct model_shape *shapes, int idx, json_t *j, const char *path, int depth)
{
    const struct model_shape *s = &shapes[idx];
    char sub[512];
    int rc;
    if (depth > 32)
        return fail(path, "Member is nested too deeply");
    switch (s->type) {
    case SH_STRUCT: {
        if (!json_is_object(j))
            return fail(path, "Member must be a structure");
        for (size_t i = 0; i < s->nmembers; i++) {
            const struct model_member *m = &s->members[i];
            json_t *v = json_object_get(j, m->name);
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", m->name);
            if (!v || json_is_null(v)) {
                if (m->required)
                    return fail(sub, "Member must not be null");
                continue;
            }
            if ((rc = validate(shapes, m->shape, v, sub, depth + 1)) < 0)
                return rc;
        }
        return 0;
    }
    case SH_LIST: {
        if (!json_is_array(j))
            return fail(path, "Member must be a list");
        if ((rc = check_length(s, path, (int64_t)json_array_size(j), "length")) < 0)
            return rc;
        for (size_t i = 0; i < json_array_size(j); i++) {
            snprintf(sub, sizeof(sub), "%s.%zu.member", path, i + 1);
            if ((rc = validate(shapes, s->item, json_array_get(j, i), sub, depth + 1)) < 0)
                return rc;
        }
        return 0;
    }
    case SH_MAP: {
        const char *k;
        json_t *v;
        if (!json_is_object(j))
            return fail(path, "Member must be a map");
        if ((rc = check_length(s, path, (int64_t)json_object_size(j), "length")) < 0)
            return rc;
        json_object_foreach(j, k, v)
        {
            json_t *key = json_string(k);
            snprintf(sub, sizeof(sub), "%s.%s", path, k);
            rc = validate(shapes, s->key, key, sub, depth + 1);
            json_decref(key);
            if (rc < 0 || (rc = validate(shapes, s->value, v, sub, depth + 1)) < 0)
                return rc;
        }
        return 0;
    }
    case SH_STRING: {
        if (!json_is_string(j))
            return fail(path, "Member must be a string");
        const char *z = json_string_value(j);
        size_t n = json_string_length(j);
        if (s->enums) {
            for (const char *const *e = s->enums; *e; e++)
                if (strcmp(*e, z) == 0)
                    return 0;
            char set[300] = "";
            size_t off = 0;
            for (const char *const *e = s->enums; *e && off < sizeof(set) - 1; e++)
                off += (size_t)snprintf(set + off, sizeof(set) - off, "%s%s", e == s->enums ? "" : ", ", *e);
            return fail(path, "Member must satisfy enum value set: [%s]", set);
        }
        if ((rc = check_length(s, path, utf16_length(z, n), "length")) < 0)
            return rc;
        if (s->pattern) {
            const regex_t *re = pattern_of(shapes, idx);
            if (strlen(z) != n || (re && regexec(re, z, 0, NULL, 0) != 0))
                return fail(path, "must satisfy regular expression '%s'", s->model_pattern);
        }
        return 0;
    }
    case SH_INTEGER:
    case SH_LONG:
        if (!json_is_integer(j))
            return fail(path, "Member must be a number");
        if (s->has_min && json_integer_value(j) < s->min)
            return fail(path, "Member must have value greater than or equal to %lld", (long long)s->min);
        if (s->has_max && json_integer_value(j) > s->max)
            return fail(path, "Member must have value less than or equal to %lld", (long long)s->max);
        return 0;
    case SH_BOOLEAN:
        return json_is_boolean(j) ? 0 : fail(path, "Member must be a boolean");
    case SH_DOUBLE:
    case SH_TIMESTAMP:
        return json_is_number(j) || (s->type == SH_TIMESTAMP && json_is_string(j)) ? 0 : fail(path, "Member must be a number");
    case SH_BLOB: {
        if (!json_is_string(j))
            return fail(path, "Member must be base64-encoded binary");
        /* the decoded size: 3 bytes per 4 characters, less the padding */
        size_t len = json_string_length(j);
        const char *z = json_string_value(j);
        int64_t n = (int64_t)(len / 4 * 3);
        if (len >= 1 && z[len - 1] == '=')
            n--;
        if (len >= 2 && z[len - 2] == '=')
            n--;
        return check_length(s, path, n, "length");
    }
    }
    return 0;
}

int model_validate(const struct model_shape *shapes, int shape, const void *json)
{
    if (shape < 0)
        return 0;
    return validate(shapes, shape, (json_t *)json, "", 0);
}
