"""README's tour, run verbatim as a new user would: so the README can never drift from what works.

What it runs: every fenced block whose info string is exactly `sh` between the headings
"## A five-minute tour" and the next "## ", in order, with bash, in one fresh working directory,
a fresh $HOME (no ~/.aws) and PATH starting with the directory of BERTH_BIN (the tour's own
`export PATH=$PWD/build:$PATH` adds a directory that does not exist here, harmlessly). Blocks marked
`sh no-test` (they need the internet, e.g. `berth vulndb sync`) are skipped; nothing else is.

The only changes made to the text, both checked to apply:
- the line `make run &` is dropped: the test starts BERTH_BIN itself first, as make run would
  (`serve --listen 127.0.0.1:PORT --data ./data --log-level warn`, in the working directory, with
  no credentials given, so the first start writes ./data/credentials as for a new user);
- `127.0.0.1:5000` becomes `127.0.0.1:PORT`, a free port, so the test never meets another server.
podman, buildah and skopeo get vfs storage, policy.json, registries.conf and an auth file under
the test's directory through their environment variables (ContainerTools in conftest.py), so the
commands stay as printed.

Every command of every block must succeed (the blocks run under `set -e`, `set -a` so that what
a block sets reaches the next, as it would in the reader's shell). The story's end is checked
before the cleanup block: the scan on push found the tour's made-up advisory, the teammate's pull
worked, their push was refused by berth's authorization, and the repository holds v1 and no v2.
"""

import configparser
import os
import re
import secrets
import subprocess
from pathlib import Path
from types import SimpleNamespace

import boto3

from conftest import DEFAULT_BIN, ContainerTools, free_port, require_tool

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


def tour_blocks():
    text = README.read_text()
    start = text.index("\n## A five-minute tour\n")
    end = text.index("\n## ", start + 1)
    run, skipped = [], []
    for info, body in FENCE.findall(text[start:end]):
        info = info.strip()
        if info == "sh":
            run.append(body)
        elif info == "sh no-test":
            skipped.append(body)
        else:
            raise AssertionError(f"README tour block with info string {info!r}: use `sh` or `sh no-test`")
    return run, skipped


def adapt(blocks, port):
    """Drop `make run &` (exactly one line), and point 127.0.0.1:5000 at the test's port."""
    out, dropped = [], 0
    for b in blocks:
        lines = []
        for line in b.splitlines():
            if re.match(r"^make run &(\s+#.*)?$", line):
                dropped += 1
                continue
            lines.append(line.replace("127.0.0.1:5000", f"127.0.0.1:{port}"))
        out.append("\n".join(lines) + "\n")
    assert dropped == 1, f"the tour should start berth with one `make run &` line, found {dropped}"
    return out


def run_blocks(blocks, first, work, env, state, timeout=600):
    """Run blocks in one bash (stderr into stdout) under set -ea, marking each; variables carry on in `state`."""
    script = ["exec 2>&1", "set -ea"]
    if state.exists():
        script.append(f". {state}")
    for i, b in enumerate(blocks, first):
        script.append(f"echo '>>> block {i}'")
        script.append(b)
    script.append(f"export -p > {state}")
    script.append("echo '>>> done'")
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert p.returncode == 0 and ">>> done" in p.stdout, (
        f"tour failed (exit {p.returncode}) in the last block marked below:\n{p.stdout[-8000:]}")
    return p.stdout


def block_output(stdout, i):
    m = re.search(rf">>> block {i}\n(.*?)(?=>>> |\Z)", stdout, re.S)
    return m.group(1) if m else ""


def test_readme_tour(tmp_path):
    berth_bin = Path(os.environ.get("BERTH_BIN", DEFAULT_BIN))
    for tool in ("bash", "curl", "aws", "buildah", "podman", "skopeo"):
        require_tool(tool)
    blocks, skipped = tour_blocks()
    assert any("vulndb sync" in b for b in skipped), "the vulndb sync step is shown, marked sh no-test"
    assert blocks[-1].lstrip().startswith("aws ecr delete-repository"), "the tour ends with its cleanup"
    scan_block = next(i for i, b in enumerate(blocks, 1) if "describe-image-scan-findings" in b)
    port = free_port()
    blocks = adapt(blocks, port)

    work = tmp_path / "work"
    work.mkdir()
    ct = ContainerTools(tmp_path / "containers", SimpleNamespace(host=f"127.0.0.1:{port}"))
    home = Path(ct.env["HOME"])
    assert not (home / ".aws").exists()
    env = dict(ct.env)
    env["PATH"] = f"{Path(berth_bin).parent}:{env['PATH']}"
    if os.environ.get("TESTPG_BERTH_BIN"):
        # a PostgreSQL session (conftest.py): the server and the tour's own `berth` commands use one
        # database (this environment is the container tools' own, without the wrapper's variables)
        import pgserver
        env["BERTH_DATABASE"] = pgserver.SERVER.create_database("readme_" + secrets.token_hex(6))
        env["BERTH_KEY_FILE"] = str(work / "registry.key")
        berth_bin = Path(os.environ["TESTPG_BERTH_BIN"])
        env["PATH"] = f"{berth_bin.parent}:{env['PATH']}"

    log = open(tmp_path / "berth.log", "wb")
    server = subprocess.Popen([str(berth_bin), "serve", "--listen", f"127.0.0.1:{port}", "--data", "./data",
                               "--log-level", "warn"], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        state = tmp_path / "tour.env"
        story = run_blocks(blocks[:-1], 1, work, env, state)

        scan = block_output(story, scan_block)
        assert re.search(r"^DEMO-2026-0001\tUNDEFINED\t", scan, re.M), scan

        # The story's end, before the cleanup: the teammate pulled and was refused a push.
        last = block_output(story, len(blocks) - 1)
        assert "push refused: reader may pull, not push" in last, story[-4000:]
        assert re.search(r"denied|not authorized|unauthorized", last, re.I), last
        assert "Writing manifest" in last or "Copying" in last, f"the teammate's pull did not run:\n{last}"
        creds = configparser.ConfigParser()
        creds.read(home / ".aws" / "credentials")
        assert set(creds.sections()) == {"berth", "reader"}, creds.sections()
        ecr = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id=creds["berth"]["aws_access_key_id"],
                           aws_secret_access_key=creds["berth"]["aws_secret_access_key"])
        tags = {i.get("imageTag") for i in ecr.list_images(repositoryName="team-a/web-app")["imageIds"]}
        assert tags == {"v1"}, tags
        reader = boto3.client("ecr", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id=creds["reader"]["aws_access_key_id"],
                              aws_secret_access_key=creds["reader"]["aws_secret_access_key"])
        assert reader.batch_get_image(repositoryName="team-a/web-app",
                                      imageIds=[{"imageTag": "v1"}])["images"], "the reader can read v1"

        run_blocks(blocks[-1:], len(blocks), work, env, state)
        assert ecr.describe_repositories()["repositories"] == []
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        finally:
            log.close()
    text = (tmp_path / "berth.log").read_text(errors="replace")
    assert server.returncode == 0, text[-3000:]
    for report in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert report not in text, text[-6000:]
