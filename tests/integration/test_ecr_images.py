"""ECR image operations: ListImages, DescribeImages, BatchGetImage, PutImage, BatchDeleteImage,
ListImageReferrers, driven with boto3 and the aws CLI against content pushed over /v2.

Debian's boto3 carries an older ECR model (no ListImageReferrers, no imageStatus, no
subjectManifestDigest), so what it lacks is exercised with the aws CLI, whose botocore is current.
"""

import datetime
import json
import os

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import images
from conftest import create_repository, processes, repo_name_for, run
from regclient import Registry, describe

ZERO = "sha256:" + "0" * 64
SBOM = "application/vnd.example.sbom.v1"
SIG = "application/vnd.example.signature.v1"


# ---------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------

def _client(server, validate=True):
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret,
                        config=Config(parameter_validation=validate, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def ecr(berth):
    return _client(berth)


@pytest.fixture(scope="module")
def ecr_raw(berth):
    """A client that sends what it is given, so that the server's own validation answers."""
    return _client(berth, validate=False)


def _cli_env(server):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="")
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(k, None)
    return env


@pytest.fixture(scope="module")
def aws(berth):
    """aws(*args, check=True) runs `aws ecr <args>` against berth; JSON output parsed, or the process."""

    def call(*args, check=True, raw=False):
        p = run(["aws", "ecr", *args, "--endpoint-url", berth.url, "--region", berth.region],
                env=_cli_env(berth), check=check, timeout=120, redact=[berth.secret])
        if raw or not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else {}

    return call


def aws_error(p, code):
    assert p.returncode != 0, f"expected {code}, got success: {p.stdout[:500]}"
    assert f"({code})" in p.stderr, f"expected {code}: {p.stderr[-800:]}"
    return p.stderr


def client_error(excinfo, code):
    err = excinfo.value.response["Error"]
    assert err["Code"] == code, excinfo.value.response
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Message"]


def ids_set(ids):
    return {(i.get("imageDigest"), i.get("imageTag")) for i in ids}


def push_tags(reg, repo, obj, *tags):
    """Push obj (with its blobs) and give it each tag; untagged when no tag is given."""
    reg.push_image(repo, obj, tag=tags[0] if tags else None)
    for t in tags[1:]:
        r = reg.put_manifest(repo, t, obj.manifest, obj.media_type)
        assert r.status_code == 201, describe(r)
    return obj.digest


def near_now(ts):
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((now - ts).total_seconds()) < 120


def pulled_now(server, repo):
    """Whether the repository's one image shows a pull time near now on any of the server's processes:
    each shows the pulls it served at once, from memory (the other of a pair, after its flush)."""
    for p in processes(server):
        [det] = _client(p).describe_images(repositoryName=repo)["imageDetails"]
        if "lastRecordedPullTime" in det and near_now(det["lastRecordedPullTime"]):
            return True
    return False


# ---------------------------------------------------------------------------------------
# ListImages
# ---------------------------------------------------------------------------------------

def test_list_images_one_entry_per_tag_and_untagged_by_digest(ecr, reg, repo):
    a = images.make_image()
    b = images.make_image()
    da = push_tags(reg, repo, a, "latest", "v1")
    db = push_tags(reg, repo, b)
    got = ecr.list_images(repositoryName=repo)
    assert "nextToken" not in got
    assert ids_set(got["imageIds"]) == {(da, "latest"), (da, "v1"), (db, None)}
    assert len(got["imageIds"]) == 3
    tagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert ids_set(tagged) == {(da, "latest"), (da, "v1")}
    untagged = ecr.list_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert untagged == [{"imageDigest": db}]
    anyt = ecr.list_images(repositoryName=repo, filter={"tagStatus": "ANY"})["imageIds"]
    assert ids_set(anyt) == ids_set(got["imageIds"])


def test_list_images_seed_cli(aws, reg, repo):
    """`aws ecr list-images --repository-name my-repo`, as the user guide's deletion walkthrough starts."""
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest")
    out = aws("list-images", "--repository-name", repo)
    assert out == {"imageIds": [{"imageDigest": d, "imageTag": "latest"}]}
    out = aws("list-images", "--repository-name", repo, "--filter", "tagStatus=UNTAGGED")
    assert out["imageIds"] == []


def test_list_images_image_status_filter(aws, reg, repo):
    """Every image is ACTIVE: ACTIVE and ANY list it, ARCHIVED and ACTIVATING list nothing."""
    d = push_tags(reg, repo, images.make_image(), "latest")
    for status, expect in (("ACTIVE", 1), ("ANY", 1), ("ARCHIVED", 0), ("ACTIVATING", 0)):
        out = aws("list-images", "--repository-name", repo, "--filter", f"imageStatus={status}")
        assert len(out["imageIds"]) == expect, (status, out)
        if expect:
            assert out["imageIds"][0]["imageDigest"] == d


def test_list_images_pages_with_max_results(ecr, reg, repo):
    tagged = images.make_image()
    dt = push_tags(reg, repo, tagged, "a", "b", "c")
    untagged = [images.make_image() for _ in range(2)]
    du = {push_tags(reg, repo, u) for u in untagged}
    pages, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        got = ecr.list_images(repositoryName=repo, maxResults=2, **kw)
        pages.append(got["imageIds"])
        token = got.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    flat = [i for p in pages for i in p]
    assert ids_set(flat) == {(dt, "a"), (dt, "b"), (dt, "c")} | {(d, None) for d in du}
    assert len(flat) == 5
    # the page boundary falls exactly at the end of the tagged entries: the token still leads on
    got = ecr.list_images(repositoryName=repo, maxResults=3)
    assert ids_set(got["imageIds"]) == {(dt, "a"), (dt, "b"), (dt, "c")}
    rest = ecr.list_images(repositoryName=repo, maxResults=3, nextToken=got["nextToken"])
    assert ids_set(rest["imageIds"]) == {(d, None) for d in du}
    assert "nextToken" not in rest
    # filters page too
    got = ecr.list_images(repositoryName=repo, maxResults=1, filter={"tagStatus": "UNTAGGED"})
    assert len(got["imageIds"]) == 1 and got.get("nextToken")
    rest = ecr.list_images(repositoryName=repo, maxResults=1, filter={"tagStatus": "UNTAGGED"},
                           nextToken=got["nextToken"])
    assert len(rest["imageIds"]) == 1 and "nextToken" not in rest
    assert ids_set(got["imageIds"] + rest["imageIds"]) == {(d, None) for d in du}


def test_list_images_bad_parameters(ecr_raw, reg, repo):
    push_tags(reg, repo, images.make_image(), "latest")
    for bad in (0, 1001):
        with pytest.raises(ClientError) as e:
            ecr_raw.list_images(repositoryName=repo, maxResults=bad)
        client_error(e, "InvalidParameterException")
    with pytest.raises(ClientError) as e:
        ecr_raw.list_images(repositoryName=repo, nextToken="not-a-token")
    client_error(e, "InvalidParameterException")
    with pytest.raises(ClientError) as e:
        ecr_raw.list_images(repositoryName=repo, filter={"tagStatus": "SOMETIMES"})
    client_error(e, "InvalidParameterException")


@pytest.mark.parametrize("op,kwargs", [
    ("list_images", {}),
    ("describe_images", {}),
    ("batch_get_image", {"imageIds": [{"imageTag": "latest"}]}),
    ("batch_delete_image", {"imageIds": [{"imageTag": "latest"}]}),
    ("put_image", {"imageManifest": "{}", "imageTag": "latest"}),
])
def test_unknown_repository_is_repository_not_found(ecr, berth, op, kwargs):
    name = repo_name_for("never-pushed")
    with pytest.raises(ClientError) as e:
        getattr(ecr, op)(repositoryName=name, **kwargs)
    msg = client_error(e, "RepositoryNotFoundException")
    assert msg == f"The repository with name '{name}' does not exist in the registry with id '{berth.account_id}'"


def test_empty_repository(ecr, repo):
    """A repository that exists (the fixture created it) but holds no image."""
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []
    assert ecr.describe_images(repositoryName=repo)["imageDetails"] == []
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    assert got["images"] == [] and [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]
    got = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    assert got["imageIds"] == [] and [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    client_error(e, "ImageNotFoundException")


def test_list_image_referrers_unknown_repository(aws):
    p = aws("list-image-referrers", "--repository-name", repo_name_for("never-pushed"),
            "--subject-id", f"imageDigest={ZERO}", check=False)
    aws_error(p, "RepositoryNotFoundException")


# ---------------------------------------------------------------------------------------
# More than 1000 images: the paginators
# ---------------------------------------------------------------------------------------

N_IMAGES = 1100
N_TAGGED = 1050
N_EXTRA_TAGS = 10


@pytest.fixture(scope="module")
def many(berth):
    """One repository with 1100 images (1050 tagged, 10 of them twice; 50 untagged), made cheaply:
    one config and one layer, then 1110 small manifest PUTs that differ in an annotation."""
    reg = Registry(berth)
    name = repo_name_for("ecr-images-many")
    create_repository(name, berth)
    base = images.make_image()
    for b in base.blobs:
        reg.push_blob(name, b)
    tagged, untagged, bodies = {}, set(), []
    for i in range(N_IMAGES):
        obj = {"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": base.config.descriptor(),
               "layers": [l.descriptor() for l in base.layers], "annotations": {"berth.test.n": str(i)}}
        body = json.dumps(obj, separators=(",", ":")).encode()
        digest = images.sha256(body)
        bodies.append(body)
        ref = f"t{i:04d}" if i < N_TAGGED else digest
        r = reg.put_manifest(name, ref, body, images.OCI_MANIFEST)
        assert r.status_code == 201, describe(r)
        if i < N_TAGGED:
            tagged.setdefault(digest, set()).add(ref)
        else:
            untagged.add(digest)
    for i in range(N_EXTRA_TAGS):
        r = reg.put_manifest(name, f"x{i}", bodies[i], images.OCI_MANIFEST)
        assert r.status_code == 201, describe(r)
        tagged[images.sha256(bodies[i])].add(f"x{i}")
    return name, tagged, untagged


def test_list_images_paginator_over_1000_images(ecr, many):
    name, tagged, untagged = many
    expect = {(d, t) for d, ts in tagged.items() for t in ts} | {(d, None) for d in untagged}
    assert len(expect) == N_IMAGES + N_EXTRA_TAGS
    pages = list(ecr.get_paginator("list_images").paginate(repositoryName=name))
    got = [i for p in pages for i in p["imageIds"]]
    assert len(pages) == 12  # 100 per page by default
    assert len(got) == len(expect) and ids_set(got) == expect
    pages = list(ecr.get_paginator("list_images").paginate(repositoryName=name,
                                                           PaginationConfig={"PageSize": 1000}))
    assert [len(p["imageIds"]) for p in pages] == [1000, len(expect) - 1000]
    assert ids_set([i for p in pages for i in p["imageIds"]]) == expect
    for status, want in (("TAGGED", {e for e in expect if e[1]}), ("UNTAGGED", {e for e in expect if not e[1]})):
        pages = ecr.get_paginator("list_images").paginate(repositoryName=name, filter={"tagStatus": status},
                                                          PaginationConfig={"PageSize": 1000})
        got = [i for p in pages for i in p["imageIds"]]
        assert len(got) == len(want) and ids_set(got) == want, status


def test_describe_images_paginator_over_1000_images(ecr, many):
    name, tagged, untagged = many
    pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=name,
                                                               PaginationConfig={"PageSize": 1000}))
    assert [len(p["imageDetails"]) for p in pages] == [1000, N_IMAGES - 1000]
    details = [d for p in pages for d in p["imageDetails"]]
    assert {d["imageDigest"] for d in details} == set(tagged) | untagged
    for d in details:
        assert set(d.get("imageTags", [])) == tagged.get(d["imageDigest"], set())
    pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=name,
                                                               filter={"tagStatus": "UNTAGGED"}))
    assert {d["imageDigest"] for p in pages for d in p["imageDetails"]} == untagged
    pages = list(ecr.get_paginator("describe_images").paginate(repositoryName=name,
                                                               filter={"tagStatus": "TAGGED"}))
    assert len([d for p in pages for d in p["imageDetails"]]) == N_TAGGED


def test_cli_list_images_follows_every_page(aws, many):
    name, tagged, untagged = many
    out = aws("list-images", "--repository-name", name)
    assert len(out["imageIds"]) == N_IMAGES + N_EXTRA_TAGS
    assert "nextToken" not in out
    first = aws("list-images", "--repository-name", name, "--no-paginate")
    assert len(first["imageIds"]) == 100 and first["nextToken"]


# ---------------------------------------------------------------------------------------
# DescribeImages
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_describe_images_details(ecr, reg, repo, berth, docker):
    img = images.make_image(docker=docker, nlayers=2)
    d = push_tags(reg, repo, img, "v2", "latest")
    got = ecr.describe_images(repositoryName=repo)
    assert "nextToken" not in got
    [det] = got["imageDetails"]
    assert det["registryId"] == berth.account_id
    assert det["repositoryName"] == repo
    assert det["imageDigest"] == d
    assert sorted(det["imageTags"]) == ["latest", "v2"]
    assert det["imageSizeInBytes"] == sum(layer.size for layer in img.layers)
    assert near_now(det["imagePushedAt"])
    assert det["imageManifestMediaType"] == img.media_type
    assert det["artifactMediaType"] == img.config.media_type
    assert "lastRecordedPullTime" not in det
    # a pull is recorded
    r = reg.get_manifest(repo, "latest")
    assert r.status_code == 200, describe(r)
    assert pulled_now(berth, repo)


def test_describe_images_cli_fields_of_the_current_model(aws, reg, repo):
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest")
    out = aws("describe-images", "--repository-name", repo)
    [det] = out["imageDetails"]
    assert det["imageStatus"] == "ACTIVE"
    assert det["imageDigest"] == d and det["imageTags"] == ["latest"]
    assert "subjectManifestDigest" not in det
    # CLI v1 prints the wire value: epoch seconds
    pushed = datetime.datetime.fromtimestamp(float(det["imagePushedAt"]), datetime.timezone.utc)
    assert near_now(pushed)
    out = aws("describe-images", "--repository-name", repo, "--filter", "imageStatus=ARCHIVED")
    assert out["imageDetails"] == []


def test_describe_images_by_ids(ecr, reg, repo, berth):
    a, b = images.make_image(), images.make_image()
    da = push_tags(reg, repo, a, "latest", "v1")
    db = push_tags(reg, repo, b)
    got = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert [x["imageDigest"] for x in got] == [da]
    assert sorted(got[0]["imageTags"]) == ["latest", "v1"]
    got = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": db}])["imageDetails"]
    assert [x["imageDigest"] for x in got] == [db] and "imageTags" not in got[0]
    # the same image named twice is described once
    got = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest"}, {"imageDigest": da},
                                                             {"imageDigest": db}])["imageDetails"]
    assert [x["imageDigest"] for x in got] == [da, db]
    got = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest", "imageDigest": da}])
    assert [x["imageDigest"] for x in got["imageDetails"]] == [da]


def test_describe_images_missing_image_is_image_not_found(ecr, ecr_raw, reg, repo, berth):
    da = push_tags(reg, repo, images.make_image(), "latest")
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest"}, {"imageTag": "nope"}])
    msg = client_error(e, "ImageNotFoundException")
    assert msg == (f"The image with imageId {{imageDigest:'null', imageTag:'nope'}} does not exist within the "
                   f"repository with name '{repo}' in the registry with id '{berth.account_id}'")
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": ZERO}])
    assert f"imageDigest:'{ZERO}'" in client_error(e, "ImageNotFoundException")
    with pytest.raises(ClientError) as e:  # the tag names another image
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest", "imageDigest": ZERO}])
    client_error(e, "ImageNotFoundException")
    with pytest.raises(ClientError) as e:
        ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": "not-a-digest"}])
    client_error(e, "InvalidParameterException")
    with pytest.raises(ClientError) as e:
        ecr_raw.describe_images(repositoryName=repo, imageIds=[{"imageTag": "latest"}], maxResults=5)
    client_error(e, "InvalidParameterException")
    assert da


def test_describe_images_filter_and_pages(ecr, reg, repo):
    tagged = [push_tags(reg, repo, images.make_image(), f"t{i}") for i in range(3)]
    untagged = [push_tags(reg, repo, images.make_image()) for _ in range(2)]
    seen, token, pages = [], None, 0
    while True:
        got = ecr.describe_images(repositoryName=repo, maxResults=2, **({"nextToken": token} if token else {}))
        pages += 1
        seen += [d["imageDigest"] for d in got["imageDetails"]]
        token = got.get("nextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(tagged + untagged)
    got = ecr.describe_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageDetails"]
    assert sorted(d["imageDigest"] for d in got) == sorted(untagged)
    got = ecr.describe_images(repositoryName=repo, filter={"tagStatus": "TAGGED"})["imageDetails"]
    assert sorted(d["imageDigest"] for d in got) == sorted(tagged)


def test_describe_images_index_and_referrer(ecr, aws, reg, repo):
    index = images.make_multiarch()
    di = push_tags(reg, repo, index, "multi")
    art = images.make_artifact(subject=index, artifact_type=SBOM)
    da = push_tags(reg, repo, art)
    details = {d["imageDigest"]: d for d in ecr.describe_images(repositoryName=repo)["imageDetails"]}
    assert set(details) == {di, da} | {c.digest for c in index.children}
    idx = details[di]
    assert idx["imageManifestMediaType"] == images.OCI_INDEX
    assert idx["imageTags"] == ["multi"]
    # an index is as large as the largest image it lists
    assert idx["imageSizeInBytes"] == max(sum(l.size for l in c.layers) for c in index.children)
    assert "artifactMediaType" not in idx
    for c in index.children:
        assert details[c.digest]["imageSizeInBytes"] == sum(l.size for l in c.layers)
        assert "imageTags" not in details[c.digest]
    assert details[da]["artifactMediaType"] == images.OCI_EMPTY  # the artifact's config media type
    out = aws("describe-images", "--repository-name", repo, "--image-ids", f"imageDigest={da}")
    assert out["imageDetails"][0]["subjectManifestDigest"] == di
    out = aws("describe-images", "--repository-name", repo, "--image-ids", f"imageDigest={di}")
    assert "subjectManifestDigest" not in out["imageDetails"][0]


# ---------------------------------------------------------------------------------------
# BatchGetImage
# ---------------------------------------------------------------------------------------

def test_batch_get_image_by_tag_and_by_digest(ecr, reg, repo, berth):
    a = images.make_image(docker=True)
    b = images.make_image()
    da = push_tags(reg, repo, a, "latest", "stable")
    db = push_tags(reg, repo, b)
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}])
    assert got["failures"] == []
    [img] = got["images"]
    assert img["registryId"] == berth.account_id and img["repositoryName"] == repo
    assert img["imageId"] == {"imageDigest": da, "imageTag": "latest"}
    assert img["imageManifestMediaType"] == images.DOCKER_MANIFEST
    assert img["imageManifest"].encode() == a.manifest  # the stored bytes, exactly
    assert images.sha256(img["imageManifest"].encode()) == da
    # by digest: one entry per tag of the image
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageDigest": da}])
    assert ids_set(i["imageId"] for i in got["images"]) == {(da, "latest"), (da, "stable")}
    # an untagged image is its digest alone
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageDigest": db}])
    assert [i["imageId"] for i in got["images"]] == [{"imageDigest": db}]
    assert got["images"][0]["imageManifest"].encode() == b.manifest
    assert got["images"][0]["imageManifestMediaType"] == images.OCI_MANIFEST
    # tag and digest together
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "stable", "imageDigest": da}])
    assert [i["imageId"] for i in got["images"]] == [{"imageDigest": da, "imageTag": "stable"}]
    # the same pair asked twice is answered once
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "latest"}, {"imageTag": "latest"}])
    assert len(got["images"]) == 1


def test_batch_get_image_failures(ecr, reg, repo):
    d = push_tags(reg, repo, images.make_image(), "latest")
    ids = [
        {"imageTag": "latest"},
        {"imageTag": "t2"},
        {"imageDigest": ZERO},
        {"imageDigest": "invalid_digest"},
        {"imageTag": "latest", "imageDigest": ZERO},
        {"imageTag": "invalid_tag", "imageDigest": d},
        {},
        {"imageTag": "bad/tag"},
    ]
    got = ecr.batch_get_image(repositoryName=repo, imageIds=ids)
    assert [i["imageId"] for i in got["images"]] == [{"imageDigest": d, "imageTag": "latest"}]
    failures = got["failures"]
    assert {"imageId": {"imageTag": "t2"}, "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found"} in failures
    assert {"imageId": {"imageDigest": ZERO}, "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found"} in failures
    assert {"imageId": {"imageDigest": "invalid_digest"}, "failureCode": "InvalidImageDigest",
            "failureReason": "Invalid request parameters: image digest should satisfy the regex "
                             "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"} in failures
    assert {"imageId": {"imageTag": "latest", "imageDigest": ZERO}, "failureCode": "ImageTagDoesNotMatchDigest",
            "failureReason": "Invalid request parameters: given tag does not map to the given digest"} in failures
    assert {"imageId": {"imageTag": "invalid_tag", "imageDigest": d}, "failureCode": "ImageNotFound",
            "failureReason": "Requested image not found"} in failures
    assert {"imageId": {}, "failureCode": "MissingDigestAndTag",
            "failureReason": "Invalid request parameters: both tag and digest cannot be null"} in failures
    bad_tag = [f for f in failures if f["imageId"] == {"imageTag": "bad/tag"}]
    assert [f["failureCode"] for f in bad_tag] == ["InvalidImageTag"]
    assert len(failures) == 7


def test_batch_get_image_empty_id_list_is_invalid(ecr_raw, reg, repo):
    push_tags(reg, repo, images.make_image(), "latest")
    with pytest.raises(ClientError) as e:
        ecr_raw.batch_get_image(repositoryName=repo, imageIds=[])
    assert "imageIds" in client_error(e, "InvalidParameterException")


def test_batch_get_image_accepted_media_types(ecr, reg, repo):
    oci = images.make_image()
    index = images.make_multiarch(docker=True)
    push_tags(reg, repo, oci, "oci")
    push_tags(reg, repo, index, "list")
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "oci"}],
                              acceptedMediaTypes=[images.OCI_MANIFEST, images.DOCKER_MANIFEST])
    assert len(got["images"]) == 1 and got["failures"] == []
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "oci"}],
                              acceptedMediaTypes=[images.DOCKER_MANIFEST])
    assert got["images"] == []
    assert [f["failureCode"] for f in got["failures"]] == ["ImageNotFound"]
    assert images.OCI_MANIFEST in got["failures"][0]["failureReason"]
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "list"}],
                              acceptedMediaTypes=[images.DOCKER_LIST, images.OCI_INDEX])
    assert got["images"][0]["imageManifest"].encode() == index.manifest
    assert got["images"][0]["imageManifestMediaType"] == images.DOCKER_LIST
    # without acceptedMediaTypes the stored manifest comes back whatever its type
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "list"}])
    assert got["images"][0]["imageManifest"].encode() == index.manifest


def test_batch_get_image_records_a_pull(ecr, reg, repo, berth):
    d = push_tags(reg, repo, images.make_image(), "latest")
    [det] = ecr.describe_images(repositoryName=repo)["imageDetails"]
    assert "lastRecordedPullTime" not in det
    ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageDigest": d}])
    assert pulled_now(berth, repo)


# ---------------------------------------------------------------------------------------
# PutImage
# ---------------------------------------------------------------------------------------

def test_put_image_retag_recipe_with_jq(aws, berth, reg, repo):
    """The user guide's retag: batch-get-image | jq the manifest, then put-image it under a new tag."""
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest")
    script = (
        'MANIFEST=$(aws ecr batch-get-image --repository-name "$REPO" --image-ids imageTag=latest '
        '--endpoint-url "$URL" --output json | jq --raw-output --join-output \'.images[0].imageManifest\')\n'
        'aws ecr put-image --repository-name "$REPO" --image-tag new --image-manifest "$MANIFEST" '
        '--endpoint-url "$URL" --output json\n'
    )
    env = dict(_cli_env(berth), REPO=repo, URL=berth.url)
    p = run(["bash", "-ec", script], env=env, timeout=120, redact=[berth.secret])
    out = json.loads(p.stdout)
    assert out["image"]["imageId"] == {"imageDigest": d, "imageTag": "new"}
    assert out["image"]["imageManifest"].encode() == img.manifest
    assert out["image"]["imageManifestMediaType"] == images.OCI_MANIFEST
    assert out["image"]["repositoryName"] == repo and out["image"]["registryId"] == berth.account_id
    # verify the new tag is attached to the image
    listed = aws("list-images", "--repository-name", repo)["imageIds"]
    assert ids_set(listed) == {(d, "latest"), (d, "new")}
    [det] = aws("describe-images", "--repository-name", repo)["imageDetails"]
    assert sorted(det["imageTags"]) == ["latest", "new"]
    r = reg.get_manifest(repo, "new")
    assert r.status_code == 200 and r.content == img.manifest, describe(r)


def test_put_image_retag_recipe_with_query_text(berth, reg, repo):
    """The seed's form: --query 'images[].imageManifest' --output text."""
    img = images.make_image(docker=True)
    d = push_tags(reg, repo, img, "latest")
    script = (
        'MANIFEST=$(aws ecr batch-get-image --repository-name "$REPO" --image-ids imageTag=latest '
        '--endpoint-url "$URL" --query \'images[].imageManifest\' --output text)\n'
        'aws ecr put-image --repository-name "$REPO" --image-tag 2017.03 --image-manifest "$MANIFEST" '
        '--endpoint-url "$URL" --output json\n'
    )
    env = dict(_cli_env(berth), REPO=repo, URL=berth.url)
    p = run(["bash", "-ec", script], env=env, timeout=120, redact=[berth.secret])
    assert json.loads(p.stdout)["image"]["imageId"] == {"imageDigest": d, "imageTag": "2017.03"}
    r = reg.get_manifest(repo, "2017.03")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == d, describe(r)


def test_put_image_boto3_new_manifest_by_digest_and_media_type(ecr, reg, repo, berth):
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    out = ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageDigest=img.digest)
    assert out["image"]["imageId"] == {"imageDigest": img.digest}
    assert out["image"]["imageManifestMediaType"] == images.OCI_MANIFEST
    listed = ecr.list_images(repositoryName=repo)["imageIds"]
    assert listed == [{"imageDigest": img.digest}]
    # a manifest without a mediaType field takes imageManifestMediaType
    obj = img.json
    del obj["mediaType"]
    obj["annotations"] = {"x": "y"}
    body = images.dumps(obj)
    out = ecr.put_image(repositoryName=repo, imageManifest=body.decode(), imageTag="typed",
                        imageManifestMediaType=images.OCI_MANIFEST)
    assert out["image"]["imageId"] == {"imageDigest": images.sha256(body), "imageTag": "typed"}
    assert out["image"]["imageManifestMediaType"] == images.OCI_MANIFEST
    r = reg.get_manifest(repo, "typed")
    assert r.status_code == 200 and r.content == body, describe(r)
    # moving a mutable tag to another image is allowed
    out = ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag="typed")
    assert out["image"]["imageId"] == {"imageDigest": img.digest, "imageTag": "typed"}


def test_put_image_manifest_list_via_cli(aws, reg, repo):
    """A multi-arch list assembled from children already in the repository, as scripts do with put-image."""
    index = images.make_multiarch(docker=True)
    for child in index.children:
        push_tags(reg, repo, child)
    out = aws("put-image", "--repository-name", repo, "--image-tag", "multi",
              "--image-manifest", index.manifest.decode(),
              "--image-manifest-media-type", images.DOCKER_LIST)
    assert out["image"]["imageId"] == {"imageDigest": index.digest, "imageTag": "multi"}
    assert out["image"]["imageManifestMediaType"] == images.DOCKER_LIST


def test_put_image_same_manifest_and_tag_is_image_already_exists(ecr, reg, repo, berth):
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest")
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag="latest")
    msg = client_error(e, "ImageAlreadyExistsException")
    assert msg == (f"Image with digest '{d}' and tag 'latest' already exists in the repository with name "
                   f"'{repo}' in registry with id '{berth.account_id}'")
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode())
    client_error(e, "ImageAlreadyExistsException")
    assert ids_set(ecr.list_images(repositoryName=repo)["imageIds"]) == {(d, "latest")}


def test_put_image_digest_mismatch(ecr, reg, repo):
    img = images.make_image()
    for b in img.blobs:
        reg.push_blob(repo, b)
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag="x", imageDigest=ZERO)
    msg = client_error(e, "ImageDigestDoesNotMatchException")
    assert ZERO in msg and img.digest in msg
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageDigest="sha256:nothex")
    client_error(e, "InvalidParameterException")
    assert reg.get_manifest(repo, img.digest).status_code == 404


def test_put_image_missing_layer_is_layers_not_found(ecr, reg, repo, berth):
    img = images.make_image(nlayers=2)
    reg.push_blob(repo, img.config)
    reg.push_blob(repo, img.layers[0])
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag="latest")
    msg = client_error(e, "LayersNotFoundException")
    assert msg == (f"Layers with digests '[{img.layers[1].digest}]' required for pushing image into repository "
                   f"with name '{repo}' in the registry with id '{berth.account_id}' do not exist")
    assert reg.get_manifest(repo, "latest").status_code == 404


def test_put_image_list_with_missing_child_is_referenced_images_not_found(ecr, reg, repo):
    index = images.make_multiarch()
    push_tags(reg, repo, index.children[0])
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=index.manifest.decode(), imageTag="multi")
    msg = client_error(e, "ReferencedImagesNotFoundException")
    assert index.children[1].digest in msg


@pytest.mark.parametrize("body,why", [
    ("this is not json", "Invalid JSON syntax"),
    ('{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}', "config"),
    ('{"schemaVersion": 3}', "schemaVersion"),
    ('{"schemaVersion": 2, "mediaType": "application/x-unknown", "config": {}}', "not supported"),
])
def test_put_image_bad_manifest_is_invalid_parameter(ecr, reg, repo, body, why):
    push_tags(reg, repo, images.make_image(), "latest")
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=body, imageTag="bad")
    msg = client_error(e, "InvalidParameterException")
    assert "Invalid parameter at 'ImageManifest'" in msg and why in msg


def test_put_image_media_type_disagreeing_with_manifest(ecr, reg, repo):
    img = images.make_image()
    push_tags(reg, repo, img, "latest")
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag="other",
                      imageManifestMediaType=images.DOCKER_MANIFEST)
    client_error(e, "InvalidParameterException")


def test_put_image_bad_tag_is_invalid_parameter(ecr, reg, repo):
    img = images.make_image()
    push_tags(reg, repo, img, "latest")
    for tag in ("bad/tag", "-leading-dash", "x" * 129):
        with pytest.raises(ClientError) as e:
            ecr.put_image(repositoryName=repo, imageManifest=img.manifest.decode(), imageTag=tag)
        client_error(e, "InvalidParameterException")


def test_put_image_limits_are_limit_exceeded(berth_factory):
    srv = berth_factory(extra_env={"BERTH_MAX_IMAGES_PER_REPOSITORY": "2", "BERTH_MAX_TAGS_PER_IMAGE": "2"})
    reg = Registry(srv)
    client = _client(srv)
    name = repo_name_for("limits")
    first = images.make_image()
    push_tags(reg, name, first, "a", "b")
    with pytest.raises(ClientError) as e:  # a third tag on one image
        client.put_image(repositoryName=name, imageManifest=first.manifest.decode(), imageTag="c")
    client_error(e, "LimitExceededException")
    push_tags(reg, name, images.make_image())
    third = images.make_image()
    for b in third.blobs:
        reg.push_blob(name, b)
    with pytest.raises(ClientError) as e:  # a third image in the repository
        client.put_image(repositoryName=name, imageManifest=third.manifest.decode(), imageTag="t")
    client_error(e, "LimitExceededException")
    assert len(client.describe_images(repositoryName=name)["imageDetails"]) == 2


def test_put_image_tag_mutability_immutable_rejects_overwrite(ecr, aws, reg, repo):
    """The user guide's immutable tags: put-image-tag-mutability IMMUTABLE, then an overwrite is refused."""
    first, second = images.make_image(), images.make_image()
    d1 = push_tags(reg, repo, first, "release")
    for b in second.blobs:
        reg.push_blob(repo, b)
    p = aws("put-image-tag-mutability", "--repository-name", repo, "--image-tag-mutability", "IMMUTABLE",
            check=False)
    if p.returncode != 0 and "UnsupportedOperationException" in p.stderr:
        pytest.skip("PutImageTagMutability is not implemented yet (src/ecr/repositories.c)")
    assert p.returncode == 0, p.stderr
    with pytest.raises(ClientError) as e:
        ecr.put_image(repositoryName=repo, imageManifest=second.manifest.decode(), imageTag="release")
    msg = client_error(e, "ImageTagAlreadyExistsException")
    assert msg == (f"The image tag 'release' already exists in the '{repo}' repository and cannot be overwritten "
                   f"because the repository is immutable.")
    p = aws("put-image", "--repository-name", repo, "--image-tag", "release",
            "--image-manifest", second.manifest.decode(), check=False)
    aws_error(p, "ImageTagAlreadyExistsException")
    # the tag still names the first image; a new tag is fine
    got = ecr.batch_get_image(repositoryName=repo, imageIds=[{"imageTag": "release"}])
    assert got["images"][0]["imageId"]["imageDigest"] == d1
    out = ecr.put_image(repositoryName=repo, imageManifest=second.manifest.decode(), imageTag="release-2")
    assert out["image"]["imageId"]["imageDigest"] == second.digest


# ---------------------------------------------------------------------------------------
# BatchDeleteImage
# ---------------------------------------------------------------------------------------

def test_batch_delete_seed_walkthrough(aws, reg, repo):
    """List, delete an unwanted tag, then delete the image by digest (user guide 'Deleting an image')."""
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest", "v1")
    listed = aws("list-images", "--repository-name", repo)["imageIds"]
    assert ids_set(listed) == {(d, "latest"), (d, "v1")}
    out = aws("batch-delete-image", "--repository-name", repo, "--image-ids", "imageTag=latest")
    assert out == {"imageIds": [{"imageDigest": d, "imageTag": "latest"}], "failures": []}
    assert ids_set(aws("list-images", "--repository-name", repo)["imageIds"]) == {(d, "v1")}
    assert reg.get_manifest(repo, "latest").status_code == 404
    assert reg.get_manifest(repo, "v1").status_code == 200
    out = aws("batch-delete-image", "--repository-name", repo, "--image-ids", f"imageDigest={d}")
    assert out == {"imageIds": [{"imageDigest": d, "imageTag": "v1"}], "failures": []}
    assert aws("list-images", "--repository-name", repo)["imageIds"] == []
    assert reg.get_manifest(repo, d).status_code == 404


def test_batch_delete_last_tag_deletes_the_image(ecr, reg, repo):
    keep = images.make_image()
    gone = images.make_image()
    dk = push_tags(reg, repo, keep, "keep")
    dg = push_tags(reg, repo, gone, "only")
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "only"}])
    assert out["imageIds"] == [{"imageDigest": dg, "imageTag": "only"}] and out["failures"] == []
    assert ids_set(ecr.list_images(repositoryName=repo)["imageIds"]) == {(dk, "keep")}
    assert reg.get_manifest(repo, dg).status_code == 404


def test_batch_delete_by_digest_removes_every_tag(ecr, reg, repo):
    img = images.make_image()
    d = push_tags(reg, repo, img, "a", "b", "c")
    untagged = push_tags(reg, repo, images.make_image())
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": d}, {"imageDigest": untagged}])
    assert ids_set(out["imageIds"]) == {(d, "a"), (d, "b"), (d, "c"), (untagged, None)}
    assert len(out["imageIds"]) == 4 and out["failures"] == []
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


def test_batch_delete_tag_and_digest_together(ecr, reg, repo):
    img = images.make_image()
    d = push_tags(reg, repo, img, "latest", "t2")
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "invalid_tag", "imageDigest": d}])
    assert out["imageIds"] == []
    assert out["failures"] == [{"imageId": {"imageTag": "invalid_tag", "imageDigest": d},
                                "failureCode": "ImageNotFound", "failureReason": "Requested image not found"}]
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest", "imageDigest": ZERO}])
    assert out["failures"] == [{"imageId": {"imageTag": "latest", "imageDigest": ZERO},
                                "failureCode": "ImageTagDoesNotMatchDigest",
                                "failureReason": "Invalid request parameters: given tag does not map to the given digest"}]
    # both given: only that tag goes, the image keeps its other tag
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "latest", "imageDigest": d}])
    assert out == {"imageIds": [{"imageDigest": d, "imageTag": "latest"}], "failures": [],
                   "ResponseMetadata": out["ResponseMetadata"]}
    assert ids_set(ecr.list_images(repositoryName=repo)["imageIds"]) == {(d, "t2")}
    # several identifiers naming the same image: it is deleted and reported once
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": d}, {"imageTag": "t2"}])
    assert out["imageIds"] == [{"imageDigest": d, "imageTag": "t2"}] and out["failures"] == []


def test_batch_delete_failures(ecr, reg, repo):
    d = push_tags(reg, repo, images.make_image(), "latest")
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[
        {"imageTag": "nope"}, {"imageDigest": ZERO}, {"imageDigest": "invalid_digest"}, {}, {"imageTag": "bad/tag"}])
    assert out["imageIds"] == []
    codes = {(tuple(sorted(f["imageId"].items())), f["failureCode"]) for f in out["failures"]}
    assert codes == {
        ((("imageTag", "nope"),), "ImageNotFound"),
        ((("imageDigest", ZERO),), "ImageNotFound"),
        ((("imageDigest", "invalid_digest"),), "InvalidImageDigest"),
        ((), "MissingDigestAndTag"),
        ((("imageTag", "bad/tag"),), "InvalidImageTag"),
    }
    assert ids_set(ecr.list_images(repositoryName=repo)["imageIds"]) == {(d, "latest")}


def test_batch_delete_image_referenced_by_manifest_list(ecr, reg, repo):
    index = images.make_multiarch()
    di = push_tags(reg, repo, index, "multi")
    child = index.children[0]
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": child.digest}])
    assert out["imageIds"] == []
    assert out["failures"] == [{"imageId": {"imageDigest": child.digest},
                                "failureCode": "ImageReferencedByManifestList",
                                "failureReason": f"Requested image referenced by manifest list: [{di}]"}]
    # deleting the only tag of a listed image would delete it: refused the same way, tag kept
    r = reg.put_manifest(repo, "amd64", child.manifest, child.media_type)
    assert r.status_code == 201, describe(r)
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "amd64"}])
    assert [f["failureCode"] for f in out["failures"]] == ["ImageReferencedByManifestList"]
    assert reg.get_manifest(repo, "amd64").status_code == 200
    # once the list is gone, its children can go
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "multi"}])
    assert out["imageIds"] == [{"imageDigest": di, "imageTag": "multi"}] and out["failures"] == []
    out = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "amd64"},
                                                                {"imageDigest": index.children[1].digest}])
    assert ids_set(out["imageIds"]) == {(child.digest, "amd64"), (index.children[1].digest, None)}
    assert out["failures"] == []
    assert ecr.list_images(repositoryName=repo)["imageIds"] == []


# ---------------------------------------------------------------------------------------
# ListImageReferrers
# ---------------------------------------------------------------------------------------

def test_list_image_referrers(aws, reg, repo):
    subject = images.make_image()
    ds = push_tags(reg, repo, subject, "app")
    sbom = images.make_artifact(subject=subject, artifact_type=SBOM, annotations={"org.example.kind": "sbom"})
    sig = images.make_artifact(subject=subject, artifact_type=SIG)
    old = images.make_artifact(subject=subject, artifact_type=SBOM, config_as_type=True)
    other = images.make_artifact(subject=images.make_image(), artifact_type=SBOM)
    for a in (sbom, sig, old, other):
        push_tags(reg, repo, a)
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ds}")
    refs = {r["digest"]: r for r in out["referrers"]}
    assert set(refs) == {sbom.digest, sig.digest, old.digest}
    assert refs[sbom.digest] == {"digest": sbom.digest, "mediaType": images.OCI_MANIFEST, "artifactType": SBOM,
                                 "size": sbom.size, "annotations": {"org.example.kind": "sbom"},
                                 "artifactStatus": "ACTIVE"}
    assert refs[sig.digest]["artifactType"] == SIG and "annotations" not in refs[sig.digest]
    assert refs[old.digest]["artifactType"] == SBOM  # the type carried by the config's media type
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ds}",
              "--filter", f"artifactTypes={SBOM}")
    assert {r["digest"] for r in out["referrers"]} == {sbom.digest, old.digest}
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ds}",
              "--filter", f"artifactTypes={SIG},{SBOM}")
    assert len(out["referrers"]) == 3
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ds}",
              "--filter", "artifactStatus=ARCHIVED")
    assert out["referrers"] == []
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ZERO}")
    assert out["referrers"] == []


def test_list_image_referrers_pages(aws, reg, repo):
    subject = images.make_image()
    ds = push_tags(reg, repo, subject, "app")
    arts = [images.make_artifact(subject=subject) for _ in range(5)]
    for a in arts:
        push_tags(reg, repo, a)
    seen, token, pages = [], None, 0
    while True:
        extra = ["--next-token", token] if token else []
        out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ds}",
                  "--max-results", "2", *extra)
        pages += 1
        seen += [r["digest"] for r in out["referrers"]]
        token = out.get("nextToken")
        if not token:
            break
    assert pages == 3 and sorted(seen) == sorted(a.digest for a in arts)


def test_list_image_referrers_bad_input(aws, reg, repo):
    push_tags(reg, repo, images.make_image(), "app")
    p = aws("list-image-referrers", "--repository-name", repo, "--subject-id", "imageDigest=not-a-digest",
            check=False)
    aws_error(p, "InvalidParameterException")
    p = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={ZERO}",
            "--max-results", "51", check=False)
    assert p.returncode != 0
