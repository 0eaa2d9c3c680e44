"""The SPARQL workbench (``/sparql`` for browsers), the example library (``queries/*.rq``),
``/favicon.ico``, ``/robots.txt`` and the header's links to the glossary and the vocabulary.

Expected values come from the content files (front matter read with python-frontmatter), from
the query files as text, and from the engine itself on the user's text (where a syntax error
is), never from the graph under test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import frontmatter
import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph

from server.services.examples import EXAMPLES, Example, ExampleMissing, read_example
from server.services.workbench import PAGE_SIZE
from tests.conftest import REPO
from tests.helpers import Element, parse_html

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
#: The prefixes the issue asks for, with their standard IRIs (written out here on purpose).
EXPECTED_PREFIXES = {
    "ak": "urn:nl:ak:def:",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "prov": "http://www.w3.org/ns/prov#",
}
QUERY_FILES = sorted((REPO / "queries").glob("*.rq"))


def workbench(client: FlaskClient, query: str, **fields: str) -> tuple[int, Element]:
    response = client.post("/sparql", data={"query": query, **fields}, headers=BROWSER)
    assert response.mimetype == "text/html", response.text
    return response.status_code, parse_html(response.text)


def status_of(client: FlaskClient, path: str) -> int:
    """The status of a GET by a browser (a file's response closed again)."""
    with client.get(path, headers=BROWSER) as response:
        return response.status_code


def result_rows(page: Element) -> list[Element]:
    return page.find("table", class_="results").find("tbody").find_all("tr")


def front_matter(folder: Path) -> Iterator[dict[str, object]]:
    for path in sorted(folder.glob("*.md")):
        if path.name != "index.md":
            yield frontmatter.load(path).metadata


# -- The example library ---------------------------------------------------------------------


def test_every_query_file_has_a_title_and_a_description() -> None:
    assert len(QUERY_FILES) >= 12
    for path in QUERY_FILES:
        first, second, *rest = path.read_text(encoding="utf-8").splitlines()
        assert first.startswith("# title: ") and first.removeprefix("# title: ").strip(), path
        assert second.startswith("# description: ") and len(second) > 30, path
        assert any(line.strip() and not line.startswith("#") for line in rest), path
    assert [example.name for example in EXAMPLES] == [path.stem for path in QUERY_FILES]
    assert [example.title for example in EXAMPLES] == [
        path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# title: ").strip()
        for path in QUERY_FILES
    ]


def test_a_query_file_without_its_header_is_refused() -> None:
    with pytest.raises(ExampleMissing, match="title"):
        read_example("x", "SELECT * WHERE { ?s ?p ?o }\n")
    with pytest.raises(ExampleMissing, match="description"):
        read_example("x", "# title: Iets\nSELECT * WHERE { ?s ?p ?o }\n")
    example = read_example("x", "# title: Iets\n# description: Uitleg\nASK { ?s ?p ?o }\n")
    assert (example.title, example.description, example.text) == (
        "Iets",
        "Uitleg",
        "ASK { ?s ?p ?o }\n",
    )


@pytest.mark.corpus
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.name for example in EXAMPLES])
def test_every_example_returns_rows_on_the_real_corpus(real_app: Flask, example: Example) -> None:
    client = real_app.test_client()
    # As any SPARQL client runs it: the query with its prefixes declared.
    answer = client.post(
        "/sparql",
        data={"query": example.query},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json is not None and answer.json["results"]["bindings"], example.name
    # In the workbench, as the file has it (predeclared prefixes undeclared).
    status, page = workbench(client, example.text)
    assert status == 200
    assert result_rows(page)


# -- Results: table, labels, links, paging, downloads -----------------------------------------


@pytest.mark.corpus
def test_the_table_shows_labels_and_links(real_app: Flask, real_corpus: Path) -> None:
    folder = real_corpus / "docs" / "voldoen-aan-wetten-en-regels" / "vereisten"
    titles = {str(meta["id"]): str(meta["title"]).strip() for meta in front_matter(folder)}
    status, page = workbench(
        real_app.test_client(), "SELECT ?vereiste WHERE { ?vereiste a ak:Vereiste }"
    )
    assert status == 200
    shown = {}
    for row in result_rows(page):
        (cell,) = row.find_all("td")
        link = cell.find("a")
        urn = link.words()
        assert link.get("href") == f"/id/{urn}"
        shown[urn] = cell.find("span", class_="label").words()
    assert shown == {urn: " ".join(title.split()) for urn, title in titles.items()}


def test_external_iris_link_to_themselves_and_literals_keep_their_language(
    client: FlaskClient,
) -> None:
    query = (
        "SELECT ?iri ?text WHERE "
        '{ BIND(<https://example.org/x> AS ?iri) BIND("hallo"@nl AS ?text) }'
    )
    status, page = workbench(client, query)
    assert status == 200
    iri, text = result_rows(page)[0].find_all("td")
    assert iri.find("a").get("href") == "https://example.org/x"
    assert text.find("span", lang="nl").words() == "hallo"
    assert "@nl" in text.words()


@pytest.mark.corpus
def test_paging_over_the_answer(real_app: Flask, real_corpus: Path) -> None:
    folder = real_corpus / "docs" / "voldoen-aan-wetten-en-regels" / "maatregelen"
    expected = {str(meta["id"]) for meta in front_matter(folder)}
    assert len(expected) > PAGE_SIZE
    client = real_app.test_client()
    query = "SELECT ?m WHERE { ?m a ak:Maatregel } ORDER BY ?m"
    _, first = workbench(client, query)
    assert len(result_rows(first)) == PAGE_SIZE
    pager = first.find("form", class_="pager")
    assert pager.find("input", name="query").get("value") == query
    (next_button,) = pager.find_all("button", name="page")
    assert next_button.get("value") == "2"
    _, second = workbench(client, query, page="2")
    assert len(result_rows(second)) == len(expected) - PAGE_SIZE
    seen = [row.find("a").words() for page in (first, second) for row in result_rows(page)]
    assert sorted(seen) == seen and set(seen) == expected and len(seen) == len(expected)
    # A page past the end is the last one; a page that is no number is the first.
    _, beyond = workbench(client, query, page="99")
    assert [row.words() for row in result_rows(beyond)] == [
        row.words() for row in result_rows(second)
    ]
    _, nonsense = workbench(client, query, page="x")
    assert len(result_rows(nonsense)) == PAGE_SIZE


def test_paging_stays_within_the_row_cap(make_app: Callable[..., Flask], sample_dist: Path) -> None:
    cap = PAGE_SIZE + 20
    client = make_app(sample_dist, max_rows=cap).test_client()
    query = "SELECT * WHERE { ?s ?p ?o }"
    response = client.post("/sparql", data={"query": query}, headers=BROWSER)
    assert response.headers["X-Result-Truncated"] == "true"
    page = parse_html(response.text)
    assert "Afgekapt" in page.find("section", class_="answer").words()
    assert len(result_rows(page)) == PAGE_SIZE
    _, last = workbench(client, query, page="2")
    assert len(result_rows(last)) == cap - PAGE_SIZE
    assert not last.find("form", class_="pager").find_all("button", value="3")


def test_download_buttons_give_every_format(client: FlaskClient) -> None:
    query = "SELECT ?m ?titel WHERE { ?m a ak:Maatregel ; dcterms:title ?titel } ORDER BY ?m"
    _, page = workbench(client, query)
    rows = len(result_rows(page))
    assert rows > 0
    form = page.find("form", class_="downloads")
    prepared = form.find("input", name="query").get("value")
    assert prepared is not None and prepared.endswith(query)
    media_types = {}
    for button in form.find_all("button", name="format"):
        key = button.get("value")
        assert key is not None
        response = client.post("/sparql", data={"query": prepared, "format": key})
        assert response.status_code == 200, response.text
        media_types[key] = response.mimetype
        if key == "csv":
            assert len(response.text.strip().splitlines()) == rows + 1
    assert media_types == {
        "json": "application/sparql-results+json",
        "xml": "application/sparql-results+xml",
        "csv": "text/csv",
        "tsv": "text/tab-separated-values",
    }
    construct = "CONSTRUCT { ?m a ak:Maatregel } WHERE { ?m a ak:Maatregel }"
    _, page = workbench(client, construct)
    form = page.find("form", class_="downloads")
    prepared = form.find("input", name="query").get("value")
    keys = [button.get("value") for button in form.find_all("button", name="format")]
    assert set(keys) == {"turtle", "ntriples", "jsonld", "rdfxml"}
    for key, rdflib_format in zip(keys, ("turtle", "nt", "json-ld", "xml"), strict=True):
        response = client.post("/sparql", data={"query": prepared, "format": key})
        assert response.status_code == 200, response.text
        assert len(Graph().parse(data=response.data, format=rdflib_format)) > 0


def test_the_page_links_the_vocabulary_and_the_ontology(client: FlaskClient) -> None:
    response = client.get("/sparql", headers=BROWSER)
    links = parse_html(response.text).find("main").links()
    assert "/id/urn:nl:ak:def:" in links and "/ontology.ttl" in links
    for link in ("/id/urn:nl:ak:def:", "/ontology.ttl"):
        assert status_of(client, link) == 200


# -- Prefixes ---------------------------------------------------------------------------------


def test_predeclared_prefixes_are_listed_and_work(client: FlaskClient) -> None:
    query = "SELECT ?klasse WHERE { ?klasse a owl:Class ; rdfs:isDefinedBy <urn:nl:ak:def:> }"
    status, page = workbench(client, query)
    assert status == 200 and result_rows(page)
    listed = page.find("dl", class_="prefix-list")
    pairs = {
        dt.words().removesuffix(":"): dd.words()
        for dt, dd in zip(listed.find_all("dt"), listed.find_all("dd"), strict=True)
    }
    assert pairs == EXPECTED_PREFIXES
    for name, iri in EXPECTED_PREFIXES.items():  # each one usable undeclared
        status, page = workbench(client, f"SELECT ?x WHERE {{ BIND({name}:probe AS ?x) }}")
        assert status == 200
        assert result_rows(page)[0].find("code").words() in (f"{name}:probe", f"{iri}probe")


def test_a_prefix_the_query_declares_wins(client: FlaskClient) -> None:
    query = "PREFIX ak: <urn:x:>\nSELECT ?x WHERE { BIND(ak:y AS ?x) }"
    status, page = workbench(client, query)
    assert status == 200
    assert result_rows(page)[0].find("code").words() == "urn:x:y"
    declared = page.find("form", class_="downloads").find("input", name="query").get("value")
    assert declared is not None and declared.count("PREFIX ak:") == 1


# -- Errors -----------------------------------------------------------------------------------


def engine_position(text: str) -> tuple[int, int]:
    """Where the engine itself puts the syntax error of ``text``."""
    with pytest.raises(SyntaxError) as caught:
        ox.Store().query(text)
    line, column = str(caught.value).removeprefix("error at ").split(":")[:2]
    return int(line), int(column)


@pytest.mark.parametrize(
    "query",
    [
        # no prefixes used: the engine's own position on the user's text is the truth
        "SELECT ?s\nWHERE {\n  ?s <urn:p> ?o ;\n     <urn:q> }\n",
        # predeclared prefixes used, the error on a later line
        "SELECT ?titel\nWHERE {\n  ?m dcterms:title ?titel .\n  FILTER(?titel = ) }",
        "SELECT * WHERE { ?s ?p ",
    ],
)
def test_a_syntax_error_keeps_the_query_and_says_where(client: FlaskClient, query: str) -> None:
    # The truth: the engine on the user's text, the prefixes declared on its first line (which
    # moves no line and no column after the first line).
    own = "PREFIX dcterms: <http://purl.org/dc/terms/> " if "dcterms:" in query else ""
    line, column = engine_position(own + query)
    if own and line == 1:
        column -= len(own)
    status, page = workbench(client, query)
    assert status == 400
    assert page.find("textarea", id="query").text() == query
    error = page.find("section", id="query-error")
    assert f"regel {line}, kolom {column}" in error.find("h2").words()
    message = error.find("p").find("code").words()
    assert 0 < len(message) <= 220  # never the grammar dump alone
    pointer = error.find("pre").text().splitlines()
    assert pointer[0] == query.splitlines()[line - 1]
    assert pointer[1] == " " * (column - 1) + "^"


def test_an_undeclared_prefix_is_named(client: FlaskClient) -> None:
    status, page = workbench(client, "SELECT ?n WHERE { ?p foaf:name ?n }")
    assert status == 400
    assert "foaf:" in page.find("section", id="query-error").words()


def test_a_refused_query_keeps_the_form(client: FlaskClient) -> None:
    query = "INSERT DATA { <urn:x> <urn:p> <urn:o> }"
    status, page = workbench(client, query)
    assert status == 400
    assert page.find("textarea", id="query").text() == query
    assert "read-only" in page.find("section", id="query-error").words()


def test_a_stopped_query_keeps_the_form(make_app: Callable[..., Flask], sample_dist: Path) -> None:
    client = make_app(sample_dist, query_timeout=0.5).test_client()
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    status, page = workbench(client, query)
    assert status == 503
    assert page.find("textarea", id="query").text() == query
    assert "te lang" in page.find("section", id="query-error").words()


# -- Protocol clients see no difference --------------------------------------------------------


def test_protocol_clients_are_answered_as_before(client: FlaskClient) -> None:
    query = "SELECT ?s WHERE { ?s a <urn:nl:ak:def:Maatregel> }"
    as_json = client.post(
        "/sparql", data={"query": query}, headers={"Accept": "application/sparql-results+json"}
    )
    assert as_json.status_code == 200 and as_json.mimetype == "application/sparql-results+json"
    assert as_json.json is not None and as_json.json["results"]["bindings"]
    as_csv = client.post("/sparql", data={"query": query}, headers={"Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv"
    no_accept = client.post("/sparql", data={"query": query})
    assert no_accept.mimetype == "application/sparql-results+json"
    # The protocol runs the query as sent: the workbench's prefixes are the workbench's.
    undeclared = client.post("/sparql", data={"query": "SELECT ?s WHERE { ?s a ak:Maatregel }"})
    assert undeclared.status_code == 400 and undeclared.mimetype == "text/plain"


# -- The site: icon, robots.txt, header and home links ----------------------------------------


def test_favicon_and_robots_answer(client: FlaskClient) -> None:
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
        assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.mimetype == "text/plain"
    lines = robots.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert "Disallow: /sparql" in lines and "Allow: /" in lines
    page = parse_html(client.get("/", headers=BROWSER).text)
    icons = [link.get("href") for link in page.find_all("link", rel="icon")]
    for href in icons:
        assert href is not None and status_of(client, href) == 200
    assert "/favicon.ico" in icons


def test_header_and_home_link_the_glossary_and_the_vocabulary(client: FlaskClient) -> None:
    page = parse_html(client.get("/", headers=BROWSER).text)
    nav = {a.words(): a.get("href") for a in page.find("nav").find_all("a")}
    assert nav["Vocabulaire"] == "/id/urn:nl:ak:def:"
    for name in ("Woordenlijst", "Vocabulaire"):
        href = nav[name]
        assert href is not None
        assert status_of(client, href) == 200, name
        assert href in page.find("main").links(), name


def test_home_and_workbench_list_the_examples(client: FlaskClient) -> None:
    for path in ("/", "/sparql"):
        page = parse_html(client.get(path, headers=BROWSER).text)
        items = page.find("ul", class_="example-list").find_all("li")
        assert [item.find("a").words() for item in items] == [e.title for e in EXAMPLES]
        for item, example in zip(items, EXAMPLES, strict=True):
            code = item.find("code", class_="sparql")  # coloured on the server, text intact
            assert code.text() == example.text
            keywords = {span.words() for span in code.find_all("span", class_="sq-keyword")}
            assert "SELECT" in keywords and "WHERE" in keywords
    first = items[0].find("a").get("href")
    assert first is not None
    opened = parse_html(client.get(first, headers=BROWSER).text)
    assert opened.find("textarea", id="query").text() == EXAMPLES[0].text
    assert result_rows(opened)
