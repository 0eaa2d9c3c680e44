"""Settings: command-line flag, else ``KG_*`` environment variable, else default.

Read once, here, at start-up, and passed down; nothing else reads the environment. A base
module: it imports nothing of the pipeline, so reading the settings costs no stage's imports.
Folders are relative to the working directory (``content/``, ``dist/``), as for any command
installed on the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    content: Path = Path("content")
    out: Path = Path("dist")
    #: A folder of SHACL shapes (``*.ttl``) to validate with; None: the package's own.
    shapes: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 2
    #: Seconds a SPARQL query may run before it is stopped.
    query_timeout: float = 10.0
    #: Result rows (or triples) a query answer holds at most.
    max_rows: int = 10_000
    #: Bytes a request body (or query string) may have.
    max_request_bytes: int = 64 * 1024
    #: Bytes a SPARQL answer may have (a larger one is stopped: 503).
    max_answer_bytes: int = 32 * 1024**2
    #: Threads per gunicorn worker (gthread: slow clients wait in the poller, not in a thread).
    threads: int = 4
    #: Query processes kept per worker (started with the worker; more while all are busy).
    query_processes: int = 2
    #: A query still running after this many seconds is heavy and needs a slot to go on.
    cheap_seconds: float = 0.1
    #: Heavy queries one client (remote address) may run at a time (more: 429).
    heavy_per_client: int = 1
    #: Heavy queries the server runs at a time, all workers together (more: 503).
    heavy_total: int = 2
    #: Bytes of rendered answers (``/id/…`` pages) each worker keeps per snapshot; 0: none.
    page_cache_bytes: int = 32 * 1024**2
    #: Formats (``?format=`` keys, comma-separated: ``html,turtle``) of every ``/id/…`` page
    #: each worker renders ahead, in the background, when it takes up a snapshot; "": none.
    page_cache_warm: str = ""
    #: ``kg serve --store``: the SPARQL endpoint of a store ``kg push`` loaded; every triple
    #: is read from there (the publication folder gives the files). None: the embedded store.
    store: str | None = None
    #: The data's graph in that store (``kg push --graph``); None: ``kg.namespace.DATA_GRAPH``.
    store_graph: str | None = None
    strict: bool = False
    validate: bool = True
    #: Folder of the AI-Act decision aid (``decision-tree.yaml``…) to add to the graph and
    #: publish (``beslishulp.json``); None: none.
    beslishulp: Path | None = None
    #: Folder of earlier parse results (:mod:`kg.parsecache`); None: parse every file, except
    #: that ``kg build`` keeps one beside the publication (``dist.cache``) with ``use_cache``.
    cache: Path | None = None
    use_cache: bool = True
    #: ``kg build --git``: a git repository (URL or path) whose releases are built.
    git: str | None = None
    #: Tags of ``git`` that are releases (a shell pattern, case ignored).
    refs: str = "v*"


#: setting name -> (environment variable, converter)
_ENVIRONMENT: dict[str, tuple[str, type]] = {
    "content": ("KG_CONTENT", Path),
    "out": ("KG_DIST", Path),
    "shapes": ("KG_SHAPES", Path),
    "beslishulp": ("KG_BESLISHULP", Path),
    "cache": ("KG_CACHE", Path),
    "host": ("KG_HOST", str),
    "port": ("KG_PORT", int),
    "workers": ("KG_WORKERS", int),
    "query_timeout": ("KG_QUERY_TIMEOUT", float),
    "max_rows": ("KG_MAX_ROWS", int),
    "max_request_bytes": ("KG_MAX_REQUEST_BYTES", int),
    "max_answer_bytes": ("KG_MAX_ANSWER_BYTES", int),
    "threads": ("KG_THREADS", int),
    "query_processes": ("KG_QUERY_PROCESSES", int),
    "cheap_seconds": ("KG_CHEAP_SECONDS", float),
    "heavy_per_client": ("KG_HEAVY_PER_CLIENT", int),
    "heavy_total": ("KG_HEAVY_TOTAL", int),
    "page_cache_bytes": ("KG_PAGE_CACHE_BYTES", int),
    "page_cache_warm": ("KG_PAGE_CACHE_WARM", str),
    "store": ("KG_STORE", str),
    "store_graph": ("KG_STORE_GRAPH", str),
}


class SettingsError(ValueError):
    pass


def load_settings(
    flags: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags given (None: not given), the environment, and defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (variable, convert) in _ENVIRONMENT.items():
        if variable in environ and environ[variable] != "":
            try:
                values[name] = convert(environ[variable])
            except ValueError as error:
                raise SettingsError(f"{variable}={environ[variable]!r}: {error}") from None
    for name, value in flags.items():
        if value is not None and name in Settings.__dataclass_fields__:
            values[name] = value
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.query_timeout <= 0 or settings.max_rows <= 0 or settings.max_request_bytes <= 0:
        raise SettingsError("query timeout, row cap and request size must be positive")
    lane = (settings.max_answer_bytes, settings.threads, settings.query_processes)
    if min(lane) <= 0 or min(settings.heavy_per_client, settings.heavy_total) <= 0:
        raise SettingsError("answer size, threads, query processes and slots must be positive")
    if settings.page_cache_bytes < 0:
        raise SettingsError("the page cache size must not be negative")
    if settings.store is not None and not settings.store.startswith(("http://", "https://")):
        raise SettingsError(f"--store {settings.store!r}: not an http(s) URL of a SPARQL endpoint")
    return settings


def build_cache(settings: Settings) -> Path | None:
    """The parse cache of ``kg build``: the folder given, else ``<out>.cache`` beside the
    publication (as its snapshots are); None with ``use_cache`` off."""
    if not settings.use_cache:
        return None
    return settings.cache or settings.out.with_name(f"{settings.out.name}.cache")
