"""The statistics page and the neighbourhood graphs, checked against the files themselves.

Expected numbers are counted here from the front matter of the latest upstream content (read
with python-frontmatter/PyYAML), never from the graph: maatregelen per phase × role, vereisten
per law and without maatregelen, maatregelen per topic, and the neighbours of a maatregel and of
a vereiste along ``vereiste:``/``maatregel:`` references. Each chart's SVG must parse as XML,
name itself (``<title>``) and carry the same numbers as the table beside it and the CSV.
"""

from __future__ import annotations

import csv
import io
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import frontmatter
import pytest
from flask import Flask

from tests.conftest import SAMPLE_CONTENT, build_publication
from tests.helpers import Element, parse_html

SVG = "{http://www.w3.org/2000/svg}"
RULES = "docs/voldoen-aan-wetten-en-regels"


@dataclass(frozen=True)
class Doc:
    urn: str
    stem: str
    meta: dict[str, object]

    def values(self, key: str) -> list[str]:
        found = self.meta.get(key) or []
        items = found if isinstance(found, list) else [found]
        return [str(item).strip().removesuffix(".md") for item in items if str(item).strip()]


def read_docs(root: Path, folder: str, urn: Callable[[Path, dict[str, object]], str]) -> list[Doc]:
    docs = []
    for path in sorted((root / RULES / folder).glob("*.md")):
        if path.name != "index.md":
            meta = dict(frontmatter.load(path).metadata)
            docs.append(Doc(urn(path, meta), path.stem, meta))
    return docs


@dataclass(frozen=True)
class Files:
    maatregelen: list[Doc]
    vereisten: list[Doc]
    hulpmiddelen: list[Doc]

    def by_stem(self) -> dict[str, str]:
        return {d.stem: d.urn for d in (*self.maatregelen, *self.vereisten, *self.hulpmiddelen)}


@pytest.fixture(scope="module")
def files(real_corpus: Path) -> Files:
    def by_id(path: Path, meta: dict[str, object]) -> str:
        return str(meta["id"]).strip()

    def hulpmiddel(path: Path, meta: dict[str, object]) -> str:
        return f"urn:nl:ak:hlp:{path.stem.lower()}"

    return Files(
        read_docs(real_corpus, "maatregelen", by_id),
        read_docs(real_corpus, "vereisten", by_id),
        read_docs(real_corpus, "hulpmiddelen", hulpmiddel),
    )


@pytest.fixture(scope="module")
def page_text(real_app: Flask) -> str:
    response = real_app.test_client().get("/statistieken")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def page(page_text: str) -> Element:
    return parse_html(page_text)


def svgs(text: str) -> dict[str, ET.Element]:
    """Every inline ``<svg>…</svg>`` of a page, parsed as XML, by its chart class."""
    found = {}
    start = text.find("<svg")
    while start >= 0:
        end = text.index("</svg>", start) + len("</svg>")
        svg = ET.fromstring(text[start:end])
        key = next(c for c in svg.get("class", "").split() if c.startswith("chart-"))
        found[key.removeprefix("chart-")] = svg
        start = text.find("<svg", end)
    return found


def table_rows(page: Element, table_id: str) -> list[Element]:
    (table,) = page.find_all("table", id=table_id)
    (body,) = table.find_all("tbody")
    return body.find_all("tr")


def cells(row: Element) -> list[str]:
    return [cell.words() for cell in row.elements if cell.tag in ("td", "th")]


# -- the heat map ----------------------------------------------------------------------------


def expected_heatmap(files: Files) -> Counter[tuple[str, str]]:
    return Counter(
        (phase, role)
        for doc in files.maatregelen
        for phase in set(doc.values("levenscyclus"))
        for role in set(doc.values("rollen"))
    )


def test_heatmap_table_counts_the_files(page: Element, files: Files) -> None:
    expected = expected_heatmap(files)
    shown = {
        (cell.get("data-row"), cell.get("data-column")): int(cell.text())
        for cell in page.find_all("td")
        if cell.get("data-row")
    }
    assert {key: n for key, n in shown.items() if n} == dict(expected)
    assert shown[("ontwerp", "jurist")] == expected[("ontwerp", "jurist")] > 0
    assert shown[("uitfaseren", "jurist")] == 0


def test_heatmap_totals_count_each_maatregel_once(page: Element, files: Files) -> None:
    per_phase = Counter(p for doc in files.maatregelen for p in set(doc.values("levenscyclus")))
    (table,) = page.find_all("table", id="heatmap-tabel")
    for row in table_rows(page, "heatmap-tabel"):
        phase = row.find_all("td")[0].get("data-row")
        assert int(row.find_all("td", class_="total")[0].text()) == per_phase[phase]
    roles = [td.get("data-column") for td in table_rows(page, "heatmap-tabel")[0].find_all("td")]
    (foot,) = table.find_all("tfoot")
    totals = [int(td.text()) for td in foot.find_all("td", class_="total")]
    per_role = Counter(r for doc in files.maatregelen for r in set(doc.values("rollen")))
    assert totals == [per_role[role] for role in roles[:-1]]
    assert sum(per_phase.values()) > len(files.maatregelen) > 100


def test_heatmap_svg_is_xml_with_title_and_the_table_numbers(page_text: str, page: Element) -> None:
    svg = svgs(page_text)["heatmap"]
    assert svg.tag == f"{SVG}svg"
    title = svg.find(f"{SVG}title")
    assert title is not None and "per fase" in (title.text or "")
    assert svg.find(f"{SVG}desc") is not None
    assert svg.get("aria-labelledby") == "heatmap-title heatmap-desc"
    marks = [int(m.get("data-count", "")) for m in svg.iter() if m.get("data-count") is not None]
    table = [
        int(text)
        for row in table_rows(page, "heatmap-tabel")
        for text in cells(row)[1:]  # the cells and the row's total, as the SVG draws them
    ]
    (foot,) = page.find_all("tfoot")
    footer = [int(text) for text in cells(foot.find_all("tr")[0])[1:] if text]
    assert marks == table + footer


def test_heatmap_cells_link_to_a_list_of_their_maatregelen(page_text: str) -> None:
    svg = svgs(page_text)["heatmap"]
    links = [a for a in svg.iter(f"{SVG}a")]
    assert links and all(int(a.get("data-count", "0")) > 0 for a in links)
    href = links[0].get("href", "")
    assert href.startswith(("/maatregelen?", "/sparql?query="))
    assert all(a.find(f"{SVG}title") is not None for a in links)


# -- laws, topics, vereisten without maatregelen ---------------------------------------------


def orphans(files: Files) -> set[str]:
    named = {stem for doc in files.maatregelen for stem in doc.values("vereiste")}
    return {doc.urn for doc in files.vereisten if doc.stem not in named}


def test_vereisten_without_maatregelen(page: Element, files: Files) -> None:
    (listing,) = page.find_all("ul", class_="orphans")
    shown = {item.get("data-urn") for item in listing.find_all("li")}
    assert shown == orphans(files)
    assert len(shown) < len(files.vereisten)


def test_vereisten_per_law(page: Element, files: Files) -> None:
    expected = Counter(doc.urn.rsplit(":", 1)[-1].split("-")[0].upper() for doc in files.vereisten)
    without = Counter(
        doc.urn.rsplit(":", 1)[-1].split("-")[0].upper()
        for doc in files.vereisten
        if doc.urn in orphans(files)
    )
    rows = {row.get("data-law"): cells(row) for row in table_rows(page, "wetten-tabel")}
    assert {law: int(row[2]) for law, row in rows.items()} == dict(expected)
    assert {law: int(row[3]) for law, row in rows.items() if int(row[3])} == dict(without)
    assert rows["AVG"][1] == "Algemene Verordening Gegevensbescherming"  # the glossary's name


def test_law_chart_matches_its_table(page_text: str, page: Element) -> None:
    svg = svgs(page_text)["wetten"]
    bars = [(g.get("data-count"), g.get("data-part", "0")) for g in svg if g.get("data-count")]
    rows = [cells(row) for row in table_rows(page, "wetten-tabel")]
    assert bars == [(row[2], row[3]) for row in rows]


def test_maatregelen_per_topic(page_text: str, page: Element, files: Files) -> None:
    expected = Counter(t for doc in files.maatregelen for t in set(doc.values("onderwerp")))
    rows = {
        row.get("data-topic"): int(cells(row)[1]) for row in table_rows(page, "onderwerpen-tabel")
    }
    assert rows == dict(expected)
    svg = svgs(page_text)["onderwerpen"]
    bars = [int(g.get("data-count", "")) for g in svg if g.get("data-count")]
    assert bars == sorted(expected.values(), reverse=True)


def test_every_chart_has_a_title_and_description(page_text: str) -> None:
    charts = svgs(page_text)
    assert set(charts) == {"heatmap", "wetten", "onderwerpen"}
    for svg in charts.values():
        assert (svg.findtext(f"{SVG}title") or "").strip()
        assert (svg.findtext(f"{SVG}desc") or "").strip()


def test_csv_holds_the_numbers_of_the_page(real_app: Flask, page: Element, files: Files) -> None:
    client = real_app.test_client()
    response = client.get("/statistieken?format=csv&grafiek=heatmap")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "statistieken-heatmap.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = expected_heatmap(files)
    assert sum(int(row["aantal"]) for row in rows) == sum(expected.values())
    assert {row["grafiek"] for row in rows} == {"heatmap"}
    everything = list(csv.DictReader(io.StringIO(client.get("/statistieken?format=csv").text)))
    assert {row["grafiek"] for row in everything} == {
        "heatmap",
        "wetten",
        "onderwerpen",
        "zonder-maatregelen",
    }
    orphan_rows = [row["kolom"] for row in everything if row["grafiek"] == "zonder-maatregelen"]
    assert set(orphan_rows) == orphans(files)
    (link,) = [a for a in page.find_all("a") if a.get("href") == "/statistieken?format=csv"]
    assert link.get("type") == "text/csv"


@pytest.mark.parametrize(
    "query", ["format=pdf", "grafiek=taart", "format=csv&grafiek=a&grafiek=b", "format=%0d"]
)
def test_bad_parameters_are_refused(real_app: Flask, query: str) -> None:
    assert real_app.test_client().get(f"/statistieken?{query}").status_code == 400


def test_linked_from_home_and_header(real_app: Flask) -> None:
    home = parse_html(real_app.test_client().get("/").get_data(as_text=True))
    links = [a for a in home.find_all("a") if a.get("href") == "/statistieken"]
    assert len(links) >= 2
    (nav,) = [n for n in home.find_all("nav") if n.get("aria-label") == "Hoofdmenu"]
    assert "Statistieken" in [a.words() for a in nav.find_all("a")]


# -- neighbourhood graphs ------------------------------------------------------------------------


def expected_neighbours(files: Files, urn: str) -> tuple[set[str], set[str]]:
    """(documents naming ``urn`` in their front matter, documents ``urn`` names)."""
    stems = files.by_stem()
    docs = [*files.maatregelen, *files.vereisten, *files.hulpmiddelen]
    (me,) = [doc for doc in docs if doc.urn == urn]
    keys = ("vereiste", "maatregel", "hulpmiddel")
    incoming = {doc.urn for doc in docs for key in keys if me.stem in doc.values(key)}
    outgoing = {stems[stem] for key in keys for stem in me.values(key) if stem in stems}
    return incoming, outgoing


@pytest.mark.parametrize("urn", ["urn:nl:ak:mtr:org-02", "urn:nl:ak:ver:aia-01"])
def test_neighbourhood_holds_the_linked_documents(real_app: Flask, files: Files, urn: str) -> None:
    text = real_app.test_client().get(f"/id/{urn}").get_data(as_text=True)
    svg = svgs(text)["samenhang"]
    assert (svg.findtext(f"{SVG}title") or "").startswith("Samenhang van ")
    nodes = {g.get("data-urn") for g in svg.iter() if g.get("data-urn")}
    incoming, outgoing = expected_neighbours(files, urn)
    assert incoming or outgoing
    assert nodes == incoming | outgoing | {urn}
    links = {a.get("href") for a in svg.iter(f"{SVG}a")}
    assert links == {f"/id/{other}" for other in incoming | outgoing}
    section = parse_html(text).find_all("section", id="ak-samenhang")[0]
    listed = {li.get("data-urn") for li in section.find_all("li")}
    assert listed == incoming | outgoing


def test_neighbourhood_shows_at_most_the_limit(real_app: Flask, files: Files) -> None:
    from server.services.dataset import current_dataset
    from server.services.index import current_index
    from server.services.neighbourhood import neighbourhood

    urn = "urn:nl:ak:ver:aia-01"
    incoming, outgoing = expected_neighbours(files, urn)
    with real_app.test_request_context("/"):
        around = neighbourhood(current_dataset().store, current_index(), urn, limit=5)
    assert around is not None
    assert len(around.nodes) == 5
    assert around.more == len(incoming | outgoing) - 5
    assert f"+{around.more} meer" in str(around.svg)


def test_no_neighbourhood_outside_the_chain(real_app: Flask) -> None:
    text = real_app.test_client().get("/id/urn:nl:ak:rol:jurist").get_data(as_text=True)
    assert "samenhang" not in svgs(text)


# -- hostile content -------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & <b>vet</b>'


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory, make_app: Callable[..., Flask]) -> Flask:
    content = tmp_path_factory.mktemp("hostile") / "content"
    shutil.copytree(SAMPLE_CONTENT, content)
    phase = content / "docs" / "levenscyclus" / "ontwerp.md"
    text = phase.read_text(encoding="utf-8")
    phase.write_text(text.replace("title: Fase 2, ontwerp", f"title: '{HOSTILE}'"), "utf-8")
    folder = content / RULES / "maatregelen"
    (folder / "9-xxx-01-gevaarlijk.md").write_text(
        "---\n"
        f"title: '{HOSTILE}'\n"
        "id: urn:nl:ak:mtr:xxx-01\n"
        "levenscyclus: [ontwerp]\n"
        "rollen: [jurist]\n"
        "onderwerp: [governance]\n"
        "vereiste: [aia-01-voldoende-ai-kennis]\n"
        "---\n\n## Maatregel\n\nTekst.\n",
        encoding="utf-8",
    )
    out = tmp_path_factory.mktemp("hostile-dist") / "dist"
    status, _, stderr = build_publication(content, out)
    assert status in (0, 1), stderr
    return make_app(out)


def test_hostile_titles_are_escaped(hostile_app: Flask) -> None:
    client = hostile_app.test_client()
    for url in ("/id/urn:nl:ak:ver:aia-01", "/id/urn:nl:ak:mtr:xxx-01"):
        text = client.get(url).get_data(as_text=True)
        assert "<script>" not in text and "<b>vet</b>" not in text
        svg = svgs(text)["samenhang"]  # still well-formed XML
        titles = [t.text or "" for t in svg.iter(f"{SVG}title")]
        assert any(HOSTILE in title for title in titles)
    stats = client.get("/statistieken").get_data(as_text=True)
    assert "<script>" not in stats and "<b>vet</b>" not in stats
    charts = svgs(stats)
    assert set(charts) == {"heatmap", "wetten", "onderwerpen"}
    titles = [t.text or "" for t in charts["heatmap"].iter(f"{SVG}title")]
    assert any(title.startswith(f"{HOSTILE} × ") for title in titles)
    rows = [cells(row)[0] for row in table_rows(parse_html(stats), "heatmap-tabel")]
    assert HOSTILE in rows


def test_a_cell_opens_its_maatregelen(real_app: Flask, page_text: str, files: Files) -> None:
    """The cell's link answers, and the cell's query (the fallback link) gives its rows."""
    from server.services.statistics import cell_query

    expected = {
        doc.urn
        for doc in files.maatregelen
        if "ontwerp" in doc.values("levenscyclus") and "jurist" in doc.values("rollen")
    }
    client = real_app.test_client()
    query = cell_query("urn:nl:ak:lcf:ontwerp", "urn:nl:ak:rol:jurist")
    answer = client.post(
        "/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert answer.status_code == 200
    found = {row["maatregel"]["value"] for row in answer.get_json()["results"]["bindings"]}
    assert found == expected
    svg = svgs(page_text)["heatmap"]
    (cell,) = [
        a
        for a in svg.iter(f"{SVG}a")
        if (a.findtext(f"{SVG}title") or "").startswith("Fase 2, ontwerp × Jurist:")
    ]
    assert int(cell.get("data-count", "")) == len(expected)
    assert client.get(cell.get("href", "")).status_code == 200
