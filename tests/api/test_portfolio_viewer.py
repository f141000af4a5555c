"""The viewer's portfolio and evidence views in headless Chromium (Debian's chromium and
chromium-driver through Selenium, as test_viewer.py): a reviewer filters the portfolio, sorts it,
opens a contract, and looks at a finding on its page. Screenshots go to test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.api._portfolio_support import EVIDENCE_CONTRACT, extracted
from tests.api.conftest import ApiStack
from tests.api.test_viewer import browser, screenshot

pytestmark = pytest.mark.integration
__all__ = ["browser"]  # the fixture, shared with test_viewer.py

_ROWS = (
    "return [...document.querySelectorAll('#portfolio-rows tr')].map((r) => r.dataset.extraction)"
)


def test_the_portfolio_filters_sorts_and_opens_a_finding_on_its_page(
    api_stack: ApiStack, browser: WebDriver
) -> None:
    extraction: dict[str, Any] = extracted(api_stack)
    listed = api_stack.get("/api/contracts", params={"limit": "200"}).json()["items"]
    browser.get(f"{api_stack.url}/#/portfolio")
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(_ROWS))
    assert browser.execute_script(_ROWS) == [item["extraction_id"] for item in listed]
    row = browser.find_element(
        By.CSS_SELECTOR, f'#portfolio-rows tr[data-extraction="{extraction["extraction_id"]}"]'
    )
    assert EVIDENCE_CONTRACT.name[:20] in row.text.replace("\n", "")
    marks = row.find_elements(By.CSS_SELECTOR, "td.category-cell.has")
    assert len(marks) == len({clause["category"] for clause in extraction["clauses"]})

    # A text query: the table keeps the contracts with a matching finding, the findings show.
    word = max(extraction["clauses"][0]["quote"].split(), key=len).strip(".,;:()\"'")
    browser.find_element(By.ID, "filter-q").send_keys(word)
    browser.find_element(By.ID, "filter-apply").click()
    expected = api_stack.get("/api/contracts", params={"q": word, "limit": "200"}).json()["items"]
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script(_ROWS) == [item["extraction_id"] for item in expected]
    )
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#findings-list .finding mark")
    )

    # Sorting by name, both ways.
    browser.find_element(By.ID, "filter-reset").click()
    browser.find_element(By.CSS_SELECTOR, 'button[data-sort="name"]').click()
    by_name = api_stack.get("/api/contracts", params={"sort": "name", "limit": "200"}).json()
    WebDriverWait(browser, 20).until(
        lambda d: d.execute_script(_ROWS) == [i["extraction_id"] for i in by_name["items"]]
    )
    screenshot(browser, "viewer-portfolio.png")

    # Click through to the contract, then show a finding on its page.
    browser.find_element(
        By.CSS_SELECTOR, f'a.contract-link[data-extraction="{extraction["extraction_id"]}"]'
    ).click()
    WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#categories .evidence-button")
    )
    browser.find_element(By.CSS_SELECTOR, "#categories .evidence-button").click()
    dialog = browser.find_element(By.ID, "evidence-dialog")
    WebDriverWait(browser, 30).until(lambda _: dialog.is_displayed())
    loaded = (
        "const i = document.getElementById('evidence-image');"
        " return i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:')"
    )
    try:
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(loaded))
    except Exception:
        screenshot(browser, "viewer-evidence-failed.png")
        shown = browser.find_element(By.ID, "evidence-located").text
        logs = browser.get_log("browser") if hasattr(browser, "get_log") else []
        raise AssertionError(f"the page image did not load: {shown!r} {logs}") from None
    first = min(extraction["clauses"], key=lambda c: (c["category"], c["page"], c["ordinal"]))
    assert browser.find_element(By.ID, "evidence-quote").text.split() == first["quote"].split()
    located = browser.find_element(By.ID, "evidence-located")
    assert located.get_attribute("data-located-by") == "offsets"
    image = browser.find_element(By.ID, "evidence-image")
    assert image.get_attribute("data-page") == str(first["page"])
    screenshot(browser, "viewer-evidence.png")
    next_button = browser.find_element(By.ID, "evidence-next")
    if next_button.is_enabled():
        next_button.click()
        WebDriverWait(browser, 30).until(
            lambda _: image.get_attribute("data-page") == str(first["page"] + 1)
        )
        assert browser.find_element(By.ID, "evidence-back").is_displayed()
