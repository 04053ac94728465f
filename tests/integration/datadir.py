"""Looking at a berth data directory from the outside: `berth fsck`, `berth gc`, blob files.

Shared by the tests that damage a data directory (test_fsck.py) and those that race or
crash a server and then judge what it left (test_races.py, test_crash.py).
"""

import hashlib
import os
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3

import images
from regclient import describe


class Fsck:
    """The outcome of one `berth fsck` run: exit status, problem lines and the summary line."""

    def __init__(self, proc):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        self.summary = next((line for line in lines if line.startswith("fsck: ")), "")
        self.problems = [line for line in lines if not line.startswith("fsck: ")]

    def __repr__(self):
        return f"fsck exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def count(self, what) -> int:
        """The number the summary line gives for `what` ("blobs", "manifests", "problems", ...)."""
        words = self.summary.replace(",", " ").replace("(", " ").replace(":", " ").split()
        for i, w in enumerate(words[1:], 1):
            if w.rstrip("s") == what.rstrip("s") and words[i - 1].isdigit():
                return int(words[i - 1])
        raise AssertionError(f"no count of {what!r} in the summary {self.summary!r}")


def cli_env(srv, **extra) -> dict:
    """The environment for a `berth` command run against srv's data directory: the server's own
    settings (its blob store among them: on S3 a command without it would look at <data>/blobs)."""
    return {**os.environ, **getattr(srv, "extra_env", {}), **extra}


def fsck(srv, *args, env=None, timeout=120) -> Fsck:
    p = subprocess.run([str(srv.binary), "fsck", "--data", str(srv.data_dir), *args], capture_output=True, text=True,
                       timeout=timeout, env=cli_env(srv, **(env or {})))
    return Fsck(p)


def assert_clean(srv, *args):
    r = fsck(srv, *args)
    assert r.returncode == 0 and not r.problems and r.count("problems") == 0, r
    return r


def gc(srv, *args, timeout=120) -> str:
    p = subprocess.run([str(srv.binary), "gc", "--data", str(srv.data_dir), *args], capture_output=True, text=True,
                       timeout=timeout, env=cli_env(srv))
    assert p.returncode == 0, p.stderr
    return p.stdout


def blob_file(srv, digest) -> Path:
    """Where the filesystem blob store keeps a blob (see blob_exists for either store)."""
    alg, hexd = digest.split(":")
    return Path(srv.data_dir) / "blobs" / alg / hexd[:2] / hexd


class _S3Blobs:
    """The bucket and key prefix of a server whose blob store is S3 (BERTH_BLOB_STORE=s3://...), and
    a client for it with the server's own credentials."""

    def __init__(self, env):
        u = urlsplit(env["BERTH_BLOB_STORE"])
        q = parse_qs(u.query)
        self.bucket, self.prefix = u.netloc, u.path.strip("/")
        import boto3

        self.client = boto3.client("s3", endpoint_url=q["endpoint"][0], region_name=q.get("region", ["us-east-1"])[0],
                                   aws_access_key_id=env["BERTH_S3_ACCESS_KEY_ID"],
                                   aws_secret_access_key=env["BERTH_S3_SECRET_ACCESS_KEY"])

    def key(self, digest):
        alg, hexd = digest.split(":")
        return f"{self.prefix}/blobs/{alg}/{hexd[:2]}/{hexd}".lstrip("/")

    def any_under(self, sub) -> bool:
        key = f"{self.prefix}/{sub}".lstrip("/")
        return self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1).get("KeyCount", 0) > 0

    def exists(self, digest) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
            return True
        except self.client.exceptions.ClientError as e:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e
            return False


def upload_exists(srv, upload_id) -> bool:
    """Whether srv's blob store holds anything of an upload session: its file under <data>/uploads,
    or its objects (state, staged bytes, multipart target) under uploads/<id>/ on S3."""
    s3 = _s3(srv)
    return s3.any_under(f"uploads/{upload_id}/") if s3 else (Path(srv.data_dir) / "uploads" / upload_id).exists()


def _s3(srv):
    env = getattr(srv, "extra_env", {}) or {}
    return _S3Blobs(env) if env.get("BERTH_BLOB_STORE", "").startswith("s3://") else None


def blob_exists(srv, digest) -> bool:
    """Whether the bytes of `digest` are in srv's blob store: a file under <data>/blobs, or an object
    in its bucket when the server keeps blobs on S3."""
    s3 = _s3(srv)
    return s3.exists(digest) if s3 else blob_file(srv, digest).exists()


def remove_blob(srv, digest):
    """Takes the bytes of `digest` out of srv's blob store behind berth's back (damage)."""
    s3 = _s3(srv)
    if s3:
        s3.client.delete_object(Bucket=s3.bucket, Key=s3.key(digest))
    else:
        blob_file(srv, digest).unlink()


def plant_orphan(srv, data: bytes, age_seconds: float) -> bool:
    """Puts bytes with no record in srv's blob store under their digest, as a crash between the bytes
    and their record leaves them. A file is dated age_seconds back; an object cannot be (S3 dates it
    itself): returns whether the orphan is as old as asked."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    s3 = _s3(srv)
    if s3:
        s3.client.put_object(Bucket=s3.bucket, Key=s3.key(digest), Body=data)
        return age_seconds <= 0
    f = blob_file(srv, digest)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(data)
    old = time.time() - age_seconds
    os.utime(f, (old, old))
    return True


def misnamed_blob_files(data_dir) -> list:
    """Every file under <data>/blobs whose content does not hash to its name (a partial blob)."""
    bad = []
    for alg in ("sha256", "sha512"):
        for f in sorted((Path(data_dir) / "blobs" / alg).glob("*/*")):
            if not f.is_file():
                continue
            h = hashlib.new(alg)
            with open(f, "rb") as fp:
                for chunk in iter(lambda: fp.read(1 << 20), b""):
                    h.update(chunk)
            if h.hexdigest() != f.name:
                bad.append(f"{f} holds {alg}:{h.hexdigest()}")
    return bad


def ecr_client(srv):
    return boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret)


def pull_problems(reg, repo, ref, obj) -> list:
    """What differs between `obj` (an images.Image or Index) and what the registry serves for repo:ref,
    byte for byte: the manifest, each child manifest and each blob. Empty when identical."""
    out = []
    r = reg.get_manifest(repo, ref)
    if r.status_code != 200:
        return [f"{repo}:{ref}: {describe(r)}"]
    if r.content != obj.manifest:
        out.append(f"{repo}:{ref}: manifest bytes differ (got {images.sha256(r.content)}, pushed {obj.digest})")
        return out
    children = obj.children if isinstance(obj, images.Index) else []
    for child in children:
        out += pull_problems(reg, repo, child.digest, child)
    for b in [] if children else obj.blobs:
        g = reg.get(f"/v2/{repo}/blobs/{b.digest}")
        if g.status_code != 200:
            out.append(f"{repo}:{ref}: blob {b.digest}: {describe(g)}")
        elif images.sha256(g.content) != b.digest:
            out.append(f"{repo}:{ref}: blob {b.digest} comes back as {images.sha256(g.content)}")
    return out


def skopeo_push_args(tools, layout, ref, repo, tag) -> list:
    """skopeo's arguments (after the global options) to copy --all oci:<layout>:<ref> to repo:tag."""
    return ["copy", "--all", "--dest-tls-verify=false", "--dest-creds", tools.creds(), "--retry-times", "0",
            f"oci:{layout}:{ref}", f"docker://{tools.server.host}/{repo}:{tag}"]


def skopeo_push(tools, layout, ref, repo, tag, check=True, timeout=120):
    """skopeo copy --all oci:<layout>:<ref> to repo:tag on the tools' server; returns the process."""
    return tools.skopeo(*skopeo_push_args(tools, layout, ref, repo, tag), check=check, timeout=timeout)


def skopeo_push_start(tools, layout, ref, repo, tag) -> subprocess.Popen:
    """The same push, started and not waited for (for a test that may have to kill it)."""
    cmd = ["skopeo", "--policy", str(tools.policy), "--registries-conf", str(tools.registries_conf),
           *skopeo_push_args(tools, layout, ref, repo, tag)]
    return subprocess.Popen(cmd, env=tools.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def skopeo_pull_problems(tools, repo, ref, obj, dest) -> list:
    """Pull repo:ref with skopeo (--all) into dir:dest and compare with `obj` byte for byte: the
    manifest, each child manifest and each blob by its digest. Empty when identical."""
    Path(dest).parent.mkdir(parents=True, exist_ok=True)
    p = tools.skopeo("copy", "--all", "--src-tls-verify=false", "--src-creds", tools.creds(),
                     f"docker://{tools.server.host}/{repo}:{ref}", f"dir:{dest}", check=False)
    if p.returncode != 0:
        return [f"skopeo pull of {repo}:{ref} failed: {p.stderr.strip()[-600:]}"]
    dest = Path(dest)
    out = []
    got = (dest / "manifest.json").read_bytes()
    if images.sha256(got) != obj.digest:
        out.append(f"{repo}:{ref}: manifest is {images.sha256(got)}, pushed {obj.digest}")
    for child in obj.children if isinstance(obj, images.Index) else []:
        f = dest / (child.digest.split(":")[1] + ".manifest.json")
        if not f.exists() or images.sha256(f.read_bytes()) != child.digest:
            out.append(f"{repo}:{ref}: child manifest {child.digest} missing or different")
    for b in images.all_blobs(obj):
        f = dest / b.digest.split(":")[1]
        if not f.exists() or images.sha256(f.read_bytes()) != b.digest:
            out.append(f"{repo}:{ref}: blob {b.digest} missing or different")
    return out
