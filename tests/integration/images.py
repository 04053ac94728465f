"""Test images generated locally: nothing is downloaded.

Layers are gzip tarballs of generated files, configs are image-spec JSON, manifests are
serialized once and kept as bytes (digests are over bytes, and the registry must hand the
same bytes back). Everything carries a random token so that two tests never share a blob
by accident, unless they ask to.

Builders:
  make_layer(files)                  -> Blob (gzip tar) with .diff_id
  make_image(...)                    -> Image (config + layers + manifest), OCI or Docker schema 2
  make_index(images, docker=False)   -> Index (OCI image index or Docker manifest list)
  make_artifact(subject, ...)        -> Image whose manifest has `subject` and `artifactType`
  write_oci_layout(dir, {tag: obj})  -> an OCI image layout directory for skopeo's `oci:` transport
"""

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

ALL_MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
ACCEPT_ALL = ", ".join(ALL_MANIFEST_TYPES)

EMPTY_JSON = b"{}"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def token(n: int = 8) -> str:
    return secrets.token_hex(n)


@dataclass
class Blob:
    data: bytes
    media_type: str = "application/octet-stream"
    diff_id: str = ""

    @property
    def digest(self) -> str:
        return sha256(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, media_type=None, **extra) -> dict:
        d = {"mediaType": media_type or self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


def random_blob(size: int, seed: bytes = b"") -> Blob:
    """Reproducible pseudo-random bytes when a seed is given (sha256 in counter mode), else random."""
    if not seed:
        return Blob(os.urandom(size))
    out = bytearray()
    i = 0
    while len(out) < size:
        out += hashlib.sha256(seed + i.to_bytes(8, "big")).digest()
        i += 1
    return Blob(bytes(out[:size]))


def empty_json_blob() -> Blob:
    return Blob(EMPTY_JSON, OCI_EMPTY)


def make_layer(files: dict, media_type: str = OCI_LAYER) -> Blob:
    """A gzip tarball of `files` ({path: bytes}), byte-reproducible for the same input."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    ti = tarfile.TarInfo(d + "/")
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    ti.mtime = 0
                    tar.addfile(ti)
            content = files[path]
            ti = tarfile.TarInfo(path.strip("/"))
            ti.size = len(content)
            ti.mode = 0o755 if path.endswith(".sh") else 0o644
            ti.mtime = 0
            tar.addfile(ti, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(tar_bytes)
    return Blob(gz.getvalue(), media_type, diff_id=sha256(tar_bytes))


def dumps(obj) -> bytes:
    """Serialize a manifest/config the way a client would; the bytes are what get digested."""
    return json.dumps(obj, indent=3).encode()


@dataclass
class Image:
    """One manifest (image or artifact) with the blobs it references."""

    manifest: bytes
    media_type: str
    config: Blob
    layers: list
    platform: dict = field(default_factory=dict)
    artifact_type: str = ""
    annotations: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def size(self) -> int:
        return len(self.manifest)

    @property
    def blobs(self) -> list:
        return [self.config] + list(self.layers)

    @property
    def json(self) -> dict:
        return json.loads(self.manifest)

    def descriptor(self, with_platform=True, **extra) -> dict:
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if with_platform and self.platform:
            d["platform"] = dict(self.platform)
        d.update(extra)
        return d


@dataclass
class Index:
    """An OCI image index or Docker manifest list with its child images."""

    manifest: bytes
    media_type: str
    children: list
    artifact_type: str = ""

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def size(self) -> int:
        return len(self.manifest)

    @property
    def json(self) -> dict:
        return json.loads(self.manifest)

    def descriptor(self, **extra) -> dict:
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        d.update(extra)
        return d


def make_image(
    arch: str = "amd64",
    os_name: str = "linux",
    variant: str = "",
    files: dict = None,
    nlayers: int = 1,
    docker: bool = False,
    layer_size: int = 0,
    annotations: dict = None,
    label: str = "",
    layers: list = None,
) -> Image:
    """A runnable-looking single-platform image with `nlayers` layers of generated files, or with
    the given `layers` (Blobs with their diff_id)."""
    tag = label or token()
    layer_type = DOCKER_LAYER if docker else OCI_LAYER
    given, layers = layers, list(layers or [])
    nlayers = len(layers) if given else nlayers
    for i in range(0 if given else nlayers):
        if files is not None and i == 0:
            content = dict(files)
        else:
            content = {
                f"layer{i}/id.txt": f"{tag} layer {i} {arch}\n".encode(),
                f"layer{i}/hello.sh": b"#!/bin/sh\necho hello from berth tests\n",
            }
        if layer_size:
            content[f"layer{i}/filler.bin"] = random_blob(layer_size, f"{tag}/{i}".encode()).data
        layers.append(make_layer(content, layer_type))
    config_obj = {
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": os_name,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/layer0/hello.sh"],
            "Labels": {"berth.test.token": tag},
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"berth-tests layer {i}"} for i in range(nlayers)],
    }
    if variant:
        config_obj["variant"] = variant
    config = Blob(dumps(config_obj), DOCKER_CONFIG if docker else OCI_CONFIG)
    media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    manifest_obj = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    if annotations:
        manifest_obj["annotations"] = dict(annotations)
    platform = {"architecture": arch, "os": os_name}
    if variant:
        platform["variant"] = variant
    return Image(dumps(manifest_obj), media_type, config, layers, platform, annotations=dict(annotations or {}))


def make_index(images: list, docker: bool = False, annotations: dict = None, subject=None,
               artifact_type: str = "") -> Index:
    media_type = DOCKER_LIST if docker else OCI_INDEX
    obj = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [img.descriptor() for img in images],
    }
    if artifact_type:
        obj["artifactType"] = artifact_type
    if subject is not None:
        obj["subject"] = subject.descriptor(with_platform=False) if isinstance(subject, Image) else subject.descriptor()
    if annotations:
        obj["annotations"] = dict(annotations)
    return Index(dumps(obj), media_type, list(images), artifact_type)


def make_multiarch(docker: bool = False, label: str = "") -> Index:
    """linux/amd64 + linux/arm64/v8, the usual pair."""
    label = label or token()
    amd64 = make_image("amd64", docker=docker, label=label + "-amd64")
    arm64 = make_image("arm64", variant="v8", docker=docker, label=label + "-arm64")
    return make_index([amd64, arm64], docker=docker)


def make_artifact(
    subject=None,
    artifact_type: str = "application/vnd.example.sbom.v1",
    payload: bytes = None,
    annotations: dict = None,
    config_as_type: bool = False,
    subject_descriptor: dict = None,
) -> Image:
    """An OCI 1.1 artifact manifest.

    With config_as_type=False: `artifactType` is set and the config is the empty JSON descriptor.
    With config_as_type=True: no `artifactType` field; the config's mediaType carries the type
    (the older form that the referrers API must also report).
    """
    payload = payload if payload is not None else f'{{"sbom":"{token()}"}}'.encode()
    layer = Blob(payload, artifact_type if config_as_type else "application/spdx+json")
    if config_as_type:
        config = Blob(payload + b"\n", artifact_type)
        layers = [empty_json_blob()]
    else:
        config = empty_json_blob()
        layers = [layer]
    obj = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if not config_as_type:
        obj["artifactType"] = artifact_type
    obj["config"] = config.descriptor()
    obj["layers"] = [blob.descriptor() for blob in layers]
    if subject_descriptor is not None:
        obj["subject"] = dict(subject_descriptor)
    elif subject is not None:
        obj["subject"] = subject.descriptor(with_platform=False) if isinstance(subject, Image) else subject.descriptor()
    if annotations:
        obj["annotations"] = dict(annotations)
    return Image(dumps(obj), OCI_MANIFEST, config, layers, artifact_type=artifact_type,
                 annotations=dict(annotations or {}))


def empty_descriptor_data() -> dict:
    """The empty descriptor with inline data, as image-spec 1.1 shows it."""
    return {"mediaType": OCI_EMPTY, "digest": sha256(EMPTY_JSON), "size": 2, "data": base64.b64encode(EMPTY_JSON).decode()}


def all_blobs(obj) -> list:
    """Every blob an Image or Index (recursively) references, without duplicates."""
    seen, out = set(), []
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Index):
            stack.extend(o.children)
            continue
        for b in o.blobs:
            if b.digest not in seen:
                seen.add(b.digest)
                out.append(b)
    return out


def write_oci_layout(directory, refs: dict) -> Path:
    """Write an OCI image layout: `refs` maps a ref name (tag) to an Image or Index.

    The result is usable as `oci:<directory>:<tag>` by skopeo and podman.
    """
    root = Path(directory)
    blobdir = root / "blobs" / "sha256"
    blobdir.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def put(data: bytes):
        (blobdir / hashlib.sha256(data).hexdigest()).write_bytes(data)

    entries = []
    for ref, obj in refs.items():
        stack = [obj]
        while stack:
            o = stack.pop()
            put(o.manifest)
            if isinstance(o, Index):
                stack.extend(o.children)
            else:
                for b in o.blobs:
                    put(b.data)
        desc = obj.descriptor() if isinstance(obj, Index) else obj.descriptor(with_platform=False)
        desc["annotations"] = {"org.opencontainers.image.ref.name": ref}
        entries.append(desc)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (root / "index.json").write_bytes(dumps(index))
    return root


def layer_files(blob_data: bytes) -> dict:
    """Unpack a gzip (or plain) tar layer to {path: bytes} for regular files."""
    data = blob_data
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[m.name.lstrip("./")] = tar.extractfile(m).read()
    return out
