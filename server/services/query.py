"""Running a SPARQL query: read-only, bounded in time, rows and reach.

Oxigraph cannot cancel a running query, so every query runs in a child process forked from the
worker: the child shares the worker's store copy-on-write (nothing is copied up front; the
round trip costs about 5 ms, see ``bench/query.py``), evaluates the query, serialises the
answer and sends it back through a pipe. When the time is up the worker kills the child, which
really stops the work. Forking expects a single-threaded worker (gunicorn's sync workers; the
store spawns no threads). Before it evaluates anything the child shuts itself in:

* every file descriptor but the pipe is closed and ``RLIMIT_NOFILE`` is 1, so it cannot open a
  socket or a file: a query can reach nothing outside the store, whatever it says (Oxigraph has
  an HTTP client for ``SERVICE``; this makes it fail instead of connecting);
* ``RLIMIT_CPU`` is the timeout plus a second, so the kernel stops it even if the worker
  is gone;
* ``RLIMIT_AS`` gives it :data:`MEMORY_HEADROOM` bytes more than the worker has;
* ``RLIMIT_CORE`` is 0: a query process that crashes leaves no core file behind;
* the query is evaluated on a thread whose stack has :data:`STACK_PER_BYTE` bytes per byte
  of query (at least :data:`MIN_STACK`), so that constructs that are long rather than deep
  (a chain of ``+`` or ``BIND``, which the engine also handles recursively) cannot overflow it.

Queries that are too large or too deeply nested, updates and ``SERVICE`` are refused before any
of this (:func:`server.services.sparql_text.check_query`), with a message saying why.

How the query process ends decides the answer, and no ending is reported as another: its
answer or error (through the pipe); killed here at the timeout, or by the kernel at
``RLIMIT_CPU`` (``SIGXCPU``): :class:`QueryTimeout`; aborted by the allocator at ``RLIMIT_AS``
(``SIGABRT``) or out of memory in Python: :class:`QueryOutOfMemory`; any other signal it did
not get from here (``SIGSEGV``, ``SIGKILL`` from the kernel's OOM killer): :class:`QueryDied`;
an exit without an answer: :class:`QueryFailed`.
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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from kg.bounded import limit_memory
from kg.config import Settings
from server.services.formats import (
    GRAPH_FORMATS,
    RESULT_FORMATS,
    RESULTS_CSV,
    RESULTS_JSON,
    RESULTS_TSV,
    RESULTS_XML,
    Format,
    choose_format,
    serialize_triples,
)
from server.services.sparql_text import QueryRefused, check_query, outline

#: Address space a query's child process may use on top of the worker's.
MEMORY_HEADROOM = 2 * 1024**3
#: Stack for the evaluation per byte of query text. Measured on an 8 MiB stack: nested braces
#: need 1.9 KiB per byte of query (and are refused past ``MAX_DEPTH`` anyway), a chain of ``!``
#: 0.9 KiB, of ``+`` 0.6 KiB.
STACK_PER_BYTE = 4096
#: The smallest stack a query is evaluated on (a main thread's is usually 8 MiB).
MIN_STACK = 64 * 1024**2
#: A SELECT answer holds at most ``max_rows`` rows and ``max_rows`` times this many values: a
#: query with thousands of variables gets fewer rows (truncated), not an answer of gigabytes.
VALUES_PER_ROW = 100

_RESULTS_FORMATS: dict[Format, ox.QueryResultsFormat] = {
    RESULTS_JSON: ox.QueryResultsFormat.JSON,
    RESULTS_XML: ox.QueryResultsFormat.XML,
    RESULTS_CSV: ox.QueryResultsFormat.CSV,
    RESULTS_TSV: ox.QueryResultsFormat.TSV,
}
_OUT_OF_MEMORY = f"the query was stopped: it needed more than {MEMORY_HEADROOM >> 20} MiB of memory"


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


@dataclass(frozen=True)
class Answer:
    format: Format
    body: bytes
    #: More rows (or triples) than ``max_rows`` existed; the answer holds the first ones.
    truncated: bool


def evaluate(store: ox.Store, request: QueryRequest) -> Answer:
    """Run ``request`` here, in this process (the child does this), and serialise the answer."""
    try:
        result = store.query(request.text, base_iri=request.base_iri, **dataset_arguments(request))
    except SyntaxError as error:
        raise QuerySyntaxError(str(error)) from None
    offers = GRAPH_FORMATS if isinstance(result, ox.QueryTriples) else RESULT_FORMATS
    chosen = choose_format(request.accept or MIMEAccept(), request.format_param, offers)
    if chosen is None:
        raise QueryNotAcceptable(offers)
    if isinstance(result, ox.QueryBoolean):
        return Answer(chosen, _bytes(result.serialize(format=_RESULTS_FORMATS[chosen])), False)
    if isinstance(result, ox.QueryTriples):
        triples, truncated = _take(result, request.max_rows)
        return Answer(chosen, serialize_triples(triples, chosen), truncated)
    variables = [variable.value for variable in result.variables]
    budget = request.max_rows * VALUES_PER_ROW // max(len(variables), 1)
    rows, truncated = _take(result, max(1, min(request.max_rows, budget)))
    # The rows kept, written as SPARQL TSV (a solution iterates over its values in the order of
    # ``variables``) and read back, are a result set Oxigraph serialises in the format asked for.
    tsv = "\t".join(f"?{name}" for name in variables) + "\n"
    tsv += "".join("\t".join(map(_tsv_term, row)) + "\n" for row in rows)
    kept = ox.parse_query_results(tsv, ox.QueryResultsFormat.TSV)
    return Answer(chosen, _bytes(kept.serialize(format=_RESULTS_FORMATS[chosen])), truncated)


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
    """:func:`check_query`, then :func:`evaluate` in a sandboxed child process, stopped after
    ``timeout`` seconds."""
    check_query(request.text, request.max_bytes)
    stack = max(MIN_STACK, STACK_PER_BYTE * len(request.text.encode("utf-8", "surrogatepass")))
    return run_in_child(lambda: evaluate(store, request), timeout, stack)


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
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:  # the kernel, at RLIMIT_CPU
            raise QueryTimeout(f"the query was stopped after {timeout:g} s of processor time")
        if number == signal.SIGABRT:  # the allocator, at RLIMIT_AS
            raise QueryOutOfMemory(_OUT_OF_MEMORY)
        raise QueryDied(number)
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
    except (QuerySyntaxError, QueryNotAcceptable) as error:
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


def _take(items: Iterator[Any], limit: int) -> tuple[list[Any], bool]:
    taken: list[Any] = []
    for item in items:
        if len(taken) == limit:
            return taken, True
        taken.append(item)
    return taken, False


def _tsv_term(term: Any) -> str:
    """A term in SPARQL TSV: Oxigraph's own syntax, but ``<<( … )>>`` around a triple term."""
    if term is None:
        return ""
    if type(term) is ox.Triple:
        parts: Sequence[Any] = (term.subject, term.predicate, term.object)
        return "<<( " + " ".join(_tsv_term(part) for part in parts) + " )>>"
    return str(term)


def _bytes(data: bytes | None) -> bytes:
    assert data is not None  # no output file given: the bytes are returned
    return data
