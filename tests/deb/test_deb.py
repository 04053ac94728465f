"""The Debian package (make deb), installed on this machine as an administrator would.

`make test-deb` builds build/berth_<version>_<arch>.deb and runs this file as root: it
installs the package with `apt-get install ./berth_....deb`, checks what it put where (the
binary, berth.service, the /etc/berth/berth.conf conffile, berth(1), the logrotate config,
the berth system user and its directories), verifies the unit with systemd-analyze, runs
the installed binary with the packaged config as the berth user (setpriv; the listen address
overridden to a free loopback port) and rotates its log with the packaged logrotate config,
then purges the package. The machine is left as it was found: what the package keeps on
purge by design (the data in /var/lib/berth and the berth user) is removed by the test when
it was not there before. The tests run in file order and share one installation.
"""

import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSION = re.search(r'#define BERTH_VERSION "([^"]+)"', (REPO_ROOT / "src/main.c").read_text()).group(1)
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
DEB = Path(os.environ.get("BERTH_DEB", REPO_ROOT / "build" / f"berth_{VERSION}_{ARCH}.deb"))

UNIT = Path("/lib/systemd/system/berth.service")
CONF = Path("/etc/berth/berth.conf")
LOGROTATE = Path("/etc/logrotate.d/berth")
WANTS = Path("/etc/systemd/system/multi-user.target.wants/berth.service")
DATA = Path("/var/lib/berth")
LOGS = Path("/var/log/berth")
PACKAGE_FILES = [Path("/usr/bin/berth"), UNIT, CONF, LOGROTATE, Path("/usr/share/man/man1/berth.1.gz"),
                 Path("/usr/lib/sysusers.d/berth.conf"), Path("/usr/lib/tmpfiles.d/berth.conf")]
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=300, **kw)


def installed() -> bool:
    r = run("dpkg-query", "-W", "-f=${Status}", "berth", check=False)
    return r.returncode == 0 and "ok installed" in r.stdout


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def package():
    if os.geteuid() != 0:
        pytest.fail("installing a package needs root: run `make test-deb` as root", pytrace=False)
    if not DEB.is_file():
        pytest.fail(f"{DEB} is missing: run `make deb`", pytrace=False)
    if installed():
        pytest.fail("berth is already installed here; this test would remove it", pytrace=False)
    before = {"user": user_exists("berth"), "group": group_exists("berth"), "data": DATA.exists(),
              "logs": LOGS.exists()}
    r = run("apt-get", "install", "-y", "--no-install-recommends", str(DEB.resolve()), env=APT_ENV, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        yield before
    finally:
        if installed():
            run("apt-get", "purge", "-y", "berth", env=APT_ENV, check=False)
        if not before["data"]:
            shutil.rmtree(DATA, ignore_errors=True)
        if not before["logs"]:
            shutil.rmtree(LOGS, ignore_errors=True)
        if not before["user"] and user_exists("berth"):
            run("userdel", "berth", check=False)
        if not before["group"] and group_exists("berth"):
            run("groupdel", "berth", check=False)


def test_files(package):
    for f in PACKAGE_FILES:
        assert f.is_file(), f
    assert os.access("/usr/bin/berth", os.X_OK)
    assert run("/usr/bin/berth", "version").stdout.strip() == f"berth {VERSION}"
    conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "berth").stdout
    assert re.search(r"^ /etc/berth/berth\.conf [0-9a-f]{32}$", conffiles, re.M), conffiles
    assert re.search(r"^ /etc/logrotate\.d/berth [0-9a-f]{32}$", conffiles, re.M), conffiles
    conf = CONF.read_text()
    assert re.search(r"^data = /var/lib/berth$", conf, re.M)
    assert re.search(r"^log-file = /var/log/berth/berth\.log$", conf, re.M)


def test_unit(package):
    unit = UNIT.read_text()
    for line in ["User=berth", "StateDirectory=berth", "LogsDirectory=berth", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ExecStart=/usr/bin/berth serve --config /etc/berth/berth.conf",
                 "ExecReload=/bin/kill -HUP $MAINPID", "WantedBy=multi-user.target"]:
        assert re.search("^" + re.escape(line) + "$", unit, re.M), line
    # Enabled on install as Debian does for services (deb-systemd-helper's symlink).
    assert WANTS.is_symlink() and os.readlink(WANTS) == str(UNIT)
    r = run("systemd-analyze", "verify", str(UNIT), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "berth.service" not in r.stderr, r.stderr


def test_man_page(package):
    assert run("man", "-w", "berth").stdout.strip() == "/usr/share/man/man1/berth.1.gz"
    page = run("man", "-P", "cat", "berth", env=dict(os.environ, MANWIDTH="100")).stdout
    assert "self-hosted container registry" in page
    assert "SERVE OPTIONS" in page and "--listen" in page and "BERTH_LOG_FILE" in page
    assert "/etc/berth/berth.conf" in page
    # The unit's Documentation= names it uncompressed.
    assert Path("/usr/share/doc/berth/deployment.md").is_file()
    assert "file:///usr/share/doc/berth/deployment.md" in UNIT.read_text()


def test_user_and_directories(package):
    u = pwd.getpwnam("berth")
    assert u.pw_uid < 1000, "berth is not a system user"
    assert u.pw_dir == str(DATA)
    assert u.pw_shell in ("/usr/sbin/nologin", "/sbin/nologin")
    for d in (DATA, LOGS):
        st = d.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (u.pw_uid, u.pw_gid, 0o750), d


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"berth exited {proc.returncode}: {proc.stderr.read()}"
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"berth did not answer {url}")


def test_serves_as_berth_user_and_rotates_log(package):
    port = free_port()
    # setpriv executes berth as the berth user in its own process (runuser would stay
    # the parent and keep SIGHUP from it).
    proc = subprocess.Popen(["setpriv", "--reuid=berth", "--regid=berth", "--init-groups", "/usr/bin/berth", "serve", "--config", str(CONF),
                             "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    try:
        r = wait_for(f"http://127.0.0.1:{port}/v2/", proc)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"].startswith("Basic")
        u = pwd.getpwnam("berth")
        creds = DATA / "credentials"
        st = creds.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (u.pw_uid, 0o600)
        assert "aws_access_key_id" in creds.read_text()
        log = LOGS / "berth.log"
        assert log.stat().st_uid == u.pw_uid
        assert f"berth {VERSION} listening on http://127.0.0.1:{port}" in log.read_text()

        # The packaged logrotate config moves the log away and creates a new one; SIGHUP
        # (what the config's postrotate sends through systemd) makes berth write to it.
        with tempfile.TemporaryDirectory() as tmp:
            r = run("logrotate", "--force", "--state", f"{tmp}/status", str(LOGROTATE), check=False)
            assert r.returncode == 0, r.stdout + r.stderr
        assert (LOGS / "berth.log.1").is_file()
        assert log.read_text() == ""
        st = log.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (u.pw_uid, 0o640)
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "/v2/" not in log.read_text() and time.monotonic() < deadline:
            requests.get(f"http://127.0.0.1:{port}/v2/", timeout=5)
            time.sleep(0.2)
        assert "/v2/" in log.read_text(), "berth did not reopen its log after SIGHUP"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert rc == 0, proc.stderr.read()


def test_reinstall_keeps_edited_config(package):
    edited = CONF.read_text().replace("log-level = info", "log-level = debug")
    assert edited != CONF.read_text()
    CONF.write_text(edited)
    r = run("apt-get", "install", "-y", "--reinstall", "--no-install-recommends", str(DEB.resolve()),
            env=APT_ENV, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert CONF.read_text() == edited
    assert not list(Path("/etc/berth").glob("berth.conf.dpkg-*"))


def test_purge(package):
    r = run("apt-get", "purge", "-y", "berth", env=APT_ENV, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not installed()
    assert run("dpkg-query", "-W", "-f=${Status}", "berth", check=False).returncode != 0, "dpkg still knows berth"
    for f in PACKAGE_FILES:
        assert not f.exists(), f
    assert not Path("/etc/berth").exists()
    assert not WANTS.exists() and not WANTS.is_symlink()
    assert not LOGS.exists(), "purge keeps the logs"
    # Kept by design (docs/deployment.md): the registry's data and the user owning it.
    assert (DATA / "credentials").is_file()
    assert user_exists("berth")
