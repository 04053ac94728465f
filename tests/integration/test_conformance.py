"""The OCI distribution-spec conformance workflows (pull, push, content discovery, content
management), as pytest checks that mirror the spec's own suite (conformance/0*_test.go):
the same data shapes, the same requests, in the same order, one test per check.

Where the suite accepts a weaker outcome for registries that lack a feature (202 for a
monolithic POST or a mount, 405 for deletes, no OCI-Filters-Applied, no empty-layer
manifests), berth implements the feature, so the strong outcome is asserted.

Tests in a class run in order and share state, as the suite's `lastResponse` does.
"""

import base64
import json
import os
import secrets

import pytest

import images
from conftest import create_repository
from regclient import Registry, assert_error, describe, json_body

OCI_MANIFEST = images.OCI_MANIFEST
OCTET = "application/octet-stream"
ERROR_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
               "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
               "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
               "UNSUPPORTED"}
NUM_WORKFLOWS = 16  # as in setup.go: 1 << 4
TEST_TAG = "tagtest0"
EMPTY_LAYER_TAG = "emptylayer"
NONEXISTENT_MANIFEST = ".INVALID_MANIFEST_NAME"
ANNOTATION_KEY = "org.opencontainers.conformance.test"
ART_TYPE_A = "application/vnd.nhl.peanut.butter.bagel"
ART_TYPE_B = "application/vnd.nba.strawberry.jam.croissant"
ART_TYPE_INDEX = "application/vnd.food.stand"


def go_json(obj) -> bytes:
    """json.MarshalIndent(obj, "", "\\t") lookalike."""
    return json.dumps(obj, indent="\t").encode()


class Blob:
    def __init__(self, content: bytes):
        self.content = content
        self.digest = images.sha256(content)
        self.length = str(len(content))


def descriptor(media_type, content: bytes, **extra):
    d = {"mediaType": media_type, "digest": images.sha256(content), "size": len(content)}
    d.update(extra)
    return d


class Data:
    """What setup.go builds at init."""

    def __init__(self, seed: bytes):
        self.configs = []
        for _ in range(NUM_WORKFLOWS):
            cfg = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                   "author": secrets.token_urlsafe(12)[:16]}
            self.configs.append(Blob(go_json(cfg)))
        layer = images.make_layer({"test.txt": b"you bothered to find out what was in here. Congratulations!\n"})
        self.layer = Blob(layer.data)
        layers = [descriptor(images.OCI_LAYER, self.layer.content)]
        self.manifests = []
        for i in range(NUM_WORKFLOWS):
            m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                 "config": descriptor(images.OCI_CONFIG, self.configs[i].content,
                                      data=base64.b64encode(self.configs[i].content).decode(),
                                      newUnspecifiedField=base64.b64encode(b"hello world").decode()),
                 "layers": layers}
            self.manifests.append(Blob(go_json(m)))
        empty_layer = {"schemaVersion": 2,
                       "config": descriptor(images.OCI_CONFIG, self.configs[1].content,
                                            data=base64.b64encode(self.configs[1].content).decode(),
                                            newUnspecifiedField=base64.b64encode(b"hello world").decode()),
                       "layers": []}
        self.empty_layer_manifest = Blob(go_json(empty_layer))
        self.invalid_manifest = b"blablabla"
        self.blob_a = Blob(images.random_blob(42, seed + b"A").data)
        self.setup_chunked_blob(42, seed)
        self.dummy_digest = images.sha256(b"hello world")
        # referrers data
        self.empty_json = Blob(b"{}")
        empty_desc = descriptor(images.OCI_EMPTY, b"{}")
        self.ref_blob_a = Blob(b"NHL Peanut Butter on my NHL bagel")
        self.ref_blob_b = Blob(b"NBA Strawberry Jam on my NBA croissant")
        subject4 = descriptor(OCI_MANIFEST, self.manifests[4].content)
        subject3 = descriptor(OCI_MANIFEST, self.manifests[3].content)
        self.annotations = {}

        def art(name, obj, value=None):
            blob = Blob(go_json(obj))
            setattr(self, name, blob)
            if value is not None:
                self.annotations[blob.digest] = value
            return blob

        art("refs_a_config", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                              "config": descriptor(ART_TYPE_A, self.ref_blob_a.content),
                              "subject": subject4, "layers": [empty_desc],
                              "annotations": {ANNOTATION_KEY: "test config a"}}, "test config a")
        art("refs_b_config", {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                              "config": descriptor(ART_TYPE_B, self.ref_blob_b.content),
                              "subject": subject4, "layers": [empty_desc],
                              "annotations": {ANNOTATION_KEY: "test config b"}}, "test config b")
        art("refs_a_layer", {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ART_TYPE_A,
                             "config": empty_desc, "subject": subject4,
                             "layers": [descriptor(ART_TYPE_A, self.ref_blob_a.content)],
                             "annotations": {ANNOTATION_KEY: "test layer a"}}, "test layer a")
        art("refs_b_layer", {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ART_TYPE_B,
                             "config": empty_desc, "subject": subject4,
                             "layers": [descriptor(ART_TYPE_B, self.ref_blob_b.content)],
                             "annotations": {ANNOTATION_KEY: "test layer b"}}, "test layer b")
        art("refs_c_layer", {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ART_TYPE_B,
                             "config": empty_desc, "subject": subject3,
                             "layers": [descriptor(ART_TYPE_B, self.ref_blob_b.content)]})
        art("refs_index", {"schemaVersion": 2, "mediaType": images.OCI_INDEX, "artifactType": ART_TYPE_INDEX,
                           "manifests": [descriptor(OCI_MANIFEST, self.refs_a_config.content),
                                         descriptor(OCI_MANIFEST, self.refs_a_layer.content)],
                           "subject": subject4, "annotations": {ANNOTATION_KEY: "test index"}}, "test index")

    def setup_chunked_blob(self, size, seed=b"B"):
        blob = images.random_blob(size, seed + b"B").data
        self.blob_b = Blob(blob)
        half = size // 2 + 1
        self.chunk1, self.chunk2 = blob[:half], blob[half:]
        self.chunk1_range = f"0-{len(self.chunk1) - 1}"
        self.chunk2_range = f"{len(self.chunk1)}-{size - 1}"


class State(dict):
    def need(self, key):
        if key not in self:
            pytest.fail(f"conformance state {key!r} missing: an earlier check in this workflow failed or was deselected")
        return self[key]


@pytest.fixture(scope="module")
def conf(berth):
    namespace = f"conformance/distribution-test-{secrets.token_hex(3)}"
    crossmount = f"conformance-{secrets.token_hex(6)}"
    create_repository(namespace, berth)
    create_repository(crossmount, berth)
    st = State(data=Data(os.urandom(8)), ns=namespace, crossmount=crossmount, reg=Registry(berth))
    return st


def req(conf, method, path, *, name=None, headers=None, data=None, params=None):
    path = path.replace("<name>", name or conf["ns"])
    return conf["reg"].request(method, path, headers=headers, data=data, params=params)


def rel(resp):
    return Registry.location_path(resp)


def push_blob(conf, blob: Blob):
    r = req(conf, "POST", "/v2/<name>/blobs/uploads/")
    r = conf["reg"].put(Registry.location(r), params={"digest": blob.digest}, data=blob.content,
                        headers={"Content-Type": OCTET, "Content-Length": blob.length})
    assert 200 <= r.status_code < 300, describe(r)
    return r


def put_manifest(conf, ref, content, media_type=OCI_MANIFEST):
    return req(conf, "PUT", f"/v2/<name>/manifests/{ref}", headers={"Content-Type": media_type}, data=content)


def is2xx(r):
    return 200 <= r.status_code < 300


# =========================================================================================
# 01 Pull
# =========================================================================================

class TestPull:
    def test_setup_populate_config_blobs_and_layer(self, conf):
        d = conf["data"]
        for blob in (d.configs[0], d.configs[1], d.layer):
            push_blob(conf, blob)

    def test_setup_populate_manifests(self, conf):
        d = conf["data"]
        r = put_manifest(conf, TEST_TAG, d.manifests[0].content)
        assert is2xx(r), describe(r)
        r = put_manifest(conf, d.manifests[1].digest, d.manifests[1].content)
        assert is2xx(r), describe(r)

    # Pull blobs
    def test_head_nonexistent_blob_is_404(self, conf):
        r = req(conf, "HEAD", f"/v2/<name>/blobs/{conf['data'].dummy_digest}")
        assert r.status_code == 404, describe(r)

    def test_head_existing_blob_is_200(self, conf):
        d = conf["data"]
        r = req(conf, "HEAD", f"/v2/<name>/blobs/{d.configs[0].digest}")
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Docker-Content-Digest") == d.configs[0].digest, describe(r)

    def test_get_nonexistent_blob_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/blobs/{conf['data'].dummy_digest}")
        assert r.status_code == 404, describe(r)

    def test_get_existing_blob_is_200(self, conf):
        d = conf["data"]
        r = req(conf, "GET", f"/v2/<name>/blobs/{d.configs[0].digest}")
        assert r.status_code == 200 and r.content == d.configs[0].content, describe(r)

    # Pull manifests
    def test_head_nonexistent_manifest_is_404(self, conf):
        r = req(conf, "HEAD", f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}")
        assert r.status_code == 404, describe(r)

    @pytest.mark.parametrize("i", [0, 1])
    def test_head_manifest_by_digest_is_200(self, conf, i):
        m = conf["data"].manifests[i]
        r = req(conf, "HEAD", f"/v2/<name>/manifests/{m.digest}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Docker-Content-Digest") == m.digest, describe(r)

    def test_head_manifest_by_tag_is_200(self, conf):
        m = conf["data"].manifests[0]
        r = req(conf, "HEAD", f"/v2/<name>/manifests/{TEST_TAG}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Docker-Content-Digest") == m.digest, describe(r)

    def test_get_nonexistent_manifest_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}")
        assert r.status_code == 404, describe(r)

    @pytest.mark.parametrize("i", [0, 1])
    def test_get_manifest_by_digest_is_200(self, conf, i):
        m = conf["data"].manifests[i]
        r = req(conf, "GET", f"/v2/<name>/manifests/{m.digest}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == m.content, describe(r)

    def test_get_manifest_by_tag_is_200(self, conf):
        m = conf["data"].manifests[0]
        r = req(conf, "GET", f"/v2/<name>/manifests/{TEST_TAG}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == m.content, describe(r)

    # Error codes
    def test_400_response_body_is_oci_conforming_json(self, conf):
        r = req(conf, "GET", "/v2/<name>/manifests/sha256:totallywrong",
                headers={"Content-Type": OCI_MANIFEST}, data=conf["data"].invalid_manifest)
        assert r.status_code in (400, 404), describe(r)
        codes = assert_error(r, (400, 404), tuple(ERROR_CODES))
        assert codes[0] in ERROR_CODES

    # Teardown
    @pytest.mark.parametrize("i", [0, 1])
    def test_teardown_delete_manifest(self, conf, i):
        r = req(conf, "DELETE", f"/v2/<name>/manifests/{conf['data'].manifests[i].digest}")
        assert r.status_code == 202, describe(r)

    @pytest.mark.parametrize("which", ["config0", "config1", "layer"])
    def test_teardown_delete_blob(self, conf, which):
        d = conf["data"]
        blob = {"config0": d.configs[0], "config1": d.configs[1], "layer": d.layer}[which]
        r = req(conf, "DELETE", f"/v2/<name>/blobs/{blob.digest}")
        assert r.status_code == 202, describe(r)


# =========================================================================================
# 02 Push
# =========================================================================================

class TestPush:
    # Blob Upload Streamed
    def test_patch_with_blob_in_body_is_202(self, conf):
        d = conf["data"]
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/")
        assert r.headers.get("Location"), describe(r)
        r = conf["reg"].patch(Registry.location(r), headers={"Content-Type": OCTET}, data=d.blob_a.content)
        assert r.status_code == 202, describe(r)
        conf["push_last"] = r

    def test_put_to_session_url_with_digest_is_201(self, conf):
        d = conf["data"]
        last = conf.need("push_last")
        r = conf["reg"].put(Registry.location(last), params={"digest": d.blob_a.digest},
                            headers={"Content-Type": OCTET, "Content-Length": "0"})
        assert r.status_code == 201, describe(r)
        assert r.headers.get("Location"), describe(r)

    # Blob Upload Monolithic
    def test_get_nonexistent_blob_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/blobs/{conf['data'].dummy_digest}")
        assert r.status_code == 404, describe(r)

    def test_post_with_digest_and_blob_is_201(self, conf):
        c = conf["data"].configs[1]
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", params={"digest": c.digest}, data=c.content,
                headers={"Content-Type": OCTET, "Content-Length": c.length})
        assert r.headers.get("Location"), describe(r)
        assert r.status_code == 201, describe(r)

    def test_get_blob_from_monolithic_post_is_200(self, conf):
        c = conf["data"].configs[1]
        r = req(conf, "GET", f"/v2/<name>/blobs/{c.digest}")
        assert r.status_code == 200 and r.content == c.content, describe(r)

    def test_post_yields_session(self, conf):
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/")
        assert r.status_code == 202, describe(r)
        conf["push_last"] = r

    def test_put_upload_of_blob_is_201(self, conf):
        c = conf["data"].configs[1]
        r = conf["reg"].put(Registry.location(conf.need("push_last")), params={"digest": c.digest}, data=c.content,
                            headers={"Content-Type": OCTET, "Content-Length": c.length})
        assert r.headers.get("Location"), describe(r)
        assert r.status_code == 201, describe(r)

    def test_get_existing_blob_is_200(self, conf):
        c = conf["data"].configs[1]
        r = req(conf, "GET", f"/v2/<name>/blobs/{c.digest}")
        assert r.status_code == 200, describe(r)

    def test_put_upload_of_layer_is_201(self, conf):
        layer = conf["data"].layer
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/")
        r = conf["reg"].put(Registry.location(r), params={"digest": layer.digest}, data=layer.content,
                            headers={"Content-Type": OCTET, "Content-Length": layer.length})
        assert r.headers.get("Location"), describe(r)
        assert r.status_code == 201, describe(r)

    def test_get_existing_layer_is_200(self, conf):
        layer = conf["data"].layer
        r = req(conf, "GET", f"/v2/<name>/blobs/{layer.digest}")
        assert r.status_code == 200 and r.content == layer.content, describe(r)

    # Blob Upload Chunked
    def test_out_of_order_chunk_is_416(self, conf):
        d = conf["data"]
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
        assert r.headers.get("Location"), describe(r)
        min_len = r.headers.get("OCI-Chunk-Min-Length")
        if min_len:
            assert min_len.isdigit(), describe(r)
            if int(min_len) > len(d.chunk1):
                d.setup_chunked_blob(int(min_len) * 2 - 2)
        r = conf["reg"].patch(Registry.location(r), data=d.chunk2, headers={
            "Content-Type": OCTET, "Content-Length": str(len(d.chunk2)), "Content-Range": d.chunk2_range})
        assert r.status_code == 416, describe(r)

    def test_patch_first_chunk_is_202(self, conf):
        d = conf["data"]
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
        assert r.headers.get("Location"), describe(r)
        conf["push_prev"] = r
        r = conf["reg"].patch(Registry.location(r), data=d.chunk1, headers={
            "Content-Type": OCTET, "Content-Length": str(len(d.chunk1)), "Content-Range": d.chunk1_range})
        assert r.status_code == 202, describe(r)
        assert r.headers.get("Range") == d.chunk1_range, describe(r)
        conf["push_last"] = r

    def test_retry_previous_chunk_is_416(self, conf):
        d = conf["data"]
        r = conf["reg"].patch(Registry.location(conf.need("push_prev")), data=d.chunk1, headers={
            "Content-Type": OCTET, "Content-Length": str(len(d.chunk1)), "Content-Range": d.chunk1_range})
        assert r.status_code == 416, describe(r)

    def test_get_on_stale_upload_is_204_with_range_and_location(self, conf):
        d = conf["data"]
        r = conf["reg"].get(Registry.location(conf.need("push_prev")))
        assert r.status_code == 204, describe(r)
        assert r.headers.get("Location"), describe(r)
        assert r.headers.get("Range") == d.chunk1_range, describe(r)
        conf["push_last"] = r

    def test_patch_second_chunk_is_202(self, conf):
        d = conf["data"]
        r = conf["reg"].patch(Registry.location(conf.need("push_last")), data=d.chunk2, headers={
            "Content-Type": OCTET, "Content-Length": str(len(d.chunk2)), "Content-Range": d.chunk2_range})
        assert r.status_code == 202, describe(r)
        assert r.headers.get("Location"), describe(r)
        conf["push_last"] = r

    def test_put_with_digest_is_201(self, conf):
        d = conf["data"]
        r = conf["reg"].put(Registry.location(conf.need("push_last")), params={"digest": d.blob_b.digest},
                            headers={"Content-Type": OCTET, "Content-Length": "0"})
        assert r.status_code == 201, describe(r)
        assert r.headers.get("Location"), describe(r)
        g = req(conf, "GET", f"/v2/<name>/blobs/{d.blob_b.digest}")
        assert g.status_code == 200 and g.content == d.blob_b.content, describe(g)

    # Cross-Repository Blob Mount
    def test_mount_without_from_yields_session(self, conf):
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", name=conf["crossmount"],
                params={"mount": conf["data"].dummy_digest})
        assert r.status_code == 202, describe(r)
        assert r.headers.get("Location"), describe(r)

    def test_mount_from_other_repository_is_201(self, conf):
        d = conf["data"]
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", name=conf["crossmount"],
                params={"mount": d.blob_a.digest, "from": conf["ns"]})
        assert r.status_code == 201, describe(r)
        conf["mount_last"] = r

    def test_get_mounted_digest_in_crossmount_namespace_is_200(self, conf):
        d = conf["data"]
        last = conf.need("mount_last")
        assert rel(last) == f"/v2/{conf['crossmount']}/blobs/{d.blob_a.digest}", describe(last)
        r = conf["reg"].get(Registry.location(last))
        assert r.status_code == 200 and r.content == d.blob_a.content, describe(r)

    def test_mount_of_nonexistent_blob_yields_session(self, conf):
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", name=conf["crossmount"],
                params={"mount": images.sha256(os.urandom(16)), "from": conf["ns"]})
        assert r.status_code == 202, describe(r)
        assert rel(r).startswith(f"/v2/{conf['crossmount']}/blobs/uploads/"), describe(r)

    def test_mount_without_from_automatic_content_discovery_disabled_is_202(self, conf):
        d = conf["data"]
        other = f"conformance-{secrets.token_hex(6)}"
        create_repository(other, conf["reg"].server)
        r = req(conf, "POST", "/v2/<name>/blobs/uploads/", name=other, params={"mount": d.blob_a.digest})
        assert r.status_code == 202, describe(r)

    # Manifest Upload
    def test_get_nonexistent_manifest_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/manifests/{NONEXISTENT_MANIFEST}")
        assert r.status_code == 404, describe(r)

    def test_put_accepts_manifest_upload(self, conf):
        m = conf["data"].manifests[1]
        for i in range(4):
            r = put_manifest(conf, f"test{i}", m.content)
            assert r.headers.get("Location"), describe(r)
            assert r.status_code == 201, describe(r)

    def test_accepts_manifest_with_no_layers(self, conf):
        r = put_manifest(conf, EMPTY_LAYER_TAG, conf["data"].empty_layer_manifest.content)
        assert r.status_code == 201, describe(r)
        assert r.headers.get("Location"), describe(r)

    def test_get_manifest_by_digest_is_200(self, conf):
        m = conf["data"].manifests[1]
        r = req(conf, "GET", f"/v2/<name>/manifests/{m.digest}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200 and r.content == m.content, describe(r)

    # Teardown
    def test_teardown_delete_manifests(self, conf):
        d = conf["data"]
        for digest in (d.manifests[1].digest, d.empty_layer_manifest.digest):
            r = req(conf, "DELETE", f"/v2/<name>/manifests/{digest}")
            assert r.status_code == 202, describe(r)

    def test_teardown_delete_blobs(self, conf):
        d = conf["data"]
        for digest in (d.configs[1].digest, d.layer.digest):
            r = req(conf, "DELETE", f"/v2/<name>/blobs/{digest}")
            assert r.status_code == 202, describe(r)


# =========================================================================================
# 03 Content Discovery
# =========================================================================================

class TestContentDiscovery:
    def test_setup_populate_blob_and_layer(self, conf):
        d = conf["data"]
        push_blob(conf, d.configs[2])
        push_blob(conf, d.layer)

    def test_setup_populate_tags(self, conf):
        m = conf["data"].manifests[2]
        for i in range(4):
            r = put_manifest(conf, f"test{i}", m.content)
            assert is2xx(r), describe(r)
        r = req(conf, "GET", "/v2/<name>/tags/list")
        assert r.status_code == 200, describe(r)
        conf["tags"] = r.json()["tags"]

    def test_setup_references(self, conf):
        d = conf["data"]
        assert d.empty_json.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        push_blob(conf, d.empty_json)
        push_blob(conf, d.ref_blob_a)
        subject4 = d.manifests[4].digest
        for art in (d.refs_a_config, d.refs_a_layer):
            r = put_manifest(conf, art.digest, art.content)
            assert is2xx(r), describe(r)
            assert r.headers.get("OCI-Subject") == subject4, describe(r)
        r = put_manifest(conf, d.refs_index.digest, d.refs_index.content, images.OCI_INDEX)
        assert is2xx(r), describe(r)
        assert r.headers.get("OCI-Subject") == subject4, describe(r)
        push_blob(conf, d.configs[4])
        push_blob(conf, d.layer)
        r = put_manifest(conf, TEST_TAG, d.manifests[4].content)
        assert is2xx(r), describe(r)
        push_blob(conf, d.ref_blob_b)
        for art in (d.refs_b_config, d.refs_b_layer):
            r = put_manifest(conf, art.digest, art.content)
            assert is2xx(r), describe(r)
            assert r.headers.get("OCI-Subject") == subject4, describe(r)
        r = put_manifest(conf, d.refs_c_layer.digest, d.refs_c_layer.content)
        assert is2xx(r), describe(r)
        assert r.headers.get("OCI-Subject") == d.manifests[3].digest, describe(r)

    # listing tags
    def test_list_tags_is_200(self, conf):
        r = req(conf, "GET", "/v2/<name>/tags/list")
        assert r.status_code == 200, describe(r)
        tags = r.json()["tags"]
        assert tags == sorted(tags)
        assert {"test0", "test1", "test2", "test3", TEST_TAG} <= set(tags), tags
        conf["tags"] = tags

    def test_number_of_tags_limited_by_n(self, conf):
        tags = conf.need("tags")
        n = len(tags) // 2
        r = req(conf, "GET", "/v2/<name>/tags/list", params={"n": n})
        assert r.status_code == 200, describe(r)
        assert r.json()["tags"] == tags[:n], describe(r)

    def test_start_of_tags_set_by_last(self, conf):
        tags = conf.need("tags")
        n = len(tags) // 2
        first = req(conf, "GET", "/v2/<name>/tags/list", params={"n": n}).json()["tags"]
        r = req(conf, "GET", "/v2/<name>/tags/list", params={"n": n, "last": first[n - 1]})
        assert r.status_code == 200, describe(r)
        page = r.json()["tags"]
        assert len(page) <= n
        assert first[n - 1] not in page
        assert page == tags[n:2 * n], (page, tags)

    # listing references
    def test_referrers_of_nonexistent_digest_is_empty_200(self, conf):
        r = req(conf, "GET", f"/v2/<name>/referrers/{conf['data'].dummy_digest}")
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type") == images.OCI_INDEX, describe(r)
        assert json_body(r)["manifests"] == []

    def test_referrers_of_existing_manifest_is_200(self, conf):
        d = conf["data"]
        r = req(conf, "GET", f"/v2/<name>/referrers/{d.manifests[4].digest}")
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type") == images.OCI_INDEX, describe(r)
        manifests = json_body(r)["manifests"]
        assert len(manifests) == 5, manifests
        assert manifests[0]["digest"] != manifests[1]["digest"]
        assert len({m["digest"] for m in manifests}) == 5
        for m in manifests:
            assert len(m.get("annotations", {})) == 1, m
            assert m["annotations"][ANNOTATION_KEY] == d.annotations[m["digest"]], m

    def test_referrers_with_artifact_type_filter(self, conf):
        d = conf["data"]
        r = req(conf, "GET", f"/v2/<name>/referrers/{d.manifests[4].digest}", params={"artifactType": ART_TYPE_A})
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type") == images.OCI_INDEX, describe(r)
        assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
        manifests = json_body(r)["manifests"]
        assert len(manifests) == 2, manifests
        for m in manifests:
            assert len(m.get("annotations", {})) == 1, m
            assert m["annotations"][ANNOTATION_KEY] == d.annotations[m["digest"]], m

    def test_referrers_of_missing_manifest_is_200(self, conf):
        d = conf["data"]
        r = req(conf, "GET", f"/v2/<name>/referrers/{d.manifests[3].digest}")
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type") == images.OCI_INDEX, describe(r)
        manifests = json_body(r)["manifests"]
        assert len(manifests) == 1 and manifests[0]["digest"] == d.refs_c_layer.digest, manifests

    # Teardown
    def test_teardown_delete_manifests_and_tags(self, conf):
        d = conf["data"]
        for ref in (d.refs_index.digest, d.manifests[2].digest, d.manifests[4].digest, d.refs_a_config.digest,
                    d.refs_a_layer.digest, TEST_TAG, d.refs_b_config.digest, d.refs_b_layer.digest,
                    d.refs_c_layer.digest):
            r = req(conf, "DELETE", f"/v2/<name>/manifests/{ref}")
            # TEST_TAG pointed at manifests[4], deleted just before: 404 is right for it.
            assert r.status_code == (404 if ref == TEST_TAG else 202), describe(r)

    def test_teardown_delete_blobs(self, conf):
        d = conf["data"]
        for blob in (d.configs[2], d.layer, d.configs[4], d.ref_blob_a, d.ref_blob_b, d.empty_json):
            r = req(conf, "DELETE", f"/v2/<name>/blobs/{blob.digest}")
            assert r.status_code == 202, describe(r)


# =========================================================================================
# 04 Content Management
# =========================================================================================

class TestContentManagement:
    def test_setup_populate_config_and_layer(self, conf):
        d = conf["data"]
        push_blob(conf, d.configs[3])
        push_blob(conf, d.layer)

    def test_setup_populate_tag(self, conf):
        r = put_manifest(conf, TEST_TAG, conf["data"].manifests[3].content)
        assert is2xx(r), describe(r)

    def test_setup_count_tags(self, conf):
        r = req(conf, "GET", "/v2/<name>/tags/list")
        assert r.status_code == 200, describe(r)
        conf["num_tags"] = len(r.json().get("tags") or [])
        assert conf["num_tags"] >= 1

    def test_delete_manifest_tag_is_202(self, conf):
        r = req(conf, "DELETE", f"/v2/<name>/manifests/{TEST_TAG}")
        assert r.status_code == 202, describe(r)

    def test_delete_manifest_by_digest_is_202(self, conf):
        r = req(conf, "DELETE", f"/v2/<name>/manifests/{conf['data'].manifests[3].digest}")
        assert r.status_code == 202, describe(r)

    def test_get_deleted_manifest_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/manifests/{conf['data'].manifests[3].digest}")
        assert r.status_code == 404, describe(r)

    def test_tags_list_reflects_deletion(self, conf):
        r = req(conf, "GET", "/v2/<name>/tags/list")
        assert r.status_code == 200, describe(r)
        assert len(r.json().get("tags") or []) < conf.need("num_tags")

    def test_delete_blobs_is_202(self, conf):
        d = conf["data"]
        for blob in (d.configs[3], d.layer):
            r = req(conf, "DELETE", f"/v2/<name>/blobs/{blob.digest}")
            assert r.status_code == 202, describe(r)

    def test_get_deleted_blob_is_404(self, conf):
        r = req(conf, "GET", f"/v2/<name>/blobs/{conf['data'].configs[3].digest}")
        assert r.status_code == 404, describe(r)
