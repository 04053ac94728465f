"""Crashes: `kill -9` at random moments during 20 concurrent pushes, several rounds. After each
restart `berth fsck` is clean, every acknowledged push (its final PUT answered 201 before the
kill) pulls back byte-identical, and no file under <data>/blobs holds anything but the content
its name promises. And, since a kill cannot lose what the kernel already holds, the power-loss
half of the promise is checked on the system calls: nothing is acknowledged, and no blob is
unlinked by GC, before the database write it depends on has reached the disk."""

import os
import random
import re
import signal
import subprocess
import threading
import time

import pytest

import images
from conftest import ContainerTools, create_repository, require_tool
from datadir import ecr_client, fsck, misnamed_blob_files, pull_problems, skopeo_push_start
from regclient import Registry
from workload import Entry, Ledger, random_image, raw_push, require, shared_layers

ROUNDS = int(os.environ.get("BERTH_CRASH_ROUNDS", "4"))
PUSHES = 20


def _push(srv, tools, e, ledger, procs):
    if e.how == "skopeo":
        p = skopeo_push_start(tools, tools.layout, e.tag, e.repo, e.tag)
        procs.append(p)
        p.communicate()
        ok = p.returncode == 0
    else:
        ok = raw_push(Registry(srv), e.repo, e.obj, e.tag, timeout=30)
    with ledger.lock:
        e.state = "acked" if ok else "failed"


def test_kill9_during_concurrent_pushes_loses_nothing_acknowledged(berth_factory, tmp_path):
    srv = berth_factory()
    tools = ContainerTools(tmp_path / "containers", srv)
    repos = [create_repository(f"crash/r{i}", srv) for i in range(2)]
    ledger = Ledger(seed=9)
    rng, kill_rng = random.Random(9), random.Random(5)
    pool = shared_layers(4, 256 * 1024, "crash")
    tools.creds()                              # log in once, before any thread needs the password
    for rnd in range(ROUNDS):
        entries, refs = [], {}
        for i in range(PUSHES):
            label = f"crash-{rnd}-{i}-{images.token(3)}"
            obj = random_image(pool, label, rng, unique_size=rng.choice((64, 512, 2048)) * 1024)
            e = ledger.add(Entry(repo=repos[i % 2], tag=f"r{rnd}-{i}", obj=obj, how="skopeo" if i % 5 == 0 else "raw"))
            entries.append(e)
            if e.how == "skopeo":
                refs[e.tag] = obj
        tools.layout = images.write_oci_layout(tmp_path / f"layout{rnd}", refs)
        procs = []
        threads = [threading.Thread(target=_push, args=(srv, tools, e, ledger, procs)) for e in entries]
        for t in threads:
            t.start()
        # a random moment while pushes are under way, however fast the machine: after a random
        # number of them were acknowledged (none: early, mid-upload), and a random instant more
        target = kill_rng.randint(0, PUSHES - 4)
        deadline = time.monotonic() + 60
        while sum(e.state == "acked" for e in entries) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(kill_rng.uniform(0.05, 0.4) if target == 0 else kill_rng.uniform(0, 0.03))
        srv.kill()
        # with the server gone nothing can succeed any more; a client that has not noticed within
        # a few seconds (skopeo can hang when a connection dies under a parallel copy) is stopped
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        for p in procs:
            if p.poll() is None:
                p.kill()
                ledger.bump("skopeo stopped after the kill")
        for t in threads:
            t.join(timeout=30)
        require(not any(t.is_alive() for t in threads), "a push did not end after the kill")
        acked_now = sum(e.state == "acked" for e in entries)
        ledger.bump("acked before a kill", acked_now)
        ledger.bump("cut off by a kill", PUSHES - acked_now)

        srv.start()
        r = fsck(srv, "--verify-digests")
        assert r.returncode == 0 and not r.problems, f"round {rnd}: {r}"
        bad = misnamed_blob_files(srv.data_dir)
        assert not bad, f"round {rnd}: partial blobs visible:\n" + "\n".join(bad)
        problems, reg = [], Registry(srv)
        for e in ledger.live():
            problems += pull_problems(reg, e.repo, e.tag, e.obj)
        assert not problems, f"round {rnd}: acknowledged pushes lost:\n" + "\n".join(problems)
    c = ledger.counts
    # the kills landed while pushes were under way, and pushes got through before them
    require(c.get("acked before a kill", 0) >= 5 and c.get("cut off by a kill", 0) >= 5,
            f"the kills missed the pushes: {c}")


# ---------------------------------------------------------------------------------------------
# Crash points chosen exactly, and power loss, through strace
# ---------------------------------------------------------------------------------------------

def _traced_by(pid):
    """The tracer of each thread of pid."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as f:
            out += [int(line.split()[1]) for line in f if line.startswith("TracerPid:")]
    return out


def _strace(pid, out, *opts):
    """Attach strace to every thread of pid; returns once all of them are traced."""
    require_tool("strace")
    err = open(f"{out}.stderr", "w")           # a file, not a pipe: a full pipe would stop strace and its tracees
    p = subprocess.Popen(["strace", "-f", "-y", "-s", "40", "-o", str(out), *opts, "-p", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=err)
    err.close()
    deadline = time.monotonic() + 20
    while set(_traced_by(pid)) != {p.pid}:
        require(p.poll() is None and time.monotonic() < deadline,
                "strace cannot attach: " + open(f"{out}.stderr").read())
        time.sleep(0.05)
    time.sleep(0.2)
    return p


SYSCALL = re.compile(r"^(\d+)\s+(?:<\.\.\. )?(\w+)\((?:(\d+)<([^>]*)>)?(.*)$")


def _events(trace_text):
    """(name, fd path, rest of the line) for each system call strace logged, in order."""
    for line in trace_text.splitlines():
        m = SYSCALL.match(line)
        if m and "resumed>" not in line:
            yield m.group(2), m.group(4) or "", m.group(5)


def _unsynced_before(trace_text, is_point):
    """Lines where is_point(name, path, rest) holds while the database's WAL has writes that no
    fsync/fdatasync of it has followed yet: what power loss there would undo. Writes to the main
    file are a checkpoint's copies of frames SQLite synced in the WAL first (another thread may
    checkpoint while a response leaves): power loss mid-checkpoint undoes nothing."""
    dirty, found = None, []
    for name, path, rest in _events(trace_text):
        if path.endswith("berth.db-wal") and name in ("pwrite64", "write", "writev", "pwritev"):
            dirty = dirty or f"{name}({path})"
        elif path.endswith(("berth.db-wal", "berth.db")) and name in ("fsync", "fdatasync"):
            dirty = None
        elif dirty and is_point(name, path, rest):
            found.append(f"{name}({path}{rest[:60]}) after unsynced {dirty}")
    return found


def _is_success_response(name, path, rest):
    return path.startswith("socket:") and re.search(r"HTTP/1\.1 20[0-9]", rest) is not None


def _is_blob_removal(name, path, rest):
    return name in ("unlink", "unlinkat", "rename", "renameat", "renameat2") and "/blobs/" in rest


@pytest.mark.sqlite_only("traces the writes and fsyncs of berth.db itself; on PostgreSQL a commit is durable "
                        "when the server says so")
def test_nothing_is_acknowledged_or_collected_before_it_is_on_disk(berth_factory, tmp_path):
    """A push is acknowledged, and GC unlinks a blob, only after the database write it depends on
    was synced: at each 2xx response and each blob removal no database write may be unsynced."""
    srv = berth_factory()
    repo = create_repository("crash/durable", srv)
    reg = Registry(srv)
    img = images.make_image(nlayers=2, label="durable")
    tracer = _strace(srv.proc.pid, tmp_path / "serve.trace",
                     "-e", "trace=pwrite64,write,writev,pwritev,fsync,fdatasync,sendmsg,sendto")
    try:
        reg.push_image(repo, img, tag="v1")
        ecr_client(srv).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    finally:
        tracer.terminate()
        tracer.wait(timeout=20)
    serve_trace = (tmp_path / "serve.trace").read_text(errors="replace")
    responses = [e for e in _events(serve_trace) if _is_success_response(*e)]
    require(len(responses) >= 5, serve_trace[-3000:])          # 3 blob PUTs, the manifest PUT, the delete

    time.sleep(1.1)                                            # the blob files a second old: collectable
    p = subprocess.run(["strace", "-f", "-y", "-s", "200", "-o", str(tmp_path / "gc.trace"),
                        "-e", "trace=pwrite64,write,writev,pwritev,fsync,fdatasync,unlink,unlinkat,rename,renameat,"
                        "renameat2", str(srv.binary), "gc", "--data", str(srv.data_dir), "--gc-review-delay-seconds", "0"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))  # LeakSanitizer cannot run under ptrace
    require(p.returncode == 0, p.stderr)
    gc_trace = (tmp_path / "gc.trace").read_text(errors="replace")
    removals = [e for e in _events(gc_trace) if _is_blob_removal(*e)]
    require(removals, gc_trace[-3000:])                        # GC did take the image's blobs

    late = _unsynced_before(serve_trace, _is_success_response) + _unsynced_before(gc_trace, _is_blob_removal)
    assert not late, "\n".join(late)


def test_kill9_right_after_a_blob_is_renamed_into_place(berth_factory, tmp_path):
    """The crash point the random kills above hit now and then, chosen exactly: strace holds the
    committing thread just after its rename, and the server is killed there."""
    srv = berth_factory()
    repo = create_repository("crash/point", srv)
    reg = Registry(srv)
    blob = images.random_blob(300 * 1024)
    session = reg.start_upload(repo)
    require(session.status_code == 202, "no upload session")
    tracer = _strace(srv.proc.pid, tmp_path / "rename.trace", "-e", "trace=rename,renameat,renameat2",
                     "-e", "inject=rename,renameat,renameat2:delay_exit=5000000")
    outcome = {}

    def put():
        try:
            outcome["status"] = reg.put(reg.location(session), params={"digest": blob.digest}, data=blob.data,
                                        timeout=30).status_code
        except Exception as e:  # the server dies under it
            outcome["error"] = repr(e)

    t = threading.Thread(target=put)
    t.start()
    alg, hexd = blob.digest.split(":")
    placed = srv.data_dir / "blobs" / alg / hexd[:2] / hexd
    deadline = time.monotonic() + 20
    while not placed.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    require(placed.exists(), "the blob was never renamed into place: the crash point was not reached")
    os.kill(srv.proc.pid, signal.SIGKILL)      # dead before strace lets the thread go on
    tracer.kill()
    tracer.wait(timeout=20)
    srv.kill()
    t.join(timeout=30)
    require("status" not in outcome, f"the server answered before the kill: {outcome}")
    srv.start()
    r = fsck(srv, "--verify-digests")
    assert r.returncode == 0 and not r.problems, r
    assert not misnamed_blob_files(srv.data_dir)
