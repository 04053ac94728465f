"""Content discovery: referrers (with artifactType filter), tags/list and _catalog pagination."""

import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest

import images
from conftest import create_repository
from regclient import assert_error, describe, json_body

TYPE_A = "application/vnd.example.sbom.v1"
TYPE_B = "application/vnd.example.signature.v1"
TYPE_IDX = "application/vnd.example.bundle.v1"
KEY = "org.example.test"


def next_link(resp):
    link = resp.headers.get("Link")
    if not link:
        return None
    m = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
    assert m, f"malformed Link header {link!r}"
    return m.group(1)


def push_referrer(reg, repo, obj):
    """Push an artifact (its blobs first) and return the PUT response."""
    if isinstance(obj, images.Image):
        for b in obj.blobs:
            if not reg.blob_exists(repo, b.digest):
                reg.push_blob(repo, b)
    r = reg.put_manifest(repo, obj.digest, obj.manifest, obj.media_type)
    assert r.status_code == 201, describe(r)
    return r


@pytest.fixture
def referrers_setup(reg, repo):
    subject = images.make_image()
    reg.push_image(repo, subject, tag="subject")
    a1 = images.make_artifact(subject, TYPE_A, annotations={KEY: "a1"})
    a2 = images.make_artifact(subject, TYPE_A, annotations={KEY: "a2"}, config_as_type=True)
    b1 = images.make_artifact(subject, TYPE_B, annotations={KEY: "b1"})
    unrelated = images.make_artifact(images.make_image(), TYPE_A)  # subject never pushed
    responses = {}
    for name, art in (("a1", a1), ("a2", a2), ("b1", b1), ("unrelated", unrelated)):
        responses[name] = push_referrer(reg, repo, art)
    # an index with a subject and an artifactType (children: a1 and b1)
    idx = images.make_index([a1, b1], subject=subject, artifact_type=TYPE_IDX, annotations={KEY: "idx"})
    responses["idx"] = push_referrer(reg, repo, idx)
    return {"repo": repo, "subject": subject, "a1": a1, "a2": a2, "b1": b1, "idx": idx,
            "unrelated": unrelated, "responses": responses}


def get_referrers(reg, repo, digest, **params):
    r = reg.get(f"/v2/{repo}/referrers/{digest}", params=params or None)
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == images.OCI_INDEX, describe(r)
    doc = json_body(r)
    assert doc.get("schemaVersion") == 2, doc
    assert doc.get("mediaType") == images.OCI_INDEX, doc
    assert isinstance(doc.get("manifests"), list), doc
    return r, doc["manifests"]


def test_put_with_subject_answers_oci_subject(referrers_setup):
    s = referrers_setup
    for name in ("a1", "a2", "b1", "idx"):
        r = s["responses"][name]
        assert r.headers.get("OCI-Subject") == s["subject"].digest, describe(r)
    assert s["responses"]["unrelated"].headers.get("OCI-Subject") == s["unrelated"].json["subject"]["digest"]


def test_referrers_lists_every_referrer_with_descriptor_fields(reg, referrers_setup):
    s = referrers_setup
    _, manifests = get_referrers(reg, s["repo"], s["subject"].digest)
    by_digest = {m["digest"]: m for m in manifests}
    assert len(manifests) == 4 and len(by_digest) == 4, manifests
    expected = {
        s["a1"].digest: (images.OCI_MANIFEST, s["a1"].size, TYPE_A, "a1"),
        s["a2"].digest: (images.OCI_MANIFEST, s["a2"].size, TYPE_A, "a2"),  # type from config.mediaType
        s["b1"].digest: (images.OCI_MANIFEST, s["b1"].size, TYPE_B, "b1"),
        s["idx"].digest: (images.OCI_INDEX, s["idx"].size, TYPE_IDX, "idx"),
    }
    for digest, (mt, size, at, ann) in expected.items():
        d = by_digest.get(digest)
        assert d is not None, f"{digest} missing from {manifests}"
        assert d.get("mediaType") == mt, d
        assert d.get("size") == size, d
        assert d.get("artifactType") == at, d
        assert d.get("annotations") == {KEY: ann}, d


def test_referrers_filter_by_artifact_type(reg, referrers_setup):
    s = referrers_setup
    r, manifests = get_referrers(reg, s["repo"], s["subject"].digest, artifactType=TYPE_A)
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
    assert sorted(m["digest"] for m in manifests) == sorted([s["a1"].digest, s["a2"].digest])
    assert all(m["artifactType"] == TYPE_A for m in manifests)
    r, manifests = get_referrers(reg, s["repo"], s["subject"].digest, artifactType=TYPE_IDX)
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
    assert [m["digest"] for m in manifests] == [s["idx"].digest]


def test_referrers_filter_without_match_is_empty(reg, referrers_setup):
    s = referrers_setup
    r, manifests = get_referrers(reg, s["repo"], s["subject"].digest, artifactType="application/x-none")
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
    assert manifests == []


def test_referrers_filter_value_with_reserved_characters(reg, repo):
    """artifactType values carry '+' and '.': the query value must be URL-decoded, not taken raw
    (and '+' is not a space here, it arrives as %2B)."""
    subject = images.make_image()
    reg.push_image(repo, subject, tag="s")
    plus = images.make_artifact(subject, "application/vnd.example.report+json")
    other = images.make_artifact(subject, "application/vnd.example.report")
    for art in (plus, other):
        push_referrer(reg, repo, art)
    r, manifests = get_referrers(reg, repo, subject.digest, artifactType="application/vnd.example.report+json")
    assert r.headers.get("OCI-Filters-Applied") == "artifactType", describe(r)
    assert [m["digest"] for m in manifests] == [plus.digest], manifests


def test_referrers_of_unknown_digest_is_empty_index(reg, referrers_setup):
    s = referrers_setup
    _, manifests = get_referrers(reg, s["repo"], images.sha256(os.urandom(8)))
    assert manifests == []


def test_referrers_of_subject_that_was_never_pushed(reg, referrers_setup):
    s = referrers_setup
    subject_digest = s["unrelated"].json["subject"]["digest"]
    _, manifests = get_referrers(reg, s["repo"], subject_digest)
    assert [m["digest"] for m in manifests] == [s["unrelated"].digest]


def test_referrer_pushed_before_subject(reg, repo):
    subject = images.make_image()
    art = images.make_artifact(subject, TYPE_B)
    push_referrer(reg, repo, art)
    reg.push_image(repo, subject, tag="late")
    _, manifests = get_referrers(reg, repo, subject.digest)
    assert [m["digest"] for m in manifests] == [art.digest]


def test_deleted_referrer_disappears(reg, referrers_setup):
    s = referrers_setup
    # b1 is listed by the index idx, so it stays until idx goes (docs/compatibility.md)
    r = reg.delete(f"/v2/{s['repo']}/manifests/{s['b1'].digest}")
    assert r.status_code == 409, describe(r)
    r = reg.delete(f"/v2/{s['repo']}/manifests/{s['a2'].digest}")
    assert r.status_code == 202, describe(r)
    _, manifests = get_referrers(reg, s["repo"], s["subject"].digest)
    assert s["a2"].digest not in [m["digest"] for m in manifests]
    assert s["b1"].digest in [m["digest"] for m in manifests]
    assert len(manifests) == 3


def test_referrers_are_per_repository(reg, referrers_setup, new_repo):
    s = referrers_setup
    other = new_repo("other")
    reg.push_image(other, s["subject"], tag="subject")
    _, manifests = get_referrers(reg, other, s["subject"].digest)
    assert manifests == []


def test_referrers_of_an_index_subject(reg, repo):
    idx = images.make_multiarch()
    reg.push_image(repo, idx, tag="multi")
    sig = images.make_artifact(idx, TYPE_B)
    r = push_referrer(reg, repo, sig)
    assert r.headers.get("OCI-Subject") == idx.digest
    _, manifests = get_referrers(reg, repo, idx.digest)
    assert [m["digest"] for m in manifests] == [sig.digest]


def test_referrers_with_invalid_digest_is_400(reg, repo):
    reg.push_image(repo, images.make_image(), tag="x")
    r = reg.get(f"/v2/{repo}/referrers/sha256:not-a-digest")
    assert_error(r, 400, "DIGEST_INVALID")


def test_artifact_is_pullable_like_any_manifest(reg, referrers_setup):
    s = referrers_setup
    r = reg.get_manifest(s["repo"], s["a1"].digest)
    assert r.status_code == 200 and r.content == s["a1"].manifest, describe(r)
    for b in s["a1"].blobs:
        g = reg.get(f"/v2/{s['repo']}/blobs/{b.digest}")
        assert g.status_code == 200 and g.content == b.data, describe(g)


# -- tags/list ----------------------------------------------------------------------------

TAGS = ["alpha", "beta", "delta", "epsilon", "gamma", "v1.0", "v1.1", "v2"]


@pytest.fixture
def tagged_repo(reg, repo):
    img = images.make_image()
    for t in reversed(TAGS):
        reg.push_image(repo, img, tag=t)
    return repo


def test_tags_list_is_sorted_and_named(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    doc = r.json()
    assert doc == {"name": tagged_repo, "tags": sorted(TAGS)}, doc
    assert next_link(r) is None


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_tags_list_pagination_follows_link(reg, tagged_repo, n):
    url = f"/v2/{tagged_repo}/tags/list?n={n}"
    seen, pages = [], 0
    while url:
        r = reg.get(url)
        assert r.status_code == 200, describe(r)
        tags = r.json()["tags"]
        assert 0 < len(tags) <= n, describe(r)
        seen += tags
        pages += 1
        nxt = next_link(r)
        if nxt:
            assert len(tags) == n, describe(r)
            q = parse_qs(urlsplit(nxt).query)
            assert q.get("n") == [str(n)], nxt
            assert q.get("last") == [tags[-1]], nxt
            assert urlsplit(nxt).path == f"/v2/{tagged_repo}/tags/list", nxt
        url = nxt
        assert pages <= len(TAGS) + 1
    assert seen == sorted(TAGS)


def test_tags_list_n_exactly_count_has_no_dangling_page(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"n": len(TAGS)})
    assert r.json()["tags"] == sorted(TAGS)
    nxt = next_link(r)
    if nxt:  # a Link to an empty last page is tolerated, but it must really be empty
        r2 = reg.get(nxt)
        assert r2.status_code == 200 and not r2.json().get("tags"), describe(r2)


def test_tags_list_n_zero_is_empty_without_link(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"n": 0})
    assert r.status_code == 200, describe(r)
    assert not r.json().get("tags"), describe(r)
    assert next_link(r) is None, describe(r)


def test_tags_list_last_without_n(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"last": "delta"})
    assert r.status_code == 200, describe(r)
    assert r.json()["tags"] == [t for t in sorted(TAGS) if t > "delta"]


def test_tags_list_last_with_n(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"n": 2, "last": "beta"})
    assert r.json()["tags"] == ["delta", "epsilon"], describe(r)


def test_tags_list_last_is_not_required_to_exist(reg, tagged_repo):
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"n": 3, "last": "c"})
    assert r.json()["tags"] == ["delta", "epsilon", "gamma"], describe(r)
    r = reg.get(f"/v2/{tagged_repo}/tags/list", params={"last": "zzz"})
    assert r.status_code == 200 and not r.json().get("tags"), describe(r)


def test_many_tags_without_n_are_all_listed(reg, repo):
    """Without n the server may still page (with a Link); following it yields every tag once."""
    img = images.make_image()
    reg.push_image(repo, img, tag="t000")
    for i in range(1, 150):
        r = reg.put_manifest(repo, f"t{i:03d}", img.manifest, img.media_type)
        assert r.status_code == 201, describe(r)
    seen, url = [], f"/v2/{repo}/tags/list"
    while url:
        r = reg.get(url)
        assert r.status_code == 200, describe(r)
        seen += r.json()["tags"]
        url = next_link(r)
    assert seen == [f"t{i:03d}" for i in range(150)]


def test_tags_list_of_unknown_repository_is_name_unknown(reg):
    r = reg.get(f"/v2/itest/never-{os.urandom(3).hex()}/tags/list")
    assert_error(r, 404, "NAME_UNKNOWN")


def test_tags_list_with_invalid_name_is_name_invalid(reg):
    r = reg.get("/v2/Bad_Name/tags/list")
    assert_error(r, (400, 404), "NAME_INVALID")


# -- _catalog -------------------------------------------------------------------------------

def in_catalog_order(names):
    """Lexical order of the names, either byte-wise or path component by component (as
    Distribution walks its storage); the catalog is not in the OCI spec, so both are accepted."""
    return names == sorted(names) or names == sorted(names, key=lambda n: n.split("/"))


@pytest.fixture
def catalog_repos(reg):
    prefix = f"itest/catalog-{os.urandom(3).hex()}"
    names = [f"{prefix}/r{i}" for i in range(5)]
    img = images.make_image()
    for name in reversed(names):
        create_repository(name, reg.server)
        reg.push_image(name, img, tag="x")
    return prefix, names


def test_catalog_lists_repositories_sorted(reg, catalog_repos):
    _, names = catalog_repos
    everything, url = [], "/v2/_catalog?n=100"
    while url:
        r = reg.get(url)
        assert r.status_code == 200, describe(r)
        everything += r.json()["repositories"]
        url = next_link(r)
    assert in_catalog_order(everything), "catalog not sorted"
    assert len(everything) == len(set(everything)), "catalog has duplicates"
    assert set(names) <= set(everything)


def test_catalog_without_n(reg, catalog_repos):
    _, names = catalog_repos
    r = reg.get("/v2/_catalog")
    assert r.status_code == 200, describe(r)
    repos = r.json()["repositories"]
    if next_link(r) is None:
        assert set(names) <= set(repos)
    assert in_catalog_order(repos)


def test_catalog_pagination_with_link(reg, catalog_repos):
    prefix, names = catalog_repos
    url = f"/v2/_catalog?n=2&last={prefix}"
    seen = []
    for _ in range(3):
        r = reg.get(url)
        assert r.status_code == 200, describe(r)
        page = r.json()["repositories"]
        assert len(page) <= 2
        seen += page
        url = next_link(r)
        if len(seen) < 5:
            assert url, describe(r)
            q = parse_qs(urlsplit(url).query)
            assert q.get("n") == ["2"] and q.get("last") == [page[-1]], url
            assert urlsplit(url).path == "/v2/_catalog", url
    assert seen[:5] == names


def test_catalog_last_skips_earlier_names(reg, catalog_repos):
    _, names = catalog_repos
    r = reg.get("/v2/_catalog", params={"n": 3, "last": names[1]})
    assert r.json()["repositories"] == names[2:5], describe(r)
