"""Online GC while berth serves: `berth gc` takes what no manifest needs once the review delay has
passed, and nothing younger; a blob a push was just told about (uploaded, mounted, HEAD-checked,
BatchCheckLayerAvailability) survives a pass until its manifest lands; the background job frees the
bytes of images deleted by BatchDeleteImage, /v2 DELETE and DeleteRepository --force after the delay;
orphan files and abandoned uploads go; what is left still pulls byte for byte."""

import hashlib
import re
import time

import images
from conftest import create_repository
from datadir import assert_clean, blob_exists, ecr_client, gc, plant_orphan
from regclient import Registry, assert_error, describe
from workload import image_with_layers


def reclaimed(out):
    """(links dropped, blobs removed, orphans removed, bytes) from `berth gc`'s report."""
    m = re.search(r"(\d+) unused links dropped, (\d+) blobs and (\d+) orphan files removed \((\d+) bytes\)", out)
    assert m, out
    return tuple(int(x) for x in m.groups())


def test_gc_removes_only_what_no_manifest_needs(berth_factory):
    srv = berth_factory(extra_args=["--gc-interval-seconds", "86400"])
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

    # nothing is due before the delay (the default: an hour)
    out = gc(srv)
    assert reclaimed(out) == (0, 0, 0, 0), out

    ecr = ecr_client(srv)
    ecr.batch_delete_image(repositoryName=r1, imageIds=[{"imageTag": "drop"}])
    orphan = "sha256:" + hashlib.sha256(b"orphan").hexdigest()
    # bytes with no record, two hours old (an object on S3 is dated by the store: new)
    aged = plant_orphan(srv, b"orphan", 7200)
    out = gc(srv)
    # the old orphan goes; the deleted image's blobs are not due
    assert reclaimed(out) == ((0, 0, 1, 6) if aged else (0, 0, 0, 0)), out

    out = gc(srv, "--gc-review-delay-seconds", "0", "--upload-grace-hours", "0")
    drop_only = {b.digest for b in drop.blobs} - {b.digest for b in keep.blobs}
    links, blobs, orphans, nbytes = reclaimed(out)
    assert (links, blobs, orphans) == (len(drop_only) + 1, len(drop_only) + 1, 0 if aged else 1), out
    assert nbytes == sum(b.size for b in drop.blobs if b.digest in drop_only) + stray.size + (0 if aged else 6), out
    assert "1 uploads" in out, out
    for d in drop_only | {stray.digest}:
        assert not blob_exists(srv, d), d
        assert_error(reg.get(f"/v2/{r1}/blobs/{d}"), 404, "BLOB_UNKNOWN")
    assert not blob_exists(srv, orphan)
    for b in keep.blobs:
        assert blob_exists(srv, b.digest)
        for repo in (r1, r2):
            r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
            assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == b.digest.split(":")[1]
    assert reg.get_manifest(r1, "keep").status_code == 200
    assert reg.get(upload_path).status_code == 404

    # deleting the last user of the shared blobs frees them too
    ecr.batch_delete_image(repositoryName=r1, imageIds=[{"imageTag": "keep"}])
    gc(srv, "--gc-review-delay-seconds", "0")
    assert all(blob_exists(srv, b.digest) for b in keep.blobs)      # still used by gc/two
    ecr.delete_repository(repositoryName=r2, force=True)
    out = gc(srv, "--gc-review-delay-seconds", "0")
    assert not any(blob_exists(srv, b.digest) for b in keep.blobs), out
    assert_clean(srv)
    # and pushing the same content again works
    reg.push_image(r1, keep, tag="again")
    assert reg.get_manifest(r1, "again").status_code == 200
    assert_clean(srv)


DELAY = 3


def test_blob_a_push_was_told_about_survives_until_its_manifest(berth_factory):
    """Layers uploaded long enough ago that their reviews are due: those a push HEAD-checks (or asks
    BatchCheckLayerAvailability about) just before a pass stay until the manifest lands; one nobody
    asked about goes. And a blob uploaded just before a pass stays, however the pass is run."""
    srv = berth_factory(extra_args=["--gc-review-delay-seconds", str(DELAY), "--gc-interval-seconds", "86400"])
    reg, ecr = Registry(srv), ecr_client(srv)
    v2repo, ecrrepo = create_repository("gc/told-v2", srv), create_repository("gc/told-ecr", srv)
    img = images.make_image(label="told", nlayers=2)
    unasked = images.random_blob(2048, b"nobody asks")
    for repo in (v2repo, ecrrepo):
        for b in img.blobs:
            reg.push_blob(repo, b)
    reg.push_blob(v2repo, unasked)
    time.sleep(DELAY + 0.5)                        # every link's review is due now

    for b in img.blobs:
        assert reg.head(f"/v2/{v2repo}/blobs/{b.digest}").status_code == 200
    out = ecr.batch_check_layer_availability(repositoryName=ecrrepo, layerDigests=[b.digest for b in img.blobs])
    assert {x["layerAvailability"] for x in out["layers"]} == {"AVAILABLE"}, out
    out = gc(srv, "--gc-review-delay-seconds", str(DELAY))
    assert reclaimed(out)[:2] == (1, 1), out       # the one nobody asked about
    assert not blob_exists(srv, unasked.digest)
    assert reg.head(f"/v2/{v2repo}/blobs/{unasked.digest}").status_code == 404
    for repo in (v2repo, ecrrepo):
        r = reg.put_manifest(repo, "v1", img.manifest, img.media_type)
        assert r.status_code == 201, describe(r)
    # referenced now: no delay takes them
    out = gc(srv, "--gc-review-delay-seconds", "0")
    assert reclaimed(out)[:2] == (0, 0), out

    # uploaded just before a pass (with the delay the server has)
    fresh = images.make_image(label="fresh")
    for b in fresh.blobs:
        reg.push_blob(v2repo, b)
    out = gc(srv, "--gc-review-delay-seconds", str(DELAY))
    assert reclaimed(out)[:2] == (0, 0), out
    r = reg.put_manifest(v2repo, "fresh", fresh.manifest, fresh.media_type)
    assert r.status_code == 201, describe(r)

    # mounted from another repository long after its upload: the mount makes the link new
    src = create_repository("gc/told-src", srv)
    mounted = images.random_blob(1024, b"mounted")
    reg.push_blob(src, mounted)
    time.sleep(DELAY + 0.5)
    r = reg.post(f"/v2/{v2repo}/blobs/uploads/", params={"mount": mounted.digest, "from": src})
    assert r.status_code == 201, describe(r)
    gc(srv, "--gc-review-delay-seconds", str(DELAY))
    assert reg.head(f"/v2/{v2repo}/blobs/{mounted.digest}").status_code == 200
    assert reg.head(f"/v2/{src}/blobs/{mounted.digest}").status_code == 404   # nobody told about it there
    assert_clean(srv)


def test_deleted_images_bytes_are_freed_after_the_delay(berth_factory):
    """The background job (every second here) frees what BatchDeleteImage, /v2 DELETE and DeleteRepository
    --force leave unreferenced, once the review delay has passed, and not before; shared layers stay."""
    srv = berth_factory(extra_args=["--gc-review-delay-seconds", str(DELAY), "--gc-interval-seconds", "1"])
    reg, ecr = Registry(srv), ecr_client(srv)
    shared = images.make_layer({"shared.txt": b"used by the survivor too\n"})
    own = images.make_layer({"own.txt": b"only del-a has this\n"})
    a, keep = image_with_layers([own, shared], "del-a"), image_with_layers([shared], "keeper")
    b, c = images.make_image(label="del-b"), images.make_image(label="del-c")
    ra, rb, rc = (create_repository(f"gc/del-{x}", srv) for x in "abc")
    reg.push_image(ra, a, tag="a")
    reg.push_image(ra, keep, tag="keep")
    reg.push_image(rb, b, tag="b")
    reg.push_image(rc, c, tag="c")
    gone = [x for x in a.blobs + b.blobs if x.digest != shared.digest]
    assert all(blob_exists(srv, x.digest) for x in gone + c.blobs)

    ecr.batch_delete_image(repositoryName=ra, imageIds=[{"imageTag": "a"}])
    assert reg.delete(f"/v2/{rb}/manifests/{b.digest}").status_code == 202
    t0 = time.monotonic()
    time.sleep(1.5)                                # a pass or two ran: nothing was due yet
    assert all(blob_exists(srv, x.digest) for x in gone)
    # a deleted repository's links are gone with it: its blobs' reviews are due at once
    ecr.delete_repository(repositoryName=rc, force=True)
    gone += c.blobs
    while time.monotonic() - t0 < DELAY + 15 and any(blob_exists(srv, x.digest) for x in gone):
        time.sleep(0.2)
    left = [x.digest for x in gone if blob_exists(srv, x.digest)]
    assert not left, f"still on disk {time.monotonic() - t0:.1f}s after the deletes: {left}\n{srv.log_tail(30)}"
    assert time.monotonic() - t0 >= DELAY
    # the passes' reviews freed them, not the slow sweep for files without a record (a pass logs what it
    # freed when it ends, after its sweep: a moment after the files went)
    while True:
        counts = re.findall(r"gc: \d+ unused links dropped, (\d+) blobs and (\d+) orphan files", srv.log_text())
        if sum(int(b) + int(o) for b, o in counts) >= len(gone) or time.monotonic() - t0 > DELAY + 30:
            break
        time.sleep(0.2)
    assert sum(int(b) for b, _ in counts) == len(gone) and sum(int(o) for _, o in counts) == 0, counts
    assert blob_exists(srv, shared.digest)
    for x in keep.blobs:
        r = reg.get(f"/v2/{ra}/blobs/{x.digest}")
        assert r.status_code == 200 and images.sha256(r.content) == x.digest
    assert_clean(srv)
