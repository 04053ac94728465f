"""docs/deployment.md's backup and restore, done as written (issue 10 §4): a registry on PostgreSQL
and a versioned bucket in Ceph RGW is backed up with `pg_dump --format=custom` while it serves;
afterwards an image is deleted and GC removes its objects (they stay as noncurrent versions);
then every server stops, the dump goes back with `pg_restore --clean`, the removed versions are
copied back by deployment.md's own loop of `aws s3api` commands, a server starts on the restored database, `berth fsck`
finds every record's object, and the deleted image pulls byte for byte again."""

import os
import subprocess
from pathlib import Path


import images
from conftest import create_repository, require_tool
from pgserver import PG_BIN
from regclient import Registry, describe


REPO_ROOT = Path(__file__).resolve().parents[2]


def restore_removed_versions(rgw, bucket, prefix):
    """Runs deployment.md's loop (EP=... to done) that copies back the last version of every blob
    whose newest version is a delete marker, with the doc's bucket, prefix and endpoint replaced
    by this test's; the aws CLI (pyenv's python3 has it) talks to RGW."""
    doc = (REPO_ROOT / "docs" / "deployment.md").read_text()
    start = doc.index("EP=https://rgw.internal:7480")
    script = doc[start:doc.index("\ndone\n", start) + len("\ndone\n")]
    script = (script.replace("EP=https://rgw.internal:7480", f"EP={rgw.endpoint}")
              .replace("registry/blobs/", f"{prefix}/blobs/").replace("berth-blobs", bucket))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": rgw.access_key, "AWS_SECRET_ACCESS_KEY": rgw.secret_key,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    p = subprocess.run(["sh", "-eu", "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr


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
    restore_removed_versions(rgw, bucket, prefix)
    for d in gone:
        head = s3.head_object(Bucket=bucket, Key=f"{prefix}/blobs/sha256/{d[7:9]}/{d[7:]}")
        assert head["ContentLength"] == next(b.size for b in old.blobs if b.digest == d), d
    srv.start()
    p = berth("fsck")
    assert p.returncode == 0, p.stdout + p.stderr

    r = reg.get(f"/v2/{repo}/manifests/old", headers={"Accept": old.media_type})
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == old_digest, describe(r)
    for b in old.blobs + new.blobs:
        r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert r.status_code == 200 and r.content == b.data, (b.digest, describe(r))
