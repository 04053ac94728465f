#!/usr/bin/python3
"""Listing at 100,000 images (issue 8 §2): how long one filtered DescribeImages / ListImages page takes
on a repository of BENCH_IMAGES images (default 100,000). Target: under 10 ms per page.

The repository is filled directly in the store (berth stopped; one SQLite transaction; the
store's own triggers keep each manifest's tag count), not by 100,000 pushes: the manifests are
real-looking rows with bodies and digests, 90 % tagged (one or two tags), 10 % untagged, 1 % of
them archived. Then berth serves them, and each operation is timed over BENCH_REQS signed
requests on one keep-alive connection (client round trip) and from the server's own request log
(server time). Needs build/berth, /usr/bin/python3 with python3-botocore and python3-requests.

    /usr/bin/python3 bench/listing.py            # prints a Markdown table, writes bench/listing.md
"""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("BERTH_BIN", str(ROOT / "build" / "berth"))
N = int(os.environ.get("BENCH_IMAGES", "100000"))
REQS = int(os.environ.get("BENCH_REQS", "200"))
ACCOUNT, KEY, SECRET, REGION = "123456789012", "AKIABERTHBENCHROOT01", "berth/bench/root/secret/" + "y" * 16, "us-east-1"
REPO = "bench/listing"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Berth:
    def __init__(self, data):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "berth.log"

    def start(self):
        env = dict(os.environ, BERTH_ACCOUNT_ID=ACCOUNT, BERTH_ROOT_ACCESS_KEY_ID=KEY,
                   BERTH_ROOT_SECRET_ACCESS_KEY=SECRET)
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data),
                                      "--region", REGION, "--log-level", "info"],
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT, env=env)
        for _ in range(300):
            try:
                if requests.get(self.url + "/v2/", timeout=1).status_code in (200, 401):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise SystemExit("berth did not start: " + self.log.read_text()[-2000:])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def call(session, url, op, payload):
    body = json.dumps(payload).encode()
    req = AWSRequest(method="POST", url=url + "/", data=body,
                     headers={"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921." + op,
                              "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(KEY, SECRET), "ecr", REGION).add_auth(req)
    t = time.perf_counter()
    r = session.post(url + "/", headers=dict(req.headers.items()), data=body, timeout=60)
    ms = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, f"{op}: {r.status_code} {r.text[:300]}"
    return r.json(), ms


def populate(db_path, repo_id, n):
    """n manifests: i % 10 == 0 untagged, the rest one tag (every 7th a second one); i % 100 == 1 archived."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA foreign_keys=ON")
    now = int(time.time() * 1000)
    with db:
        for i in range(n):
            config = "sha256:" + hashlib.sha256(b"config %d" % i).hexdigest()
            layer = "sha256:" + hashlib.sha256(b"layer %d" % i).hexdigest()
            body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config,
                                          "size": 1000 + i % 97},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                           "digest": layer, "size": 100000 + i}]}, separators=(",", ":")).encode()
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            db.execute("INSERT INTO manifests(repo_id, digest, media_type, config_media_type, size, image_size, body, "
                       "pushed_at, status, archived_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (repo_id, digest, "application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.oci.image.config.v1+json", len(body), 1000 + i % 97 + 100000 + i, body,
                        now - (n - i) * 1000, "ARCHIVED" if i % 100 == 1 else "ACTIVE",
                        now if i % 100 == 1 else None))
            if i % 10:
                db.execute("INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?, ?, ?, ?)",
                           (repo_id, f"v{i:06d}", digest, now))
                if i % 7 == 0:
                    db.execute("INSERT INTO tags(repo_id, name, digest, updated_at) VALUES(?, ?, ?, ?)",
                               (repo_id, f"build-{i:06d}", digest, now))
    counts = db.execute("SELECT count(*), sum(tag_count = 0), sum(status = 'ARCHIVED') FROM manifests "
                        "WHERE repo_id = ?", (repo_id,)).fetchone()
    db.close()
    return counts


def timed(session, url, op, payload, reqs):
    times, out = [], None
    for _ in range(reqs):
        out, ms = call(session, url, op, payload)
        times.append(ms)
    times.sort()
    return out, statistics.median(times), times[int(len(times) * 0.99) - 1]


def server_times(log_text, op, since):
    """Durations the server logged for op after byte offset since (its own request time)."""
    pat = re.compile(r"POST / %s 200 \d+ ([0-9.]+)ms" % op)
    v = sorted(float(m.group(1)) for m in pat.finditer(log_text[since:]))
    return (statistics.median(v), v[int(len(v) * 0.99) - 1]) if v else (float("nan"), float("nan"))


def main():
    tmp = Path(tempfile.mkdtemp(prefix="berth-listing-", dir=os.environ.get("BENCH_DIR", "/tmp")))
    try:
        srv = Berth(tmp / "data")
        srv.start()
        s = requests.Session()
        call(s, srv.url, "CreateRepository", {"repositoryName": REPO})
        srv.stop()
        db_path = tmp / "data" / "berth.db"
        repo_id = sqlite3.connect(db_path).execute("SELECT id FROM repositories WHERE name = ?", (REPO,)).fetchone()[0]
        t = time.perf_counter()
        total, untagged, archived = populate(db_path, repo_id, N)
        fill_s = time.perf_counter() - t
        srv.start()
        s = requests.Session()
        cases = [
            ("DescribeImages", {"filter": {"tagStatus": "UNTAGGED"}}, "tagStatus=UNTAGGED"),
            ("DescribeImages", {"filter": {"tagStatus": "TAGGED"}}, "tagStatus=TAGGED"),
            ("DescribeImages", {}, "no filter"),
            ("DescribeImages", {"filter": {"imageStatus": "ARCHIVED"}}, "imageStatus=ARCHIVED"),
            ("DescribeImages", {"filter": {"tagStatus": "UNTAGGED", "imageStatus": "ANY"}},
             "tagStatus=UNTAGGED, imageStatus=ANY"),
            ("ListImages", {"filter": {"tagStatus": "UNTAGGED"}}, "tagStatus=UNTAGGED"),
            ("ListImages", {}, "no filter"),
        ]
        rows = []
        for op, extra, label in cases:
            payload = dict({"repositoryName": REPO, "maxResults": 100}, **extra)
            first, _ = call(s, srv.url, op, payload)
            # a page from the middle of the listing, as a client paging through it reaches
            tok = first.get("nextToken")
            for _ in range(200 if tok else 0):
                nxt, _ = call(s, srv.url, op, dict(payload, nextToken=tok))
                tok = nxt.get("nextToken") or tok
            mark = len(srv.log.read_text(errors="replace"))
            for page, p in (("first", payload), ("deep", dict(payload, nextToken=tok) if tok else payload)):
                out, med, p99 = timed(s, srv.url, op, p, REQS)
                log = srv.log.read_text(errors="replace")
                smed, sp99 = server_times(log, op, mark)
                mark = len(log)
                got = len(out.get("imageDetails", out.get("imageIds", [])))
                rows.append((op, label, page, got, med, p99, smed, sp99))
        srv.stop()
        md = [f"Listing on a repository of {total:,} images ({untagged:,} untagged, {archived:,} archived), "
              f"filled in {fill_s:.1f} s; pages of maxResults=100, {REQS} requests each, one keep-alive "
              "connection. Client: signed request round trip; server: the request's duration in berth's log.",
              "",
              "| operation | filter | page | entries | client median ms | client p99 ms | server median ms | "
              "server p99 ms |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for op, label, page, got, med, p99, smed, sp99 in rows:
            md.append(f"| {op} | {label} | {page} | {got} | {med:.2f} | {p99:.2f} | {smed:.2f} | {sp99:.2f} |")
        text = "\n".join(md) + "\n"
        print(text)
        (ROOT / "bench" / "listing.md").write_text(text)
        worst = max(r[4] for r in rows)
        print(f"worst client median: {worst:.2f} ms (target < 10 ms): {'PASS' if worst < 10 else 'FAIL'}")
        return 0 if worst < 10 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
