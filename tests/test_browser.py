"""A real browser against the live server: look a URN up on the home page and read its page,
ask a question on the SPARQL page; all of it under the site's Content Security Policy.

Headless Chromium from Debian's packages (``apt-get install chromium chromium-driver``) driven
by Selenium with the driver's path given, so Selenium Manager never downloads anything. The
browser's console is read afterwards: a style, script or form the policy blocked would be
reported there ("Refused to …"), and the stylesheet's rules are checked to have applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.helpers import chromium

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def test_lookup_box_opens_the_page(browser: Any, live_server: LiveServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{live_server.url}/")
    assert "Algoritmekader" in browser.title
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "nl"
    browser.save_screenshot(str(tmp_path / "home.png"))

    box = browser.find_element(By.ID, "home-urn")
    box.send_keys("urn:nl:ak:ver:aia-01")
    box.submit()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("/id/urn:nl:ak:ver:aia-01"))

    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "Medewerkers die met AI werken hebben voldoende kennis van AI (voorbeeld)"
    assert heading in browser.title
    links_in = browser.find_element(By.ID, "ak-links-in")
    assert "Maatregelen die deze vereiste ondersteunen" in links_in.text
    link = links_in.find_element(By.PARTIAL_LINK_TEXT, "Leg vast wie verantwoordelijk is")
    assert link.get_attribute("href") == f"{live_server.url}/id/urn:nl:ak:mtr:org-01"
    # the stylesheet is ours and it applied
    assert (
        browser.find_element(By.CSS_SELECTOR, "header.site").value_of_css_property("display")
        == "flex"
    )
    browser.save_screenshot(str(tmp_path / "vereiste.png"))
    assert (tmp_path / "vereiste.png").stat().st_size > 10_000

    # follow a link in, then a section link out of the table of contents
    link.click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("urn:nl:ak:mtr:org-01"))
    assert browser.find_element(By.ID, "toelichting").is_displayed()
    # the rendered body: a glossary term carries its definition, the example is an admonition
    term = browser.find_element(By.CSS_SELECTOR, ".document abbr[title]")
    assert term.text == "algoritme"
    assert term.get_attribute("title").startswith("Een reeks instructies")
    assert browser.find_element(By.CSS_SELECTOR, ".document .admonition.example").is_displayed()
    toc = browser.find_element(By.CSS_SELECTOR, "nav.toc")
    toc.find_element(By.LINK_TEXT, "Risico").click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("#risico"))


def blocked_by_the_policy(browser: Any) -> list[str]:
    """Console messages of what the Content Security Policy refused since the last call."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_pages_work_under_the_content_security_policy(
    browser: Any, live_server: LiveServer
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    blocked_by_the_policy(browser)  # start from an empty console
    for path in ("/", "/id/urn:nl:ak:mtr:org-01", "/id/urn:nl:ak:nergens", "/nothing-here"):
        browser.get(f"{live_server.url}{path}")
        header = browser.find_element(By.CSS_SELECTOR, "header.site")
        assert header.value_of_css_property("display") == "flex", path

    # the SPARQL page: its rules are in the stylesheet, and its form submits here
    browser.get(f"{live_server.url}/sparql")
    box = browser.find_element(By.ID, "query")
    assert box.value_of_css_property("min-height") == "224px"  # 14rem, from site.css
    box.clear()
    box.send_keys("SELECT ?s WHERE { ?s a <urn:nl:ak:def:Maatregel> } ORDER BY ?s")
    Select(browser.find_element(By.ID, "format")).select_by_value("html")
    browser.find_element(By.CSS_SELECTOR, "form.sparql button[type=submit]").click()
    table = WebDriverWait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.results"))
    )
    assert table.value_of_css_property("border-collapse") == "collapse"
    assert "urn:nl:ak:mtr:org-01" in table.text
    assert blocked_by_the_policy(browser) == []
