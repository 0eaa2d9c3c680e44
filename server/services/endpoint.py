"""The SPARQL endpoint described in the SPARQL 1.1 Service Description vocabulary.

What ``GET /sparql`` without a query answers to a machine: the endpoint, the language, the
result formats, the union default graph and the store's named graphs with their sizes, and the
limits (timeout, rows) in words. With a release history the default graph is the newest release,
the ontology and the history's description and lineage; each release is a named graph only.
"""

from __future__ import annotations

import pyoxigraph as ox

from kg.config import Settings
from kg.namespace import RDF_IRI, RDFS_IRI, SD_IRI, VOID_IRI, XSD_IRI
from server.services.dataset import current_dataset, graph_sizes
from server.services.formats import GRAPH_FORMATS, RESULT_FORMATS, Format
from server.services.history_void import history_graph_sizes

_TYPE = ox.NamedNode(f"{RDF_IRI}type")
_COMMENT = ox.NamedNode(f"{RDFS_IRI}comment")
_TRIPLES = ox.NamedNode(f"{VOID_IRI}triples")
_SIMPLE_ENTAILMENT = ox.NamedNode("http://www.w3.org/ns/entailment/Simple")
_RESULTS: dict[str, ox.QueryResultsFormat] = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


def _sd(name: str) -> ox.NamedNode:
    return ox.NamedNode(SD_IRI + name)


def service_description(store: ox.Store, endpoint_url: str, settings: Settings) -> list[ox.Triple]:
    """SPARQL 1.1 Service Description of the endpoint at ``endpoint_url``."""
    service, dataset, default_graph = ox.BlankNode(), ox.BlankNode(), ox.BlankNode()
    limits = (
        f"Read-only (no SPARQL Update, no SERVICE). A query is stopped after "
        f"{settings.query_timeout:g} s (503); an answer holds at most "
        f"{settings.max_rows} rows or triples (X-Result-Truncated: true when cut)."
    )
    triples = [
        ox.Triple(service, _TYPE, _sd("Service")),
        ox.Triple(service, _sd("endpoint"), ox.NamedNode(endpoint_url)),
        ox.Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Query")),
        ox.Triple(service, _sd("feature"), _sd("UnionDefaultGraph")),
        ox.Triple(service, _sd("defaultEntailmentRegime"), _SIMPLE_ENTAILMENT),
        ox.Triple(service, _COMMENT, ox.Literal(limits, language="en")),
        ox.Triple(service, _sd("defaultDataset"), dataset),
        ox.Triple(dataset, _TYPE, _sd("Dataset")),
        ox.Triple(dataset, _sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, _TYPE, _sd("Graph")),
        ox.Triple(default_graph, _TRIPLES, _integer(len(store))),
    ]
    for fmt in (*RESULT_FORMATS, *GRAPH_FORMATS):
        triples.append(ox.Triple(service, _sd("resultFormat"), ox.NamedNode(_format_iri(fmt))))
    shared, releases = history_graph_sizes(current_dataset().releases)
    if releases:  # the default graph is the newest release and history, not every release
        triples.remove(ox.Triple(service, _sd("feature"), _sd("UnionDefaultGraph")))
        triples.remove(ox.Triple(default_graph, _TRIPLES, _integer(len(store))))
        size = len(store) + sum(shared.values())
        triples.append(ox.Triple(default_graph, _TRIPLES, _integer(size)))
    for name, size in {**graph_sizes(store), **shared, **releases}.items():
        triples += _named_graph(dataset, name, size)
    return triples


def _named_graph(dataset: ox.BlankNode, name: str, size: int) -> list[ox.Triple]:
    named, graph = ox.BlankNode(), ox.BlankNode()
    return [
        ox.Triple(dataset, _sd("namedGraph"), named),
        ox.Triple(named, _TYPE, _sd("NamedGraph")),
        ox.Triple(named, _sd("name"), ox.NamedNode(name)),
        ox.Triple(named, _sd("graph"), graph),
        ox.Triple(graph, _TYPE, _sd("Graph")),
        ox.Triple(graph, _TRIPLES, _integer(size)),
    ]


def _format_iri(fmt: Format) -> str:
    """The W3C ``formats`` IRI of a result or RDF format."""
    if fmt in RESULT_FORMATS:
        return _RESULTS[fmt.key].iri
    rdf = ox.RdfFormat.from_media_type(fmt.media_type)
    assert rdf is not None
    return rdf.iri


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(f"{XSD_IRI}integer"))
