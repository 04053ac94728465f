/*
 * The manifest parser: Docker schema 2 manifests and manifest lists, OCI
 * image manifests and indexes, and OCI artifacts (artifactType, subject).
 * The digest of a manifest is always over the bytes received; this parser
 * only reads them to learn the media type and what they reference.
 */
#ifndef BERTH_IMAGE_MANIFEST_H
#define BERTH_IMAGE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/digest.h"

#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MANIFEST_MAX_BYTES (4u << 20)

struct descriptor {
    char *media_type;
    char digest[DIGEST_MAX];
    uint64_t size;
    char *artifact_type;
    char *platform; /* "os/arch[/variant]" or NULL */
    bool foreign;   /* non-distributable layer with urls: need not be present */
};

struct parsed_manifest {
    const char *media_type; /* one of the MT_ constants */
    bool is_index;
    char *artifact_type;
    struct descriptor config; /* manifests only */
    struct descriptor *layers;
    size_t nlayers;
    struct descriptor *manifests; /* indexes only */
    size_t nmanifests;
    bool has_subject;
    struct descriptor subject;
    uint64_t image_size; /* sum of layer sizes */
    char *annotations_json; /* the "annotations" object as JSON, or NULL */
};

/* content_type is the request's Content-Type (may be NULL). E_INVALID with
 * the reason set when the bytes are not a manifest of a supported type;
 * E_UNSUPPORTED for schema 1. */
int manifest_parse(struct parsed_manifest *out, const char *body, size_t n, const char *content_type);
void parsed_manifest_release(struct parsed_manifest *m);

#endif
