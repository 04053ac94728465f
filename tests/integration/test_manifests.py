"""Manifests over /v2: every manifest kind, by tag and digest, validation, limits, negotiation, deletion."""

import json
import os

import pytest

import images
from regclient import assert_error, describe, error_codes, raw_http

ZERO = "sha256:" + "0" * 64


def kinds():
    return {
        "oci-manifest": lambda: images.make_image(),
        "oci-manifest-3-layers": lambda: images.make_image(nlayers=3),
        "docker-schema2": lambda: images.make_image(docker=True),
        "oci-index": lambda: images.make_multiarch(),
        "docker-manifest-list": lambda: images.make_multiarch(docker=True),
        "oci-artifact": lambda: images.make_artifact(annotations={"org.example": "x"}),
        "oci-manifest-no-layers": lambda: _no_layers(),
    }


def _no_layers():
    img = images.make_image()
    obj = img.json
    obj["layers"] = []
    return images.Image(images.dumps(obj), img.media_type, img.config, [], img.platform)


@pytest.mark.parametrize("kind", list(kinds()))
def test_push_and_pull_every_manifest_kind_byte_exact(reg, repo, kind):
    obj = kinds()[kind]()
    reg.push_image(repo, obj, tag="v1")
    for ref in ("v1", obj.digest):
        r = reg.get_manifest(repo, ref)
        assert r.status_code == 200, describe(r)
        assert r.content == obj.manifest, f"{kind}: bytes differ for {ref}"
        assert r.headers.get("Content-Type") == obj.media_type, describe(r)
        assert r.headers.get("Docker-Content-Digest") == obj.digest, describe(r)
        assert int(r.headers.get("Content-Length", -1)) == obj.size, describe(r)
        h = reg.get_manifest(repo, ref, method="HEAD")
        assert h.status_code == 200, describe(h)
        assert h.content == b""
        assert h.headers.get("Content-Type") == obj.media_type, describe(h)
        assert h.headers.get("Docker-Content-Digest") == obj.digest, describe(h)
        assert int(h.headers.get("Content-Length", -1)) == obj.size, describe(h)


def test_put_manifest_answers_201_location_and_digest(reg, repo):
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    r = reg.put_manifest(repo, "latest", img.manifest, img.media_type)
    assert r.status_code == 201, describe(r)
    assert reg.location_path(r) == f"/v2/{repo}/manifests/{img.digest}", describe(r)
    assert r.headers.get("Docker-Content-Digest") == img.digest, describe(r)


def test_put_by_digest(reg, repo):
    img = images.make_image()
    reg.push_image(repo, img)  # by digest only
    r = reg.get_manifest(repo, img.digest)
    assert r.status_code == 200 and r.content == img.manifest, describe(r)
    r = reg.get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200, describe(r)
    assert not (r.json().get("tags") or []), describe(r)


def test_put_by_wrong_digest_is_digest_invalid(reg, repo):
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    wrong = images.sha256(img.manifest + b" ")
    r = reg.put_manifest(repo, wrong, img.manifest, img.media_type)
    assert_error(r, 400, "DIGEST_INVALID")
    assert reg.get_manifest(repo, img.digest).status_code == 404
    assert reg.get_manifest(repo, wrong).status_code == 404


def test_manifest_is_not_reformatted(reg, repo):
    """Whitespace, key order and unknown fields survive: digests are over bytes."""
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    body = ('{"schemaVersion":2,   "mediaType":"%s",\n\t"x-unknown-field":{"keep":[1,2,3]},'
            '"layers":%s,"config":%s}\n\n') % (images.OCI_MANIFEST, json.dumps(img.json["layers"]),
                                               json.dumps(img.json["config"]))
    body = body.encode()
    r = reg.put_manifest(repo, "odd", body, images.OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Docker-Content-Digest") == images.sha256(body)
    g = reg.get_manifest(repo, "odd")
    assert g.content == body


def test_tag_moves_to_new_manifest(reg, repo):
    a, b = images.make_image(), images.make_image()
    reg.push_image(repo, a, tag="stable")
    reg.push_image(repo, b, tag="stable")
    r = reg.get_manifest(repo, "stable")
    assert r.content == b.manifest, describe(r)
    # the old image is still there by digest
    assert reg.get_manifest(repo, a.digest).content == a.manifest


def test_one_manifest_many_tags(reg, repo):
    img = images.make_image()
    for t in ("c", "a", "b", "1.0", "latest"):
        reg.push_image(repo, img, tag=t)
    assert reg.tags(repo) == sorted(["c", "a", "b", "1.0", "latest"])


def test_unknown_manifest_is_404_manifest_unknown(reg, repo):
    reg.push_image(repo, images.make_image(), tag="exists")
    assert_error(reg.get_manifest(repo, "nope"), 404, "MANIFEST_UNKNOWN")
    assert_error(reg.get_manifest(repo, ZERO), 404, "MANIFEST_UNKNOWN")
    h = reg.get_manifest(repo, "nope", method="HEAD")
    assert h.status_code == 404 and h.content == b"", describe(h)


def test_manifest_in_unknown_repository_is_404(reg):
    name = "itest/no-such-repo-" + os.urandom(3).hex()
    assert_error(reg.get_manifest(name, "latest"), 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))


@pytest.mark.parametrize("body", [
    b"not json at all",
    b"",
    b"[]",
    b"{}",
    b'{"schemaVersion": 2}',
    b'{"schemaVersion": 1, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": 5, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "x", "size": 1}, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "x", "digest": "sha256:' + b"0" * 64 + b'", "size": 2}, "layers": {}}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "x", "digest": "sha256:' + b"0" * 64 + b'", "size": -1}, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {"mediaType": "x", "digest": "sha256:' + b"0" * 64 + b'", "size": 2}, "layers": [] ',
    b'\xff\xfe{"schemaVersion": 2}',
])
def test_malformed_manifest_is_manifest_invalid(reg, repo, body):
    reg.push_image(repo, images.make_image(), tag="exists")
    r = reg.put_manifest(repo, "bad", body, images.OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert reg.get_manifest(repo, "bad").status_code == 404


def test_manifest_with_descriptor_without_size_is_manifest_invalid(reg, repo):
    img = images.make_image()
    obj = img.json
    del obj["layers"][0]["size"]
    for b in img.blobs:
        reg.push_blob(repo, b)
    r = reg.put_manifest(repo, "bad", images.dumps(obj), images.OCI_MANIFEST)
    assert_error(r, 400, "MANIFEST_INVALID")


def test_manifest_put_with_chunked_transfer_encoding(reg, repo):
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    body = img.manifest

    def gen():
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    r = reg.put(f"/v2/{repo}/manifests/chunked", data=gen(), headers={"Content-Type": img.media_type})
    assert r.status_code == 201, describe(r)
    assert reg.get_manifest(repo, "chunked").content == body


def test_chunked_manifest_over_the_limit_is_413(berth, reg, repo):
    reg.push_image(repo, images.make_image(), tag="exists")
    piece = b"p" * 65536

    def body():
        first = b'{"schemaVersion":2,"pad":"'
        yield b"%x\r\n%s\r\n" % (len(first), first)
        for _ in range(80):  # 5 MiB
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b'3\r\n"}\n\r\n0\r\n\r\n'

    status, headers, _ = raw_http(berth, "PUT", f"/v2/{repo}/manifests/chunked-big",
                                  {"Content-Type": images.OCI_MANIFEST, "Transfer-Encoding": "chunked"}, body())
    assert status == 413, (status, headers)
    assert reg.get_manifest(repo, "chunked-big").status_code == 404


def test_manifest_with_malformed_descriptor_digest(reg, repo):
    img = images.make_image()
    obj = img.json
    obj["layers"][0]["digest"] = "sha256:nothex"
    for b in img.blobs:
        reg.push_blob(repo, b)
    r = reg.put_manifest(repo, "bad", images.dumps(obj), images.OCI_MANIFEST)
    assert_error(r, 400, ("MANIFEST_INVALID", "DIGEST_INVALID"))


def test_unknown_manifest_media_type_is_rejected(reg, repo):
    img = images.make_image()
    reg.push_image(repo, img, tag="exists")
    r = reg.put_manifest(repo, "weird", img.manifest, "application/x-not-a-manifest")
    assert_error(r, (400, 415), ("MANIFEST_INVALID", "UNSUPPORTED"))


@pytest.mark.parametrize("content_type", [images.OCI_INDEX, images.DOCKER_MANIFEST])
def test_content_type_contradicting_media_type_field_is_manifest_invalid(reg, repo, content_type):
    img = images.make_image()  # an OCI manifest whose mediaType field says so
    reg.push_image(repo, img, tag="exists")
    r = reg.put_manifest(repo, "mismatch", img.manifest, content_type)
    assert_error(r, 400, "MANIFEST_INVALID")
    assert reg.get_manifest(repo, "mismatch").status_code == 404


def test_missing_layer_is_manifest_blob_unknown(reg, repo):
    img = images.make_image(nlayers=2)
    reg.push_blob(repo, img.config)
    reg.push_blob(repo, img.layers[0])
    r = reg.put_manifest(repo, "v1", img.manifest, img.media_type)
    codes = assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert set(codes) == {"MANIFEST_BLOB_UNKNOWN"}, codes
    assert reg.get_manifest(repo, "v1").status_code == 404


def test_missing_config_is_manifest_blob_unknown(reg, repo):
    img = images.make_image()
    reg.push_blob(repo, img.layers[0])
    r = reg.put_manifest(repo, "v1", img.manifest, img.media_type)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


def test_blob_in_other_repository_does_not_satisfy_manifest(reg, new_repo):
    a, b = new_repo("a"), new_repo("b")
    img = images.make_image()
    reg.push_image(a, img, tag="v1")
    reg.push_blob(b, img.config)
    r = reg.put_manifest(b, "v1", img.manifest, img.media_type)
    assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("docker", [False, True], ids=["oci-index", "docker-list"])
def test_index_with_missing_child_is_rejected(reg, repo, docker):
    idx = images.make_multiarch(docker=docker)
    reg.push_image(repo, idx.children[0])  # only one of the two children
    r = reg.put_manifest(repo, "multi", idx.manifest, idx.media_type)
    if r.status_code == 404:
        assert_error(r, 404, "MANIFEST_UNKNOWN")
    else:
        assert_error(r, 400, ("MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"))
    assert reg.get_manifest(repo, "multi").status_code == 404


@pytest.mark.parametrize("tag", ["-leading-dash", ".leading-dot", "x" * 129, "bad!char", "sp ace"])
def test_invalid_tag_on_put_is_tag_invalid(reg, repo, tag):
    img = images.make_image()
    reg.push_image(repo, img, tag="ok")
    r = reg.put_manifest(repo, tag, img.manifest, img.media_type)
    assert_error(r, 400, "TAG_INVALID")


@pytest.mark.parametrize("tag", ["_underscore_first", "A", "Mixed.Case-1_2", "x" * 128, "0"])
def test_valid_tags_are_accepted(reg, repo, tag):
    img = images.make_image()
    reg.push_image(repo, img, tag=tag)
    assert reg.get_manifest(repo, tag).content == img.manifest
    assert tag in reg.tags(repo)


def test_manifest_size_limit(reg, repo):
    """Up to 4 MiB is accepted; above that the spec says 413 Payload Too Large."""
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    limit = 4 * 1024 * 1024

    def padded(total):
        obj = img.json
        obj["annotations"] = {"pad": ""}
        base = len(images.dumps(obj))
        obj["annotations"]["pad"] = "p" * (total - base)
        body = images.dumps(obj)
        assert len(body) == total
        return body

    ok = padded(limit)
    r = reg.put_manifest(repo, "four-mib", ok, images.OCI_MANIFEST)
    assert r.status_code == 201, describe(r)
    g = reg.get_manifest(repo, "four-mib")
    assert g.status_code == 200 and g.content == ok

    big = padded(limit + 1)
    # A tolerant client: the server may answer before it has read the body.
    status, headers, body = raw_http(reg.server, "PUT", f"/v2/{repo}/manifests/too-big",
                                     {"Content-Type": images.OCI_MANIFEST, "Content-Length": str(len(big))},
                                     [big[i:i + 65536] for i in range(0, len(big), 65536)])
    assert status == 413, (status, headers, body[:300])
    if "json" in headers.get("content-type", ""):
        assert json.loads(body)["errors"][0]["code"] in ("SIZE_INVALID", "MANIFEST_INVALID"), body
    assert reg.get_manifest(repo, "too-big").status_code == 404


def test_oversized_manifest_413_reaches_a_client_that_sends_the_whole_body(reg, repo):
    """python-requests writes the whole body before reading: the 413 must still arrive
    (lingering close), not a connection reset."""
    reg.push_image(repo, images.make_image(), tag="exists")
    big = b'{"schemaVersion":2,"pad":"' + b"p" * (4 * 1024 * 1024 + 100) + b'"}'
    r = reg.put_manifest(repo, "too-big", big, images.OCI_MANIFEST)
    assert r.status_code == 413, describe(r)


def test_much_larger_manifest_is_rejected_without_reading_it_all(berth, reg, repo):
    """A 64 MiB manifest PUT: the server may answer 413 before the body is sent (no buffering)."""
    reg.push_image(repo, images.make_image(), tag="exists")
    size = 64 * 1024 * 1024
    chunk = b"q" * (1 << 20)

    def body():
        yield b'{"schemaVersion":2,"pad":"'
        for _ in range(size // len(chunk)):
            yield chunk

    status, headers, _ = raw_http(berth, "PUT", f"/v2/{repo}/manifests/huge",
                                  {"Content-Type": images.OCI_MANIFEST, "Content-Length": str(size + 26)}, body())
    assert status == 413, (status, headers)
    assert reg.get_manifest(repo, "huge").status_code == 404


# -- content negotiation ------------------------------------------------------------------

def test_manifest_list_by_tag_with_only_schema2_accept_serves_amd64_child(reg, repo):
    """Distribution (registry/handlers/manifests.go): a client that does not accept manifest
    lists gets, for a tag, the linux/amd64 image from the list, with that image's digest."""
    idx = images.make_multiarch(docker=True)
    reg.push_image(repo, idx, tag="multi")
    amd64 = idx.children[0]
    for method in ("GET", "HEAD"):
        r = reg.get_manifest(repo, "multi", accept=images.DOCKER_MANIFEST, method=method)
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type") == images.DOCKER_MANIFEST, describe(r)
        assert r.headers.get("Docker-Content-Digest") == amd64.digest, describe(r)
        if method == "GET":
            assert r.content == amd64.manifest


def test_manifest_list_by_digest_is_served_as_stored(reg, repo):
    """By digest the content is fixed: Distribution serves the list whatever the Accept."""
    idx = images.make_multiarch(docker=True)
    reg.push_image(repo, idx, tag="multi")
    r = reg.get_manifest(repo, idx.digest, accept=images.DOCKER_MANIFEST)
    assert r.status_code == 200, describe(r)
    assert r.content == idx.manifest
    assert r.headers.get("Content-Type") == images.DOCKER_LIST, describe(r)
    assert r.headers.get("Docker-Content-Digest") == idx.digest, describe(r)


def test_manifest_list_without_amd64_and_only_schema2_accept_is_manifest_unknown(reg, repo):
    arm = images.make_image("arm64", variant="v8", docker=True)
    s390 = images.make_image("s390x", docker=True)
    idx = images.make_index([arm, s390], docker=True)
    reg.push_image(repo, idx, tag="noamd64")
    r = reg.get_manifest(repo, "noamd64", accept=images.DOCKER_MANIFEST)
    assert_error(r, 404, "MANIFEST_UNKNOWN")


def test_manifest_list_with_list_accept_is_served(reg, repo):
    idx = images.make_multiarch(docker=True)
    reg.push_image(repo, idx, tag="multi")
    r = reg.get_manifest(repo, "multi", accept=f"{images.DOCKER_MANIFEST}, {images.DOCKER_LIST}")
    assert r.status_code == 200 and r.content == idx.manifest, describe(r)
    assert r.headers.get("Content-Type") == images.DOCKER_LIST


def test_accept_with_parameters_and_wildcard(reg, repo):
    idx = images.make_multiarch()
    reg.push_image(repo, idx, tag="multi")
    r = reg.get_manifest(repo, "multi", accept=f"{images.OCI_INDEX}; q=0.9, {images.OCI_MANIFEST}; q=0.5")
    assert r.status_code == 200 and r.content == idx.manifest, describe(r)
    r = reg.get_manifest(repo, "multi", accept="*/*")
    assert r.status_code == 200 and r.content == idx.manifest, describe(r)


# -- deletion -------------------------------------------------------------------------------

def test_delete_tag_keeps_manifest(reg, repo):
    img = images.make_image()
    reg.push_image(repo, img, tag="a")
    reg.push_image(repo, img, tag="b")
    r = reg.delete(f"/v2/{repo}/manifests/a")
    assert r.status_code == 202, describe(r)
    assert_error(reg.get_manifest(repo, "a"), 404, "MANIFEST_UNKNOWN")
    assert reg.get_manifest(repo, "b").content == img.manifest
    assert reg.get_manifest(repo, img.digest).content == img.manifest
    assert reg.tags(repo) == ["b"]


def test_delete_unknown_tag_is_404(reg, repo):
    reg.push_image(repo, images.make_image(), tag="a")
    assert_error(reg.delete(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


def test_delete_manifest_by_digest_removes_its_tags(reg, repo):
    img, other = images.make_image(), images.make_image()
    reg.push_image(repo, img, tag="x")
    reg.push_image(repo, img, tag="y")
    reg.push_image(repo, other, tag="z")
    r = reg.delete(f"/v2/{repo}/manifests/{img.digest}")
    assert r.status_code == 202, describe(r)
    assert_error(reg.get_manifest(repo, img.digest), 404, "MANIFEST_UNKNOWN")
    assert_error(reg.get_manifest(repo, "x"), 404, "MANIFEST_UNKNOWN")
    assert reg.tags(repo) == ["z"]
    assert_error(reg.delete(f"/v2/{repo}/manifests/{img.digest}"), 404, "MANIFEST_UNKNOWN")


def test_delete_unknown_digest_is_404(reg, repo):
    reg.push_image(repo, images.make_image(), tag="a")
    assert_error(reg.delete(f"/v2/{repo}/manifests/{ZERO}"), 404, "MANIFEST_UNKNOWN")


def test_delete_in_unknown_repository_is_404(reg):
    name = "itest/no-such-repo-" + os.urandom(3).hex()
    assert_error(reg.delete(f"/v2/{name}/manifests/{ZERO}"), 404, ("NAME_UNKNOWN", "MANIFEST_UNKNOWN"))


def test_repush_after_delete(reg, repo):
    img = images.make_image()
    reg.push_image(repo, img, tag="v")
    assert reg.delete(f"/v2/{repo}/manifests/{img.digest}").status_code == 202
    reg.push_image(repo, img, tag="v")
    assert reg.get_manifest(repo, "v").content == img.manifest


# -- methods ----------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/v2/{repo}/manifests/latest"),
    ("PATCH", "/v2/{repo}/manifests/latest"),
    ("PUT", "/v2/{repo}/blobs/" + ZERO),
    ("POST", "/v2/{repo}/blobs/" + ZERO),
    ("POST", "/v2/{repo}/tags/list"),
    ("DELETE", "/v2/{repo}/tags/list"),
    ("PUT", "/v2/_catalog"),
])
def test_unsupported_method_is_405_unsupported(reg, repo, method, path):
    reg.push_image(repo, images.make_image(), tag="latest")
    r = reg.request(method, path.format(repo=repo), data=b"{}")
    assert_error(r, 405, "UNSUPPORTED")
