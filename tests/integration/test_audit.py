"""The audit trail (issue 12 §2): every ECR and IAM call and every /v2 write is a CloudTrail event
record, read back with `aws cloudtrail lookup-events --endpoint-url` (the pyenv aws CLI) and Debian
boto3's cloudtrail client: the record's fields, each lookup attribute, time ranges, pagination,
secrets redacted, authorization (cloudtrail:LookupEvents), accounts kept apart, a write's record
surviving kill -9 right after its answer, retention.
"""

import json
import os
import re
import time

import boto3
import botocore
import pytest

import images
from conftest import ContainerTools, migration_sql, process_metrics, registry_credentials, require_tool, run
from regclient import Registry

OTHER_ACCOUNT = "210987654321"
CT_READ_ONLY = "arn:aws:iam::aws:policy/AWSCloudTrail_ReadOnlyAccess"
# an eventID is a UUID of version 7 (RFC 9562): its first 48 bits are the time in milliseconds, so that
# records reach the event ID index in order (src/audit/audit.c, event_uuid)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def client(server, service, key=None, secret=None):
    return boto3.client(service, endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=key or server.access_key, aws_secret_access_key=secret or server.secret)


def cli_env(server, key=None, secret=None):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key or server.access_key, AWS_SECRET_ACCESS_KEY=secret or server.secret,
               AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    return env


def lookup_cli(server, *args, key=None, secret=None):
    """`aws cloudtrail lookup-events` (one page of up to 50), as JSON."""
    p = run(["aws", "cloudtrail", "lookup-events", "--endpoint-url", server.url, "--output", "json",
             "--max-results", "50", *args], env=cli_env(server, key, secret), redact=[server.secret])
    return json.loads(p.stdout)


def events(ct, **kw):
    """Every event of a lookup, following NextToken."""
    out, token = [], None
    while True:
        page = ct.lookup_events(**kw, **({"NextToken": token} if token else {}))
        out += page["Events"]
        token = page.get("NextToken")
        if not token:
            return out


def settled(lookup, n, seconds=10):
    """lookup()'s events once there are n of them or more (its last answer after `seconds`). A read's
    record is committed a few milliseconds after its answer; a lookup through the same server waits
    for it, one through another server of the registry (make test-scale) sees it once that server's
    audit writer committed it (docs/operations.md, "Audit trail")."""
    deadline = time.time() + seconds
    while True:
        got = lookup()
        if len(got) >= n or time.time() > deadline:
            return got
        time.sleep(0.05)


def by_name(ct, name):
    return events(ct, LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])


def record(event):
    return json.loads(event["CloudTrailEvent"])


def ct_error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def srv(berth_factory):
    return berth_factory()


@pytest.fixture(scope="module")
def ct(srv):
    return client(srv, "cloudtrail")


@pytest.fixture(scope="module")
def ecr(srv):
    return client(srv, "ecr")


@pytest.fixture(scope="module")
def iam(srv):
    return client(srv, "iam")


def name(prefix="audit"):
    return f"{prefix}/r-{images.token(4)}"


def test_ecr_call_record_has_cloudtrail_fields(srv, ecr):
    repo = name()
    resp = ecr.create_repository(repositoryName=repo)
    got = lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={repo}")["Events"]
    assert [e["EventName"] for e in got] == ["CreateRepository"]
    e = got[0]
    assert e["EventSource"] == "ecr.amazonaws.com" and e["ReadOnly"] == "false"
    assert e["Username"] == "root" and e["AccessKeyId"] == srv.access_key
    assert e["Resources"] == [{"ResourceType": "AWS::ECR::Repository", "ResourceName": repo}]
    r = record(e)
    assert r["eventVersion"] == "1.08" and r["eventType"] == "AwsApiCall" and r["managementEvent"] is True
    assert r["eventSource"] == "ecr.amazonaws.com" and r["eventName"] == "CreateRepository"
    assert r["awsRegion"] == srv.region and r["sourceIPAddress"] == "127.0.0.1"
    assert "Boto3/" in r["userAgent"]
    assert r["userIdentity"] == {"type": "Root", "principalId": srv.account_id,
                                 "arn": f"arn:aws:iam::{srv.account_id}:root", "accountId": srv.account_id,
                                 "accessKeyId": srv.access_key}
    assert r["requestParameters"] == {"repositoryName": repo}
    assert r["responseElements"]["repository"]["repositoryArn"] == resp["repository"]["repositoryArn"]
    assert r["requestID"] == resp["ResponseMetadata"]["RequestId"]
    assert UUID.match(r["eventID"]) and r["eventID"] == e["EventId"]
    assert abs(int(r["eventID"].replace("-", "")[:12], 16) / 1000 - time.time()) < 120
    assert r["readOnly"] is False and r["recipientAccountId"] == srv.account_id
    assert "errorCode" not in r
    t = time.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(time.mktime(t) - time.timezone - time.time()) < 120


def test_ecr_errors_and_denials_are_recorded(srv, ecr, iam):
    missing = name("absent")
    with pytest.raises(botocore.exceptions.ClientError):
        ecr.describe_repositories(repositoryNames=[missing])
    got = settled(lambda: lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={missing}")
                  ["Events"], 1)
    r = record(got[0])
    assert r["eventName"] == "DescribeRepositories" and r["readOnly"] is True
    assert r["errorCode"] == "RepositoryNotFoundException" and missing in r["errorMessage"]
    assert r["responseElements"] is None

    # an IAM user without any policy: the denial is recorded with its identity
    user = "nobody-" + images.token(3)
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    denied = name("denied")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        client(srv, "ecr", k["AccessKeyId"], k["SecretAccessKey"]).create_repository(repositoryName=denied)
    assert ei.value.response["Error"]["Code"] == "AccessDeniedException"
    r = record(lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={denied}")["Events"][0])
    assert r["errorCode"] == "AccessDeniedException" and "not authorized" in r["errorMessage"]
    assert r["userIdentity"]["type"] == "IAMUser" and r["userIdentity"]["userName"] == user
    assert r["userIdentity"]["arn"] == f"arn:aws:iam::{srv.account_id}:user/{user}"
    assert r["userIdentity"]["accessKeyId"] == k["AccessKeyId"]
    assert r["userIdentity"]["principalId"].startswith("AIDA")


def test_iam_calls_are_recorded(srv, iam, ct):
    user = "auditee-" + images.token(3)
    iam.create_user(UserName=user, Path="/team/")
    iam.get_user(UserName=user)
    with pytest.raises(botocore.exceptions.ClientError):
        iam.get_user(UserName=user + "-missing")
    got = settled(lambda: events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": user}]), 2)
    assert [e["EventName"] for e in got] == ["GetUser", "CreateUser"]
    create = record(got[1])
    assert create["eventSource"] == "iam.amazonaws.com" and create["readOnly"] is False
    assert create["requestParameters"] == {"userName": user, "path": "/team/"}
    assert create["responseElements"]["user"]["userName"] == user and create["responseElements"]["user"]["path"] == "/team/"
    assert create["responseElements"]["user"]["arn"] == f"arn:aws:iam::{srv.account_id}:user/team/{user}"
    assert record(got[0])["responseElements"] is None
    assert got[1]["Resources"] == [{"ResourceType": "AWS::IAM::User", "ResourceName": user}]
    assert record(got[0])["readOnly"] is True
    miss = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": user + "-missing"}])
    assert record(miss[0])["errorCode"] == "NoSuchEntity"


def test_v2_writes_are_recorded_as_ecr_events(srv, ct, tmp_path):
    require_tool("skopeo")
    tools = ContainerTools(tmp_path / "containers", srv)
    repo = name("pushed")
    client(srv, "ecr").create_repository(repositoryName=repo)
    img = images.make_image(nlayers=2, label="audit")
    layout = images.write_oci_layout(tmp_path / "layout", {"v1": img})
    creds = "%s:%s" % registry_credentials(srv)
    tools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, f"oci:{layout}:v1",
                 f"docker://{srv.host}/{repo}:v1")
    got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    names = [e["EventName"] for e in got]
    # newest first: the manifest after its blobs (config and two layers), the repository first of all
    assert names[0] == "PutImage" and names[-1] == "CreateRepository"
    uploads = [record(e) for e in got if e["EventName"] == "CompleteLayerUpload"]
    assert sorted(r["responseElements"]["layerDigest"] for r in uploads) == sorted(b.digest for b in img.blobs)
    put = record(got[0])
    assert put["eventSource"] == "ecr.amazonaws.com" and put["readOnly"] is False
    assert put["requestParameters"]["repositoryName"] == repo and put["requestParameters"]["imageTag"] == "v1"
    assert put["requestParameters"]["registryId"] == srv.account_id
    assert put["responseElements"]["image"]["imageId"] == {"imageTag": "v1", "imageDigest": img.digest}
    assert put["additionalEventData"]["registryApiMethod"] == "PUT"
    assert put["userAgent"].startswith("skopeo") or "containers" in put["userAgent"], put["userAgent"]
    assert put["userIdentity"]["type"] == "Root"

    tools.skopeo("delete", "--tls-verify=false", "--creds", creds, f"docker://{srv.host}/{repo}:v1")
    d = record(events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])[0])
    assert d["eventName"] == "BatchDeleteImage" and d["requestParameters"]["imageIds"] == [{"imageDigest": img.digest}]
    assert "errorCode" not in d

    # a refused write is recorded with the registry's error; its record is queued as a read's is,
    # so a lookup through the other server of a registry sees it once the first one committed it
    so_far = len(events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}]))
    r = Registry(srv).put_manifest(repo, "v2", b"{not json", images.OCI_MANIFEST)
    assert r.status_code == 400
    got = settled(lambda: events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}]),
                  so_far + 1)
    bad = record(got[0])
    assert bad["eventName"] == "PutImage" and bad["errorCode"] == "MANIFEST_INVALID"


def test_each_lookup_attribute(srv, ct, iam):
    user = "finder-" + images.token(3)
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess")
    k = iam.create_access_key(UserName=user)["AccessKey"]
    uecr = client(srv, "ecr", k["AccessKeyId"], k["SecretAccessKey"])
    repo = name("attrs")
    uecr.create_repository(repositoryName=repo)
    uecr.describe_repositories(repositoryNames=[repo])

    def look(key, value):
        return events(ct, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])

    mine = settled(lambda: look("Username", user), 2)
    assert [e["EventName"] for e in mine] == ["DescribeRepositories", "CreateRepository"]
    assert all(e["Username"] == user and e["AccessKeyId"] == k["AccessKeyId"] for e in mine)
    assert [e["EventId"] for e in look("AccessKeyId", k["AccessKeyId"])] == [e["EventId"] for e in mine]
    assert [e["EventId"] for e in look("ResourceName", repo)] == [e["EventId"] for e in mine]
    one = look("EventId", mine[1]["EventId"])
    assert len(one) == 1 and one[0]["EventName"] == "CreateRepository"
    assert all(e["EventName"] == "CreateRepository" for e in look("EventName", "CreateRepository"))
    assert all(e["ReadOnly"] == "true" for e in look("ReadOnly", "true"))
    assert all(e["ReadOnly"] == "false" for e in look("ReadOnly", "false"))
    assert {e["EventName"] for e in look("ReadOnly", "true")} >= {"DescribeRepositories"}
    assert {e["EventSource"] for e in look("EventSource", "iam.amazonaws.com")} == {"iam.amazonaws.com"}
    assert {e["EventSource"] for e in look("EventSource", "ecr.amazonaws.com")} == {"ecr.amazonaws.com"}
    typed = look("ResourceType", "AWS::IAM::User")
    assert typed and all(any(r["ResourceType"] == "AWS::IAM::User" for r in e["Resources"]) for e in typed)
    assert look("Username", "nobody-at-all") == []

    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "A"},
                                           {"AttributeKey": "Username", "AttributeValue": "B"}])
    assert ct_error(ei) == ("InvalidLookupAttributesException", 400)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}])
    assert ct_error(ei) == ("InvalidLookupAttributesException", 400)
    p = run(["aws", "cloudtrail", "lookup-events", "--endpoint-url", srv.url, "--lookup-attributes",
             "AttributeKey=Color,AttributeValue=red"], env=cli_env(srv), check=False)
    assert p.returncode != 0 and "InvalidLookupAttributesException" in p.stderr


def test_time_range(srv, ct, ecr):
    before = time.time()
    time.sleep(1.1)
    repo = name("timed")
    ecr.create_repository(repositoryName=repo)
    time.sleep(1.1)
    after = time.time()
    attr = [{"AttributeKey": "ResourceName", "AttributeValue": repo}]
    assert len(events(ct, LookupAttributes=attr, StartTime=before, EndTime=after)) == 1
    assert events(ct, LookupAttributes=attr, StartTime=after) == []
    assert events(ct, LookupAttributes=attr, EndTime=before) == []
    got = lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={repo}",
                     "--start-time", str(int(before)), "--end-time", str(int(after) + 1))["Events"]
    assert [e["EventName"] for e in got] == ["CreateRepository"]
    assert before - 1 <= got[0]["EventTime"] <= after + 1
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ct.lookup_events(StartTime=after, EndTime=before)
    assert ct_error(ei) == ("InvalidTimeRangeException", 400)


def test_pagination(srv, ct, ecr):
    repo = name("paged")
    ecr.create_repository(repositoryName=repo)
    attr = [{"AttributeKey": "ResourceName", "AttributeValue": repo}]
    for i in range(6):  # each recorded before the next: in call order through any server
        ecr.describe_repositories(repositoryNames=[repo])
        settled(lambda: events(ct, LookupAttributes=attr), i + 2)
    pages, token = [], None
    while True:
        page = ct.lookup_events(LookupAttributes=attr, MaxResults=3, **({"NextToken": token} if token else {}))
        pages.append(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [e for p in pages for e in p]
    assert len({e["EventId"] for e in flat}) == 7
    assert [e["EventName"] for e in flat] == ["DescribeRepositories"] * 6 + ["CreateRepository"]
    assert [e["EventTime"] for e in flat] == sorted((e["EventTime"] for e in flat), reverse=True)
    # the CLI's pagination reads the same pages
    cli = lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={repo}")["Events"]
    assert [e["EventId"] for e in cli] == [e["EventId"] for e in flat]
    # the default page is 50
    for _ in range(50):
        ecr.describe_repositories(repositoryNames=[repo])
    settled(lambda: events(ct, LookupAttributes=attr), 57)
    page = ct.lookup_events(LookupAttributes=attr)
    assert len(page["Events"]) == 50 and page["NextToken"]
    assert len(ct.lookup_events(LookupAttributes=attr, NextToken=page["NextToken"])["Events"]) == 7
    for bad in (51, 1000):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            ct.lookup_events(MaxResults=bad)
        assert ct_error(ei) == ("InvalidMaxResultsException", 400)
    for tok in ("bm90LWEtdG9rZW4=", "!!", "Y3QxOi01"):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            ct.lookup_events(NextToken=tok)
        assert ct_error(ei) == ("InvalidNextTokenException", 400)


def test_secrets_never_appear_in_any_record(srv, iam, ct):
    user = "secretive-" + images.token(3)
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    secret = key["SecretAccessKey"]
    env = cli_env(srv)
    password = run(["aws", "ecr", "get-login-password", "--endpoint-url", srv.url], env=env,
                   redact=[srv.secret]).stdout.strip()
    token = run(["aws", "ecr", "get-authorization-token", "--endpoint-url", srv.url, "--output", "json"], env=env,
                redact=[srv.secret]).stdout
    b64 = json.loads(token)["authorizationData"][0]["authorizationToken"]
    # the registry login itself (a /v2 write with the password as Basic credentials)
    Registry(srv, auth=("AWS", password)).push_image(name("secrets"), images.make_image(label="s"), tag="x")
    t0 = time.time()
    every = events(ct)
    while not any(e["EventName"] == "GetAuthorizationToken" for e in every) and time.time() < t0 + 10:
        every = events(ct)  # a read's record, perhaps through the other server (settled())
    text = "\n".join(json.dumps(e, default=str) for e in every)
    assert any(e["EventName"] == "CreateAccessKey" for e in every)
    assert any(e["EventName"] == "GetAuthorizationToken" for e in every)
    for s in (secret, password, b64, srv.secret):
        assert s not in text
    # a write's answer is recorded without its secret; a read's answer (the token) is not recorded
    created = record(by_name(ct, "CreateAccessKey")[0])
    assert created["responseElements"]["accessKey"]["secretAccessKey"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert created["responseElements"]["accessKey"]["accessKeyId"] == key["AccessKeyId"]
    assert created["responseElements"]["accessKey"]["userName"] == user
    assert record(by_name(ct, "GetAuthorizationToken")[0])["responseElements"] is None
    # nor in the database: records are stored as they are served
    for f in ("berth.db", "berth.db-wal"):
        p = srv.data_dir / f
        if p.exists():
            raw = p.read_bytes()
            for s in (secret, password, b64, srv.secret):
                assert s.encode() not in raw


def test_lookup_needs_cloudtrail_permission(srv, iam):
    user = "reader-" + images.token(3)
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    uct = client(srv, "cloudtrail", k["AccessKeyId"], k["SecretAccessKey"])
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        uct.lookup_events()
    assert ct_error(ei) == ("AccessDeniedException", 400)
    assert "cloudtrail:LookupEvents" in ei.value.response["Error"]["Message"]
    p = run(["aws", "cloudtrail", "lookup-events", "--endpoint-url", srv.url],
            env=cli_env(srv, k["AccessKeyId"], k["SecretAccessKey"]), check=False)
    assert p.returncode != 0 and "AccessDeniedException" in p.stderr
    iam.attach_user_policy(UserName=user, PolicyArn=CT_READ_ONLY)
    got = settled(lambda: uct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}])
                  ["Events"], 2)
    # its own denied lookups are in the trail too
    assert got and got[-1]["EventName"] == "LookupEvents"
    assert json.loads(got[-1]["CloudTrailEvent"])["errorCode"] == "AccessDeniedException"


def test_other_cloudtrail_operations(srv, ct):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ct.describe_trails()
    assert ct_error(ei) == ("UnsupportedOperationException", 400)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=srv.url + "/", data=b"{}", headers={
        "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.NoSuchThing",
        "Content-Type": "application/x-amz-json-1.1"})
    SigV4Auth(Credentials(srv.access_key, srv.secret), "cloudtrail", srv.region).add_auth(req)
    r = Registry(srv).session.post(srv.url + "/", data=b"{}", headers=dict(req.headers.items()))
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"
    # an unsigned call is refused before anything else
    r = Registry(srv).session.post(srv.url + "/", data=b"{}", headers={
        "X-Amz-Target": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
        "Content-Type": "application/x-amz-json-1.1"})
    assert r.status_code == 403 and r.json()["__type"] == "MissingAuthenticationTokenException"


def test_accounts_see_only_their_own_events(srv, ecr, ct):
    out = run([str(srv.binary), "admin", "create-account", "--account-id", OTHER_ACCOUNT,
               "--data", str(srv.data_dir)]).stdout
    akid = re.search(r"aws_access_key_id = (\S+)", out).group(1)
    secret = re.search(r"aws_secret_access_key = (\S+)", out).group(1)
    other_repo = name("other")
    client(srv, "ecr", akid, secret).create_repository(repositoryName=other_repo)
    mine = name("mine")
    ecr.create_repository(repositoryName=mine)
    other_ct = client(srv, "cloudtrail", akid, secret)
    theirs = events(other_ct)
    assert {json.loads(e["CloudTrailEvent"])["recipientAccountId"] for e in theirs} == {OTHER_ACCOUNT}
    assert any(r["ResourceName"] == other_repo for e in theirs for r in e["Resources"])
    assert not any(r["ResourceName"] == mine for e in theirs for r in e["Resources"])
    assert events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": other_repo}]) == []
    assert events(ct, LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": akid}]) == []


def test_write_record_survives_kill9_right_after_the_answer(berth_factory):
    s = berth_factory()
    repo = name("crash")
    resp = client(s, "ecr").create_repository(repositoryName=repo)
    s.kill()
    s.start()
    got = by_name(client(s, "cloudtrail"), "CreateRepository")
    assert [record(e)["requestID"] for e in got] == [resp["ResponseMetadata"]["RequestId"]]

    img = images.make_image(label="crash")
    digest = Registry(s).push_image(repo, img, tag="v1")
    s.kill()
    s.start()
    put = by_name(client(s, "cloudtrail"), "PutImage")
    assert record(put[0])["responseElements"]["image"]["imageId"]["imageDigest"] == digest


def test_retention_prunes_old_records(berth_factory):
    s = berth_factory(extra_env={"BERTH_AUDIT_TEST_RETENTION_MS": "3000"},
                      extra_args=["--audit-prune-interval-seconds", "1"])
    repo = name("aged")
    client(s, "ecr").create_repository(repositoryName=repo)
    ct = client(s, "cloudtrail")
    attr = [{"AttributeKey": "ResourceName", "AttributeValue": repo}]
    assert len(ct.lookup_events(LookupAttributes=attr)["Events"]) == 1
    deadline = time.time() + 20
    while time.time() < deadline and ct.lookup_events(LookupAttributes=attr)["Events"]:
        time.sleep(0.5)
    assert ct.lookup_events(LookupAttributes=attr)["Events"] == []
    assert "audit: pruned" in s.log_text()


def test_metrics_count_records(srv, ecr):
    def written():
        return sum(process_metrics(srv, "berth_audit_records_total", result="written"))

    before = written()
    ecr.create_repository(repositoryName=name("counted"))
    assert written() >= before + 1


def audit_metrics(server):
    """(records written, batches the group commit wrote) from /metrics, summed over the server's
    processes (each counts its own)."""
    return (sum(process_metrics(server, "berth_audit_records_total", result="written")),
            sum(process_metrics(server, "berth_audit_commit_duration_seconds_count")))

def test_v2_writes_are_recorded_in_their_own_transaction(srv, ct):
    """A /v2 write's record goes into the image service's transaction that commits the write: one
    record more each, and no batch of the group commit (no second sync of the WAL) for any of them."""
    repo = name("intx")
    client(srv, "ecr").create_repository(repositoryName=repo)
    reg = Registry(srv)  # its password (GetAuthorizationToken, a read) is recorded by the writer
    img = images.make_image(nlayers=1, label="intx")
    spare = images.Blob(b"spare " + images.token(8).encode())
    deadline = time.time() + 10
    before = audit_metrics(srv)
    while time.time() < deadline:  # reads' records queued so far are written
        time.sleep(0.2)
        now, before = before, audit_metrics(srv)
        if now == before:
            break

    for blob in img.blobs:
        reg.push_blob(repo, blob)  # PUT ?digest= completes the upload
    reg.push_blob(repo, spare, monolithic_post=True)  # POST ?digest=
    assert reg.put_manifest(repo, "v1", img.manifest, img.media_type).status_code == 201
    assert reg.delete(f"/v2/{repo}/manifests/v1").status_code == 202  # the tag
    assert reg.delete(f"/v2/{repo}/manifests/{img.digest}").status_code == 202  # the image
    assert reg.delete(f"/v2/{repo}/blobs/{spare.digest}").status_code == 202
    writes = len(img.blobs) + 5
    after = audit_metrics(srv)
    assert after[0] == before[0] + writes and after[1] == before[1], (before, after)

    got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    recs = [record(e) for e in got[:writes]]
    assert [r["eventName"] for r in recs] == ["BatchDeleteImage"] * 3 + ["PutImage"] + ["CompleteLayerUpload"] * (writes - 4)
    assert [r["additionalEventData"]["httpStatus"] for r in recs] == [202] * 3 + [201] * (writes - 3)
    put = recs[3]
    assert put["responseElements"]["image"]["imageId"] == {"imageTag": "v1", "imageDigest": img.digest}
    assert recs[4]["responseElements"]["layerDigest"] == spare.digest
    assert recs[0]["requestParameters"]["layerDigest"] == spare.digest
    assert not any("errorCode" in r for r in recs)


def index_batches(server):
    """Transactions that indexed staged records, from /metrics: one count for each of the server's
    processes (each indexes what is staged, its own or another's, and counts its own)."""
    return process_metrics(server, "berth_audit_index_batches_total")

def test_steady_writes_are_indexed_many_to_a_transaction(srv, ecr, ct):
    """The writer indexes staged records a second after the first of them: one client's steady
    writes are indexed in a few transactions, not one each (each staged record used to end the
    writer's wait, and every write paid for a page of each index). With two processes behind a
    proxy (make test-scale) the writes alternate between them and each one's writer keeps the
    bound."""
    repo = name("steady")
    ecr.create_repository(repositoryName=repo)
    deadline = time.time() + 10
    before = index_batches(srv)
    while time.time() < deadline:  # what is staged so far is indexed
        time.sleep(1.5)
        now, before = before, index_batches(srv)
        if now == before:
            break
    n = 40
    t0 = time.time()
    for i in range(n):
        ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability=["IMMUTABLE", "MUTABLE"][i % 2])
    elapsed = time.time() - t0
    time.sleep(1.5)  # the last gathering ends
    batches = [after - b for after, b in zip(index_batches(srv), before)]
    assert 1 <= sum(batches) and all(b <= elapsed + 2 for b in batches), (batches, elapsed)
    got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    assert [e["EventName"] for e in got[:n]] == ["PutImageTagMutability"] * n


def test_concurrent_writes_in_many_repositories_are_all_indexed(srv, ct):
    """Writes in different repositories commit at the same time on PostgreSQL, a smaller seq after a
    larger one: every staged record is indexed all the same (on SQLite the writes take turns)."""
    import threading

    repos = [name("conc%d" % i) for i in range(6)]
    errors = []

    def writer(repo):
        try:
            ecr = client(srv, "ecr")
            ecr.create_repository(repositoryName=repo)
            for i in range(12):
                ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability=["IMMUTABLE", "MUTABLE"][i % 2])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(r,)) for r in repos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for repo in repos:
        got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
        assert [e["EventName"] for e in got] == ["PutImageTagMutability"] * 12 + ["CreateRepository"], repo


def quiet_metrics(server):
    """audit_metrics() once reads' records queued so far are written (it stops changing)."""
    deadline = time.time() + 10
    before = audit_metrics(server)
    while time.time() < deadline:
        time.sleep(0.2)
        now, before = before, audit_metrics(server)
        if now == before:
            break
    return before


def test_ecr_put_image_and_batch_delete_are_recorded_in_their_own_transaction(srv, ecr, ct):
    """ECR's PutImage records in the image service's transaction of the put, BatchDeleteImage in
    its one transaction of deletions: a record each and no batch of the group commit; a put of an
    image that exists already is an error, recorded as one."""
    repo = name("ecrtx")
    ecr.create_repository(repositoryName=repo)
    reg = Registry(srv)
    img = images.make_image(nlayers=1, label="ecrtx")
    for blob in img.blobs:
        reg.push_blob(repo, blob)
    manifest = img.manifest.decode()
    before = quiet_metrics(srv)
    put = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag="v1",
                        imageManifestMediaType=img.media_type)
    gone = ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    after = audit_metrics(srv)
    assert after[0] == before[0] + 2 and after[1] == before[1], (before, after)
    assert gone["imageIds"] == [{"imageDigest": img.digest, "imageTag": "v1"}]

    recs = [record(e) for e in events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])]
    assert [r["eventName"] for r in recs[:2]] == ["BatchDeleteImage", "PutImage"]
    assert recs[1]["responseElements"]["image"]["imageId"] == put["image"]["imageId"]
    assert recs[1]["requestID"] == put["ResponseMetadata"]["RequestId"]
    assert recs[0]["responseElements"]["imageIds"] == gone["imageIds"]
    assert not any("errorCode" in r for r in recs[:2])

    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageManifestMediaType=img.media_type)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ecr.put_image(repositoryName=repo, imageManifest=manifest, imageManifestMediaType=img.media_type)
    assert ei.value.response["Error"]["Code"] == "ImageAlreadyExistsException"
    # the failed put's record is queued as a read's is (see test_v2_writes_are_recorded_as_ecr_events)
    def mine():
        recs = [record(e) for e in by_name(ct, "PutImage")]
        return [r for r in recs if r["requestParameters"]["repositoryName"] == repo]

    assert [r.get("errorCode") for r in settled(mine, 3)[:2]] == ["ImageAlreadyExistsException", None]


def test_audit_off_records_nothing(berth_factory):
    s = berth_factory(extra_args=["--audit", "off"])
    client(s, "ecr").create_repository(repositoryName=name("quiet"))
    assert client(s, "cloudtrail").lookup_events()["Events"] == []


def signed_post(srv, service, body, headers, key=None, secret=None):
    """A SigV4-signed POST / of raw bytes (what no SDK sends)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=srv.url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key or srv.access_key, secret or srv.secret), service, srv.region).add_auth(req)
    return Registry(srv).session.post(srv.url + "/", data=body, headers=dict(req.headers.items()))


def test_a_record_of_bytes_that_are_not_utf8_hides_no_other_record(srv, iam, ct):
    """An IAM Action that is not UTF-8 (any signed caller can send one) is recorded with those bytes
    replaced (U+FFFD); it used to vanish from LookupEvents, and a page it fell on ended the pagination,
    hiding every older record."""
    user = "odd-" + images.token(3)
    iam.create_user(UserName=user)
    k = iam.create_access_key(UserName=user)["AccessKey"]
    uiam = client(srv, "iam", k["AccessKeyId"], k["SecretAccessKey"])
    attr = [{"AttributeKey": "Username", "AttributeValue": user}]
    for i in range(2):  # denied, and recorded (each before the next call: in call order through any server)
        with pytest.raises(botocore.exceptions.ClientError):
            uiam.get_user(UserName=user)
        settled(lambda: events(ct, LookupAttributes=attr), i + 1)
    for i, action in enumerate((b"Get\xff\xfeUser", b"\xc3\x28x", b"Zap\xed\xa0\x80")):
        r = signed_post(srv, "iam", b"Action=" + action + b"&Version=2010-05-08",
                        {"Content-Type": "application/x-www-form-urlencoded"}, k["AccessKeyId"], k["SecretAccessKey"])
        assert r.status_code == 400 and b"InvalidAction" in r.content
        settled(lambda: events(ct, LookupAttributes=attr), i + 3)
    pages, token = [], None
    while True:
        page = ct.lookup_events(LookupAttributes=attr, MaxResults=2, **({"NextToken": token} if token else {}))
        pages.append(page["Events"])
        token = page.get("NextToken")
        if not token:
            break
    got = [e for p in pages for e in p]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["EventName"] for e in got] == ["Zap\ufffd\ufffd\ufffd", "\ufffd(x", "Get\ufffd\ufffdUser", "GetUser", "GetUser"]
    for e in got[:3]:
        r = record(e)
        assert r["eventName"] == e["EventName"] and r["errorCode"] == "InvalidAction"
        assert r["userIdentity"]["userName"] == user and r["errorMessage"].startswith("Could not find operation")


@pytest.mark.sqlite_only("takes berth.db back to SQLite's schema 18; PostgreSQL's migrate test starts from each version")
def test_migration_keeps_indexed_and_staged_records(berth_factory):
    """Migration 19 (audit_events and audit_pending into audit_records + audit_index): a record that
    schema 18 had indexed and one it had staged but not yet indexed (audit_pending) are both found
    by every lookup after the upgrade, newest first, with their resources."""
    import sqlite3

    srv = berth_factory()
    ecr, ct = client(srv, "ecr"), client(srv, "cloudtrail")
    old, staged = name("mig"), name("mig")
    ecr.create_repository(repositoryName=old)
    ecr.create_repository(repositoryName=staged)
    assert len(by_name(ct, "CreateRepository")) == 2  # a lookup indexes what is staged
    srv.stop()

    # schema 18 as an older berth left it: records indexed in audit_events (with audit_resources rows),
    # the newest write's record still staged in audit_pending (no resources rows yet)
    db = sqlite3.connect(srv.data_dir / "berth.db")
    cols = ("account_id, event_id, event_time, event_name, event_source, username, access_key_id, read_only, "
            "resources, record")
    (seq,) = db.execute("SELECT seq FROM audit_records WHERE resources LIKE ?", (f"%{staged}%",)).fetchone()
    assert db.execute("SELECT count(*) FROM audit_index WHERE seq = ?", (seq,)).fetchone() == (1,)
    # migration 14's indexes of audit_events and migration 15's audit_pending, as store.c writes them
    events_indexes = [q for q in migration_sql("14: the audit trail").split(";")
                      if q.startswith("CREATE INDEX audit_events_")]
    assert len(events_indexes) == 8
    db.executescript("DROP TABLE audit_index; ALTER TABLE audit_records RENAME TO audit_events;"
                     + ";".join(events_indexes) + ";" + migration_sql("15: records of writes staged"))
    db.execute(f"INSERT INTO audit_pending({cols}) SELECT {cols} FROM audit_events WHERE seq >= ?", (seq,))
    db.execute("DELETE FROM audit_events WHERE seq >= ?", (seq,))
    db.execute("DELETE FROM audit_resources WHERE seq >= ?", (seq,))
    db.commit()
    assert db.execute("SELECT count(*) FROM audit_pending").fetchone()[0] >= 1
    db.executescript(migration_sql("19: the audit trail's records are written once"))
    assert db.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('audit_events', 'audit_pending')").fetchone() \
        == (0,)
    db.close()

    srv.start()
    ct = client(srv, "cloudtrail")
    for repo in (old, staged):
        got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
        assert [(e["EventName"], e["Resources"]) for e in got] == \
            [("CreateRepository", [{"ResourceType": "AWS::ECR::Repository", "ResourceName": repo}])], repo
    created = by_name(ct, "CreateRepository")
    assert [e["Resources"][0]["ResourceName"] for e in created] == [staged, old]
    got = events(ct, LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": created[0]["EventId"]}])
    assert [e["EventId"] for e in got] == [created[0]["EventId"]]
    srv.stop()


# CloudTrail's fields in the order a record has them (a call without an error, additional data or a service event)
RECORD_FIELDS = ["eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
                 "userAgent", "requestParameters", "responseElements", "requestID", "eventID", "readOnly", "resources",
                 "eventType", "managementEvent", "recipientAccountId", "eventCategory"]


@pytest.mark.sqlite_only("edits berth.db's rows directly")
def test_compact_records_and_whole_records_of_earlier_versions(berth_factory):
    """A record is stored compact (what varies per call) and put back together at lookup, CloudTrail's
    fields in CloudTrail's order (tests/unit/audit/record.c pins the bytes against the jansson tree that
    earlier versions dumped); a record that an earlier version stored whole is returned as stored."""
    import sqlite3

    srv = berth_factory()
    ecr, ct = client(srv, "ecr"), client(srv, "cloudtrail")
    repo = name("whole")
    ecr.create_repository(repositoryName=repo)
    [e] = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    text = e["CloudTrailEvent"]
    assert [k for k, _ in json.loads(text, object_pairs_hook=lambda kv: kv)] == RECORD_FIELDS
    srv.stop()

    db = sqlite3.connect(srv.data_dir / "berth.db")
    (seq, stored) = db.execute("SELECT seq, record FROM audit_records r JOIN audit_index i USING (seq) "
                               "WHERE i.event_id = ?", (e["EventId"],)).fetchone()
    assert stored.startswith('{"userIdentity":') and len(stored) < len(text) * 0.7, stored
    for field in ("eventVersion", "eventTime", "eventSource", "eventName", "eventID", "readOnly", "resources",
                  "eventType", "managementEvent", "recipientAccountId", "eventCategory"):
        assert f'"{field}":' not in stored, field
    # as an earlier version stored it: whole (with a name that a rebuild from the columns would not give)
    whole = text.replace('"eventName":"CreateRepository"', '"eventName":"CreateRepositoryAsStored"')
    assert whole != text
    db.execute("UPDATE audit_records SET record = ? WHERE seq = ?", (whole, seq))
    db.commit()
    db.close()

    srv.start()
    ct = client(srv, "cloudtrail")
    [again] = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    assert again["CloudTrailEvent"] == whole
    ecr = client(srv, "ecr")
    ecr.delete_repository(repositoryName=repo)
    got = events(ct, LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": repo}])
    assert [x["EventName"] for x in got] == ["DeleteRepository", "CreateRepository"]
    assert record(got[0])["requestParameters"] == {"repositoryName": repo}
    srv.stop()
