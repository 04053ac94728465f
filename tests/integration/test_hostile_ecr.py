"""The ECR control plane under hostile and heavy clients (issue 7, §1 "Unauthenticated memory
exhaustion"), against a server of the test's own whose memory is read from /proc.

- What the headers show to be refused is refused before the body: a missing or malformed
  signature, a wrong scope, an unknown key, a stale date, an unknown operation, a body longer
  than the operation takes (and for IAM's form bodies, the signature's part of that). 64 unsigned
  28 MiB POSTs that send a little and stall are answered at once and add < 64 MiB to the server's
  memory. These raw sockets speak to a berth process itself from a client's address
  (conftest.direct_connection): a trusted proxy's request is answered after its body, which berth
  drains first (make test-scale puts nginx in front, and 127.0.0.1 is its trusted address).
- UploadLayerPart is not buffered: 8 concurrent signed 20 MiB parts add < 160 MiB to the
  server's peak memory, and the layers arrive intact (CompleteLayerUpload checks the digest).
- A part is written to its session only once it is accepted: a part whose signature fails
  leaves the session as it was.
- The part's JSON members may come in any order, with any escaping JSON allows.
"""

import base64
import datetime
import hashlib
import json
import os
import select
import threading
import time

import boto3
import botocore.config
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import direct_connection, processes
from test_sigv4 import signed

PREFIX = "AmazonEC2ContainerRegistry_V20150921."
MiB = 1 << 20
PART = 20 * MiB  # the largest part the model allows


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def memory(srv):
    """Each of the server's processes' resident set now and at its peak (VmRSS, VmHWM), in bytes."""
    out = []
    for p in processes(srv):
        m = {}
        with open(f"/proc/{p.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    m[k] = int(v.split()[0]) * 1024
        out.append((m["VmRSS"], m["VmHWM"]))
    return out


def grown_most(before, after):
    """The most any one process grew between two memory() readings: (growth, base, peak) of it."""
    return max((max(rss, peak) - base, base, peak) for (base, _), (rss, peak) in zip(before, after))


def reset_peak(srv):
    """Start VmHWM again from the current resident set (Linux clear_refs 5). Without it the
    peak also counts start-up, which only makes the bounds below stricter."""
    for p in processes(srv):
        try:
            with open(f"/proc/{p.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass


def ecr_client(srv, **kw):
    # botocore's default connect timeout (60 s) also bounds each send of a body: a 20 MiB part
    # may wait that long for a busy server (a sanitizer build, two shared cores) to read on
    return boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
                        aws_secret_access_key=srv.secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=60,
                                                      read_timeout=120, **kw))


def sign(srv, target, body=b"", *, key=None, secret=None, region=None, service="ecr", when=None):
    """The headers botocore's signer gives an AWS JSON 1.1 request (test_sigv4's signer)."""
    headers, _ = signed(srv, key=key, secret=secret, region=region, service=service, body=body, when=when,
                        target=PREFIX + target)
    return headers


def head(srv, headers, content_length):
    lines = [f"POST / HTTP/1.1", f"Host: {srv.host}", f"Content-Length: {content_length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Answer:
    """An HTTP response read off a raw socket."""

    def __init__(self):
        self.raw = b""
        self.status = None
        self.headers = {}
        self.body = None

    def feed(self, data):
        """Takes bytes; True once the whole response is in."""
        self.raw += data
        if b"\r\n\r\n" not in self.raw:
            return False
        top, _, rest = self.raw.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        n = int(self.headers.get("content-length", "0"))
        if len(rest) < n:
            return False
        self.body = rest[:n]
        return True

    def error(self):
        doc = json.loads(self.body)
        assert self.headers.get("x-amzn-errortype") == doc["__type"], (self.headers, doc)
        return doc["__type"], doc["message"]


def await_answers(socks, timeout):
    """Reads every socket until its response is complete or timeout seconds pass; returns
    {socket: Answer} for the complete ones."""
    pending = {s: Answer() for s in socks}
    done = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        ready, _, _ = select.select(list(pending), [], [], max(0.0, deadline - time.monotonic()))
        for s in ready:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data and pending[s].feed(data):
                done[s] = pending.pop(s)
            elif not data:
                pending.pop(s)  # closed without a (whole) answer
    return done


def send_quietly(s, data):
    """Sends what the peer takes; a refused connection is not this helper's to judge."""
    try:
        s.sendall(data)
    except OSError:
        pass


def initiate(ecr, repo):
    return ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def post_signed(srv, target, body, *, alter=None):
    """POSTs body signed by botocore; alter(body) replaces the bytes sent after signing."""
    headers = sign(srv, target, body)
    sent = alter(body) if alter else body
    return requests.post(srv.url + "/", data=sent, headers=headers, timeout=60)


# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def srv(berth_factory):
    """A server of this module's own, so that its memory is this module's."""
    s = berth_factory()
    c = ecr_client(s)
    c.create_repository(repositoryName="hostile/warm")
    # warm up: the paths measured below have run once before any measurement
    uid = initiate(c, "hostile/warm")
    c.upload_layer_part(repositoryName="hostile/warm", uploadId=uid, partFirstByte=0, partLastByte=MiB - 1,
                        layerPartBlob=os.urandom(MiB))
    requests.post(s.url + "/", data=b"{}", headers={"X-Amz-Target": PREFIX + "ListImages"}, timeout=10)
    return s


@pytest.fixture(scope="module")
def ecr(srv):
    return ecr_client(srv, max_pool_connections=16)


@pytest.fixture
def repo(request, ecr):
    name = "hostile/" + request.node.name.lower().replace("_", "-")[:60].strip("-")
    ecr.create_repository(repositoryName=name)
    return name


# ---------------------------------------------------------------------------------------
# Refused from the headers
# ---------------------------------------------------------------------------------------

def test_unsigned_posts_that_stall_are_refused_at_once_and_cost_little_memory(srv):
    """64 unsigned POSTs declaring 28 MiB that send a little and stall: each is answered with
    ECR's error before its body, and the server's memory grows by less than 64 MiB. (Before,
    the bodies were buffered until SigV4 could be checked: 16 such requests took 450 MiB.)"""
    n, declared = 64, 28 * MiB
    headers = {"X-Amz-Target": PREFIX + "UploadLayerPart", "Content-Type": "application/x-amz-json-1.1"}
    # berth itself, not a proxy in front of it (which would meet these clients instead, streaming
    # their bodies on; make test-scale): one process, on whatever database and blob store it has,
    # from a client's address (direct_connection)
    whole, srv = srv, processes(srv)[0]
    before = memory(srv)
    reset_peak(srv)
    socks = []
    try:
        for _ in range(n):
            s = direct_connection(whole)
            s.sendall(head(srv, headers, declared))
            send_quietly(s, b'{"layerPartBlob":"' + b"A" * 16384)
            socks.append(s)
        t0 = time.monotonic()
        answers = await_answers(socks, timeout=5)
        waited = time.monotonic() - t0
        # whatever was not answered keeps trickling: 2 MiB more each, then stalls
        for s in socks:
            if s not in answers:
                send_quietly(s, b"A" * (2 * MiB))
        time.sleep(0.5)
        after = memory(srv)
    finally:
        for s in socks:
            s.close()
    grown, base, peak = grown_most(before, after)
    print(f"64 stalled unsigned 28 MiB POSTs: RSS {base / MiB:.1f} MiB before, peak {peak / MiB:.1f} MiB "
          f"(+{grown / MiB:.1f} MiB); answered {len(answers)} in {waited:.2f}s")
    assert len(answers) == n, f"only {len(answers)} of {n} were answered before their body"
    for a in answers.values():
        assert a.status == 403, a.raw[:300]
        assert a.error() == ("MissingAuthenticationTokenException", "Missing Authentication Token")
    assert grown < 64 * MiB, f"the server grew by {grown / MiB:.1f} MiB"


def _case_headers(srv, case):
    good = lambda target="UploadLayerPart": sign(srv, target)  # noqa: E731
    if case == "no-signature":
        return {"X-Amz-Target": PREFIX + "UploadLayerPart"}
    if case == "malformed-authorization":
        h = good()
        h["Authorization"] = "AWS4-HMAC-SHA256 Credential=nonsense"
        return h
    if case == "wrong-region":
        return sign(srv, "UploadLayerPart", region="eu-west-3")
    if case == "wrong-service":
        return sign(srv, "UploadLayerPart", service="s3")
    if case == "unknown-key":
        return sign(srv, "UploadLayerPart", key="AKIAUNKNOWNKEY000000", secret="x" * 40)
    if case == "stale-date":
        return sign(srv, "UploadLayerPart", when=datetime.datetime.utcnow() - datetime.timedelta(hours=1))
    if case == "unknown-operation":
        return good("NoSuchOperation")
    if case in ("too-long-for-create-repository", "too-long-for-upload-layer-part"):
        return good("CreateRepository" if "create" in case else "UploadLayerPart")
    raise AssertionError(case)


# case -> (declared Content-Length, status, __type, start of the message)
HEADER_CASES = {
    "no-signature": (28 * MiB, 403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    "malformed-authorization": (28 * MiB, 400, "IncompleteSignatureException", ""),
    "wrong-region": (28 * MiB, 400, "InvalidSignatureException", "Credential should be scoped to a valid region"),
    "wrong-service": (28 * MiB, 400, "InvalidSignatureException", "Credential should be scoped to correct service"),
    "unknown-key": (28 * MiB, 400, "UnrecognizedClientException", "The security token included in the request is invalid"),
    "stale-date": (28 * MiB, 400, "InvalidSignatureException", "Signature expired"),
    "unknown-operation": (28 * MiB, 400, "UnknownOperationException", ""),
    "too-long-for-create-repository": (2 * MiB, 413, "SerializationException", "the request body is larger"),
    "too-long-for-upload-layer-part": (28 * MiB + 1, 413, "SerializationException", "the request body is larger"),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_refused_from_the_headers_before_the_body(srv, case):
    """Each of these is answered (with the error the request would get after its body) while
    not one byte of the declared body has been sent."""
    declared, status, etype, msg = HEADER_CASES[case]
    with direct_connection(srv) as s:
        s.sendall(head(srv, _case_headers(srv, case), declared))
        answers = await_answers([s], timeout=5)
    assert answers, f"{case}: no answer before the body"
    a = answers[s]
    assert a.status == status, a.raw[:400]
    t, m = a.error()
    assert t == etype and m.startswith(msg), (t, m)


@pytest.mark.parametrize("signed", [False, True])
def test_iam_refuses_from_the_headers_too(srv, signed):
    """The IAM/STS surface (a 1 MiB form body) checks the same headers before its body: no
    signature, or a key that does not exist, is answered at once in IAM's XML."""
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if signed:
        req = AWSRequest(method="POST", url=srv.url + "/", data=b"Action=ListUsers&Version=2010-05-08",
                         headers=dict(headers))
        SigV4Auth(Credentials("AKIAUNKNOWNKEY000000", "x" * 40), "iam", "us-east-1").add_auth(req)
        headers = dict(req.headers.items())
    with direct_connection(srv) as s:
        s.sendall(head(srv, headers, MiB))
        answers = await_answers([s], timeout=5)
    assert answers, "no answer before the body"
    a = answers[s]
    code = "InvalidClientTokenId" if signed else "MissingAuthenticationToken"
    assert a.status == 403, a.raw[:400]
    assert f"<Code>{code}</Code>".encode() in a.body, a.body
    assert b"https://iam.amazonaws.com/doc/2010-05-08/" in a.body, a.body


def test_the_limit_holds_for_a_chunked_body_too(srv):
    """Without a Content-Length the operation's limit is counted as the body streams, for a
    buffered operation and for the streamed UploadLayerPart alike."""
    def chunks(total, piece=MiB):
        sent = 0
        while sent < total:
            n = min(piece, total - sent)
            yield b"A" * n
            sent += n

    for target, total in (("DescribeRepositories", 2 * MiB), ("UploadLayerPart", 28 * MiB + 64 * 1024)):
        r = requests.post(srv.url + "/", data=chunks(total), headers=sign(srv, target), timeout=60)
        assert r.status_code == 413, (target, r.status_code, r.text[:300])
        assert r.json()["__type"] == "SerializationException", r.text


# ---------------------------------------------------------------------------------------
# UploadLayerPart streams
# ---------------------------------------------------------------------------------------

def test_eight_concurrent_20_mib_parts_stay_under_160_mib_and_arrive_intact(srv, ecr, repo):
    """8 signed 20 MiB UploadLayerPart calls at once (boto3, threads) add < 160 MiB to the
    server's peak memory (before: 455 MiB, each part held three times), all succeed, and each
    layer completes with its digest."""
    base_bytes = os.urandom(PART)
    datas = [bytes([i]) * 64 + base_bytes[64:] for i in range(8)]
    uids = [initiate(ecr, repo) for _ in datas]
    results, errors = [None] * 8, []

    def upload(i):
        try:
            results[i] = ecr.upload_layer_part(repositoryName=repo, uploadId=uids[i], partFirstByte=0,
                                               partLastByte=PART - 1, layerPartBlob=datas[i])
        except Exception as e:  # reported below, with the others
            errors.append(e)

    before = memory(srv)
    reset_peak(srv)
    threads = [threading.Thread(target=upload, args=(i,)) for i in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    took = time.monotonic() - t0
    after = memory(srv)
    grown, base, peak = max((peak - base, base, peak) for (base, _), (_, peak) in zip(before, after))
    print(f"8 concurrent 20 MiB parts: RSS {base / MiB:.1f} MiB before, peak {peak / MiB:.1f} MiB "
          f"(+{grown / MiB:.1f} MiB), {took:.1f}s")
    assert not errors, errors
    for r, uid in zip(results, uids):
        assert r["uploadId"] == uid and r["lastByteReceived"] == PART - 1, r
    assert grown < 160 * MiB, f"the server's peak grew by {grown / MiB:.1f} MiB"
    for data, uid in zip(datas, uids):
        r = ecr.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[sha256(data)])
        assert r["layerDigest"] == sha256(data), r


def test_a_part_whose_signature_fails_leaves_the_session_as_it_was(srv, ecr, repo):
    """The part's bytes may be decoded before its signature can be checked, but they join the
    session only once it is: refused, the session's length is what it was, and the right part
    at the same offset then succeeds."""
    data = os.urandom(3 * MiB)
    uid = initiate(ecr, repo)
    ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=MiB - 1,
                          layerPartBlob=data[:MiB])
    second = data[MiB:]
    body = json.dumps({"repositoryName": repo, "uploadId": uid, "partFirstByte": MiB,
                       "partLastByte": len(data) - 1,
                       "layerPartBlob": base64.b64encode(second).decode()}).encode()
    # the same length, one base64 character changed: decodes fine, but is not what was signed
    at = body.index(b'"layerPartBlob": "') + 40
    flip = lambda b: b[:at] + (b"B" if b[at:at + 1] != b"B" else b"C") + b[at + 1:]  # noqa: E731
    r = post_signed(srv, "UploadLayerPart", body, alter=flip)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "InvalidSignatureException", r.text

    # the session still ends at the first part: a part that skips ahead says where it stands
    with pytest.raises(ClientError) as e:
        ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=len(data), partLastByte=len(data),
                              layerPartBlob=b"x")
    assert e.value.response["Error"]["Code"] == "InvalidLayerPartException"
    assert e.value.response["lastValidByteReceived"] == MiB - 1, e.value.response

    r = post_signed(srv, "UploadLayerPart", body)
    assert r.status_code == 200, r.text
    assert r.json()["lastByteReceived"] == len(data) - 1
    r = ecr.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[sha256(data)])
    assert r["layerDigest"] == sha256(data)


def test_members_in_any_order_and_any_json_spelling(srv, ecr, repo):
    """layerPartBlob first, registryId last, whitespace, a key spelled with escapes, '/' as
    '\\/' in the base64: all the same part, as any JSON reader would say."""
    data = os.urandom(3 * MiB + 5)
    uid = initiate(ecr, repo)
    cut = [0, MiB, 2 * MiB + 7, len(data)]
    b64 = [base64.b64encode(data[a:b]).decode() for a, b in zip(cut, cut[1:])]
    bodies = [
        # the blob before everything else
        '{"layerPartBlob":"%s","partLastByte":%d,"partFirstByte":%d,"uploadId":"%s","repositoryName":"%s",'
        '"registryId":"%s"}' % (b64[0], cut[1] - 1, cut[0], uid, repo, srv.account_id),
        # pretty-printed, the key with escapes, '/' escaped
        '{\n  "uploadId" : "%s",\n  "layerPart\\u0042lob" : "%s",\n  "repositoryName":"%s",\n'
        '  "partFirstByte": %d, "partLastByte":%d\n}\n' % (uid, b64[1].replace("/", "\\/"), repo, cut[1], cut[2] - 1),
        # the blob in the middle, unknown members around it
        '{"repositoryName":"%s","x":{"layerPartBlob":[1,"}"]},"layerPartBlob":"%s","uploadId":"%s",'
        '"partFirstByte":%d,"partLastByte":%d,"y":null}' % (repo, b64[2], uid, cut[2], cut[3] - 1),
    ]
    for i, body in enumerate(bodies):
        r = post_signed(srv, "UploadLayerPart", body.encode())
        assert r.status_code == 200, (i, r.text)
        assert r.json()["lastByteReceived"] == cut[i + 1] - 1, r.text
    r = ecr.complete_layer_upload(repositoryName=repo, uploadId=uid, layerDigests=[sha256(data)])
    assert r["layerDigest"] == sha256(data)


def test_a_streamed_body_that_is_not_one_json_object_is_a_serialization_error(srv, ecr, repo):
    """As when the body was decoded whole: a duplicate member, a truncated body, trailing bytes
    are SerializationException, and nothing reaches the session."""
    uid = initiate(ecr, repo)
    good = '"repositoryName":"%s","uploadId":"%s","partFirstByte":0,"partLastByte":2' % (repo, uid)
    for body in ('{%s,"layerPartBlob":"YWJj","layerPartBlob":"YWJj"}' % good,
                 '{%s,"layerPartBlob":"YWJj"' % good,
                 '{%s,"layerPartBlob":"YWJj"} {}' % good,
                 '{%s,"layerPartBlob":"YW\\ud800Jj"}' % good):
        r = post_signed(srv, "UploadLayerPart", body.encode())
        assert r.status_code == 400, (body, r.text)
        assert r.json()["__type"] == "SerializationException", (body, r.text)
    r = ecr.upload_layer_part(repositoryName=repo, uploadId=uid, partFirstByte=0, partLastByte=2,
                              layerPartBlob=b"abc")
    assert r["lastByteReceived"] == 2
