"""The console's server side without a browser: IAM login profiles (CreateLoginProfile,
GetLoginProfile, UpdateLoginProfile, DeleteLoginProfile, ChangePassword) through boto3 and the
aws CLI, and /console/ itself through requests: the assets' headers, sign-in with a password or
an access key pair, the session cookie's attributes, CSRF and origin checks, the rate limit on
failed sign-ins, and sign-out ending the session on the server.
"""

import json
import os
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import images
from conftest import DEFAULT_BIN, run, token

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
PASSWORD = "Berth-console-1"
TARGET = "AmazonEC2ContainerRegistry_V20150921."


def client(server, service, key=None, secret=None):
    return boto3.client(service, endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=key or server.access_key,
                        aws_secret_access_key=secret or server.secret,
                        config=Config(retries={"max_attempts": 1}))


def code(e):
    return e.value.response["Error"]["Code"]


def message(e):
    return e.value.response["Error"]["Message"]


@pytest.fixture
def iam(berth):
    return client(berth, "iam")


@pytest.fixture
def user(iam):
    name = f"console-{token()}"
    iam.create_user(UserName=name)
    return name


def sign_in(server, **form):
    s = requests.Session()
    r = s.post(server.url + "/console/api/signin", json=form, headers={"Origin": server.url}, timeout=30)
    return s, r


def root_session(server):
    s, r = sign_in(server, accessKeyId=server.access_key, secretAccessKey=server.secret)
    assert r.status_code == 200, r.text
    return s, r.json()


def ecr_call(server, s, op, body, csrf, origin=True, headers=None):
    headers = {**(headers or {}), "X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"}
    if csrf is not None:
        headers["X-Berth-Csrf"] = csrf
    if origin is True:
        headers["Origin"] = server.url
    elif origin:
        headers["Origin"] = origin
    return s.post(server.url + "/console/api/ecr", data=json.dumps(body), headers=headers, timeout=30)


# ---- login profiles ----------------------------------------------------------------------

def test_login_profile_lifecycle(iam, user):
    out = iam.create_login_profile(UserName=user, Password=PASSWORD, PasswordResetRequired=True)["LoginProfile"]
    assert out["UserName"] == user and out["PasswordResetRequired"] is True
    got = iam.get_login_profile(UserName=user)["LoginProfile"]
    assert got["UserName"] == user and got["PasswordResetRequired"] is True
    assert abs(got["CreateDate"].timestamp() - out["CreateDate"].timestamp()) < 1

    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password=PASSWORD)
    assert code(e) == "EntityAlreadyExists"
    assert message(e) == f"Login Profile for user {user} already exists."

    iam.update_login_profile(UserName=user, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=user)
    assert code(e) == "DeleteConflict"
    assert "login profile" in message(e)

    iam.delete_login_profile(UserName=user)
    with pytest.raises(ClientError) as e:
        iam.get_login_profile(UserName=user)
    assert code(e) == "NoSuchEntity"
    assert message(e) == f"Login Profile for User {user} cannot be found."
    iam.delete_user(UserName=user)


def test_login_profile_errors(iam, user):
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password="short")
    assert code(e) == "PasswordPolicyViolation"
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password="alllowercaseletters")
    assert code(e) == "PasswordPolicyViolation"
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=f"nobody-{token()}", Password=PASSWORD)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.update_login_profile(UserName=user, Password=PASSWORD)
    assert code(e) == "NoSuchEntity"
    with pytest.raises(ClientError) as e:
        iam.delete_login_profile(UserName=user)
    assert code(e) == "NoSuchEntity"
    # the model's limits: a password has at most 128 characters
    with pytest.raises(ClientError) as e:
        iam.create_login_profile(UserName=user, Password="Aa1-" * 40)
    assert code(e) == "ValidationError"


def test_login_profile_with_the_aws_cli(berth, user):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=berth.access_key, AWS_SECRET_ACCESS_KEY=berth.secret,
               AWS_DEFAULT_REGION=berth.region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    aws = ["aws", "--endpoint-url", berth.url, "iam"]
    out = json.loads(run(aws + ["create-login-profile", "--user-name", user, "--password", PASSWORD,
                                "--password-reset-required"], env=env, redact=[berth.secret]).stdout)
    assert out["LoginProfile"]["UserName"] == user and out["LoginProfile"]["PasswordResetRequired"] is True
    out = json.loads(run(aws + ["get-login-profile", "--user-name", user], env=env, redact=[berth.secret]).stdout)
    assert out["LoginProfile"]["PasswordResetRequired"] is True
    run(aws + ["update-login-profile", "--user-name", user, "--no-password-reset-required"], env=env,
        redact=[berth.secret])
    out = json.loads(run(aws + ["get-login-profile", "--user-name", user], env=env, redact=[berth.secret]).stdout)
    assert out["LoginProfile"]["PasswordResetRequired"] is False
    run(aws + ["delete-login-profile", "--user-name", user], env=env, redact=[berth.secret])
    p = run(aws + ["get-login-profile", "--user-name", user], env=env, check=False, redact=[berth.secret])
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


def test_change_password(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD, PasswordResetRequired=True)
    iam.put_user_policy(UserName=user, PolicyName="change", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = client(berth, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword="Wrong-password-1", NewPassword="Another-pass-2")
    assert code(e) == "InvalidUserType"
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword=PASSWORD, NewPassword="weak")
    assert code(e) == "PasswordPolicyViolation"
    mine.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2")
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
    _, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 401
    _, r = sign_in(berth, account=berth.account_id, user=user, password="Another-pass-2")
    assert r.status_code == 200, r.text
    # the root has no password to change
    with pytest.raises(ClientError) as e:
        iam.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2")
    assert code(e) == "InvalidUserType"


def test_change_password_needs_permission(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = client(berth, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2")
    assert code(e) == "AccessDenied"


# ---- the console's HTTP side ---------------------------------------------------------------

@pytest.mark.parametrize("path,ctype", [("/console/", "text/html"), ("/console/app.js", "text/javascript"),
                                        ("/console/style.css", "text/css"), ("/console/favicon.svg", "image/svg+xml")])
def test_assets_are_served_with_strict_headers(berth, path, ctype):
    r = requests.get(berth.url + path, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(ctype)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-cache"
    again = requests.get(berth.url + path, headers={"If-None-Match": r.headers["ETag"]}, timeout=10)
    assert again.status_code == 304


def test_index_has_no_inline_script(berth):
    html = requests.get(berth.url + "/console/", timeout=10).text
    assert '<script type="module" src="app.js"></script>' in html
    assert html.count("<script") == 1 and "style=" not in html and " on" not in html.replace("one", "")


def test_unknown_paths(berth):
    assert requests.get(berth.url + "/console/nothing.js", timeout=10).status_code == 404
    r = requests.get(berth.url + "/console", allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"] == "/console/"
    assert requests.get(berth.url + "/console/api/nothing", timeout=10).status_code == 404
    assert requests.get(berth.url + "/console/api/ecr", timeout=10).status_code == 405


def test_key_pair_sign_in_sets_a_strict_cookie(berth):
    s, r = sign_in(berth, accessKeyId=berth.access_key, secretAccessKey=berth.secret)
    assert r.status_code == 200
    cookie = r.headers["Set-Cookie"]
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age=43200"):
        assert attr in cookie
    assert "Secure" not in cookie  # plain HTTP here
    doc = r.json()
    assert doc["root"] is True and doc["arn"] == f"arn:aws:iam::{berth.account_id}:root"
    assert berth.secret not in r.text
    assert s.get(berth.url + "/console/api/session", timeout=10).json()["csrf"] == doc["csrf"]


def test_secure_cookie_under_berths_own_tls(tmp_path):
    from test_serve_admin import self_signed, start, stop
    cert, key = self_signed(tmp_path)
    p, url = start(tmp_path, ["--tls-cert", str(cert), "--tls-key", str(key)], scheme="https")
    try:
        s = requests.Session()
        r = s.post(url + "/console/api/signin", json={"accessKeyId": "AKIASERVEADMINTEST01",
                                                      "secretAccessKey": "serve-admin-secret-0123456789"},
                   headers={"Origin": url}, timeout=30, verify=str(cert))
        assert r.status_code == 200, r.text
        cookie = r.headers["Set-Cookie"]
        for attr in ("Secure", "HttpOnly", "SameSite=Strict", "Max-Age=43200"):
            assert attr in cookie, cookie
        assert s.get(url + "/console/api/session", timeout=10, verify=str(cert)).status_code == 200
    finally:
        stop(p)


@pytest.mark.sqlite_only("ages a session in the SQLite database itself")
def test_a_session_ends_on_the_server_after_its_12_hours(berth):
    import sqlite3
    s, doc = root_session(berth)
    assert 0 < doc["expiresAt"] - time.time() * 1000 <= 12 * 3600 * 1000
    assert s.get(berth.url + "/console/api/session", timeout=10).status_code == 200
    r = ecr_call(berth, s, "DescribeRepositories", {}, doc["csrf"])
    assert r.status_code == 200, r.text
    # the same session twelve hours later: its row says it has expired (the cookie would be gone
    # from the browser too; a client that kept it is refused all the same)
    db = sqlite3.connect(str(berth.data_dir / "berth.db"), timeout=30)
    with db:
        n = db.execute("UPDATE console_sessions SET expires_at = ? WHERE expires_at = ?",
                       (int(time.time() * 1000) - 1, doc["expiresAt"])).rowcount
    db.close()
    assert n == 1
    assert s.get(berth.url + "/console/api/session", timeout=10).status_code == 401
    r = ecr_call(berth, s, "DescribeRepositories", {}, doc["csrf"])
    assert r.status_code == 401, r.text


def test_wrong_credentials_are_refused_alike(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    for form in ({"account": berth.account_id, "user": user, "password": "Wrong-password-1"},
                 {"account": berth.account_id, "user": f"nobody-{token()}", "password": PASSWORD},
                 {"accessKeyId": berth.access_key, "secretAccessKey": "x" * 40}):
        _, r = sign_in(berth, **form)
        assert r.status_code == 401
        assert r.json() == {"__type": "UnrecognizedClientException",
                            "message": "Your authentication information is incorrect. Please try again."}
    _, r = sign_in(berth, account=berth.account_id, user=user)
    assert r.status_code == 400


def test_failed_sign_ins_are_rate_limited_per_user(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    for _ in range(5):
        _, r = sign_in(berth, account=berth.account_id, user=user, password="Wrong-password-1")
        assert r.status_code == 401
    _, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 429
    assert r.json()["__type"] == "ThrottlingException"
    assert "Too many failed sign-in attempts" in r.json()["message"]


def test_console_calls_are_authorized_as_the_user(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    name = f"console/ro-{token()}"
    client(berth, "ecr").create_repository(repositoryName=name)
    s, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf"]
    r = ecr_call(berth, s, "DescribeRepositories", {"repositoryNames": [name]}, csrf)
    assert r.status_code == 200 and r.json()["repositories"][0]["repositoryName"] == name
    r = ecr_call(berth, s, "DeleteRepository", {"repositoryName": name}, csrf)
    assert r.status_code == 400 and r.json()["__type"] == "AccessDeniedException"
    # the very sentence a signed call gets
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as e:
        client(berth, "ecr", key["AccessKeyId"], key["SecretAccessKey"]).delete_repository(repositoryName=name)
    assert r.json()["message"] == message(e)
    r = s.post(berth.url + "/console/api/iam", data={"Action": "CreateUser", "Version": "2010-05-08",
                                                     "UserName": f"x-{token()}"},
               headers={"X-Berth-Csrf": csrf, "Origin": berth.url}, timeout=10)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text


def test_csrf_token_and_origin_are_required(berth):
    s, doc = root_session(berth)
    name = f"console/csrf-{token()}"
    r = ecr_call(berth, s, "CreateRepository", {"repositoryName": name}, None)
    assert r.status_code == 403 and r.json()["__type"] == "InvalidCsrfToken"
    r = ecr_call(berth, s, "CreateRepository", {"repositoryName": name}, "0" * 32)
    assert r.status_code == 403 and r.json()["__type"] == "InvalidCsrfToken"
    r = ecr_call(berth, s, "CreateRepository", {"repositoryName": name}, doc["csrf"], origin="http://evil.example")
    assert r.status_code == 403 and r.json()["__type"] == "InvalidOrigin"
    with pytest.raises(ClientError):
        client(berth, "ecr").describe_repositories(repositoryNames=[name])
    r = ecr_call(berth, s, "CreateRepository", {"repositoryName": name}, doc["csrf"])
    assert r.status_code == 200
    assert client(berth, "ecr").describe_repositories(repositoryNames=[name])["repositories"]


def test_sign_out_ends_the_session_on_the_server(berth):
    s, doc = root_session(berth)
    stolen = dict(s.cookies)
    r = s.post(berth.url + "/console/api/signout", headers={"X-Berth-Csrf": doc["csrf"], "Origin": berth.url},
               timeout=10)
    assert r.status_code == 200
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    r = requests.get(berth.url + "/console/api/session", cookies=stolen, timeout=10)
    assert r.status_code == 401 and r.json()["__type"] == "NotSignedIn"
    r = ecr_call(berth, requests.Session(), "DescribeRepositories", {}, doc["csrf"])
    assert r.status_code == 401


def test_session_of_a_deactivated_key_ends(berth, iam, user):
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    s, r = sign_in(berth, accessKeyId=key["AccessKeyId"], secretAccessKey=key["SecretAccessKey"])
    assert r.status_code == 200 and r.json()["userName"] == user
    assert s.get(berth.url + "/console/api/session", timeout=10).status_code == 200
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert s.get(berth.url + "/console/api/session", timeout=10).status_code == 401


def test_password_reset_required_allows_only_change_password(berth, iam, user):
    iam.create_login_profile(UserName=user, Password=PASSWORD, PasswordResetRequired=True)
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ecr:*", "iam:*"], "Resource": "*"}]}))
    s, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 200 and r.json()["mustChangePassword"] is True
    csrf = r.json()["csrf"]
    r = ecr_call(berth, s, "DescribeRepositories", {}, csrf)
    assert r.status_code == 403 and r.json()["__type"] == "PasswordResetRequired"
    # the Action that runs is the form's last one: naming ChangePassword first does not help
    sneak = f"x-{token()}"
    r = s.post(berth.url + "/console/api/iam",
               data=f"Action=ChangePassword&Version=2010-05-08&Action=CreateUser&UserName={sneak}",
               headers={"X-Berth-Csrf": csrf, "Origin": berth.url,
                        "Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 403 and r.json()["__type"] == "PasswordResetRequired"
    with pytest.raises(ClientError):
        iam.get_user(UserName=sneak)
    r = s.post(berth.url + "/console/api/iam",
               data="Action=ChangePassword&Version=2010-05-08&OldPassword=Berth-console-1&NewPassword=Changed-pass-3",
               headers={"X-Berth-Csrf": csrf, "Origin": berth.url,
                        "Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code == 200, r.text
    assert ecr_call(berth, s, "DescribeRepositories", {}, csrf).status_code == 200


def test_sign_in_body_limits(berth):
    r = requests.post(berth.url + "/console/api/signin", data="x" * 10000, headers={"Origin": berth.url}, timeout=10)
    assert r.status_code == 400 and r.json()["message"] == "the sign-in request is too long"
    r = requests.post(berth.url + "/console/api/signin", data='{"accessKeyId": 5}', headers={"Origin": berth.url},
                      timeout=10)
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    r = requests.post(berth.url + "/console/api/signin",
                      json={"accessKeyId": berth.access_key, "secretAccessKey": berth.secret},
                      headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 403


# ---- the Lifecycle Policy tab's events history: CloudTrail's PolicyExecutionEvent ----------

CT_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
KEEP_ONE = json.dumps({"rules": [{"rulePriority": 3, "description": "keep the newest", "selection": {
    "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, "action": {"type": "expire"}}]})


def admin(server, *args):
    binary = os.environ.get("BERTH_BIN", str(DEFAULT_BIN))
    env = {**os.environ, **server.extra_env, "BERTH_REGION": server.region}
    return run([binary, "admin", *args, "--data", str(server.data_dir)], env=env, timeout=120)


def cloudtrail_call(server, s, body, csrf):
    headers = {"X-Amz-Target": CT_TARGET + "LookupEvents", "Content-Type": "application/x-amz-json-1.1",
               "X-Berth-Csrf": csrf, "Origin": server.url}
    return s.post(server.url + "/console/api/cloudtrail", data=json.dumps(body), headers=headers, timeout=30)


def test_lifecycle_run_is_a_policy_execution_event(berth, reg, iam, user):
    ecr = client(berth, "ecr")
    repo = f"console/lc-{token()}"
    arn = ecr.create_repository(repositoryName=repo)["repository"]["repositoryArn"]
    digests = []
    for tag in ("old", None, "new"):
        img = images.make_image(label=images.token())
        reg.push_image(repo, img, tag=tag)
        digests.append(img.digest)
        time.sleep(0.02)
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=KEEP_ONE)
    admin(berth, "lifecycle", "run", "--repository", repo)

    # with the CloudTrail API, by the repository's ARN: that run's record and nothing else
    ct = client(berth, "cloudtrail")
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])["Events"]
    assert [e["EventName"] for e in events] == ["PolicyExecutionEvent"]
    assert events[0]["Resources"] == [{"ResourceType": "AWS::ECR::Repository", "ResourceName": arn}]
    rec = json.loads(events[0]["CloudTrailEvent"])
    assert rec["eventType"] == "AwsServiceEvent" and rec["eventSource"] == "ecr.amazonaws.com"
    assert rec["userIdentity"] == {"accountId": berth.account_id, "invokedBy": "AWS Internal"}
    assert rec["readOnly"] is True and rec["sourceIPAddress"] == "AWS Internal"
    d = rec["serviceEventDetails"]
    assert d["repositoryName"] == repo
    assert d["lifecycleEventPolicy"]["lifecycleEventRules"] == [{
        "rulePriority": 3, "description": "keep the newest", "action": "expire",
        "lifecycleEventSelection": {"tagStatus": "Any", "tagPrefixList": [], "countType": "Image count more than",
                                    "countNumber": 1}}]
    acted = {a["lifecycleEventImage"]["digest"]: a for a in d["lifecycleEventImageActions"]}
    assert set(acted) == set(digests[:2])
    assert acted[digests[0]]["lifecycleEventImage"]["tagList"] == ["old"]
    assert acted[digests[0]]["lifecycleEventImage"]["tagStatus"] == "Tagged"
    assert acted[digests[1]]["lifecycleEventImage"]["tagStatus"] == "Untagged"
    assert all(a["rulePriority"] == 3 and a["action"] == "expire" for a in acted.values())
    # by its event name too
    named = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "PolicyExecutionEvent"}])
    assert rec["eventID"] in {e["EventId"] for e in named["Events"]}

    # through the console, as the session's principal: the root reads it ...
    s, doc = root_session(berth)
    body = {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": arn}]}
    r = cloudtrail_call(berth, s, body, doc["csrf"])
    assert r.status_code == 200, r.text
    assert [e["EventId"] for e in r.json()["Events"]] == [rec["eventID"]]
    # ... needs the CSRF token like every other call ...
    assert cloudtrail_call(berth, s, body, "nope").status_code == 403
    # ... and a user without cloudtrail:LookupEvents is refused with AWS's sentence
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    us, ur = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert ur.status_code == 200, ur.text
    r = cloudtrail_call(berth, us, body, ur.json()["csrf"])
    assert r.status_code == 400 and r.json()["__type"] == "AccessDeniedException", r.text
    assert "cloudtrail:LookupEvents" in r.json()["message"]


def layer_call(server, s, body, csrf, op="GetDownloadUrlForLayer"):
    headers = {"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1", "Origin": server.url}
    if csrf is not None:
        headers["X-Berth-Csrf"] = csrf
    return s.post(server.url + "/console/api/layer", data=json.dumps(body), headers=headers, timeout=60)


def test_layer_route_is_get_download_url_for_layer_answering_bytes(berth, reg, iam, user):
    """/console/api/layer: how the Image detail reads a config whatever the blob store (on S3
    GetDownloadUrlForLayer's URL is the object store's, which the page may not fetch). It is
    GetDownloadUrlForLayer itself: same validation, same authorization, same errors."""
    ecr = client(berth, "ecr")
    repo, other = f"console/layer-{token()}", f"console/layer-other-{token()}"
    ecr.create_repository(repositoryName=repo)
    ecr.create_repository(repositoryName=other)
    img = images.make_image(label=images.token())
    reg.push_image(repo, img, tag="v1")
    big = images.random_blob((4 << 20) + 1)
    reg.push_blob(repo, big)
    stray = images.random_blob(100)
    reg.push_blob(other, stray)
    body = {"repositoryName": repo, "layerDigest": img.config.digest}

    s, doc = root_session(berth)
    r = layer_call(berth, s, body, doc["csrf"])
    assert r.status_code == 200, r.text
    assert r.content == img.config.data
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert "connect-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store"
    # the CSRF token, as every console call
    assert layer_call(berth, s, body, None).status_code == 403
    # GetDownloadUrlForLayer and nothing else
    r = layer_call(berth, s, {"repositoryNames": [repo]}, doc["csrf"], op="DescribeRepositories")
    assert r.status_code == 400 and r.json()["__type"] == "UnsupportedOperationException"
    # its errors: a blob of another repository, a bad digest, a layer past the console's bound
    r = layer_call(berth, s, {"repositoryName": repo, "layerDigest": stray.digest}, doc["csrf"])
    assert r.status_code == 400 and r.json()["__type"] == "LayersNotFoundException"
    r = layer_call(berth, s, {"repositoryName": repo, "layerDigest": "sha256:nope"}, doc["csrf"])
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    r = layer_call(berth, s, {"repositoryName": repo, "layerDigest": big.digest}, doc["csrf"])
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    assert "at most 4194304 bytes" in r.json()["message"]

    # authorized as ecr:GetDownloadUrlForLayer on the repository: a read-only user reads it ...
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    us, ur = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert ur.status_code == 200, ur.text
    ucsrf = ur.json()["csrf"]
    r = layer_call(berth, us, body, ucsrf)
    assert r.status_code == 200 and r.content == img.config.data
    # ... and is refused, with the sentence a signed call gets, once a policy denies that action
    iam.put_user_policy(UserName=user, PolicyName="no-layers", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ecr:GetDownloadUrlForLayer",
                                                "Resource": "*"}]}))
    r = layer_call(berth, us, body, ucsrf)
    assert r.status_code == 400 and r.json()["__type"] == "AccessDeniedException"
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as e:
        client(berth, "ecr", key["AccessKeyId"], key["SecretAccessKey"]).get_download_url_for_layer(**body)
    assert r.json()["message"] == message(e)
    # while BatchGetImage, which the read-only policy allows, still works
    assert ecr_call(berth, us, "BatchGetImage", {"repositoryName": repo, "imageIds": [{"imageTag": "v1"}]},
                    ucsrf).json()["images"]


def test_images_in_push_order_across_pages(berth, reg):
    """The Images tab's order: newest push first across the whole repository, on the server
    (X-Berth-Image-Order: pushed-desc on the console's DescribeImages), not within a page."""
    ecr = client(berth, "ecr")
    repo = f"console/order-{token()}"
    ecr.create_repository(repositoryName=repo)
    pushed = []
    for i in range(7):
        img = images.make_image(label=images.token())
        reg.push_image(repo, img, tag=f"t{i}" if i % 2 else None)
        pushed.append(img.digest)
        time.sleep(0.005)
    newest_first = list(reversed(pushed))
    # push order is not digest order (what DescribeImages pages by), or this test proves nothing
    assert sorted(pushed) != pushed and sorted(pushed) != newest_first
    s, doc = root_session(berth)
    order = {"X-Berth-Image-Order": "pushed-desc"}

    def walk(body, headers):
        seen, token_ = [], None
        while True:
            b = dict(body, maxResults=2, **({"nextToken": token_} if token_ else {}))
            r = ecr_call(berth, s, "DescribeImages", b, doc["csrf"], headers=headers)
            assert r.status_code == 200, r.text
            out = r.json()
            assert len(out["imageDetails"]) <= 2
            seen += [d["imageDigest"] for d in out["imageDetails"]]
            token_ = out.get("nextToken")
            if not token_:
                return seen

    assert walk({"repositoryName": repo}, order) == newest_first
    # the filters still apply
    assert walk({"repositoryName": repo, "filter": {"tagStatus": "TAGGED"}}, order) == \
        [d for i, d in reversed(list(enumerate(pushed))) if i % 2]
    assert walk({"repositoryName": repo, "filter": {"tagStatus": "UNTAGGED"}}, order) == \
        [d for i, d in reversed(list(enumerate(pushed))) if not i % 2]
    # without the header: DescribeImages' own pages, in digest order
    assert walk({"repositoryName": repo}, {}) == sorted(pushed)
    # a signed call's header is not read: the extension is the console's alone
    def add_order(request, **_):
        request.headers["X-Berth-Image-Order"] = "pushed-desc"

    ecr.meta.events.register("before-sign.ecr.DescribeImages", add_order)
    signed = ecr.describe_images(repositoryName=repo)["imageDetails"]
    ecr.meta.events.unregister("before-sign.ecr.DescribeImages", add_order)
    assert [d["imageDigest"] for d in signed] == sorted(pushed)
    # an image deleted between two pages is simply not there
    first = ecr_call(berth, s, "DescribeImages", {"repositoryName": repo, "maxResults": 3}, doc["csrf"],
                     headers=order).json()
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": newest_first[3]}])
    rest = ecr_call(berth, s, "DescribeImages", {"repositoryName": repo, "maxResults": 10,
                                                 "nextToken": first["nextToken"]}, doc["csrf"], headers=order).json()
    assert [d["imageDigest"] for d in rest["imageDetails"]] == newest_first[4:]
    # a token of one order is not one of the other; an unknown order is refused
    r = ecr_call(berth, s, "DescribeImages", {"repositoryName": repo, "nextToken": first["nextToken"]}, doc["csrf"])
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    r = ecr_call(berth, s, "DescribeImages", {"repositoryName": repo}, doc["csrf"],
                 headers={"X-Berth-Image-Order": "pushed-asc"})
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"


# ---- the repositories search: DescribeRepositories' pages, filtered on the server -------------

def test_repository_search_is_server_side_and_paged(berth):
    ecr = client(berth, "ecr")
    t = token()
    names = [f"search-{t}/alpha", f"search-{t}/beta", f"search-{t}/gamma", f"other-{t}/alphabet"]
    for n in names:
        ecr.create_repository(repositoryName=n)
    s, doc = root_session(berth)

    def search(flt, **body):
        r = ecr_call(berth, s, "DescribeRepositories", body, doc["csrf"]) if flt is None else s.post(
            berth.url + "/console/api/ecr", data=json.dumps(body), timeout=30,
            headers={"X-Amz-Target": TARGET + "DescribeRepositories", "Content-Type": "application/x-amz-json-1.1",
                     "X-Berth-Csrf": doc["csrf"], "Origin": berth.url, "X-Berth-Repository-Filter": flt})
        return r

    def names_of(r):
        assert r.status_code == 200, r.text
        return [x["repositoryName"] for x in r.json()["repositories"]]

    # a substring anywhere in the name (upper case finds lower case names), in name order
    assert names_of(search(f"contains:{t.upper()}/ALPHA")) == [f"other-{t}/alphabet", f"search-{t}/alpha"]
    assert names_of(search(f"prefix:search-{t}/")) == names[:3]
    assert names_of(search(f"prefix:search-{t}/a")) == [names[0]]
    assert names_of(search(f"contains:nothing-{t}")) == []
    # pages of the filtered list with DescribeRepositories' own tokens
    seen, tok = [], None
    for _ in range(5):
        body = {"maxResults": 1} | ({"nextToken": tok} if tok else {})
        r = search(f"contains:{t}", **body)
        seen += names_of(r)
        tok = r.json().get("nextToken")
        if not tok:
            break
    assert seen == sorted(names)
    # a filter in another form is the API's parameter error
    r = search("regex:.*")
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", r.text
    assert search("contains:").status_code == 400
    # the filter is the console's: a SigV4 call with the header lists every repository
    signed = client(berth, "ecr")
    signed.meta.events.register("before-sign.ecr.DescribeRepositories", lambda request, **kw: request.headers.__setitem__(
        "X-Berth-Repository-Filter", f"prefix:search-{t}/"))
    got = [x["repositoryName"] for x in signed.describe_repositories(maxResults=1000)["repositories"]]
    assert f"other-{t}/alphabet" in got and set(names) <= set(got)


# ---- account aliases, the account password policy, limits that outlive a restart ---------------
# (a server of their own: an alias and a password policy are the whole account's)

@pytest.fixture(scope="module")
def own(berth_factory):
    return berth_factory()


def aws_iam(server, *args, check=True):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    p = run(["aws", "--endpoint-url", server.url, "iam", *args], env=env, check=check, redact=[server.secret])
    return json.loads(p.stdout) if check and p.stdout.strip() else p


def second_account(server):
    """A second account on server (berth admin create-account): its boto3 IAM client."""
    out = admin(server, "create-account").stdout
    vals = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    return client(server, "iam", vals["aws_access_key_id"], vals["aws_secret_access_key"])


def test_account_alias_and_sign_in_with_it(own):
    iam = client(own, "iam")
    assert iam.list_account_aliases()["AccountAliases"] == []
    alias = f"team-{token()}"
    aws_iam(own, "create-account-alias", "--account-alias", alias)
    assert aws_iam(own, "list-account-aliases")["AccountAliases"] == [alias]
    # the same again is fine; another replaces it (one alias per account)
    iam.create_account_alias(AccountAlias=alias)
    iam.create_account_alias(AccountAlias=alias + "-b")
    assert iam.list_account_aliases()["AccountAliases"] == [alias + "-b"]
    iam.create_account_alias(AccountAlias=alias)
    # an alias another account of the server has is refused with IAM's error
    other = second_account(own)
    with pytest.raises(ClientError) as e:
        other.create_account_alias(AccountAlias=alias)
    assert code(e) == "EntityAlreadyExists" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    # IAM's pattern and length, checked by the server with the model
    raw = boto3.client("iam", endpoint_url=own.url, region_name=own.region, aws_access_key_id=own.access_key,
                       aws_secret_access_key=own.secret,
                       config=Config(retries={"max_attempts": 1}, parameter_validation=False))
    for bad in ("ab", "Upper-Case", "a--b", "-ab"):
        with pytest.raises(ClientError) as e:
            raw.create_account_alias(AccountAlias=bad)
        assert code(e) == "ValidationError", bad

    user = f"alias-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    # the alias (in any case) signs in as the account id does
    for account in (alias, alias.upper(), own.account_id):
        _, r = sign_in(own, account=account, user=user, password=PASSWORD)
        assert r.status_code == 200, r.text
        assert r.json()["account"] == own.account_id and r.json()["userName"] == user
    # an alias of no account is wrong credentials like any other
    _, r = sign_in(own, account=f"nobody-{token()}", user=user, password=PASSWORD)
    assert r.status_code == 401 and r.json()["__type"] == "UnrecognizedClientException"

    with pytest.raises(ClientError) as e:
        iam.delete_account_alias(AccountAlias=alias + "-b")
    assert code(e) == "NoSuchEntity" and message(e) == f"The account alias {alias}-b cannot be found."
    aws_iam(own, "delete-account-alias", "--account-alias", alias)
    assert iam.list_account_aliases()["AccountAliases"] == []
    _, r = sign_in(own, account=alias, user=user, password=PASSWORD)
    assert r.status_code == 401
    # the alias is free for another account now
    other.create_account_alias(AccountAlias=alias)
    other.delete_account_alias(AccountAlias=alias)


def test_account_password_policy_is_enforced(own):
    iam = client(own, "iam")
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert code(e) == "NoSuchEntity"
    assert message(e) == f"The Password Policy with domain name {own.account_id} cannot be found."
    with pytest.raises(ClientError) as e:
        iam.delete_account_password_policy()
    assert code(e) == "NoSuchEntity"

    aws_iam(own, "update-account-password-policy", "--minimum-password-length", "12", "--require-symbols",
            "--require-numbers", "--require-uppercase-characters", "--require-lowercase-characters",
            "--allow-users-to-change-password", "--password-reuse-prevention", "2", "--max-password-age", "90")
    got = aws_iam(own, "get-account-password-policy")["PasswordPolicy"]
    assert got == {"MinimumPasswordLength": 12, "RequireSymbols": True, "RequireNumbers": True,
                   "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
                   "AllowUsersToChangePassword": True, "ExpirePasswords": True, "MaxPasswordAge": 90,
                   "PasswordReusePrevention": 2, "HardExpiry": False}

    user = f"policy-{token()}"
    iam.create_user(UserName=user)
    cases = [("Short-pw-1", "Password should have a minimum length of 12"),
             ("lower-case-pass-1", "Password should have at least one uppercase letter"),
             ("UPPER-CASE-PASS-1", "Password should have at least one lowercase letter"),
             ("No-digits-in-here", "Password should have at least one number"),
             ("NoSymbolsInHere12", "Password should have at least one symbol")]
    for pw, why in cases:
        with pytest.raises(ClientError) as e:
            iam.create_login_profile(UserName=user, Password=pw)
        assert code(e) == "PasswordPolicyViolation" and message(e) == why, pw
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    first, second, third = "First-password-1", "Second-password-2", "Third-password-3"
    iam.create_login_profile(UserName=user, Password=first)
    iam.update_login_profile(UserName=user, Password=second)
    # the last two passwords may not be used again ...
    for pw in (first, second):
        with pytest.raises(ClientError) as e:
            iam.update_login_profile(UserName=user, Password=pw)
        assert code(e) == "PasswordPolicyViolation"
        assert message(e) == "Password should not be one of your last 2 passwords"
    # ... nor by the user's own ChangePassword
    iam.put_user_policy(UserName=user, PolicyName="change", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    mine = client(own, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword=second, NewPassword=first)
    assert code(e) == "PasswordPolicyViolation"
    with pytest.raises(ClientError) as e:
        mine.change_password(OldPassword=second, NewPassword="weak-1A")
    assert message(e) == "Password should have a minimum length of 12"
    mine.change_password(OldPassword=second, NewPassword=third)
    # three passwords on, the first is allowed again
    iam.update_login_profile(UserName=user, Password=first)

    # an update replaces the whole policy: what is not given takes IAM's default
    iam.update_account_password_policy(MinimumPasswordLength=6)
    got = iam.get_account_password_policy()["PasswordPolicy"]
    assert got["MinimumPasswordLength"] == 6 and got["RequireSymbols"] is False and got["ExpirePasswords"] is False
    assert "PasswordReusePrevention" not in got and "MaxPasswordAge" not in got
    iam.update_login_profile(UserName=user, Password="sixsix")  # 6 characters, nothing else required
    # the model's bounds
    raw = boto3.client("iam", endpoint_url=own.url, region_name=own.region, aws_access_key_id=own.access_key,
                       aws_secret_access_key=own.secret,
                       config=Config(retries={"max_attempts": 1}, parameter_validation=False))
    with pytest.raises(ClientError) as e:
        raw.update_account_password_policy(MinimumPasswordLength=5)
    assert code(e) == "ValidationError"
    aws_iam(own, "delete-account-password-policy")
    with pytest.raises(ClientError) as e:
        iam.get_account_password_policy()
    assert code(e) == "NoSuchEntity"
    # without a policy IAM's default applies again
    with pytest.raises(ClientError) as e:
        iam.update_login_profile(UserName=user, Password="sixsix")
    assert code(e) == "PasswordPolicyViolation"
    iam.delete_login_profile(UserName=user)


def new_account(server):
    """A fresh account on server (berth admin create-account): (account id, root's IAM client)."""
    out = admin(server, "create-account").stdout
    vals = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    account = out.split()[1]
    assert len(account) == 12 and account.isdigit(), out
    return account, client(server, "iam", vals["aws_access_key_id"], vals["aws_secret_access_key"])


def test_allow_users_to_change_password_grants_it_to_every_user(own):
    """As IAM's user guide says: with AllowUsersToChangePassword every IAM user of the account may
    call iam:ChangePassword on itself and iam:GetAccountPasswordPolicy, with no policy of its own;
    without it, only a policy allows them. An explicit Deny still wins."""
    account, root = new_account(own)
    user = f"self-{token()}"
    root.create_user(UserName=user)
    root.create_login_profile(UserName=user, Password=PASSWORD)
    key = root.create_access_key(UserName=user)["AccessKey"]
    mine = client(own, "iam", key["AccessKeyId"], key["SecretAccessKey"])

    def refused(call, action):
        with pytest.raises(ClientError) as e:
            call()
        assert code(e) == "AccessDenied", e.value.response
        assert action in message(e)

    # no password policy, then one that does not allow it: a policy is needed
    refused(lambda: mine.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2"), "iam:ChangePassword")
    refused(mine.get_account_password_policy, "iam:GetAccountPasswordPolicy")
    root.update_account_password_policy(MinimumPasswordLength=10, AllowUsersToChangePassword=False)
    refused(lambda: mine.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2"), "iam:ChangePassword")
    refused(mine.get_account_password_policy, "iam:GetAccountPasswordPolicy")

    root.update_account_password_policy(MinimumPasswordLength=10, AllowUsersToChangePassword=True)
    got = mine.get_account_password_policy()["PasswordPolicy"]
    assert got["AllowUsersToChangePassword"] is True and got["MinimumPasswordLength"] == 10
    mine.change_password(OldPassword=PASSWORD, NewPassword="Another-pass-2")
    _, r = sign_in(own, account=account, user=user, password="Another-pass-2")
    assert r.status_code == 200, r.text
    # those two and nothing more: not its login profile, not the policy itself, not other users
    refused(lambda: mine.get_login_profile(UserName=user), "iam:GetLoginProfile")
    refused(lambda: mine.update_account_password_policy(MinimumPasswordLength=8), "iam:UpdateAccountPasswordPolicy")
    refused(lambda: mine.get_user(UserName=user), "iam:GetUser")
    # an explicit Deny in the user's own policies wins over the account's grant
    root.put_user_policy(UserName=user, PolicyName="no-change", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}]}))
    refused(lambda: mine.change_password(OldPassword="Another-pass-2", NewPassword="Third-pass-33"),
            "iam:ChangePassword")
    root.delete_user_policy(UserName=user, PolicyName="no-change")
    mine.change_password(OldPassword="Another-pass-2", NewPassword="Third-pass-33")
    # the same with the aws CLI's update-account-password-policy turning it off again
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
               AWS_DEFAULT_REGION=own.region, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    root.update_account_password_policy(MinimumPasswordLength=10)  # AllowUsersToChangePassword: false
    p = run(["aws", "--endpoint-url", own.url, "iam", "change-password", "--old-password", "Third-pass-33",
             "--new-password", "Fourth-pass-44"], env=env, check=False, redact=[key["SecretAccessKey"]])
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    # ... and a policy that allows it is enough on its own, as in AWS
    root.put_user_policy(UserName=user, PolicyName="change", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": f"arn:aws:iam::{account}:user/{user}"}]}))
    p = run(["aws", "--endpoint-url", own.url, "iam", "change-password", "--old-password", "Third-pass-33",
             "--new-password", "Fourth-pass-44"], env=env, redact=[key["SecretAccessKey"]])
    assert p.returncode == 0


def test_change_password_guesses_are_limited_like_sign_in(berth, iam, user):
    """Someone holding a user's console session (or key) guessing the password through
    ChangePassword gets the sign-in page's five tries, in the same counts."""
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    iam.put_user_policy(UserName=user, PolicyName="change", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ChangePassword", "Resource": "*"}]}))
    s, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf"]

    def change(old, new):
        return s.post(berth.url + "/console/api/iam",
                      data={"Action": "ChangePassword", "Version": "2010-05-08", "OldPassword": old,
                            "NewPassword": new},
                      headers={"X-Berth-Csrf": csrf, "Origin": berth.url}, timeout=30)

    for i in range(5):
        r = change(f"Wrong-guess-{i}", "Another-pass-2")
        assert r.status_code == 400 and "<Code>InvalidUserType</Code>" in r.text, r.text
    # the sixth is refused whatever it says, the right old password included
    r = change(PASSWORD, "Another-pass-2")
    assert r.status_code == 409 and "<Code>LimitExceeded</Code>" in r.text, r.text
    assert "Too many failed password attempts. Try again in 15 minutes." in r.text
    # with the user's access key too, and at the sign-in page: one count for every guess
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as e:
        client(berth, "iam", key["AccessKeyId"], key["SecretAccessKey"]).change_password(
            OldPassword=PASSWORD, NewPassword="Another-pass-2")
    assert code(e) == "LimitExceeded"
    _, r = sign_in(berth, account=berth.account_id, user=user, password=PASSWORD)
    assert r.status_code == 429 and r.json()["__type"] == "ThrottlingException"


def test_secure_cookie_under_https_and_the_limit_per_address(berth_factory):
    """Behind a trusted proxy that says the client came over https, the cookie is Secure; failed
    sign-ins from one address are limited (20 in 15 minutes) whichever users they name, and
    another address is not."""
    srv = berth_factory(extra_args=["--trusted-proxies", "127.0.0.1"])
    iam = client(srv, "iam")
    user = f"addr-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    form = {"account": srv.account_id, "user": user, "password": PASSWORD}

    def post(address, body, https=False):
        headers = {"X-Forwarded-For": address, "Origin": ("https://" if https else "http://") + srv.host}
        if https:
            headers["X-Forwarded-Proto"] = "https"
        return requests.post(srv.url + "/console/api/signin", json=body, headers=headers, timeout=30)

    r = post("198.51.100.7", form, https=True)
    assert r.status_code == 200, r.text
    assert "; Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    r = post("198.51.100.7", form)
    assert r.status_code == 200 and "Secure" not in r.headers["Set-Cookie"]
    for i in range(20):
        r = post("203.0.113.9", {"account": srv.account_id, "user": f"nobody-{i}-{token()}", "password": PASSWORD})
        assert r.status_code == 401, (i, r.text)
    r = post("203.0.113.9", form)
    assert r.status_code == 429 and r.json()["__type"] == "ThrottlingException"
    assert post("198.51.100.8", form).status_code == 200


def test_failed_sign_ins_stay_limited_after_a_restart(own):
    iam = client(own, "iam")
    user = f"limit-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    for _ in range(5):
        _, r = sign_in(own, account=own.account_id, user=user, password="Wrong-password-1")
        assert r.status_code == 401
    _, r = sign_in(own, account=own.account_id, user=user, password=PASSWORD)
    assert r.status_code == 429
    own.restart()
    _, r = sign_in(own, account=own.account_id, user=user, password=PASSWORD)
    assert r.status_code == 429, r.text
    assert r.json()["__type"] == "ThrottlingException"
    m = r.json()["message"]
    assert m.startswith("Too many failed sign-in attempts. Try again in ") and m.endswith(" minutes."), m
    # the count is the user's: another user of the same account still signs in
    other = f"limit-{token()}"
    iam.create_user(UserName=other)
    iam.create_login_profile(UserName=other, Password=PASSWORD)
    _, r = sign_in(own, account=own.account_id, user=other, password=PASSWORD)
    assert r.status_code == 200, r.text
    # and what is counted is kept in the store
    from conftest import metadata_db
    db = metadata_db(own.data_dir)
    rows = db.execute("SELECT key, fails FROM console_signin_failures WHERE key = ?",
                      (f"u:user/{own.account_id}/{user}",)).fetchall()
    db.close()
    assert rows == [(f"u:user/{own.account_id}/{user}", 5)]


def test_expired_password_must_be_changed_at_sign_in(own):
    from conftest import metadata_db
    iam = client(own, "iam")
    user = f"expiry-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password=PASSWORD)
    iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=30)
    try:
        _, r = sign_in(own, account=own.account_id, user=user, password=PASSWORD)
        assert r.status_code == 200 and r.json()["mustChangePassword"] is False, r.text
        # set 31 days ago
        db = metadata_db(own.data_dir)
        db.execute("UPDATE iam_password_history SET set_at = set_at - ? WHERE account_id = ? AND user_name = ?",
                   (31 * 86400 * 1000, own.account_id, user))
        db.commit()
        db.close()
        _, r = sign_in(own, account=own.account_id, user=user, password=PASSWORD)
        assert r.status_code == 200 and r.json()["mustChangePassword"] is True, r.text
        # with HardExpiry the user cannot sign in at all
        iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=30, HardExpiry=True)
        _, r = sign_in(own, account=own.account_id, user=user, password=PASSWORD)
        assert r.status_code == 401 and r.json()["__type"] == "PasswordExpired", r.text
        # an administrator's new password starts the clock again
        iam.update_login_profile(UserName=user, Password="Reset-by-admin-1")
        _, r = sign_in(own, account=own.account_id, user=user, password="Reset-by-admin-1")
        assert r.status_code == 200 and r.json()["mustChangePassword"] is False, r.text
    finally:
        iam.delete_account_password_policy()
