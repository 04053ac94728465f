"""Registry login the ECR way (issue: control plane §5): the aws CLI mints a 12-hour token and
the container tools log in with it, exactly as the seeds show."""

import base64
import os
import shlex
import time

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
