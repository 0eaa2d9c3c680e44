"""Fairness and slow clients, on a live ``kg serve`` over loopback.

Clients are told apart by their address, so each client here connects from its own loopback
address (``127.0.0.2``, ``127.0.0.3``…: all of ``127.0.0.0/8`` is this machine). Counts of
answers are checked, not speeds; the only times are generous bounds on waiting.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import LiveServer

LOOKUP = "SELECT ?p ?o WHERE { <urn:nl:ak:mtr:org-02> ?p ?o }"
#: Four copies of every triple joined: runs until the timeout.
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
TIMEOUT = 4


@pytest.fixture(scope="module")
def server(sample_dist: Path) -> Iterator[LiveServer]:
    live = LiveServer(
        sample_dist,
        "--workers",
        "2",
        "--threads",
        "4",
        "--query-timeout",
        str(TIMEOUT),
        "--heavy-per-client",
        "1",
        "--heavy-total",
        "2",
        "--cheap-seconds",
        "0.05",
    )
    # each worker's query processes are started: the heavy queries need not wait for one
    warm = [Loop(live, sparql(LOOKUP), "127.0.0.1") for _ in range(4)]
    for loop in warm:
        loop.start()
    time.sleep(1)
    assert {status for loop in warm for status in loop.stop()} == {200}
    yield live
    live.stop()


def get(
    server: LiveServer, path: str, source: str = "127.0.0.1", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.port, timeout=timeout, source_address=(source, 0)
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def sparql(query: str) -> str:
    return "/sparql?" + urlencode({"query": query, "format": "json"})


class Loop(threading.Thread):
    """A client sending one request after another until told to stop; counts the statuses."""

    def __init__(self, server: LiveServer, path: str, source: str) -> None:
        super().__init__(daemon=True)
        self.server, self.path, self.source = server, path, source
        self.statuses: list[int] = []
        self.stopping = threading.Event()
        self.error: OSError | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.statuses.append(get(self.server, self.path, self.source)[0])
            except OSError as error:  # counted as a failure, not raised in the thread
                self.statuses.append(-1)
                self.error = error

    def stop(self) -> list[int]:
        self.stopping.set()
        self.join(TIMEOUT + 30)
        return self.statuses


def test_lookups_go_on_while_two_clients_loop_a_heavy_query(server: LiveServer) -> None:
    heavy = [Loop(server, sparql(HEAVY), f"127.0.0.{n}") for n in (2, 3)]
    lookups = Loop(server, sparql(LOOKUP), "127.0.0.4")
    try:
        for loop in heavy:
            loop.start()
        time.sleep(1.5)  # both heavy queries are running
        lookups.start()
        time.sleep(TIMEOUT)
    finally:
        answered = lookups.stop() if lookups.is_alive() else []
        stopped = [status for loop in heavy for status in loop.stop()]
    assert stopped and set(stopped) <= {503}  # each heavy query ran into the timeout
    assert set(answered) == {200}, lookups.error
    # hundreds on an idle machine; before, about one per heavy query (0.1/s)
    assert len(answered) >= 10


def test_beyond_the_limits_429_and_503_with_retry_after(server: LiveServer) -> None:
    heavy = [Loop(server, sparql(HEAVY), f"127.0.0.{n}") for n in (5, 6)]
    try:
        for loop in heavy:
            loop.start()
        time.sleep(1.5)  # both admitted: every server slot is taken
        status, headers, body = get(server, sparql(HEAVY + " # again"), "127.0.0.5")
        assert status == 429, body
        assert headers.get("Retry-After") == str(TIMEOUT), (status, body)
        assert b"long queries" in body
        status, headers, body = get(server, sparql(HEAVY + " # another"), "127.0.0.7")
        assert status == 503, body
        assert headers.get("Retry-After") == str(TIMEOUT), (status, body)
        assert b"the server already runs 2 long queries" in body
        # a cheap query never needs a slot
        assert get(server, sparql(LOOKUP), "127.0.0.5")[0] == 200
        assert get(server, sparql(LOOKUP), "127.0.0.7")[0] == 200
    finally:
        stopped = [status for loop in heavy for status in loop.stop()]
    assert set(stopped) <= {503}


def test_idle_connections_do_not_hold_the_workers(server: LiveServer) -> None:
    idle = []
    try:
        for _ in range(64):
            idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        idle.append(slow)
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end
        statuses = [get(server, "/health", timeout=5)[0] for _ in range(20)]
        assert statuses == [200] * 20
    finally:
        for connection in idle:
            connection.close()
