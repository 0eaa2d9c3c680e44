"""The dataset described in VoID and DCAT: dumps, size, class partitions, endpoint, licence.

``describe_dataset`` returns the triples served at ``/.well-known/void``. Addresses are absolute
(``base`` is the server's own root, as the request reached it); the dataset itself is
``<base>/.well-known/void#dataset``. Counts come from the store (the data graph), sizes and
checksums from the publication's manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from kg.namespace import PREFIXES, URN_PREFIX
from server.dataset import DATA_GRAPH, Dataset, Statistics

VOID = "http://rdfs.org/ns/void#"
DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
SPDX = "http://spdx.org/rdf/terms#"
FOAF = "http://xmlns.com/foaf/0.1/"
XSD = "http://www.w3.org/2001/XMLSchema#"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

#: EUPL 1.2 in the EU's licence vocabulary (as DCAT-AP asks).
LICENSE = "http://publications.europa.eu/resource/authority/licence/EUPL_1_2"
UPSTREAM = "https://minbzk.github.io/Algoritmekader/"
EXAMPLE_RESOURCE = "urn:nl:ak:mtr:org-02"
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"


@dataclass(frozen=True)
class Dump:
    """A download: its path on the server, the publication file, its media type and format."""

    path: str
    file: str
    media_type: str
    format_iri: str
    title: str


DUMPS: tuple[Dump, ...] = (
    Dump("/dump.ttl", "graph.ttl", "text/turtle", ox.RdfFormat.TURTLE.iri, "Turtle"),
    Dump("/dump.nt", "graph.nt", "application/n-triples", ox.RdfFormat.N_TRIPLES.iri, "N-Triples"),
    Dump(
        "/dump.jsonld", "graph.jsonld", "application/ld+json", ox.RdfFormat.JSON_LD.iri, "JSON-LD"
    ),
)


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _typed(value: object, datatype: str) -> ox.Literal:
    return ox.Literal(str(value), datatype=_n(XSD + datatype))


def describe_dataset(dataset: Dataset, base: str) -> list[ox.Triple]:
    """VoID and DCAT of the publication ``dataset`` as served from ``base`` (no slash at end)."""
    manifest = dataset.manifest
    here = f"{base}/.well-known/void"
    subject = _n(f"{here}#dataset")
    triples: list[ox.Triple] = []

    def add(s: ox.NamedNode | ox.BlankNode, p: str, o: Any) -> None:
        triples.append(ox.Triple(s, _n(p), o))

    add(_n(here), TYPE, _n(VOID + "DatasetDescription"))
    add(_n(here), FOAF + "primaryTopic", subject)
    add(
        _n(here),
        DCTERMS + "title",
        ox.Literal("VoID/DCAT description of the Algoritmekader graph", language="en"),
    )
    add(subject, TYPE, _n(VOID + "Dataset"))
    add(subject, TYPE, _n(DCAT + "Dataset"))
    add(subject, DCTERMS + "title", ox.Literal("Algoritmekader", language="nl"))
    add(subject, DCTERMS + "title", ox.Literal("Algoritmekader knowledge graph", language="en"))
    add(
        subject,
        DCTERMS + "description",
        ox.Literal(
            "The Dutch government's framework for responsible use of algorithms and AI "
            "(requirements, measures, instruments, roles, lifecycle phases) as RDF.",
            language="en",
        ),
    )
    add(subject, DCTERMS + "license", _n(LICENSE))
    add(subject, DCTERMS + "source", _n(UPSTREAM))
    if manifest.get("built_at"):
        add(subject, DCTERMS + "modified", _typed(manifest["built_at"], "dateTime"))
    if manifest.get("commit"):
        add(subject, DCAT + "version", ox.Literal(str(manifest["commit"])))
    add(subject, DCAT + "landingPage", _n(f"{base}/"))
    add(subject, VOID + "sparqlEndpoint", _n(f"{base}/sparql"))
    add(subject, VOID + "uriSpace", ox.Literal(URN_PREFIX))
    add(subject, VOID + "triples", _typed(manifest.get("triples", 0), "integer"))
    for namespace in PREFIXES.values():
        add(subject, VOID + "vocabulary", _n(str(namespace)))
    if any(dataset.store.quads_for_pattern(_n(EXAMPLE_RESOURCE), None, None, _n(DATA_GRAPH))):
        add(subject, VOID + "exampleResource", _n(EXAMPLE_RESOURCE))
    triples += _statistics(dataset.statistics, subject)
    files = manifest.get("files", {})
    for dump in DUMPS:
        url = _n(base + dump.path)
        add(subject, VOID + "dataDump", url)
        add(subject, VOID + "feature", _n(dump.format_iri))
        distribution = _n(f"{here}#{dump.file.replace('.', '-')}")
        add(subject, DCAT + "distribution", distribution)
        add(distribution, TYPE, _n(DCAT + "Distribution"))
        add(distribution, DCTERMS + "title", ox.Literal(f"{dump.title} dump", language="en"))
        add(distribution, DCAT + "downloadURL", url)
        add(distribution, DCAT + "accessURL", url)
        add(distribution, DCAT + "mediaType", _n(IANA_MEDIA_TYPES + dump.media_type))
        add(distribution, DCTERMS + "format", _n(dump.format_iri))
        add(distribution, DCTERMS + "license", _n(LICENSE))
        if manifest.get("built_at"):
            add(distribution, DCTERMS + "modified", _typed(manifest["built_at"], "dateTime"))
        info = files.get(dump.file, {})
        if "bytes" in info:
            add(distribution, DCAT + "byteSize", _typed(info["bytes"], "nonNegativeInteger"))
        if "sha256" in info:
            checksum = ox.BlankNode()
            add(distribution, SPDX + "checksum", checksum)
            add(checksum, TYPE, _n(SPDX + "Checksum"))
            add(checksum, SPDX + "algorithm", _n(SPDX + "checksumAlgorithm_sha256"))
            add(checksum, SPDX + "checksumValue", _typed(info["sha256"], "hexBinary"))
    triples += _sparql_distribution(base, here, subject)
    return triples


def _sparql_distribution(base: str, here: str, dataset: ox.NamedNode) -> list[ox.Triple]:
    endpoint, service, distribution = (
        _n(f"{base}/sparql"),
        _n(f"{here}#sparql"),
        _n(f"{here}#sparql-access"),
    )
    a = _n(TYPE)
    return [
        ox.Triple(dataset, _n(DCAT + "distribution"), distribution),
        ox.Triple(distribution, a, _n(DCAT + "Distribution")),
        ox.Triple(
            distribution, _n(DCTERMS + "title"), ox.Literal("SPARQL endpoint", language="en")
        ),
        ox.Triple(distribution, _n(DCAT + "accessURL"), endpoint),
        ox.Triple(distribution, _n(DCAT + "accessService"), service),
        ox.Triple(service, a, _n(DCAT + "DataService")),
        ox.Triple(service, _n(DCAT + "endpointURL"), endpoint),
        ox.Triple(service, _n(DCAT + "endpointDescription"), endpoint),
        ox.Triple(service, _n(DCTERMS + "conformsTo"), _n(SPARQL_PROTOCOL)),
        ox.Triple(service, _n(DCAT + "servesDataset"), dataset),
        ox.Triple(service, _n(DCTERMS + "license"), _n(LICENSE)),
    ]


def _statistics(statistics: Statistics, dataset: ox.NamedNode) -> list[ox.Triple]:
    """void:entities, classes, properties, distinct subjects/objects and class partitions."""
    triples = [
        ox.Triple(dataset, _n(VOID + name), _typed(value, "integer"))
        for name, value in (
            ("entities", statistics.entities),
            ("classes", statistics.classes),
            ("properties", statistics.properties),
            ("distinctSubjects", statistics.distinct_subjects),
            ("distinctObjects", statistics.distinct_objects),
        )
    ]
    for cls, entities in statistics.partitions:
        partition = ox.BlankNode()
        triples += [
            ox.Triple(dataset, _n(VOID + "classPartition"), partition),
            ox.Triple(partition, _n(VOID + "class"), _n(cls)),
            ox.Triple(partition, _n(VOID + "entities"), _typed(entities, "integer")),
        ]
    return triples
