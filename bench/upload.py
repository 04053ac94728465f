#!/usr/bin/python3
"""1 GiB blob uploads with curl, the way bench/run.sh's (a) makes them, against this machine's disk
limits, with the current build and (--before-bin) another one (bench/README.md, "Uploads:
write-behind").

    bench/upload.py [--size-mb N] [--uploads N] [--sets N] [--before-bin PATH]

First the disk, with dd, 1 GiB each way:

  direct     dd bs=2M oflag=direct conv=fdatasync: writes that go to the disk one at a time
  buffered   dd bs=1M conv=fdatasync: through the page cache, one sync at the end

Then, for each binary, --sets times (the binaries alternating), a fresh berth (filesystem blobs,
--job-workers 0) that takes --uploads monolithic uploads (POST, then PUT ?digest= with curl -T
from a file in the page cache, a new digest each time). For each upload it prints MB/s (curl's
total time, from the PUT's first byte to the 201), the server's CPU seconds (all of its threads,
from /proc), and how busy the machine's CPUs were and how much of their time was iowait (from
/proc/stat): an upload that leaves the CPUs idle waits for the disk. Then the medians and
`key=value` lines.
"""
import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import s3  # noqa: E402 - berth servers

REPO = "bench/upload"


def dd(path, mb, flags):
    """MB/s of dd writing mb MiB of zeros to path with flags, the file removed after."""
    bs = 2 if "oflag=direct" in flags else 1
    out = subprocess.run(["dd", "if=/dev/zero", "of=" + path, "bs=%dM" % bs, "count=%d" % (mb // bs)] + flags,
                         capture_output=True, text=True, check=True).stderr
    os.unlink(path)
    # "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.6 s, 668 MB/s"
    seconds = float(out.strip().splitlines()[-1].split(",")[-2].split()[0])
    return mb * 1.048576 / seconds


def cpu_seconds(pid):
    """CPU seconds of every thread of pid so far (schedstat: nanoseconds)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            total += int(open("/proc/%d/task/%s/schedstat" % (pid, tid)).read().split()[0])
        except OSError:
            pass
    return total / 1e9


def proc_stat():
    return [int(x) for x in open("/proc/stat").readline().split()[1:]]


def digest_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def upload(url, auth, blob):
    """One monolithic upload of blob; its MB/s."""
    with open(blob, "r+b") as f:  # a new digest each time
        f.write(os.urandom(16))
    digest = digest_of(blob)
    head = subprocess.run(["curl", "-sS", "-u", "%s:%s" % auth, "-X", "POST", "-H", "Content-Length: 0",
                           "-o", "/dev/null", "-D", "-", "%s/v2/%s/blobs/uploads/" % (url, REPO)],
                          capture_output=True, text=True, check=True).stdout
    loc = [line.split(None, 1)[1].strip() for line in head.splitlines() if line.lower().startswith("location:")][0]
    if loc.startswith("/"):
        loc = url + loc
    loc += ("&" if "?" in loc else "?") + "digest=" + digest
    out = subprocess.run(["curl", "-sS", "-u", "%s:%s" % auth, "-H", "Expect:", "-H",
                          "Content-Type: application/octet-stream", "-T", blob, "-o", "/dev/null",
                          "-w", "%{http_code} %{time_total}", loc], capture_output=True, text=True).stdout.split()
    if not out or out[0] != "201":
        raise SystemExit("upload: PUT -> %r" % out)
    size = os.path.getsize(blob)
    return size / 1e6 / float(out[1])


def one_set(work, name, binary, blob, n):
    """n uploads to a fresh server; a list of (MB/s, server CPU s, busy %, iowait %)."""
    proc, url, auth = s3.start_berth(work, name, {}, ["--job-workers", "0"], repo=REPO, binary=binary)
    rows = []
    try:
        for _ in range(n):
            c0, s0 = cpu_seconds(proc.pid), proc_stat()
            mbps = upload(url, auth, blob)
            c1, s1 = cpu_seconds(proc.pid), proc_stat()
            d = [b - a for a, b in zip(s0, s1)]
            busy = 100.0 * (sum(d) - d[3] - d[4]) / sum(d)
            rows.append((mbps, c1 - c0, busy, 100.0 * d[4] / sum(d)))
            print("  %-6s %5.0f MB/s  server CPU %.2f s  CPUs busy %3.0f%%  iowait %3.0f%%" % ((name,) + rows[-1]),
                  flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--uploads", type=int, default=3, help="uploads per server")
    ap.add_argument("--sets", type=int, default=2, help="servers per binary")
    ap.add_argument("--before-bin", help="another berth to compare with")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="berth-upload.", dir=os.environ.get("BENCH_DIR"))
    try:
        print("load average before: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
        mb = a.size_mb
        disk = {"direct": dd(os.path.join(work, "dd"), mb, ["oflag=direct", "conv=fdatasync"]),
                "buffered": dd(os.path.join(work, "dd"), mb, ["conv=fdatasync"])}
        print("disk: %d MiB with dd: one write at a time (oflag=direct) %.0f MB/s, through the page cache "
              "(conv=fdatasync) %.0f MB/s" % (mb, disk["direct"], disk["buffered"]))
        blob = os.path.join(work, "blob")
        with open(blob, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(mb):
                f.write(chunk)
        bins = [("now", os.environ.get("BERTH_BIN") or os.path.join(os.path.dirname(HERE), "build", "berth"))]
        if a.before_bin:
            bins.append(("before", a.before_bin))
        rows = {k: [] for k, _ in bins}
        for i in range(a.sets):
            order = bins if i % 2 == 0 else bins[::-1]
            for name, binary in order:
                rows[name] += one_set(work, name, binary, blob, a.uploads)
        print("\n%-7s %s" % ("", "median MB/s (range)      server CPU s   CPUs busy   iowait   of buffered dd"))
        for name, _ in bins:
            r = rows[name]
            med = statistics.median(x[0] for x in r)
            print("%-7s %6.0f (%4.0f-%4.0f)        %5.2f        %4.0f%%      %4.0f%%     %3.0f%%" % (
                name, med, min(x[0] for x in r), max(x[0] for x in r), statistics.median(x[1] for x in r),
                statistics.median(x[2] for x in r), statistics.median(x[3] for x in r), 100 * med / disk["buffered"]))
        print()
        print("upload_disk_direct_mbps=%.0f" % disk["direct"])
        print("upload_disk_buffered_mbps=%.0f" % disk["buffered"])
        for name, _ in bins:
            print("upload_%s_mbps=%.0f" % (name, statistics.median(x[0] for x in rows[name])))
            print("upload_%s_cpu_s=%.2f" % (name, statistics.median(x[1] for x in rows[name])))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
