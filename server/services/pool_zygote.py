"""The zygote of a snapshot's query processes: loads the snapshot once, then forks them.

Each query process used to be a fresh interpreter that loaded the snapshot itself: 0.2 s of
processor time per process on the real corpus and seconds at ×10, spent again for every
process a heavy query, a timeout or a crash retired (two clients looping a heavy query kept a
processor busy reloading), and one copy of the store per process (4 × 65 MiB at ×10). Now the
web worker starts one *zygote* per snapshot (``python -I -c BOOT SERVER-FOLDER GRAPH.nt
ONTOLOGY.ttl DATA-GRAPH ONTOLOGY-GRAPH``, a sequenced-packet socket as its standard input): it
loads the graph and the ontology (:func:`server.services.pool_child.load_store`), freezes what
Python allocated so far (:func:`gc.freeze`, so the collector of a child writes none of those
pages), shuts itself in, says it is ready, and from then on only answers two requests, one at a
time:

* ``fork`` (with one end of a new socket pair passed along, ``SCM_RIGHTS``): a query process is
  forked, about 4 ms, sharing the loaded store page by page (copy on write; queries read it),
  which shuts itself in (:func:`server.services.pool_child.shut_in`: the passed socket as its
  only descriptor, memory, processor and file limits) and serves jobs; the zygote answers its
  process id;
* ``reap``: the zygote waits for that child (which the worker killed, or saw end) and answers
  its exit code (minus the signal that ended it). Only then can the id be taken by another
  process, so the worker may signal the child by id until it asks for this.

The zygote itself runs no query: it is single-threaded (the store loads on this thread and
keeps none), so a fork copies no lock another thread holds. It needs no file and no network
once loaded: every descriptor but its socket is closed and ``RLIMIT_NOFILE`` is 3 (its socket
and a passed one), no core file. It ends at the end of file on its socket: the worker retired
it (a newer snapshot) or is gone.

:data:`BOOT` imports this module without running ``server/__init__.py``: the zygote imports
only the standard library, pyoxigraph and :mod:`kg.bounded`, not the web application.
"""

from __future__ import annotations

import gc
import os
import socket
import struct

import pyoxigraph as ox

from server.services.pool_child import READY, default_graphs, load_store, serve, shut_in

#: The zygote's program: ``server`` as a bare package of the folder given (its ``__init__``
#: would import Flask and every route), then :func:`main`.
BOOT = (
    "import sys, types\n"
    "package = types.ModuleType('server')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['server'] = package\n"
    "from server.services.pool_zygote import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
#: A request: ``F`` and the new process's memory headroom in bytes, or ``R`` and a child's id.
REQUEST = struct.Struct("!cQ")
FORK, REAP = b"F", b"R"
#: An answer: a process id (``fork``), an exit code (``reap``), or :data:`UNKNOWN`.
REPLY = struct.Struct("!q")
#: The reply to a ``reap`` of a process the zygote has no child by that id (never, when the
#: worker keeps its books).
UNKNOWN = -(1 << 62)
#: The dataset of a query that names none (:func:`server.services.pool_child.default_graphs`).
Graphs = tuple[list[str], list[str]] | None
#: Descriptors the zygote may hold: its socket and one passed to it.
ZYGOTE_FILES = 3


def main(args: list[str]) -> int:
    """``args``: the server package's folder (see :data:`BOOT`), the graph, the ontology (or
    ""), the names of the two graphs."""
    graph, ontology, data_graph, ontology_graph = args[1:5]
    store = load_store(graph, ontology, data_graph, ontology_graph)
    union = default_graphs(store, data_graph)
    channel = socket.socket(fileno=0)
    shut_in(0, None, ZYGOTE_FILES)  # its socket, and room for one passed to it
    gc.freeze()
    channel.send(READY)
    while True:
        try:
            message, passed, _, _ = socket.recv_fds(channel, REQUEST.size, 1)
        except ConnectionError:
            message, passed = b"", []
        if len(message) != REQUEST.size:  # end of file (or nonsense): the worker is done
            os._exit(0)  # the store is not freed page by page on the way out
        kind, value = REQUEST.unpack(message)
        if kind == FORK and len(passed) == 1:
            reply = _fork(passed[0], value, store, union)
        else:
            for descriptor in passed:
                os.close(descriptor)
            reply = _reap(value) if kind == REAP else UNKNOWN
        channel.send(REPLY.pack(reply))


def _fork(descriptor: int, headroom: int, store: ox.Store, union: Graphs) -> int:
    """A query process serving jobs on ``descriptor``; its id (here, where it was passed, the
    descriptor is closed)."""
    pid = os.fork()
    if pid == 0:  # the query process: never returns into the zygote's loop
        code = 1
        try:
            shut_in(descriptor, headroom)
            serve(store, headroom, union)
            code = 0
        finally:
            os._exit(code)
    os.close(descriptor)
    return pid


def _reap(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return UNKNOWN
    return os.waitstatus_to_exitcode(status)
