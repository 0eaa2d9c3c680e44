"""The web workers' stores of a snapshot: on disk, opened read-only, their pages the kernel's.

Why: the server held each snapshot twice in memory and more. The master loaded it into an
in-memory store that gunicorn's preload shares with the workers page by page, so every worker's
resident memory counted all of it (issue 10: 124 MiB per worker at ×10, 634 at ×100, of which
41 and 29 its own), and each worker's query-lane zygote loads a copy of its own besides. The web
worker's own uses of the store are few and mostly once per page (pages, which are cached,
descriptions, lists, the site index and the counts at load): they can afford a store on disk.
Measured at ×100 (1.58 million triples): pyoxigraph's RocksDB store opens read-only in 0.01 s
(loading into memory: 5.85 s), and a process that has read from it holds 29–65 MiB (in memory:
450 MiB); a lookup takes 0.20 ms instead of 0.11, a full scan 511 ms instead of 399. The disk
pages are the kernel's page cache, shared by every process and given back under pressure. The
query lane keeps its in-memory store: its query processes open no file
(:mod:`server.services.pool_child`).

The same holds for the releases of ``kg build --git`` (``releases.nq``, a store of its own:
every release of upstream's history is 386,000 quads, about 130 MiB in memory, which every
worker's resident memory counted too). Each store is built once per snapshot, in the snapshot's
folder (``.store-<version>``, ``.store-releases-<version>``, so that a folder whose files
changed never reads an old one; pruning a snapshot removes its stores with it), by a fresh
interpreter: RocksDB's writer leaves threads behind, and the master forks its
workers after loading. It is built into a temporary folder and renamed into place: of two
processes building it at once (two workers taking up a new snapshot), one rename wins and the
other's copy is removed; what a build that was killed midway left is removed when a store of
that snapshot is next opened, once no live build can own it. Where the folder cannot be written (a
publication mounted read-only, owned by the user who builds it), :func:`open_disk_store` says
why and gives None, and :func:`snapshot_store` loads the same files into memory instead.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

#: The folder of a store in a snapshot, followed by its kind and the first characters of the
#: snapshot's version.
FOLDER_PREFIX = ".store-"
#: The builder's program: ``FOLDER`` then, per file, ``PATH EXTENSION GRAPH-or-""``.
BUILD = (
    "import sys\n"
    "import pyoxigraph as ox\n"
    "store = ox.Store(sys.argv[1])\n"
    "for path, extension, graph in zip(*[iter(sys.argv[2:])] * 3):\n"
    "    into = {'to_graph': ox.NamedNode(graph)} if graph else {}\n"
    "    store.bulk_load(path=path, format=ox.RdfFormat.from_extension(extension), **into)\n"
    "store.flush()\n"
    "store.optimize()\n"
)
#: Seconds a build may take (×100 takes about 15).
BUILD_SECONDS = 600.0


@dataclass(frozen=True)
class Part:
    """A file of the snapshot loaded into a store: its name, and the named graph its triples
    go into (None: N-Quads, each quad into its own graph). A file the snapshot does not have
    is left out."""

    name: str
    graph: str | None = None


def store_folder(snapshot: Path, version: str, kind: str = "") -> Path:
    """Where the snapshot's store of ``kind`` ("": the snapshot's graph) is."""
    return snapshot / f"{FOLDER_PREFIX}{kind + '-' if kind else ''}{version[:16]}"


def snapshot_store(snapshot: Path, version: str, parts: Sequence[Part], kind: str = "") -> ox.Store:
    """The ``parts`` of the snapshot (of ``version``) in its read-only store on disk of
    ``kind`` (:func:`open_disk_store`), or, where that cannot be, loaded into memory."""
    return open_disk_store(snapshot, version, parts, kind) or load_in_memory(snapshot, parts)


def load_in_memory(snapshot: Path, parts: Sequence[Part]) -> ox.Store:
    """The ``parts`` of the snapshot in an in-memory store."""
    store = ox.Store()
    for path, extension, graph in _files(snapshot, parts):
        rdf_format = ox.RdfFormat.from_extension(extension)
        if graph:
            store.bulk_load(path=path, format=rdf_format, to_graph=ox.NamedNode(graph))
        else:
            store.bulk_load(path=path, format=rdf_format)
    return store


def open_disk_store(
    snapshot: Path, version: str, parts: Sequence[Part], kind: str = ""
) -> ox.Store | None:
    """The ``parts`` of the snapshot (of ``version``) in a read-only store on disk, built first
    if need be; None (and a warning saying why) where it cannot be built or opened."""
    folder = store_folder(snapshot, version, kind)
    _remove_leftovers(snapshot)
    try:
        if not folder.is_dir():
            _build(snapshot, folder, parts)
        return ox.Store.read_only(str(folder))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:  # RuntimeError: a
        # store pyoxigraph cannot read (another version's format): memory, not a failed start
        logging.getLogger(__name__).warning(
            "kg: the %s is loaded into memory: no store on disk in %s: %s",
            f"{kind} store" if kind else "store",
            snapshot,
            error,
        )
        return None


def _remove_leftovers(snapshot: Path) -> None:
    """Remove what builds that died left in ``snapshot`` (their server killed midway): a
    temporary folder older than :data:`BUILD_SECONDS`, which no live build keeps (its builder
    is stopped at that age); younger ones may be another process's build in progress."""
    limit = time.time() - BUILD_SECONDS
    for folder in snapshot.glob(f"{FOLDER_PREFIX}building-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < limit:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # gone meanwhile: another process removed it
            continue


def _files(snapshot: Path, parts: Sequence[Part]) -> list[tuple[str, str, str]]:
    """Each part the snapshot has: its path, its extension (its format) and its graph ("":
    each quad's own)."""
    found = []
    for part in parts:
        path = snapshot / part.name
        if path.is_file():
            found.append((str(path), path.suffix.lstrip("."), part.graph or ""))
    return found


def _build(snapshot: Path, folder: Path, parts: Sequence[Part]) -> None:
    files = [text for file in _files(snapshot, parts) for text in file]
    building = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}building-", dir=snapshot))
    try:
        built = subprocess.run(
            [sys.executable, "-I", "-c", BUILD, str(building / "store"), *files],
            check=False,
            capture_output=True,
            timeout=BUILD_SECONDS,
        )
        if built.returncode != 0:
            said = built.stderr.decode(errors="replace").strip().splitlines()
            raise OSError(f"building it failed ({built.returncode}): {said[-1] if said else ''}")
        try:
            (building / "store").rename(folder)
        except OSError:  # another process put its copy there first: that one is used
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
