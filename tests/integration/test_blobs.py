"""Blobs and uploads over /v2: fetch, ranges, delete, every upload mode, mounts, error codes."""

import os
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

import images
from conftest import create_repository
from datadir import blob_file
from regclient import Registry, assert_error, describe, raw_http

OCTET = {"Content-Type": "application/octet-stream"}
ZERO = "sha256:" + "0" * 64
SPEC_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
              "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
              "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS", "TAG_INVALID", "MANIFEST_UNVERIFIED"}


def blob_of(size=1000):
    return images.random_blob(size)


# -- GET / HEAD / Range / DELETE ----------------------------------------------------------

def test_get_and_head_existing_blob(reg, repo):
    b = blob_of(5000)
    reg.push_blob(repo, b)
    r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
    assert r.status_code == 200, describe(r)
    assert r.content == b.data
    assert r.headers.get("Docker-Content-Digest") == b.digest, describe(r)
    assert int(r.headers["Content-Length"]) == b.size
    h = reg.head(f"/v2/{repo}/blobs/{b.digest}")
    assert h.status_code == 200, describe(h)
    assert int(h.headers["Content-Length"]) == b.size, describe(h)
    assert h.headers.get("Docker-Content-Digest") == b.digest, describe(h)
    assert h.content == b""


def test_unknown_blob_is_404_blob_unknown(reg, repo):
    reg.push_blob(repo, blob_of(10))  # the repository exists
    r = reg.get(f"/v2/{repo}/blobs/{ZERO}")
    assert_error(r, 404, "BLOB_UNKNOWN")
    h = reg.head(f"/v2/{repo}/blobs/{ZERO}")
    assert h.status_code == 404, describe(h)
    assert h.content == b""


def test_blob_in_unknown_repository_is_404(reg):
    r = reg.get(f"/v2/itest/never-created-{os.urandom(3).hex()}/blobs/{ZERO}")
    assert_error(r, 404, ("NAME_UNKNOWN", "BLOB_UNKNOWN"))


def test_push_to_a_repository_that_was_not_created_is_name_unknown(reg):
    """Repositories are explicit, as in ECR: nothing is created by a push."""
    name = f"itest/not-created-{os.urandom(3).hex()}"
    b = blob_of(10)
    assert_error(reg.start_upload(name), 404, "NAME_UNKNOWN")
    r = reg.post(f"/v2/{name}/blobs/uploads/", params={"digest": b.digest}, data=b.data, headers=OCTET)
    assert_error(r, 404, "NAME_UNKNOWN")
    img = images.make_image()
    assert_error(reg.put_manifest(name, "v1", img.manifest, img.media_type), 404, "NAME_UNKNOWN")
    r = reg.get("/v2/_catalog", params={"n": 1000})
    assert name not in r.json()["repositories"]


def test_blob_is_not_visible_from_another_repository(reg, new_repo):
    a, b = new_repo("a"), new_repo("b")
    blob = blob_of(100)
    reg.push_blob(a, blob)
    reg.push_blob(b, blob_of(10))
    r = reg.head(f"/v2/{b}/blobs/{blob.digest}")
    assert r.status_code == 404, describe(r)
    r = reg.get(f"/v2/{b}/blobs/{blob.digest}")
    assert_error(r, 404, "BLOB_UNKNOWN")


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-0", 0, 0),
    ("bytes=10-19", 10, 19),
    ("bytes=4000-", 4000, 4095),
    ("bytes=4090-9999", 4090, 4095),
    ("bytes=-16", 4080, 4095),
])
def test_range_request_is_206(reg, repo, rng, start, end):
    b = blob_of(4096)
    reg.push_blob(repo, b)
    r = reg.get(f"/v2/{repo}/blobs/{b.digest}", headers={"Range": rng})
    assert r.status_code == 206, describe(r)
    assert r.content == b.data[start:end + 1]
    assert r.headers.get("Content-Range") == f"bytes {start}-{end}/{b.size}", describe(r)
    assert int(r.headers["Content-Length"]) == end - start + 1


def test_unsatisfiable_range_is_416(reg, repo):
    b = blob_of(100)
    reg.push_blob(repo, b)
    r = reg.get(f"/v2/{repo}/blobs/{b.digest}", headers={"Range": "bytes=500-600"})
    assert r.status_code == 416, describe(r)
    assert r.headers.get("Content-Range") == f"bytes */{b.size}", describe(r)


def test_blob_file_cut_short_while_sent_ends_the_connection(berth_factory, tmp_path):
    """A blob file that shrinks while it is being sent (damage from outside berth) is neither
    padded nor waited on: the client gets the bytes there were, then the connection closes short
    of the Content-Length, and the server goes on serving."""
    data = tmp_path / "data"
    srv = berth_factory(data_dir=data, extra_env={"BERTH_BLOB_STORE": f"file:{data}/blobs"})
    repo = create_repository("short/file", srv)
    reg = Registry(srv)
    b, other = blob_of(48 << 20), blob_of(1000)      # far more than the loopback's socket buffers
    reg.push_blob(repo, b)
    reg.push_blob(repo, other)

    r = reg.get(f"/v2/{repo}/blobs/{b.digest}", stream=True)
    assert r.status_code == 200 and int(r.headers["Content-Length"]) == b.size, describe(r)
    got = bytearray(r.raw.read(65536))
    with open(blob_file(srv, b.digest), "r+b") as f:
        f.truncate(1 << 20)
    t0 = time.monotonic()
    while piece := r.raw.read(65536):                # b"": the server closed the connection
        got += piece
    assert time.monotonic() - t0 < 10
    assert len(got) < b.size and bytes(got) == b.data[:len(got)], len(got)

    r = reg.get(f"/v2/{repo}/blobs/{other.digest}")
    assert r.status_code == 200 and r.content == other.data, describe(r)
    assert "response body: unexpected end of file" in srv.log_text()


def test_delete_blob(reg, repo):
    b = blob_of(300)
    reg.push_blob(repo, b)
    r = reg.delete(f"/v2/{repo}/blobs/{b.digest}")
    assert r.status_code == 202, describe(r)
    r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
    assert_error(r, 404, "BLOB_UNKNOWN")
    r = reg.delete(f"/v2/{repo}/blobs/{b.digest}")
    assert_error(r, 404, "BLOB_UNKNOWN")


def test_delete_blob_in_one_repository_keeps_it_in_another(reg, new_repo):
    a, b = new_repo("a"), new_repo("b")
    blob = blob_of(300)
    reg.push_blob(a, blob)
    reg.push_blob(b, blob)
    r = reg.delete(f"/v2/{a}/blobs/{blob.digest}")
    assert r.status_code == 202, describe(r)
    r = reg.get(f"/v2/{b}/blobs/{blob.digest}")
    assert r.status_code == 200 and r.content == blob.data, describe(r)


@pytest.mark.parametrize("digest", ["sha256:xyz", "sha256:" + "0" * 63, "sha256:" + "G" * 64, "nocolon"])
def test_malformed_digest_on_blob_get(reg, repo, digest):
    reg.push_blob(repo, blob_of(10))
    r = reg.get(f"/v2/{repo}/blobs/{digest}")
    # A reference that is not a digest cannot name a blob: 400 DIGEST_INVALID, or 404 if the
    # server does not route it at all; never 200 and never a 5xx.
    if r.status_code == 400:
        assert_error(r, 400, "DIGEST_INVALID")
    else:
        assert_error(r, 404, ("BLOB_UNKNOWN", "NAME_UNKNOWN", "DIGEST_INVALID"))


# -- uploads: monolithic ----------------------------------------------------------------

def test_post_starts_upload_session(reg, repo):
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    loc = reg.location_path(r)
    assert loc.startswith(f"/v2/{repo}/blobs/uploads/"), describe(r)
    assert r.headers.get("Content-Length", "0") == "0" or r.content == b"", describe(r)


def test_monolithic_post_with_digest_is_201(reg, repo):
    b = blob_of(2000)
    r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": b.digest}, data=b.data, headers=OCTET)
    assert r.status_code == 201, describe(r)
    assert reg.location_path(r) == f"/v2/{repo}/blobs/{b.digest}", describe(r)
    assert r.headers.get("Docker-Content-Digest") == b.digest
    g = reg.get(reg.location(r))
    assert g.status_code == 200 and g.content == b.data, describe(g)


def test_monolithic_post_with_wrong_digest_is_digest_invalid(reg, repo):
    b = blob_of(200)
    wrong = images.sha256(b.data + b"x")
    r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, data=b.data, headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")
    assert not reg.blob_exists(repo, wrong)
    assert not reg.blob_exists(repo, b.digest)


def test_post_then_put_monolithic(reg, repo):
    b = blob_of(3000)
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest}, data=b.data, headers=OCTET)
    assert r.status_code == 201, describe(r)
    assert reg.location_path(r) == f"/v2/{repo}/blobs/{b.digest}", describe(r)
    assert r.headers.get("Docker-Content-Digest") == b.digest, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_put_with_wrong_digest_is_digest_invalid_and_nothing_visible(reg, repo):
    b = blob_of(3000)
    wrong = images.sha256(b"other")
    r = reg.start_upload(repo)
    r = reg.put(reg.location(r), params={"digest": wrong}, data=b.data, headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")
    assert not reg.blob_exists(repo, wrong)
    assert not reg.blob_exists(repo, b.digest)


def test_put_without_digest_is_digest_invalid(reg, repo):
    r = reg.start_upload(repo)
    r = reg.put(reg.location(r), data=b"abc", headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("digest", ["sha256:abc", "sha256:" + "z" * 64, "sha256", ":" + "0" * 64, "SHA256:" + "0" * 64,
                                    images.sha256(b"abc").upper().replace("SHA256", "sha256")])
def test_put_with_malformed_digest_is_digest_invalid(reg, repo, digest):
    """(The last case is the right content digest with upper-case hex: sha256 is lower-case only.)"""
    r = reg.start_upload(repo)
    r = reg.put(reg.location(r), params={"digest": digest}, data=b"abc", headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")


def test_unknown_digest_algorithm_is_rejected(reg, repo):
    """md5 is not a registered algorithm: 400 with UNSUPPORTED (or DIGEST_INVALID, as Distribution says)."""
    r = reg.start_upload(repo)
    r = reg.put(reg.location(r), params={"digest": "md5:" + "0" * 32}, data=b"abc", headers=OCTET)
    assert_error(r, 400, ("UNSUPPORTED", "DIGEST_INVALID"))
    r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": "sha1024:" + "0" * 256}, data=b"abc", headers=OCTET)
    assert_error(r, 400, ("UNSUPPORTED", "DIGEST_INVALID"))


def test_sha512_blob_if_supported(reg, repo):
    """sha512 is a registered algorithm in image-spec: accepted and served under its digest."""
    import hashlib

    data = os.urandom(777)
    digest = "sha512:" + hashlib.sha512(data).hexdigest()
    r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data, headers=OCTET)
    if r.status_code == 201:
        g = reg.get(f"/v2/{repo}/blobs/{digest}")
        assert g.status_code == 200 and g.content == data, describe(g)
    else:
        assert_error(r, 400, ("UNSUPPORTED", "DIGEST_INVALID"))


def test_empty_blob(reg, repo):
    digest = images.sha256(b"")
    r = reg.start_upload(repo)
    r = reg.put(reg.location(r), params={"digest": digest}, data=b"", headers=OCTET)
    assert r.status_code == 201, describe(r)
    g = reg.get(f"/v2/{repo}/blobs/{digest}")
    assert g.status_code == 200 and g.content == b"", describe(g)


def test_upload_of_existing_blob_is_idempotent(reg, repo):
    b = blob_of(500)
    reg.push_blob(repo, b)
    reg.push_blob(repo, b)
    reg.push_blob(repo, b, monolithic_post=True)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


# -- uploads: streamed and chunked --------------------------------------------------------

def test_streamed_patch_then_put(reg, repo):
    b = blob_of(10000)
    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=b.data, headers=OCTET)
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{b.size - 1}", describe(r)
    assert reg.location_path(r).startswith(f"/v2/{repo}/blobs/uploads/"), describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest}, headers={**OCTET, "Content-Length": "0"})
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_streamed_patch_with_chunked_transfer_encoding(reg, repo):
    b = blob_of(200000)

    def gen():
        for i in range(0, b.size, 65536):
            yield b.data[i:i + 65536]

    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=gen(), headers=OCTET)
    assert r.status_code == 202, describe(r)
    assert r.headers.get("Range") == f"0-{b.size - 1}", describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest})
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_chunked_upload_with_content_range(reg, repo):
    b = blob_of(30000)
    chunks = [(0, 9999), (10000, 19999), (20000, 29999)]
    r = reg.start_upload(repo)
    loc = reg.location(r)
    for start, end in chunks:
        r = reg.patch(loc, data=b.data[start:end + 1], headers={
            **OCTET, "Content-Range": f"{start}-{end}", "Content-Length": str(end - start + 1)})
        assert r.status_code == 202, describe(r)
        assert r.headers.get("Range") == f"0-{end}", describe(r)
        loc = reg.location(r)
    r = reg.put(loc, params={"digest": b.digest}, headers={"Content-Length": "0"})
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_put_with_final_chunk(reg, repo):
    b = blob_of(2000)
    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=b.data[:1200], headers={**OCTET, "Content-Range": "0-1199"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest}, data=b.data[1200:],
                headers={**OCTET, "Content-Range": f"1200-{b.size - 1}"})
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_out_of_order_chunk_is_416_and_session_survives(reg, repo):
    b = blob_of(2000)
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=b.data[1000:], headers={**OCTET, "Content-Range": "1000-1999"})
    assert r.status_code == 416, describe(r)
    r = reg.patch(loc, data=b.data[:1000], headers={**OCTET, "Content-Range": "0-999"})
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)
    # the same chunk again is out of order now
    r = reg.patch(loc, data=b.data[:1000], headers={**OCTET, "Content-Range": "0-999"})
    assert r.status_code == 416, describe(r)
    s = reg.get(loc)
    assert s.status_code == 204, describe(s)
    assert s.headers.get("Range") == "0-999", describe(s)
    r = reg.patch(reg.location(s), data=b.data[1000:], headers={**OCTET, "Content-Range": "1000-1999"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest})
    assert r.status_code == 201, describe(r)


def test_upload_status(reg, repo):
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=b"x" * 1234, headers=OCTET)
    assert r.status_code == 202, describe(r)
    s = reg.get(reg.location(r))
    assert s.status_code == 204, describe(s)
    assert s.headers.get("Range") == "0-1233", describe(s)
    assert reg.location_path(s).startswith(f"/v2/{repo}/blobs/uploads/"), describe(s)
    assert s.content == b""


def test_cancel_upload(reg, repo):
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=b"y" * 100, headers=OCTET)
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)
    d = reg.delete(loc)
    assert d.status_code == 204, describe(d)
    assert_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(reg.patch(loc, data=b"z", headers=OCTET), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(reg.put(loc, params={"digest": images.sha256(b"y" * 100)}), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(reg.delete(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_completed_upload_session_is_gone(reg, repo):
    b = blob_of(100)
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.put(loc, params={"digest": b.digest}, data=b.data, headers=OCTET)
    assert r.status_code == 201, describe(r)
    assert_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(reg.patch(loc, data=b"more", headers=OCTET), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_session_is_blob_upload_unknown(reg, repo, method):
    reg.push_blob(repo, blob_of(10))
    url = f"/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000"
    r = reg.request(method, url, data=b"abc" if method in ("PATCH", "PUT") else None,
                    params={"digest": images.sha256(b"abc")} if method == "PUT" else None, headers=OCTET)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_session_is_bound_to_its_repository(reg, new_repo):
    a, b = new_repo("a"), new_repo("b")
    reg.push_blob(b, blob_of(10))
    r = reg.start_upload(a)
    path = reg.location_path(r)
    other = path.replace(f"/v2/{a}/", f"/v2/{b}/", 1)
    assert_error(reg.get(other), 404, "BLOB_UPLOAD_UNKNOWN")


def test_malformed_content_range_is_blob_upload_invalid(reg, repo):
    r = reg.start_upload(repo)
    loc = reg.location(r)
    # Not a range at all: a bad request (Distribution: 400 BLOB_UPLOAD_INVALID); 416 is for a
    # well-formed chunk that does not continue the upload.
    r = reg.patch(loc, data=b"abcd", headers={**OCTET, "Content-Range": "bytes=zero-three"})
    assert_error(r, 400, "BLOB_UPLOAD_INVALID")


def test_content_range_not_matching_length_is_size_invalid(reg, repo):
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=b"abcd", headers={**OCTET, "Content-Range": "0-9", "Content-Length": "4"})
    assert_error(r, 400, "SIZE_INVALID")


def test_no_partial_blob_visible_before_put(reg, repo):
    b = blob_of(5000)
    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=b.data, headers=OCTET)
    assert r.status_code == 202, describe(r)
    assert not reg.blob_exists(repo, b.digest)


# -- name rules -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "Upper/case",
    "a",                       # shorter than 2
    "double//slash",
    "trailing-",
    "-leading",
    "dot..dot",
    "under__score_",
    "x" * 257,
    "ns/" + "y" * 254,
    "sp%20ace",
])
def test_invalid_repository_name_is_name_invalid(reg, name):
    r = reg.start_upload(name)
    assert_error(r, (400, 404), "NAME_INVALID")


@pytest.mark.parametrize("name", ["ab", "team-a/web-app", "a1/b2/c3/d4", "x.y_z-w/v", "n" * 200])
def test_valid_repository_names_are_accepted(reg, name):
    name = name if len(name) > 20 else f"{name}-{os.urandom(2).hex()}"
    create_repository(name, reg.server)
    b = blob_of(10)
    reg.push_blob(name, b)
    assert reg.blob_exists(name, b.digest)


# -- cross-repository mount ---------------------------------------------------------------

def test_mount_from_repository_that_has_the_blob_is_201(reg, new_repo):
    src, dst = new_repo("src"), new_repo("dst")
    b = blob_of(1500)
    reg.push_blob(src, b)
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": b.digest, "from": src})
    assert r.status_code == 201, describe(r)
    assert reg.location_path(r) == f"/v2/{dst}/blobs/{b.digest}", describe(r)
    assert r.headers.get("Docker-Content-Digest") == b.digest, describe(r)
    g = reg.get(f"/v2/{dst}/blobs/{b.digest}")
    assert g.status_code == 200 and g.content == b.data, describe(g)


def test_mount_of_blob_the_source_lacks_is_202_session(reg, new_repo):
    src, dst = new_repo("src"), new_repo("dst")
    reg.push_blob(src, blob_of(10))
    b = blob_of(700)
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": b.digest, "from": src})
    assert r.status_code == 202, describe(r)
    assert reg.location_path(r).startswith(f"/v2/{dst}/blobs/uploads/"), describe(r)
    # the session is a normal upload session
    r = reg.put(reg.location(r), params={"digest": b.digest}, data=b.data, headers=OCTET)
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{dst}/blobs/{b.digest}").content == b.data


def test_mount_does_not_leak_blobs_that_exist_only_elsewhere(reg, new_repo):
    """Blob exists on the server (in `holder`), but the named source does not have it: no mount."""
    holder, src, dst = new_repo("holder"), new_repo("src"), new_repo("dst")
    b = blob_of(800)
    reg.push_blob(holder, b)
    reg.push_blob(src, blob_of(10))
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": b.digest, "from": src})
    assert r.status_code == 202, describe(r)
    assert not reg.blob_exists(dst, b.digest)


def test_mount_from_unknown_repository_is_202(reg, new_repo):
    dst = new_repo("dst")
    b = blob_of(10)
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": b.digest, "from": "itest/does-not-exist-" + os.urandom(3).hex()})
    assert r.status_code == 202, describe(r)
    assert reg.location_path(r).startswith(f"/v2/{dst}/blobs/uploads/"), describe(r)


def test_mount_without_from_is_202(reg, new_repo):
    src, dst = new_repo("src"), new_repo("dst")
    b = blob_of(10)
    reg.push_blob(src, b)
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": b.digest})
    assert r.status_code == 202, describe(r)
    assert reg.location_path(r).startswith(f"/v2/{dst}/blobs/uploads/"), describe(r)


def test_mount_with_invalid_digest(reg, new_repo):
    src, dst = new_repo("src"), new_repo("dst")
    reg.push_blob(src, blob_of(10))
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": "sha256:nothex", "from": src})
    # Distribution answers an invalid mount digest with a plain upload session; rejecting it
    # as DIGEST_INVALID is also within the spec.
    if r.status_code == 202:
        assert reg.location_path(r).startswith(f"/v2/{dst}/blobs/uploads/"), describe(r)
    else:
        assert_error(r, 400, "DIGEST_INVALID")


# -- concurrency and interrupted clients ----------------------------------------------------

def test_concurrent_identical_uploads_both_succeed(berth, repo):
    b = blob_of(600000)
    results, errors = [], []

    def upload(i):
        try:
            reg = Registry(berth)
            r = reg.start_upload(repo)
            assert r.status_code == 202, describe(r)
            loc = reg.location(r)
            step = 100000
            for start in range(0, b.size, step):
                end = min(start + step, b.size) - 1
                r = reg.patch(loc, data=b.data[start:end + 1], headers={**OCTET, "Content-Range": f"{start}-{end}"})
                assert r.status_code == 202, describe(r)
                loc = reg.location(r)
                time.sleep(0.01)
            r = reg.put(loc, params={"digest": b.digest})
            results.append(r.status_code)
            assert r.status_code == 201, describe(r)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert results == [201, 201]
    reg = Registry(berth)
    g = reg.get(f"/v2/{repo}/blobs/{b.digest}")
    assert g.status_code == 200 and g.content == b.data, describe(g)


def test_many_concurrent_monolithic_uploads_of_the_same_blob(berth, repo):
    b = blob_of(50000)
    codes = []
    lock = threading.Lock()

    def upload():
        r = Registry(berth).post(f"/v2/{repo}/blobs/uploads/", params={"digest": b.digest}, data=b.data, headers=OCTET)
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert codes == [201] * 8, codes
    assert Registry(berth).get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def _raw_request_then_hang_up(berth, method, path_query, headers, body_part):
    """Send a request with a Content-Length larger than what is sent, then close the socket."""
    user, password = __import__("conftest").registry_credentials(berth)
    import base64

    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    host, port = berth.host.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    lines = [f"{method} {path_query} HTTP/1.1", f"Host: {berth.host}", f"Authorization: Basic {auth}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body_part)
    time.sleep(0.3)
    s.shutdown(socket.SHUT_RDWR)
    s.close()
    time.sleep(0.3)


def test_client_disconnect_mid_put_leaves_nothing_visible(berth, reg, repo):
    b = blob_of(2 * 1024 * 1024)
    r = reg.start_upload(repo)
    u = urlsplit(reg.location(r))
    pq = u.path + "?" + (u.query + "&" if u.query else "") + "digest=" + b.digest
    _raw_request_then_hang_up(berth, "PUT", pq, {"Content-Type": "application/octet-stream",
                                                 "Content-Length": str(b.size)}, b.data[: b.size // 2])
    assert not reg.blob_exists(repo, b.digest)
    assert reg.get("/v2/").status_code == 200
    # the digest can still be uploaded properly afterwards
    reg.push_blob(repo, b)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_client_disconnect_mid_monolithic_post_leaves_nothing_visible(berth, reg, repo):
    b = blob_of(1024 * 1024)
    reg.push_blob(repo, blob_of(10))
    _raw_request_then_hang_up(berth, "POST", f"/v2/{repo}/blobs/uploads/?digest={b.digest}",
                              {"Content-Type": "application/octet-stream", "Content-Length": str(b.size)},
                              b.data[:1000])
    assert not reg.blob_exists(repo, b.digest)
    assert reg.get("/v2/").status_code == 200


def test_session_resumes_at_once_after_a_disconnect_mid_patch(berth, reg, repo):
    """A client that drops the connection mid-PATCH (the FIN right behind its last bytes) can ask where the
    session stands and go on from there straight away: the aborted request does not keep the session busy."""
    import base64

    b = blob_of(6 * 1024 * 1024)
    sent = 5 * 1024 * 1024 + 123
    r = reg.start_upload(repo)
    u = urlsplit(reg.location(r))
    pq = u.path + (("?" + u.query) if u.query else "")
    user, password = __import__("conftest").registry_credentials(berth)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    host, port = berth.host.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    head = (f"PATCH {pq} HTTP/1.1\r\nHost: {berth.host}\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {b.size}\r\n\r\n")
    s.sendall(head.encode() + b.data[:sent])
    s.close()  # no pause: the FIN travels with the last segments
    deadline = time.time() + 5
    while True:
        st = reg.get(reg.location(r))
        assert st.status_code == 204, describe(st)
        end = int(st.headers["Range"].split("-")[1]) + 1
        assert 0 < end <= sent, describe(st)
        try:
            p = reg.patch(reg.location(r), data=b.data[end:],
                          headers={**OCTET, "Content-Range": f"{end}-{b.size - 1}"})
        except OSError as e:  # refused before the body was read: the connection is closed on it
            p = e
        if getattr(p, "status_code", None) == 202 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert getattr(p, "status_code", None) == 202, p if isinstance(p, Exception) else describe(p)
    f = reg.put(reg.location(p), params={"digest": b.digest})
    assert f.status_code == 201, describe(f)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_client_disconnect_mid_patch_leaves_nothing_visible(berth, reg, repo):
    b = blob_of(1024 * 1024)
    r = reg.start_upload(repo)
    u = urlsplit(reg.location(r))
    pq = u.path + (("?" + u.query) if u.query else "")
    _raw_request_then_hang_up(berth, "PATCH", pq, {"Content-Type": "application/octet-stream",
                                                   "Content-Length": str(b.size)}, b.data[:5000])
    assert not reg.blob_exists(repo, b.digest)
    assert reg.get("/v2/").status_code == 200
    s = reg.get(reg.location(r))
    # The session may be gone or may hold a prefix of what arrived; it must not claim more.
    if s.status_code == 204:
        rng = s.headers.get("Range", "")
        end = int(rng.split("-")[1]) if "-" in rng else -1
        assert end < 5000, describe(s)
    else:
        assert_error(s, 404, "BLOB_UPLOAD_UNKNOWN")


def test_large_blob_streams(reg, repo):
    """64 MiB through one PATCH and back; digests checked on both sides."""
    import hashlib

    size = 64 * 1024 * 1024
    seed = os.urandom(16)
    h = hashlib.sha256()

    def gen():
        block = hashlib.sha512(seed).digest() * 16384  # 1 MiB
        for i in range(size // len(block)):
            chunk = block[:-8] + i.to_bytes(8, "big")
            h.update(chunk)
            yield chunk

    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=gen(), headers=OCTET)
    assert r.status_code == 202, describe(r)
    digest = "sha256:" + h.hexdigest()
    r = reg.put(reg.location(r), params={"digest": digest})
    assert r.status_code == 201, describe(r)
    g = reg.get(f"/v2/{repo}/blobs/{digest}", stream=True)
    assert g.status_code == 200
    h2 = hashlib.sha256()
    n = 0
    for chunk in g.iter_content(1 << 20):
        h2.update(chunk)
        n += len(chunk)
    assert n == size
    assert "sha256:" + h2.hexdigest() == digest


# -- hostile paths ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/v2/{repo}/blobs/uploads/..%2F..%2F..%2Fkeys%2Fmaster.key",
    "/v2/{repo}/blobs/uploads/../../../etc/passwd",
    "/v2/{repo}/blobs/uploads/%2e%2e",
    "/v2/{repo}/blobs/uploads/" + "a" * 5000,
    "/v2/%2e%2e/%2e%2e/blobs/sha256:" + "0" * 64,
    "/v2/{repo}/blobs/sha256:..%2F..%2Fx",
    "/v2/{repo}/manifests/..%2F..%2Fx",
    "/v2/{repo}/../../../etc/passwd",
    "/v2/{repo}/blobs/uploads/%00",
])
def test_hostile_paths_are_refused_cleanly(berth, reg, repo, path):
    """Sent byte for byte (no client-side dot-segment removal). Under /v2 every JSON error
    body must use the spec's codes ("The code field MUST be one of the following")."""
    import json

    reg.push_blob(repo, blob_of(10))
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        body = b"x" if method in ("PATCH", "PUT") else b""
        status, headers, data = raw_http(berth, method, path.format(repo=repo),
                                         {"Content-Type": "application/octet-stream",
                                          "Content-Length": str(len(body))}, [body])
        what = f"{method} {path} -> {status} {data[:200]!r}"
        assert status in (400, 404, 405, 414), what
        if "json" in headers.get("content-type", ""):
            codes = [e["code"] for e in json.loads(data)["errors"]]
            assert set(codes) <= SPEC_CODES, what
    assert reg.get("/v2/").status_code == 200


def test_concurrent_pushes_into_one_repository(berth, repo):
    imgs = [images.make_image(label=f"conc{i}") for i in range(16)]
    errors = []

    def push(i):
        try:
            Registry(berth).push_image(repo, imgs[i], tag=f"t{i:02d}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(imgs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    reg = Registry(berth)
    assert reg.tags(repo) == [f"t{i:02d}" for i in range(len(imgs))]
    for i, img in enumerate(imgs):
        assert reg.get_manifest(repo, f"t{i:02d}").content == img.manifest
