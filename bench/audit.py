#!/usr/bin/python3
"""What recording the audit trail costs (see bench/README.md, "Audit trail").

    bench/audit.py [--rounds N] [--seconds S] [--writes N] [--keep]

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
other load on the machine hardly changes. The ECR calls are SigV4-signed with botocore (Debian's python3-botocore);
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


def start_server(data, audit):
    port = int(subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "freeport"],
                              capture_output=True, text=True).stdout)
    env = dict(os.environ, BERTH_ACCOUNT_ID=ACCOUNT, BERTH_ROOT_ACCESS_KEY_ID=AKID, BERTH_ROOT_SECRET_ACCESS_KEY=SECRET)
    log = open(data + ".log", "wb")
    proc = subprocess.Popen([BERTH, "serve", "--listen", "127.0.0.1:%d" % port, "--data", data, "--region", REGION,
                             "--log-level", "warn", "--job-workers", "0", "--audit", audit],
                            stdout=log, stderr=log, env=env)
    base = "http://127.0.0.1:%d" % port
    for _ in range(200):
        try:
            st, _, _ = benchlib.request("GET", base + "/v2/")
            if st in (200, 401):
                return proc, base, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("berth did not start")


def signed(port, op, body):
    """The headers of a SigV4-signed ECR call (valid for 5 minutes)."""
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url="http://127.0.0.1:%d/" % port, data=data,
                     headers={"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(AKID, SECRET), "ecr", REGION).add_auth(req)
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


def wrk_get(base, repo, cred, seconds):
    out = tempfile.mktemp(prefix="berth-audit-wrk.")
    env = dict(os.environ, BENCH_WRK_OUT=out, BENCH_BASIC=base64.b64encode(cred.encode()).decode())
    p = subprocess.run(["wrk", "-t2", "-c16", "-d%ds" % seconds, "--timeout", "10s", "-s",
                        os.path.join(HERE, "manifest.lua"), "%s/v2/%s/manifests/latest" % (base, repo)],
                       env=env, capture_output=True, text=True)
    vals = dict(line.split("=", 1) for line in open(out).read().split())
    os.unlink(out)
    if int(vals["bad_status"]) or int(vals["sock_errors"]):
        raise SystemExit("wrk: errors\n" + p.stdout)
    return float(vals["rps"])


def puts(base, repo, n, clients, cred):
    p = subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "puts", base, repo, str(n), str(clients), cred],
                       capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(p.stderr)
    return float(p.stdout.split()[-1])


def usage(pid):
    """(CPU seconds, bytes written) of the server so far."""
    stat = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    io = dict(line.split(": ") for line in open("/proc/%d/io" % pid).read().splitlines())
    return cpu, int(io["wchar"])


def measured(proc, m, key, fn, requests=None):
    """m[key] = fn()'s rate; m[key + ":cpu"], m[key + ":bytes"]: the server's CPU
    microseconds and bytes written per request (requests: how many; rate * seconds if None)."""
    cpu0, w0 = usage(proc.pid)
    t0 = time.monotonic()
    m[key] = fn()
    n = requests or m[key] * (time.monotonic() - t0)
    time.sleep(0.3)  # what the writer thread does after the last answer belongs to the loop
    cpu1, w1 = usage(proc.pid)
    m[key + ":cpu"] = (cpu1 - cpu0) * 1e6 / n
    m[key + ":bytes"] = (w1 - w0) / n


def one_round(work, audit, args, results):
    data = os.path.join(work, "%s-%d" % (audit, len(results.get("get-" + audit, []))))
    proc, base, port = start_server(data, audit)
    try:
        repo = "bench/audit"
        ecr(port, "CreateRepository", {"repositoryName": repo})
        tok = ecr(port, "GetAuthorizationToken", {})["authorizationData"][0]["authorizationToken"]
        cred = base64.b64decode(tok).decode()
        subprocess.run([sys.executable, os.path.join(HERE, "benchlib.py"), "tiny", base, repo, "latest", cred],
                       check=True, capture_output=True)
        m = {}
        measured(proc, m, "get", lambda: wrk_get(base, repo, cred, args.seconds))
        measured(proc, m, "put1", lambda: puts(base, repo, args.writes, 1, cred), args.writes)
        measured(proc, m, "put8", lambda: puts(base, repo, args.writes, 8, cred), args.writes)
        flip = ["MUTABLE", "IMMUTABLE"]
        writes = [signed(port, "PutImageTagMutability", {"repositoryName": repo, "imageTagMutability": flip[i % 2]})
                  for i in range(args.writes)]
        measured(proc, m, "ecr-w1", lambda: loop(port, writes, 1), len(writes))
        measured(proc, m, "ecr-w8", lambda: loop(port, writes, 8), len(writes))
        reads = [signed(port, "DescribeRepositories", {"repositoryNames": [repo]})] * (args.writes * 2)
        measured(proc, m, "ecr-r8", lambda: loop(port, reads, 8), len(reads))
        for k, v in m.items():
            results.setdefault("%s-%s" % (k, audit), []).append(v)
        print("  %-4s %s" % (audit, "  ".join("%s %.0f" % (k, v) for k, v in m.items() if ":" not in k)), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--writes", type=int, default=400)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make deps)")
    work = tempfile.mkdtemp(prefix="berth-bench-audit.")
    results = {}
    try:
        for i in range(args.rounds):
            print("round %d" % (i + 1), flush=True)
            # which setting goes first alternates: a machine that slows down or speeds up
            # during a round does not favour one
            for audit in (("off", "on") if i % 2 == 0 else ("on", "off")):
                one_round(work, audit, args, results)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    # medians, with the spread of the rounds: on a shared machine it is often wider than any
    # difference between off and on
    print("\n%-8s %24s %24s %8s" % ("", "audit off: median (range)", "audit on: median (range)", "on/off"))
    lines = []
    for k in ("get", "put1", "put8", "ecr-w1", "ecr-w8", "ecr-r8"):
        off = statistics.median(results[k + "-off"])
        on = statistics.median(results[k + "-on"])
        print("%-8s %8.0f/s (%5.0f-%5.0f) %8.0f/s (%5.0f-%5.0f) %8.2f" % (
            k, off, min(results[k + "-off"]), max(results[k + "-off"]), on, min(results[k + "-on"]),
            max(results[k + "-on"]), on / off))
        lines.append("audit_%s_off=%.1f\naudit_%s_on=%.1f\naudit_%s_ratio=%.3f" % (k, off, k, on, k, on / off))
    # what a request cost the server, whatever else the machine was doing
    print("\n%-8s %21s %21s %25s" % ("", "CPU us/request off/on", "ratio", "bytes written/request off/on"))
    for k in ("get", "put1", "put8", "ecr-w1", "ecr-w8", "ecr-r8"):
        c = [statistics.median(results["%s:cpu-%s" % (k, a)]) for a in ("off", "on")]
        b = [statistics.median(results["%s:bytes-%s" % (k, a)]) for a in ("off", "on")]
        print("%-8s %10.0f %10.0f %21.2f %12.0f %12.0f" % (k, c[0], c[1], c[1] / c[0], b[0], b[1]))
        lines.append("audit_%s_cpu_us_off=%.1f\naudit_%s_cpu_us_on=%.1f\naudit_%s_bytes_off=%.0f\naudit_%s_bytes_on=%.0f"
                     % (k, c[0], k, c[1], k, b[0], k, b[1]))
    print("\n" + "\n".join(lines).replace("-", "_"))


if __name__ == "__main__":
    main()
