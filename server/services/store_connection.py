"""One exchange with a SPARQL store over kept-alive connections, within a deadline.

Why apart from :mod:`server.services.remote_store`: how a request travels (which connection,
how long it may take, when it turns heavy) is one concern, what it asks and how the answer is
read another. Three things are decided here:

* **Reuse.** A new TCP connection per query adds a handshake (and, for Virtuoso, the accept
  of one of its few HTTP threads) to every lookup; each :class:`Connections` keeps the idle
  connections of its endpoint and hands one to the next request. A kept connection the store
  has closed meanwhile fails before any answer arrives; the request is then sent once more
  on a new connection (a query changes nothing, so sending it twice is harmless). A forked
  worker (gunicorn preloads the application) forgets the connections of the process it was
  copied from.
* **The deadline.** The whole answer must arrive before it (not each read): every wait on the
  socket is bounded by the time left, and the deadline is passed to the store as the
  ``timeout`` parameter in milliseconds (Virtuoso stops the query then; Oxigraph server
  ignores the parameter). Virtuoso does not fail a query it stopped: it answers ``200`` with
  what it had, marked ``X-SQL-State: S1TAT``; that is a timeout here, never an answer. On our
  timeout the connection is closed, never reused.
* **Heavy queries** (``/sparql`` only): an answer not there after ``cheap_seconds`` of wall
  time (the store's processor time cannot be seen from here) makes the query heavy, and it
  needs a slot of the admission (:mod:`server.services.admission`) to go on. Wall time
  counts the store's queueing too, so a query without a slot is refused (the admission's
  ``429`` / ``503``) only when it is still unanswered :data:`GRACE_SECONDS` after it was
  sent: a lookup slowed by a loaded store is answered, not refused, and a slot is never
  waited for. A refused query must not go on in the store (Virtuoso does not stop a query
  whose client went away, and kept four heavy ones running, every HTTP thread it had): so
  a query that finds no slot free when it is sent is given the grace as its ``timeout``;
  when Virtuoso stops it there, it is sent once more, with a slot and the time left. One
  that finds a slot free holds it from the start (for a cheap one, a few milliseconds) and
  is sent once, with all its time. (Oxigraph server ignores the parameter and goes on with a
  query after its client has gone: only its operator's limits bound that.)

Nothing here follows a redirect or uses a proxy (``http.client`` does neither): the server
contacts the configured URL only.
"""

from __future__ import annotations

import http.client
import math
import os
import select
import socket
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message

from server.services.admission import ClientBusy, ServerBusy

#: Bytes read from the socket at a time.
CHUNK = 1 << 16
#: Seconds a heavy query without a slot may still take before it is refused.
GRACE_SECONDS = 2.0
#: Idle connections kept per endpoint and process (a worker's threads share them).
KEEP = 8
#: Virtuoso's mark of an answer cut short at the ``timeout`` it was given.
_PARTIAL = "S1TAT"
#: What a kept connection the store closed meanwhile fails with, before any answer.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)

#: The admission of a ``/sparql`` query: a ticket for a slot, or it raises 429 / 503.
Admit = Callable[[], AbstractContextManager[object]]


class DeadlinePassed(TimeoutError):
    """The answer (or all of it) did not arrive before the deadline."""


class _Partial(DeadlinePassed):
    """Virtuoso stopped the query at the ``timeout`` it was sent (``X-SQL-State: S1TAT``)."""


class AnswerOverCap(ValueError):
    """The answer has more bytes than the caller allows."""


@dataclass(frozen=True)
class Reply:
    """A store's answer: status, headers, body (read whole, within the byte cap)."""

    status: int
    reason: str
    headers: Message
    body: bytes

    @property
    def media_type(self) -> str:
        return self.headers.get_content_type()


@dataclass(frozen=True)
class Exchange:
    """One request: its form body, what it accepts, and its limits."""

    data: bytes
    accept: str
    deadline: float
    max_bytes: int
    #: ``/sparql``: the admission (a slot taken when one is free as it is sent, else asked
    #: for once it turns heavy); None: never heavy (the server's own queries).
    admit: Admit | None = None
    cheap_seconds: float = 0.0


class Connections:
    """The kept-alive connections of one store endpoint, in this process."""

    def __init__(self, endpoint: str) -> None:
        split = urllib.parse.urlsplit(endpoint)
        self.https = split.scheme == "https"
        self.host = split.hostname or ""
        self.port = split.port
        self.target = urllib.parse.urlunsplit(("", "", split.path or "/", split.query, ""))
        #: Never rebound: the finalizer closes what it holds when this object goes.
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        weakref.finalize(self, _close_all, self._idle)

    def post(self, exchange: Exchange) -> Reply:
        """``exchange`` sent and its answer read; :class:`DeadlinePassed`,
        :class:`AnswerOverCap`, the admission's refusal, or ``OSError`` /
        ``http.client.HTTPException`` for a store that cannot be reached or talked to."""
        if exchange.admit is None:
            return self._post(exchange, exchange.deadline, None)
        gate = _Gate(exchange.admit)
        try:
            if gate.take():  # a slot is free: the query may have all its time at once
                return self._post(exchange, exchange.deadline, None)
            # Else the store is first given the grace only: a heavy query it stops then
            # leaves nothing running there when it is refused here.
            grace = min(exchange.deadline, time.monotonic() + GRACE_SECONDS)
            try:
                return self._post(exchange, grace, gate)
            except _Partial:
                if time.monotonic() >= exchange.deadline:
                    raise
            gate.require()  # heavy: raises 429 / 503 without a slot
            return self._post(exchange, exchange.deadline, None)  # the rest of the time
        finally:
            gate.release()

    def _post(self, exchange: Exchange, store_deadline: float, gate: _Gate | None) -> Reply:
        """One request (sent again on a new connection when a kept one turns out closed)."""
        connection, reused = self._checkout(exchange.deadline)
        try:
            reply = self._closing_on_failure(connection, exchange, store_deadline, gate)
        except _STALE:
            if not reused:
                raise
            connection, _ = self._checkout(exchange.deadline, fresh=True)
            reply = self._closing_on_failure(connection, exchange, store_deadline, gate)
        self._checkin(connection, reply)
        return reply

    def _closing_on_failure(
        self,
        connection: http.client.HTTPConnection,
        exchange: Exchange,
        store_deadline: float,
        gate: _Gate | None,
    ) -> Reply:
        try:
            return self._exchange(connection, exchange, store_deadline, gate)
        except BaseException:
            connection.close()  # mid-answer or timed out: never reused; the store sees it go
            raise

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        exchange: Exchange,
        store_deadline: float,
        gate: _Gate | None,
    ) -> Reply:
        milliseconds = max(1, math.floor((store_deadline - time.monotonic()) * 1000))
        body = exchange.data + f"&timeout={milliseconds}".encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": exchange.accept,
        }
        _bound(connection, exchange.deadline)
        if connection.sock is None:
            connection.connect()
            assert connection.sock is not None
            # headers and body go in two writes: without this, Nagle's algorithm holds the
            # second until the store acknowledges the first (1 ms of a 5 ms lookup)
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.request("POST", self.target, body, headers)
        sock = connection.sock  # getresponse forgets it when the store closes after
        assert sock is not None
        if gate is not None:
            gate.wait(sock, exchange, store_deadline)
        if not _readable(sock, exchange.deadline):
            raise DeadlinePassed
        _bound(connection, exchange.deadline)
        response = connection.getresponse()
        payload = _read(response, sock, exchange)
        if response.headers.get("X-SQL-State", "").strip() == _PARTIAL:
            raise _Partial  # Virtuoso stopped it at its timeout and answered what it had
        return Reply(response.status, response.reason, response.headers, payload)

    def _checkout(
        self, deadline: float, fresh: bool = False
    ) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._pid != os.getpid():  # a forked copy: the parent's sockets are not ours
                _close_all(self._idle)  # (closing our copies leaves the parent's open)
                self._pid = os.getpid()
            if self._idle and not fresh:
                return self._idle.pop(), True
        seconds = max(0.001, deadline - time.monotonic())
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=seconds), False
        return http.client.HTTPConnection(self.host, self.port, timeout=seconds), False

    def _checkin(self, connection: http.client.HTTPConnection, reply: Reply) -> None:
        closing = reply.headers.get("Connection", "").lower() == "close"
        with self._lock:
            if not closing and self._pid == os.getpid() and len(self._idle) < KEEP:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()
        _close_all(idle)


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    idle = list(connections)
    connections.clear()
    for connection in idle:
        connection.close()


class _Gate:
    """The admission of one ``/sparql`` query: its slot, taken when one is free, asked for
    when the query runs long."""

    def __init__(self, admit: Admit) -> None:
        self.admit = admit
        self.ticket: AbstractContextManager[object] | None = None

    def wait(self, sock: socket.socket, exchange: Exchange, grace: float) -> None:
        """Until the answer starts to arrive within ``cheap_seconds`` (cheap: nothing asked),
        or a slot is had; without one, until ``grace``, when the query is refused (429 / 503)
        if it is still unanswered. The store's wall time includes its waiting for a busy
        processor: a lookup slowed by a loaded store is answered, not refused."""
        cheap = min(exchange.deadline, time.monotonic() + exchange.cheap_seconds)
        if _readable(sock, cheap):
            return
        if not self.take() and not _readable(sock, grace):
            self.require()  # still no slot: raises

    def take(self) -> bool:
        """A slot, if one is free now."""
        try:
            self.require()
        except (ClientBusy, ServerBusy):
            return False
        return True

    def require(self) -> None:
        """A slot held from now on, or the admission's 429 / 503."""
        if self.ticket is None:
            ticket = self.admit()
            ticket.__enter__()
            self.ticket = ticket

    def release(self) -> None:
        ticket, self.ticket = self.ticket, None
        if ticket is not None:
            ticket.__exit__(None, None, None)


def _bound(connection: http.client.HTTPConnection, deadline: float) -> None:
    """The next waits on ``connection`` end at ``deadline`` at the latest."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlinePassed
    connection.timeout = remaining
    if connection.sock is not None:
        connection.sock.settimeout(remaining)


def _readable(sock: socket.socket, until: float) -> bool:
    """Whether the store has sent something (or hung up) before ``until`` (``poll``: a worker
    may hold more than ``select``'s 1,024 descriptors)."""
    remaining = until - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(math.ceil(remaining * 1000)))


def _read(response: http.client.HTTPResponse, sock: socket.socket, exchange: Exchange) -> bytes:
    """The body, until the deadline and at most ``max_bytes``: every read waits at most the
    time left."""
    if response.length is not None and response.length > exchange.max_bytes:
        raise AnswerOverCap(f"the answer has more than {exchange.max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = exchange.deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed
        sock.settimeout(remaining)
        chunk = response.read1(CHUNK)
        size += len(chunk)
        if size > exchange.max_bytes:
            raise AnswerOverCap(f"the answer has more than {exchange.max_bytes} bytes")
        chunks.append(chunk)
        if not chunk or response.length == 0:
            response.close()  # all of it read: the connection may carry the next request
            return b"".join(chunks)
