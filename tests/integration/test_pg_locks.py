"""Writes of several servers on one PostgreSQL database run in parallel where they may and exclude
each other where they must (issue 10 §2; store/locks.h): a write transaction takes the registry
key shared and its repository's (or account's) key exclusively, and a write not converted to a
scope takes the registry key exclusively.

Server A holds a manifest put open in its transaction (the test hook BERTH_TEST_PUT_HOLD keeps a
put of one tag waiting before its commit, locks held). Meanwhile server B pushes a whole image
(blob uploads and the manifest) to another repository: it completes while A's put is still
open. A put to A's repository through B, a delete there and an unscoped write (a repository
setting) wait until A's put commits. Before the scoped locks every write of every server waited.

Then races across the two servers: an immutable tag overwritten by exactly one of many puts,
round after round; creates at the repository quota (account-scoped now) never exceed it; pushes
of images sharing layers into several repositories, deletes (/v2 and BatchDeleteImage) and GC
(zero review delay) all at once on both servers with one blob directory, after which `berth fsck`
is clean on both and every image kept pulls whole."""

import concurrent.futures
import functools
import os
import re
import subprocess
import threading
import time

import boto3
import pytest
import requests

import images
from conftest import process_metrics
from datadir import fsck, pull_problems
from regclient import Registry, describe, error_codes
from workload import Timed, image_with_layers, shared_layers, wait_for_hold

HOLD_MS = 4000
HOLD_TAG = "held"
MAX_REPOS = 40
WAITING_PUTS = 6  # more than the 4 defer threads a server starts with


@functools.lru_cache(maxsize=None)
def ecr(server):
    """One client per server for the module: making a boto3 client is slow."""
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret)


class Pair:
    """Servers A (with the hold hook) and B (one HTTP thread) on one fresh database, one key file
    and one blob directory (two hosts sharing a file system), jobs on A only."""

    def __init__(self, pg, berth_factory, base):
        self.pg, self.db = pg, "locks_" + images.token(10).lower()
        self.url = pg.create_database(self.db)
        self.key = base / "registry.key"
        self.blobs = base / "blobs"
        self.env = {"BERTH_BLOB_STORE": f"file:{self.blobs}"}
        self.args = ["--database", self.url, "--key-file", str(self.key), "--max-repositories", str(MAX_REPOS),
                     "--gc-review-delay-seconds", "0"]
        self.a = berth_factory(data_dir=base / "a", extra_env={**self.env, "BERTH_TEST_PUT_HOLD": f"{HOLD_TAG}={HOLD_MS}"},
                               extra_args=self.args)
        self.b = berth_factory(data_dir=base / "b", extra_env=self.env,
                               extra_args=[*self.args, "--job-workers", "0", "--threads", "1"])

    def waiting_exclusive(self) -> int:
        """Transactions waiting for the registry key exclusively (store_begin())."""
        out = self.pg.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                           " AND mode = 'ExclusiveLock' AND classid = 0 AND objid = 1650553460", db=self.db).stdout
        return int(out.strip())

    def cli_args(self):
        return ["--database", self.url, "--key-file", str(self.key)]

    def gc(self):
        """`berth gc` with A's data directory (zero review delay: what no image needs goes at once)."""
        p = subprocess.run([str(self.a.binary), "gc", "--data", str(self.a.data_dir), *self.cli_args(),
                            "--gc-review-delay-seconds", "0"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **self.env})
        assert p.returncode == 0, p.stderr
        return p.stdout


@pytest.fixture(scope="module")
def pair(pg, berth_factory, tmp_path_factory):
    return Pair(pg, berth_factory, tmp_path_factory.mktemp("locks"))


def new_repo(server, name, **kw):
    name = f"locks/{name}-{images.token(4).lower()}"
    ecr(server).create_repository(repositoryName=name, **kw)
    return name


def defer_threads(server) -> int:
    """berth_http_defer_threads on the server's /metrics: the defer threads its processes started."""
    return int(sum(process_metrics(server, "berth_http_defer_threads")))


def lock_waits(server, scope):
    """(count, seconds) of berth_store_lock_wait_seconds{scope} on the server's /metrics."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    got = {}
    for part in ("count", "sum"):
        m = re.search(rf'^berth_store_lock_wait_seconds_{part}\{{scope="{scope}"\}} (\S+)$', text, re.M)
        got[part] = float(m.group(1)) if m else 0.0
    return got["count"], got["sum"]


def waiting_for_repository_keys(pair) -> int:
    """Transactions waiting for a repository's key (store_begin_repo(): the pair of keys
    1650553464 and the repository's)."""
    out = pair.pg.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                       " AND objsubid = 2 AND classid = 1650553464", db=pair.db).stdout
    return int(out.strip())


def test_a_held_write_blocks_its_repository_and_every_unscoped_write_but_not_another_repository(pair):
    """B serves every connection on one HTTP thread (--threads 1), and more writes wait for the
    held repository than B starts defer threads with (4): the push to another repository through
    B still completes while they wait. Writes wait on defer threads, started as needed, never on
    the HTTP thread that serves other connections too (before, the first waiting write stopped
    every connection of its thread until the held put committed)."""
    a, b = pair.a, pair.b
    held_repo, other_repo = new_repo(a, "held"), new_repo(a, "other")
    reg_a, reg_b = Registry(a), Registry(b)
    held_img, free_img = (images.make_image(label=f"locks-{x}") for x in ("held", "free"))
    queued = [images.make_image(label=f"locks-queued-{i}") for i in range(WAITING_PUTS)]
    for img in (held_img, *queued):
        for blob in img.blobs:
            reg_b.push_blob(held_repo, blob)
    victim = images.make_image(label="locks-victim")
    reg_b.push_image(held_repo, victim, tag="victim")
    holds_before = a.log_text().count(f"holding the put of tag '{HOLD_TAG}'")
    waits_before = lock_waits(b, "repository")

    held = Timed(lambda: reg_a.put_manifest(held_repo, HOLD_TAG, held_img.manifest, held_img.media_type))
    held.start()
    wait_for_hold(a, HOLD_TAG, holds_before + 1)
    t_hold = time.monotonic()
    # writes to the held repository through B wait for A's commit
    same = [Timed(functools.partial(reg_b.put_manifest, held_repo, f"queued-{i}", img.manifest, img.media_type))
            for i, img in enumerate(queued)]
    delete = Timed(lambda: reg_b.delete(f"/v2/{held_repo}/manifests/{victim.digest}"))
    for t in (*same, delete):
        t.start()
    deadline = time.monotonic() + HOLD_MS / 1000 / 2
    while waiting_for_repository_keys(pair) < len(same) + 1:
        assert time.monotonic() < deadline, f"only {waiting_for_repository_keys(pair)} writes wait for the key"
        time.sleep(0.05)
    # another repository, through B meanwhile: every step commits while A's put is open
    free = Timed(lambda: reg_b.push_image(other_repo, free_img, tag="v1"))
    free.start()
    free.join(HOLD_MS / 1000 * 3)
    assert free.error is None, free.error
    assert held.is_alive(), f"the push to another repository took {free.ended - t_hold:.2f}s, past the hold"
    # B has a defer thread for each waiting write and one for the push's (it started with 4 a process)
    assert defer_threads(b) >= len(same) + 2, defer_threads(b)
    # a write that excludes every writer waits too (and, queued, so would every later writer:
    # PostgreSQL grants a shared lock only behind the exclusive requests already waiting)
    unscoped = Timed(lambda: ecr(b).put_image_tag_mutability(repositoryName=other_repo,
                                                              imageTagMutability="IMMUTABLE"))
    unscoped.start()
    for t in (held, *same, delete, unscoped):
        t.join(60)
        assert t.error is None, t.error
    assert held.result.status_code == 201, describe(held.result)
    print(f"push to another repository: {free.ended - t_hold:.2f}s; held put: {held.ended - t_hold:.2f}s")
    # the conflicting writes did: none ended before the held put committed
    for name, t in (*((f"put {i} to the held repository", t) for i, t in enumerate(same)),
                    ("delete there", delete), ("unscoped write", unscoped)):
        assert t.ended >= held.ended - 0.05, f"{name} ended {held.ended - t.ended:.2f}s before the held put"
    for t in same:
        assert t.result.status_code == 201, describe(t.result)
    assert delete.result.status_code == 202, describe(delete.result)
    assert reg_a.get_manifest(other_repo, "v1").status_code == 200
    assert reg_a.get_manifest(held_repo, victim.digest).status_code == 404
    # B's /metrics: the waits for the repository's key add up to most of the hold
    count, seconds = lock_waits(b, "repository")
    assert count > waits_before[0]
    assert seconds - waits_before[1] >= HOLD_MS / 1000 / 2, (count, seconds, waits_before)


def test_a_tag_overwrite_queued_behind_a_change_to_immutable_is_refused(pair):
    """The put reads its repository (MUTABLE) before its transaction; PutImageTagMutability
    (which excludes every writer) commits IMMUTABLE while the put waits for its locks. The put
    checks the setting as committed, not its copy: refused."""
    a, b = pair.a, pair.b
    repo = new_repo(a, "turns-immutable")
    reg_a, reg_b = Registry(a), Registry(b)
    first, second, held_img = (images.make_image(label=f"turn-{x}") for x in ("first", "second", "held"))
    reg_b.push_image(repo, first, tag="t")
    for img in (second, held_img):
        for blob in img.blobs:
            reg_b.push_blob(repo, blob)
    client = ecr(a)
    holds_before = a.log_text().count(f"holding the put of tag '{HOLD_TAG}'")
    held = Timed(lambda: reg_a.put_manifest(repo, HOLD_TAG, held_img.manifest, held_img.media_type))
    held.start()
    wait_for_hold(a, HOLD_TAG, holds_before + 1)
    setting = Timed(lambda: client.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE"))
    setting.start()
    deadline = time.monotonic() + 10
    while pair.waiting_exclusive() == 0:
        assert time.monotonic() < deadline, "the setting never waited for the registry key"
        time.sleep(0.05)
    # queued behind the setting (PostgreSQL grants the shared key after the exclusive request)
    overwrite = Timed(lambda: reg_b.put_manifest(repo, "t", second.manifest, second.media_type))
    overwrite.start()
    for t in (held, setting, overwrite):
        t.join(60)
        assert t.error is None, t.error
    # the setting commits once the held put has (it waits for the registry key the put holds shared);
    # its answer may reach the client a few milliseconds before the put's, which still has its
    # response to send
    assert held.ended - 0.05 < setting.ended <= overwrite.ended + 0.05
    assert held.result.status_code == 201, describe(held.result)
    r = overwrite.result
    assert r.status_code == 400 and error_codes(r) == ["TAG_INVALID"], describe(r)
    assert reg_b.get_manifest(repo, "t").headers["Docker-Content-Digest"] == first.digest


def test_servers_racing_to_overwrite_an_immutable_tag_one_wins_every_round(pair):
    repo = new_repo(pair.a, "immutable", imageTagMutability="IMMUTABLE")
    regs = [Registry(pair.a), Registry(pair.b)]
    for round_ in range(8):
        imgs = [images.make_image(label=f"imm-{round_}-{i}") for i in range(6)]
        for img in imgs:
            for blob in img.blobs:
                regs[0].push_blob(repo, blob)
        barrier = threading.Barrier(len(imgs))

        def put(i, img=None):
            barrier.wait()
            return regs[i % 2].put_manifest(repo, f"r{round_}", imgs[i].manifest, imgs[i].media_type)

        with concurrent.futures.ThreadPoolExecutor(len(imgs)) as pool:
            results = list(pool.map(put, range(len(imgs))))
        codes = [r.status_code for r in results]
        assert codes.count(201) == 1, (round_, codes)
        assert all(c == 400 for c in codes if c != 201), [describe(r) for r in results]
        winner = imgs[codes.index(201)].digest
        for reg in regs:
            assert reg.get_manifest(repo, f"r{round_}").headers["Docker-Content-Digest"] == winner


def test_creates_racing_at_the_repository_quota_never_exceed_it(pair):
    clients = [ecr(pair.a), ecr(pair.b)]

    def count():
        pages = clients[0].get_paginator("describe_repositories").paginate()
        return sum(len(p["repositories"]) for p in pages)

    for round_ in range(2):
        free = MAX_REPOS - count()
        assert free > 0
        barrier = threading.Barrier(free + 4)

        def create(i):
            c = clients[i % 2]
            barrier.wait()
            try:
                c.create_repository(repositoryName=f"quota/r{round_}-{i}")
                return "created"
            except c.exceptions.LimitExceededException:
                return "limit"

        with concurrent.futures.ThreadPoolExecutor(free + 4) as pool:
            results = list(pool.map(create, range(free + 4)))
        assert results.count("created") == free, results
        assert results.count("limit") == 4, results
        assert count() == MAX_REPOS
        for i, r in enumerate(results):
            if r == "created":
                clients[1].delete_repository(repositoryName=f"quota/r{round_}-{i}")


def test_pushes_deletes_and_gc_racing_on_two_servers_leave_fsck_clean(pair):
    a, b = pair.a, pair.b
    repos = [new_repo(a, f"race{i}") for i in range(4)]
    base_layers = shared_layers(2, 4096, "locks-race")
    kept, refused, lock = [], [], threading.Lock()
    # made before the clock starts: boto3 clients (and Registry's login) are slow to make
    clients, regs = [ecr(b), ecr(a)], [Registry(a), Registry(b)]
    stop = time.monotonic() + 8

    def worker(w):
        reg, client = regs[w % 2], clients[w % 2]
        repo = repos[w % len(repos)]
        n = 0
        while time.monotonic() < stop:
            n += 1
            own = images.make_layer({f"race/{w}/{n}.txt": f"{w} {n}".encode()})
            img = image_with_layers([*base_layers, own], f"race-{w}-{n}")
            for blob in img.blobs:
                if not reg.blob_exists(repo, blob.digest):
                    reg.push_blob(repo, blob)
            r = reg.put_manifest(repo, f"w{w}-{n}", img.manifest, img.media_type)
            if r.status_code == 400 and error_codes(r) == ["MANIFEST_BLOB_UNKNOWN"]:
                # GC (zero review delay) took a link between the upload and the put: refused whole
                with lock:
                    refused.append(r)
                continue
            assert r.status_code == 201, describe(r)
            if n % 3 == 0:
                client.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": f"w{w}-{n}"}])
            elif n % 3 == 1:
                r = reg.delete(f"/v2/{repo}/manifests/{img.digest}")
                assert r.status_code == 202, describe(r)
            else:
                with lock:
                    kept.append((repo, f"w{w}-{n}", img))
        return n

    def collector():
        runs = 0
        while time.monotonic() < stop:
            pair.gc()
            runs += 1
        return runs

    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        futures = [pool.submit(worker, w) for w in range(4)] + [pool.submit(collector)]
        done = [f.result() for f in futures]
    assert all(n >= 3 for n in done[:4]), done
    assert len(kept) >= 4, (len(kept), len(refused))
    pair.gc()
    for srv in (a, b):
        r = fsck(srv, *pair.cli_args(), env=pair.env)
        assert r.returncode == 0 and not r.problems, r
    for repo, tag, img in kept:
        problems = pull_problems(Registry(b), repo, tag, img)
        assert not problems, problems
