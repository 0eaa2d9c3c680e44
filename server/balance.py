"""Connections spread evenly over gunicorn's workers.

Every worker waits on the one listening socket, and whichever wakes first takes the
connection. A client that opens a few keep-alive connections at once (wrk's 8, a browser's
6, nginx's upstream connections) often found them all on one worker while the other idled:
a worker runs its Python on one processor, and the lookup at 8 connections measured 640 req/s
with them 0 / 8, 1,143 with 1 / 7 and 1,276–1,408 with anything from 2 / 6 to 6 / 2 (two
workers, two processors, 28 Nov 2026). A worker busy for a moment when the connections come
(its poller late to wake) sends them all to the other (``tests/test_balance.py`` stops one with
``SIGSTOP`` to show it).

So the workers share a small :class:`Board` (anonymous shared memory made by gunicorn's master
before it forks them): each worker writes on its *seat* how many connections it holds, and
stops accepting while it holds more than :data:`SLACK` above the fewest any live worker
holds, as nginx's ``least_conn`` would choose. The worker with the fewest always accepts, so
some worker always does. A worker that has not written for :data:`STALE_SECONDS` (stopped,
stuck, gone) or is shutting down no longer counts: its connections wait on no one. A worker
that yielded looks again every :data:`YIELD_SECONDS`, as the others' counts change without
telling it. Not a listening socket per worker (``SO_REUSEPORT``): the kernel hashes each
connection to a socket without looking at the load, so 8 connections would still fall 1 / 7
or worse on two workers about one time in 14.
"""

from __future__ import annotations

import math
import mmap
import time
from collections.abc import Iterable

from gunicorn.workers.gthread import ThreadWorker

#: Connections a worker may hold above the fewest another live worker holds, and still accept.
SLACK = 1
#: Seconds after its last word that a worker no longer counts. Its poller writes at least every
#: :data:`BEAT_SECONDS`; a worker stuck longer than this holds new connections up no longer.
STALE_SECONDS = 2.0
#: Seconds a worker's poller waits at most between two words on the board.
BEAT_SECONDS = 0.25
#: Seconds a worker that yielded waits at most before it looks at the board again.
YIELD_SECONDS = 0.02
#: Numbers per seat: connections, and the time of the last word (0: not accepting).
_FIELDS = 2


class Board:
    """Seats in memory shared by gunicorn's master and its workers, made before they are forked:
    per seat the connections its worker holds and the (monotonic, system-wide) time of its
    worker's last word. The master hands seats out and clears them (:meth:`claim`,
    :meth:`clear`); each worker writes only its own."""

    def __init__(self, seats: int) -> None:
        self._memory = mmap.mmap(-1, seats * _FIELDS * 8)  # MAP_SHARED: forks see each other
        self._cells = memoryview(self._memory).cast("d")
        self.seats = seats

    def claim(self, taken: Iterable[int | None]) -> int | None:
        """A seat no live worker holds (``taken``), cleared; none if every one is."""
        used = set(taken)
        for seat in range(self.seats):
            if seat not in used:
                self.clear(seat)
                return seat
        return None

    def clear(self, seat: int) -> None:
        """The seat of a worker that is gone: no connections, no word."""
        self.write(seat, 0, accepting=False)

    def write(self, seat: int, connections: int, accepting: bool) -> None:
        """A worker's word: the connections it holds, and whether it takes new ones at all."""
        self._cells[seat * _FIELDS] = float(connections)
        self._cells[seat * _FIELDS + 1] = time.monotonic() if accepting else 0.0

    def fewest(self) -> float:
        """The fewest connections a live worker holds (infinity if none is live)."""
        now = time.monotonic()
        cells = self._cells
        live = (
            cells[seat * _FIELDS]
            for seat in range(self.seats)
            if now - cells[seat * _FIELDS + 1] < STALE_SECONDS
        )
        return min(live, default=math.inf)

    def my_turn(self, connections: int) -> bool:
        """Whether a worker holding ``connections`` should take another now."""
        return connections <= self.fewest() + SLACK


class Seating:
    """gunicorn's master hooks that hand out seats: ``pre_fork`` gives the worker about to be
    forked a free seat (``worker.seat``; none, and so no balancing, when more workers run than
    there are seats, e.g. after ``TTIN``), ``child_exit`` clears a gone worker's seat. Old and
    new workers overlap during a reload (``HUP``), so there are twice as many seats as
    workers."""

    def __init__(self, workers: int) -> None:
        self.board = Board(2 * workers + 2)

    def pre_fork(self, server: object, worker: object) -> None:
        workers = getattr(server, "WORKERS", {}).values()
        seat = self.board.claim(getattr(other, "seat", None) for other in workers)
        worker.seat = seat  # type: ignore[attr-defined]
        worker.board = self.board  # type: ignore[attr-defined]

    def child_exit(self, server: object, worker: object) -> None:
        seat = getattr(worker, "seat", None)
        if seat is not None:
            self.board.clear(seat)


class BalancedWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, accepting only while it holds no more connections than its
    share. gunicorn's loop asks :meth:`set_accept_enabled` again at every turn; a subclass's
    ``accept`` calls :meth:`took_one` after each connection it takes."""

    #: The workers' board and this worker's seat, given by the master before the fork
    #: (:class:`Seating`); none with one worker.
    board: Board | None = None
    seat: int | None = None

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self._my_turn())

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """This worker's connections written on the board, then the wait: at most
        :data:`BEAT_SECONDS`, or :data:`YIELD_SECONDS` while it leaves new connections to the
        others."""
        if self.board is not None and self.seat is not None:
            self.board.write(self.seat, self.nr_conns, accepting=self.alive)
            yielding = self.alive and not self._accepting
            timeout = min(timeout, YIELD_SECONDS if yielding else BEAT_SECONDS)
        super().wait_for_and_dispatch_events(timeout)

    def took_one(self) -> None:
        """After a connection is accepted: the board told at once, and no more taken if this
        worker now holds more than its share."""
        if self.board is not None and self.seat is not None:
            self.board.write(self.seat, self.nr_conns, accepting=True)
            if not self._my_turn():
                super().set_accept_enabled(False)

    def _my_turn(self) -> bool:
        return self.board is None or self.seat is None or self.board.my_turn(self.nr_conns)
