"""One answer of a SPARQL store read off its socket, within a deadline and a byte cap.

Why apart from :mod:`server.services.store_connection`: which connection a request travels on,
how long it may take and when it turns heavy is one concern; reading what comes back as HTTP
another. The answer is read by httptools (Node's llhttp, in C: chunks, lengths, whether the
store keeps the connection), fed from the socket as its bytes arrive. The standard library's
``http.client.HTTPResponse`` read it before: its reading of an answer (``email``'s parser of
the head, over a file of the socket) took 29 µs for a DESCRIBE's answer already in memory,
httptools 11 µs. As there, an interim ``1xx`` answer is passed over, and an answer without a
length or chunks ends when the store closes the connection; a head has at most
:data:`HEAD_BYTES` and :data:`HEAD_FIELDS` fields. The whole answer must arrive before the
deadline (every read waits at most the time left), and a body over the cap (or that says it
will be) is refused before more of it is read.

The socket is non-blocking and waited on with ``poll`` only when it has nothing to give: one
write of the request, one wait and one read of a short answer. With a timeout on the socket
(``settimeout``) Python polled before every send and receive and switched the socket's mode
twice a request, eight system calls for three, each letting the worker's other threads take
the interpreter. The head's fields are kept in a :class:`Head` (a dict by lower-case name),
not an ``email`` message: Virtuoso's answer to a lookup is read in about 40 % less time
(24-32 µs instead of 40-44 µs on a busy machine, the best of 7 × 2,000).
"""

from __future__ import annotations

import http.client
import math
import select
import socket
import ssl
import time
from email.message import Message

import httptools

#: Bytes read from the socket at a time.
CHUNK = 1 << 16
#: Bytes and fields an answer's head may have (a store's has a few hundred bytes;
#: ``http.client`` allowed 100 fields of at most 64 KiB each).
HEAD_BYTES = 1 << 16
HEAD_FIELDS = 100


class DeadlinePassed(TimeoutError):
    """The answer (or all of it) did not arrive before the deadline."""


class AnswerOverCap(ValueError):
    """The answer has more bytes than the caller allows."""


class Head(dict[str, str]):
    """An answer's header fields by lower-case name (the first of a name that comes twice, as
    ``email.message.Message.get`` gives); ``get`` takes a name in any case."""

    def get(self, name: str, default: str = "") -> str:  # type: ignore[override]
        return super().get(name.lower(), default)


def media_type(headers: Head | Message) -> str:
    """The ``Content-Type`` without its parameters, in lower case; ``text/plain`` when there is
    none or it is not ``type/subtype`` (``email.message.Message.get_content_type``)."""
    value = headers.get("Content-Type", "")
    if not value:
        return "text/plain"
    kind = value.partition(";")[0].strip().lower()
    return kind if kind.count("/") == 1 else "text/plain"


def wait(sock: socket.socket, events: int, deadline: float) -> None:
    """Until ``sock`` is ready for ``events`` (or hung up); :class:`DeadlinePassed` when
    ``deadline`` comes first."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        poller = select.poll()
        poller.register(sock, events)
        if poller.poll(math.ceil(remaining * 1000)):
            return
    raise DeadlinePassed


def send(sock: socket.socket, data: bytes, deadline: float) -> None:
    """All of ``data`` written to the non-blocking ``sock`` before ``deadline``."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
        except (BlockingIOError, ssl.SSLWantWriteError):
            wait(sock, select.POLLOUT, deadline)
        except ssl.SSLWantReadError:  # (TLS: the other side's turn first)
            wait(sock, select.POLLIN, deadline)


def read(sock: socket.socket, deadline: float) -> bytes:
    """What the non-blocking ``sock`` has (at most :data:`CHUNK` bytes; empty: closed), waiting
    until ``deadline`` at most when it has nothing yet."""
    events = select.POLLIN
    while True:
        if events != select.POLLIN or not _buffered(sock):
            wait(sock, events, deadline)
        try:
            return sock.recv(CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError):
            events = select.POLLIN
        except ssl.SSLWantWriteError:  # (TLS: the other side waits for us first)
            events = select.POLLOUT


def _buffered(sock: socket.socket) -> bool:
    """Whether TLS holds bytes it already read (``poll`` cannot see them)."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


class Answer:
    """What httptools reports of one answer (its callbacks): an interim ``1xx`` answer is
    forgotten when it ends."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.reason = ""
        self.headers = Head()
        self.fields = 0  # of its head
        self.chunks: list[bytes] = []
        self.size = 0
        self.head = False  # its head read
        self.length = -1  # its Content-Length, if it has a valid one
        self.head_bytes = 0  # of its fields
        self.complete = False
        self.keep = False  # the connection may carry the next request
        self._reason = b""

    def on_message_begin(self) -> None:
        self.keep = False  # (bytes after a whole answer: the connection carries nothing else)

    def on_status(self, status: bytes) -> None:
        self._reason += status  # (it may come in parts)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value)
        self.fields += 1
        self.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.reason = self._reason.decode("latin-1").strip()
        self.head = self.status >= 200
        self._reason = b""
        length = self.headers.get("Content-Length", "").strip()
        self.length = int(length) if length.isdigit() else -1

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.size += len(body)

    def on_message_complete(self) -> None:
        if self.head:
            self.complete = True
            self.keep = self.parser.should_keep_alive()  # (read before the parser resets)
        else:  # an interim answer (``100 Continue``, ``103 Early Hints``): the next one counts
            self.headers = Head()
            self.fields = 0

    def until_closed(self) -> bool:
        """Whether the body ends where the store closes the connection (no length, no
        chunks)."""
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        return "content-length" not in self.headers and not chunked


def receive(sock: socket.socket, deadline: float, max_bytes: int) -> tuple[Answer, bool]:
    """The answer on the non-blocking ``sock``, until the deadline and at most ``max_bytes``
    of body (every wait ends at the deadline); and whether the connection may carry the next
    request."""
    answer = Answer()
    received = 0
    while not answer.complete:
        data = read(sock, deadline)
        if not data:
            _closed(answer, received)
            return answer, False
        received += len(data)
        try:
            answer.parser.feed_data(data)
        except httptools.HttpParserError as error:
            if answer.complete:  # bytes after a whole answer: the connection is not reused
                return answer, False
            raise http.client.HTTPException(f"the store's answer is not HTTP: {error}") from None
        _check_size(answer, received, max_bytes)
    return answer, answer.keep


def _closed(answer: Answer, received: int) -> None:
    """The store closed the connection: the end of a body without a length, else a failure
    (before any answer: a kept connection the store closed meanwhile)."""
    if not received:
        raise http.client.RemoteDisconnected("the store closed the connection without an answer")
    if not (answer.head and answer.until_closed()):
        raise http.client.IncompleteRead(b"".join(answer.chunks))
    answer.complete = True


def _check_size(answer: Answer, received: int, max_bytes: int) -> None:
    """:class:`AnswerOverCap` for a body over ``max_bytes`` (or that says it will be); an
    ``HTTPException`` for a head over the limits (also one still arriving)."""
    if (
        answer.head_bytes > HEAD_BYTES
        or answer.fields > HEAD_FIELDS
        or (not answer.head and received > HEAD_BYTES)
    ):
        raise http.client.HTTPException(
            f"the store's answer has a head of more than {HEAD_BYTES} bytes or {HEAD_FIELDS} fields"
        )
    if answer.size > max_bytes or answer.length > max_bytes:
        raise AnswerOverCap(f"the answer has more than {max_bytes} bytes")
