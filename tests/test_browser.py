"""A real browser against the live server: look a URN up on the home page and read its page.

Headless Chromium from Debian's packages (``apt-get install chromium chromium-driver``) driven
by Selenium with the driver's path given, so Selenium Manager never downloads anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
OPTIONS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip(
            "no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium "
            "chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for option in OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
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
