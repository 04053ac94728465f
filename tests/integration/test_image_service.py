"""The image service's rules, the same on /v2 and on the ECR API: what a delete may remove, when a
blob may be mounted across repositories, and what happens to upload sessions over time and
restarts. Each test drives a running berth with the raw /v2 client and boto3."""

import time

import boto3
import pytest

import images
from conftest import create_repository, repo_name_for
from datadir import upload_exists
from regclient import Registry, assert_error, describe
from test_ecr_repositories import AwsCli


def ecr_client(server):
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret)


# -- deletes: no path to a dangling reference ---------------------------------------------

def test_v2_delete_of_a_manifest_an_index_lists_is_refused(reg, repo):
    index = images.make_multiarch()
    reg.push_image(repo, index, tag="multi")
    child = index.children[0]

    r = reg.delete(f"/v2/{repo}/manifests/{child.digest}")
    assert_error(r, 409, "DENIED")
    assert index.digest in r.text, describe(r)
    # the index still serves every child
    for c in index.children:
        r = reg.get_manifest(repo, c.digest)
        assert r.status_code == 200, describe(r)

    # once the index is gone, the child may go
    r = reg.delete(f"/v2/{repo}/manifests/{index.digest}")
    assert r.status_code == 202, describe(r)
    r = reg.delete(f"/v2/{repo}/manifests/{child.digest}")
    assert r.status_code == 202, describe(r)
    assert reg.get_manifest(repo, child.digest).status_code == 404


def test_ecr_and_v2_refuse_the_same_child(berth, reg, repo):
    index = images.make_multiarch()
    reg.push_image(repo, index, tag="multi")
    child = index.children[1]
    out = ecr_client(berth).batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": child.digest}])
    assert out["imageIds"] == []
    assert [f["failureCode"] for f in out["failures"]] == ["ImageReferencedByManifestList"]
    assert index.digest in out["failures"][0]["failureReason"]
    assert_error(reg.delete(f"/v2/{repo}/manifests/{child.digest}"), 409, "DENIED")


def test_v2_delete_of_a_blob_a_tagged_image_uses_is_refused(reg, repo):
    img = images.make_image(nlayers=2)
    reg.push_image(repo, img, tag="v1")
    layer = img.layers[0]

    r = reg.delete(f"/v2/{repo}/blobs/{layer.digest}")
    assert_error(r, 409, "DENIED")
    assert img.digest in r.text, describe(r)
    r = reg.get(f"/v2/{repo}/blobs/{layer.digest}")
    assert r.status_code == 200 and r.content == layer.data, describe(r)
    # the config is protected the same way
    assert_error(reg.delete(f"/v2/{repo}/blobs/{img.config.digest}"), 409, "DENIED")

    # after the image is deleted, its blobs may be unlinked
    assert reg.delete(f"/v2/{repo}/manifests/{img.digest}").status_code == 202
    r = reg.delete(f"/v2/{repo}/blobs/{layer.digest}")
    assert r.status_code == 202, describe(r)
    assert not reg.blob_exists(repo, layer.digest)


def test_v2_delete_of_a_tag_keeps_the_image(reg, repo):
    img = images.make_image()
    reg.push_image(repo, img, tag="only")
    assert reg.delete(f"/v2/{repo}/manifests/only").status_code == 202
    assert reg.get_manifest(repo, "only").status_code == 404
    assert reg.get_manifest(repo, img.digest).status_code == 200


def test_ecr_delete_of_the_last_tag_of_a_listed_child_is_refused(berth, reg, repo):
    index = images.make_multiarch()
    reg.push_image(repo, index, tag="multi")
    child = index.children[0]
    r = reg.put_manifest(repo, "child-tag", child.manifest, child.media_type)
    assert r.status_code == 201, describe(r)
    out = ecr_client(berth).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "child-tag"}])
    assert [f["failureCode"] for f in out["failures"]] == ["ImageReferencedByManifestList"]
    # nothing was removed: the tag still names the child
    r = reg.get_manifest(repo, "child-tag")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == child.digest


# -- BLOB_MOUNTING decides whether /v2 mounts ---------------------------------------------

@pytest.fixture(scope="module")
def own_server(berth_factory):
    return berth_factory()


def test_blob_mounting_follows_the_account_setting(own_server):
    reg = Registry(own_server)
    aws = AwsCli(own_server)  # Debian's boto3 predates the account-setting calls
    src = create_repository(repo_name_for("mount-src"), own_server)
    dst = create_repository(repo_name_for("mount-dst"), own_server)
    blob = images.random_blob(4096, b"mount")
    reg.push_blob(src, blob)

    # berth's default is ENABLED, and GetAccountSetting says what mounts do
    assert aws("get-account-setting", "--name", "BLOB_MOUNTING")["value"] == "ENABLED"
    try:
        aws("put-account-setting", "--name", "BLOB_MOUNTING", "--value", "DISABLED")
        assert aws("get-account-setting", "--name", "BLOB_MOUNTING")["value"] == "DISABLED"
        r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": blob.digest, "from": src})
        assert r.status_code == 202, describe(r)  # a plain session instead, as the spec allows
        assert not reg.blob_exists(dst, blob.digest)

        aws("put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ENABLED")
        r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": blob.digest, "from": src})
        assert r.status_code == 201, describe(r)
        assert reg.blob_exists(dst, blob.digest)
    finally:
        aws("put-account-setting", "--name", "BLOB_MOUNTING", "--value", "ENABLED")


def test_blob_mounting_needs_the_same_encryption(own_server):
    reg = Registry(own_server)
    ecr = ecr_client(own_server)
    src = repo_name_for("enc-src")
    ecr.create_repository(repositoryName=src, encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/a"})
    dst = create_repository(repo_name_for("enc-dst"), own_server)
    blob = images.random_blob(2048, b"enc")
    reg.push_blob(src, blob)
    r = reg.post(f"/v2/{dst}/blobs/uploads/", params={"mount": blob.digest, "from": src})
    assert r.status_code == 202, describe(r)
    assert not reg.blob_exists(dst, blob.digest)


# -- upload sessions: expiry, restarts, part counts ----------------------------------------

def test_idle_upload_sessions_expire_with_their_files(berth_factory):
    srv = berth_factory(extra_args=["--upload-expiry-seconds", "2"])
    reg = Registry(srv)
    repo = create_repository(repo_name_for("expiry"), srv)
    idle = reg.start_upload(repo)
    assert idle.status_code == 202
    idle_id = idle.headers["Docker-Upload-UUID"]
    r = reg.patch(reg.location(idle), data=b"x" * 1000, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    busy = reg.start_upload(repo)
    busy_loc = reg.location(busy)
    assert upload_exists(srv, idle_id)

    # the busy session is written to every half second; the idle one is left alone
    deadline = time.monotonic() + 6
    offset = 0
    while time.monotonic() < deadline:
        r = reg.patch(busy_loc, data=b"y" * 10, headers={"Content-Type": "application/octet-stream",
                                                         "Content-Range": f"{offset}-{offset + 9}"})
        assert r.status_code == 202, describe(r)
        busy_loc = reg.location(r)
        offset += 10
        time.sleep(0.5)

    assert_error(reg.get(f"/v2/{repo}/blobs/uploads/{idle_id}"), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not upload_exists(srv, idle_id)
    r = reg.get(busy_loc)
    assert r.status_code == 204 and r.headers["Range"] == f"0-{offset - 1}", describe(r)
    data = b"y" * offset
    r = reg.put(busy_loc, params={"digest": images.sha256(data)})
    assert r.status_code == 201, describe(r)


def test_a_session_continues_after_a_restart(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    repo = create_repository(repo_name_for("resume"), srv)
    data = images.random_blob(3 << 20, b"resume").data
    r = reg.start_upload(repo)
    loc = reg.location(r)
    r = reg.patch(loc, data=data[:1 << 20], headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)

    srv.restart()
    reg = Registry(srv)
    r = reg.patch(loc, data=data[1 << 20:], headers={"Content-Type": "application/octet-stream",
                                                   "Content-Range": f"{1 << 20}-{len(data) - 1}"})
    assert r.status_code == 202, describe(r)
    loc = reg.location(r)
    # a wrong digest keeps the session; the right one commits it
    r = reg.put(loc, params={"digest": images.sha256(b"not it")})
    assert_error(r, 400, "DIGEST_INVALID")
    r = reg.put(loc, params={"digest": images.sha256(data)})
    assert r.status_code == 201, describe(r)
    r = reg.get(f"/v2/{repo}/blobs/{images.sha256(data)}")
    assert r.content == data


def test_ecr_part_count_survives_a_restart(berth_factory):
    srv = berth_factory(extra_args=["--max-layer-parts", "2"])
    ecr = ecr_client(srv)
    repo = repo_name_for("parts")
    ecr.create_repository(repositoryName=repo)
    up = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    for i in range(2):
        ecr.upload_layer_part(repositoryName=repo, uploadId=up, partFirstByte=i * 4, partLastByte=i * 4 + 3,
                              layerPartBlob=b"abcd")
    srv.restart()
    ecr = ecr_client(srv)
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.upload_layer_part(repositoryName=repo, uploadId=up, partFirstByte=8, partLastByte=11, layerPartBlob=b"abcd")
    # what was received still completes into the right layer
    out = ecr.complete_layer_upload(repositoryName=repo, uploadId=up, layerDigests=[images.sha256(b"abcdabcd")])
    assert out["layerDigest"] == images.sha256(b"abcdabcd")
