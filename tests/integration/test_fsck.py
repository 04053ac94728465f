"""`berth fsck`: clean after real pushes, while serving and stopped; each kind of damage is reported
(what, which repository, which digest) with a non-zero exit; and what a running server changes after
fsck's snapshot is not mistaken for damage."""

import shutil
import sqlite3
import subprocess
import time

import pytest

import images
from conftest import ContainerTools, create_repository
from datadir import assert_clean, blob_exists, blob_file, cli_env, ecr_client, fsck, gc, remove_blob, skopeo_push
from regclient import Registry, describe
from workload import image_with_layers


def _registry(berth_factory, tmp_path):
    srv = berth_factory()
    tools = ContainerTools(tmp_path / "containers", srv)
    return srv, tools, Registry(srv)


def _one_problem(r, prefix, *fields):
    """fsck exited 1 and reported exactly one problem, of kind `prefix`, naming every field."""
    assert r.returncode == 1, r
    assert len(r.problems) == 1 and r.count("problems") == 1, r
    line = r.problems[0]
    assert line.startswith(prefix + " "), r
    for f in fields:
        assert f in line.split(), f"{f!r} not in {line!r}"
    return line


@pytest.mark.sqlite_only("damages the metadata by writing to berth.db with Python's sqlite3")
def test_fsck_clean_then_every_kind_of_damage(berth_factory, tmp_path):
    srv, tools, reg = _registry(berth_factory, tmp_path)
    app, web = create_repository("fsck/app", srv), create_repository("fsck/web", srv)
    a = images.make_image(nlayers=2, label="fsck-a")
    b = image_with_layers([a.layers[0], images.make_image(label="fsck-b").layers[0]], "fsck-b")  # shares a layer
    idx = images.make_multiarch(label="fsck-idx")
    layout = images.write_oci_layout(tmp_path / "layout", {"a": a, "b": b, "idx": idx})
    skopeo_push(tools, layout, "a", app, "a")
    skopeo_push(tools, layout, "b", app, "b")
    skopeo_push(tools, layout, "idx", web, "multi")
    session = reg.start_upload(app)                        # an open upload session has its file
    assert session.status_code == 202, describe(session)
    upload_id = session.headers["Docker-Upload-UUID"]
    acct = srv.account_id

    blobs = {x.digest for x in images.all_blobs(a) + images.all_blobs(b) + images.all_blobs(idx)}
    r = assert_clean(srv)
    assert r.count("repositories") == 2 and r.count("manifests") == 5 and r.count("tags") == 3, r
    assert r.count("blobs") == len(blobs) and r.count("uploads") == 1, r
    assert r.count("references") == 3 + 3 + 2 + 2 + 2, r        # a, b, the index's children, their config+layer
    assert "digests verified" in assert_clean(srv, "--verify-digests").summary

    # -- damage to the files, while the server runs --
    layer = a.layers[1]
    f = blob_file(srv, layer.digest)
    saved = tmp_path / "saved"
    shutil.copy2(f, saved)

    f.unlink()
    _one_problem(fsck(srv), "missing-blob-file", f"blob={layer.digest}", f"size={layer.size}",
                 f"repositories={acct}/{app}")
    shutil.copy2(saved, f)
    assert_clean(srv)

    shared = a.layers[0]                                   # linked to one repository, used by two images
    g = blob_file(srv, shared.digest)
    shutil.copy2(g, saved)
    with open(g, "r+b") as fp:
        fp.truncate(shared.size - 10)
    _one_problem(fsck(srv), "wrong-blob-size", f"blob={shared.digest}", f"size={shared.size}",
                 f"on-disk={shared.size - 10}", f"repositories={acct}/{app}")
    shutil.copy2(saved, g)

    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0x01
    g.write_bytes(bytes(data))
    assert_clean(srv)                                      # the size is right: only hashing sees it
    _one_problem(fsck(srv, "--verify-digests"), "wrong-blob-digest", f"blob={shared.digest}",
                 f"content={images.sha256(bytes(data))}", f"repositories={acct}/{app}")
    shutil.copy2(saved, g)
    assert_clean(srv, "--verify-digests")

    up = srv.data_dir / "uploads" / upload_id
    assert up.exists()
    shutil.move(up, saved)
    _one_problem(fsck(srv), "missing-upload-file", f"repository={acct}/{app}", f"upload={upload_id}")
    shutil.move(saved, up)
    assert_clean(srv)

    # -- damage to the records, on the stopped server's database --
    srv.stop()
    assert_clean(srv, "--verify-digests")
    db = sqlite3.connect(srv.data_dir / "berth.db")        # foreign keys are off: nothing cascades
    child = idx.children[1]
    damage = [
        ("DELETE FROM blobs WHERE digest = ?", (b.config.digest,),
         ("missing-blob", f"repository={acct}/{app}", f"manifest={b.digest}", f"blob={b.config.digest}")),
        ("DELETE FROM repo_blobs WHERE digest = ?", (b.layers[1].digest,),
         ("unlinked-blob", f"repository={acct}/{app}", f"manifest={b.digest}", f"blob={b.layers[1].digest}")),
        ("UPDATE tags SET digest = ? WHERE name = 'a'", ("sha256:" + "0" * 64,),
         ("dangling-tag", f"repository={acct}/{app}", "tag=a", "manifest=sha256:" + "0" * 64)),
        ("DELETE FROM manifests WHERE digest = ?", (child.digest,),
         ("missing-child", f"repository={acct}/{web}", f"manifest={idx.digest}", f"child={child.digest}")),
        ("INSERT INTO uploads(id, repo_id, created_at) SELECT ?, id, 0 FROM repositories WHERE name = ?",
         ("0badf11e-0000-4000-8000-000000000000", web),
         ("missing-upload-file", f"repository={acct}/{web}", "upload=0badf11e-0000-4000-8000-000000000000")),
    ]
    pristine = sqlite3.connect(":memory:")
    db.backup(pristine)
    for sql, args, expect in damage:
        db.execute(sql, args)
        db.commit()
        _one_problem(fsck(srv), *expect)
        pristine.backup(db)                                # undo, for the next kind alone
        assert_clean(srv)
    for sql, args, _ in damage:                            # and all at once: each on its own line
        db.execute(sql, args)
    db.commit()
    db.close()
    r = fsck(srv)
    assert r.returncode == 1 and r.count("problems") == len(damage) == len(r.problems), r
    for _, _, expect in damage:
        assert any(line.startswith(expect[0] + " ") and all(f in line.split() for f in expect[1:])
                   for line in r.problems), (expect, r)


def test_fsck_ignores_what_the_server_changes_after_its_snapshot(berth_factory, tmp_path):
    """Between fsck's snapshot and its look at the files, the server deletes an image and GC takes
    its blobs (records, then bytes), an upload commits (its file renamed into place, then its record
    dropped) and another is cancelled. None of that is damage. A file that really goes missing
    in that window still is."""
    srv, tools, reg = _registry(berth_factory, tmp_path)
    repo = create_repository("fsck/race", srv)
    gone, kept = images.make_image(nlayers=2, label="gone"), images.make_image(nlayers=2, label="kept")
    reg.push_image(repo, gone, tag="gone")
    reg.push_image(repo, kept, tag="kept")
    committing, cancelled = reg.start_upload(repo), reg.start_upload(repo)
    assert committing.status_code == 202 and cancelled.status_code == 202
    time.sleep(1.1)                                        # blob files a second old: GC may take them

    p = subprocess.Popen([str(srv.binary), "fsck", "--data", str(srv.data_dir)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=cli_env(srv, BERTH_FSCK_TEST_PAUSE_MS="4000"))
    try:
        said = []                                          # what it logs before (its blob store, say)
        while not said or ("snapshot read" not in said[-1] and said[-1]):
            said.append(p.stderr.readline())
        assert "snapshot read" in said[-1], said
        ecr_client(srv).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "gone"}])
        out = gc(srv, "--gc-review-delay-seconds", "0")
        for x in gone.blobs:
            assert not blob_exists(srv, x.digest), out
        stray = images.random_blob(1000)
        r = reg.put(reg.location(committing), params={"digest": stray.digest}, data=stray.data)
        assert r.status_code == 201, describe(r)
        assert reg.delete(reg.location(cancelled)).status_code == 204
        lost = kept.layers[1]                              # real damage, in the same window
        remove_blob(srv, lost.digest)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, (stdout, stderr)
    problems = [line for line in stdout.splitlines() if not line.startswith("fsck: ")]
    assert len(problems) == 1 and problems[0].startswith(f"missing-blob-file blob={lost.digest} "), stdout
    # the snapshot did hold what went away meanwhile
    assert f"{len(gone.blobs) + len(kept.blobs)} blobs" in stdout and "2 uploads" in stdout, stdout


def test_fsck_needs_a_data_directory(berth_factory, tmp_path):
    srv = berth_factory()
    missing = tmp_path / "nothing-here"
    p = subprocess.run([str(srv.binary), "fsck", "--data", str(missing)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "no berth database" in p.stderr, p
    assert not missing.exists()                            # fsck creates nothing
    p = subprocess.run([str(srv.binary), "fsck", "--data", str(srv.data_dir), "--bogus"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "--bogus" in p.stderr, p
    # BERTH_DATA names the directory as it does for serve and gc
    p = subprocess.run([str(srv.binary), "fsck"], capture_output=True, text=True, timeout=30,
                       env=cli_env(srv, BERTH_DATA=str(srv.data_dir)))
    assert p.returncode == 0 and "0 problems" in p.stdout, p
