/*
 * The AWS Query protocol's request side: a form-encoded body
 * (Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.1.Key=k)
 * decoded into name/value pairs, and those flat pairs turned into the JSON
 * structure of an operation's input shape, so that the model validator of
 * model/model.h can check it as it checks JSON requests.
 *
 * Flattening follows botocore's query serializer: structure members are
 * Parent.Member, list items Name.member.N (N from 1), and an empty list is
 * sent as Name=. Names that do not fit the shape are ignored, as AWS does.
 */
#ifndef BERTH_IAM_QUERY_H
#define BERTH_IAM_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "model/model.h"

#define QUERY_PARAMS_MAX 4096 /* most pairs in one body */
#define QUERY_NAME_MAX 1024   /* longest decoded name */
#define QUERY_INDEX_MAX 1000  /* highest list index, Name.member.N */

struct query_param {
    char *name;
    char *value; /* decoded, NUL-terminated; never contains NUL itself */
    size_t value_len;
};

struct query_form {
    struct query_param *params;
    size_t n;
    size_t cap;
};

/* Decodes an application/x-www-form-urlencoded body ('+' is a space,
 * %XX a byte). E_INVALID for a name or value that decodes to a NUL byte or
 * an over-long name, E_TOOBIG past QUERY_PARAMS_MAX pairs; out is then
 * empty. Release with query_form_release in every case. */
int query_form_parse(struct query_form *out, const char *body, size_t len);
void query_form_release(struct query_form *f);

/* The value of the last pair with this name, or NULL. */
const char *query_form_get(const struct query_form *f, const char *name);

/* Builds *out, a JSON object following the structure shape, from f's pairs.
 * Scalars are typed by their shape (integers and booleans that do not parse
 * stay strings, for the validator to refuse); list indexes outside
 * 1..QUERY_INDEX_MAX fit nowhere. E_INVALID when a value is not UTF-8. */
int query_form_to_json(json_t **out, const struct query_form *f, const struct model_shape *shapes, int shape);

#endif
