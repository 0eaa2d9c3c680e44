"""One started query process of the query lane (:mod:`server.services.pool`), seen from the
web worker: started as a fresh interpreter (:mod:`server.services.pool_child`, never a fork of
the threaded worker), a job sent and its answer read back within a deadline and a byte cap,
its processor time read from ``/proc`` (before a query: as the process said with its last
answer, so a lookup reads no file), its priority lowered when its query turns heavy, and
killed when it overruns. A lookup costs the worker one ``sendall``, one ``select`` and one
``recv``.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kg.manifest import GRAPH_NT, ONTOLOGY
from server.services.dataset import DATA_GRAPH, ONTOLOGY_GRAPH
from server.services.pool_child import BOOT, FIRST_READ, HEADER, READY, Outcome

#: The nice value of a query process's threads while it answers a heavy query, where the
#: kernel refuses ``SCHED_IDLE``.
HEAVY_NICENESS = 19
_TICKS = os.sysconf("SC_CLK_TCK")
_SERVER_FOLDER = str(Path(__file__).resolve().parents[1])


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
        #: Whether it ran a heavy query (then it is not reused).
        self.heavy = False
        #: When it last came back from a query (monotonic seconds).
        self.idle_since = 0.0
        #: Processor time it had used when it sent its last answer (it sends that along; in
        #: ``/proc``'s units); None before the first.
        self.cpu_at_rest: float | None = None

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
        outcome: Outcome
        outcome, self.cpu_at_rest = pickle.loads(frame)
        return outcome

    def cpu_before(self) -> float:
        """Processor time used before the next query: what the process said with its last
        answer (it has been idle since), else read from ``/proc``."""
        return self.cpu_seconds() if self.cpu_at_rest is None else self.cpu_at_rest

    def waiting(self, seconds: float) -> bool:
        """True when nothing came back within ``seconds``."""
        readable, _, _ = select.select([self.socket], [], [], max(0.0, seconds))
        return not readable

    def _frame(self, deadline: float, max_frame: int) -> bytes | Outcome:
        """The next frame's payload. The process writes one frame per job, so the first read
        may ask for :data:`FIRST_READ` bytes: a lookup's answer comes in one system call."""
        received = self._read(HEADER.size, deadline, FIRST_READ)
        if isinstance(received, tuple):
            return received
        (size,) = HEADER.unpack_from(received)
        if size > max_frame:
            self.stop()
            return ("too-large", f"the answer has more than {max_frame} bytes")
        body = received[HEADER.size :]
        if len(body) >= size:
            return body[:size]
        rest = self._read(size - len(body), deadline)
        return rest if isinstance(rest, tuple) else body + rest

    def _read(self, size: int, deadline: float, first: int = 0) -> bytes | Outcome:
        """At least ``size`` bytes (the first read asks for up to ``first``), read at once
        when they are there (no ``select`` first), else waited for until ``deadline``."""
        chunks: list[bytes] = []
        missing, ask = size, max(size, first)
        while missing > 0:
            try:
                chunk = self.socket.recv(min(ask, 1 << 20), socket.MSG_DONTWAIT)
            except BlockingIOError:
                if self.waiting(deadline - time.monotonic()):
                    self.stop()
                    return ("timeout",)
                continue
            except OSError:  # reset: the process is gone
                chunk = b""
            if not chunk:
                return self.ended()
            chunks.append(chunk)
            missing -= len(chunk)
            ask = missing
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

    def yield_processor(self) -> None:
        """Let every thread of the process run only on a processor nothing else wants
        (``SCHED_IDLE``; where that is refused, nice :data:`HEAVY_NICENESS`). Linux keeps the
        policy and the nice value per *thread*: setting them for the process's id alone left
        the query's own thread (:func:`server.services.pool_child.on_own_stack`) at full
        priority. Lowering them is always allowed; raising them back is not (without
        ``CAP_SYS_NICE``), so the process is not reused after a heavy query."""
        self.heavy = True
        try:
            threads = [int(name) for name in os.listdir(f"/proc/{self.pid}/task")]
        except OSError:  # gone, or no /proc
            threads = [self.pid]
        for thread in threads:
            _lower_priority(thread)

    def stop(self, kill: bool = True) -> int:
        """End the process (at once, unless it is ending by itself); its exit code (minus
        the signal that ended it)."""
        self.socket.close()
        if kill and self.process.poll() is None:
            self.process.kill()
        return self.process.wait()


def _lower_priority(thread: int) -> None:
    """``thread`` scheduled only when a processor is otherwise idle, or at the lowest nice."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or refused: nice
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):  # the thread has ended
        os.setpriority(os.PRIO_PROCESS, thread, HEAVY_NICENESS)
