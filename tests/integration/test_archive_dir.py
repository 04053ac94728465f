"""--archive-dir: the blobs of archived images move to a separate archive location.

A server started with --archive-dir moves each blob that only archived images use to
<archive-dir>/sha256/xx/<hex> (an "archive-move" job queued with the archive), serves it from
there if asked, moves it back before a restore makes the image ACTIVE, and GC removes it from
there. `berth fsck --archive-dir` accepts a blob in either place.
"""

import hashlib
import time

import images
from datadir import assert_clean, blob_file, ecr_client, fsck, gc
from regclient import Registry
from test_ecr_repositories import AwsCli


def archived_file(adir, digest):
    alg, hexd = digest.split(":")
    return adir / alg / hexd[:2] / hexd


def wait_for(cond, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def storage_class(aws, repo, target, digest):
    return aws("update-image-storage-class", "--repository-name", repo, "--image-id", f"imageDigest={digest}",
               "--target-storage-class", target)


def status(aws, repo, digest):
    return aws("describe-images", "--repository-name", repo, "--image-ids",
               f"imageDigest={digest}")["imageDetails"][0]["imageStatus"]


def pull_bytes(reg, repo, img):
    """Pulls the image (manifest and every blob) and checks each against its digest."""
    r = reg.get_manifest(repo, img.digest)
    assert r.status_code == 200 and r.content == img.manifest, r.status_code
    for b in img.blobs:
        r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert r.status_code == 200, (b.digest, r.status_code)
        assert r.content == b.data and "sha256:" + hashlib.sha256(r.content).hexdigest() == b.digest


def test_archived_blobs_move_out_and_back(berth_factory, tmp_path):
    adir = tmp_path / "archive"
    srv = berth_factory(extra_args=["--archive-dir", str(adir), "--gc-interval-seconds", "86400"])
    aws, reg = AwsCli(srv), Registry(srv)
    shared = images.make_layer({"shared/a.txt": b"shared by an active and an archived image\n"})
    unique = images.make_layer({"unique/b.txt": b"only the archived image has this\n"})
    keep = images.make_image(layers=[shared], label="keep")
    cold = images.make_image(layers=[shared, unique], label="cold")
    reg.push_image("adir/keep", keep, tag="v1")
    reg.push_image("adir/cold", cold, tag="v1")
    moving = [cold.config.digest, unique.digest]  # only the archived image uses these
    assert_clean(srv, "--archive-dir", str(adir))

    # archive: the unique blobs move, the shared one stays
    assert storage_class(aws, "adir/cold", "ARCHIVE", cold.digest)["imageStatus"] == "ARCHIVED"
    wait_for(lambda: all(archived_file(adir, d).exists() and not blob_file(srv, d).exists() for d in moving),
             "the archived image's own blobs to move to the archive dir")
    for d in moving:
        assert archived_file(adir, d).read_bytes() == next(b.data for b in cold.blobs if b.digest == d)
    assert blob_file(srv, shared.digest).exists() and not archived_file(adir, shared.digest).exists()
    assert not list(adir.rglob(".mv-*")), "a temporary file of a move was left behind"
    r = assert_clean(srv, "--archive-dir", str(adir))
    assert "2 blobs in the archive dir, 0 in both places" in r.stdout, r
    # without the archive dir, fsck finds the moved blobs missing
    r = fsck(srv)
    assert r.returncode == 1 and sorted(p.split()[1] for p in r.problems) == sorted(f"blob={d}" for d in moving), r
    # a moved blob is still served (the store looks in the archive dir)
    r = reg.get(f"/v2/adir/cold/blobs/{unique.digest}")
    assert r.status_code == 200 and r.content == unique.data
    assert reg.get_manifest("adir/cold", cold.digest).status_code == 404  # archived: not pulled
    pull_bytes(reg, "adir/keep", keep)

    # restore: the blobs are back in the store before the image is ACTIVE
    assert storage_class(aws, "adir/cold", "STANDARD", cold.digest)["imageStatus"] == "ACTIVATING"
    wait_for(lambda: status(aws, "adir/cold", cold.digest) == "ACTIVE", "the restore to complete")
    for d in moving:
        assert blob_file(srv, d).exists() and not archived_file(adir, d).exists(), d
    pull_bytes(reg, "adir/cold", cold)
    r = assert_clean(srv, "--archive-dir", str(adir))
    assert "0 blobs in the archive dir" in r.stdout, r

    # archive again, delete it: GC removes its bytes from the archive dir
    storage_class(aws, "adir/cold", "ARCHIVE", cold.digest)
    wait_for(lambda: all(archived_file(adir, d).exists() and not blob_file(srv, d).exists() for d in moving),
             "the blobs to move to the archive dir again")
    ecr_client(srv).batch_delete_image(repositoryName="adir/cold", imageIds=[{"imageDigest": cold.digest}])
    gc(srv, "--archive-dir", str(adir), "--gc-review-delay-seconds", "0")
    for d in moving:
        assert not archived_file(adir, d).exists() and not blob_file(srv, d).exists(), d
    assert blob_file(srv, shared.digest).exists()
    pull_bytes(reg, "adir/keep", keep)
    r = assert_clean(srv, "--archive-dir", str(adir))
    assert "0 blobs in the archive dir" in r.stdout, r


def test_a_push_reusing_a_moved_layer_moves_it_back_and_fsck_of_both_or_neither(berth_factory, tmp_path):
    adir = tmp_path / "archive"
    srv = berth_factory(extra_args=["--archive-dir", str(adir), "--gc-interval-seconds", "86400"])
    aws, reg = AwsCli(srv), Registry(srv)
    layer = images.make_layer({"moved/c.txt": b"moved, then pushed again\n"})
    cold = images.make_image(layers=[layer], label="cold2")
    reg.push_image("adir/two", cold, tag="v1")
    storage_class(aws, "adir/two", "ARCHIVE", cold.digest)
    wait_for(lambda: archived_file(adir, layer.digest).exists() and not blob_file(srv, layer.digest).exists(),
             "the layer to move to the archive dir")

    # a new image in the same repository reuses the moved layer (its link exists: no upload); it is
    # ACTIVE, served at once (from the archive dir if need be), and the layer moves back
    warm = images.make_image(layers=[layer], label="warm2")
    reg.push_image("adir/two", warm, tag="v2")
    pull_bytes(reg, "adir/two", warm)
    wait_for(lambda: blob_file(srv, layer.digest).exists() and not archived_file(adir, layer.digest).exists(),
             "the reused layer to move back to the store")
    pull_bytes(reg, "adir/two", warm)
    assert status(aws, "adir/two", cold.digest) == "ARCHIVED"
    r = assert_clean(srv, "--archive-dir", str(adir))
    assert "0 in both places" in r.stdout and "blob-in-both-places" not in r.stdout, r

    # both places (a move cut short by a crash): noted, not a problem
    dst = archived_file(adir, layer.digest)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(layer.data)
    r = assert_clean(srv, "--archive-dir", str(adir))
    assert f"fsck: note: blob-in-both-places blob={layer.digest}" in r.stdout and "1 in both places" in r.stdout, r

    # neither place: a missing blob file
    blob_file(srv, layer.digest).unlink()
    archived_file(adir, layer.digest).unlink()
    r = fsck(srv, "--archive-dir", str(adir))
    assert r.returncode == 1 and any(p.startswith(f"missing-blob-file blob={layer.digest}") for p in r.problems), r
