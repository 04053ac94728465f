"""Blobs on an S3-compatible object store (--blob-store s3://...) against a real Ceph RGW that the
session starts (scripts/rgw.sh): skopeo push and pull through 307 redirects to presigned URLs and
through the proxy mode; chunked uploads with chunks below and above S3's 5 MiB part minimum; an
upload that goes on after a restart and on another server; HEAD and Range in both modes; a digest
mismatch leaves no object; GetDownloadUrlForLayer hands out a working S3 URL; GC deletes the
objects the database no longer needs and keeps the others; radosgw killed mid-upload fails the
push cleanly and leaves the metadata as it was."""

import hashlib
import os
import subprocess
from urllib.parse import urlsplit

import boto3
import pytest
import requests

import images
from conftest import ContainerTools, create_repository
from regclient import Registry, assert_error, describe

MiB = 1 << 20


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_key(env, digest):
    prefix = env["BERTH_BLOB_STORE"].split("?")[0].split("/", 3)[3]
    alg, hexd = digest.split(":")
    return f"{prefix}/blobs/{alg}/{hexd[:2]}/{hexd}"


def object_exists(rgw, env, digest) -> bool:
    try:
        rgw.s3().head_object(Bucket=rgw.bucket, Key=blob_key(env, digest))
        return True
    except rgw.s3().exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e
        return False


def keys_under(rgw, env, sub=""):
    prefix = env["BERTH_BLOB_STORE"].split("?")[0].split("/", 3)[3] + "/" + sub
    out = rgw.s3().list_objects_v2(Bucket=rgw.bucket, Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


@pytest.fixture(scope="module")
def s3srv(rgw, berth_factory, tmp_path_factory):
    """A berth on the RGW with redirects on; its environment as .s3env."""
    data = tmp_path_factory.mktemp("s3berth") / "data"
    env = rgw.blob_env(data, redirect="on")
    srv = berth_factory(data_dir=data, extra_env=env)
    srv.s3env = env
    return srv


@pytest.fixture(scope="module")
def proxysrv(rgw, berth_factory, tmp_path_factory):
    data = tmp_path_factory.mktemp("s3proxy") / "data"
    env = rgw.blob_env(data, redirect="off")
    srv = berth_factory(data_dir=data, extra_env=env)
    srv.s3env = env
    return srv


@pytest.fixture
def ctools_for(tmp_path_factory):
    """skopeo with a private configuration, for a given server."""
    return lambda srv: ContainerTools(tmp_path_factory.mktemp("containers"), srv)


def new_repo(srv, name):
    return create_repository(f"s3/{name}-{images.token(3)}", srv)


def chunked_upload(reg, repo, chunks, digest=None, put_last=b""):
    """POST, one PATCH per chunk (Content-Range), PUT ?digest= with put_last; returns the PUT's
    response and the session's location."""
    data = b"".join(chunks) + put_last
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    loc, off = reg.location(r), 0
    for c in chunks:
        r = reg.patch(loc, data=c, headers={"Content-Type": "application/octet-stream",
                                            "Content-Range": f"{off}-{off + len(c) - 1}"})
        assert r.status_code == 202, describe(r)
        off += len(c)
        assert r.headers["Range"] == f"0-{off - 1}"
        loc = reg.location(r)
    r = reg.put(loc, params={"digest": digest or sha(data)}, data=put_last,
                headers={"Content-Type": "application/octet-stream"})
    return r, loc


def test_skopeo_push_and_pull_through_redirects(s3srv, rgw, ctools_for, tmp_path):
    ct = ctools_for(s3srv)
    img = images.make_image(nlayers=2, layer_size=12 * MiB)       # layers of more than one multipart part
    assert all(layer.size > 8 * MiB for layer in img.layers)
    layout = images.write_oci_layout(tmp_path / "in", {"v1": img})
    repo = new_repo(s3srv, "skopeo")
    dest = f"docker://{s3srv.host}/{repo}:v1"
    ct.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ct.creds(), f"oci:{layout}:v1", dest)
    for b in img.blobs:
        assert object_exists(rgw, s3srv.s3env, b.digest), b.digest
    assert not keys_under(rgw, s3srv.s3env, "uploads/"), "sessions left behind after the push"
    out = tmp_path / "out"
    ct.skopeo("copy", "--src-tls-verify=false", "--src-creds", ct.creds(), dest, f"oci:{out}:v1")
    for b in img.blobs:
        alg, hexd = b.digest.split(":")
        assert (out / "blobs" / alg / hexd).read_bytes() == b.data
    # the pull took its bytes from RGW: berth answered every blob GET with a 307
    reg = Registry(s3srv)
    r = reg.get(f"/v2/{repo}/blobs/{img.layers[0].digest}")
    assert r.status_code == 307, describe(r)
    assert r.headers["Location"].startswith(rgw.endpoint + "/"), r.headers["Location"]


def test_redirect_serves_bytes_and_ranges(s3srv, rgw):
    reg = Registry(s3srv)
    repo = new_repo(s3srv, "redirect")
    blob = images.random_blob(3 * MiB + 7, b"redirect")
    reg.push_blob(repo, blob)
    r = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert r.status_code == 307, describe(r)
    url = r.headers["Location"]
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    got = requests.get(url, timeout=30)
    assert got.status_code == 200 and got.content == blob.data
    part = requests.get(url, headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert part.status_code == 206 and part.content == blob.data[1000:2000]
    # a tampered URL is refused by RGW: the signature covers the key
    other = url.replace(blob.digest.split(":")[1][:8], "00000000", 1)
    assert requests.get(other, timeout=30).status_code == 403
    h = reg.head(f"/v2/{repo}/blobs/{blob.digest}")
    assert h.status_code == 200 and int(h.headers["Content-Length"]) == blob.size
    assert h.headers["Docker-Content-Digest"] == blob.digest
    # a repository without the blob gets no URL
    assert_error(reg.get(f"/v2/{new_repo(s3srv, 'other')}/blobs/{blob.digest}"), 404, "BLOB_UNKNOWN")


def test_proxy_mode_head_range_and_pull(proxysrv, ctools_for, tmp_path):
    reg = Registry(proxysrv)
    repo = new_repo(proxysrv, "proxy")
    blob = images.random_blob(9 * MiB + 5, b"proxy")
    reg.push_blob(repo, blob)
    r = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert r.status_code == 200 and r.content == blob.data, describe(r)
    r = reg.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": f"bytes={8 * MiB}-{8 * MiB + 99}"})
    assert r.status_code == 206 and r.content == blob.data[8 * MiB:8 * MiB + 100], describe(r)
    assert r.headers["Content-Range"] == f"bytes {8 * MiB}-{8 * MiB + 99}/{blob.size}"
    r = reg.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == blob.data[-10:]
    h = reg.head(f"/v2/{repo}/blobs/{blob.digest}")
    assert h.status_code == 200 and int(h.headers["Content-Length"]) == blob.size and not h.content
    h = reg.head(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": "bytes=0-9"})
    assert h.status_code == 206 and int(h.headers["Content-Length"]) == 10
    r = reg.get(f"/v2/{repo}/blobs/{blob.digest}", headers={"Range": f"bytes={blob.size}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{blob.size}"
    # skopeo pulls through berth
    img = images.make_image(nlayers=2)
    reg.push_image(repo, img, tag="v1")
    ct = ctools_for(proxysrv)
    out = tmp_path / "out"
    ct.skopeo("copy", "--src-tls-verify=false", "--src-creds", ct.creds(), f"docker://{proxysrv.host}/{repo}:v1",
              f"oci:{out}:v1")
    for b in img.blobs:
        alg, hexd = b.digest.split(":")
        assert (out / "blobs" / alg / hexd).read_bytes() == b.data


def test_chunks_below_and_above_the_part_minimum(s3srv, rgw):
    reg = Registry(s3srv)
    repo = new_repo(s3srv, "chunks")
    chunks = [os.urandom(n) for n in (1 * MiB, 100, 6 * MiB, 9 * MiB + 3, 2 * MiB)]
    last = os.urandom(777)
    data = b"".join(chunks) + last
    r, _ = chunked_upload(reg, repo, chunks, put_last=last)
    assert r.status_code == 201, describe(r)
    assert r.headers["Docker-Content-Digest"] == sha(data)
    assert object_exists(rgw, s3srv.s3env, sha(data))
    got = requests.get(reg.get(f"/v2/{repo}/blobs/{sha(data)}").headers["Location"], timeout=60)
    assert got.content == data
    # many chunks smaller than a part, one object at the end
    small = [os.urandom(300 * 1024) for _ in range(30)]
    r, _ = chunked_upload(reg, repo, small)
    assert r.status_code == 201, describe(r)
    assert requests.get(reg.get(f"/v2/{repo}/blobs/{sha(b''.join(small))}").headers["Location"],
                        timeout=60).content == b"".join(small)


def test_upload_goes_on_after_a_restart(rgw, berth_factory, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("s3restart") / "data"
    env = rgw.blob_env(data_dir, redirect="off")
    srv = berth_factory(data_dir=data_dir, extra_env=env)
    reg = Registry(srv)
    repo = new_repo(srv, "restart")
    a, b, c = os.urandom(3 * MiB), os.urandom(10 * MiB), os.urandom(4 * MiB)
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=a, headers={"Content-Range": f"0-{len(a) - 1}"})
    assert r.status_code == 202, describe(r)
    r = reg.patch(reg.location(r), data=b, headers={"Content-Range": f"{len(a)}-{len(a) + len(b) - 1}"})
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)
    uploads = keys_under(rgw, env, "uploads/")
    assert any(k.endswith("/state") for k in uploads) and any(k.endswith("/staged") for k in uploads), uploads
    srv.restart()
    reg = Registry(srv)
    st = reg.get(loc)
    assert st.status_code == 204 and st.headers["Range"] == f"0-{len(a) + len(b) - 1}", describe(st)
    r = reg.put(loc, params={"digest": sha(a + b + c)}, data=c)
    assert r.status_code == 201, describe(r)
    got = reg.get(f"/v2/{repo}/blobs/{sha(a + b + c)}")
    assert got.status_code == 200 and got.content == a + b + c
    assert not keys_under(rgw, env, "uploads/")


def test_upload_moves_between_servers(rgw, berth_factory, tmp_path_factory):
    """Two servers on one data directory (one SQLite file) and one bucket prefix: the session
    lives in the database and the object store, so either may take the next chunk."""
    data_dir = tmp_path_factory.mktemp("s3two") / "data"
    env = rgw.blob_env(data_dir, redirect="off")
    one = berth_factory(data_dir=data_dir, extra_env=env)
    two = berth_factory(data_dir=data_dir, extra_env=env)
    r1, r2 = Registry(one), Registry(two)
    repo = new_repo(one, "two")
    parts = [os.urandom(2 * MiB), os.urandom(7 * MiB), os.urandom(1 * MiB), os.urandom(9 * MiB)]
    r = r1.start_upload(repo)
    path, off = r1.location_path(r), 0
    for i, p in enumerate(parts):
        reg = (r1, r2)[i % 2]
        r = reg.patch(path, data=p, headers={"Content-Range": f"{off}-{off + len(p) - 1}"})
        assert r.status_code == 202, f"chunk {i} on server {i % 2 + 1}: {describe(r)}"
        off += len(p)
        path = reg.location_path(r)
    whole = b"".join(parts)
    r = r2.put(path, params={"digest": sha(whole)})
    assert r.status_code == 201, describe(r)
    for reg in (r1, r2):
        got = reg.get(f"/v2/{repo}/blobs/{sha(whole)}")
        assert got.status_code == 200 and got.content == whole


def test_digest_mismatch_leaves_nothing_visible(s3srv, rgw):
    reg = Registry(s3srv)
    repo = new_repo(s3srv, "mismatch")
    for chunks in ([os.urandom(2 * MiB)], [os.urandom(9 * MiB), os.urandom(3 * MiB)]):
        data = b"".join(chunks)
        wrong = sha(data + b"x")
        r, loc = chunked_upload(reg, repo, chunks, digest=wrong)
        assert_error(r, 400, "DIGEST_INVALID")
        for d in (wrong, sha(data)):
            assert not object_exists(rgw, s3srv.s3env, d), d
            assert reg.head(f"/v2/{repo}/blobs/{d}").status_code == 404
        # the session stays, with every byte: the right digest completes it
        r = reg.put(loc, params={"digest": sha(data)})
        assert r.status_code == 201, describe(r)
        assert object_exists(rgw, s3srv.s3env, sha(data))


def test_get_download_url_for_layer_is_a_presigned_s3_url(s3srv, rgw):
    reg = Registry(s3srv)
    repo = new_repo(s3srv, "dl")
    blob = images.random_blob(6 * MiB + 1, b"dl")
    reg.push_blob(repo, blob)
    ecr = boto3.client("ecr", endpoint_url=s3srv.url, region_name=s3srv.region,
                       aws_access_key_id=s3srv.access_key, aws_secret_access_key=s3srv.secret)
    out = ecr.get_download_url_for_layer(repositoryName=repo, layerDigest=blob.digest)
    assert out["layerDigest"] == blob.digest
    u = urlsplit(out["downloadUrl"])
    assert f"{u.scheme}://{u.netloc}" == rgw.endpoint and "X-Amz-Expires=3600" in u.query
    got = requests.get(out["downloadUrl"], timeout=60)
    assert got.status_code == 200 and got.content == blob.data


def test_gc_deletes_unreferenced_objects_and_keeps_referenced(rgw, berth_factory, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("s3gc") / "data"
    env = rgw.blob_env(data_dir, redirect="off")
    srv = berth_factory(data_dir=data_dir, extra_env=env, extra_args=["--gc-interval-seconds", "86400"])
    reg = Registry(srv)
    repo = new_repo(srv, "gc")
    keep = images.make_image(label="keep", nlayers=2)
    reg.push_image(repo, keep, tag="keep")
    stray = images.random_blob(6 * MiB, b"stray")
    reg.push_blob(repo, stray)
    assert object_exists(rgw, env, stray.digest)
    # an object with no record (what a crash between the object and its record leaves)
    orphan = b"orphan bytes"
    rgw.s3().put_object(Bucket=rgw.bucket, Key=blob_key(env, sha(orphan)), Body=orphan)

    def gc(*args):
        p = subprocess.run([str(srv.binary), "gc", "--data", str(data_dir), *args], capture_output=True, text=True,
                           timeout=120, env={**os.environ, **env})
        assert p.returncode == 0, p.stderr
        return p.stdout

    out = gc()                                   # the review delay (an hour) protects both
    assert "0 blobs and 0 orphan files" in out, out
    assert object_exists(rgw, env, stray.digest) and object_exists(rgw, env, sha(orphan))
    out = gc("--gc-review-delay-seconds", "0")
    assert "1 blobs and 1 orphan files" in out, out
    assert not object_exists(rgw, env, stray.digest)
    assert not object_exists(rgw, env, sha(orphan))
    for b in keep.blobs:
        assert object_exists(rgw, env, b.digest), b.digest
        r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert r.status_code == 200 and r.content == b.data
    # fsck checks the records against the objects
    p = subprocess.run([str(srv.binary), "fsck", "--data", str(data_dir)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, **env})
    assert p.returncode == 0, p.stdout + p.stderr
    rgw.s3().delete_object(Bucket=rgw.bucket, Key=blob_key(env, keep.layers[0].digest))
    p = subprocess.run([str(srv.binary), "fsck", "--data", str(data_dir)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, **env})
    assert p.returncode == 1 and keep.layers[0].digest in p.stdout, p.stdout + p.stderr


def test_radosgw_killed_mid_upload_fails_cleanly(rgw, berth_factory, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("s3kill") / "data"
    env = rgw.blob_env(data_dir, redirect="off")
    srv = berth_factory(data_dir=data_dir, extra_env=env)
    reg = Registry(srv)
    repo = new_repo(srv, "kill")
    before = images.make_image(label="before", nlayers=1)
    reg.push_image(repo, before, tag="before")
    a = os.urandom(2 * MiB)
    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=a, headers={"Content-Range": f"0-{len(a) - 1}"})
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)
    rgw.kill_gateway()
    try:
        # a chunk that stays below a part: berth reads all of it and fails when it saves it (a bigger
        # one fails mid-body, when a part cannot be sent, and the connection is closed on the client)
        b = os.urandom(3 * MiB)
        r = reg.patch(loc, data=b, headers={"Content-Range": f"{len(a)}-{len(a) + len(b) - 1}"})
        assert r.status_code == 500, describe(r)
        assert "object store unavailable" in srv.log_text()
        data = a + b
        r = reg.put(loc, params={"digest": sha(data)})
        assert r.status_code >= 400, describe(r)
        after = images.make_image(label="after", nlayers=1)
        create_repository(repo, srv)
        blob = after.layers[0]
        r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest}, data=blob.data)
        assert r.status_code >= 500, describe(r)
        assert reg.head(f"/v2/{repo}/blobs/{blob.digest}").status_code == 404
        r = reg.put_manifest(repo, "after", after.manifest, after.media_type)
        assert_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
        assert srv.alive()
    finally:
        rgw.start_gateway()
    # the metadata is as it was; the earlier image still pulls
    assert reg.tags(repo) == ["before"]
    assert reg.get_manifest(repo, "before").content == before.manifest
    for b in before.blobs:
        assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_blob_store_file_dir_and_refusals(rgw, berth_factory, tmp_path):
    """file:DIR keeps blobs in DIR; a bad URL, missing credentials and --archive-dir with s3 stop the
    start with a message that says why (and never the secret)."""
    data, blobs = tmp_path / "data", tmp_path / "elsewhere"
    srv = berth_factory(data_dir=data, extra_env={"BERTH_BLOB_STORE": f"file:{blobs}"})
    reg = Registry(srv)
    repo = new_repo(srv, "filedir")
    blob = images.random_blob(70000, b"filedir")
    reg.push_blob(repo, blob)
    hexd = blob.digest.split(":")[1]
    assert (blobs / "sha256" / hexd[:2] / hexd).read_bytes() == blob.data
    assert not (data / "blobs" / "sha256" / hexd[:2] / hexd).exists()
    assert reg.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data

    good = rgw.blob_env(tmp_path / "refused")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    cases = [
        ({**good, "BERTH_BLOB_STORE": "ftp://bucket"}, [], "neither file:DIR nor s3://BUCKET"),
        ({**good, "BERTH_BLOB_STORE": "s3://berth-blobs/x"}, [], "endpoint="),
        ({"BERTH_BLOB_STORE": good["BERTH_BLOB_STORE"]}, [], "BERTH_S3_ACCESS_KEY_ID"),
        (good, ["--archive-dir", str(tmp_path / "archive")], "--archive-dir cannot be used with an s3 blob store"),
        ({**good, "BERTH_BLOB_REDIRECT": "maybe"}, [], "--blob-redirect is 'on' or 'off'"),
    ]
    for extra, args, why in cases:
        p = subprocess.run([str(srv.binary), "serve", "--listen", "127.0.0.1:1", "--data", str(tmp_path / "refused"),
                            *args], env={**env, **extra}, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and why in p.stderr, (extra, args, p.stderr)
        assert rgw.secret_key not in p.stdout + p.stderr


def test_credentials_from_a_file_and_never_logged(rgw, berth_factory, tmp_path):
    data = tmp_path / "data"
    cred = tmp_path / "s3.credentials"
    cred.write_text(f"# for berth\naccess_key_id = {rgw.access_key}\nsecret_access_key = {rgw.secret_key}\n")
    cred.chmod(0o600)
    env = {"BERTH_BLOB_STORE": rgw.blob_env(data)["BERTH_BLOB_STORE"], "BERTH_S3_CREDENTIALS_FILE": str(cred),
           "BERTH_BLOB_REDIRECT": "off"}
    srv = berth_factory(data_dir=data, extra_env=env)
    reg = Registry(srv)
    repo = new_repo(srv, "credfile")
    blob = images.random_blob(9 * MiB + 1, b"credfile")
    reg.push_blob(repo, blob)
    assert reg.get(f"/v2/{repo}/blobs/{blob.digest}").content == blob.data
    assert object_exists(rgw, rgw.blob_env(data), blob.digest)
    assert rgw.secret_key not in srv.log_text()
