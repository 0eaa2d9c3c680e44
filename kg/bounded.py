"""Work on hostile input within a time and memory limit per item, in a child process.

A size limit cannot bound the time Python-Markdown takes: some inputs cost it quadratic time
or worse (measured: 57 KB of ``## h`` lines 15 s; 64 KB of ``- ## x`` lines 42 s; 64 KB of
``[`` over a minute), so one page of a few tens of kilobytes could hold the build for hours.
So the items are worked on in forked children, one per core (the items cut into contiguous
runs, of about equal work when the caller weighs them), which send each result back as soon as
it is done; the parent reads them all without blocking and waits at most ``seconds`` for each
next result of a child. A child that runs over is killed (the work really stops), that item
comes back as :class:`Failed`, and a new child goes on with the rest of its run. An item whose
work raises, or whose child dies (out of memory: a child may use :data:`MEMORY_HEADROOM` more
than the parent; a crash in a C extension), is :class:`Failed` alone too. In the normal case
that is one fork per core for the whole series, so parsing also uses both cores of the machine;
results come back pickled (a child is a fork of this process, so ``function`` itself is never
pickled).

:func:`forked` is the other use of a child: one piece of trusted work (the pages, a validation,
a release's chunk) done beside what this process goes on with, on the other core; when the
child fails, the caller does the work itself. Such a child dies with its parent, so a killed
build leaves none working on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import resource
import select
import signal
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Generic, NoReturn, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

#: Bytes of memory a child may use beyond the size of this process when it forks.
MEMORY_HEADROOM = 1 << 30
_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class Failed:
    """An item whose work did not finish, and why (one line)."""

    reason: str


def map_bounded(
    function: Callable[[T], R],
    items: Sequence[T],
    seconds: float,
    workers: int = 0,
    weights: Sequence[int] | None = None,
) -> list[R | Failed]:
    """``function`` applied to each item, in order, each within ``seconds``; the items are
    shared among ``workers`` children that run side by side (0: one per core, at most 4), in
    contiguous runs of about equal count, or of about equal total ``weights`` (one per item,
    what its work is expected to cost: so the children finish together)."""
    workers = max(1, workers or min(4, os.cpu_count() or 1))
    results: list[object] = [None] * len(items)
    runs = _runs(len(items), workers, weights)
    children = [_Child(function, items, start, end, seconds) for start, end in runs]
    try:
        while children:
            wait = max(0.0, min(child.deadline for child in children) - time.monotonic())
            ready = set(select.select([child.fd for child in children], [], [], wait)[0])
            for child in list(children):
                if not child.step(child.fd in ready, results):
                    continue
                children.remove(child)
                child.stop()
                if child.next < child.end:  # go on after the item it failed on
                    children.append(_Child(function, items, child.next, child.end, seconds))
    finally:
        for child in children:
            child.stop()
    return cast("list[R | Failed]", results)


def _runs(count: int, workers: int, weights: Sequence[int] | None) -> list[tuple[int, int]]:
    """``count`` items cut into at most ``workers`` contiguous runs (start, end): of equal
    size, or with ``weights``, each ending where the weight so far first reaches its share."""
    total = sum(weights) if weights is not None and len(weights) == count else 0
    if weights is None or total <= 0:
        size = max(1, -(-count // workers))  # ceiling
        return [(start, min(start + size, count)) for start in range(0, count, size)]
    runs: list[tuple[int, int]] = []
    start = so_far = 0
    for index, weight in enumerate(weights[:-1]):
        so_far += weight
        if len(runs) < workers - 1 and so_far * workers >= total * (len(runs) + 1):
            runs.append((start, index + 1))
            start = index + 1
    return [*runs, (start, count)]  # (a weight above 0: count is too)


class _Child:
    """A forked child working through ``items[start:end]``, its results read without
    blocking (so several work side by side), each within ``seconds`` of the one before."""

    def __init__(
        self, function: Callable[[T], R], items: Sequence[T], start: int, end: int, seconds: float
    ) -> None:
        self.next, self.end, self.seconds = start, end, seconds
        self.deadline = time.monotonic() + seconds
        self.buffer = bytearray()
        self.answered = False  # the child sent an outcome for each of its items
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _work(function, items[start:end], write_end)
        os.close(write_end)
        self.pid, self.fd = pid, read_end

    def step(self, readable: bool, results: list[object]) -> bool:
        """Take what the child sent into ``results``; True when this child is done with (all
        its items, or it failed on ``results[self.next - 1]``)."""
        data = os.read(self.fd, 1 << 20) if readable else None
        if data:
            self.buffer += data
        for outcome in self._outcomes():
            results[self.next] = outcome
            self.next += 1
            self.deadline = time.monotonic() + self.seconds
            self.answered = self.next == self.end
            if isinstance(outcome, Failed) or self.answered:
                return True
        if data == b"":  # the child is gone before its items are
            results[self.next] = Failed("the process working on it died (out of memory?)")
        elif time.monotonic() >= self.deadline:
            results[self.next] = Failed(f"took longer than {self.seconds:g} s")
        else:
            return False
        self.next += 1
        return True

    def _outcomes(self) -> list[object]:
        found = []
        while len(self.buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                break
            kind, value = pickle.loads(self.buffer[_HEADER.size : _HEADER.size + size])
            del self.buffer[: _HEADER.size + size]
            found.append(Failed(str(value)) if kind == "raised" else value)
        return found

    def stop(self) -> None:
        """Kill the child unless it answered for every item (it is not reaped yet, so the pid
        is still its own)."""
        os.close(self.fd)
        if not self.answered:
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _work(function: Callable[[T], R], items: Sequence[T], out: int) -> NoReturn:
    """In the child: each result (or the exception it raised, in one line) to ``out``."""
    status = 0
    try:
        limit_memory(MEMORY_HEADROOM)
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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def limit_memory(headroom: int) -> None:
    """``RLIMIT_AS`` of this process: its present size plus ``headroom`` bytes (Linux; elsewhere
    nothing: the time limit alone). For forked children that work on hostile input; opens one
    file descriptor and closes it at once (the query child allows itself only one)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    limit = pages * os.sysconf("SC_PAGE_SIZE") + headroom
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# -- one piece of work beside this process's own ---------------------------------------

#: Linux ``prctl`` option: the signal a child gets when its parent dies.
_PR_SET_PDEATHSIG = 1


class Forked(Generic[R]):
    """``work()`` in a forked child (so nothing is pickled to it), its result pickled back."""

    def __init__(self, work: Callable[[], R]) -> None:
        self.receiver, sender = multiprocessing.Pipe(duplex=False)
        self.child = multiprocessing.get_context("fork").Process(
            target=_send, args=(work, sender, os.getpid()), daemon=True
        )
        self.child.start()
        sender.close()
        self.cancelled = False

    def result(self) -> R | None:
        """The child's result; None when it ended without one (it failed: the caller does
        the work itself, for the same result or the error with its traceback)."""
        if self.cancelled:
            return None
        try:
            data = self.receiver.recv_bytes()
        except (EOFError, OSError):
            return None
        finally:
            self.cancel()
        result: R = pickle.loads(data)  # from our own fork, through our own pipe
        return result

    def cancel(self) -> None:
        """Stop the child (done, or no longer needed)."""
        if not self.cancelled:
            self.cancelled = True
            self.receiver.close()
            self.child.kill()
            self.child.join()


@contextmanager
def forked(work: Callable[[], R]) -> Iterator[Forked[R]]:
    """``work()`` started in a forked child now; its result asked for with ``result()`` (None:
    the child failed, and the caller does the work itself). The child is stopped on leaving."""
    child = Forked(work)
    try:
        yield child
    finally:
        child.cancel()


def _send(work: Callable[[], object], sender: Connection, parent: int) -> None:
    """In the forked child: the result of ``work``, pickled, to ``sender`` (nothing when it
    fails: the parent does the work again, and reports what fails)."""
    try:
        _die_with(parent)
        sender.send_bytes(pickle.dumps(work()))
    except BaseException:  # the parent does the work again, and reports what fails
        pass
    finally:
        sender.close()


def _die_with(parent: int) -> None:
    """This child is killed when ``parent`` dies (Linux ``PR_SET_PDEATHSIG``): a build that is
    killed leaves no child working on, holding its output open. Elsewhere: nothing."""
    prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that took effect
        os._exit(1)
