"""Published files at static-file speed: the route's answer kept per snapshot and replayed.

A file of a snapshot never changes, and neither does the answer to a plain request for it: a
``GET`` or ``HEAD`` of ``/dump.ttl`` gets the same status and headers (ETag, digests, CORS,
security headers, …) every time, given the snapshot, the method, whether ``Accept-Encoding``
takes gzip, and whether ``If-None-Match`` names the file. Going through Flask for it costs
about 0.3 ms of Python a request (request context, hooks, routing, ``send_file``, the header
machinery), several times what the file takes to send (``bench/dumps.py``).

:class:`KeptFiles` is a WSGI middleware in front of the Flask application. The first request
of each kind goes through the application as any other; the route marks its answer as one
that can be kept (:func:`mark_kept`, with the snapshot it answered from and the file it sent),
and the middleware records the status and the headers the application gave, after every hook
(:mod:`server.http_policy`). The next request of that kind is answered with those headers and
the file, sent by the server's ``wsgi.file_wrapper`` (gunicorn: ``sendfile``), without Flask.
So the two paths cannot disagree: the kept headers are the application's own.

Only plain requests take the short way: ``GET`` or ``HEAD``, a path of the given set, no query
string, no body, a ``Host`` the application would accept, no ``Range``, ``If-Range``,
``If-Modified-Since``, ``If-Match`` or ``If-Unmodified-Since``, and no ``If-None-Match`` other
than the kept answer's ``ETag`` itself. Everything else goes to the application. Entries are
per snapshot version: the first one recorded for a new version drops those of the old.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.http import parse_accept_header
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

#: (snapshot, script root, path, method, gzip taken, If-None-Match given)
Key = tuple[str, str, str, str, bool, bool]


@dataclass(frozen=True)
class KeptAnswer:
    """The application's answer to one kind of plain request."""

    status: str
    headers: tuple[tuple[str, str], ...]
    #: The file sent (None: no body, a ``304``).
    file: str | None
    #: The answer's ``ETag`` header as sent (``"…"``), None when it has none.
    etag: str | None


def takes_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip``, ``x-gzip`` or ``*``, q > 0)."""
    encodings = parse_accept_header(accept_encoding)
    return max(encodings["gzip"], encodings["x-gzip"]) > 0


def snapshot_key(dataset: Dataset) -> str:
    """What the kept answers of one snapshot are filed under: its version and its folder."""
    return f"{dataset.version} {dataset.path}"


def mark_kept(environ: WSGIEnvironment, dataset: Dataset, file: str | None) -> None:
    """Tell :class:`KeptFiles` that this request's answer, from ``dataset``, is the same for
    every request of its kind (``file``: what it sent, None for no body)."""
    environ[MARK] = (snapshot_key(dataset), file)


class KeptFiles:
    """WSGI middleware: plain requests for ``paths`` answered from kept answers (see above)."""

    def __init__(
        self,
        app: WSGIApplication,
        snapshots: Snapshots,
        paths: Iterable[str],
        readable_host: Callable[[str | None, str | None], bool],
    ) -> None:
        self.app = app
        self.snapshots = snapshots
        self.paths = frozenset(paths)
        self.readable_host = readable_host
        #: Requests answered from a kept answer (for tests and benchmarks).
        self.hits = 0
        #: Counts the times the kept answers were dropped for a newer snapshot's.
        self.generation = 0
        self._answers: dict[Key, KeptAnswer] = {}
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
        start_response(kept.status, list(kept.headers))
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
        if method not in ("GET", "HEAD") or path not in self.paths:
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
        return (version, environ.get("SCRIPT_NAME", ""), path, method, gzip, conditional)

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
        if kept.file is None or environ["REQUEST_METHOD"] == "HEAD":
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
        file = None if key[5] else mark[1]  # a 304 has no body
        self._keep(key, KeptAnswer(status, tuple(headers), file, etag))
        return body

    def _keep(self, key: Key, answer: KeptAnswer) -> None:
        with self._lock:
            if any(old[0] != key[0] for old in self._answers):  # a new snapshot
                self._answers = {}
                self.generation += 1
            self._answers[key] = answer


def install_kept_files(
    app: Any,
    snapshots: Snapshots,
    paths: Iterable[str],
    readable_host: Callable[[str | None, str | None], bool],
) -> KeptFiles:
    """Put a :class:`KeptFiles` for ``paths`` in front of the Flask application ``app``."""
    kept = KeptFiles(app.wsgi_app, snapshots, paths, readable_host)
    app.wsgi_app = kept
    app.extensions[EXTENSION] = kept
    return kept
