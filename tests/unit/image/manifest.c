/*
 * Unit tests for src/registry/manifest.c: each supported media type (Docker
 * schema 2 manifest and manifest list, OCI image manifest and index, OCI
 * artifacts with artifactType and subject), how the type is chosen from the
 * mediaType field, the Content-Type and the shape, schema 1, duplicate keys,
 * bad descriptors, foreign layers, platform strings and image_size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "image/manifest.h"

#define HA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HB "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HC "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HD "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define DA "sha256:" HA
#define DB "sha256:" HB
#define DC "sha256:" HC
#define DD "sha256:" HD
#define D512 "sha512:" HA HA

#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_NONDIST "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

#define DESC(mt, d, size) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" #size "}"

static const char docker_manifest[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                                      "\"config\":" DESC(MT_DOCKER_CONFIG, DA, 1470) ","
                                      "\"layers\":[" DESC(MT_DOCKER_LAYER, DB, 2000) "," DESC(MT_DOCKER_LAYER, DC, 30) "]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":["
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"digest\":\"" DA "\",\"size\":528,"
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"digest\":\"" DB "\",\"size\":529,"
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"digest\":\"" DC "\",\"size\":527,"
    "\"platform\":{\"architecture\":\"amd64\",\"os\":\"windows\",\"os.version\":\"10.0.17763.1\"}}]}";

static const char oci_manifest[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
                                   "\"config\":" DESC(MT_OCI_CONFIG, DA, 700) ","
                                   "\"layers\":[" DESC(MT_OCI_LAYER, DB, 100) "," DESC(MT_OCI_LAYER, DC, 200) "," DESC(
                                       MT_OCI_LAYER, DD, 300) "],"
                                   "\"annotations\":{\"z\":\"last\",\"org.opencontainers.image.created\":\"2026-01-01\"}}";

static const char oci_index[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DA "\",\"size\":100,"
                                "\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
                                "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DB "\",\"size\":900}]}";

static const char oci_artifact[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
                                   "\"artifactType\":\"application/vnd.example.sbom.v1\","
                                   "\"config\":" DESC(MT_OCI_EMPTY, DA, 2) ","
                                   "\"layers\":[{\"mediaType\":\"application/spdx+json\",\"digest\":\"" DB "\",\"size\":9,"
                                   "\"annotations\":{\"org.opencontainers.image.title\":\"sbom.json\"}}],"
                                   "\"subject\":" DESC(MT_OCI_MANIFEST, DC, 1234) "}";

static int parse(struct parsed_manifest *m, const char *body, const char *ct)
{
    return manifest_parse(m, body, strlen(body), ct);
}

static void expect_error(const char *body, const char *ct, int want, const char *msg_part)
{
    struct parsed_manifest m;
    int rc = parse(&m, body, ct);
    if (rc != want)
        fail_msg("manifest_parse(%s) = %d (%s), want %d", body, rc, error_message(), want);
    if (msg_part && !strstr(error_message(), msg_part))
        fail_msg("manifest_parse(%s): message '%s' lacks '%s'", body, error_message(), msg_part);
    /* nothing is left allocated or set after a failure */
    assert_null(m.media_type);
    assert_null(m.layers);
    assert_null(m.manifests);
    assert_null(m.config.media_type);
    assert_null(m.subject.media_type);
    assert_null(m.artifact_type);
    assert_null(m.annotations_json);
    assert_int_equal(m.nlayers + m.nmanifests, 0);
}

static void test_docker_manifest(void **state)
{
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, docker_manifest, MT_DOCKER_MANIFEST), 0);
    assert_string_equal(m.media_type, MT_DOCKER_MANIFEST);
    assert_false(m.is_index);
    assert_string_equal(m.config.media_type, MT_DOCKER_CONFIG);
    assert_string_equal(m.config.digest, DA);
    assert_int_equal(m.config.size, 1470);
    assert_int_equal(m.nlayers, 2);
    assert_string_equal(m.layers[0].digest, DB);
    assert_string_equal(m.layers[1].digest, DC);
    assert_string_equal(m.layers[1].media_type, MT_DOCKER_LAYER);
    assert_false(m.layers[0].foreign);
    assert_null(m.layers[0].platform);
    assert_int_equal(m.image_size, 2030); /* layers only */
    assert_null(m.manifests);
    assert_false(m.has_subject);
    assert_null(m.artifact_type);
    assert_null(m.annotations_json);
    parsed_manifest_release(&m);
    assert_null(m.layers);

    /* the same bytes with no Content-Type, a generic one, or with parameters */
    assert_int_equal(parse(&m, docker_manifest, NULL), 0);
    assert_string_equal(m.media_type, MT_DOCKER_MANIFEST);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, docker_manifest, "application/json"), 0);
    assert_string_equal(m.media_type, MT_DOCKER_MANIFEST);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, docker_manifest, MT_DOCKER_MANIFEST "; charset=utf-8"), 0);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, docker_manifest, MT_DOCKER_MANIFEST " ;q=1"), 0);
    parsed_manifest_release(&m);
}

static void test_docker_manifest_by_content_type(void **state)
{
    /* old clients omit mediaType in the body: the Content-Type decides */
    static const char body[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_DOCKER_CONFIG, DA, 10) ","
                               "\"layers\":[" DESC(MT_DOCKER_LAYER, DB, 20) "]}";
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, body, MT_DOCKER_MANIFEST), 0);
    assert_string_equal(m.media_type, MT_DOCKER_MANIFEST);
    parsed_manifest_release(&m);
    /* without either, the shape says OCI manifest */
    assert_int_equal(parse(&m, body, NULL), 0);
    assert_string_equal(m.media_type, MT_OCI_MANIFEST);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, body, "application/octet-stream"), 0);
    assert_string_equal(m.media_type, MT_OCI_MANIFEST);
    parsed_manifest_release(&m);
    /* Content-Type says index, the body is not one */
    expect_error(body, MT_OCI_INDEX, E_INVALID, "manifests");
    expect_error(body, MT_DOCKER_LIST, E_INVALID, "manifests");
}

static void test_docker_list(void **state)
{
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, docker_list, MT_DOCKER_LIST), 0);
    assert_string_equal(m.media_type, MT_DOCKER_LIST);
    assert_true(m.is_index);
    assert_int_equal(m.nmanifests, 3);
    assert_int_equal(m.nlayers, 0);
    assert_null(m.config.media_type);
    assert_string_equal(m.manifests[0].platform, "linux/amd64");
    assert_string_equal(m.manifests[1].platform, "linux/arm/v7");
    assert_string_equal(m.manifests[2].platform, "windows/amd64");
    assert_string_equal(m.manifests[1].digest, DB);
    assert_int_equal(m.manifests[1].size, 529);
    assert_string_equal(m.manifests[0].media_type, MT_DOCKER_MANIFEST);
    parsed_manifest_release(&m);
}

static void test_oci_manifest(void **state)
{
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, oci_manifest, MT_OCI_MANIFEST), 0);
    assert_string_equal(m.media_type, MT_OCI_MANIFEST);
    assert_false(m.is_index);
    assert_int_equal(m.nlayers, 3);
    assert_int_equal(m.image_size, 600);
    assert_string_equal(m.config.media_type, MT_OCI_CONFIG);
    /* annotations are kept as compact JSON with sorted keys */
    assert_string_equal(m.annotations_json, "{\"org.opencontainers.image.created\":\"2026-01-01\",\"z\":\"last\"}");
    parsed_manifest_release(&m);
    assert_null(m.annotations_json);

    /* OCI manifests may have no layers (artifacts) */
    static const char nolayers[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_EMPTY, DA, 2) "}";
    assert_int_equal(parse(&m, nolayers, MT_OCI_MANIFEST), 0);
    assert_int_equal(m.nlayers, 0);
    assert_null(m.layers);
    assert_int_equal(m.image_size, 0);
    parsed_manifest_release(&m);
    static const char empty_layers[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_EMPTY, DA, 2) ",\"layers\":[]}";
    assert_int_equal(parse(&m, empty_layers, NULL), 0);
    assert_int_equal(m.nlayers, 0);
    parsed_manifest_release(&m);

    /* sha512 descriptors */
    static const char sha512[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, D512, 2) ",\"layers\":[" DESC(
        MT_OCI_LAYER, D512, 3) "]}";
    assert_int_equal(parse(&m, sha512, NULL), 0);
    assert_string_equal(m.config.digest, D512);
    assert_string_equal(m.layers[0].digest, D512);
    parsed_manifest_release(&m);
}

static void test_oci_index(void **state)
{
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, oci_index, MT_OCI_INDEX), 0);
    assert_string_equal(m.media_type, MT_OCI_INDEX);
    assert_true(m.is_index);
    assert_int_equal(m.nmanifests, 2);
    assert_string_equal(m.manifests[0].platform, "linux/arm64/v8");
    assert_null(m.manifests[1].platform);
    parsed_manifest_release(&m);

    /* by shape: manifests and no config */
    static const char shape[] = "{\"schemaVersion\":2,\"manifests\":[" DESC(MT_OCI_MANIFEST, DA, 5) "]}";
    assert_int_equal(parse(&m, shape, NULL), 0);
    assert_string_equal(m.media_type, MT_OCI_INDEX);
    assert_true(m.is_index);
    parsed_manifest_release(&m);
    static const char empty[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[]}";
    assert_int_equal(parse(&m, empty, NULL), 0);
    assert_int_equal(m.nmanifests, 0);
    parsed_manifest_release(&m);

    /* an index that is an artifact with a subject */
    static const char referrer[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"artifactType\":\"a/b\","
                                   "\"manifests\":[],\"subject\":" DESC(MT_OCI_MANIFEST, DD, 7) "}";
    assert_int_equal(parse(&m, referrer, MT_OCI_INDEX), 0);
    assert_true(m.has_subject);
    assert_string_equal(m.subject.digest, DD);
    assert_string_equal(m.artifact_type, "a/b");
    parsed_manifest_release(&m);
}

static void test_oci_artifact(void **state)
{
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, oci_artifact, MT_OCI_MANIFEST), 0);
    assert_string_equal(m.media_type, MT_OCI_MANIFEST);
    assert_string_equal(m.artifact_type, "application/vnd.example.sbom.v1");
    assert_true(m.has_subject);
    assert_string_equal(m.subject.digest, DC);
    assert_string_equal(m.subject.media_type, MT_OCI_MANIFEST);
    assert_int_equal(m.subject.size, 1234);
    assert_string_equal(m.config.media_type, MT_OCI_EMPTY);
    assert_int_equal(m.nlayers, 1);
    assert_int_equal(m.image_size, 9);
    parsed_manifest_release(&m);
    assert_false(m.has_subject);
    assert_null(m.subject.media_type);

    /* descriptors may carry an artifactType of their own */
    static const char desc_at[] = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" DA
                                  "\",\"size\":1,\"artifactType\":\"application/vnd.example+type\"}]}";
    assert_int_equal(parse(&m, desc_at, NULL), 0);
    assert_string_equal(m.manifests[0].artifact_type, "application/vnd.example+type");
    parsed_manifest_release(&m);

    /* artifactType and subject belong to OCI types only */
    static const char docker_at[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"artifactType\":\"a/b\","
                                    "\"config\":" DESC(MT_DOCKER_CONFIG, DA, 1) ",\"layers\":[]}";
    expect_error(docker_at, NULL, E_INVALID, "artifactType");
    static const char docker_subject[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
                                         "\"config\":" DESC(MT_DOCKER_CONFIG, DA, 1) ",\"layers\":[],"
                                         "\"subject\":" DESC(MT_OCI_MANIFEST, DB, 1) "}";
    expect_error(docker_subject, NULL, E_INVALID, "subject");
    static const char at_number[] = "{\"schemaVersion\":2,\"artifactType\":5,\"config\":" DESC(MT_OCI_EMPTY, DA, 2) "}";
    expect_error(at_number, NULL, E_INVALID, "artifactType");
    static const char bad_subject[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_EMPTY, DA, 2) ",\"subject\":{\"digest\":\"" DB
                                      "\",\"size\":1}}";
    expect_error(bad_subject, NULL, E_INVALID, "subject");
    static const char subject_str[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_EMPTY, DA, 2) ",\"subject\":\"" DB "\"}";
    expect_error(subject_str, NULL, E_INVALID, "subject");
    static const char desc_at_num[] = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" MT_OCI_MANIFEST
                                      "\",\"digest\":\"" DA "\",\"size\":1,\"artifactType\":[]}]}";
    expect_error(desc_at_num, NULL, E_INVALID, "manifests[0]");
}

static void test_content_type_mismatch(void **state)
{
    struct parsed_manifest m;
    (void)state;
    expect_error(docker_manifest, MT_OCI_MANIFEST, E_INVALID, "does not match Content-Type");
    expect_error(oci_manifest, MT_DOCKER_MANIFEST, E_INVALID, "does not match");
    expect_error(oci_index, MT_OCI_MANIFEST, E_INVALID, "does not match");
    expect_error(docker_list, MT_OCI_INDEX, E_INVALID, "does not match");
    expect_error(oci_manifest, MT_OCI_INDEX "; charset=utf-8", E_INVALID, "does not match");
    /* a Content-Type that is no manifest type is refused; generic JSON is not compared */
    expect_error(oci_manifest, "text/plain", E_INVALID, "not a manifest media type");
    assert_int_equal(parse(&m, oci_manifest, "application/json"), 0);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, oci_manifest, ""), 0);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, oci_manifest, "application/json; charset=utf-8"), 0);
    parsed_manifest_release(&m);
    assert_int_equal(parse(&m, oci_manifest, "application/octet-stream"), 0);
    parsed_manifest_release(&m);
    expect_error(oci_manifest, "application/vnd.oci.image.config.v1+json", E_INVALID, "not a manifest media type");
    expect_error(oci_manifest, "application/vnd.oci.artifact.manifest.v1+json", E_INVALID, "not a manifest media type");
    /* mediaType decides over the shape */
    static const char liar[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"config\":" DESC(MT_OCI_CONFIG, DA, 1)
        ",\"layers\":[]}";
    expect_error(liar, NULL, E_INVALID, "manifests");
    static const char liar2[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\",\"manifests\":[]}";
    expect_error(liar2, NULL, E_INVALID, "config");
    /* unknown or malformed mediaType */
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"config\":" DESC(
                     MT_OCI_CONFIG, DA, 1) "}",
                 NULL, E_INVALID, "not supported");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"\",\"manifests\":[]}", NULL, E_INVALID, NULL);
    expect_error("{\"schemaVersion\":2,\"mediaType\":7,\"manifests\":[]}", NULL, E_INVALID, "mediaType");
    expect_error("{\"schemaVersion\":2,\"mediaType\":null,\"manifests\":[]}", NULL, E_INVALID, "mediaType");
}

static void test_schema1(void **state)
{
    (void)state;
    static const char v1[] = "{\"schemaVersion\":1,\"name\":\"web\",\"tag\":\"latest\",\"architecture\":\"amd64\","
                             "\"fsLayers\":[{\"blobSum\":\"" DA "\"}],\"history\":[{\"v1Compatibility\":\"{}\"}]}";
    expect_error(v1, NULL, E_UNSUPPORTED, "schema 1");
    expect_error(v1, MT_DOCKER_V1_SIGNED, E_UNSUPPORTED, "schema 1");
    expect_error(v1, MT_DOCKER_V1, E_UNSUPPORTED, "schema 1");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_V1_SIGNED "\"}", NULL, E_UNSUPPORTED, "schema 1");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_V1 "\"}", NULL, E_UNSUPPORTED, "schema 1");
}

static void test_schema_version(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":3,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":0,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":-2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":\"2\",\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":2.0,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":true,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
        "{\"schemaVersion\":null,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) "}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        expect_error(bodies[i], NULL, E_INVALID, "schemaVersion");
}

static void test_not_json(void **state)
{
    struct parsed_manifest m;
    (void)state;
    expect_error("", NULL, E_INVALID, "not valid JSON");
    expect_error("{", NULL, E_INVALID, "not valid JSON");
    expect_error("{\"schemaVersion\":2,}", NULL, E_INVALID, "not valid JSON");
    expect_error("[]", NULL, E_INVALID, "not a JSON object");
    expect_error("2", NULL, E_INVALID, NULL);
    expect_error("\"schemaVersion\"", NULL, E_INVALID, NULL);
    expect_error("null", NULL, E_INVALID, NULL);
    expect_error("{} {}", NULL, E_INVALID, "not valid JSON");
    expect_error("{\"schemaVersion\":2,\"config\":{\"a\":\"\\u0000\"}}", NULL, E_INVALID, NULL);
    expect_error("{\"schemaVersion\":2,\"x\":\"\xff\xfe\"}", NULL, E_INVALID, "not valid JSON");
    /* the body is a buffer, not a string: a NUL ends nothing */
    static const char nul[] = "{\"schemaVersion\":2,\"manifests\":[]}\0junk";
    assert_int_equal(manifest_parse(&m, nul, sizeof(nul) - 1, NULL), E_INVALID);
    assert_int_equal(manifest_parse(&m, nul, sizeof(nul) - 6, NULL), 0);
    parsed_manifest_release(&m);
    /* a prefix of a valid manifest is not one */
    assert_int_equal(manifest_parse(&m, oci_manifest, sizeof(oci_manifest) - 2, NULL), E_INVALID);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", NULL, E_INVALID, "duplicate");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"mediaType\":\"" MT_OCI_MANIFEST "\","
                 "\"manifests\":[]}",
                 NULL, E_INVALID, "duplicate");
    expect_error("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_OCI_CONFIG "\",\"digest\":\"" DA "\",\"digest\":\"" DB
                 "\",\"size\":1}}",
                 NULL, E_INVALID, "duplicate");
    expect_error("{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":[{\"mediaType\":\"" MT_OCI_LAYER
                 "\",\"digest\":\"" DB "\",\"size\":1,\"size\":2}]}",
                 NULL, E_INVALID, "duplicate");
    expect_error("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":\"1\",\"a\":\"2\"}}", NULL, E_INVALID,
                 "duplicate");
}

static void test_bad_descriptors(void **state)
{
    char big[600];
    (void)state;
#define CFG(d) "{\"schemaVersion\":2,\"config\":" d ",\"layers\":[]}"
    expect_error(CFG("[]"), NULL, E_INVALID, "config is not a descriptor");
    expect_error(CFG("\"" DA "\""), NULL, E_INVALID, "config is not a descriptor");
    expect_error(CFG("null"), NULL, E_INVALID, "config");
    expect_error(CFG("{\"digest\":\"" DA "\",\"size\":1}"), NULL, E_INVALID, "config has no valid mediaType");
    expect_error(CFG("{\"mediaType\":\"\",\"digest\":\"" DA "\",\"size\":1}"), NULL, E_INVALID, "mediaType");
    expect_error(CFG("{\"mediaType\":1,\"digest\":\"" DA "\",\"size\":1}"), NULL, E_INVALID, "mediaType");
    expect_error(CFG("{\"mediaType\":\"a\",\"size\":1}"), NULL, E_INVALID, "config has no digest");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":5,\"size\":1}"), NULL, E_INVALID, "config has no digest");
    /* the digest's own complaint is kept after the descriptor's name */
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"sha256:" HA "0\",\"size\":1}"), NULL, E_INVALID,
                 "config: invalid digest length in 'sha256:");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
                     "\"size\":1}"),
                 NULL, E_INVALID, "config: invalid hex in digest");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"md5:abc\",\"size\":1}"), NULL, E_INVALID,
                 "config: unsupported digest algorithm 'md5'");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" HA "\",\"size\":1}"), NULL, E_INVALID, "config: invalid digest");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\"}"), NULL, E_INVALID, "config has no valid size");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\",\"size\":-1}"), NULL, E_INVALID, "size");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\",\"size\":1.5}"), NULL, E_INVALID, "size");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\",\"size\":\"1\"}"), NULL, E_INVALID, "size");
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\",\"size\":99999999999999999999}"), NULL, E_INVALID, NULL);
    expect_error(CFG("{\"mediaType\":\"a\",\"digest\":\"" DA "\",\"size\":1,\"artifactType\":null}"), NULL, E_INVALID,
                 "artifactType");
#undef CFG
    /* a media type of 256 characters is too long; 255 is fine */
    struct parsed_manifest m;
    char mt[257];
    memset(mt, 'x', sizeof(mt));
    mt[255] = '\0';
    snprintf(big, sizeof(big), "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"%s\",\"digest\":\"" DA "\",\"size\":1}}", mt);
    assert_int_equal(parse(&m, big, NULL), 0);
    assert_int_equal(strlen(m.config.media_type), 255);
    parsed_manifest_release(&m);
    mt[255] = 'x';
    mt[256] = '\0';
    snprintf(big, sizeof(big), "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"%s\",\"digest\":\"" DA "\",\"size\":1}}", mt);
    expect_error(big, NULL, E_INVALID, "mediaType");

    /* layers and manifests arrays and their elements */
    expect_error("{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":{}}", NULL, E_INVALID,
                 "layers is not an array");
    expect_error("{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":[" DESC(MT_OCI_LAYER, DB,
                                                                                                    1) ",7]}",
                 NULL, E_INVALID, "layers[1] is not a descriptor");
    expect_error("{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":[" DESC(
                     MT_OCI_LAYER, DB, 1) "," DESC(MT_OCI_LAYER, DC, 1) ",{\"mediaType\":\"a\",\"digest\":\"sha256:x\",\"size\":1}]}",
                 NULL, E_INVALID, "layers[2]: invalid digest length");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"config\":" DESC(MT_DOCKER_CONFIG, DA, 1) "}",
                 NULL, E_INVALID, "no layers");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"layers\":[]}", NULL, E_INVALID, "no config");
    expect_error("{\"schemaVersion\":2}", NULL, E_INVALID, "no config");
    expect_error("{\"schemaVersion\":2,\"manifests\":{}}", NULL, E_INVALID, "manifests");
    expect_error("{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\"}", NULL, E_INVALID, "manifests");
    expect_error("{\"schemaVersion\":2,\"manifests\":[" DESC(MT_OCI_MANIFEST, DA, 1) ",{\"mediaType\":\"" MT_OCI_MANIFEST
                 "\",\"digest\":\"" DB "\",\"size\":-5}]}",
                 NULL, E_INVALID, "manifests[1] has no valid size");
    expect_error("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":[]}", NULL, E_INVALID, "annotations");
    expect_error("{\"schemaVersion\":2,\"manifests\":[],\"annotations\":\"x\"}", NULL, E_INVALID, "annotations");
}

static void test_foreign_layers(void **state)
{
    static const char body[] =
        "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\",\"config\":" DESC(MT_DOCKER_CONFIG, DA, 1) ",\"layers\":["
        "{\"mediaType\":\"" MT_DOCKER_FOREIGN "\",\"digest\":\"" DB "\",\"size\":100,"
        "\"urls\":[\"https://mcr.microsoft.com/v2/windows/servercore/blobs/" DB "\"]},"
        "{\"mediaType\":\"" MT_DOCKER_FOREIGN "\",\"digest\":\"" DC "\",\"size\":10},"
        "{\"mediaType\":\"" MT_DOCKER_LAYER "\",\"digest\":\"" DD "\",\"size\":1,\"urls\":[\"https://example.com/x\"]},"
        "{\"mediaType\":\"" MT_OCI_NONDIST "\",\"digest\":\"" DA "\",\"size\":1000,\"urls\":[\"https://example.com/y\"]},"
        "{\"mediaType\":\"" MT_OCI_NONDIST "\",\"digest\":\"" DB "\",\"size\":1,\"urls\":[]}]}";
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, body, NULL), 0);
    assert_int_equal(m.nlayers, 5);
    assert_true(m.layers[0].foreign);  /* foreign type with urls */
    assert_false(m.layers[1].foreign); /* foreign type without urls: must be present */
    assert_false(m.layers[2].foreign); /* urls on a normal layer change nothing */
    assert_true(m.layers[3].foreign);  /* OCI non-distributable with urls */
    assert_false(m.layers[4].foreign); /* empty urls */
    assert_int_equal(m.image_size, 1112);
    parsed_manifest_release(&m);
}

static void test_platforms(void **state)
{
    static const char body[] =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x\"}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"linux\"}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":\"linux/amd64\"},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\","
        "\"variant\":7}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"\",\"architecture\":\"\"}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
        "{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"riscv64\","
        "\"variant\":\"\"}}]}";
    struct parsed_manifest m;
    (void)state;
    assert_int_equal(parse(&m, body, MT_OCI_INDEX), 0);
    assert_int_equal(m.nmanifests, 8);
    assert_string_equal(m.manifests[0].platform, "linux/s390x");
    assert_null(m.manifests[1].platform);
    assert_null(m.manifests[2].platform);
    assert_null(m.manifests[3].platform);
    assert_string_equal(m.manifests[4].platform, "linux/arm64"); /* a non-string variant is ignored */
    assert_string_equal(m.manifests[5].platform, "/");
    assert_string_equal(m.manifests[6].platform, "unknown/unknown"); /* attestation manifests in buildx indexes */
    assert_string_equal(m.manifests[7].platform, "linux/riscv64/");
    parsed_manifest_release(&m);

    /* a long platform is cut, not overflowed */
    char body2[2048], os[1001];
    memset(os, 'o', 1000);
    os[1000] = '\0';
    snprintf(body2, sizeof(body2),
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"" DA "\",\"size\":1,"
             "\"platform\":{\"os\":\"%s\",\"architecture\":\"amd64\"}}]}",
             os);
    assert_int_equal(parse(&m, body2, NULL), 0);
    assert_int_equal(strlen(m.manifests[0].platform), 255);
    parsed_manifest_release(&m);
}

static void test_image_size(void **state)
{
    struct parsed_manifest m;
    (void)state;
    /* the config does not count */
    static const char one[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 5000) ",\"layers\":[" DESC(
        MT_OCI_LAYER, DB, 7) "]}";
    assert_int_equal(parse(&m, one, NULL), 0);
    assert_int_equal(m.image_size, 7);
    parsed_manifest_release(&m);
    /* the largest sizes JSON can carry do not wrap around: the sum stops at
     * INT64_MAX, which SQLite and imageSizeInBytes can still carry */
    static const char huge[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":[" DESC(
        MT_OCI_LAYER, DB, 9223372036854775807) "," DESC(MT_OCI_LAYER, DC, 9223372036854775807) "," DESC(MT_OCI_LAYER, DD,
                                                                                                       9223372036854775807) "]}";
    assert_int_equal(parse(&m, huge, NULL), 0);
    assert_int_equal(m.layers[0].size, INT64_MAX);
    assert_true(m.image_size == (uint64_t)INT64_MAX);
    parsed_manifest_release(&m);
    static const char near[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 1) ",\"layers\":[" DESC(
        MT_OCI_LAYER, DB, 9223372036854775806) "," DESC(MT_OCI_LAYER, DC, 1) "," DESC(MT_OCI_LAYER, DD, 0) "]}";
    assert_int_equal(parse(&m, near, NULL), 0);
    assert_true(m.image_size == (uint64_t)INT64_MAX);
    parsed_manifest_release(&m);
    static const char zero[] = "{\"schemaVersion\":2,\"config\":" DESC(MT_OCI_CONFIG, DA, 0) ",\"layers\":[" DESC(
        MT_OCI_LAYER, DB, 0) "]}";
    assert_int_equal(parse(&m, zero, NULL), 0);
    assert_int_equal(m.image_size, 0);
    parsed_manifest_release(&m);
}

static void test_size_limit(void **state)
{
    struct parsed_manifest m;
    (void)state;
    size_t n = MANIFEST_MAX_BYTES + 1;
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, ' ', n);
    memcpy(body, oci_manifest, sizeof(oci_manifest) - 1);
    assert_int_equal(manifest_parse(&m, body, n, NULL), E_TOOBIG);
    /* exactly at the limit: trailing whitespace is fine JSON */
    assert_int_equal(manifest_parse(&m, body, n - 1, NULL), 0);
    assert_int_equal(m.nlayers, 3);
    parsed_manifest_release(&m);
    free(body);
}

static void test_deep_nesting(void **state)
{
    /* deep nesting inside an ignored field fails cleanly, never overflows the stack */
    size_t depth = 100000;
    char *body = malloc(depth * 2 + 64);
    struct parsed_manifest m;
    (void)state;
    size_t n = (size_t)snprintf(body, 64, "{\"schemaVersion\":2,\"x\":");
    memset(body + n, '[', depth);
    n += depth;
    memset(body + n, ']', depth);
    n += depth;
    body[n++] = '}';
    assert_int_equal(manifest_parse(&m, body, n, NULL), E_INVALID);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_docker_manifest_by_content_type),
        cmocka_unit_test(test_docker_list),
        cmocka_unit_test(test_oci_manifest),
        cmocka_unit_test(test_oci_index),
        cmocka_unit_test(test_oci_artifact),
        cmocka_unit_test(test_content_type_mismatch),
        cmocka_unit_test(test_schema1),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_bad_descriptors),
        cmocka_unit_test(test_foreign_layers),
        cmocka_unit_test(test_platforms),
        cmocka_unit_test(test_image_size),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
