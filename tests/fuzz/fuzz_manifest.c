/*
 * libFuzzer target for the manifest parser (src/registry/manifest.c). The
 * first byte of the input picks the request's Content-Type from a few that
 * clients send (none, each supported type, schema 1, a generic one, one with
 * parameters); the rest is the body. A successful parse must describe a
 * manifest the rest of the registry can trust: a known media type, valid
 * digests in every descriptor, config only in manifests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/digest.h"
#include "core/error.h"
#include "image/manifest.h"
#include "check.h"

static const char *const content_types[] = {
    NULL,
    MT_DOCKER_MANIFEST,
    MT_DOCKER_LIST,
    MT_OCI_MANIFEST,
    MT_OCI_INDEX,
    MT_DOCKER_V1_SIGNED,
    "application/json",
    MT_OCI_MANIFEST "; charset=utf-8",
};

static void check_descriptor(const struct descriptor *d)
{
    CHECK(d->media_type != NULL);
    CHECK(digest_validate(slice_from(d->digest), NULL) == 0);
    CHECK(d->size <= (uint64_t)INT64_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parsed_manifest m;
    const char *ct = NULL;
    if (size > 0) {
        ct = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
        data++;
        size--;
    }
    int rc = manifest_parse(&m, (const char *)data, size, ct);
    CHECK(rc == 0 || rc == E_INVALID || rc == E_UNSUPPORTED || rc == E_TOOBIG);
    if (rc < 0) {
        CHECK(m.media_type == NULL && m.layers == NULL && m.manifests == NULL);
        return 0;
    }
    CHECK(m.media_type != NULL);
    CHECK(!strcmp(m.media_type, MT_DOCKER_MANIFEST) || !strcmp(m.media_type, MT_DOCKER_LIST) ||
          !strcmp(m.media_type, MT_OCI_MANIFEST) || !strcmp(m.media_type, MT_OCI_INDEX));
    CHECK(m.is_index == (!strcmp(m.media_type, MT_DOCKER_LIST) || !strcmp(m.media_type, MT_OCI_INDEX)));
    if (m.is_index) {
        CHECK(m.config.media_type == NULL && m.nlayers == 0);
        for (size_t i = 0; i < m.nmanifests; i++)
            check_descriptor(&m.manifests[i]);
    } else {
        CHECK(m.nmanifests == 0);
        check_descriptor(&m.config);
        uint64_t sum = 0;
        for (size_t i = 0; i < m.nlayers; i++) {
            check_descriptor(&m.layers[i]);
            sum = sum > (uint64_t)INT64_MAX - m.layers[i].size ? (uint64_t)INT64_MAX : sum + m.layers[i].size;
        }
        CHECK(m.image_size == sum && m.image_size <= (uint64_t)INT64_MAX);
    }
    if (m.has_subject)
        check_descriptor(&m.subject);
    if (m.artifact_type || m.has_subject)
        CHECK(!strncmp(m.media_type, "application/vnd.oci.", 20));
    parsed_manifest_release(&m);
    CHECK(m.layers == NULL && m.manifests == NULL && m.media_type == NULL);
    return 0;
}
