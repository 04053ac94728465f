"""podman and buildah against berth (vfs storage and configuration under a temp dir)."""

import json

import pytest

import images
from regclient import describe, json_body


def ref(ctools, repo, tag):
    return f"{ctools.server.host}/{repo}:{tag}"


@pytest.fixture(scope="module")
def podman_login(ctools):
    user, password = ctools.creds().split(":", 1)
    p = ctools.podman("login", "--tls-verify=false", "-u", user, "--password-stdin", ctools.server.host,
                      input=password, timeout=60)
    assert "Login Succeeded" in p.stdout, p.stdout
    auth = json.loads(ctools.authfile.read_text())
    assert ctools.server.host in auth.get("auths", {}), auth
    return ctools


def test_podman_login_wrong_password_fails(ctools, tmp_path):
    user, password = ctools.creds().split(":", 1)
    p = ctools.podman("login", "--tls-verify=false", "--authfile", tmp_path / "a.json", "-u", user,
                      "--password-stdin", ctools.server.host, input=password + "wrong", check=False, timeout=60)
    assert p.returncode != 0, p.stdout
    err = p.stderr.lower()
    assert "401" in err or "unauthorized" in err or "invalid username/password" in err, p.stderr


def test_podman_push_and_pull(podman_login, reg, repo, tmp_path):
    ct = podman_login
    img = images.make_image(nlayers=2)
    layout = images.write_oci_layout(tmp_path / "layout", {"v1": img})
    local = f"localhost/itest-local-{repo.rsplit('-', 1)[1]}:v1"
    ct.podman("pull", f"oci:{layout}:v1")
    ct.podman("tag", img.config.digest.split(":")[1], local)
    image_id = ct.podman("image", "inspect", "--format", "{{.Id}}", local).stdout.strip()
    assert image_id == img.config.digest.split(":")[1]

    ct.podman("push", "--tls-verify=false", local, f"docker://{ref(ct, repo, 'v1')}")
    r = reg.get_manifest(repo, "v1")
    assert r.status_code == 200, describe(r)
    pushed = json_body(r)
    assert pushed["config"]["digest"] == img.config.digest, "podman keeps the config; its digest is the image ID"
    for d in [pushed["config"]] + pushed["layers"]:
        assert reg.blob_exists(repo, d["digest"]), d
    pushed_digest = r.headers["Docker-Content-Digest"]

    ct.podman("rmi", "-f", local, img.config.digest.split(":")[1])
    ct.podman("pull", "--tls-verify=false", ref(ct, repo, "v1"))
    got_id = ct.podman("image", "inspect", "--format", "{{.Id}}", ref(ct, repo, "v1")).stdout.strip()
    assert got_id == image_id
    digest = ct.podman("image", "inspect", "--format", "{{.Digest}}", ref(ct, repo, "v1")).stdout.strip()
    assert digest == pushed_digest


def test_podman_push_format_v2s2(podman_login, reg, repo, tmp_path):
    ct = podman_login
    img = images.make_image()
    layout = images.write_oci_layout(tmp_path / "layout", {"v1": img})
    ct.podman("pull", f"oci:{layout}:v1")
    ct.podman("push", "--tls-verify=false", "--format", "v2s2", img.config.digest.split(":")[1],
              f"docker://{ref(ct, repo, 'docker')}")
    r = reg.get_manifest(repo, "docker")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == images.DOCKER_MANIFEST, describe(r)


def test_podman_pull_platform_from_index(podman_login, reg, repo):
    ct = podman_login
    idx = images.make_multiarch()
    reg.push_image(repo, idx, tag="multi")
    for arch, child, extra in (("arm64", idx.children[1], ["--variant", "v8"]), ("amd64", idx.children[0], [])):
        ct.podman("pull", "--tls-verify=false", "--arch", arch, *extra, ref(ct, repo, "multi"))
        got = ct.podman("image", "inspect", "--format", "{{.Id}}", ref(ct, repo, "multi")).stdout.strip()
        assert got == child.config.digest.split(":")[1], f"{arch}: got image {got}"


def test_podman_manifest_create_add_push(podman_login, reg, repo):
    ct = podman_login
    amd64 = images.make_image("amd64")
    arm64 = images.make_image("arm64", variant="v8")
    reg.push_image(repo, amd64, tag="amd64")
    reg.push_image(repo, arm64, tag="arm64")
    listname = f"localhost/itest-list-{repo.rsplit('-', 1)[1]}:latest"
    ct.podman("manifest", "create", listname)
    ct.podman("manifest", "add", "--tls-verify=false", listname, f"docker://{ref(ct, repo, 'amd64')}")
    ct.podman("manifest", "add", "--tls-verify=false", listname, f"docker://{ref(ct, repo, 'arm64')}")
    ct.podman("manifest", "push", "--all", "--tls-verify=false", listname, f"docker://{ref(ct, repo, 'list')}")
    r = reg.get_manifest(repo, "list")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") in (images.OCI_INDEX, images.DOCKER_LIST), describe(r)
    doc = json_body(r)
    got = {m["digest"]: m.get("platform", {}).get("architecture") for m in doc["manifests"]}
    assert got == {amd64.digest: "amd64", arm64.digest: "arm64"}, doc
    # (podman 4.3's `manifest inspect` of a remote list ignores the auth file, so inspect the local list)
    inspected = json.loads(ct.podman("manifest", "inspect", listname).stdout)
    assert {m["digest"] for m in inspected["manifests"]} == {amd64.digest, arm64.digest}


def test_buildah_from_scratch_copy_commit_push(ctools, reg, repo, tmp_path):
    content = f"hello from buildah {repo}\n".encode()
    (tmp_path / "hello.txt").write_bytes(content)
    ctr = ctools.buildah("from", "scratch").stdout.strip().splitlines()[-1]
    try:
        ctools.buildah("copy", ctr, str(tmp_path / "hello.txt"), "/hello.txt")
        ctools.buildah("config", "--cmd", "/hello.txt", "--label", "org.example.built-by=berth-tests", ctr)
        local = f"localhost/itest-built-{repo.rsplit('-', 1)[1]}:1"
        ctools.buildah("commit", ctr, local)
    finally:
        ctools.buildah("rm", ctr, check=False)
    ctools.buildah("push", "--tls-verify=false", "--creds", ctools.creds(), local, f"docker://{ref(ctools, repo, 'built')}")

    r = reg.get_manifest(repo, "built")
    assert r.status_code == 200, describe(r)
    m = json_body(r)
    cfg = json_body(reg.get(f"/v2/{repo}/blobs/{m['config']['digest']}"))
    assert cfg["config"]["Labels"]["org.example.built-by"] == "berth-tests"
    assert cfg["config"]["Cmd"] == ["/hello.txt"]
    assert len(m["layers"]) == 1
    layer = reg.get(f"/v2/{repo}/blobs/{m['layers'][0]['digest']}")
    assert layer.status_code == 200, describe(layer)
    assert images.sha256(layer.content) == m["layers"][0]["digest"]
    assert images.layer_files(layer.content).get("hello.txt") == content

    # and buildah can start from it again
    ctr2 = ctools.buildah("from", "--tls-verify=false", "--creds", ctools.creds(),
                          f"docker://{ref(ctools, repo, 'built')}").stdout.strip().splitlines()[-1]
    ctools.buildah("rm", ctr2)
