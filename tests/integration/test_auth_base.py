"""GET /v2/ and authentication on /v2: challenges, bad credentials, other principals (curl and requests)."""

import base64
import os

import boto3
import botocore.config
import pytest
import requests

from conftest import DEFAULT_BIN, BerthServer, registry_credentials, run, token
from regclient import Registry, assert_error, describe


def test_v2_without_credentials_is_401_with_basic_challenge(berth):
    r = requests.get(berth.url + "/v2/", timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("basic "), describe(r)
    assert "realm=" in challenge.lower(), describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_v2_with_root_credentials_is_200(reg):
    r = reg.get("/v2/")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Docker-Distribution-API-Version") == "registry/2.0", describe(r)


def test_head_v2_with_credentials_is_200(reg):
    r = reg.head("/v2/")
    assert r.status_code == 200, describe(r)


def test_v2_with_curl(berth):
    user, password = registry_credentials(berth)
    # The password goes through a config on stdin, not the command line.
    cfg = f'user = "{user}:{password}"\n'
    p = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-K", "-", berth.url + "/v2/"],
            input=cfg, timeout=30, redact=[password])
    assert p.stdout.strip() == "200", p.stdout
    p = run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", berth.url + "/v2/"], timeout=30)
    assert p.stdout.strip() == "401", p.stdout
    p = run(["curl", "-sS", "-D", "-", "-o", "/dev/null", berth.url + "/v2/"], timeout=30)
    assert "www-authenticate: basic" in p.stdout.lower(), p.stdout


def test_root_secret_is_not_a_registry_password(berth):
    """/v2 takes the ECR login token (user AWS), not the secret access key itself."""
    for auth in ((berth.access_key, berth.secret), ("AWS", berth.secret)):
        r = requests.get(berth.url + "/v2/", auth=auth, timeout=10)
        assert_error(r, 401, "UNAUTHORIZED")


def test_login_token_of_another_server_is_401(berth, berth_factory):
    """Tokens are signed by the server's own key: another berth's token (same root key) is refused."""
    other = berth_factory(account_id=berth.account_id or "123456789012", access_key=berth.access_key,
                          secret=berth.secret)
    user, password = registry_credentials(other)
    assert requests.get(other.url + "/v2/", auth=(user, password), timeout=10).status_code == 200
    assert password != registry_credentials(berth)[1]
    r = requests.get(berth.url + "/v2/", auth=(user, password), timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


def test_helper_password_is_per_server_not_per_port(tmp_path):
    """The suite's cached login password belongs to one server: another berth later started on
    the same port has its own signing key (CI once failed when a worker reused a port)."""
    binary = os.environ.get("BERTH_BIN", DEFAULT_BIN)
    first = BerthServer(binary, tmp_path / "first").start()
    try:
        assert Registry(first).get("/v2/").status_code == 200
    finally:
        first.stop()
    second = BerthServer(binary, tmp_path / "second", port=first.port).start()
    try:
        assert second.url == first.url
        r = Registry(second).get("/v2/")
        assert r.status_code == 200, describe(r)
    finally:
        second.stop()


def test_wrong_password_is_401(berth):
    user, password = registry_credentials(berth)
    r = requests.get(berth.url + "/v2/", auth=(user, password + "x"), timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), describe(r)


def test_unknown_access_key_is_401(berth):
    r = requests.get(berth.url + "/v2/", auth=("AKIAUNKNOWN" + token(4).upper(), "nope" * 10), timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


def test_empty_password_is_401(berth):
    user, _ = registry_credentials(berth)
    r = requests.get(berth.url + "/v2/", auth=(user, ""), timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


def test_basic_user_with_a_nul_is_not_aws(berth):
    """The user must be exactly AWS: 'AWS\\0anything' with a valid token is refused."""
    _, password = registry_credentials(berth)
    raw = b"AWS\0x:" + password.encode()
    r = requests.get(berth.url + "/v2/", headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
                     timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"no-colon-here").decode(),
    "Basic",
    "Bearer some.jwt.token",
    "Digest username=\"x\"",
    "Basic " + base64.b64encode(b":").decode(),
    "Basic " + "A" * 10000,
])
def test_malformed_authorization_is_401(berth, header):
    r = requests.get(berth.url + "/v2/", headers={"Authorization": header}, timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/{repo}/manifests/latest"),
    ("HEAD", "/v2/{repo}/manifests/latest"),
    ("GET", "/v2/{repo}/blobs/sha256:" + "0" * 64),
    ("HEAD", "/v2/{repo}/blobs/sha256:" + "0" * 64),
    ("POST", "/v2/{repo}/blobs/uploads/"),
    ("PUT", "/v2/{repo}/manifests/latest"),
    ("DELETE", "/v2/{repo}/manifests/sha256:" + "0" * 64),
    ("GET", "/v2/{repo}/tags/list"),
    ("GET", "/v2/{repo}/referrers/sha256:" + "0" * 64),
    ("GET", "/v2/_catalog"),
])
def test_every_endpoint_requires_credentials(berth, repo, method, path):
    url = berth.url + path.format(repo=repo)
    r = requests.request(method, url, timeout=10, data=b"{}" if method == "PUT" else None)
    assert r.status_code == 401, describe(r)
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), describe(r)
    if method != "HEAD":
        assert_error(r, 401, "UNAUTHORIZED")


def tamper(password: str) -> str:
    """Change one character well inside the string (the last base64 character may only carry
    padding bits, so changing it need not change the decoded bytes)."""
    i = len(password) // 2
    return password[:i] + ("B" if password[i] != "B" else "C") + password[i + 1:]


def test_tampered_password_is_401(berth):
    user, password = registry_credentials(berth)
    r = requests.get(berth.url + "/v2/", auth=(user, tamper(password)), timeout=10)
    assert_error(r, 401, "UNAUTHORIZED")


def test_wrong_credentials_cannot_push(berth, repo):
    user, password = registry_credentials(berth)
    bad = Registry(berth, auth=(user, tamper(password)))
    r = bad.start_upload(repo)
    assert_error(r, 401, "UNAUTHORIZED")


def _iam_client(berth):
    return boto3.client("iam", endpoint_url=berth.url, region_name=berth.region,
                        aws_access_key_id=berth.access_key, aws_secret_access_key=berth.secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5,
                                                      read_timeout=20))


def test_other_principal_is_denied(berth, reg, repo):
    """A user that authenticates but lacks permission gets 403 DENIED, not 401 and never 200.

    The user's only permission is ecr:GetAuthorizationToken: it can log in (its token is a
    valid /v2 password), and every pull, list and push is then refused by the evaluator,
    with AWS's denial message naming the user and the action."""
    import images

    img = images.make_image()
    reg.push_image(repo, img, tag="v1")

    iam = _iam_client(berth)
    user = "itest-denied-" + token(3)
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="login-only", PolicyDocument=(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken",'
        '"Resource":"*"}]}'))
    k = iam.create_access_key(UserName=user)["AccessKey"]
    other = Registry(berth, auth=registry_credentials(berth, k["AccessKeyId"], k["SecretAccessKey"]))

    r = other.get("/v2/")
    assert r.status_code == 200, describe(r)
    for action, r in (("ecr:BatchGetImage", other.get_manifest(repo, "v1")),
                      ("ecr:ListImages", other.get(f"/v2/{repo}/tags/list")),
                      ("ecr:InitiateLayerUpload", other.start_upload(repo))):
        assert_error(r, 403, "DENIED")
        message = r.json()["errors"][0]["message"]
        assert f":user/{user} is not authorized to perform: {action}" in message, describe(r)

    # the same token, once a policy allows pulling: the 403s above were the evaluator's
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    r = other.get_manifest(repo, "v1")
    assert r.status_code == 200, describe(r)
    assert_error(other.start_upload(repo), 403, "DENIED")


def test_tls_client_hello_on_plain_http_port_gets_an_http_answer(berth):
    """Go clients (docker, containerd) try HTTPS first on an insecure registry and fall back to
    plain HTTP only when the answer shows the server speaks HTTP ("first record does not look
    like a TLS handshake"). A bare EOF or reset stops them ("error pinging v2 registry: EOF").
    Every TLS handshake attempt on the plain-HTTP port must be answered with HTTP."""
    import socket
    import ssl

    host, port = berth.host.rsplit(":", 1)
    outcomes = {}
    for _ in range(60):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = socket.create_connection((host, int(port)), timeout=10)
        try:
            ctx.wrap_socket(sock, server_hostname="localhost").close()
            kind = "handshake succeeded?!"
        except ssl.SSLEOFError:
            kind = "EOF"
        except ssl.SSLError as e:
            kind = "EOF" if "EOF" in str(e) else "not-TLS answer"
        except (ConnectionResetError, BrokenPipeError):
            kind = "reset"
        finally:
            sock.close()
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes == {"not-TLS answer": 60}, outcomes
