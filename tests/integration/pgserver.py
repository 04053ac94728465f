"""A throw-away PostgreSQL server for the integration tests (BERTH_TEST_DATABASE=postgresql).

The server is Debian's PostgreSQL, initdb'ed into a temporary directory and run by an
unprivileged user (the server refuses root; the user `berthpg` is created when missing), on a
free loopback port, with durability off for speed (fsync, synchronous_commit and
full_page_writes: a crash of the test machine loses nothing anyone needs). It stops at the end
of the session.

Every berth the suite starts gets a database of its own: BERTH_BIN is replaced by
tests/integration/pg_berth.sh, which maps the command's data directory (--data, BERTH_DATA or
./data) to a database named after its path, creates that database on first use, and runs the
real binary with BERTH_DATABASE and BERTH_KEY_FILE (DIR/keys/master.key, where berth keeps it on
SQLite) set. A restart with the same data
directory finds the same database, as it finds the same berth.db on SQLite; a command run
against a data directory (berth fsck, berth gc, berth admin) reaches the server's database.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PG_BIN = Path(os.environ.get("BERTH_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "berthpg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(cmd, user):
    if os.geteuid() == 0:
        return ["runuser", "-u", user, "--", *cmd]
    return cmd


class PostgresServer:
    def __init__(self):
        self.dir = None
        self.port = None
        self.user = None

    def start(self, durable=False):
        """durable: fsync and synchronous commits on, as a production server runs (bench/multi.py);
        off by default, for the tests' speed."""
        self.durable = durable
        self.user = pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                               check=True)
            self.user = USER
        self.dir = Path(tempfile.mkdtemp(prefix="berth-pg-"))
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, self.user)
        data = self.dir / "cluster"
        subprocess.run(_as_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "berth", "--auth=trust",
                                 "--encoding=UTF8", "--locale=C", "--no-sync"], self.user),
                       check=True, capture_output=True)
        self.port = _free_port()
        self.restart_server()
        return self

    @property
    def base_url(self) -> str:
        # a password the tests look for in logs: berth must never print it (trust ignores it)
        return f"postgresql://berth:pg-secret-do-not-log@127.0.0.1:{self.port}"

    def url(self, dbname: str) -> str:
        return f"{self.base_url}/{dbname}"

    def psql(self, sql: str, db="postgres", check=True):
        return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "berth", "-d", db, "-qAtc",
                               sql], capture_output=True, text=True, check=check)

    def create_database(self, name: str):
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self, mode="fast"):
        if self.dir and (self.dir / "cluster" / "postmaster.pid").exists():
            subprocess.run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "cluster"), "-m", mode, "-w",
                                     "stop"], self.user), capture_output=True)

    def restart_server(self):
        """Starts the server again after stop() (same port, same data)."""
        data = self.dir / "cluster"
        durability = "" if getattr(self, "durable", False) else \
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        opts = (f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
                f"{durability}-c max_connections=1000 -c shared_buffers=64MB -c max_locks_per_transaction=256")
        subprocess.run(_as_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"),
                                 "-o", opts, "-w", "-t", "60", "start"], self.user), check=True, capture_output=True)

    def cleanup(self):
        self.stop("immediate")
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


SERVER = None

# The wrapper finds the server through these; they do not start with BERTH_ because several tests
# run berth with every BERTH_* variable removed (to see its defaults).


def start_for_session(real_bin: str):
    """Starts the server and points BERTH_BIN at the wrapper; returns the server."""
    global SERVER
    SERVER = PostgresServer().start()
    os.environ["TESTPG_URL"] = SERVER.base_url
    os.environ["TESTPG_PORT"] = str(SERVER.port)
    os.environ["TESTPG_BERTH_BIN"] = real_bin
    os.environ["BERTH_BIN"] = str(HERE / "pg_berth.sh")
    return SERVER


def attach_for_session():
    """The server that the session's controller started (start_for_session), as seen from a
    pytest-xdist worker, which inherits its environment but not SERVER: enough to create
    databases and run psql on it; the controller stops it, not this. None without one."""
    global SERVER
    if SERVER is None and os.environ.get("TESTPG_PORT"):
        SERVER = PostgresServer()
        SERVER.port = int(os.environ["TESTPG_PORT"])
    return SERVER


def stop_for_session():
    if SERVER and SERVER.dir:
        SERVER.cleanup()
