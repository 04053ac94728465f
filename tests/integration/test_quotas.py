"""Service quotas on /v2 (issue: control plane §4): images per repository, tags per image and
the largest layer, each enforced with the registry's own error and nothing stored."""

import boto3
import pytest

import images
from conftest import create_repository
from regclient import Registry, describe


@pytest.fixture(scope="module")
def small(berth_factory):
    return berth_factory(extra_args=["--max-images-per-repository", "2", "--max-tags-per-image", "2",
                                     "--max-layer-size-mb", "1"])


def test_images_per_repository(small):
    repo = create_repository("quota/images", small)
    reg = Registry(small)
    reg.push_image(repo, images.make_image(label="q1"), tag="a")
    reg.push_image(repo, images.make_image(label="q2"), tag="b")
    third = images.make_image(label="q3")
    for blob in third.blobs:
        reg.push_blob(repo, blob)
    r = reg.put_manifest(repo, "c", third.manifest, third.media_type)
    assert r.status_code == 403, describe(r)
    assert r.json()["errors"][0]["code"] == "DENIED"
    assert "maximum of 2 images" in r.json()["errors"][0]["message"]
    assert reg.get_manifest(repo, "c").status_code == 404
    ecr = boto3.client("ecr", endpoint_url=small.url, region_name=small.region,
                       aws_access_key_id=small.access_key, aws_secret_access_key=small.secret)
    with pytest.raises(ecr.exceptions.LimitExceededException):
        ecr.put_image(repositoryName=repo, imageTag="c", imageManifest=third.manifest.decode())


def test_tags_per_image(small):
    repo = create_repository("quota/tags", small)
    reg = Registry(small)
    img = images.make_image(label="tags")
    reg.push_image(repo, img, tag="t1")
    assert reg.put_manifest(repo, "t2", img.manifest, img.media_type).status_code == 201
    r = reg.put_manifest(repo, "t3", img.manifest, img.media_type)
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == "DENIED", describe(r)
    # re-tagging with an existing tag is not a new tag
    assert reg.put_manifest(repo, "t2", img.manifest, img.media_type).status_code == 201


def test_largest_layer(small):
    repo = create_repository("quota/layers", small)
    reg = Registry(small)
    big = images.random_blob((1 << 20) + 1, b"big")
    r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": big.digest}, data=big.data,
                 headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400, describe(r)
    assert r.json()["errors"][0]["code"] == "SIZE_INVALID"
    assert reg.head(f"/v2/{repo}/blobs/{big.digest}").status_code == 404
    ok = images.random_blob(1 << 20, b"ok")
    assert reg.push_blob(repo, ok) == ok.digest
