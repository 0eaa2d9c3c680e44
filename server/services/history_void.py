"""The releases in the VoID/DCAT description: each a version of the dataset, citable.

``/.well-known/void`` of a publication with a release history (``kg build --git``) lists each
release as a ``dcat:Dataset`` the served dataset ``dcat:hasVersion`` (DCAT 3 versioning): its
description as the release graph of ``releases.nq`` has it (version, date, commit, counts),
plus what only the server knows, its addresses: the ``/releases`` entry as landing page, its
Turtle dump as a distribution, and a ``dcterms:bibliographicCitation`` (title, version, date,
URL), the same line ``/releases`` shows.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import url_for

from kg.namespace import DCAT_IRI, DCTERMS_IRI, RDF_IRI, RELEASES_GRAPH
from server.services.history import release_infos
from server.services.history import tags as release_order

_TYPE = ox.NamedNode(f"{RDF_IRI}type")


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def release_versions(releases: ox.Store | None, dataset: ox.NamedNode) -> list[ox.Triple]:
    """Each release as a version of ``dataset`` (nothing without a release history)."""
    if releases is None:
        return []
    graph = _n(RELEASES_GRAPH)
    triples: list[ox.Triple] = []
    for info in release_infos(releases):
        release = _n(info.urn)
        page = url_for("releases.overview", _anchor=info.tag, _external=True)
        dump = _n(url_for("releases.dump", tag=info.tag, _external=True))
        distribution = ox.BlankNode()
        triples += [quad.triple for quad in releases.quads_for_pattern(release, None, None, graph)]
        triples += [
            ox.Triple(dataset, _n(f"{DCAT_IRI}hasVersion"), release),
            ox.Triple(release, _n(f"{DCAT_IRI}landingPage"), _n(page)),
            ox.Triple(
                release, _n(f"{DCTERMS_IRI}bibliographicCitation"), ox.Literal(info.citation(page))
            ),
            ox.Triple(release, _n(f"{DCAT_IRI}distribution"), distribution),
            ox.Triple(distribution, _TYPE, _n(f"{DCAT_IRI}Distribution")),
            ox.Triple(distribution, _n(f"{DCAT_IRI}downloadURL"), dump),
            ox.Triple(distribution, _n(f"{DCAT_IRI}mediaType"), _n(_TURTLE)),
        ]
    return triples


_TURTLE = "http://www.iana.org/assignments/media-types/text/turtle"


def history_graph_sizes(releases: ox.Store | None) -> tuple[dict[str, int], dict[str, int]]:
    """Triples per graph of the release history: (the graphs that are part of the default
    graph: the releases' description and lineage; the release graphs, named only)."""
    if releases is None:
        return {}, {}
    sizes: dict[str, int] = {}
    for graph in releases.named_graphs():
        assert isinstance(graph, ox.NamedNode)
        sizes[graph.value] = sum(1 for _ in releases.quads_for_pattern(None, None, None, graph))
    names = set(release_order(releases))
    shared = {name: size for name, size in sizes.items() if name not in names}
    return shared, {name: size for name, size in sizes.items() if name in names}
