"""Several berth servers as one registry (issue 10 §4, §5): PostgreSQL, Ceph RGW, two servers
sharing them and the key file, and nginx in front running the repository's own config
(deploy/nginx/berth.conf, nginxserver.py) on a plain and a TLS port. Real clients go through
nginx, which alternates requests between the servers: a push through one is pulled through the
other, a chunked upload's PATCHes land on both, skopeo and podman push and pull over TLS, the aws
CLI and boto3 make ECR calls (the login's proxyEndpoint is the address the client used, https
included), docker logs in with `aws ecr get-login-password`. One server killed with SIGKILL in
the middle of a skopeo push: the push completes on the other and `berth fsck` finds nothing
wrong. Background work runs once, not once per server: a scan on push, a lifecycle expiry, and
the expiry of idle upload sessions.

One cluster for the module: RGW takes ~20 s to start (shared with the session), PostgreSQL a
few seconds (the session's when BERTH_TEST_DATABASE=postgresql)."""

import io
import gzip
import json
import os
import re
import subprocess
import tarfile
import threading
import time

import boto3
import pytest
import requests

import images
import nginxserver
from conftest import ContainerTools, DockerCLI, _stop_servers, run
from regclient import Registry, describe

MiB = 1 << 20


class Front:
    """nginx as a server to the tests' helpers: its address, the registry's credentials."""

    def __init__(self, nginx, server, tls):
        self.host = nginx.tls_host if tls else nginx.host
        self.port = int(self.host.rsplit(":", 1)[1])
        self.url = ("https://" if tls else "http://") + self.host
        for a in ("region", "account_id", "access_key", "secret"):
            setattr(self, a, getattr(server, a))


class Cluster:
    def __init__(self, pg, rgw, factory, base):
        self.pg, self.rgw, self.factory, self.base = pg, rgw, factory, base
        tok = images.token(6).lower()
        self.database = pg.create_database("multi_" + tok)
        self.key = base / "registry.key"
        self.blob_env = rgw.blob_env(base, redirect="on", prefix="multi-" + tok)
        self.servers = [self.start_server(f"s{i}") for i in range(2)]
        self.nginx = nginxserver.Nginx([s.host for s in self.servers]).start()
        self.plain = Front(self.nginx, self.servers[0], tls=False)
        self.tls = Front(self.nginx, self.servers[0], tls=True)

    def args(self, *extra):
        return ["--database", self.database, "--key-file", str(self.key), "--trusted-proxies", "127.0.0.1", *extra]

    def start_server(self, name, *extra):
        # debug: the job runs the tests count are logged at that level
        return self.factory(data_dir=self.base / name / "data", extra_env=self.blob_env,
                            extra_args=self.args("--lifecycle-interval-seconds", "2", "--log-level", "debug", *extra))

    def logs(self, servers=None) -> str:
        return "\n".join(s.log_text() for s in (servers or self.servers))

    def upstreams(self, method, path_re) -> set:
        """The servers (host:port) that nginx sent the matching requests to."""
        got = set()
        for m, path, _status, ups in self.nginx.upstreams_seen():
            if m == method and re.search(path_re, path):
                got.update(u.strip() for u in ups.split(","))
        return got

    def berth_cmd(self, *args, timeout=120):
        srv = self.servers[0]
        return subprocess.run([str(srv.binary), *args, "--data", str(srv.data_dir), "--database", self.database,
                               "--key-file", str(self.key)], capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **self.blob_env})


@pytest.fixture(scope="module")
def cluster(pg, rgw, berth_factory, tmp_path_factory):
    c = Cluster(pg, rgw, berth_factory, tmp_path_factory.mktemp("multi"))
    # every client verifies nginx's certificate against the test's own
    saved = {k: os.environ.get(k) for k in ("REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE")}
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["AWS_CA_BUNDLE"] = str(c.nginx.cert)
    yield c
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    c.nginx.stop()
    _stop_servers(c.servers)       # before the module's PostgreSQL stops under them


def ecr(front):
    return boto3.client("ecr", endpoint_url=front.url, region_name=front.region,
                        aws_access_key_id=front.access_key, aws_secret_access_key=front.secret)


def aws_env(front, home):
    return {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": front.access_key,
            "AWS_SECRET_ACCESS_KEY": front.secret, "AWS_DEFAULT_REGION": front.region,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_CA_BUNDLE": os.environ["AWS_CA_BUNDLE"]}


def new_repo(front, name, **kw):
    name = f"multi/{name}-{images.token(3)}"
    ecr(front).create_repository(repositoryName=name, **kw)
    return name


def sha(data: bytes) -> str:
    return images.sha256(data)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def test_requests_alternate_and_a_push_through_one_is_pulled_through_each(cluster):
    front = cluster.plain
    repo = new_repo(front, "alternate")
    img = images.make_image(label="alternate", nlayers=3)
    Registry(front).push_image(repo, img, tag="v1")
    # nginx spread the push over both servers
    hosts = {s.host for s in cluster.servers}
    assert cluster.upstreams("HEAD", f"^/v2/{repo}/blobs/") | cluster.upstreams("POST", f"^/v2/{repo}/") == hosts
    # each server has all of it at once: the manifest in the database, the bytes in RGW (307 there)
    for srv in cluster.servers:
        reg = Registry(srv)
        r = reg.get_manifest(repo, "v1")
        assert r.status_code == 200 and r.content == img.manifest, describe(r)
        for b in img.blobs:
            r = reg.get(f"/v2/{repo}/blobs/{b.digest}")
            assert r.status_code == 307, describe(r)
            assert r.headers["Location"].startswith(cluster.rgw.endpoint + "/")
            assert requests.get(r.headers["Location"], timeout=30).content == b.data
        ids = ecr(srv).list_images(repositoryName=repo)["imageIds"]
        assert ids == [{"imageDigest": img.digest, "imageTag": "v1"}]


def test_a_chunked_upload_moves_between_servers_through_nginx(cluster):
    reg = Registry(cluster.plain)
    repo = new_repo(cluster.plain, "chunks")
    parts = [os.urandom(n) for n in (2 * MiB, 6 * MiB, 300 * 1024, 1 * MiB, 5 * MiB + 1, 64 * 1024)]
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    path, off = reg.location_path(r), 0
    uuid = path.rsplit("/", 1)[1].split("?")[0]
    for i, p in enumerate(parts):
        r = reg.patch(path, data=p, headers={"Content-Type": "application/octet-stream",
                                             "Content-Range": f"{off}-{off + len(p) - 1}"})
        assert r.status_code == 202, f"chunk {i}: {describe(r)}"
        off += len(p)
        assert r.headers["Range"] == f"0-{off - 1}"
        path = reg.location_path(r)
    whole = b"".join(parts)
    r = reg.put(path, params={"digest": sha(whole)})
    assert r.status_code == 201, describe(r)
    assert cluster.upstreams("PATCH", uuid) == {s.host for s in cluster.servers}
    r = reg.get(f"/v2/{repo}/blobs/{sha(whole)}")
    assert r.status_code == 307
    assert requests.get(r.headers["Location"], timeout=60).content == whole


def test_skopeo_and_podman_over_tls_after_a_podman_login_from_get_login_password(cluster, tmp_path,
                                                                                 tmp_path_factory):
    front = cluster.tls
    ct = ContainerTools(tmp_path_factory.mktemp("ct"), front)
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_bytes(cluster.nginx.cert.read_bytes())
    repo = new_repo(front, "tls")
    p = run(["sh", "-c", f"aws ecr get-login-password --endpoint-url {front.url} | podman login --cert-dir {certs} "
                         f"--authfile {ct.authfile} -u AWS --password-stdin {front.host}"],
            env={**ct.env, **aws_env(front, tmp_path)})
    assert "Login Succeeded" in p.stdout, p.stdout + p.stderr
    img = images.make_image(label="tls", nlayers=2, layer_size=3 * MiB)
    layout = images.write_oci_layout(tmp_path / "in", {"v1": img})
    ct.skopeo("copy", "--dest-cert-dir", certs, f"oci:{layout}:v1", f"docker://{front.host}/{repo}:v1")
    out = tmp_path / "out"
    ct.skopeo("copy", "--src-cert-dir", certs, f"docker://{front.host}/{repo}:v1", f"oci:{out}:v1")
    for b in img.blobs:
        alg, hexd = b.digest.split(":")
        assert (out / "blobs" / alg / hexd).read_bytes() == b.data
    ct.podman("pull", "--cert-dir", certs, f"{front.host}/{repo}:v1")
    listed = ct.podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert f"{front.host}/{repo}:v1" in listed
    assert cluster.upstreams("PUT", f"^/v2/{repo}/") | cluster.upstreams("POST", f"^/v2/{repo}/") == \
        {s.host for s in cluster.servers}


def test_ecr_calls_through_nginx_name_the_address_the_client_used(cluster, tmp_path):
    """SigV4 verifies through the proxy (the Host header arrives unchanged), and berth names itself
    by the scheme and address the client used: https from nginx's X-Forwarded-Proto."""
    front = cluster.tls
    out = json.loads(run(["aws", "ecr", "get-authorization-token", "--endpoint-url", front.url, "--output",
                          "json"], env=aws_env(front, tmp_path)).stdout)
    assert out["authorizationData"][0]["proxyEndpoint"] == front.url
    name = f"multi/cli-{images.token(3)}"
    created = json.loads(run(["aws", "ecr", "create-repository", "--repository-name", name, "--endpoint-url",
                              front.url, "--output", "json"], env=aws_env(front, tmp_path)).stdout)
    assert created["repository"]["repositoryUri"] == f"{front.host}/{name}"
    # the same through the plain listener says http; boto3's calls are signed for nginx's address
    # and verified by whichever server gets them
    plain = ecr(cluster.plain)
    assert plain.get_authorization_token()["authorizationData"][0]["proxyEndpoint"] == cluster.plain.url
    for front in (cluster.tls, cluster.plain):
        client = ecr(front)
        for _ in range(4):
            got = client.describe_repositories(repositoryNames=[name])["repositories"]
            assert [r["repositoryName"] for r in got] == [name]
        img = images.make_image(label=f"boto3-{front.port}")
        reg = Registry(front)
        for b in img.blobs:
            reg.push_blob(name, b)
        client.put_image(repositoryName=name, imageManifest=img.manifest.decode(), imageTag="v1")
        got = client.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1"}])["images"]
        assert got[0]["imageId"]["imageDigest"] == img.digest
    assert cluster.upstreams("POST", "^/$") == {s.host for s in cluster.servers}


def test_a_forwarded_client_address_is_believed_only_from_a_trusted_proxy(cluster, berth_factory, tmp_path):
    """nginx sets X-Forwarded-For to the address it saw (a client's own header does not get through);
    berth takes it from --trusted-proxies only."""
    spoof = {"X-Forwarded-For": "203.0.113.9"}
    reg = Registry(cluster.plain)
    repo = new_repo(cluster.plain, "xff")
    assert reg.get(f"/v2/{repo}/tags/list", headers=spoof, params={"n": "7"}).status_code == 200
    logged = wait_for(lambda: [ln for s in cluster.servers for ln in s.log_text().splitlines()
                               if f"/v2/{repo}/tags/list" in ln], 10, "the request's log line")
    assert logged[-1].endswith(" 127.0.0.1"), logged
    assert not any("203.0.113.9" in s.log_text() for s in cluster.servers)
    # from a trusted address (127.0.0.1 here), berth believes the header: nginx's is what counts
    r = Registry(cluster.servers[0]).get(f"/v2/{repo}/tags/list", headers={"X-Forwarded-For": "198.51.100.7"})
    assert r.status_code == 200
    # (the request's log line is written as the response goes out: it may come a moment after)
    line = wait_for(lambda: [ln for ln in cluster.servers[0].log_text().splitlines() if "198.51.100.7" in ln], 10,
                    "the request's log line")
    assert f"GET /v2/{repo}/tags/list 200" in line[-1], line
    # a server that trusts no proxy ignores it
    plain = berth_factory()
    r = Registry(plain).get("/v2/", headers={"X-Forwarded-For": "198.51.100.8", "X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    wait_for(lambda: "GET /v2/ 200" in plain.log_text(), 10, "the request's log line")
    assert "198.51.100.8" not in plain.log_text()
    r = requests.get(plain.url + "/v2/", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert r.headers["WWW-Authenticate"].startswith(f'Basic realm="http://{plain.host}"'), r.headers
    r = requests.get(cluster.tls.url + "/v2/", timeout=10)
    assert r.headers["WWW-Authenticate"].startswith(f'Basic realm="https://{cluster.tls.host}"'), r.headers


def test_docker_login_with_get_login_password_through_nginx(cluster, tmp_path):
    front = cluster.plain
    docker = DockerCLI(tmp_path, front)
    p = run(["sh", "-c", f"aws ecr get-login-password --endpoint-url {front.url} | docker login -u AWS "
                         f"--password-stdin {front.host}"], env={**docker.env, **aws_env(front, tmp_path)})
    assert "Login Succeeded" in p.stdout, p.stdout + p.stderr
    repo = new_repo(front, "docker")
    img = images.make_image(label="docker", docker=True)
    Registry(front).push_image(repo, img, tag="v1")
    out = json.loads(docker("manifest", "inspect", "--insecure", f"{front.host}/{repo}:v1").stdout)
    assert out["config"]["digest"] == img.config.digest


def dpkg_layer() -> images.Blob:
    raw = io.BytesIO()
    files = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
             "var/lib/dpkg/status": b"Package: demo\nStatus: install ok installed\nVersion: 1.0-1\n\n"}
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(content), 0o644, 0
            tar.addfile(ti, io.BytesIO(content))
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return images.Blob(gz.getvalue(), images.OCI_LAYER, diff_id=sha(raw.getvalue()))


def test_scan_on_push_and_lifecycle_run_once_not_once_per_server(cluster):
    front = cluster.plain
    client = ecr(front)
    repo = new_repo(front, "once", imageScanningConfiguration={"scanOnPush": True})
    reg = Registry(front)
    pushed = []
    for i in range(3):
        img = images.make_image(layers=[dpkg_layer()], label=f"once-{i}")
        reg.push_image(repo, img, tag=f"t{i}")
        pushed.append(img.digest)
        time.sleep(0.02)

    def scanned():
        got = client.describe_images(repositoryName=repo)["imageDetails"]
        return len(got) == 3 and all(d.get("imageScanStatus", {}).get("status") not in (None, "IN_PROGRESS")
                                     for d in got)

    wait_for(scanned, 60, "three scans")
    time.sleep(1)       # a second run would come right after the first
    logs = cluster.logs()
    for d in pushed:
        runs = re.findall(rf"job scan '\d+:{d}' done", logs)
        assert len(runs) == 1, (d, runs)
    client.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}}]}))
    wait_for(lambda: len(client.list_images(repositoryName=repo)["imageIds"]) == 1, 30, "the lifecycle expiry")
    # let the periodic job run a few more times on whichever server claims it
    time.sleep(5)
    logs = cluster.logs()
    acted = re.findall(rf"lifecycle: {cluster.plain.account_id}/{re.escape(repo)}: (\d+) action", logs)
    assert acted == ["2"], acted
    rows = cluster.pg.psql(f"SELECT count(*) FROM lifecycle_history WHERE repository = '{repo}'",
                           db=cluster.database.rsplit("/", 1)[1]).stdout.strip()
    assert rows == "2", rows
    assert [i["imageTag"] for i in client.list_images(repositoryName=repo)["imageIds"]] == ["t2"]


def in_flight(srv) -> int:
    text = requests.get(srv.url + "/metrics", timeout=10).text
    return int(float(re.search(r"^berth_http_requests_in_flight (\S+)$", text, flags=re.M).group(1)))


def test_a_server_killed_mid_push_the_push_completes_on_the_other(cluster, tmp_path_factory):
    """A layer streams through nginx to one server, which is killed (SIGKILL) mid-body. The client
    does what registry clients do: asks the session where it stands (the other server answers),
    sends the rest, and completes the push there. skopeo pushes while the server is down (nginx
    sends nothing to it), and `berth fsck` finds the registry consistent."""
    front = cluster.plain
    reg = Registry(front)
    repo = new_repo(front, "kill")
    img = images.make_image(label="kill", nlayers=2, layer_size=8 * MiB)
    big = img.layers[0]
    for b in img.blobs:
        if b.digest != big.digest:
            reg.push_blob(repo, b)
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    path = reg.location_path(r)
    first = 2 * MiB
    r = reg.patch(path, data=big.data[:first], headers={"Content-Range": f"0-{first - 1}"})
    assert r.status_code == 202, describe(r)
    path = reg.location_path(r)
    started, result = threading.Event(), {}

    def body():
        for i in range(first, len(big.data), 64 * 1024):
            yield big.data[i:i + 64 * 1024]
            started.set()
            time.sleep(0.02)                  # ~2.5 s for the 6 MiB: long enough to be killed in

    def patch():
        try:
            result["r"] = reg.patch(path, data=body(), headers={"Content-Type": "application/octet-stream"})
        except requests.RequestException as e:
            result["e"] = e

    t = threading.Thread(target=patch)
    t.start()
    assert started.wait(30)
    time.sleep(0.3)
    busy = [s for s in cluster.servers if in_flight(s) > 1]      # its /metrics request and the PATCH
    assert len(busy) == 1, [in_flight(s) for s in cluster.servers]
    victim = busy[0]
    survivor = [s for s in cluster.servers if s is not victim][0]
    victim.kill()
    t.join(60)
    assert "e" in result or result["r"].status_code == 502, describe(result["r"])
    # where the session stands, from the other server: what the first PATCH wrote, at least
    r = reg.get(path)
    assert r.status_code == 204, describe(r)
    done = int(r.headers["Range"].split("-")[1]) + 1
    assert first <= done <= len(big.data)
    r = reg.patch(reg.location_path(r), data=big.data[done:],
                  headers={"Content-Range": f"{done}-{len(big.data) - 1}"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location_path(r), params={"digest": big.digest})
    assert r.status_code == 201, describe(r)
    r = reg.put_manifest(repo, "v1", img.manifest, img.media_type)
    assert r.status_code == 201, describe(r)
    # skopeo, with the server still down: nginx takes it to the survivor
    ct = ContainerTools(tmp_path_factory.mktemp("ct"), front)
    img2 = images.make_image(label="kill2", nlayers=2, layer_size=2 * MiB)
    layout = images.write_oci_layout(tmp_path_factory.mktemp("layout"), {"v2": img2})
    ct.skopeo("copy", "--retry-times", "3", "--dest-tls-verify=false", "--dest-creds", ct.creds(),
              f"oci:{layout}:v2", f"docker://{front.host}/{repo}:v2")
    for tag, pushed in (("v1", img), ("v2", img2)):
        r = Registry(survivor).get_manifest(repo, tag)
        assert r.status_code == 200 and r.content == pushed.manifest, describe(r)
        for b in pushed.blobs:
            loc = Registry(survivor).get(f"/v2/{repo}/blobs/{b.digest}").headers["Location"]
            assert sha(requests.get(loc, timeout=60).content) == b.digest
    p = cluster.berth_cmd("fsck")
    assert p.returncode == 0, p.stdout + p.stderr
    victim.start()                 # the next tests have two servers again
    r = Registry(victim).get_manifest(repo, "v1")
    assert r.status_code == 200 and r.content == img.manifest


def test_idle_upload_sessions_are_expired_by_one_server(cluster):
    """Two servers that expire idle sessions after 2 s race for the same sessions: each is expired
    once (the other finds it gone, or written to since, and leaves it)."""
    reg = Registry(cluster.plain)
    repo = new_repo(cluster.plain, "expiry")
    expirers = [cluster.factory(data_dir=cluster.base / f"e{i}" / "data", extra_env=cluster.blob_env,
                                extra_args=cluster.args("--upload-expiry-seconds", "2")) for i in range(2)]
    try:
        paths = []
        for i in range(40):
            r = reg.start_upload(repo)
            assert r.status_code == 202, describe(r)
            path = reg.location_path(r)
            r = reg.patch(path, data=os.urandom(1000), headers={"Content-Range": "0-999"})
            assert r.status_code == 202, describe(r)
            paths.append(path)
        wait_for(lambda: all(reg.get(p).status_code == 404 for p in paths), 60, "the sessions to expire")
        time.sleep(1)
        counts = [sum(int(n) for n in re.findall(r"expired (\d+) idle upload session", s.log_text()))
                  for s in expirers]
        assert sum(counts) == len(paths), counts
        assert "upload expiry:" not in cluster.logs(expirers)
    finally:
        for s in expirers:
            s.stop()


def test_the_documented_load_balancer_config_is_the_tested_one():
    """docs/deployment.md shows deploy/nginx/berth.conf whole: the file these tests run."""
    doc = (nginxserver.CONF.parents[2] / "docs" / "deployment.md").read_text()
    assert "```nginx\n" + nginxserver.CONF.read_text() + "```\n" in doc
