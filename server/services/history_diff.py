"""What changed between two releases, for ``/diff/A..B``, and one release's graph on its own.

The diff itself is :func:`kg.diff.diff` (the same one ``kg diff`` prints), run on the release
store of the snapshot; it works on the published triples only and parses no content. As RDF
the diff is a set of changesets in the Changeset vocabulary
(``http://purl.org/vocab/changeset/schema#``, ``cs:``), one ``cs:ChangeSet`` per resource:
``cs:subjectOfChange`` the resource, ``cs:changeReason`` what happened (``toegevoegd``,
``verwijderd``, ``hernoemd naar <URN>``, ``gewijzigd: <properties>``), ``cs:createdDate`` the
date of release B, and, for a changed resource, each of its own triples that B added or removed
as a ``cs:addition`` / ``cs:removal`` (an ``rdf:Statement``). ``dcterms:isReplacedBy`` links a
renamed URN to its new one, as in the lineage graph.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

import pyoxigraph as ox

from kg.diff import Diff
from kg.namespace import DATA_GRAPH, DCTERMS_IRI, ONTOLOGY_GRAPH, RDF_IRI, XSD_IRI

CHANGESET = "http://purl.org/vocab/changeset/schema#"
_TYPE = ox.NamedNode(f"{RDF_IRI}type")


def _cs(name: str) -> ox.NamedNode:
    return ox.NamedNode(CHANGESET + name)


def own_triples(store: ox.Store, graph: str, urn: str) -> set[ox.Triple]:
    """The triples with ``urn`` as subject in release graph ``graph``."""
    return {
        quad.triple
        for quad in store.quads_for_pattern(ox.NamedNode(urn), None, None, ox.NamedNode(graph))
    }


def changeset(store: ox.Store, found: Diff, graphs: tuple[str, str], date: str) -> list[ox.Triple]:
    """``found`` (a diff from release graph ``graphs[0]`` to ``graphs[1]``) as changesets."""
    triples: list[ox.Triple] = []
    created = ox.Literal(date, datatype=ox.NamedNode(f"{XSD_IRI}dateTime")) if date else None
    reasons: list[tuple[str, str]] = [
        *((urn, "toegevoegd") for urn in found.added),
        *((urn, "verwijderd") for urn in found.removed),
        *((old, f"hernoemd naar {new}") for old, new in found.renamed),
        *((urn, "gewijzigd: " + ", ".join(props)) for urn, props in found.changed),
    ]
    for number, (urn, reason) in enumerate(reasons):
        change = ox.BlankNode(f"c{number}")
        triples += [
            ox.Triple(change, _TYPE, _cs("ChangeSet")),
            ox.Triple(change, _cs("subjectOfChange"), ox.NamedNode(urn)),
            ox.Triple(change, _cs("changeReason"), ox.Literal(reason, language="nl")),
        ]
        if created is not None:
            triples.append(ox.Triple(change, _cs("createdDate"), created))
    for old, new in found.renamed:
        triples.append(
            ox.Triple(
                ox.NamedNode(old), ox.NamedNode(f"{DCTERMS_IRI}isReplacedBy"), ox.NamedNode(new)
            )
        )
    for number, (urn, _) in enumerate(found.changed, start=len(reasons) - len(found.changed)):
        before, after = (own_triples(store, graph, urn) for graph in graphs)
        change = ox.BlankNode(f"c{number}")
        triples += _statements(change, "removal", sorted(before - after, key=str), number)
        triples += _statements(change, "addition", sorted(after - before, key=str), number)
    return triples


def _statements(
    change: ox.BlankNode, kind: str, facts: Sequence[ox.Triple], number: int
) -> list[ox.Triple]:
    triples: list[ox.Triple] = []
    for index, fact in enumerate(facts):
        statement = ox.BlankNode(f"c{number}{kind[0]}{index}")
        triples += [
            ox.Triple(change, _cs(kind), statement),
            ox.Triple(statement, _TYPE, ox.NamedNode(f"{RDF_IRI}Statement")),
            ox.Triple(statement, ox.NamedNode(f"{RDF_IRI}subject"), fact.subject),
            ox.Triple(statement, ox.NamedNode(f"{RDF_IRI}predicate"), fact.predicate),
            ox.Triple(statement, ox.NamedNode(f"{RDF_IRI}object"), fact.object),
        ]
    return triples


def release_graph_triples(store: ox.Store, graph: str) -> list[ox.Triple]:
    """Every triple of release graph ``graph``, sorted (for a per-release dump)."""
    found = [quad.triple for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))]
    return sorted(found, key=str)


class ReleaseView:
    """Release ``graph`` of the releases store as the data graph, beside the served ontology,
    read where they are: the part of ``pyoxigraph.Store`` a resource page uses
    (``quads_for_pattern``). Copying the release into a store of its own (13,000 quads of
    upstream's) took most of a page's time (0.2–0.4 s) and left its memory with the worker's
    allocator (40 MiB after a page of each of 28 releases)."""

    def __init__(self, releases: ox.Store, graph: str, served: ox.Store) -> None:
        self._parts = (
            (DATA_GRAPH, releases, ox.NamedNode(graph)),
            (ONTOLOGY_GRAPH, served, ox.NamedNode(ONTOLOGY_GRAPH)),
        )

    def quads_for_pattern(
        self,
        subject: ox.NamedNode | ox.BlankNode | None = None,
        predicate: ox.NamedNode | None = None,
        object: ox.NamedNode | ox.BlankNode | ox.Literal | None = None,
        graph_name: ox.NamedNode | ox.BlankNode | ox.DefaultGraph | None = None,
    ) -> Iterator[ox.Quad]:
        """The quads of the view that match, each in the graph the view names it by (the data
        graph or the ontology graph), as a store holding the two would give them."""
        for name, store, read in self._parts:
            if graph_name is None or graph_name == ox.NamedNode(name):
                as_named = ox.NamedNode(name)
                for quad in store.quads_for_pattern(subject, predicate, object, read):
                    yield ox.Quad(quad.subject, quad.predicate, quad.object, as_named)


def release_view(releases: ox.Store, graph: str, served: ox.Store) -> ox.Store:
    """Release ``graph`` as the data of a store, beside the served ontology: a resource page
    drawn from it shows the resource as that release had it (a :class:`ReleaseView`, which
    answers all a page asks of a store: ``pyoxigraph.Store`` cannot be subclassed)."""
    return cast("ox.Store", ReleaseView(releases, graph, served))
