#!/usr/bin/python3
"""Online garbage collection benchmark (standard library only; see bench/README.md, "GC").

    bench/gc.py [--blobs N] [--puts N] [--clients N] [--keep]

1. Builds a data directory with N blobs (default 100,000): a fifth of them referenced by
   manifests (5 per manifest), the rest linked to a repository and used by no manifest, their
   links and reviews two hours old (what deleted images leave). The records go in through SQLite
   with berth's own triggers, the files are written to blobs/sha256/xx/.
2. (gc) Times `berth gc` over it: the pass reviews every due link, deletes the blobs' records and
   files, and sweeps every blob directory; then a second pass, when nothing is due (the sweep alone).
3. (p99) Starts berth on a fresh copy of the data, and measures manifest PUT latency (distinct
   small manifests, --clients keep-alive clients): idle, then while `berth gc` collects the same
   garbage. Target: p99 under GC within 2x of idle.

Prints a summary and `key=value` lines (also written to $WORK/results.env).
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERTH = os.environ.get("BERTH_BIN", os.path.join(ROOT, "build", "berth"))
HOUR_MS = 3600 * 1000


def berth(*args, **kw):
    return subprocess.run([BERTH, *args], capture_output=True, text=True, timeout=kw.pop("timeout", 600), **kw)


def populate(data, nblobs):
    """The data directory: schema from berth itself, then records and files."""
    p = berth("gc", "--data", data)              # creates the database, its schema, the account
    if p.returncode != 0:
        raise SystemExit("berth gc (init): " + p.stderr)
    db = sqlite3.connect(os.path.join(data, "berth.db"), isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    account = db.execute("SELECT id FROM accounts LIMIT 1").fetchone()[0]
    now = int(time.time() * 1000)
    old = now - 2 * HOUR_MS
    db.execute("INSERT INTO repositories(account_id, name, created_at) VALUES(?, 'bench/gc', ?)", (account, now))
    repo = db.execute("SELECT id FROM repositories WHERE name = 'bench/gc'").fetchone()[0]
    used = nblobs // 5
    digests = []
    t0 = time.monotonic()
    for i in range(256):
        os.makedirs(os.path.join(data, "blobs", "sha256", "%02x" % i), exist_ok=True)
    for i in range(nblobs):
        content = b"berth gc bench blob %d\n" % i
        d = "sha256:" + hashlib.sha256(content).hexdigest()
        digests.append(d)
        path = os.path.join(data, "blobs", "sha256", d[7:9], d[7:])
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, content)
        os.utime(fd, (old / 1000, old / 1000))   # old: the sweep looks each one up
        os.close(fd)
    files_s = time.monotonic() - t0
    db.execute("BEGIN")
    db.executemany("INSERT INTO blobs(digest, size, created_at) VALUES(?, ?, ?)",
                   ((d, len(b"berth gc bench blob %d\n" % i), old) for i, d in enumerate(digests)))
    db.executemany("INSERT INTO repo_blobs(repo_id, digest, linked_at) VALUES(?, ?, ?)", ((repo, d, old) for d in digests))
    for m in range(used // 5):
        body = json.dumps({"schemaVersion": 2, "bench": m}).encode()
        md = "sha256:" + hashlib.sha256(body).hexdigest()
        db.execute("INSERT INTO manifests(repo_id, digest, media_type, size, body, pushed_at) VALUES(?, ?, ?, ?, ?, ?)",
                   (repo, md, benchlib.OCI_MANIFEST, len(body), body, old))
        db.executemany("INSERT INTO manifest_blobs(repo_id, manifest_digest, blob_digest) VALUES(?, ?, ?)",
                       ((repo, md, d) for d in digests[m * 5:m * 5 + 5]))
    db.execute("UPDATE gc_link_reviews SET queued_at = ?", (old,))
    db.execute("COMMIT")
    due = db.execute("SELECT count(*) FROM gc_link_reviews").fetchone()[0]
    db.close()
    return {"files_s": files_s, "used": used, "due": due}


def gc_pass(data, *args):
    t0 = time.monotonic()
    p = berth("gc", "--data", data, *args)
    if p.returncode != 0:
        raise SystemExit("berth gc: " + p.stderr)
    return time.monotonic() - t0, p.stdout.strip()


def start_server(data):
    port = random.randint(20000, 60000)
    log = open(data + ".log", "wb")
    # no job workers: the server's own GC pass would collect the garbage before the measurement
    proc = subprocess.Popen([BERTH, "serve", "--listen", "127.0.0.1:%d" % port, "--data", data, "--auth", "none",
                             "--log-level", "warn", "--job-workers", "0"], stdout=log, stderr=log)
    base = "http://127.0.0.1:%d" % port
    for _ in range(200):
        try:
            st, _, _ = benchlib.request("GET", base + "/v2/")
            if st in (200, 401):
                return proc, base
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("berth did not start")


def put_latencies(base, repo, manifest, n, clients, tagbase):
    """n distinct manifest PUTs from `clients` keep-alive clients; their latencies in ms."""
    port = int(base.rsplit(":", 1)[1])
    lat, errors = [], []
    lock = threading.Lock()
    bodies = [manifest("%s-%d" % (tagbase, i)) for i in range(n)]

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(k, n, clients):
            t0 = time.monotonic()
            conn.request("PUT", "/v2/%s/manifests/%s-%d" % (repo, tagbase, i), bodies[i],
                         {"Content-Type": benchlib.OCI_MANIFEST})
            r = conn.getresponse()
            r.read()
            mine.append((time.monotonic() - t0) * 1000)
            if r.status != 201:
                errors.append(r.status)
                break
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("manifest PUT -> %r" % errors[:3])
    return sorted(lat)


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blobs", type=int, default=100000)
    ap.add_argument("--puts", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-gc-bench.", dir=os.environ.get("BENCH_DIR", "/tmp"))
    res = {}
    try:
        data = os.path.join(work, "data")
        pop = populate(data, a.blobs)
        pristine = os.path.join(work, "pristine")
        shutil.copytree(data, pristine)
        print("populated %d blobs (%d used by manifests, %d due for review), files in %.1f s"
              % (a.blobs, pop["used"], pop["due"], pop["files_s"]))

        # (gc) one pass over everything, then one with nothing due
        t, out = gc_pass(data)
        res["gc.pass_s"] = "%.2f" % t
        print("gc pass (%d due links, %d files swept): %.2f s -- %s" % (pop["due"], a.blobs, t, out))
        t, out = gc_pass(data)
        res["gc.idle_pass_s"] = "%.2f" % t
        print("gc pass with nothing due (sweep of %d files): %.2f s -- %s" % (pop["used"], t, out))

        # (p99) manifest PUTs, idle and while a pass collects the same garbage
        data2 = os.path.join(work, "serve")
        shutil.copytree(pristine, data2)
        proc, base = start_server(data2)
        try:
            manifest = benchlib.tiny_blobs(base, "bench/gc", None)
            st, _, body = benchlib.request("PUT", base + "/v2/bench/gc/manifests/warm", manifest("warm"),
                                           {"Content-Type": benchlib.OCI_MANIFEST})
            if st != 201:
                raise SystemExit("PUT manifest -> %d %r" % (st, body[:200]))
            idle = put_latencies(base, "bench/gc", manifest, a.puts, a.clients, "idle")
            gcproc = subprocess.Popen([BERTH, "gc", "--data", data2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
            time.sleep(0.05)
            busy, rounds = [], 0
            while gcproc.poll() is None and rounds < 50:     # only PUTs that overlap the pass count
                busy += put_latencies(base, "bench/gc", manifest, max(a.clients, a.puts // 10), a.clients,
                                      "busy%d" % rounds)
                rounds += 1
            busy.sort()
            gc_running_after = len(busy) >= 100
            gout, gerr = gcproc.communicate(timeout=600)
            if gcproc.returncode != 0:
                raise SystemExit("berth gc during PUTs: " + gerr)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        res.update({"put.idle_p50_ms": "%.1f" % pct(idle, 50), "put.idle_p99_ms": "%.1f" % pct(idle, 99),
                    "put.gc_p50_ms": "%.1f" % pct(busy, 50), "put.gc_p99_ms": "%.1f" % pct(busy, 99),
                    "put.ratio_p99": "%.2f" % (pct(busy, 99) / pct(idle, 99))})
        print("manifest PUT (%d, %d clients) idle: p50 %.1f ms, p99 %.1f ms" % (a.puts, a.clients, pct(idle, 50),
                                                                           pct(idle, 99)))
        print("manifest PUT while berth gc runs (%d PUTs): p50 %.1f ms, p99 %.1f ms (x%.2f of idle; target 2x)%s -- %s"
              % (len(busy), pct(busy, 50), pct(busy, 99), pct(busy, 99) / pct(idle, 99),
                 "" if gc_running_after else " [too few PUTs overlapped the pass]", gout.strip()))
        res["put.gc_outlasted_puts"] = "1" if gc_running_after else "0"
        with open(os.path.join(work, "results.env"), "w") as f:
            for k, v in res.items():
                f.write("%s=%s\n" % (k, v))
        for k, v in res.items():
            print("%s=%s" % (k, v))
    finally:
        if a.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
