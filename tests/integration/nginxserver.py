"""nginx in front of berth servers, run from the repository's own load-balancer config
(deploy/nginx/berth.conf) for the tests that put several servers behind one address.

The shipped file is used as it is, with only its addresses, ports and certificate paths
replaced (each replacement must match, so a change to the file that a test would silently
stop exercising fails here instead): the upstream's example servers become the given berth
servers (same parameters), `listen 80` a loopback port for plain HTTP, `listen 443 ssl` one for
HTTPS with a self-signed certificate for 127.0.0.1 made here. A minimal nginx.conf around it
keeps everything (pid, logs, temporary files) in one directory. nginx runs in the foreground as
an unprivileged user (`berthtest`, created when missing, when the tests run as root) and is
stopped with its process id. The access log names the upstream of each request
(`upstreams()`), so tests can check that requests alternate between servers.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = HERE.parents[1] / "deploy" / "nginx" / "berth.conf"
USER = "berthtest"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
    return USER


def _sub(pattern, repl, text, count=1):
    out, n = re.subn(pattern, repl, text, flags=re.M)
    if n != count:
        raise RuntimeError(f"deploy/nginx/berth.conf: expected {count} match(es) of {pattern!r}, found {n}")
    return out


def render(upstreams, plain_port, tls_port, cert, key) -> str:
    """The shipped config with the test's addresses, ports and certificate."""
    text = CONF.read_text()
    m = re.search(r"^(\s*)server 10\.0\.0\.11:5000( [^;]*)?;\n", text, flags=re.M)
    if not m:
        raise RuntimeError("deploy/nginx/berth.conf: the upstream's first example server is gone")
    indent, params = m.group(1), m.group(2) or ""
    lines = "".join(f"{indent}server {u}{params};\n" for u in upstreams)
    text = text[:m.start()] + lines + text[m.end():]
    text = _sub(r"^\s*server 10\.0\.0\.12:5000[^;]*;\n", "", text)
    text = _sub(r"listen 443 ssl;", f"listen 127.0.0.1:{tls_port} ssl;", text)
    text = _sub(r"listen 80;", f"listen 127.0.0.1:{plain_port};", text)
    text = _sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
    text = _sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    return text


class Nginx:
    def __init__(self, upstreams):
        self.upstreams = list(upstreams)
        self.user = _user()
        self.dir = Path(tempfile.mkdtemp(prefix="berth-nginx-"))
        os.chmod(self.dir, 0o755)
        self.plain_port = _free_port()
        self.tls_port = _free_port()
        self.cert = self.dir / "tls.crt"
        self.key = self.dir / "tls.key"
        self.proc = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.plain_port}"

    @property
    def tls_host(self) -> str:
        return f"127.0.0.1:{self.tls_port}"

    def start(self):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-keyout", str(self.key), "-out", str(self.cert)], check=True, capture_output=True)
        (self.dir / "berth.conf").write_text(render(self.upstreams, self.plain_port, self.tls_port, self.cert,
                                                    self.key))
        d = self.dir
        (d / "nginx.conf").write_text(f"""\
daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format upstream '$request_method|$uri|$status|$upstream_addr|$upstream_status';
    access_log {d}/access.log upstream;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    include {d}/berth.conf;
}}
""")
        for p in d.iterdir():
            shutil.chown(p, self.user)
        shutil.chown(d, self.user)
        cmd = ["nginx", "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")]
        if os.geteuid() == 0:
            # setpriv execs nginx itself, so the process id is nginx's master
            cmd = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups", *cmd]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(d / "stderr.log", "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.plain_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen within 20 s:\n{self.log_tail()}")

    def _workers(self) -> set:
        try:
            return {int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()}
        except OSError:
            return set()

    def reload(self):
        """SIGHUP: nginx starts new workers, which know nothing of the upstreams' past failures (a
        worker that saw every server fail answers 502 for fail_timeout, however soon they are
        back), and retires the old ones; returns once the new ones run."""
        old = self._workers()
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if len(self._workers() - old) >= 2:  # worker_processes
                return
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not start new workers within 20 s of SIGHUP:\n{self.log_tail()}")

    def upstreams_seen(self) -> list:
        """(method, path, status, upstream addresses) of each request in the access log, oldest first."""
        out = []
        try:
            lines = (self.dir / "access.log").read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            parts = line.split("|")
            if len(parts) == 5:
                out.append((parts[0], parts[1], parts[2], parts[3]))
        return out

    def log_tail(self, n=40) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            try:
                text += (self.dir / name).read_text(errors="replace")
            except OSError:
                pass
        return "\n".join(text.splitlines()[-n:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # SIGQUIT: graceful (workers finish what they serve); SIGTERM after a while
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
