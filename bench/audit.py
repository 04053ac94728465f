#!/usr/bin/python3
"""What recording the audit trail costs (see bench/README.md, "Audit trail").

    bench/audit.py [--rounds N] [--seconds S] [--writes N] [--only LOOPS] [--syscalls] [--postgresql] [--keep]

Starts berth with --audit off and with --audit on (the same settings otherwise, a fresh data
directory each), --rounds times, which one first alternating, and measures on each:

  get      manifest GET req/s with wrk (16 connections): reads of /v2 are not recorded, so
           this shows the cost of the hook on the request path and nothing else;
  put1     manifest PUT req/s, one client: every PUT is a /v2 write whose record is
           committed before the answer, in the image service's transaction of the write;
  put8     the same from 8 clients;
  ecr-w1   ECR PutImageTagMutability calls/s, one client (a write: waits for its record);
  ecr-w8   the same from 8 clients;
  ecr-r8   ECR DescribeRepositories calls/s from 8 clients (a read: its record is queued,
           not waited for).

Prints the medians and the on/off ratio of each (1.00: recording costs nothing), and
`key=value` lines. Beside the rates, which a busy machine blurs, it prints what each request
cost the server in CPU time and in bytes written to files (from /proc/PID/stat and
/proc/PID/io: the request's own transaction and the audit writer's work together), which
other load on the machine hardly changes, and how much of that CPU the request threads spent
(every thread but the main one and the audit writer: libmicrohttpd's "MHD-worker" threads and the
defer threads that run writes, the request path itself) apart from the audit writer's. --syscalls runs each server under strace (which slows it: read
its counts, not its rates) and prints the fsyncs per request and the bytes per request written
to SQLite's WAL and to the database file (checkpoints), on the request threads and in all.
--postgresql runs berth on a throw-away PostgreSQL server with durable commits
(tests/integration/pgserver.py), a database per server, and adds PostgreSQL's own processes'
CPU and bytes written to the server's. --only put1,ecr-w1 runs only those loops. The ECR calls are SigV4-signed with botocore (Debian's python3-botocore);
the signing is done before the timed loop, so the client measures the server.
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERTH = os.environ.get("BERTH_BIN", os.path.join(ROOT, "build", "berth"))
HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
AKID = "AKIABERTHBENCHAUDIT1"
SECRET = "berth/bench/audit/secret/" + "y" * 15
REGION = "us-east-1"
TARGET = "AmazonEC2ContainerRegistry_V20150921."


class Server:
    """A berth serving on a free port, perhaps under strace (trace: the file strace writes) and
    on PostgreSQL (database: its URL)."""

    def __init__(self, data, audit, trace=None, database=None):
        port = int(subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "freeport"],
                                  capture_output=True, text=True).stdout)
        env = dict(os.environ, BERTH_ACCOUNT_ID=ACCOUNT, BERTH_ROOT_ACCESS_KEY_ID=AKID,
                   BERTH_ROOT_SECRET_ACCESS_KEY=SECRET)
        cmd = [BERTH, "serve", "--listen", "127.0.0.1:%d" % port, "--data", data, "--region", REGION,
               "--log-level", "warn", "--job-workers", "0", "--audit", audit]
        if database:  # the servers of a PostgreSQL registry share a key file
            cmd += ["--database", database, "--key-file", os.path.join(os.path.dirname(data), "registry.key")]
        if trace:
            # only the calls counted stop the server (seccomp-bpf); -y names each call's file
            cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-o", trace,
                   "-e", "trace=fsync,fdatasync,write,pwrite64,pwritev,pwritev2"] + cmd
        self.trace = trace
        log = open(data + ".log", "wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        self.base = "http://127.0.0.1:%d" % port
        self.port = port
        for _ in range(400):
            try:
                st, _, _ = benchlib.request("GET", self.base + "/v2/")
                if st in (200, 401):
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            self.proc.kill()
            raise SystemExit("berth did not start")
        self.pid = self.proc.pid
        if trace:  # berth is strace's child
            self.pid = int(subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True,
                                          text=True).stdout.split()[0])

    def stop(self):
        os.kill(self.pid, 15)  # strace passes on berth's exit
        self.proc.wait(timeout=60)


def signed(port, op, body, akid=AKID, secret=SECRET):
    """The headers of a SigV4-signed ECR call (valid for 5 minutes)."""
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url="http://127.0.0.1:%d/" % port, data=data,
                     headers={"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(akid, secret), "ecr", REGION).add_auth(req)
    return dict(req.headers.items()), data


def ecr(port, op, body):
    headers, data = signed(port, op, body)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/", data, headers)
    r = conn.getresponse()
    out = r.read()
    conn.close()
    if r.status != 200:
        raise SystemExit("%s -> %d %s" % (op, r.status, out[:300]))
    return json.loads(out)


def loop(port, calls, clients):
    """Sends the pre-signed calls from `clients` keep-alive connections; calls/s."""
    errors = []

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(k, len(calls), clients):
            headers, data = calls[i]
            conn.request("POST", "/", data, headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(r.status)
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("ECR call -> %r" % errors[:3])
    return len(calls) / (time.monotonic() - t0)


def wrk_start(base, repo, cred, seconds, conns=16, threads=2):
    """Starts wrk GETting repo's manifest "latest"; wrk_result() waits for it."""
    out = tempfile.mktemp(prefix="berth-audit-wrk.")
    env = dict(os.environ, BENCH_WRK_OUT=out, BENCH_BASIC=base64.b64encode(cred.encode()).decode())
    p = subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s", "-s",
                          os.path.join(HERE, "manifest.lua"), "%s/v2/%s/manifests/latest" % (base, repo)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p, out


def wrk_result(started):
    """req/s of a wrk_start()ed run; stops on any error status or socket error."""
    p, out = started
    stdout = p.communicate()[0]
    vals = dict(line.split("=", 1) for line in open(out).read().split())
    os.unlink(out)
    if int(vals["bad_status"]) or int(vals["sock_errors"]):
        raise SystemExit("wrk: errors\n" + stdout)
    return float(vals["rps"])


def wrk_get(base, repo, cred, seconds):
    return wrk_result(wrk_start(base, repo, cred, seconds))


def puts(base, repo, n, clients, cred):
    p = subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "puts", base, repo, str(n), str(clients), cred],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stderr)
    return float(p.stdout.split()[-1])


def request_thread(comm, tid, pid):
    """Is the thread on the request path: any but the main thread and the audit writer (which names
    itself)? Requests are served on libmicrohttpd's MHD-worker threads and, since writes moved there, on
    the defer pool's threads (src/http/server.c), which have no name of their own; the other background
    threads (maintenance, the listener) are idle in these loops."""
    return tid != str(pid) and comm.strip() != "audit-writer"


def usage(pid, pg=None):
    """(CPU seconds, of them on request threads, bytes written) of the server so far, and of
    PostgreSQL's processes when pg (the postmaster's pid) is given."""
    cpu = req = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:  # schedstat: nanoseconds on a CPU (stat's clock ticks are 10 ms)
            t = int(open("/proc/%d/task/%s/schedstat" % (pid, tid)).read().split()[0]) / 1e9
            comm = open("/proc/%d/task/%s/comm" % (pid, tid)).read()
        except OSError:  # a thread that just ended
            continue
        cpu += t
        if request_thread(comm, tid, pid):
            req += t
    io = dict(line.split(": ") for line in open("/proc/%d/io" % pid).read().splitlines())
    wchar = int(io["wchar"])
    if pg:
        for p in [pg] + subprocess.run(["pgrep", "-P", str(pg)], capture_output=True, text=True).stdout.split():
            try:
                f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
                cpu += (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")
                io = dict(line.split(": ") for line in open("/proc/%s/io" % p).read().splitlines())
                wchar += int(io["wchar"])
            except OSError:
                pass
    return cpu, req, wchar


def syscalls(lines, pid):
    """From strace's lines: fsyncs, and bytes written to the WAL and to the database file, in
    all and on request threads."""
    out = dict.fromkeys(("fsync", "fsync_req", "wal", "wal_req", "db", "db_req"), 0)
    comm = {}
    for line in lines:
        tid, rest = line.split(None, 1)
        if tid not in comm:
            try:
                comm[tid] = open("/proc/%d/task/%s/comm" % (pid, tid)).read().strip()
            except OSError:
                comm[tid] = ""
        on_req = request_thread(comm[tid], tid, pid)
        call = rest.split("(", 1)[0]
        path = rest.split("<", 1)[1].split(">", 1)[0] if "<" in rest else ""
        if call in ("fsync", "fdatasync"):
            keys = ("fsync",)
            n = 1
        elif path.endswith("-wal") or path.endswith("/berth.db"):
            keys = ("wal",) if path.endswith("-wal") else ("db",)
            try:
                n = max(int(rest.rsplit("=", 1)[1].split()[0]), 0)
            except (IndexError, ValueError):  # "<unfinished ...>": counted when resumed
                continue
        else:
            continue
        for k in keys:
            out[k] += n
            if on_req:
                out[k + "_req"] += n
    return out


def measured(server, m, key, fn, requests=None, pg=None):
    """m[key] = fn()'s rate; m[key + ":cpu"], m[key + ":req"], m[key + ":bytes"]: the server's
    CPU microseconds (in all, and on request threads) and bytes written per request (requests:
    how many; rate * seconds if None); with strace, its counts per request too."""
    cpu0, req0, w0 = usage(server.pid, pg)
    lines0 = sum(1 for _ in open(server.trace)) if server.trace else 0
    t0 = time.monotonic()
    m[key] = fn()
    n = requests or m[key] * (time.monotonic() - t0)
    time.sleep(0.3)  # what the writer thread does after the last answer belongs to the loop
    cpu1, req1, w1 = usage(server.pid, pg)
    m[key + ":cpu"] = (cpu1 - cpu0) * 1e6 / n
    m[key + ":req"] = (req1 - req0) * 1e6 / n
    m[key + ":bytes"] = (w1 - w0) / n
    if server.trace:
        with open(server.trace) as f:
            lines = f.read().splitlines()[lines0:]
        for k, v in syscalls(lines, server.pid).items():
            m[key + ":" + k] = v / n


LOOPS = ("get", "put1", "put8", "ecr-w1", "ecr-w8", "ecr-r8")
# what the loops measure, as printed
COSTS = (("cpu", "server CPU us/request"), ("req", "of it on request threads"), ("bytes", "bytes written/request"),
         ("fsync", "fsyncs/request"), ("fsync_req", "of them on request threads"),
         ("wal", "WAL bytes/request"), ("wal_req", "of them on request threads"),
         ("db", "database file bytes/request"), ("db_req", "of them on request threads"))


def one_round(work, audit, args, results, pg=None):
    name = "%s-%d" % (audit, len(results.get("%s-%s" % (args.loops[0], audit), [])))
    data = os.path.join(work, name)
    database = pg.create_database(name.replace("-", "_")) if pg else None
    server = Server(data, audit, trace=data + ".strace" if args.syscalls else None, database=database)
    postmaster = int(open(os.path.join(pg.dir, "cluster", "postmaster.pid")).readline()) if pg else None
    port, base = server.port, server.base
    try:
        repo = "bench/audit"
        ecr(port, "CreateRepository", {"repositoryName": repo})
        tok = ecr(port, "GetAuthorizationToken", {})["authorizationData"][0]["authorizationToken"]
        cred = base64.b64decode(tok).decode()
        subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "tiny", base, repo, "latest", cred],
                       check=True, capture_output=True)
        m = {}
        flip = ["MUTABLE", "IMMUTABLE"]
        writes = [signed(port, "PutImageTagMutability", {"repositoryName": repo, "imageTagMutability": flip[i % 2]})
                  for i in range(args.writes)]
        reads = [signed(port, "DescribeRepositories", {"repositoryNames": [repo]})] * (args.writes * 2)
        loops = {
            "get": (lambda: wrk_get(base, repo, cred, args.seconds), None),
            "put1": (lambda: puts(base, repo, args.writes, 1, cred), args.writes),
            "put8": (lambda: puts(base, repo, args.writes, 8, cred), args.writes),
            "ecr-w1": (lambda: loop(port, writes, 1), len(writes)),
            "ecr-w8": (lambda: loop(port, writes, 8), len(writes)),
            "ecr-r8": (lambda: loop(port, reads, 8), len(reads)),
        }
        for k in args.loops:
            measured(server, m, k, loops[k][0], loops[k][1], postmaster)
        for k, v in m.items():
            results.setdefault("%s-%s" % (k, audit), []).append(v)
        print("  %-4s %s" % (audit, "  ".join("%s %.0f" % (k, v) for k, v in m.items() if ":" not in k)), flush=True)
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--writes", type=int, default=400)
    ap.add_argument("--only", default=",".join(LOOPS), help="the loops to run, comma-separated")
    ap.add_argument("--syscalls", action="store_true", help="count fsyncs and WAL bytes with strace")
    ap.add_argument("--postgresql", action="store_true", help="berth on a throw-away PostgreSQL")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.loops = [k for k in LOOPS if k in args.only.split(",")]
    if not args.loops:
        raise SystemExit("--only: none of " + ", ".join(LOOPS))
    if "get" in args.loops and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make deps)")
    if args.syscalls and not shutil.which("strace"):
        raise SystemExit("strace is not installed")
    work = tempfile.mkdtemp(prefix="berth-bench-audit.")
    os.chmod(work, 0o755)
    results = {}
    pg = None
    try:
        if args.postgresql:
            sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
            import pgserver
            pg = pgserver.PostgresServer()
            pg.start(durable=True)  # as a production server runs: fsync, synchronous commits
        print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
        for i in range(args.rounds):
            print("round %d" % (i + 1), flush=True)
            # which setting goes first alternates: a machine that slows down or speeds up
            # during a round does not favour one
            for audit in (("off", "on") if i % 2 == 0 else ("on", "off")):
                one_round(work, audit, args, results, pg)
        print("load average after: %s" % " ".join(open("/proc/loadavg").read().split()[:3]), flush=True)
    finally:
        if pg:
            pg.cleanup()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    # medians, with the spread of the rounds: on a shared machine it is often wider than any
    # difference between off and on
    print("\n%-8s %24s %24s %8s" % ("", "audit off: median (range)", "audit on: median (range)", "on/off"))
    lines = []
    for k in args.loops:
        off = statistics.median(results[k + "-off"])
        on = statistics.median(results[k + "-on"])
        print("%-8s %8.0f/s (%5.0f-%5.0f) %8.0f/s (%5.0f-%5.0f) %8.2f" % (
            k, off, min(results[k + "-off"]), max(results[k + "-off"]), on, min(results[k + "-on"]),
            max(results[k + "-on"]), on / off))
        lines.append("audit_%s_off=%.1f\naudit_%s_on=%.1f\naudit_%s_ratio=%.3f" % (k, off, k, on, k, on / off))
    # what a request cost the server, whatever else the machine was doing: medians, off -> on
    for c, title in COSTS:
        if ("%s:%s-off" % (args.loops[0], c)) not in results:
            continue
        print("\n%-8s %-30s %10s %10s %10s" % ("", title, "off", "on", "on - off"))
        for k in args.loops:
            v = [statistics.median(results["%s:%s-%s" % (k, c, a)]) for a in ("off", "on")]
            nd = 2 if c.startswith("fsync") else 0
            print("%-8s %-30s %10.*f %10.*f %+10.*f" % (k, "", nd, v[0], nd, v[1], nd, v[1] - v[0]))
            lines.append("audit_%s_%s_off=%.1f\naudit_%s_%s_on=%.1f" % (k, c, v[0], k, c, v[1]))
    print("\n" + "\n".join(lines).replace("-", "_"))


if __name__ == "__main__":
    main()
