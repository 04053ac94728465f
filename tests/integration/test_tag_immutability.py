"""Tag immutability on both surfaces, with ECR's exclusion filters (issue: control plane §4):
PutImage answers ImageTagAlreadyExistsException and a /v2 manifest PUT the registry's
TAG_INVALID, with the same message; tags matching an exclusion filter behave the other way."""

import json

import boto3
import botocore
import pytest

import images
from regclient import Registry, describe


@pytest.fixture
def ecr(berth):
    return boto3.client("ecr", endpoint_url=berth.url, region_name=berth.region,
                        aws_access_key_id=berth.access_key, aws_secret_access_key=berth.secret)


def put_v2(reg, repo, tag, img):
    for blob in img.blobs:
        if not reg.blob_exists(repo, blob.digest):
            reg.push_blob(repo, blob)
    return reg.put_manifest(repo, tag, img.manifest, img.media_type)


def cli(berth, *args):
    import os
    from conftest import run
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": berth.access_key, "AWS_SECRET_ACCESS_KEY": berth.secret,
           "AWS_DEFAULT_REGION": berth.region, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    out = run(["aws", "ecr", *args, "--endpoint-url", berth.url, "--output", "json"], env=env).stdout
    return json.loads(out) if out.strip() else {}


def test_immutable_repository_on_both_surfaces(berth, ecr):
    name = f"immutable/{images.token()}"
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    reg = Registry(berth)
    first, second = images.make_image(label="first"), images.make_image(label="second")
    assert put_v2(reg, name, "v1", first).status_code == 201
    expected = (f"The image tag 'v1' already exists in the '{name}' repository and cannot be overwritten "
                "because the repository is immutable.")
    r = put_v2(reg, name, "v1", second)
    assert r.status_code == 400, describe(r)
    assert r.json()["errors"][0] == {"code": "TAG_INVALID", "message": expected}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.put_image(repositoryName=name, imageTag="v1", imageManifest=second.manifest.decode())
    assert e.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"
    assert e.value.response["Error"]["Message"] == expected
    # the same image again: /v2 is idempotent, PutImage says it exists
    assert put_v2(reg, name, "v1", first).status_code == 201
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.put_image(repositoryName=name, imageTag="v1", imageManifest=first.manifest.decode())
    assert e.value.response["Error"]["Code"] == "ImageAlreadyExistsException"
    # a new tag on either image is fine, and the old tag still names the first image
    assert put_v2(reg, name, "v2", second).status_code == 201
    assert reg.get_manifest(name, "v1").headers["Docker-Content-Digest"] == first.digest
    # back to MUTABLE: the tag moves
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")
    assert put_v2(reg, name, "v1", second).status_code == 201
    assert reg.get_manifest(name, "v1").headers["Docker-Content-Digest"] == second.digest


def test_immutable_with_exclusion_filters(berth):
    name = f"immutable/{images.token()}"
    cli(berth, "create-repository", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION",
        "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=latest",
        "filterType=WILDCARD,filter=dev-*")
    reg = Registry(berth)
    a, b = images.make_image(label="a"), images.make_image(label="b")
    for tag in ("v1", "latest", "dev-123"):
        assert put_v2(reg, name, tag, a).status_code == 201
    r = put_v2(reg, name, "v1", b)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "TAG_INVALID", describe(r)
    assert "because the tag is immutable." in r.json()["errors"][0]["message"]
    for tag in ("latest", "dev-123"):
        assert put_v2(reg, name, tag, b).status_code == 201, tag
        assert reg.get_manifest(name, tag).headers["Docker-Content-Digest"] == b.digest


def test_mutable_with_exclusion_filters(berth):
    name = f"immutable/{images.token()}"
    cli(berth, "create-repository", "--repository-name", name, "--image-tag-mutability", "MUTABLE_WITH_EXCLUSION",
        "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=release-*")
    reg = Registry(berth)
    a, b = images.make_image(label="a"), images.make_image(label="b")
    assert put_v2(reg, name, "release-1", a).status_code == 201
    assert put_v2(reg, name, "main", a).status_code == 201
    assert put_v2(reg, name, "main", b).status_code == 201
    r = put_v2(reg, name, "release-1", b)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "TAG_INVALID", describe(r)
    out = cli(berth, "put-image", "--repository-name", name, "--image-tag", "main",
              "--image-manifest", a.manifest.decode())
    assert out["image"]["imageId"]["imageDigest"] == a.digest
