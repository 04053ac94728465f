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


# ---------------------------------------------------------------------------------------
# Real scans: images built here whose layers carry package databases, pushed with skopeo,
# matched against OSV records this test writes and imports.
# ---------------------------------------------------------------------------------------

import gzip as _gzip
import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

from conftest import DEFAULT_BIN, ContainerTools, require_tool

BIN = Path(os.environ.get("BERTH_BIN", str(DEFAULT_BIN)))
DEBIAN_OS_RELEASE = Path("/usr/lib/os-release").read_bytes() if Path("/usr/lib/os-release").exists() \
    else Path("/etc/os-release").read_bytes()


def machine_package(name):
    """(version, source name, source version) of an installed package of this (Debian 12) machine."""
    stanza = None
    for block in Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n"):
        if block.startswith(f"Package: {name}\n") and "Status: install ok installed" in block:
            stanza = block
    assert stanza, name
    fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
    source = fields.get("Source", name).split(" ")
    return fields["Version"], source[0], source[1].strip("()") if len(source) > 1 else fields["Version"]


def machine_binaries_of(source):
    """(name, version) of every installed package of this machine built from source, by name."""
    out = []
    for block in Path("/var/lib/dpkg/status").read_text(errors="replace").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(" "))
        if "install ok installed" in fields.get("Status", "") and \
                fields.get("Source", fields.get("Package", "")).split(" ")[0] == source:
            out.append((fields["Package"], fields["Version"]))
    return sorted(out)


def tar_layer(entries):
    """A gzip tar layer of entries: (name, bytes) files, (name, ("symlink", target)) links, given in
    order and written as named (no cleaning: escapes are the point of some tests)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if isinstance(content, tuple):
                ti.type = tarfile.SYMTYPE
                ti.linkname = content[1]
                tar.addfile(ti)
            else:
                ti.size = len(content)
                ti.mode = 0o644
                tar.addfile(ti, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with _gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(tar_bytes)
    return images.Blob(gz.getvalue(), images.OCI_LAYER, diff_id=images.sha256(tar_bytes))


def dpkg_stanza(package, version, source=None):
    src = f"Source: {source}\n" if source else ""
    return (f"Package: {package}\nStatus: install ok installed\nArchitecture: amd64\n{src}"
            f"Version: {version}\nDescription: test package {token()}\n\n")


def osv(record_id, ecosystem, package, fixed=None, cvss=None, modified="2024-01-01T00:00:00Z"):
    events = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
    r = {"id": record_id, "modified": modified, "summary": f"{package} - security update",
         "affected": [{"package": {"ecosystem": ecosystem, "name": package},
                       "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
         "references": [{"type": "ADVISORY", "url": f"https://security.example/{record_id}"}]}
    if cvss:
        r["severity"] = [{"type": "CVSS_V3", "score": cvss}]
    return r


def import_records(server, directory, records):
    directory.mkdir(parents=True, exist_ok=True)
    for r in records:
        (directory / f"{r['id']}.json").write_text(json.dumps(r))
    p = subprocess.run([str(BIN), "vulndb", "import", str(directory), "--data", str(server.data_dir)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
LIBC_VERSION, LIBC_SOURCE, LIBC_SOURCE_VERSION = machine_package("libc6")
BASH_VERSION = machine_package("bash")[0]


@pytest.fixture(scope="module")
def scanned(server, tmp_path_factory):
    """The vulnerability data of this module, imported once."""
    base = tmp_path_factory.mktemp("osv")
    records = [
        # names the source package (glibc) of this machine's libc6, fixed one revision later: reported
        # for libc6 only through the binary -> source mapping
        osv("DSA-9001-1", "Debian:12", LIBC_SOURCE, fixed=LIBC_SOURCE_VERSION + "+berth1"),
        # this machine's bash exactly at its fixed version: not reported
        osv("DSA-9002-1", "Debian:12", "bash", fixed=BASH_VERSION),
        # a chosen package, CRITICAL by its CVSS vector
        osv("CVE-2099-0001", "Debian:12", "demo-tool", fixed="2.0-1", cvss=CRITICAL_VECTOR),
        # Alpine: origin openssl of libcrypto3; musl exactly at its fix
        osv("ALPINE-CVE-2099-0002", "Alpine:v3.19", "openssl", fixed="3.1.4-r5"),
        osv("ALPINE-CVE-2099-0003", "Alpine:v3.19", "musl", fixed="1.2.4-r2"),
    ]
    out = import_records(server, base / "initial", records)
    assert "5 stored" in out, out
    return base


@pytest.fixture(scope="module")
def tools(server, tmp_path_factory):
    require_tool("skopeo")
    return ContainerTools(tmp_path_factory.mktemp("scan-tools"), server)


def push(tools, server, tmp_path, name, img, tag="v1"):
    layout = images.write_oci_layout(tmp_path / f"layout-{token()}", {tag: img})
    tools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", tools.creds(), f"oci:{layout}:{tag}",
                 f"docker://{server.host}/{name}:{tag}")
    return img.digest


def wait_complete(ecr, name, digest):
    ecr.get_waiter("image_scan_complete").wait(repositoryName=name, imageId={"imageDigest": digest},
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    return all_findings(ecr, name, digest)


def all_findings(ecr, name, digest):
    out, kwargs = [], {}
    while True:
        page = ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": digest}, maxResults=2,
                                                **kwargs)
        out.extend(page["imageScanFindings"]["findings"])
        if "nextToken" not in page:
            return page, out
        kwargs = {"nextToken": page["nextToken"]}


def summary(findings):
    """(name, package_name, package_version, severity) of each finding, in the reply's order."""
    rows = []
    for f in findings:
        attrs = {a["key"]: a["value"] for a in f["attributes"]}
        rows.append((f["name"], attrs["package_name"], attrs["package_version"], f["severity"]))
    return rows


def scan_on_push_repo(ecr, prefix):
    name = f"{prefix}-{token()}"
    ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    return name


def debian_image(*extra_layers, dpkg_extra=""):
    status = Path("/var/lib/dpkg/status").read_bytes() + dpkg_extra.encode()
    base = tar_layer([("etc/os-release", DEBIAN_OS_RELEASE), ("var/lib/dpkg/status", status)])
    return images.make_image(layers=[base, *extra_layers])


def test_scan_on_push_reports_exactly_the_vulnerable_packages(ecr, server, scanned, tools, tmp_path, clean_config):
    name = scan_on_push_repo(ecr, "debian")
    img = debian_image(dpkg_extra=dpkg_stanza("demo-tool", "1.9-3"))
    digest = push(tools, server, tmp_path, name, img)
    page, findings = wait_complete(ecr, name, digest)
    assert page["imageScanStatus"] == {"status": "COMPLETE", "description": "The scan was completed successfully."}
    # most severe first; bash at exactly its fixed version is absent; libc6 and every other binary
    # package built from glibc are found through their source
    glibc = machine_binaries_of(LIBC_SOURCE)
    assert ("libc6", LIBC_VERSION) in glibc
    assert summary(findings) == [("CVE-2099-0001", "demo-tool", "1.9-3", "CRITICAL")] + [
        ("DSA-9001-1", n, v, "UNDEFINED") for n, v in glibc]
    critical = findings[0]
    attrs = {a["key"]: a["value"] for a in critical["attributes"]}
    assert attrs["CVSS3_VECTOR"] == CRITICAL_VECTOR and attrs["CVSS3_SCORE"] == "9.8"
    assert critical["uri"] == "https://security.example/CVE-2099-0001"
    assert critical["description"] == "demo-tool - security update"
    scan = page["imageScanFindings"]
    assert scan["findingSeverityCounts"] == {"CRITICAL": 1, "UNDEFINED": len(glibc)}
    assert scan["imageScanCompletedAt"] and scan["vulnerabilitySourceUpdatedAt"]
    # DescribeImages shows the same
    detail = ecr.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest}])["imageDetails"][0]
    assert detail["imageScanStatus"] == page["imageScanStatus"]
    assert detail["imageScanFindingsSummary"] == {
        "imageScanCompletedAt": scan["imageScanCompletedAt"],
        "vulnerabilitySourceUpdatedAt": scan["vulnerabilitySourceUpdatedAt"],
        "findingSeverityCounts": scan["findingSeverityCounts"]}
    # an image never scanned has neither
    other = f"unscanned-{token()}"
    plain = Registry(server).push_image(other, images.make_image(), tag="v1")
    detail = ecr.describe_images(repositoryName=other, imageIds=[{"imageDigest": plain}])["imageDetails"][0]
    assert "imageScanStatus" not in detail and "imageScanFindingsSummary" not in detail


def test_alpine_origin_packages_and_fixed_boundary(ecr, server, scanned, tools, tmp_path, clean_config):
    name = scan_on_push_repo(ecr, "alpine")
    installed = ("C:Q1abc=\nP:libcrypto3\nV:3.1.4-r4\nA:x86_64\no:openssl\n\n"
                 "C:Q1def=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n").encode()
    layer = tar_layer([("etc/os-release", b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'),
                       ("lib/apk/db/installed", installed)])
    digest = push(tools, server, tmp_path, name, images.make_image(layers=[layer]))
    _, findings = wait_complete(ecr, name, digest)
    assert summary(findings) == [("ALPINE-CVE-2099-0002", "libcrypto3", "3.1.4-r4", "UNDEFINED")]


def test_a_whiteout_of_the_package_database_removes_its_packages(ecr, server, scanned, tools, tmp_path, clean_config):
    name = scan_on_push_repo(ecr, "whiteout")
    removed = tar_layer([("var/lib/dpkg/.wh.status", b"")])
    digest = push(tools, server, tmp_path, name, debian_image(removed, dpkg_extra=dpkg_stanza("demo-tool", "1.0-1")))
    page, findings = wait_complete(ecr, name, digest)
    assert findings == []
    assert page["imageScanFindings"]["findingSeverityCounts"] == {}


def test_entries_that_escape_the_tree_change_nothing(ecr, server, scanned, tools, tmp_path, clean_config):
    name = scan_on_push_repo(ecr, "escape")
    clean_status = dpkg_stanza("demo-tool", "2.0-1").encode()
    hostile = tar_layer([
        ("../var/lib/dpkg/status", clean_status),            # climbs out of the tree
        ("/var/lib/dpkg/status", clean_status),              # absolute
        ("var/lib/dpkg/../../../../var/lib/dpkg/status", clean_status),
    ])
    img = debian_image(hostile, dpkg_extra=dpkg_stanza("demo-tool", "1.0-1"))
    digest = push(tools, server, tmp_path, name, img)
    _, findings = wait_complete(ecr, name, digest)
    # the first layer's database stands: demo-tool 1.0-1 is still reported
    assert ("CVE-2099-0001", "demo-tool", "1.0-1", "CRITICAL") in summary(findings)


def wait_status(ecr, name, digest):
    deadline = time.time() + 60
    while time.time() < deadline:
        status = ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": digest})["imageScanStatus"]
        if status["status"] != "IN_PROGRESS":
            return status
        time.sleep(0.5)
    return status


UNSUPPORTED = {"status": "UNSUPPORTED_IMAGE", "description": "The operating system and/or package manager are not supported."}


def test_a_link_out_of_the_tree_is_never_followed(ecr, server, scanned, tools, tmp_path, clean_config):
    # a later layer replaces /etc/os-release with a link that climbs out of the image: the link
    # hides the lower file, as an overlay would, and its target (on the server) is never read
    name = scan_on_push_repo(ecr, "link-escape")
    link = tar_layer([("etc/os-release", ("symlink", "../../../../../../etc/os-release")),
                      ("usr/lib/os-release", ("symlink", "/../../etc/os-release"))])
    digest = push(tools, server, tmp_path, name, debian_image(link, dpkg_extra=dpkg_stanza("demo-tool", "1.0-1")))
    assert wait_status(ecr, name, digest) == UNSUPPORTED
    assert server.proc.poll() is None


def test_an_image_without_a_known_distribution_is_unsupported(ecr, server, scanned, tools, tmp_path, clean_config):
    name = scan_on_push_repo(ecr, "scratch")
    digest = push(tools, server, tmp_path, name, images.make_image())
    assert wait_status(ecr, name, digest) == UNSUPPORTED


def test_new_data_makes_a_clean_image_vulnerable_under_continuous_scan(ecr, server, scanned, tools, tmp_path,
                                                                       clean_config):
    t = token()
    cont, manual = f"cont-{t}", f"manual-{t}"
    ecr.create_repository(repositoryName=cont)
    ecr.create_repository(repositoryName=manual, imageScanningConfiguration={"scanOnPush": True})
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[rule("CONTINUOUS_SCAN", "cont-*"),
                                                                     rule("SCAN_ON_PUSH", "manual-*")])
    package = f"late-{t}"
    img = debian_image(dpkg_extra=dpkg_stanza(package, "1.0-1"))
    d1 = push(tools, server, tmp_path, cont, img)
    d2 = push(tools, server, tmp_path, manual, img)
    for name, d in ((cont, d1), (manual, d2)):
        _, findings = wait_complete(ecr, name, d)
        assert package not in [p for _, p, _, _ in summary(findings)]
    import_records(server, scanned / f"late-{t}", [osv(f"DSA-{t}", "Debian:12", package, fixed="1.0-2",
                                                        cvss=CRITICAL_VECTOR)])
    deadline, rows = time.time() + 60, []
    while time.time() < deadline:
        rows = summary(all_findings(ecr, cont, d1)[1])
        if (f"DSA-{t}", package, "1.0-1", "CRITICAL") in rows:
            break
        time.sleep(0.5)
    assert (f"DSA-{t}", package, "1.0-1", "CRITICAL") in rows
    # the image of a repository scanned on push only keeps the findings of its scan
    assert package not in [p for _, p, _, _ in summary(all_findings(ecr, manual, d2)[1])]


def test_a_queued_scan_survives_a_restart(berth_factory, tmp_path):
    srv = berth_factory(extra_args=["--job-workers", "0"])
    client = ecr_client(srv)
    import_records(srv, tmp_path / "osv", [osv("CVE-2099-0009", "Debian:12", "demo-tool", fixed="2.0-1")])
    name = scan_on_push_repo(client, "restart")
    img = debian_image(dpkg_extra=dpkg_stanza("demo-tool", "1.0-1"))
    digest = Registry(srv).push_image(name, img, tag="v1")
    time.sleep(1)
    assert client.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": digest}
                                               )["imageScanStatus"]["status"] == "IN_PROGRESS"
    srv.stop()
    srv.extra_args = []
    srv.start()
    _, findings = wait_complete(client, name, digest)
    assert summary(findings) == [("CVE-2099-0009", "demo-tool", "1.0-1", "UNDEFINED")]


def test_an_archived_image_cannot_be_scanned(ecr, server, clean_config):
    from test_ecr_repositories import AwsCli
    aws = AwsCli(server)
    name = create_repository(f"archived-{token()}", server)
    digest = Registry(server).push_image(name, images.make_image(), tag="v1")
    aws("update-image-storage-class", "--repository-name", name, "--image-id", f"imageDigest={digest}",
        "--target-storage-class", "ARCHIVE")
    with pytest.raises(ClientError) as e:
        ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
    code, message = error_code(e)
    assert code == "ImageArchivedException"
    assert "ARCHIVED" in message
