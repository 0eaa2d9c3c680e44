"""The publication as the server holds it: an Oxigraph store plus the build's metadata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from flask import current_app

from kg.publication import MANIFEST, ONTOLOGY, read_manifest

#: Named graphs of the store; the default graph is their union.
DATA_GRAPH = "urn:nl:ak:graph:data"
ONTOLOGY_GRAPH = "urn:nl:ak:graph:ontologie"


class PublicationMissing(FileNotFoundError):
    pass


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
    manifest: dict[str, Any]
    store: ox.Store
    statistics: Statistics


def load_dataset(dist: Path) -> Dataset:
    if not (dist / MANIFEST).is_file():
        raise PublicationMissing(f"{dist}: no publication here (run 'kg build' first)")
    store = ox.Store()
    store.bulk_load(
        path=str(dist / "graph.nt"),
        format=ox.RdfFormat.N_TRIPLES,
        to_graph=ox.NamedNode(DATA_GRAPH),
    )
    if (dist / ONTOLOGY).is_file():
        store.bulk_load(
            path=str(dist / ONTOLOGY),
            format=ox.RdfFormat.TURTLE,
            to_graph=ox.NamedNode(ONTOLOGY_GRAPH),
        )
    return Dataset(dist, read_manifest(dist), store, count_statistics(store))


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


def _select(store: ox.Store, query: str) -> list[dict[str, str]]:
    """Rows of a trusted SELECT on ``store``, every value as its lexical form or IRI."""
    solutions = store.query(query)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in solutions]


def current_dataset() -> Dataset:
    dataset: Dataset = current_app.extensions["kg_dataset"]
    return dataset
