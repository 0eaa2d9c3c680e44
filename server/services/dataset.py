"""The publication as the server holds it: an Oxigraph store plus what the build wrote beside it.

A :class:`Dataset` is one snapshot (``dist`` resolved to ``dist.snapshots/<id>/``,
:mod:`kg.publication`) loaded whole and never changed: the graph and the ontology in two named
graphs of one store, the typed manifest, the rendered pages (``html.json``) and the counts VoID
reports. The server serves one snapshot at a time: :class:`Snapshots` holds the loaded one and,
at most once a second per worker (and at once in a newly forked worker, e.g. after ``SIGHUP``),
reads the ``dist`` link; when it points elsewhere the new snapshot is loaded first and then
swapped in. Each request is given the snapshot of its start (:func:`pin_snapshot`, on
``flask.g``), so every answer (dumps, SPARQL, pages, VoID, health) comes from one Dataset even
while the next is taken up. Requests read it through :func:`current_dataset`.

Memory (issue 10): the store, and the store of the releases (``releases.nq``), are on disk,
read-only, built once per snapshot (:mod:`server.services.disk_store`; in memory only where the
snapshot's folder cannot be written), so their pages are the kernel's page cache rather than
every worker's. What loading a snapshot freed (the scan of every quad for the index and the
counts) is handed back to the system before the master forks its workers
(:func:`give_back_memory`), so the workers do not inherit it.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pyoxigraph as ox
from flask import Flask, current_app, g

from kg.config import Settings
from kg.manifest import (
    GRAPH_NT,
    MANIFEST,
    ONTOLOGY,
    PAGES,
    RELEASES_NQ,
    SOURCEMAP,
    Manifest,
    read_manifest,
)
from kg.namespace import DATA_GRAPH as DATA_GRAPH  # named graphs of the store, one home: kg
from kg.namespace import ONTOLOGY_GRAPH as ONTOLOGY_GRAPH
from server.services.disk_store import Part, snapshot_store
from server.services.index import SiteIndex, build_index, install_index, pin_index
from server.services.remote_store import open_store

_EXTENSION_KEY = "kg_dataset"
_SNAPSHOTS_KEY = "kg_snapshots"
#: Seconds between two looks at where ``dist`` points, per worker.
CHECK_INTERVAL = 1.0


class PublicationMissing(FileNotFoundError):
    pass


class PublicationBroken(ValueError):
    """A file of the publication is not what a build writes."""


@dataclass(frozen=True)
class Statistics:
    """Counts of the data graph for VoID, computed once at start-up."""

    entities: int
    classes: int
    properties: int
    distinct_subjects: int
    distinct_objects: int
    #: (class IRI, number of its instances), by class IRI.
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Dataset:
    path: Path
    manifest: Manifest
    store: ox.Store
    statistics: Statistics
    #: Document URN -> its body as the build rendered it (``html.json``); empty without one.
    pages: Mapping[str, str]
    #: Changes exactly when a file of the publication does: the ETag base of every page.
    version: str
    #: Resource IRI -> [file, line] (``sourcemap.json``'s resources), for answers that cite
    #: where a fact comes from; read once per snapshot, empty without a source map.
    resources: Mapping[str, object] = field(default_factory=dict)
    #: Every release in its named graph, their description and lineage, as ``releases.nq``
    #: holds them (``kg build --git``; :mod:`server.services.history`); None without one.
    #: A store of its own, so that pages and the index see the newest release only.
    releases: ox.Store | None = None


def load_dataset(dist: Path, settings: Settings | None = None) -> Dataset:
    """``dist``'s snapshot; its triples from the store ``settings.store`` names, if any
    (``kg serve --store``: :mod:`server.services.remote_store`), else from its store on disk,
    else loaded here into memory."""
    if not (dist / MANIFEST.name).is_file():
        raise PublicationMissing(f"{dist}: no publication here (run 'kg build' first)")
    manifest = read_manifest(dist)
    version = publication_version(manifest)
    releases = load_releases(dist, version)
    if settings is not None and settings.store is not None:
        store = open_store(settings, releases)
    else:
        store = snapshot_store(dist, version, SNAPSHOT_PARTS)
    return Dataset(
        path=dist,
        manifest=manifest,
        store=store,
        statistics=count_statistics(store),
        pages=read_pages(dist),
        version=version,
        resources=read_resources(dist),
        releases=releases,
    )


#: What the store of a snapshot holds: its graph and ontology, each in its named graph.
SNAPSHOT_PARTS = (Part(GRAPH_NT.name, DATA_GRAPH), Part(ONTOLOGY.name, ONTOLOGY_GRAPH))
#: What the store of its releases holds: ``releases.nq``, each quad in its own graph.
RELEASE_PARTS = (Part(RELEASES_NQ.name),)


def load_releases(dist: Path, version: str) -> ox.Store | None:
    """``releases.nq`` as published (None when the publication has no release history): from
    the store on disk of the snapshot of ``version`` (every release of upstream's history is
    386,000 quads: 130 MiB in memory), or, where that cannot be, loaded into memory."""
    if not (dist / RELEASES_NQ.name).is_file():
        return None
    return snapshot_store(dist, version, RELEASE_PARTS, "releases")


def read_resources(dist: Path) -> Mapping[str, object]:
    """The ``resources`` of ``sourcemap.json`` (IRI -> [file, line]); empty when absent."""
    try:
        data = json.loads((dist / SOURCEMAP.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return MappingProxyType({})
    resources = data.get("resources") if isinstance(data, dict) else None
    return MappingProxyType(resources if isinstance(resources, dict) else {})


def read_pages(dist: Path) -> Mapping[str, str]:
    """``html.json``: document URN -> HTML; a publication without one has no page bodies."""
    path = dist / PAGES.name
    if not path.is_file():
        return MappingProxyType({})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PublicationBroken(f"{path}: {error}") from None
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise PublicationBroken(f"{path}: not a JSON object of URN -> HTML")
    return MappingProxyType(data)


def publication_version(manifest: Manifest) -> str:
    """A digest of every file's checksum: the same files, the same version."""
    listing = "".join(
        f"{name} {record.sha256}\n" for name, record in sorted(manifest.files.items())
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def count_statistics(store: ox.Store) -> Statistics:
    graph = f"<{DATA_GRAPH}>"
    totals = _select(
        store,
        "SELECT (COUNT(DISTINCT ?s) AS ?subjects) (COUNT(DISTINCT ?p) AS ?properties) "
        f"(COUNT(DISTINCT ?o) AS ?objects) {{ GRAPH {graph} {{ ?s ?p ?o }} }}",
    )[0]
    typed = _select(
        store,
        "SELECT (COUNT(DISTINCT ?s) AS ?entities) (COUNT(DISTINCT ?c) AS ?classes) "
        f"{{ GRAPH {graph} {{ ?s a ?c }} }}",
    )[0]
    partitions = _select(
        store,
        "SELECT ?class (COUNT(DISTINCT ?s) AS ?entities) "
        f"{{ GRAPH {graph} {{ ?s a ?class }} }} GROUP BY ?class ORDER BY ?class",
    )
    return Statistics(
        entities=int(typed["entities"]),
        classes=int(typed["classes"]),
        properties=int(totals["properties"]),
        distinct_subjects=int(totals["subjects"]),
        distinct_objects=int(totals["objects"]),
        partitions=tuple((row["class"], int(row["entities"])) for row in partitions),
    )


def graph_sizes(store: ox.Store) -> dict[str, int]:
    """Triples in each of the store's named graphs that has any (data first, then ontology)."""
    sizes = {}
    for name in (DATA_GRAPH, ONTOLOGY_GRAPH):
        query = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
        count = int(_select(store, query)[0]["n"])
        if count:
            sizes[name] = count
    return sizes


def _select(store: ox.Store, query: str) -> list[dict[str, str]]:
    """Rows of a trusted SELECT on ``store``, every value as its lexical form or IRI."""
    solutions = store.query(query)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in solutions]


@dataclass(frozen=True)
class Served:
    """One loaded snapshot, its index, and where ``dist`` pointed when it was loaded."""

    dataset: Dataset
    index: SiteIndex
    #: The link target of ``dist`` (None: ``dist`` is a folder, not a link).
    target: str | None


def load_served(dist: Path, settings: Settings | None = None) -> Served:
    """The snapshot ``dist`` points at, loaded from its resolved folder."""
    target = link_target(dist)
    folder = Path(os.path.realpath(dist if target is None else dist.parent / target))
    dataset = load_dataset(folder, settings)
    served = Served(dataset, build_index(dataset.store), target)
    give_back_memory()
    return served


def give_back_memory() -> None:
    """Hand the heap the load freed back to the system (glibc's ``malloc_trim``; elsewhere
    nothing): reading every quad for the index and the counts leaves tens of MiB at ×10 (60
    through ``--store``) that malloc would keep and a preloaded master's workers inherit."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def link_target(dist: Path) -> str | None:
    try:
        return os.readlink(dist)
    except OSError:
        return None


class Snapshots:
    """The snapshot this process serves; takes up a newer one when ``dist`` moves."""

    def __init__(self, dist: Path, served: Served, settings: Settings | None = None) -> None:
        self.dist = dist
        self.settings = settings
        self._served = served
        self._checked = time.monotonic()
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @property
    def served(self) -> Served:
        return self._served

    def refresh(self) -> Served:
        """The snapshot to answer from: the loaded one, or a newer one ``dist`` points at."""
        if self._pid == os.getpid() and time.monotonic() - self._checked < CHECK_INTERVAL:
            return self._served
        with self._lock:
            self._pid, self._checked = os.getpid(), time.monotonic()
            target = link_target(self.dist)
            if target is not None and target != self._served.target:
                self._served = self._load() or self._served
        return self._served

    def _load(self) -> Served | None:
        try:
            return load_served(self.dist, self.settings)
        except (OSError, ValueError) as error:  # pruned or not there yet: keep what we have
            logging.getLogger(__name__).warning("kg: keeping the loaded snapshot: %s", error)
            return None


def install_snapshots(app: Flask, dist: Path) -> Snapshots:
    """Load what ``dist`` points at, and give every request the snapshot of its start (this
    hook runs before every other)."""
    settings: Settings | None = app.config.get("KG_SETTINGS")
    snapshots = Snapshots(dist, load_served(dist, settings), settings)
    app.extensions[_SNAPSHOTS_KEY] = snapshots
    install_dataset(app, snapshots.served.dataset)
    install_index(app, snapshots.served.index)
    app.before_request_funcs.setdefault(None, []).insert(0, pin_snapshot)
    return snapshots


def pin_snapshot() -> None:
    """Take up a newer snapshot if there is one, and answer this request from one snapshot."""
    app = current_app
    snapshots: Snapshots = app.extensions[_SNAPSHOTS_KEY]
    served = snapshots.refresh()
    if app.extensions[_EXTENSION_KEY] is not served.dataset:
        install_dataset(app, served.dataset)
        install_index(app, served.index)
    setattr(g, _EXTENSION_KEY, served.dataset)
    pin_index(served.index)


def install_dataset(app: Flask, dataset: Dataset) -> None:
    app.extensions[_EXTENSION_KEY] = dataset


def current_dataset() -> Dataset:
    """The request's snapshot (:func:`pin_snapshot`); outside a request, the app's latest."""
    dataset: Dataset = g.get(_EXTENSION_KEY) or current_app.extensions[_EXTENSION_KEY]
    return dataset
