"""skopeo against berth: copy in every direction, multi-arch with --all, inspect, list-tags, delete.

Manifests and blobs must round-trip byte-exactly: what is copied in is what comes out.
"""

import json

import pytest

import images
from conftest import run
from regclient import describe


@pytest.fixture
def layout(tmp_path):
    img = images.make_image(nlayers=2)
    idx = images.make_multiarch()
    docker_img = images.make_image(docker=True)
    path = images.write_oci_layout(tmp_path / "layout", {"v1": img, "multi": idx, "docker": docker_img})
    return {"path": path, "img": img, "idx": idx, "docker": docker_img}


def dest(ctools, repo, tag):
    return f"docker://{ctools.server.host}/{repo}:{tag}"


def copy(ctools, src, dst, *extra):
    return ctools.skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                         "--src-creds", ctools.creds(), "--dest-creds", ctools.creds(), *extra, src, dst)


def inspect(ctools, ref, *extra):
    return ctools.skopeo("inspect", "--tls-verify=false", "--creds", ctools.creds(), *extra, ref)


def test_copy_oci_layout_to_registry_byte_exact(ctools, reg, repo, layout):
    img = layout["img"]
    copy(ctools, f"oci:{layout['path']}:v1", dest(ctools, repo, "v1"))
    r = reg.get_manifest(repo, "v1")
    assert r.status_code == 200, describe(r)
    assert r.content == img.manifest, "skopeo pushed different manifest bytes than berth serves"
    assert r.headers["Docker-Content-Digest"] == img.digest
    for b in img.blobs:
        g = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        assert g.status_code == 200 and g.content == b.data, describe(g)
    raw = inspect(ctools, dest(ctools, repo, "v1"), "--raw").stdout.encode()
    assert raw.rstrip(b"\n") == img.manifest.rstrip(b"\n")


def test_inspect(ctools, reg, repo, layout):
    img = layout["img"]
    reg.push_image(repo, img, tag="v1")
    reg.push_image(repo, img, tag="also")
    info = json.loads(inspect(ctools, dest(ctools, repo, "v1")).stdout)
    assert info["Digest"] == img.digest
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"
    assert info["Layers"] == [layer.digest for layer in img.layers]
    assert sorted(info["RepoTags"]) == ["also", "v1"]
    cfg = json.loads(inspect(ctools, dest(ctools, repo, "v1"), "--config", "--raw").stdout)
    assert cfg == json.loads(img.config.data)


def test_copy_registry_to_dir_byte_exact(ctools, reg, repo, layout, tmp_path):
    img = layout["img"]
    reg.push_image(repo, img, tag="v1")
    out = tmp_path / "dir"
    copy(ctools, dest(ctools, repo, "v1"), f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == img.manifest
    for b in img.blobs:
        assert (out / b.digest.split(":", 1)[1]).read_bytes() == b.data, f"blob {b.digest} differs"


def test_copy_docker_schema2_pushed_over_http(ctools, reg, repo, tmp_path):
    img = images.make_image(docker=True, nlayers=2)
    reg.push_image(repo, img, tag="d")
    raw = inspect(ctools, dest(ctools, repo, "d"), "--raw").stdout.encode()
    assert json.loads(raw)["mediaType"] == images.DOCKER_MANIFEST
    assert raw.rstrip(b"\n") == img.manifest.rstrip(b"\n")
    out = tmp_path / "dir"
    copy(ctools, dest(ctools, repo, "d"), f"dir:{out}")
    assert (out / "manifest.json").read_bytes() == img.manifest


def test_copy_all_multiarch_index_round_trip(ctools, reg, repo, layout, tmp_path):
    idx = layout["idx"]
    copy(ctools, f"oci:{layout['path']}:multi", dest(ctools, repo, "multi"), "--all")
    r = reg.get_manifest(repo, "multi")
    assert r.status_code == 200 and r.content == idx.manifest, describe(r)
    assert r.headers.get("Content-Type") == images.OCI_INDEX
    for child in idx.children:
        c = reg.get_manifest(repo, child.digest)
        assert c.status_code == 200 and c.content == child.manifest, describe(c)
    raw = inspect(ctools, dest(ctools, repo, "multi"), "--raw").stdout.encode()
    assert raw.rstrip(b"\n") == idx.manifest.rstrip(b"\n")

    out = tmp_path / "out"
    copy(ctools, dest(ctools, repo, "multi"), f"oci:{out}:multi", "--all")
    index = json.loads((out / "index.json").read_text())
    assert [m["digest"] for m in index["manifests"]] == [idx.digest]
    blobs = out / "blobs" / "sha256"
    assert (blobs / idx.digest.split(":")[1]).read_bytes() == idx.manifest
    for b in images.all_blobs(idx):
        assert (blobs / b.digest.split(":")[1]).read_bytes() == b.data


def test_inspect_index_selects_platform(ctools, reg, repo):
    idx = images.make_multiarch()
    reg.push_image(repo, idx, tag="multi")
    info = json.loads(ctools.skopeo("--override-arch", "arm64", "--override-variant", "v8", "inspect",
                                    "--tls-verify=false", "--creds", ctools.creds(),
                                    dest(ctools, repo, "multi")).stdout)
    assert info["Digest"] == idx.digest
    assert info["Architecture"] == "arm64"
    assert info["Layers"] == [layer.digest for layer in idx.children[1].layers]


def test_copy_with_format_v2s2_conversion(ctools, reg, repo, layout):
    img = layout["img"]
    copy(ctools, f"oci:{layout['path']}:v1", dest(ctools, repo, "v2s2"), "--format", "v2s2")
    r = reg.get_manifest(repo, "v2s2")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type") == images.DOCKER_MANIFEST, describe(r)
    m = json.loads(r.content)
    assert m["mediaType"] == images.DOCKER_MANIFEST
    assert m["config"]["mediaType"] == images.DOCKER_CONFIG
    assert [layer["digest"] for layer in m["layers"]] == [layer.digest for layer in img.layers]
    assert all(layer["mediaType"] == images.DOCKER_LAYER for layer in m["layers"])
    assert r.headers["Docker-Content-Digest"] == images.sha256(r.content)


def test_copy_between_repositories_mounts_blobs(ctools, reg, new_repo):
    a, b = new_repo("a"), new_repo("b")
    img = images.make_image(nlayers=2)
    reg.push_image(a, img, tag="v1")
    copy(ctools, dest(ctools, a, "v1"), dest(ctools, b, "v1"))
    r = reg.get_manifest(b, "v1")
    assert r.status_code == 200 and r.content == img.manifest, describe(r)
    for blob in img.blobs:
        assert reg.get(f"/v2/{b}/blobs/{blob.digest}").content == blob.data


def test_list_tags(ctools, reg, repo):
    img = images.make_image()
    tags = ["latest", "1.0", "1.1", "2.0-rc1", "stable"]
    for t in tags:
        reg.push_image(repo, img, tag=t)
    out = json.loads(ctools.skopeo("list-tags", "--tls-verify=false", "--creds", ctools.creds(),
                                   f"docker://{ctools.server.host}/{repo}").stdout)
    assert out["Repository"] == f"{ctools.server.host}/{repo}"
    assert sorted(out["Tags"]) == sorted(tags)


def test_delete(ctools, reg, repo):
    img, other = images.make_image(), images.make_image()
    reg.push_image(repo, img, tag="doomed")
    reg.push_image(repo, img, tag="doomed-too")
    reg.push_image(repo, other, tag="kept")
    ctools.skopeo("delete", "--tls-verify=false", "--creds", ctools.creds(), dest(ctools, repo, "doomed"))
    # skopeo deletes the manifest by digest: every tag on it goes
    assert reg.get_manifest(repo, img.digest).status_code == 404
    assert reg.get_manifest(repo, "doomed").status_code == 404
    assert reg.tags(repo) == ["kept"]
    assert reg.get_manifest(repo, "kept").content == other.manifest


def test_login_and_authfile(ctools, repo, reg):
    img = images.make_image()
    reg.push_image(repo, img, tag="v1")
    user, password = ctools.creds().split(":", 1)
    authfile = ctools.base / f"skopeo-auth-{repo.replace('/', '_')}.json"
    p = run(
        ["skopeo", "login", "--tls-verify=false", "--authfile", str(authfile), "-u", user, "--password-stdin",
         ctools.server.host], env=ctools.env, input=password, timeout=60, redact=[password])
    assert "Login Succeeded" in p.stdout, p.stdout
    info = json.loads(ctools.skopeo("inspect", "--tls-verify=false", "--authfile", authfile,
                                    dest(ctools, repo, "v1")).stdout)
    assert info["Digest"] == img.digest


def test_wrong_credentials_fail(ctools, repo, reg):
    reg.push_image(repo, images.make_image(), tag="v1")
    user, password = ctools.creds().split(":", 1)
    p = ctools.skopeo("inspect", "--tls-verify=false", "--creds", f"{user}:{password}nope",
                      dest(ctools, repo, "v1"), check=False)
    assert p.returncode != 0
    assert "unauthorized" in (p.stderr + p.stdout).lower() or "401" in p.stderr, p.stderr
