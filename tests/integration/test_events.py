"""Events (EventBridge's role) delivered to webhooks: `berth admin webhook add|list|remove|deliveries`.

A receiver in the test (Python's http.server on a loopback port, in a thread) takes the POSTs:
pushes, deletes, refused pushes, scans and lifecycle expirations arrive as the ECR events AWS
documents ("ECR Image Action", "ECR Image Scan", "ECR Lifecycle Action"), signed with the
webhook's secret (X-Berth-Signature: sha256=HMAC(secret, "<X-Berth-Timestamp>.<body>")); filters
pick what a webhook gets; a receiver that refuses connections, then answers 500, then comes up
gets every event, in order per repository; a server killed with SIGKILL while deliveries are
pending delivers them all after its restart; `webhook deliveries` shows each delivery's state.

The servers run with a short backoff (--webhook-backoff-base-ms), so all of it takes seconds.
"""

import hashlib
import hmac
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import images
from conftest import DEFAULT_BIN, create_repository, free_port, run, token
from regclient import Registry
from test_ecr_repositories import ecr_client

BIN = os.environ.get("BERTH_BIN", str(DEFAULT_BIN))
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
FAST = ["--webhook-backoff-base-ms", "100", "--webhook-backoff-max-seconds", "1"]
HANG_S = 2.5


# ---------------------------------------------------------------------------------------
# The receiver
# ---------------------------------------------------------------------------------------

class Receiver:
    """An HTTP endpoint on 127.0.0.1 (a thread per request): `up` (200), `error` (500 to every POST, or to the events
    whose ids are in fail_ids) or stopped (connections refused). Keeps what it accepted."""

    def __init__(self):
        self.port = free_port()
        self.accepted = []   # (headers, body bytes) answered 200
        self.refused = []    # (headers, body bytes) answered 500
        self.fail_all = False
        self.fail_ids = set()
        self.hang = 0        # how many of the next requests wait HANG_S and answer nothing (a slow receiver)
        self.hung = []       # (headers, body) of requests that waited
        self.lock = threading.Lock()
        self.httpd = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    hang = receiver.hang > 0
                    if hang:
                        receiver.hang -= 1
                        receiver.hung.append((headers, body))
                if hang:
                    time.sleep(HANG_S)
                    return  # the client has given up by now: answer nothing
                with receiver.lock:
                    fail = receiver.fail_all or headers.get("x-berth-event-id") in receiver.fail_ids
                    (receiver.refused if fail else receiver.accepted).append((headers, body))
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.daemon_threads = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def events(self):
        with self.lock:
            return [json.loads(body) for _, body in self.accepted]

    def wait(self, pred, timeout=20, what="events"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.events()
            if pred(got):
                return got
            time.sleep(0.05)
        pytest.fail(f"the receiver did not get the {what} within {timeout}s; it has:\n"
                    + "\n".join(json.dumps(e) for e in self.events()))

    def wait_count(self, n, timeout=20):
        return self.wait(lambda got: len(got) >= n, timeout, f"{n} events")


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def admin(server, *args, check=True):
    return run([BIN, "admin", "webhook", *args, "--data", str(server.data_dir)], check=check, timeout=60)


def add_webhook(server, url, secret=None, filter_=None):
    args = ["add", url] + (["--secret", secret] if secret else []) + (["--filter", filter_] if filter_ else [])
    out = admin(server, *args).stdout.splitlines()
    assert re.match(r"^wh-[a-z0-9]{12}$", out[0]), out
    return out[0], out


def deliveries(server, *args):
    """`webhook deliveries` as dicts keyed by the header's column names."""
    lines = admin(server, "deliveries", *args).stdout.splitlines()
    head = lines[0].split("\t")
    assert head == ["ID", "WEBHOOK", "EVENT", "DETAIL-TYPE", "STREAM", "STATE", "ATTEMPTS", "LAST-STATUS",
                    "NEXT-ATTEMPT", "FINISHED", "LAST-ERROR"]
    return [dict(zip(head, line.split("\t"))) for line in lines[1:]]


def verify(headers, body, secret):
    """What a receiver does: recompute the signature over "<timestamp>.<body>" and compare."""
    ts = headers["x-berth-timestamp"]
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-berth-signature"], "sha256=" + mac)


def arn(server, name):
    return f"arn:aws:ecr:{server.region}:{server.account_id}:repository/{name}"


def check_envelope(server, e, detail_type, name):
    assert set(e) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}, e
    assert e["version"] == "0" and UUID.match(e["id"]), e
    assert e["detail-type"] == detail_type and e["source"] == "aws.ecr", e
    assert e["account"] == server.account_id and e["region"] == server.region, e
    assert TIME.match(e["time"]), e
    # AWS's sample events: an image action names no resource, a scan or lifecycle action the repository
    want = [] if detail_type == "ECR Image Action" else [arn(server, name)]
    assert e["resources"] == want, e


def of(events, name, detail_type=None):
    return [e for e in events if e["detail"]["repository-name"] == name and
            (detail_type is None or e["detail-type"] == detail_type)]


@pytest.fixture(scope="module")
def server(berth_factory):
    return berth_factory(extra_args=FAST)


@pytest.fixture(scope="module")
def reg(server):
    return Registry(server)


@pytest.fixture(scope="module")
def ecr(server):
    return ecr_client(server)


def new_name(prefix="ev"):
    return f"{prefix}-{token()}/app"


# ---------------------------------------------------------------------------------------
# Shapes and signatures
# ---------------------------------------------------------------------------------------

def test_push_and_delete_arrive_as_ecr_image_actions_signed(server, reg, ecr, receiver):
    name = new_name()
    secret = "s3cret-" + token(8)
    hook, out = add_webhook(server, receiver.url, secret=secret, filter_=f"repository-name={name}")
    assert len(out) == 1, out  # a secret given is never printed
    img = images.make_image(label=token())
    reg.push_image(name, img, tag="v1")
    (push,) = receiver.wait_count(1)
    check_envelope(server, push, "ECR Image Action", name)
    assert push["detail"] == {"result": "SUCCESS", "repository-name": name, "image-digest": img.digest,
                              "action-type": "PUSH", "image-tag": "v1",
                              "manifest-media-type": images.OCI_MANIFEST, "artifact-media-type": images.OCI_CONFIG}

    ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])
    _, delete = receiver.wait_count(2)
    check_envelope(server, delete, "ECR Image Action", name)
    assert delete["detail"] == {"result": "SUCCESS", "repository-name": name, "image-digest": img.digest,
                                "action-type": "DELETE", "image-tag": "v1"}
    assert push["id"] != delete["id"]

    for (headers, body), event in zip(receiver.accepted, (push, delete)):
        assert headers["content-type"] == "application/json"
        assert headers["x-berth-event-id"] == event["id"]
        assert headers["x-berth-event-type"] == "ECR Image Action"
        assert abs(int(headers["x-berth-timestamp"]) - time.time()) < 60
        assert verify(headers, body, secret)
        assert not verify(headers, body, secret + "x")
        assert not verify(headers, body.replace(b"SUCCESS", b"FAILURE"), secret)

    # a success is recorded just after the answer: wait for it
    rows = wait_rows(server, hook, lambda rows: all(r["STATE"] == "delivered" for r in rows))
    assert [(r["EVENT"], r["STATE"], r["ATTEMPTS"], r["LAST-STATUS"]) for r in rows] == \
        [(delete["id"], "delivered", "1", "200"), (push["id"], "delivered", "1", "200")]
    assert all(TIME.match(r["FINISHED"]) and r["STREAM"] == f"{server.account_id}/{name}" for r in rows), rows
    assert secret not in server.log_text()


def test_v2_delete_by_digest_and_untag(server, reg, receiver):
    name = new_name()
    add_webhook(server, receiver.url, secret="x" * 20, filter_=f"repository-name={name}")
    img = images.make_image(label=token())
    reg.push_image(name, img, tag="a")
    assert reg.put_manifest(name, "b", img.manifest, img.media_type).status_code == 201
    assert reg.delete(f"/v2/{name}/manifests/b").status_code == 202  # a tag: the image stays
    assert reg.delete(f"/v2/{name}/manifests/{img.digest}").status_code == 202
    got = receiver.wait_count(4)
    assert [(e["detail"]["action-type"], e["detail"].get("image-tag")) for e in got] == \
        [("PUSH", "a"), ("PUSH", "b"), ("DELETE", "b"), ("DELETE", "a")]
    assert {e["detail"]["image-digest"] for e in got} == {img.digest}


def test_refused_push_is_a_failure_and_a_rolled_back_one_is_nothing(server, reg, ecr, receiver):
    name = new_name()
    add_webhook(server, receiver.url, secret="y" * 20, filter_=f"repository-name={name}")
    ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    first, second = images.make_image(label=token()), images.make_image(label=token())
    reg.push_image(name, first, tag="release")
    for blob in second.blobs:
        reg.push_blob(name, blob)
    r = reg.put_manifest(name, "release", second.manifest, second.media_type)
    assert r.status_code in (400, 409), r.text
    # a manifest naming a blob the repository lacks: the put rolls back and reports nothing
    orphan = images.make_image(label=token())
    assert reg.put_manifest(name, "orphan", orphan.manifest, orphan.media_type).status_code == 400
    got = receiver.wait_count(2)
    time.sleep(0.5)
    got = receiver.events()
    assert [(e["detail"]["result"], e["detail"]["image-digest"], e["detail"]["image-tag"]) for e in got] == \
        [("SUCCESS", first.digest, "release"), ("FAILURE", second.digest, "release")]
    assert got[1]["detail"]["action-type"] == "PUSH"
    check_envelope(server, got[1], "ECR Image Action", name)


# ---------------------------------------------------------------------------------------
# Filters, list, remove, secrets
# ---------------------------------------------------------------------------------------

def test_filters_pick_events_and_conditions_are_anded(server, reg, receiver):
    prefix = f"flt-{token()}"
    other = Receiver().start()
    try:
        add_webhook(server, receiver.url, secret="z" * 20, filter_=f"detail-type=ECR Image Action,repository-name={prefix}/a*")
        add_webhook(server, other.url, secret="w" * 20, filter_=f"detail-type=ECR Lifecycle Action,repository-name={prefix}*")
        for repo in (f"{prefix}/a1", f"{prefix}/b1", f"{prefix}/a2"):
            reg.push_image(repo, images.make_image(label=token()), tag="t")
        got = receiver.wait_count(2)
        time.sleep(0.5)
        assert sorted(e["detail"]["repository-name"] for e in receiver.events()) == [f"{prefix}/a1", f"{prefix}/a2"]
        assert other.events() == []
    finally:
        other.stop()


@pytest.mark.parametrize("bad", ["repository=x", "detail-type=", "repository-name=a*b", "detail-type=X,",
                                 "nonsense"])
def test_invalid_filters_are_refused(server, bad):
    p = admin(server, "add", "http://127.0.0.1:9/x", "--filter", bad, check=False)
    assert p.returncode != 0 and "filter" in p.stderr, (p.stdout, p.stderr)


def test_add_list_remove_and_generated_secret(server, reg, receiver):
    p = admin(server, "add", "ftp://127.0.0.1/x", check=False)
    assert p.returncode != 0 and "http://" in p.stderr
    name = new_name()
    hook, out = add_webhook(server, receiver.url, filter_=f"repository-name={name}")
    assert len(out) == 2 and out[1].startswith("secret: "), out
    secret = out[1][len("secret: "):]
    assert len(secret) >= 32
    listing = admin(server, "list").stdout
    assert listing.splitlines()[0] == "ID\tURL\tFILTER\tCREATED"
    assert re.search(rf"^{hook}\t{re.escape(receiver.url)}\trepository-name={re.escape(name)}\t\d{{4}}-", listing, re.M)
    assert secret not in listing
    reg.push_image(name, images.make_image(label=token()), tag="v1")
    receiver.wait_count(1)
    headers, body = receiver.accepted[0]
    assert verify(headers, body, secret)
    assert secret not in server.log_text()
    assert admin(server, "remove", hook).stdout.strip() == f"removed {hook}"
    assert hook not in admin(server, "list").stdout
    assert deliveries(server, "--webhook", hook) == []
    p = admin(server, "remove", hook, check=False)
    assert p.returncode != 0 and hook in p.stderr
    reg.push_image(name, images.make_image(label=token()), tag="v2")
    time.sleep(0.5)
    assert len(receiver.events()) == 1


def test_secret_from_standard_input(server, reg, receiver):
    """`--secret -` reads the secret from standard input: a command line is readable by every local
    user (ps, /proc/PID/cmdline), standard input is not."""
    name = new_name()
    secret = "stdin-" + token(16)
    p = run([BIN, "admin", "webhook", "add", receiver.url, "--secret", "-", "--filter", f"repository-name={name}",
             "--data", str(server.data_dir)], input=secret + "\n", timeout=60)
    out = p.stdout.splitlines()
    assert len(out) == 1 and re.match(r"^wh-[a-z0-9]{12}$", out[0]), out
    reg.push_image(name, images.make_image(label=token()), tag="v1")
    receiver.wait_count(1)
    headers, body = receiver.accepted[0]
    assert verify(headers, body, secret)
    assert not verify(headers, body, "-")
    # too short, too long, or nothing at all on standard input
    for given in ("short\n", "x" * 65 + "\n", ""):
        p = run([BIN, "admin", "webhook", "add", receiver.url, "--secret", "-", "--data", str(server.data_dir)],
                input=given, check=False, timeout=60)
        assert p.returncode == 2 and "--secret" in p.stderr, p.stderr
        assert given.strip() == "" or given.strip() not in p.stderr


# ---------------------------------------------------------------------------------------
# Outages, order, given-up deliveries, restarts
# ---------------------------------------------------------------------------------------

def push_series(reg, names, n):
    """Pushes n images to each repository, interleaved; returns {repo: [digest, ...]} in push order."""
    pushed = {name: [] for name in names}
    for i in range(n):
        for name in names:
            img = images.make_image(label=token())
            reg.push_image(name, img, tag=f"t{i}")
            pushed[name].append(img.digest)
    return pushed


def wait_rows(server, hook, pred, timeout=20):
    deadline, rows = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        rows = deliveries(server, "--webhook", hook)
        if pred(rows):
            return rows
        time.sleep(0.1)
    pytest.fail(f"deliveries never matched:\n{rows}")


def test_receiver_down_then_failing_then_up_gets_everything_in_order(server, reg):
    down = Receiver()  # not started: connections are refused
    prefix = f"out-{token()}"
    names = [f"{prefix}/one", f"{prefix}/two"]
    hook, _ = add_webhook(server, down.url, secret="q" * 20, filter_=f"repository-name={prefix}/*")
    pushed = push_series(reg, names, 4)
    # refused: each stream's first delivery is tried again and again; later ones wait behind it
    rows = wait_rows(server, hook, lambda rows: len(rows) == 8 and
                     all(int(r["ATTEMPTS"]) >= 2 for r in rows if r["EVENT"] in heads(rows)))
    assert all(r["STATE"] == "pending" for r in rows), rows
    assert sum(int(r["ATTEMPTS"]) > 0 for r in rows) == 2, rows  # only the heads were tried
    assert all("refused" in r["LAST-ERROR"].lower() or "connect" in r["LAST-ERROR"].lower()
               for r in rows if int(r["ATTEMPTS"]) > 0), rows
    assert all(TIME.match(r["NEXT-ATTEMPT"]) for r in rows), rows
    # then it answers 500 for a while
    down.fail_all = True
    down.start()
    try:
        deadline = time.monotonic() + 10
        while len(down.refused) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(down.refused) >= 4
        assert down.events() == []
        rows = deliveries(server, "--webhook", hook, "--state", "pending")
        assert len(rows) == 8 and any(r["LAST-STATUS"] == "500" and r["LAST-ERROR"] == "HTTP 500" for r in rows), rows
        # and then it works: everything arrives, each repository's events in push order
        down.fail_all = False
        got = down.wait_count(8)
        time.sleep(0.3)
        got = down.events()
        assert len(got) == 8 and len({e["id"] for e in got}) == 8
        for name in names:
            assert [e["detail"]["image-digest"] for e in of(got, name)] == pushed[name]
            assert [e["detail"]["image-tag"] for e in of(got, name)] == [f"t{i}" for i in range(4)]
    finally:
        down.stop()
    rows = wait_rows(server, hook, lambda rows: all(r["STATE"] == "delivered" for r in rows))
    assert all(r["LAST-STATUS"] == "200" and TIME.match(r["FINISHED"]) for r in rows), rows
    assert sum(int(r["ATTEMPTS"]) > 1 for r in rows) >= 2
    assert deliveries(server, "--webhook", hook, "--state", "pending") == []


def heads(rows):
    """The event of the oldest delivery of each stream."""
    first = {}
    for r in sorted(rows, key=lambda r: int(r["ID"])):
        first.setdefault(r["STREAM"], r["EVENT"])
    return set(first.values())


@pytest.fixture(scope="module")
def strict(berth_factory):
    """A server that gives up after 3 attempts and waits 1 s for an answer."""
    return berth_factory(extra_args=FAST + ["--webhook-max-attempts", "3", "--webhook-timeout-seconds", "1"])


def test_slow_receiver_times_out_and_gets_the_event_later(strict):
    reg = Registry(strict)
    rcv = Receiver().start()
    try:
        name = new_name("slow")
        hook, _ = add_webhook(strict, rcv.url, secret="t" * 20, filter_=f"repository-name={name}")
        rcv.hang = 1
        img = images.make_image(label=token())
        t0 = time.monotonic()
        reg.push_image(name, img, tag="v1")
        got = rcv.wait_count(1)
        assert time.monotonic() - t0 < HANG_S + 1  # berth gave up on the first attempt after 1 s
        # requests the receiver read after berth gave up on them may be answered too: at least once
        assert {(e["id"], e["detail"]["image-digest"]) for e in got} == {(got[0]["id"], img.digest)}
        assert len(rcv.hung) >= 1
        rows = wait_rows(strict, hook, lambda rows: rows and rows[0]["STATE"] == "delivered")
        assert rows[0]["ATTEMPTS"] == "2", rows
    finally:
        rcv.stop()


def test_given_up_delivery_is_failed_and_the_stream_goes_on(strict):
    srv = strict
    reg = Registry(srv)
    rcv = Receiver().start()
    try:
        name = new_name("gu")
        hook, _ = add_webhook(srv, rcv.url, secret="g" * 20, filter_=f"repository-name={name}")
        rcv.fail_all = True
        reg.push_image(name, images.make_image(label=token()), tag="doomed")
        rows = wait_rows(srv, hook, lambda rows: rows and rows[0]["STATE"] == "failed")
        assert rows[0]["ATTEMPTS"] == "3" and rows[0]["LAST-STATUS"] == "500" and TIME.match(rows[0]["FINISHED"]), rows
        assert len(rcv.refused) == 3
        assert [r["EVENT"] for r in deliveries(srv, "--webhook", hook, "--state", "failed")] == [rows[0]["EVENT"]]
        rcv.fail_all = False
        img = images.make_image(label=token())
        reg.push_image(name, img, tag="fine")
        (e,) = rcv.wait_count(1)
        assert e["detail"]["image-tag"] == "fine"
        wait_rows(srv, hook, lambda rows: [r["STATE"] for r in rows] == ["delivered", "failed"])
    finally:
        rcv.stop()


def test_kill_9_with_pending_deliveries_loses_none(berth_factory):
    srv = berth_factory(extra_args=["--webhook-backoff-base-ms", "1500", "--webhook-backoff-max-seconds", "2"])
    reg = Registry(srv)
    rcv = Receiver()
    prefix = f"kill-{token()}"
    names = [f"{prefix}/a", f"{prefix}/b"]
    hook, _ = add_webhook(srv, rcv.url, secret="k" * 20)
    pushed = push_series(reg, names, 3)
    wait_rows(srv, hook, lambda rows: len(rows) == 6 and sum(int(r["ATTEMPTS"]) > 0 for r in rows) == 2)
    srv.kill()
    rcv.start()
    try:
        srv.start()
        got = rcv.wait_count(6, timeout=30)
        time.sleep(0.3)
        got = rcv.events()
        for name in names:
            digests = [e["detail"]["image-digest"] for e in of(got, name)]
            assert digests == pushed[name], (name, digests)  # every event, in order, none twice
        wait_rows(srv, hook, lambda rows: len(rows) == 6 and all(r["STATE"] == "delivered" for r in rows))
    finally:
        rcv.stop()


@pytest.mark.sqlite_only("on a database other servers share, a dead server's leases run out (5 minutes): another "
                         "server may still hold them")
def test_kill_9_during_a_delivery_does_not_hold_it_for_the_lease(berth_factory):
    """A server killed while a delivery is in flight (its job leased for five minutes) delivers it
    as soon as it is back: on a store no other server shares, a start frees its dead leases."""
    srv = berth_factory()
    reg = Registry(srv)
    rcv = Receiver()
    rcv.hang = 1
    rcv.start()
    try:
        hook, _ = add_webhook(srv, rcv.url, secret="k" * 20)
        name = f"kill-lease-{token()}/a"
        pushed = push_series(reg, [name], 1)
        deadline = time.monotonic() + 20
        while not rcv.hung and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rcv.hung, "the delivery never reached the receiver"
        srv.kill()                               # mid-attempt: the receiver has not answered
        srv.start()
        got = rcv.wait_count(1, timeout=20)
        assert [e["detail"]["image-digest"] for e in of(got, name)] == pushed[name]
    finally:
        rcv.stop()


# ---------------------------------------------------------------------------------------
# Scans and lifecycle
# ---------------------------------------------------------------------------------------

def tar_gz_layer(files):
    import gzip
    import io
    import tarfile
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(content), 0o644, 0
            tar.addfile(ti, io.BytesIO(content))
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return images.Blob(gz.getvalue(), images.OCI_LAYER, diff_id=images.sha256(raw.getvalue()))


def test_scan_on_push_ends_with_an_ecr_image_scan_event(server, reg, ecr, receiver, tmp_path):
    record = {"id": f"CVE-2099-{token(2)}", "modified": "2024-01-01T00:00:00Z", "summary": "demo",
              "affected": [{"package": {"ecosystem": "Debian:12", "name": "demo-tool"},
                            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0-1"}]}]}],
              "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "r.json").write_text(json.dumps(record))
    subprocess.run([BIN, "vulndb", "import", str(tmp_path / "osv"), "--data", str(server.data_dir)], check=True,
                   capture_output=True, timeout=60)
    name = new_name("scan")
    ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    add_webhook(server, receiver.url, secret="v" * 20, filter_=f"repository-name={name},detail-type=ECR Image Scan")
    status = b"Package: demo-tool\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.9-3\n\n"
    layer = tar_gz_layer({"etc/os-release": b'ID=debian\nVERSION_ID="12"\n', "var/lib/dpkg/status": status})
    img = images.make_image(layers=[layer])
    reg.push_image(name, img, tag="v1")
    (e,) = receiver.wait_count(1, timeout=60)
    check_envelope(server, e, "ECR Image Scan", name)
    assert e["detail"] == {"scan-status": "COMPLETE", "repository-name": name,
                           "finding-severity-counts": {"CRITICAL": 1}, "image-digest": img.digest,
                           "image-tags": ["v1"]}


def test_lifecycle_expiry_sends_lifecycle_actions(server, reg, ecr, receiver):
    name = new_name("lc")
    add_webhook(server, receiver.url, secret="l" * 20, filter_=f"repository-name={name}")
    digests = []
    for tag in ("old", "mid", "new"):
        img = images.make_image(label=token())
        reg.push_image(name, img, tag=tag)
        digests.append(img.digest)
        time.sleep(0.02)
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}}]}))
    run([BIN, "admin", "lifecycle", "run", "--repository", name, "--data", str(server.data_dir)])
    got = receiver.wait(lambda g: len(of(g, name, "ECR Lifecycle Action")) == 2, timeout=20,
                        what="lifecycle actions")
    actions = of(got, name, "ECR Lifecycle Action")
    for e in actions:
        check_envelope(server, e, "ECR Lifecycle Action", name)
    assert sorted((e["detail"]["image-digest"], tuple(e["detail"]["image-tags"])) for e in actions) == \
        sorted([(digests[0], ("old",)), (digests[1], ("mid",))])
    assert all(e["detail"]["action-type"] == "EXPIRE" and e["detail"]["image-action-type"] == "EXPIRE" and
               e["detail"]["repository-name"] == name for e in actions)
    # the expiry deletes the images through the image service: each is also an image DELETE
    got = receiver.wait(lambda g: len([e for e in of(g, name, "ECR Image Action")
                                       if e["detail"]["action-type"] == "DELETE"]) == 2, what="deletes")
    assert {e["detail"]["image-digest"] for e in of(got, name, "ECR Image Action")
            if e["detail"]["action-type"] == "DELETE"} == set(digests[:2])
