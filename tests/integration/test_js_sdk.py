"""A second SDK family guards the wire formats (issue 12 §6): the AWS SDK for JavaScript v3
(@aws-sdk/client-ecr and @aws-sdk/client-iam, pinned in tests/js/package-lock.json and
installed by `make deps` with `npm ci`), run by Debian's node against the test server.

tests/js/sdk_check.mjs asserts each step itself (ECR: CreateRepository, DescribeRepositories
and its RepositoryNotFoundException, GetAuthorizationToken and a /v2 login with it, a layer
upload, PutImage and BatchGetImage of an OCI manifest; IAM, signed for another region:
CreateUser, TagUser, ListUserTags with pages, UntagUser, NoSuchEntityException) and prints
what it checked."""

import json
import os

from conftest import REPO_ROOT, require_tool, run, token

JS = REPO_ROOT / "tests" / "js"
CHECKED = ["CreateRepository", "DescribeRepositories", "GetAuthorizationToken", "PutImage", "BatchGetImage",
           "CreateUser", "TagUser", "ListUserTags", "UntagUser"]


def test_javascript_sdk_v3(berth):
    require_tool("node")
    for pkg in ("client-ecr", "client-iam"):
        assert (JS / "node_modules" / "@aws-sdk" / pkg).is_dir(), "run `make deps` (npm ci in tests/js)"
    env = dict(os.environ, BERTH_URL=berth.url, BERTH_REGION=berth.region, BERTH_ACCOUNT_ID=berth.account_id,
               BERTH_ACCESS_KEY_ID=berth.access_key, BERTH_SECRET_ACCESS_KEY=berth.secret,
               BERTH_SUFFIX=token(4).lower(), NODE_NO_WARNINGS="1")
    for k in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"):
        env.pop(k, None)
    p = run(["node", JS / "sdk_check.mjs"], env=env, timeout=120, cwd=JS, redact=[berth.secret])
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["checked"] == CHECKED
