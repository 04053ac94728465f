"""Servers of their own: restarts, crashes, generated credentials, secrets kept out of logs."""

import base64
import configparser
import os
import signal
import stat

import requests

import images
from conftest import create_repository, registry_credentials, repo_name_for
from regclient import Registry, describe

OCTET = {"Content-Type": "application/octet-stream"}


def test_upload_session_survives_restart(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("restart-upload")
    create_repository(repo, srv)
    b = images.random_blob(300000)
    r = reg.start_upload(repo)
    assert r.status_code == 202, describe(r)
    r = reg.patch(reg.location(r), data=b.data[:100000], headers={**OCTET, "Content-Range": "0-99999"})
    assert r.status_code == 202, describe(r)
    loc = reg.location_path(r)

    srv.restart()

    reg = Registry(srv)
    s = reg.get(loc)
    assert s.status_code == 204, describe(s)
    assert s.headers.get("Range") == "0-99999", describe(s)
    r = reg.patch(reg.location(s), data=b.data[100000:], headers={**OCTET, "Content-Range": f"100000-{b.size - 1}"})
    assert r.status_code == 202, describe(r)
    r = reg.put(reg.location(r), params={"digest": b.digest})
    assert r.status_code == 201, describe(r)
    g = reg.get(f"/v2/{repo}/blobs/{b.digest}")
    assert g.status_code == 200 and g.content == b.data, describe(g)


def test_streamed_upload_session_survives_restart(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("restart-stream")
    create_repository(repo, srv)
    b = images.random_blob(5000)
    r = reg.start_upload(repo)
    r = reg.patch(reg.location(r), data=b.data[:2000], headers=OCTET)
    assert r.status_code == 202, describe(r)
    loc = reg.location_path(r)
    srv.restart()
    reg = Registry(srv)
    r = reg.put(loc, params={"digest": b.digest}, data=b.data[2000:], headers=OCTET)
    assert r.status_code == 201, describe(r)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def _push_everything(reg, repo):
    img = images.make_image(nlayers=2)
    idx = images.make_multiarch()
    art = images.make_artifact(img, "application/vnd.example.sbom.v1")
    reg.push_image(repo, img, tag="single")
    reg.push_image(repo, idx, tag="multi")
    reg.push_image(repo, art)
    return img, idx, art


def _check_everything(reg, repo, img, idx, art):
    assert reg.tags(repo) == ["multi", "single"]
    for tag, obj in (("single", img), ("multi", idx)):
        r = reg.get_manifest(repo, tag)
        assert r.status_code == 200 and r.content == obj.manifest, describe(r)
    for b in images.all_blobs(img) + images.all_blobs(idx):
        g = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert g.status_code == 200 and g.content == b.data, describe(g)
    r = reg.get(f"/v2/{repo}/referrers/{img.digest}")
    assert r.status_code == 200, describe(r)
    assert [m["digest"] for m in r.json()["manifests"]] == [art.digest]
    r = reg.get("/v2/_catalog")
    assert repo in r.json()["repositories"], describe(r)


def test_content_survives_restart(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("restart-content")
    create_repository(repo, srv)
    objs = _push_everything(reg, repo)
    srv.restart()
    _check_everything(Registry(srv), repo, *objs)


def test_content_survives_sigkill(berth_factory):
    """Everything that was acknowledged (201) is durable, even without a clean shutdown."""
    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("sigkill-content")
    create_repository(repo, srv)
    objs = _push_everything(reg, repo)
    srv.kill()
    srv.start()
    _check_everything(Registry(srv), repo, *objs)


def test_sigkill_mid_upload_leaves_no_partial_blob(berth_factory):
    import socket
    import time

    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("sigkill-upload")
    create_repository(repo, srv)
    reg.push_blob(repo, images.random_blob(10))
    b = images.random_blob(4 * 1024 * 1024)
    user, password = registry_credentials(srv)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall((f"POST /v2/{repo}/blobs/uploads/?digest={b.digest} HTTP/1.1\r\nHost: {srv.host}\r\n"
               f"Authorization: Basic {auth}\r\nContent-Type: application/octet-stream\r\n"
               f"Content-Length: {b.size}\r\n\r\n").encode() + b.data[: b.size // 2])
    time.sleep(0.3)
    srv.kill()
    s.close()
    srv.start()
    reg = Registry(srv)
    assert not reg.blob_exists(repo, b.digest)
    reg.push_blob(repo, b)
    assert reg.get(f"/v2/{repo}/blobs/{b.digest}").content == b.data


def test_generated_root_credentials(berth_factory, tmp_path):
    """Without BERTH_ROOT_* the first start generates the root key, prints it once and writes
    DATA/credentials (0600, INI profile [berth]); a restart keeps it and prints nothing."""
    data = tmp_path / "data"
    srv = berth_factory(data_dir=data, account_id="", access_key="", secret="")
    cred = data / "credentials"
    assert cred.exists(), f"{cred} not written\n{srv.log_tail()}"
    mode = stat.S_IMODE(os.stat(cred).st_mode)
    assert mode == 0o600, oct(mode)
    ini = configparser.ConfigParser()
    ini.read(cred)
    assert "berth" in ini, cred.read_text()
    key = ini["berth"].get("aws_access_key_id", "")
    secret = ini["berth"].get("aws_secret_access_key", "")
    assert key and secret, "credentials file lacks aws_access_key_id / aws_secret_access_key"
    first_log = srv.log_text()
    assert secret in first_log, "the generated secret must be printed once on first start"
    srv.access_key, srv.secret = key, secret

    r = requests.get(srv.url + "/v2/", auth=registry_credentials(srv), timeout=10)
    assert r.status_code == 200, describe(r)
    r = requests.get(srv.url + "/v2/", timeout=10)
    assert r.status_code == 401, describe(r)

    before = len(first_log)
    srv.restart()
    assert secret not in srv.log_text()[before:], "the secret was printed again on restart"
    r = requests.get(srv.url + "/v2/", auth=registry_credentials(srv), timeout=10)
    assert r.status_code == 200, describe(r)
    ini2 = configparser.ConfigParser()
    ini2.read(cred)
    assert ini2["berth"]["aws_secret_access_key"] == secret


def test_environment_credentials_and_account(berth_factory):
    srv = berth_factory(account_id="444455556666", access_key="AKIAENVTESTKEY000001", secret="env-secret-" + "z" * 29)
    r = requests.get(srv.url + "/v2/", auth=registry_credentials(srv), timeout=10)
    assert r.status_code == 200, describe(r)
    r = requests.get(srv.url + "/v2/", auth=("AKIABERTHTESTROOT001", "berth/test/root/secret/" + "x" * 17), timeout=10)
    assert r.status_code == 401, describe(r)


def test_secrets_never_in_log(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    repo = repo_name_for("log-secrets")
    create_repository(repo, srv)
    reg.push_image(repo, images.make_image(), tag="v1")
    user, password = registry_credentials(srv)
    requests.get(srv.url + "/v2/", auth=(user, password + "wrong"), timeout=10)
    requests.get(srv.url + f"/v2/{repo}/tags/list", auth=(user, "x" + password), timeout=10)
    srv.stop()
    log = srv.log_text()
    assert log.strip(), "berth wrote no log at all"
    for s in {password, srv.secret, base64.b64encode(f"{user}:{password}".encode()).decode()}:
        assert s not in log, "a secret or an Authorization value appears in the log"
    srv.start()


def test_sigterm_exits_cleanly(berth_factory):
    srv = berth_factory()
    rc = srv.stop(sig=signal.SIGTERM)
    assert rc in (0, -signal.SIGTERM), f"exit status {rc}\n{srv.log_tail()}"
    srv.start()
