"""The console at scale (issue 11 §2: "every list is paginated server-side and stays fast at
100,000 images"): a repository of 100,000 images and an account of 100,000 repositories, opened
in headless chromium. Page 1 of the Images tab, the next page (newest push first across the
repository), and a repository search must each render within a bound; the times are printed.

The rows are written into the store directly with the server stopped (bench/listing.py's
populate(): real-looking manifests with bodies and digests, 90 % tagged), not by 100,000 pushes.
Filling takes about 40 s, so this file is not in `make test`: `make test-console-scale` runs it.
SQLite only (it writes the SQLite database itself).
"""

import sqlite3
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from test_console import Console, browser, shots  # noqa: F401  (fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from listing import populate  # noqa: E402

pytestmark = pytest.mark.sqlite_only("fills the SQLite database directly")

N = 100_000
IMAGES_REPO = "scale/images"
# what a page may take to show, from the click to the last row drawn (a sanitizer build is
# several times slower than -O2; the measured times are printed)
BOUND_S = 5.0


@pytest.fixture(scope="module")
def big(berth_factory):
    srv = berth_factory()
    ecr = boto3.client("ecr", endpoint_url=srv.url, region_name=srv.region, aws_access_key_id=srv.access_key,
                       aws_secret_access_key=srv.secret, config=Config(retries={"max_attempts": 1}))
    ecr.create_repository(repositoryName=IMAGES_REPO)
    srv.stop()
    db_path = srv.data_dir / "berth.db"
    db = sqlite3.connect(db_path)
    repo_id = db.execute("SELECT id FROM repositories WHERE name = ?", (IMAGES_REPO,)).fetchone()[0]
    now = int(time.time() * 1000)
    with db:
        db.executemany("INSERT INTO repositories(account_id, name, created_at) VALUES(?, ?, ?)",
                       ((srv.account_id, f"scale/repo-{i:06d}", now) for i in range(N)))
    db.close()
    total = populate(db_path, repo_id, N)[0]
    assert total == N
    srv.start()
    return srv


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def rows(console, css):
    return console.d.find_elements(By.CSS_SELECTOR, css)


from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait as _Wait  # noqa: E402


def WebDriverWait(d, timeout):  # noqa: N802
    """Waits that look again when the page replaced what they were reading."""
    return _Wait(d, timeout, ignored_exceptions=[StaleElementReferenceException])


def test_images_tab_of_a_100000_image_repository_renders_page_one_in_bounded_time(browser, big, shots):  # noqa: F811
    console = Console(browser, big, shots)
    console.sign_in_root()
    quoted = requests.utils.quote(IMAGES_REPO, safe="")

    def page_one():
        console.open(f"#/repository/{quoted}/images")
        WebDriverWait(console.d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images tbody tr")) == 50)
        return console.el(".pager span").text

    label, secs = timed(page_one)
    print(f"Images tab, {N} images: page 1 (50 rows) in {secs:.2f} s")
    assert label == "Page 1"
    assert secs < BOUND_S, f"page 1 took {secs:.2f} s"
    first = [r.get_attribute("data-digest") for r in rows(console, "#images tbody tr")]
    # newest push first across the repository (ECR's console order), chosen by the server
    db = sqlite3.connect(big.data_dir / "berth.db")
    newest = [d for (d,) in db.execute(
        "SELECT m.digest FROM manifests m JOIN repositories r ON r.id = m.repo_id WHERE r.name = ? AND "
        "m.status = 'ACTIVE' ORDER BY m.pushed_at DESC, m.digest DESC LIMIT 100", (IMAGES_REPO,))]
    db.close()
    assert first == newest[:50]

    def page_two():
        console.click(".pager button[aria-label='Next page']")
        WebDriverWait(console.d, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 2")
        WebDriverWait(console.d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#images tbody tr")) == 50)

    _, secs2 = timed(page_two)
    print(f"Images tab, {N} images: page 2 in {secs2:.2f} s")
    assert secs2 < BOUND_S
    second = [r.get_attribute("data-digest") for r in rows(console, "#images tbody tr")]
    assert second == newest[50:]
    console.shot("images-100000")


def test_repository_search_among_100000_repositories_in_bounded_time(browser, big, shots):  # noqa: F811
    console = Console(browser, big, shots)
    console.sign_in_root()

    def first_page():
        WebDriverWait(console.d, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table tbody tr")) == 20)

    console.open("#/settings")
    console.wait_text("h1", "Registry settings")
    _, secs = timed(lambda: (console.open("#/repositories"), first_page()))
    print(f"Repositories, {N + 1} repositories: page 1 in {secs:.2f} s")
    assert secs < BOUND_S

    def names():
        return [a.text for a in console.d.find_elements(By.CSS_SELECTOR, "table tbody tr td a")]

    def search(text, expect):
        console.type("#repo-search", text + "\n")
        WebDriverWait(console.d, 60).until(lambda d: names() == expect)
        return names()

    # a substring near the end of the name order: the whole index is read
    got, secs = timed(lambda: search("-09999", [f"scale/repo-09999{i}" for i in range(10)]))
    print(f"Repositories, {N + 1} repositories: 'contains -09999' (10 matches) in {secs:.2f} s")
    assert got == [f"scale/repo-09999{i}" for i in range(10)]
    assert secs < BOUND_S
    # many matches: pages of 20, the next one on the server too
    got, secs = timed(lambda: search("repo-0999", [f"scale/repo-0999{i:02d}" for i in range(20)]))
    print(f"Repositories, {N + 1} repositories: 'contains repo-0999' page 1 in {secs:.2f} s")
    assert got == [f"scale/repo-0999{i:02d}" for i in range(20)]
    console.click(".pager button[aria-label='Next page']")
    WebDriverWait(console.d, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, ".pager span").text == "Page 2")
    WebDriverWait(console.d, 60).until(lambda d: names() == [f"scale/repo-0999{i:02d}" for i in range(20, 40)])
    console.shot("repositories-search-100000")
