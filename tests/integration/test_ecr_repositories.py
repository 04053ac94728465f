"""ECR repository operations: CreateRepository, DescribeRepositories, DeleteRepository,
PutImageTagMutability, PutImageScanningConfiguration, TagResource/UntagResource/ListTagsForResource,
DescribeRegistry, GetAccountSetting/PutAccountSetting.

Driven with Debian's boto3 where its (older) ECR model has the operation and fields, and with the
aws CLI (newer botocore) for the rest (exclusion filters, account settings) and for the forms users
type (the seeds).
"""

import datetime
import json
import os
import re

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

import images
from conftest import repo_name_for, run, token
from regclient import Registry

ARN_RE = re.compile(r"^arn:aws:ecr:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):repository/(?P<name>.+)$")
REPO_KEYS = {"repositoryArn", "registryId", "repositoryName", "repositoryUri", "createdAt", "imageTagMutability",
             "imageScanningConfiguration", "encryptionConfiguration"}


# ---------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------

def ecr_client(server, validate=True):
    cfg = botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=validate)
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret, config=cfg)


@pytest.fixture
def ecr(berth):
    return ecr_client(berth)


@pytest.fixture
def ecr_raw(berth):
    """A client that sends what it is given (no client-side validation), to see the server's answer."""
    return ecr_client(berth, validate=False)


class AwsCli:
    """`aws ecr ...` against a server with its root key; JSON in, JSON out."""

    def __init__(self, server):
        self.server = server
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret,
                        AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null",
                        AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
        self.env.pop("AWS_SESSION_TOKEN", None)
        self.env.pop("AWS_PROFILE", None)

    def __call__(self, *args, check=True):
        p = run(["aws", "ecr", *args, "--endpoint-url", self.server.url, "--output", "json"], env=self.env,
                timeout=60, check=check, redact=[self.server.secret])
        if not check:
            return p
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def fails(self, *args, code):
        """Runs a command that must fail with the given ECR error code; returns its message."""
        p = self(*args, check=False)
        assert p.returncode != 0, f"expected {code}, got success: {p.stdout}"
        m = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation: (.*)", p.stderr)
        assert m, p.stderr
        assert m.group(1) == code, p.stderr
        return m.group(2).strip()


@pytest.fixture
def aws(berth):
    return AwsCli(berth)


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        fn(*args, **kwargs)
    got, message = error_of(e)
    assert got == code, f"expected {code}, got {got}: {message}"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return message


@pytest.fixture
def name(request):
    return repo_name_for(request.node.name)


def arn_of(server, name):
    return f"arn:aws:ecr:{server.region}:{server.account_id}:repository/{name}"


def tags_of(ecr, arn):
    return {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=arn)["tags"]}


def push_image(server, name):
    reg = Registry(server)
    return reg.push_image(name, images.make_image(label=token()), tag="v1")


# ---------------------------------------------------------------------------------------
# CreateRepository
# ---------------------------------------------------------------------------------------

def test_create_repository_defaults(berth, ecr, name):
    before = datetime.datetime.now(datetime.timezone.utc)
    repo = ecr.create_repository(repositoryName=name)["repository"]
    assert set(repo) == REPO_KEYS, repo
    assert repo["repositoryName"] == name
    assert repo["registryId"] == berth.account_id
    assert repo["repositoryArn"] == arn_of(berth, name)
    assert repo["repositoryUri"].endswith("/" + name)
    host = repo["repositoryUri"][:-len(name) - 1]
    assert host == berth.host or host.startswith(f"{berth.account_id}.dkr.ecr.{berth.region}."), repo
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert abs((repo["createdAt"] - before).total_seconds()) < 120


def test_create_repository_seed_cli_forms(berth, aws, name):
    """The commands of the seeds, as typed: create with scan-on-push and IMMUTABLE, describe, delete --force."""
    repo = aws("create-repository", "--repository-name", name, "--image-scanning-configuration", "scanOnPush=true",
               "--image-tag-mutability", "IMMUTABLE")["repository"]
    assert repo["repositoryName"] == name
    assert repo["registryId"] == berth.account_id
    assert repo["repositoryArn"] == arn_of(berth, name)
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert isinstance(repo["createdAt"], (int, float))

    got = aws("describe-repositories", "--repository-names", name)["repositories"]
    assert got == [repo]
    # `describe-repositories || create-repository` (a seed's idiom) must see the repository
    names = [r["repositoryName"] for r in aws("describe-repositories")["repositories"]]
    assert name in names

    deleted = aws("delete-repository", "--repository-name", name, "--force")["repository"]
    assert deleted["repositoryName"] == name
    assert deleted["repositoryArn"] == repo["repositoryArn"]
    aws.fails("describe-repositories", "--repository-names", name, code="RepositoryNotFoundException")


def test_create_repository_seed_namespaced_and_plain(aws):
    for name in (f"kolla-{token(3)}/ubuntu-source-base", f"hello-repository-{token(3)}"):
        repo = aws("create-repository", "--repository-name", name)["repository"]
        assert repo["repositoryName"] == name
        assert repo["repositoryArn"].endswith(":repository/" + name)
        aws("delete-repository", "--repository-name", name)


def test_create_repository_with_tags_seed_cli(berth, aws, name):
    aws("create-repository", "--repository-name", name, "--tags", "Key=team,Value=devs")
    got = aws("list-tags-for-resource", "--resource-arn", arn_of(berth, name))
    assert got == {"tags": [{"Key": "team", "Value": "devs"}]}


def test_create_repository_all_options(berth, ecr, name):
    repo = ecr.create_repository(
        repositoryName=name, registryId=berth.account_id, imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abc-123"},
        tags=[{"Key": "team", "Value": "devs"}, {"Key": "cost-center", "Value": ""}],
    )["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS",
                                               "kmsKey": "arn:aws:kms:us-east-1:123456789012:key/abc-123"}
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["encryptionConfiguration"] == \
        repo["encryptionConfiguration"]
    assert tags_of(ecr, repo["repositoryArn"]) == {"team": "devs", "cost-center": ""}


@pytest.mark.parametrize("enc,expected", [
    ({"encryptionType": "AES256"}, {"encryptionType": "AES256"}),
    ({"encryptionType": "KMS"}, {"encryptionType": "KMS"}),
    ({"encryptionType": "KMS", "kmsKey": "alias/my-key"}, {"encryptionType": "KMS", "kmsKey": "alias/my-key"}),
])
def test_create_repository_encryption(ecr, name, enc, expected):
    repo = ecr.create_repository(repositoryName=name, encryptionConfiguration=enc)["repository"]
    assert repo["encryptionConfiguration"] == expected


def test_create_repository_kms_dsse_cli(aws, name):
    repo = aws("create-repository", "--repository-name", name, "--encryption-configuration",
               "encryptionType=KMS_DSSE,kmsKey=1234abcd-12ab-34cd-56ef-1234567890ab")["repository"]
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS_DSSE",
                                               "kmsKey": "1234abcd-12ab-34cd-56ef-1234567890ab"}


def test_create_repository_aes256_with_kms_key_is_invalid(ecr, name):
    expect_error("InvalidParameterException", ecr.create_repository, repositoryName=name,
                 encryptionConfiguration={"encryptionType": "AES256", "kmsKey": "alias/x"})
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])


def test_create_repository_already_exists(berth, ecr, name):
    ecr.create_repository(repositoryName=name)
    msg = expect_error("RepositoryAlreadyExistsException", ecr.create_repository, repositoryName=name)
    assert msg == f"The repository with name '{name}' already exists in the registry with id '{berth.account_id}'"


@pytest.mark.parametrize("bad", ["UPPER/case", "a", "-leading", "trailing-", "double//slash", "sp ace", "x" * 257,
                                 "under__score__ok/.dot"])
def test_create_repository_invalid_name(ecr_raw, bad):
    msg = expect_error("InvalidParameterException", ecr_raw.create_repository, repositoryName=bad)
    assert "repositoryName" in msg


def test_create_repository_invalid_enum(ecr_raw, name):
    expect_error("InvalidParameterException", ecr_raw.create_repository, repositoryName=name,
                 imageTagMutability="SOMETIMES")
    expect_error("InvalidParameterException", ecr_raw.create_repository, repositoryName=name,
                 encryptionConfiguration={"encryptionType": "ROT13"})


def test_create_repository_exclusion_filters_cli(aws, name):
    repo = aws("create-repository", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION",
               "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=dev-*",
               "filterType=WILDCARD,filter=latest")["repository"]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"},
                                                          {"filterType": "WILDCARD", "filter": "latest"}]
    got = aws("describe-repositories", "--repository-names", name)["repositories"][0]
    assert got["imageTagMutabilityExclusionFilters"] == repo["imageTagMutabilityExclusionFilters"]

    other = name + "-m"
    repo = aws("create-repository", "--repository-name", other, "--image-tag-mutability", "MUTABLE_WITH_EXCLUSION",
               "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=release-*")["repository"]
    assert repo["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "release-*"}]


@pytest.mark.parametrize("args", [
    # *_WITH_EXCLUSION without filters
    ["--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION"],
    ["--image-tag-mutability", "MUTABLE_WITH_EXCLUSION"],
    # filters without an *_WITH_EXCLUSION setting
    ["--image-tag-mutability", "IMMUTABLE", "--image-tag-mutability-exclusion-filters",
     "filterType=WILDCARD,filter=dev-*"],
    ["--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=dev-*"],
    # filter outside the model's pattern, and too many filters (max 5)
    ["--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters",
     "filterType=WILDCARD,filter=dev/*"],
    ["--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters",
     *[f"filterType=WILDCARD,filter=f{i}*" for i in range(6)]],
])
def test_create_repository_bad_exclusion_filters_cli(aws, name, args):
    aws.fails("create-repository", "--repository-name", name, *args, code="InvalidParameterException")
    aws.fails("describe-repositories", "--repository-names", name, code="RepositoryNotFoundException")


def test_create_repository_tag_limits(ecr, name):
    # exactly at the limits: 50 tags, 128-character key, 256-character value
    tags = [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(48)]
    tags += [{"Key": "k" * 128, "Value": "v" * 256}, {"Key": "Name with spaces_.:/=+-@", "Value": "ünïcödé"}]
    arn = ecr.create_repository(repositoryName=name, tags=tags)["repository"]["repositoryArn"]
    got = tags_of(ecr, arn)
    assert len(got) == 50
    assert got["k" * 128] == "v" * 256
    assert got["Name with spaces_.:/=+-@"] == "ünïcödé"


def test_create_repository_too_many_tags(ecr, name):
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    expect_error("TooManyTagsException", ecr.create_repository, repositoryName=name, tags=tags)
    # nothing was created
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])


@pytest.mark.parametrize("tag", [
    {"Key": "aws:reserved", "Value": "x"},
    {"Key": "AWS:Reserved", "Value": "x"},
    {"Key": "k" * 129, "Value": "x"},
    {"Key": "ok", "Value": "v" * 257},
    {"Key": "", "Value": "x"},
    {"Key": "semi;colon", "Value": "x"},
])
def test_create_repository_invalid_tag(ecr, name, tag):
    expect_error("InvalidTagParameterException", ecr.create_repository, repositoryName=name, tags=[tag])
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])


def test_create_repository_limit_exceeded(berth_factory):
    srv = berth_factory(extra_args=["--max-repositories", "3"])
    ecr = ecr_client(srv)
    for i in range(3):
        ecr.create_repository(repositoryName=f"limit/r{i}")
    msg = expect_error("LimitExceededException", ecr.create_repository, repositoryName="limit/r3")
    assert "3" in msg
    assert len(ecr.describe_repositories()["repositories"]) == 3
    # deleting one makes room again
    ecr.delete_repository(repositoryName="limit/r0")
    ecr.create_repository(repositoryName="limit/r3")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["limit/r1", "limit/r2", "limit/r3"]


# ---------------------------------------------------------------------------------------
# DescribeRepositories
# ---------------------------------------------------------------------------------------

def test_describe_repositories_by_name(berth, ecr, name):
    a = ecr.create_repository(repositoryName=name + "-a")["repository"]
    b = ecr.create_repository(repositoryName=name + "-b", imageTagMutability="IMMUTABLE")["repository"]
    got = ecr.describe_repositories(repositoryNames=[name + "-b", name + "-a"])["repositories"]
    assert [r["repositoryName"] for r in got] == [name + "-b", name + "-a"]
    assert got[0] == b
    assert got[1] == a
    assert "nextToken" not in ecr.describe_repositories(repositoryNames=[name + "-a"])
    got = ecr.describe_repositories(registryId=berth.account_id, repositoryNames=[name + "-a"])["repositories"]
    assert got == [a]


def test_describe_repositories_missing_name(berth, ecr, name):
    ecr.create_repository(repositoryName=name)
    msg = expect_error("RepositoryNotFoundException", ecr.describe_repositories,
                       repositoryNames=[name, name + "-missing"])
    assert msg == (f"The repository with name '{name}-missing' does not exist in the registry with id "
                   f"'{berth.account_id}'")


def test_describe_repositories_names_with_paging_is_invalid(ecr_raw, name):
    ecr_raw.create_repository(repositoryName=name)
    expect_error("InvalidParameterException", ecr_raw.describe_repositories, repositoryNames=[name], maxResults=5)


@pytest.mark.parametrize("kwargs", [{"maxResults": 0}, {"maxResults": 1001}, {"nextToken": "not-a-token"},
                                    {"repositoryNames": []}, {"registryId": "12345"}])
def test_describe_repositories_invalid_parameters(ecr_raw, kwargs):
    expect_error("InvalidParameterException", ecr_raw.describe_repositories, **kwargs)


def test_describe_repositories_paginator(berth_factory):
    """25 repositories, pages of 10: boto3's paginator walks 10, 10, 5 in name order."""
    srv = berth_factory()
    ecr = ecr_client(srv)
    want = sorted(f"page/repo-{i:02d}" for i in range(25))
    for n in want:
        ecr.create_repository(repositoryName=n)

    pages = list(ecr.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 10}))
    assert [len(p["repositories"]) for p in pages] == [10, 10, 5]
    assert "nextToken" in pages[0] and "nextToken" in pages[1] and "nextToken" not in pages[2]
    got = [r["repositoryName"] for p in pages for r in p["repositories"]]
    assert got == want

    # MaxItems stops early and resumes from the token it hands out
    first = ecr.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 10, "MaxItems": 15}).build_full_result()
    assert [r["repositoryName"] for r in first["repositories"]] == want[:15]
    rest = ecr.get_paginator("describe_repositories").paginate(
        PaginationConfig={"PageSize": 10, "StartingToken": first["NextToken"]}).build_full_result()
    assert [r["repositoryName"] for r in rest["repositories"]] == want[15:]

    # by hand, and the defaults (100 per page) return everything at once
    one = ecr.describe_repositories(maxResults=1)
    assert [r["repositoryName"] for r in one["repositories"]] == want[:1]
    two = ecr.describe_repositories(maxResults=1000, nextToken=one["nextToken"])
    assert [r["repositoryName"] for r in two["repositories"]] == want[1:]
    assert "nextToken" not in two
    allr = ecr.describe_repositories()
    assert len(allr["repositories"]) == 25 and "nextToken" not in allr

    # the CLI pages on its own
    cli = AwsCli(srv)
    got = cli("describe-repositories", "--page-size", "10")["repositories"]
    assert [r["repositoryName"] for r in got] == want
    got = cli("describe-repositories", "--max-items", "7")
    assert len(got["repositories"]) == 7 and got.get("NextToken")


def test_describe_repositories_exactly_one_page(berth_factory):
    srv = berth_factory()
    ecr = ecr_client(srv)
    for i in range(10):
        ecr.create_repository(repositoryName=f"exact/r{i}")
    page = ecr.describe_repositories(maxResults=10)
    assert len(page["repositories"]) == 10
    assert "nextToken" not in page
    assert ecr_client(srv).describe_repositories()["repositories"] == page["repositories"]


def test_describe_repositories_empty_registry(berth_factory):
    srv = berth_factory()
    got = ecr_client(srv).describe_repositories()
    assert got["repositories"] == []
    assert "nextToken" not in got


# ---------------------------------------------------------------------------------------
# DeleteRepository
# ---------------------------------------------------------------------------------------

def test_delete_empty_repository(ecr, name):
    created = ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")["repository"]
    deleted = ecr.delete_repository(repositoryName=name)["repository"]
    assert deleted["repositoryArn"] == created["repositoryArn"]
    assert deleted["registryId"] == created["registryId"]
    assert deleted["repositoryName"] == name
    assert deleted["repositoryUri"] == created["repositoryUri"]
    assert deleted["createdAt"] == created["createdAt"]
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])


def test_delete_missing_repository(berth, ecr, name):
    msg = expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=name)
    assert msg == f"The repository with name '{name}' does not exist in the registry with id '{berth.account_id}'"
    expect_error("RepositoryNotFoundException", ecr.delete_repository, repositoryName=name, force=True)


def test_delete_repository_with_images_needs_force(berth, ecr, aws, name):
    ecr.create_repository(repositoryName=name, tags=[{"Key": "team", "Value": "devs"}])
    push_image(berth, name)
    msg = expect_error("RepositoryNotEmptyException", ecr.delete_repository, repositoryName=name)
    assert msg == (f"The repository with name '{name}' in registry with id '{berth.account_id}' cannot be deleted "
                   f"because it still contains images")
    msg = aws.fails("delete-repository", "--repository-name", name, code="RepositoryNotEmptyException")
    assert "still contains images" in msg
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryName"] == name

    deleted = aws("delete-repository", "--repository-name", name, "--force")["repository"]
    assert deleted["repositoryName"] == name
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])
    expect_error("RepositoryNotFoundException", ecr.list_tags_for_resource, resourceArn=arn_of(berth, name))

    # the name is free again, and the new repository starts empty, untagged and with defaults
    repo = ecr.create_repository(repositoryName=name)["repository"]
    assert repo["imageTagMutability"] == "MUTABLE"
    assert tags_of(ecr, repo["repositoryArn"]) == {}
    ecr.delete_repository(repositoryName=name)


def test_delete_repository_force_false_on_empty(ecr, name):
    ecr.create_repository(repositoryName=name)
    ecr.delete_repository(repositoryName=name, force=False)


# ---------------------------------------------------------------------------------------
# PutImageTagMutability, PutImageScanningConfiguration
# ---------------------------------------------------------------------------------------

def test_put_image_tag_mutability(berth, ecr, name):
    ecr.create_repository(repositoryName=name)
    got = ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE")
    got.pop("ResponseMetadata")
    assert got == {"registryId": berth.account_id, "repositoryName": name, "imageTagMutability": "IMMUTABLE"}
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE", registryId=berth.account_id)
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_put_image_tag_mutability_seed_cli_and_exclusions(berth, aws, name):
    aws("create-repository", "--repository-name", name)
    got = aws("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability", "IMMUTABLE")
    assert got == {"registryId": berth.account_id, "repositoryName": name, "imageTagMutability": "IMMUTABLE"}

    got = aws("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability",
              "IMMUTABLE_WITH_EXCLUSION", "--image-tag-mutability-exclusion-filters",
              "filterType=WILDCARD,filter=dev-*")
    assert got == {"registryId": berth.account_id, "repositoryName": name,
                   "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                   "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "dev-*"}]}
    repo = aws("describe-repositories", "--repository-names", name)["repositories"][0]
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "dev-*"}]

    aws.fails("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability",
              "MUTABLE_WITH_EXCLUSION", code="InvalidParameterException")
    aws.fails("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability", "MUTABLE",
              "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=x", code="InvalidParameterException")
    # a failed call changes nothing
    repo = aws("describe-repositories", "--repository-names", name)["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"

    # back to plain MUTABLE: the filters go away
    got = aws("put-image-tag-mutability", "--repository-name", name, "--image-tag-mutability", "MUTABLE")
    assert "imageTagMutabilityExclusionFilters" not in got
    repo = aws("describe-repositories", "--repository-names", name)["repositories"][0]
    assert repo["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in repo


def test_put_image_tag_mutability_errors(ecr, ecr_raw, name):
    expect_error("RepositoryNotFoundException", ecr.put_image_tag_mutability, repositoryName=name,
                 imageTagMutability="IMMUTABLE")
    ecr.create_repository(repositoryName=name)
    expect_error("InvalidParameterException", ecr_raw.put_image_tag_mutability, repositoryName=name,
                 imageTagMutability="FROZEN")
    expect_error("InvalidParameterException", ecr_raw.put_image_tag_mutability, repositoryName=name)


def test_put_image_scanning_configuration(berth, ecr, name):
    ecr.create_repository(repositoryName=name)
    got = ecr.put_image_scanning_configuration(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    got.pop("ResponseMetadata")
    assert got == {"registryId": berth.account_id, "repositoryName": name,
                   "imageScanningConfiguration": {"scanOnPush": True}}
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    ecr.put_image_scanning_configuration(repositoryName=name, imageScanningConfiguration={"scanOnPush": False})
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    expect_error("RepositoryNotFoundException", ecr.put_image_scanning_configuration, repositoryName=name + "-x",
                 imageScanningConfiguration={"scanOnPush": True})


def test_put_image_scanning_configuration_seed_cli(aws, name):
    aws("create-repository", "--repository-name", name)
    got = aws("put-image-scanning-configuration", "--repository-name", name, "--image-scanning-configuration",
              "scanOnPush=true")
    assert got["imageScanningConfiguration"] == {"scanOnPush": True}


# ---------------------------------------------------------------------------------------
# TagResource, UntagResource, ListTagsForResource
# ---------------------------------------------------------------------------------------

def test_tag_untag_list(berth, ecr, name):
    arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "devs"}, {"Key": "env", "Value": "prod"}])
    assert tags_of(ecr, arn) == {"team": "devs", "env": "prod"}
    # tagging again changes given keys and leaves the others
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "staging"}, {"Key": "owner", "Value": "me"}])
    assert tags_of(ecr, arn) == {"team": "devs", "env": "staging", "owner": "me"}
    # untagging keys that are not there is fine
    ecr.untag_resource(resourceArn=arn, tagKeys=["team", "never-set"])
    assert tags_of(ecr, arn) == {"env": "staging", "owner": "me"}
    ecr.untag_resource(resourceArn=arn, tagKeys=["env", "owner"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == []


def test_tag_seed_cli_forms(berth, aws, name):
    aws("create-repository", "--repository-name", name)
    arn = arn_of(berth, name)
    aws("tag-resource", "--resource-arn", arn, "--tags", "Key=key1,Value=value1", "Key=key2,Value=value2",
        "Key=key3,Value=value3")
    got = aws("list-tags-for-resource", "--resource-arn", arn)["tags"]
    assert sorted((t["Key"], t["Value"]) for t in got) == [("key1", "value1"), ("key2", "value2"), ("key3", "value3")]
    aws("untag-resource", "--resource-arn", arn, "--tag-keys", "key2")
    got = aws("list-tags-for-resource", "--resource-arn", arn)["tags"]
    assert sorted(t["Key"] for t in got) == ["key1", "key3"]


def test_tag_limit_counts_existing_tags(ecr, name):
    arn = ecr.create_repository(repositoryName=name, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(40)])[
        "repository"]["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "new"} for i in range(30, 50)])  # 10 new: 50
    assert len(tags_of(ecr, arn)) == 50
    before = tags_of(ecr, arn)
    expect_error("TooManyTagsException", ecr.tag_resource, resourceArn=arn, tags=[{"Key": "one-more", "Value": "v"}])
    # the refused call changed nothing, overwriting an existing key still works
    assert tags_of(ecr, arn) == before
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k0", "Value": "changed"}])
    assert tags_of(ecr, arn)["k0"] == "changed"


@pytest.mark.parametrize("tag", [
    {"Key": "aws:cloudformation:stack-name", "Value": "x"},
    {"Key": "k" * 129, "Value": "x"},
    {"Key": "k", "Value": "v" * 257},
    {"Key": "", "Value": "x"},
    {"Key": "a|b", "Value": "x"},
])
def test_tag_resource_invalid_tag(ecr, name, tag):
    arn = ecr.create_repository(repositoryName=name, tags=[{"Key": "keep", "Value": "me"}])["repository"][
        "repositoryArn"]
    expect_error("InvalidTagParameterException", ecr.tag_resource, resourceArn=arn,
                 tags=[{"Key": "fine", "Value": "x"}, tag])
    assert tags_of(ecr, arn) == {"keep": "me"}


def test_untag_resource_reserved_key(ecr, name):
    arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    expect_error("InvalidTagParameterException", ecr.untag_resource, resourceArn=arn, tagKeys=["aws:createdBy"])


@pytest.mark.parametrize("arn", [
    "invalid",
    "",
    "arn:aws:ecr:eu-west-3:{account}:repository/{name}",
    "arn:aws:ecr-public::{account}:repository/{name}",
    "arn:aws:s3:::my-bucket",
    "arn:aws:ecr:{region}:{account}:repository/",
    "arn:aws:ecr:{region}:{account}:repository/UPPER",
    "arn:aws:ecr:{region}:12345:repository/{name}",
    "arn:aws:ecr:{region}:{account}:registry/{name}",
    "arn:aws:ecr:{region}:{account}:repository/{name}/",
])
def test_tag_operations_invalid_arn(berth, ecr_raw, name, arn):
    ecr_raw.create_repository(repositoryName=name)
    arn = arn.format(region=berth.region, account=berth.account_id, name=name)
    for call, kwargs in ((ecr_raw.list_tags_for_resource, {}),
                         (ecr_raw.tag_resource, {"tags": [{"Key": "a", "Value": "b"}]}),
                         (ecr_raw.untag_resource, {"tagKeys": ["a"]})):
        msg = expect_error("InvalidParameterException", call, resourceArn=arn, **kwargs)
        assert "resourceArn" in msg


def test_tag_operations_missing_repository(berth, ecr, name):
    arn = arn_of(berth, name)
    msg = expect_error("RepositoryNotFoundException", ecr.list_tags_for_resource, resourceArn=arn)
    assert msg == f"The repository with name '{name}' does not exist in the registry with id '{berth.account_id}'"
    expect_error("RepositoryNotFoundException", ecr.tag_resource, resourceArn=arn, tags=[{"Key": "a", "Value": "b"}])
    expect_error("RepositoryNotFoundException", ecr.untag_resource, resourceArn=arn, tagKeys=["a"])


def test_tag_operations_other_account_repository(berth, ecr, name):
    """A repository ARN of an account the caller has no grant in is refused, whether or not it exists."""
    arn = f"arn:aws:ecr:{berth.region}:999999999999:repository/{name}"
    with pytest.raises(ClientError) as e:
        ecr.list_tags_for_resource(resourceArn=arn)
    assert error_of(e)[0] in ("AccessDeniedException", "RepositoryNotFoundException")


# ---------------------------------------------------------------------------------------
# DescribeRegistry, account settings
# ---------------------------------------------------------------------------------------

def test_describe_registry(berth, ecr, aws):
    got = ecr.describe_registry()
    assert got["registryId"] == berth.account_id
    assert got["replicationConfiguration"] == {"rules": []}
    assert aws("describe-registry") == {"registryId": berth.account_id, "replicationConfiguration": {"rules": []}}


def test_account_settings_defaults_and_updates(berth_factory):
    srv = berth_factory()
    aws = AwsCli(srv)
    # BLOB_MOUNTING is berth's one departure from a new AWS account (docs/compatibility.md)
    defaults = {"BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V2", "BLOB_MOUNTING": "ENABLED"}
    for n, v in defaults.items():
        assert aws("get-account-setting", "--name", n) == {"name": n, "value": v}

    assert aws("put-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION", "--value", "CLAIR") == \
        {"name": "BASIC_SCAN_TYPE_VERSION", "value": "CLAIR"}
    assert aws("get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")["value"] == "CLAIR"
    assert aws("put-account-setting", "--name", "REGISTRY_POLICY_SCOPE", "--value", "V1")["value"] == "V1"
    assert aws("put-account-setting", "--name", "BLOB_MOUNTING", "--value", "DISABLED")["value"] == "DISABLED"
    assert aws("get-account-setting", "--name", "REGISTRY_POLICY_SCOPE")["value"] == "V1"
    assert aws("get-account-setting", "--name", "BLOB_MOUNTING")["value"] == "DISABLED"
    # settings are independent and survive a restart
    srv.restart()
    assert aws("get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")["value"] == "CLAIR"
    assert aws("put-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION", "--value", "AWS_NATIVE")["value"] == \
        "AWS_NATIVE"
    assert aws("get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")["value"] == "AWS_NATIVE"
    assert aws("get-account-setting", "--name", "REGISTRY_POLICY_SCOPE")["value"] == "V1"


@pytest.mark.parametrize("args", [
    ["get-account-setting", "--name", "NO_SUCH_SETTING"],
    ["get-account-setting", "--name", "basic_scan_type_version"],
    ["put-account-setting", "--name", "NO_SUCH_SETTING", "--value", "V2"],
    ["put-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION", "--value", "V2"],
    ["put-account-setting", "--name", "REGISTRY_POLICY_SCOPE", "--value", "V3"],
    ["put-account-setting", "--name", "BLOB_MOUNTING", "--value", "enabled"],
])
def test_account_settings_validation(aws, args):
    aws.fails(*args, code="ValidationException")


def test_account_settings_model_limits(aws):
    aws.fails("get-account-setting", "--name", "X" * 65, code="InvalidParameterException")
