"""docs/deployment.md's backup and restore, done as written (issue 10 §4): a registry on PostgreSQL
and a versioned bucket in Ceph RGW is backed up with `pg_dump --format=custom` while it serves;
afterwards an image is deleted and GC removes its objects (they stay as noncurrent versions);
then every server stops, the dump goes back with `pg_restore --clean`, the removed versions are
copied back from `list-object-versions`, a server starts on the restored database, `berth fsck`
finds every record's object, and the deleted image pulls byte for byte again."""

import os
import subprocess

import pytest

import images
from conftest import create_repository, require_tool
from pgserver import PG_BIN
from regclient import Registry, describe


def restore_removed_versions(s3, bucket, prefix):
    """For every blob whose newest version is a delete marker, copy its newest real version back
    (what deployment.md says: list-object-versions under <prefix>/blobs/, then copy-object);
    returns the keys. (Upload staging objects under <prefix>/uploads/ are not the registry's
    content: their markers stay.)"""
    markers, versions = {}, {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for m in page.get("DeleteMarkers", []):
            if m["IsLatest"]:
                markers[m["Key"]] = m
        for v in page.get("Versions", []):
            best = versions.get(v["Key"])
            if best is None or v["LastModified"] > best["LastModified"]:
                versions[v["Key"]] = v
    for key in markers:
        s3.copy_object(Bucket=bucket, Key=key,
                       CopySource={"Bucket": bucket, "Key": key, "VersionId": versions[key]["VersionId"]})
    return sorted(markers)


def test_pg_dump_and_bucket_versions_restore_a_deleted_image(pg, rgw, berth_factory, tmp_path_factory):
    require_tool("radosgw")
    s3 = rgw.s3()
    bucket = "backup-" + images.token(8).lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

    work = tmp_path_factory.mktemp("backup")
    data_dir, key = work / "data", work / "registry.key"
    url = pg.create_database("b_" + images.token(12).lower())
    env = rgw.blob_env(data_dir, redirect="off")
    env["BERTH_BLOB_STORE"] = env["BERTH_BLOB_STORE"].replace(f"s3://{rgw.bucket}/", f"s3://{bucket}/", 1)
    prefix = env["BERTH_BLOB_STORE"].split("?")[0].split("/", 3)[3]
    args = ["--database", url, "--key-file", str(key), "--gc-interval-seconds", "86400"]
    srv = berth_factory(data_dir=data_dir, extra_env=env, extra_args=args)
    reg = Registry(srv)
    repo = create_repository("backup/app-" + images.token(4).lower(), srv)
    old = images.make_image(label="backup-old", nlayers=2)
    new = images.make_image(label="backup-new", nlayers=1)
    old_digest = reg.push_image(repo, old, tag="old")
    reg.push_image(repo, new, tag="new")

    def berth(*cmd_args):
        return subprocess.run([str(srv.binary), *cmd_args, "--data", str(data_dir), "--database", url,
                               "--key-file", str(key)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **env})

    dump = work / "berth.dump"
    p = subprocess.run([str(PG_BIN / "pg_dump"), "--format=custom", f"--file={dump}", url],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and dump.stat().st_size > 0, p.stderr

    # after the backup: the old image is deleted and GC removes its objects
    r = reg.delete(f"/v2/{repo}/manifests/{old_digest}")
    assert r.status_code == 202, describe(r)
    p = berth("gc", "--gc-review-delay-seconds", "0")
    assert p.returncode == 0, p.stderr
    gone = [b.digest for b in old.blobs]
    for d in gone:
        assert reg.get(f"/v2/{repo}/blobs/{d}").status_code == 404, d
    p = berth("fsck")
    assert p.returncode == 0, p.stdout + p.stderr

    # the restore, as deployment.md has it
    srv.stop()
    p = subprocess.run([str(PG_BIN / "pg_restore"), "--clean", "--if-exists", f"--dbname={url}", str(dump)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = berth("fsck")                            # the records are back, the objects not yet
    assert p.returncode == 1, p.stdout + p.stderr
    assert all(d in p.stdout for d in gone), p.stdout
    restored = restore_removed_versions(s3, bucket, prefix + "/blobs/")
    assert sorted(k.rsplit("/", 1)[1] for k in restored) == sorted(d.split(":")[1] for d in gone)
    srv.start()
    p = berth("fsck")
    assert p.returncode == 0, p.stdout + p.stderr

    r = reg.get(f"/v2/{repo}/manifests/old", headers={"Accept": old.media_type})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == old_digest, describe(r)
    for b in old.blobs + new.blobs:
        r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert r.status_code == 200 and r.content == b.data, (b.digest, describe(r))
