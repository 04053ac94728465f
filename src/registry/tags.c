/*
 * This module implements the two listings of the registry API with n/last
 * pagination and RFC 5988 Link headers: /v2/<name>/tags/list and
 * /v2/_catalog (the caller's registry's repositories). Without n a listing
 * is cut at LIST_DEFAULT_PAGE entries, with a Link header to the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "registry/internal.h"

/* A listing without n answers this many entries and a Link header to the
 * rest (the distribution spec lets a registry cut any listing this way),
 * so no request makes the server build an answer of every tag at once. */
#define LIST_DEFAULT_PAGE 1000
/* The most one page answers, whatever n asks for. */
#define LIST_MAX_PAGE 10000

struct listing {
    json_t *arr;
    int limit;
    int count;
    bool more;
    char last[300];
};

static int add_tag(void *ctx, const char *tag, const char *digest)
{
    struct listing *l = ctx;
    if (l->count == l->limit) {
        l->more = true;
        return 1;
    }
    json_array_append_new(l->arr, json_string(tag));
    snprintf(l->last, sizeof(l->last), "%s", tag);
    l->count++;
    return 0;
}

static int add_repo(void *ctx, const struct repo *repo)
{
    return add_tag(ctx, repo->name, NULL);
}

static void respond_listing(struct request *r, json_t *doc, struct listing *l, const char *base)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    reg_json(r, 200, "application/json", body, strlen(body));
    free(body);
    if (l->more) {
        char link[1024];
        /* names and tags are URL-safe by their grammar */
        snprintf(link, sizeof(link), "<%s?last=%s&n=%d>; rel=\"next\"", base, l->last, l->limit);
        http_set_header(r, "Link", link);
    }
}

/* Parses n/last; answers and returns <0 when bad. */
static int page(struct request *r, struct listing *l, const char **last)
{
    int n;
    if (reg_page_params(r, &n, last) < 0) {
        reg_error(r, RE_UNSUPPORTED, error_message());
        return E_INVALID;
    }
    l->limit = !http_query(r, "n") ? LIST_DEFAULT_PAGE : n > LIST_MAX_PAGE ? LIST_MAX_PAGE : n;
    return 0;
}

void tags_list(struct request *r)
{
    struct v2 *v = r->state;
    struct listing l = {0};
    const char *last;
    char base[600];
    if (page(r, &l, &last) < 0)
        return;
    json_t *doc = json_object();
    l.arr = json_array();
    json_object_set_new(doc, "name", json_string(v->name));
    json_object_set_new(doc, "tags", l.arr);
    int rc = l.limit > 0 ? store_tags_list(v->repo.id, last, l.limit + 1, add_tag, &l) : 0;
    if (rc < 0) {
        json_decref(doc);
        reg_error_from(r, rc, RE_NAME_UNKNOWN);
        return;
    }
    snprintf(base, sizeof(base), "/v2/%s/tags/list", v->name);
    respond_listing(r, doc, &l, base);
    json_decref(doc);
}

void catalog_list(struct request *r)
{
    struct v2 *v = r->state;
    struct listing l = {0};
    const char *last;
    char arn[512];
    if (page(r, &l, &last) < 0)
        return;
    snprintf(arn, sizeof(arn), "arn:aws:ecr:%s:%s:repository/*", auth_region(), v->account);
    if (auth_authorize(&v->who, "ecr:DescribeRepositories", v->account, arn, &v->authz) < 0) {
        reg_error(r, RE_DENIED, error_message());
        return;
    }
    json_t *doc = json_object();
    l.arr = json_array();
    json_object_set_new(doc, "repositories", l.arr);
    int rc = l.limit > 0 ? store_repo_list(v->account, last, l.limit + 1, add_repo, &l) : 0;
    if (rc < 0) {
        json_decref(doc);
        reg_error_from(r, rc, RE_NAME_UNKNOWN);
        return;
    }
    respond_listing(r, doc, &l, "/v2/_catalog");
    json_decref(doc);
}
