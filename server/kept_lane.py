"""Kept answers sent by the worker's poller itself: published files and kept pages at the
speed of the kernel.

:class:`server.services.kept_files.KeptFiles` answers a plain request for a published file
or a kept page with the status and headers the application gave the first request of its
kind, without Flask. Measured with ``bench/dumps.py``, what was left was gunicorn's own Python
around it, about 0.4 ms of CPU a request against nginx's 0.1: a thread taken from the pool
and given back (futures, a wake-up pipe, the poller entry), a request parser written in
Python, a WSGI environment of some forty entries, the response's header checks, the access
line.

So the worker's poller, which already reads each request's header block before a thread takes
the connection (:class:`server.runner.Worker`), asks first whether the block is a plain request
whose answer is kept, and if so sends it there: the head from the kept headers, then the file
with ``sendfile`` (a page's body goes with the head). A socket that cannot take more waits in
the poller (a slow reader holds no thread); then the connection waits for its next request.
Anything else goes to gunicorn and the application as before, so the lane only ever answers
with what the application itself answered.

The header block is parsed with httptools (Node's llhttp, in C: about 2 µs a request) and the
lane takes only what gunicorn would read the same way: exactly one complete ``GET`` or ``HEAD``
in HTTP/1.1 (with ``Connection: close`` the connection is closed after the answer), an
origin-form path without a query, escapes or dots, no body, no header given twice, none with
an underscore, none that gunicorn reads itself (``Content-Length``, ``Transfer-Encoding``,
``Expect``, ``Upgrade``, ``SCRIPT_NAME``, the forwarding headers but the ``X-Forwarded-For``
and ``X-Forwarded-Proto`` of nginx in front). The answer's head is the one gunicorn writes
(status line, ``Server``, ``Date``, ``Connection``, then the kept headers as gunicorn filters
them), and the access line goes through gunicorn's logger (:mod:`server.access_log`) with the
values its format reads, the bytes of the body counted.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

import httptools
from gunicorn import SERVER
from gunicorn.util import is_hoppish

from server.access_log import Sent

if TYPE_CHECKING:
    from server.services.kept_files import KeptAnswer, KeptFiles

#: The longest header block the lane parses; a longer one goes to gunicorn's checks.
HEAD_BYTES = 4096
#: Headers gunicorn reads itself, or that make a request other than a plain one.
NOT_PLAIN = frozenset(
    {
        "CONTENT-LENGTH",
        "TRANSFER-ENCODING",
        "EXPECT",
        "UPGRADE",
        "HTTP2-SETTINGS",
        "FORWARDED",
        # gunicorn refuses a request whose scheme headers disagree: one of them (nginx's
        # X-Forwarded-Proto, deploy/) may come, not these beside it.
        "X-FORWARDED-PROTOCOL",
        "X-FORWARDED-SSL",
        "X-FORWARDED-HOST",
        "X-FORWARDED-PORT",
    }
)
#: ``Connection`` values the lane takes (gunicorn's reading: the first names the answer's).
CONNECTION = ("keep-alive", "close")
#: What gunicorn strips from a header's value.
BLANKS = " \t"
#: Request heads whose reading the lane remembers (then all are forgotten).
HEADS_KEPT = 256
#: Kept answers the lane holds ready (then all are forgotten, their files closed).
READY_KEPT = 256
#: Characters a lane path may have (RFC 3986 ``pchar`` but ``;`` and escapes, and ``/``).
PATH_CHARACTERS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/!$&'()*+,=:@"
)


class _Head:
    """What httptools reports of one request head (its callbacks)."""

    def __init__(self) -> None:
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = 0

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_message_complete(self) -> None:
        self.complete += 1


def plain_environ(data: bytes, script_name: str, most_fields: int) -> dict[str, str] | None:
    """The WSGI entries gunicorn would make of the header block ``data``, if it is a plain
    request the lane may answer (see above); None for anything else."""
    if len(data) > HEAD_BYTES or data.find(b"\r\n\r\n") != len(data) - 4:
        return None  # more than one request, or a bare line feed: gunicorn decides
    head = _Head()
    parser = httptools.HttpRequestParser(head)
    try:
        parser.feed_data(data)
    except (httptools.HttpParserError, httptools.HttpParserUpgrade):
        return None
    method = parser.get_method()
    if head.complete != 1 or method not in (b"GET", b"HEAD") or len(head.headers) > most_fields:
        return None
    if parser.get_http_version() != "1.1":
        return None
    path = head.target.decode("latin-1")
    if not path.startswith(script_name + "/") or not PATH_CHARACTERS.issuperset(path):
        return None
    if "/." in path or "//" in path:
        return None
    environ = _header_entries(head.headers)
    if environ is None:
        return None
    environ.update(
        REQUEST_METHOD=method.decode("ascii"),
        RAW_URI=path,
        PATH_INFO=path[len(script_name) :],
        SCRIPT_NAME=script_name,
        QUERY_STRING="",
        SERVER_PROTOCOL="HTTP/1.1",
    )
    return environ


def _header_entries(headers: list[tuple[bytes, bytes]]) -> dict[str, str] | None:
    """``HTTP_…`` entries (and ``CONTENT_TYPE``) as gunicorn names them; None when a header is
    given twice, has an underscore, is one gunicorn reads itself, or closes the connection."""
    environ: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").upper()
        if "_" in name or name in NOT_PLAIN:
            return None
        key = "CONTENT_TYPE" if name == "CONTENT-TYPE" else "HTTP_" + name.replace("-", "_")
        value = raw_value.decode("latin-1").strip(BLANKS)
        if key in environ or (key == "HTTP_CONNECTION" and value.lower() not in CONNECTION):
            return None
        environ[key] = value
    return environ


@dataclass
class Sending:
    """One kept answer on its way out: the head's bytes left, then the file's (the file is
    the lane's: it is not closed here)."""

    rest: memoryview
    file: int | None
    offset: int
    left: int
    environ: dict[str, str]
    status: str
    started: float
    #: Bytes of the body sent (what gunicorn's access line counts).
    sent: int = 0
    #: Whether the connection is kept alive after the answer (else closed: ``Connection:
    #: close`` was asked for).
    keep: bool = True
    #: When the client last took bytes; one that takes none for the lane's time is dropped.
    moved: float = field(default_factory=time.monotonic)

    def push(self, sock: socket.socket) -> None:
        """Send what the socket takes now, all of it unless ``BlockingIOError`` is raised (the
        caller's to handle: wait until the socket can take more)."""
        while self.rest:
            count = sock.send(self.rest, socket.MSG_MORE if self.left else 0)
            self.rest, self.moved = self.rest[count:], time.monotonic()
        while self.left and self.file is not None:
            count = os.sendfile(sock.fileno(), self.file, self.offset, self.left)
            if count == 0:  # the file is shorter than its answer said: give up the connection
                raise OSError("the file ended early")
            self.offset, self.left, self.sent = (
                self.offset + count,
                self.left - count,
                self.sent + count,
            )
            self.moved = time.monotonic()


@dataclass
class _Ready:
    """A kept answer made ready to send: its head's tail, its length, its file once opened."""

    answer: KeptAnswer
    tail: bytes
    #: The ``Content-Length`` (-1: none).
    length: int
    file: int | None = None


class KeptLane:
    """A worker's lane: finds the kept answer of a request head and starts sending it.

    The files sent are opened once and kept open (opening a file and reading its size were
    three of the eight system calls of an answer); those of an older snapshot are closed once
    the kept answers are of a newer one and no answer is on its way out."""

    def __init__(self, kept: KeptFiles, cfg: Any, log: Any) -> None:
        self.kept = kept
        self.log = log
        self.script_name = os.environ.get("SCRIPT_NAME", "")
        self.most_fields = int(cfg.limit_request_fields)
        #: The access log can be written from the values the lane has (no ``{…}`` values).
        self.loggable = "{" not in cfg.access_log_format
        #: Answers on their way out (files are closed only when none is).
        self.sending = 0
        self._ready: dict[int, _Ready] = {}
        self._generation = -1
        self._retired: list[int] = []
        self._date = (0, "")
        self._heads: dict[bytes, dict[str, str]] = {}

    def start(self, data: bytes, client: Any) -> Sending | None:
        """The kept answer to the request head ``data`` from ``client`` (its address), ready to
        send; None if it has none (or its file is not the one kept: the application answers)."""
        if not self.loggable:
            return None
        environ = self._read(data)
        if environ is None:
            return None
        answer = self.kept.find(environ)
        if answer is None:
            return None
        ready = self._prepared(answer)
        get = environ["REQUEST_METHOD"] == "GET"
        if get and answer.file is not None and ready.file is None:
            ready.file = _opened(answer.file, ready.length)
            if ready.file is None:
                return None
        if isinstance(client, tuple):
            environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = str(client[0]), str(client[1])
        body = answer.body if get and answer.body is not None else b""
        keep = environ.get("HTTP_CONNECTION", "").lower() != "close"
        head = b"HTTP/1.1 %s\r\nServer: %s\r\nDate: %s\r\nConnection: %s\r\n%s%s" % (
            answer.status.encode("latin-1"),
            SERVER.encode("latin-1"),
            self._http_date().encode("latin-1"),
            CONNECTION[not keep].encode("ascii"),
            ready.tail,
            body,
        )
        self.sending += 1
        file, left = (ready.file, ready.length) if get and ready.file is not None else (None, 0)
        return Sending(
            memoryview(head),
            file,
            0,
            left,
            environ,
            answer.status,
            time.time(),
            sent=len(body),  # a page's body goes with the head
            keep=keep,
        )

    def _read(self, data: bytes) -> dict[str, str] | None:
        """:func:`plain_environ` of ``data`` (a copy: the caller adds to it), remembered for
        the same bytes: a client asks for the same file or page with the same head again."""
        read = self._heads.get(data)
        if read is None:
            read = plain_environ(data, self.script_name, self.most_fields)
            if read is None:
                return None
            if len(self._heads) >= HEADS_KEPT:
                self._heads.clear()
            self._heads[data] = read
        return dict(read)

    def ended(self, sending: Sending) -> None:
        """An answer is sent (or its client gone): its access line, through gunicorn's
        logger, with the bytes sent."""
        self.sending -= 1
        self._close_retired()
        took = timedelta(seconds=time.time() - sending.started)
        self.log.access(Sent(sending.status, sending.sent), None, sending.environ, took)

    def _prepared(self, answer: KeptAnswer) -> _Ready:
        if self.kept.generation != self._generation or len(self._ready) >= READY_KEPT:
            self._retire()
            self._generation = self.kept.generation
        ready = self._ready.get(id(answer))
        if ready is None or ready.answer is not answer:
            if ready is not None and ready.file is not None:  # an answer gone, its id reused
                self._retired.append(ready.file)
            ready = _Ready(answer, *_head_tail(answer))
            self._ready[id(answer)] = ready
        return ready

    def _retire(self) -> None:
        self._retired.extend(r.file for r in self._ready.values() if r.file is not None)
        self._ready = {}
        self._close_retired()

    def _close_retired(self) -> None:
        if self._retired and self.sending == 0:
            for file in self._retired:
                os.close(file)
            self._retired = []

    def _http_date(self) -> str:
        """The ``Date`` header's value (gunicorn's format), made once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, localtime=False, usegmt=True))
        return self._date[1]


def _head_tail(answer: KeptAnswer) -> tuple[bytes, int]:
    """The kept headers as gunicorn writes them (hop-by-hop ones dropped, values stripped)
    and the blank line; and the ``Content-Length`` (-1: none)."""
    kept = [(name, value.strip(BLANKS)) for name, value in answer.headers]
    lines = "".join(f"{name}: {value}\r\n" for name, value in kept if not is_hoppish(name))
    length = next((int(v) for n, v in kept if n.lower() == "content-length"), -1)
    return (lines + "\r\n").encode("latin-1"), length


def _opened(path: str, length: int) -> int | None:
    """The file opened for reading, if it is there and has the kept answer's length."""
    try:
        file = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    if os.fstat(file).st_size != length:
        os.close(file)
        return None
    return file
