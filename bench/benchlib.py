#!/usr/bin/python3
"""Helpers for bench/run.sh (standard library only).

    benchlib.py freeport
    benchlib.py oci DIR LAYERS LAYER_MIB          build an OCI image layout (tag "bench")
    benchlib.py tiny URL REPO TAG [USER:PASS]     push a small OCI image, print its manifest digest
    benchlib.py puts URL REPO N CLIENTS [USER:PASS]  PUT N distinct manifests from CLIENTS threads, print req/s
    benchlib.py mbps BYTES SECONDS                print BYTES/SECONDS in MB/s (10^6 bytes)
    benchlib.py render RESULTS OUT_MD             print the comparison table, write it to OUT_MD
"""
import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import socket
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def freeport():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    print(port)


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_layout(root, layers, layer_mib):
    """Random-content layers, each a tar with one file, gzip-wrapped at level 0.

    The layers are already "compressed" so that skopeo passes them through unchanged
    instead of gzipping random data on the fly (which would make the client, not the
    registry, the bottleneck)."""
    blobs = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        d = sha256(data)
        with open(os.path.join(blobs, d[7:]), "wb") as f:
            f.write(data)
        return d

    descs, diff_ids = [], []
    for i in range(layers):
        payload = os.urandom(layer_mib * 1024 * 1024)
        tbuf = io.BytesIO()
        with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            ti = tarfile.TarInfo("bench/layer%02d.bin" % i)
            ti.size = len(payload)
            ti.mtime = 0
            tf.addfile(ti, io.BytesIO(payload))
        tar = tbuf.getvalue()
        diff_ids.append(sha256(tar))
        gz = gzip.compress(tar, compresslevel=0, mtime=0)
        descs.append({"mediaType": OCI_LAYER_GZ, "digest": put(gz), "size": len(gz)})

    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "berth bench layer %d" % i} for i in range(layers)],
    }, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put(config), "size": len(config)},
        "layers": descs,
    }, separators=(",", ":")).encode()
    md = put(manifest)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": md, "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    print(md)


def request(method, url, body=None, headers=None, cred=None):
    h = dict(headers or {})
    if cred:
        h["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push_blob(base, repo, data, cred):
    d = sha256(data)
    st, hd, body = request("POST", "%s/v2/%s/blobs/uploads/" % (base, repo), b"", cred=cred)
    if st != 202:
        raise SystemExit("tiny: POST upload -> %d %r" % (st, body[:300]))
    loc = urllib.parse.urljoin(base + "/", hd.get("Location", ""))
    loc += ("&" if "?" in loc else "?") + "digest=" + d
    st, hd, body = request("PUT", loc, data, {"Content-Type": "application/octet-stream"}, cred)
    if st != 201:
        raise SystemExit("tiny: PUT upload -> %d %r" % (st, body[:300]))
    return d


def tiny_blobs(base, repo, cred):
    """Pushes the tiny image's config and layer; returns a function that makes
    its manifest (with an annotation, when given, to make it distinct)."""
    layer = gzip.compress(b"berth bench tiny layer\n" * 64, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(gzip.decompress(layer))]}},
                        separators=(",", ":")).encode()
    cd = push_blob(base, repo, config, cred)
    ld = push_blob(base, repo, layer, cred)

    def manifest(note=None):
        m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
             "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
             "layers": [{"mediaType": OCI_LAYER_GZ, "digest": ld, "size": len(layer)}]}
        if note is not None:
            m["annotations"] = {"bench": note}
        return json.dumps(m, separators=(",", ":")).encode()
    return manifest


def tiny(base, repo, tag, cred=None):
    manifest = tiny_blobs(base, repo, cred)()
    st, hd, body = request("PUT", "%s/v2/%s/manifests/%s" % (base, repo, tag), manifest,
                           {"Content-Type": OCI_MANIFEST}, cred)
    if st != 201:
        raise SystemExit("tiny: PUT manifest -> %d %r" % (st, body[:300]))
    md = sha256(manifest)
    st, hd, body = request("GET", "%s/v2/%s/manifests/%s" % (base, repo, tag), None,
                           {"Accept": OCI_MANIFEST}, cred)
    if st != 200 or sha256(body) != md:
        raise SystemExit("tiny: GET manifest -> %d, body digest %s, expected %s" % (st, sha256(body), md))
    print(md)


def put_manifests(clients, work):
    """PUTs manifests from `clients` threads, each on a keep-alive connection of its own:
    work(k) is client k's (host, port, headers, [(path, body), ...]), made before the clock
    starts. Returns PUTs per second; exits on an answer other than 201."""
    jobs = [work(k) for k in range(clients)]
    errors = []

    def client(k):
        host, port, headers, puts = jobs[k]
        conn = http.client.HTTPConnection(host, port, timeout=60)
        for path, body in puts:
            conn.request("PUT", path, body, headers)
            r = conn.getresponse()
            r.read()
            if r.status != 201:
                errors.append("PUT manifest -> %d" % r.status)
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t = time.monotonic() - t0
    if errors:
        raise SystemExit("puts: " + errors[0])
    return sum(len(j[3]) for j in jobs) / t


def manifest_puts(base, repo, n, clients, cred=None):
    """PUTs n distinct small manifests, each with a tag of its own, from
    `clients` threads on keep-alive connections; prints requests per second.
    Every PUT commits a transaction: this is what a durable commit costs."""
    manifest = tiny_blobs(base, repo, cred)
    u = urllib.parse.urlsplit(base)
    headers = {"Content-Type": OCI_MANIFEST}
    if cred:
        headers["Authorization"] = "Basic " + base64.b64encode(cred.encode()).decode()
    run = "%x" % int(time.time() * 1000)
    rate = put_manifests(clients, lambda k: (u.hostname, u.port, headers, [
        ("/v2/%s/manifests/p%s-%d" % (repo, run, i), manifest("%s-%d" % (run, i))) for i in range(k, n, clients)]))
    print("%.1f" % rate)


# ---------------------------------------------------------------- rendering

def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                r[k] = v
    return r


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None


def fmt(v, nd=0):
    if v is None:
        return "n/a"
    return ("{:,.%df}" % nd).format(v)


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "n/a"
    return ("%." + str(nd) + "f×") % (a / b)


def verdict(ok):
    if ok is None:
        return "n/a"
    return "PASS" if ok else "FAIL"


def render(results_path, out_md):
    r = load(results_path)
    size = int(r.get("size_mb", "1024"))
    small = int(r.get("small_mb", str(size // 4)))
    reps = r.get("reps", "?")
    B = lambda k: num(r, "berth." + k)
    D = lambda k: num(r, "dist." + k)
    rows = []

    def row(metric, k, nd, better, target=None, ok=None, bv=None, dv=None):
        b = B(k) if bv is None else bv
        d = D(k) if dv is None else dv
        rows.append((metric, fmt(b, nd), fmt(d, nd), ratio(b, d), better, target or "", verdict(ok) if target else ""))

    def ge(a, b, factor):
        return None if a is None or b is None else a >= factor * b

    bu, du = B("upload_mbps"), D("upload_mbps")
    row("blob upload %d MiB, MB/s (best of %s)" % (size, reps), "upload_mbps", 0, "higher",
        "≥ 2×", ge(bu, du, 2))
    bd, dd = B("download_mbps"), D("download_mbps")
    row("blob download %d MiB, MB/s (best of %s)" % (size, reps), "download_mbps", 0, "higher",
        "≥ 2×", ge(bd, dd, 2))
    img = "%s×%s MiB" % (r.get("layers", "?"), r.get("layer_mb", "?"))
    row("skopeo push %s, s" % img, "skopeo_push_s", 2, "lower")
    row("skopeo pull %s, s (best of %s)" % (img, r.get("pull_reps", "?")), "skopeo_pull_s", 2, "lower")
    c = r.get("wrk_conn", "64")
    brps, drps = B("wrk_auth_rps"), D("wrk_auth_rps")
    row("manifest GET, auth on, req/s (%s conns)" % c, "wrk_auth_rps", 0, "higher",
        "≥ 10×", ge(brps, drps, 10))
    row("manifest GET, auth on, p99 ms", "wrk_auth_p99_ms", 2, "lower")
    bidle, bbusy = B("wrk_auth_p99_ms"), B("wrk_commit_p99_ms")
    row("manifest GET p99 ms while a %d MiB blob uploads and commits" % size, "wrk_commit_p99_ms", 2, "lower",
        "berth ≤ 2× idle", None if bidle is None or bbusy is None else bbusy <= 2 * bidle)
    row("manifest GET, auth off, req/s (%s conns)" % c, "wrk_noauth_rps", 0, "higher")
    row("manifest GET, auth off, p99 ms", "wrk_noauth_p99_ms", 2, "lower")
    row("manifest PUT, auth off, req/s (1 client)", "put1_rps", 0, "higher")
    row("manifest PUT, auth off, req/s (%s clients)" % r.get("put_clients", "?"), "putn_rps", 0, "higher")
    row("RSS idle after start, MiB", "rss_idle_mb", 1, "lower")
    row("RSS after %d MiB upload, MiB" % small, "rss_small_mb", 1, "lower")
    row("RSS after %d MiB uploads, MiB" % size, "rss_big_mb", 1, "lower")
    bflat = None
    if B("rss_small_mb") is not None and B("rss_big_mb") is not None:
        bflat = B("rss_big_mb") - B("rss_small_mb") < 16
    dgrow = None
    if D("rss_small_mb") is not None and D("rss_big_mb") is not None:
        dgrow = D("rss_big_mb") - D("rss_small_mb")
    bgrow = None if bflat is None else B("rss_big_mb") - B("rss_small_mb")
    rows.append(("RSS growth %d→%d MiB upload, MiB" % (small, size), fmt(bgrow, 1), fmt(dgrow, 1), "",
                 "lower", "berth < 16", verdict(bflat)))
    row("peak RSS (VmHWM) after all runs, MiB", "hwm_mb", 1, "lower")

    sha, disk = num(r, "machine.sha256_mbps"), num(r, "machine.disk_mbps")
    floor = None if sha is None or disk is None else min(sha, disk)
    frac = None if floor is None or bu is None else bu / floor
    lines = []
    lines.append("| metric | berth | distribution | berth/dist | better | target | result |")
    lines.append("| --- | ---: | ---: | ---: | --- | --- | --- |")
    for m in rows:
        lines.append("| %s |" % " | ".join(m))
    lines.append("")
    lines.append("| machine | value |")
    lines.append("| --- | ---: |")
    lines.append("| SHA-256 (openssl speed -evp sha256, 1 MiB blocks), MB/s | %s |" % fmt(sha))
    lines.append("| disk write (dd %d MiB, conv=fdatasync, best of 2), MB/s | %s |" % (int(r.get("dd_mb", size)), fmt(disk)))
    lines.append("| berth upload / min(SHA-256, disk) (target ≥ 70%%) | %s %s |" % (
        "n/a" if frac is None else "%.0f%%" % (frac * 100), verdict(None if frac is None else frac >= 0.70)))
    ngx_on, ngx_off = num(r, "machine.nginx_sendfile_on_mbps"), num(r, "machine.nginx_sendfile_off_mbps")
    lines.append("| nginx serving berth's copy of the %d MiB blob, sendfile on, MB/s (best of %s) | %s |" % (size, reps, fmt(ngx_on)))
    lines.append("| nginx serving it, sendfile off (read + write), MB/s (best of %s) | %s |" % (reps, fmt(ngx_off)))
    ngx = max([v for v in (ngx_on, ngx_off) if v is not None], default=None)
    dfrac = None if ngx is None or bd is None else bd / ngx
    lines.append("| berth download / the faster nginx (target ≥ 90%%) | %s %s |" % (
        "n/a" if dfrac is None else "%.0f%%" % (dfrac * 100), verdict(None if dfrac is None else dfrac >= 0.90)))
    notes = []
    for k, v in sorted(r.items()):
        if k.endswith(".note"):
            notes.append("- %s: %s" % (k[:-5], v))
    head = ("berth %s vs %s; %s; %s CPUs (%s), %s MiB RAM, load average %s at start; "
            "loopback, data on %s; %s." % (
        r.get("berth_version", "?"), r.get("dist_version", "?"), r.get("date", "?"),
        r.get("cpus", "?"), r.get("cpu", "?"), r.get("mem_mb", "?"), r.get("loadavg", "?"), r.get("fs", "?"),
        "quick run" if r.get("quick") == "1" else "full run"))
    text = head + "\n\n" + "\n".join(lines) + "\n"
    if notes:
        text += "\nNotes:\n" + "\n".join(notes) + "\n"
    print(text)
    if out_md:
        with open(out_md, "w") as f:
            f.write("# berth vs CNCF Distribution — latest `make bench`\n\n")
            f.write("<!-- generated by bench/run.sh; see bench/README.md for how to read it -->\n\n")
            f.write(text)


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd = argv[1]
    if cmd == "freeport":
        freeport()
    elif cmd == "oci":
        oci_layout(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "tiny":
        tiny(argv[2].rstrip("/"), argv[3], argv[4], argv[5] if len(argv) > 5 and argv[5] else None)
    elif cmd == "puts":
        manifest_puts(argv[2].rstrip("/"), argv[3], int(argv[4]), int(argv[5]), argv[6] if len(argv) > 6 and argv[6] else None)
    elif cmd == "mbps":
        b, s = float(argv[2]), float(argv[3])
        print("%.1f" % (b / s / 1e6) if s > 0 else "")
    elif cmd == "render":
        render(argv[2], argv[3] if len(argv) > 3 else None)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
