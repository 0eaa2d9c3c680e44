"""Work on hostile input within a time and memory limit per item, in a child process.

A size limit cannot bound the time Python-Markdown takes: some inputs cost it quadratic time
or worse (measured: 57 KB of ``## h`` lines 15 s; 64 KB of ``- ## x`` lines 42 s; 64 KB of
``[`` over a minute), so one page of a few tens of kilobytes could hold the build for hours.
So the items are worked on in one forked child, which sends each result back as soon as it
is done; the parent waits at most ``seconds`` for each. A child that runs over is killed (the
work really stops), that item comes back as :class:`Failed`, and a new child goes on with the
rest. An item whose work raises, or whose child dies (out of memory: the child may use
:data:`MEMORY_HEADROOM` more than the parent; a crash in a C extension), is :class:`Failed`
alone too. In the normal case that is one fork for the whole series; results come back
pickled (the child is a fork of this process, so ``function`` itself is never pickled).
"""

from __future__ import annotations

import os
import pickle
import resource
import select
import signal
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

#: Bytes of memory a child may use beyond the size of this process when it forks.
MEMORY_HEADROOM = 1 << 30
_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class Failed:
    """An item whose work did not finish, and why (one line)."""

    reason: str


def map_bounded(function: Callable[[T], R], items: Sequence[T], seconds: float) -> list[R | Failed]:
    """``function`` applied to each item, in order, each within ``seconds``."""
    results: list[R | Failed] = []
    while len(results) < len(items):
        results.extend(_run_child(function, items[len(results) :], seconds))
    return results


def _run_child(function: Callable[[T], R], items: Sequence[T], seconds: float) -> list[R | Failed]:
    """The results of a child working through ``items``: all of them, or those before the one
    it failed on, that one included (as :class:`Failed`)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _work(function, items, write_end)
    os.close(write_end)
    results: list[R | Failed] = []
    try:
        for _ in items:
            outcome = _receive(read_end, time.monotonic() + seconds, seconds)
            results.append(cast("R | Failed", outcome))
            if isinstance(outcome, Failed):
                break
    finally:
        os.close(read_end)
        if len(results) < len(items) or isinstance(results[-1], Failed):
            # Over time, failed, or this process was interrupted. The child is not reaped
            # yet, so the pid is still its own.
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return results


def _work(function: Callable[[T], R], items: Sequence[T], out: int) -> NoReturn:
    """In the child: each result (or the exception it raised, in one line) to ``out``."""
    status = 0
    try:
        _limit_memory()
        for item in items:
            try:
                outcome: tuple[str, object] = ("done", function(item))
            except Exception as error:
                outcome = ("raised", f"{type(error).__name__}: {error}"[:300])
            payload = pickle.dumps(outcome)
            _write_all(out, _HEADER.pack(len(payload)) + payload)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _receive(fd: int, deadline: float, seconds: float) -> object:
    """The next result from the child, or :class:`Failed`."""
    header = _read_exactly(fd, _HEADER.size, deadline)
    payload = None if header is None else _read_exactly(fd, _HEADER.unpack(header)[0], deadline)
    if payload is None:
        if time.monotonic() >= deadline:
            return Failed(f"took longer than {seconds:g} s")
        return Failed("the process working on it died (out of memory?)")
    kind, value = pickle.loads(payload)
    return Failed(str(value)) if kind == "raised" else value


def _read_exactly(fd: int, size: int, deadline: float) -> bytes | None:
    """``size`` bytes from ``fd``; None at end of file or when ``deadline`` passes first."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            return None
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _limit_memory() -> None:
    """``RLIMIT_AS``: the child's present size plus :data:`MEMORY_HEADROOM` (Linux; elsewhere
    the time limit alone)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    limit = pages * os.sysconf("SC_PAGE_SIZE") + MEMORY_HEADROOM
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
