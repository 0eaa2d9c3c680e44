"""The publication as the server holds it: an Oxigraph store plus what the build wrote beside it.

Loaded once at start-up (``create_app``) and never changed: the graph and the ontology in two
named graphs of one store, the typed manifest, the rendered pages (``html.json``) and the counts
VoID reports. Requests read it through :func:`current_dataset`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import pyoxigraph as ox
from flask import Flask, current_app

from kg.manifest import GRAPH_NT, MANIFEST, ONTOLOGY, PAGES, Manifest, read_manifest

#: Named graphs of the store; the default graph is their union.
DATA_GRAPH = "urn:nl:ak:graph:data"
ONTOLOGY_GRAPH = "urn:nl:ak:graph:ontologie"

_EXTENSION_KEY = "kg_dataset"


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


def load_dataset(dist: Path) -> Dataset:
    if not (dist / MANIFEST.name).is_file():
        raise PublicationMissing(f"{dist}: no publication here (run 'kg build' first)")
    manifest = read_manifest(dist)
    store = ox.Store()
    store.bulk_load(
        path=str(dist / GRAPH_NT.name),
        format=ox.RdfFormat.N_TRIPLES,
        to_graph=ox.NamedNode(DATA_GRAPH),
    )
    if (dist / ONTOLOGY.name).is_file():
        store.bulk_load(
            path=str(dist / ONTOLOGY.name),
            format=ox.RdfFormat.TURTLE,
            to_graph=ox.NamedNode(ONTOLOGY_GRAPH),
        )
    return Dataset(
        path=dist,
        manifest=manifest,
        store=store,
        statistics=count_statistics(store),
        pages=read_pages(dist),
        version=publication_version(manifest),
    )


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


def install_dataset(app: Flask, dataset: Dataset) -> None:
    app.extensions[_EXTENSION_KEY] = dataset


def current_dataset() -> Dataset:
    dataset: Dataset = current_app.extensions[_EXTENSION_KEY]
    return dataset
