"""Lifecycle policies: PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy,
StartLifecyclePolicyPreview and GetLifecyclePolicyPreview through boto3 and the aws CLI, every
error they document, boto3's lifecycle_policy_preview_complete waiter, and real runs (`berth
admin lifecycle run`, the background job) that expire images pushed with distinct push times,
with `berth admin lifecycle history` listing what was done.

Images are pushed one after another with short sleeps, so their push times are distinct and
ordered; count rules (imageCountMoreThan) then pick by that order. Age rules are exercised with
`berth admin lifecycle run --at T`, which evaluates as of time T (docs/operations.md).
"""

import json
import os
import re
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

import images
from conftest import DEFAULT_BIN, create_repository, repo_name_for, run

SEED_POLICY = ('{"rules":[{"rulePriority":10,"description":"Expire old images","selection":{"tagStatus":"any",'
               '"countType":"imageCountMoreThan","countNumber":800},"action":{"type":"expire"}}]}')


def policy(*rules):
    return json.dumps({"rules": list(rules)})


def rule(priority, selection, action=None, description="a test rule"):
    return {"rulePriority": priority, "description": description, "selection": selection,
            "action": action or {"type": "expire"}}


def keep_newest(n, priority=1):
    return policy(rule(priority, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": n}))


# ---------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------

def client(server, validate=True):
    return boto3.client("ecr", endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret,
                        config=Config(parameter_validation=validate, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def ecr(berth):
    return client(berth)


@pytest.fixture(scope="module")
def ecr_raw(berth):
    return client(berth, validate=False)


def cli_env(server):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret,
               AWS_DEFAULT_REGION=server.region, AWS_CONFIG_FILE="/dev/null",
               AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        env.pop(k, None)
    return env


class Cli:
    def __init__(self, server):
        self.server = server

    def __call__(self, *args):
        p = run(["aws", "ecr", *args, "--endpoint-url", self.server.url, "--region", self.server.region,
                 "--output", "json"], env=cli_env(self.server), timeout=60, redact=[self.server.secret])
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def fails(self, *args, code):
        p = run(["aws", "ecr", *args, "--endpoint-url", self.server.url, "--region", self.server.region],
                env=cli_env(self.server), timeout=60, check=False, redact=[self.server.secret])
        assert p.returncode != 0, f"expected {code}, got success: {p.stdout[:400]}"
        m = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation: (.*)", p.stderr)
        assert m and m.group(1) == code, p.stderr[-800:]
        return m.group(2)


@pytest.fixture(scope="module")
def aws(berth):
    return Cli(berth)


def error(excinfo, code):
    err = excinfo.value.response["Error"]
    assert err["Code"] == code, excinfo.value.response
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Message"]


def admin(server, *args):
    binary = os.environ.get("BERTH_BIN", str(DEFAULT_BIN))
    return run([binary, "admin", *args, "--data", str(server.data_dir)], timeout=120)


def history(server, repo):
    """`berth admin lifecycle history --repository repo`, as (digest, tags, rule, action, outcome) rows."""
    out = admin(server, "lifecycle", "history", "--repository", repo).stdout.splitlines()
    assert out[0].split("\t") == ["TIME", "REPOSITORY", "DIGEST", "TAGS", "RULE", "ACTION", "OUTCOME"]
    rows = []
    for line in out[1:]:
        when, repository, digest, tags, prio, action, outcome = line.split("\t")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", when), line
        assert repository.endswith("/" + repo), line
        rows.append((digest, tuple(json.loads(tags)), int(prio), action, outcome))
    return rows


def push_in_order(reg, repo, specs):
    """Push one image per spec (a tag, a list of tags, or None for untagged), in order, with
    distinct push times; returns their digests, oldest first."""
    digests = []
    for tags in specs:
        tags = [tags] if isinstance(tags, str) else list(tags or [])
        img = images.make_image(label=images.token())
        reg.push_image(repo, img, tag=tags[0] if tags else None)
        for t in tags[1:]:
            assert reg.put_manifest(repo, t, img.manifest, img.media_type).status_code == 201
        digests.append(img.digest)
        time.sleep(0.02)
    return digests


def remaining(ecr, repo):
    ids = ecr.list_images(repositoryName=repo)["imageIds"]
    return {i["imageDigest"] for i in ids}


def wait_preview(ecr, repo):
    ecr.get_waiter("lifecycle_policy_preview_complete").wait(
        repositoryName=repo, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return ecr.get_lifecycle_policy_preview(repositoryName=repo)


# ---------------------------------------------------------------------------------------
# Put, Get, Delete
# ---------------------------------------------------------------------------------------

def test_put_get_delete(ecr, berth, repo):
    text = keep_newest(5)
    out = ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    assert out["registryId"] == berth.account_id
    assert out["repositoryName"] == repo
    assert out["lifecyclePolicyText"] == text

    got = ecr.get_lifecycle_policy(repositoryName=repo, registryId=berth.account_id)
    assert got["lifecyclePolicyText"] == text
    assert got["repositoryName"] == repo
    assert "lastEvaluatedAt" not in got  # it has not run yet

    # a new text replaces the old one
    text2 = policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                            "countNumber": 14}))
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text2)
    assert ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"] == text2

    gone = ecr.delete_lifecycle_policy(repositoryName=repo)
    assert gone["lifecyclePolicyText"] == text2
    assert gone["repositoryName"] == repo
    with pytest.raises(ClientError) as e:
        ecr.get_lifecycle_policy(repositoryName=repo)
    assert repo in error(e, "LifecyclePolicyNotFoundException")
    with pytest.raises(ClientError) as e:
        ecr.delete_lifecycle_policy(repositoryName=repo)
    error(e, "LifecyclePolicyNotFoundException")


@pytest.mark.parametrize("op,kwargs", [
    ("put_lifecycle_policy", {"lifecyclePolicyText": SEED_POLICY}),
    ("get_lifecycle_policy", {}),
    ("delete_lifecycle_policy", {}),
    ("start_lifecycle_policy_preview", {"lifecyclePolicyText": SEED_POLICY}),
    ("get_lifecycle_policy_preview", {}),
])
def test_unknown_repository(ecr, op, kwargs):
    with pytest.raises(ClientError) as e:
        getattr(ecr, op)(repositoryName="no/such-repo-" + images.token(), **kwargs)
    error(e, "RepositoryNotFoundException")


def test_seed_policy_verbatim_from_the_cli(aws, berth, repo):
    # seed 000 section 8, with only the repository name changed
    out = aws("put-lifecycle-policy", "--registry-id", berth.account_id, "--repository-name", repo,
              "--lifecycle-policy-text", SEED_POLICY)
    assert out["lifecyclePolicyText"] == SEED_POLICY
    assert out["registryId"] == berth.account_id
    got = aws("get-lifecycle-policy", "--repository-name", repo)
    assert got["lifecyclePolicyText"] == SEED_POLICY
    deleted = aws("delete-lifecycle-policy", "--repository-name", repo)
    assert deleted["lifecyclePolicyText"] == SEED_POLICY
    assert repo in aws.fails("get-lifecycle-policy", "--repository-name", repo, code="LifecyclePolicyNotFoundException")
    aws.fails("delete-lifecycle-policy", "--repository-name", repo, code="LifecyclePolicyNotFoundException")


INVALID = [
    # (policy text, words the message must contain)
    (policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}),
            rule(1, {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan",
                     "countNumber": 1})),
     ["rule 2 (rulePriority 1)", "rulePriority must be unique"]),
    (policy(rule(1, {"tagStatus": "TAGGED", "tagPrefixList": ["v"], "countType": "imageCountMoreThan",
                     "countNumber": 1})),
     ["'tagStatus' is 'TAGGED'", "tagged, untagged, any"]),
    (policy(rule(1, {"tagStatus": "tagged", "countType": "imageCountMoreThan", "countNumber": 1})),
     ["rule 1 (rulePriority 1)", "requires a tagPrefixList or a tagPatternList"]),
    (policy(rule(1, {"tagStatus": "tagged", "tagPatternList": ["test*1*2*3*4*5*6"],
                     "countType": "imageCountMoreThan", "countNumber": 1})),
     ["'test*1*2*3*4*5*6'", "more than four wildcards"]),
    (policy(rule(1, {"tagStatus": "tagged", "tagPrefixList": ["a"], "tagPatternList": ["a*"],
                     "countType": "imageCountMoreThan", "countNumber": 1})),
     ["cannot be used together"]),
    (policy(rule(1, {"tagStatus": "untagged", "tagPrefixList": ["a"], "countType": "imageCountMoreThan",
                     "countNumber": 1})),
     ["tagPrefixList may only be used when tagStatus is 'tagged', not 'untagged'"]),
    (policy(rule(1, {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 9}),
            rule(2, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1})),
     ["rule 1 (rulePriority 1)", "tagStatus 'any' must have the highest rulePriority"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImageCreated", "countNumber": 1})),
     ["'countType' is 'sinceImageCreated'"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countUnit": "days",
                     "countNumber": 1})),
     ["countUnit may only be used with", "not imageCountMoreThan"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "sinceImagePushed", "countNumber": 1})),
     ["countType sinceImagePushed requires countUnit 'days'"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 0})),
     ["countNumber must be a positive integer"]),
    (policy(rule(1, {"tagStatus": "untagged", "storageClass": "glacier", "countType": "imageCountMoreThan",
                     "countNumber": 1})),
     ["'storageClass' is 'glacier'"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                 {"type": "transition"})),
     ["action type 'transition' requires targetStorageClass 'archive'"]),
    (policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
                 {"type": "delete"})),
     ["'type' is 'delete'", "expire, transition"]),
    ('{"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any"}, "action": {"type": "expire"}} ' + " " * 40,
     ["not valid JSON"]),
]


@pytest.mark.parametrize("text,words", INVALID, ids=[f"invalid-{i}" for i in range(len(INVALID))])
def test_invalid_policies_are_refused_naming_the_rule(ecr, repo, text, words):
    assert len(text) >= 100, text
    with pytest.raises(ClientError) as e:
        ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    msg = error(e, "InvalidParameterException")
    assert "Invalid parameter at 'LifecyclePolicyText'" in msg
    for w in words:
        assert w in msg, msg
    # the same check guards previews, and nothing was stored
    with pytest.raises(ClientError) as e:
        ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=text)
    error(e, "InvalidParameterException")
    with pytest.raises(ClientError) as e:
        ecr.get_lifecycle_policy(repositoryName=repo)
    error(e, "LifecyclePolicyNotFoundException")


def test_policy_text_length_bounds(ecr_raw, aws, repo):
    short = '{"rules":[]}'
    with pytest.raises(ClientError) as e:
        ecr_raw.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=short)
    code = e.value.response["Error"]["Code"]
    assert code in ("InvalidParameterException", "ValidationException"), e.value.response
    long = keep_newest(3)[:-1] + " " * 30720 + "}"
    with pytest.raises(ClientError) as e:
        ecr_raw.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=long)
    assert e.value.response["Error"]["Code"] in ("InvalidParameterException", "ValidationException")
    # exactly at the upper bound is accepted
    exact = keep_newest(3)[:-1] + " " * (30720 - len(keep_newest(3))) + "}"
    assert len(exact) == 30720
    assert ecr_raw.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=exact)["lifecyclePolicyText"] == exact
    # and the CLI refuses a bad rule with the message naming it
    msg = aws.fails("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", INVALID[0][0],
                    code="InvalidParameterException")
    assert "rulePriority must be unique" in msg


# ---------------------------------------------------------------------------------------
# Previews
# ---------------------------------------------------------------------------------------

def test_preview_with_waiter_pages_and_filters(ecr, reg, repo):
    d = push_in_order(reg, repo, ["v1", None, ["v3", "stable"], None, "v5", "v6"])
    text = keep_newest(2, priority=7)
    started = ecr.start_lifecycle_policy_preview(repositoryName=repo, lifecyclePolicyText=text)
    assert started["status"] == "IN_PROGRESS"
    assert started["lifecyclePolicyText"] == text
    out = wait_preview(ecr, repo)
    assert out["status"] == "COMPLETE"
    assert out["lifecyclePolicyText"] == text
    res = out["previewResults"]
    # the four oldest go, the two newest (v5, v6) stay
    assert {r["imageDigest"] for r in res} == set(d[:4])
    assert out["summary"]["expiringImageTotalCount"] == 4
    assert "transitioningImageTotalCounts" not in out["summary"]
    by = {r["imageDigest"]: r for r in res}
    assert by[d[0]]["imageTags"] == ["v1"]
    assert sorted(by[d[2]]["imageTags"]) == ["stable", "v3"]
    assert by[d[1]].get("imageTags", []) == []
    for r in res:
        assert r["action"] == {"type": "EXPIRE"}
        assert r["appliedRulePriority"] == 7
        # (Debian's boto3 model has no storageClass: the CLI test checks it)
        assert abs(time.time() - r["imagePushedAt"].timestamp()) < 300
    # a preview changes nothing
    assert remaining(ecr, repo) == set(d)

    # pages of one, in the same order, with nextToken
    seen, token = [], None
    for _ in range(10):
        kw = {"nextToken": token} if token else {}
        page = ecr.get_lifecycle_policy_preview(repositoryName=repo, maxResults=1, **kw)
        seen += [r["imageDigest"] for r in page["previewResults"]]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == [r["imageDigest"] for r in res]
    # boto3's paginator follows them too
    pages = ecr.get_paginator("get_lifecycle_policy_preview").paginate(
        repositoryName=repo, PaginationConfig={"PageSize": 3})
    assert sum(len(p["previewResults"]) for p in pages) == 4

    tagged = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "TAGGED"})
    assert {r["imageDigest"] for r in tagged["previewResults"]} == {d[0], d[2]}
    untagged = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})
    assert {r["imageDigest"] for r in untagged["previewResults"]} == {d[1], d[3]}
    anyf = ecr.get_lifecycle_policy_preview(repositoryName=repo, filter={"tagStatus": "ANY"})
    assert len(anyf["previewResults"]) == 4

    picked = ecr.get_lifecycle_policy_preview(repositoryName=repo,
                                              imageIds=[{"imageTag": "stable"}, {"imageDigest": d[5]}])
    # v6 (d[5]) is kept, so only the image tagged stable has a result
    assert [r["imageDigest"] for r in picked["previewResults"]] == [d[2]]
    with pytest.raises(ClientError) as e:
        ecr.get_lifecycle_policy_preview(repositoryName=repo, imageIds=[{"imageTag": "v1"}], maxResults=5)
    error(e, "InvalidParameterException")


def test_preview_of_the_stored_policy_and_errors(ecr, aws, reg, repo):
    with pytest.raises(ClientError) as e:
        ecr.get_lifecycle_policy_preview(repositoryName=repo)
    assert repo in error(e, "LifecyclePolicyPreviewNotFoundException")
    # no text and no policy: nothing to preview
    with pytest.raises(ClientError) as e:
        ecr.start_lifecycle_policy_preview(repositoryName=repo)
    error(e, "LifecyclePolicyNotFoundException")
    aws.fails("start-lifecycle-policy-preview", "--repository-name", repo, code="LifecyclePolicyNotFoundException")
    aws.fails("get-lifecycle-policy-preview", "--repository-name", repo,
              code="LifecyclePolicyPreviewNotFoundException")

    d = push_in_order(reg, repo, ["a", "b", "c"])
    text = keep_newest(1, priority=3)
    aws("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", text)
    started = aws("start-lifecycle-policy-preview", "--repository-name", repo)
    assert started["lifecyclePolicyText"] == text
    assert started["status"] == "IN_PROGRESS"
    out = wait_preview(ecr, repo)
    assert {r["imageDigest"] for r in out["previewResults"]} == set(d[:2])
    cli = aws("get-lifecycle-policy-preview", "--repository-name", repo)
    assert cli["status"] == "COMPLETE"
    assert cli["summary"]["expiringImageTotalCount"] == 2
    assert {r["imageDigest"] for r in cli["previewResults"]} == set(d[:2])
    assert all(r["appliedRulePriority"] == 3 for r in cli["previewResults"])
    assert all(r["storageClass"] == "STANDARD" and r["action"] == {"type": "EXPIRE"} for r in cli["previewResults"])
    # the CLI's waiter too
    run(["aws", "ecr", "wait", "lifecycle-policy-preview-complete", "--repository-name", repo, "--endpoint-url",
         aws.server.url, "--region", aws.server.region], env=cli_env(aws.server), timeout=60)


def test_preview_in_progress(berth_factory):
    """With no job workers, a preview stays IN_PROGRESS, and another start is refused."""
    srv = berth_factory(extra_args=["--job-workers", "0"])
    ecr = client(srv)
    name = repo_name_for("preview-in-progress")
    create_repository(name, srv)
    ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=keep_newest(1))
    with pytest.raises(ClientError) as e:
        ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=keep_newest(2))
    assert name in error(e, "LifecyclePolicyPreviewInProgressException")
    out = ecr.get_lifecycle_policy_preview(repositoryName=name)
    assert out["status"] == "IN_PROGRESS"
    assert out["previewResults"] == []
    assert "summary" not in out
    Cli(srv).fails("start-lifecycle-policy-preview", "--repository-name", name, "--lifecycle-policy-text",
                   keep_newest(3), code="LifecyclePolicyPreviewInProgressException")


# ---------------------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------------------

def test_admin_run_expires_the_oldest_and_history_lists_it(ecr, aws, reg, berth, repo):
    d = push_in_order(reg, repo, ["r1", None, "r3", ["r4", "latest"], None, "r6"])
    aws("put-lifecycle-policy", "--repository-name", repo, "--lifecycle-policy-text", keep_newest(3, priority=5))
    ecr.start_lifecycle_policy_preview(repositoryName=repo)
    previewed = {r["imageDigest"] for r in wait_preview(ecr, repo)["previewResults"]}
    assert previewed == set(d[:3])

    before = time.time()
    out = admin(berth, "lifecycle", "run", "--repository", repo).stdout
    lines = out.splitlines()[1:]
    assert len(lines) == 3, out
    for line in lines:
        assert "\t5\tEXPIRE\texpired" in line, line
    assert remaining(ecr, repo) == set(d[3:])
    # what the preview showed is what the run did
    assert {line.split("\t")[2] for line in lines} == previewed

    got = ecr.get_lifecycle_policy(repositoryName=repo)
    assert before - 5 <= got["lastEvaluatedAt"].timestamp() <= time.time() + 5
    rows = history(berth, repo)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (d[0], ("r1",), 5, "EXPIRE", "expired"),
        (d[1], (), 5, "EXPIRE", "expired"),
        (d[2], ("r3",), 5, "EXPIRE", "expired"),
    ]
    # a second run finds nothing more to do, and the history is unchanged
    assert len(admin(berth, "lifecycle", "run", "--repository", repo).stdout.splitlines()) == 1
    assert len(history(berth, repo)) == 3


def test_seed_policy_keeps_800(ecr, aws, reg, berth, repo):
    d = push_in_order(reg, repo, ["one", "two"])
    aws("put-lifecycle-policy", "--registry-id", berth.account_id, "--repository-name", repo,
        "--lifecycle-policy-text", SEED_POLICY)
    out = admin(berth, "lifecycle", "run", "--repository", repo).stdout
    assert out.splitlines()[1:] == []
    assert remaining(ecr, repo) == set(d)


def test_index_children_and_referrers(ecr, reg, berth, repo):
    """An image an index lists goes only with the index; an artifact goes with its subject."""
    index = images.make_multiarch()
    reg.push_image(repo, index, tag="multi")
    time.sleep(0.02)
    old = images.make_image(label=images.token())
    reg.push_image(repo, old, tag="old")
    time.sleep(0.02)
    sbom = images.make_artifact(subject=old)
    reg.push_image(repo, sbom)
    time.sleep(0.02)
    d = push_in_order(reg, repo, ["new1", "new2"])
    children = {c.digest for c in index.children}

    # untagged images: the children (listed by an index that stays) and the artifact (follows
    # its subject, which stays): nothing goes
    untagged = policy(rule(1, {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}))
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=untagged)
    assert admin(berth, "lifecycle", "run", "--repository", repo).stdout.splitlines()[1:] == []
    assert remaining(ecr, repo) == children | {index.digest, old.digest, sbom.digest} | set(d)

    # keep the two newest: the index goes with its children, "old" with its artifact
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=keep_newest(2, priority=4))
    ecr.start_lifecycle_policy_preview(repositoryName=repo)
    previewed = {r["imageDigest"] for r in wait_preview(ecr, repo)["previewResults"]}
    assert previewed == children | {index.digest, old.digest, sbom.digest}
    out = admin(berth, "lifecycle", "run", "--repository", repo).stdout
    assert len(out.splitlines()) == 1 + 5, out
    assert remaining(ecr, repo) == set(d)
    done = {r[0]: r for r in history(berth, repo)}
    assert set(done) == previewed
    assert all(r[3] == "EXPIRE" and r[4] == "expired" and r[2] == 4 for r in done.values())


def test_age_rules_and_transition_as_of_a_later_time(ecr, reg, berth, repo):
    d = push_in_order(reg, repo, ["prod-1", "dev-1", None])
    text = policy(
        rule(1, {"tagStatus": "tagged", "tagPatternList": ["prod*"], "countType": "sinceImagePushed",
                 "countUnit": "days", "countNumber": 14}),
        rule(2, {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 30},
             {"type": "transition", "targetStorageClass": "archive"}))
    ecr.put_lifecycle_policy(repositoryName=repo, lifecyclePolicyText=text)
    now = int(time.time())
    # today nothing is old enough
    assert admin(berth, "lifecycle", "run", "--repository", repo, "--at", str(now)).stdout.splitlines()[1:] == []
    # in 15 days the prod image is older than 14 days
    out = admin(berth, "lifecycle", "run", "--repository", repo, "--at", str(now + 15 * 86400)).stdout
    assert len(out.splitlines()) == 2 and d[0] in out and "\t1\tEXPIRE\texpired" in out
    assert remaining(ecr, repo) == set(d[1:])
    # in 31 days the others would move to archive storage, which berth does not have yet: the
    # run records that and leaves them
    out = admin(berth, "lifecycle", "run", "--repository", repo, "--at", str(now + 31 * 86400)).stdout
    lines = out.splitlines()[1:]
    assert len(lines) == 2
    assert all("\t2\tTRANSITION\tnot supported yet" in line for line in lines)
    assert remaining(ecr, repo) == set(d[1:])
    rows = history(berth, repo)
    assert [r[3] for r in rows] == ["EXPIRE", "TRANSITION", "TRANSITION"]


def test_the_background_job_runs_policies(berth_factory):
    srv = berth_factory(extra_args=["--lifecycle-interval-seconds", "1"])
    from regclient import Registry

    reg = Registry(srv)
    ecr = client(srv)
    name = repo_name_for("background-run")
    create_repository(name, srv)
    d = push_in_order(reg, name, ["b1", "b2", "b3"])
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=keep_newest(1))
    deadline = time.monotonic() + 20
    while remaining(ecr, name) != {d[2]} and time.monotonic() < deadline:
        time.sleep(0.2)
    assert remaining(ecr, name) == {d[2]}
    assert "lastEvaluatedAt" in ecr.get_lifecycle_policy(repositoryName=name)
    assert {r[0] for r in history(srv, name)} == set(d[:2])
    jobs = admin(srv, "jobs").stdout
    assert re.search(r"^lifecycle\t\d+\t", jobs, re.M), jobs
    # once the policy is deleted, its job goes
    ecr.delete_lifecycle_policy(repositoryName=name)
    assert not re.search(r"^lifecycle\t", admin(srv, "jobs").stdout, re.M)
