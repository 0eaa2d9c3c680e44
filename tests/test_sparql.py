"""The SPARQL endpoint through the Flask test client: protocol, formats, limits, refusals."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import resource
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import RDF
from werkzeug.datastructures import MultiDict

from server.services.examples import EXAMPLES
from server.services.query import (
    MIN_STACK,
    Answer,
    QueryDied,
    QueryFailed,
    QueryOutOfMemory,
    QueryRequest,
    QueryTimeout,
    run_in_child,
    run_query,
)
from server.services.sparql_text import MAX_DEPTH, QueryRefused, check_query, outline

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
DATA_GRAPH = "urn:nl:ak:graph:data"
ONTOLOGY_GRAPH = "urn:nl:ak:graph:ontologie"

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
SELECT = (
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "SELECT ?s ?title WHERE { ?s a <urn:nl:ak:def:Maatregel> ; dcterms:title ?title } ORDER BY ?s"
)
ASK = "ASK { <urn:nl:ak:mtr:org-01> ?p ?o }"
CONSTRUCT = "CONSTRUCT { ?s a ?c } WHERE { ?s a ?c . FILTER(?c = <urn:nl:ak:def:Maatregel>) }"
DESCRIBE = "DESCRIBE <urn:nl:ak:mtr:org-01>"
#: Four copies of every triple joined: ~10^13 rows, never done in time.
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def count(client: FlaskClient, query: str, **params: str) -> int:
    response = client.get("/sparql", query_string={"query": query, **params})
    assert response.status_code == 200, response.text
    return int(response.json["results"]["bindings"][0]["n"]["value"])  # type: ignore[index]


# Protocol: the three ways to send a query give the same answer.


def test_get_post_form_and_post_body_agree(client: FlaskClient) -> None:
    accept = {"Accept": "application/sparql-results+json"}
    by_get = client.get("/sparql", query_string={"query": SELECT}, headers=accept)
    by_form = client.post("/sparql", data={"query": SELECT}, headers=accept)
    by_body = client.post(
        "/sparql", data=SELECT, content_type="application/sparql-query", headers=accept
    )
    assert by_get.status_code == by_form.status_code == by_body.status_code == 200
    assert by_get.json == by_form.json == by_body.json
    rows = by_get.json["results"]["bindings"]  # type: ignore[index]
    assert [row["s"]["value"] for row in rows][:1] == ["urn:nl:ak:mtr:org-01"]


def test_body_query_takes_dataset_from_the_url(client: FlaskClient) -> None:
    response = client.post(
        "/sparql?default-graph-uri=" + ONTOLOGY_GRAPH,
        data="ASK { <urn:nl:ak:mtr:org-01> ?p ?o }",
        content_type="application/sparql-query",
    )
    assert response.json == {"head": {}, "boolean": False}


def test_two_queries_are_a_bad_request(client: FlaskClient) -> None:
    response = client.get("/sparql?query=ASK{}&query=ASK{}")
    assert response.status_code == 400
    assert "one query" in response.text


def test_post_of_another_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/sparql", data=ASK, content_type="text/plain")
    assert response.status_code == 415


def test_query_that_is_not_utf8_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/sparql", data=b"ASK { ?s ?p '\xff' }", content_type="application/sparql-query"
    )
    assert response.status_code == 400
    assert "UTF-8" in response.text


def test_form_with_bytes_that_are_not_utf8_is_400(client: FlaskClient) -> None:
    form = "application/x-www-form-urlencoded"
    for body in (
        b"query=ASK%7B%7D%FF",
        b"query=ASK{}\xff",
        b"format=json&query=ASK%7B%7D&x=%C0%AF",
    ):
        response = client.post("/sparql", data=body, content_type=form)
        assert response.status_code == 400, body
        assert "the form is not UTF-8" in response.text
    good = client.post("/sparql", data=b"query=ASK%7B%7D&format=json", content_type=form)
    assert good.json == {"head": {}, "boolean": True}


def test_query_string_that_is_not_utf8_is_400(client: FlaskClient) -> None:
    for path in ("/sparql?query=ASK%7B%7D%FF", "/sparql?query=ASK%7B%7D&format=%ED%A0%80"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert "the query string is not UTF-8" in response.text


def test_byte_order_mark_before_a_query_body_is_dropped(client: FlaskClient) -> None:
    body = "\ufeff" + ASK
    for data in (body.encode("utf-8"), body):
        response = client.post(
            "/sparql",
            data=data,
            content_type="application/sparql-query",
            query_string={"format": "json"},
        )
        assert response.status_code == 200, response.text
        assert response.json == {"head": {}, "boolean": True}
    twice = client.post("/sparql", data="\ufeff" + body, content_type="application/sparql-query")
    assert twice.status_code == 400  # one mark is an encoding's signature; two are text


def test_query_body_in_another_charset_is_415(client: FlaskClient) -> None:
    for charset in ("latin-1", "utf-16"):
        response = client.post(
            "/sparql", data=ASK, content_type=f"application/sparql-query; charset={charset}"
        )
        assert response.status_code == 415
        assert "UTF-8" in response.text
    utf8 = client.post("/sparql", data=ASK, content_type="application/sparql-query; charset=UTF-8")
    assert utf8.status_code == 200


def test_relative_iris_are_resolved_against_the_endpoint(client: FlaskClient) -> None:
    relative = "CONSTRUCT { <s> <p> 1 } WHERE {}"
    response = client.get("/sparql", query_string={"query": relative, "format": "ntriples"})
    assert response.status_code == 200, response.text
    assert response.text.strip() == (
        "<http://localhost/s> <http://localhost/p> "
        '"1"^^<http://www.w3.org/2001/XMLSchema#integer> .'
    )
    own_base = "BASE <http://example.org/a/> SELECT ?o WHERE { BIND(<o> AS ?o) }"
    answer = client.get("/sparql", query_string={"query": own_base, "format": "json"})
    assert answer.json["results"]["bindings"] == [
        {"o": {"type": "uri", "value": "http://example.org/a/o"}}
    ]  # type: ignore[index]
    by_host = client.get(
        "/sparql",
        query_string={"query": "SELECT ?o { BIND(<x> AS ?o) }", "format": "csv"},
        headers={"Host": "kg.example:8080"},
    )
    assert by_host.text.splitlines()[1] == "http://kg.example:8080/x"


def test_at_most_one_version(client: FlaskClient) -> None:
    for version in ("1.1", "1.2", "1.2-basic"):
        one = client.get("/sparql", query_string={"query": ASK, "version": version})
        assert one.status_code == 200, version
    two = client.get(
        "/sparql", query_string=MultiDict([("query", ASK), ("version", "1.2"), ("version", "1.2")])
    )
    assert two.status_code == 400 and "at most one version" in two.text
    in_form = client.post(
        "/sparql", data=MultiDict([("query", ASK), ("version", "1.1"), ("version", "1.2")])
    )
    assert in_form.status_code == 400
    body = "application/sparql-query; version=1.2"
    assert client.post("/sparql", data=ASK, content_type=body).status_code == 200
    both = client.post("/sparql?version=1.2", data=ASK, content_type=body)
    assert both.status_code == 400 and "at most one version" in both.text
    unknown = client.get("/sparql", query_string={"query": ASK, "version": "2.0"})
    assert unknown.status_code == 400 and "'2.0' is not supported" in unknown.text


def test_format_given_twice_the_first_counts(client: FlaskClient) -> None:
    """SPARQLWrapper sends ``format`` twice: its name, then media types (or nothing)."""
    response = client.get(
        "/sparql", query_string=MultiDict([("query", ASK), ("format", "xml"), ("format", "json")])
    )
    assert response.status_code == 200
    assert response.mimetype == "application/sparql-results+xml"


# Formats: every result format, by ?format= and by Accept.

RESULT_CASES = [
    ("json", "application/sparql-results+json"),
    ("xml", "application/sparql-results+xml"),
    ("csv", "text/csv"),
    ("tsv", "text/tab-separated-values"),
]
GRAPH_CASES = [
    ("turtle", "text/turtle", "turtle"),
    ("ntriples", "application/n-triples", "nt"),
    ("jsonld", "application/ld+json", "json-ld"),
    ("rdfxml", "application/rdf+xml", "xml"),
]


def parse_results(body: bytes, media_type: str) -> list[dict[str, str]] | bool:
    """Rows (variable -> lexical value) or the boolean, read independently of Oxigraph."""
    if media_type == "application/sparql-results+json":
        data = json.loads(body)
        if "boolean" in data:
            return bool(data["boolean"])
        return [{k: v["value"] for k, v in row.items()} for row in data["results"]["bindings"]]
    if media_type == "application/sparql-results+xml":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        root = ElementTree.fromstring(body)
        boolean = root.find(f"{ns}boolean")
        if boolean is not None:
            return boolean.text == "true"
        return [
            {b.get("name", ""): "".join(b.itertext()) for b in result.iter(f"{ns}binding")}
            for result in root.iter(f"{ns}result")
        ]
    text = body.decode("utf-8")
    if text.strip() in ("true", "false"):
        return text.strip() == "true"
    if media_type == "text/csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    solutions = ox.parse_query_results(text, ox.QueryResultsFormat.TSV)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


@pytest.mark.parametrize(("key", "media_type"), RESULT_CASES)
@pytest.mark.parametrize("by", ["format", "accept"])
def test_select_and_ask_in_every_result_format(
    client: FlaskClient, key: str, media_type: str, by: str
) -> None:
    expected = parse_results(
        client.get("/sparql", query_string={"query": SELECT, "format": "json"}).data,
        "application/sparql-results+json",
    )
    assert isinstance(expected, list) and len(expected) >= 2
    for query, wanted in ((SELECT, expected), (ASK, True)):
        if by == "format":
            response = client.get("/sparql", query_string={"query": query, "format": key})
        else:
            response = client.get(
                "/sparql", query_string={"query": query}, headers={"Accept": media_type}
            )
        assert response.status_code == 200, response.text
        assert response.mimetype == media_type
        assert "Accept" in response.vary
        assert parse_results(response.data, media_type) == wanted


@pytest.mark.parametrize(("key", "media_type", "rdflib_format"), GRAPH_CASES)
@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
def test_construct_and_describe_in_every_rdf_format(
    client: FlaskClient, key: str, media_type: str, rdflib_format: str, query: str
) -> None:
    by_format = client.get("/sparql", query_string={"query": query, "format": key})
    by_accept = client.get("/sparql", query_string={"query": query}, headers={"Accept": media_type})
    for response in (by_format, by_accept):
        assert response.status_code == 200, response.text
        assert response.mimetype == media_type
        graph = Graph().parse(data=response.data, format=rdflib_format)
        assert len(graph) > 0
        if query == CONSTRUCT:
            assert set(graph.objects(None, RDF.type)) == {URIRef("urn:nl:ak:def:Maatregel")}
        else:
            assert set(graph.subjects()) == {URIRef("urn:nl:ak:mtr:org-01")}


ACCEPT_TABLE = [
    # (Accept header, result format for SELECT, format for CONSTRUCT); None: 406
    (None, "application/sparql-results+json", "text/turtle"),
    ("*/*", "application/sparql-results+json", "text/turtle"),
    ("application/json", "application/sparql-results+json", "application/ld+json"),
    ("application/xml", "application/sparql-results+xml", "application/rdf+xml"),
    ("text/*", "text/csv", "text/turtle"),
    ("text/csv, */*;q=0.1", "text/csv", "text/turtle"),
    ("text/csv;q=0.2, text/tab-separated-values;q=0.8", "text/tab-separated-values", None),
    ("text/csv;q=0, */*", "application/sparql-results+json", "text/turtle"),
    ("text/turtle;q=0.1, */*", "application/sparql-results+json", "application/n-triples"),
    (
        "application/sparql-results+xml;q=0.5, application/*;q=0.9",
        "application/sparql-results+json",
        "application/n-triples",
    ),
    (
        "application/sparql-results+xml, text/turtle",
        "application/sparql-results+xml",
        "text/turtle",
    ),
    (
        "application/rdf+xml;q=0.3, application/ld+json;q=0.7, text/csv",
        "text/csv",
        "application/ld+json",
    ),
    ("application/n-triples; charset=utf-8", None, "application/n-triples"),
    ("text/tab-separated-values;level=1", "text/tab-separated-values", None),
    ("image/png", None, None),
    ("image/png, text/plain;q=0.5", None, "application/n-triples"),
]


@pytest.mark.parametrize(("accept", "for_select", "for_construct"), ACCEPT_TABLE)
def test_accept_negotiation(
    client: FlaskClient, accept: str | None, for_select: str | None, for_construct: str | None
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    for query, expected in ((SELECT, for_select), (CONSTRUCT, for_construct)):
        response = client.get("/sparql", query_string={"query": query}, headers=headers)
        assert "Accept" in response.vary
        if expected is None:
            assert response.status_code == 406
            assert response.mimetype == "text/plain"
            offered = "text/turtle" if query == CONSTRUCT else "application/sparql-results+json"
            assert offered in response.text
        else:
            assert response.status_code == 200, response.text
            assert response.mimetype == expected


def test_format_parameter_beats_accept_and_unknown_format_is_406(client: FlaskClient) -> None:
    response = client.get(
        "/sparql", query_string={"query": SELECT, "format": "tsv"}, headers={"Accept": "text/csv"}
    )
    assert response.mimetype == "text/tab-separated-values"
    response = client.get("/sparql", query_string={"query": SELECT, "format": "docx"})
    assert response.status_code == 406
    response = client.get("/sparql", query_string={"query": CONSTRUCT, "format": "csv"})
    assert response.status_code == 406
    assert "application/n-triples\t?format=ntriples" in response.text
    # SPARQLWrapper's spellings and media types as values
    for value, media_type in (
        ("rdf+xml", "application/rdf+xml"),
        ("json-ld", "application/ld+json"),
    ):
        response = client.get("/sparql", query_string={"query": CONSTRUCT, "format": value})
        assert response.mimetype == media_type


# Errors and refusals.


def test_syntax_error_is_400_with_the_parsers_message(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p "})
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert "syntax error" in response.text and "error at 1:" in response.text


UPDATES = [
    "INSERT DATA { <urn:x> <urn:p> <urn:o> }",
    "PREFIX insert: <urn:x:> DELETE WHERE { ?s ?p ?o }",
    "# a comment\nCLEAR ALL",
    "DROP GRAPH <urn:nl:ak:graph:data>",
    "LOAD <http://127.0.0.1:9/x.ttl>",
    "WITH <urn:nl:ak:graph:data> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "create graph <urn:x>",
]


@pytest.mark.parametrize("update", UPDATES)
def test_updates_are_refused_and_change_nothing(client: FlaskClient, update: str) -> None:
    before = count(client, COUNT)
    attempts = [
        client.get("/sparql", query_string={"query": update}),
        client.post("/sparql", data={"query": update}),
        client.get("/sparql", query_string={"update": update}),
        client.post("/sparql", data={"update": update}),
        client.post("/sparql", data=update, content_type="application/sparql-update"),
        client.post("/sparql", data=update, content_type="application/sparql-query"),
    ]
    for response in attempts:
        assert response.status_code == 400, response.text
        assert "read-only" in response.text
    assert count(client, COUNT) == before


SERVICE_QUERIES = [
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o .SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND(<http://127.0.0.1:9/> AS ?e) SERVICE ?e { ?s ?p ?o } }",
    'SELECT * WHERE { ?s ?p "x" # comment\n SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }',
]


@pytest.mark.parametrize("query", SERVICE_QUERIES)
def test_service_is_refused(client: FlaskClient, query: str) -> None:
    response = client.get("/sparql", query_string={"query": query})
    assert response.status_code == 400
    assert "SERVICE" in response.text


@pytest.mark.parametrize(
    "query",
    [
        'SELECT ?service WHERE { ?service ?p "a SERVICE in a string" }',
        "PREFIX service: <urn:x:> SELECT * WHERE { ?s service:SERVICE ?o } # SERVICE",
        "SELECT * WHERE { ?s <http://example.org/SERVICE> ?o }",
        "SELECT ?insert WHERE { ?insert ?p ?o } LIMIT 1",
    ],
)
def test_service_and_update_words_elsewhere_are_fine(client: FlaskClient, query: str) -> None:
    check_query(query, 64 * 1024)
    assert client.get("/sparql", query_string={"query": query}).status_code == 200


def test_query_string_and_body_are_bounded(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    client = make_app(sample_dist, max_request_bytes=2000).test_client()
    long_query = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 3000
    assert client.get("/sparql", query_string={"query": long_query}).status_code == 414
    form = client.post("/sparql", data={"query": long_query})
    assert form.status_code == 413
    body = client.post("/sparql", data=long_query, content_type="application/sparql-query")
    assert body.status_code == 413
    short = "SELECT * WHERE { ?s ?p ?o } LIMIT 1"
    assert client.post("/sparql", data={"query": short}).status_code == 200


def test_rows_are_capped_and_the_answer_says_so(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    client = make_app(sample_dist, max_rows=5).test_client()
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert response.headers["X-Result-Truncated"] == "true"
    assert response.headers["X-Result-Limit"] == "5"
    assert len(response.json["results"]["bindings"]) == 5  # type: ignore[index]
    for fmt in ("csv", "tsv", "xml"):
        capped = client.get(
            "/sparql", query_string={"query": "SELECT * { ?s ?p ?o }", "format": fmt}
        )
        assert capped.headers["X-Result-Truncated"] == "true"
        rows = parse_results(capped.data, str(capped.mimetype))
        assert isinstance(rows, list) and len(rows) == 5
    graph = client.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o }"})
    assert graph.headers["X-Result-Truncated"] == "true"
    assert len(Graph().parse(data=graph.data, format="turtle")) == 5
    small = client.get("/sparql", query_string={"query": "SELECT * { ?s ?p ?o } LIMIT 5"})
    assert small.headers["X-Result-Truncated"] == "false"


def test_timeout_stops_the_query(make_app: Callable[..., Flask], sample_dist: Path) -> None:
    client = make_app(sample_dist, query_timeout=0.5).test_client()
    started = time.monotonic()
    response = client.get("/sparql", query_string={"query": CROSS_JOIN})
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    assert "timeout" in response.text
    assert client.get("/sparql", query_string={"query": ASK}).status_code == 200


def test_evaluation_failure_is_500_and_logged(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> Answer:
        raise QueryFailed("Traceback (most recent call last):\n  ...\nRuntimeError: boom")

    monkeypatch.setattr("server.routes.sparql.run_query", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get("/sparql", query_string={"query": ASK})
    assert response.status_code == 500
    assert "boom" not in response.text
    assert any("boom" in record.getMessage() for record in caplog.records)


# Checked before the engine: size, nesting, updates, SERVICE; one lexer.


def nested(depth: int, opening: str = "{", closing: str = "}") -> str:
    return "SELECT * WHERE " + opening * depth + closing * depth


DEEP = [
    nested(2201),  # killed the query process with SIGSEGV
    "SELECT * WHERE { FILTER(" + "(" * 4683 + "1" + ")" * 4683 + ") }",
    "SELECT * WHERE { ?s <urn:p> " + "[ <urn:p> " * 3000 + "1" + " ]" * 3000 + " }",
    "SELECT * WHERE { " + "{ (" * (MAX_DEPTH // 2) + "[ ] " + ") }" * (MAX_DEPTH // 2) + " }",
]


@pytest.mark.parametrize("query", DEEP, ids=["braces", "parentheses", "brackets", "mixed"])
def test_deep_nesting_is_400_before_the_engine(client: FlaskClient, query: str) -> None:
    for response in (
        client.post("/sparql", data=query, content_type="application/sparql-query"),
        client.post("/sparql", data={"query": query}),
    ):
        assert response.status_code == 400
        assert f"at most {MAX_DEPTH} is accepted" in response.text
    assert client.get("/sparql", query_string={"query": ASK}).status_code == 200


def test_nesting_is_counted_in_code_only() -> None:
    deep = "{" * (MAX_DEPTH + 1)
    hidden = (
        f'SELECT * WHERE {{ ?s ?p "{deep}" . ?s ?p """{deep}\n""" . '
        f"?s ?p '{deep}' . ?s <urn:x:{'('}> ?o }} # {deep}\n"
    )
    assert outline(hidden).depth == 1
    check_query(hidden, 64 * 1024)
    assert outline(nested(MAX_DEPTH)).depth == MAX_DEPTH
    check_query(nested(MAX_DEPTH), 64 * 1024)
    with pytest.raises(QueryRefused, match=f"nests {{ }} \\( \\) \\[ \\] {MAX_DEPTH + 1} deep"):
        check_query(nested(MAX_DEPTH + 1), 64 * 1024)
    # ``<`` is less-than unless an IRI follows: the brackets after it still count
    assert outline("ASK { FILTER(1 < 2 && (2 > 1)) }").depth == 3
    # an escaped # or quote in a prefixed name starts no comment or string (SPARQL's PN_LOCAL_ESC)
    escaped = "PREFIX ex: <urn:x:> SELECT * WHERE { ?s ex:a\\# ?o ; ex:b\\' " + deep
    assert outline(escaped).depth == MAX_DEPTH + 2
    # an unterminated string hides nothing
    assert outline('ASK { "abc ' + deep).depth == MAX_DEPTH + 2


def test_query_size_is_checked_on_the_decoded_text() -> None:
    check_query("ASK {}", 6)
    with pytest.raises(QueryRefused, match="the query has 7 bytes; at most 6"):
        check_query("ASK {} ", 6)
    check_query("ASK{'é'}", 9)
    with pytest.raises(QueryRefused, match="has 9 bytes"):
        check_query("ASK{'é'}", 8)


def test_long_chains_run_on_a_stack_large_enough(client: FlaskClient) -> None:
    """Chains the engine also handles recursively, which overflowed an 8 MiB stack."""
    chains = [
        "SELECT * WHERE { ?s ?p ?o FILTER(" + "!" * 20_000 + "true) } LIMIT 1",
        "SELECT * WHERE { ?s ?p ?o FILTER(" + "+".join(["1"] * 7_000) + ") } LIMIT 1",
        "SELECT * WHERE { ?s ?p ?o FILTER(" + "&&".join(["true"] * 9_500) + ") } LIMIT 1",
    ]
    for query in chains:
        response = client.post(
            "/sparql",
            data=query,
            content_type="application/sparql-query",
            query_string={"format": "json"},
        )
        assert response.status_code == 200, response.text
        assert len(response.json["results"]["bindings"]) == 1  # type: ignore[index]


def test_wide_rows_are_capped_by_values() -> None:
    store = ox.Store()
    for i in range(50):
        store.add(ox.Quad(ox.NamedNode(f"urn:x:{i}"), ox.NamedNode("urn:x:p"), ox.Literal(str(i))))
    binds = " ".join(f"BIND({i} AS ?v{i})" for i in range(400))
    wide = f"SELECT * WHERE {{ ?s ?p ?o {binds} }}"
    answer = run_query(store, QueryRequest(wide, max_rows=10, accept=None), 10)
    rows = json.loads(answer.body)["results"]["bindings"]
    assert len(rows) == 2 and answer.truncated  # 10 rows x 100 values / 403 variables


# The dataset: default-graph-uri, named-graph-uri, FROM.


def test_dataset_selection(client: FlaskClient) -> None:
    everything = count(client, COUNT)
    data = count(client, COUNT, **{"default-graph-uri": DATA_GRAPH})
    ontology = count(client, COUNT, **{"default-graph-uri": ONTOLOGY_GRAPH})
    assert data > 0 and ontology > 0 and data + ontology == everything
    from_clause = "SELECT (COUNT(*) AS ?n) FROM <urn:nl:ak:graph:data> WHERE { ?s ?p ?o }"
    assert count(client, from_clause) == data
    from_named = (
        "SELECT (COUNT(*) AS ?n) FROM NAMED <urn:nl:ak:graph:ontologie> "
        "WHERE { GRAPH ?g { ?s ?p ?o } }"
    )
    assert count(client, from_named) == ontology
    # the protocol's dataset wins over the query's
    assert count(client, from_clause, **{"default-graph-uri": ONTOLOGY_GRAPH}) == ontology
    named = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert count(client, named) == everything
    assert count(client, named, **{"named-graph-uri": ONTOLOGY_GRAPH}) == ontology
    # only named graphs given: the default graph is empty
    assert count(client, COUNT, **{"named-graph-uri": ONTOLOGY_GRAPH}) == 0
    # a graph outside the store is empty, not fetched
    assert count(client, COUNT, **{"default-graph-uri": "http://127.0.0.1:9/g"}) == 0
    bad = client.get("/sparql", query_string={"query": COUNT, "default-graph-uri": "not an iri"})
    assert bad.status_code == 400


# The child process: time, reach and failures.


def test_child_cannot_open_connections_even_when_asked_to(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        store = ox.Store()
        query = f"SELECT * WHERE {{ SERVICE <http://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}"

        def service() -> Answer:  # what would happen had inspect_query let it through
            solutions = store.query(query)
            assert isinstance(solutions, ox.QuerySolutions)
            list(solutions)
            raise AssertionError("SERVICE ran")

        def connect() -> Answer:
            socket.create_connection(("127.0.0.1", port), timeout=1)
            raise AssertionError("connected")

        def open_file() -> Answer:
            (tmp_path / "x").write_text("x")
            raise AssertionError("wrote a file")

        for work in (service, connect, open_file):
            with pytest.raises(QueryRefused):
                run_in_child(work, 5)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert not (tmp_path / "x").exists()


def test_child_failures_come_back() -> None:
    def crash() -> Answer:
        raise RuntimeError("boom")

    with pytest.raises(QueryFailed, match="RuntimeError: boom"):
        run_in_child(crash, 5)

    def sleep() -> Answer:
        time.sleep(30)
        raise AssertionError("woke up")

    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        run_in_child(sleep, 0.3)
    assert time.monotonic() - started < 1.3


def die_by(number: int) -> Callable[[], Answer]:
    def work() -> Answer:
        os.kill(os.getpid(), number)
        time.sleep(5)
        raise AssertionError("survived")

    return work


@pytest.mark.parametrize(
    ("number", "expected", "message"),
    [
        (signal.SIGXCPU, QueryTimeout, "processor time"),  # the kernel, at RLIMIT_CPU
        (signal.SIGABRT, QueryOutOfMemory, "memory"),  # the allocator, at RLIMIT_AS
        (signal.SIGSEGV, QueryDied, f"the query process died \\(signal {signal.SIGSEGV}\\)"),
        (signal.SIGKILL, QueryDied, f"died \\(signal {signal.SIGKILL}\\)"),  # not a timeout
        (signal.SIGTERM, QueryDied, f"died \\(signal {signal.SIGTERM}\\)"),
        (signal.SIGBUS, QueryDied, f"died \\(signal {signal.SIGBUS}\\)"),
    ],
)
def test_every_way_the_child_dies_is_named_for_what_it_is(
    number: int, expected: type[Exception], message: str
) -> None:
    started = time.monotonic()
    with pytest.raises(expected, match=message):
        run_in_child(die_by(number), 10)
    assert time.monotonic() - started < 3  # at once: not at the timeout


def test_child_that_exits_without_an_answer_is_a_failure() -> None:
    def leave() -> Answer:
        os._exit(3)

    with pytest.raises(QueryFailed, match="without an answer \\(exit status 3\\)"):
        run_in_child(leave, 5)


def test_child_leaves_no_core_and_has_a_large_stack() -> None:
    def report() -> Answer:
        stack = threading.stack_size()
        raise RuntimeError(f"core {resource.getrlimit(resource.RLIMIT_CORE)} stack {stack}")

    with pytest.raises(QueryFailed, match=f"core \\(0, 0\\) stack {MIN_STACK}"):
        run_in_child(report, 5)


def test_a_query_process_that_dies_is_500_and_one_log_line(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def segfault(*args: object) -> Answer:
        return run_in_child(die_by(signal.SIGSEGV), 5)

    monkeypatch.setattr("server.routes.sparql.run_query", segfault)
    with caplog.at_level(logging.ERROR):
        response = client.get("/sparql", query_string={"query": ASK})
    assert response.status_code == 500
    assert (
        response.text
        == f"500 Internal Server Error: the query process died (signal {signal.SIGSEGV})\n"
    )
    assert "timeout" not in response.text
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == (
        f"SPARQL query: the query process died (signal {signal.SIGSEGV}), SIGSEGV"
    )
    assert record.exc_info is None and "Traceback" not in caplog.text


def test_child_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("server.services.query.MEMORY_HEADROOM", 64 * 1024**2)

    def allocate() -> Answer:
        blocks = [bytearray(16 * 1024**2) for _ in range(64)]
        raise AssertionError(f"got {len(blocks)} blocks")

    with pytest.raises(QueryOutOfMemory):
        run_in_child(allocate, 5)
    store = ox.Store()
    for i in range(300):
        store.add(ox.Quad(ox.NamedNode(f"urn:x:{i}"), ox.NamedNode("urn:x:p"), ox.Literal(str(i))))
    sort_everything = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"
    with pytest.raises(QueryOutOfMemory):
        run_query(store, QueryRequest(sort_everything), 10)


def test_every_kind_of_term_survives_the_answer(client: FlaskClient) -> None:
    query = (
        "SELECT ?iri ?bnode ?lang ?typed ?plain ?tab ?triple ?unbound WHERE {"
        ' BIND(<urn:x:a> AS ?iri) BIND(BNODE("b") AS ?bnode) BIND("ja"@nl AS ?lang)'
        ' BIND(42 AS ?typed) BIND("line\\none" AS ?plain) BIND("a\\tb" AS ?tab)'
        ' BIND(TRIPLE(<urn:x:s>, <urn:x:p>, "o") AS ?triple) }'
    )
    response = client.get("/sparql", query_string={"query": query, "format": "json"})
    assert response.status_code == 200, response.text
    row = response.json["results"]["bindings"][0]  # type: ignore[index]
    assert row["iri"] == {"type": "uri", "value": "urn:x:a"}
    assert row["bnode"]["type"] == "bnode"
    assert row["lang"] == {"type": "literal", "value": "ja", "xml:lang": "nl"}
    assert row["typed"]["datatype"] == "http://www.w3.org/2001/XMLSchema#integer"
    assert row["plain"]["value"] == "line\none"
    assert row["tab"]["value"] == "a\tb"
    assert row["triple"]["type"] == "triple"
    assert row["triple"]["value"]["object"]["value"] == "o"
    assert "unbound" not in row


# Service description, form, CORS.


def test_service_description(client: FlaskClient) -> None:
    response = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert response.status_code == 200
    assert response.mimetype == "text/turtle"
    assert "Accept" in response.vary
    graph = Graph().parse(data=response.data, format="turtle")
    service = graph.value(None, RDF.type, SD.Service)
    assert service is not None
    assert graph.value(service, SD.endpoint) == URIRef("http://localhost/sparql")
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    formats = set(graph.objects(service, SD.resultFormat))
    assert URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    assert URIRef("http://www.w3.org/ns/formats/Turtle") in formats
    assert len(formats) == 8
    names = {str(name) for name in graph.objects(None, SD.name)}
    assert names == {DATA_GRAPH, ONTOLOGY_GRAPH}
    as_jsonld = client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert as_jsonld.mimetype == "application/ld+json"
    assert len(Graph().parse(data=as_jsonld.data, format="json-ld")) == len(graph)
    assert client.get("/sparql").mimetype == "text/turtle"
    assert client.get("/sparql", headers={"Accept": "image/png"}).status_code == 406


def test_browser_gets_the_form_and_an_html_answer(client: FlaskClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    form = client.get("/sparql", headers=browser)
    assert form.status_code == 200 and form.mimetype == "text/html"
    assert "<textarea" in form.text and "Voorbeelden" in form.text
    assert "https://cdn" not in form.text and "<script" not in form.text
    query = 'SELECT ?x WHERE { BIND("</textarea><script>alert(1)</script>" AS ?x) }'
    answer = client.get("/sparql", query_string={"query": query}, headers=browser)
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "<script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    table = client.get("/sparql", query_string={"query": SELECT, "format": "html"})
    assert 'href="/id/urn:nl:ak:mtr:org-01"' in table.text
    graph = client.get("/sparql", query_string={"query": CONSTRUCT, "format": "html"})
    assert "ak:Maatregel" in graph.text


def test_cors(client: FlaskClient) -> None:
    get = client.get("/sparql", query_string={"query": ASK}, headers={"Origin": "http://x.test"})
    post = client.post("/sparql", data={"query": ASK}, headers={"Origin": "http://x.test"})
    error = client.get("/sparql", query_string={"query": "nonsense"})
    for response in (get, post, error):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "http://x.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "X-Result-Truncated" in get.headers["Access-Control-Expose-Headers"]


def test_the_example_queries_run(client: FlaskClient) -> None:
    for example in EXAMPLES:
        response = client.get(
            "/sparql",
            query_string={"query": example.query},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert response.status_code == 200, (example.title, response.text)


@pytest.mark.corpus
def test_real_corpus_query_mix(real_app: Flask) -> None:
    client = real_app.test_client()
    mix = {
        "lookup": "SELECT ?p ?o WHERE { <urn:nl:ak:mtr:org-02> ?p ?o }",
        "join": "SELECT ?m ?v WHERE { ?m a <urn:nl:ak:def:Maatregel> ; "
        "<urn:nl:ak:def:vereiste> ?v }",
        "classes": "SELECT ?c (COUNT(?s) AS ?n) WHERE { ?s a ?c } GROUP BY ?c",
    }
    for name, query in mix.items():
        response = client.get("/sparql", query_string={"query": query})
        assert response.status_code == 200, (name, response.text)
        assert response.json["results"]["bindings"], name  # type: ignore[index]
    for example in EXAMPLES:
        response = client.get(
            "/sparql", query_string={"query": example.query}, headers={"Accept": "text/csv"}
        )
        assert response.status_code == 200, example.title


def test_negotiation_is_remembered_only_for_short_accept_headers() -> None:
    """The memo of negotiations stays bounded: a long ``Accept`` is negotiated, not kept, and
    a remembered answer is the one negotiated afresh."""
    from werkzeug.datastructures import MIMEAccept

    from server.services import formats

    short = MIMEAccept([("text/csv", 1.0), ("*/*", 0.5)])
    long = MIMEAccept([(f"application/x-{n}", 0.9) for n in range(200)] + [("text/csv", 1)])
    offers = formats.RESULT_FORMATS
    formats._remembered.cache_clear()
    assert formats.best_format(short, offers) is formats.RESULTS_CSV
    assert formats.best_format(short, offers) is formats.RESULTS_CSV
    assert formats._remembered.cache_info().hits == 1
    assert formats.best_format(long, offers) is formats.RESULTS_CSV
    assert formats._remembered.cache_info().currsize == 1  # the long header was not kept
