"""Several berth servers on one PostgreSQL database (issue 10 §2, §4 metadata half): the checks
that were check-then-write under SQLite's single writer stay exact when two servers race (an
immutable tag is overwritten by exactly one push; a repository-count quota holds), every
server needs the same key file (refused without one, refused when it differs), a token from one
server works on the other, GC runs on one server at a time, `berth migrate`, and the password
of the database URL never reaches a log.

These tests start a PostgreSQL of their own (pgserver.py) unless the session already runs on
one (BERTH_TEST_DATABASE=postgresql), and give each test its own database."""

import os
import re
import subprocess
import threading
import time

import boto3
import pytest
import requests

import images
import pgserver
from conftest import DEFAULT_BIN, create_repository, registry_credentials
from regclient import Registry, describe


@pytest.fixture
def registry(pg, berth_factory, tmp_path):
    """start(n, *extra) -> n servers on one fresh database with one shared key file."""
    url = pg.create_database("t_" + images.token(12).lower())
    key = tmp_path / "registry.key"

    def start(n=2, *extra):
        return [berth_factory(extra_args=["--database", url, "--key-file", str(key), *extra]) for _ in range(n)]

    start.url = url
    start.key = key
    return start


def ecr(server):
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret)


def race(calls):
    """Runs every call at once (a barrier before each); returns their results in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def go(i, fn):
        barrier.wait()
        out[i] = fn()

    threads = [threading.Thread(target=go, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_a_push_through_one_server_is_pulled_through_the_other(registry):
    a, b = registry(2)
    repo = create_repository("shared/pull", a)
    img = images.make_image(label="shared")
    Registry(a).push_image(repo, img, tag="v1")
    # the metadata is shared at once; the bytes live in each server's own blob store (S3 is the
    # other half of issue 10), so b is given them
    for blob in img.blobs:
        Registry(b).push_blob(repo, blob)
    r = Registry(b).get_manifest(repo, "v1")
    assert r.status_code == 200, describe(r)
    assert r.headers["Docker-Content-Digest"] == img.digest
    tags = ecr(b).list_images(repositoryName=repo)["imageIds"]
    assert [t.get("imageTag") for t in tags] == ["v1"]


def test_two_servers_racing_to_overwrite_an_immutable_tag_one_wins(registry):
    a, b = registry(2)
    ecr(a).create_repository(repositoryName="shared/immutable", imageTagMutability="IMMUTABLE")
    regs = [Registry(a), Registry(b)]
    for round_ in range(4):
        imgs = [images.make_image(label=f"race-{round_}-{i}") for i in range(8)]
        for img in imgs:
            for reg in regs:
                for blob in img.blobs:
                    reg.push_blob("shared/immutable", blob)
        tag = f"r{round_}"
        calls = [lambda reg=regs[i % 2], img=img: reg.put_manifest("shared/immutable", tag, img.manifest,
                                                                  img.media_type)
                 for i, img in enumerate(imgs)]
        results = race(calls)
        codes = [r.status_code for r in results]
        assert codes.count(201) == 1, codes
        assert all(c == 400 for c in codes if c != 201), [describe(r) for r in results]
        winner = imgs[codes.index(201)].digest
        for reg in regs:
            assert reg.get_manifest("shared/immutable", tag).headers["Docker-Content-Digest"] == winner


def test_repository_count_quota_holds_across_servers(registry):
    a, b = registry(2, "--max-repositories", "3")
    clients = [ecr(a), ecr(b)]

    def create(i):
        try:
            clients[i % 2].create_repository(repositoryName=f"quota/r{i}")
            return "created"
        except clients[i % 2].exceptions.LimitExceededException:
            return "limit"

    results = race([lambda i=i: create(i) for i in range(10)])
    assert results.count("created") == 3, results
    assert results.count("limit") == 7, results
    for c in clients:
        assert len(c.describe_repositories()["repositories"]) == 3


def test_a_login_token_from_one_server_works_on_the_other(registry):
    a, b = registry(2)
    repo = create_repository("shared/token", a)
    user, password = registry_credentials(a)
    r = requests.get(f"{b.url}/v2/{repo}/tags/list", auth=(user, password), timeout=10)
    assert r.status_code == 200, describe(r)
    r = requests.get(f"{b.url}/v2/{repo}/tags/list", auth=(user, password[:-4] + "AAAA"), timeout=10)
    assert r.status_code == 401


def real_binary() -> str:
    """berth itself, not the session's PostgreSQL wrapper (these tests choose the database)."""
    return os.environ.get("TESTPG_BERTH_BIN") or os.environ.get("BERTH_BIN") or str(DEFAULT_BIN)


def _serve(url, data, *extra):
    binary = real_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    return subprocess.run([binary, "serve", "--listen", "127.0.0.1:1", "--data", str(data), "--database", url, *extra],
                          capture_output=True, text=True, timeout=60, env=env)


def test_servers_refuse_to_start_without_the_shared_key_file(registry, tmp_path):
    a, = registry(1)
    p = _serve(registry.url, tmp_path / "nokey")
    assert p.returncode != 0
    assert "needs --key-file" in p.stderr, p.stderr
    other = tmp_path / "other.key"
    p = _serve(registry.url, tmp_path / "otherkey", "--key-file", str(other))
    assert p.returncode != 0
    assert "key file does not match" in p.stderr, p.stderr
    assert a.alive()
    # berth's own lines (the harness's "===== start" lines show the command it ran)
    own = "\n".join(line for line in a.log_text().splitlines() if not line.startswith("====="))
    assert "postgresql://berth:***@" in own
    for text in (p.stderr, p.stdout, own):
        assert "pg-secret-do-not-log" not in text


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    p = _serve("postgresql://berth:pg-secret-do-not-log@127.0.0.1:1/none", tmp_path / "down",
               "--key-file", str(tmp_path / "k"))
    assert p.returncode != 0
    assert "cannot connect to database 'postgresql://berth:***@127.0.0.1:1/none'" in p.stderr, p.stderr
    assert "pg-secret-do-not-log" not in p.stderr


def test_gc_runs_on_one_server_at_a_time(registry, pg):
    a, = registry(1)
    binary = real_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    cmd = [binary, "gc", "--data", str(a.data_dir), "--database", registry.url, "--key-file", str(registry.key)]

    def collects():
        """Runs berth gc until no server's own GC job holds the lock (a server collects when it
        starts: under make test-scale its sweep of the bucket takes a while); its output."""
        deadline = time.monotonic() + 60
        while True:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
            assert p.returncode == 0, p.stderr
            if "another server is collecting" not in p.stdout or time.monotonic() > deadline:
                return p.stdout
            time.sleep(0.2)

    assert "another server is collecting" not in collects()
    # another server holds GC's lock: this one does nothing and says so
    holder = subprocess.Popen(["psql", registry.url.replace(":pg-secret-do-not-log", ""), "-qAt"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        holder.stdin.write("SELECT pg_advisory_lock(1650553462);\n\\echo locked\n")
        holder.stdin.flush()
        deadline = time.monotonic() + 30
        while holder.stdout.readline().strip() != "locked":
            assert time.monotonic() < deadline
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        assert "another server is collecting now; nothing was done" in p.stdout, p.stdout
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert "another server is collecting" not in collects()


def test_migrate_creates_and_then_keeps_the_schema(pg, tmp_path):
    url = pg.create_database("m_" + images.token(12).lower())
    binary = real_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    for _ in range(2):
        p = subprocess.run([binary, "migrate", "--database", url], capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        m = re.match(r"database schema version (\d+) \(this berth's: (\d+)\)", p.stdout)
        assert m and m.group(1) == m.group(2), p.stdout
        assert "pg-secret-do-not-log" not in p.stdout + p.stderr
    db = url.rsplit("/", 1)[1]
    assert pg.psql("SELECT version FROM berth_schema", db=db).stdout.strip() == m.group(1)
    # the newest migrations' tables are there (6: the read cache's generation, 7: the console's
    # sign-in, 9: the audit trail's records and their index, in place of 4's and 5's tables)
    assert int(m.group(1)) >= 9
    assert pg.psql("SELECT count(*) FROM audit_records", db=db).stdout.strip() == "0"
    assert pg.psql("SELECT count(*) FROM audit_unindexed", db=db).stdout.strip() == "0"
    assert pg.psql("SELECT count(*) FROM audit_index", db=db).stdout.strip() == "0"
    assert pg.psql("SELECT to_regclass('audit_pending') IS NULL AND to_regclass('audit_events') IS NULL",
                   db=db).stdout.strip() == "t"
    assert pg.psql("SELECT count(*) FROM cache_generation", db=db).stdout.strip() == "1"
    assert pg.psql("SELECT count(*) FROM console_signin_failures", db=db).stdout.strip() == "0"
    # a schema newer than this berth is refused, not written over
    pg.psql("UPDATE berth_schema SET version = 99", db=db)
    p = subprocess.run([binary, "migrate", "--database", url], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode != 0
    assert "newer than this berth" in p.stderr, p.stderr


def test_database_down_is_503_then_recovers_without_a_restart(berth_factory, tmp_path):
    own = pgserver.PostgresServer().start()
    try:
        url = own.create_database("down")
        srv = berth_factory(extra_args=["--database", url, "--key-file", str(tmp_path / "k")])
        repo = create_repository("down/app", srv)
        img = images.make_image(label="down")
        reg = Registry(srv)
        reg.push_image(repo, img, tag="v1")
        own.stop()
        t0 = time.monotonic()
        r = reg.get_manifest(repo, "v1")
        assert r.status_code == 503, describe(r)
        assert r.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert "database" in r.json()["errors"][0]["message"]
        assert r.headers.get("Retry-After") == "1"
        with pytest.raises(ecr(srv).exceptions.ClientError) as e:
            ecr(srv).describe_repositories()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert e.value.response["Error"]["Code"] == "ServiceUnavailableException"
        assert time.monotonic() - t0 < 30                      # failed, did not hang
        assert requests.get(srv.url + "/readyz", timeout=30).status_code == 503
        own.restart_server()
        deadline = time.monotonic() + 20
        while True:
            r = reg.get_manifest(repo, "v1")
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 200, describe(r)
        assert r.headers["Docker-Content-Digest"] == img.digest
        assert [i["imageTag"] for i in ecr(srv).list_images(repositoryName=repo)["imageIds"]] == ["v1"]
        assert srv.alive()
        own_lines = "\n".join(line for line in srv.log_text().splitlines() if not line.startswith("====="))
        assert "pg-secret-do-not-log" not in own_lines
    finally:
        own.cleanup()


def test_migrate_moves_a_sqlite_registry_to_postgresql_without_losing_an_image(pg, berth_factory, tmp_path):
    data = tmp_path / "reg" / "data"
    sqlite_url = f"sqlite:{data}/berth.db"
    old = berth_factory(data_dir=data, extra_args=["--database", sqlite_url])
    pushed = {}
    for r in range(3):
        repo = create_repository(f"move/r{r}", old)
        for t in range(3):
            img = images.make_image(label=f"move-{r}-{t}")
            Registry(old).push_image(repo, img, tag=f"t{t}")
            pushed[(repo, f"t{t}")] = img.digest
    index = images.make_multiarch(label="move")
    Registry(old).push_image("move/r0", index, tag="multi")
    pushed[("move/r0", "multi")] = index.digest
    ecr(old).put_image_tag_mutability(repositoryName="move/r1", imageTagMutability="IMMUTABLE")
    iam = boto3.client("iam", endpoint_url=old.url, region_name=old.region, aws_access_key_id=old.access_key,
                       aws_secret_access_key=old.secret)
    iam.create_user(UserName="Mover")
    key = iam.create_access_key(UserName="Mover")["AccessKey"]
    old.stop()

    url = pg.create_database("mv_" + images.token(12).lower())
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    p = subprocess.run([real_binary(), "migrate", "--from", sqlite_url, "--data", str(data), "--database", url],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    assert "images and index manifests" in p.stdout and "pg-secret-do-not-log" not in p.stdout + p.stderr
    # a second copy into the same database is refused: nothing is copied twice
    p = subprocess.run([real_binary(), "migrate", "--from", sqlite_url, "--data", str(data), "--database", url],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode != 0 and "not empty" in p.stderr, p.stderr

    # the same data directory (blobs, and its key file: the secrets were sealed with it) on PostgreSQL
    new = berth_factory(data_dir=data, extra_args=["--database", url, "--key-file", str(data / "keys" / "master.key")])
    reg = Registry(new)
    for (repo, tag), digest in pushed.items():
        r = reg.get_manifest(repo, tag)
        assert r.status_code == 200, describe(r)
        assert r.headers["Docker-Content-Digest"] == digest
    for child in index.children:
        for blob in child.blobs:
            r = reg.get(f"/v2/move/r0/blobs/{blob.digest}")
            assert r.status_code == 200 and images.sha256(r.content) == blob.digest
    repos = sorted(r["repositoryName"] for r in ecr(new).describe_repositories()["repositories"])
    assert repos == ["move/r0", "move/r1", "move/r2"]
    assert ecr(new).describe_repositories(repositoryNames=["move/r1"])["repositories"][0]["imageTagMutability"] == \
        "IMMUTABLE"
    # the IAM user's key (sealed in SQLite) still signs requests
    mover = boto3.client("iam", endpoint_url=new.url, region_name=new.region,
                         aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    with pytest.raises(mover.exceptions.ClientError) as e:
        mover.list_users()
    assert e.value.response["Error"]["Code"] == "AccessDenied"       # known and authenticated, not allowed
    # new repositories get fresh ids (the identity sequence moved past the copied ones) and the tag counts held
    create_repository("move/after", new)
    listed = ecr(new).describe_images(repositoryName="move/r2")["imageDetails"]
    assert sorted(t for d in listed for t in d["imageTags"]) == ["t0", "t1", "t2"]
    untagged = ecr(new).list_images(repositoryName="move/r0", filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert len(untagged) == len(index.children)


class HeldReceiver:
    """A webhook receiver on loopback that holds every POST until release() (then answers 200):
    a delivery job of berth's stays running, its lease held, for as long as the test likes."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.gate = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.arrived.set()
                receiver.gate.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def release(self):
        self.gate.set()

    def close(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_job_queued_again_while_it_finishes_runs_again(registry):
    """Work queued for a job while it runs marks it to run again (jobs.again), which the worker
    that finishes it must see. On PostgreSQL the finish (an UPDATE of the job if marked, then a
    DELETE of it if not) once read the row as it was before a concurrent enqueue committed: the
    UPDATE passed the row by, the DELETE waited for the enqueue and then passed it by too, and the
    job stayed leased to its finished worker for the whole lease (5 minutes), its new work with it
    (make test-scale: a push's webhook event, and the lifecycle actions after it, never came).
    Here the enqueue is held open in a transaction of the test's while the job finishes."""
    import psycopg2

    a, = registry(1)
    receiver = HeldReceiver()
    db = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        p = subprocess.run([real_binary(), "admin", "webhook", "add", receiver.url, "--data", str(a.data_dir),
                            "--database", registry.url, "--key-file", str(registry.key)],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
        repo = create_repository("again/app", a)
        Registry(a).push_image(repo, images.make_image(label="again"), tag="v1")
        assert receiver.arrived.wait(30), "the push's event was not sent"
        key = f"{p.stdout.split()[0]} {a.account_id}/{repo}"

        db = psycopg2.connect(registry.url)
        cur = db.cursor()
        now = int(time.time() * 1000)
        # what jobs_enqueue writes for a job that is running (store_job_enqueue), uncommitted
        cur.execute("UPDATE jobs SET again = 1, run_at = %s WHERE kind = 'webhook' AND key = %s AND lease_until > %s",
                    (now, key, now))
        assert cur.rowcount == 1, "the delivery job is not running"
        receiver.release()
        # the worker finishing the job waits for this transaction's row lock
        watch = psycopg2.connect(registry.url)
        watch.autocommit = True
        deadline = time.monotonic() + 20
        while True:
            w = watch.cursor()
            w.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND wait_event_type = 'Lock' AND query ILIKE '%jobs%'")
            if w.fetchone()[0] >= 1:
                break
            assert time.monotonic() < deadline, "the job's finish never met the open enqueue"
            time.sleep(0.05)
        db.commit()
        # the job is free again at once and runs (nothing more to send), then is gone
        deadline = time.monotonic() + 15
        while True:
            w.execute("SELECT owner, lease_until, again FROM jobs WHERE kind = 'webhook' AND key = %s", (key,))
            row = w.fetchone()
            if row is None:
                break
            assert time.monotonic() < deadline, f"the job is still held after it finished: {row}"
            time.sleep(0.1)
        watch.close()
    finally:
        if db is not None:
            db.close()
        receiver.close()
