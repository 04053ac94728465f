"""Registry login the ECR way (issue: control plane §5): the aws CLI mints a 12-hour token and
the container tools log in with it, exactly as the seeds show."""

import base64
import os
import shlex
import time
from pathlib import Path

import boto3
import pytest
import requests

from conftest import run


def aws_env(server, home):
    return {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret, "AWS_DEFAULT_REGION": server.region,
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def test_get_authorization_token_shape(berth):
    ecr = boto3.client("ecr", endpoint_url=berth.url, region_name=berth.region,
                       aws_access_key_id=berth.access_key, aws_secret_access_key=berth.secret)
    before = time.time()
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    user, password = base64.b64decode(data[0]["authorizationToken"]).decode().split(":", 1)
    assert user == "AWS" and len(password) > 32
    expires = data[0]["expiresAt"].timestamp()
    assert 12 * 3600 - 60 <= expires - before <= 12 * 3600 + 60
    assert data[0]["proxyEndpoint"] == berth.url
    # the token is a password for /v2, and nothing else is
    assert requests.get(berth.url + "/v2/", auth=(user, password), timeout=10).status_code == 200
    assert requests.get(berth.url + "/v2/", auth=(berth.access_key, berth.secret), timeout=10).status_code == 401
    assert requests.get(berth.url + "/v2/", auth=(user, password[:-2] + "xx"), timeout=10).status_code == 401
    r = requests.get(berth.url + "/v2/", timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_get_login_password_piped_into_skopeo_login(berth, ctools, tmp_path):
    env = aws_env(berth, tmp_path)
    pw = run(["aws", "ecr", "get-login-password", "--endpoint-url", berth.url], env=env).stdout
    p = run(["sh", "-c", f"aws ecr get-login-password --endpoint-url {berth.url} | skopeo login "
                         f"--authfile {tmp_path / 'auth.json'} --tls-verify=false --password-stdin -u AWS {berth.host}"],
            env=env)
    assert "Login Succeeded" in p.stdout
    assert pw.strip()


def test_aws_ecr_get_login_prints_a_working_docker_login(berth, tmp_path):
    """`$(aws ecr get-login --no-include-email)` (aws CLI v1, seed 000 §8)."""
    env = aws_env(berth, tmp_path)
    out = run(["aws", "ecr", "get-login", "--no-include-email", "--endpoint-url", berth.url], env=env).stdout.strip()
    words = shlex.split(out)
    assert words[:4] == ["docker", "login", "-u", "AWS"] and words[4] == "-p", out[:40]
    assert words[-1] == berth.url
    cfg = tmp_path / "docker"
    cfg.mkdir()
    denv = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DOCKER_CONFIG": str(cfg),
            "DOCKER_HOST": "unix://" + str(tmp_path / "no-daemon.sock")}
    p = run(words, env=denv, timeout=60)
    assert "Login Succeeded" in p.stdout + p.stderr
    assert berth.host in (cfg / "config.json").read_text()


def _signed_ecr(server, host, target, body=b"{}"):
    """An ECR call signed for, and sent with, the Host header `host` (a name the caller reached berth at)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=f"http://{host}/", data=body,
                     headers={"X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{target}",
                              "Content-Type": "application/x-amz-json-1.1", "Host": host})
    SigV4Auth(Credentials(server.access_key, server.secret), "ecr", server.region).add_auth(req)
    r = requests.post(server.url + "/", data=body, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_registry_domain_keeps_the_port(berth_factory):
    """With --domain, proxyEndpoint and repositoryUri name <acct>.dkr.ecr.<region>.<domain> on the
    port the caller reached (a login there must reach berth), without it only for the default port."""
    srv = berth_factory(extra_args=["--domain", "localhost"])
    registry = f"{srv.account_id}.dkr.ecr.{srv.region}.localhost"
    port = srv.url.rsplit(":", 1)[1]
    ecr = boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region,
                       aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret)
    data = ecr.get_authorization_token()["authorizationData"][0]
    assert data["proxyEndpoint"] == f"http://{registry}:{port}"
    repo = ecr.create_repository(repositoryName="domain/port")["repository"]
    assert repo["repositoryUri"] == f"{registry}:{port}/domain/port"
    assert ecr.describe_repositories()["repositories"][0]["repositoryUri"] == repo["repositoryUri"]
    # a login to the proxyEndpoint works: curl resolves *.localhost to loopback (RFC 6761)
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    p = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-K", "-", data["proxyEndpoint"] + "/v2/"],
            input=f'user = "{user}:{password}"\n', redact=[password])
    assert p.stdout == "200"
    # the aws CLI's docker login line names the same endpoint
    env = aws_env(srv, Path(srv.data_dir).parent)
    out = run(["aws", "ecr", "get-login", "--no-include-email", "--endpoint-url", srv.url], env=env).stdout.split()
    assert out[-1] == data["proxyEndpoint"]

    # reached on the scheme's default port (a proxy in front, say), the URI has no port
    for host in ("registry.example", "registry.example:80"):
        got = _signed_ecr(srv, host, "GetAuthorizationToken")
        assert got["authorizationData"][0]["proxyEndpoint"] == f"http://{registry}"
        got = _signed_ecr(srv, host, "DescribeRepositories")
        assert got["repositories"][0]["repositoryUri"] == f"{registry}/domain/port"
    got = _signed_ecr(srv, "registry.example:8443", "GetAuthorizationToken")
    assert got["authorizationData"][0]["proxyEndpoint"] == f"http://{registry}:8443"
