"""Races: pushes that share layers, image deletes on both surfaces, /v2 blob and child-manifest
DELETEs and `berth gc` (zero grace) all at once, for a bounded time. Afterwards `berth fsck` is
clean and every image whose push was acknowledged and not deleted pulls back byte-identical
with skopeo. Whatever each request answered, no interleaving may leave a reference to nothing."""

import concurrent.futures
import os
import threading
import time

import pytest

import images
from conftest import ContainerTools, create_repository, registry_credentials
from datadir import fsck, gc, skopeo_pull_problems
from regclient import Registry
from workload import Ledger, deleter, plan_pushes, pusher, random_image, random_index, require, shared_layers

RACE_SECONDS = float(os.environ.get("BERTH_RACE_SECONDS", "40"))


def _undermine(srv, ledger, stop):
    """/v2 DELETEs aimed at what kept images use (a layer, an index's child), and at a stray blob
    of their repository. The kept images were not deleted, so they must still pull intact."""
    reg = Registry(srv)
    n = 0
    while not stop.wait(0.7):
        e = ledger.pick(lambda x: x.keep and x.state == "acked")
        if e is None:
            continue
        n += 1
        if n % 3 == 0:
            stray = images.random_blob(2048)
            r = reg.post(f"/v2/{e.repo}/blobs/uploads/", params={"digest": stray.digest}, data=stray.data)
            d = reg.delete(f"/v2/{e.repo}/blobs/{stray.digest}") if r.status_code == 201 else None
            ledger.bump(f"delete stray blob -> {d.status_code if d is not None else 'not pushed'}")
        elif isinstance(e.obj, images.Index) and n % 3 == 1:
            child = e.obj.children[n % 2]
            r = reg.delete(f"/v2/{e.repo}/manifests/{child.digest}")
            ledger.bump(f"delete child of kept index -> {r.status_code}")
            if r.status_code == 202:
                ledger.bump("accepted: " + child.digest)
        else:
            obj = e.obj.children[0] if isinstance(e.obj, images.Index) else e.obj
            layer = obj.layers[n % len(obj.layers)]
            r = reg.delete(f"/v2/{e.repo}/blobs/{layer.digest}")
            ledger.bump(f"delete layer of kept image -> {r.status_code}")
            if r.status_code == 202:
                ledger.bump("accepted: " + layer.digest)


def _collector(srv, ledger, stop):
    while not stop.wait(0.4):
        out = gc(srv, "--gc-review-delay-seconds", "0")
        removed = int(out.split(" blobs")[0].rsplit(" ", 1)[1])
        ledger.bump("gc runs")
        ledger.bump("gc blobs removed", removed)


def _checker(srv, ledger, stop, errors):
    """fsck while all this goes on: it must always run to the end (0 or 1, never 2 or a crash)."""
    while not stop.wait(2.0):
        r = fsck(srv)
        ledger.bump("fsck runs")
        if r.returncode not in (0, 1):
            errors.append(repr(r))
        ledger.bump("fsck problems seen mid-run", len(r.problems))


def _short_of(ledger):
    """What the workload has not done yet of what it is for, or None."""
    with ledger.lock:
        c = dict(ledger.counts)
    if c.get("push skopeo acked", 0) < 3 or c.get("push raw acked", 0) < 10:
        return "too few pushes"
    if c.get("delete v2 done", 0) < 1 or c.get("delete ecr-tag done", 0) < 1 or c.get("delete ecr-digest done", 0) < 1:
        return "too few deletes"
    if c.get("gc blobs removed", 0) < 1:
        return "nothing collected"
    if not any(k.startswith("delete layer of kept image") for k in c):
        return "no blob DELETE"
    if not any(k.startswith("delete child of kept index") for k in c):
        return "no child DELETE"
    return None


def test_push_delete_gc_race_leaves_no_dangling_reference(berth_factory, tmp_path):
    srv = berth_factory()
    tools = ContainerTools(tmp_path / "containers", srv)
    repos = [create_repository(f"race/r{i}", srv) for i in range(3)]
    ledger = Ledger(seed=7)
    rng = ledger.rng

    pool = shared_layers(6, 96 * 1024, "race")
    def make(i):
        label = f"race-{i}-{images.token(3)}"
        return random_index(pool, label, rng) if i % 8 == 0 else random_image(pool, label, rng, 8 * 1024)

    plans = plan_pushes(tools, tmp_path / "layout", repos, 160, make, skopeo_every=3, keep_every=4)

    # the logins (the aws CLI, seconds each on a loaded machine) before the clock starts
    registry_credentials(srv)
    stop, errors = threading.Event(), []
    workers = [threading.Thread(target=pusher, args=(srv, tools, ledger, plans["skopeo"], "skopeo", stop)),
               threading.Thread(target=pusher, args=(srv, tools, ledger, plans["raw"], "raw", stop)),
               threading.Thread(target=pusher, args=(srv, tools, ledger, plans["raw"], "raw", stop)),
               threading.Thread(target=deleter, args=(srv, ledger, stop)),
               threading.Thread(target=_undermine, args=(srv, ledger, stop)),
               threading.Thread(target=_collector, args=(srv, ledger, stop)),
               threading.Thread(target=_checker, args=(srv, ledger, stop, errors))]
    for w in workers:
        w.start()
    # RACE_SECONDS at least, and on until the workload has done what it is for (a loaded machine,
    # two servers on PostgreSQL and S3 get through less in that time), within a deadline
    start = time.monotonic()
    while time.monotonic() - start < RACE_SECONDS or (_short_of(ledger) and
                                                       time.monotonic() - start < 4 * RACE_SECONDS):
        time.sleep(0.5)
    stop.set()
    for w in workers:
        w.join(timeout=120)
    require(not any(w.is_alive() for w in workers), "a worker did not stop")
    require(not errors, f"fsck could not run while serving: {errors}")
    c = ledger.counts
    require(not _short_of(ledger), f"{_short_of(ledger)}: {c}")

    gc(srv, "--gc-review-delay-seconds", "0")            # what the deletes left behind goes now, if anything may
    problems = []
    r = fsck(srv, "--verify-digests")
    if r.returncode != 0 or r.problems:
        problems += [f"fsck (exit {r.returncode}): {line}" for line in r.problems or [r.stderr]]
    live = ledger.live()
    require(len(live) >= 10, f"too few live images to judge: {c}")

    def pull(e):
        return skopeo_pull_problems(tools, e.repo, e.tag, e.obj, tmp_path / "pulled" / e.repo / e.tag)

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for e, found in zip(live, ex.map(pull, live)):
            problems += [f"[{e.how}{' kept' if e.keep else ''}] {p}" for p in found]
    # for whoever reads a failure: which problems follow a /v2 DELETE of something a kept image
    # uses that was answered 202, and which a race alone must explain
    accepted = {k.split(" ", 1)[1] for k in c if k.startswith("accepted: ")}
    after_delete = [p for p in problems if any(d in p for d in accepted)]
    others = [p for p in problems if p not in after_delete]
    summary = {k: v for k, v in c.items() if not k.startswith("accepted: ")}
    assert not problems, (f"{len(live)} live images; counts {summary}\n"
                          f"-- {len(others)} problems no accepted DELETE explains (races):\n" + "\n".join(others) +
                          f"\n-- {len(after_delete)} problems after a /v2 DELETE of a layer or child that a kept image "
                          "uses was answered 202:\n" + "\n".join(after_delete))
