"""Concurrent workloads for the race and crash tests: images that share layers, pushes that may
fail (a failed push is simply not acknowledged), and the ledger of what was acknowledged and
what was deleted, which is what the tests judge the server by afterwards.
"""

import random
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

import images


def shared_layers(n, size, seed):
    """n gzip layers of about `size` incompressible bytes each, the same for the same seed."""
    return [images.make_layer({f"shared/{seed}/{i}.bin": images.random_blob(size, f"{seed}/{i}".encode()).data})
            for i in range(n)]


def image_with_layers(layers, label, arch="amd64", variant=""):
    """An OCI image with a config of its own over the given layers."""
    config_obj = {
        "architecture": arch,
        "os": "linux",
        "config": {"Labels": {"berth.test.token": label}},
        "rootfs": {"type": "layers", "diff_ids": [x.diff_id for x in layers]},
    }
    if variant:
        config_obj["variant"] = variant
    config = images.Blob(images.dumps(config_obj), images.OCI_CONFIG)
    body = images.dumps({"schemaVersion": 2, "mediaType": images.OCI_MANIFEST, "config": config.descriptor(),
                         "layers": [x.descriptor() for x in layers]})
    platform = {"architecture": arch, "os": "linux"}
    if variant:
        platform["variant"] = variant
    return images.Image(body, images.OCI_MANIFEST, config, list(layers), platform)


def random_image(pool, label, rng, unique_size=0):
    """One to three layers from the shared pool, plus one of its own when unique_size is set."""
    layers = rng.sample(pool, rng.randint(1, min(3, len(pool))))
    if unique_size:
        layers.append(images.make_layer({f"own/{label}.bin": images.random_blob(unique_size, label.encode()).data}))
    return image_with_layers(layers, label)


def random_index(pool, label, rng):
    """A two-platform index whose children draw on the shared pool."""
    amd = image_with_layers(rng.sample(pool, 2), label + "-amd64")
    arm = image_with_layers(rng.sample(pool, 2), label + "-arm64", arch="arm64", variant="v8")
    return images.make_index([amd, arm])


def raw_push(reg, repo, obj, tag=None, timeout=60) -> bool:
    """Push obj (children first) as a client does: HEAD each blob, upload what is missing, then PUT the
    manifest. True only when the final PUT answered 201 with the right digest; any error is False."""
    try:
        if isinstance(obj, images.Index):
            if not all(raw_push(reg, repo, child, None, timeout) for child in obj.children):
                return False
        else:
            for b in obj.blobs:
                if reg.head(f"/v2/{repo}/blobs/{b.digest}", timeout=timeout).status_code == 200:
                    continue
                r = reg.post(f"/v2/{repo}/blobs/uploads/", timeout=timeout)
                if r.status_code != 202:
                    return False
                r = reg.put(reg.location(r), params={"digest": b.digest}, data=b.data,
                            headers={"Content-Type": "application/octet-stream"}, timeout=timeout)
                if r.status_code != 201:
                    return False
        r = reg.put(f"/v2/{repo}/manifests/{tag or obj.digest}", data=obj.manifest,
                    headers={"Content-Type": obj.media_type}, timeout=timeout)
        return r.status_code == 201 and r.headers.get("Docker-Content-Digest") == obj.digest
    except (requests.RequestException, AssertionError, OSError):
        return False


def pusher(srv, tools, ledger, queue, how, stop, pace=0.0):
    """A push worker: takes entries from `queue` until it is empty or `stop` is set, one every `pace`
    seconds, pushing each with skopeo (from tools.layout) or raw_push, and records the outcome."""
    from datadir import skopeo_push
    from regclient import Registry

    reg = Registry(srv)
    while not (stop.wait(pace) if pace else stop.is_set()):
        with ledger.lock:
            if not queue:
                return
            e = queue.pop()
            ledger.entries.append(e)
        if how == "skopeo":
            p = skopeo_push(tools, tools.layout, e.tag, e.repo, e.tag, check=False)
            ok = p.returncode == 0
            if not ok:
                e.notes.append(p.stderr.strip()[-400:])
        else:
            ok = raw_push(reg, e.repo, e.obj, e.tag)
        with ledger.lock:
            e.state = "acked" if ok else "failed"
        ledger.bump(f"push {how} {'acked' if ok else 'failed'}")


def deleter(srv, ledger, stop, pace=0.3):
    """Deletes acknowledged images (never the kept ones): /v2 by digest, ECR by tag, ECR by digest."""
    from datadir import ecr_client
    from regclient import Registry

    reg, ecr = Registry(srv), ecr_client(srv)
    n = 0
    while not stop.wait(pace):
        e = ledger.claim_for_delete()
        if e is None:
            continue
        way = ("v2", "ecr-tag", "ecr-digest")[n % 3]
        n += 1
        try:
            if way == "v2":
                ok = reg.delete(f"/v2/{e.repo}/manifests/{e.obj.digest}").status_code == 202
            else:
                ident = {"imageTag": e.tag} if way == "ecr-tag" else {"imageDigest": e.obj.digest}
                out = ecr.batch_delete_image(repositoryName=e.repo, imageIds=[ident])
                ok = bool(out.get("imageIds")) and not out.get("failures")
            state = "deleted" if ok else "acked"
        except Exception as ex:  # the outcome is unknown: judge nothing about this image
            e.notes.append(repr(ex))
            state = "unknown"
        with ledger.lock:
            e.state = state
        ledger.bump(f"delete {way} {'done' if state == 'deleted' else state}")


def plan_pushes(tools, layout_dir, repos, n, make_obj, skopeo_every, keep_every):
    """n pushes over repos, as queues for pusher() ({"skopeo": [...], "raw": [...]}, pop() gives the
    next): push i pushes make_obj(i) as tag t<i>, with skopeo every skopeo_every-th (those images are
    written to an OCI layout in layout_dir, which becomes tools.layout), and is never deleted on
    purpose every keep_every-th."""
    plans = {"skopeo": [], "raw": []}
    refs = {}
    for i in range(n):
        how = "skopeo" if i % skopeo_every == 0 else "raw"
        e = Entry(repo=repos[i % len(repos)], tag=f"t{i}", obj=make_obj(i), how=how, keep=i % keep_every == 0)
        plans[how].append(e)
        if how == "skopeo":
            refs[e.tag] = e.obj
    tools.layout = images.write_oci_layout(layout_dir, refs)
    for q in plans.values():
        q.reverse()
    return plans


@dataclass
class Entry:
    repo: str
    tag: str
    obj: object
    how: str                 # "skopeo" or "raw"
    keep: bool = False       # never deleted on purpose: other workers aim at its blobs and children
    state: str = "pushing"   # pushing -> acked | failed; acked -> deleting -> deleted | acked | unknown
    notes: list = field(default_factory=list)


class Ledger:
    """What the clients were told, under a lock: the truth the server must match afterwards."""

    def __init__(self, seed=None):
        self.lock = threading.Lock()
        self.entries = []
        self.rng = random.Random(seed)
        self.counts = {}

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
        return entry

    def bump(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def pick(self, pred):
        with self.lock:
            choices = [e for e in self.entries if pred(e)]
            return self.rng.choice(choices) if choices else None

    def claim_for_delete(self):
        """An acknowledged image that may be deleted, marked as being deleted (atomically)."""
        with self.lock:
            choices = [e for e in self.entries if e.state == "acked" and not e.keep]
            if not choices:
                return None
            e = self.rng.choice(choices)
            e.state = "deleting"
            return e

    def live(self):
        """Acknowledged and not deleted (nor possibly deleted): these must pull back intact."""
        with self.lock:
            return [e for e in self.entries if e.state == "acked"]


def require(cond, msg):
    """A precondition of a test, not its verdict: fails the test outright (pytest.fail), so that a
    test marked xfail(raises=AssertionError) cannot pass as an expected failure when its workload
    or its tools, rather than the server, went wrong."""
    if not cond:
        pytest.fail(msg, pytrace=False)


class Timed(threading.Thread):
    """Runs fn on a thread; .result, .started and .ended (monotonic) once it returns."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error, self.ended = fn, None, None, None

    def run(self):
        self.started = time.monotonic()
        try:
            self.result = self.fn()
        except Exception as e:  # reported by the test that reads it
            self.error = e
        self.ended = time.monotonic()


def wait_for_hold(server, tag, n):
    """Until the server's log says its n-th put of `tag` held by the test hook BERTH_TEST_PUT_HOLD
    (src/image/put.c) waits in its open transaction."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.log_text().count(f"holding the put of tag '{tag}'") >= n:
            return
        time.sleep(0.05)
    pytest.fail("the held put never reached its commit")
