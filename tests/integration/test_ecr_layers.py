"""ECR layer operations: BatchCheckLayerAvailability, GetDownloadUrlForLayer, InitiateLayerUpload,
UploadLayerPart, CompleteLayerUpload, driven with boto3 and the aws CLI.

A layer uploaded through the control plane is an ordinary /v2 blob afterwards: it is fetched
byte-exact over /v2 with the login token and used by a manifest. Download URLs are fetched with
plain requests (no credentials) and must be refused once tampered with.
"""

import hashlib
import json
import os
import re
import uuid
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import boto3
import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError

import images
from conftest import repo_name_for, run
from regclient import Registry, describe

PART_SIZE = 10485760  # what ECR's InitiateLayerUpload advises
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def ecr_client(server):
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                                      read_timeout=60))


def ecr_error(excinfo, code, status=400):
    """The ClientError is `code` with HTTP `status`; returns its message."""
    resp = excinfo.value.response
    got = resp.get("Error", {}).get("Code")
    assert got == code, f"expected {code}, got {got}: {resp}"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status, resp
    return resp["Error"].get("Message", "")


def make_repository(server, ecr, name):
    """Create `name` with CreateRepository, or by a /v2 push while CreateRepository is not there."""
    try:
        ecr.create_repository(repositoryName=name)
        return name
    except ClientError as e:
        if e.response["Error"]["Code"] == "RepositoryAlreadyExistsException":
            return name
        if e.response["Error"]["Code"] != "UnsupportedOperationException":
            raise
    Registry(server).push_blob(name, images.random_blob(64).data)
    return name


def ecr_upload(ecr, repo, data, part_sizes=None):
    """InitiateLayerUpload, UploadLayerPart per part, CompleteLayerUpload; returns the digest."""
    up = ecr.initiate_layer_upload(repositoryName=repo)
    uid = up["uploadId"]
    sizes = part_sizes or [len(data)]
    assert sum(sizes) == len(data)
    pos = 0
    for n in sizes:
        r = ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=pos, partLastByte=pos + n - 1,
                                  layerPartBlob=data[pos:pos + n])
        assert r["lastByteReceived"] == pos + n - 1, r
        pos += n
    digest = images.sha256(data)
    r = ecr.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[digest])
    assert r["layerDigest"] == digest, r
    return digest


def put_image(server, ecr, repo, img, tag):
    """PutImage, or a /v2 manifest PUT while PutImage is not there yet. Returns the manifest digest."""
    try:
        r = ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(),
                          imageManifestMediaType=img.media_type, imageTag=tag)
        assert r["image"]["imageId"]["imageDigest"] == img.digest, r
        return img.digest
    except ClientError as e:
        if e.response["Error"]["Code"] != "UnsupportedOperationException":
            raise
    r = Registry(server).put_manifest(repo, tag, img.manifest, img.media_type)
    assert r.status_code == 201, describe(r)
    return img.digest


def cli_env(server):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
    env.pop("AWS_SESSION_TOKEN", None)
    return env


def aws_ecr(server, *args, check=True):
    """Run `aws ecr <args>` against the server; returns (parsed JSON or None, process)."""
    p = run(["aws", "ecr", *args, "--endpoint-url", server.url, "--region", server.region, "--output", "json"],
            env=cli_env(server), timeout=120, check=check, redact=[server.secret])
    out = json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else None
    return out, p


def with_query(url, **changes):
    """url with some query parameters replaced (None removes one)."""
    u = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
    for k, v in changes.items():
        if v is None:
            q.pop(k, None)
        else:
            q[k] = v
    return urlunsplit((u.scheme, u.netloc, u.path, urlencode(q), ""))


def with_path(url, path):
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, path, u.query, ""))


def signed_json(server, target, body: bytes):
    """A SigV4-signed AWS JSON 1.1 request with a body boto3 would never send (e.g. bad base64)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="POST", url=server.url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921." + target,
    })
    SigV4Auth(Credentials(server.access_key, server.secret), "ecr", server.region).add_auth(req)
    return requests.post(server.url + "/", data=body, headers=dict(req.headers.items()), timeout=30)


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ecr(berth):
    return ecr_client(berth)


@pytest.fixture
def lrepo(request, berth, ecr):
    """A fresh repository for this test, created."""
    return make_repository(berth, ecr, repo_name_for(request.node.name, prefix="layers"))


@pytest.fixture
def lrepo_factory(request, berth, ecr):
    def make(suffix):
        return make_repository(berth, ecr, repo_name_for(request.node.name + "-" + suffix, prefix="layers"))

    return make


# ---------------------------------------------------------------------------------------
# The whole push through the control plane
# ---------------------------------------------------------------------------------------

def test_upload_in_three_parts_then_pull_over_v2_and_use_in_a_manifest(berth, ecr, lrepo):
    img = images.make_image(layer_size=150_000)
    layer = img.layers[0]
    data = layer.data
    assert len(data) > 3000

    # before: neither blob is there
    r = ecr.batch_check_layer_availability(repositoryName=lrepo, layerDigests=[layer.digest, img.config.digest])
    assert r["failures"] == [], r
    assert {(x["layerDigest"], x["layerAvailability"]) for x in r["layers"]} == \
        {(layer.digest, "UNAVAILABLE"), (img.config.digest, "UNAVAILABLE")}, r

    up = ecr.initiate_layer_upload(repositoryName=lrepo)
    uid = up["uploadId"]
    assert UUID_RE.match(uid), up
    assert up["partSize"] == PART_SIZE, up

    cuts = [0, len(data) // 3, 2 * len(data) // 3 + 7, len(data)]
    for a, b in zip(cuts, cuts[1:]):
        r = ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=a, partLastByte=b - 1,
                                  layerPartBlob=data[a:b])
        assert r["lastByteReceived"] == b - 1, r
        assert r["uploadId"] == uid and r["repositoryName"] == lrepo, r
        assert r["registryId"] == berth.account_id, r

    # not visible until completed
    r = ecr.batch_check_layer_availability(repositoryName=lrepo, layerDigests=[layer.digest])
    assert r["layers"][0]["layerAvailability"] == "UNAVAILABLE", r

    r = ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[layer.digest])
    assert r["layerDigest"] == layer.digest, r
    assert r["uploadId"] == uid and r["repositoryName"] == lrepo and r["registryId"] == berth.account_id, r

    r = ecr.batch_check_layer_availability(repositoryName=lrepo, layerDigests=[layer.digest])
    assert r["failures"] == [], r
    assert len(r["layers"]) == 1, r
    assert r["layers"][0]["layerAvailability"] == "AVAILABLE", r
    assert r["layers"][0]["layerSize"] == len(data), r
    assert r["layers"][0]["layerDigest"] == layer.digest, r

    # a /v2 blob like any other: byte-exact with the login token
    reg = Registry(berth)
    g = reg.get(f"/v2/{lrepo}/blobs/{layer.digest}")
    assert g.status_code == 200, describe(g)
    assert g.content == data
    assert g.headers.get("Docker-Content-Digest") == layer.digest, describe(g)

    # the config through the control plane too (one part), then the manifest that uses both
    ecr_upload(ecr, lrepo, img.config.data)
    digest = put_image(berth, ecr, lrepo, img, "v1")
    m = reg.get_manifest(lrepo, "v1")
    assert m.status_code == 200, describe(m)
    assert m.content == img.manifest
    assert m.headers.get("Docker-Content-Digest") == digest, describe(m)


def test_upload_with_the_aws_cli(berth, lrepo, tmp_path):
    data = images.random_blob(70_000).data
    digest = images.sha256(data)
    up, _ = aws_ecr(berth, "initiate-layer-upload", "--repository-name", lrepo)
    uid = up["uploadId"]
    assert UUID_RE.match(uid) and up["partSize"] == PART_SIZE, up

    half = 40_000
    for i, (a, b) in enumerate(((0, half), (half, len(data)))):
        f = tmp_path / f"part{i}"
        f.write_bytes(data[a:b])
        out, _ = aws_ecr(berth, "upload-layer-part", "--repository-name", lrepo, "--upload-id", uid,
                         "--part-first-byte", str(a), "--part-last-byte", str(b - 1),
                         "--layer-part-blob", f"fileb://{f}")
        assert out["lastByteReceived"] == b - 1 and out["uploadId"] == uid, out

    out, _ = aws_ecr(berth, "complete-layer-upload", "--repository-name", lrepo, "--upload-id", uid,
                     "--layer-digests", digest)
    assert out["layerDigest"] == digest and out["repositoryName"] == lrepo, out

    out, _ = aws_ecr(berth, "batch-check-layer-availability", "--repository-name", lrepo,
                     "--layer-digests", digest, "sha256:" + "0" * 64, "sha256:short")
    avail = {x["layerDigest"]: x for x in out["layers"]}
    assert avail[digest]["layerAvailability"] == "AVAILABLE" and avail[digest]["layerSize"] == len(data), out
    assert avail["sha256:" + "0" * 64]["layerAvailability"] == "UNAVAILABLE", out
    assert [(f["layerDigest"], f["failureCode"]) for f in out["failures"]] == [("sha256:short", "InvalidLayerDigest")], out

    out, _ = aws_ecr(berth, "get-download-url-for-layer", "--repository-name", lrepo, "--layer-digest", digest)
    assert out["layerDigest"] == digest, out
    g = requests.get(out["downloadUrl"], timeout=30)
    assert g.status_code == 200, describe(g)
    assert g.content == data

    # an error comes out as the CLI shows ECR's errors
    _, p = aws_ecr(berth, "complete-layer-upload", "--repository-name", lrepo, "--upload-id", str(uuid.uuid4()),
                   "--layer-digests", digest, check=False)
    assert p.returncode != 0
    assert "UploadNotFoundException" in p.stderr, p.stderr


def test_v2_and_the_control_plane_share_upload_sessions(berth, ecr, lrepo):
    """An upload started with InitiateLayerUpload can be finished over /v2 (and the other way round)."""
    reg = Registry(berth)
    data = images.random_blob(5000).data
    digest = images.sha256(data)
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=1999,
                          layerPartBlob=data[:2000])
    r = reg.put(f"/v2/{lrepo}/blobs/uploads/{uid}", params={"digest": digest}, data=data[2000:],
                headers={"Content-Type": "application/octet-stream", "Content-Range": f"2000-{len(data) - 1}"})
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{lrepo}/blobs/{digest}").content == data

    # /v2 session continued and completed through the control plane
    data2 = images.random_blob(3000).data
    r = reg.start_upload(lrepo)
    assert r.status_code == 202, describe(r)
    uid2 = r.headers["Docker-Upload-UUID"]
    r = reg.patch(reg.location(r), data=data2[:1000],
                  headers={"Content-Type": "application/octet-stream", "Content-Range": "0-999"})
    assert r.status_code == 202, describe(r)
    out = ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid2, partFirstByte=1000, partLastByte=2999,
                                layerPartBlob=data2[1000:])
    assert out["lastByteReceived"] == 2999, out
    out = ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid2, layerDigests=[images.sha256(data2)])
    assert reg.get(f"/v2/{lrepo}/blobs/{out['layerDigest']}").content == data2


# ---------------------------------------------------------------------------------------
# UploadLayerPart errors
# ---------------------------------------------------------------------------------------

def test_part_out_of_order_is_invalid_layer_part(ecr, lrepo):
    data = images.random_blob(3000).data
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]

    # the first part must start at byte 0
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=10, partLastByte=1009,
                              layerPartBlob=data[10:1010])
    ecr_error(e, "InvalidLayerPartException")

    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=999,
                          layerPartBlob=data[:1000])

    bad = [
        (2000, 2999, data[2000:3000]),   # a gap
        (500, 1499, data[500:1500]),     # overlaps what arrived
        (0, 999, data[:1000]),           # the same part again
        (1000, 1999, data[1000:1500]),   # fewer bytes than the range says
        (1000, 1499, data[1000:2000]),   # more bytes than the range says
        (1999, 1000, data[1000:2000]),   # last before first
    ]
    for first, last, blob in bad:
        with pytest.raises(ClientError) as e:
            ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=first, partLastByte=last,
                                  layerPartBlob=blob)
        msg = ecr_error(e, "InvalidLayerPartException")
        assert uid in msg, msg

    # the session is unharmed: the right part still continues it
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=1000, partLastByte=2999,
                          layerPartBlob=data[1000:])
    r = ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(data)])
    assert r["layerDigest"] == images.sha256(data)


def test_unknown_and_foreign_upload_ids_are_upload_not_found(ecr, lrepo, lrepo_factory):
    other = lrepo_factory("other")
    foreign = ecr.initiate_layer_upload(repositoryName=other)["uploadId"]
    for uid in (str(uuid.uuid4()), foreign, foreign.upper()):
        with pytest.raises(ClientError) as e:
            ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=2,
                                  layerPartBlob=b"abc")
        ecr_error(e, "UploadNotFoundException")
        with pytest.raises(ClientError) as e:
            ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(b"abc")])
        ecr_error(e, "UploadNotFoundException")
    # the foreign session still works in its own repository
    ecr.upload_layer_part(repositoryName=other, uploadId=foreign, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
    ecr.complete_layer_upload(repositoryName=other, uploadId=foreign, layerDigests=[images.sha256(b"abc")])


def test_part_that_is_not_base64_is_invalid_parameter(berth, ecr, lrepo):
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    body = json.dumps({"repositoryName": lrepo, "uploadId": uid, "partFirstByte": 0, "partLastByte": 2,
                       "layerPartBlob": "!!!not base64!!!"}).encode()
    r = signed_json(berth, "UploadLayerPart", body)
    assert r.status_code == 400, describe(r)
    assert r.json()["__type"].endswith("InvalidParameterException"), r.text
    # nothing reached the session
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")


def test_part_and_size_limits_are_limit_exceeded(berth_factory):
    srv = berth_factory(extra_env={"BERTH_MAX_LAYER_PARTS": "3", "BERTH_MAX_LAYER_SIZE_MB": "1"})
    ecr = ecr_client(srv)
    repo = make_repository(srv, ecr, "layers/limits")

    uid = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    for i in range(3):
        ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=i, partLastByte=i, layerPartBlob=b"x")
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=3, partLastByte=3, layerPartBlob=b"x")
    ecr_error(e, "LimitExceededException")
    # what did arrive can still be completed
    r = ecr.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[images.sha256(b"xxx")])
    assert r["layerDigest"] == images.sha256(b"xxx")

    big = os.urandom((1 << 20) + 1)
    uid = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=len(big) - 1,
                              layerPartBlob=big)
    ecr_error(e, "LimitExceededException")
    # exactly the limit is fine
    ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=(1 << 20) - 1,
                          layerPartBlob=big[:1 << 20])
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=1 << 20, partLastByte=1 << 20,
                              layerPartBlob=big[-1:])
    ecr_error(e, "LimitExceededException")


# ---------------------------------------------------------------------------------------
# CompleteLayerUpload errors
# ---------------------------------------------------------------------------------------

def test_complete_with_the_wrong_digest_is_invalid_layer_and_keeps_the_upload(berth, ecr, lrepo):
    data = images.random_blob(4000).data
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=len(data) - 1,
                          layerPartBlob=data)
    wrong = images.sha256(data + b"!")
    with pytest.raises(ClientError) as e:
        ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[wrong])
    msg = ecr_error(e, "InvalidLayerException")
    assert wrong in msg, msg
    r = ecr.batch_check_layer_availability(repositoryName=lrepo, layerDigests=[wrong, images.sha256(data)])
    assert all(x["layerAvailability"] == "UNAVAILABLE" for x in r["layers"]), r
    assert Registry(berth).get(f"/v2/{lrepo}/blobs/{wrong}").status_code == 404

    # the upload is still there: the right digest completes it
    r = ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(data)])
    assert r["layerDigest"] == images.sha256(data)


def test_complete_with_nothing_uploaded_is_empty_upload(ecr, lrepo):
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    with pytest.raises(ClientError) as e:
        ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(b"")])
    msg = ecr_error(e, "EmptyUploadException")
    assert uid in msg and lrepo in msg, msg
    # parts may still follow
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=1, layerPartBlob=b"ok")
    ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(b"ok")])


def test_complete_of_a_layer_already_there_is_layer_already_exists(berth, ecr, lrepo, lrepo_factory):
    data = images.random_blob(2500).data
    digest = Registry(berth).push_blob(lrepo, data)

    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=len(data) - 1,
                          layerPartBlob=data)
    with pytest.raises(ClientError) as e:
        ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[digest])
    ecr_error(e, "LayerAlreadyExistsException")
    # that upload is finished; the layer is intact
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=len(data), partLastByte=len(data),
                              layerPartBlob=b"x")
    ecr_error(e, "UploadNotFoundException")
    assert Registry(berth).get(f"/v2/{lrepo}/blobs/{digest}").content == data

    # uploaded twice through the control plane: the second is the one that already exists
    assert ecr_upload(ecr, lrepo, b"twice" * 100) == images.sha256(b"twice" * 100)
    with pytest.raises(ClientError) as e:
        ecr_upload(ecr, lrepo, b"twice" * 100)
    ecr_error(e, "LayerAlreadyExistsException")

    # in another repository (same server, deduplicated) it is a new layer for that repository
    other = lrepo_factory("other")
    assert ecr_upload(ecr, other, data) == digest
    assert Registry(berth).get(f"/v2/{other}/blobs/{digest}").content == data


def test_complete_takes_one_digest(ecr, lrepo):
    uid = ecr.initiate_layer_upload(repositoryName=lrepo)["uploadId"]
    ecr.upload_layer_part(repositoryName=lrepo, uploadId=uid, partFirstByte=0, partLastByte=2, layerPartBlob=b"one")
    with pytest.raises(ClientError) as e:
        ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid,
                                  layerDigests=[images.sha256(b"one"), images.sha256(b"two")])
    ecr_error(e, "InvalidParameterException")
    ecr.complete_layer_upload(repositoryName=lrepo, uploadId=uid, layerDigests=[images.sha256(b"one")])


# ---------------------------------------------------------------------------------------
# BatchCheckLayerAvailability
# ---------------------------------------------------------------------------------------

def test_batch_check_reports_available_unavailable_and_failures(ecr, lrepo, lrepo_factory):
    data = images.random_blob(1234).data
    have = ecr_upload(ecr, lrepo, data)
    elsewhere = ecr_upload(ecr, lrepo_factory("other"), images.random_blob(99).data)
    missing = "sha256:" + hashlib.sha256(os.urandom(8)).hexdigest()
    asked = [have, missing, elsewhere, "", "sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64]
    r = ecr.batch_check_layer_availability(repositoryName=lrepo, layerDigests=asked)
    layers = {x["layerDigest"]: x for x in r["layers"]}
    assert set(layers) == {have, missing, elsewhere}, r
    assert layers[have]["layerAvailability"] == "AVAILABLE" and layers[have]["layerSize"] == len(data), r
    assert layers[missing]["layerAvailability"] == "UNAVAILABLE", r
    # a blob of another repository is not this repository's
    assert layers[elsewhere]["layerAvailability"] == "UNAVAILABLE", r
    failures = {x["layerDigest"]: x for x in r["failures"]}
    assert failures[""]["failureCode"] == "MissingLayerDigest", r
    for bad in ("sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64):
        assert failures[bad]["failureCode"] == "InvalidLayerDigest", r
        assert failures[bad]["failureReason"], r
    assert len(r["failures"]) == 4, r


# ---------------------------------------------------------------------------------------
# GetDownloadUrlForLayer
# ---------------------------------------------------------------------------------------

def test_download_url_fetches_the_layer_without_credentials(berth, ecr, lrepo):
    data = images.random_blob(200_000).data
    digest = ecr_upload(ecr, lrepo, data, part_sizes=[100_000, 100_000])
    r = ecr.get_download_url_for_layer(repositoryName=lrepo, layerDigest=digest)
    assert r["layerDigest"] == digest, r
    url = r["downloadUrl"]
    u = urlsplit(url)
    assert u.scheme == "http" and u.netloc == berth.host, url
    assert u.path == f"/v2/{lrepo}/blobs/{digest}", url
    assert berth.secret not in url

    g = requests.get(url, timeout=30)
    assert g.status_code == 200, describe(g)
    assert g.content == data
    assert hashlib.sha256(g.content).hexdigest() == digest.split(":")[1]

    # valid for about an hour, like ECR's (X-Amz-Expires=3600)
    import time
    expires = int(parse_qs(u.query)["X-Berth-Expires"][0])
    assert 3000 <= expires - time.time() <= 3700, url

    # also from the registry's Range support: a partial GET is fine
    g = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert g.status_code in (200, 206), describe(g)
    if g.status_code == 206:
        assert g.content == data[10:20]


def test_tampered_expired_and_other_repository_urls_are_refused(berth, ecr, lrepo, lrepo_factory):
    data = images.random_blob(3000).data
    digest = ecr_upload(ecr, lrepo, data)
    other = lrepo_factory("other")
    Registry(berth).push_blob(other, data)           # the same blob is in the other repository too
    other_blob = Registry(berth).push_blob(lrepo, images.random_blob(100).data)
    url = ecr.get_download_url_for_layer(repositoryName=lrepo, layerDigest=digest)["downloadUrl"]
    assert requests.get(url, timeout=30).content == data

    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    sig = q["X-Berth-Signature"]
    flipped = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
    past = str(int(q["X-Berth-Expires"]) - 7200)
    later = str(int(q["X-Berth-Expires"]) + 3600)
    refused = {
        "tampered signature": with_query(url, **{"X-Berth-Signature": flipped}),
        "expired": with_query(url, **{"X-Berth-Expires": past}),
        "expiry moved later": with_query(url, **{"X-Berth-Expires": later}),
        "other account": with_query(url, **{"X-Berth-Account": "999999999999"}),
        "other repository": with_path(url, f"/v2/{other}/blobs/{digest}"),
        "other blob": with_path(url, f"/v2/{lrepo}/blobs/{other_blob}"),
        "no signature": with_query(url, **{"X-Berth-Signature": None}),
        "truncated signature": with_query(url, **{"X-Berth-Signature": sig[:-2]}),
    }
    for what, bad in refused.items():
        g = requests.get(bad, timeout=30)
        assert g.status_code == 401, f"{what}: {describe(g)}"
        assert data not in g.content, what


def test_layer_not_in_the_repository_is_layers_not_found(berth, ecr, lrepo, lrepo_factory):
    with pytest.raises(ClientError) as e:
        ecr.get_download_url_for_layer(repositoryName=lrepo, layerDigest="sha256:" + "1" * 64)
    ecr_error(e, "LayersNotFoundException")
    # in another repository only: not this repository's layer
    other = lrepo_factory("other")
    digest = ecr_upload(ecr, other, images.random_blob(500).data)
    with pytest.raises(ClientError) as e:
        ecr.get_download_url_for_layer(repositoryName=lrepo, layerDigest=digest)
    msg = ecr_error(e, "LayersNotFoundException")
    assert digest in msg, msg
    # a digest of an algorithm berth does not know
    with pytest.raises(ClientError) as e:
        ecr.get_download_url_for_layer(repositoryName=lrepo, layerDigest="md5:" + "a" * 32)
    ecr_error(e, "InvalidParameterException")


# ---------------------------------------------------------------------------------------
# Repositories that do not exist
# ---------------------------------------------------------------------------------------

def test_every_layer_operation_on_a_missing_repository_is_repository_not_found(ecr):
    name = "layers/does-not-exist-" + uuid.uuid4().hex[:8]
    digest = "sha256:" + "2" * 64
    calls = [
        lambda: ecr.batch_check_layer_availability(repositoryName=name, layerDigests=[digest]),
        lambda: ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest),
        lambda: ecr.initiate_layer_upload(repositoryName=name),
        lambda: ecr.upload_layer_part(repositoryName=name, uploadId=str(uuid.uuid4()), partFirstByte=0,
                                      partLastByte=0, layerPartBlob=b"x"),
        lambda: ecr.complete_layer_upload(repositoryName=name, uploadId=str(uuid.uuid4()), layerDigests=[digest]),
    ]
    for call in calls:
        with pytest.raises(ClientError) as e:
            call()
        msg = ecr_error(e, "RepositoryNotFoundException")
        assert name in msg, msg
