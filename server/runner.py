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
whole header block is there (:class:`Worker` reads it there, where gunicorn would give a new
connection a thread for up to 5 s, and a thread reads the rest of a started request blocking,
without a time limit: 16 connections with half-sent headers left 2 of 5 health probes
unanswered); idle ones are closed after the keep-alive time, ones whose headers are not
complete :data:`HEADER_SECONDS` after their first bytes too. A slow query holds one thread,
not the worker. Not the async workers (gevent, eventlet): the engine's queries and page
rendering are blocking C calls, which would stall every connection of the worker. A client
that sends its body slowly still holds one thread while it does; a buffering front (nginx)
takes those off the workers. Threads rule out forking a child
per query (a fork may copy a lock another thread holds), which the query lane never does
(:mod:`server.services.pool`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import selectors
import socket
import sys
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import TConn

from kg.config import Settings
from kg.manifest import MANIFEST
from server import create_app
from server.access_log import AccessLogger
from server.balance import BalancedWorker, Seating
from server.kept_lane import KeptLane, Sending
from server.services.dataset import current_dataset
from server.services.kept_files import EXTENSION as KEPT_FILES
from server.services.pool import prestart_lane
from server.services.query import MEMORY_HEADROOM

if TYPE_CHECKING:
    from kg.cli import Builder, Command

EXIT_ERROR = 2


#: Seconds a client has to send the rest of a request's header block once its first bytes are
#: there; a client that trickles its headers (slowloris) is closed then, having held no thread.
HEADER_SECONDS = 10.0
#: Bytes a header block may have: a larger one is refused (``431``) in the poller, as a thread
#: would read the rest of it without a time limit (nginx allows 32 KiB by default).
HEADER_BYTES = 64 * 1024
_TOO_LARGE_BODY = b"the request headers are too large\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_TOO_LARGE_BODY), _TOO_LARGE_BODY)
)
#: Seconds a client reading a kept answer may take no bytes before it is closed (nginx's
#: ``send_timeout``).
SEND_SECONDS = 60.0
#: How a header block ends (HTTP/1.x; gunicorn refuses a bare line feed itself).
_HEADER_ENDS = (b"\r\n\r\n", b"\n\n")


class _Connection(TConn):  # type: ignore[misc]
    """A connection and the bytes of its next request read so far by the poller, handed to
    gunicorn's parser when a thread takes the connection up."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(cfg, sock, client, server)
        self.early = b""
        #: A kept answer the poller is sending (:mod:`server.kept_lane`), if any.
        self.sending: Sending | None = None

    def init(self) -> None:
        super().init()  # makes the parser of a new connection
        self.give_back()

    def give_back(self) -> None:
        """The bytes read so far, put back in front of the parser's input."""
        if self.parser is not None and self.early:
            self.parser.unreader.unread(self.early)
            self.early = b""

    def header_complete(self) -> bool:
        return any(end in self.early[: HEADER_BYTES + 4] for end in _HEADER_ENDS)


class Worker(BalancedWorker):
    """gunicorn's threaded worker, spreading connections evenly (:mod:`server.balance`), but a
    connection waits in the poller (no thread) until it has sent the whole header block of its
    request: a new one is closed after the keep-alive time if it sends nothing, and any one
    :data:`HEADER_SECONDS` after its request's first bytes if its headers are not complete by
    then. gunicorn would give a new connection a thread for up to 5 s, and a thread that has
    bytes of a request reads the rest blocking, without a time limit: 16 half-sent headers
    left 2 of 5 health probes unanswered."""

    lane: KeptLane | None = None

    def load_wsgi(self) -> None:
        """The application, and the lane of its kept answers (:mod:`server.kept_lane`)."""
        super().load_wsgi()
        kept = getattr(self.wsgi, "extensions", {}).get(KEPT_FILES)
        if kept is not None:
            self.lane = KeptLane(kept, self.cfg, self.log)

    def accept(self, listener: socket.socket) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.took_one()
        connection = _Connection(self.cfg, client, address, listener.getsockname())
        connection.timeout = time.monotonic() + self.cfg.keepalive  # non-blocking socket
        self._wait_for_headers(connection)

    def on_client_socket_readable(self, connection: _Connection, client: socket.socket) -> None:
        """A kept-alive connection sends its next request: read in the poller as well (its
        registration given the new callback in place: no system call, where unregistering
        and registering again took two per request)."""
        self.keepalived_conns.remove(connection)
        self.pending_conns.append(connection)
        self.poller.modify(client, selectors.EVENT_READ, partial(self._on_bytes, connection))
        self._on_bytes(connection, client)

    def _wait_for_headers(self, connection: _Connection) -> None:
        self.pending_conns.append(connection)
        self.poller.register(
            connection.sock, selectors.EVENT_READ, partial(self._on_bytes, connection)
        )

    def _on_bytes(self, connection: _Connection, client: socket.socket) -> None:
        try:
            chunk = client.recv(HEADER_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:  # the client has gone
            self._drop(connection)
            return
        if not connection.early:
            connection.timeout = time.monotonic() + HEADER_SECONDS
        connection.early += chunk
        if not connection.header_complete() and len(connection.early) > HEADER_BYTES:
            self._refuse(connection, client)
        elif connection.header_complete():
            if self._send_kept(connection):
                return
            self.poller.unregister(client)
            self.pending_conns.remove(connection)
            connection.data_ready = True
            connection.give_back()  # a kept-alive connection has its parser already
            self.enqueue_req(connection)

    def _send_kept(self, connection: _Connection) -> bool:
        """Answer the request from the poller if its answer is kept (:mod:`server.kept_lane`)
        and the connection may be kept alive after it, as gunicorn would decide."""
        if self.lane is None or not self.alive or not self.cfg.keepalive:
            return False
        if len(self.keepalived_conns) >= self.max_keepalived or self.nr + 1 >= self.max_requests:
            return False
        sending = self.lane.start(connection.early, connection.client)
        if sending is None:
            return False
        self.nr += 1
        connection.early, connection.sending = b"", sending
        self._push(connection)
        return True

    def _push(self, connection: _Connection, *_: Any) -> None:
        """Send on; when all is sent, wait for the connection's next request."""
        sending = connection.sending
        assert self.lane is not None and sending is not None
        try:
            sending.push(connection.sock)
        except BlockingIOError:  # the client reads slowly: wait, holding no thread
            connection.timeout = sending.moved + SEND_SECONDS
            self.poller.modify(
                connection.sock, selectors.EVENT_WRITE, partial(self._push, connection)
            )
            return
        except OSError:
            self._drop(connection)
            return
        connection.sending = None
        self.lane.ended(sending)
        if not sending.keep:  # Connection: close
            self._linger(connection)
            return
        self.pending_conns.remove(connection)
        connection.timeout = time.monotonic() + self.cfg.keepalive
        self.keepalived_conns.append(connection)
        self.poller.modify(
            connection.sock,
            selectors.EVENT_READ,
            partial(self.on_client_socket_readable, connection),
        )

    def _refuse(self, connection: _Connection, client: socket.socket) -> None:
        """``431``, then what the client still sends read and dropped until it closes (or
        its time is up): closing with unread bytes would reset the connection, and the
        client might lose the answer."""
        try:
            client.send(_TOO_LARGE)
        except OSError:
            self._drop(connection)
            return
        self._linger(connection)

    def _linger(self, connection: _Connection) -> None:
        """Close the sending side after an answer that ends the connection, and read and drop
        what the client still sends until it closes too (at most :data:`HEADER_SECONDS`): as
        gunicorn's graceful close, in the poller."""
        try:
            connection.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(connection)
            return
        connection.early = b""
        connection.timeout = time.monotonic() + HEADER_SECONDS
        self.poller.modify(
            connection.sock, selectors.EVENT_READ, partial(self._discard, connection)
        )

    def _discard(self, connection: _Connection, client: socket.socket) -> None:
        try:
            if client.recv(HEADER_BYTES):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._drop(connection)

    def murder_pending(self) -> None:
        """Close every waiting connection past its time (their times are not in order)."""
        now = time.monotonic()
        for connection in [c for c in self.pending_conns if c.timeout <= now]:
            self._drop(connection)

    def _drop(self, connection: _Connection) -> None:
        with contextlib.suppress(OSError, KeyError, ValueError):  # not registered
            self.poller.unregister(connection.sock)
        self.pending_conns.remove(connection)
        self.nr_conns -= 1
        if connection.sending is not None and self.lane is not None:
            self.lane.ended(connection.sending)
            connection.sending = None
        connection.close()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.seating = Seating(settings.workers) if settings.workers > 1 else None
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.settings.host}:{self.settings.port}")
        self.cfg.set("workers", self.settings.workers)
        self.cfg.set("worker_class", Worker)
        self.cfg.set("threads", self.settings.threads)
        # A worker is killed if a request hangs well past the query timeout.
        self.cfg.set("timeout", int(self.settings.query_timeout) + 20)
        self.cfg.set("accesslog", "-")
        self.cfg.set("logger_class", AccessLogger)  # the same lines, cheaper (server.access_log)
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
        self.cfg.set("post_worker_init", _prestart_lane)
        # No control socket (gunicorn 25.1+ opens one at $HOME/.gunicorn/gunicorn.ctl by
        # default): every server of a machine would share that one path (a second server took
        # it over and the first one's exit removed it), it is a way in beside HTTP, and its
        # thread in the master is stopped and started again around every fork of a worker.
        # Signals (HUP, TTIN, TERM) manage the server, as the README says.
        self.cfg.set("control_socket_disable", True)
        if self.seating is not None:  # connections spread over the workers (server.balance)
            self.cfg.set("pre_fork", self.seating.pre_fork)
            self.cfg.set("child_exit", self.seating.child_exit)

    def load(self) -> Any:
        return create_app(self.settings)


def _prestart_lane(worker: Any) -> None:
    """A new worker starts its query processes at once, not at its first query."""
    app = worker.wsgi
    if app.config["KG_SETTINGS"].store is not None:  # the store answers every query
        return
    with app.app_context():
        prestart_lane(app, current_dataset().path, MEMORY_HEADROOM)


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
    (
        "--store",
        str,
        "SPARQL endpoint of a store 'kg push' loaded: every triple comes from there (KG_STORE)",
    ),
    ("--store-graph", str, "the data's graph in that store (kg push --graph; KG_STORE_GRAPH)"),
)


class Serve:
    """``kg serve [--content DIR | --dist DIR] [--host H] [--port P] [--workers N]
    [--query-timeout S] [--max-rows N] [--threads N] [--max-answer-bytes N]
    [--query-processes N] [--cheap-seconds S] [--heavy-per-client N] [--heavy-total N]
    [--store URL [--store-graph IRI]]``: each flag sets the setting of its name."""

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
