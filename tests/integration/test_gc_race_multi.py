"""GC on one server against a push on another, when several servers share PostgreSQL and an S3
bucket (issue 10, §4): the commit guard must work across hosts.

Two berth servers, A and B, on one PostgreSQL database and one RGW bucket (same key prefix), each
with a data directory of its own (so each has its own lock file: two hosts). A's object store
traffic goes through a small TCP proxy that forwards every byte to the real RGW but can hold one
request, chosen by method and key, until the test lets it go: that is how the test puts GC's
DELETE of a blob exactly where a push on B can slip in between GC's "no record needs these bytes"
and the DELETE.

For each way GC deletes bytes (the review of a blob whose last link it dropped, and the sweep of
objects with no record), GC on A (its background job every second, or `berth gc` with A's data
directory) is stopped at its DELETE of a layer while B pushes an image with that very layer; then
the DELETE goes on. The verdict: the push is acknowledged, its layer is still in the bucket, the
image pulls byte-identical through both servers, and `berth fsck` is clean. With a guard that only
one host sees, GC removes the layer the push was just acknowledged for, and the manifest points at a deleted object."""

import os
import socket
import subprocess
import threading
import time

import pytest

import images
from conftest import create_repository
from datadir import ecr_client, fsck, pull_problems
from regclient import Registry, describe

DELAY = 1          # the review delay of both servers and of GC, seconds
HOLD_SECONDS = 3   # how long B's push gets while GC's DELETE waits (B's push takes well under one)


class HoldingProxy:
    """A TCP proxy to RGW that forwards every request as it is, except that it can hold the next
    request of a given method whose path contains a given string until release() (RGW still
    answers it afterwards). Requests on a connection are found by their headers and
    Content-Length (libcurl sends no chunked bodies and no Expect)."""

    def __init__(self, upstream: str):
        host, port = upstream.split("://", 1)[1].rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.rule = None
        self.held = threading.Event()
        self.released = threading.Event()
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self, method: str, needle: str):
        with self.lock:
            self.rule = (method, needle)
        self.held.clear()
        self.released.clear()

    def release(self):
        with self.lock:
            self.rule = None
        self.released.set()

    def close(self):
        self.release()
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _serve(self, client):
        upstream = socket.create_connection(self.upstream)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = client.recv(65536)
                    if not data:
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                with self.lock:
                    self.requests.append((method, path))
                    hold = self.rule is not None and method == self.rule[0] and self.rule[1] in path
                    if hold:
                        self.rule = None
                if hold:
                    self.held.set()
                    self.released.wait(60)
                upstream.sendall(head + b"\r\n\r\n")
                while length:
                    if not buf:
                        buf = client.recv(65536)
                        if not buf:
                            return
                    part, buf = buf[:length], buf[length:]
                    upstream.sendall(part)
                    length -= len(part)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


class Pair:
    """Servers A (through the proxy) and B (straight to RGW) on one database and one bucket prefix."""

    def __init__(self, pg, rgw, berth_factory, base):
        self.url = pg.create_database("gcm_" + images.token(10).lower())
        self.key = base / "registry.key"
        self.rgw = rgw
        self.proxy = HoldingProxy(rgw.endpoint)
        prefix = "gcm" + images.token(6)
        self.env_b = rgw.blob_env(base / "b", redirect="off", prefix=prefix)
        self.env_a = dict(self.env_b, BERTH_BLOB_STORE=self.env_b["BERTH_BLOB_STORE"].replace(
            rgw.endpoint, self.proxy.endpoint))
        self.prefix = prefix
        args = ["--database", self.url, "--key-file", str(self.key), "--gc-review-delay-seconds", str(DELAY)]
        # GC's background job runs on A alone (B runs no jobs), a pass every second
        self.b = berth_factory(data_dir=base / "b", extra_env=self.env_b, extra_args=[*args, "--job-workers", "0"])
        self.a = berth_factory(data_dir=base / "a", extra_env=self.env_a,
                               extra_args=[*args, "--gc-interval-seconds", "1"])

    def cli(self, srv, env, command, *args):
        return [str(srv.binary), command, "--data", str(srv.data_dir), "--database", self.url, "--key-file",
                str(self.key), *args]

    def gc_on_a(self) -> subprocess.Popen:
        return subprocess.Popen(self.cli(self.a, self.env_a, "gc", "--gc-review-delay-seconds", str(DELAY)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **self.env_a})

    def key_of(self, digest: str) -> str:
        alg, hexd = digest.split(":")
        return f"{self.prefix}/blobs/{alg}/{hexd[:2]}/{hexd}"

    def object_exists(self, digest: str) -> bool:
        s3 = self.rgw.s3()
        try:
            s3.head_object(Bucket=self.rgw.bucket, Key=self.key_of(digest))
            return True
        except s3.exceptions.ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e
            return False


@pytest.fixture(scope="module")
def pair(pg, rgw, berth_factory, tmp_path_factory):
    p = Pair(pg, rgw, berth_factory, tmp_path_factory.mktemp("gcmulti"))
    yield p
    # before the database goes (the harness checks their exit afterwards)
    p.a.stop()
    p.b.stop()
    p.proxy.close()


def _push(reg, repo, img, tag, out):
    """Pushes img (blobs B has no link for, then the manifest) and notes every status in out."""
    try:
        for blob in img.blobs:
            if not reg.blob_exists(repo, blob.digest):
                out.append(("blob", reg.push_blob(repo, blob)))
        r = reg.put_manifest(repo, tag, img.manifest, img.media_type)
        out.append(("manifest", r.status_code, describe(r)))
    except AssertionError as e:  # push_blob asserts its 201
        out.append(("failed", str(e)))
    out.append(("done", time.monotonic()))


def _wait_for_gc_on_a(pair, path, deadline=30):
    """Waits until GC on A holds at the layer's DELETE: A's background pass, or, for the sweep (which
    that pass spreads over sixteen passes), also `berth gc` on A's data directory, started again
    while another pass holds GC's lock. Returns the `berth gc` processes started."""
    started = []
    end = time.monotonic() + deadline
    while not pair.proxy.held.wait(0.2):
        assert time.monotonic() < end, f"GC on A never deleted the layer: {[p.communicate() for p in started]}"
        if path == "sweep" and (not started or started[-1].poll() is not None):
            started.append(pair.gc_on_a())
    return started


@pytest.mark.parametrize("path", ["review", "sweep"])
def test_gc_on_one_server_never_deletes_what_a_push_on_another_commits(pair, path):
    a, b = pair.a, pair.b
    reg_b = Registry(b)
    repo = create_repository(f"gcmulti/{path}-{images.token(3)}", b)
    img = images.make_image(label=f"gcmulti-{path}-{images.token(4)}")
    layer = img.layers[0]
    pair.proxy.hold("DELETE", layer.digest.split(":")[1])

    if path == "review":
        # the layer was pushed and its image deleted: once the delay has passed, GC's review drops the
        # link, then the blob's record, then deletes its object
        old = images.make_image(layers=img.layers, label=f"old-{images.token(4)}")
        reg_b.push_image(repo, old, tag="old")
        ecr_client(b).batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "old"}])
        assert pair.object_exists(layer.digest)
    else:
        # an object with no record (what a crash between an object and its record leaves): the sweep
        # deletes it once it is older than the delay (S3's Last-Modified has whole seconds)
        pair.rgw.s3().put_object(Bucket=pair.rgw.bucket, Key=pair.key_of(layer.digest), Body=layer.data)
        time.sleep(DELAY + 1.2)

    gcs = []
    try:
        gcs = _wait_for_gc_on_a(pair, path)
        # GC has decided that no record wants the layer's object and is deleting it; B pushes an image
        # with that layer
        pushed = []
        pusher = threading.Thread(target=_push, args=(reg_b, repo, img, "new", pushed))
        pusher.start()
        pusher.join(HOLD_SECONDS)
        acked_during_hold = not pusher.is_alive()
    finally:
        pair.proxy.release()
    for gc in gcs:
        out, err = gc.communicate(timeout=60)
        assert gc.returncode == 0, err
        print(f"{path}: berth gc on A: {out.strip()}")
    pusher.join(60)
    assert not pusher.is_alive(), "B's push did not finish"
    print(f"{path}: B's push acknowledged while GC's DELETE waited: {acked_during_hold}")

    assert [e for e in pushed if e[0] == "failed"] == [], pushed
    manifest = [e for e in pushed if e[0] == "manifest"]
    assert manifest and manifest[0][1] == 201, pushed
    assert ("blob", layer.digest) in pushed, f"B did not upload the layer: {pushed}"
    # the layer B's push was acknowledged for is still there, and the image is whole on both servers
    assert pair.object_exists(layer.digest), f"GC on A deleted {layer.digest} that B's push committed"
    for srv in (a, b):
        # with B's login token: tokens from one server work on all
        problems = pull_problems(Registry(srv, auth=reg_b.auth), repo, "new", img)
        assert not problems, f"through {srv.host}: {problems}"
    for srv, env in ((a, pair.env_a), (b, pair.env_b)):
        r = fsck(srv, "--database", pair.url, "--key-file", str(pair.key), env=env)
        assert r.returncode == 0 and not r.problems, r
