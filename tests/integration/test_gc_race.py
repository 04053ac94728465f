"""The online GC race: pushes that share layers (skopeo and the /v2 API), image deletes (BatchDeleteImage,
/v2 DELETE), DeleteRepository --force, lifecycle runs expiring images of a repository that keeps
pushing (`berth admin lifecycle run`), the server's background GC job (every second) and `berth gc`
passes, all at once, with a review delay of a few seconds. The pool layers' links are made due for
review before the race starts, so pushes HEAD-check layers that GC is reviewing at that moment.

The verdict: no push fails (a layer a push was told about is never collected before its manifest
lands); afterwards `berth fsck` is clean, every image acknowledged and not deleted pulls back
byte-identical with skopeo, and once the delay has passed no byte of a deleted image that no
surviving image uses is left on disk."""

import concurrent.futures
import json
import os
import re
import subprocess
import threading
import time

import images
from conftest import ContainerTools, create_repository
from datadir import assert_clean, blob_exists, cli_env, ecr_client, gc, skopeo_pull_problems
from regclient import Registry
from workload import Entry, Ledger, deleter, image_with_layers, plan_pushes, pusher, random_image, raw_push, require, shared_layers

DELAY = 4
RACE_SECONDS = float(os.environ.get("BERTH_GC_RACE_SECONDS", "12"))


def _links_dropped(text):
    return sum(int(n) for n in re.findall(r"gc: (\d+) unused links dropped", text))


def _repo_deleter(srv, ledger, pool, stop):
    """A scratch repository at a time: an image over pool layers pushed into it, then the repository
    deleted with --force while everything else goes on."""
    reg, ecr = Registry(srv), ecr_client(srv)
    n = 0
    while not stop.wait(0.5):
        n += 1
        repo = create_repository(f"gcrace/scratch{n}", srv)
        obj = random_image(pool, f"scratch-{n}-{images.token(3)}", ledger.rng, 2048)
        e = ledger.add(Entry(repo=repo, tag="s", obj=obj, how="raw"))
        ok = raw_push(reg, repo, obj, "s")
        ledger.bump(f"push scratch {'acked' if ok else 'failed'}")
        ecr.delete_repository(repositoryName=repo, force=True)
        with ledger.lock:
            e.state = "deleted" if ok else "failed"
        ledger.bump("repository deleted")


LIFECYCLE_KEEP = 3
LIFECYCLE_POLICY = json.dumps({"rules": [{
    "rulePriority": 1, "description": "keep the newest few",
    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": LIFECYCLE_KEEP},
    "action": {"type": "expire"}}]})


def _lifecycle(srv, ledger, pool, pushed, stop):
    """Pushes pool-layer images into a repository with a lifecycle policy and runs the policy now, over
    and over: expiry deletes through the image service while GC reviews the same layers. pushed[digest]
    keeps what each acknowledged push sent, to compare with what survives."""
    reg, ecr = Registry(srv), ecr_client(srv)
    repo = create_repository("gcrace/lifecycle", srv)
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=LIFECYCLE_POLICY)
    n = 0
    while not stop.wait(0.3):
        n += 1
        obj = random_image(pool, f"lc-{n}-{images.token(3)}", ledger.rng, 1024)
        if raw_push(reg, repo, obj, f"lc{n}"):
            pushed[obj.digest] = (f"lc{n}", obj)
            ledger.bump("push lifecycle acked")
        else:
            ledger.bump("push lifecycle failed")
        p = subprocess.run([str(srv.binary), "admin", "lifecycle", "run", "--repository", repo, "--data",
                            str(srv.data_dir)], capture_output=True, text=True, timeout=120, env=cli_env(srv))
        ledger.bump("lifecycle runs" if p.returncode == 0 else "lifecycle runs failed")
        ledger.bump("lifecycle expired", len(re.findall(r"\bexpire", p.stdout)))


def _collector(srv, ledger, stop):
    while not stop.wait(0.3):
        out = gc(srv, "--gc-review-delay-seconds", str(DELAY))
        ledger.bump("gc runs")
        ledger.bump("gc links dropped", _links_dropped(out))


def test_online_gc_never_takes_a_blob_from_a_push(berth_factory, tmp_path):
    srv = berth_factory(extra_args=["--gc-review-delay-seconds", str(DELAY), "--gc-interval-seconds", "1"])
    tools = ContainerTools(tmp_path / "containers", srv)
    reg, ecr = Registry(srv), ecr_client(srv)
    repos = [create_repository(f"gcrace/r{i}", srv) for i in range(3)]
    ledger = Ledger(seed=8)
    rng = ledger.rng
    pool = shared_layers(8, 8 * 1024, "gcrace")

    # every pool layer linked in every repository by an image deleted since: when the race starts,
    # every one of those links is under review, and falls due while pushes HEAD-check it
    for i, repo in enumerate(repos):
        reg.push_image(repo, image_with_layers(pool, f"prime-{i}"), tag="prime")
        ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "prime"}])
    primed = time.monotonic()

    plans = plan_pushes(tools, tmp_path / "layout", repos, 48,
                        lambda i: random_image(pool, f"gcrace-{i}-{images.token(3)}", rng, 1024), skopeo_every=6,
                        keep_every=5)
    time.sleep(max(0.0, DELAY - 1 - (time.monotonic() - primed)))

    stop = threading.Event()
    raw_pace = RACE_SECONDS / (len(plans["raw"]) / 2)
    pushers = [threading.Thread(target=pusher, args=(srv, tools, ledger, plans["skopeo"], "skopeo", stop, 0.5)),
               threading.Thread(target=pusher, args=(srv, tools, ledger, plans["raw"], "raw", stop, raw_pace)),
               threading.Thread(target=pusher, args=(srv, tools, ledger, plans["raw"], "raw", stop, raw_pace))]
    lifecycle_pushed = {}
    others = [threading.Thread(target=deleter, args=(srv, ledger, stop, 0.25)),
              threading.Thread(target=_repo_deleter, args=(srv, ledger, pool, stop)),
              threading.Thread(target=_lifecycle, args=(srv, ledger, pool, lifecycle_pushed, stop)),
              threading.Thread(target=_collector, args=(srv, ledger, stop))]
    for w in pushers + others:
        w.start()
    def enough():
        """The lifecycle worker ran often enough for the verdict (each round is a push and a
        `berth admin` command: slower on a loaded machine, or with two servers on PostgreSQL and
        S3). The GC collector is not waited for: five passes in the race is part of the verdict."""
        c = ledger.counts
        return c.get("lifecycle runs", 0) >= 5 and c.get("push lifecycle acked", 0) > LIFECYCLE_KEEP + 2

    deadline = time.monotonic() + RACE_SECONDS
    while time.monotonic() < deadline or ((any(w.is_alive() for w in pushers) or not enough())
                                          and time.monotonic() < deadline + 120):
        time.sleep(0.2)
    stop.set()
    for w in pushers + others:
        w.join(timeout=120)
    require(not any(w.is_alive() for w in pushers + others), "a worker did not stop")

    c = ledger.counts
    failed = [f"{e.how} {e.repo}:{e.tag} {e.notes}" for e in ledger.entries if e.state == "failed"]
    assert not failed, f"pushes failed (counts {c}):\n" + "\n".join(failed)
    # the workload did what it is for
    require(c.get("push skopeo acked", 0) >= 5 and c.get("push raw acked", 0) >= 30, f"too few pushes: {c}")
    require(c.get("delete v2 done", 0) >= 2 and c.get("delete ecr-tag done", 0) >= 2
            and c.get("delete ecr-digest done", 0) >= 2, f"too few deletes: {c}")
    require(c.get("repository deleted", 0) >= 2, f"too few repository deletes: {c}")
    assert c.get("push lifecycle failed", 0) == 0 and c.get("lifecycle runs failed", 0) == 0, c
    require(c.get("lifecycle runs", 0) >= 5 and c.get("push lifecycle acked", 0) > LIFECYCLE_KEEP + 2,
            f"too few lifecycle runs: {c}")
    dropped = c.get("gc links dropped", 0) + _links_dropped(srv.log_text())
    require(c.get("gc runs", 0) >= 5 and dropped >= 1, f"GC did not work during the race: {c}, {dropped} dropped")

    # once the delay has passed, what only deleted images used is gone
    time.sleep(DELAY + 0.5)
    gc(srv, "--gc-review-delay-seconds", str(DELAY))
    assert_clean(srv, "--verify-digests")
    live = ledger.live()
    require(len(live) >= 10, f"too few live images to judge: {c}")
    # the lifecycle repository keeps exactly its newest images, each of them whole
    survivors = [d["imageDigest"] for d in
                 ecr.describe_images(repositoryName="gcrace/lifecycle")["imageDetails"]]
    assert len(survivors) == LIFECYCLE_KEEP, (survivors, c)
    expired = len(lifecycle_pushed) - LIFECYCLE_KEEP
    newest = sorted(lifecycle_pushed, key=lambda d: int(lifecycle_pushed[d][0][2:]))[-LIFECYCLE_KEEP:]
    assert sorted(survivors) == sorted(newest), (survivors, newest)
    live += [Entry(repo="gcrace/lifecycle", tag=lifecycle_pushed[d][0], obj=lifecycle_pushed[d][1], how="lifecycle")
             for d in survivors]
    require(expired > 0, f"lifecycle expired nothing: {c}")
    kept = {b.digest for e in live for b in images.all_blobs(e.obj)}
    deleted = {b.digest for e in ledger.entries if e.state == "deleted" for b in images.all_blobs(e.obj)}
    deleted |= {b.digest for d, (_, obj) in lifecycle_pushed.items() if d not in survivors
                for b in images.all_blobs(obj)}
    left = sorted(d for d in deleted - kept if blob_exists(srv, d))
    assert not left, f"bytes of deleted images still stored: {left}"

    def pull(e):
        return skopeo_pull_problems(tools, e.repo, e.tag, e.obj, tmp_path / "pulled" / e.repo / e.tag)


    problems = []
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for e, found in zip(live, ex.map(pull, live)):
            problems += [f"[{e.how}] {p}" for p in found]
    assert not problems, f"{len(live)} live images; counts {c}\n" + "\n".join(problems)
