/*
 * This module implements the referrers API of OCI Distribution 1.1:
 * GET /v2/<name>/referrers/<digest>[?artifactType=...] answers an OCI image
 * index of the manifests whose subject is <digest> (empty, not 404, for an
 * unknown digest).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "registry/internal.h"
#include "image/manifest.h"

struct referrers_ctx {
    json_t *manifests;
    const char *filter;
};

static int add_referrer(void *ctx, const struct manifest *m)
{
    struct referrers_ctx *c = ctx;
    const char *type = m->artifact_type ? m->artifact_type : m->config_media_type;
    if (c->filter && (!type || strcmp(type, c->filter) != 0))
        return 0;
    json_t *d = json_pack("{s:s,s:s,s:I}", "mediaType", m->media_type, "digest", m->digest, "size", (json_int_t)m->size);
    if (type)
        json_object_set_new(d, "artifactType", json_string(type));
    json_t *doc = json_loadb(m->body, m->size, 0, NULL);
    json_t *ann = doc ? json_object_get(doc, "annotations") : NULL;
    if (json_is_object(ann) && json_object_size(ann))
        json_object_set(d, "annotations", ann);
    json_decref(doc);
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
    struct referrers_ctx c = {json_array(), http_query(r, "artifactType")};
    if (c.filter && !*c.filter)
        c.filter = NULL;
    int rc = store_referrers(v->repo.id, v->ref, add_referrer, &c);
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
