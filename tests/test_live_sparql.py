"""The endpoint and dumps served by ``kg serve`` (gunicorn) on 127.0.0.1, used by real clients."""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import RDF
from SPARQLWrapper import (
    CSV,
    GET,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)
from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

from tests.conftest import LiveServer
from tests.helpers import query_processes
from tests.test_sparql import ACCEPT_TABLE, ASK, CONSTRUCT, CROSS_JOIN, DESCRIBE, SELECT

MAATREGEL = URIRef("urn:nl:ak:def:Maatregel")


def wrapper(server: LiveServer, query: str, fmt: str, method: str = GET) -> SPARQLWrapper:
    sparql = SPARQLWrapper(f"{server.url}/sparql")
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    sparql.setMethod(method)
    sparql.setTimeout(10)
    return sparql


def request(server: LiveServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (errors too), with urllib."""
    req = urllib.request.Request(f"{server.url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def sparql_path(query: str, **params: str) -> str:
    return "/sparql?" + urlencode({"query": query, **params})


# SPARQLWrapper in every format.

METHODS = [(GET, URLENCODED), (POST, URLENCODED), (POST, POSTDIRECTLY)]


@pytest.mark.parametrize(("method", "request_method"), METHODS)
def test_select_and_ask_with_sparqlwrapper(
    live_server: LiveServer, method: str, request_method: str
) -> None:
    def run(query: str, fmt: str) -> object:
        sparql = wrapper(live_server, query, fmt, method)
        sparql.setRequestMethod(request_method)
        return sparql.query().convert()

    as_json = run(SELECT, JSON)
    assert isinstance(as_json, dict)
    subjects = [row["s"]["value"] for row in as_json["results"]["bindings"]]
    assert subjects and subjects == sorted(subjects)
    as_xml = run(SELECT, XML)
    xml_subjects = [
        node.firstChild.data
        for node in as_xml.getElementsByTagName("uri")  # type: ignore[attr-defined]
    ]
    assert xml_subjects == subjects
    as_csv = run(SELECT, CSV)
    assert isinstance(as_csv, bytes)
    assert [line.split(",")[0] for line in as_csv.decode().splitlines()[1:]] == subjects
    as_tsv = run(SELECT, TSV)
    assert isinstance(as_tsv, bytes)
    assert [line.split("\t")[0] for line in as_tsv.decode().splitlines()[1:]] == [
        f"<{s}>" for s in subjects
    ]
    assert run(ASK, JSON) == {"head": {}, "boolean": True}
    boolean = run(ASK, XML).getElementsByTagName("boolean")[0]  # type: ignore[attr-defined]
    assert boolean.firstChild.data == "true"
    assert run(ASK, CSV) == b"true"
    assert run(ASK, TSV) == b"true"


GRAPH_FORMATS = [
    # (SPARQLWrapper format, Accept header to send instead (None: its own), rdflib format)
    (TURTLE, None, "turtle"),
    (N3, "application/n-triples", "nt"),
    (JSONLD, None, "json-ld"),
    (RDFXML, None, "xml"),
]


@pytest.mark.parametrize(("fmt", "accept", "rdflib_format"), GRAPH_FORMATS)
@pytest.mark.parametrize("query", [CONSTRUCT, DESCRIBE])
def test_construct_and_describe_with_sparqlwrapper(
    live_server: LiveServer, fmt: str, accept: str | None, rdflib_format: str, query: str
) -> None:
    sparql = wrapper(live_server, query, fmt)
    if accept is not None:  # SPARQLWrapper has no N-Triples of its own: ask by Accept only
        sparql.setOnlyConneg(True)
        sparql.addCustomHttpHeader("Accept", accept)
    result = sparql.query()
    content_type = result.info()["content-type"]
    # read the bytes: SPARQLWrapper's own RDF/XML and JSON-LD conversion uses the deprecated
    # rdflib ConjunctiveGraph (a warning, which is an error here)
    body = result.response.read()
    graph = Graph().parse(data=body, format=rdflib_format)
    expected_type = {
        TURTLE: "text/turtle",
        N3: "application/n-triples",
        JSONLD: "application/ld+json",
        RDFXML: "application/rdf+xml",
    }[fmt]
    assert content_type.startswith(expected_type)
    if query == CONSTRUCT:
        assert set(graph.objects(None, RDF.type)) == {MAATREGEL}
    else:
        assert set(graph.subjects()) == {URIRef("urn:nl:ak:mtr:org-01")}


def test_sparqlwrapper_update_is_refused(live_server: LiveServer) -> None:
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    before = wrapper(live_server, count, JSON).query().convert()
    sparql = wrapper(live_server, "INSERT DATA { <urn:x> <urn:p> <urn:o> }", JSON, POST)
    with pytest.raises(QueryBadFormed, match="read-only"):
        sparql.query()
    assert wrapper(live_server, count, JSON).query().convert() == before


# Negotiation, over the wire.


@pytest.mark.parametrize(("accept", "for_select", "for_construct"), ACCEPT_TABLE)
def test_accept_table_live(
    live_server: LiveServer, accept: str | None, for_select: str | None, for_construct: str | None
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    for query, expected in ((SELECT, for_select), (CONSTRUCT, for_construct)):
        status, response_headers, _ = request(live_server, sparql_path(query), **headers)
        assert "Accept" in response_headers["Vary"]
        if expected is None:
            assert status == 406
        else:
            assert status == 200
            assert response_headers["Content-Type"].split(";")[0] == expected


# Dumps downloaded over HTTP are the graph.


@pytest.mark.parametrize(
    ("path", "rdflib_format"),
    [("/dump.ttl", "turtle"), ("/dump.nt", "nt"), ("/dump.jsonld", "json-ld")],
)
def test_dumps_over_http_are_the_graph(
    live_server: LiveServer, sample_dist: Path, path: str, rdflib_format: str
) -> None:
    expected = Graph().parse(sample_dist / "graph.nt", format="nt")
    status, headers, body = request(live_server, path)
    assert status == 200 and "Content-Encoding" not in headers
    assert isomorphic(Graph().parse(data=body, format=rdflib_format), expected)
    status, headers, packed = request(live_server, path, **{"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed) == body
    status, _, _ = request(live_server, path, **{"If-None-Match": headers["ETag"]})
    assert status == 200  # that ETag is the gzipped one's
    status, _, empty = request(
        live_server, path, **{"If-None-Match": headers["ETag"], "Accept-Encoding": "gzip"}
    )
    assert status == 304 and empty == b""


# Time and reach.


@pytest.fixture(scope="module")
def quick_server(sample_dist: Path) -> Iterator[LiveServer]:
    server = LiveServer(sample_dist, "--query-timeout", "2", "--workers", "2")
    yield server
    server.stop()


def test_slow_query_is_stopped_while_others_are_answered(quick_server: LiveServer) -> None:
    outcome: dict[str, object] = {}

    def slow() -> None:
        started = time.monotonic()
        status, _, body = request(quick_server, sparql_path(CROSS_JOIN))
        outcome.update(status=status, body=body, elapsed=time.monotonic() - started)

    # the workers' query processes are forked once their zygotes have loaded the snapshot
    deadline = time.monotonic() + 30
    while len(query_processes(quick_server.process.pid)) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    during = set(query_processes(quick_server.process.pid))
    assert during  # the query processes, the slow query's among them
    answered = 0
    while thread.is_alive():
        started = time.monotonic()
        status, _, body = request(quick_server, sparql_path(ASK, format="json"))
        assert status == 200 and b"true" in body
        assert time.monotonic() - started < 1
        answered += 1
        time.sleep(0.05)
    thread.join()
    assert outcome["status"] == 503
    assert b"timeout" in outcome["body"]  # type: ignore[operator]
    assert outcome["elapsed"] < 2 + 1  # type: ignore[operator]
    assert answered >= 5
    # the slow query's process is gone (killed, and replaced by a fresh one), and no query
    # process goes on computing: the work really stopped
    time.sleep(0.5)
    after = set(query_processes(quick_server.process.pid))
    assert during - after
    before_cpu = cpu_seconds(after)
    time.sleep(0.5)
    assert cpu_seconds(after) - before_cpu < 0.2


def cpu_seconds(pids: set[int]) -> float:
    """User and system CPU time (s) the processes ``pids`` have used, from /proc."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def test_no_outbound_connection(live_server: LiveServer) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.setblocking(False)
        remote = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
        service = f"SELECT * WHERE {{ SERVICE <{remote}> {{ ?s ?p ?o }} }}"
        status, _, body = request(live_server, sparql_path(service))
        assert status == 400 and b"SERVICE" in body
        remote_from = [
            sparql_path(f"SELECT * FROM <{remote}> WHERE {{ ?s ?p ?o }}"),
            sparql_path(f"SELECT * FROM NAMED <{remote}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"),
            sparql_path("SELECT * WHERE { ?s ?p ?o }", **{"default-graph-uri": remote}),
            sparql_path("SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }", **{"named-graph-uri": remote}),
        ]
        for path in remote_from:
            status, _, body = request(live_server, path, Accept="application/sparql-results+json")
            assert status == 200
            assert b'"bindings":[]' in body
        time.sleep(0.2)
        with pytest.raises(BlockingIOError):
            listener.accept()


# Protocol details over the wire.


def test_relative_iris_resolve_against_the_endpoint_address(live_server: LiveServer) -> None:
    sparql = wrapper(live_server, "CONSTRUCT { <s> <p> 1 } WHERE {}", TURTLE)
    graph = Graph().parse(data=sparql.query().response.read(), format="turtle")
    assert set(graph.subjects()) == {URIRef(f"{live_server.url}/s")}
    assert set(graph.predicates()) == {URIRef(f"{live_server.url}/p")}


def test_a_query_body_with_a_byte_order_mark(live_server: LiveServer) -> None:
    req = urllib.request.Request(
        f"{live_server.url}/sparql",
        data="\ufeffASK { ?s ?p ?o }".encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"},
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 200 and response.read() == b"true"
