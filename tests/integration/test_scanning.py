"""Image scanning through the ECR API: the registry scanning configuration and its filters,
each repository's effective configuration (BatchGetRepositoryScanningConfiguration),
StartImageScan's checks, and DescribeImageScanFindings before any scan.

A server of its own: a registry scanning configuration applies to every repository of the
account, and the shared server's other tests must not be scanned.
"""

import pytest
from botocore.exceptions import ClientError

import images
from conftest import create_repository, token
from regclient import Registry
from test_ecr_repositories import ecr_client


@pytest.fixture(scope="module")
def server(berth_factory):
    return berth_factory()


@pytest.fixture(scope="module")
def ecr(server):
    return ecr_client(server)


@pytest.fixture
def clean_config(ecr):
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    yield
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def rule(freq, *filters):
    return {"scanFrequency": freq, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters]}


def test_default_configuration_is_basic_without_rules(ecr, server, clean_config):
    got = ecr.get_registry_scanning_configuration()
    assert got["registryId"] == server.account_id
    assert got["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}


def test_put_and_get_registry_configuration(ecr, clean_config):
    rules = [rule("SCAN_ON_PUSH", "prod"), rule("CONTINUOUS_SCAN", "team-*")]
    put = ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "BASIC", "rules": rules}
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules


def test_enhanced_scanning_is_refused_and_nothing_changes(ecr, clean_config):
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule("SCAN_ON_PUSH", "keep")])
    with pytest.raises(ClientError) as e:
        ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[rule("CONTINUOUS_SCAN", "*")])
    code, message = error_code(e)
    assert code == "InvalidParameterException"
    assert "ENHANCED" in message and "Inspector" in message
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == [rule("SCAN_ON_PUSH", "keep")]


def test_two_rules_of_one_frequency_are_refused(ecr, clean_config):
    with pytest.raises(ClientError) as e:
        ecr.put_registry_scanning_configuration(scanType="BASIC",
                                                rules=[rule("SCAN_ON_PUSH", "a"), rule("SCAN_ON_PUSH", "b")])
    code, message = error_code(e)
    assert code == "InvalidParameterException"
    assert "SCAN_ON_PUSH" in message


# ECR's table of filter wildcards (user guide, "Filters to choose which repositories are scanned"):
# names across, filters down.
FILTER_NAMES = ["prod", "repo-prod", "prod-repo", "repo-prod-repo", "prodrepo"]
FILTER_TABLE = {
    "prod": [True, True, True, True, True],
    "*prod": [True, True, False, False, False],
    "prod*": [True, False, True, False, True],
    "*prod*": [True, True, True, True, True],
    "prod*repo": [False, False, True, False, True],
}


@pytest.mark.parametrize("flt", sorted(FILTER_TABLE))
def test_filters_match_as_ecr_documents(ecr, server, clean_config, flt):
    # the table's own names: only this test uses them on this server
    for n in FILTER_NAMES:
        create_repository(n, server)
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule("SCAN_ON_PUSH", flt)])
    got = ecr.batch_get_repository_scanning_configuration(repositoryNames=FILTER_NAMES)
    assert got["failures"] == []
    by_name = {c["repositoryName"]: c for c in got["scanningConfigurations"]}
    for n, expected in zip(FILTER_NAMES, FILTER_TABLE[flt]):
        c = by_name[n]
        assert c["scanFrequency"] == ("SCAN_ON_PUSH" if expected else "MANUAL"), (flt, n)
        assert c["scanOnPush"] is expected, (flt, n)
        assert c["appliedScanFilters"] == ([{"filter": flt, "filterType": "WILDCARD"}] if expected else [])
        assert c["repositoryArn"].endswith(":repository/" + n)


def test_continuous_wins_over_scan_on_push_and_registry_wins_over_repository(ecr, server, clean_config):
    t = token()
    both, push_only, neither = f"both-{t}", f"push-{t}", f"none-{t}"
    for n in (both, push_only):
        create_repository(n, server)
    # the repository's own scanOnPush is what decides while the registry has no rules...
    ecr.create_repository(repositoryName=neither, imageScanningConfiguration={"scanOnPush": True})
    got = ecr.batch_get_repository_scanning_configuration(repositoryNames=[neither, push_only])
    freq = {c["repositoryName"]: c["scanFrequency"] for c in got["scanningConfigurations"]}
    assert freq == {neither: "SCAN_ON_PUSH", push_only: "MANUAL"}
    # ...and is overridden once it has some
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[
        rule("SCAN_ON_PUSH", f"push-{t}", f"both-{t}"), rule("CONTINUOUS_SCAN", f"both-{t}")])
    got = ecr.batch_get_repository_scanning_configuration(repositoryNames=[both, push_only, neither, f"missing-{t}"])
    freq = {c["repositoryName"]: c["scanFrequency"] for c in got["scanningConfigurations"]}
    assert freq == {both: "CONTINUOUS_SCAN", push_only: "SCAN_ON_PUSH", neither: "MANUAL"}
    assert got["failures"] == [{"repositoryName": f"missing-{t}", "failureCode": "REPOSITORY_NOT_FOUND",
                                "failureReason": "REPOSITORY_NOT_FOUND"}]


def test_start_image_scan_refuses_what_cannot_be_scanned(ecr, server, clean_config):
    name = create_repository(f"unscannable-{token()}", server)
    reg = Registry(server)
    img = images.make_image()
    reg.push_image(name, img, tag="img")
    index = images.make_index([img])
    reg.push_image(name, index, tag="index")
    art = images.make_artifact(img)
    reg.push_image(name, art, tag="art")
    for tag in ("index", "art"):
        with pytest.raises(ClientError) as e:
            ecr.start_image_scan(repositoryName=name, imageId={"imageTag": tag})
        assert error_code(e)[0] == "UnsupportedImageTypeException", tag
        # nothing was recorded for it
        with pytest.raises(ClientError) as e:
            ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageTag": tag})
        assert error_code(e)[0] == "ScanNotFoundException"
    with pytest.raises(ClientError) as e:
        ecr.start_image_scan(repositoryName=name, imageId={"imageTag": "no-such-tag"})
    assert error_code(e)[0] == "ImageNotFoundException"
    with pytest.raises(ClientError) as e:
        ecr.start_image_scan(repositoryName=f"no-such-repo-{token()}", imageId={"imageTag": "img"})
    assert error_code(e)[0] == "RepositoryNotFoundException"
    with pytest.raises(ClientError) as e:
        ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageTag": "img"})
    code, message = error_code(e)
    assert code == "ScanNotFoundException"
    assert name in message


def test_one_scan_per_image_per_day(ecr, server, clean_config):
    name = create_repository(f"daily-{token()}", server)
    img = images.make_image()
    digest = Registry(server).push_image(name, img, tag="v1")
    first = ecr.start_image_scan(repositoryName=name, imageId={"imageTag": "v1"})
    assert first["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert first["imageScanStatus"]["status"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as e:
        ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
    code, message = error_code(e)
    assert code == "LimitExceededException"
    assert "24 hours" in message
