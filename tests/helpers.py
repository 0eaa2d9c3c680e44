"""Test helpers: HTML read as a tree (the standard library's parser), never with regexes.

``parse_html(text)`` gives the document's root :class:`Element`; find elements by tag, id,
class or any attribute, and read their text and attributes. Void elements (``<br>``,
``<input>``, …) have no children; an end tag closes the innermost open element of its name,
so the slightly loose HTML of real pages still gives the tree a browser would build.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

VOID_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    @property
    def classes(self) -> frozenset[str]:
        return frozenset((self.get("class") or "").split())

    @property
    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    def iter(self) -> Iterator[Element]:
        """This element and every element inside it, in document order."""
        yield self
        for child in self.elements:
            yield from child.iter()

    def find_all(
        self, tag: str | None = None, class_: str | None = None, **attrs: str
    ) -> list[Element]:
        """Elements inside (and including) this one with that tag, class and attributes
        (``id="x"``; ``data_x`` means ``data-x``)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            element
            for element in self.iter()
            if (tag is None or element.tag == tag)
            and (class_ is None or class_ in element.classes)
            and all(element.get(name) == value for name, value in wanted.items())
        ]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs: str) -> Element:
        """The first such element; AssertionError when there is none."""
        found = self.find_all(tag, class_, **attrs)
        assert found, f"no <{tag or '*'}> with class={class_!r} {attrs} in <{self.tag}>"
        return found[0]

    def by_id(self, identifier: str) -> Element:
        return self.find(id=identifier)

    def text(self) -> str:
        """All the text inside, as written."""
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def words(self) -> str:
        """The text with runs of white space made one space, trimmed."""
        return " ".join(self.text().split())

    def links(self) -> list[str]:
        """The ``href`` of every ``<a>`` inside, in order."""
        return [href for a in self.find_all("a") if (href := a.get("href")) is not None]

    def ancestors_of(self, target: Element) -> list[Element]:
        """The elements from this one down to ``target``'s parent; empty if it is not inside."""
        for child in self.elements:
            if child is target:
                return [self]
            path = child.ancestors_of(target)
            if path:
                return [self, *path]
        return []


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self.open: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.open[-1].children.append(element)
        if tag not in VOID_ELEMENTS:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def parse_html(text: str) -> Element:
    """The element tree of an HTML document or fragment (root tag ``#document``)."""
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    return builder.root


def require_tool(name: str, *folders: str) -> str:
    """The path of the program ``name`` (on PATH or in ``folders``). Missing: the test fails
    in CI (``CI`` set: ``.ci/run`` installs it) and is skipped, with the reason, elsewhere."""
    import os
    import shutil

    import pytest

    found = shutil.which(name) or next(
        (path for folder in folders if os.access(path := f"{folder}/{name}", os.X_OK)), None
    )
    if found is None:
        message = f"{name} is not installed (.ci/run installs it from Debian's packages)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


CHROMIUM_OPTIONS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium(profile: Path, width: int = 1280, height: int = 1600) -> Any:
    """Headless Chromium from Debian's packages (``chromium``, ``chromium-driver``: ``.ci/run``
    installs them), driven by Selenium with the driver's path given, so Selenium Manager never
    downloads anything; its console log is kept (``get_log("browser")``). Missing: see
    :func:`require_tool`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = require_tool("chromium")
    for option in CHROMIUM_OPTIONS:
        options.add_argument(option)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=require_tool("chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver
