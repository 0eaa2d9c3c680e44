"""List macros (:mod:`kg.lists`) on the real content: every macro expanded, each table holding
the rows the files' front matter says (read here with PyYAML, never from the graph), and the
SPARQL query shown under each table giving those same rows on the built graph (pyoxigraph)."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
import yaml
from flask import Flask
from rdflib import URIRef

from kg.built import Build
from kg.corpus import Corpus, load_corpus
from kg.graph import build_graph
from kg.lists import is_macro
from tests.conftest import SAMPLE_CONTENT
from tests.helpers import Element, parse_html

SECTION = "voldoen-aan-wetten-en-regels"
PAGE_LISTS = ("list_vereisten_on_maatregelen_page", "list_maatregelen_on_hulpmiddelen_page")
LISTS = ("list_vereisten", "list_maatregelen", "list_hulpmiddelen")
FOLDER = {"list_vereisten": "vereisten", "list_maatregelen": "maatregelen"}
FOLDER["list_hulpmiddelen"] = "hulpmiddelen"


def front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    matter = yaml.safe_load(text.split("---\n", 2)[1])
    return matter if isinstance(matter, dict) else {}


class _Comments(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.comments: list[str] = []

    def handle_comment(self, data: str) -> None:
        self.comments.append(" ".join(data.split()))


def comments(html: str) -> list[str]:
    parser = _Comments()
    parser.feed(html)
    return parser.comments


@pytest.fixture(scope="module")
def docs(real_corpus: Path) -> Path:
    return real_corpus / "docs"


@pytest.fixture(scope="module")
def pages(corpus: Corpus, build: Build, real_corpus: Path) -> dict[Path, Element]:
    """Each file -> its page as the build made it."""
    return {real_corpus / d.path: parse_html(build.pages[d.urn]) for d in corpus.documents}


@pytest.fixture(scope="module")
def ids(docs: Path) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """folder -> file stem -> (front-matter ``id``, front matter), for the three listed kinds."""
    out: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {}
    for folder in ("vereisten", "maatregelen", "hulpmiddelen"):
        out[folder] = {}
        for path in sorted((docs / SECTION / folder).glob("*.md")):
            matter = front_matter(path)
            if path.name != "index.md":
                # hulpmiddelen have no ``id``: their URN is ``urn:nl:ak:hlp:<file name>``
                urn = matter.get("id") or f"urn:nl:ak:hlp:{path.stem.lower()}"
                out[folder][path.stem] = (str(urn), matter)
    return out


def macros_in(path: Path) -> list[str]:
    """The macro comments of a file, found with the standard library's HTML parser."""
    return [text for text in comments(path.read_text(encoding="utf-8")) if is_macro(text)]


def rows(table: Element) -> list[str]:
    """The address of the first link of every body row."""
    return [row.find("a").get("href") or "" for row in table.find("tbody").find_all("tr")]


def lists_of(page: Element) -> list[tuple[Element | None, Element]]:
    """(table or None when the list is empty, its SPARQL ``<details>``), in page order."""
    out: list[tuple[Element | None, Element]] = []
    table: Element | None = None
    for element in page.iter():
        if element.tag == "table" and "ak-list" in element.classes:
            table = element
        elif element.tag == "details" and "ak-sparql" in element.classes:
            out.append((table, element))
            table = None
    return out


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in (value if isinstance(value, list) else [value])]


def test_every_macro_is_expanded(docs: Path, pages: dict[Path, Element], build: Build) -> None:
    files = sorted(docs.rglob("*.md"))
    names = [macro.split()[0] for path in files for macro in macros_in(path)]
    assert names.count("tags") == 199
    assert names.count("tags-ai-act") == 59
    assert names.count("list_vereisten_on_maatregelen_page") == 133
    assert names.count("list_maatregelen_on_hulpmiddelen_page") == 27
    assert set(names) == {"tags", "tags-ai-act", *PAGE_LISTS, *LISTS}
    for path in files:
        written = [m for m in macros_in(path) if m.split()[0] in (*PAGE_LISTS, *LISTS)]
        assert len(lists_of(pages[path])) == len(written), path
        matter = front_matter(path)
        tagged = any(matter.get(key) for key in ("id", "levenscyclus", "rollen", "onderwerp"))
        expected = macros_in(path).count("tags") if tagged else 0
        chips = [ul for ul in pages[path].find_all("ul", class_="ak-tags") if not _ai_act_chips(ul)]
        assert len(chips) == expected, path
    assert not [d for d in build.diagnostics if d.code == "macro"]


def _ai_act_chips(ul: Element) -> bool:
    return any(
        "ak-chip-rol-ai-act" in s.classes
        or "ak-chip-risicogroep" in s.classes
        or "ak-chip-soort-toepassing" in s.classes
        for s in ul.find_all("span")
    )


def test_tags_are_the_front_matter(docs: Path, pages: dict[Path, Element]) -> None:
    checked = 0
    for path in sorted(docs.rglob("*.md")):
        if "tags" not in macros_in(path):
            continue
        matter = front_matter(path)
        expected = [
            value
            for key in ("levenscyclus", "rollen", "onderwerp")
            for value in as_list(matter.get(key))
        ]
        ul = pages[path].find_all("ul", class_="ak-tags")[0]
        links = [a.get("href") or "" for a in ul.find_all("a")]
        assert [link.rsplit(":", 1)[-1] for link in links] == expected, path
        checked += 1
    assert checked == 199


def test_maatregel_pages_list_their_vereisten(
    docs: Path, pages: dict[Path, Element], ids: dict[str, dict[str, tuple[str, dict[str, Any]]]]
) -> None:
    vereisten = ids["vereisten"]
    filled = 0
    for folder, key, macro in (
        ("maatregelen", "vereiste", "list_vereisten_on_maatregelen_page"),
        ("hulpmiddelen", "vereiste", "list_vereisten_on_maatregelen_page"),
        ("hulpmiddelen", "maatregel", "list_maatregelen_on_hulpmiddelen_page"),
    ):
        listed = ids["vereisten" if key == "vereiste" else "maatregelen"]
        for path in sorted((docs / SECTION / folder).glob("*.md")):
            if macro not in macros_in(path):
                continue
            named = {
                name.lower().removesuffix(".md") for name in as_list(front_matter(path).get(key))
            }
            expected = sorted(stem for stem in listed if stem.lower() in named)
            table, _ = lists_of(pages[path])[macros_in(path).index(macro) - _skip(path, macro)]
            got = rows(table) if table is not None else []
            assert got == [listed[stem][0] for stem in expected], path
            filled += bool(got)
    assert len(vereisten) == 63
    assert filled >= 107


def _skip(path: Path, macro: str) -> int:
    """Macros before ``macro`` in the file that make no list (tags)."""
    before = macros_in(path)[: macros_in(path).index(macro)]
    return sum(1 for m in before if m.split()[0] not in (*PAGE_LISTS, *LISTS))


def test_general_lists_filter_by_every_criterion(
    docs: Path, pages: dict[Path, Element], ids: dict[str, dict[str, tuple[str, dict[str, Any]]]]
) -> None:
    checked = 0
    for path in sorted(docs.rglob("*.md")):
        written = [m for m in macros_in(path) if m.split()[0] in (*PAGE_LISTS, *LISTS)]
        for macro, (table, _) in zip(written, lists_of(pages[path]), strict=True):
            name, *arguments = macro.split()
            if name not in LISTS:
                continue
            criteria = [a.split("/") for a in arguments if len(a.split("/")) == 2]
            expected = [  # every criterion counts (upstream's site reads only the first)
                identifier
                for _, (identifier, matter) in sorted(ids[FOLDER[name]].items())
                if all(value in as_list(matter.get(key)) for key, value in criteria)
            ]
            assert table is not None and rows(table) == expected, (path, macro)
            checked += 1
    assert checked == 23 + 87 + 14
    overview = pages[docs / SECTION / "vereisten" / "index.md"]
    ((table, _),) = lists_of(overview)
    assert table is not None and len(rows(table)) == 63
    governance = pages[docs / "onderwerpen" / "governance.md"]
    assert any(table is not None and rows(table) for table, _ in lists_of(governance))


def test_each_sparql_query_gives_the_rows(build: Build, pages: dict[Path, Element]) -> None:
    store = pyoxigraph.Store()
    store.load(build.graph.serialize(format="nt").encode(), pyoxigraph.RdfFormat.N_TRIPLES)
    checked = 0
    for page in pages.values():
        for table, details in lists_of(page):
            query = details.find("code").text()
            solutions = store.query(query)
            assert isinstance(solutions, pyoxigraph.QuerySolutions)
            answer = [solution["item"].value for solution in solutions]
            assert answer == (rows(table) if table is not None else []), query
            checked += 1
    assert checked == 23 + 87 + 14 + 133 + 27


def test_lists_are_no_facts(build: Build) -> None:
    """A maatregel's table links its vereisten, but the graph says so only by ``ak:vereiste``:
    org-01's text links no vereiste, so it references none."""
    from rdflib.namespace import DCTERMS

    org = URIRef("urn:nl:ak:mtr:org-01")
    assert "urn:nl:ak:ver:aia-01" in build.pages[org]
    refs = {str(o) for s, p, o in build.triples if s == org and p == DCTERMS.references}
    assert not {ref for ref in refs if ref.startswith("urn:nl:ak:ver:")}


def test_unknown_macro_is_reported(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(SAMPLE_CONTENT, content)
    page = sorted((content / "docs" / SECTION / "maatregelen").glob("*.md"))[0]
    text = page.read_text(encoding="utf-8") + "\n<!-- list_onbekend rollen/jurist -->\n"
    page.write_text(text, encoding="utf-8")
    build = build_graph(load_corpus(content))
    (diagnostic,) = [d for d in build.diagnostics if d.code == "macro"]
    assert diagnostic.path.endswith(page.name)
    assert diagnostic.line == len(text.splitlines())
    assert diagnostic.severity.name == "INFO"


def test_served_page_links_the_rows(real_app: Flask) -> None:
    response = real_app.test_client().get(
        "/id/urn:nl:ak:mtr:org-01", headers={"Accept": "text/html"}
    )
    assert response.status_code == 200
    page = parse_html(response.get_data(as_text=True))
    (table,) = page.find_all("table", class_="ak-list")
    assert rows(table) == [
        "/id/urn:nl:ak:ver:aia-01",
        "/id/urn:nl:ak:ver:aia-21",
        "/id/urn:nl:ak:ver:awb-01",
    ]
    assert page.find("details", class_="ak-sparql").find("code").text().startswith("PREFIX ak:")
