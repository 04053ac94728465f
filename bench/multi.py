#!/usr/bin/python3
"""One registry on PostgreSQL + Ceph RGW against SQLite + the filesystem, and two servers against
one, in one run (bench/README.md, "Several servers"; issue 10 §5).

    bench/multi.py [--blobs N] [--mib M] [--small N] [--small-kib K] [--clients C]
                   [--seconds S] [--conns N] [--calls N] [--before-bin PATH]

Starts a throwaway PostgreSQL (tests/integration/pgserver.py, with fsync and synchronous commits
on, as in production: SQLite runs with synchronous=FULL), a Ceph RGW (scripts/rgw.sh) and these
berth servers, each with --job-workers 0:

  sqlite      SQLite + filesystem (the default), one server
  pg          PostgreSQL + RGW, blob GETs answered 307 to a presigned URL
  pg2         a second server on the same database, bucket and key file (pg + pg2: two servers)
  pg-proxy    a third one with --blob-redirect off (berth streams the bytes from RGW)
  pg-nocache  a fourth one with --store-cache off (every auth row read from the database)
  sqlite-nocache  SQLite + filesystem with --store-cache off
  sqlite-before   with --before-bin: that binary (e.g. built from main) on SQLite + filesystem

and measures, on each where it applies:

  push      N blobs of M MiB in PATCHes of 16 MiB, then --small blobs of K KiB (monolithic
            PUT), from C client threads: MB/s (10^6 bytes/s), and small blobs/s;
  pull      the big blobs, following redirects, digests checked: MB/s;
  get       manifest GET req/s with wrk (bench/manifest.lua, S seconds, N connections, the
            root's login token); with two servers one wrk per server at once, N/2 connections
            each, the sum; and statements per GET from /metrics;
  describe  ECR DescribeImages calls/s, N pre-signed calls from 8 keep-alive connections
            (split over the servers for two).

Prints a table with the ratios PostgreSQL+RGW / SQLite+fs, two servers / one and cache on / off,
and `key=value` lines. Everything shares this machine's cores: RGW (memstore OSD), PostgreSQL,
berth and the clients, so the ratios say more than the absolute numbers.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import audit  # noqa: E402 - signed ECR calls, wrk runs
import benchlib  # noqa: E402 - the tiny image
import pgserver  # noqa: E402 - PostgreSQL as an unprivileged user
import s3  # noqa: E402 - berth servers, chunked pushes, pulls, timed client threads

MiB = 1 << 20
REPO = "bench/multi"


class Server:
    def __init__(self, work, name, env=None, args=(), binary=None):
        self.name = name
        self.proc, self.url, self.auth = s3.start_berth(work, name, env or {}, ["--job-workers", "0", *args],
                                                        repo=REPO, binary=binary)
        self.port = int(self.url.rsplit(":", 1)[1])
        self.cred = "%s:%s" % self.auth

    def metric(self, name):
        text = requests.get(self.url + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def spread(servers, items):
    """items dealt round-robin to servers: [(server, item), ...]."""
    return [(servers[i % len(servers)], x) for i, x in enumerate(items)]


def push_pull(servers, a, big, small):
    """Pushes the big blobs (chunked) and the small ones (monolithic) through servers, then
    pulls the big ones back; {push_mbps, small_mbps, small_per_s, pull_mbps}."""
    chunk = 16 * MiB
    digests, t = s3.timed(lambda sd: (sd[0], s3.push(sd[0].url, sd[0].auth, sd[1], chunk, REPO)),
                          spread(servers, big), a.clients)
    r = {"push_mbps": sum(map(len, big)) / 1e6 / t}
    _, t = s3.timed(lambda sd: s3.push(sd[0].url, sd[0].auth, sd[1], 0, REPO), spread(servers, small), a.clients)
    r["small_mbps"] = sum(map(len, small)) / 1e6 / t
    r["small_per_s"] = len(small) / t
    r.update(pull(servers, a, [d for _, d in digests], sum(map(len, big))))
    return r


def pull(servers, a, digests, total):
    _, t = s3.timed(lambda sd: s3.pull(sd[0].url, sd[0].auth, sd[1], REPO), spread(servers, digests), a.clients)
    return {"pull_mbps": total / 1e6 / t}


def gets(servers, a):
    """Manifest GET req/s (one wrk per server at once) and statements per GET."""
    steps = [s.metric("berth_store_step_duration_seconds_count") for s in servers]
    runs = [audit.wrk_start(s.url, REPO, s.cred, a.seconds, conns=max(1, a.conns // len(servers)),
                            threads=1 if len(servers) > 1 else 2) for s in servers]
    rps = [audit.wrk_result(run) for run in runs]
    stmts = sum(s.metric("berth_store_step_duration_seconds_count") - b for s, b in zip(servers, steps))
    return {"get_rps": sum(rps), "stmts_per_get": stmts / (sum(rps) * a.seconds)}


def describes(servers, a):
    """DescribeImages calls/s from 8 connections, split over the servers."""
    per = a.calls // len(servers)
    calls = {s.name: [audit.signed(s.port, "DescribeImages", {"repositoryName": REPO}, s3.AKID, s3.SECRET)] * per
             for s in servers}
    out, lock = [], threading.Lock()

    def run(s):
        v = audit.loop(s.port, calls[s.name], max(1, 8 // len(servers)))
        with lock:
            out.append(v)

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"describe_per_s": sum(out)}


def read_side(servers, a):
    r = gets(servers, a)
    r.update(describes(servers, a))
    return r


def rgw_env(rgw, prefix, redirect="on"):
    return {"BERTH_BLOB_STORE": f"s3://{rgw['RGW_BUCKET']}/{prefix}?endpoint={rgw['RGW_ENDPOINT']}"
                                f"&region=us-east-1&path_style=1",
            "BERTH_S3_ACCESS_KEY_ID": rgw["RGW_ACCESS_KEY"], "BERTH_S3_SECRET_ACCESS_KEY": rgw["RGW_SECRET_KEY"],
            "BERTH_BLOB_REDIRECT": redirect}


def blobs(a):
    big = [os.urandom(a.mib * MiB) for _ in range(a.blobs)]
    small = [os.urandom(a.small_kib * 1024) for _ in range(a.small)]
    return big, small


ROWS = [
    ("push_mbps", "push {blobs}×{mib} MiB, MB/s"),
    ("small_mbps", "push {small}×{small_kib} KiB, MB/s"),
    ("small_per_s", "push {small}×{small_kib} KiB, blobs/s"),
    ("pull_mbps", "pull {blobs}×{mib} MiB, MB/s"),
    ("pull_proxy_mbps", "pull {blobs}×{mib} MiB through berth (proxy), MB/s"),
    ("get_rps", "manifest GET, req/s ({conns} conns)"),
    ("stmts_per_get", "database statements per manifest GET"),
    ("describe_per_s", "ECR DescribeImages, calls/s"),
]


def fmt(v):
    return "n/a" if v is None else ("%.2f" % v if v < 20 else "%.0f" % v)


def ratio(x, y):
    return "n/a" if x is None or not y else "%.2f" % (x / y)


def report(a, res):
    cols = [("sqlite", "SQLite+fs"), ("pg", "PG+RGW, 1 server"), ("pg-two", "PG+RGW, 2 servers")]
    print("\n| metric | %s | PG/SQLite | 2 servers/1 |" % " | ".join(c[1] for c in cols))
    print("| --- |%s ---: | ---: |" % (" ---: |" * len(cols)))
    for key, label in ROWS:
        v = [res.get(c, {}).get(key) for c, _ in cols]
        print("| %s | %s | %s | %s |" % (label.format(**vars(a)), " | ".join(fmt(x) for x in v), ratio(v[1], v[0]),
                                         ratio(v[2], v[1])))
    print("\nThe read cache (--store-cache), manifest GET req/s and statements per GET, DescribeImages/s:\n")
    print("| store | cache on | cache off | on/off | statements on / off | DescribeImages on / off |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    pairs = [("PostgreSQL", "pg", "pg-nocache"), ("SQLite", "sqlite", "sqlite-nocache")]
    if "sqlite-before" in res:
        pairs.append(("SQLite, --before-bin", "sqlite", "sqlite-before"))
    for label, on, off in pairs:
        x, y = res.get(on, {}), res.get(off, {})
        print("| %s | %s | %s | %s | %s / %s | %s / %s |" % (
            label, fmt(x.get("get_rps")), fmt(y.get("get_rps")), ratio(x.get("get_rps"), y.get("get_rps")),
            fmt(x.get("stmts_per_get")), fmt(y.get("stmts_per_get")), fmt(x.get("describe_per_s")),
            fmt(y.get("describe_per_s"))))
    print()
    for name, r in sorted(res.items()):
        for k, v in sorted(r.items()):
            print("multi.%s.%s=%.2f" % (name.replace("-", "_"), k, v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blobs", type=int, default=4)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--small", type=int, default=128)
    ap.add_argument("--small-kib", type=int, default=256)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--before-bin", default=os.environ.get("BENCH_BEFORE_BIN", ""))
    a = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make deps)")
    work = tempfile.mkdtemp(prefix="berth-bench-multi-")
    rgwdir = os.path.join(work, "rgw")
    pg = pgserver.PostgresServer()
    servers, res = [], {}

    def start(*args, tiny=True, **kw):
        s = Server(work, *args, **kw)
        servers.append(s)
        if tiny:  # the image whose manifest wrk GETs (pushed through each server: it is the same one)
            with open(os.devnull, "w") as null:
                stdout, sys.stdout = sys.stdout, null
                try:
                    benchlib.tiny(s.url, REPO, "latest", s.cred)
                finally:
                    sys.stdout = stdout
        return s

    try:
        t0 = time.monotonic()
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "rgw.sh"), "start", rgwdir], check=True,
                       capture_output=True, timeout=300)
        rgw = dict(line.split("=", 1) for line in open(os.path.join(rgwdir, "env")).read().split())
        pg.start(durable=True)
        print(f"RGW and PostgreSQL up in {time.monotonic() - t0:.1f} s; {a.blobs}×{a.mib} MiB and "
              f"{a.small}×{a.small_kib} KiB blobs from {a.clients} clients, wrk {a.seconds} s × {a.conns} conns",
              flush=True)
        key = os.path.join(work, "registry.key")
        shared = ["--database", pg.create_database("multi"), "--key-file", key]

        sq = start("sqlite")
        big, small = blobs(a)
        res["sqlite"] = push_pull([sq], a, big, small)
        res["sqlite"].update(read_side([sq], a))
        print("sqlite   ", res["sqlite"], flush=True)

        one = start("pg", rgw_env(rgw, "one"), shared)
        res["pg"] = push_pull([one], a, big, small)
        res["pg"].update(read_side([one], a))
        print("pg       ", res["pg"], flush=True)

        # the second server shares database, bucket prefix and keys with the first
        two = start("pg2", rgw_env(rgw, "one"), shared)
        big, small = blobs(a)  # new bytes: no server may skip a blob it already has
        res["pg-two"] = push_pull([one, two], a, big, small)
        res["pg-two"].update(read_side([one, two], a))
        print("pg-two   ", res["pg-two"], flush=True)
        del big, small

        proxy = start("pg-proxy", rgw_env(rgw, "one", "off"), shared, tiny=False)
        res["pg"]["pull_proxy_mbps"] = proxy_pull(proxy, one, a)

        nocache = start("pg-nocache", rgw_env(rgw, "one"), shared + ["--store-cache", "off"], tiny=False)
        res["pg-nocache"] = read_side([nocache], a)
        sq_off = start("sqlite-nocache", args=["--store-cache", "off"])
        res["sqlite-nocache"] = read_side([sq_off], a)
        if a.before_bin:
            before = start("sqlite-before", binary=a.before_bin)
            res["sqlite-before"] = read_side([before], a)
        # the cache-on numbers again after the cache-off ones: the machine's load drifts
        for name, s in (("pg", one), ("sqlite", sq)):
            again = read_side([s], a)
            for k in ("get_rps", "describe_per_s"):
                res[name][k] = max(res[name][k], again[k])
        report(a, res)
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - stop the others anyway
                s.proc.kill()
        pg.cleanup()
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "rgw.sh"), "stop", rgwdir], capture_output=True,
                       timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def proxy_pull(proxy, one, a):
    """Pushes the big blobs through `one` and pulls them through the proxying server: MB/s."""
    big = [os.urandom(a.mib * MiB) for _ in range(a.blobs)]
    digests, _ = s3.timed(lambda d: s3.push(one.url, one.auth, d, 16 * MiB, REPO), big, a.clients)
    return pull([proxy], a, digests, sum(map(len, big)))["pull_mbps"]


if __name__ == "__main__":
    sys.exit(main())
