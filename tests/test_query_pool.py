"""The query lane: sandboxed query processes reused across queries, replaced when stopped.

What is checked here is read from the kernel (``/proc/<pid>``), not from the lane's word: the
process is another program than the test's, it holds no descriptor but its socket and may open
none, and a timed-out or memory-hungry query's process is really gone.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.services.pool import QueryLane, Target
from server.services.pool_answers import Budget, write_solutions
from tests.helpers import lane_job

LOOKUP = "SELECT ?p ?o WHERE { <urn:nl:ak:mtr:org-02> ?p ?o }"
#: Four copies of every triple joined: never done in time.
CROSS_JOIN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
#: Sorting a three-fold cross join needs its rows in memory.
SORT_EVERYTHING = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"


def lane_of(app: Flask) -> QueryLane:
    lane: QueryLane = app.extensions["kg_query_lane"]
    return lane


def ask(client: FlaskClient, query: str, fmt: str = "json") -> tuple[int, bytes]:
    response = client.get("/sparql", query_string={"query": query, "format": fmt})
    return response.status_code, response.data


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def limit_of(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            return line[len(name) :].split()[0]
    raise AssertionError(f"no {name} in /proc/{pid}/limits")


def test_one_process_answers_query_after_query(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist)
    client = app.test_client()
    lane = lane_of(app)
    assert lane.pids() == []  # started at the first query, not before
    answers = [ask(client, LOOKUP) for _ in range(5)]
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    [pid] = lane.pids()
    for _ in range(5):
        assert ask(client, "ASK { ?s ?p ?o }")[0] == 200
        assert lane.pids() == [pid]
    assert pid != os.getpid()
    # shut in: only its socket, no room for another descriptor, no core file
    assert os.listdir(f"/proc/{pid}/fd") == ["0"]
    assert limit_of(pid, "Max open files") == "1"
    assert limit_of(pid, "Max core file size") == "0"
    assert limit_of(pid, "Max address space") != "unlimited"
    assert limit_of(pid, "Max cpu time") != "unlimited"
    lane.close()
    assert not alive(pid)


def test_a_timed_out_query_process_is_replaced(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, query_timeout=0.5)
    client = app.test_client()
    assert ask(client, LOOKUP)[0] == 200
    [first] = lane_of(app).pids()
    started = time.monotonic()
    status, body = ask(client, CROSS_JOIN)
    assert status == 503 and b"timeout" in body
    assert time.monotonic() - started < 5
    assert not alive(first)  # killed and reaped
    assert ask(client, LOOKUP)[0] == 200
    assert lane_of(app).pids() and first not in lane_of(app).pids()
    lane_of(app).close()


def test_a_memory_hog_is_stopped(
    make_app: Callable[..., Flask], sample_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("server.services.query.MEMORY_HEADROOM", 64 * 1024**2)
    app = make_app(sample_dist, query_timeout=20)
    client = app.test_client()
    assert ask(client, LOOKUP)[0] == 200
    [pid] = lane_of(app).pids()
    status, body = ask(client, SORT_EVERYTHING)
    assert status == 503 and b"memory" in body, body[:200]
    assert not alive(pid)
    assert ask(client, LOOKUP)[0] == 200
    lane_of(app).close()


def test_an_answer_over_the_byte_cap_is_stopped(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, max_answer_bytes=2000)
    client = app.test_client()
    status, body = ask(client, "SELECT * WHERE { ?s ?p ?o }")
    assert status == 503 and b"more than 2000 bytes" in body
    status, body = ask(client, "CONSTRUCT WHERE { ?s ?p ?o }", "turtle")
    assert status == 503 and b"more than 2000 bytes" in body
    status, body = ask(client, "SELECT * WHERE { ?s ?p ?o } LIMIT 2")
    assert status == 200 and len(body) <= 2000
    lane_of(app).close()


def write_snapshot(folder: Path, value: str) -> Path:
    folder.mkdir()
    (folder / "graph.nt").write_text(f'<urn:x:s> <urn:x:p> "{value}" .\n')
    return folder


def test_each_query_is_answered_from_its_own_snapshot(
    make_app: Callable[..., Flask], sample_dist: Path, tmp_path: Path
) -> None:
    lane = lane_of(make_app(sample_dist))
    old, new = write_snapshot(tmp_path / "a", "old"), write_snapshot(tmp_path / "b", "new")
    job = lane_job()

    def answer(snapshot: Path) -> bytes:
        outcome = lane.run(Target(lane, snapshot, None), job, 5, 1 << 30)
        assert outcome[0] == "answer", outcome
        body: bytes = outcome[2]
        return body

    # an update that got past check_query is no query to the process, and changes nothing
    update = lane.run(
        Target(lane, old, None),
        {**job, "text": "INSERT DATA { <urn:x:t> <urn:x:p> 1 }"},
        5,
        1 << 30,
    )
    assert update[0] == "syntax"
    assert answer(old) == b"o\r\nold\r\n"
    [first] = lane.pids()
    assert answer(new) == b"o\r\nnew\r\n"
    [second] = lane.pids()
    assert second != first and not alive(first)  # the old snapshot's process is retired
    assert answer(new) == b"o\r\nnew\r\n" and lane.pids() == [second]
    lane.close()


def test_a_killed_query_process_is_named_and_replaced(
    make_app: Callable[..., Flask], sample_dist: Path
) -> None:
    app = make_app(sample_dist, query_timeout=10, cheap_seconds=5)
    client = app.test_client()
    assert ask(client, LOOKUP)[0] == 200
    [pid] = lane_of(app).pids()
    os.kill(pid, signal.SIGSEGV)
    status, body = ask(client, LOOKUP)
    # it died between queries: the next query finds out, and says how
    assert status == 500 and f"signal {signal.SIGSEGV}".encode() in body
    assert ask(client, LOOKUP)[0] == 200
    assert lane_of(app).pids() and pid not in lane_of(app).pids()
    lane_of(app).close()


TERMS = (
    "SELECT ?iri ?bnode ?lang ?dir ?typed ?neg ?dec ?dbl ?dbl2 ?odd ?bool ?plain ?tab ?triple"
    " ?unbound ?custom WHERE {"
    ' BIND(<urn:x:a> AS ?iri) BIND(BNODE("b") AS ?bnode) BIND("ja"@nl AS ?lang)'
    ' BIND("x"@ar--rtl AS ?dir) BIND(42 AS ?typed) BIND(-5 AS ?neg) BIND(1.5 AS ?dec)'
    ' BIND(1e3 AS ?dbl) BIND("1.0E5"^^<http://www.w3.org/2001/XMLSchema#double> AS ?dbl2)'
    ' BIND("abc"^^<http://www.w3.org/2001/XMLSchema#integer> AS ?odd) BIND(true AS ?bool)'
    ' BIND("line\\none, \\"q\\" <&>" AS ?plain) BIND("a\\tb" AS ?tab)'
    ' BIND(TRIPLE(<urn:x:s>, <urn:x:p>, "o") AS ?triple) BIND("x"^^<urn:dt> AS ?custom) }'
)


@pytest.mark.parametrize("key", ["json", "xml", "csv", "tsv"])
def test_answers_are_written_as_oxigraph_writes_them(key: str) -> None:
    store = ox.Store()
    for i in range(3):
        store.add(ox.Quad(ox.NamedNode(f"urn:x:{i}"), ox.NamedNode("urn:x:p"), ox.Literal(str(i))))
    fmt = getattr(ox.QueryResultsFormat, key.upper())
    for query in (TERMS, "SELECT * WHERE { ?s ?p ?o } ORDER BY ?s", "SELECT * WHERE {}"):
        expected = store.query(query).serialize(format=fmt)  # type: ignore[union-attr]
        result = store.query(query)
        assert isinstance(result, ox.QuerySolutions)
        budget = Budget(1 << 20)
        write_solutions(key, [v.value for v in result.variables], result, budget)
        if key == "xml":  # the same document (namespace declarations may move)
            assert canonical(budget.value()) == canonical(expected)
        elif key == "json":
            assert json.loads(budget.value()) == json.loads(expected)
        else:
            assert budget.value() == expected


def canonical(xml: bytes) -> str:
    return ElementTree.canonicalize(xml.decode("utf-8"))
