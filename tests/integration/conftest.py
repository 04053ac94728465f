"""Integration harness: start the real berth on a loopback port and drive it with real clients.

By default a session-scoped server is started from BERTH_BIN (default <repo>/build/berth) with
a fresh temporary data directory and fixed root credentials; nothing is built here. To run
the suite against a server that is already running (as redis tests do with --host/--port):

    BERTH_URL=http://127.0.0.1:5000 BERTH_ROOT_ACCESS_KEY_ID=... BERTH_ROOT_SECRET_ACCESS_KEY=... \
        /usr/bin/python3 -m pytest tests/integration

(credentials may instead come from BERTH_CREDENTIALS_FILE, the INI that berth writes to
DATA/credentials).

BERTH_TEST_BLOB_STORE=s3 puts every server's blobs in a Ceph RGW that the session starts
(scripts/rgw.sh), each data directory under a key prefix of its own, with blob downloads
proxied (BERTH_TEST_BLOB_REDIRECT=on for 307s to presigned URLs instead). Tests that need a server of their own (restarts) use `berth_factory`,
which always starts BERTH_BIN.

BERTH_TEST_FRONT=nginx (make test-scale, with the two above) makes every server the suite
starts two berth processes on one data directory -- one database, one key file, one bucket
prefix: one registry -- behind nginx running deploy/nginx/berth.conf (nginxserver.py), which
alternates requests between them. Tests see one server (ServerPair) at nginx's address; its
stop, restart and kill act on both processes.

Two helpers are the only places that know how the registry is entered, so that the move
to ECR-style login and explicit repositories changes nothing else:
  registry_credentials(server) -> (user, password)
  create_repository(name, server)
"""

import atexit
import configparser
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_BIN = REPO_ROOT / "build" / "berth"

ACCOUNT_ID = os.environ.get("BERTH_TEST_ACCOUNT_ID", "123456789012")
ACCESS_KEY_ID = os.environ.get("BERTH_TEST_ACCESS_KEY_ID", "AKIABERTHTESTROOT001")
SECRET_ACCESS_KEY = os.environ.get("BERTH_TEST_SECRET_ACCESS_KEY", "berth/test/root/secret/" + "x" * 17)
REGION = os.environ.get("BERTH_REGION", "us-east-1")
START_TIMEOUT = float(os.environ.get("BERTH_TEST_START_TIMEOUT", "30"))

# Every server this session started, so that failures can show their logs.
_SERVERS = []

# BERTH_TEST_DATABASE=postgresql runs the whole suite on PostgreSQL (make test-pg): the session
# starts its own server (pgserver.py) before the test modules are imported, because several read
# BERTH_BIN at import, and every berth gets a database of its own.
DATABASE = os.environ.get("BERTH_TEST_DATABASE", "sqlite")
FRONT = os.environ.get("BERTH_TEST_FRONT", "")


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): the test looks at SQLite itself; skipped on PostgreSQL")
    if FRONT not in ("", "nginx"):
        raise pytest.UsageError(f"BERTH_TEST_FRONT={FRONT!r}: only 'nginx' is known")
    if FRONT and (DATABASE != "postgresql" or os.environ.get("BERTH_TEST_BLOB_STORE") != "s3"):
        raise pytest.UsageError("BERTH_TEST_FRONT=nginx needs BERTH_TEST_DATABASE=postgresql and BERTH_TEST_BLOB_STORE=s3 "
                                "(two servers share one database and one bucket)")
    if DATABASE == "postgresql":
        sys.path.insert(0, str(HERE))
        import pgserver
        if not os.environ.get("TESTPG_URL"):
            pgserver.start_for_session(os.environ.get("BERTH_BIN", str(DEFAULT_BIN)))
        else:
            # a pytest-xdist worker: the controller started the server (the `pg` fixture and
            # test_readme.py use it, rather than a server of their own or none)
            pgserver.attach_for_session()


def pytest_unconfigure(config):
    if DATABASE == "postgresql":
        import pgserver
        pgserver.stop_for_session()


def metadata_db(data_dir):
    """The metadata database of a data directory, whichever engine the session runs on, as a
    connection whose execute(sql, params) returns a cursor (SQL both engines accept; `?`
    placeholders). For tests that check what berth stored."""
    if DATABASE != "postgresql":
        import sqlite3
        return sqlite3.connect(Path(data_dir) / "berth.db")
    import hashlib
    import psycopg2
    abs_path = os.path.realpath(str(data_dir))
    name = "b_" + hashlib.md5(abs_path.encode()).hexdigest()[:24]

    class Conn:
        def __init__(self):
            self.c = psycopg2.connect(f"{os.environ['TESTPG_URL']}/{name}")
            self.c.autocommit = True

        def execute(self, sql, params=()):
            cur = self.c.cursor()
            cur.execute(sql.replace("?", "%s"), params)
            return cur

        def commit(self):
            pass

        def close(self):
            self.c.close()

    return Conn()


# What cannot hold with two processes behind nginx on S3 (BERTH_TEST_FRONT=nginx), by node id
# prefix: these test one process, or a client speaking to berth itself, or the file blob store.
FRONT_DESELECT = {
    "test_archive_dir.py::": "--archive-dir is refused with an s3 blob store",
    "test_ecr_layers.py::test_download_url_fetches_the_layer_without_credentials":
        "on S3, GetDownloadUrlForLayer hands out the object store's presigned URL, not berth's (test_s3.py)",
    "test_ecr_layers.py::test_tampered_expired_and_other_repository_urls_are_refused": "the same",
    "test_hostile_http.py::test_presigned_url_reads_one_blob_and_nothing_else": "the same",
    "test_hostile_http.py::test_silent_and_slowloris_connections_do_not_slow_other_clients":
        "slow and silent clients meet nginx, which holds them (its client_header_timeout); berth never sees them",
    "test_hostile_http.py::test_header_timeout_closes_slow_and_silent_clients": "the same",
    "test_hostile_http.py::test_connection_limits":
        "--max-connections and --max-connections-per-ip count nginx's connections to berth, not the clients'",
    "test_hostile_http.py::test_buffered_bodies_share_one_budget":
        "raw sockets that stall bodies to fill berth's buffer budget: nginx, between them and berth, streams and "
        "times them out on its own terms",
    "test_auth_base.py::test_malformed_authorization_is_401[Basic AAAA":
        "a header of 10,000 bytes: nginx refuses it itself (large_client_header_buffers 8k) with its own 400",
    "test_blobs.py::test_hostile_paths_are_refused_cleanly":
        "nginx resolves '..' and refuses some encodings itself: berth never sees these paths",
    "test_crash.py::test_nothing_is_acknowledged_or_collected_before_it_is_on_disk":
        "strace of one process's system calls (its fsyncs of SQLite's WAL and of blob files): the pair has two, on "
        "PostgreSQL and S3",
    "test_crash.py::test_kill9_right_after_a_blob_is_renamed_into_place":
        "strace holds one process at its rename of a blob file: on S3 a blob is never a renamed file",
    "test_operations.py::test_metrics_on_their_own_listener_behind_a_bearer_token":
        "--metrics-listen is each process's own address beside nginx: two processes cannot bind one port",
    "test_operations.py::test_sigterm_finishes_requests_in_flight_then_exits_0_and_uploads_resume":
        "one process's graceful shutdown (its listener closing, its exit status); nginx keeps listening "
        "(test_multi.py moves uploads between servers)",
    "test_console_api.py::test_secure_cookie_under_https_and_the_limit_per_address":
        "plays the trusted proxy itself (X-Forwarded-For, X-Forwarded-Proto: https); nginx, in front, sets both "
        "headers to what it saw (deploy/nginx/berth.conf)",
}


def pytest_collection_modifyitems(config, items):
    if FRONT == "nginx":
        keep, gone = [], []
        for item in items:
            nodeid = item.nodeid.split("tests/integration/", 1)[-1]
            (gone if any(nodeid.startswith(k) for k in FRONT_DESELECT) else keep).append(item)
        if gone:
            config.hook.pytest_deselected(items=gone)
            items[:] = keep
    if DATABASE != "postgresql":
        return
    for item in items:
        m = item.get_closest_marker("sqlite_only")
        if m:
            item.add_marker(pytest.mark.skip(reason="SQLite only: " + (m.args[0] if m.args else "")))


# ---------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------

def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.fail(f"required tool {name!r} is not installed: run `make deps` (scripts/deps.sh installs it)",
                    pytrace=False)
    return path


def _redact(text: str, secrets_=()) -> str:
    for s in secrets_:
        if s:
            text = text.replace(s, "***")
    return text


def run(cmd, *, env=None, timeout=120, check=True, input=None, cwd=None, redact=()):
    """Run a CLI tool; fail the test (with its output) on a non-zero exit or a timeout."""
    cmd = [str(c) for c in cmd]
    require_tool(cmd[0])
    shown = _redact(" ".join(cmd), redact)
    try:
        p = subprocess.run(cmd, env=env, input=input.encode() if isinstance(input, str) else input,
                           capture_output=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")[-3000:]
        err = (e.stderr or b"").decode(errors="replace")[-3000:]
        pytest.fail(f"timed out after {timeout}s: {shown}\nstdout:\n{out}\nstderr:\n{_redact(err, redact)}")
    p.stdout = p.stdout.decode(errors="replace")
    p.stderr = p.stderr.decode(errors="replace")
    if check and p.returncode != 0:
        pytest.fail(f"exit {p.returncode}: {shown}\nstdout:\n{_redact(p.stdout[-4000:], redact)}\n"
                    f"stderr:\n{_redact(p.stderr[-4000:], redact)}")
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(n=4) -> str:
    return secrets.token_hex(n)


def repo_name_for(nodename: str, prefix: str = "itest") -> str:
    """A fresh repository name that follows ECR's pattern, derived from a test's name."""
    slug = re.sub(r"[^a-z0-9]+", "-", nodename.lower()).strip("-")[:60].strip("-") or "t"
    return f"{prefix}/{slug}-{token(3)}"


# ---------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------

def _await_v2(url, timeout, check=None):
    """Polls GET <url>/v2/ until it answers 200 or 401 (None) or timeout seconds pass (then what
    it saw last); check() runs before each try, to give up sooner."""
    deadline = time.monotonic() + timeout
    last = "nothing"
    while time.monotonic() < deadline:
        if check:
            check()
        try:
            r = requests.get(url + "/v2/", timeout=2)
            if r.status_code in (200, 401):
                return None
            last = f"GET /v2/ -> {r.status_code}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.05)
    return last


class BerthServer:
    """One berth process on 127.0.0.1 with its own data directory; can be stopped and restarted."""

    def __init__(self, binary, data_dir, port=None, account_id=ACCOUNT_ID, access_key=ACCESS_KEY_ID,
                 secret=SECRET_ACCESS_KEY, region=REGION, extra_env=None, extra_args=()):
        self.binary = Path(binary)
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.account_id = account_id
        self.access_key = access_key
        self.secret = secret
        self.region = region
        self.extra_env = dict(extra_env or {})
        self.extra_args = list(extra_args)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.proc = None
        self.starts = 0
        self.external = False

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self):
        if not self.binary.exists():
            pytest.fail(f"berth binary {self.binary} does not exist: build it with `make` "
                        f"(or set BERTH_BIN / BERTH_URL)", pytrace=False)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for k in ("BERTH_URL", "BERTH_LISTEN", "BERTH_DATA", "BERTH_ACCOUNT_ID", "BERTH_ROOT_ACCESS_KEY_ID",
                  "BERTH_ROOT_SECRET_ACCESS_KEY"):
            env.pop(k, None)
        # Empty values mean "let berth generate them" (first-start behaviour).
        for k, v in (("BERTH_ACCOUNT_ID", self.account_id), ("BERTH_ROOT_ACCESS_KEY_ID", self.access_key),
                     ("BERTH_ROOT_SECRET_ACCESS_KEY", self.secret), ("BERTH_REGION", self.region)):
            if v:
                env[k] = v
        env.update(self.extra_env)
        cmd = [str(self.binary), "serve", "--listen", self.host, "--data", str(self.data_dir),
               "--region", self.region, "--log-level", os.environ.get("BERTH_TEST_LOG_LEVEL", "debug")]
        cmd += self.extra_args
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts}: {' '.join(cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        log.close()
        if self not in _SERVERS:
            _SERVERS.append(self)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        def exited():
            if self.proc.poll() is not None:
                pytest.fail(f"berth exited with status {self.proc.returncode} during start-up\n{self.log_tail()}",
                            pytrace=False)

        last = _await_v2(self.url, timeout, exited)
        if last is None:
            return
        self.stop()
        pytest.fail(f"berth did not answer GET /v2/ within {timeout}s (last: {last})\n{self.log_tail()}",
                    pytrace=False)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15, sig=signal.SIGTERM):
        """Stop (SIGTERM, then SIGKILL); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        rc = self.proc.returncode
        with open(self.log_path, "ab") as log:
            log.write(f"===== exited with status {rc}\n".encode())
        return rc

    def kill(self):
        return self.stop(timeout=10, sig=signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig=sig)
        return self.start()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=80) -> str:
        text = self.log_text().splitlines()[-lines:]
        return _redact(f"--- berth log {self.log_path} (last {len(text)} lines) ---\n" + "\n".join(text), [self.secret])

    def sanitizer_reports(self) -> list:
        text = self.log_text()
        return [m for m in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                            "ThreadSanitizer", "Segmentation fault", "BUG:") if m in text]


class ServerPair:
    """Two berth processes on one data directory behind nginx (BERTH_TEST_FRONT=nginx), as one
    server: its address is nginx's; start, stop, restart and kill act on both; the log is both
    logs; proc is the first process's (signals and /proc reads reach one of the two)."""

    external = False

    def __init__(self, binary, data_dir, **kwargs):
        extra_args = list(kwargs.pop("extra_args", ())) + ["--trusted-proxies", "127.0.0.1"]
        # two ports picked before either process binds: the same one twice is possible
        ports = [kwargs.pop("port", None) or free_port()]
        while len(ports) < 2:
            ports += [p for p in [free_port()] if p not in ports]
        self.members = [BerthServer(binary, data_dir, port=p, extra_args=extra_args, **kwargs) for p in ports]
        # the second process logs beside the first
        self.members[1].log_path = self.members[0].log_path.with_suffix(".2.log")
        first = self.members[0]
        self.binary, self.data_dir, self.log_path = first.binary, first.data_dir, first.log_path
        self.account_id, self.access_key, self.secret = first.account_id, first.access_key, first.secret
        self.region = first.region
        # one environment for both, so that what a test changes before a restart changes both
        self.members[1].extra_env = first.extra_env
        self.nginx = None

    @property
    def extra_env(self) -> dict:
        return self.members[0].extra_env

    @property
    def extra_args(self) -> list:
        return self.members[0].extra_args

    @extra_args.setter
    def extra_args(self, args):
        """A test's new arguments for the next start, for both processes (still behind the proxy)."""
        args = list(args) + ["--trusted-proxies", "127.0.0.1"]
        for m in self.members:
            m.extra_args = list(args)

    @property
    def proc(self):
        return self.members[0].proc

    @property
    def starts(self):
        return self.members[0].starts

    @property
    def port(self):
        return self.nginx.plain_port

    @property
    def host(self) -> str:
        # before nginx runs (a process failed to start) the first process's, for messages
        return self.nginx.host if self.nginx else self.members[0].host

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self):
        for m in self.members:
            m.start()
        if self.nginx is None:
            import nginxserver
            self.nginx = nginxserver.Nginx([m.host for m in self.members]).start()
        else:
            # requests that met both processes dead (a kill under load) made nginx's workers leave
            # each alone for fail_timeout (10 s), answering 502 meanwhile: fresh workers do not
            self.nginx.reload()
            self._wait_front()
        return self

    def _wait_front(self, timeout=START_TIMEOUT):
        """Until nginx forwards to the pair."""
        last = _await_v2(self.url, timeout)
        if last is not None:
            pytest.fail(f"nginx did not forward to the restarted pair within {timeout}s (last: {last})",
                        pytrace=False)

    def wait_ready(self, timeout=START_TIMEOUT):
        for m in self.members:
            m.wait_ready(timeout)

    def alive(self) -> bool:
        return all(m.alive() for m in self.members)

    def stop(self, timeout=15, sig=signal.SIGTERM):
        rcs = [m.stop(timeout=timeout, sig=sig) for m in self.members]
        return next((rc for rc in rcs if rc not in (0, None)), rcs[0])

    def kill(self):
        return self.stop(timeout=10, sig=signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig=sig)
        return self.start()

    def close(self):
        if self.nginx:
            self.nginx.stop()
            self.nginx = None

    def log_text(self) -> str:
        return "\n".join(m.log_text() for m in self.members)

    def log_tail(self, lines=80) -> str:
        return "\n".join(m.log_tail(lines // 2) for m in self.members)

    def sanitizer_reports(self) -> list:
        return [r for m in self.members for r in m.sanitizer_reports()]


def processes(server) -> list:
    """The berth processes a server is: its two under BERTH_TEST_FRONT=nginx, else itself. For
    tests of what each process holds (its metrics, its signals), with each one's url and proc."""
    return list(getattr(server, "members", [server]))


def process_metrics(server, name, **labels) -> list:
    """For each of the server's processes (each counts its own), the sum of its /metrics samples
    called name whose labels include labels, read with a real Prometheus text parser."""
    from prometheus_client.parser import text_string_to_metric_families

    out = []
    for p in processes(server):
        n = 0.0
        for fam in text_string_to_metric_families(requests.get(p.url + "/metrics", timeout=10).text):
            for sample in fam.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    n += sample.value
        out.append(n)
    return out


def migration_sql(marker) -> str:
    """The SQLite text of the migration in src/store/store.c whose comment says marker: its string
    literals joined, or, for a migration written as a macro (NAME("INTEGER")), the macro's literals
    with its parameter as the argument. Later migrations of other areas follow an area's, so a test
    cannot rewind user_version to re-run one; it runs the same SQL on a database taken back to the
    schema before it."""
    src = (Path(__file__).resolve().parents[2] / "src" / "store" / "store.c").read_text()
    start = src.index("*/", src.index(marker)) + 2
    end = min(src.index("/* ", start), src.index("};", start))
    literal = r'"((?:[^"\\]|\\.)*)"'
    call = re.match(r"\s*([A-Z_]+)\(" + literal + r"\)", src[start:end])
    if not call:
        return "".join(re.findall(literal, src[start:end]))
    define = src.index(f"#define {call.group(1)}(")
    param = re.match(r"#define \w+\((\w+)\)", src[define:]).group(1)
    body = src[define:src.index("\n\n", define)].split("\n", 1)[1]
    return "".join(call.group(2) if word else lit for lit, word in re.findall(literal + rf"|\b({param})\b", body))


# A client's own address, not the trusted proxy's: under BERTH_TEST_FRONT=nginx every berth trusts
# 127.0.0.1 (nginx's address) as its proxy, and treats its connections as a proxy's (it believes
# X-Forwarded-For, and drains up to 64 MiB of a body before an early answer). All of 127/8 is
# loopback on Linux.
CLIENT_ADDRESS = "127.0.0.2"


def direct_connection(server, timeout=10) -> socket.socket:
    """A raw TCP connection to a berth process of the server itself (its first, behind no proxy)
    from CLIENT_ADDRESS: for tests of what berth does with a client's connection, which a proxy
    in front would meet instead."""
    return socket.create_connection(("127.0.0.1", processes(server)[0].port), timeout=timeout,
                                    source_address=(CLIENT_ADDRESS, 0))


class ExternalServer:
    """A berth started by someone else (BERTH_URL)."""

    external = True

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.host = self.url.split("://", 1)[1]
        self.port = int(self.host.rsplit(":", 1)[1]) if ":" in self.host else 80
        self.region = REGION
        self.account_id = os.environ.get("BERTH_ACCOUNT_ID", "")
        self.access_key = os.environ.get("BERTH_ROOT_ACCESS_KEY_ID", "")
        self.secret = os.environ.get("BERTH_ROOT_SECRET_ACCESS_KEY", "")
        cred_file = os.environ.get("BERTH_CREDENTIALS_FILE")
        if cred_file and not (self.access_key and self.secret):
            ini = configparser.ConfigParser()
            ini.read(cred_file)
            section = ini["berth"] if "berth" in ini else ini[ini.sections()[0]]
            self.access_key = section.get("aws_access_key_id", "")
            self.secret = section.get("aws_secret_access_key", "")
            self.account_id = self.account_id or section.get("account_id", "")
        if not (self.access_key and self.secret):
            pytest.fail("BERTH_URL is set but no credentials: set BERTH_ROOT_ACCESS_KEY_ID and "
                        "BERTH_ROOT_SECRET_ACCESS_KEY, or BERTH_CREDENTIALS_FILE", pytrace=False)

    def alive(self):
        return True

    def log_tail(self, lines=80):
        return "(external server: no log)"

    def sanitizer_reports(self):
        return []


RGW_SCRIPT = REPO_ROOT / "scripts" / "rgw.sh"


class Rgw:
    """A single-node Ceph cluster with radosgw (scripts/rgw.sh), for blobs on S3."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)
        p = subprocess.run(["sh", str(RGW_SCRIPT), "start", str(self.dir)], capture_output=True, timeout=180)
        if p.returncode != 0:
            pytest.fail(f"scripts/rgw.sh start failed ({p.returncode}):\n{p.stderr.decode(errors='replace')[-3000:]}",
                        pytrace=False)
        env = dict(line.split("=", 1) for line in (self.dir / "env").read_text().split())
        self.endpoint = env["RGW_ENDPOINT"]
        self.access_key = env["RGW_ACCESS_KEY"]
        self.secret_key = env["RGW_SECRET_KEY"]
        self.bucket = env["RGW_BUCKET"]

    def gateway_pid(self) -> int:
        return int((self.dir / "run" / "client.rgw.pid").read_text().strip())

    def kill_gateway(self):
        """SIGKILL radosgw (the cluster stays) and wait until its port is closed."""
        pid = self.gateway_pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def start_gateway(self):
        p = subprocess.run(["sh", str(RGW_SCRIPT), "gateway", str(self.dir)], capture_output=True, timeout=120)
        if p.returncode != 0:
            pytest.fail(f"scripts/rgw.sh gateway failed:\n{p.stderr.decode(errors='replace')[-3000:]}", pytrace=False)

    def stop(self):
        subprocess.run(["sh", str(RGW_SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=60)

    def s3(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key)

    def blob_env(self, data_dir, redirect=None, prefix=None) -> dict:
        """berth's environment for blobs in this RGW, under a prefix of the data directory's own
        (servers sharing a data directory share it)."""
        prefix = prefix or "b" + hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
        if redirect is None:
            redirect = os.environ.get("BERTH_TEST_BLOB_REDIRECT", "off")
        return {
            "BERTH_BLOB_STORE": f"s3://{self.bucket}/{prefix}?endpoint={self.endpoint}&region=us-east-1&path_style=1",
            "BERTH_S3_ACCESS_KEY_ID": self.access_key,
            "BERTH_S3_SECRET_ACCESS_KEY": self.secret_key,
            "BERTH_BLOB_REDIRECT": redirect,
        }


@pytest.fixture(scope="module")
def pg():
    """A PostgreSQL for a module's servers: the session's (make test-pg), or one of its own."""
    import pgserver
    if pgserver.SERVER:
        yield pgserver.SERVER
        return
    srv = pgserver.PostgresServer().start()
    yield srv
    srv.cleanup()


@pytest.fixture(scope="session")
def rgw(tmp_path_factory):
    """Ceph RGW for the session; stopped (and its directory removed) at the end."""
    require_tool("radosgw")
    gw = Rgw(tmp_path_factory.mktemp("rgw") / "ceph")
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def berth_factory(tmp_path_factory, request):
    """Start extra berth instances: factory(**kwargs) -> BerthServer (stopped at session end)."""
    started = []
    on_s3 = os.environ.get("BERTH_TEST_BLOB_STORE") == "s3"

    def factory(data_dir=None, **kwargs):
        binary = Path(os.environ.get("BERTH_BIN", DEFAULT_BIN))
        data_dir = data_dir or (tmp_path_factory.mktemp("berth") / "data")
        if on_s3 and "BERTH_BLOB_STORE" not in (kwargs.get("extra_env") or {}):
            kwargs["extra_env"] = {**request.getfixturevalue("rgw").blob_env(data_dir), **(kwargs.get("extra_env") or {})}
        srv = (ServerPair if FRONT == "nginx" else BerthServer)(binary, data_dir, **kwargs)
        started.append(srv)
        return srv.start()

    factory.started = started
    yield factory
    _stop_servers(started)


def _stop_servers(servers):
    """Stops servers not stopped and checked yet; fails naming any that crashed or reported a sanitizer error."""
    problems = []
    for srv in servers:
        if getattr(srv, "checked", False):
            continue
        srv.checked = True
        crashed = srv.proc is not None and srv.proc.poll() is not None and srv.proc.returncode not in (0, -15)
        rc = srv.stop()
        if isinstance(srv, ServerPair):
            srv.close()
        reports = srv.sanitizer_reports()
        if reports or crashed or rc not in (0, -signal.SIGTERM, None):
            bugs = [line for line in srv.log_text().splitlines() if "BUG:" in line][:10]
            problems.append(f"berth on {srv.host} exited with status {rc}; log mentions {reports}\n{srv.log_tail(200)}"
                            + "".join(f"\n{line}" for line in bugs))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture(scope="module", autouse=True)
def _module_servers(berth_factory):
    """Servers a module started are stopped (and checked) when the module ends, not at the end of the
    session: several hundred MiB each under ASan, a whole suite's worth would not fit in memory."""
    first = len(berth_factory.started)
    yield
    _stop_servers([srv for srv in berth_factory.started[first:] if not getattr(srv, "shared", False)])


@pytest.fixture(scope="session")
def berth(berth_factory):
    """The shared server: BERTH_URL if set, else a fresh berth from BERTH_BIN."""
    url = os.environ.get("BERTH_URL")
    if url:
        srv = ExternalServer(url)
        r = requests.get(srv.url + "/v2/", timeout=5)
        assert r.status_code in (200, 401), f"BERTH_URL {url}: GET /v2/ -> {r.status_code}"
        return srv
    srv = berth_factory()
    srv.shared = True
    return srv


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """After every test, the shared server must still be running: a crash fails the test that caused it."""
    yield
    for srv in list(_SERVERS):
        if srv.proc is not None and srv.proc.poll() is not None and not getattr(srv, "_stopped_by_test", False):
            # Only servers that a test did not stop on purpose count.
            if srv.proc.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                srv._stopped_by_test = True
                pytest.fail(f"berth on {srv.host} died (status {srv.proc.returncode})\n{srv.log_tail()}",
                            pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _SERVERS:
        for srv in _SERVERS:
            rep.sections.append((f"berth {srv.host}", srv.log_tail(60)))


# ---------------------------------------------------------------------------------------
# Entering the registry: the two helpers that change when ECR-style auth lands
# ---------------------------------------------------------------------------------------

def registry_credentials(server, access_key=None, secret=None):
    """(user, password) for HTTP Basic on /v2 as the given principal (default: the root key).

    As ECR: username "AWS" and the password from `aws ecr get-login-password
    --endpoint-url <server>` signed with that key (/v2 takes nothing else).
    """
    access_key = access_key or server.access_key
    secret = secret or server.secret
    if os.environ.get("BERTH_TEST_AUTH") == "basic-key":
        # Only for pointing the suite at another registry (e.g. Distribution with htpasswd).
        return (access_key, secret)
    # Per server object, not per address: a later server in this worker may get the same port
    # with another signing key, and a password cached by address would be stale there.
    passwords = server.__dict__.setdefault("_ecr_passwords", {})
    key = (access_key, secret)
    if key not in passwords:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=access_key, AWS_SECRET_ACCESS_KEY=secret,
                   AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null",
                   AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        env.pop("AWS_SESSION_TOKEN", None)
        p = run(["aws", "ecr", "get-login-password", "--endpoint-url", server.url, "--region", server.region],
                env=env, timeout=60, redact=[secret])
        passwords[key] = p.stdout.strip()
    return ("AWS", passwords[key])


_ECR_CLIENTS = {}


def create_repository(name, server):
    """Make sure repository `name` exists before pushing to it: repositories are explicit, as
    in ECR (a push to a missing one is NAME_UNKNOWN), so this is ecr.create_repository."""
    import boto3

    key = (server.url, server.access_key, server.secret)
    if key not in _ECR_CLIENTS:
        _ECR_CLIENTS[key] = boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                                         aws_access_key_id=server.access_key,
                                         aws_secret_access_key=server.secret)
    ecr = _ECR_CLIENTS[key]
    try:
        ecr.create_repository(repositoryName=name)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    return name


# ---------------------------------------------------------------------------------------
# Per-test conveniences
# ---------------------------------------------------------------------------------------

@pytest.fixture
def reg(berth):
    from regclient import Registry

    return Registry(berth)


@pytest.fixture
def repo(request, berth):
    """A fresh repository name for this test, already created."""
    name = repo_name_for(request.node.name)
    create_repository(name, berth)
    return name


@pytest.fixture
def new_repo(request, berth):
    """A factory of fresh repository names for tests that need several."""

    def make(suffix=""):
        name = repo_name_for(request.node.name + ("-" + suffix if suffix else ""))
        create_repository(name, berth)
        return name

    return make


# ---------------------------------------------------------------------------------------
# Container tools with private configuration (nothing touches the user's global state)
# ---------------------------------------------------------------------------------------

class ContainerTools:
    """skopeo, podman and buildah with vfs storage, policy, registries.conf and auth under one tmp dir."""

    def __init__(self, base: Path, server):
        self.base = Path(base)
        self.server = server
        self.root = self.base / "storage"
        # podman refuses a runroot longer than 50 characters, which a test's tmp path under
        # pytest-xdist (popen-gwN/...) is: the runroot (sockets and locks only) lives in /tmp
        self.runroot = Path(tempfile.mkdtemp(prefix="berth-ct-", dir="/tmp"))
        atexit.register(shutil.rmtree, self.runroot, True)
        self.tmp = self.base / "tmp"
        self.home = self.base / "home"
        for d in (self.root, self.runroot, self.tmp, self.home, self.base / "xdg-run", self.base / "xdg-config",
                  self.base / "xdg-data"):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "xdg-run", 0o700)
        self.policy = self.base / "policy.json"
        self.policy.write_text('{"default":[{"type":"insecureAcceptAnything"}]}\n')
        self.registries_conf = self.base / "registries.conf"
        self.registries_conf.write_text(textwrap.dedent(f"""\
            unqualified-search-registries = []
            short-name-mode = "disabled"

            [[registry]]
            location = "{server.host}"
            insecure = true
            """))
        self.storage_conf = self.base / "storage.conf"
        self.storage_conf.write_text(textwrap.dedent(f"""\
            [storage]
            driver = "vfs"
            runroot = "{self.runroot}"
            graphroot = "{self.root}"
            """))
        self.containers_conf = self.base / "containers.conf"
        self.containers_conf.write_text(textwrap.dedent(f"""\
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            events_logfile_path = "{self.base / 'events.log'}"
            tmp_dir = "{self.tmp}"
            """))
        self.authfile = self.base / "auth.json"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "XDG_RUNTIME_DIR": str(self.base / "xdg-run"),
            "XDG_CONFIG_HOME": str(self.base / "xdg-config"),
            "XDG_DATA_HOME": str(self.base / "xdg-data"),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_REGISTRIES_CONF": str(self.registries_conf),
            "REGISTRIES_CONFIG_PATH": str(self.registries_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "REGISTRY_AUTH_FILE": str(self.authfile),
            "LC_ALL": "C.UTF-8",
        }

    def creds(self, access_key=None, secret=None) -> str:
        user, password = registry_credentials(self.server, access_key, secret)
        return f"{user}:{password}"

    def _redact(self):
        return [registry_credentials(self.server)[1], self.server.secret]

    def skopeo(self, *args, timeout=120, check=True):
        return run(["skopeo", "--policy", self.policy, "--registries-conf", self.registries_conf, *args],
                   env=self.env, timeout=timeout, check=check, redact=self._redact())

    def podman(self, *args, timeout=180, check=True, input=None):
        return run(["podman", "--root", self.root, "--runroot", self.runroot, "--storage-driver", "vfs",
                    "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", self.tmp, *args],
                   env=self.env, timeout=timeout, check=check, input=input, redact=self._redact())

    def buildah(self, *args, timeout=180, check=True, input=None):
        return run(["buildah", "--root", self.root, "--runroot", self.runroot, "--storage-driver", "vfs",
                    "--registries-conf", self.registries_conf, *args],
                   env=self.env, timeout=timeout, check=check, input=input, redact=self._redact())


@pytest.fixture(scope="session")
def ctools(berth, tmp_path_factory):
    for tool in ("skopeo", "podman", "buildah"):
        require_tool(tool)
    return ContainerTools(tmp_path_factory.mktemp("containers"), berth)


class DockerCLI:
    """The docker CLI without a daemon: only login and `manifest` subcommands, with a private config."""

    def __init__(self, base: Path, server):
        self.server = server
        self.config = Path(base) / "docker-config"
        self.config.mkdir(parents=True, exist_ok=True)
        (self.config / "config.json").write_text('{"auths":{}}\n')
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(base),
            "DOCKER_CONFIG": str(self.config),
            "DOCKER_HOST": "unix://" + str(Path(base) / "no-daemon.sock"),
            "DOCKER_CLI_EXPERIMENTAL": "enabled",
            "TMPDIR": str(base),
        }

    def __call__(self, *args, timeout=120, check=True, input=None):
        return run(["docker", *args], env=self.env, timeout=timeout, check=check, input=input,
                   redact=[registry_credentials(self.server)[1], self.server.secret])


@pytest.fixture(scope="session")
def docker_cli(berth, tmp_path_factory):
    require_tool("docker")
    return DockerCLI(tmp_path_factory.mktemp("docker"), berth)
