"""Operating berth: /metrics, /healthz, /readyz, graceful shutdown, log files and formats, no secrets in logs.

/metrics is read with Prometheus's own text parser (Debian's python3-prometheus-client,
prometheus_client.parser.text_string_to_metric_families) and its values are checked to move
as requests are made. SIGTERM is sent with requests in flight: the one that can finish does,
new connections are refused meanwhile, the process exits 0 at the shutdown deadline, and the
chunked /v2 uploads it cut off resume after the restart. SIGHUP reopens --log-file after a
rename, --log-format json writes one object per line, and a debug-level run of the operations
that create secrets leaves none of them in any log line.
"""

import base64
import hashlib
import json
import os
import re
import signal
import socket
import time
from urllib.parse import urlsplit, parse_qs

import boto3
import pytest
import requests
from botocore.config import Config
from prometheus_client.parser import text_string_to_metric_families

from conftest import create_repository, free_port, processes, registry_credentials, repo_name_for
from regclient import Registry, describe

V2_MEDIA = "application/octet-stream"


def client(server, service, key=None, secret=None):
    return boto3.client(service, endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=key or server.access_key,
                        aws_secret_access_key=secret or server.secret,
                        config=Config(retries={"max_attempts": 1}))


def scrape(url, token=None):
    """{(sample name, frozenset(labels)): value} and the families, parsed by prometheus_client."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.get(url, headers=headers, timeout=10)
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    families = list(text_string_to_metric_families(r.text))
    samples = {}
    for fam in families:
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples, families


# gauges read from the shared store: every process of a registry says the same
REGISTRY_WIDE = {"berth_uploads_in_flight"}


def scrape_all(server):
    """scrape() of every process of a server (two behind nginx), samples summed: a registry's
    counters are the sum of its processes'. The families are the first process's."""
    total, families = {}, None
    for proc in processes(server):
        samples, fams = scrape(proc.url + "/metrics")
        for k, v in samples.items():
            if k[0] in REGISTRY_WIDE and families is not None:
                assert total.get(k, 0.0) == v, (k, total.get(k), v)
            else:
                total[k] = total.get(k, 0.0) + v
        families = families or fams
    return total, families


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def server(berth_factory):
    return berth_factory()


# ---------------------------------------------------------------------------------------
# /metrics
# ---------------------------------------------------------------------------------------

def test_metrics_follow_prometheus_conventions_and_move_with_requests(server, request):
    ecr = client(server, "ecr")
    reg = Registry(server)
    n = len(processes(server))
    before, families = scrape_all(server)

    # names: berth_ prefix, counters end in _total, durations in _seconds, sizes in _bytes
    for fam in families:
        assert fam.name.startswith("berth_"), fam.name
        if fam.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in fam.samples), fam.name
        if fam.type == "histogram":
            assert fam.name.endswith("_seconds"), fam.name
        assert fam.documentation, fam.name
    kinds = {f.name: f.type for f in families}
    assert kinds["berth_http_requests"] == "counter"
    assert kinds["berth_http_request_duration_seconds"] == "histogram"
    assert kinds["berth_store_step_duration_seconds"] == "histogram"
    assert kinds["berth_uploads_in_flight"] == "gauge"
    assert kinds["berth_jobs_run"] == "counter" and kinds["berth_jobs_failed"] == "counter"
    version = re.search(r"berth (\S+) listening", server.log_text()).group(1)
    assert value(before, "berth_build_info", version=version) == n
    # in each process, the scrape that rendered this was in flight, and nothing else
    assert value(before, "berth_http_requests_in_flight") == n

    name = repo_name_for(request.node.name)
    ecr.create_repository(repositoryName=name)
    ecr.describe_repositories(repositoryNames=[name])
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.describe_repositories(repositoryNames=[name + "-missing"])

    blob = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    r = reg.start_upload(name)
    assert r.status_code == 202, describe(r)
    location = reg.location(r)
    mid, _ = scrape_all(server)
    assert value(mid, "berth_uploads_in_flight") == value(before, "berth_uploads_in_flight") + 1
    r = reg.put(location, params={"digest": digest}, data=blob, headers={"Content-Type": V2_MEDIA})
    assert r.status_code == 201, describe(r)
    r = reg.get(f"/v2/{name}/blobs/{digest}")
    assert r.status_code == 200 and r.content == blob, describe(r)

    after, _ = scrape_all(server)

    def delta(name_, **labels):
        return value(after, name_, **labels) - value(before, name_, **labels)

    req = "berth_http_requests_total"
    assert delta(req, surface="ecr", operation="CreateRepository", code="200") == 1
    assert delta(req, surface="ecr", operation="DescribeRepositories", code="200") == 1
    assert delta(req, surface="ecr", operation="DescribeRepositories", code="400") == 1
    assert delta(req, surface="registry", operation="StartUpload", code="202") == 1
    assert delta(req, surface="registry", operation="CompleteUpload", code="201") == 1
    assert delta(req, surface="registry", operation="GetBlob", code="200") == 1
    assert delta(req, surface="ops", operation="Metrics", code="200") == 2 * n
    assert delta("berth_http_request_duration_seconds_count", surface="ecr", operation="DescribeRepositories") == 2
    assert delta("berth_http_request_duration_seconds_sum", surface="registry", operation="CompleteUpload") > 0
    inf = value(after, "berth_http_request_duration_seconds_bucket", surface="registry", operation="GetBlob", le="+Inf")
    assert inf == value(after, "berth_http_request_duration_seconds_count", surface="registry", operation="GetBlob")
    assert delta("berth_http_request_body_bytes_total", surface="registry") >= len(blob)
    assert delta("berth_http_response_body_bytes_total", surface="registry") >= len(blob)
    assert delta("berth_store_step_duration_seconds_count") > 0
    assert delta("berth_store_step_duration_seconds_sum") > 0
    assert value(after, "berth_uploads_in_flight") == value(before, "berth_uploads_in_flight")
    assert delta("berth_http_connections_total") >= 1
    for proc in processes(server):
        own, _ = scrape(proc.url + "/metrics")
        assert 0 < value(own, "berth_process_start_time_seconds") <= time.time()


def test_background_job_counters_move_when_a_scan_on_push_runs(server, request):
    import images

    ecr = client(server, "ecr")
    reg = Registry(server)
    before, _ = scrape_all(server)
    name = repo_name_for(request.node.name)
    ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    image = images.make_image()
    reg.push_image(name, image, tag="v1")

    def ran():
        now, _ = scrape_all(server)
        return value(now, "berth_jobs_run_total", kind="scan") > value(before, "berth_jobs_run_total", kind="scan")
    wait_for(ran, timeout=20, what="the scan job to be counted")
    after, _ = scrape_all(server)
    assert value(after, "berth_job_duration_seconds_count", kind="scan") >= 1
    assert value(after, "berth_jobs_failed_total", kind="scan") == value(before, "berth_jobs_failed_total", kind="scan")
    status = ecr.describe_images(repositoryName=name)["imageDetails"][0].get("imageScanStatus", {}).get("status")
    # the job ran to its end: a generated image has no operating system the scanner knows
    assert status == "UNSUPPORTED_IMAGE", status


def test_metrics_on_their_own_listener_behind_a_bearer_token(berth_factory):
    port = free_port()
    secret_token = "metrics-" + base64.b32encode(os.urandom(15)).decode().lower()
    # the token comes from the environment (a flag would show it in ps)
    srv = berth_factory(extra_args=["--metrics-listen", f"127.0.0.1:{port}"],
                        extra_env={"BERTH_METRICS_TOKEN": secret_token})
    own = f"http://127.0.0.1:{port}"
    # the main listener no longer serves /metrics, but still serves health
    r = requests.get(srv.url + "/metrics", timeout=10)
    assert r.status_code == 404, describe(r)
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
    # the metrics listener wants the token, compared whole
    r = requests.get(own + "/metrics", timeout=10)
    assert r.status_code == 401, describe(r)
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    for wrong in (secret_token[:-1], secret_token + "x", "", "Basic " + secret_token):
        r = requests.get(own + "/metrics", headers={"Authorization": f"Bearer {wrong}"}, timeout=10)
        assert r.status_code == 401, (wrong, describe(r))
    samples, _ = scrape(own + "/metrics", token=secret_token)
    # the 401s above were counted, on the metrics listener's surface
    assert value(samples, "berth_http_requests_total", surface="ops", operation="Metrics", code="401") == 5
    assert value(samples, "berth_http_requests_total", surface="none", operation="", code="404") == 1
    assert requests.get(own + "/readyz", timeout=10).status_code == 200
    # nothing else is served there
    assert requests.get(own + "/v2/", timeout=10).status_code == 404
    assert secret_token not in srv.log_text()


# ---------------------------------------------------------------------------------------
# /healthz, /readyz
# ---------------------------------------------------------------------------------------

def test_health_endpoints_are_cheap_unauthenticated_and_outside_v2(server):
    r = requests.get(server.url + "/healthz", timeout=10)
    assert (r.status_code, r.text) == (200, "ok\n"), describe(r)
    r = requests.get(server.url + "/readyz", timeout=10)
    assert (r.status_code, r.text) == (200, "ready\n"), describe(r)
    assert requests.head(server.url + "/healthz", timeout=10).status_code == 200
    r = requests.post(server.url + "/readyz", data=b"x", timeout=10)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD", describe(r)
    # /v2 keeps its authentication; the health paths are not under it
    assert requests.get(server.url + "/v2/", timeout=10).status_code == 401
    assert requests.get(server.url + "/v2/healthz", timeout=10).status_code == 401
    # a credential that would be refused on /v2 changes nothing here
    bad = {"Authorization": "Basic " + base64.b64encode(b"AWS:nope").decode()}
    assert requests.get(server.url + "/healthz", headers=bad, timeout=10).status_code == 200
    # cheap: a hundred of each in well under a second each on loopback
    s = requests.Session()
    t0 = time.monotonic()
    for _ in range(100):
        assert s.get(server.url + "/readyz", timeout=10).status_code == 200
    assert time.monotonic() - t0 < 5


def test_readyz_fails_while_the_blob_store_cannot_take_a_file(berth_factory):
    srv = berth_factory()
    uploads = srv.data_dir / "uploads"
    moved = srv.data_dir / "uploads.away"
    assert uploads.is_dir()
    uploads.rename(moved)
    try:
        r = requests.get(srv.url + "/readyz", timeout=10)
        assert r.status_code == 503, describe(r)
        assert r.text.startswith("not ready: blob store:"), r.text
        # liveness is not readiness
        assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
    finally:
        moved.rename(uploads)
    assert requests.get(srv.url + "/readyz", timeout=10).status_code == 200


# ---------------------------------------------------------------------------------------
# SIGTERM
# ---------------------------------------------------------------------------------------

def raw_patch_begin(srv, path, auth, offset, total_len):
    """Opens a connection and sends a PATCH's headers for total_len bytes at offset; returns the socket."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    cred = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {srv.host}\r\nAuthorization: Basic {cred}\r\n"
            f"Content-Type: {V2_MEDIA}\r\nContent-Range: {offset}-{offset + total_len - 1}\r\n"
            f"Content-Length: {total_len}\r\n\r\n")
    s.sendall(head.encode())
    return s


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    return status, headers


def upload_offset(reg, location):
    r = reg.get(location)
    assert r.status_code == 204, describe(r)
    rng = r.headers["Range"]
    return int(rng.split("-")[1]) + 1


def test_sigterm_finishes_requests_in_flight_then_exits_0_and_uploads_resume(berth_factory, request):
    srv = berth_factory(extra_args=["--shutdown-timeout", "3"])
    name = repo_name_for(request.node.name)
    create_repository(name, srv)
    reg = Registry(srv)
    auth = registry_credentials(srv)
    blob_a, blob_b = os.urandom(3 * 65536 + 17), os.urandom(2 * 65536 + 5)
    digest_a = "sha256:" + hashlib.sha256(blob_a).hexdigest()
    digest_b = "sha256:" + hashlib.sha256(blob_b).hexdigest()

    # session A: one chunk in, the second one in flight when SIGTERM comes (and finished after)
    r = reg.start_upload(name)
    assert r.status_code == 202, describe(r)
    loc_a = reg.location_path(r)
    c1 = 65536
    r = reg.patch(loc_a, data=blob_a[:c1], headers={"Content-Type": V2_MEDIA,
                                                     "Content-Range": f"0-{c1 - 1}"})
    assert r.status_code == 202, describe(r)
    c2 = 65536
    finishing = raw_patch_begin(srv, loc_a, auth, c1, c2)
    finishing.sendall(blob_a[c1:c1 + c2 // 2])

    # session B: a chunk that is never finished, cut off by the deadline
    r = reg.start_upload(name)
    assert r.status_code == 202, describe(r)
    loc_b = reg.location_path(r)
    stalled = raw_patch_begin(srv, loc_b, auth, 0, 65536)
    stalled.sendall(blob_b[:40000])
    time.sleep(0.3)  # both bodies are being read

    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new connections" in srv.log_text(), what="the shutdown to begin")
    # no new connections while the requests in flight finish (the listener closes just
    # after that line is written)
    def refused():
        try:
            socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            return False
        except (ConnectionRefusedError, ConnectionResetError):
            # reset: the connection was still in the closing listener's queue, never accepted
            return True
    wait_for(refused, timeout=2, what="new connections to be refused")
    assert srv.proc.poll() is None, "berth exited with a request in flight"
    finishing.sendall(blob_a[c1 + c2 // 2:c1 + c2])
    status, headers = read_response(finishing)
    assert status == 202, (status, headers)
    assert headers["range"] == f"0-{c1 + c2 - 1}", headers
    assert headers.get("connection", "").lower() == "close", headers
    finishing.close()

    # the stalled one holds the process until the deadline, then it exits 0
    rc = srv.proc.wait(timeout=15)
    elapsed = time.monotonic() - t0
    assert rc == 0, srv.log_tail()
    assert 2.5 <= elapsed < 8, elapsed
    assert re.search(r"1 request still in flight after 3s", srv.log_text()), srv.log_tail()
    stalled.close()

    # after the restart both sessions go on from what they have
    srv.start()
    reg = Registry(srv)
    assert upload_offset(reg, loc_a) == c1 + c2
    r = reg.patch(loc_a, data=blob_a[c1 + c2:], headers={"Content-Type": V2_MEDIA,
                                                          "Content-Range": f"{c1 + c2}-{len(blob_a) - 1}"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": digest_a})
    assert r.status_code == 201, describe(r)

    kept = upload_offset(reg, loc_b)
    assert 0 < kept <= 40000
    r = reg.patch(loc_b, data=blob_b[kept:], headers={"Content-Type": V2_MEDIA,
                                                       "Content-Range": f"{kept}-{len(blob_b) - 1}"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": digest_b})
    assert r.status_code == 201, describe(r)

    for digest, blob in ((digest_a, blob_a), (digest_b, blob_b)):
        r = reg.get(f"/v2/{name}/blobs/{digest}")
        assert r.status_code == 200, describe(r)
        assert "sha256:" + hashlib.sha256(r.content).hexdigest() == digest
        assert r.content == blob


def test_sigterm_does_not_wait_for_clients_that_are_gone(berth_factory, request):
    """Requests refused before their body was read, whose clients then hang up, do not hold the
    shutdown to its deadline."""
    srv = berth_factory(extra_args=["--shutdown-timeout", "30", "--body-buffer-budget-mb", "8"])
    name = repo_name_for(request.node.name)
    create_repository(name, srv)
    auth = registry_credentials(srv)
    cred = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    piece = b"{" * (3 << 20)
    socks = []
    for _ in range(24):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall((f"PUT /v2/{name}/manifests/latest HTTP/1.1\r\nHost: {srv.host}\r\n"
                   f"Authorization: Basic {cred}\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n" % len(piece) + piece)
        socks.append(s)
    time.sleep(1.0)
    for s in socks:
        s.close()
    time.sleep(0.5)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    rc = srv.proc.wait(timeout=40)
    assert rc == 0
    assert time.monotonic() - t0 < 5, srv.log_tail()


# ---------------------------------------------------------------------------------------
# Behind a proxy
# ---------------------------------------------------------------------------------------

def test_a_trusted_proxy_hears_an_early_answer_to_a_big_body(berth_factory, request):
    """A chunk refused before its body is read (416: it does not continue the upload) reaches a
    trusted proxy whole: berth reads the body (3 MiB) before answering, rather than closing on
    it, which a proxy still streaming the body (nginx, proxy_request_buffering off) turns into a
    reset, a 502 and a server marked failed. The connection then serves the next request."""
    srv = berth_factory(extra_args=["--trusted-proxies", "127.0.0.1"])
    name = repo_name_for(request.node.name)
    create_repository(name, srv)
    reg = Registry(srv)
    auth = registry_credentials(srv)
    r = reg.start_upload(name)
    assert r.status_code == 202, describe(r)
    loc = reg.location_path(r)
    body = os.urandom(3 << 20)
    s = raw_patch_begin(srv, loc, auth, 1000, len(body))   # the session is at 0
    cred = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        s.sendall(body + f"GET /v2/ HTTP/1.1\r\nHost: {srv.host}\r\nAuthorization: Basic {cred}\r\n\r\n".encode())
    except (BrokenPipeError, ConnectionResetError) as e:
        pytest.fail(f"the connection was closed on the body: {e!r}")
    got = b""
    deadline = time.monotonic() + 20
    while got.count(b"HTTP/1.1 ") < 2 and time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout) as e:
            pytest.fail(f"{e!r} after {got[:300]!r}")
        if not chunk:
            break
        got += chunk
    s.close()
    first, _, rest = got.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 416"), got[:300]
    assert b"\r\nrange: 0-0" in first.lower(), first
    assert b"HTTP/1.1 200" in rest, got[-300:]
    # the session is where it was
    r = reg.patch(loc, data=body[:1000], headers={"Content-Type": V2_MEDIA, "Content-Range": "0-999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-999", describe(r)


# ---------------------------------------------------------------------------------------
# Log files
# ---------------------------------------------------------------------------------------

def test_sighup_reopens_the_log_file(berth_factory, tmp_path):
    log = tmp_path / "berth.log"
    srv = berth_factory(extra_args=["--log-file", str(log), "--log-level", "info"])
    assert requests.get(srv.url + "/healthz?before", timeout=10).status_code == 200
    wait_for(lambda: "GET /healthz 200" in log.read_text(), what="the first request line")
    rotated = tmp_path / "berth.log.1"
    log.rename(rotated)
    # until told, berth writes to the file it has open (now under the old name)
    assert requests.get(srv.url + "/readyz", timeout=10).status_code == 200
    wait_for(lambda: "GET /readyz 200" in rotated.read_text(), what="a line in the renamed file")
    assert not log.exists()
    # as logrotate's postrotate does: every process of the server (two behind nginx, one log file)
    for proc in processes(srv):
        proc.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: log.exists() and log.read_text().count("log file reopened") == len(processes(srv)),
             what="the reopened file")
    assert requests.get(srv.url + "/metrics", timeout=10).status_code == 200
    wait_for(lambda: "GET /metrics 200" in log.read_text(), what="a line in the new file")
    assert "GET /metrics" not in rotated.read_text()
    assert "GET /healthz" not in log.read_text()
    # the process log (stderr) has none of these lines: they went to the file
    assert "GET /readyz" not in srv.log_text()


def test_json_log_format_has_one_object_per_line_with_the_request_fields(berth_factory, tmp_path):
    log = tmp_path / "berth.json"
    srv = berth_factory(extra_args=["--log-file", str(log), "--log-format", "json", "--log-level", "debug"])
    ecr = client(srv, "ecr")
    ecr.describe_repositories()
    assert requests.get(srv.url + "/v2/no%0Aline", timeout=10).status_code == 401
    assert requests.get(srv.url + "/v2/bytes%FF%FEend", timeout=10).status_code == 401
    # 2009 bytes (6000 once percent-encoded: within nginx's 8 KiB request line, for BERTH_TEST_FRONT=nginx)
    assert requests.get(srv.url + "/v2/long/" + "é" * 1000, timeout=10).status_code == 401
    wait_for(lambda: "DescribeRepositories" in log.read_text() and "/v2/long/" in log.read_text(), what="request lines")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records and all({"time", "level", "msg"} <= set(r) for r in records), records[:3]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) for r in records)
    assert {r["level"] for r in records} >= {"info", "debug"}
    ecr_line = next(r for r in records if r.get("operation") == "DescribeRepositories")
    assert ecr_line["msg"] == "request" and ecr_line["method"] == "POST" and ecr_line["path"] == "/"
    assert ecr_line["status"] == 200 and ecr_line["bytes"] > 0 and ecr_line["duration_ms"] >= 0
    assert ecr_line["principal"] == f"arn:aws:iam::{srv.account_id}:root"
    assert ecr_line["client_ip"] == "127.0.0.1" and ecr_line["aborted"] is False
    # a newline in a path stays inside its line's string
    v2 = next(r for r in records if r.get("path", "").startswith("/v2/no"))
    assert v2["path"] == "/v2/no\nline" and v2["status"] == 401
    # bytes that are not UTF-8 do not break the line's JSON
    odd = next(r for r in records if r.get("path", "").startswith("/v2/bytes"))
    assert odd["path"] == "/v2/bytes??end", odd
    # a very long path is cut (at a character boundary), and its request still has its line
    long_ = next(r for r in records if r.get("path", "").startswith("/v2/long/"))
    assert long_["status"] == 401 and 1000 <= len(long_["path"].encode()) <= 1024
    assert long_["path"] == "/v2/long/" + "é" * ((len(long_["path"]) - 9))


def test_text_log_lines_cannot_be_forged_through_a_path(server):
    assert requests.get(server.url + "/v2/x%0A2026-01-01T00:00:00.000Z%20error%20forged", timeout=10).status_code in (401, 404)
    wait_for(lambda: "forged" in server.log_text(), what="the request line")
    assert not any(line.startswith("2026-01-01T00:00:00.000Z") for line in server.log_text().splitlines())


# ---------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------

def test_no_secret_reaches_any_log_line_at_debug_level(berth_factory, tmp_path, request):
    log = tmp_path / "secrets.log"
    srv = berth_factory(extra_args=["--log-file", str(log), "--log-level", "debug"])
    secrets_seen = {"root secret access key": srv.secret}
    signatures = []

    def collect_signature(request, **kwargs):
        m = re.search(r"Signature=([0-9a-f]{64})", request.headers.get("Authorization", b"").decode()
                      if isinstance(request.headers.get("Authorization"), bytes)
                      else request.headers.get("Authorization", ""))
        if m:
            signatures.append(m.group(1))

    def signed(service, key=None, secret=None):
        c = client(srv, service, key, secret)
        c.meta.events.register("before-send", collect_signature)
        return c

    iam = signed("iam")
    user = "ops-" + os.urandom(3).hex()
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user,
                           PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    secrets_seen["IAM user secret access key"] = key["SecretAccessKey"]
    time.sleep(0.1)

    # get-login-password, by boto3 as the user and by the aws CLI as root
    ecr = signed("ecr", key["AccessKeyId"], key["SecretAccessKey"])
    tok = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user_password = base64.b64decode(tok).decode().split(":", 1)[1]
    secrets_seen["authorization token"] = tok
    secrets_seen["user login password"] = user_password
    root_auth = registry_credentials(srv)
    secrets_seen["root login password"] = root_auth[1]
    bad_password = user_password[:-4] + ("AAAA" if not user_password.endswith("AAAA") else "BBBB")
    secrets_seen["refused login password"] = bad_password

    # docker-style basic auth on /v2: a push and a pull as the user, and a refused login
    name = repo_name_for(request.node.name)
    signed("ecr").create_repository(repositoryName=name)
    reg = Registry(srv, auth=("AWS", user_password))
    assert reg.get("/v2/").status_code == 200
    assert requests.get(srv.url + "/v2/", auth=("AWS", bad_password), timeout=10).status_code == 401
    blob = os.urandom(1000)
    digest = reg.push_blob(name, blob)
    assert reg.get(f"/v2/{name}/blobs/{digest}").content == blob

    # a presigned URL, used once properly and once with its signature altered
    url = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest)["downloadUrl"]
    # berth's own presigned URL, or on an S3 blob store the object store's
    query = parse_qs(urlsplit(url).query)
    sig = (query.get("X-Berth-Signature") or query["X-Amz-Signature"])[0]
    secrets_seen["presigned URL signature"] = sig
    assert requests.get(url, timeout=10).content == blob
    forged = url.replace(sig, sig[::-1])
    secrets_seen["altered presign signature"] = sig[::-1]
    assert requests.get(forged, timeout=10).status_code in (401, 403)

    # a SigV4 call with a wrong secret (its signature must not be echoed either)
    wrong = signed("ecr", key["AccessKeyId"], key["SecretAccessKey"][::-1])
    with pytest.raises(Exception):
        wrong.describe_repositories()
    assert signatures, "no SigV4 signature was captured"
    for i, s in enumerate(signatures):
        secrets_seen[f"SigV4 signature #{i}"] = s

    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    wait_for(lambda: "DeleteAccessKey" in log.read_text(), what="the last request line")

    logs = {"--log-file": log.read_text(errors="replace"), "process output": srv.log_text()}
    assert "GetAuthorizationToken" in logs["--log-file"] and " debug " in logs["--log-file"]
    leaks = []
    for where, text in logs.items():
        for what, secret in secrets_seen.items():
            # any 20-character stretch of a secret counts as a leak
            for i in range(0, max(1, len(secret) - 19), 4):
                if secret[i:i + 20] in text:
                    leaks.append(f"{what} in {where}")
                    break
    assert not leaks, leaks
