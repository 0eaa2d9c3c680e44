"""The query lane's processes seen from the web worker (:mod:`server.services.pool`).

A :class:`Zygote` is started per snapshot as a fresh interpreter
(:mod:`server.services.pool_zygote`, never a fork of the threaded worker), loads the snapshot
once and forks a :class:`QueryProcess` (:mod:`server.services.pool_child`) per request, in
about 4 ms, sharing the loaded store. A query process gets a job and its answer is read back
within a deadline and a byte cap, its processor time read from ``/proc`` (before a query: as
the process said with its last answer, so a lookup reads no file), its priority lowered when
its query turns heavy, and it is killed when it overruns. A lookup costs the worker one
``sendall``, one ``select`` and one ``recv``.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kg.manifest import GRAPH_NT, ONTOLOGY
from server.services.dataset import DATA_GRAPH, ONTOLOGY_GRAPH
from server.services.pool_child import FIRST_READ, HEADER, READY, Outcome
from server.services.pool_zygote import BOOT, FORK, REAP, REPLY, REQUEST, UNKNOWN

#: The nice value of a query process's threads while it answers a heavy query, where the
#: kernel refuses ``SCHED_IDLE``.
HEAVY_NICENESS = 19
_TICKS = os.sysconf("SC_CLK_TCK")
#: Seconds the zygote may take to reap a process, and to end.
REAP_SECONDS = 10.0
_SERVER_FOLDER = str(Path(__file__).resolve().parents[1])


class QueryProcess:
    """One query process of ``zygote`` and the worker's end of its socket; forked by
    :meth:`start`."""

    def __init__(self, zygote: Zygote, headroom: int) -> None:
        self.zygote = zygote
        self.snapshot = zygote.snapshot
        self.headroom = headroom
        self.socket, self._theirs = socket.socketpair()
        #: The process's id once forked (0 before): the zygote keeps it (does not reap the
        #: process) until :meth:`stop` asks it to, so it names this process until then.
        self.pid = 0
        #: A descriptor of the process (``pidfd_open``): signals reach it, never a process that
        #: took its id after it was reaped; -1 before the fork or where there is none.
        self._pidfd = -1
        #: Whether it was stopped (and reaped), and its exit code (see :meth:`stop`).
        self._stopped = False
        self._code: int | None = None
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
        if not self.pid:
            forked = self.zygote.fork(self._theirs, self.headroom, deadline)
            self._theirs.close()
            if isinstance(forked, tuple):
                return forked
            self.pid = forked
            self._pidfd = _pidfd(forked)
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
        if code is None:
            return ("unavailable", "the query process ended, and how is not known")
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
        (``SCHED_IDLE``; where that is refused, nice :data:`HEAVY_NICENESS`), and only on
        :func:`heavy_processors`. Linux keeps the policy, the nice value and the processors
        per *thread*: setting them for the process's id alone left the query's own thread
        (:func:`server.services.pool_child.on_own_stack`) at full priority. Lowering them is
        always allowed; raising them back is not (without ``CAP_SYS_NICE``), so the process
        is not reused after a heavy query."""
        self.heavy = True
        try:
            threads = [int(name) for name in os.listdir(f"/proc/{self.pid}/task")]
        except OSError:  # gone, or no /proc
            threads = [self.pid]
        processors = heavy_processors()
        for thread in threads:
            _lower_priority(thread, processors)

    def stop(self, kill: bool = True) -> int | None:
        """End the process (at once, unless it is ending by itself); its exit code (minus
        the signal that ended it), None when that is not known (its zygote is gone)."""
        self.socket.close()
        self._theirs.close()
        if self._stopped or not self.pid:  # stopped before, or never forked
            return self._code
        if kill:
            with contextlib.suppress(OSError):  # ended (and reaped, its zygote gone)
                if self._pidfd >= 0:
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                else:
                    os.kill(self.pid, signal.SIGKILL)
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1
        self._code, self._stopped = self.zygote.reap(self.pid), True
        return self._code


def _pidfd(pid: int) -> int:
    """A descriptor of process ``pid`` (Linux 5.3); -1 where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def heavy_processors() -> set[int] | None:
    """The processors a heavy query may run on: the upper half of those this process may use
    (at least one); None where that cannot be asked (not Linux).

    ``SCHED_IDLE`` alone leaves the heavy queries every moment the lookups leave a processor,
    and those moments are many: measured on 2 processors, two heavy loops took 0.2–0.7
    processor-seconds per 5 s window and made each lookup cost more (caches), and the lookups
    kept a median of 87.5 % of their rate (24 rounds). Kept to one of the two, they leave the
    other to the lookups alone: a median of 98 % (24 rounds, the same runs)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None
    return set(allowed[len(allowed) - max(1, len(allowed) // 2) :])


def _lower_priority(thread: int, processors: set[int] | None) -> None:
    """``thread`` scheduled only on ``processors`` (None: wherever it was), and there only
    when a processor is otherwise idle, or at the lowest nice."""
    if processors is not None:
        with contextlib.suppress(OSError):  # the thread has ended
            os.sched_setaffinity(thread, processors)
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or refused: nice
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):  # the thread has ended
        os.setpriority(os.PRIO_PROCESS, thread, HEAVY_NICENESS)


class Zygote:
    """The worker's end of one snapshot's zygote (:mod:`server.services.pool_zygote`): started
    at once, loading in the background; query processes are forked from it one request at a
    time. Retired (:meth:`retire`) once a newer snapshot's is used, it ends when the last of
    its processes has been reaped."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        ontology = snapshot / ONTOLOGY.name
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
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
        ]
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(
                command, stdin=theirs.fileno(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        finally:
            theirs.close()
        self.socket = ours
        self._lock = threading.Lock()
        self._ready = False
        #: How it ended, once it did (then every fork from it fails so, and it is replaced).
        self.failed: Outcome | None = None
        self._children = 0
        self._retired = False

    def fork(self, channel: socket.socket, headroom: int, deadline: float) -> int | Outcome:
        """A query process serving jobs on ``channel`` (passed to the zygote), allowed
        ``headroom`` bytes of memory beyond what it shares; its id, or how the zygote failed.
        Waits until ``deadline`` for the zygote to be loaded."""
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return ("timeout",)
        try:
            failed = self._wait_ready(deadline)
            if failed is not None:
                return failed
            pid = self._ask(REQUEST.pack(FORK, headroom), [channel.fileno()], deadline)
            if pid is None:
                return self._failed()
            self._children += 1
            return pid
        finally:
            self._lock.release()

    def reap(self, pid: int) -> int | None:
        """Wait for the zygote's child ``pid`` (killed, or seen ending): its exit code (minus
        the signal that ended it); None when that is not known (the zygote is gone)."""
        with self._lock:
            code = None
            if self.failed is None:
                code = self._ask(REQUEST.pack(REAP, pid), [], time.monotonic() + REAP_SECONDS)
            self._children -= 1
            done = self._retired and self._children <= 0
        if done:
            self.close()
        return None if code == UNKNOWN else code

    def ended(self) -> bool:
        """Whether the zygote has ended (failed, or ended without a request seeing it: it is
        reaped here then, and a new one is started in its place)."""
        return self.failed is not None or self.process.poll() is not None

    def retire(self) -> None:
        """No more forks: end the zygote now, or once its last process is reaped."""
        with self._lock:
            self._retired = True
            done = self._children <= 0
        if done:
            self.close()

    def close(self) -> None:
        """End the zygote (end of file on its socket ends it) and reap it."""
        self.socket.close()
        try:
            self.process.wait(REAP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def forget(self) -> None:
        """In a forked copy of the worker: let go of the parent's zygote (not ending it)."""
        self.socket.close()

    def _wait_ready(self, deadline: float) -> Outcome | None:
        if self._ready or self.failed is not None:
            return self.failed
        readable, _, _ = select.select([self.socket], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            return ("timeout",)
        self._ready = self.socket.recv(len(READY) + 1) == READY
        return None if self._ready else self._failed()

    def _ask(self, request: bytes, passed: list[int], deadline: float) -> int | None:
        """The zygote's reply to ``request``; None when it is gone (or stuck: then killed)."""
        try:
            socket.send_fds(self.socket, [request], passed)
            readable, _, _ = select.select(
                [self.socket], [], [], max(0.0, deadline - time.monotonic())
            )
            reply = self.socket.recv(REPLY.size) if readable else b""
        except OSError:
            reply = b""
        if len(reply) != REPLY.size:
            self.process.kill()
            self._failed()
            return None
        (value,) = REPLY.unpack(reply)
        return int(value)

    def _failed(self) -> Outcome:
        if self.failed is None:
            code = self.process.wait()
            self.failed = ("signal", -code) if code < 0 else ("exit", code)
        return self.failed
