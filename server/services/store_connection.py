"""One exchange with a SPARQL store over kept-alive connections, within a deadline.

Why apart from :mod:`server.services.remote_store`: how a request travels (which connection,
how long it may take, when it turns heavy) is one concern, what it asks and how the answer is
read another. Three things are decided here:

* **Reuse.** A new TCP connection per query adds a handshake (and, for Virtuoso, the accept
  of one of its few HTTP threads) to every lookup; each :class:`Connections` keeps the idle
  connections of its endpoint and hands one to the next request. A request is one write of
  the request line, headers and body (so Nagle's algorithm has nothing to hold back, and the
  store reads it at once; ``http.client.HTTPConnection``'s checks of every header and its two
  writes cost 0.07 ms of the 1.4 ms of processor time a lookup took in the worker); the
  answer is read by :mod:`server.services.store_reply`. A kept connection the store has
  closed meanwhile fails before any answer arrives; the request is then sent once more on a
  new connection (a query changes nothing, so sending it twice is harmless). A forked worker
  (gunicorn preloads the application) forgets the connections of the process it was copied
  from.
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

Nothing here follows a redirect or uses a proxy: the server contacts the configured URL only.
"""

from __future__ import annotations

import http.client
import math
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.message import Message
from functools import cached_property

from server.services.admission import ClientBusy, ServerBusy
from server.services.store_reply import DeadlinePassed, Head, media_type, receive, send

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


class _Partial(DeadlinePassed):
    """Virtuoso stopped the query at the ``timeout`` it was sent (``X-SQL-State: S1TAT``)."""


@dataclass(frozen=True)
class Reply:
    """A store's answer: status, headers, body (read whole, within the byte cap)."""

    status: int
    reason: str
    headers: Head | Message
    body: bytes

    @cached_property
    def media_type(self) -> str:
        return media_type(self.headers)


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
        self.port = split.port or (443 if self.https else 80)
        self.target = urllib.parse.urlunsplit(("", "", split.path or "/", split.query, ""))
        host = split.netloc.rpartition("@")[2]
        if not all("!" <= character <= "~" for character in self.target + host):
            raise ValueError(f"{endpoint!r}: a space, control or non-ASCII character in the URL")
        #: What every request starts with: its line and the headers that never change.
        self._head = (
            f"POST {self.target} HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            "Accept-Encoding: identity\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        ).encode("ascii")
        self._tls = ssl.create_default_context() if self.https else None
        #: Never rebound: the finalizer closes what it holds when this object goes.
        self._idle: list[socket.socket] = []
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
            reply, keep = self._closing_on_failure(connection, exchange, store_deadline, gate)
        except _STALE:
            if not reused:
                raise
            connection, _ = self._checkout(exchange.deadline, fresh=True)
            reply, keep = self._closing_on_failure(connection, exchange, store_deadline, gate)
        self._checkin(connection, keep)
        return reply

    def _closing_on_failure(
        self,
        connection: socket.socket,
        exchange: Exchange,
        store_deadline: float,
        gate: _Gate | None,
    ) -> tuple[Reply, bool]:
        try:
            return self._exchange(connection, exchange, store_deadline, gate)
        except BaseException:
            connection.close()  # mid-answer or timed out: never reused; the store sees it go
            raise

    def _exchange(
        self,
        sock: socket.socket,
        exchange: Exchange,
        store_deadline: float,
        gate: _Gate | None,
    ) -> tuple[Reply, bool]:
        """The answer, and whether the connection may carry the next request."""
        milliseconds = max(1, math.floor((store_deadline - time.monotonic()) * 1000))
        body = exchange.data + b"&timeout=%d" % milliseconds
        head = f"Accept: {exchange.accept}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        send(sock, self._head + head + body, exchange.deadline)
        if gate is not None:
            gate.wait(sock, exchange, store_deadline)
        answer, keep = receive(sock, exchange.deadline, exchange.max_bytes)
        if answer.headers.get("X-SQL-State", "").strip() == _PARTIAL:
            raise _Partial  # Virtuoso stopped it at its timeout and answered what it had
        reply = Reply(answer.status, answer.reason, answer.headers, b"".join(answer.chunks))
        return reply, keep

    def _checkout(self, deadline: float, fresh: bool = False) -> tuple[socket.socket, bool]:
        with self._lock:
            if self._pid != os.getpid():  # a forked copy: the parent's sockets are not ours
                _close_all(self._idle)  # (closing our copies leaves the parent's open)
                self._pid = os.getpid()
            if self._idle and not fresh:
                return self._idle.pop(), True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlinePassed
        sock = socket.create_connection((self.host, self.port), remaining)
        try:
            # one write a request; small answers are not held back on our side either
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
            sock.setblocking(False)  # waited on with poll (store_reply), only when needed
        except BaseException:
            sock.close()
            raise
        return sock, False

    def _checkin(self, connection: socket.socket, keep: bool) -> None:
        with self._lock:
            if keep and self._pid == os.getpid() and len(self._idle) < KEEP:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()
        _close_all(idle)


def _close_all(connections: list[socket.socket]) -> None:
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


def _readable(sock: socket.socket, until: float) -> bool:
    """Whether the store has sent something (or hung up) before ``until`` (``poll``: a worker
    may hold more than ``select``'s 1,024 descriptors)."""
    remaining = until - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(math.ceil(remaining * 1000)))
