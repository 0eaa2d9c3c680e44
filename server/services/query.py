"""Running a SPARQL query: read-only, bounded in time, rows, bytes and reach.

Oxigraph cannot cancel a running query, so no query runs in the web worker: it goes to a
sandboxed query process that can be killed when the time is up, which really stops the work.
On the server that is a process of the worker's query lane (:mod:`server.services.pool`:
pre-started, reused, replaced when killed or dead; a query of the request's snapshot); any
other store (a test's, the bench's) gets a child forked for the one query
(:func:`run_in_child`), which shares the store copy-on-write. Both shut themselves in the same
way before they evaluate anything (:mod:`server.services.pool_child` for the lane):

* every file descriptor but the pipe is closed and ``RLIMIT_NOFILE`` is 1, so it cannot open a
  socket or a file: a query can reach nothing outside the store, whatever it says (Oxigraph has
  an HTTP client for ``SERVICE``; this makes it fail instead of connecting);
* ``RLIMIT_CPU`` is the timeout plus a second (beyond what it used before), so the kernel
  stops it even if the worker is gone;
* ``RLIMIT_AS`` gives it :data:`MEMORY_HEADROOM` bytes more than it has;
* ``RLIMIT_CORE`` is 0: a query process that crashes leaves no core file behind;
* the query is evaluated on a thread whose stack has :data:`STACK_PER_BYTE` bytes per byte
  of query (at least :data:`MIN_STACK`), so that constructs that are long rather than deep
  (a chain of ``+`` or ``BIND``, which the engine also handles recursively) cannot overflow it.

The answer is written once, in its final format, inside the query process and so inside its
time limit, and at most ``max_answer_bytes`` long (:mod:`server.services.pool_answers`).
Queries that are too large or too deeply nested, updates and ``SERVICE`` are refused before any
of this (:func:`server.services.sparql_text.check_query`), with a message saying why.

How the query process ends decides the answer, and no ending is reported as another: its
answer or error; killed here at the timeout, or by the kernel at ``RLIMIT_CPU``
(``SIGXCPU``): :class:`QueryTimeout`; aborted by the allocator at ``RLIMIT_AS`` (``SIGABRT``)
or out of memory in Python: :class:`QueryOutOfMemory`; an answer over the byte cap:
:class:`QueryAnswerTooLarge`; any other signal it did not get from here (``SIGSEGV``,
``SIGKILL`` from the kernel's OOM killer): :class:`QueryDied`; an exit without an answer:
:class:`QueryFailed`.
"""

from __future__ import annotations

import errno
import math
import os
import pickle
import resource
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from kg.bounded import limit_memory
from kg.config import Settings
from kg.serialization import prefix_map
from server.services.formats import (
    GRAPH_FORMATS,
    NTRIPLES,
    RESULT_FORMATS,
    Format,
    choose_format,
)
from server.services.pool import lane_target
from server.services.pool_child import SERVING_STACK, Outcome, evaluate_job
from server.services.remote_store import remote_of
from server.services.sparql_text import QueryRefused, check_query, outline

#: Address space a query's process may use on top of what it has when it starts.
MEMORY_HEADROOM = 2 * 1024**3
#: Stack for the evaluation per byte of query text. Measured on an 8 MiB stack: nested braces
#: need 1.9 KiB per byte of query (and are refused past ``MAX_DEPTH`` anyway), a chain of ``!``
#: 0.9 KiB, of ``+`` 0.6 KiB.
STACK_PER_BYTE = 4096
#: The smallest stack a query is evaluated on (a main thread's is usually 8 MiB): the stack of
#: a query process's serving thread, so that most queries need no thread of their own there.
MIN_STACK = SERVING_STACK
#: A SELECT answer holds at most ``max_rows`` rows and ``max_rows`` times this many values: a
#: query with thousands of variables gets fewer rows (truncated), not an answer of gigabytes.
VALUES_PER_ROW = 100

_OUT_OF_MEMORY = f"the query was stopped: it needed more than {MEMORY_HEADROOM >> 20} MiB of memory"
_BY_KEY = {fmt.key: fmt for fmt in (*RESULT_FORMATS, *GRAPH_FORMATS)}


class QuerySyntaxError(ValueError):
    """The parser's message: 400."""


class QueryNotAcceptable(Exception):
    """No format the client accepts exists for this kind of answer: 406."""

    def __init__(self, offers: tuple[Format, ...]) -> None:
        super().__init__(offers)  # the arguments, so that it pickles
        self.offers = offers


class QueryStopped(Exception):
    """The query was stopped at a limit: 503."""


class QueryTimeout(QueryStopped):
    """It ran out of time."""


class QueryOutOfMemory(QueryStopped):
    """It ran out of memory (the allocator aborts the child at ``RLIMIT_AS``)."""


class QueryAnswerTooLarge(QueryStopped):
    """Its answer would have more than ``max_answer_bytes``."""


class QueryFailed(RuntimeError):
    """The evaluation broke (the child's traceback, or how it ended): 500."""


class QueryDied(RuntimeError):
    """The query process was killed by a signal that was no limit of ours: 500."""

    def __init__(self, number: int) -> None:
        super().__init__(number)  # the arguments, so that it pickles
        self.number = number

    def __str__(self) -> str:
        return f"the query process died (signal {self.number})"

    @property
    def name(self) -> str:
        try:
            return signal.Signals(self.number).name
        except ValueError:
            return "an unknown signal"


@dataclass(frozen=True)
class QueryRequest:
    text: str
    #: ``default-graph-uri`` and ``named-graph-uri``; both empty: the query's own dataset, or
    #: the union of the store's graphs as the default graph.
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    #: The client's ``Accept`` header; None: none given.
    accept: MIMEAccept | None = None
    format_param: str | None = None
    max_rows: int = Settings.max_rows
    #: The query text may have at most this many bytes (UTF-8).
    max_bytes: int = Settings.max_request_bytes
    #: What relative IRIs in the query are resolved against: the endpoint's URL (SPARQL 1.2
    #: Protocol, "Determining the Base IRI"); a ``BASE`` in the query wins. None: a relative
    #: IRI is a syntax error.
    base_iri: str | None = None
    #: The answer may have at most this many bytes; None: the server's ``max_answer_bytes``.
    max_answer_bytes: int | None = None


@dataclass(frozen=True)
class Answer:
    format: Format
    body: bytes
    #: More rows (or triples) than ``max_rows`` existed; the answer holds the first ones.
    truncated: bool


def job_for(request: QueryRequest, max_answer_bytes: int) -> dict[str, Any]:
    """What a query process needs to answer ``request``, as plain values: the format of each
    kind of answer the client accepts (None: 406 for that kind), the dataset, the limits."""
    accept = request.accept or MIMEAccept()
    results = choose_format(accept, request.format_param, RESULT_FORMATS)
    graph = choose_format(accept, request.format_param, GRAPH_FORMATS)
    size = len(request.text.encode("utf-8", "surrogatepass"))
    return {
        "text": request.text,
        "base_iri": request.base_iri,
        "dataset": _dataset(request),
        "results": results.key if results else None,
        "graph": graph.key if graph else None,
        "prefixes": None if graph in (None, NTRIPLES) else prefix_map(),
        "max_rows": request.max_rows,
        "values_per_row": VALUES_PER_ROW,
        "max_bytes": request.max_answer_bytes or max_answer_bytes,
        "stack": max(MIN_STACK, STACK_PER_BYTE * size),
    }


def evaluate(store: ox.Store, request: QueryRequest) -> Answer:
    """Run ``request`` here, in this process (a forked child does this), and serialise the
    answer."""
    outcome = evaluate_job(store, job_for(request, Settings.max_answer_bytes))
    return answer_of(outcome, 0)


def answer_of(outcome: Outcome, timeout: float) -> Answer:
    """The answer a query process sent, or the exception for what it sent or how it ended."""
    kind = outcome[0]
    if kind == "answer":
        _, key, body, truncated = outcome
        return Answer(_BY_KEY[key], body, truncated)
    message = outcome[1] if len(outcome) > 1 else ""
    raise _failure(kind, message, timeout)


def _failure(kind: str, message: Any, timeout: float) -> Exception:
    if kind == "signal":
        return _killed_by(message, timeout)
    failures: dict[str, Callable[[], Exception]] = {
        "syntax": lambda: QuerySyntaxError(message),
        "not-acceptable": lambda: QueryNotAcceptable(
            GRAPH_FORMATS if message == "graph" else RESULT_FORMATS
        ),
        "refused": lambda: QueryRefused(message),
        "memory": lambda: QueryOutOfMemory(_OUT_OF_MEMORY),
        "too-large": lambda: QueryAnswerTooLarge(f"the query was stopped: {message}"),
        "timeout": lambda: QueryTimeout(f"the query was stopped after {timeout:g} s"),
        "unavailable": lambda: QueryStopped(message),
        "exit": lambda: QueryFailed(
            f"the query process ended without an answer (exit status {message})"
        ),
    }
    return failures.get(kind, lambda: QueryFailed(str(message)))()


def _killed_by(number: int, timeout: float) -> Exception:
    if number == signal.SIGXCPU:  # the kernel, at RLIMIT_CPU
        return QueryTimeout(f"the query was stopped after {timeout:g} s of processor time")
    if number == signal.SIGABRT:  # the allocator, at RLIMIT_AS
        return QueryOutOfMemory(_OUT_OF_MEMORY)
    return QueryDied(number)


def _dataset(request: QueryRequest) -> Any:
    """The request's dataset as plain values (:func:`dataset_arguments`, checked here)."""
    arguments = dataset_arguments(request)
    if "default_graph" in arguments:
        return (request.default_graphs, request.named_graphs)
    return "union" if arguments else "query"


def dataset_arguments(request: QueryRequest) -> dict[str, Any]:
    """``Store.query`` arguments for the request's dataset (SPARQL 1.1 Protocol §2.1.4): the
    protocol's graphs, else the query's ``FROM`` / ``FROM NAMED``, else the union of all."""
    if not request.default_graphs and not request.named_graphs:
        if outline(request.text).names_dataset:
            return {}
        return {"use_default_graph_as_union": True}
    try:
        return {
            "default_graph": [ox.NamedNode(iri) for iri in request.default_graphs],
            "named_graphs": [ox.NamedNode(iri) for iri in request.named_graphs],
        }
    except ValueError as error:
        raise QuerySyntaxError(f"default-graph-uri / named-graph-uri: {error}") from None


def run_query(store: ox.Store, request: QueryRequest, timeout: float) -> Answer:
    """:func:`check_query`, then the query in a sandboxed process, stopped after ``timeout``
    seconds: a process of the query lane for the request's snapshot, else a forked child."""
    check_query(request.text, request.max_bytes)
    remote = remote_of(store)
    target = lane_target(store)
    if remote is not None:  # kg serve --store: the store answers (server.services.remote_store)
        job = job_for(request, remote.max_answer_bytes)
        admit = partial(target.lane.admission.admit, target.client, timeout) if target else None
        return answer_of(remote.answer(job, timeout, admit), timeout)
    if target is None:
        stack = max(MIN_STACK, STACK_PER_BYTE * len(request.text.encode("utf-8", "surrogatepass")))
        return run_in_child(lambda: evaluate(store, request), timeout, stack)
    job = job_for(request, target.lane.max_answer_bytes)
    return answer_of(target.lane.run(target, job, timeout, MEMORY_HEADROOM), timeout)


def run_in_child(work: Callable[[], Answer], timeout: float, stack: int = MIN_STACK) -> Answer:
    """``work()`` in a forked child, on a thread with ``stack`` bytes of stack; its answer or
    exception comes back through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(work, write_end, timeout, stack)
    os.close(write_end)
    data, finished = b"", False
    try:
        data, finished = _read_until(read_end, time.monotonic() + timeout)
    finally:  # also when the worker is interrupted: the child never outlives the request
        os.close(read_end)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    if not finished:  # the SIGKILL was ours
        raise QueryTimeout(f"the query was stopped after {timeout:g} s")
    return _outcome_of(data, status, timeout)


def _outcome_of(data: bytes, status: int, timeout: float) -> Answer:
    """The answer of a child that ended by itself, or what the way it ended means."""
    if os.WIFSIGNALED(status):
        raise _killed_by(os.WTERMSIG(status), timeout)
    if not data:
        code = os.waitstatus_to_exitcode(status)
        raise QueryFailed(f"the query process ended without an answer (exit status {code})")
    outcome = pickle.loads(data)
    if isinstance(outcome, BaseException):
        raise outcome
    assert isinstance(outcome, Answer)
    return outcome


def _child(work: Callable[[], Answer], out: int, timeout: float, stack: int) -> None:
    status = 1
    try:
        out = _shut_in(out, timeout)
        outcome = _on_own_stack(work, stack)
        _write_all(out, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)


def _on_own_stack(work: Callable[[], Answer], stack: int) -> Answer | Exception:
    """:func:`_outcome` of ``work``, run on a new thread with ``stack`` bytes of stack (at
    most half the memory headroom)."""
    outcomes: list[Answer | Exception] = []
    try:
        threading.stack_size(min(stack, MEMORY_HEADROOM // 2))
        thread = threading.Thread(target=lambda: outcomes.append(_outcome(work)))
        thread.start()
    except (RuntimeError, MemoryError):  # no room for the stack under RLIMIT_AS
        return QueryOutOfMemory(_OUT_OF_MEMORY)
    thread.join()
    return outcomes[0] if outcomes else QueryFailed("the query thread ended without an answer")


def _outcome(work: Callable[[], Answer]) -> Answer | Exception:
    """``work()``'s answer, or what the worker should raise instead."""
    try:
        return work()
    except (QuerySyntaxError, QueryNotAcceptable, QueryRefused, QueryStopped, QueryFailed) as error:
        return error
    except MemoryError:
        return QueryOutOfMemory(_OUT_OF_MEMORY)
    except Exception as error:
        # The pipe is the only descriptor the child may have: a query that tries to open a
        # connection (SERVICE, had it got past check_query) or a file gets EMFILE.
        if isinstance(error, OSError) and (
            error.errno == errno.EMFILE or "os error 24" in str(error)
        ):
            return QueryRefused("the query tried to reach outside the store (refused)")
        return QueryFailed(traceback.format_exc())


def _shut_in(out: int, timeout: float) -> int:
    """Close every descriptor but ``out`` (moved to 0), limit CPU, memory and files, and
    leave no core file."""
    os.dup2(out, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    os.closerange(1, hard if hard != resource.RLIM_INFINITY else 1 << 20)
    limit_memory(MEMORY_HEADROOM)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1, hard))
    seconds = math.ceil(timeout) + 1
    _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
    if cpu_hard == resource.RLIM_INFINITY or cpu_hard > seconds:
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    return 0


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything until end of file, and whether it came before ``deadline``."""
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"", False
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            return b"", False
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
