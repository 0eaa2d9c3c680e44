"""The query lane: pre-started, sandboxed query processes per web worker, reused query after query.

Forking a child per query (the sound sandbox of :func:`server.services.query.run_in_child`) cost
6-7 ms against 0.3 ms for the lookup itself, and cut the endpoint's throughput 13-fold; and a fork
from a threaded worker (gthread, :mod:`server.runner`) may copy a lock another thread holds (the
store's, the logger's) into a child that then waits for ever. So each worker keeps a few query
processes (:mod:`server.services.pool_child`), forked when the worker starts from a *zygote* of the
snapshot (:mod:`server.services.pool_zygote`: started as a fresh interpreter through
``subprocess``, never a fork of the threaded worker, which loads the snapshot once), each shut in
(no descriptors, memory and processor limits) before it reads a query. A query takes an idle
process of the request's snapshot (or, when all are busy and none comes back within
:data:`SPAWN_AFTER`, starts one), sends it the job, and reads back the answer, already in its final
format. A process that runs past the timeout is killed (which really stops the work); so is one
that dies (memory, a crash), answers more bytes than allowed, or answered a heavy query (its memory
may have grown); each is replaced in the background. When the request's snapshot differs from a
process's (a new publication was swapped in, :mod:`server.services.dataset`), that process is
retired: every answer comes from the snapshot its request was pinned to. A process is reused, so
its store is no throw-away copy any more; it never runs an update all the same: ``Store.query``
parses queries only (an update is a syntax error there), besides
:func:`server.services.sparql_text.check_query` refusing them.

Fairness (:mod:`server.services.admission`): a query answered before it has used
``cheap_seconds`` of processor time is cheap and never waits for anything (time spent waiting
for a busy processor does not count, so a lookup on a loaded machine stays a lookup); a query
that has used that much is *heavy*: it must get a slot (per client and in total, shared by all
workers) or is stopped at once (``429`` / ``503`` with ``Retry-After``). Every thread of its
process goes to ``SCHED_IDLE`` (Linux keeps the policy per thread: nice 10 on the process id
alone left the query's thread at full priority) and to the upper half of the processors
(:func:`server.services.pool_process.heavy_processors`), and a process is started in its place
at once, so lookups wait neither for a processor nor for a query process.

The lane is held by the application (``app.extensions``), not by this module; it notices when
it finds itself in a forked process (gunicorn's workers fork the preloaded master) and starts
afresh there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context, request

from kg.config import Settings
from server.services.admission import Admission, Ticket
from server.services.dataset import current_dataset
from server.services.pool_child import Outcome
from server.services.pool_process import QueryProcess, Zygote

_LANE_KEY = "kg_query_lane"
#: Seconds a new query process may take to load its snapshot.
START_TIMEOUT = 60.0
#: Bytes an answer's frame may have beyond the answer's own cap (pickle's framing).
FRAME_SLACK = 64 * 1024
#: Seconds a query waits for a busy process to come back before it starts another.
SPAWN_AFTER = 0.05
#: Seconds an idle process beyond ``keep`` is kept unused.
IDLE_SECONDS = 30.0
#: Outcomes after which a process is kept: it answered, or refused the query without trying
#: (after any other, memory may be fragmented or the process gone: it is replaced).
_HEALTHY = frozenset({"answer", "syntax", "not-acceptable", "refused"})


@dataclass(frozen=True)
class Target:
    """Where a query goes: the lane, the snapshot the request is pinned to, the client."""

    lane: QueryLane
    snapshot: Path
    client: str | None


class QueryLane:
    """The query processes of one web worker: ``keep`` of them kept between queries."""

    def __init__(self, settings: Settings, admission: Admission) -> None:
        self.keep = settings.query_processes
        self.cheap_seconds = settings.cheap_seconds
        self.max_answer_bytes = settings.max_answer_bytes
        self.admission = admission
        #: Never rebound: the finalizer (:func:`install_lane`) stops what it holds then.
        self._idle: list[QueryProcess] = []
        #: The zygote of each snapshot in use (the latest's; older ones are retired). Never
        #: rebound, as ``_idle``.
        self._zygotes: dict[Path, Zygote] = {}
        self._lock = threading.Lock()
        self._returned = threading.Condition(self._lock)
        #: Processes in use by a query now.
        self._busy = 0
        self._headroom = 0
        self._pid = os.getpid()
        self._latest: Path | None = None

    def run(self, target: Target, job: dict[str, Any], timeout: float, headroom: int) -> Outcome:
        """``job`` answered by a query process of ``target.snapshot`` within ``timeout`` (a new
        process may use ``headroom`` bytes of memory beyond what it loaded)."""
        self._headroom = headroom
        process = self._checkout(target.snapshot, headroom)
        healthy = False
        try:
            failed = process.start(time.monotonic() + max(START_TIMEOUT, timeout))
            if failed is not None:
                return failed
            outcome = self._ask(process, target.client, {**job, "timeout": timeout})
            healthy = outcome[0] in _HEALTHY
            return outcome
        finally:
            self._checkin(process, healthy)

    def _ask(self, process: QueryProcess, client: str | None, job: dict[str, Any]) -> Outcome:
        deadline = time.monotonic() + job["timeout"]
        max_frame = job["max_bytes"] + FRAME_SLACK
        used = process.cpu_before()
        if not process.send(job):
            return process.ended()
        if self._cheap(process, used, deadline):  # no admission needed
            return process.answer(deadline, max_frame)
        self._turned_heavy(process)
        ticket: Ticket = self.admission.admit(client, job["timeout"])  # raises 429 / 503
        with ticket:
            return process.answer(deadline, max_frame)

    def _turned_heavy(self, process: QueryProcess) -> None:
        """Cheap queries first from now on; ``process`` will not be reused, so one is started
        in its place now (in the background) if fewer than ``keep`` are idle."""
        process.yield_processor()
        with self._lock:
            short = process.snapshot == self._latest and len(self._idle) < self.keep
        if short:
            threading.Thread(target=self._replace, args=(process.snapshot,), daemon=True).start()

    def _cheap(self, process: QueryProcess, used: float, deadline: float) -> bool:
        """True when the answer is there before the query has had ``cheap_seconds`` of
        processor time (time spent waiting for a busy processor does not count: a lookup on a
        loaded machine is still a lookup), or the deadline is reached."""
        while process.waiting(self.cheap_seconds):
            if not process.cpu_seconds() - used < self.cheap_seconds:  # NaN too: heavy
                return False
            if time.monotonic() >= deadline:
                return True
        return True

    def _checkout(self, snapshot: Path, headroom: int) -> QueryProcess:
        """An idle process of ``snapshot``; with none, and ``keep`` processes or more busy,
        one that comes back within :data:`SPAWN_AFTER` (a cheap query returns its own in a
        millisecond or two), else a new one (heavy queries hold the others)."""
        with self._lock:
            self._adopt()
            self._latest = snapshot
            retired = [p for p in self._idle if p.snapshot != snapshot]
            self._idle[:] = [p for p in self._idle if p.snapshot == snapshot]
            if not self._idle and self._busy >= self.keep:
                self._returned.wait_for(lambda: bool(self._idle), SPAWN_AFTER)
            process = self._idle.pop() if self._idle else None
            self._busy += 1
            zygote, old_zygotes = self._zygote(snapshot)
        _retire(retired, old_zygotes)
        if process is not None and process.snapshot == snapshot:
            return process
        if process is not None:  # taken up while another snapshot's came back
            process.stop()
        return QueryProcess(zygote, headroom)

    def _zygote(self, snapshot: Path) -> tuple[Zygote, list[Zygote]]:
        """The zygote of ``snapshot`` (started when there is none, or it ended), and the
        zygotes to retire now: every other snapshot's (under the lock)."""
        zygote = self._zygotes.pop(snapshot, None)
        others = list(self._zygotes.values())
        if zygote is not None and zygote.ended():
            others.append(zygote)
            zygote = None
        if zygote is None:
            zygote = Zygote(snapshot)
        self._zygotes.clear()
        self._zygotes[snapshot] = zygote
        return zygote, others

    def _adopt(self) -> None:
        """In a forked copy (a gunicorn worker), forget the parent's processes and zygotes
        (under the lock)."""
        if self._pid != os.getpid():
            for inherited in self._idle:
                inherited.socket.close()
            for zygote in self._zygotes.values():
                zygote.forget()
            self._idle.clear()
            self._zygotes.clear()
            self._pid, self._busy = os.getpid(), 0

    def prestart(self, snapshot: Path, headroom: int) -> None:
        """Start ``keep`` processes of ``snapshot`` in the background (a worker does at its
        start: else its first queries each wait for one to start, 0.45 s)."""
        with self._lock:
            self._adopt()
            self._latest, self._headroom = snapshot, headroom
            missing = self.keep - len(self._idle)
        for _ in range(missing):
            threading.Thread(target=self._replace, args=(snapshot,), daemon=True).start()

    def _checkin(self, process: QueryProcess, healthy: bool) -> None:
        """Keep ``process`` for the next query, or stop it after a failure or a heavy query
        (its memory may have grown). Processes beyond ``keep`` (started while the others
        were busy) are kept while they are used, and stopped after :data:`IDLE_SECONDS`
        unused (looked at when a query ends), so a steady load does not start and stop
        processes. A process stopped while
        fewer than ``keep`` remain is replaced at once, in the background, so that the next
        query does not wait for one to start."""
        with self._lock:
            self._busy -= 1
            latest = process.snapshot == self._latest
            keep = healthy and not process.heavy and latest
            if keep:
                process.idle_since = time.monotonic()
                self._idle.append(process)
                self._returned.notify()
            stale = self._stale()
            replace = not keep and latest and self._busy + len(self._idle) < self.keep
        for old in stale if keep else [*stale, process]:
            old.stop()
        if replace:
            threading.Thread(target=self._replace, args=(process.snapshot,), daemon=True).start()

    def _stale(self) -> list[QueryProcess]:
        """Idle processes beyond ``keep`` unused for :data:`IDLE_SECONDS`, taken out (the
        least recently used come first: queries take the most recent)."""
        stale = []
        now = time.monotonic()
        while len(self._idle) > self.keep and now - self._idle[0].idle_since > IDLE_SECONDS:
            stale.append(self._idle.pop(0))
        return stale

    def _replace(self, snapshot: Path) -> None:
        with self._lock:
            if snapshot != self._latest:
                return
            zygote, old_zygotes = self._zygote(snapshot)
        _retire([], old_zygotes)
        process = QueryProcess(zygote, self._headroom)
        ready = process.start(time.monotonic() + START_TIMEOUT) is None
        with self._lock:
            keep = ready and snapshot == self._latest and len(self._idle) < self.keep
            if keep:
                process.idle_since = time.monotonic()
                self._idle.append(process)
                self._returned.notify()
        if not keep:
            process.stop()

    def pids(self) -> list[int]:
        """The idle processes (for tests and the bench)."""
        with self._lock:
            return [process.pid for process in self._idle]

    def close(self) -> None:
        """Stop the idle processes and retire the zygotes (a process in use is stopped when
        its query is done, and its zygote then)."""
        with self._lock:
            self._latest = None  # a process started meanwhile is not kept
            _stop_all(self._idle, self._zygotes)


def _stop_all(processes: list[QueryProcess], zygotes: dict[Path, Zygote]) -> None:
    idle, retired = list(processes), list(zygotes.values())
    processes.clear()
    zygotes.clear()
    _retire(idle, retired)


def _retire(processes: list[QueryProcess], zygotes: list[Zygote]) -> None:
    """Stop ``processes``, then retire ``zygotes`` (each ends once its processes are reaped)."""
    for process in processes:
        process.stop()
    for zygote in zygotes:
        zygote.retire()


def install_lane(app: Flask, settings: Settings) -> QueryLane:
    """A lane for the application, with the admission slots its workers share (a folder in
    ``/dev/shm`` when there is one, removed when the process that made it exits)."""
    shared = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="kg-admission-", dir=shared))
    admission = Admission(folder, settings.heavy_per_client, settings.heavy_total)
    lane = QueryLane(settings, admission)
    weakref.finalize(lane, shutil.rmtree, folder, ignore_errors=True)
    weakref.finalize(lane, _stop_all, lane._idle, lane._zygotes)
    app.extensions[_LANE_KEY] = lane
    return lane


def prestart_lane(app: Flask, snapshot: Path, headroom: int) -> None:
    """Start the app's query processes of ``snapshot`` now (see :meth:`QueryLane.prestart`)."""
    lane: QueryLane | None = app.extensions.get(_LANE_KEY)
    if lane is not None:
        lane.prestart(snapshot, headroom)


def lane_target(store: object) -> Target | None:
    """Where a query on ``store`` goes: the app's lane when ``store`` is the store of the
    request's snapshot; None outside a request or for another store (then a forked child)."""
    if not has_app_context():
        return None
    lane: QueryLane | None = current_app.extensions.get(_LANE_KEY)
    dataset = current_dataset()
    if lane is None or dataset.store is not store:
        return None
    client = request.remote_addr if has_request_context() else None
    return Target(lane, dataset.path, client)
