"""Connections spread over the workers (:mod:`server.balance`).

On a live ``kg serve`` with two workers, which worker holds a connection is read from ``/proc``
(:func:`tests.helpers.connections_held`), not from the answers. A worker stopped with
``SIGSTOP`` stands for one busy when connections come: gunicorn's shared listening socket
then gave them all to the other.
"""

from __future__ import annotations

import http.client
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from server import balance
from server.balance import SLACK, STALE_SECONDS, Board
from tests.conftest import LiveServer
from tests.helpers import connections_held, lane_processes, process_children

#: Connections a client opens at once (wrk's default in the bench).
CONNECTIONS = 8


@pytest.fixture(scope="module")
def server(sample_dist: Path) -> Iterator[LiveServer]:
    live = LiveServer(sample_dist, "--workers", "2")
    yield live
    live.stop()


def ready_workers(live: LiveServer) -> list[int]:
    """The server's two workers, once both have started their query processes (which they do
    just before they first wait for connections)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = process_children(live.process.pid)
        if len(workers) == 2 and all(lane_processes(worker) for worker in workers):
            time.sleep(0.5)  # into the loop
            return workers
        time.sleep(0.1)
    raise AssertionError(f"the workers did not start: {live.log.read_text()}")


def ask(live: LiveServer, count: int) -> list[http.client.HTTPConnection]:
    """``count`` keep-alive connections, each with a request sent and its answer not read."""
    opened = []
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=15)
        connection.request("GET", "/health")
        opened.append(connection)
    return opened


def answers(opened: list[http.client.HTTPConnection]) -> list[int]:
    statuses = []
    for connection in opened:
        response = connection.getresponse()
        response.read()
        statuses.append(response.status)
    return statuses


def held(live: LiveServer, workers: list[int]) -> list[int]:
    return [connections_held(worker, live.port) for worker in workers]


def settled(live: LiveServer, workers: list[int]) -> list[int]:
    """Connections per worker once all :data:`CONNECTIONS` are taken (read before the answers
    are: an answered connection is closed after the keep-alive time, 2 s)."""
    deadline = time.monotonic() + 10
    while sum(counts := held(live, workers)) < CONNECTIONS and time.monotonic() < deadline:
        time.sleep(0.02)
    return counts


def close(live: LiveServer, workers: list[int], opened: list[http.client.HTTPConnection]) -> None:
    for connection in opened:
        connection.close()
    deadline = time.monotonic() + 10
    while sum(held(live, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert held(live, workers) == [0, 0]


def assert_spread(counts: list[int]) -> None:
    assert sum(counts) == CONNECTIONS, counts
    assert max(counts) - min(counts) <= SLACK + 1, counts


def test_connections_opened_one_after_another_are_spread(server: LiveServer) -> None:
    workers = ready_workers(server)
    for _ in range(3):
        opened = ask(server, CONNECTIONS)
        assert_spread(settled(server, workers))
        assert answers(opened) == [200] * CONNECTIONS
        close(server, workers, opened)


def test_a_worker_busy_when_connections_come_still_gets_its_share(server: LiveServer) -> None:
    workers = ready_workers(server)
    os.kill(workers[1], signal.SIGSTOP)
    try:
        opened = ask(server, CONNECTIONS)
        time.sleep(0.5)
        taken = held(server, workers)
    finally:
        os.kill(workers[1], signal.SIGCONT)
    assert taken == [SLACK + 1, 0]  # the other took its share, then left the rest waiting
    assert_spread(settled(server, workers))
    assert answers(opened) == [200] * CONNECTIONS
    close(server, workers, opened)


def test_a_stuck_worker_holds_no_connection_up(server: LiveServer) -> None:
    """A worker that has said nothing for ``STALE_SECONDS`` no longer counts: every connection
    is answered by the other, within that time and a margin."""
    workers = ready_workers(server)
    os.kill(workers[1], signal.SIGSTOP)
    try:
        started = time.monotonic()
        opened = ask(server, CONNECTIONS)
        statuses = answers(opened)
        waited = time.monotonic() - started
        taken = held(server, workers)[1]
    finally:
        os.kill(workers[1], signal.SIGCONT)
    assert statuses == [200] * CONNECTIONS  # all by the other
    assert taken == 0
    assert waited < STALE_SECONDS + 5
    close(server, workers, opened)


def test_a_worker_that_replaces_a_killed_one_takes_its_seat(server: LiveServer) -> None:
    """The master clears a gone worker's seat and gives it to the next (``child_exit``,
    ``pre_fork``); the spread holds with the new worker."""
    killed = ready_workers(server)[1]
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while killed in process_children(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = ready_workers(server)
    assert killed not in workers
    opened = ask(server, CONNECTIONS)
    assert_spread(settled(server, workers))
    assert answers(opened) == [200] * CONNECTIONS
    close(server, workers, opened)


def test_the_workers_of_a_reload_take_free_seats(server: LiveServer) -> None:
    """``HUP``: gunicorn starts new workers while the old ones finish; they take the seats the
    old ones do not hold, which are cleared as those exit, and the spread holds."""
    old = ready_workers(server)
    os.kill(server.process.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while set(old) & set(process_children(server.process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = ready_workers(server)
    assert not set(old) & set(workers)
    opened = ask(server, CONNECTIONS)
    assert_spread(settled(server, workers))
    assert answers(opened) == [200] * CONNECTIONS
    close(server, workers, opened)


def test_the_board_counts_live_accepting_workers_only(monkeypatch: pytest.MonkeyPatch) -> None:
    board = Board(3)
    assert board.my_turn(100)  # nobody has spoken: take it
    board.write(0, 5, accepting=True)
    board.write(1, 2, accepting=True)
    assert board.fewest() == 2
    assert board.my_turn(2 + SLACK)
    assert not board.my_turn(3 + SLACK)
    board.write(1, 2, accepting=False)  # shutting down
    assert board.fewest() == 5
    board.clear(0)
    assert board.my_turn(100)
    board.write(2, 1, accepting=True)
    later = time.monotonic() + STALE_SECONDS
    monkeypatch.setattr(balance, "time", SimpleNamespace(monotonic=lambda: later))
    assert board.my_turn(100)  # seat 2 has not spoken for too long


def test_a_forked_worker_writes_where_the_master_reads() -> None:
    board = Board(2)
    child = os.fork()
    if child == 0:  # the worker
        board.write(1, 7, accepting=True)
        os._exit(0)
    os.waitpid(child, 0)
    assert board.fewest() == 7


def test_seats_are_handed_out_once_and_cleared_when_a_worker_exits() -> None:
    seating = balance.Seating(2)
    master = SimpleNamespace(WORKERS={})
    for pid in (11, 12, 13):
        worker = SimpleNamespace()
        seating.pre_fork(master, worker)
        master.WORKERS[pid] = worker
    assert [worker.seat for worker in master.WORKERS.values()] == [0, 1, 2]
    gone = master.WORKERS.pop(12)
    seating.board.write(gone.seat, 3, accepting=True)
    seating.child_exit(master, gone)
    assert seating.board.fewest() == float("inf")
    newcomer = SimpleNamespace()
    seating.pre_fork(master, newcomer)
    assert newcomer.seat == 1
    crowd = [SimpleNamespace() for _ in range(seating.board.seats)]
    for pid, worker in enumerate(crowd, start=20):
        seating.pre_fork(master, worker)
        master.WORKERS[pid] = worker
    assert [worker.seat for worker in crowd][-1] is None  # more workers than seats
