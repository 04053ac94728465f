"""Memory of uploads to an S3 blob store stays bounded (--s3-upload-memory-mb): each upload a request is
writing holds an 8 MiB staging buffer, so with a limit of 16 MiB two uploads may be written at once and
a third is refused before its body is read (429 TOOMANYREQUESTS with Retry-After on /v2, 503
ServiceUnavailableException from UploadLayerPart); starting a session takes no buffer. Once the two are
done, uploads go through again and every blob is whole."""

import threading
import time

import boto3
import pytest
from botocore.config import Config

import images
from conftest import create_repository, processes
from regclient import Registry, assert_error, describe, raw_http

MiB = 1 << 20


@pytest.fixture(scope="module")
def small(rgw, berth_factory, tmp_path_factory):
    data = tmp_path_factory.mktemp("s3mem") / "data"
    srv = berth_factory(data_dir=data, extra_env=rgw.blob_env(data, redirect="off"),
                        extra_args=["--s3-upload-memory-mb", "16"])
    # the limit is each process's memory: one process (of two behind nginx), spoken to directly
    return processes(srv)[0]


class PausedPatch:
    """A PATCH of an upload session that sends the first half of its body and waits (holding the
    session's staging buffer) until go() sends the rest."""

    def __init__(self, srv, reg, repo, data):
        r = reg.start_upload(repo)
        assert r.status_code == 202, describe(r)
        self.path = reg.location_path(r)
        self.data = data
        self.sent_half = threading.Event()
        self.release = threading.Event()
        self.result = None
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(len(data)),
                   "Content-Range": f"0-{len(data) - 1}"}

        def body():
            yield data[:len(data) // 2]
            self.sent_half.set()
            self.release.wait(60)
            yield data[len(data) // 2:]

        def run():
            self.result = raw_http(srv, "PATCH", self.path, headers, body(), timeout=60)

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def go(self):
        self.release.set()
        self.thread.join(60)
        return self.result


def test_concurrent_s3_uploads_past_the_memory_limit_are_refused_then_go_through(small):
    reg = Registry(small)
    repo = create_repository(f"s3mem/app-{images.token(3)}", small)
    ecr = boto3.client("ecr", endpoint_url=small.url, region_name=small.region,
                       aws_access_key_id=small.access_key, aws_secret_access_key=small.secret,
                       config=Config(retries={"total_max_attempts": 1}))
    ecr_upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    blobs = [images.random_blob(2 * MiB, f"s3mem-{i}".encode()) for i in range(2)]
    waiting = [PausedPatch(small, reg, repo, b.data) for b in blobs]
    try:
        assert all(w.sent_half.wait(30) for w in waiting)
        time.sleep(1)  # the two PATCHes opened their sessions when their headers were read
        assert not any(w.result for w in waiting), [w.result for w in waiting]
        # both buffers are taken: a chunk of another session and a monolithic upload are refused
        fresh = reg.start_upload(repo)
        assert fresh.status_code == 202, describe(fresh)   # a session begins without a buffer
        r = reg.patch(reg.location(fresh), data=b"chunk", headers={"Content-Type": "application/octet-stream"})
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert r.headers.get("Retry-After") == "1"
        assert "limit of 2 uploads to the object store at once" in r.json()["errors"][0]["message"]
        r = reg.post(f"/v2/{repo}/blobs/uploads/", params={"digest": images.sha256(b"mono")}, data=b"mono",
                     headers={"Content-Type": "application/octet-stream"})
        assert_error(r, 429, "TOOMANYREQUESTS")
        with pytest.raises(ecr.exceptions.ClientError) as e:
            ecr.upload_layer_part(repositoryName=repo, uploadId=ecr_upload, partFirstByte=0, partLastByte=3,
                                  layerPartBlob=b"part")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
        assert "uploads to the object store at once" in e.value.response["Error"]["Message"]
        assert not any(w.result for w in waiting), [w.result for w in waiting]
    finally:
        results = [w.go() for w in waiting]
    for (status, headers, body), blob in zip(results, blobs):
        assert status == 202, (status, body)
        assert headers["range"] == f"0-{blob.size - 1}"
    # the buffers are free again: the paused uploads commit, and a new push goes through
    for w, blob in zip(waiting, blobs):
        r = reg.put(w.path, params={"digest": blob.digest}, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, describe(r)
    r = reg.patch(reg.location(fresh), data=b"chunk", headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202, describe(r)
    img = images.make_image(label="s3mem-after", nlayers=2)
    reg.push_image(repo, img, tag="after")
    for blob in blobs + img.blobs:
        g = reg.get(f"/v2/{repo}/blobs/{blob.digest}")
        assert g.status_code == 200 and g.content == blob.data, describe(g)
    assert ecr.initiate_layer_upload(repositoryName=repo)["partSize"] > 0
    part = ecr.upload_layer_part(repositoryName=repo, uploadId=ecr_upload, partFirstByte=0, partLastByte=3,
                                 layerPartBlob=b"part")
    assert part["lastByteReceived"] == 3
