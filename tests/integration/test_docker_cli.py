"""The docker CLI without a daemon: login, and `docker manifest create/push/inspect --insecure`."""

import json

import pytest

import images
from regclient import describe, json_body


@pytest.fixture(scope="module")
def docker_login(docker_cli):
    user, password = _creds(docker_cli)
    p = docker_cli("login", docker_cli.server.host, "-u", user, "--password-stdin", input=password, timeout=60)
    assert "Login Succeeded" in p.stdout, p.stdout + p.stderr
    cfg = json.loads((docker_cli.config / "config.json").read_text())
    assert docker_cli.server.host in cfg.get("auths", {}), cfg
    return docker_cli


def _creds(docker_cli):
    from conftest import registry_credentials

    return registry_credentials(docker_cli.server)


def test_docker_login_wrong_password_fails(docker_cli, tmp_path):
    user, password = _creds(docker_cli)
    env_cfg = tmp_path / "cfg"
    env_cfg.mkdir()
    (env_cfg / "config.json").write_text('{"auths":{}}')
    from conftest import run

    p = run(["docker", "--config", str(env_cfg), "login", docker_cli.server.host, "-u", user, "--password-stdin"],
            env=docker_cli.env, input=password + "wrong", check=False, timeout=60, redact=[password])
    assert p.returncode != 0, p.stdout
    assert "unauthorized" in (p.stderr + p.stdout).lower() or "401" in p.stderr, p.stderr
    assert docker_cli.server.host not in json.loads((env_cfg / "config.json").read_text()).get("auths", {})


def test_docker_manifest_inspect_single_image(docker_login, reg, repo):
    img = images.make_image(docker=True)
    reg.push_image(repo, img, tag="single")
    out = docker_login("manifest", "inspect", "--insecure", f"{docker_login.server.host}/{repo}:single").stdout
    doc = json.loads(out)
    assert doc["mediaType"] == images.DOCKER_MANIFEST
    assert doc["config"]["digest"] == img.config.digest
    assert [layer["digest"] for layer in doc["layers"]] == [layer.digest for layer in img.layers]


@pytest.mark.parametrize("same_repo", [True, False], ids=["same-repo", "other-repo"])
def test_docker_manifest_create_push_inspect(docker_login, reg, new_repo, same_repo):
    host = docker_login.server.host
    src = new_repo("src")
    dst = src if same_repo else new_repo("dst")
    amd64 = images.make_image("amd64", docker=True)
    arm64 = images.make_image("arm64", variant="v8", docker=True)
    reg.push_image(src, amd64, tag="amd64")
    reg.push_image(src, arm64, tag="arm64")
    target = f"{host}/{dst}:multi"
    docker_login("manifest", "create", "--insecure", target, f"{host}/{src}:amd64", f"{host}/{src}:arm64")
    p = docker_login("manifest", "push", "--insecure", "--purge", target)
    pushed = [line for line in p.stdout.split() if line.startswith("sha256:")]
    assert pushed, p.stdout

    r = reg.get_manifest(dst, "multi")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == images.DOCKER_LIST, describe(r)
    assert r.headers.get("Docker-Content-Digest") == pushed[-1], describe(r)
    doc = json_body(r)
    got = {m["digest"]: (m["platform"]["architecture"], m["platform"].get("variant")) for m in doc["manifests"]}
    assert got == {amd64.digest: ("amd64", None), arm64.digest: ("arm64", "v8")}, doc
    for child in (amd64, arm64):
        c = reg.get_manifest(dst, child.digest)
        assert c.status_code == 200 and c.content == child.manifest, describe(c)
        for b in child.blobs:
            assert reg.blob_exists(dst, b.digest), f"{b.digest} missing in {dst}"

    out = docker_login("manifest", "inspect", "--insecure", target).stdout
    listed = json.loads(out)
    assert listed["mediaType"] == images.DOCKER_LIST
    assert {m["digest"] for m in listed["manifests"]} == {amd64.digest, arm64.digest}


def test_docker_manifest_inspect_verbose_of_list(docker_login, reg, repo):
    idx = images.make_multiarch(docker=True)
    reg.push_image(repo, idx, tag="multi")
    out = docker_login("manifest", "inspect", "--insecure", "-v", f"{docker_login.server.host}/{repo}:multi").stdout
    doc = json.loads(out)
    assert isinstance(doc, list) and len(doc) == 2, doc
    assert {d["Descriptor"]["digest"] for d in doc} == {c.digest for c in idx.children}
