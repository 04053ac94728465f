/*
 * This module implements the manifest parser of manifest.h with jansson,
 * rejecting duplicate keys so two readers can never see different content.
 */
#include "image/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/error.h"

static const char *const known_types[] = {MT_DOCKER_MANIFEST, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_OCI_INDEX};

static const char *canonical_type(const char *t)
{
    for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
        if (strcmp(t, known_types[i]) == 0)
            return known_types[i];
    return NULL;
}

/* Sizes are client-declared, each at most INT64_MAX (jansson's integers).
 * Their sum saturates at INT64_MAX rather than wrapping, and stays within
 * what SQLite and JSON integers (imageSizeInBytes) can carry. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > (uint64_t)INT64_MAX - b ? (uint64_t)INT64_MAX : a + b;
}

static void descriptor_release(struct descriptor *d)
{
    free(d->media_type);
    free(d->artifact_type);
    free(d->platform);
    memset(d, 0, sizeof(*d));
}

static int parse_descriptor(struct descriptor *d, json_t *j, const char *where)
{
    memset(d, 0, sizeof(*d));
    if (!json_is_object(j))
        return error_set(E_INVALID, "%s is not a descriptor object", where);
    json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest"), *sz = json_object_get(j, "size");
    if (!json_is_string(mt) || json_string_length(mt) == 0 || json_string_length(mt) > 255)
        return error_set(E_INVALID, "%s has no valid mediaType", where);
    if (!json_is_string(dg))
        return error_set(E_INVALID, "%s has no digest", where);
    int rc = digest_validate((struct slice){json_string_value(dg), json_string_length(dg)}, NULL);
    if (rc < 0) {
        /* the detail is rewritten in place: copy it out of the buffer first */
        char why[512];
        snprintf(why, sizeof(why), "%s", error_message());
        return error_set(E_INVALID, "%s: %s", where, why);
    }
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return error_set(E_INVALID, "%s has no valid size", where);
    d->media_type = xstrdup(json_string_value(mt));
    snprintf(d->digest, sizeof(d->digest), "%s", json_string_value(dg));
    d->size = (uint64_t)json_integer_value(sz);
    json_t *at = json_object_get(j, "artifactType");
    if (at && !json_is_string(at))
        return error_set(E_INVALID, "%s has a non-string artifactType", where);
    if (at)
        d->artifact_type = xstrdup(json_string_value(at));
    json_t *urls = json_object_get(j, "urls");
    d->foreign = json_is_array(urls) && json_array_size(urls) > 0 &&
                 (strstr(d->media_type, "foreign") || strstr(d->media_type, "nondistributable"));
    json_t *pl = json_object_get(j, "platform");
    if (json_is_object(pl)) {
        json_t *os = json_object_get(pl, "os"), *arch = json_object_get(pl, "architecture"),
               *var = json_object_get(pl, "variant");
        if (json_is_string(os) && json_is_string(arch)) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "%s/%s%s%s", json_string_value(os), json_string_value(arch), json_is_string(var) ? "/" : "",
                     json_is_string(var) ? json_string_value(var) : "");
            d->platform = xstrdup(tmp);
        }
    }
    return 0;
}

static int parse_array(struct descriptor **out, size_t *n, json_t *arr, const char *what)
{
    size_t count = json_array_size(arr);
    *out = count ? xcalloc(count, sizeof(**out)) : NULL;
    *n = 0;
    for (size_t i = 0; i < count; i++) {
        char where[64];
        snprintf(where, sizeof(where), "%s[%zu]", what, i);
        int rc = parse_descriptor(&(*out)[i], json_array_get(arr, i), where);
        (*n)++;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int manifest_parse(struct parsed_manifest *out, const char *body, size_t n, const char *content_type)
{
    json_error_t jerr;
    int rc = 0;
    memset(out, 0, sizeof(*out));
    if (n > MANIFEST_MAX_BYTES)
        return error_set(E_TOOBIG, "manifest is larger than %u bytes", MANIFEST_MAX_BYTES);
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return error_set(E_INVALID, "manifest is not valid JSON: %s at line %d column %d", jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        rc = error_set(E_INVALID, "manifest is not a JSON object");
        goto done;
    }

    json_t *sv = json_object_get(root, "schemaVersion");
    if (json_is_integer(sv) && json_integer_value(sv) == 1) {
        rc = error_set(E_UNSUPPORTED, "schema 1 manifests are not supported");
        goto done;
    }
    if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
        rc = error_set(E_INVALID, "manifest schemaVersion must be 2");
        goto done;
    }

    /* the type: the mediaType field, else Content-Type, else the shape */
    json_t *mt = json_object_get(root, "mediaType");
    const char *declared = NULL;
    if (mt && !json_is_string(mt)) {
        rc = error_set(E_INVALID, "manifest mediaType is not a string");
        goto done;
    }
    char ct[256] = "";
    if (content_type) {
        size_t len = strcspn(content_type, ";");
        while (len && content_type[len - 1] == ' ')
            len--;
        snprintf(ct, sizeof(ct), "%.*s", (int)len, content_type);
    }
    /* a Content-Type that names something else than a manifest is refused;
     * generic JSON types leave the decision to the document */
    if (ct[0] && !canonical_type(ct) && strcmp(ct, "application/json") != 0 && strcmp(ct, "application/octet-stream") != 0 &&
        strcmp(ct, MT_DOCKER_V1) != 0 && strcmp(ct, MT_DOCKER_V1_SIGNED) != 0) {
        rc = error_set(E_INVALID, "Content-Type '%s' is not a manifest media type", ct);
        goto done;
    }
    if (mt) {
        declared = json_string_value(mt);
        if (ct[0] && canonical_type(ct) && strcmp(ct, declared) != 0) {
            rc = error_set(E_INVALID, "manifest mediaType '%s' does not match Content-Type '%s'", declared, ct);
            goto done;
        }
    } else if (ct[0] && canonical_type(ct)) {
        declared = ct;
    }
    if (declared && (strcmp(declared, MT_DOCKER_V1) == 0 || strcmp(declared, MT_DOCKER_V1_SIGNED) == 0)) {
        rc = error_set(E_UNSUPPORTED, "schema 1 manifests are not supported");
        goto done;
    }
    json_t *manifests = json_object_get(root, "manifests");
    json_t *layers = json_object_get(root, "layers");
    json_t *config = json_object_get(root, "config");
    if (declared) {
        out->media_type = canonical_type(declared);
        if (!out->media_type) {
            rc = error_set(E_INVALID, "manifest media type '%s' is not supported", declared);
            goto done;
        }
    } else if (manifests && !config) {
        out->media_type = MT_OCI_INDEX;
    } else {
        out->media_type = MT_OCI_MANIFEST;
    }
    out->is_index = out->media_type == (const char *)known_types[1] || out->media_type == (const char *)known_types[3];
    bool oci = strncmp(out->media_type, "application/vnd.oci.", 20) == 0;

    if (out->is_index) {
        if (!json_is_array(manifests)) {
            rc = error_set(E_INVALID, "index has no manifests array");
            goto done;
        }
        if ((rc = parse_array(&out->manifests, &out->nmanifests, manifests, "manifests")) < 0)
            goto done;
        for (size_t i = 0; i < out->nmanifests; i++)
            if (out->manifests[i].size > out->image_size)
                out->image_size = out->manifests[i].size;
    } else {
        if (!config) {
            rc = error_set(E_INVALID, "manifest has no config");
            goto done;
        }
        if ((rc = parse_descriptor(&out->config, config, "config")) < 0)
            goto done;
        if (layers && !json_is_array(layers)) {
            rc = error_set(E_INVALID, "manifest layers is not an array");
            goto done;
        }
        if (!layers && !oci) {
            rc = error_set(E_INVALID, "manifest has no layers");
            goto done;
        }
        if (layers && (rc = parse_array(&out->layers, &out->nlayers, layers, "layers")) < 0)
            goto done;
        for (size_t i = 0; i < out->nlayers; i++)
            out->image_size = add_sat(out->image_size, out->layers[i].size);
    }

    json_t *at = json_object_get(root, "artifactType");
    if (at) {
        if (!json_is_string(at) || !oci) {
            rc = error_set(E_INVALID, "artifactType must be a string in an OCI manifest");
            goto done;
        }
        out->artifact_type = xstrdup(json_string_value(at));
    }
    json_t *subject = json_object_get(root, "subject");
    if (subject) {
        if (!oci) {
            rc = error_set(E_INVALID, "subject is only allowed in OCI manifests");
            goto done;
        }
        if ((rc = parse_descriptor(&out->subject, subject, "subject")) < 0)
            goto done;
        out->has_subject = true;
    }
    json_t *ann = json_object_get(root, "annotations");
    if (ann) {
        if (!json_is_object(ann)) {
            rc = error_set(E_INVALID, "annotations is not an object");
            goto done;
        }
        out->annotations_json = json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS);
    }
done:
    json_decref(root);
    if (rc < 0)
        parsed_manifest_release(out);
    return rc;
}

void parsed_manifest_release(struct parsed_manifest *m)
{
    descriptor_release(&m->config);
    descriptor_release(&m->subject);
    for (size_t i = 0; i < m->nlayers; i++)
        descriptor_release(&m->layers[i]);
    for (size_t i = 0; i < m->nmanifests; i++)
        descriptor_release(&m->manifests[i]);
    free(m->layers);
    free(m->manifests);
    free(m->artifact_type);
    free(m->annotations_json);
    memset(m, 0, sizeof(*m));
}
