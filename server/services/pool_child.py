"""A sandboxed query process: shuts itself in, then answers query after query.

Forked by its snapshot's zygote (:mod:`server.services.pool_zygote`, which loaded the
snapshot's graph and ontology into the same two named graphs the server's store has, and,
beside them, the snapshot's ``releases.nq`` when it has one: :func:`load_store`) with one end of
a socket pair passed to it, the process shuts itself in as the forked query child always did
(:mod:`server.services.query`) before it reads any query:

* every descriptor but the socket (moved to 0) is closed and ``RLIMIT_NOFILE`` is 1: no file,
  no socket can be opened, so ``SERVICE`` or anything else that reaches out fails;
* ``RLIMIT_AS`` is its size plus the headroom, ``RLIMIT_CORE`` 0;
* before each query, ``RLIMIT_CPU`` is set to the processor time used so far plus the timeout
  and a second: the kernel stops a query that runs away even if the web worker is gone;
* queries are evaluated on one thread with a large stack (:data:`SERVING_STACK`), started
  once; a query long enough to need more gets a thread of its own, whose stack grows with the
  query's length.

Then, per query: read a job (a pickled dict of plain values from the web worker), evaluate it,
write the answer in its final format (:mod:`server.services.pool_answers`, within the byte
cap) and send back one pickled pair: the outcome (a tuple of plain values) and the processor
time used so far (the worker's starting point for the next query's cheap-or-heavy check,
without reading ``/proc`` per query). End of file on the socket (the worker is gone or
retired it) ends the process.
"""

from __future__ import annotations

import errno
import math
import os
import pickle
import resource
import signal
import struct
import threading
import traceback
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

import pyoxigraph as ox

from kg.bounded import limit_memory
from kg.manifest import RELEASES_NQ
from server.services.pool_answers import AnswerTooLarge, Budget, write_solutions

#: A job or an answer on the socket: its length, then its pickle.
HEADER = struct.Struct("!Q")
#: What the process sends once it is loaded and shut in.
READY = b"ready"
#: The stack of the thread that answers the jobs: a job whose query needs more (see
#: ``server.services.query.STACK_PER_BYTE``) gets a thread of its own.
SERVING_STACK = 64 * 1024**2
#: Bytes the first read of a frame asks for.
FIRST_READ = 1 << 16

_RESULTS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
_GRAPHS = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}

#: What :func:`evaluate_job` returns: ``("answer", format key, body, truncated)`` or
#: ``(kind, message)`` for ``syntax``, ``not-acceptable`` (message: ``graph`` or
#: ``results``), ``refused``, ``memory``, ``too-large``, ``failed``.
Outcome = tuple[Any, ...]


def evaluate_job(store: ox.Store, job: dict[str, Any]) -> Outcome:
    """Run one job on ``store`` here, and the outcome as plain values."""
    try:
        return _answer(store, job)
    except SyntaxError as error:
        return ("syntax", str(error))
    except AnswerTooLarge as error:
        return ("too-large", str(error))
    except MemoryError:
        return ("memory", "")
    except Exception as error:
        # The socket is the only descriptor this process may have: a query that tries to open
        # a connection (SERVICE, had it got past check_query) or a file gets EMFILE.
        if isinstance(error, OSError) and (
            error.errno == errno.EMFILE or "os error 24" in str(error)
        ):
            return ("refused", "the query tried to reach outside the store (refused)")
        return ("failed", traceback.format_exc())


def _answer(store: ox.Store, job: dict[str, Any]) -> Outcome:
    result = store.query(job["text"], base_iri=job["base_iri"], **_dataset(job["dataset"]))
    if isinstance(result, ox.QueryTriples):
        return write_graph(result, job)
    key = job["results"]
    if key is None:
        return ("not-acceptable", "results")
    if isinstance(result, ox.QueryBoolean):
        return ("answer", key, result.serialize(format=_RESULTS[key]), False)
    variables = [variable.value for variable in result.variables]
    budget = job["max_rows"] * job["values_per_row"] // max(len(variables), 1)
    limit = max(1, min(job["max_rows"], budget))
    rows = _Counted(result, limit)
    out = Budget(job["max_bytes"])
    write_solutions(key, variables, rows, out)
    return ("answer", key, out.value(), rows.truncated)


def write_graph(triples: Iterable[ox.Triple], job: dict[str, Any]) -> Outcome:
    """A CONSTRUCT or DESCRIBE answer in the job's graph format, within its row cap (the
    first triples) and byte cap (:class:`AnswerTooLarge`); also ``kg serve --store``'s, from
    the store's triples (:mod:`server.services.remote_store`)."""
    if job["graph"] is None:
        return ("not-acceptable", "graph")
    taken, truncated = _take(iter(triples), job["max_rows"])
    body = ox.serialize(taken, format=_GRAPHS[job["graph"]], prefixes=job["prefixes"])
    assert body is not None
    if len(body) > job["max_bytes"]:
        raise AnswerTooLarge(f"the answer has more than {job['max_bytes']} bytes")
    return ("answer", job["graph"], body, truncated)


def _dataset(dataset: Any) -> dict[str, Any]:
    """``Store.query`` arguments: ``union``, ``query`` (the query's own ``FROM``), or the
    protocol's (default graphs, named graphs)."""
    if dataset == "union":
        return {"use_default_graph_as_union": True}
    if dataset == "query":
        return {}
    defaults, named = dataset
    return {
        "default_graph": [ox.NamedNode(iri) for iri in defaults],
        "named_graphs": [ox.NamedNode(iri) for iri in named],
    }


class _Counted:
    """The first ``limit`` items of ``items``; ``truncated`` once one more was there."""

    def __init__(self, items: Iterator[Any], limit: int) -> None:
        self.items, self.limit, self.truncated = items, limit, False

    def __iter__(self) -> Iterator[Any]:
        for count, item in enumerate(self.items):
            if count == self.limit:
                self.truncated = True
                return
            yield item


def _take(items: Iterator[Any], limit: int) -> tuple[list[Any], bool]:
    counted = _Counted(items, limit)
    taken = list(counted)
    return taken, counted.truncated


def on_own_stack(work: Any, stack: int, headroom: int) -> Outcome:
    """``work()`` on a new thread with ``stack`` bytes of stack (at most half the headroom)."""
    outcomes: list[Outcome] = []
    try:
        threading.stack_size(min(stack, headroom // 2))
        thread = threading.Thread(target=lambda: outcomes.append(work()))
        thread.start()
    except (RuntimeError, MemoryError):  # no room for the stack under RLIMIT_AS
        return ("memory", "")
    thread.join()
    return outcomes[0] if outcomes else ("failed", "the query thread ended without an answer")


class CpuLimit:
    """``RLIMIT_CPU`` of this process, set before each job to the processor time used so far
    plus the job's timeout and a second, and only when that changes the limit (a lookup
    leaves the whole seconds used as they were: one system call, not three)."""

    def __init__(self) -> None:
        self.soft, self.hard = resource.getrlimit(resource.RLIMIT_CPU)

    def allow(self, timeout: float) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        seconds = math.ceil(usage.ru_utime + usage.ru_stime) + math.ceil(timeout) + 1
        if self.hard != resource.RLIM_INFINITY:
            seconds = min(seconds, self.hard)
        if seconds != self.soft:
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, self.hard))
            self.soft = seconds


def shut_in(channel: int, headroom: int | None, files: int = 1) -> None:
    """Keep only ``channel`` (as 0), with room for ``files`` descriptors in all; limit memory
    to the present size and ``headroom`` (None: no limit, the zygote's); no core file."""
    if channel != 0:
        os.dup2(channel, 0)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    os.closerange(1, hard if hard != resource.RLIM_INFINITY else 1 << 20)
    if headroom is not None:
        limit_memory(headroom)
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, hard))


def read_frame(fd: int) -> bytes | None:
    """One frame from ``fd``; None at end of file. The worker writes a frame at once and waits
    for the answer before it writes another, so a first read of up to :data:`FIRST_READ` bytes
    takes the header and (for a job) the whole frame in one system call."""
    received = _read_at_least(fd, HEADER.size, FIRST_READ)
    if received is None:
        return None
    (size,) = HEADER.unpack_from(received)
    body = received[HEADER.size :]
    if len(body) >= size:
        return body[:size]
    rest = _read_at_least(fd, size - len(body), 0)
    return None if rest is None else body + rest


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def _read_at_least(fd: int, size: int, first: int) -> bytes | None:
    """At least ``size`` bytes from ``fd`` (the first read asks for up to ``first``); None at
    end of file."""
    chunks, missing = [], size
    ask = max(size, first)
    while missing > 0:
        chunk = os.read(fd, min(ask, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
        ask = missing
    return b"".join(chunks)


def load_store(graph: str, ontology: str, data_graph: str, ontology_graph: str) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=graph, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(data_graph))
    if ontology:
        store.bulk_load(
            path=ontology, format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(ontology_graph)
        )
    releases = os.path.join(os.path.dirname(graph), RELEASES_NQ.name)
    if os.path.isfile(releases):  # kg build --git: each release a named graph, and history
        store.bulk_load(path=releases, format=ox.RdfFormat.N_QUADS)
        store.clear_graph(ox.DefaultGraph())  # the newest release again: it is data_graph
    return store


def default_graphs(store: ox.Store, data_graph: str) -> tuple[list[str], list[str]] | None:
    """When the store holds releases, the dataset of a query that names none: (the graphs of
    the default graph, every named graph); None: the union of all, as without releases.

    The publication's graphs are named like ``data_graph`` (``urn:nl:ak:graph:…``: data,
    ontology, the releases' description, lineage); the releases' own graphs
    (``urn:nl:ak:release:<tag>``) are named graphs only, so the default graph stays the newest
    release and does not mix every release into one."""
    family = data_graph.rsplit(":", 1)[0] + ":"
    graphs = [graph.value for graph in store.named_graphs()]
    ours = [graph for graph in graphs if graph.startswith(family)]
    return None if len(ours) == len(graphs) else (ours, graphs)


def serve(store: ox.Store, headroom: int, union: tuple[list[str], list[str]] | None = None) -> None:
    """Answer jobs on descriptor 0 until end of file (``union``: :func:`default_graphs`), on
    one thread with :data:`SERVING_STACK` bytes of stack, started once: a thread per job cost
    a dozen system calls (clone, mmap and munmap of its stack, futexes) per lookup.

    The signals sent to the process go to that thread, not to this one, which only waits for
    it: a process killed between two queries (``SIGSEGV``, ``SIGXCPU``, …) then dies in the
    read of the next job, as it did when this thread read the jobs, and never answers one;
    ``SIGINT`` stays here, where Python handles it."""
    write_frame(0, READY)
    try:
        threading.stack_size(min(SERVING_STACK, headroom // 2))
        thread = threading.Thread(target=partial(_serve_jobs, store, headroom, union))
        thread.start()
    except (RuntimeError, MemoryError):  # no room for the stack under RLIMIT_AS
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - {signal.SIGINT})
    thread.join()


def _serve_jobs(store: ox.Store, headroom: int, union: tuple[list[str], list[str]] | None) -> None:
    """The job loop: each job here, or on a thread of its own when its stack must be larger;
    each answer sent with the processor time used so far (:func:`cpu_seconds`)."""
    cpu_limit = CpuLimit()
    while (frame := read_frame(0)) is not None:
        job: dict[str, Any] = pickle.loads(frame)
        cpu_limit.allow(job["timeout"])
        if union is not None and job["dataset"] == "union":
            job["dataset"] = union
        if job["stack"] <= SERVING_STACK:
            outcome = evaluate_job(store, job)
        else:
            outcome = on_own_stack(partial(evaluate_job, store, job), job["stack"], headroom)
        reply = (outcome, cpu_seconds())
        write_frame(0, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def cpu_seconds() -> float:
    """Processor time of this process in the units ``/proc/PID/stat`` gives the web worker
    (``times(2)``: clock ticks), so that the worker can take it as the starting point of the
    next query's without reading ``/proc`` per query."""
    times = os.times()
    return times.user + times.system
