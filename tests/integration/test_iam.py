"""IAM and STS over the AWS Query protocol, driven by boto3's `iam`/`sts` clients and the aws CLI.

Every operation's happy path and the errors IAM answers (NoSuchEntity, EntityAlreadyExists,
DeleteConflict, LimitExceeded, MalformedPolicyDocument, InvalidInput, ValidationError,
AccessDenied), pagination through boto3's paginators, access keys that stop working the moment
they are deactivated, sts get-caller-identity, and the seed walkthrough (§8 of
shared/seeds/000_*.txt: groups with the AWS-managed ECR policies, users, keys).
"""

import json
import os
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import run, token

IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
AWS_POLICY = "arn:aws:iam::aws:policy/"
READ_ONLY = AWS_POLICY + "AmazonEC2ContainerRegistryReadOnly"
POWER_USER = AWS_POLICY + "AmazonEC2ContainerRegistryPowerUser"
FULL_ACCESS = AWS_POLICY + "AmazonEC2ContainerRegistryFullAccess"
PULL_ONLY = AWS_POLICY + "AmazonEC2ContainerRegistryPullOnly"
CLOUDTRAIL_READ_ONLY = AWS_POLICY + "AWSCloudTrail_ReadOnlyAccess"
BUILT_IN = {READ_ONLY, POWER_USER, FULL_ACCESS, PULL_ONLY, CLOUDTRAIL_READ_ONLY}


def doc(*actions, resource="*", effect="Allow"):
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": effect, "Action": list(actions), "Resource": resource}]})


def client(server, service, key=None, secret=None, region=None):
    return boto3.client(service, endpoint_url=server.url, region_name=region or server.region,
                        aws_access_key_id=key or server.access_key,
                        aws_secret_access_key=secret or server.secret,
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def iam(berth):
    return client(berth, "iam")


@pytest.fixture
def sts(berth):
    return client(berth, "sts")


@pytest.fixture
def name(request):
    """Fresh entity names for this test: name("u") -> "u-<test>-<random>"."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:30]

    def make(prefix):
        return f"{prefix}-{slug}-{token(3)}"

    return make


def error_of(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


def expect_error(code, status, fn, *args, **kwargs):
    with pytest.raises(ClientError) as ei:
        fn(*args, **kwargs)
    got = error_of(ei)
    assert got[0] == code and got[2] == status, got
    return got[1]


def aws_cli(server, *args, key=None, secret=None, check=True, region=None):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key or server.access_key,
               AWS_SECRET_ACCESS_KEY=secret or server.secret, AWS_DEFAULT_REGION=region or server.region,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    p = run(["aws", *args, "--endpoint-url", server.url, "--output", "json"], env=env, check=check,
            redact=[secret or server.secret])
    return json.loads(p.stdout) if check and p.stdout.strip() else p


def signed_post(server, body, service="iam", key=None, secret=None):
    """A raw form POST signed with SigV4, for what boto3 would not send."""
    creds = Credentials(key or server.access_key, secret or server.secret)
    req = AWSRequest(method="POST", url=server.url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(creds, service, server.region).add_auth(req)
    return requests.post(server.url + "/", data=body, headers=dict(req.headers), timeout=30)


def new_user_with_key(iam, name, path="/"):
    iam.create_user(UserName=name, Path=path)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


# ---------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------

def test_create_get_list_delete_user(berth, iam, name):
    n = name("u")
    u = iam.create_user(UserName=n, Path="/team-a/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert u["UserName"] == n and u["Path"] == "/team-a/"
    assert u["Arn"] == f"arn:aws:iam::{berth.account_id}:user/team-a/{n}"
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21 and u["UserId"].isalnum()
    assert u["Tags"] == [{"Key": "team", "Value": "a"}]
    assert u["CreateDate"].tzinfo is not None

    got = iam.get_user(UserName=n)["User"]
    assert {k: got[k] for k in ("UserName", "UserId", "Arn", "Path")} == \
        {k: u[k] for k in ("UserName", "UserId", "Arn", "Path")}
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]
    # names are not told apart by case
    assert iam.get_user(UserName=n.upper())["User"]["UserName"] == n
    msg = expect_error("EntityAlreadyExists", 409, iam.create_user, UserName=n.upper())
    assert "already exists" in msg

    listed = iam.list_users(PathPrefix="/team-a/")["Users"]
    assert n in [x["UserName"] for x in listed]
    assert all(x["Path"].startswith("/team-a/") for x in listed)
    assert n not in [x["UserName"] for x in iam.list_users(PathPrefix="/team-b/")["Users"]]

    iam.delete_user(UserName=n)
    msg = expect_error("NoSuchEntity", 404, iam.get_user, UserName=n)
    assert msg == f"The user with name {n} cannot be found."
    expect_error("NoSuchEntity", 404, iam.delete_user, UserName=n)


def test_user_name_validation(iam):
    msg = expect_error("ValidationError", 400, iam.create_user, UserName="bad name!")
    assert msg == ("1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: "
                   "Member must satisfy regular expression pattern: [\\w+=,.@-]+")
    msg = expect_error("ValidationError", 400, iam.create_user, UserName="x" * 65)
    assert "Member must have length less than or equal to 64" in msg
    expect_error("ValidationError", 400, iam.create_user, UserName="ok", Path="no-slashes")
    msg = expect_error("InvalidInput", 400, iam.create_user, UserName="dup-tags",
                       Tags=[{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}])
    assert "Duplicate tag keys" in msg


def test_get_user_without_name_is_the_caller(berth, iam, name):
    root = iam.get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{berth.account_id}:root"
    assert root["UserId"] == berth.account_id
    assert "UserName" not in root


def test_delete_user_conflicts(iam, name):
    n, g, p = name("u"), name("g"), name("p")
    iam.create_user(UserName=n)
    key = iam.create_access_key(UserName=n)["AccessKey"]["AccessKeyId"]
    assert expect_error("DeleteConflict", 409, iam.delete_user, UserName=n) == \
        "Cannot delete entity, must delete access keys first."
    iam.delete_access_key(UserName=n, AccessKeyId=key)

    iam.put_user_policy(UserName=n, PolicyName="inline", PolicyDocument=doc("ecr:ListImages"))
    assert "must delete policies first" in expect_error("DeleteConflict", 409, iam.delete_user, UserName=n)
    iam.delete_user_policy(UserName=n, PolicyName="inline")

    iam.attach_user_policy(UserName=n, PolicyArn=READ_ONLY)
    assert "must detach all policies first" in expect_error("DeleteConflict", 409, iam.delete_user, UserName=n)
    iam.detach_user_policy(UserName=n, PolicyArn=READ_ONLY)

    iam.create_group(GroupName=g)
    iam.add_user_to_group(GroupName=g, UserName=n)
    expect_error("DeleteConflict", 409, iam.delete_user, UserName=n)
    iam.remove_user_from_group(GroupName=g, UserName=n)

    iam.delete_user(UserName=n)
    iam.delete_group(GroupName=g)


# ---------------------------------------------------------------------------------------
# Access keys
# ---------------------------------------------------------------------------------------

def test_access_keys(berth, iam, name):
    n, other = name("u"), name("o")
    iam.create_user(UserName=n)
    iam.create_user(UserName=other)
    k1 = iam.create_access_key(UserName=n)["AccessKey"]
    assert k1["UserName"] == n and k1["Status"] == "Active"
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["AccessKeyId"]) == 20
    assert len(k1["SecretAccessKey"]) == 40
    k2 = iam.create_access_key(UserName=n)["AccessKey"]
    msg = expect_error("LimitExceeded", 409, iam.create_access_key, UserName=n)
    assert msg == "Cannot exceed quota for AccessKeysPerUser: 2"

    listed = iam.list_access_keys(UserName=n)["AccessKeyMetadata"]
    assert sorted(x["AccessKeyId"] for x in listed) == sorted([k1["AccessKeyId"], k2["AccessKeyId"]])
    assert all("SecretAccessKey" not in x for x in listed)

    # the secret works at once
    me = client(berth, "sts", k1["AccessKeyId"], k1["SecretAccessKey"]).get_caller_identity()
    assert me["Arn"].endswith(":user/" + n)

    iam.update_access_key(UserName=n, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    st = {x["AccessKeyId"]: x["Status"] for x in iam.list_access_keys(UserName=n)["AccessKeyMetadata"]}
    assert st[k1["AccessKeyId"]] == "Inactive" and st[k2["AccessKeyId"]] == "Active"
    iam.update_access_key(UserName=n, AccessKeyId=k1["AccessKeyId"], Status="Active")

    # a key is found only under its own user
    expect_error("NoSuchEntity", 404, iam.update_access_key, UserName=other, AccessKeyId=k1["AccessKeyId"],
                 Status="Inactive")
    msg = expect_error("NoSuchEntity", 404, iam.delete_access_key, UserName=other, AccessKeyId=k1["AccessKeyId"])
    assert msg == f"The Access Key with id {k1['AccessKeyId']} cannot be found."
    expect_error("NoSuchEntity", 404, iam.list_access_keys, UserName=name("missing"))
    expect_error("NoSuchEntity", 404, iam.create_access_key, UserName=name("missing"))

    iam.delete_access_key(UserName=n, AccessKeyId=k1["AccessKeyId"])
    iam.delete_access_key(UserName=n, AccessKeyId=k2["AccessKeyId"])
    expect_error("NoSuchEntity", 404, iam.delete_access_key, UserName=n, AccessKeyId=k2["AccessKeyId"])
    assert iam.list_access_keys(UserName=n)["AccessKeyMetadata"] == []
    # a deleted key signs nothing any more
    code, _, status = error_of(pytest.raises(ClientError, client(berth, "sts", k2["AccessKeyId"],
                                                                 k2["SecretAccessKey"]).get_caller_identity))
    assert (code, status) == ("InvalidClientTokenId", 403)
    iam.delete_user(UserName=n)
    iam.delete_user(UserName=other)


def test_root_lists_its_own_keys(berth, iam):
    keys = iam.list_access_keys()["AccessKeyMetadata"]
    assert berth.access_key in [k["AccessKeyId"] for k in keys]
    assert all("UserName" not in k for k in keys)


def test_deactivated_key_refuses_signed_calls_at_once(berth, iam, name):
    n = name("u")
    akid, secret = new_user_with_key(iam, n)
    iam.attach_user_policy(UserName=n, PolicyArn=READ_ONLY)
    ecr = client(berth, "ecr", akid, secret)
    assert ecr.get_authorization_token()["authorizationData"]

    iam.update_access_key(UserName=n, AccessKeyId=akid, Status="Inactive")
    with pytest.raises(ClientError) as ei:
        ecr.get_authorization_token()
    assert error_of(ei)[0] == "UnrecognizedClientException"
    with pytest.raises(ClientError) as ei:
        client(berth, "sts", akid, secret).get_caller_identity()
    assert error_of(ei)[:1] == ("InvalidClientTokenId",) and error_of(ei)[2] == 403
    with pytest.raises(ClientError) as ei:
        client(berth, "iam", akid, secret).list_users()
    assert error_of(ei)[0] == "InvalidClientTokenId"

    iam.update_access_key(UserName=n, AccessKeyId=akid, Status="Active")
    assert ecr.get_authorization_token()["authorizationData"]

    iam.detach_user_policy(UserName=n, PolicyArn=READ_ONLY)
    iam.delete_access_key(UserName=n, AccessKeyId=akid)
    iam.delete_user(UserName=n)


# ---------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------

def test_groups(berth, iam, name):
    g, u1, u2 = name("g"), name("a"), name("b")
    grp = iam.create_group(GroupName=g, Path="/devs/")["Group"]
    assert grp["Arn"] == f"arn:aws:iam::{berth.account_id}:group/devs/{g}"
    assert grp["GroupId"].startswith("AGPA") and len(grp["GroupId"]) == 21
    assert expect_error("EntityAlreadyExists", 409, iam.create_group, GroupName=g) == \
        f"Group with name {g} already exists."
    for u in (u1, u2):
        iam.create_user(UserName=u)
        iam.add_user_to_group(GroupName=g, UserName=u)
    iam.add_user_to_group(GroupName=g, UserName=u1)  # again: no error

    got = iam.get_group(GroupName=g)
    assert got["Group"]["GroupName"] == g
    assert [x["UserName"] for x in got["Users"]] == sorted([u1, u2], key=str.lower)
    assert g in [x["GroupName"] for x in iam.list_groups(PathPrefix="/devs/")["Groups"]]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u1)["Groups"]] == [g]

    assert expect_error("DeleteConflict", 409, iam.delete_group, GroupName=g) == \
        "Cannot delete entity, must remove users from group first."
    iam.remove_user_from_group(GroupName=g, UserName=u1)
    expect_error("NoSuchEntity", 404, iam.remove_user_from_group, GroupName=g, UserName=u1)
    assert [x["UserName"] for x in iam.get_group(GroupName=g)["Users"]] == [u2]
    assert iam.list_groups_for_user(UserName=u1)["Groups"] == []
    iam.remove_user_from_group(GroupName=g, UserName=u2)

    iam.put_group_policy(GroupName=g, PolicyName="p", PolicyDocument=doc("ecr:ListImages"))
    assert "must delete policies first" in expect_error("DeleteConflict", 409, iam.delete_group, GroupName=g)
    iam.delete_group_policy(GroupName=g, PolicyName="p")
    iam.attach_group_policy(GroupName=g, PolicyArn=READ_ONLY)
    assert "must detach all policies first" in expect_error("DeleteConflict", 409, iam.delete_group, GroupName=g)
    iam.detach_group_policy(GroupName=g, PolicyArn=READ_ONLY)
    iam.delete_group(GroupName=g)

    missing = name("missing")
    assert expect_error("NoSuchEntity", 404, iam.get_group, GroupName=missing) == \
        f"The group with name {missing} cannot be found."
    expect_error("NoSuchEntity", 404, iam.delete_group, GroupName=missing)
    expect_error("NoSuchEntity", 404, iam.add_user_to_group, GroupName=missing, UserName=u1)
    expect_error("NoSuchEntity", 404, iam.list_groups_for_user, UserName=missing)
    for u in (u1, u2):
        iam.delete_user(UserName=u)


def test_groups_per_user_limit(iam, name):
    u = name("u")
    iam.create_user(UserName=u)
    groups = [name(f"g{i}") for i in range(11)]
    for g in groups:
        iam.create_group(GroupName=g)
    for g in groups[:10]:
        iam.add_user_to_group(GroupName=g, UserName=u)
    assert expect_error("LimitExceeded", 409, iam.add_user_to_group, GroupName=groups[10], UserName=u) == \
        "Cannot exceed quota for GroupsPerUser: 10"
    for g in groups[:10]:
        iam.remove_user_from_group(GroupName=g, UserName=u)
    for g in groups:
        iam.delete_group(GroupName=g)
    iam.delete_user(UserName=u)


# ---------------------------------------------------------------------------------------
# Managed policies
# ---------------------------------------------------------------------------------------

def test_customer_managed_policy_lifecycle(berth, iam, name):
    p = name("p")
    document = doc("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
    pol = iam.create_policy(PolicyName=p, Path="/ecr/", PolicyDocument=document, Description="pull things")["Policy"]
    arn = f"arn:aws:iam::{berth.account_id}:policy/ecr/{p}"
    assert pol["Arn"] == arn and pol["DefaultVersionId"] == "v1" and pol["AttachmentCount"] == 0
    assert pol["PolicyId"].startswith("ANPA") and len(pol["PolicyId"]) == 21
    assert pol["IsAttachable"] is True
    msg = expect_error("EntityAlreadyExists", 409, iam.create_policy, PolicyName=p, PolicyDocument=document)
    assert msg == f"A policy called {p} already exists. Duplicate names are not allowed."

    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "pull things" and got["Path"] == "/ecr/"
    v1 = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == json.loads(document) and v1["IsDefaultVersion"] is True

    # versions: at most five
    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("ecr:ListImages"), SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"] is True
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    for i in range(3, 6):
        r = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("ecr:ListImages", "ecr:DescribeImages"))
        assert r["PolicyVersion"]["VersionId"] == f"v{i}" and r["PolicyVersion"]["IsDefaultVersion"] is False
    msg = expect_error("LimitExceeded", 409, iam.create_policy_version, PolicyArn=arn,
                       PolicyDocument=doc("ecr:ListImages"))
    assert msg.startswith("A managed policy can have up to 5 versions.")
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, False, True, False]
    assert all("Document" not in v for v in versions)

    assert expect_error("DeleteConflict", 409, iam.delete_policy_version, PolicyArn=arn, VersionId="v2") == \
        "Cannot delete the default version of a policy."
    expect_error("NoSuchEntity", 404, iam.get_policy_version, PolicyArn=arn, VersionId="v9")
    expect_error("NoSuchEntity", 404, iam.delete_policy_version, PolicyArn=arn, VersionId="v9")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"

    # attached: cannot be deleted; counted
    u = name("u")
    iam.create_user(UserName=u)
    iam.attach_user_policy(UserName=u, PolicyArn=arn)
    iam.attach_user_policy(UserName=u, PolicyArn=arn)  # again: no error
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn) == \
        "Cannot delete a policy attached to entities."
    iam.detach_user_policy(UserName=u, PolicyArn=arn)
    iam.delete_user(UserName=u)

    assert "more than one version" in expect_error("DeleteConflict", 409, iam.delete_policy, PolicyArn=arn)
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    # the next version number is never reused
    assert iam.create_policy_version(PolicyArn=arn, PolicyDocument=document)["PolicyVersion"]["VersionId"] == "v6"
    iam.delete_policy_version(PolicyArn=arn, VersionId="v6")
    iam.delete_policy(PolicyArn=arn)
    assert expect_error("NoSuchEntity", 404, iam.get_policy, PolicyArn=arn) == f"Policy {arn} was not found."
    expect_error("NoSuchEntity", 404, iam.delete_policy, PolicyArn=arn)


def test_policy_documents_are_validated(iam, name):
    p = name("p")
    msg = expect_error("MalformedPolicyDocument", 400, iam.create_policy, PolicyName=p, PolicyDocument="{not json")
    assert msg
    with_principal = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}]})
    assert expect_error("MalformedPolicyDocument", 400, iam.create_policy, PolicyName=p,
                        PolicyDocument=with_principal) == "Policy document should not specify a principal."
    big = doc(*[f"ecr:Action{i:05d}" for i in range(400)])
    assert "PolicySize" in expect_error("LimitExceeded", 409, iam.create_policy, PolicyName=p, PolicyDocument=big)

    iam.create_policy(PolicyName=p, PolicyDocument=doc("ecr:ListImages"))
    arn = iam.get_policy(PolicyArn=[x for x in iam.list_policies(Scope="Local")["Policies"]
                                    if x["PolicyName"] == p][0]["Arn"])["Policy"]["Arn"]
    expect_error("MalformedPolicyDocument", 400, iam.create_policy_version, PolicyArn=arn,
                 PolicyDocument=json.dumps({"Statement": [{"Effect": "Maybe", "Action": "ecr:*", "Resource": "*"}]}))
    iam.delete_policy(PolicyArn=arn)


def test_aws_managed_policies(berth, iam, name):
    listed = iam.list_policies(Scope="AWS")["Policies"]
    assert {x["Arn"] for x in listed} == BUILT_IN
    ro = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    assert ro["PolicyName"] == "AmazonEC2ContainerRegistryReadOnly" and ro["Path"] == "/"
    v = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=ro["DefaultVersionId"])["PolicyVersion"]
    assert "ecr:BatchGetImage" in json.dumps(v["Document"]) and v["IsDefaultVersion"] is True
    assert [x["VersionId"] for x in iam.list_policy_versions(PolicyArn=READ_ONLY)["Versions"]] == \
        [ro["DefaultVersionId"]]
    # they belong to AWS
    expect_error("AccessDenied", 403, iam.delete_policy, PolicyArn=READ_ONLY)
    expect_error("AccessDenied", 403, iam.create_policy_version, PolicyArn=READ_ONLY,
                 PolicyDocument=doc("ecr:*"))

    local = name("p")
    iam.create_policy(PolicyName=local, PolicyDocument=doc("ecr:ListImages"))
    all_names = [x["PolicyName"] for x in iam.list_policies()["Policies"]]
    assert local in all_names and "AmazonEC2ContainerRegistryPowerUser" in all_names
    assert all_names == sorted(all_names, key=str.lower)
    local_names = [x["PolicyName"] for x in iam.list_policies(Scope="Local")["Policies"]]
    assert local in local_names and "AmazonEC2ContainerRegistryPowerUser" not in local_names

    u = name("u")
    iam.create_user(UserName=u)
    before = {x["Arn"]: x["AttachmentCount"] for x in iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]}
    iam.attach_user_policy(UserName=u, PolicyArn=PULL_ONLY)
    after = {x["Arn"]: x["AttachmentCount"] for x in iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]}
    assert after[PULL_ONLY] == before.get(PULL_ONLY, 0) + 1
    iam.detach_user_policy(UserName=u, PolicyArn=PULL_ONLY)
    iam.delete_user(UserName=u)
    iam.delete_policy(PolicyArn=f"arn:aws:iam::{berth.account_id}:policy/{local}")


def test_attach_and_detach(berth, iam, name):
    u, g = name("u"), name("g")
    iam.create_user(UserName=u)
    iam.create_group(GroupName=g)
    iam.attach_user_policy(UserName=u, PolicyArn=READ_ONLY)
    iam.attach_group_policy(GroupName=g, PolicyArn=POWER_USER)
    assert iam.list_attached_user_policies(UserName=u)["AttachedPolicies"] == \
        [{"PolicyName": "AmazonEC2ContainerRegistryReadOnly", "PolicyArn": READ_ONLY}]
    assert iam.list_attached_group_policies(GroupName=g)["AttachedPolicies"] == \
        [{"PolicyName": "AmazonEC2ContainerRegistryPowerUser", "PolicyArn": POWER_USER}]

    missing = f"arn:aws:iam::{berth.account_id}:policy/{name('nope')}"
    assert expect_error("NoSuchEntity", 404, iam.attach_user_policy, UserName=u, PolicyArn=missing) == \
        f"Policy {missing} does not exist or is not attachable."
    expect_error("NoSuchEntity", 404, iam.attach_group_policy, GroupName=g, PolicyArn=AWS_POLICY + "NoSuchPolicy")
    assert expect_error("InvalidInput", 400, iam.attach_user_policy, UserName=u,
                        PolicyArn="not-an-arn-at-all-really") == "ARN not-an-arn-at-all-really is not valid."
    expect_error("NoSuchEntity", 404, iam.attach_user_policy, UserName=name("nobody"), PolicyArn=READ_ONLY)
    expect_error("NoSuchEntity", 404, iam.detach_user_policy, UserName=u, PolicyArn=FULL_ACCESS)
    expect_error("NoSuchEntity", 404, iam.list_attached_user_policies, UserName=name("nobody"))
    expect_error("NoSuchEntity", 404, iam.list_attached_group_policies, GroupName=name("nobody"))

    # ten managed policies per user
    arns = [READ_ONLY]
    for a in (POWER_USER, FULL_ACCESS, PULL_ONLY):
        iam.attach_user_policy(UserName=u, PolicyArn=a)
        arns.append(a)
    created = []
    for i in range(7):
        arn = iam.create_policy(PolicyName=name(f"p{i}"), PolicyDocument=doc("ecr:ListImages"))["Policy"]["Arn"]
        created.append(arn)
    for arn in created[:6]:
        iam.attach_user_policy(UserName=u, PolicyArn=arn)
    assert expect_error("LimitExceeded", 409, iam.attach_user_policy, UserName=u, PolicyArn=created[6]) == \
        "Cannot exceed quota for PoliciesPerUser: 10"
    iam.attach_user_policy(UserName=u, PolicyArn=created[0])  # already attached: fine at the limit
    attached = iam.list_attached_user_policies(UserName=u)["AttachedPolicies"]
    assert len(attached) == 10
    names = [x["PolicyName"] for x in attached]
    assert names == sorted(names, key=str.lower)
    assert len(iam.list_attached_user_policies(UserName=u, PathPrefix="/")["AttachedPolicies"]) == 10
    assert iam.list_attached_user_policies(UserName=u, PathPrefix="/other/")["AttachedPolicies"] == []

    for a in arns + created[:6]:
        iam.detach_user_policy(UserName=u, PolicyArn=a)
    iam.detach_group_policy(GroupName=g, PolicyArn=POWER_USER)
    expect_error("NoSuchEntity", 404, iam.detach_group_policy, GroupName=g, PolicyArn=POWER_USER)
    for arn in created:
        iam.delete_policy(PolicyArn=arn)
    iam.delete_user(UserName=u)
    iam.delete_group(GroupName=g)


# ---------------------------------------------------------------------------------------
# Inline policies
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["user", "group"])
def test_inline_policies(iam, name, kind):
    holder = name(kind[0])
    Kind = kind.capitalize()
    key = f"{Kind}Name"
    getattr(iam, f"create_{kind}")(**{key: holder})
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    delete = getattr(iam, f"delete_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")

    d1 = doc("ecr:BatchGetImage", resource="arn:aws:ecr:us-east-1:123456789012:repository/a&b")
    put(**{key: holder}, PolicyName="pull", PolicyDocument=d1)
    put(**{key: holder}, PolicyName="list", PolicyDocument=doc("ecr:ListImages"))
    got = get(**{key: holder}, PolicyName="pull")
    assert got[key] == holder and got["PolicyName"] == "pull" and got["PolicyDocument"] == json.loads(d1)
    assert lst(**{key: holder})["PolicyNames"] == ["list", "pull"]
    # replacing keeps one policy of that name
    put(**{key: holder}, PolicyName="pull", PolicyDocument=doc("ecr:BatchGetImage"))
    assert get(**{key: holder}, PolicyName="pull")["PolicyDocument"]["Statement"][0]["Resource"] == "*"
    assert len(lst(**{key: holder})["PolicyNames"]) == 2

    assert expect_error("NoSuchEntity", 404, get, **{key: holder}, PolicyName="nope") == \
        f"The {kind} policy with name nope cannot be found."
    expect_error("NoSuchEntity", 404, delete, **{key: holder}, PolicyName="nope")
    expect_error("NoSuchEntity", 404, put, **{key: name("nobody")}, PolicyName="x", PolicyDocument=doc("ecr:*"))
    expect_error("MalformedPolicyDocument", 400, put, **{key: holder}, PolicyName="bad", PolicyDocument="[]")
    limit = 2048 if kind == "user" else 5120
    big = doc(*[f"ecr:A{i:04d}" for i in range(limit // 12)])
    msg = expect_error("LimitExceeded", 409, put, **{key: holder}, PolicyName="big", PolicyDocument=big)
    assert str(limit) in msg

    delete(**{key: holder}, PolicyName="pull")
    delete(**{key: holder}, PolicyName="list")
    assert lst(**{key: holder})["PolicyNames"] == []
    getattr(iam, f"delete_{kind}")(**{key: holder})


def test_inline_policy_total_size_per_user(iam, name):
    u = name("u")
    iam.create_user(UserName=u)
    # each about 1,200 characters without whitespace: one fits, two exceed 2,048
    d = doc(*[f"ecr:Act{i:03d}" for i in range(85)])
    iam.put_user_policy(UserName=u, PolicyName="one", PolicyDocument=d)
    assert expect_error("LimitExceeded", 409, iam.put_user_policy, UserName=u, PolicyName="two", PolicyDocument=d) \
        == f"Maximum policy size of 2048 bytes exceeded for user {u}"
    iam.put_user_policy(UserName=u, PolicyName="one", PolicyDocument=d)  # replacing is measured without the old one
    iam.delete_user_policy(UserName=u, PolicyName="one")
    iam.delete_user(UserName=u)


# ---------------------------------------------------------------------------------------
# Pagination
# ---------------------------------------------------------------------------------------

def pages(iam, op, key, **kwargs):
    out, n = [], 0
    for page in iam.get_paginator(op).paginate(**kwargs):
        n += 1
        out.extend(page[key])
    return out, n


def test_pagination(berth, iam, name):
    path = f"/pg-{token(3)}/"
    users = sorted((name(f"u{i}") for i in range(7)), key=str.lower)
    for u in users:
        iam.create_user(UserName=u, Path=path)
    got, n = pages(iam, "list_users", "Users", PathPrefix=path, PaginationConfig={"PageSize": 2})
    assert [x["UserName"] for x in got] == users and n == 4

    first = iam.list_users(PathPrefix=path, MaxItems=3)
    assert first["IsTruncated"] is True and len(first["Users"]) == 3
    rest = iam.list_users(PathPrefix=path, MaxItems=100, Marker=first["Marker"])
    assert rest["IsTruncated"] is False and "Marker" not in rest
    assert [x["UserName"] for x in first["Users"] + rest["Users"]] == users
    expect_error("ValidationError", 400, iam.list_users, MaxItems=1001)
    expect_error("InvalidInput", 400, iam.list_users, Marker="not-a-marker")

    g = name("g")
    iam.create_group(GroupName=g, Path=path)
    for u in users:
        iam.add_user_to_group(GroupName=g, UserName=u)
    got, n = pages(iam, "get_group", "Users", GroupName=g, PaginationConfig={"PageSize": 3})
    assert [x["UserName"] for x in got] == users and n == 3

    groups = sorted([g] + [name(f"g{i}") for i in range(4)], key=str.lower)
    for x in groups[:]:
        if x != g:
            iam.create_group(GroupName=x, Path=path)
            iam.add_user_to_group(GroupName=x, UserName=users[0])
    got, n = pages(iam, "list_groups", "Groups", PathPrefix=path, PaginationConfig={"PageSize": 2})
    assert [x["GroupName"] for x in got] == groups and n == 3
    got, n = pages(iam, "list_groups_for_user", "Groups", UserName=users[0], PaginationConfig={"PageSize": 2})
    assert [x["GroupName"] for x in got] == groups and n == 3

    for i in range(5):
        iam.put_user_policy(UserName=users[0], PolicyName=f"p{i}", PolicyDocument=doc("ecr:ListImages"))
    got, n = pages(iam, "list_user_policies", "PolicyNames", UserName=users[0], PaginationConfig={"PageSize": 2})
    assert got == [f"p{i}" for i in range(5)] and n == 3

    pols = []
    for i in range(5):
        pols.append(iam.create_policy(PolicyName=name(f"p{i}"), Path=path,
                                      PolicyDocument=doc("ecr:ListImages"))["Policy"])
    got, n = pages(iam, "list_policies", "Policies", Scope="Local", PathPrefix=path,
                   PaginationConfig={"PageSize": 2})
    assert [x["Arn"] for x in got] == [p["Arn"] for p in sorted(pols, key=lambda p: p["PolicyName"].lower())]
    assert n == 3
    # All: the account's policies and AWS's, each exactly once
    got, n = pages(iam, "list_policies", "Policies", PaginationConfig={"PageSize": 3})
    arns = [x["Arn"] for x in got]
    assert len(arns) == len(set(arns)) and BUILT_IN <= set(arns) and {p["Arn"] for p in pols} <= set(arns)

    arn = pols[0]["Arn"]
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc("ecr:DescribeImages"))
    got, n = pages(iam, "list_policy_versions", "Versions", PolicyArn=arn, PaginationConfig={"PageSize": 3})
    assert [x["VersionId"] for x in got] == ["v4", "v3", "v2", "v1"] and n == 2

    for a in (READ_ONLY, POWER_USER, pols[1]["Arn"]):
        iam.attach_user_policy(UserName=users[0], PolicyArn=a)
    got, n = pages(iam, "list_attached_user_policies", "AttachedPolicies", UserName=users[0],
                   PaginationConfig={"PageSize": 2})
    assert sorted(x["PolicyArn"] for x in got) == sorted([READ_ONLY, POWER_USER, pols[1]["Arn"]]) and n == 2

    k = [iam.create_access_key(UserName=users[0])["AccessKey"]["AccessKeyId"] for _ in range(2)]
    got, n = pages(iam, "list_access_keys", "AccessKeyMetadata", UserName=users[0], PaginationConfig={"PageSize": 1})
    assert sorted(x["AccessKeyId"] for x in got) == sorted(k) and n == 2

    # clean up
    for key in k:
        iam.delete_access_key(UserName=users[0], AccessKeyId=key)
    for a in (READ_ONLY, POWER_USER, pols[1]["Arn"]):
        iam.detach_user_policy(UserName=users[0], PolicyArn=a)
    for v in ("v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    for p in pols:
        iam.delete_policy(PolicyArn=p["Arn"])
    for i in range(5):
        iam.delete_user_policy(UserName=users[0], PolicyName=f"p{i}")
    for x in groups:
        for u in users:
            try:
                iam.remove_user_from_group(GroupName=x, UserName=u)
            except ClientError:
                pass
        iam.delete_group(GroupName=x)
    for u in users:
        iam.delete_user(UserName=u)


# ---------------------------------------------------------------------------------------
# STS, authorization, the protocol itself
# ---------------------------------------------------------------------------------------

def test_sts_get_caller_identity(berth, sts, iam, name):
    me = sts.get_caller_identity()
    assert me["Account"] == berth.account_id and me["Arn"] == f"arn:aws:iam::{berth.account_id}:root"
    assert me["UserId"] == berth.account_id
    out = aws_cli(berth, "sts", "get-caller-identity")
    assert out["Arn"] == me["Arn"]

    u = name("u")
    akid, secret = new_user_with_key(iam, u, path="/ops/")
    user = iam.get_user(UserName=u)["User"]
    them = client(berth, "sts", akid, secret).get_caller_identity()
    assert them == {**them, "Account": berth.account_id, "Arn": user["Arn"], "UserId": user["UserId"]}
    assert them["Arn"] == f"arn:aws:iam::{berth.account_id}:user/ops/{u}"
    out = aws_cli(berth, "sts", "get-caller-identity", key=akid, secret=secret)
    assert out["UserId"] == user["UserId"]
    iam.delete_access_key(UserName=u, AccessKeyId=akid)
    iam.delete_user(UserName=u)


@pytest.mark.parametrize("region", ["us-east-2", "ca-central-1", "eu-central-1"])
def test_iam_and_sts_are_global(berth, iam, name, region):
    """A client configured for any region signs IAM and STS with that region's scope; AWS's
    IAM and STS are global, so berth takes them whatever its own region (the seeds do this)."""
    assert region != berth.region
    u = name("u")
    client(berth, "iam", region=region).create_user(UserName=u)
    assert u in [x["UserName"] for x in client(berth, "iam", region=region).list_users()["Users"]]
    me = client(berth, "sts", region=region).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{berth.account_id}:root"
    got = aws_cli(berth, "iam", "get-user", "--user-name", u, region=region)
    assert got["User"]["UserName"] == u
    assert aws_cli(berth, "sts", "get-caller-identity", region=region)["Account"] == berth.account_id
    # the signature is still checked against the region it names
    bad = client(berth, "iam", berth.access_key, "wrong-secret-wrong-secret-wrong-secret-xx", region=region)
    with pytest.raises(ClientError) as ei:
        bad.get_user(UserName=u)
    assert error_of(ei)[:3:2] == ("SignatureDoesNotMatch", 403)
    # ECR stays regional: its refusal names the server's region
    p = aws_cli(berth, "ecr", "describe-repositories", region=region, check=False)
    assert p.returncode != 0
    assert "(InvalidSignatureException)" in p.stderr, p.stderr
    assert f"not '{region}'. This server is region '{berth.region}'." in p.stderr, p.stderr
    iam.delete_user(UserName=u)


def test_iam_users_are_denied_iam_actions(berth, iam, name):
    u = name("u")
    akid, secret = new_user_with_key(iam, u)
    arn = f"arn:aws:iam::{berth.account_id}:user/{u}"
    as_user = client(berth, "iam", akid, secret)
    target = name("t")
    msg = expect_error("AccessDenied", 403, as_user.create_user, UserName=target)
    assert msg == (f"User: {arn} is not authorized to perform: iam:CreateUser on resource: "
                   f"arn:aws:iam::{berth.account_id}:user/{target} because no identity-based policy allows the "
                   f"iam:CreateUser action")
    msg = expect_error("AccessDenied", 403, as_user.list_users)
    assert "iam:ListUsers" in msg
    expect_error("AccessDenied", 403, as_user.get_user)
    expect_error("AccessDenied", 403, as_user.create_access_key)
    with pytest.raises(ClientError):
        iam.get_user(UserName=target)
    iam.delete_access_key(UserName=u, AccessKeyId=akid)
    iam.delete_user(UserName=u)


def test_signature_failures_use_query_error_names(berth):
    bad = client(berth, "iam", berth.access_key, "wrong-secret-wrong-secret-wrong-secret-xx")
    with pytest.raises(ClientError) as ei:
        bad.list_users()
    assert error_of(ei)[0] == "SignatureDoesNotMatch" and error_of(ei)[2] == 403
    unknown = client(berth, "iam", "AKIAUNKNOWNUNKNOWN00", "x" * 40)
    with pytest.raises(ClientError) as ei:
        unknown.list_users()
    assert error_of(ei)[0] == "InvalidClientTokenId" and error_of(ei)[2] == 403

    r = requests.post(berth.url + "/", data="Action=ListUsers&Version=2010-05-08",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert r.status_code in (400, 403)
    root = ET.fromstring(r.text)
    assert root.tag == IAM_NS + "ErrorResponse"
    assert root.find(f"{IAM_NS}Error/{IAM_NS}Type").text == "Sender"
    assert root.find(f"{IAM_NS}Error/{IAM_NS}Code").text.startswith("Missing")
    assert root.find(f"{IAM_NS}RequestId").text


def test_raw_query_protocol(berth, iam, name):
    r = signed_post(berth, "Action=ListUsers&Version=2010-05-08&MaxItems=1")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(r.text)
    assert root.tag == IAM_NS + "ListUsersResponse"
    assert root.find(f"{IAM_NS}ListUsersResult/{IAM_NS}IsTruncated") is not None
    assert root.find(f"{IAM_NS}ResponseMetadata/{IAM_NS}RequestId").text == r.headers["x-amzn-RequestId"]

    r = signed_post(berth, "Action=NoSuchThing&Version=2010-05-08")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed_post(berth, "Action=ListUsers&Version=2009-01-01")
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = signed_post(berth, "Version=2010-05-08")
    assert r.status_code == 400 and "<Code>MissingAction</Code>" in r.text
    r = signed_post(berth, "Action=CreateUser&Version=2010-05-08")
    assert r.status_code == 400 and "<Code>ValidationError</Code>" in r.text
    assert "Value null at &apos;userName&apos;" in r.text or "Value null at 'userName'" in ET.fromstring(r.text).find(
        f"{IAM_NS}Error/{IAM_NS}Message").text

    r = signed_post(berth, "Action=GetCallerIdentity&Version=2011-06-15", service="sts")
    root = ET.fromstring(r.text)
    assert root.tag == STS_NS + "GetCallerIdentityResponse"
    assert root.find(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account").text == berth.account_id

    # a path with XML's special characters survives the round trip
    u = name("u")
    path = "/a&b<c>'\"d/"
    body = "Action=CreateUser&Version=2010-05-08&UserName=" + u + "&Path=" + urllib.parse.quote(path, safe="")
    r = signed_post(berth, body)
    assert r.status_code == 200, r.text
    user = ET.fromstring(r.text).find(f"{IAM_NS}CreateUserResult/{IAM_NS}User")
    assert user.find(f"{IAM_NS}Path").text == path
    assert iam.get_user(UserName=u)["User"]["Arn"].endswith(f":user{path}{u}")
    iam.delete_user(UserName=u)

    # policy documents come back URL-encoded, as IAM sends them
    p = name("p")
    d = doc("ecr:ListImages")
    arn = iam.create_policy(PolicyName=p, PolicyDocument=d)["Policy"]["Arn"]
    r = signed_post(berth, "Action=GetPolicyVersion&Version=2010-05-08&VersionId=v1&PolicyArn=" +
                    urllib.parse.quote(arn, safe=""))
    text = ET.fromstring(r.text).find(f"{IAM_NS}GetPolicyVersionResult/{IAM_NS}PolicyVersion/{IAM_NS}Document").text
    assert text.startswith("%7B") and urllib.parse.unquote(text) == d
    iam.delete_policy(PolicyArn=arn)

    big = "Action=ListUsers&Version=2010-05-08&Pad=" + "x" * (1 << 20)
    r = requests.post(berth.url + "/", data=big, headers={"Content-Type": "application/x-www-form-urlencoded"},
                      timeout=30)
    assert r.status_code == 413


def test_ecr_requests_still_go_to_ecr(berth):
    ecr = client(berth, "ecr")
    assert ecr.get_authorization_token()["authorizationData"]


# ---------------------------------------------------------------------------------------
# The seed walkthrough
# ---------------------------------------------------------------------------------------

def test_seed_walkthrough(berth, iam, name, tmp_path):
    """§8 of the ECR seed with the aws CLI: a developers group with a customer policy, a read-only
    user, and ecr-write / ecr-read groups carrying the AWS-managed ECR policies."""
    amar = name("amar")
    devs = name("randserver-developers")
    aws_cli(berth, "iam", "create-user", "--user-name", amar)
    aws_cli(berth, "iam", "attach-user-policy", "--policy-arn", READ_ONLY, "--user-name", amar)
    g = aws_cli(berth, "iam", "create-group", "--group-name", devs)["Group"]
    assert g["Path"] == "/" and g["GroupName"] == devs and g["GroupId"].startswith("AGPA")
    assert g["Arn"] == f"arn:aws:iam::{berth.account_id}:group/{devs}"
    aws_cli(berth, "iam", "add-user-to-group", "--group-name", devs, "--user-name", amar)

    policy_name = name("EcrPushPullRandserverDevelopers")
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer",
                   "ecr:GetRepositoryPolicy", "ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages",
                   "ecr:BatchGetImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
                   "ecr:CompleteLayerUpload", "ecr:PutImage"],
        "Resource": f"arn:aws:ecr:{berth.region}:{berth.account_id}:repository/randserver"}]}, indent=3))
    pol = aws_cli(berth, "iam", "create-policy", "--policy-name", policy_name,
                  "--policy-document", f"file://{policy_file}")["Policy"]
    arn = f"arn:aws:iam::{berth.account_id}:policy/{policy_name}"
    assert pol["Arn"] == arn
    aws_cli(berth, "iam", "attach-group-policy", "--group-name", devs, "--policy-arn", arn)
    assert [x["PolicyArn"] for x in iam.list_attached_group_policies(GroupName=devs)["AttachedPolicies"]] == [arn]
    assert [x["GroupName"] for x in aws_cli(berth, "iam", "list-groups-for-user", "--user-name", amar)["Groups"]] \
        == [devs]

    # ecr-write / ecr-read, a user in each, with keys
    write, read = name("ecr-write"), name("ecr-read")
    aws_cli(berth, "iam", "create-group", "--group-name", write)
    aws_cli(berth, "iam", "create-group", "--group-name", read)
    aws_cli(berth, "iam", "attach-group-policy", "--group-name", write, "--policy-arn", POWER_USER)
    aws_cli(berth, "iam", "attach-group-policy", "--group-name", read, "--policy-arn", READ_ONLY)
    writer, reader = name("ci"), name("dev")
    keys = {}
    for user, group in ((writer, write), (reader, read)):
        aws_cli(berth, "iam", "create-user", "--user-name", user)
        aws_cli(berth, "iam", "add-user-to-group", "--group-name", group, "--user-name", user)
        k = aws_cli(berth, "iam", "create-access-key", "--user-name", user)["AccessKey"]
        keys[user] = (k["AccessKeyId"], k["SecretAccessKey"])
    listed = aws_cli(berth, "iam", "list-attached-group-policies", "--group-name", read)["AttachedPolicies"]
    assert listed == [{"PolicyName": "AmazonEC2ContainerRegistryReadOnly", "PolicyArn": READ_ONLY}]
    attached = {x["PolicyName"] for x in aws_cli(berth, "iam", "list-policies", "--scope", "AWS",
                                                   "--only-attached")["Policies"]}
    assert {"AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPowerUser"} <= attached

    # the groups' policies are the users' identity policies: both may log in to the registry,
    # the reader may not push
    for user in (writer, reader):
        who = aws_cli(berth, "sts", "get-caller-identity", key=keys[user][0], secret=keys[user][1])
        assert who["Arn"] == f"arn:aws:iam::{berth.account_id}:user/{user}"
        ecr = client(berth, "ecr", *keys[user])
        assert ecr.get_authorization_token()["authorizationData"]
    with pytest.raises(ClientError) as ei:
        client(berth, "ecr", *keys[reader]).put_image(repositoryName="randserver", imageManifest="{}",
                                                      imageTag="x")
    assert error_of(ei)[0] == "AccessDeniedException"
    # and without any policy, nothing
    lone = name("lone")
    akid, secret = new_user_with_key(iam, lone)
    with pytest.raises(ClientError) as ei:
        client(berth, "ecr", akid, secret).get_authorization_token()
    assert error_of(ei)[0] == "AccessDeniedException"

    # undo it all, in the order IAM requires
    for user, group in ((writer, write), (reader, read)):
        iam.delete_access_key(UserName=user, AccessKeyId=keys[user][0])
        iam.remove_user_from_group(GroupName=group, UserName=user)
        iam.delete_user(UserName=user)
    iam.detach_group_policy(GroupName=write, PolicyArn=POWER_USER)
    iam.detach_group_policy(GroupName=read, PolicyArn=READ_ONLY)
    iam.delete_group(GroupName=write)
    iam.delete_group(GroupName=read)
    iam.delete_access_key(UserName=lone, AccessKeyId=akid)
    iam.delete_user(UserName=lone)
    iam.detach_group_policy(GroupName=devs, PolicyArn=arn)
    iam.remove_user_from_group(GroupName=devs, UserName=amar)
    iam.detach_user_policy(UserName=amar, PolicyArn=READ_ONLY)
    aws_cli(berth, "iam", "delete-group", "--group-name", devs)
    aws_cli(berth, "iam", "delete-user", "--user-name", amar)
    aws_cli(berth, "iam", "delete-policy", "--policy-arn", arn)
