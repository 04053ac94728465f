"""`berth gc` while berth serves: blobs no manifest needs leave the disk, shared and young ones
stay, orphan files and abandoned uploads go, and what is left still pulls byte for byte."""

import hashlib
import os
import subprocess
import time

import boto3
import pytest

import images
from conftest import create_repository
from regclient import Registry, describe


def gc(srv, *args):
    p = subprocess.run([str(srv.binary), "gc", "--data", str(srv.data_dir), *args], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def blob_file(srv, digest):
    alg, hexd = digest.split(":")
    return srv.data_dir / "blobs" / alg / hexd[:2] / hexd


def test_gc_removes_only_what_no_manifest_needs(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    r1, r2 = create_repository("gc/one", srv), create_repository("gc/two", srv)
    keep = images.make_image(label="keep", nlayers=2)
    drop = images.make_image(label="drop", nlayers=2)
    reg.push_image(r1, keep, tag="keep")
    reg.push_image(r2, keep, tag="keep")          # the same blobs, linked to two repositories
    reg.push_image(r1, drop, tag="drop")
    stray = images.random_blob(4096, b"stray")
    reg.push_blob(r1, stray)                      # uploaded, never used by a manifest
    session = reg.start_upload(r1)                # an upload nobody finishes
    assert session.status_code == 202
    upload_path = session.headers["Location"]

    # young things are never collected
    out = gc(srv)
    assert "0 blobs" in out and "0 orphan" in out, out

    ecr = boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region,
                       aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret)
    ecr.batch_delete_image(repositoryName=r1, imageIds=[{"imageTag": "drop"}])
    orphan = "sha256:" + hashlib.sha256(b"orphan").hexdigest()
    f = blob_file(srv, orphan)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"orphan")
    old = time.time() - 7200
    os.utime(f, (old, old))

    out = gc(srv, "--grace-minutes", "0", "--upload-grace-hours", "0")
    assert "1 orphan files" in out and "1 uploads" in out, out
    drop_only = {b.digest for b in drop.blobs} - {b.digest for b in keep.blobs}
    for d in drop_only | {stray.digest}:
        assert not blob_file(srv, d).exists(), d
        r = reg.get(f"/v2/{r1}/blobs/{d}")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    assert not f.exists()
    for b in keep.blobs:
        assert blob_file(srv, b.digest).exists()
        for repo in (r1, r2):
            r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == b.digest.split(":")[1]
    assert reg.get_manifest(r1, "keep").status_code == 200
    assert reg.get(upload_path).status_code == 404

    # deleting the last user of the shared blobs frees them too
    ecr.batch_delete_image(repositoryName=r1, imageIds=[{"imageTag": "keep"}])
    gc(srv, "--grace-minutes", "0")
    assert all(blob_file(srv, b.digest).exists() for b in keep.blobs)      # still used by gc/two
    ecr.delete_repository(repositoryName=r2, force=True)
    out = gc(srv, "--grace-minutes", "0")
    assert not any(blob_file(srv, b.digest).exists() for b in keep.blobs), out
    # and pushing the same content again works
    reg.push_image(r1, keep, tag="again")
    assert reg.get_manifest(r1, "again").status_code == 200
