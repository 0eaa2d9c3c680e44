"""``kg serve``: build (unless told to serve an existing publication), then run gunicorn.

The server adds this command to ``kg`` itself: :data:`COMMAND` is registered in the
entry-point group ``algoritmekader_kg.commands`` (``pyproject.toml``) and found by ``kg.cli``,
so the layers stay one-way (the server imports ``kg``, never the reverse). ``kg`` loads this
module only when ``serve`` is asked for (or for the help), so Flask and gunicorn cost a build
nothing.

**Worker model.** gunicorn's sync workers serve one connection at a time: two idle TCP
connections (slowloris) held both workers until the worker timeout, and 16 of 18 health probes
failed over a minute. So the workers are threaded (gunicorn's ``gthread``, ``--threads`` per
worker): a connection waits in the worker's poller, costing no thread, until its request's
first bytes are there (:class:`Worker` puts every new connection there, where gunicorn would
give each a thread for up to 5 s first; idle ones are closed after the keep-alive time), and a
slow query holds one thread, not the worker. Not the async workers (gevent, eventlet): the
engine's queries and page rendering are blocking C calls, which would stall every connection
of the worker. A client that sends its headers or body slowly still holds one thread while it
does; a buffering front (nginx) takes those off the workers. Threads rule out forking a child
per query (a fork may copy a lock another thread holds), which the query lane never does
(:mod:`server.services.pool`).
"""

from __future__ import annotations

import argparse
import errno
import selectors
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn, ThreadWorker

from kg.config import Settings
from kg.manifest import MANIFEST
from server import create_app

if TYPE_CHECKING:
    from kg.cli import Builder, Command

EXIT_ERROR = 2


class Worker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, but a new connection waits in the poller (no thread) until
    it has sent something, and is closed after the keep-alive time if it sends nothing."""

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        connection = TConn(self.cfg, client, address, listener.getsockname())  # non-blocking
        connection.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(connection)
        self.poller.register(
            client, selectors.EVENT_READ, partial(self.on_pending_socket_readable, connection)
        )


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
        self.cfg.set("workers", self.settings.workers)
        self.cfg.set("worker_class", Worker)
        self.cfg.set("threads", self.settings.threads)
        # A worker is killed if a request hangs well past the query timeout.
        self.cfg.set("timeout", int(self.settings.query_timeout) + 20)
        self.cfg.set("accesslog", "-")
        # GET /sparql?query=… up to gunicorn's largest request line; longer queries are POSTed.
        # A longer request line gets gunicorn's own 414; a header field over 8190 bytes, or more
        # than 100 of them, its 431 (server.http_policy refuses the rest of what is odd).
        self.cfg.set("limit_request_line", 8190)
        self.cfg.set("limit_request_field_size", 8190)
        self.cfg.set("limit_request_fields", 100)
        # Preloaded once; each worker then takes up a newer snapshot by itself (at its first
        # request, and when ``dist`` moves: server.services.dataset), so SIGHUP's new workers
        # serve the newest publication too.
        self.cfg.set("preload_app", True)

    def load(self) -> Any:
        return create_app(self.settings)


#: The flags of the worker model and the query lane: flag, type, help.
_LANE_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--threads", int, "threads per worker (default 4; KG_THREADS)"),
    (
        "--max-answer-bytes",
        int,
        "bytes per SPARQL answer at most (default 32 MiB; KG_MAX_ANSWER_BYTES)",
    ),
    (
        "--query-processes",
        int,
        "query processes kept per worker (default 2; KG_QUERY_PROCESSES)",
    ),
    (
        "--cheap-seconds",
        float,
        "processor seconds that make a query heavy (default 0.1; KG_CHEAP_SECONDS)",
    ),
    (
        "--heavy-per-client",
        int,
        "heavy queries per client at a time (default 1; KG_HEAVY_PER_CLIENT)",
    ),
    ("--heavy-total", int, "heavy queries at a time, all workers (default 2; KG_HEAVY_TOTAL)"),
)


class Serve:
    """``kg serve [--content DIR | --dist DIR] [--host H] [--port P] [--workers N]
    [--query-timeout S] [--max-rows N] [--threads N] [--max-answer-bytes N]
    [--query-processes N] [--cheap-seconds S] [--heavy-per-client N] [--heavy-total N]``: each
    flag sets the setting of its name."""

    help = "serve SPARQL, dumps and URN pages over HTTP"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--content",
            type=Path,
            help="content folder to build and serve (default: content/; KG_CONTENT)",
        )
        source.add_argument(
            "--dist", dest="out", type=Path, help="serve this publication folder as it is (KG_DIST)"
        )
        parser.add_argument("--host", help="address to listen on (default 127.0.0.1; KG_HOST)")
        parser.add_argument("--port", type=int, help="port (default 5000; KG_PORT)")
        parser.add_argument("--workers", type=int, help="gunicorn worker processes (KG_WORKERS)")
        parser.add_argument(
            "--query-timeout",
            type=float,
            help="seconds before a SPARQL query is stopped (KG_QUERY_TIMEOUT)",
        )
        parser.add_argument(
            "--max-rows",
            type=int,
            help="result rows per answer at most (default 10000; KG_MAX_ROWS)",
        )
        for flag, kind, text in _LANE_FLAGS:
            parser.add_argument(flag, type=kind, help=text)

    def run(self, settings: Settings, args: argparse.Namespace, build: Builder) -> int:
        return run_server(
            settings, build, serve_existing=args.content is None and args.out is not None
        )


def run_server(settings: Settings, build: Builder, serve_existing: bool) -> int:
    if not serve_existing:
        status = build(settings)
        if status == EXIT_ERROR:
            return status
    if not (settings.out / MANIFEST.name).is_file():
        print(f"kg: {settings.out}: no publication here (run 'kg build' first)", file=sys.stderr)
        return EXIT_ERROR
    print(f"serving {settings.out} on http://{settings.host}:{settings.port}/", flush=True)
    _Gunicorn(settings).run()
    return 0


COMMAND: Command = Serve()
