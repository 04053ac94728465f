"""The archive storage class and pull times (issue 8 §1): UpdateImageStorageClass, imageStatus /
lastArchivedAt / lastActivatedAt in DescribeImages, the status filters, archived images refused on
pull (/v2 404, BatchGetImage failure), restores completing through the job queue; pull times recorded
in memory and written in batches, and the pull-time update exclusions.

Debian's boto3 lacks these operations, so they are driven with the aws CLI (current botocore); a
loop of 100 registrations uses requests signed by botocore's signer instead, for speed.
"""

import json
import time

import boto3
import pytest
from botocore.config import Config

import images
from conftest import processes, registry_credentials, token
from regclient import Registry, assert_error, describe
from test_ecr_repositories import AwsCli
from test_sigv4 import signed

import requests

RESTORE_DELAY = 4  # seconds an image stays ACTIVATING on the module's server
FLUSH = 1  # seconds pull times wait in memory on the module's server


@pytest.fixture(scope="module")
def srv(berth_factory):
    return berth_factory(extra_args=["--restore-delay-seconds", str(RESTORE_DELAY),
                                     "--pull-time-flush-seconds", str(FLUSH)])


@pytest.fixture(scope="module")
def aws(srv):
    return AwsCli(srv)


@pytest.fixture(scope="module")
def reg(srv):
    return Registry(srv)


def ecr_raw(server, op, payload, key=None, secret=None):
    body = json.dumps(payload).encode()
    headers, body = signed(server, body=body, key=key, secret=secret,
                           target="AmazonEC2ContainerRegistry_V20150921." + op)
    return requests.post(server.url + "/", headers=headers, data=body, timeout=30)


def raw(server, op, **payload):
    r = ecr_raw(server, op, payload)
    assert r.status_code == 200, f"{op}: {r.status_code} {r.text}"
    return r.json()


def raw_fails(server, op, code, **payload):
    r = ecr_raw(server, op, payload)
    assert r.status_code == 400 and r.json()["__type"] == code, f"{op}: expected {code}: {r.status_code} {r.text}"
    return r.json()["message"]


def raw_digests(server, repo, **filt):
    out = raw(server, "DescribeImages", repositoryName=repo, **({"filter": filt} if filt else {}))
    return {d["imageDigest"] for d in out["imageDetails"]}


def push(reg, repo, tag=None, obj=None):
    obj = obj or images.make_image()
    reg.push_image(repo, obj, tag=tag)
    return obj


def detail(aws, repo, **image_id):
    ids = " ".join(f"{k}={v}" for k, v in image_id.items())
    return aws("describe-images", "--repository-name", repo, "--image-ids", ids)["imageDetails"][0]


def detail_now(server, repo, **image_id):
    """DescribeImages of one image by a signed request (the CLI takes seconds to start)."""
    r = ecr_raw(server, "DescribeImages", {"repositoryName": repo, "imageIds": [image_id]})
    assert r.status_code == 200, r.text
    return r.json()["imageDetails"][0]


def pull_recorded(server, repo, **image_id):
    """Whether a pull time shows for the image on any of the server's processes: each shows the pulls
    it served at once, from memory, and the others after its flush."""
    return any("lastRecordedPullTime" in detail_now(p, repo, **image_id) for p in processes(server))


def storage_class(aws, repo, target, **image_id):
    ids = ",".join(f"{k}={v}" for k, v in image_id.items())
    return aws("update-image-storage-class", "--repository-name", repo, "--image-id", ids,
               "--target-storage-class", target)


def digests(aws, repo, *extra):
    out = aws("describe-images", "--repository-name", repo, *extra)
    return {d["imageDigest"] for d in out["imageDetails"]}


# ---------------------------------------------------------------------------------------
# Archive and restore
# ---------------------------------------------------------------------------------------

def test_archive_refuses_pulls_and_restore_completes(aws, reg, srv):
    repo = "status/" + token()
    img = push(reg, repo, "v1")
    other = push(reg, repo, "v2")

    out = storage_class(aws, repo, "ARCHIVE", imageTag="v1")
    assert out["imageStatus"] == "ARCHIVED"
    assert out["imageId"] == {"imageDigest": img.digest, "imageTag": "v1"}
    assert out["repositoryName"] == repo and out["registryId"] == srv.account_id

    d = detail(aws, repo, imageDigest=img.digest)
    assert d["imageStatus"] == "ARCHIVED"
    assert "lastArchivedAt" in d and "lastActivatedAt" not in d
    assert detail_now(srv, repo, imageDigest=other.digest)["imageStatus"] == "ACTIVE"

    # listings: ACTIVE only unless the filter says otherwise (the model's default)
    assert digests(aws, repo, "--filter", "imageStatus=ARCHIVED") == {img.digest}
    assert raw_digests(srv, repo) == {other.digest}
    assert raw_digests(srv, repo, imageStatus="ANY") == {img.digest, other.digest}
    assert raw_digests(srv, repo, imageStatus="ARCHIVED", tagStatus="UNTAGGED") == set()
    listed = raw(srv, "ListImages", repositoryName=repo)["imageIds"]
    assert listed == [{"imageDigest": other.digest, "imageTag": "v2"}]
    listed = aws("list-images", "--repository-name", repo, "--filter", "imageStatus=ARCHIVED")["imageIds"]
    assert listed == [{"imageDigest": img.digest, "imageTag": "v1"}]

    # pulls are refused: /v2 404 by tag and by digest, GET and HEAD; BatchGetImage a failure
    for ref in ("v1", img.digest):
        r = reg.get_manifest(repo, ref)
        assert_error(r, 404, "MANIFEST_UNKNOWN")
        assert "archived" in r.text, r.text
        assert reg.get_manifest(repo, ref, method="HEAD").status_code == 404
    got = aws("batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=v1")
    assert got["images"] == []
    assert got["failures"][0]["failureCode"] == "ImageNotFound"
    assert "archived" in got["failures"][0]["failureReason"]
    assert reg.get_manifest(repo, "v2").status_code == 200

    # archiving it again is not a storage class update there is
    msg = aws.fails("update-image-storage-class", "--repository-name", repo, "--image-id", "imageTag=v1",
                    "--target-storage-class", "ARCHIVE", code="ImageStorageClassUpdateNotSupportedException")
    assert "ARCHIVED" in msg

    # restore: ACTIVATING (not pullable) for RESTORE_DELAY seconds, then ACTIVE
    t0 = time.monotonic()
    r = ecr_raw(srv, "UpdateImageStorageClass", {"repositoryName": repo, "imageId": {"imageDigest": img.digest},
                                                 "targetStorageClass": "STANDARD"})
    assert r.status_code == 200 and r.json()["imageStatus"] == "ACTIVATING", r.text
    assert detail_now(srv, repo, imageTag="v1")["imageStatus"] == "ACTIVATING"
    r = ecr_raw(srv, "DescribeImages", {"repositoryName": repo, "filter": {"imageStatus": "ACTIVATING"}})
    assert [d["imageDigest"] for d in r.json()["imageDetails"]] == [img.digest]
    assert_error(reg.get_manifest(repo, "v1"), 404, "MANIFEST_UNKNOWN")
    # asking again while it is activating keeps it so
    r = ecr_raw(srv, "UpdateImageStorageClass", {"repositoryName": repo, "imageId": {"imageTag": "v1"},
                                                 "targetStorageClass": "STANDARD"})
    assert r.status_code == 200 and r.json()["imageStatus"] == "ACTIVATING", r.text
    assert time.monotonic() - t0 < RESTORE_DELAY, "the checks of ACTIVATING took longer than the restore delay"
    deadline = time.monotonic() + RESTORE_DELAY + 15
    while time.monotonic() < deadline:
        d = detail_now(srv, repo, imageTag="v1")
        if d["imageStatus"] == "ACTIVE":
            break
        time.sleep(0.2)
    assert d["imageStatus"] == "ACTIVE", d
    assert time.monotonic() - t0 >= RESTORE_DELAY - 0.5
    assert "lastActivatedAt" in d and "lastArchivedAt" in d
    r = reg.get_manifest(repo, "v1")
    assert r.status_code == 200 and r.content == img.manifest
    assert raw_digests(srv, repo) == {img.digest, other.digest}

    # restoring an active image is refused
    raw_fails(srv, "UpdateImageStorageClass", "ImageStorageClassUpdateNotSupportedException", repositoryName=repo,
              imageId={"imageTag": "v1"}, targetStorageClass="STANDARD")


def test_storage_class_errors(aws, reg, srv):
    repo = "status/" + token()
    push(reg, repo, "v1")
    aws.fails("update-image-storage-class", "--repository-name", repo, "--image-id", "imageTag=nope",
              "--target-storage-class", "ARCHIVE", code="ImageNotFoundException")

    def fails(code, **kw):
        return raw_fails(srv, "UpdateImageStorageClass", code, **dict({"repositoryName": repo,
                                                                       "targetStorageClass": "ARCHIVE"}, **kw))

    fails("ImageNotFoundException", imageId={"imageDigest": "sha256:" + "0" * 64})
    fails("RepositoryNotFoundException", repositoryName="status/none-" + token(), imageId={"imageTag": "v1"})
    fails("InvalidParameterException", imageId={"imageDigest": "bad"})
    fails("InvalidParameterException", imageId={})
    assert "targetStorageClass" in fails("InvalidParameterException", imageId={"imageTag": "v1"},
                                         targetStorageClass="GLACIER")


def test_archived_child_of_active_index(srv, reg):
    repo = "status/" + token()
    idx = images.make_multiarch()
    reg.push_image(repo, idx, tag="multi")
    child = idx.children[0].digest
    msg = raw_fails(srv, "UpdateImageStorageClass", "ImageStorageClassUpdateNotSupportedException", repositoryName=repo,
                    imageId={"imageDigest": child}, targetStorageClass="ARCHIVE")
    assert idx.digest in msg
    for image_id in ({"imageTag": "multi"}, {"imageDigest": child}):
        out = raw(srv, "UpdateImageStorageClass", repositoryName=repo, imageId=image_id, targetStorageClass="ARCHIVE")
        assert out["imageStatus"] == "ARCHIVED"
    # the other child is still pulled by digest; the index is not, by tag or digest
    assert reg.get_manifest(repo, idx.children[1].digest).status_code == 200
    assert reg.get_manifest(repo, "multi").status_code == 404


def test_pushing_again_makes_an_archived_image_active(srv, reg):
    repo = "status/" + token()
    img = push(reg, repo, "v1")
    raw(srv, "UpdateImageStorageClass", repositoryName=repo, imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE")
    r = reg.put_manifest(repo, "v1", img.manifest, img.media_type)
    assert r.status_code == 201, describe(r)
    d = detail_now(srv, repo, imageTag="v1")
    assert d["imageStatus"] == "ACTIVE" and "lastActivatedAt" in d
    assert reg.get_manifest(repo, "v1").status_code == 200


def test_archived_referrers(aws, reg, srv):
    repo = "status/" + token()
    subject = push(reg, repo, "app")
    sbom = images.make_artifact(subject=subject, annotations={"org.example.kind": "sbom"})
    sig = images.make_artifact(subject=subject, artifact_type="application/vnd.example.signature.v1")
    reg.push_image(repo, sbom)
    reg.push_image(repo, sig)
    raw(srv, "UpdateImageStorageClass", repositoryName=repo, imageId={"imageDigest": sbom.digest},
        targetStorageClass="ARCHIVE")

    def referrers(**filt):
        out = raw(srv, "ListImageReferrers", repositoryName=repo, subjectId={"imageDigest": subject.digest},
                  **({"filter": filt} if filt else {}))
        return {r["digest"]: r for r in out["referrers"]}

    assert set(referrers()) == {sig.digest}
    out = aws("list-image-referrers", "--repository-name", repo, "--subject-id", f"imageDigest={subject.digest}",
              "--filter", "artifactStatus=ARCHIVED")
    archived = {r["digest"]: r for r in out["referrers"]}
    assert set(archived) == {sbom.digest}
    assert archived[sbom.digest]["artifactStatus"] == "ARCHIVED"
    assert archived[sbom.digest]["annotations"] == {"org.example.kind": "sbom"}
    assert set(referrers(artifactStatus="ANY")) == {sbom.digest, sig.digest}
    r = reg.get(f"/v2/{repo}/referrers/{subject.digest}")
    assert r.status_code == 200
    assert [m["digest"] for m in r.json()["manifests"]] == [sig.digest]


def test_restore_survives_a_restart(berth_factory, tmp_path):
    # long enough for a restart on a loaded machine (of both processes of a pair, under ASan), which
    # must find the restore still under way
    delay = 8
    srv = berth_factory(extra_args=["--restore-delay-seconds", str(delay)])
    reg = Registry(srv)
    repo = "status/" + token()
    push(reg, repo, "v1")
    raw(srv, "UpdateImageStorageClass", repositoryName=repo, imageId={"imageTag": "v1"}, targetStorageClass="ARCHIVE")
    t0 = time.monotonic()
    r = ecr_raw(srv, "UpdateImageStorageClass", {"repositoryName": repo, "imageId": {"imageTag": "v1"},
                                                 "targetStorageClass": "STANDARD"})
    assert r.status_code == 200 and r.json()["imageStatus"] == "ACTIVATING", r.text
    srv.restart()
    status = detail_now(srv, repo, imageTag="v1")["imageStatus"]
    assert status == "ACTIVATING", f"{status} {time.monotonic() - t0:.1f}s after the restore began"
    deadline = time.monotonic() + delay + 20
    while time.monotonic() < deadline and detail_now(srv, repo, imageTag="v1")["imageStatus"] != "ACTIVE":
        time.sleep(0.3)
    assert detail_now(srv, repo, imageTag="v1")["imageStatus"] == "ACTIVE"
    srv.stop()


# ---------------------------------------------------------------------------------------
# Pull times
# ---------------------------------------------------------------------------------------

def test_pull_time_recorded_and_written_in_batches(berth_factory):
    srv = berth_factory(extra_args=["--pull-time-flush-seconds", "1"])
    reg = Registry(srv)
    repo = "pulls/" + token()
    push(reg, repo, "a")
    b = push(reg, repo, "b")
    assert "lastRecordedPullTime" not in detail_now(srv, repo, imageTag="a")

    before = time.time()
    assert reg.get_manifest(repo, "a").status_code == 200
    got = AwsCli(srv)("batch-get-image", "--repository-name", repo, "--image-ids", "imageTag=b")
    assert [i["imageId"]["imageDigest"] for i in got["images"]] == [b.digest]
    # visible at once on this server (from memory)
    for tag in ("a", "b"):
        assert detail_now(srv, repo, imageTag=tag)["lastRecordedPullTime"] >= before - 1
    # HEAD is not a pull
    c = push(reg, repo, "c")
    assert reg.get_manifest(repo, "c", method="HEAD").status_code == 200
    assert "lastRecordedPullTime" not in detail_now(srv, repo, imageTag="c")

    # written by the flush, so a kill -9 after it loses nothing
    time.sleep(2.5)
    shown = detail_now(srv, repo, imageTag="a")["lastRecordedPullTime"]
    srv.kill()
    srv.start()
    assert detail_now(srv, repo, imageTag="a")["lastRecordedPullTime"] == shown
    assert "lastRecordedPullTime" in detail_now(srv, repo, imageTag="b")

    # a graceful stop writes what is waiting, however long the flush period
    srv.stop()
    srv.extra_args = ["--pull-time-flush-seconds", "3600"]
    srv.start()
    assert reg.get_manifest(repo, c.digest).status_code == 200
    srv.restart()
    assert "lastRecordedPullTime" in detail_now(srv, repo, imageDigest=c.digest)
    srv.stop()


def iam_user_with_pull(srv, name):
    iam = boto3.client("iam", endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
                       aws_secret_access_key=srv.secret, config=Config(retries={"max_attempts": 1}))
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    k = iam.create_access_key(UserName=name)["AccessKey"]
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    return arn, k["AccessKeyId"], k["SecretAccessKey"]


def test_pull_time_update_exclusions(aws, reg, srv):
    repo = "pulls/" + token()
    push(reg, repo, "v1")
    arn, key, secret = iam_user_with_pull(srv, "puller-" + token())
    out = aws("register-pull-time-update-exclusion", "--principal-arn", arn)
    assert out["principalArn"] == arn and "createdAt" in out
    msg = aws.fails("register-pull-time-update-exclusion", "--principal-arn", arn,
                    code="ExclusionAlreadyExistsException")
    assert arn in msg
    assert arn in aws("list-pull-time-update-exclusions")["pullTimeUpdateExclusions"]

    user_reg = Registry(srv, auth=registry_credentials(srv, key, secret))
    assert user_reg.get_manifest(repo, "v1").status_code == 200
    assert not pull_recorded(srv, repo, imageTag="v1")
    # the same user through BatchGetImage
    r = ecr_raw(srv, "BatchGetImage", {"repositoryName": repo, "imageIds": [{"imageTag": "v1"}]}, key=key,
                secret=secret)
    assert r.status_code == 200 and len(r.json()["images"]) == 1, r.text
    assert not pull_recorded(srv, repo, imageTag="v1")

    out = aws("deregister-pull-time-update-exclusion", "--principal-arn", arn)
    assert out["principalArn"] == arn
    aws.fails("deregister-pull-time-update-exclusion", "--principal-arn", arn, code="ExclusionNotFoundException")
    assert user_reg.get_manifest(repo, "v1").status_code == 200
    assert pull_recorded(srv, repo, imageTag="v1")


def test_exclusion_validation_pages_and_limit(aws, srv):
    aws.fails("register-pull-time-update-exclusion", "--principal-arn", "arn:aws:iam::123456789012:root",
              code="InvalidParameterException")
    raw_fails(srv, "RegisterPullTimeUpdateExclusion", "InvalidParameterException", principalArn="not-an-arn")
    raw_fails(srv, "ListPullTimeUpdateExclusions", "InvalidParameterException", nextToken="bm90LWEtdG9rZW4=")
    have = set(aws("list-pull-time-update-exclusions")["pullTimeUpdateExclusions"])
    prefix = "arn:aws:iam::210987654321:role/limit-" + token() + "-"
    n = 0
    while len(have) + n < 100:
        r = ecr_raw(srv, "RegisterPullTimeUpdateExclusion", {"principalArn": f"{prefix}{n:03d}"})
        assert r.status_code == 200, r.text
        n += 1
    r = ecr_raw(srv, "RegisterPullTimeUpdateExclusion", {"principalArn": prefix + "over"})
    assert r.status_code == 400 and r.json()["__type"] == "LimitExceededException", r.text

    # pages of 7 give back every exclusion once, in order
    seen, token_ = [], None
    while True:
        out = raw(srv, "ListPullTimeUpdateExclusions", maxResults=7, **({"nextToken": token_} if token_ else {}))
        assert len(out["pullTimeUpdateExclusions"]) <= 7
        seen += out["pullTimeUpdateExclusions"]
        token_ = out.get("nextToken")
        if not token_:
            break
    assert len(seen) == 100 and seen == sorted(seen) and len(set(seen)) == 100
    for i in range(n):
        r = ecr_raw(srv, "DeregisterPullTimeUpdateExclusion", {"principalArn": f"{prefix}{i:03d}"})
        assert r.status_code == 200, r.text
