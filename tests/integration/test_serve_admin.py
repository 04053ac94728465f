"""`berth serve` options that need their own server (TLS, config file) and `berth admin`
(accounts and root keys), plus the rule that secrets are sealed at rest."""

import os
import re
import subprocess
import time
import warnings

import boto3
import botocore
import pytest
import requests

from conftest import DEFAULT_BIN, free_port, run


def binary():
    return os.environ.get("BERTH_BIN", str(DEFAULT_BIN))


def sts(url, key, secret, region="us-east-1", verify=True):
    return boto3.client("sts", endpoint_url=url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret, verify=verify)


def start(tmp_path, args, env_extra=None, scheme="http"):
    port = free_port()
    env = dict(os.environ, BERTH_ACCOUNT_ID="123456789012", BERTH_ROOT_ACCESS_KEY_ID="AKIASERVEADMINTEST01",
               BERTH_ROOT_SECRET_ACCESS_KEY="serve-admin-secret-0123456789")
    env.update(env_extra or {})
    log = open(tmp_path / "berth.log", "ab")
    p = subprocess.Popen([binary(), "serve", "--listen", f"127.0.0.1:{port}", "--data", str(tmp_path / "data"), *args],
                         stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while time.monotonic() < deadline:
            assert p.poll() is None, (tmp_path / "berth.log").read_text()
            try:
                if requests.get(url + "/v2/", verify=False, timeout=2).status_code == 401:
                    return p, url
            except requests.RequestException:
                pass
            time.sleep(0.05)
    p.kill()
    pytest.fail("berth did not start:\n" + (tmp_path / "berth.log").read_text())


def stop(p):
    p.terminate()
    assert p.wait(timeout=15) == 0


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, made with openssl: (cert, key) paths."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], timeout=60)
    return cert, key


def test_https_with_a_certificate(tmp_path):
    cert, key = self_signed(tmp_path)
    p, url = start(tmp_path, ["--tls-cert", str(cert), "--tls-key", str(key)], scheme="https")
    try:
        r = requests.get(url + "/v2/", verify=str(cert), timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith('Basic realm="https://')
        ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", verify=str(cert),
                           aws_access_key_id="AKIASERVEADMINTEST01",
                           aws_secret_access_key="serve-admin-secret-0123456789")
        data = ecr.get_authorization_token()["authorizationData"][0]
        assert data["proxyEndpoint"] == url
        import base64
        user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
        assert requests.get(url + "/v2/", auth=(user, password), verify=str(cert), timeout=10).status_code == 200
        # plain HTTP on the TLS port is not served
        with pytest.raises(requests.RequestException):
            requests.get(url.replace("https", "http") + "/v2/", timeout=5)
    finally:
        stop(p)


def test_config_file_and_flags(tmp_path):
    conf = tmp_path / "berth.conf"
    conf.write_text("# a comment\nregion = eu-west-1\nlog-level = warn\nmax-repositories = 2\n")
    p, url = start(tmp_path, ["--config", str(conf), "--max-repositories", "3"])
    try:
        ecr = boto3.client("ecr", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="AKIASERVEADMINTEST01",
                           aws_secret_access_key="serve-admin-secret-0123456789")
        arns = [ecr.create_repository(repositoryName=f"cfg/r{i}")["repository"]["repositoryArn"] for i in range(3)]
        assert arns[0] == "arn:aws:ecr:eu-west-1:123456789012:repository/cfg/r0"
        with pytest.raises(botocore.exceptions.ClientError) as e:   # the flag (3) beat the file (2)
            ecr.create_repository(repositoryName="cfg/r3")
        assert e.value.response["Error"]["Code"] == "LimitExceededException"
    finally:
        stop(p)
    bad = tmp_path / "bad.conf"
    bad.write_text("no-such-setting = 1\n")
    out = subprocess.run([binary(), "serve", "--config", str(bad)], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "unknown setting 'no-such-setting'" in out.stderr


def test_help_lists_every_setting():
    out = subprocess.run([binary(), "serve", "--help"], capture_output=True, text=True, timeout=10).stdout
    for flag in ("--listen", "--data", "--tls-cert", "--tls-key", "--region", "--log-level", "BERTH_ACCOUNT_ID"):
        assert flag in out
    assert subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=10).returncode == 0


def test_usage_names_the_data_directory_of_gc_and_fsck():
    out = subprocess.run([binary(), "--help"], capture_output=True, text=True, timeout=10).stdout
    assert "berth gc [--data DIR]" in out, out
    assert "berth fsck [--data DIR]" in out, out


def make_run(tmp_path, name, *args):
    """`make run LISTEN=... DATA=... ARGS`, its output in tmp_path/name.log: (process, url, data, log)."""
    repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    port, data, log = free_port(), tmp_path / name, tmp_path / f"{name}.log"
    # a make of its own, not a sub-make of whatever make runs this suite
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    with open(log, "wb") as out:
        p = subprocess.Popen(["make", "-s", "-C", repo_root, "run", f"LISTEN=127.0.0.1:{port}", f"DATA={data}", *args],
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline, status = time.monotonic() + 60, None
    while time.monotonic() < deadline and status is None:
        try:
            status = requests.get(f"{url}/v2/", timeout=2).status_code
        except requests.RequestException:
            time.sleep(0.2)
    return p, status, data, log


def stop_make_run(p):
    os.killpg(p.pid, 15)
    p.wait(timeout=20)


def test_make_run_takes_the_address_and_the_data_directory(tmp_path):
    """`make run LISTEN=... DATA=...` serves there (the README's first command, elsewhere), logging
    warnings only, so that `make run &` can share a terminal; LOG_LEVEL=info logs every request."""
    p, status, data, log = make_run(tmp_path, "made")
    try:
        assert status == 401, status
        assert (data / "berth.db").exists() and (data / "credentials").exists()
    finally:
        stop_make_run(p)
    quiet = log.read_text(errors="replace")
    assert "log level warn" in quiet and "aws_access_key_id" in quiet, quiet
    assert "GET /v2/" not in quiet, quiet  # the probes above were not logged

    p, status, data, log = make_run(tmp_path, "loud", "LOG_LEVEL=info")
    try:
        assert status == 401, status
    finally:
        stop_make_run(p)
    assert re.search(r" info GET /v2/ 401 ", log.read_text(errors="replace")), log.read_text(errors="replace")


def test_admin_accounts_and_root_keys(tmp_path):
    p, url = start(tmp_path, [])
    data = str(tmp_path / "data")
    try:
        out = run([binary(), "admin", "create-account", "--account-id", "555566667777", "--data", data]).stdout
        akid = re.search(r"aws_access_key_id = (\S+)", out).group(1)
        secret = re.search(r"aws_secret_access_key = (\S+)", out).group(1)
        ident = sts(url, akid, secret).get_caller_identity()
        assert ident["Account"] == "555566667777" and ident["Arn"] == "arn:aws:iam::555566667777:root"
        listing = run([binary(), "admin", "list-accounts", "--data", data]).stdout
        assert "123456789012 AKIASERVEADMINTEST01" in listing and f"555566667777 {akid}" in listing

        out = run([binary(), "admin", "rotate-root-key", "--account-id", "555566667777", "--data", data]).stdout
        new_akid = re.search(r"aws_access_key_id = (\S+)", out).group(1)
        new_secret = re.search(r"aws_secret_access_key = (\S+)", out).group(1)
        assert f"deleted {akid}" in out
        assert sts(url, new_akid, new_secret).get_caller_identity()["Account"] == "555566667777"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts(url, akid, secret).get_caller_identity()
        assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"

        out = run([binary(), "admin", "create-root-key", "--account-id", "555566667777", "--data", data]).stdout
        third = re.search(r"aws_access_key_id = (\S+)", out).group(1)
        run([binary(), "admin", "delete-root-key", "--access-key-id", new_akid, "--data", data])
        with pytest.raises(botocore.exceptions.ClientError):
            sts(url, new_akid, new_secret).get_caller_identity()
        assert third in run([binary(), "admin", "list-accounts", "--data", data]).stdout
        bad = subprocess.run([binary(), "admin", "create-account", "--account-id", "12", "--data", data],
                             capture_output=True, text=True, timeout=20)
        assert bad.returncode != 0
    finally:
        stop(p)
    # secrets are sealed at rest: no root secret appears in the database files
    for name in os.listdir(data):
        if name.startswith("berth.db"):
            blob = (tmp_path / "data" / name).read_bytes()
            for s in (b"serve-admin-secret-0123456789", secret.encode(), new_secret.encode()):
                assert s not in blob, name
    assert (tmp_path / "data" / "keys" / "master.key").stat().st_mode & 0o777 == 0o600


def test_first_start_generates_and_prints_credentials_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    port = free_port()
    data = tmp_path / "data"
    p = subprocess.Popen([binary(), "serve", "--listen", f"127.0.0.1:{port}", "--data", str(data)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        first = p.stdout.readline() + p.stdout.readline() + p.stdout.readline()
        m = re.search(r"aws_access_key_id\s*=\s*(\S+)\s+aws_secret_access_key\s*=\s*(\S+)", first)
        assert m, first
        cred = (data / "credentials").read_text()
        assert m.group(1) in cred and m.group(2) in cred and "[berth]" in cred
        assert (data / "credentials").stat().st_mode & 0o777 == 0o600
        for _ in range(100):
            try:
                ident = sts(f"http://127.0.0.1:{port}", m.group(1), m.group(2)).get_caller_identity()
                break
            except Exception:
                time.sleep(0.05)
        assert re.fullmatch(r"\d{12}", ident["Account"])
    finally:
        p.terminate()
        p.wait(timeout=15)


def test_iam_accepts_us_east_1_signatures_on_any_region(tmp_path):
    """IAM and STS are global in AWS: a signature scoped to any region is accepted.
    ECR stays regional."""
    p, url = start(tmp_path, ["--region", "eu-west-1"])
    try:
        key = ("AKIASERVEADMINTEST01", "serve-admin-secret-0123456789")
        for region in ("eu-west-1", "us-east-1"):
            iam = boto3.client("iam", endpoint_url=url, region_name=region, aws_access_key_id=key[0],
                               aws_secret_access_key=key[1])
            assert "Users" in iam.list_users()
            assert sts(url, *key, region=region).get_caller_identity()["Account"] == "123456789012"
        ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key[0],
                           aws_secret_access_key=key[1])
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ecr.describe_repositories()
        assert "Credential should be scoped to a valid region" in e.value.response["Error"]["Message"]
        # any region at all: IAM and STS are global
        assert sts(url, *key, region="ap-south-1").get_caller_identity()["Account"] == "123456789012"
    finally:
        stop(p)


def test_the_request_log_names_the_operation_and_the_principal(berth_factory):
    """`POST /` says nothing: each ECR and IAM call's log line names its operation, then who."""
    srv = berth_factory()
    kw = dict(endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
              aws_secret_access_key=srv.secret)
    boto3.client("ecr", **kw).describe_repositories()
    boto3.client("iam", **kw).list_users()
    root = f"arn:aws:iam::{srv.account_id}:root"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        log = srv.log_text()
        if re.search(r"POST / ListUsers 200 \d+ [\d.]+ms " + re.escape(root), log):
            break
        time.sleep(0.1)
    assert re.search(r"POST / DescribeRepositories 200 \d+ [\d.]+ms " + re.escape(root), log), log[-2000:]
    assert re.search(r"POST / ListUsers 200 \d+ [\d.]+ms " + re.escape(root), log), log[-2000:]
    assert srv.secret not in log
