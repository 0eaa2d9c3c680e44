"""Answers rendered once per snapshot and kept: pages at the speed of a lookup in a dict.

A publication (snapshot) never changes, so an answer that depends only on the snapshot and the
request (its path, its query string and the representation negotiated from ``Accept``) can be
rendered once and sent again as it is. Rendering a resource page from the store takes
milliseconds (describing, the neighbourhood, the template); sending kept bytes takes
microseconds. :func:`cached_page` wraps such a view:

* the key is the snapshot's version (:attr:`server.services.dataset.Dataset.version`, which
  changes exactly when a file of the publication does), the script root, the path, the query
  string and a *variant* (for ``/id/…``: the key of the negotiated format), so an answer of
  one snapshot is never given for another, and a new snapshot starts with an empty cache (the
  first answer stored for a new version drops the entries of the old one);
* only what the view returned is kept (status ``200``, body and headers); what every answer
  shares (CORS, security headers, :mod:`server.http_policy`) is added after it, to a cached
  answer as to a fresh one, so both are the same bytes;
* a conditional request whose ``If-None-Match`` matches the kept ``ETag`` goes to the view,
  which answers ``304`` without rendering anything; ``HEAD`` is ``GET`` without the body
  (Werkzeug drops it), from the same entry;
* a kept answer is marked as one the server may send again without Flask
  (:func:`server.services.kept_files.mark_kept`: a plain request of the same kind, its
  ``Accept`` header the same, is then answered by the middleware or the worker's poller), and
  so is the view's ``304`` to a request whose ``If-None-Match`` names the kept ``ETag``;
* the cache is bounded in bytes (body, headers and key), least recently used out first, per
  worker process; an answer larger than a quarter of the bound is not kept (so one huge page
  cannot empty the cache). Threads of a worker share it under a lock.

The cache lives in ``app.extensions`` (:func:`install_page_cache`); ``page_cache_bytes = 0``
(``KG_PAGE_CACHE_BYTES=0``) turns it off. Optionally (``KG_PAGE_CACHE_WARM=html,turtle``) a
worker renders every resource page ahead when it takes a snapshot up (:func:`warm_pages`, a
background thread at the lowest priority); off by default, since on two cores it slowed the
first seconds of serving and did not raise throughput afterwards (``bench/pages.py``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec

from flask import Flask, current_app, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kg.config import Settings
from server.services.dataset import current_dataset
from server.services.index import current_index
from server.services.kept_files import mark_kept
from server.services.representation import FORMATS, negotiate

_EXTENSION_KEY = "kg_page_cache"
#: What an entry costs beyond its bytes (the objects that hold them), counted against the bound.
ENTRY_OVERHEAD = 256
#: An answer larger than this share of the bound is not kept.
LARGEST_SHARE = 4
#: Distinct (``Accept``, ``?format=``) pairs whose negotiated variant is remembered.
VARIANTS_KEPT = 512

P = ParamSpec("P")
#: (version, script root, path, query string, variant)
Key = tuple[str, str, str, bytes, str]


@dataclass(frozen=True)
class Entry:
    """One kept answer, as the view returned it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str | None

    @property
    def size(self) -> int:
        headers = sum(len(name) + len(value) for name, value in self.headers)
        return len(self.body) + headers + ENTRY_OVERHEAD

    def response(self) -> BaseResponse:
        return current_app.response_class(self.body, status=self.status, headers=self.headers)


class PageCache:
    """Answers by key, at most ``max_bytes`` of them, least recently used out first."""

    def __init__(self, max_bytes: int, warm: tuple[str, ...] = ()) -> None:
        self.max_bytes = max_bytes
        #: Format keys of every resource page to render ahead when a snapshot is taken up.
        self.warm = warm
        #: The thread warming the cache for the last snapshot seen (None: none started).
        self.warmer: threading.Thread | None = None
        self._warmed: str | None = None
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._bytes = 0
        self._version: str | None = None
        self._lock = threading.Lock()
        #: What a request's headers negotiate (parsing ``Accept`` costs more than a hit).
        self._variants: dict[tuple[str, ...], str] = {}

    @property
    def bytes(self) -> int:
        """What the kept entries cost, keys included."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def version(self) -> str | None:
        """The snapshot version of the entries kept (None: nothing kept yet)."""
        return self._version

    def kept_keys(self) -> list[Key]:
        """The keys kept, least recently used first."""
        with self._lock:
            return list(self._entries)

    def variant(self, raw: tuple[str, ...], negotiate: Callable[[], str]) -> str:
        """``negotiate()``, remembered for the request headers ``raw`` it depends on (at most
        :data:`VARIANTS_KEPT` of them: then all are forgotten, and learnt again)."""
        found = self._variants.get(raw)
        if found is None:
            found = negotiate()
            with self._lock:
                if len(self._variants) >= VARIANTS_KEPT:
                    self._variants.clear()
                self._variants[raw] = found
        return found

    def get(self, key: Key) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Key, entry: Entry) -> bool:
        """Keep ``entry`` (dropping the oldest ones until it fits); False when it is too large."""
        cost = entry.size + _key_size(key)
        if cost > self.max_bytes // LARGEST_SHARE:
            return False
        with self._lock:
            if key[0] != self._version:  # a new snapshot: nothing of the old one is asked again
                self._entries.clear()
                self._bytes, self._version = 0, key[0]
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size + _key_size(key)
            while self._entries and self._bytes + cost > self.max_bytes:
                dropped_key, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size + _key_size(dropped_key)
            self._entries[key] = entry
            self._bytes += cost
        return True

    def start_warming(self, app: Flask, version: str) -> None:
        """Once per snapshot version, when asked to: render every resource page ahead, in a
        background thread of this worker (:func:`warm_pages`)."""
        if not self.warm or self._warmed == version:
            return
        with self._lock:
            if self._warmed == version:
                return
            self._warmed = version
            self.warmer = threading.Thread(
                target=warm_pages, args=(app, self, version), name="kg-page-warm", daemon=True
            )
        self.warmer.start()


def _key_size(key: Key) -> int:
    return sum(len(part) for part in key)


def warm_pages(app: Flask, cache: PageCache, version: str) -> int:
    """Request every resource page (``/id/<urn>``) in each format of ``cache.warm`` through
    the application, as a client would (``Accept``: the format's media type), so that the
    answers are kept; at the lowest processor priority, and only while ``version`` is the
    snapshot served and the cache is not nine tenths full. Returns the requests made."""
    _lowest_priority()
    with app.test_request_context():
        paths = [url_for("resource.by_id", urn=urn) for urn in sorted(current_index().resources)]
    media_types = {fmt.key: fmt.media_type for fmt in FORMATS if fmt.key in cache.warm}
    client = app.test_client()
    made = 0
    for path in paths:
        for media_type in media_types.values():
            if cache.version not in (None, version) or cache.bytes * 10 > cache.max_bytes * 9:
                return made
            client.get(path, headers={"Accept": media_type}).close()
            made += 1
    return made


def _lowest_priority() -> None:
    """This thread (Linux: a thread has its own nice value) yields to those answering."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def install_page_cache(app: Flask, settings: Settings) -> PageCache | None:
    """One cache for this application (per worker process); None when the bound is 0."""
    if settings.page_cache_bytes <= 0:
        app.extensions.pop(_EXTENSION_KEY, None)
        return None
    warm = tuple(key.strip() for key in settings.page_cache_warm.split(",") if key.strip())
    unknown = set(warm) - {fmt.key for fmt in FORMATS}
    if unknown:
        raise ValueError(f"page cache warming: no format {', '.join(sorted(unknown))}")
    cache = PageCache(settings.page_cache_bytes, warm)
    app.extensions[_EXTENSION_KEY] = cache
    return cache


def page_cache(app: Flask) -> PageCache | None:
    found: PageCache | None = app.extensions.get(_EXTENSION_KEY)
    return found


def representation_key() -> str:
    """The variant of a URN's answer: the key of the format negotiated (``-``: none, 406),
    from ``Accept`` and ``?format=``."""
    cache = page_cache(current_app)
    if cache is None:
        return _negotiated()
    raw = (request.headers.get("Accept", "\0"), request.args.get("format", "\0"))
    return cache.variant(raw, _negotiated)


def _negotiated() -> str:
    fmt = negotiate(request.accept_mimetypes, request.args.get("format"))
    return fmt.key if fmt is not None else "-"


def cached_page(
    variant: Callable[[], str],
) -> Callable[[Callable[P, BaseResponse]], Callable[P, BaseResponse]]:
    """Keep the ``200`` answers of a view per snapshot, path, query string and ``variant()``."""

    def decorate(view: Callable[P, BaseResponse]) -> Callable[P, BaseResponse]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> BaseResponse:
            cache = page_cache(current_app)
            if cache is None:
                return view(*args, **kwargs)
            key = request_key(variant())
            cache.start_warming(current_app._get_current_object(), key[0])  # type: ignore[attr-defined]
            entry = cache.get(key)
            if entry is not None and not _revalidates(entry):
                mark_kept(request.environ, current_dataset(), None, entry.body)
                return entry.response()
            response = view(*args, **kwargs)
            kept = keepable(response)
            if kept is not None and cache.put(key, kept):
                mark_kept(request.environ, current_dataset(), None, kept.body)
            elif response.status_code == 304:  # the same for every request naming this ETag
                mark_kept(request.environ, current_dataset(), None)
            return response

        return wrapper

    return decorate


def request_key(variant: str) -> Key:
    version = current_dataset().version
    return (version, request.script_root, request.path, request.query_string, variant)


def _revalidates(entry: Entry) -> bool:
    """Whether the request's ``If-None-Match`` names the kept answer (the view says ``304``),
    compared weakly as RFC 9110 §13.1.2 asks (``W/"…"`` names it too)."""
    matches = request.if_none_match
    return entry.etag is not None and bool(matches) and matches.contains_weak(entry.etag)


def keepable(response: BaseResponse) -> Entry | None:
    """``response`` as an entry, if it can be sent again as it is: a ``200`` with its body in
    memory (not streamed, not a file)."""
    if response.status_code != 200 or response.is_streamed or response.direct_passthrough:
        return None
    etag, _ = response.get_etag()
    return Entry(
        status=response.status_code,
        headers=tuple(response.headers.items()),
        body=response.get_data(),
        etag=etag,
    )
