#!/usr/bin/python3
"""Blob push and pull throughput: the filesystem store against a Ceph RGW (bench/README.md, "S3").

    bench/s3.py [--blobs N] [--mib M] [--chunk-mib C] [--clients K]

Starts a throwaway Ceph RGW (scripts/rgw.sh) and three berth servers on loopback: blobs on the
filesystem (the default), on RGW with downloads redirected to presigned URLs, and on RGW with
downloads proxied through berth. Each pushes N random blobs of M MiB (chunked PATCHes of C MiB,
then PUT ?digest=) from K client threads, then pulls them back (following redirects) and checks
their digests. Prints MB/s (10^6 bytes per second) per store and direction, and `key=value`
lines. Everything runs on this machine: RGW's memstore OSD, berth and the clients share its
cores, so the numbers compare the stores' overheads, not a production object store.
"""
import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import boto3
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERTH = os.environ.get("BERTH_BIN", os.path.join(ROOT, "build", "berth"))
ACCOUNT, AKID, SECRET = "123456789012", "AKIABERTHBENCHROOT01", "berth/bench/root/secret/xxxxxxxx"
MiB = 1 << 20


def freeport():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_berth(work, name, env_extra, args=(), repo="bench/s3", binary=None):
    """Starts berth (BERTH_BIN, or binary) with its own data directory under work and the extra
    environment and arguments, makes sure repo exists; (process, url, (user, password))."""
    port = freeport()
    data = os.path.join(work, name)
    env = dict(os.environ, BERTH_ACCOUNT_ID=ACCOUNT, BERTH_ROOT_ACCESS_KEY_ID=AKID,
               BERTH_ROOT_SECRET_ACCESS_KEY=SECRET, **env_extra)
    log = open(os.path.join(work, name + ".log"), "wb")
    p = subprocess.Popen([binary or BERTH, "serve", "--listen", f"127.0.0.1:{port}", "--data", data, "--log-level",
                          "warn", *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(url + "/v2/", timeout=1).status_code in (200, 401):
                break
        except requests.RequestException:
            time.sleep(0.05)
    ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=AKID,
                       aws_secret_access_key=SECRET)
    try:
        ecr.create_repository(repositoryName=repo)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass  # another server of the same database made it
    tok = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(tok).decode().split(":", 1)
    return p, url, (user, password)


def push(url, auth, data, chunk, repo="bench/s3"):
    """Pushes data in PATCHes of chunk bytes (one PUT with the body when chunk is 0); its digest."""
    s = requests.Session()
    s.auth = auth
    r = s.post(f"{url}/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    loc, off = requests.compat.urljoin(url, r.headers["Location"]), 0
    while chunk and off < len(data):
        part = data[off:off + chunk]
        r = s.patch(loc, data=part, headers={"Content-Range": f"{off}-{off + len(part) - 1}",
                                             "Content-Type": "application/octet-stream"})
        assert r.status_code == 202, r.text
        off += len(part)
        loc = requests.compat.urljoin(url, r.headers["Location"])
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = s.put(loc, params={"digest": digest}, data=data if not chunk else None,
              headers={"Content-Type": "application/octet-stream"} if not chunk else None)
    assert r.status_code == 201, r.text
    return digest


def pull(url, auth, digest, repo="bench/s3"):
    s = requests.Session()
    r = s.get(f"{url}/v2/{repo}/blobs/{digest}", auth=auth, allow_redirects=False, stream=True)
    if r.status_code == 307:
        r = s.get(r.headers["Location"], stream=True)     # no registry credentials to the object store
    assert r.status_code == 200, r.status_code
    h = hashlib.sha256()
    for piece in r.iter_content(1 << 20):
        h.update(piece)
    assert "sha256:" + h.hexdigest() == digest
    return True


def timed(fn, items, clients):
    out, lock, errors = [], threading.Lock(), []
    queue = list(items)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            try:
                res = fn(item)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return
            with lock:
                out.append(res)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--blobs", type=int, default=8)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--chunk-mib", type=int, default=16)
    ap.add_argument("--clients", type=int, default=4)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-bench-s3-")
    rgwdir = os.path.join(work, "rgw")
    procs = []
    try:
        t0 = time.monotonic()
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "rgw.sh"), "start", rgwdir], check=True,
                       capture_output=True, timeout=300)
        rgw_start = time.monotonic() - t0
        env = dict(line.split("=", 1) for line in open(os.path.join(rgwdir, "env")).read().split())
        s3 = lambda prefix, redirect: {  # noqa: E731
            "BERTH_BLOB_STORE": f"s3://{env['RGW_BUCKET']}/{prefix}?endpoint={env['RGW_ENDPOINT']}"
                                f"&region=us-east-1&path_style=1",
            "BERTH_S3_ACCESS_KEY_ID": env["RGW_ACCESS_KEY"], "BERTH_S3_SECRET_ACCESS_KEY": env["RGW_SECRET_KEY"],
            "BERTH_BLOB_REDIRECT": redirect}
        stores = [("fs", {}), ("rgw-redirect", s3("redirect", "on")), ("rgw-proxy", s3("proxy", "off"))]
        total = a.blobs * a.mib * MiB
        print(f"{a.blobs} blobs of {a.mib} MiB, PATCH chunks of {a.chunk_mib} MiB, {a.clients} clients; "
              f"RGW up in {rgw_start:.1f} s")
        results = {}
        for name, extra in stores:
            p, url, auth = start_berth(work, name, extra)
            procs.append(p)
            blobs = [os.urandom(a.mib * MiB) for _ in range(a.blobs)]
            digests, tpush = timed(lambda d: push(url, auth, d, a.chunk_mib * MiB), blobs, a.clients)
            del blobs
            _, tpull = timed(lambda d: pull(url, auth, d), digests, a.clients)
            results[name] = (total / 1e6 / tpush, total / 1e6 / tpull)
            print(f"{name:13s} push {results[name][0]:7.1f} MB/s   pull {results[name][1]:7.1f} MB/s")
            p.terminate()
            p.wait(timeout=30)
        for name, (pu, pl) in results.items():
            print(f"s3bench.{name}.push_mbps={pu:.1f}")
            print(f"s3bench.{name}.pull_mbps={pl:.1f}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "rgw.sh"), "stop", rgwdir], capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
