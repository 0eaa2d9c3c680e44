"""The releases in the VoID/DCAT description: each a version of the dataset, citable.

``/.well-known/void`` of a publication with a release history (``kg build --git``) lists each
release as a ``dcat:Dataset`` the served dataset ``dcat:hasVersion`` (DCAT 3 versioning): its
description as the release graph of ``releases.nq`` has it (version, date, commit, counts),
plus what only the server knows, its addresses: the ``/releases`` entry as landing page, its
dumps as distributions (one per format of the main dumps, :data:`DUMP_FORMATS`, each with its
media type), and a ``dcterms:bibliographicCitation`` (title, version, date, URL), the same line
``/releases`` shows.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import pyoxigraph as ox
from flask import url_for

from kg.manifest import GRAPH_JSONLD, GRAPH_NT, GRAPH_TTL
from kg.namespace import DCAT_IRI, DCTERMS_IRI, RDF_IRI, RELEASES_GRAPH
from server.services.formats import GRAPH_FORMATS, Format
from server.services.history import release_infos
from server.services.history import tags as release_order

_TYPE = ox.NamedNode(f"{RDF_IRI}type")
_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"


def _dump_formats() -> dict[str, Format]:
    """Extension -> format of the publication's own graph dumps (``graph.ttl`` …)."""
    by_type = {fmt.media_type: fmt for fmt in GRAPH_FORMATS}
    return {
        PurePosixPath(file.name).suffix[1:]: by_type[file.media_type]
        for file in (GRAPH_TTL, GRAPH_NT, GRAPH_JSONLD)
    }


#: The formats of a release's dump (``/releases/<tag>/dump.<extension>``), by extension: those
#: of the main dumps (Turtle first: what ``/releases/<tag>/dump`` gives when any will do).
DUMP_FORMATS: dict[str, Format] = _dump_formats()


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
        triples += [quad.triple for quad in releases.quads_for_pattern(release, None, None, graph)]
        triples += [
            ox.Triple(dataset, _n(f"{DCAT_IRI}hasVersion"), release),
            ox.Triple(release, _n(f"{DCAT_IRI}landingPage"), _n(page)),
            ox.Triple(
                release, _n(f"{DCTERMS_IRI}bibliographicCitation"), ox.Literal(info.citation(page))
            ),
        ]
        for extension, fmt in DUMP_FORMATS.items():
            dump = url_for("releases.dump", tag=info.tag, extension=extension, _external=True)
            triples += _distribution(release, _n(dump), fmt)
    return triples


def _distribution(release: ox.NamedNode, dump: ox.NamedNode, fmt: Format) -> list[ox.Triple]:
    distribution = ox.BlankNode()
    return [
        ox.Triple(release, _n(f"{DCAT_IRI}distribution"), distribution),
        ox.Triple(distribution, _TYPE, _n(f"{DCAT_IRI}Distribution")),
        ox.Triple(
            distribution, _n(f"{DCTERMS_IRI}title"), ox.Literal(f"{fmt.title} dump", language="en")
        ),
        ox.Triple(distribution, _n(f"{DCAT_IRI}downloadURL"), dump),
        ox.Triple(distribution, _n(f"{DCAT_IRI}mediaType"), _n(f"{_MEDIA_TYPES}{fmt.media_type}")),
    ]


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
