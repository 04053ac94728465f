"""Identity and access end to end: IAM users, groups, keys and policies decide what /v2 and the
ECR API allow, through the one policy evaluator (issue: identity and access).

Follows the seed walkthroughs (shared/seeds/000 §5.2 and §8): groups ecr-write (PowerUser) and
ecr-read (ReadOnly), users with keys; the writer pushes, the reader pulls and is denied a push
with AWS's message; a customer-managed policy scoped to one repository ARN attached to a group;
a repository policy lets named users of another account pull; a policy restricts by source IP.
"""

import json
import re
import subprocess

import boto3
import botocore
import pytest
import requests

import images
from conftest import create_repository, registry_credentials, run
from regclient import Registry, describe

POWER_USER = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
OTHER_ACCOUNT = "210987654321"


def client(server, service, key, secret, region=None):
    return boto3.client(service, endpoint_url=server.url, region_name=region or server.region,
                        aws_access_key_id=key, aws_secret_access_key=secret)


def root_client(server, service):
    return client(server, service, server.access_key, server.secret)


def new_user(iam, name, groups=(), policies=()):
    iam.create_user(UserName=name)
    for g in groups:
        iam.add_user_to_group(GroupName=g, UserName=name)
    for p in policies:
        iam.attach_user_policy(UserName=name, PolicyArn=p)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


def repo_arn(server, account, name):
    return f"arn:aws:ecr:{server.region}:{account}:repository/{name}"


def denied_message(user_arn, action, resource, why="because no identity-based policy allows the {action} action"):
    return (f"User: {user_arn} is not authorized to perform: {action} on resource: {resource} "
            + why.format(action=action))


@pytest.fixture(scope="module")
def acl(berth):
    """Groups ecr-write and ecr-read with AWS's managed policies, a writer and a reader."""
    iam = root_client(berth, "iam")
    suffix = images.token(4)
    write_group, read_group = f"ecr-write-{suffix}", f"ecr-read-{suffix}"
    iam.create_group(GroupName=write_group)
    iam.attach_group_policy(GroupName=write_group, PolicyArn=POWER_USER)
    iam.create_group(GroupName=read_group)
    iam.attach_group_policy(GroupName=read_group, PolicyArn=READ_ONLY)
    writer = new_user(iam, f"writer-{suffix}", groups=[write_group])
    reader = new_user(iam, f"reader-{suffix}", groups=[read_group])
    repo = create_repository(f"acl-{suffix}/app", berth)
    return {"iam": iam, "writer": writer, "reader": reader, "repo": repo, "suffix": suffix,
            "writer_arn": f"arn:aws:iam::{berth.account_id}:user/writer-{suffix}",
            "reader_arn": f"arn:aws:iam::{berth.account_id}:user/reader-{suffix}"}


def registry_as(server, key):
    return Registry(server, auth=registry_credentials(server, *key))


def test_writer_pushes_reader_pulls_with_skopeo(berth, acl, ctools, tmp_path):
    img = images.make_image(label="acl-skopeo")
    layout = images.write_oci_layout(tmp_path / "oci", {"v1": img})
    ctools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ctools.creds(*acl["writer"]),
                  f"oci:{layout}:v1", f"docker://{berth.host}/{acl['repo']}:v1")
    out = ctools.skopeo("inspect", "--raw", "--tls-verify=false", "--creds", ctools.creds(*acl["reader"]),
                        f"docker://{berth.host}/{acl['repo']}:v1")
    assert out.stdout.encode().strip() == img.manifest.strip()
    # the reader's push fails in skopeo ...
    p = ctools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ctools.creds(*acl["reader"]),
                      f"oci:{layout}:v1", f"docker://{berth.host}/{acl['repo']}:stolen", check=False)
    assert p.returncode != 0
    assert "denied" in (p.stderr + p.stdout).lower()


def test_reader_push_is_denied_with_aws_message_on_both_surfaces(berth, acl):
    arn = repo_arn(berth, berth.account_id, acl["repo"])
    reg = registry_as(berth, acl["reader"])
    r = reg.post(f"/v2/{acl['repo']}/blobs/uploads/")
    assert r.status_code == 403, describe(r)
    err = r.json()["errors"][0]
    assert err["code"] == "DENIED"
    assert err["message"] == denied_message(acl["reader_arn"], "ecr:InitiateLayerUpload", arn)

    ecr = client(berth, "ecr", *acl["reader"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.put_image(repositoryName=acl["repo"], imageManifest=images.make_image().manifest.decode(), imageTag="x")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["Error"]["Message"] == denied_message(acl["reader_arn"], "ecr:PutImage", arn)
    # and what ReadOnly grants works
    assert ecr.describe_repositories(repositoryNames=[acl["repo"]])["repositories"][0]["repositoryName"] == acl["repo"]


def test_writer_can_push_and_delete_but_not_create_policy(berth, acl):
    img = images.make_image(label="acl-writer")
    reg = registry_as(berth, acl["writer"])
    digest = reg.push_image(acl["repo"], img, tag="w1")
    ecr = client(berth, "ecr", *acl["writer"])
    got = ecr.batch_get_image(repositoryName=acl["repo"], imageIds=[{"imageTag": "w1"}])["images"]
    assert got[0]["imageId"]["imageDigest"] == digest
    # PowerUser has no iam:* and no ecr:SetRepositoryPolicy
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.set_repository_policy(repositoryName=acl["repo"], policyText=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]}))
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    iam = client(berth, "iam", *acl["writer"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName="sneaky")
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_customer_policy_scoped_to_one_repository(berth, acl):
    """Seed 000 §8: EcrPushPull<app>Developers on one repository ARN, attached to a group."""
    iam, s = acl["iam"], acl["suffix"]
    allowed = create_repository(f"acl-{s}/randserver", berth)
    other = create_repository(f"acl-{s}/other", berth)
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Effect": "Allow", "Action": [
            "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:GetRepositoryPolicy",
            "ecr:DescribeRepositories", "ecr:ListImages", "ecr:DescribeImages", "ecr:BatchGetImage",
            "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
         "Resource": repo_arn(berth, berth.account_id, allowed)}]}
    pol = iam.create_policy(PolicyName=f"EcrPushPullRandserverDevelopers-{s}", PolicyDocument=json.dumps(doc))
    group = f"randserver-developers-{s}"
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=pol["Policy"]["Arn"])
    key = new_user(iam, f"amar-{s}", groups=[group])

    reg = registry_as(berth, key)
    reg.push_image(allowed, images.make_image(label="amar"), tag="0.0.1")
    assert reg.get_manifest(allowed, "0.0.1").status_code == 200
    r = reg.post(f"/v2/{other}/blobs/uploads/")
    assert r.status_code == 403, describe(r)
    assert r.json()["errors"][0]["message"] == denied_message(
        f"arn:aws:iam::{berth.account_id}:user/amar-{s}", "ecr:InitiateLayerUpload",
        repo_arn(berth, berth.account_id, other))


def test_user_attached_managed_policy_seed(berth, acl):
    """`aws iam attach-user-policy --policy-arn ...ReadOnly --user-name amar` (seed 000 §8)."""
    iam, s = acl["iam"], acl["suffix"]
    key = new_user(iam, f"solo-{s}")
    ecr = client(berth, "ecr", *key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.get_authorization_token()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    env = {"AWS_ACCESS_KEY_ID": berth.access_key, "AWS_SECRET_ACCESS_KEY": berth.secret,
           "AWS_DEFAULT_REGION": berth.region, "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "PATH": __import__("os").environ["PATH"]}
    run(["aws", "iam", "attach-user-policy", "--endpoint-url", berth.url, "--policy-arn", READ_ONLY,
         "--user-name", f"solo-{s}"], env=env)
    assert ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]


def test_explicit_deny_in_identity_policy_wins(berth, acl):
    iam, s = acl["iam"], acl["suffix"]
    key = new_user(iam, f"denied-{s}", policies=[POWER_USER])
    iam.put_user_policy(UserName=f"denied-{s}", PolicyName="no-delete", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "NoDelete", "Effect": "Deny", "Action": "ecr:BatchDeleteImage", "Resource": "*"}]}))
    ecr = client(berth, "ecr", *key)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.batch_delete_image(repositoryName=acl["repo"], imageIds=[{"imageTag": "nope"}])
    msg = e.value.response["Error"]["Message"]
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert msg.endswith("with an explicit deny in an identity-based policy"), msg


def test_source_ip_condition_in_repository_policy(berth, acl):
    """Seed 000 §5.2 'Restricting Access to Specific IP Addresses': a Deny unless the caller's
    address is in a range. Tests run from 127.0.0.1."""
    iam, s = acl["iam"], acl["suffix"]
    repo = create_repository(f"acl-{s}/ip-limited", berth)
    root_ecr = root_client(berth, "ecr")
    key = new_user(iam, f"ipuser-{s}", policies=[READ_ONLY])
    reg = registry_as(berth, key)
    Registry(berth).push_image(repo, images.make_image(label="ip"), tag="v1")

    def policy(cidr):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyOutsideRange", "Effect": "Deny", "Principal": "*", "Action": "ecr:*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": [cidr]}}}]})

    root_ecr.set_repository_policy(repositoryName=repo, policyText=policy("127.0.0.0/8"), force=True)
    assert reg.get_manifest(repo, "v1").status_code == 200
    root_ecr.set_repository_policy(repositoryName=repo, policyText=policy("192.0.2.0/24"), force=True)
    r = reg.get_manifest(repo, "v1")
    assert r.status_code == 403, describe(r)
    assert r.json()["errors"][0]["message"].endswith("with an explicit deny in a resource-based policy")
    # an explicit deny in a resource policy stops even the account root
    r = Registry(berth).get_manifest(repo, "v1")
    assert r.status_code == 403, describe(r)
    root_ecr.delete_repository_policy(repositoryName=repo)
    assert reg.get_manifest(repo, "v1").status_code == 200


def test_root_keeps_its_repository_policies_whatever_they_say(berth, acl):
    """The account root's escape hatch (docs/compatibility.md) is the evaluator's: under a
    deny-everything repository policy the root may still get, set and delete that policy, and
    nothing else. The simulator and SetRepositoryPolicy's lock-out check therefore agree with
    what the call does: the root cannot lock itself out, so setting such a policy needs no force."""
    root_ecr = root_client(berth, "ecr")
    repo = create_repository(f"acl-{acl['suffix']}/escape-hatch", berth)
    arn = repo_arn(berth, berth.account_id, repo)
    deny_all = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyEveryone", "Effect": "Deny", "Principal": "*", "Action": "ecr:*"}]})
    root_ecr.set_repository_policy(repositoryName=repo, policyText=deny_all)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_ecr.describe_images(repositoryName=repo)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    out = acl["iam"].simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{berth.account_id}:root",
        ActionNames=["ecr:SetRepositoryPolicy", "ecr:GetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
                     "ecr:DescribeImages"], ResourceArns=[arn])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"ecr:SetRepositoryPolicy": "allowed", "ecr:GetRepositoryPolicy": "allowed",
                         "ecr:DeleteRepositoryPolicy": "allowed", "ecr:DescribeImages": "explicitDeny"}
    assert json.loads(root_ecr.get_repository_policy(repositoryName=repo)["policyText"]) == json.loads(deny_all)
    root_ecr.delete_repository_policy(repositoryName=repo)
    assert root_ecr.describe_images(repositoryName=repo)["imageDetails"] == []


def test_repository_policy_admin_and_errors(berth, acl):
    """Get/Set/Delete repository policy, the not-found error, an invalid document."""
    root_ecr = root_client(berth, "ecr")
    repo = create_repository(f"acl-{acl['suffix']}/policy-crud", berth)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_ecr.get_repository_policy(repositoryName=repo)
    assert e.value.response["Error"]["Code"] == "RepositoryPolicyNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_ecr.set_repository_policy(repositoryName=repo, policyText='{"Version":"2012-10-17","Statement":[]}')
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "Invalid repository policy provided" in e.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_ecr.set_repository_policy(repositoryName=repo, policyText=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}))  # no Principal
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowAll", "Effect": "Allow", "Principal": {"AWS": acl["writer_arn"]}, "Action": "ecr:*"}]})
    out = root_ecr.set_repository_policy(repositoryName=repo, policyText=doc)
    assert json.loads(out["policyText"]) == json.loads(doc)
    assert json.loads(root_ecr.get_repository_policy(repositoryName=repo)["policyText"]) == json.loads(doc)
    root_ecr.delete_repository_policy(repositoryName=repo)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_ecr.delete_repository_policy(repositoryName=repo)
    assert e.value.response["Error"]["Code"] == "RepositoryPolicyNotFoundException"


@pytest.fixture(scope="module")
def two_accounts(berth_factory):
    """A server with a registry domain (so /v2 can address another account's registry by host)
    and a second account made with `berth admin create-account`."""
    srv = berth_factory(extra_args=["--domain", "berth.test"])
    out = run([str(srv.binary), "admin", "create-account", "--account-id", OTHER_ACCOUNT,
               "--data", str(srv.data_dir)]).stdout
    akid = re.search(r"aws_access_key_id = (\S+)", out).group(1)
    secret = re.search(r"aws_secret_access_key = (\S+)", out).group(1)
    return srv, (akid, secret)


def test_cross_account_pull_needs_the_repository_policy(two_accounts):
    """Seed 000 §5.2 'Allow other account': named users of another account may pull; others not."""
    srv, other_root = two_accounts
    a = srv.account_id
    repo = create_repository("shared/base", srv)
    digest = Registry(srv).push_image(repo, images.make_image(label="xacct"), tag="v1")

    # account B: pull-user-1 and pull-user-2, both with ReadOnly in their own account
    iam_b = client(srv, "iam", *other_root)
    u1 = new_user(iam_b, "pull-user-1", policies=[READ_ONLY])
    u2 = new_user(iam_b, "pull-user-2", policies=[READ_ONLY])
    u3 = new_user(iam_b, "pull-user-3", policies=[READ_ONLY])
    ecr1 = client(srv, "ecr", *u1)
    arn = repo_arn(srv, a, repo)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr1.batch_get_image(registryId=a, repositoryName=repo, imageIds=[{"imageTag": "v1"}])
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["Error"]["Message"] == denied_message(
        f"arn:aws:iam::{OTHER_ACCOUNT}:user/pull-user-1", "ecr:BatchGetImage", arn,
        why="because no resource-based policy allows the {action} action")

    policy = {"Version": "2008-10-17", "Statement": [
        {"Sid": "AllowPull", "Effect": "Allow",
         "Principal": {"AWS": [f"arn:aws:iam::{OTHER_ACCOUNT}:user/pull-user-1",
                               f"arn:aws:iam::{OTHER_ACCOUNT}:user/pull-user-2"]},
         "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability"]},
        {"Sid": "AllowAll", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a}:user/admin-user"},
         "Action": ["ecr:*"]}]}
    root_client(srv, "ecr").set_repository_policy(repositoryName=repo, policyText=json.dumps(policy))

    got = ecr1.batch_get_image(registryId=a, repositoryName=repo, imageIds=[{"imageTag": "v1"}])["images"]
    assert got[0]["imageId"]["imageDigest"] == digest
    # /v2 on account A's registry host, logged in as B's pull-user-2
    host = f"{a}.dkr.ecr.{srv.region}.berth.test"
    user, password = registry_credentials(srv, *u2)
    r = requests.get(f"{srv.url}/v2/{repo}/manifests/v1", headers={"Host": host, "Accept": images.ACCEPT_ALL},
                     auth=(user, password), timeout=30)
    assert r.status_code == 200, describe(r)
    assert r.headers["Docker-Content-Digest"] == digest
    # pushing is still not allowed: the policy grants only pulls
    r = requests.post(f"{srv.url}/v2/{repo}/blobs/uploads/", headers={"Host": host}, auth=(user, password), timeout=30)
    assert r.status_code == 403, describe(r)
    # a user the policy does not name is denied
    user3, password3 = registry_credentials(srv, *u3)
    r = requests.get(f"{srv.url}/v2/{repo}/manifests/v1", headers={"Host": host, "Accept": images.ACCEPT_ALL},
                     auth=(user3, password3), timeout=30)
    assert r.status_code == 403, describe(r)
    assert r.json()["errors"][0]["code"] == "DENIED"


def test_registry_policy_grants_another_account(two_accounts):
    srv, other_root = two_accounts
    a = srv.account_id
    repo = create_repository("shared/by-registry-policy", srv)
    Registry(srv).push_image(repo, images.make_image(label="regpol"), tag="v1")
    ecr_b = client(srv, "ecr", *other_root)
    with pytest.raises(botocore.exceptions.ClientError):
        ecr_b.describe_images(registryId=a, repositoryName=repo)
    root_a = root_client(srv, "ecr")
    doc = {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadForB", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": ["ecr:DescribeImages", "ecr:BatchGetImage"], "Resource": f"arn:aws:ecr:{srv.region}:{a}:repository/*"}]}
    root_a.put_registry_policy(policyText=json.dumps(doc))
    assert json.loads(root_a.get_registry_policy()["policyText"]) == doc
    assert ecr_b.describe_images(registryId=a, repositoryName=repo)["imageDetails"]
    root_a.delete_registry_policy()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        root_a.get_registry_policy()
    assert e.value.response["Error"]["Code"] == "RegistryPolicyNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError):
        ecr_b.describe_images(registryId=a, repositoryName=repo)


def test_inactive_and_deleted_keys_stop_at_once(berth, acl):
    iam, s = acl["iam"], acl["suffix"]
    name = f"temp-{s}"
    key = new_user(iam, name, groups=[f"ecr-read-{s}"])
    reg = registry_as(berth, key)          # token minted while the key is active
    assert reg.get("/v2/").status_code == 200
    iam.update_access_key(UserName=name, AccessKeyId=key[0], Status="Inactive")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client(berth, "ecr", *key).describe_repositories()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert reg.get("/v2/").status_code == 401
    iam.update_access_key(UserName=name, AccessKeyId=key[0], Status="Active")
    assert reg.get("/v2/").status_code == 200
    iam.delete_access_key(UserName=name, AccessKeyId=key[0])
    assert reg.get("/v2/").status_code == 401


def test_simulator_explains_decisions(berth, acl):
    if getattr(berth, "external", False):
        pytest.fail("the simulator test needs a local data directory; run it against a started server",
                    pytrace=False)
    arn = repo_arn(berth, berth.account_id, acl["repo"])
    p = subprocess.run([str(berth.binary), "admin", "simulate", "--data", str(berth.data_dir),
                        "--principal", acl["reader_arn"], "--action", "ecr:PutImage", "--resource", arn],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "decision: implicitDeny" in p.stdout
    assert denied_message(acl["reader_arn"], "ecr:PutImage", arn) in p.stdout
    p = subprocess.run([str(berth.binary), "admin", "simulate", "--data", str(berth.data_dir),
                        "--principal", acl["writer_arn"], "--action", "ecr:PutImage", "--resource", arn],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "decision: allowed" in p.stdout
    assert POWER_USER in p.stdout


def test_resource_and_request_tag_conditions(berth, acl):
    """aws:ResourceTag/<k> (and ecr:ResourceTag/<k>) from the repository's tags, aws:RequestTag/<k>
    and aws:TagKeys from the tags sent with CreateRepository."""
    iam, s = acl["iam"], acl["suffix"]
    root_ecr = root_client(berth, "ecr")
    mine = f"acl-{s}/team-a"
    theirs = f"acl-{s}/team-b"
    root_ecr.create_repository(repositoryName=mine, tags=[{"Key": "team", "Value": "a"}])
    root_ecr.create_repository(repositoryName=theirs, tags=[{"Key": "team", "Value": "b"}])
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:DescribeImages", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}}},
        {"Effect": "Allow", "Action": "ecr:ListImages", "Resource": "*",
         "Condition": {"StringEquals": {"ecr:ResourceTag/team": "a"}}},
        {"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "a"},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}]}
    key = new_user(iam, f"tagged-{s}")
    iam.put_user_policy(UserName=f"tagged-{s}", PolicyName="by-tag", PolicyDocument=json.dumps(doc))
    ecr = client(berth, "ecr", *key)
    assert ecr.describe_images(repositoryName=mine)["imageDetails"] == []
    assert ecr.list_images(repositoryName=mine)["imageIds"] == []
    for call in (ecr.describe_images, ecr.list_images):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(repositoryName=theirs)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    ecr.create_repository(repositoryName=f"acl-{s}/new-a", tags=[{"Key": "team", "Value": "a"}])
    for tags in ([{"Key": "team", "Value": "b"}], [], [{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "x"}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ecr.create_repository(repositoryName=f"acl-{s}/new-{images.token(3)}", tags=tags)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException", tags


def test_simulate_principal_policy_over_the_control_plane(berth, acl):
    """The simulator's control-plane form: IAM's SimulatePrincipalPolicy."""
    arn = repo_arn(berth, berth.account_id, acl["repo"])
    out = acl["iam"].simulate_principal_policy(PolicySourceArn=acl["reader_arn"],
                                               ActionNames=["ecr:PutImage", "ecr:BatchGetImage"], ResourceArns=[arn])
    got = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert got["ecr:PutImage"]["EvalDecision"] == "implicitDeny"
    assert got["ecr:BatchGetImage"]["EvalDecision"] == "allowed"
    assert got["ecr:BatchGetImage"]["MatchedStatements"][0]["SourcePolicyId"] == READ_ONLY
    ip = acl["iam"].simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{berth.account_id}:root",
                                              ActionNames=["ecr:DeleteRepository"], ResourceArns=[arn],
                                              ContextEntries=[{"ContextKeyName": "aws:SourceIp",
                                                               "ContextKeyValues": ["10.1.2.3"],
                                                               "ContextKeyType": "ip"}])
    assert ip["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        acl["iam"].simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{berth.account_id}:user/nobody",
                                             ActionNames=["ecr:PutImage"])
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"


def test_set_repository_policy_refuses_a_lock_out_without_force(berth, acl):
    """SetRepositoryPolicy without force refuses a document that would deny the caller
    ecr:SetRepositoryPolicy afterwards, and leaves the old policy in place; force sets it."""
    iam, s = acl["iam"], acl["suffix"]
    repo = create_repository(f"acl-{s}/lockout", berth)
    name = f"policy-admin-{s}"
    key = new_user(iam, name)
    iam.put_user_policy(UserName=name, PolicyName="ecr-all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}))
    ecr = client(berth, "ecr", *key)
    first = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadAll", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}]})
    ecr.set_repository_policy(repositoryName=repo, policyText=first)
    lockout = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoMorePolicies", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{berth.account_id}:user/{name}"},
         "Action": "ecr:SetRepositoryPolicy"}]})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.set_repository_policy(repositoryName=repo, policyText=lockout)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "use force" in e.value.response["Error"]["Message"]
    assert json.loads(ecr.get_repository_policy(repositoryName=repo)["policyText"]) == json.loads(first)
    ecr.set_repository_policy(repositoryName=repo, policyText=lockout, force=True)
    assert json.loads(ecr.get_repository_policy(repositoryName=repo)["policyText"]) == json.loads(lockout)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ecr.set_repository_policy(repositoryName=repo, policyText=first, force=True)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_deny_among_many_identity_policies_still_denies(berth):
    """Every identity policy counts, however many: a user whose groups carry 80 inline
    policies (more than the authorizer's per-thread cache of parsed policies, and more than
    it once kept at all) is denied by the one Deny among them, and allowed by the rest."""
    iam = root_client(berth, "iam")
    suffix = images.token(4)
    repo = create_repository(f"many-{suffix}/app", berth)
    user = f"many-{suffix}"
    groups = [f"many-{suffix}-{i}" for i in range(8)]
    for g in groups:
        iam.create_group(GroupName=g)
    for i, g in enumerate(groups):
        for j in range(10):
            # distinct documents, each allowing something harmless
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:DescribeRepositories",
                                                           "Resource": f"arn:aws:ecr:*:*:repository/unused-{i}-{j}"}]}
            iam.put_group_policy(GroupName=g, PolicyName=f"p{j:02d}", PolicyDocument=json.dumps(doc))
    iam.put_group_policy(GroupName=groups[-1], PolicyName="zz-deny-list", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "ecr:ListImages", "Resource": "*"}]}))
    key = new_user(iam, user, groups=groups, policies=[READ_ONLY])
    ecr = client(berth, "ecr", *key)
    arn = repo_arn(berth, berth.account_id, repo)
    for _ in range(3):  # the same decision whatever the cache holds from the last one
        assert ecr.describe_images(repositoryName=repo)["imageDetails"] == []
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ecr.list_images(repositoryName=repo)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        assert e.value.response["Error"]["Message"] == denied_message(
            f"arn:aws:iam::{berth.account_id}:user/{user}", "ecr:ListImages", arn,
            why="with an explicit deny in an identity-based policy")
