"""The web workers' store of a snapshot: on disk, opened read-only, its pages the kernel's.

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

The store is built once per snapshot, in the snapshot's folder (``.store-<version>``, so that a
folder whose files changed never reads an old one; pruning a snapshot removes its store with
it), by a fresh interpreter: RocksDB's writer leaves threads behind, and the master forks its
workers after loading. It is built into a temporary folder and renamed into place: of two
processes building it at once (two workers taking up a new snapshot), one rename wins and the
other's copy is removed. Where the folder cannot be written (a publication mounted read-only,
owned by the user who builds it), :func:`open_disk_store` says why and gives None: the caller
loads the store into memory as before.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyoxigraph as ox

from kg.manifest import GRAPH_NT, ONTOLOGY

#: The folder of the store in a snapshot, followed by the first characters of its version.
FOLDER_PREFIX = ".store-"
#: The builder's program: ``FOLDER GRAPH.nt ONTOLOGY.ttl-or-"" DATA-GRAPH ONTOLOGY-GRAPH``.
BUILD = (
    "import sys\n"
    "import pyoxigraph as ox\n"
    "folder, graph, ontology, data, terms = sys.argv[1:6]\n"
    "store = ox.Store(folder)\n"
    "store.bulk_load(path=graph, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(data))\n"
    "if ontology:\n"
    "    store.bulk_load(path=ontology, format=ox.RdfFormat.TURTLE,"
    " to_graph=ox.NamedNode(terms))\n"
    "store.flush()\n"
    "store.optimize()\n"
)
#: Seconds a build may take (×100 takes about 15).
BUILD_SECONDS = 600.0


def store_folder(snapshot: Path, version: str) -> Path:
    return snapshot / f"{FOLDER_PREFIX}{version[:16]}"


def open_disk_store(
    snapshot: Path, version: str, data_graph: str, ontology_graph: str
) -> ox.Store | None:
    """The snapshot's graph and ontology (in named graphs ``data_graph`` and
    ``ontology_graph``) in a read-only store on disk, built first if need be; None (and a
    warning saying why) where it cannot be built or opened."""
    folder = store_folder(snapshot, version)
    try:
        if not folder.is_dir():
            _build(snapshot, folder, data_graph, ontology_graph)
        return ox.Store.read_only(str(folder))
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:  # RuntimeError: a
        # store pyoxigraph cannot read (another version's format): memory, not a failed start
        logging.getLogger(__name__).warning(
            "kg: the store is loaded into memory: no store on disk in %s: %s", snapshot, error
        )
        return None


def _build(snapshot: Path, folder: Path, data_graph: str, ontology_graph: str) -> None:
    ontology = snapshot / ONTOLOGY.name
    building = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}building-", dir=snapshot))
    try:
        built = subprocess.run(
            [
                sys.executable,
                "-I",
                "-c",
                BUILD,
                str(building / "store"),
                str(snapshot / GRAPH_NT.name),
                str(ontology) if ontology.is_file() else "",
                data_graph,
                ontology_graph,
            ],
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
