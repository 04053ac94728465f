"""The web console in a real browser: Debian's chromium, headless, driven by chromium-driver
through python3-selenium, against a berth this module starts (the shared test server).

The flows of issue 11 §3: sign in as root and create a repository; push with skopeo and see the
image's size and tags; run the exact "View push commands" commands (aws ecr get-login-password |
podman login, podman push); an invalid repository policy shows the API's error and a valid one
is saved; a lifecycle rule and its preview; two images deleted through the dialog; a read-only
IAM user signs in with a password and is refused a delete with AWS's sentence; a CSRF attempt
from another origin fails; sign-out ends the session on the server.

Each flow saves screenshots at 1280x800 and at 390x844 (a phone) in the directory printed at the
start (BERTH_CONSOLE_SHOTS chooses it), and checks that neither size scrolls sideways and that
the browser reported no Content-Security-Policy violation.
"""

import datetime
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import images
from conftest import DEFAULT_BIN, require_tool, run, token

pytest.importorskip("selenium", reason="python3-selenium is installed by scripts/deps.sh")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
DESKTOP = (1280, 800)
PHONE = (390, 844)
WAIT = 15


def client(server, service, key=None, secret=None):
    return boto3.client(service, endpoint_url=server.url, region_name=server.region,
                        aws_access_key_id=key or server.access_key,
                        aws_secret_access_key=secret or server.secret,
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    where = os.environ.get("BERTH_CONSOLE_SHOTS")
    d = Path(where) if where else tmp_path_factory.mktemp("console-shots")
    d.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {d}")
    return d


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or require_tool("chromium")
    driver_bin = shutil.which("chromedriver") or require_tool("chromedriver")
    opts = Options()
    opts.binary_location = chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
              f"--window-size={DESKTOP[0]},{DESKTOP[1]}", "--lang=en-US", "--force-device-scale-factor=1"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


# Every visible form control must have a label: <label for>, an enclosing <label>, or aria-label.
UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter((e) => e.offsetParent !== null && e.type !== 'hidden')
  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
                 !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map((e) => e.outerHTML.slice(0, 120));
"""

# Buttons side by side (or one above the other) with less than 4 px between them: they look
# like one control (the lifecycle rules' Edit and Remove once did). With a modal dialog open, its
# own buttons (what is behind it is covered).
TOUCHING = """
const bs = Array.from((document.querySelector('dialog[open]') || document).querySelectorAll('button, .button'))
  .filter((e) => e.offsetParent !== null && e.getClientRects().length);
const rs = bs.map((e) => e.getBoundingClientRect());
const out = [];
for (let i = 0; i < bs.length; i++) {
  for (let j = i + 1; j < bs.length; j++) {
    const a = rs[i], b = rs[j];
    const h = Math.max(a.left, b.left) - Math.min(a.right, b.right);
    const v = Math.max(a.top, b.top) - Math.min(a.bottom, b.bottom);
    if ((v < 0 && h < 4) || (h < 0 && v < 4))
      out.push(`${bs[i].textContent.trim()} / ${bs[j].textContent.trim()}: ${Math.max(h, v).toFixed(1)}px`);
  }
}
return out;
"""


class Console:
    """The browser pointed at one berth, with helpers that wait for what a user would see."""

    def __init__(self, driver, server, shots):
        self.d = driver
        self.server = server
        self.shots = shots

    def open(self, hash_=""):
        self.d.get(f"{self.server.url}/console/{hash_}")

    def fresh(self):
        self.d.get(self.server.url + "/console/favicon.svg")
        self.d.delete_all_cookies()
        self.open()
        self.wait_text("h1", "Sign in to berth")

    def el(self, css):
        return WebDriverWait(self.d, WAIT).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def click(self, css):
        e = WebDriverWait(self.d, WAIT).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))
        e.click()
        return e

    def wait_text(self, css, text):
        """The first element matching css that shows text, once one does."""
        def found(d):
            for e in d.find_elements(By.CSS_SELECTOR, css):
                try:
                    if text in e.text:
                        return e
                except Exception:  # replaced while we looked: look again
                    return False
            return False
        return WebDriverWait(self.d, WAIT).until(found)

    def type(self, css, text, clear=True):
        e = self.el(css)
        if clear:
            e.clear()
        e.send_keys(text)
        return e

    def button(self, label):
        xp = f"//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}']"
        e = WebDriverWait(self.d, WAIT).until(EC.element_to_be_clickable((By.XPATH, xp)))
        e.click()
        return e

    def sign_in_root(self):
        self.fresh()
        self.click("input[name=mode][value=key]")
        self.type("input[name=accessKeyId]", self.server.access_key)
        self.type("input[name=secretAccessKey]", self.server.secret)
        self.click("#signin-submit")
        self.wait_text("h1", "Private repositories")

    def sign_in_user(self, user, password):
        self.fresh()
        self.type("input[name=account]", self.server.account_id)
        self.type("input[name=user]", user)
        self.type("input[name=password]", password)
        self.click("#signin-submit")
        self.wait_text("h1", "Private repositories")

    def cookie(self):
        return {c["name"]: c["value"] for c in self.d.get_cookies()}

    def shot(self, name):
        """Screenshots at both sizes; fails when a size scrolls sideways, buttons touch, or CSP refused something."""
        for label, (w, h) in (("desktop", DESKTOP), ("phone", PHONE)):
            self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                   {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": label == "phone"})
            time.sleep(0.2)
            self.d.save_screenshot(str(self.shots / f"{name}-{label}.png"))
            overflow = self.d.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at {w}x{h}"
            touching = self.d.execute_script(TOUCHING)
            assert not touching, f"{name}: buttons touching at {w}x{h}: {touching}"
        self.d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        unlabelled = self.d.execute_script(UNLABELLED)
        assert not unlabelled, f"{name}: controls without a label: {unlabelled}"
        logs = self.d.get_log("browser")
        csp = [e["message"] for e in logs if "Content Security Policy" in e["message"]]
        assert not csp, csp
        errors = [e["message"] for e in logs if e["level"] == "SEVERE" and "Uncaught" in e["message"]]
        assert not errors, errors


@pytest.fixture
def console(browser, berth, shots):
    return Console(browser, berth, shots)


@pytest.fixture
def ecr(berth):
    return client(berth, "ecr")


@pytest.fixture
def iam(berth):
    return client(berth, "iam")


def admin(server, *args):
    """`berth admin ...` on the server's data (as the operator runs it beside the server)."""
    binary = os.environ.get("BERTH_BIN", str(DEFAULT_BIN))
    env = {**os.environ, **server.extra_env, "BERTH_REGION": server.region}
    return run([binary, "admin", *args, "--data", str(server.data_dir)], env=env, timeout=120)


def push(ctools, tmp_path, repo, tags, layer_size=0):
    """Pushes one fresh image per tag with skopeo; returns the images in order."""
    out = []
    for tag in tags:
        img = images.make_image(nlayers=1, layer_size=layer_size)
        layout = images.write_oci_layout(tmp_path / f"layout-{token()}", {tag: img})
        ctools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", ctools.creds(), f"oci:{layout}:{tag}",
                      f"docker://{ctools.server.host}/{repo}:{tag}")
        out.append(img)
        time.sleep(1.1)  # distinct push times, as lifecycle rules order by them
    return out


def test_sign_in_as_root_and_create_repository(console, ecr):
    console.sign_in_root()
    console.shot("repositories-empty")
    console.click("#repo-create")
    console.wait_text("h1", "Create repository")
    # the API's own validation, shown in the page
    console.type("#repo-name", "Bad Name")
    console.click("#repo-create-submit")
    alert = console.wait_text(".alert", "InvalidParameterException")
    assert "repositoryName" in alert.text
    console.shot("create-repository-error")
    name = f"console/web-{token()}"
    console.type("#repo-name", name)
    console.click("#repo-immutable")
    console.click("#repo-scan")
    console.click("#repo-create-submit")
    console.wait_text("h2", "Images")
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    console.open("#/repositories")
    # the search finds a part of the name (on the server), in upper case too
    console.type("#repo-search", name.split("/")[1].upper() + "\n")
    console.wait_text("table", name)
    assert len(console.d.find_elements(By.CSS_SELECTOR, "table tbody tr")) == 1
    row = console.el("table tbody tr").text
    assert repo["repositoryUri"] in row
    assert "Enabled" in row and "AES256" in row
    # its copy button puts the URI itself on the clipboard (read back through the real clipboard)
    origin = "/".join(console.d.current_url.split("/")[:3])
    console.d.execute_cdp_cmd("Browser.grantPermissions", {"origin": origin, "permissions": [
        "clipboardReadWrite", "clipboardSanitizedWrite"]})
    console.el("table tbody tr button.copy").click()
    console.wait_text("body", "Copied")
    got = console.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, (e) => done('failed: ' + e));")
    assert got == repo["repositoryUri"]
    console.shot("repositories")


def test_push_with_skopeo_shows_size_and_tags(console, ecr, ctools, tmp_path):
    name = f"console/push-{token()}"
    ecr.create_repository(repositoryName=name)
    img, = push(ctools, tmp_path, name, ["v1.0"], layer_size=3 * 1048576)
    detail = ecr.describe_images(repositoryName=name)["imageDetails"][0]
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    row = console.el(f"tr[data-digest='{img.digest}']")
    WebDriverWait(console.d, WAIT).until(lambda d: "v1.0" in row.text)
    size = f"{detail['imageSizeInBytes'] / 1048576:.2f}"
    assert size.startswith("3.0"), size
    assert size in row.text and "v1.0" in row.text and img.digest[:19] in row.text
    # pushed at: the browser's local time, the UTC value on hover
    pushed = row.find_element(By.CSS_SELECTOR, "td[data-label='Pushed at'] time")
    utc = detail["imagePushedAt"].astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert pushed.get_attribute("title").startswith(utc) and pushed.get_attribute("title").endswith("Z (UTC)")
    # nothing of the session is kept where scripts could read it later
    assert console.d.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert "berth_console" not in console.d.execute_script("return document.cookie")
    console.shot("images")
    # the image's detail: its layers with their sizes, and the manifest
    row.find_element(By.CSS_SELECTOR, f"a[title='{img.digest}']").click()
    console.wait_text("h2", "Layers")
    body = console.el("main").text
    assert img.layers[0].digest[:19] in body
    assert f"{img.layers[0].size / 1048576:.2f}" in body
    # the config, read through /console/api/layer (GetDownloadUrlForLayer answering the bytes)
    console.click("details:nth-of-type(1) summary")
    config = console.wait_text("#image-config", '"architecture"')
    assert json.loads(config.text) == json.loads(img.config.data)
    console.shot("image-detail")


def test_view_push_commands_and_run_them(console, ecr, ctools, berth, tmp_path):
    name = f"console/cmds-{token()}"
    ecr.create_repository(repositoryName=name)
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    console.click("#push-commands")
    console.click("button[data-tool=podman]")
    cmds = [e.text for e in console.d.find_elements(By.CSS_SELECTOR, "code.cmd-podman")]
    console.shot("push-commands")
    console.button("Close")
    assert len(cmds) == 4
    login, build, tag, push_cmd = cmds
    assert login.startswith(f"aws ecr get-login-password --region {berth.region} --endpoint-url {berth.url} | podman login")
    assert tag.startswith(f"podman tag {name}:latest {berth.host}/{name}:latest")
    env = dict(ctools.env, AWS_ACCESS_KEY_ID=berth.access_key, AWS_SECRET_ACCESS_KEY=berth.secret,
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    # instead of `podman build`: an image made offline from a tarball, named as the build would name it
    src = tmp_path / "rootfs"
    src.mkdir()
    (src / "hello.txt").write_text(f"hello {token()}\n")
    tarball = tmp_path / "rootfs.tar"
    subprocess.run(["tar", "-C", str(src), "-cf", str(tarball), "."], check=True)
    run(["podman", "import", str(tarball), f"{name}:latest"], env=env, timeout=120)
    for cmd in (login, tag, push_cmd):
        run(["bash", "-o", "pipefail", "-c", cmd], env=env, timeout=180, redact=[berth.secret])
    got = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "latest"}])["imageDetails"]
    assert got and got[0]["imageTags"] == ["latest"]
    # docker's: its login runs without a daemon (its build, tag and push need one: their text is checked)
    console.click("#push-commands")
    console.click("button[data-tool=docker]")
    dcmds = [e.text for e in console.d.find_elements(By.CSS_SELECTOR, "code.cmd-docker")]
    console.button("Close")
    assert len(dcmds) == 4
    assert dcmds[2] == f"docker tag {name}:latest {berth.host}/{name}:latest"
    assert dcmds[3] == f"docker push {berth.host}/{name}:latest"
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"auths":{}}\n')
    denv = dict(env, HOME=str(tmp_path), DOCKER_CONFIG=str(cfg), DOCKER_HOST=f"unix://{tmp_path}/no-daemon.sock")
    run(["bash", "-o", "pipefail", "-c", dcmds[0]], env=denv, timeout=180, redact=[berth.secret])
    auths = json.loads((cfg / "config.json").read_text())["auths"]
    assert list(auths) == [berth.host] and auths[berth.host]["auth"]


def test_repository_policy_invalid_then_valid(console, ecr, iam, berth):
    name = f"console/policy-{token()}"
    ecr.create_repository(repositoryName=name)
    bad = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow", "Action": "ecr:Nope"\n  ]\n}'
    with pytest.raises(ClientError) as e:
        ecr.set_repository_policy(repositoryName=name, policyText=bad)
    expected = e.value.response["Error"]["Message"]
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/permissions")
    console.wait_text("#policy-status", "No policy")
    area = console.el("#policy-text")
    console.d.execute_script("arguments[0].value = arguments[1]", area, bad)
    console.click("#policy-save")
    alert = console.wait_text(".alert .msg", expected[:30])
    assert alert.text == expected
    console.shot("policy-error")
    # a ready statement, then saved
    console.d.execute_script("arguments[0].value = ''", area)
    console.button("Pull from another account")
    console.type("#tpl-account", "210987654321")
    console.button("Add")
    console.click("#policy-save")
    console.wait_text("#policy-status", "Saved")
    doc = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
    assert doc["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    # the other ready statement: push for a user, added to what is there
    pusher = f"pusher-{token()}"
    iam.create_user(UserName=pusher)
    console.button("Push for a user")
    console.type("#tpl-user", pusher)
    console.button("Add")
    console.click("#policy-save")
    WebDriverWait(console.d, WAIT).until(
        lambda d: len(json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])["Statement"]) == 2)
    push_stmt = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])["Statement"][1]
    assert push_stmt["Principal"] == {"AWS": f"arn:aws:iam::{berth.account_id}:user/{pusher}"}
    assert {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:CompleteLayerUpload"} <= set(push_stmt["Action"])
    console.shot("policy-saved")


def test_lifecycle_rule_and_preview(console, ecr, ctools, tmp_path):
    name = f"console/lc-{token()}"
    ecr.create_repository(repositoryName=name)
    imgs = push(ctools, tmp_path, name, ["v1", "v2", "v3"])
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/lifecycle")
    console.click("#rule-add")
    console.type("#rule-description", "keep one v")
    console.el("#rule-tag-status").send_keys("tagged")
    console.type("#rule-prefixes", "v")
    console.type("#rule-count", "1")
    console.button("Save rule")
    console.wait_text("table", "keep one v")
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"]
    assert rules[0]["selection"] == {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan",
                                     "countNumber": 1}
    console.click("#rules-test")
    console.wait_text("#preview h3", "COMPLETE")
    text = console.el("#preview").text
    assert "2 image(s) would expire" in text
    # the two oldest expire; the newest is kept
    for img in imgs[:2]:
        assert img.digest[:19] in text
    assert imgs[2].digest[:19] not in text
    console.shot("lifecycle-preview")

    # no run yet: the events history is empty
    console.wait_text("#lifecycle-events", "No lifecycle events yet")
    # lifecycle runs now (as its daily job would), and the history lists what it expired, by which rule
    admin(console.server, "lifecycle", "run", "--repository", name)
    assert {i["imageDigest"] for i in ecr.describe_images(repositoryName=name)["imageDetails"]} == {imgs[2].digest}
    console.d.refresh()
    console.wait_text("#lifecycle-events", "Expired")
    rows = [r.text for r in console.d.find_elements(By.CSS_SELECTOR, "#lifecycle-events tbody tr")]
    assert len(rows) == 2, rows
    for img, tag in zip(imgs[:2], ("v1", "v2")):
        row = next(r for r in rows if img.digest[:19] in r)
        assert tag in row and "Expired" in row and "1: keep one v" in row, row
    console.shot("lifecycle-events")

    # edit the rule, then remove it (the policy goes with its last rule)
    console.button("Edit")
    console.type("#rule-count", "2")
    console.button("Save rule")
    WebDriverWait(console.d, WAIT).until(lambda d: json.loads(ecr.get_lifecycle_policy(
        repositoryName=name)["lifecyclePolicyText"])["rules"][0]["selection"]["countNumber"] == 2)
    console.wait_text("#rules", "more than 2 images")
    console.button("Remove")
    console.wait_text("#rules", "No rules")
    with pytest.raises(ClientError) as e:
        ecr.get_lifecycle_policy(repositoryName=name)
    assert e.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"


def test_delete_two_images_through_the_dialog(console, ecr, ctools, tmp_path):
    name = f"console/del-{token()}"
    ecr.create_repository(repositoryName=name)
    imgs = push(ctools, tmp_path, name, ["a", "b", "c"])
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    for img in imgs[:2]:
        console.click(f"tr[data-digest='{img.digest}'] input[type=checkbox]")
    console.wait_text("#images-selected", "2 selected")
    console.click("#images-delete")
    dlg = console.el("dialog")
    assert "Delete 2 images" in dlg.text
    ok = dlg.find_element(By.CSS_SELECTOR, "button[type=submit]")
    assert not ok.is_enabled()
    console.type("#confirm-word", "delete")
    console.shot("delete-images-dialog")
    ok.click()
    WebDriverWait(console.d, WAIT).until(
        lambda d: not d.find_elements(By.CSS_SELECTOR, f"tr[data-digest='{imgs[0].digest}']"))
    left = [i["imageDigest"] for i in ecr.describe_images(repositoryName=name)["imageDetails"]]
    assert left == [imgs[2].digest]


def test_delete_repository_names_it_and_warns_about_force(console, ecr, ctools, tmp_path):
    name = f"console/gone-{token()}"
    ecr.create_repository(repositoryName=name)
    push(ctools, tmp_path, name, ["v1"])
    console.sign_in_root()
    console.type("#repo-search", name + "\n")
    console.wait_text("table", name)
    console.click(f"input[aria-label='Select {name}']")

    def ask():
        console.click("#repo-delete")
        text = console.wait_text("dialog[open]", name).text
        assert f"Delete the repository {name}?" in text and "aws ecr delete-repository --force" in text
        console.type("#confirm-word", "delete")

    # without --force a repository with images stays, with the API's error shown
    ask()
    console.shot("delete-repository-dialog")
    console.el("dialog[open] button[type=submit]").click()
    console.wait_text(".alert", "RepositoryNotEmptyException")
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"]
    # with it, the repository goes with its images
    ask()
    console.click("#force")
    console.el("dialog[open] button[type=submit]").click()
    WebDriverWait(console.d, WAIT).until(lambda d: not d.find_elements(By.CSS_SELECTOR, f"input[aria-label='Select {name}']"))
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories(repositoryNames=[name])
    assert e.value.response["Error"]["Code"] == "RepositoryNotFoundException"


def test_read_only_user_is_refused_a_delete_with_aws_sentence(console, ecr, iam, ctools, tmp_path, berth):
    name = f"console/ro-{token()}"
    ecr.create_repository(repositoryName=name)
    img, = push(ctools, tmp_path, name, ["keep"])
    user = f"reader-{token()}"
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn=READ_ONLY)
    iam.create_login_profile(UserName=user, Password="Reader-pass-1")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with pytest.raises(ClientError) as e:
        client(berth, "ecr", key["AccessKeyId"], key["SecretAccessKey"]).batch_delete_image(
            repositoryName=name, imageIds=[{"imageDigest": img.digest}])
    sentence = e.value.response["Error"]["Message"]
    assert "is not authorized to perform: ecr:BatchDeleteImage" in sentence

    console.sign_in_user(user, "Reader-pass-1")
    assert user in console.el("#who").text
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    console.click(f"tr[data-digest='{img.digest}'] input[type=checkbox]")
    console.click("#images-delete")
    console.type("#confirm-word", "delete")
    console.el("dialog button[type=submit]").click()
    alert = console.wait_text(".alert", "AccessDeniedException")
    assert alert.find_element(By.CSS_SELECTOR, ".msg").text == sentence
    assert ecr.describe_images(repositoryName=name)["imageDetails"][0]["imageDigest"] == img.digest
    console.shot("read-only-refused")


class _AttackerPage(http.server.BaseHTTPRequestHandler):
    html = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *a):
        pass


def test_csrf_from_another_origin_fails(console, iam, berth):
    console.sign_in_root()
    victim = f"csrf-{token()}"
    # another origin (same host, other port): a form that posts to the console's IAM API
    _AttackerPage.html = (
        f'<form id="f" method="POST" action="{berth.url}/console/api/iam">'
        f'<input name="Action" value="CreateUser"><input name="Version" value="2010-05-08">'
        f'<input name="UserName" value="{victim}"></form>'
        f'<script>document.getElementById("f").submit()</script>').encode()
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _AttackerPage)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        console.d.get(f"http://127.0.0.1:{srv.server_address[1]}/")
        WebDriverWait(console.d, WAIT).until(lambda d: "/console/api/iam" in d.current_url)
        body = console.d.find_element(By.TAG_NAME, "body").text
    finally:
        srv.shutdown()
        srv.server_close()
    assert "InvalidOrigin" in body
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=victim)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    # and with the session's cookie but not its CSRF token, from a script
    r = requests.post(berth.url + "/console/api/iam", cookies=console.cookie(),
                      data={"Action": "CreateUser", "Version": "2010-05-08", "UserName": victim}, timeout=10)
    assert r.status_code == 403 and r.json()["__type"] == "InvalidCsrfToken"
    with pytest.raises(ClientError):
        iam.get_user(UserName=victim)


def test_sign_in_with_the_keyboard(console, iam):
    user = f"keys-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password="Keyboard-pass-1")
    console.fresh()
    from selenium.webdriver.common.keys import Keys
    active = console.d.switch_to.active_element
    assert active.get_attribute("name") == "account"
    active.send_keys(console.server.account_id, Keys.TAB)
    console.d.switch_to.active_element.send_keys(user, Keys.TAB)
    console.d.switch_to.active_element.send_keys("Keyboard-pass-1", Keys.ENTER)
    console.wait_text("h1", "Private repositories")
    assert user in console.el("#who").text
    console.shot("signed-in-by-keyboard")


def test_sign_out_ends_the_session_server_side(console, berth):
    console.sign_in_root()
    cookies = console.cookie()
    assert "berth_console" in cookies
    assert requests.get(berth.url + "/console/api/session", cookies=cookies, timeout=10).status_code == 200
    console.click("#signout")
    console.wait_text("h1", "Sign in to berth")
    console.shot("signed-out")
    r = requests.get(berth.url + "/console/api/session", cookies=cookies, timeout=10)
    assert r.status_code == 401 and r.json()["__type"] == "NotSignedIn"


def test_iam_pages(console, iam):
    user = f"page-{token()}"
    console.sign_in_root()
    console.open("#/iam/users")
    console.type("#new-user", user)
    console.button("Create user")
    console.wait_text("table", user)
    console.open(f"#/iam/user/{user}")
    console.wait_text("h2", "Access keys")
    console.click("#key-create")
    secret = console.el("#new-secret").text
    akid = console.el("#new-akid").text
    assert len(secret) == 40 and akid.startswith("AKIA")
    console.shot("access-key-created")
    console.button("Done")
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [akid]
    console.wait_text("main", akid)
    assert secret not in console.el("main").text  # shown once only
    console.button("Deactivate")
    WebDriverWait(console.d, WAIT).until(
        lambda d: iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["Status"] == "Inactive")
    console.type("#login-password", "Console-pass-9")
    console.click("#login-save")
    WebDriverWait(console.d, WAIT).until(lambda d: "Console password set" in d.find_element(By.ID, "main").text)
    assert iam.get_login_profile(UserName=user)["LoginProfile"]["UserName"] == user
    console.shot("iam-user")
    console.open("#/iam/policies")
    console.wait_text("table", "AmazonEC2ContainerRegistryReadOnly")
    console.shot("iam-policies")
    console.open("#/iam/simulator")
    console.button("Run simulation")
    console.wait_text("#sim-results", "allowed")
    cells = [td.text for td in console.d.find_elements(By.CSS_SELECTOR, "#sim-results tbody td")]
    assert cells[:3] == ["ecr:BatchDeleteImage", f"arn:aws:ecr:{console.server.region}:{console.server.account_id}:repository/*",
                         "allowed"], cells
    console.shot("policy-simulator")


def test_registry_settings(console, ecr):
    console.sign_in_root()
    console.open("#/settings")
    console.wait_text("h2", "Scanning configuration")
    console.el("#scan-type").send_keys("BASIC")
    box = console.el("#scan-on-push-all")
    if not box.is_selected():
        box.click()
    console.type("#scan-filter", "console/*")
    console.button("Save scanning configuration")
    WebDriverWait(console.d, WAIT).until(
        lambda d: ecr.get_registry_scanning_configuration()["scanningConfiguration"].get("rules"))
    rule = ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"][0]
    assert rule["scanFrequency"] == "SCAN_ON_PUSH"
    assert rule["repositoryFilters"] == [{"filter": "console/*", "filterType": "WILDCARD"}]
    # the registry policy, in the same editor as a repository's
    me = console.server.account_id
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "ReplicateFrom210987654321", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": f"arn:aws:ecr:{console.server.region}:{me}:repository/*"}]}
    console.d.execute_script("arguments[0].value = arguments[1]", console.el("#policy-text"), json.dumps(policy))
    console.click("#policy-save")
    console.wait_text("#policy-status", "Saved")
    assert json.loads(ecr.get_registry_policy()["policyText"]) == policy
    # an account setting (GetAccountSetting/PutAccountSetting: the aws CLI has them, this boto3 not)
    from test_ecr_repositories import AwsCli
    aws = AwsCli(console.server)
    assert aws("get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")["value"] == "AWS_NATIVE"
    console.el("#setting-BASIC_SCAN_TYPE_VERSION").send_keys("CLAIR")
    console.d.execute_script(
        "document.getElementById('setting-BASIC_SCAN_TYPE_VERSION').closest('.toolbar').querySelector('button').click()")
    WebDriverWait(console.d, WAIT).until(
        lambda d: aws("get-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION")["value"] == "CLAIR")
    console.shot("registry-settings")
    aws("put-account-setting", "--name", "BASIC_SCAN_TYPE_VERSION", "--value", "AWS_NATIVE")
    ecr.delete_registry_policy()
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def test_index_children_nest_and_repository_tags(console, ecr, ctools, tmp_path):
    name = f"console/multi-{token()}"
    arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    idx = images.make_multiarch()
    layout = images.write_oci_layout(tmp_path / "layout", {"multi": idx})
    ctools.skopeo("copy", "--all", "--dest-tls-verify=false", "--dest-creds", ctools.creds(), f"oci:{layout}:multi",
                  f"docker://{ctools.server.host}/{name}:multi")
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    row = console.el(f"tr[data-digest='{idx.digest}']")
    assert "Image Index" in row.text
    # the index's images are not listed beside it, only under it once it is opened
    for digest in (c.digest for c in idx.children):
        assert not console.d.find_elements(By.CSS_SELECTOR, f"tr[data-digest='{digest}']")
    row.find_element(By.CSS_SELECTOR, "button.twisty").click()
    children = [c.digest for c in idx.children]
    WebDriverWait(console.d, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.child")) == len(children))
    shown = [tr.get_attribute("data-digest") for tr in console.d.find_elements(By.CSS_SELECTOR, "tr.child")]
    assert sorted(shown) == sorted(children)
    assert len(console.d.find_elements(By.CSS_SELECTOR, "#images tbody tr")) == 1 + len(children)
    # they follow their index
    order = [tr.get_attribute("data-digest") for tr in console.d.find_elements(By.CSS_SELECTOR, "#images tbody tr")]
    at = order.index(idx.digest)
    assert sorted(order[at + 1:at + 1 + len(children)]) == sorted(children)
    console.shot("index-children")

    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/tags")
    console.type("#tag-key", "team")
    console.type("#tag-value", "payments")
    console.button("Add tag")
    console.wait_text("table", "payments")
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "payments"}]
    console.click("button[aria-label='Remove tag team']")
    WebDriverWait(console.d, WAIT).until(lambda d: not ecr.list_tags_for_resource(resourceArn=arn)["tags"])
    console.wait_text("table", "No tags")


@pytest.fixture(scope="module")
def scan_server(berth_factory):
    """A server of its own: the vulnerability records this module imports stay out of the shared one."""
    return berth_factory()


def test_scan_findings_filter_sort_and_links(browser, shots, scan_server, tmp_path):
    from conftest import ContainerTools
    from test_scanning import debian_image, dpkg_stanza, import_records, osv

    low = "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"
    critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    import_records(scan_server, tmp_path / "osv", [
        osv("CVE-2099-0101", "Debian:12", "demo-tool", fixed="2.0-1", cvss=critical),
        osv("CVE-2099-0050", "Debian:12", "demo-lib", fixed="5.0-1", cvss=low),
    ])
    ecr = client(scan_server, "ecr")
    name = f"console/scan-{token()}"
    ecr.create_repository(repositoryName=name)
    img = debian_image(dpkg_extra=dpkg_stanza("demo-tool", "1.9-3") + dpkg_stanza("demo-lib", "4.0-1"))
    tools = ContainerTools(tmp_path / "tools", scan_server)
    layout = images.write_oci_layout(tmp_path / "layout", {"v1": img})
    tools.skopeo("copy", "--dest-tls-verify=false", "--dest-creds", tools.creds(), f"oci:{layout}:v1",
                 f"docker://{scan_server.host}/{name}:v1")
    ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": img.digest})
    ecr.get_waiter("image_scan_complete").wait(repositoryName=name, imageId={"imageDigest": img.digest},
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 90})
    found = ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": img.digest})
    uris = {f["name"]: f["uri"] for f in found["imageScanFindings"]["findings"]}
    assert set(uris) == {"CVE-2099-0101", "CVE-2099-0050"}

    console = Console(browser, scan_server, shots)
    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/images")
    row = console.wait_text(f"tr[data-digest='{img.digest}']", "C1")  # the summary: one critical, one low
    assert "L1" in row.text
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/image/{requests.utils.quote(img.digest, safe='')}")
    console.wait_text("#findings", "CVE-2099-0101")

    def names():
        return [tr.find_elements(By.CSS_SELECTOR, "td")[0].text
                for tr in console.d.find_elements(By.CSS_SELECTOR, "#findings tbody tr")]
    assert names() == ["CVE-2099-0101", "CVE-2099-0050"]  # most severe first
    link = console.d.find_element(By.LINK_TEXT, "CVE-2099-0101")
    assert link.get_attribute("href") == uris["CVE-2099-0101"]
    assert link.get_attribute("rel") == "noopener noreferrer"
    from selenium.webdriver.support.ui import Select
    Select(console.el("#finding-severity")).select_by_value("LOW")
    WebDriverWait(console.d, WAIT).until(lambda d: names() == ["CVE-2099-0050"])
    Select(console.el("#finding-severity")).select_by_value("CRITICAL")
    WebDriverWait(console.d, WAIT).until(lambda d: names() == ["CVE-2099-0101"])
    Select(console.el("#finding-severity")).select_by_value("")
    Select(console.el("#finding-sort")).select_by_value("name")
    WebDriverWait(console.d, WAIT).until(lambda d: names() == ["CVE-2099-0050", "CVE-2099-0101"])
    console.shot("image-findings")


def test_long_lists_are_paged_on_the_server(console, ecr, iam, reg):
    """The lifecycle preview (GetLifecyclePolicyPreview's pages) and a group's members (GetGroup's
    Marker pages), past one page of each."""
    name = f"console/pages-{token()}"
    digests = []
    for i in range(23):
        img = images.make_image(label=images.token())
        reg.push_image(name, img, tag=f"t{i:02d}")
        digests.append(img.digest)
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps({"rules": [{
        "rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}}]}))
    group = f"pages-{token()}"
    iam.create_group(GroupName=group)
    users = [f"{group}-u{i:02d}" for i in range(22)]
    for u in users:
        iam.create_user(UserName=u)
        iam.add_user_to_group(GroupName=group, UserName=u)

    console.sign_in_root()
    console.open(f"#/repository/{requests.utils.quote(name, safe='')}/lifecycle")
    console.wait_text("table", "more than 1 images")
    console.click("#rules-test")
    console.wait_text("#preview h3", "22 image(s) would expire")
    assert len(console.d.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 20
    first = console.el("#preview").text
    console.click("#preview .pager button[aria-label='Next page']")
    console.wait_text("#preview .pager span", "Page 2")
    WebDriverWait(console.d, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#preview tbody tr")) == 2)
    second = console.el("#preview").text
    shown = [d for d in digests[:22] if d[:19] in first or d[:19] in second]
    assert len(shown) == 22

    console.open(f"#/iam/group/{group}")
    WebDriverWait(console.d, WAIT).until(lambda d: "Page 1" in d.find_element(By.ID, "main").text)
    page1 = {a.text for a in console.d.find_elements(By.CSS_SELECTOR, "main table a") if a.text.startswith(group)}
    assert len(page1) == 20
    console.click(".pager button[aria-label='Next page']")
    console.wait_text(".pager span", "Page 2")
    WebDriverWait(console.d, WAIT).until(
        lambda d: len([a for a in d.find_elements(By.CSS_SELECTOR, "main table a") if a.text.startswith(group)]) == 2)
    page2 = {a.text for a in console.d.find_elements(By.CSS_SELECTOR, "main table a") if a.text.startswith(group)}
    assert page1 | page2 == set(users)


def test_account_settings_and_sign_in_with_the_alias(console, iam):
    alias = f"console-{token()}"
    user = f"alias-{token()}"
    iam.create_user(UserName=user)
    iam.create_login_profile(UserName=user, Password="Alias-user-pass-1")
    try:
        console.sign_in_root()
        console.open("#/iam/account")
        console.wait_text("h2", "Password policy")
        console.type("#account-alias", alias)
        console.click("#alias-save")
        console.wait_text("main", f"Users sign in with {alias}")
        assert iam.list_account_aliases()["AccountAliases"] == [alias]
        console.type("#pp-min-length", "14")
        console.click("#pp-symbols")
        console.type("#pp-reuse", "3")
        console.click("#policy-save")
        console.wait_text("#pp-status", "This account has a password policy")
        got = iam.get_account_password_policy()["PasswordPolicy"]
        assert got["MinimumPasswordLength"] == 14 and got["RequireSymbols"] is True
        assert got["PasswordReusePrevention"] == 3 and got["ExpirePasswords"] is False
        console.d.execute_script("window.scrollTo(0, 0)")
        console.shot("account-settings")
        # the policy holds for passwords set in the console too, with IAM's sentence
        console.open(f"#/iam/user/{user}")
        console.type("#login-password", "Too-short-1")
        console.click("#login-save")
        console.wait_text(".alert", "PasswordPolicyViolation")
        assert "Password should have a minimum length of 14" in console.el(".alert").text
        # the IAM user signs in with the alias in place of the account id
        console.click("#signout")
        console.wait_text("h1", "Sign in to berth")
        console.type("input[name=account]", alias)
        console.type("input[name=user]", user)
        console.type("input[name=password]", "Alias-user-pass-1")
        console.click("#signin-submit")
        console.wait_text("h1", "Private repositories")
        assert user in console.el("#who").text
    finally:
        iam.delete_account_alias(AccountAlias=alias)
        iam.delete_account_password_policy()
        iam.delete_login_profile(UserName=user)
