"""A small /v2 client over requests, for tests that speak the protocol directly.

It never hides a status: every helper returns the response and the test asserts on it.
The push helpers (`push_blob`, `push_image`) assert success because they are setup, not
the thing under test.
"""

import json
from urllib.parse import urljoin, urlsplit

import requests

import images

TIMEOUT = 60

DEFAULT = object()


class Registry:
    def __init__(self, server, auth=DEFAULT):
        from conftest import registry_credentials

        self.server = server
        self.base = server.url.rstrip("/")
        self.session = requests.Session()
        self.auth = registry_credentials(server) if auth is DEFAULT else auth

    # -- plumbing -----------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base + ("" if path_or_url.startswith("/") else "/") + path_or_url

    def request(self, method, path_or_url, *, headers=None, data=None, params=None, auth=DEFAULT,
                stream=False, timeout=TIMEOUT):
        return self.session.request(
            method,
            self.url(path_or_url),
            headers=headers or {},
            data=data,
            params=params,
            auth=self.auth if auth is DEFAULT else auth,
            allow_redirects=False,
            stream=stream,
            timeout=timeout,
        )

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    @staticmethod
    def location(resp) -> str:
        loc = resp.headers.get("Location", "")
        assert loc, f"{resp.request.method} {resp.request.url} -> {resp.status_code}: no Location header"
        return urljoin(resp.request.url, loc)

    @staticmethod
    def location_path(resp) -> str:
        """The Location header as a path (+query), whatever form the server used."""
        u = urlsplit(Registry.location(resp))
        return u.path + (("?" + u.query) if u.query else "")

    # -- blobs --------------------------------------------------------------------------

    def start_upload(self, repo, **kw):
        return self.post(f"/v2/{repo}/blobs/uploads/", **kw)

    def push_blob(self, repo, blob, monolithic_post=False) -> str:
        """Upload a blob (POST then PUT ?digest=, or a single POST ?digest=); returns its digest."""
        data = blob.data if isinstance(blob, images.Blob) else blob
        digest = images.sha256(data)
        hdr = {"Content-Type": "application/octet-stream"}
        if monolithic_post:
            r = self.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data, headers=hdr)
            assert r.status_code == 201, describe(r)
            return digest
        r = self.start_upload(repo)
        assert r.status_code == 202, describe(r)
        r = self.put(self.location(r), params={"digest": digest}, data=data, headers=hdr)
        assert r.status_code == 201, describe(r)
        return digest

    def blob_exists(self, repo, digest) -> bool:
        r = self.head(f"/v2/{repo}/blobs/{digest}")
        assert r.status_code in (200, 404), describe(r)
        return r.status_code == 200

    # -- manifests ----------------------------------------------------------------------

    def put_manifest(self, repo, ref, body: bytes, media_type: str):
        return self.put(f"/v2/{repo}/manifests/{ref}", data=body, headers={"Content-Type": media_type})

    def get_manifest(self, repo, ref, accept=images.ACCEPT_ALL, method="GET"):
        headers = {"Accept": accept} if accept else {}
        return self.request(method, f"/v2/{repo}/manifests/{ref}", headers=headers)

    def push_image(self, repo, obj, tag=None, by_digest=False) -> str:
        """Push an Image or Index (children first) and its blobs; returns the manifest digest."""
        from conftest import create_repository

        create_repository(repo, self.server)
        if isinstance(obj, images.Index):
            for child in obj.children:
                self.push_image(repo, child)
        else:
            for blob in obj.blobs:
                if not self.blob_exists(repo, blob.digest):
                    self.push_blob(repo, blob)
        ref = tag if tag and not by_digest else obj.digest
        r = self.put_manifest(repo, ref, obj.manifest, obj.media_type)
        assert r.status_code == 201, describe(r)
        assert r.headers.get("Docker-Content-Digest") == obj.digest, describe(r)
        if tag and by_digest:
            r = self.put_manifest(repo, tag, obj.manifest, obj.media_type)
            assert r.status_code == 201, describe(r)
        return obj.digest

    def tags(self, repo, **params):
        r = self.get(f"/v2/{repo}/tags/list", params=params or None)
        assert r.status_code == 200, describe(r)
        return r.json().get("tags") or []


def describe(resp) -> str:
    """One readable paragraph about a response, for assertion messages."""
    req = resp.request
    body = b""
    try:
        if req.method != "HEAD":
            body = resp.content[:600]
    except Exception:  # streamed and consumed
        body = b"<unavailable>"
    hdrs = {k: v for k, v in resp.headers.items() if k.lower() in (
        "content-type", "content-length", "location", "range", "content-range", "docker-content-digest",
        "www-authenticate", "oci-subject", "oci-filters-applied", "link", "docker-upload-uuid")}
    return f"{req.method} {req.url} -> {resp.status_code} {hdrs} body={body!r}"


def error_codes(resp) -> list:
    try:
        doc = resp.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {describe(resp)}")
    assert isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"], \
        f"error body is not {{\"errors\":[...]}}: {describe(resp)}"
    for e in doc["errors"]:
        assert isinstance(e, dict) and isinstance(e.get("code"), str), f"malformed error entry {e!r}: {describe(resp)}"
        assert isinstance(e.get("message", ""), str), f"error message must be a string: {describe(resp)}"
    return [e["code"] for e in doc["errors"]]


def assert_error(resp, status, code):
    """Status is `status` (an int or a tuple of ints) and the first error code is `code` (str or tuple)."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert resp.status_code in statuses, f"expected {status} {code}: {describe(resp)}"
    ctype = resp.headers.get("Content-Type", "")
    assert "json" in ctype, f"error response must be JSON (Content-Type {ctype!r}): {describe(resp)}"
    codes = error_codes(resp)
    wanted = code if isinstance(code, tuple) else (code,)
    assert codes[0] in wanted, f"expected error code {code}, got {codes}: {describe(resp)}"
    return codes


def json_body(resp):
    try:
        return json.loads(resp.content)
    except ValueError:
        raise AssertionError(f"body is not JSON: {describe(resp)}")


def raw_http(server, method, path, headers, body_iter=(), auth=DEFAULT, timeout=30):
    """One HTTP/1.1 request over a plain socket, tolerant of a server that answers and closes
    before the body is fully sent. Returns (status, {lower-case header: value}, body bytes)."""
    import base64
    import socket

    from conftest import registry_credentials

    user, password = registry_credentials(server) if auth is DEFAULT else auth
    host, port = server.host.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}", "Connection: close"]
    if user is not None:
        lines.append("Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    lines += [f"{k}: {v}" for k, v in headers.items()]
    data = b""
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sent = 0
        for piece in body_iter:
            s.sendall(piece)
            sent += len(piece)
        # a request sent whole waits for its answer with the connection open, as real clients do
        # (a server may take a client's half-close for going away, as nginx does); one cut short
        # is half-closed, so that the server sees where it ends
        lower = {k.lower(): v for k, v in headers.items()}
        declared = None if "transfer-encoding" in lower else int(lower.get("content-length", 0))
        if declared != sent:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
        pass
    try:
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data and method == "HEAD":
                break
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    assert lines and lines[0].startswith("HTTP/1."), f"no HTTP response to {method} {path}: {data[:200]!r}"
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body
