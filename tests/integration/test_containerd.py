"""containerd 1.6 (Debian's `containerd`, driven by `ctr`) against berth (issue 12 §6): pull by
tag, by digest and a multi-platform index, push, and a push whose manifest PUT is refused (a
read-only credential), which must fail promptly. containerd cannot stop sending a manifest body
once started: a server that answers before reading the body and closes the connection leaves
it hanging forever, so berth reads small bodies (up to 256 KiB, as Go's net/http) before an
early answer. The daemon is started here with its own root, state directory and socket.

A raw-socket test checks the same drain without containerd: the refused manifest PUT is
answered, its body read, and the connection stays usable for the next request."""

import base64
import json
import os
import signal
import socket
import subprocess
import time

import boto3
import pytest

import images
from conftest import create_repository, direct_connection, registry_credentials, require_tool, run, token
from regclient import Registry

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


class Containerd:
    def __init__(self, base):
        self.base = base
        self.sock = base / "containerd.sock"
        self.proc = None

    def start(self):
        config = self.base / "config.toml"
        config.write_text(
            'version = 2\n'
            f'root = "{self.base}/root"\n'
            f'state = "{self.base}/state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.sock}"\n'
            f'[ttrpc]\n  address = "{self.sock}.ttrpc"\n')
        self.log = open(self.base / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("containerd exited at start:\n" + (self.base / "containerd.log").read_text()[-3000:])
            if self.sock.exists() and subprocess.run(["ctr", "--address", str(self.sock), "version"],
                                                     capture_output=True).returncode == 0:
                return self
            time.sleep(0.2)
        pytest.fail("containerd did not start:\n" + (self.base / "containerd.log").read_text()[-3000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def content(self, digest) -> bytes:
        p = subprocess.run(["ctr", "--address", str(self.sock), "--namespace", "berth-tests", "content", "get", digest],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr
        return p.stdout

    def ctr(self, *args, timeout=120, check=True, redact=()):
        return run(["ctr", "--address", self.sock, "--namespace", "berth-tests", *args], timeout=timeout, check=check,
                   redact=redact)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    require_tool("containerd")
    require_tool("ctr")
    c = Containerd(tmp_path_factory.mktemp("containerd")).start()
    yield c
    c.stop()


def user_arg(server, key=None, secret=None):
    user, password = registry_credentials(server, key, secret)
    return f"{user}:{password}", password


def push_and_pull(berth, containerd, obj, tag, *pull_args):
    """Pushes obj to a fresh repository as `tag`, pulls it with ctr; returns (repo, digest, ref, creds,
    password, the `ctr images ls` line of ref)."""
    repo = create_repository(f"ctr/pull-{token()}", berth)
    digest = Registry(berth).push_image(repo, obj, tag=tag)
    creds, password = user_arg(berth)
    ref = f"{berth.host}/{repo}:{tag}"
    containerd.ctr("images", "pull", "--plain-http", "--user", creds, *pull_args, ref, redact=[password])
    line = next(ln for ln in containerd.ctr("images", "ls").stdout.splitlines() if ln.startswith(ref + " "))
    assert digest in line, line
    return repo, digest, ref, creds, password, line


def test_pull_by_tag_and_digest(berth, containerd):
    img = images.make_image(label="ctr-pull")
    repo, digest, ref, creds, password, line = push_and_pull(berth, containerd, img, "v1")
    assert images.OCI_MANIFEST in line
    # every blob of the image for this platform is in containerd's store
    check = next(ln for ln in containerd.ctr("images", "check").stdout.splitlines() if ln.startswith(ref + " "))
    assert "complete" in check, check

    by_digest = f"{berth.host}/{repo}@{digest}"
    containerd.ctr("images", "pull", "--plain-http", "--user", creds, by_digest, redact=[password])
    assert any(ln.startswith(by_digest + " ") and digest in ln for ln in containerd.ctr("images", "ls").stdout.splitlines())
    # content in containerd's store is byte for byte what was pushed
    for blob in (img.config, img.layers[0]):
        assert containerd.content(blob.digest) == blob.data


def test_pull_multi_platform_index(berth, containerd):
    index = images.make_multiarch(label="ctr-index")
    *_, line = push_and_pull(berth, containerd, index, "multi", "--all-platforms")
    assert images.OCI_INDEX in line
    assert "linux/amd64" in line and "linux/arm64/v8" in line
    for child in index.children:
        assert containerd.content(child.digest) == child.manifest


def test_push_and_refused_push(berth, containerd):
    src = create_repository(f"ctr/src-{token()}", berth)
    dst = create_repository(f"ctr/dst-{token()}", berth)
    img = images.make_image(label="ctr-push")
    digest = Registry(berth).push_image(src, img, tag="v1")
    creds, password = user_arg(berth)
    containerd.ctr("images", "pull", "--plain-http", "--user", creds, f"{berth.host}/{src}:v1", redact=[password])
    target = f"{berth.host}/{dst}:pushed"
    containerd.ctr("images", "tag", f"{berth.host}/{src}:v1", target)
    containerd.ctr("images", "push", "--plain-http", "--user", creds, target, redact=[password])
    r = Registry(berth).get_manifest(dst, "pushed")
    assert r.status_code == 200 and r.headers["Docker-Content-Digest"] == digest and r.content == img.manifest

    # a read-only user: the blobs are there already (HEAD is allowed), the manifest PUT is refused
    ro_creds, ro_password = user_arg(berth, *read_only_user(berth))
    refused = f"{berth.host}/{dst}:refused"
    containerd.ctr("images", "tag", f"{berth.host}/{src}:v1", refused)
    start = time.monotonic()
    try:
        p = subprocess.run(["ctr", "--address", str(containerd.sock), "--namespace", "berth-tests", "images", "push",
                            "--plain-http", "--user", ro_creds, refused], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("a push whose manifest PUT is refused still hangs after 30s", pytrace=False)
    took = time.monotonic() - start
    assert p.returncode != 0, p.stdout
    assert took < 10, f"a refused push took {took:.1f}s"
    assert "403 Forbidden" in p.stderr and ro_password not in p.stderr, p.stderr.replace(ro_password, "***")
    assert Registry(berth).get_manifest(dst, "refused").status_code == 404


def read_only_user(berth):
    iam = boto3.client("iam", endpoint_url=berth.url, region_name=berth.region, aws_access_key_id=berth.access_key,
                       aws_secret_access_key=berth.secret)
    name = f"ctr-reader-{token()}"
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn=READ_ONLY)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


def refused_put_then_get(berth, repo, auth, body):
    """On one connection: a manifest PUT that a read-only principal is refused (the body sent in
    pieces after a pause, as from a slow pipe), then GET /v2/; returns all the bytes answered."""
    # berth itself, from a client's address: a trusted proxy (nginx in front under make test-scale)
    # has bodies up to 64 MiB drained, the one over the bound below too
    with direct_connection(berth) as s:
        s.sendall((f"PUT /v2/{repo}/manifests/refused HTTP/1.1\r\nHost: {berth.host}\r\nAuthorization: {auth}\r\n"
                   f"Content-Type: {images.OCI_MANIFEST}\r\nContent-Length: {len(body)}\r\n\r\n").encode())
        time.sleep(0.3)
        try:
            for i in range(0, len(body), 8192):
                s.sendall(body[i:i + 8192])
            s.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {berth.host}\r\nAuthorization: {auth}\r\n\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = b""
        deadline = time.time() + 10
        while got.count(b"HTTP/1.1 ") < 2 and time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            got += chunk
    return got


def test_refused_manifest_put_drains_a_small_body(berth):
    """Raw socket: a refused manifest PUT with a small body is answered after its body was read
    (the connection is not closed on it), and the same connection serves the next request."""
    repo = create_repository(f"ctr/raw-{token()}", berth)
    user, password = registry_credentials(berth, *read_only_user(berth))
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    body = images.make_image(label="raw").manifest + b" " * 100_000  # 100 KiB: under the bound
    got = refused_put_then_get(berth, repo, auth, body)
    first, _, rest = got.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 403"), got[:300]
    assert b"connection: close" not in first.lower(), first
    # the second answer came on the same connection: the first body was read, not left in the stream
    assert b"HTTP/1.1 200" in rest, got[-500:]

    # a body over the bound (256 KiB, as Go's net/http) is not read: answered at once, connection closed
    got = refused_put_then_get(berth, repo, auth, b" " * (300 * 1024))
    first, _, rest = got.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 403") and b"HTTP/1.1 200" not in rest, got[:300]
