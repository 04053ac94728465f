"""A write waiting for a lock waits on a defer thread, never on the HTTP thread that serves its
connection among others (docs/operations.md, "Writes and long work"). Here one HTTP thread
(--threads 1) serves every connection, and a manifest put is held open in its transaction (the
test hook BERTH_TEST_PUT_HOLD), holding SQLite's write lock, while more writes queue behind it
than the server starts defer threads with: pulls, listings, ECR and IAM reads are answered at
once meanwhile, and every queued write commits after the held one. Before, the held put itself
held the only HTTP thread, and every connection waited for its commit.
(PostgreSQL, where writes to other repositories go on meanwhile: test_pg_locks.py.)"""

import functools
import time

import boto3

import images
from conftest import create_repository
from regclient import Registry, describe
from workload import Timed, wait_for_hold

HOLD_MS = 3000
HOLD_TAG = "held"
QUEUED = 6  # more than the 4 defer threads a server starts with
READ_SECONDS = 1.0


def test_reads_are_answered_while_writes_wait_for_the_lock(berth_factory):
    s = berth_factory(extra_args=["--threads", "1"], extra_env={"BERTH_TEST_PUT_HOLD": f"{HOLD_TAG}={HOLD_MS}"})
    repo = create_repository("defer/held", s)
    reg = Registry(s)
    base, held_img = images.make_image(label="defer-base"), images.make_image(label="defer-held")
    queued = [images.make_image(label=f"defer-queued-{i}") for i in range(QUEUED)]
    reg.push_image(repo, base, tag="base")
    for img in (held_img, *queued):
        for blob in img.blobs:
            reg.push_blob(repo, blob)
    kw = dict(endpoint_url=s.url, region_name=s.region, aws_access_key_id=s.access_key,
              aws_secret_access_key=s.secret)
    ecr, iam = boto3.client("ecr", **kw), boto3.client("iam", **kw)

    held = Timed(lambda: reg.put_manifest(repo, HOLD_TAG, held_img.manifest, held_img.media_type))
    held.start()
    wait_for_hold(s, HOLD_TAG, 1)
    writes = [Timed(functools.partial(reg.put_manifest, repo, f"queued-{i}", img.manifest, img.media_type))
              for i, img in enumerate(queued)]
    writes.append(Timed(lambda: ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability="IMMUTABLE")))
    for t in writes:
        t.start()
    time.sleep(0.3)  # the writes reach their BEGIN and wait

    reads = {
        "pull of a manifest": lambda: reg.get_manifest(repo, "base").status_code == 200,
        "pull of a layer": lambda: reg.get(f"/v2/{repo}/blobs/{base.layers[0].digest}").status_code == 200,
        "tag listing": lambda: "base" in reg.get(f"/v2/{repo}/tags/list").json()["tags"],
        "DescribeRepositories": lambda: ecr.describe_repositories(repositoryNames=[repo])["repositories"] != [],
        "ListUsers": lambda: "Users" in iam.list_users(),
    }
    for what, read in reads.items():
        t0 = time.monotonic()
        assert read(), what
        took = time.monotonic() - t0
        assert took < READ_SECONDS, f"{what} took {took:.2f}s while writes waited for the lock"
    assert held.is_alive(), "the held put committed before the reads were done: the test proves nothing"

    for t in (held, *writes):
        t.join(60)
        assert t.error is None, t.error
    assert held.result.status_code == 201, describe(held.result)
    for t in writes[:-1]:
        assert t.result.status_code == 201, describe(t.result)
        assert t.ended >= held.ended - 0.05, "a queued write ended before the held put committed"
    assert ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["imageTagMutability"] == "IMMUTABLE"
    assert len(ecr.list_images(repositoryName=repo)["imageIds"]) == QUEUED + 2
