"""Listing that stays correct while it became fast (issue 8 §2): the tagStatus filters of ListImages and
DescribeImages served from stored tag counts, pagination through them, an index's size stored at
put, referrers' annotations stored at put, /v2 tags/list cut into default pages with a Link header,
and the migration that backfills all of it into an existing database.
"""

import sqlite3
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

import images
from conftest import migration_sql, token
from regclient import Registry, describe
from test_image_status import ecr_raw


@pytest.fixture(scope="module")
def ecr(berth):
    return boto3.client("ecr", endpoint_url=berth.url, region_name=berth.region, aws_access_key_id=berth.access_key,
                        aws_secret_access_key=berth.secret, config=Config(retries={"max_attempts": 1}))


def push_tags(reg, repo, obj, *tags):
    reg.push_image(repo, obj, tag=tags[0] if tags else None)
    for t in tags[1:]:
        r = reg.put_manifest(repo, t, obj.manifest, obj.media_type)
        assert r.status_code == 201, describe(r)
    return obj.digest


def pages(fn, key, **kw):
    """Every page of fn(**kw, maxResults=2): the entries in order, each page at most 2 long."""
    out, tok = [], None
    while True:
        args = dict(kw, maxResults=2)
        if tok:
            args["nextToken"] = tok
        r = fn(**args)
        assert len(r[key]) <= 2
        out += r[key]
        tok = r.get("nextToken")
        if not tok:
            return out


def describe_all(ecr, repo, status=None):
    kw = {"filter": {"tagStatus": status}} if status else {}
    return pages(ecr.describe_images, "imageDetails", repositoryName=repo, **kw)


def list_all(ecr, repo, status=None):
    kw = {"filter": {"tagStatus": status}} if status else {}
    return pages(ecr.list_images, "imageIds", repositoryName=repo, **kw)


def check_listings(ecr, repo, tags_of):
    """tags_of: digest -> sorted tags (empty: untagged), what the repository must show."""
    untagged = sorted(d for d, t in tags_of.items() if not t)
    tagged = sorted(d for d, t in tags_of.items() if t)
    got = describe_all(ecr, repo, "UNTAGGED")
    assert [d["imageDigest"] for d in got] == untagged
    assert all("imageTags" not in d for d in got)
    got = describe_all(ecr, repo, "TAGGED")
    assert [d["imageDigest"] for d in got] == tagged
    assert {d["imageDigest"]: d["imageTags"] for d in got} == {d: tags_of[d] for d in tagged}
    assert [d["imageDigest"] for d in describe_all(ecr, repo)] == sorted(tags_of)
    pairs = sorted((t, d) for d, ts in tags_of.items() for t in ts)
    assert [(i["imageTag"], i["imageDigest"]) for i in list_all(ecr, repo, "TAGGED")] == pairs
    assert [i["imageDigest"] for i in list_all(ecr, repo, "UNTAGGED")] == untagged
    assert all("imageTag" not in i for i in list_all(ecr, repo, "UNTAGGED"))
    every = list_all(ecr, repo)
    assert [(i.get("imageTag"), i["imageDigest"]) for i in every] == pairs + [(None, d) for d in untagged]


def test_tag_filters_and_pages_follow_every_change(ecr, reg):
    repo = "listing/" + token()
    imgs = [images.make_image() for _ in range(9)]
    tags_of = {}
    for i, img in enumerate(imgs):
        tags = [f"t{i}"] + ([f"extra{i}"] if i % 3 == 0 else []) if i < 5 else []
        push_tags(reg, repo, img, *tags)
        tags_of[img.digest] = sorted(tags)
    check_listings(ecr, repo, tags_of)

    # a tag moves to an untagged image: its old image (one tag) becomes untagged
    r = reg.put_manifest(repo, "t1", imgs[6].manifest, imgs[6].media_type)
    assert r.status_code == 201, describe(r)
    tags_of[imgs[1].digest] = []
    tags_of[imgs[6].digest] = ["t1"]
    check_listings(ecr, repo, tags_of)

    # removing one of two tags leaves the image tagged; removing the last one (ECR) deletes it
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "extra0"}])
    tags_of[imgs[0].digest] = ["t0"]
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageTag": "t2"}])
    del tags_of[imgs[2].digest]
    # /v2 DELETE of a tag keeps the image, untagged
    assert reg.delete(f"/v2/{repo}/manifests/t4").status_code == 202
    tags_of[imgs[4].digest] = []
    # deleting an untagged image by digest
    ecr.batch_delete_image(repositoryName=repo, imageIds=[{"imageDigest": imgs[7].digest}])
    del tags_of[imgs[7].digest]
    check_listings(ecr, repo, tags_of)


def test_index_size_is_its_largest_child(ecr, reg):
    repo = "listing/" + token()
    small = images.make_image("amd64", layer_size=1000)
    big = images.make_image("arm64", layer_size=50000)
    idx = images.make_index([small, big])
    reg.push_image(repo, idx, tag="multi")
    got = {d["imageDigest"]: d["imageSizeInBytes"] for d in
           ecr.describe_images(repositoryName=repo, filter={"tagStatus": "ANY"})["imageDetails"]}
    assert got[small.digest] < got[big.digest]
    assert got[idx.digest] == got[big.digest]
    # an index of indexes is as large as the largest image below it
    outer = images.make_index([idx], annotations={"k": "v"})
    reg.push_image(repo, outer)
    d = ecr.describe_images(repositoryName=repo, imageIds=[{"imageDigest": outer.digest}])["imageDetails"][0]
    assert d["imageSizeInBytes"] == got[big.digest]


def test_tags_list_default_page_and_link(reg):
    repo = "listing/" + token()
    img = images.make_image()
    reg.push_image(repo, img, tag="tag-0000")
    for i in range(1, 1000):
        r = reg.put_manifest(repo, f"tag-{i:04d}", img.manifest, img.media_type)
        assert r.status_code == 201, describe(r)
    reg.push_image(repo, images.make_image(), tag="tag-1000")  # an image has at most 1000 tags
    r = reg.get(f"/v2/{repo}/tags/list")
    assert r.status_code == 200
    first = r.json()["tags"]
    assert first == [f"tag-{i:04d}" for i in range(1000)]
    link = r.headers.get("Link", "")
    assert 'rel="next"' in link, r.headers
    nxt = urlsplit(link[link.index("<") + 1:link.index(">")])
    assert nxt.path == f"/v2/{repo}/tags/list" and "last=tag-0999" in nxt.query
    r = reg.get(nxt.path + "?" + nxt.query)
    assert r.status_code == 200 and r.json()["tags"] == ["tag-1000"]
    assert "Link" not in r.headers
    # n asks for a page of its own size
    r = reg.get(f"/v2/{repo}/tags/list", params={"n": 5, "last": "tag-0100"})
    assert r.json()["tags"] == [f"tag-{i:04d}" for i in range(101, 106)]
    assert "last=tag-0105" in r.headers.get("Link", "")


def test_referrers_pages_with_type_filter_and_annotations(reg, berth):
    repo = "listing/" + token()
    subject = images.make_image()
    reg.push_image(repo, subject, tag="app")
    want = {}
    for i in range(7):
        kind = "application/vnd.example.b.v1" if i % 2 else "application/vnd.example.a.v1"
        art = images.make_artifact(subject=subject, artifact_type=kind, annotations={"n": str(i)})
        reg.push_image(repo, art)
        if i % 2:
            want[art.digest] = {"n": str(i)}
    got, tok = [], None
    while True:
        body = {"repositoryName": repo, "subjectId": {"imageDigest": subject.digest}, "maxResults": 2,
                "filter": {"artifactTypes": ["application/vnd.example.b.v1"]}}
        if tok:
            body["nextToken"] = tok
        r = ecr_raw(berth, "ListImageReferrers", body)
        assert r.status_code == 200, r.text
        assert len(r.json()["referrers"]) <= 2
        got += r.json()["referrers"]
        tok = r.json().get("nextToken")
        if not tok:
            break
    assert [g["digest"] for g in got] == sorted(want)
    assert {g["digest"]: g["annotations"] for g in got} == want
    r = reg.get(f"/v2/{repo}/referrers/{subject.digest}", params={"artifactType": "application/vnd.example.b.v1"})
    assert {m["digest"]: m["annotations"] for m in r.json()["manifests"]} == want


@pytest.mark.sqlite_only("takes berth.db back to an older SQLite schema; PostgreSQL's schema starts at this version")
def test_migration_backfills_an_existing_database(berth_factory):
    srv = berth_factory()
    reg = Registry(srv)
    ecr = boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
                       aws_secret_access_key=srv.secret, config=Config(retries={"max_attempts": 1}))
    repo = "listing/" + token()
    small, big = images.make_image("amd64", layer_size=100), images.make_image("arm64", layer_size=30000)
    idx = images.make_index([small, big])
    reg.push_image(repo, idx, tag="multi")
    loose = images.make_image()
    push_tags(reg, repo, loose, "a", "b")
    art = images.make_artifact(subject=loose, annotations={"org.example": "yes"})
    reg.push_image(repo, art)
    before = {d["imageDigest"]: d for d in
              ecr.describe_images(repositoryName=repo, filter={"tagStatus": "ANY"})["imageDetails"]}
    srv.stop()

    # take the database back to the schema before this migration, as an older berth left it
    db = sqlite3.connect(srv.data_dir / "berth.db")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tags_count_%'"):
        db.execute(f"DROP TRIGGER {name}")
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('manifests_status', "
                              "'manifests_untagged', 'manifests_tagged', 'manifests_status_untagged', "
                              "'manifests_status_tagged')").fetchall():
        db.execute(f"DROP INDEX {name}")
    db.execute("DROP TABLE pull_time_exclusions")
    # a later migration's index covers this migration's columns: it goes first, and is made again below
    db.execute("DROP INDEX manifests_lifecycle")
    db.execute("DROP INDEX manifests_pushed")
    # an older berth stored an index's largest child manifest size as its image size
    db.execute("UPDATE manifests SET image_size = 1 WHERE digest = ?", (idx.digest,))
    for col in ("tag_count", "status", "archived_at", "activated_at", "annotations"):
        db.execute(f"ALTER TABLE manifests DROP COLUMN {col}")
    db.commit()
    assert db.execute("SELECT image_size FROM manifests WHERE digest = ?", (idx.digest,)).fetchone() == (1,)
    db.executescript(migration_sql("listing at scale"))
    # the later migration that rebuilds the lifecycle index over this migration's columns
    db.execute("CREATE INDEX manifests_lifecycle ON manifests(repo_id)")
    db.executescript(migration_sql("lifecycle policies see the archive storage class"))
    db.executescript(migration_sql("the console's Images tab, newest push first across pages"))
    assert db.execute("PRAGMA user_version").fetchone()[0] == version
    db.close()

    srv.start()
    after = {d["imageDigest"]: d for d in
             ecr.describe_images(repositoryName=repo, filter={"tagStatus": "ANY"})["imageDetails"]}
    assert after == before
    assert after[idx.digest]["imageSizeInBytes"] == after[big.digest]["imageSizeInBytes"]
    untagged = {d["imageDigest"] for d in
                ecr.describe_images(repositoryName=repo, filter={"tagStatus": "UNTAGGED"})["imageDetails"]}
    assert untagged == {small.digest, big.digest, art.digest}
    r = reg.get(f"/v2/{repo}/referrers/{loose.digest}")
    assert r.json()["manifests"][0]["annotations"] == {"org.example": "yes"}
    srv.stop()
