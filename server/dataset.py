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
class Dataset:
    path: Path
    manifest: dict[str, Any]
    store: ox.Store


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
    return Dataset(dist, read_manifest(dist), store)


def current_dataset() -> Dataset:
    dataset: Dataset = current_app.extensions["kg_dataset"]
    return dataset
