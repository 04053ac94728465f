"""`berth vulndb`: import of OSV records from a directory and from a zip shaped as osv.dev's
all.zip, re-import (newer records replace older ones, withdrawn ones go), `sync --url` against a
local HTTP server (and its failures, which leave the data as it was), and `status`. The records are
shaped as Debian, Ubuntu and Alpine publish them; no test touches the internet."""

import functools
import http.server
import json
import os
import re
import subprocess
import threading
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import DEFAULT_BIN, metadata_db

BIN = Path(os.environ.get("BERTH_BIN", str(DEFAULT_BIN)))


def dsa(modified="2024-01-10T12:00:00Z", fixed="3.0.11-1~deb12u2"):
    return {
        "id": "DSA-5585-1", "summary": "openssl - security update", "aliases": ["CVE-2023-5678"],
        "modified": modified, "published": "2023-12-19T00:00:00Z",
        "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl",
                                  "purl": "pkg:deb/debian/openssl?arch=source"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        "references": [{"type": "ADVISORY", "url": "https://www.debian.org/security/2023/dsa-5585"}],
    }


UBUNTU = {
    "schema_version": "1.6.3", "id": "CVE-2024-0727", "details": "PKCS12 NULL dereference",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"}],
    "modified": "2024-08-23T16:30:37Z",
    "affected": [
        {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "openssl"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.2-0ubuntu1.14"}]}],
         "ecosystem_specific": {"ubuntu_priority": "low"}},
        {"package": {"ecosystem": "Ubuntu:Pro:18.04:LTS", "name": "openssl"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
    ],
}

ALPINE = {
    "id": "ALPINE-CVE-2024-0727", "upstream": ["CVE-2024-0727"], "modified": "2024-03-01T00:00:00Z",
    "affected": [{"package": {"name": "openssl", "ecosystem": "Alpine:v3.19"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4-r5"}]}]}],
}

PYPI = {
    "id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-01-01T00:00:00Z",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.31.0"}]}]}],
}


def vulndb(data, *args, timeout=60):
    return subprocess.run([str(BIN), "vulndb", *args, "--data", str(data)], capture_output=True, text=True,
                          timeout=timeout)


def ok(r):
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def counts(out):
    """The numbers of `vulndb: N records read: N stored, ...`."""
    m = re.search(r"vulndb: (\d+) records read: (\d+) stored, (\d+) unchanged, (\d+) withdrawn, "
                  r"(\d+) skipped \(no OS ecosystem\), (\d+) invalid", out)
    assert m, out
    keys = ("read", "stored", "unchanged", "withdrawn", "skipped", "invalid")
    return dict(zip(keys, map(int, m.groups())))


def status(data):
    """(records, updated datetime, source, {ecosystem: records}) from `vulndb status`."""
    out = ok(vulndb(data, "status"))
    m = re.match(r"vulnerability database: (\d+) records, updated (\S+) from (.*)\n", out)
    assert m, out
    per = dict((e, int(n)) for e, n in re.findall(r"^  (.+): (\d+)$", out, re.M))
    when = datetime.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(m.group(1)), when, m.group(3), per


def write_records(d, records):
    d.mkdir(parents=True, exist_ok=True)
    for r in records:
        (d / (r["id"].replace(":", "_") + ".json")).write_text(json.dumps(r, indent=2))


def make_zip(path, records, extra=()):
    """A zip laid out like osv.dev's <ecosystem>/all.zip: one <id>.json per record at the root."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for r in records:
            z.writestr(r["id"] + ".json", json.dumps(r))
        for name, data in extra:
            z.writestr(name, data)
    return path


def test_status_of_an_empty_database(tmp_path):
    out = ok(vulndb(tmp_path / "data", "status"))
    assert out == "vulnerability database: empty, never updated\n"


def test_import_directory_then_reimport(tmp_path):
    data, src = tmp_path / "data", tmp_path / "osv"
    write_records(src, [dsa(), UBUNTU, PYPI])
    write_records(src / "alpine", [ALPINE])
    (src / "broken.json").write_text('{"id": "X", "modified": ')
    (src / "notes.txt").write_text("not a record")
    before = datetime.now(timezone.utc).replace(microsecond=0)

    c = counts(ok(vulndb(data, "import", str(src))))
    assert c == {"read": 5, "stored": 3, "unchanged": 0, "withdrawn": 0, "skipped": 1, "invalid": 1}
    total, when, source, per = status(data)
    assert total == 3 and source == str(src.resolve())
    assert before <= when <= datetime.now(timezone.utc)
    assert per == {"Alpine:v3.19": 1, "Debian:12": 1, "Ubuntu:22.04:LTS": 1, "Ubuntu:Pro:18.04:LTS": 1}

    # what matching needs is stored under the normalised keys, severity decided
    db = metadata_db(data)
    rows = set(db.execute("SELECT record_id, eco_key, package, severity, ranges FROM vuln_affected"))
    assert rows == {
        ("DSA-5585-1", "debian:12", "openssl", "UNDEFINED", "i0 f3.0.11-1~deb12u2"),
        ("CVE-2024-0727", "ubuntu:22.04", "openssl", "MEDIUM", "i0 f3.0.2-0ubuntu1.14"),
        ("CVE-2024-0727", "ubuntu-pro:18.04", "openssl", "MEDIUM", "i0"),
        ("ALPINE-CVE-2024-0727", "alpine:3.19", "openssl", "UNDEFINED", "i0 f3.1.4-r5"),
    }
    uri, cvss3 = db.execute("SELECT uri, cvss3_score FROM vuln_records WHERE id = 'DSA-5585-1'").fetchone()
    assert uri == "https://www.debian.org/security/2023/dsa-5585" and cvss3 is None
    assert db.execute("SELECT cvss3_score FROM vuln_records WHERE id = 'CVE-2024-0727'").fetchone() == (5.5,)
    db.close()

    # the same data again changes nothing but the time of the update
    time.sleep(0.01)
    c = counts(ok(vulndb(data, "import", str(src))))
    assert (c["stored"], c["unchanged"]) == (0, 3)
    assert status(data)[1] >= when


def test_import_zip_newer_withdrawn_and_oversized(tmp_path):
    data = tmp_path / "data"
    big = b'{"id": "BIG-1", "modified": "2024-01-01T00:00:00Z", "details": "' + b" " * (33 << 20) + b'"}'
    z1 = make_zip(tmp_path / "all.zip", [dsa(), UBUNTU, ALPINE, PYPI],
                  extra=[("BIG-1.json", big), ("README", "not json")])
    c = counts(ok(vulndb(data, "import", str(z1))))
    assert c == {"read": 5, "stored": 3, "unchanged": 0, "withdrawn": 0, "skipped": 1, "invalid": 1}

    # a newer copy of the DSA replaces the old one; Alpine's record was withdrawn
    withdrawn = dict(ALPINE, modified="2024-04-01T00:00:00Z", withdrawn="2024-04-01T00:00:00Z")
    z2 = make_zip(tmp_path / "all2.zip", [dsa("2024-02-01T00:00:00Z", "3.0.11-1~deb12u3"), UBUNTU, withdrawn])
    c = counts(ok(vulndb(data, "import", str(z2))))
    assert (c["stored"], c["unchanged"], c["withdrawn"]) == (1, 1, 1)
    total, _, _, per = status(data)
    assert total == 2 and "Alpine:v3.19" not in per
    db = metadata_db(data)
    assert db.execute("SELECT ranges FROM vuln_affected WHERE record_id = 'DSA-5585-1'").fetchall() == \
        [("i0 f3.0.11-1~deb12u3",)]
    db.close()

    # an older copy does not win over the stored one
    c = counts(ok(vulndb(data, "import", str(z1))))
    assert c["stored"] == 1  # only Alpine's record comes back (it was removed, so it is new)
    db = metadata_db(data)
    assert db.execute("SELECT ranges FROM vuln_affected WHERE record_id = 'DSA-5585-1'").fetchall() == \
        [("i0 f3.0.11-1~deb12u3",)]
    db.close()

    # not a zip, not there
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04" + os.urandom(64))
    r = vulndb(data, "import", str(tmp_path / "junk.zip"))
    assert r.returncode == 1 and "zip" in r.stderr
    r = vulndb(data, "import", str(tmp_path / "absent"))
    assert r.returncode == 1 and "absent" in r.stderr


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_dir(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_sync_from_a_local_http_server(tmp_path, http_dir):
    root, base = http_dir
    data = tmp_path / "data"
    make_zip(root / "all.zip", [dsa(), UBUNTU, ALPINE])
    c = counts(ok(vulndb(data, "sync", "--url", base + "/all.zip")))
    assert (c["read"], c["stored"]) == (3, 3)
    total, when, source, per = status(data)
    assert total == 3 and source == base + "/all.zip"
    assert per["Debian:12"] == 1 and per["Alpine:v3.19"] == 1
    assert not [p for p in data.iterdir() if p.name.startswith("vulndb-")], "the download was not removed"

    # failures say why and leave the data and its time as they were
    r = vulndb(data, "sync", "--url", base + "/missing.zip")
    assert r.returncode == 1 and "404" in r.stderr, r.stderr
    (root / "page.html").write_text("<html>not a zip</html>")
    r = vulndb(data, "sync", "--url", base + "/page.html")
    assert r.returncode == 1 and "did not serve a zip" in r.stderr, r.stderr
    r = vulndb(data, "sync", "--url", "file:///etc/passwd")
    assert r.returncode == 1 and "not an http" in r.stderr, r.stderr
    assert status(data)[:3] == (total, when, source)
    assert not [p for p in data.iterdir() if p.name.startswith("vulndb-")]

    # a newer zip on the server updates what changed
    make_zip(root / "all.zip", [dsa("2024-03-01T00:00:00Z", "3.0.11-1~deb12u4"), UBUNTU, ALPINE])
    c = counts(ok(vulndb(data, "sync", "--url", base + "/all.zip")))
    assert (c["stored"], c["unchanged"]) == (1, 2)
    assert status(data)[1] > when


def test_usage_errors(tmp_path):
    for args in (("import",), ("sync",), ("frobnicate",), ()):
        r = vulndb(tmp_path / "data", *args)
        assert r.returncode == 2 and "usage: berth vulndb" in r.stderr, args
