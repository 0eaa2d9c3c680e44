"""End to end, as a civil servant uses the site: headless Chromium against ``kg serve`` on the
latest real corpus (built with the AI-Act decision aid).

One walk through the site: open the home page, search from the header, open a vereiste and
follow a maatregel that serves it, narrow the maatregelen with two facets and export the
selection, run an example query in the workbench, break it and see the error beside the query
it kept. Then an accessibility scan (axe-core, from the PyPI package ``axe-core-python``, run
inside the page) of the main pages: no serious or critical violations.

Expected rows are computed from the files' front matter, not from the graph.
"""

from __future__ import annotations

import csv
import io
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import frontmatter
import pytest

from tests.conftest import REAL_CORPUS, LiveServer
from tests.helpers import chromium

pytestmark = [pytest.mark.browser, pytest.mark.corpus]

#: The pages the accessibility scan visits.
MAIN_PAGES = (
    "/",
    "/vereisten",
    "/maatregelen?rollen=jurist&levenscyclus=ontwerp",
    "/hulpmiddelen",
    "/id/urn:nl:ak:ver:aia-01",
    "/id/urn:nl:ak:mtr:org-02",
    "/zoeken?q=bias",
    "/sparql",
    "/statistieken",
    "/beslishulp",
    "/begrippen",
)


@pytest.fixture(scope="module")
def server(beslishulp_dist: Path) -> Iterator[LiveServer]:
    live = LiveServer(beslishulp_dist)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-e2e"))
    try:
        yield driver
    finally:
        driver.quit()


def maatregelen_with(**wanted: str) -> set[str]:
    """The ids of the maatregelen whose front matter holds every wanted key: value."""
    found = set()
    folder = REAL_CORPUS / "docs" / "voldoen-aan-wetten-en-regels" / "maatregelen"
    for path in folder.glob("*.md"):
        matter = frontmatter.load(path).metadata
        if all(value in (matter.get(key) or []) for key, value in wanted.items()):
            found.add(str(matter["id"]))
    return found


def wait_for_url(browser: Any, part: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 15).until(expected_conditions.url_contains(part))


def test_search_then_follow_a_vereiste_to_a_maatregel(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    box = browser.find_element(By.CSS_SELECTOR, "header.site input[name=q]")
    box.send_keys("bias")
    box.submit()
    wait_for_url(browser, "bias")
    first = browser.find_element(By.CSS_SELECTOR, "ol.results .result-title a")
    assert "bias-en-non-discriminatie" in first.get_attribute("href")
    marks = browser.find_elements(By.CSS_SELECTOR, "ol.results mark")
    assert marks and all(mark.text.lower() == "bias" for mark in marks)

    search = browser.find_element(By.ID, "search-q")
    search.clear()
    search.send_keys("DPIA\n")
    wait_for_url(browser, "q=DPIA")
    hrefs = [
        e.get_attribute("href")
        for e in browser.find_elements(By.CSS_SELECTOR, "ol.results .result-title a")
    ]
    assert any(href.endswith("urn:nl:ak:ver:avg-13") for href in hrefs[:3]), hrefs[:3]

    header = browser.find_element(By.CSS_SELECTOR, "header.site input[name=q]")
    header.clear()
    header.send_keys("aia-01\n")
    wait_for_url(browser, "/id/urn:nl:ak:ver:aia-01")
    serving = browser.find_element(By.ID, "ak-links-in")
    link = serving.find_element(By.CSS_SELECTOR, "a[href*='urn:nl:ak:mtr:']")
    target = link.get_attribute("href")
    link.click()
    wait_for_url(browser, target.rsplit("/", 1)[-1])
    assert browser.find_element(By.TAG_NAME, "h1").text
    # the maatregel names the vereiste it serves
    assert "urn:nl:ak:ver:aia-01" in browser.page_source


def test_two_facets_and_the_export_of_the_selection(browser: Any, server: LiveServer) -> None:
    from selenium.webdriver.common.by import By

    expected = maatregelen_with(rollen="jurist", levenscyclus="ontwerp")
    assert expected
    browser.get(server.url + "/maatregelen")
    for key, value in (("rollen", "jurist"), ("levenscyclus", "ontwerp")):
        box = browser.find_element(By.CSS_SELECTOR, f"input[name={key}][value={value}]")
        browser.execute_script("arguments[0].scrollIntoView()", box)
        box.click()
    browser.find_element(By.CSS_SELECTOR, "form.facets button[type=submit]").click()
    wait_for_url(browser, "levenscyclus=ontwerp")
    assert "rollen=jurist" in browser.current_url
    rows = browser.find_elements(By.CSS_SELECTOR, "table.browse-table tbody tr")
    assert {row.get_attribute("data-urn") for row in rows} == expected

    csv_link = browser.find_element(By.CSS_SELECTOR, "p.exports a[data-format=csv]")
    with urllib.request.urlopen(csv_link.get_attribute("href"), timeout=30) as response:
        exported = list(csv.DictReader(io.StringIO(response.read().decode("utf-8-sig"))))
    assert [row["urn"] for row in exported] == [row.get_attribute("data-urn") for row in rows]


def test_workbench_runs_an_example_and_keeps_a_broken_query(
    browser: Any, server: LiveServer
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server.url + "/sparql")
    example = browser.find_element(By.CSS_SELECTOR, "a[href*='query=']")
    example.click()
    box = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.ID, "query"))
    )
    if not browser.find_elements(By.CSS_SELECTOR, "table.results tbody tr"):
        browser.find_element(By.CSS_SELECTOR, "form.sparql button[type=submit]").click()
    rows = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_all_elements_located(
            (By.CSS_SELECTOR, "table.results tbody tr")
        )
    )
    assert rows

    box = browser.find_element(By.ID, "query")
    broken = box.get_attribute("value") + "\n}} oops"
    box.clear()
    box.send_keys(broken)
    browser.find_element(By.CSS_SELECTOR, "form.sparql button[type=submit]").click()
    error = WebDriverWait(browser, 15).until(
        expected_conditions.presence_of_element_located((By.ID, "query-error"))
    )
    assert "regel" in error.text.lower()
    kept = browser.find_element(By.ID, "query").get_attribute("value")
    assert kept.replace("\r\n", "\n").strip() == broken.replace("\r\n", "\n").strip()


def test_main_pages_have_no_serious_accessibility_violations(
    browser: Any, server: LiveServer
) -> None:
    from axe_core_python.selenium import Axe

    axe = Axe()
    # the scan works: a page with an image without a text alternative is a critical finding
    browser.get("data:text/html,<html lang=nl><title>t</title><main><img src=x></main></html>")
    assert "image-alt" in {v["id"] for v in axe.run(browser)["violations"]}
    found: dict[str, list[str]] = {}
    for path in MAIN_PAGES:
        browser.get(server.url + path)
        results = axe.run(browser)
        serious = [
            f"{v['id']} ({v['impact']}): {len(v['nodes'])}× {v['nodes'][0]['target']}"
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            found[path] = serious
    assert found == {}
