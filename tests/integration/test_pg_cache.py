"""The store's read cache across servers (issue 10 §5, store/cache.c): two berth servers on one
PostgreSQL database each cache access keys, users, identity policies, repositories and the
registry policy, and a change made through one server (or by anyone writing the database) takes
effect on the other at once: the next request there, sent right after the change's answer, sees
it. Each test first makes the other server cache what the change is about (the same request
succeeds on it, answered from its cache), then changes it through the first server and checks the
other without waiting.

A manifest GET on a warm server reads the database three times (the cache's generation, the tag,
the manifest), not eight to ten."""

import base64
import json
import re

import boto3
import pytest
import requests

import images
from conftest import processes
from regclient import Registry, describe
from test_ecr_repositories import AwsCli


def client(server, service, key=None, secret=None):
    return boto3.client(service, endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=key or server.access_key, aws_secret_access_key=secret or server.secret)


def login(server, key=None, secret=None):
    """(user, password) of GetAuthorizationToken for the key (default: the root's)."""
    tok = client(server, "ecr", key, secret).get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(tok).decode().split(":", 1)
    return user, password


def manifest_status(server, auth, ref, repo):
    return requests.get(f"{server.url}/v2/{repo}/manifests/{ref}", auth=auth, timeout=10,
                        headers={"Accept": images.ACCEPT_ALL}).status_code


def metric(server, name, **labels):
    """The value of one sample of /metrics (0 when absent)."""
    text = requests.get(server.url + "/metrics", timeout=10).text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        m = re.match(r"^(\w+)(?:\{([^}]*)\})? (\S+)$", line)
        if m and m.group(1) == name and (m.group(2) or "") == want:
            return float(m.group(3))
    return 0.0


@pytest.fixture(scope="module")
def servers(pg, berth_factory, tmp_path_factory):
    """Two servers on one fresh database with one key file, for the whole module (each test has
    its own repository and user): (a, b, database name)."""
    url = pg.create_database("c_" + images.token(12).lower())
    key = tmp_path_factory.mktemp("cache") / "registry.key"
    # no job workers: no background statements in the counts
    a, b = [berth_factory(extra_args=["--database", url, "--key-file", str(key), "--job-workers", "0"])
            for _ in range(2)]
    return a, b, url.rsplit("/", 1)[1]


class Pair:
    """The two servers, a repository with an image tagged v1, and a user with the ReadOnly managed
    policy and a key; unpacks as (a, b, key, secret)."""

    def __init__(self, a, b, db):
        self.a, self.b, self.db = a, b, db
        t = images.token(8).lower()
        self.repo, self.user = f"cache/{t}", f"reader-{t}"
        client(a, "ecr").create_repository(repositoryName=self.repo)
        Registry(a, auth=login(a)).push_image(self.repo, images.make_image(label="cache"), tag="v1")
        iam = client(a, "iam")
        iam.create_user(UserName=self.user)
        iam.attach_user_policy(UserName=self.user,
                               PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
        k = iam.create_access_key(UserName=self.user)["AccessKey"]
        self.key, self.secret = k["AccessKeyId"], k["SecretAccessKey"]

    def __iter__(self):
        return iter((self.a, self.b, self.key, self.secret))

    def status(self, server, auth, ref="v1"):
        return manifest_status(server, auth, ref, self.repo)


@pytest.fixture
def pair(servers):
    return Pair(*servers)


def test_a_warm_manifest_get_is_answered_from_the_cache(pair):
    a, b, key, secret = pair
    auth = login(b, key, secret)
    # the cache and the counts are a process's: one of b's (two behind nginx), spoken to directly
    b = processes(b)[0]
    assert pair.status(b, auth) == 200
    hits = metric(b, "berth_store_cache_lookups_total", result="hit")
    misses = metric(b, "berth_store_cache_lookups_total", result="miss")
    steps = metric(b, "berth_store_step_duration_seconds_count")
    n = 20
    for _ in range(n):
        assert pair.status(b, auth) == 200
    per_get = (metric(b, "berth_store_step_duration_seconds_count") - steps) / n
    # key, user, identity policies, repository twice (load, authorize), its tags, the registry
    # policy, the pull-time exclusion
    assert metric(b, "berth_store_cache_lookups_total", result="hit") - hits == 8 * n
    assert metric(b, "berth_store_cache_lookups_total", result="miss") == misses
    # generation, tag, manifest, and now and then a statement of the server's own upkeep
    # (before: ten for this user, eight for the root)
    assert per_get < 4, per_get


def test_deleting_an_access_key_refuses_it_on_the_other_server_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    ecr_b = client(b, "ecr", key, secret)
    assert pair.status(b, auth) == 200
    assert ecr_b.describe_images(repositoryName=pair.repo)["imageDetails"]
    client(a, "iam").delete_access_key(UserName=pair.user, AccessKeyId=key)
    assert pair.status(b, auth) == 401
    with pytest.raises(ecr_b.exceptions.ClientError) as e:
        ecr_b.describe_images(repositoryName=pair.repo)
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_deactivating_and_reactivating_a_key_takes_effect_on_the_other_server_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    iam = client(a, "iam")
    ecr_b = client(b, "ecr", key, secret)
    for _ in range(3):
        assert pair.status(b, auth) == 200
        assert ecr_b.describe_repositories(repositoryNames=[pair.repo])["repositories"]
        iam.update_access_key(UserName=pair.user, AccessKeyId=key, Status="Inactive")
        assert pair.status(b, auth) == 401
        with pytest.raises(ecr_b.exceptions.ClientError):
            ecr_b.describe_repositories(repositoryNames=[pair.repo])
        iam.update_access_key(UserName=pair.user, AccessKeyId=key, Status="Active")


def test_detaching_a_users_policy_denies_on_the_other_server_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    iam = client(a, "iam")
    ecr_b = client(b, "ecr", key, secret)
    arn = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
    for _ in range(2):
        assert pair.status(b, auth) == 200
        assert ecr_b.describe_images(repositoryName=pair.repo)["imageDetails"]
        iam.detach_user_policy(UserName=pair.user, PolicyArn=arn)
        r = requests.get(f"{b.url}/v2/{pair.repo}/manifests/v1", auth=auth, timeout=10)
        assert r.status_code == 403, describe(r)
        with pytest.raises(ecr_b.exceptions.ClientError) as e:
            ecr_b.describe_images(repositoryName=pair.repo)
        assert e.value.response["Error"]["Code"] == "AccessDeniedException"
        iam.attach_user_policy(UserName=pair.user, PolicyArn=arn)


def test_a_repository_policy_set_on_one_server_applies_on_the_other_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    ecr_a = client(a, "ecr")
    user_arn = client(a, "iam").get_user(UserName=pair.user)["User"]["Arn"]
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoReader", "Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "ecr:BatchGetImage"}]})
    for _ in range(2):
        assert pair.status(b, auth) == 200
        ecr_a.set_repository_policy(repositoryName=pair.repo, policyText=deny)
        assert pair.status(b, auth) == 403
        ecr_a.delete_repository_policy(repositoryName=pair.repo)
        assert pair.status(b, auth) == 200


def test_a_registry_policy_and_a_group_change_apply_on_the_other_server_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    iam = client(a, "iam")
    iam.detach_user_policy(UserName=pair.user, PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly")
    iam.create_group(GroupName=pair.user + "-g")
    iam.attach_group_policy(GroupName=pair.user + "-g", PolicyArn="arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly")
    assert pair.status(b, auth) == 403
    iam.add_user_to_group(GroupName=pair.user + "-g", UserName=pair.user)
    assert pair.status(b, auth) == 200
    user_arn = iam.get_user(UserName=pair.user)["User"]["Arn"]
    deny = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "NoReader", "Effect": "Deny", "Principal": {"AWS": user_arn}, "Action": "ecr:BatchGetImage",
         "Resource": "*"}]})
    client(a, "ecr").put_registry_policy(policyText=deny)
    assert pair.status(b, auth) == 403
    client(a, "ecr").delete_registry_policy()
    assert pair.status(b, auth) == 200
    iam.remove_user_from_group(GroupName=pair.user + "-g", UserName=pair.user)
    assert pair.status(b, auth) == 403


def test_a_deleted_repository_is_gone_on_the_other_server_at_once_and_its_successor_is_new(pair):
    a, b, key, secret = pair
    root = login(a)
    ecr_a, ecr_b = client(a, "ecr"), client(b, "ecr")
    assert pair.status(b, root) == 200
    assert ecr_b.describe_images(repositoryName=pair.repo)["imageDetails"]
    ecr_a.delete_repository(repositoryName=pair.repo, force=True)
    r = requests.get(f"{b.url}/v2/{pair.repo}/manifests/v1", auth=root, timeout=10)
    assert r.status_code == 404 and "NAME_UNKNOWN" in r.text, describe(r)
    with pytest.raises(ecr_b.exceptions.RepositoryNotFoundException):
        ecr_b.describe_images(repositoryName=pair.repo)
    # a repository of the same name made again is a new one: the other server does not
    # serve the old one's id
    ecr_a.create_repository(repositoryName=pair.repo)
    assert pair.status(b, root) == 404
    assert ecr_b.describe_images(repositoryName=pair.repo)["imageDetails"] == []


def test_a_pull_time_exclusion_registered_on_one_server_applies_on_the_other_at_once(pair):
    a, b, key, secret = pair
    auth = login(a, key, secret)
    Registry(a, auth=login(a)).push_image(pair.repo, images.make_image(label="second"), tag="v2")
    # a process keeps the pull times it records until its flush: pull and read through the same
    # one of b's (two behind nginx)
    b = processes(b)[0]
    ecr_b = client(b, "ecr")
    arn = client(a, "iam").get_user(UserName=pair.user)["User"]["Arn"]

    def pulled(tag):
        detail = ecr_b.describe_images(repositoryName=pair.repo, imageIds=[{"imageTag": tag}])["imageDetails"][0]
        return "lastRecordedPullTime" in detail

    assert pair.status(b, auth, "v1") == 200  # b has looked the exclusion up: there is none
    assert pulled("v1")
    AwsCli(a)("register-pull-time-update-exclusion", "--principal-arn", arn)
    assert pair.status(b, auth, "v2") == 200
    assert not pulled("v2")
    AwsCli(a)("deregister-pull-time-update-exclusion", "--principal-arn", arn)
    assert pair.status(b, auth, "v2") == 200
    assert pulled("v2")


def test_a_change_written_straight_into_the_database_is_seen_at_once(pair, pg):
    """The triggers, not the code paths of berth's own operations, move the generation: a key
    deactivated by hand in the database (or by any other tool) is refused on both servers."""
    a, b, key, secret = pair
    auth = login(a, key, secret)
    db = pair.db
    for srv in (a, b):
        assert pair.status(srv, auth) == 200
    pg.psql(f"UPDATE access_keys SET status = 'Inactive' WHERE id = '{key}'", db=db)
    for srv in (a, b):
        assert pair.status(srv, auth) == 401
    pg.psql(f"UPDATE access_keys SET status = 'Active' WHERE id = '{key}'", db=db)
    for srv in (a, b):
        assert pair.status(srv, auth) == 200



def test_a_database_restored_under_the_servers_is_read_again(pair, pg):
    """A restore takes the generation back to a number a server has cached entries of: a lower
    number than seen empties the cache, so the restored rows are what counts."""
    a, b, key, secret = pair
    auth = login(a, key, secret)
    db = pair.db
    # what b has seen is a process's: one of b's (two behind nginx)
    b = processes(b)[0]
    old = int(pg.psql("SELECT gen FROM cache_generation", db=db).stdout)
    assert pair.status(b, auth) == 200  # b caches the active key at the old generation
    client(a, "iam").create_user(UserName=pair.user + "-later")  # the generation moves on; b sees it through
    assert pair.status(b, login(a)) == 200  # another key: b still has the reader's of the old one
    # "restore" a backup of the old generation in which the key was inactive
    pg.psql(f"BEGIN; UPDATE access_keys SET status = 'Inactive' WHERE id = '{key}';"
            f"UPDATE cache_generation SET gen = {old}; COMMIT", db=db)
    assert pair.status(b, auth) == 401
