/*
 * This module implements the referrers API of OCI Distribution 1.1:
 * GET /v2/<name>/referrers/<digest>[?artifactType=...] answers an OCI image
 * index of the manifests whose subject is <digest> (empty, not 404, for an
 * unknown digest). Each referrer's annotations were kept when it was put,
 * so no body is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "registry/internal.h"
#include "image/manifest.h"

/* Referrers read per query: each is a range of the subject index. */
#define REFERRERS_BATCH 500

struct referrers_ctx {
    json_t *manifests;
    const char *filter;
    char cursor[DIGEST_MAX];
    int rows;
};

static int add_referrer(void *ctx, const struct image_record *r)
{
    struct referrers_ctx *c = ctx;
    const struct manifest *m = &r->m;
    const char *type = m->artifact_type ? m->artifact_type : m->config_media_type;
    snprintf(c->cursor, sizeof(c->cursor), "%s", m->digest);
    c->rows++;
    if (c->filter && (!type || strcmp(type, c->filter) != 0))
        return 0;
    json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", m->media_type, "digest", m->digest, "size", (json_int_t)m->size);
    if (type)
        json_object_set_new(d, "artifactType", json_string(type));
    json_t *ann = r->annotations ? json_loads(r->annotations, 0, NULL) : NULL;
    if (json_is_object(ann) && json_object_size(ann))
        json_object_set(d, "annotations", ann);
    json_decref(ann);
    json_array_append_new(c->manifests, d);
    return 0;
}

void referrers_list(struct request *r)
{
    struct v2 *v = r->state;
    if (digest_validate(slice_from(v->ref), NULL) < 0) {
        reg_error(r, RE_DIGEST_INVALID, error_message());
        return;
    }
    struct referrers_ctx c = {json_array(), http_query(r, "artifactType"), "", 0};
    if (c.filter && !*c.filter)
        c.filter = NULL;
    /* archived referrers are left out: they could not be pulled */
    int rc;
    do {
        c.rows = 0;
        rc = store_referrers_page(v->repo.id, v->ref, IMAGE_ACTIVE, c.cursor, REFERRERS_BATCH, add_referrer, &c);
    } while (rc == 0 && c.rows == REFERRERS_BATCH);
    if (rc < 0) {
        json_decref(c.manifests);
        reg_error_from(r, rc, RE_MANIFEST_UNKNOWN);
        return;
    }
    json_t *doc = json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", c.manifests);
    char *body = json_dumps(doc, JSON_COMPACT);
    reg_json(r, 200, MT_OCI_INDEX, body, strlen(body));
    if (c.filter)
        http_set_header(r, "OCI-Filters-Applied", "artifactType");
    free(body);
    json_decref(doc);
}
