"""The control plane's SigV4 checks, against the running server, with requests signed by
botocore's own signer and then spoiled one way at a time (issue: control plane §6)."""

import datetime
import json

import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"


def signed(server, *, secret=None, key=None, region=None, service="ecr", body=b"{}", when=None,
           signed_headers=None, target=TARGET):
    creds = Credentials(key or server.access_key, secret or server.secret)
    req = AWSRequest(method="POST", url=server.url + "/", data=body,
                     headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    signer = SigV4Auth(creds, service, region or server.region)
    if when is not None:
        # botocore stamps the current time; sign as of `when` instead
        class Fixed(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when.replace(tzinfo=tz) if tz else when
        import botocore.auth as ba
        saved = ba.datetime.datetime
        ba.datetime.datetime = Fixed
        try:
            signer.add_auth(req)
        finally:
            ba.datetime.datetime = saved
    else:
        signer.add_auth(req)
    headers = dict(req.headers.items())
    if signed_headers is not None:
        auth = headers["Authorization"]
        import re
        headers["Authorization"] = re.sub(r"SignedHeaders=[^,]+", "SignedHeaders=" + signed_headers, auth)
    return headers, body


def post(server, headers, body):
    return requests.post(server.url + "/", headers=headers, data=body, timeout=30)


def error(r):
    doc = r.json()
    assert r.headers.get("x-amzn-ErrorType", "").split(":")[0] == doc["__type"]
    assert r.headers.get("x-amzn-RequestId")
    return doc["__type"], doc["message"]


def test_a_good_signature_works(berth):
    r = post(berth, *signed(berth))
    assert r.status_code == 200, r.text
    assert "repositories" in r.json()


def test_wrong_secret(berth):
    r = post(berth, *signed(berth, secret="x" * 40))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidSignatureException"
    assert m.startswith("The request signature we calculated does not match the signature you provided.")


def test_altered_body(berth):
    headers, _ = signed(berth, body=b'{"maxResults": 5}')
    r = post(berth, headers, b'{"maxResults": 6}')
    assert r.status_code == 400
    assert error(r)[0] == "InvalidSignatureException"


def test_expired_date(berth):
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    r = post(berth, *signed(berth, when=when))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidSignatureException" and m.startswith("Signature expired:"), m


def test_future_date(berth):
    when = datetime.datetime.utcnow() + datetime.timedelta(minutes=20)
    r = post(berth, *signed(berth, when=when))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidSignatureException" and m.startswith("Signature not yet current:"), m


def test_within_the_skew_is_fine(berth):
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    assert post(berth, *signed(berth, when=when)).status_code == 200


def test_wrong_region(berth):
    r = post(berth, *signed(berth, region="eu-west-1"))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidSignatureException" and "Credential should be scoped to a valid region" in m, m
    # the message says which region to use instead
    assert m.endswith(f"This server is region '{berth.region}'."), m


def test_wrong_service(berth):
    r = post(berth, *signed(berth, service="s3"))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidSignatureException" and "Credential should be scoped to correct service: 'ecr'" in m, m


def test_missing_signed_header(berth):
    # host must be signed: drop it from SignedHeaders
    r = post(berth, *signed(berth, signed_headers="x-amz-date;x-amz-target"))
    assert r.status_code in (400, 403)
    assert error(r)[0] in ("InvalidSignatureException", "IncompleteSignatureException")


def test_unknown_key(berth):
    r = post(berth, *signed(berth, key="AKIAUNKNOWNUNKNOWN00", secret="s" * 40))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "UnrecognizedClientException"
    assert m == "The security token included in the request is invalid."


def test_no_signature_at_all(berth):
    r = requests.post(berth.url + "/", headers={"X-Amz-Target": TARGET,
                                                "Content-Type": "application/x-amz-json-1.1"}, data=b"{}", timeout=30)
    assert r.status_code in (400, 403)
    assert error(r)[0] in ("MissingAuthenticationTokenException", "IncompleteSignatureException")


def test_malformed_authorization_header(berth):
    headers, body = signed(berth)
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=garbage"
    r = post(berth, headers, body)
    assert r.status_code == 400
    assert error(r)[0] == "IncompleteSignatureException"


def test_presigned_query_form(berth):
    creds = Credentials(berth.access_key, berth.secret)
    req = AWSRequest(method="POST", url=berth.url + "/", data=b"{}",
                     headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"})
    SigV4QueryAuth(creds, "ecr", berth.region, expires=300).add_auth(req)
    # the presigner moves the (empty) JSON body into the query and signs an empty payload
    assert req.data == ""
    r = requests.post(req.url, headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
                      data=b"", timeout=30)
    assert r.status_code == 200, r.text
    assert "repositories" in r.json()
    # the same URL with a body it did not sign is refused
    r = requests.post(req.url, headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
                      data=b'{"maxResults": 1}', timeout=30)
    assert r.status_code == 400
    assert error(r)[0] == "InvalidSignatureException"


def test_unknown_operation_and_bad_json(berth):
    r = post(berth, *signed(berth, target="AmazonEC2ContainerRegistry_V20150921.NoSuchThing"))
    assert r.status_code == 400
    assert error(r)[0] == "UnknownOperationException"
    r = post(berth, *signed(berth, body=b"{not json"))
    assert r.status_code == 400
    assert error(r)[0] == "SerializationException"


def test_model_validation_messages(berth):
    body = json.dumps({"repositoryName": "Upper_Case"}).encode()
    r = post(berth, *signed(berth, body=body, target="AmazonEC2ContainerRegistry_V20150921.CreateRepository"))
    assert r.status_code == 400
    t, m = error(r)
    assert t == "InvalidParameterException"
    assert m.startswith("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression"), m
    body = json.dumps({"repositoryName": "a"}).encode()
    r = post(berth, *signed(berth, body=body, target="AmazonEC2ContainerRegistry_V20150921.CreateRepository"))
    t, m = error(r)
    assert t == "InvalidParameterException" and "greater than or equal to 2" in m, m
    body = json.dumps({"maxResults": 5000}).encode()
    r = post(berth, *signed(berth, body=body))
    t, m = error(r)
    assert t == "InvalidParameterException" and "maxResults" in m, m
    body = json.dumps({"repositoryName": "ab", "imageTagMutability": "SOMETIMES"}).encode()
    r = post(berth, *signed(berth, body=body, target="AmazonEC2ContainerRegistry_V20150921.CreateRepository"))
    t, m = error(r)
    assert t == "InvalidParameterException" and "enum value set" in m, m
