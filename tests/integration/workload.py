"""Concurrent workloads for the race and crash tests: images that share layers, pushes that may
fail (a failed push is simply not acknowledged), and the ledger of what was acknowledged and
what was deleted, which is what the tests judge the server by afterwards.
"""

import random
import threading
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
