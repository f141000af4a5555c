"""The viewer in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium):
a reviewer uploads a CUAD contract, watches it run, and reads its clauses with quotes and pages.

Selenium with the Debian driver is the simplest robust choice here: pytest drives it in-process
(no Node toolchain), `Service(executable_path=...)` skips Selenium Manager so nothing is
downloaded, and the driver always matches the browser because both come from one Debian source.

The screenshots land in test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from charmelio.documents import upload_pdf
from operator_tools.devstack import free_port
from operator_tools.loadtest import variant
from tests.api.conftest import ApiStack
from tests.conftest import CUAD_PDFS, ROOT

pytestmark = pytest.mark.integration

CONTRACT = CUAD_PDFS / "N2KINC_10_16_1997_EX_10_16_SPONSORSHIP_AGREEMENT.pdf"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def _debian_chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    message = "Debian's chromium and chromium-driver are needed (.ci/run installs them)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    binary, driver_path = _debian_chromium()
    options = Options()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    if full_page:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(1400, min(max(height, 1000), 6000))
    assert driver.save_screenshot(str(path))
    return path


_SHOWN_CLAUSES = """
return [...document.querySelectorAll('#categories .clause')].map((item) => [
  item.closest('.category').dataset.category,
  item.querySelector('.clause-quote').textContent,
  item.querySelector('.clause-page').textContent,
]);
"""


def test_a_reviewer_uploads_a_contract_and_reads_its_clauses(
    api_stack: ApiStack, browser: WebDriver
) -> None:
    browser.get(f"{api_stack.url}/")
    assert browser.title.startswith("Charmelio")
    browser.find_element(By.ID, "file-input").send_keys(str(CONTRACT))
    upload_button = browser.find_element(By.ID, "upload-button")
    WebDriverWait(browser, 10).until(lambda _: upload_button.is_enabled())
    upload_button.click()

    # The stage strip appears while it runs, then the badge turns to completed.
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "stages").find_elements(By.CSS_SELECTOR, "li")
    )
    screenshot(browser, "viewer-progress.png")
    badge = browser.find_element(By.ID, "status-badge")
    WebDriverWait(browser, 180).until(lambda _: badge.text.lower() in ("completed", "failed"))
    assert badge.text.lower() == "completed", browser.find_element(By.ID, "failure-text").text

    # The address now names the stored extraction; the API says what the page must show.
    extraction_id = browser.execute_script("return location.hash").rsplit("/", 1)[-1]
    extraction: dict[str, Any] = api_stack.get(f"/api/extractions/{extraction_id}").json()
    assert extraction["status"] == "completed"
    assert extraction["clauses"]

    shown = browser.execute_script(_SHOWN_CLAUSES)
    expected = [
        [clause["category"], clause["quote"], f"Page {clause['page']}"]
        for clause in extraction["clauses"]
    ]
    assert shown == expected
    first = browser.find_element(By.CSS_SELECTOR, "#categories .clause .clause-quote")
    assert first.is_displayed()
    assert " ".join(first.text.split()) == " ".join(extraction["clauses"][0]["quote"].split())

    facts = browser.find_element(By.ID, "facts").text
    result = extraction["result"]
    assert result["parties"], "the contract names its parties"
    for party in result["parties"]:
        assert party["name"] in facts
    if result["governing_law"]:
        assert result["governing_law"] in facts
    assert "Page" in browser.find_element(By.ID, "categories").text
    nav = browser.find_elements(By.CSS_SELECTOR, "#category-nav .chip")
    assert len(nav) == len({clause["category"] for clause in extraction["clauses"]})

    listed = browser.find_elements(
        By.CSS_SELECTOR, f'#history a[data-extraction="{extraction_id}"]'
    )
    assert listed, "the new extraction is in the list of past extractions"
    assert CONTRACT.name in listed[0].text

    path = screenshot(browser, "viewer-completed.png", full_page=True)
    assert path.stat().st_size > 10_000


def test_with_auth_on_the_viewer_asks_for_the_key_once_and_uses_it(
    api_stack: ApiStack, browser: WebDriver
) -> None:
    key = "viewer-test-key-42"
    process = api_stack.stack.start_api(5, port=free_port(), extra_env={"CHARMELIO_API_KEY": key})
    try:
        browser.get(f"{process.url}/")
        dialog = browser.find_element(By.ID, "key-dialog")
        WebDriverWait(browser, 15).until(lambda _: dialog.is_displayed())
        browser.find_element(By.ID, "key-input").send_keys(key)
        dialog.find_element(By.CSS_SELECTOR, "button[value=ok]").click()
        WebDriverWait(browser, 15).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#history a.history-item")
        )
        assert not dialog.is_displayed()
        assert browser.execute_script("return sessionStorage.getItem('charmelio.apiKey')") == key
        assert browser.find_element(By.ID, "key-button").is_displayed()
    finally:
        api_stack.stack.stop_worker(process)


def test_the_batch_card_follows_a_batch_to_its_end_with_its_failures(
    api_stack: ApiStack, browser: WebDriver
) -> None:
    """A batch of two contracts and an id that was never uploaded, followed by typing its id into
    the "Follow a batch" card: the line counts up to the end, the failure is listed with its
    type."""
    sources = sorted(CUAD_PDFS.glob("*.pdf"))[:2]
    documents = [
        upload_pdf(
            variant(path.read_bytes(), "viewer-batch"),
            path.name,
            store=api_stack.store,
            database_url=api_stack.database_url,
            max_bytes=50 << 20,
        ).document_id
        for path in sources
    ]
    missing = "doc_viewernotuploaded"
    started = api_stack.post("/api/batches", json={"document_ids": [*documents, missing]})
    assert started.status_code == 202, started.text
    batch_id = started.json()["batch_id"]

    browser.get(f"{api_stack.url}/")
    browser.find_element(By.ID, "batch-id").send_keys(batch_id)
    browser.find_element(By.CSS_SELECTOR, "#batch-form button").click()
    line = browser.find_element(By.ID, "batch-line")
    WebDriverWait(browser, 15).until(lambda _: line.text.startswith(("running", "completed")))
    assert browser.execute_script("return location.hash") == f"#batch={batch_id}"
    screenshot(browser, "viewer-batch-running.png")
    WebDriverWait(browser, 240).until(lambda _: line.text.startswith("completed"))

    progress: dict[str, Any] = api_stack.get(f"/api/batches/{batch_id}").json()
    assert (progress["done"], progress["failed"]) == (2, 1)
    assert line.text == (
        "completed: 3 of 3 — 2 extracted, 0 reused, 1 failed, 0 in flight, 0 waiting"
    )
    bar = browser.find_element(By.ID, "batch-bar")
    assert bar.is_displayed()
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("3", "3")
    failures = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#batch-failures li")]
    assert len(failures) == 1
    assert failures[0].startswith(f"{missing}: DocumentNotFoundError: ")
    # A message of ids and object keys wraps inside the card instead of running out of it.
    card_overflow = browser.execute_script(
        "const card = document.getElementById('batch-card');"
        " return card.scrollWidth - card.clientWidth;"
    )
    assert card_overflow <= 0
    path = screenshot(browser, "viewer-batch-completed.png")
    assert path.stat().st_size > 10_000

    # The address alone opens the same batch (a link a colleague was sent).
    browser.get(f"{api_stack.url}/#batch={batch_id}")
    line = browser.find_element(By.ID, "batch-line")
    WebDriverWait(browser, 15).until(lambda _: line.text.startswith("completed"))
    assert browser.find_element(By.ID, "batch-id").get_attribute("value") == batch_id
