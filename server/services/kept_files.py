"""Published files and kept pages at static-file speed: the application's answer kept per
snapshot and replayed.

A file of a snapshot never changes, and neither does the answer to a plain request for it: a
``GET`` or ``HEAD`` of ``/dump.ttl`` gets the same status and headers (ETag, digests, CORS,
security headers, …) every time, given the snapshot, the method, whether ``Accept-Encoding``
takes gzip, and whether ``If-None-Match`` names the file. Going through Flask for it costs
about 0.3 ms of Python a request (request context, hooks, routing, ``send_file``, the header
machinery), several times what the file takes to send (``bench/dumps.py``). The same holds for
a page the page cache keeps (:mod:`server.services.page_cache`), given also the request's
``Accept`` header as sent.

:class:`KeptFiles` is a WSGI middleware in front of the Flask application. The first request
of each kind goes through the application as any other; the route marks its answer as one
that can be kept (:func:`mark_kept`, with the snapshot it answered from and the file it sent,
or the page's body), and the middleware records the status and the headers the application
gave, after every hook (:mod:`server.http_policy`). The next request of that kind is answered
with those headers and the file, sent by the server's ``wsgi.file_wrapper`` (gunicorn:
``sendfile``), or the body, without Flask; under ``kg serve`` the worker's poller sends it
(:mod:`server.kept_lane`). So the two paths cannot disagree: the kept headers are the
application's own (a ``Date`` among them is given the time of each answer).

Only plain requests take the short way: ``GET`` or ``HEAD``, a published file's path or (while
pages are kept) any other, no query string, no body, a ``Host`` the application would accept,
no ``Range``, ``If-Range``, ``If-Modified-Since``, ``If-Match`` or ``If-Unmodified-Since``, and
no ``If-None-Match`` other than the kept answer's ``ETag`` itself. A page is kept only if its
``Vary`` names nothing but ``Accept`` and ``Accept-Encoding``, and within a bound in bytes (the
page cache's; when it is reached every kept page is dropped, the files stay). Everything else
goes to the application. Entries are per snapshot version: the first one recorded for a new
version drops those of the old.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.http import http_date, parse_accept_header
from werkzeug.wsgi import FileWrapper

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from server.services.dataset import Dataset, Snapshots

#: Where the application keeps its :class:`KeptFiles` (``app.extensions``).
EXTENSION = "kg_kept_files"
#: Where the route leaves its mark in the WSGI environment (:func:`mark_kept`).
MARK = "kg.kept_file"
#: Request headers (WSGI names) that make an answer other than the plain one.
ASIDE = (
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_TRANSFER_ENCODING",
    "CONTENT_TYPE",
)
#: Distinct ``Accept-Encoding`` values whose reading is remembered (then all are forgotten).
ENCODINGS_KEPT = 256
#: Bytes per read when the server has no file wrapper of its own (as Werkzeug's ``send_file``).
BLOCK = 8192

#: Response ``Vary`` values a kept page may have: what its key holds (``Accept`` as sent).
VARY_KEPT = frozenset({"accept", "accept-encoding"})
#: A page larger than this share of the bound on kept pages is not kept.
LARGEST_SHARE = 4

#: (snapshot, script root, path, method, gzip taken, If-None-Match given, variant: for a page
#: the ``Accept`` header as sent, for a published file none)
Key = tuple[str, str, str, str, bool, bool, str]


@dataclass(frozen=True)
class KeptAnswer:
    """The application's answer to one kind of plain request."""

    status: str
    headers: tuple[tuple[str, str], ...]
    #: The file sent (None: no body, a ``304``, or a page's body below).
    file: str | None
    #: The answer's ``ETag`` header as sent (``"…"``), None when it has none.
    etag: str | None
    #: A page's body (None: a file's answer).
    body: bytes | None = None


def takes_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip``, ``x-gzip`` or ``*``, q > 0)."""
    encodings = parse_accept_header(accept_encoding)
    return max(encodings["gzip"], encodings["x-gzip"]) > 0


def snapshot_key(dataset: Dataset) -> str:
    """What the kept answers of one snapshot are filed under: its version and its folder."""
    return f"{dataset.version} {dataset.path}"


def mark_kept(
    environ: WSGIEnvironment, dataset: Dataset, file: str | None, body: bytes | None = None
) -> None:
    """Tell :class:`KeptFiles` that this request's answer, from ``dataset``, is the same for
    every request of its kind (``file``: what it sent, None for no body or for a page whose
    ``body`` is given)."""
    environ[MARK] = (snapshot_key(dataset), file, body)


class KeptFiles:
    """WSGI middleware: plain requests for ``paths`` answered from kept answers (see above)."""

    def __init__(
        self,
        app: WSGIApplication,
        snapshots: Snapshots,
        paths: Iterable[str],
        readable_host: Callable[[str | None, str | None], bool],
        page_bytes: int = 0,
    ) -> None:
        self.app = app
        self.snapshots = snapshots
        self.paths = frozenset(paths)
        self.readable_host = readable_host
        #: Bytes of page bodies kept at most (0: no page is kept).
        self.page_bytes = page_bytes
        self._kept_page_bytes = 0
        #: Requests answered from a kept answer (for tests and benchmarks).
        self.hits = 0
        #: Counts the times the kept answers were dropped for a newer snapshot's.
        self.generation = 0
        self._answers: dict[Key, KeptAnswer] = {}
        #: The snapshot the kept answers are of (its :func:`snapshot_key`).
        self._snapshot = ""
        self._encodings: dict[str, bool] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        key = self._key(environ)
        if key is None:
            return self.app(environ, start_response)
        kept = self._kept(key, environ)
        if kept is None:
            return self._learn(key, environ, start_response)
        body = self._body(environ, kept)
        if body is None:  # the file is gone: the application says what now
            return self._learn(key, environ, start_response)
        start_response(kept.status, _dated(kept.headers))
        self.hits += 1
        return body

    def find(self, environ: WSGIEnvironment) -> KeptAnswer | None:
        """The kept answer to this request, if it is a plain one and its kind has been answered
        (the server's own fast lane, :mod:`server.kept_lane`, asks before the application)."""
        key = self._key(environ)
        return None if key is None else self._kept(key, environ)

    def _kept(self, key: Key, environ: WSGIEnvironment) -> KeptAnswer | None:
        kept = self._answers.get(key)
        if kept is None or (key[5] and environ["HTTP_IF_NONE_MATCH"] != kept.etag):
            return None
        return kept

    def _key(self, environ: WSGIEnvironment) -> Key | None:
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD") or (path not in self.paths and not self.page_bytes):
            return None
        if environ.get("QUERY_STRING") or environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
            return None
        if any(name in environ for name in ASIDE):
            return None
        if not self.readable_host(environ.get("HTTP_HOST"), environ.get("SERVER_PROTOCOL")):
            return None
        version = snapshot_key(self.snapshots.refresh().dataset)
        gzip = self._takes_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
        conditional = "HTTP_IF_NONE_MATCH" in environ
        variant = "" if path in self.paths else environ.get("HTTP_ACCEPT", "\0")
        script = environ.get("SCRIPT_NAME", "")
        return (version, script, path, method, gzip, conditional, variant)

    def _takes_gzip(self, value: str | None) -> bool:
        if value is None:
            return False
        found = self._encodings.get(value)
        if found is None:
            found = takes_gzip(value)
            with self._lock:
                if len(self._encodings) >= ENCODINGS_KEPT:
                    self._encodings.clear()
                self._encodings[value] = found
        return found

    def _body(self, environ: WSGIEnvironment, kept: KeptAnswer) -> Iterable[bytes] | None:
        if environ["REQUEST_METHOD"] == "HEAD":
            return ()
        if kept.body is not None:
            return [kept.body]
        if kept.file is None:
            return ()
        try:
            handle = open(kept.file, "rb")  # noqa: SIM115 (the server closes it)
        except OSError:
            return None
        wrapper: Callable[[Any, int], Iterable[bytes]] = environ.get(
            "wsgi.file_wrapper", FileWrapper
        )
        return wrapper(handle, BLOCK)

    def _learn(
        self, key: Key, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        """The application answers; its answer is kept when the route marked it as keepable
        (from the snapshot of ``key``, and, for a conditional request, a ``304``)."""
        sent: list[tuple[str, list[tuple[str, str]]]] = []

        def recording(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            sent.append((status, list(headers)))
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording)
        mark = environ.get(MARK)
        if mark is None or mark[0] != key[0] or len(sent) != 1:
            return body
        status, headers = sent[0]
        if not status.startswith("304 " if key[5] else "200 "):
            return body
        etag = next((value for name, value in headers if name.lower() == "etag"), None)
        file, page = (None, None) if key[5] else mark[1:]  # a 304 has no body
        answer = KeptAnswer(status, tuple(headers), file, etag, page)
        if self._keepable(key, answer):
            self._keep(key, answer)
        return body

    def _keepable(self, key: Key, answer: KeptAnswer) -> bool:
        """A file's answer for a published file's path, a page's (at most a quarter of the
        bound) for any other, or a ``304`` of either; varying (``Vary``) on nothing but what
        the key holds."""
        if not key[5] and (answer.body is None) != (key[2] in self.paths):
            return False
        if answer.body is not None and len(answer.body) * LARGEST_SHARE > self.page_bytes:
            return False
        vary = {
            part.strip().lower()
            for name, value in answer.headers
            if name.lower() == "vary"
            for part in value.split(",")
        }
        return vary <= VARY_KEPT

    def _keep(self, key: Key, answer: KeptAnswer) -> None:
        size = len(answer.body or b"")
        with self._lock:
            if key[0] != self._snapshot:  # a new snapshot: nothing of the old one is kept
                self._answers, self._kept_page_bytes, self._snapshot = {}, 0, key[0]
                self.generation += 1
            if self._kept_page_bytes + size > self.page_bytes:  # pages over the bound: drop them
                self._answers = {k: a for k, a in self._answers.items() if a.body is None}
                self._kept_page_bytes = 0
            self._answers[key] = answer
            self._kept_page_bytes += size


def _dated(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """The kept headers, a ``Date`` the application gave (Werkzeug's conditional answers do)
    given the time of this answer: it is the one header that is not the same each time."""
    return [(name, http_date() if name.lower() == "date" else value) for name, value in headers]


def install_kept_files(
    app: Any,
    snapshots: Snapshots,
    paths: Iterable[str],
    readable_host: Callable[[str | None, str | None], bool],
    page_bytes: int = 0,
) -> KeptFiles:
    """Put a :class:`KeptFiles` for the published files at ``paths`` (and pages, up to
    ``page_bytes`` of them) in front of the Flask application ``app``."""
    kept = KeptFiles(app.wsgi_app, snapshots, paths, readable_host, page_bytes)
    app.wsgi_app = kept
    app.extensions[EXTENSION] = kept
    return kept
