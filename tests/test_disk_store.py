"""The web workers' store on disk (``server.services.disk_store``): built once per snapshot,
holding what the snapshot's files hold, shared by processes building it at once, and replaced
by the in-memory store where it cannot be built.

Expected contents are read from the snapshot's files with rdflib, not from the store under
test."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from kg.manifest import GRAPH_NT, ONTOLOGY, RELEASES_NQ, read_manifest
from server.services.dataset import (
    DATA_GRAPH,
    ONTOLOGY_GRAPH,
    SNAPSHOT_PARTS,
    load_dataset,
    publication_version,
)
from server.services.disk_store import (
    BUILD_SECONDS,
    FOLDER_PREFIX,
    open_disk_store,
    store_folder,
)
from tests.conftest import LiveServer
from tests.helpers import copy_publication

COUNT = "SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"


@pytest.fixture()
def snapshot(sample_dist: Path, tmp_path: Path) -> Path:
    """A copy of the sample's snapshot folder, without any store built in it before."""
    return copy_publication(sample_dist.resolve(), tmp_path / "snapshot")


def version_of(snapshot: Path) -> str:
    return publication_version(read_manifest(snapshot))


def quads(store: ox.Store, graph: str) -> rdflib.Graph:
    """The triples of ``graph`` in ``store``, as the store writes them, read by rdflib."""
    data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph))
    return rdflib.Graph().parse(data=data, format="nt")


def same(found: rdflib.Graph, path: Path, format: str) -> bool:
    """Whether ``found`` holds the triples of ``path`` as rdflib reads the file (blank nodes
    matched by structure)."""
    graph = rdflib.Graph()
    graph.parse(path, format=format)
    return len(found) == len(graph) and isomorphic(found, graph)


def test_the_store_holds_the_snapshot_and_is_built_once(snapshot: Path) -> None:
    version = version_of(snapshot)
    store = open_disk_store(snapshot, version, SNAPSHOT_PARTS)
    assert store is not None
    assert same(quads(store, DATA_GRAPH), snapshot / GRAPH_NT.name, "nt")
    assert same(quads(store, ONTOLOGY_GRAPH), snapshot / ONTOLOGY.name, "turtle")
    folder = store_folder(snapshot, version)
    built = folder.stat().st_ino, sorted(path.name for path in folder.iterdir())
    # opened again (another worker, a restart): the same folder, not built again
    again = open_disk_store(snapshot, version, SNAPSHOT_PARTS)
    assert again is not None
    assert (folder.stat().st_ino, sorted(path.name for path in folder.iterdir())) == built
    assert [p.name for p in snapshot.glob(f"{FOLDER_PREFIX}*")] == [folder.name]
    # read-only: an update is refused
    with pytest.raises(RuntimeError, match="read-write"):
        again.update("INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }")


def test_processes_building_at_once_leave_one_store(snapshot: Path) -> None:
    version = version_of(snapshot)
    stores: list[ox.Store | None] = []
    threads = [
        threading.Thread(
            target=lambda: stores.append(open_disk_store(snapshot, version, SNAPSHOT_PARTS))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores) == 3 and all(store is not None for store in stores)
    nt = snapshot / GRAPH_NT.name
    assert all(same(quads(store, DATA_GRAPH), nt, "nt") for store in stores if store is not None)
    # one store, and nothing left of the copies that lost the race
    assert [p.name for p in snapshot.glob(f"{FOLDER_PREFIX}*")] == [
        store_folder(snapshot, version).name
    ]


#: A release history in two graphs, with a blank node and a literal in each (N-Quads).
RELEASES = """\
<urn:x:v1> <urn:x:p> "een"@nl <urn:x:release:v1> .
<urn:x:v1> <urn:x:q> _:b1 <urn:x:release:v1> .
_:b1 <urn:x:p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> <urn:x:release:v1> .
<urn:x:v2> <urn:x:p> "twee"@nl <urn:x:release:v2> .
<urn:x:v2> <urn:x:q> _:b2 <urn:x:release:v2> .
_:b2 <urn:x:p> "2"^^<http://www.w3.org/2001/XMLSchema#integer> <urn:x:release:v2> .
<urn:x:release:v2> <urn:x:after> <urn:x:release:v1> .
"""


def release_graphs(store: ox.Store) -> dict[str, rdflib.Graph]:
    """Each graph of ``store``, as the store writes it, read by rdflib."""
    return graphs_of(store.dump(format=ox.RdfFormat.N_QUADS).decode())


def graphs_of(nquads: str) -> dict[str, rdflib.Graph]:
    """Each graph of N-Quads ``nquads`` by name, as rdflib reads them."""
    dataset = rdflib.Dataset()
    with warnings.catch_warnings():  # rdflib's N-Quads parser uses its own deprecated API
        warnings.simplefilter("ignore", DeprecationWarning)
        dataset.parse(data=nquads, format="nquads")
    graphs: dict[str, rdflib.Graph] = {}
    for subject, predicate, value, graph in dataset.quads((None, None, None, None)):
        name = str(graph.identifier if isinstance(graph, rdflib.Graph) else graph)
        graphs.setdefault(name, rdflib.Graph()).add((subject, predicate, value))
    return graphs


def test_the_releases_are_read_from_a_store_of_their_own(
    snapshot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``releases.nq`` (``kg build --git``) in a read-only store on disk beside the snapshot's;
    and, with its place taken, in memory, with the reason in the log. Either way it holds
    each graph of the file, as rdflib reads it."""
    (snapshot / RELEASES_NQ.name).write_text(RELEASES, encoding="utf-8")
    wanted = graphs_of(RELEASES)
    assert len(wanted) == 3  # the two releases and the default graph (lineage)
    dataset = load_dataset(snapshot)
    assert dataset.releases is not None
    folder = store_folder(snapshot, dataset.version, "releases")
    assert folder.is_dir() and store_folder(snapshot, dataset.version).is_dir()
    found = release_graphs(dataset.releases)
    assert found.keys() == wanted.keys()
    assert all(isomorphic(found[name], wanted[name]) for name in wanted)
    with pytest.raises(RuntimeError, match="read-write"):
        dataset.releases.update("INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }")
    shutil.rmtree(folder)
    folder.write_text("in the way")
    with caplog.at_level(logging.WARNING):
        again = load_dataset(snapshot)
    assert "the releases store is loaded into memory" in caplog.text
    assert again.releases is not None
    found = release_graphs(again.releases)
    assert found.keys() == wanted.keys()
    assert all(isomorphic(found[name], wanted[name]) for name in wanted)


def test_a_killed_build_s_leftovers_go_when_a_store_is_next_opened(snapshot: Path) -> None:
    """A temporary folder older than any live build (its server killed midway) is removed
    when a store of that snapshot is next opened, built or not; a young one (a build in
    progress elsewhere) is left alone."""
    old, young = (
        snapshot / f"{FOLDER_PREFIX}building-old",
        snapshot / f"{FOLDER_PREFIX}building-new",
    )
    for folder in (old, young):
        (folder / "store").mkdir(parents=True)
        (folder / "store" / "000001.sst").write_bytes(b"half")
    long_ago = time.time() - BUILD_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    assert open_disk_store(snapshot, version_of(snapshot), SNAPSHOT_PARTS) is not None
    assert not old.exists() and young.is_dir()
    # the store is there now: opened, not built, and a leftover goes all the same
    (old / "store").mkdir(parents=True)
    os.utime(old, (long_ago, long_ago))
    assert open_disk_store(snapshot, version_of(snapshot), SNAPSHOT_PARTS) is not None
    assert not old.exists() and young.is_dir()


def test_where_no_store_can_be_built_the_snapshot_is_loaded_into_memory(
    snapshot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A file where the store's folder would go: the build cannot put it there (as in a
    # publication the server may not write; the tests run as root, so no permission stops it).
    version = version_of(snapshot)
    store_folder(snapshot, version).write_text("in the way")
    with caplog.at_level(logging.WARNING):
        assert open_disk_store(snapshot, version, SNAPSHOT_PARTS) is None
    assert "loaded into memory" in caplog.text and str(snapshot) in caplog.text
    dataset = load_dataset(snapshot)
    assert same(quads(dataset.store, DATA_GRAPH), snapshot / GRAPH_NT.name, "nt")
    assert not list(snapshot.glob(f"{FOLDER_PREFIX}building-*"))


def test_a_store_folder_that_cannot_be_opened_is_left_for_memory(
    snapshot: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder where the store should be that is no store (an interrupted copy, another
    version's format): the server still starts, from memory, and says why."""
    folder = store_folder(snapshot, version_of(snapshot))
    folder.mkdir()
    with caplog.at_level(logging.WARNING):
        dataset = load_dataset(snapshot)
    assert "loaded into memory" in caplog.text
    assert same(quads(dataset.store, DATA_GRAPH), snapshot / GRAPH_NT.name, "nt")
    assert list(folder.iterdir()) == []  # not built over: left as found


def test_a_live_server_answers_from_either_store(snapshot: Path) -> None:
    """Through ``kg serve``: the same count of triples from the store on disk and, with the
    store's place taken, from memory (and the log says why)."""
    triples = len(rdflib.Graph().parse(snapshot / GRAPH_NT.name, format="nt"))
    query = urllib.parse.urlencode({"query": COUNT.format(graph=DATA_GRAPH)})
    counts = []
    for blocked in (False, True):
        folder = store_folder(snapshot, version_of(snapshot))
        if blocked:
            shutil.rmtree(folder)
            folder.write_text("in the way")
        server = LiveServer(snapshot)
        try:
            request = urllib.request.Request(
                f"{server.url}/sparql?{query}", headers={"Accept": "text/csv"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                counts.append(int(response.read().decode().split()[-1]))
            log = server.log.read_text()
        finally:
            server.stop()
        assert folder.is_dir() != blocked
        assert ("loaded into memory" in log) == blocked
    assert counts == [triples, triples]
