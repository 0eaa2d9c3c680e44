"""Browse pages on the latest real corpus: result sets, facet counts and exports against sets
computed here from the files' front matter (python-frontmatter), never from the graph."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import frontmatter
import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.services.browse_export import Sheet, csv_cell, to_csv, to_xlsx
from tests.conftest import REAL_CORPUS
from tests.helpers import Element, parse_html

pytestmark = pytest.mark.corpus

FOLDER = "voldoen-aan-wetten-en-regels"
TAG_KEYS = ("rollen", "levenscyclus", "onderwerp")
AI_ACT_KEYS = (
    "soort-toepassing",
    "risicogroep",
    "rol-ai-act",
    "transparantieverplichting",
    "systeemrisico",
    "open-source",
)
HTML = {"Accept": "text/html"}


def documents(kind: str) -> dict[str, dict[str, Any]]:
    """The documents of a kind folder: path as the build names it -> front matter, with the
    law (code prefix of ``id``) as ``wetcode``, as upstream's list hook derives it."""
    found = {}
    for path in sorted((REAL_CORPUS / "docs" / FOLDER / kind).glob("*.md")):
        if path.name == "index.md":
            continue
        matter = dict(frontmatter.load(path).metadata)
        code = str(matter.get("id") or "")[len("urn:nl:ak:ver:") :].split("-")[0]
        matter["wetcode"] = [code] if code and kind == "vereisten" else []
        found[f"docs/{path.relative_to(REAL_CORPUS / 'docs').as_posix()}"] = matter
    return found


def values(matter: dict[str, Any], key: str) -> set[str]:
    raw = matter.get(key) or []
    return {str(value).strip() for value in (raw if isinstance(raw, list) else [raw])}


def expected(kind: str, selection: dict[str, list[str]]) -> set[str]:
    """Files meeting every key (AND) with one of its values (OR)."""
    return {
        path
        for path, matter in documents(kind).items()
        if all(values(matter, key) & set(wanted) for key, wanted in selection.items())
    }


def expected_counts(kind: str, selection: dict[str, list[str]], key: str) -> Counter[str]:
    """Per value of ``key``: files meeting the selection's *other* keys and carrying it."""
    others = {k: v for k, v in selection.items() if k != key}
    rows = expected(kind, others)
    matters = documents(kind)
    return Counter(value for path in rows for value in values(matters[path], key))


@pytest.fixture(scope="module")
def client(real_app: Flask) -> FlaskClient:
    return real_app.test_client()


def get_json(client: FlaskClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def facet_counts(data: dict[str, Any], key: str) -> Counter[str]:
    return Counter({v["waarde"]: v["aantal"] for v in data["facetten"][key] if v["aantal"]})


def html_rows(page: Element) -> list[Element]:
    return page.find("table", class_="browse-table").find("tbody").find_all("tr")


def test_and_across_facets_rows_and_counts(client: FlaskClient) -> None:
    """The issue's example: maatregelen for a jurist in the ontwerp phase, and the counts."""
    selection = {"rollen": ["jurist"], "levenscyclus": ["ontwerp"]}
    data = get_json(client, "/maatregelen?rollen=jurist&levenscyclus=ontwerp&format=json")
    want = expected("maatregelen", selection)
    assert want, "the corpus has maatregelen for a jurist in ontwerp"
    assert {item["bestand"] for item in data["items"]} == want
    assert data["aantal"] == len(want)
    assert data["totaal"] == len(documents("maatregelen"))
    for key in TAG_KEYS:  # every facet, each counted without its own selection
        assert facet_counts(data, key) == expected_counts("maatregelen", selection, key), key
    chosen = {v["waarde"] for v in data["facetten"]["rollen"] if v["gekozen"]}
    assert chosen == {"jurist"}


def test_or_within_a_facet(client: FlaskClient) -> None:
    url = "/maatregelen?onderwerp=governance&onderwerp=transparantie&rollen=projectleider"
    data = get_json(client, url + "&format=json")
    selection = {"onderwerp": ["governance", "transparantie"], "rollen": ["projectleider"]}
    want = expected("maatregelen", selection)
    only_governance = expected("maatregelen", {**selection, "onderwerp": ["governance"]})
    assert only_governance < want  # the OR adds rows
    assert {item["bestand"] for item in data["items"]} == want
    assert facet_counts(data, "onderwerp") == expected_counts("maatregelen", selection, "onderwerp")


@pytest.mark.parametrize(
    "query",
    [
        "risicogroep=hoog-risico-ai-systeem",
        "risicogroep=hoog-risico-ai-systeem&rol-ai-act=gebruiksverantwoordelijke",
        "open-source=open-source&soort-toepassing=ai-model-voor-algemene-doeleinden",
    ],
)
def test_vereisten_by_ai_act_labels(client: FlaskClient, query: str) -> None:
    selection: dict[str, list[str]] = {}
    for pair in query.split("&"):
        key, value = pair.split("=")
        selection.setdefault(key, []).append(value)
    data = get_json(client, f"/vereisten?{query}&format=json")
    want = expected("vereisten", selection)
    assert want
    assert {item["bestand"] for item in data["items"]} == want
    for key in AI_ACT_KEYS:
        assert facet_counts(data, key) == expected_counts("vereisten", selection, key), key


def test_law_facet(client: FlaskClient) -> None:
    data = get_json(client, "/vereisten?wetcode=avg&wetcode=awb&format=json")
    selection = {"wetcode": ["avg", "awb"]}
    assert {item["bestand"] for item in data["items"]} == expected("vereisten", selection)
    assert facet_counts(data, "wetcode") == expected_counts("vereisten", selection, "wetcode")
    labels = {v["waarde"]: v["label"] for v in data["facetten"]["wetcode"]}
    assert labels["avg"] == "Algemene Verordening Gegevensbescherming (AVG)"  # the glossary's
    page = parse_html(client.get("/vereisten?wetcode=avg", headers=HTML).get_data(as_text=True))
    laws = {row.find("td", class_="law").words() for row in html_rows(page)}
    assert laws == {"AVG"}  # abbreviated, with its name on hover, as upstream's table
    assert page.find("td", class_="law").find("abbr").get("title") == labels["avg"][:-6]


def test_html_rows_are_the_json_rows_with_codes_and_links(client: FlaskClient) -> None:
    url = "/vereisten?rollen=jurist&onderwerp=privacy-en-gegevensbescherming"
    data = get_json(client, url + "&format=json")
    page = parse_html(client.get(url, headers=HTML).get_data(as_text=True))
    rows = html_rows(page)
    matters = documents("vereisten")
    assert [row.get("data-urn") for row in rows] == [item["urn"] for item in data["items"]]
    for row, item in zip(rows, data["items"], strict=True):
        code = row.find("td", class_="code").words()
        assert code == str(matters[item["bestand"]]["id"]).rsplit(":", 1)[-1]
        assert row.find("td", class_="title").links() == [f"/id/{item['urn']}"]
        assert row.find("td", class_="title").words() == matters[item["bestand"]]["title"]
    summary = page.by_id("aantal").words()
    assert summary.startswith(f"{len(rows)} van de {len(matters)} vereisten")


def test_sorting_by_get_links(client: FlaskClient) -> None:
    by_file = get_json(client, "/maatregelen?rollen=jurist&format=json")["items"]
    assert [item["bestand"] for item in by_file] == sorted(item["bestand"] for item in by_file)
    by_title = get_json(client, "/maatregelen?rollen=jurist&sort=titel&format=json")["items"]
    assert [i["titel"].casefold() for i in by_title] == sorted(
        i["titel"].casefold() for i in by_file
    )
    down = get_json(client, "/maatregelen?rollen=jurist&sort=-code&format=json")["items"]
    assert [i["code"] for i in down] == sorted((i["code"] for i in by_file), reverse=True)
    page = parse_html(client.get("/maatregelen?rollen=jurist&sort=titel", headers=HTML).text)
    headers = page.find("table", class_="browse-table").find("thead").find_all("th")
    assert headers[1].get("aria-sort") == "ascending"
    assert headers[1].links() == ["/maatregelen?rollen=jurist&sort=-titel"]
    assert headers[0].links() == ["/maatregelen?rollen=jurist&sort=code"]


def test_facet_form_works_without_javascript(client: FlaskClient) -> None:
    page = parse_html(client.get("/maatregelen?rollen=jurist", headers=HTML).text)
    assert not page.find_all("script")
    form = page.find("form", class_="facets")
    assert form.get("method") == "get" and form.get("action") == "/maatregelen"
    assert form.find("button").get("type") == "submit"
    boxes = form.find_all("input", type="checkbox")
    assert {box.get("name") for box in boxes} == set(TAG_KEYS)
    jurist = form.find("input", name="rollen", value="jurist")
    assert "checked" in jurist.attrs
    for box in boxes:  # every checkbox has its label
        assert form.find("label", **{"for": box.get("id") or ""}).words()
    # Each value is also a link that toggles it in the current selection.
    links = form.find("li", data_value="ontwerp").links()
    assert links == ["/maatregelen?rollen=jurist&levenscyclus=ontwerp"]
    assert form.find("li", data_value="jurist").links() == ["/maatregelen"]
    # The page shows the counts the JSON has (computed from the files in the tests above).
    counts = facet_counts(
        get_json(client, "/maatregelen?rollen=jurist&format=json"), "levenscyclus"
    )
    for value, count in counts.items():
        link = form.find("fieldset", id="facet-levenscyclus").find("li", data_value=value)
        assert link.find("a", class_="count").words().endswith(f", {count}")


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def read_xlsx(body: bytes) -> list[dict[str, str]]:
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    assert sheet is not None
    rows = [[cell or "" for cell in row] for row in sheet.iter_rows(values_only=True)]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


@pytest.mark.parametrize(
    "query",
    [
        "rollen=jurist&levenscyclus=ontwerp&sort=-titel",
        "risicogroep=hoog-risico-ai-systeem&wetcode=aia",
    ],
)
def test_exports_hold_exactly_the_selection(client: FlaskClient, query: str) -> None:
    name = "vereisten" if "wetcode" in query else "maatregelen"
    items = get_json(client, f"/{name}?{query}&format=json")["items"]
    page = parse_html(client.get(f"/{name}?{query}", headers=HTML).text)
    assert [row.get("data-urn") for row in html_rows(page)] == [item["urn"] for item in items]
    keys = ("code", "titel", "urn", "bestand")
    facets = [key for key in items[0] if key not in keys]
    want = [
        {**{key: item[key] for key in keys}, **{key: ", ".join(item[key]) for key in facets}}
        for item in items
    ]
    for fmt, reader in (("csv", read_csv), ("xlsx", read_xlsx)):
        response = client.get(f"/{name}?{query}&format={fmt}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}.{fmt}"'
        rows = reader(response.data)
        assert [{key: row[key] for key in (*keys, *facets)} for row in rows] == want, fmt
        assert all(row["pagina"] == f"http://localhost/id/{row['urn']}" for row in rows)
    href = page.find("p", class_="exports").find("a", data_format="xlsx").get("href") or ""
    path, _, params = href.partition("?")
    assert path == f"/{name}"
    assert sorted(parse_qsl(params)) == sorted(parse_qsl(f"{query}&format=xlsx"))


def test_formats_by_accept_and_unknown_format(client: FlaskClient) -> None:
    response = client.get("/hulpmiddelen", headers={"Accept": "text/csv"})
    assert response.mimetype == "text/csv" and "Accept" in response.vary
    assert client.get("/hulpmiddelen", headers={"Accept": "application/json"}).is_json
    refused = client.get("/hulpmiddelen?format=docx")
    assert refused.status_code == 406 and "?format=xlsx" in refused.text


def test_selection_as_sparql_gives_the_same_rows(client: FlaskClient) -> None:
    data = get_json(
        client, "/vereisten?rollen=jurist&wetcode=avg&risicogroep=niet-van-toepassing&format=json"
    )
    response = client.post(
        "/sparql", data={"query": data["sparql"]}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200, response.text
    urns = [row["item"]["value"] for row in response.get_json()["results"]["bindings"]]
    assert urns == [item["urn"] for item in data["items"]]


def test_unknown_key_is_400_unknown_value_matches_nothing(client: FlaskClient) -> None:
    response = client.get("/maatregelen?rol=jurist")
    assert response.status_code == 400
    assert "unknown parameter 'rol'" in response.text and "rollen" in response.text
    assert client.get("/maatregelen?risicogroep=hoog-risico-ai-systeem").status_code == 400
    assert client.get("/maatregelen?sort=datum").status_code == 400
    assert client.get("/maatregelen?sort=code&sort=titel").status_code == 400
    assert client.get("/rollen?rollen=jurist").status_code == 400
    data = get_json(client, "/maatregelen?rollen=astronaut&format=json")
    assert data["items"] == []
    unknown = [v for v in data["facetten"]["rollen"] if v["waarde"] == "astronaut"]
    assert unknown == [{"waarde": "astronaut", "label": "astronaut", "aantal": 0, "gekozen": True}]


def test_hostile_parameter_is_escaped(client: FlaskClient) -> None:
    hostile = '"><script>alert(1)</script>'
    response = client.get("/maatregelen", query_string={"rollen": hostile}, headers=HTML)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = parse_html(text)
    assert page.find("input", name="rollen", value=hostile).get("value") == hostile
    assert not page.find_all("script")


def test_csv_and_xlsx_never_carry_a_formula() -> None:
    sheet = Sheet("x", ("a", "b"), (("=HYPERLINK(1)", "gewoon"), ("\x01ok", "-1")))
    rows = list(csv.reader(io.StringIO(to_csv(sheet).decode("utf-8-sig"))))
    assert rows == [["a", "b"], ["'=HYPERLINK(1)", "gewoon"], ["\x01ok", "'-1"]]
    assert csv_cell("AVG") == "AVG"
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(sheet)))
    cells = [cell for row in book.active.iter_rows(min_row=2) for cell in row]  # type: ignore[union-attr]
    assert [(c.value, c.data_type) for c in cells] == [
        ("=HYPERLINK(1)", "s"),
        ("gewoon", "s"),
        ("ok", "s"),
        ("-1", "s"),
    ]


def tag_counts(kind: str, key: str) -> Counter[str]:
    return Counter(value for matter in documents(kind).values() for value in values(matter, key))


@pytest.mark.parametrize(("name", "key"), [("rollen", "rollen"), ("onderwerpen", "onderwerp")])
def test_tag_lists_count_and_link(client: FlaskClient, name: str, key: str) -> None:
    data = client.get(f"/{name}?format=json").get_json()
    for kind in ("vereisten", "maatregelen", "hulpmiddelen"):
        assert Counter({row["code"]: row[kind] for row in data if row[kind]}) == tag_counts(
            kind, key
        )
    pages = {path.stem for path in (REAL_CORPUS / "docs" / name).glob("*.md")} - {"index"}
    assert pages <= {row["code"] for row in data}
    page = parse_html(client.get(f"/{name}", headers=HTML).text)
    used = next(row for row in data if row["maatregelen"])
    cell = page.find("tr", data_urn=used["urn"]).find("td", data_overview="maatregelen")
    assert cell.links() == [f"/maatregelen?{key}={used['code']}"]
    assert cell.words().endswith(str(used["maatregelen"]))


def glossary_terms() -> dict[str, str]:
    """``*[TERM]: definition`` lines of upstream's glossary (abbreviation syntax)."""
    terms = {}
    for line in (REAL_CORPUS / "includes" / "begrippenlijst.md").read_text().splitlines():
        if line.startswith("*[") and "]:" in line:
            term, _, definition = line[2:].partition("]:")
            terms[term.strip()] = definition.strip()
    return terms


def test_glossary_lists_every_term(client: FlaskClient) -> None:
    data = client.get("/begrippen?format=json").get_json()
    terms = glossary_terms()
    # Terms that differ only in case (``AWB``, ``Awb``) are one term, as their URN is one.
    assert {row["begrip"].casefold() for row in data} == {term.casefold() for term in terms}
    assert {row["begrip"]: row["definitie"] for row in data}["AVG"] == terms["AVG"]
    page = parse_html(client.get("/begrippen", headers=HTML).text)
    assert len(page.find("dl", class_="glossary").find_all("dt")) == len(data)


def test_header_and_home_link_the_overviews(client: FlaskClient) -> None:
    page = parse_html(client.get("/", headers=HTML).text)
    nav = page.find("nav", aria_label="Hoofdmenu").links()
    assert {"/vereisten", "/maatregelen", "/hulpmiddelen"} <= set(nav)
    home = page.find("section", class_="browse-links").links()
    assert home[:3] == ["/vereisten", "/maatregelen", "/hulpmiddelen"]
    assert all(client.get(link).status_code == 200 for link in _unique(home))


def _unique(links: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(links))


def test_ai_act_facets_are_one_group_open_when_used(client: FlaskClient) -> None:
    closed = parse_html(client.get("/vereisten", headers=HTML).text).find(
        "details", class_="facet-group"
    )
    assert "open" not in closed.attrs
    assert [f.get("id") for f in closed.find_all("fieldset")] == [f"facet-{k}" for k in AI_ACT_KEYS]
    page = parse_html(client.get("/vereisten?rol-ai-act=aanbieder", headers=HTML).text)
    assert "open" in page.find("details", class_="facet-group").attrs
