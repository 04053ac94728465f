#!/usr/bin/python3
"""Manifest PUTs from several clients through two berth servers on one PostgreSQL database, to
different repositories and to one, with the current build and (--before-bin) another one
(bench/README.md, "Writes across servers"; issue 10 §2, store/locks.h).

    bench/locks.py [--puts N] [--clients C] [--repos R] [--before-bin PATH]

Starts a throwaway PostgreSQL (tests/integration/pgserver.py, fsync and synchronous commits on)
and, for each binary, a fresh database with two servers (--job-workers 0, blobs on the
filesystem). Each of C client threads PUTs its share of N small distinct manifests (one
transaction each, a durable commit) on a keep-alive connection, client k to server k % 2:

  spread   client k to repository k % R (writes of different repositories)
  one      every client to one repository (writes of one repository: serialised either way)

Prints PUTs/s and, where the binary has it, berth_store_lock_wait_seconds of both servers (how
many writes waited for their locks, and for how long in all), then `key=value` lines. The
machine's cores are shared with PostgreSQL and the clients, so compare the two binaries in one
run; the waits are the part that does not depend on CPU speed.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import benchlib  # noqa: E402 - the tiny image's blobs and manifests
import pgserver  # noqa: E402 - PostgreSQL as an unprivileged user
import s3  # noqa: E402 - berth servers

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def puts(servers, repos, n, clients):
    """n PUTs from `clients` threads, client k to servers[k % 2] and repos[k % len(repos)]; PUTs/s."""
    makers = {}
    for i, repo in enumerate(repos):
        s = servers[i % len(servers)]
        makers[repo] = benchlib.tiny_blobs(s.url, repo, s.cred)
    run = "%x" % int(time.time() * 1000)

    def work(k):
        s, repo = servers[k % len(servers)], repos[k % len(repos)]
        headers = {"Content-Type": OCI_MANIFEST, "Authorization": "Basic " + s.basic}
        return "127.0.0.1", s.port, headers, [("/v2/%s/manifests/p%s-%d" % (repo, run, i), makers[repo]("%s-%d" % (run, i)))
                                              for i in range(k, n, clients)]

    return benchlib.put_manifests(clients, work)


class Server:
    def __init__(self, work, name, url, key, binary):
        import base64
        self.proc, self.url, auth = s3.start_berth(work, name, {}, ["--job-workers", "0", "--database", url,
                                                                     "--key-file", key], repo="bench/locks/r0",
                                                   binary=binary)
        self.port = int(self.url.rsplit(":", 1)[1])
        self.cred = "%s:%s" % auth
        self.basic = base64.b64encode(self.cred.encode()).decode()

    def waits(self):
        """{scope: (count, seconds)} of berth_store_lock_wait_seconds."""
        out = {}
        for line in requests.get(self.url + "/metrics", timeout=10).text.splitlines():
            m = re.match(r'^berth_store_lock_wait_seconds_(count|sum)\{scope="(\w+)"\} (\S+)$', line)
            if m:
                c, s = out.get(m.group(2), (0.0, 0.0))
                out[m.group(2)] = (float(m.group(3)), s) if m.group(1) == "count" else (c, float(m.group(3)))
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def measure(pg, work, name, binary, a):
    db = "locks_" + name.replace("-", "_")
    url = pg.create_database(db)
    key = os.path.join(work, name + ".key")
    servers = [Server(work, f"{name}-{i}", url, key, binary) for i in range(2)]
    try:
        import boto3
        ecr = boto3.client("ecr", endpoint_url=servers[0].url, region_name="us-east-1", aws_access_key_id=s3.AKID,
                           aws_secret_access_key=s3.SECRET)
        repos = ["bench/locks/r%d" % i for i in range(a.repos)]
        for r in repos[1:]:
            ecr.create_repository(repositoryName=r)
        res = {}
        before = [s.waits() for s in servers]
        res["spread_puts_per_s"] = puts(servers, repos, a.puts, a.clients)
        after = [s.waits() for s in servers]
        res["one_puts_per_s"] = puts(servers, repos[:1], a.puts, a.clients)
        for scope in ("registry", "repository", "shared", "account"):
            c = sum(x.get(scope, (0, 0))[0] - y.get(scope, (0, 0))[0] for x, y in zip(after, before))
            s = sum(x.get(scope, (0, 0))[1] - y.get(scope, (0, 0))[1] for x, y in zip(after, before))
            if c:
                res[f"spread_{scope}_lock_waits"] = c
                res[f"spread_{scope}_lock_wait_seconds"] = s
        return res
    finally:
        for s in servers:
            s.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--puts", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repos", type=int, default=8)
    ap.add_argument("--before-bin")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-locks-")
    pg = pgserver.PostgresServer().start(durable=True)
    res = {}
    try:
        res["after"] = measure(pg, work, "after", None, a)
        if a.before_bin:
            res["before"] = measure(pg, work, "before", a.before_bin, a)
    finally:
        pg.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| build | PUTs/s, %d repositories | PUTs/s, one repository |" % a.repos)
    print("| --- | ---: | ---: |")
    for name in ("before", "after"):
        if name in res:
            print("| %s | %.1f | %.1f |" % (name, res[name]["spread_puts_per_s"], res[name]["one_puts_per_s"]))
    print()
    for name, r in sorted(res.items()):
        for k, v in sorted(r.items()):
            print("locks.%s.%s=%.3f" % (name, k, v))


if __name__ == "__main__":
    main()
