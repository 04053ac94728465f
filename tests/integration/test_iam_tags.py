"""IAM's tagging operations (issue 12 §6): TagUser, UntagUser, ListUserTags, TagPolicy,
UntagPolicy and ListPolicyTags, through boto3, the aws CLI and raw Query requests: IAM's
limits (50 tags, key and value lengths and patterns from the model), keys unique without
regard to case, lists sorted by key and paginated, and the errors IAM answers."""

import json
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from test_iam import (IAM_NS, READ_ONLY, aws_cli, client, doc, error_of, expect_error, iam, name,  # noqa: F401
                      new_user_with_key, signed_post)


def tags(*pairs):
    return [{"Key": k, "Value": v} for k, v in pairs]


def test_user_tags_round_trip(iam, name):
    u = name("u")
    iam.create_user(UserName=u, Tags=tags(("Team", "a")))
    iam.tag_user(UserName=u, Tags=tags(("cost-center", "41200"), ("Project", "berth"), ("empty", "")))
    assert iam.list_user_tags(UserName=u)["Tags"] == tags(("Project", "berth"), ("Team", "a"), ("cost-center", "41200"),
                                                          ("empty", ""))
    # same key: the value is overwritten; a key differing only in case replaces the tag (IAM's user keys are
    # case-insensitive, case-preserving)
    iam.tag_user(UserName=u, Tags=tags(("Team", "b"), ("project", "other")))
    got = iam.list_user_tags(UserName=u)
    assert got["Tags"] == tags(("Team", "b"), ("cost-center", "41200"), ("empty", ""), ("project", "other"))
    assert got["IsTruncated"] is False
    assert iam.get_user(UserName=u)["User"]["Tags"] == got["Tags"]
    # untag: keys compared without case; a key the user does not have is no error
    iam.untag_user(UserName=u, TagKeys=["TEAM", "absent", "empty"])
    assert iam.list_user_tags(UserName=u)["Tags"] == tags(("cost-center", "41200"), ("project", "other"))
    iam.untag_user(UserName=u, TagKeys=["cost-center", "project"])
    assert iam.list_user_tags(UserName=u)["Tags"] == []
    assert "Tags" not in iam.get_user(UserName=u)["User"]
    iam.delete_user(UserName=u)


def test_user_tag_limits_and_errors(berth, iam, name):
    u = name("u")
    iam.create_user(UserName=u)
    fifty = tags(*((f"k{i:02}", str(i)) for i in range(50)))
    iam.tag_user(UserName=u, Tags=fifty[:30])
    iam.tag_user(UserName=u, Tags=fifty[30:])
    assert len(iam.list_user_tags(UserName=u)["Tags"]) == 50
    # replacing values at the limit is fine; one more key is not, and the request changes nothing
    iam.tag_user(UserName=u, Tags=tags(("K00", "replaced")))
    msg = expect_error("LimitExceeded", 409, iam.tag_user, UserName=u, Tags=tags(("k10", "x"), ("one-more", "x")))
    assert msg == "Cannot exceed quota for TagsPerUser: 50."
    now = iam.list_user_tags(UserName=u)["Tags"]
    assert len(now) == 50 and {"Key": "k10", "Value": "10"} in now and {"Key": "K00", "Value": "replaced"} in now

    msg = expect_error("InvalidInput", 400, iam.tag_user, UserName=u, Tags=tags(("dup", "1"), ("DUP", "2")))
    assert msg == "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    msg = expect_error("NoSuchEntity", 404, iam.tag_user, UserName=u + "x", Tags=tags(("a", "b")))
    assert msg == f"The user with name {u}x cannot be found."
    expect_error("NoSuchEntity", 404, iam.untag_user, UserName=u + "x", TagKeys=["a"])
    expect_error("NoSuchEntity", 404, iam.list_user_tags, UserName=u + "x")

    # what boto3 would refuse to send, the model refuses on the server (raw Query requests)
    def raw(body):
        r = signed_post(berth, "Version=2010-05-08&UserName=" + u + "&" + body)
        root = ET.fromstring(r.text)
        return r.status_code, root.find(f"{IAM_NS}Error/{IAM_NS}Code").text, root.find(f"{IAM_NS}Error/{IAM_NS}Message").text

    status, code, msg = raw("Action=TagUser&" + "&".join(
        f"Tags.member.{i + 1}.Key=n{i}&Tags.member.{i + 1}.Value=v" for i in range(51)))
    assert (status, code) == (400, "ValidationError") and "Member must have length less than or equal to 50" in msg
    status, code, msg = raw("Action=TagUser&Tags.member.1.Key=" + "k" * 129 + "&Tags.member.1.Value=v")
    assert (status, code) == (400, "ValidationError") and "Member must have length less than or equal to 128" in msg
    status, code, msg = raw("Action=TagUser&Tags.member.1.Key=k&Tags.member.1.Value=" + "v" * 257)
    assert (status, code) == (400, "ValidationError") and "Member must have length less than or equal to 256" in msg
    status, code, msg = raw("Action=TagUser&Tags.member.1.Key=" + urllib.parse.quote("a*b") + "&Tags.member.1.Value=v")
    assert (status, code) == (400, "ValidationError") and "regular expression pattern" in msg
    status, code, msg = raw("Action=TagUser&Tags.member.1.Key=k")
    assert (status, code) == (400, "ValidationError") and "value" in msg.lower()
    status, code, msg = raw("Action=UntagUser&" + "&".join(f"TagKeys.member.{i + 1}=n{i}" for i in range(51)))
    assert (status, code) == (400, "ValidationError") and "Member must have length less than or equal to 50" in msg
    # the largest valid key and value, with letters, spaces and IAM's punctuation, are taken
    key = "Ünïcode key _.:/=+-@" + "k" * 108
    iam.untag_user(UserName=u, TagKeys=[f"k{i:02}" for i in range(50)])
    iam.tag_user(UserName=u, Tags=tags((key, "v" * 256)))
    assert iam.list_user_tags(UserName=u)["Tags"] == tags((key, "v" * 256))
    iam.untag_user(UserName=u, TagKeys=[key])
    iam.delete_user(UserName=u)


def test_list_user_tags_pages(iam, name):
    u = name("u")
    iam.create_user(UserName=u, Tags=tags(*((f"t{i}", str(i)) for i in (4, 1, 3, 0, 2))))
    first = iam.list_user_tags(UserName=u, MaxItems=2)
    assert first["Tags"] == tags(("t0", "0"), ("t1", "1")) and first["IsTruncated"] is True
    second = iam.list_user_tags(UserName=u, MaxItems=2, Marker=first["Marker"])
    assert second["Tags"] == tags(("t2", "2"), ("t3", "3")) and second["IsTruncated"] is True
    third = iam.list_user_tags(UserName=u, MaxItems=2, Marker=second["Marker"])
    assert third["Tags"] == tags(("t4", "4")) and third["IsTruncated"] is False and "Marker" not in third
    pages = iam.get_paginator("list_user_tags").paginate(UserName=u, PaginationConfig={"PageSize": 3})
    assert [t["Key"] for p in pages for t in p["Tags"]] == ["t0", "t1", "t2", "t3", "t4"]
    expect_error("InvalidInput", 400, iam.list_user_tags, UserName=u, Marker="bm90LW91cnM=")
    iam.delete_user(UserName=u)


def test_policy_tags(berth, iam, name):
    p = name("p")
    arn = iam.create_policy(PolicyName=p, PolicyDocument=doc("ecr:ListImages"), Tags=tags(("owner", "ops")))["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=tags(("Env", "prod"), ("OWNER", "sec")))
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == tags(("Env", "prod"), ("OWNER", "sec"))
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == tags(("Env", "prod"), ("OWNER", "sec"))
    iam.untag_policy(PolicyArn=arn, TagKeys=["env", "nothing"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == tags(("OWNER", "sec"))
    msg = expect_error("LimitExceeded", 409, iam.tag_policy, PolicyArn=arn,
                       Tags=tags(*((f"k{i:02}", "v") for i in range(50))))
    assert msg == "Cannot exceed quota for TagsPerPolicy: 50."
    expect_error("InvalidInput", 400, iam.create_policy, PolicyName=p + "2", PolicyDocument=doc("ecr:ListImages"),
                 Tags=tags(("a", "1"), ("A", "2")))

    missing = arn + "-gone"
    msg = expect_error("NoSuchEntity", 404, iam.tag_policy, PolicyArn=missing, Tags=tags(("a", "b")))
    assert msg == f"Policy {missing} was not found."
    expect_error("NoSuchEntity", 404, iam.list_policy_tags, PolicyArn=missing)
    expect_error("InvalidInput", 400, iam.list_policy_tags, PolicyArn="arn:aws:s3:::some-bucket")
    # AWS-managed policies belong to AWS: no tags to list, none to add
    assert iam.list_policy_tags(PolicyArn=READ_ONLY)["Tags"] == []
    expect_error("AccessDenied", 403, iam.tag_policy, PolicyArn=READ_ONLY, Tags=tags(("a", "b")))
    expect_error("AccessDenied", 403, iam.untag_policy, PolicyArn=READ_ONLY, TagKeys=["a"])
    iam.delete_policy(PolicyArn=arn)


def test_tagging_needs_its_iam_action(berth, iam, name):
    u, target = name("u"), name("t")
    akid, secret = new_user_with_key(iam, u)
    iam.create_user(UserName=target)
    theirs = client(berth, "iam", akid, secret)
    expect_error("AccessDenied", 403, theirs.tag_user, UserName=target, Tags=tags(("a", "b")))
    iam.put_user_policy(UserName=u, PolicyName="tagging", PolicyDocument=doc("iam:TagUser", "iam:ListUserTags"))
    theirs.tag_user(UserName=target, Tags=tags(("a", "b")))
    assert theirs.list_user_tags(UserName=target)["Tags"] == tags(("a", "b"))
    expect_error("AccessDenied", 403, theirs.untag_user, UserName=target, TagKeys=["a"])
    iam.delete_user_policy(UserName=u, PolicyName="tagging")
    iam.delete_access_key(UserName=u, AccessKeyId=akid)
    iam.untag_user(UserName=target, TagKeys=["a"])
    for x in (u, target):
        iam.delete_user(UserName=x)


def test_tagging_with_the_aws_cli(berth, iam, name):
    u, p = name("u"), name("p")
    aws_cli(berth, "iam", "create-user", "--user-name", u)
    aws_cli(berth, "iam", "tag-user", "--user-name", u, "--tags", "Key=team,Value=platform", "Key=tier,Value=1")
    # (the CLI pages through the list itself and shows only the tags)
    assert aws_cli(berth, "iam", "list-user-tags", "--user-name", u) == {"Tags": tags(("team", "platform"), ("tier", "1"))}
    aws_cli(berth, "iam", "untag-user", "--user-name", u, "--tag-keys", "tier")
    assert aws_cli(berth, "iam", "list-user-tags", "--user-name", u)["Tags"] == tags(("team", "platform"))
    arn = aws_cli(berth, "iam", "create-policy", "--policy-name", p, "--policy-document",
                  doc("ecr:ListImages"))["Policy"]["Arn"]
    aws_cli(berth, "iam", "tag-policy", "--policy-arn", arn, "--tags", json.dumps(tags(("env", "dev"))))
    assert aws_cli(berth, "iam", "list-policy-tags", "--policy-arn", arn)["Tags"] == tags(("env", "dev"))
    aws_cli(berth, "iam", "untag-policy", "--policy-arn", arn, "--tag-keys", "env")
    assert aws_cli(berth, "iam", "list-policy-tags", "--policy-arn", arn)["Tags"] == []
    p2 = aws_cli(berth, "iam", "tag-user", "--user-name", u, "--tags", "Key=a,Value=1", "Key=A,Value=2", check=False)
    assert p2.returncode != 0 and "(InvalidInput)" in p2.stderr
    iam.untag_user(UserName=u, TagKeys=["team"])
    iam.delete_user(UserName=u)
    iam.delete_policy(PolicyArn=arn)


def test_tagging_wire_format(berth, iam, name):
    """IAM's XML: <ListUserTagsResult> with <Tags><member>, an empty <Tags/> for none, and a
    TagUserResponse with only ResponseMetadata."""
    u = name("u")
    iam.create_user(UserName=u)
    r = signed_post(berth, f"Action=ListUserTags&Version=2010-05-08&UserName={u}")
    root = ET.fromstring(r.text)
    assert r.status_code == 200 and root.tag == IAM_NS + "ListUserTagsResponse"
    result = root.find(f"{IAM_NS}ListUserTagsResult")
    assert result.find(f"{IAM_NS}Tags") is not None and list(result.find(f"{IAM_NS}Tags")) == []
    assert result.find(f"{IAM_NS}IsTruncated").text == "false"
    r = signed_post(berth, f"Action=TagUser&Version=2010-05-08&UserName={u}&Tags.member.1.Key=k%20%3A%2F&Tags.member.1.Value=")
    root = ET.fromstring(r.text)
    assert r.status_code == 200 and root.tag == IAM_NS + "TagUserResponse"
    assert [c.tag for c in root] == [IAM_NS + "ResponseMetadata"]
    r = signed_post(berth, f"Action=ListUserTags&Version=2010-05-08&UserName={u}")
    member = ET.fromstring(r.text).find(f"{IAM_NS}ListUserTagsResult/{IAM_NS}Tags/{IAM_NS}member")
    assert member.find(f"{IAM_NS}Key").text == "k :/" and not member.find(f"{IAM_NS}Value").text
    iam.untag_user(UserName=u, TagKeys=["k :/"])
    iam.delete_user(UserName=u)
