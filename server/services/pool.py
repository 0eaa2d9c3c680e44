"""The query lane: pre-started, sandboxed query processes per web worker, reused query after query.

Forking a child per query (the sound sandbox of :func:`server.services.query.run_in_child`) cost
6-7 ms against 0.3 ms for the lookup itself, and cut the endpoint's throughput 13-fold; and a
fork from a threaded worker (gthread, :mod:`server.runner`) may copy a lock another thread holds
(the store's, the logger's) into a child that then waits for ever. So each worker keeps a few
query processes (:mod:`server.services.pool_child`), *started* (a fresh interpreter through
``subprocess``, never a fork of the threaded worker) lazily at its first query, each loaded
with one snapshot by path and shut in (no descriptors, memory and processor limits) before it
reads a query. A query takes an idle process of the request's snapshot (or, when all are busy
and none comes back within :data:`SPAWN_AFTER`, starts one), sends it the job, and reads back
the answer, already in its final format. A process that runs past the timeout is killed (which
really stops the work); so is one that dies (memory, a crash), answers more bytes than allowed,
or answered a heavy query (its memory may have grown); each is replaced in the background.
When the request's snapshot differs from a process's (a new publication was swapped in,
:mod:`server.services.dataset`), that process is retired: every answer comes from the snapshot
its request was pinned to. A process is reused, so its store is no throw-away copy any more;
it never runs an update all the same: ``Store.query`` parses queries only (an update is a
syntax error there), besides :func:`server.services.sparql_text.check_query` refusing them.

Fairness (:mod:`server.services.admission`): a query answered before it has used
``cheap_seconds`` of processor time is cheap and never waits for anything (time spent waiting
for a busy processor does not count, so a lookup on a loaded machine stays a lookup); a query
that has used that much is *heavy*: it must get a slot (per client and in total, shared by all
workers) or is stopped at once (``429`` / ``503`` with ``Retry-After``), and its process is
given a lower processor priority so that cheap queries beside it keep theirs.

The lane is held by the application (``app.extensions``), not by this module; it notices when
it finds itself in a forked process (gunicorn's workers fork the preloaded master) and starts
afresh there.
"""

from __future__ import annotations

import math
import os
import pickle
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context, request

from kg.config import Settings
from kg.manifest import GRAPH_NT, ONTOLOGY
from server.services.admission import Admission, Ticket
from server.services.dataset import DATA_GRAPH, ONTOLOGY_GRAPH, current_dataset
from server.services.pool_child import BOOT, HEADER, READY, Outcome

_LANE_KEY = "kg_query_lane"
#: Seconds a new query process may take to load its snapshot.
START_TIMEOUT = 60.0
#: Bytes an answer's frame may have beyond the answer's own cap (pickle's framing).
FRAME_SLACK = 64 * 1024
#: Seconds a query waits for a busy process to come back before it starts another.
SPAWN_AFTER = 0.05
#: Seconds an idle process beyond ``keep`` is kept unused.
IDLE_SECONDS = 30.0
#: The processor priority (nice value) of a query process while it answers a heavy query.
HEAVY_NICENESS = 10
#: Outcomes after which a process is kept: it answered, or refused the query without trying
#: (after any other, memory may be fragmented or the process gone: it is replaced).
_HEALTHY = frozenset({"answer", "syntax", "not-acceptable", "refused"})
_TICKS = os.sysconf("SC_CLK_TCK")
_SERVER_FOLDER = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Target:
    """Where a query goes: the lane, the snapshot the request is pinned to, the client."""

    lane: QueryLane
    snapshot: Path
    client: str | None


class QueryProcess:
    """One started query process and the worker's end of its socket."""

    def __init__(self, snapshot: Path, headroom: int) -> None:
        self.snapshot = snapshot
        ontology = snapshot / ONTOLOGY.name
        ours, theirs = socket.socketpair()
        command = [
            sys.executable,
            "-I",
            "-c",
            BOOT,
            _SERVER_FOLDER,
            str(snapshot / GRAPH_NT.name),
            str(ontology) if ontology.is_file() else "",
            DATA_GRAPH,
            ONTOLOGY_GRAPH,
            str(headroom),
        ]
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(
                command, stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        finally:
            theirs.close()
        self.socket = ours
        self.pid = self.process.pid
        self.ready = False
        self.reniced = False
        #: When it last came back from a query (monotonic seconds).
        self.idle_since = 0.0

    def start(self, deadline: float) -> Outcome | None:
        """Wait for the process to be loaded; None when it is, else how it ended."""
        if self.ready:
            return None
        frame = self._frame(deadline, len(READY))
        if isinstance(frame, tuple):
            return frame
        self.ready = frame == READY
        return None if self.ready else self.ended()

    def send(self, job: dict[str, Any]) -> bool:
        """Send ``job``; False when the process is gone."""
        payload = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.socket.sendall(HEADER.pack(len(payload)) + payload)
        except OSError:
            return False
        return True

    def answer(self, deadline: float, max_frame: int) -> Outcome:
        frame = self._frame(deadline, max_frame)
        if isinstance(frame, tuple):
            return frame
        outcome: Outcome = pickle.loads(frame)
        return outcome

    def waiting(self, seconds: float) -> bool:
        """True when nothing came back within ``seconds``."""
        readable, _, _ = select.select([self.socket], [], [], max(0.0, seconds))
        return not readable

    def _frame(self, deadline: float, max_frame: int) -> bytes | Outcome:
        header = self._read(HEADER.size, deadline)
        if isinstance(header, tuple):
            return header
        (size,) = HEADER.unpack(header)
        if size > max_frame:
            self.stop()
            return ("too-large", f"the answer has more than {max_frame} bytes")
        return self._read(size, deadline)

    def _read(self, size: int, deadline: float) -> bytes | Outcome:
        chunks: list[bytes] = []
        missing = size
        while missing:
            if self.waiting(deadline - time.monotonic()):
                self.stop()
                return ("timeout",)
            try:
                chunk = self.socket.recv(min(missing, 1 << 20))
            except OSError:  # reset: the process is gone
                chunk = b""
            if not chunk:
                return self.ended()
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def ended(self) -> Outcome:
        """How the process ended (it closed its end of the socket)."""
        code = self.stop(kill=False)
        return ("signal", -code) if code < 0 else ("exit", code)

    def cpu_seconds(self) -> float:
        """Processor time the process has used (``/proc``; elsewhere: infinite, so that
        every query that is not answered at once counts as heavy)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return math.inf
        return (int(fields[11]) + int(fields[12])) / _TICKS

    def renice(self, niceness: int) -> bool:
        """Set the process's priority; False when not allowed (raising it back needs root)."""
        try:
            os.setpriority(os.PRIO_PROCESS, self.pid, niceness)
        except OSError:
            return False
        self.reniced = niceness != 0
        return True

    def stop(self, kill: bool = True) -> int:
        """End the process (at once, unless it is ending by itself); its exit code (minus
        the signal that ended it)."""
        self.socket.close()
        if kill and self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


class QueryLane:
    """The query processes of one web worker: ``keep`` of them kept between queries."""

    def __init__(self, settings: Settings, admission: Admission) -> None:
        self.keep = settings.query_processes
        self.cheap_seconds = settings.cheap_seconds
        self.max_answer_bytes = settings.max_answer_bytes
        self.admission = admission
        #: Never rebound: the finalizer (:func:`install_lane`) stops what it holds then.
        self._idle: list[QueryProcess] = []
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
        used = process.cpu_seconds()
        if not process.send(job):
            return process.ended()
        if self._cheap(process, used, deadline):  # no admission needed
            return process.answer(deadline, max_frame)
        ticket: Ticket = self.admission.admit(client, job["timeout"])  # raises 429 / 503
        with ticket:
            process.renice(HEAVY_NICENESS)
            return process.answer(deadline, max_frame)

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
            if self._pid != os.getpid():  # a forked copy: those processes are not ours
                for inherited in self._idle:
                    inherited.socket.close()
                self._idle.clear()
                self._pid, self._busy = os.getpid(), 0
            self._latest = snapshot
            retired = [p for p in self._idle if p.snapshot != snapshot]
            self._idle[:] = [p for p in self._idle if p.snapshot == snapshot]
            if not self._idle and self._busy >= self.keep:
                self._returned.wait_for(lambda: bool(self._idle), SPAWN_AFTER)
            process = self._idle.pop() if self._idle else None
            self._busy += 1
        for old in retired:
            old.stop()
        if process is not None and process.snapshot == snapshot:
            return process
        if process is not None:  # taken up while another snapshot's came back
            process.stop()
        return QueryProcess(snapshot, headroom)

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
            keep = healthy and not process.reniced and latest
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
        process = QueryProcess(snapshot, self._headroom)
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
        """Stop the idle processes (a process in use is stopped when its query is done)."""
        with self._lock:
            _stop_all(self._idle)


def _stop_all(processes: list[QueryProcess]) -> None:
    idle = list(processes)
    processes.clear()
    for process in idle:
        process.stop()


def install_lane(app: Flask, settings: Settings) -> QueryLane:
    """A lane for the application, with the admission slots its workers share (a folder in
    ``/dev/shm`` when there is one, removed when the process that made it exits)."""
    shared = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="kg-admission-", dir=shared))
    admission = Admission(folder, settings.heavy_per_client, settings.heavy_total)
    lane = QueryLane(settings, admission)
    weakref.finalize(lane, shutil.rmtree, folder, ignore_errors=True)
    weakref.finalize(lane, _stop_all, lane._idle)
    app.extensions[_LANE_KEY] = lane
    return lane


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
