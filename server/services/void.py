"""The dataset described in VoID and DCAT: dumps, size, class partitions, endpoint, licence.

``describe_dataset`` returns the triples served at ``/.well-known/void``. Addresses are absolute,
made by ``url_for`` for the host the request came to; the dataset itself is
``<…/.well-known/void>#dataset``. Counts come from the store (the data graph), sizes and
checksums from the publication's manifest, the dumps from :data:`kg.manifest.DUMPS`.
"""

from __future__ import annotations

import pyoxigraph as ox
from flask import url_for

from kg.manifest import DUMPS, Manifest, PublishedFile
from kg.namespace import DCAT_IRI as DCAT
from kg.namespace import DCTERMS_IRI as DCTERMS
from kg.namespace import FOAF_IRI as FOAF
from kg.namespace import PREFIXES, URN_PREFIX
from kg.namespace import RDF_IRI as RDF
from kg.namespace import SPDX_IRI as SPDX
from kg.namespace import VOID_IRI as VOID
from kg.namespace import XSD_IRI as XSD
from server.services.dataset import DATA_GRAPH, Dataset, Statistics
from server.services.examples import EXAMPLE_URN
from server.services.history_void import release_versions

#: EUPL 1.2 in the EU's licence vocabulary (as DCAT-AP asks).
LICENSE = "http://publications.europa.eu/resource/authority/licence/EUPL_1_2"
UPSTREAM = "https://minbzk.github.io/Algoritmekader/"
IANA_MEDIA_TYPES = "http://www.iana.org/assignments/media-types/"
SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"
_TYPE = f"{RDF}type"

Subject = ox.NamedNode | ox.BlankNode


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _typed(value: object, datatype: str) -> ox.Literal:
    return ox.Literal(str(value), datatype=_n(XSD + datatype))


def _triple(
    subject: Subject, predicate: str, obj: ox.NamedNode | ox.BlankNode | ox.Literal
) -> ox.Triple:
    return ox.Triple(subject, _n(predicate), obj)


def describe_dataset(dataset: Dataset) -> list[ox.Triple]:
    """VoID and DCAT of the publication ``dataset`` as served to the current request."""
    here = url_for("dumps.void", _external=True)
    subject = _n(f"{here}#dataset")
    triples = [
        _triple(_n(here), _TYPE, _n(VOID + "DatasetDescription")),
        _triple(_n(here), FOAF + "primaryTopic", subject),
        _triple(
            _n(here),
            DCTERMS + "title",
            ox.Literal("VoID/DCAT description of the Algoritmekader graph", language="en"),
        ),
        *_about(subject, dataset.manifest),
    ]
    if any(dataset.store.quads_for_pattern(_n(EXAMPLE_URN), None, None, _n(DATA_GRAPH))):
        triples.append(_triple(subject, VOID + "exampleResource", _n(EXAMPLE_URN)))
    triples += _statistics(dataset.statistics, subject)
    for dump in DUMPS:
        triples += _dump(subject, here, dump, dataset.manifest)
    triples += _sparql_distribution(here, subject)
    triples += release_versions(dataset.releases, subject)
    return triples


def _about(subject: ox.NamedNode, manifest: Manifest) -> list[ox.Triple]:
    """What the dataset is, where it comes from, and its size."""
    triples = [
        _triple(subject, _TYPE, _n(VOID + "Dataset")),
        _triple(subject, _TYPE, _n(DCAT + "Dataset")),
        _triple(subject, DCTERMS + "title", ox.Literal("Algoritmekader", language="nl")),
        _triple(
            subject,
            DCTERMS + "title",
            ox.Literal("Algoritmekader knowledge graph", language="en"),
        ),
        _triple(
            subject,
            DCTERMS + "description",
            ox.Literal(
                "The Dutch government's framework for responsible use of algorithms and AI "
                "(requirements, measures, instruments, roles, lifecycle phases) as RDF.",
                language="en",
            ),
        ),
        _triple(subject, DCTERMS + "license", _n(LICENSE)),
        _triple(subject, DCTERMS + "source", _n(UPSTREAM)),
        _triple(subject, DCTERMS + "modified", _typed(manifest.built_at, "dateTime")),
        _triple(subject, DCAT + "landingPage", _n(url_for("pages.home", _external=True))),
        _triple(subject, VOID + "sparqlEndpoint", _n(_endpoint())),
        _triple(subject, VOID + "uriSpace", ox.Literal(URN_PREFIX)),
        _triple(subject, VOID + "triples", _typed(manifest.triples, "integer")),
    ]
    if manifest.commit:
        triples.append(_triple(subject, DCAT + "version", ox.Literal(manifest.commit)))
    triples += [_triple(subject, VOID + "vocabulary", _n(iri)) for iri in PREFIXES.values()]
    return triples


def _dump(
    dataset: ox.NamedNode, here: str, dump: PublishedFile, manifest: Manifest
) -> list[ox.Triple]:
    """A dump as ``void:dataDump`` and as a ``dcat:Distribution`` with size and checksum."""
    assert dump.served_as is not None  # every dump is served
    url = _n(url_for("dumps.publication_file", path=dump.served_as, _external=True))
    format_iri = _n(_rdf_format(dump.media_type).iri)
    distribution = _n(f"{here}#{dump.name.replace('.', '-')}")
    triples = [
        _triple(dataset, VOID + "dataDump", url),
        _triple(dataset, VOID + "feature", format_iri),
        _triple(dataset, DCAT + "distribution", distribution),
        _triple(distribution, _TYPE, _n(DCAT + "Distribution")),
        _triple(distribution, DCTERMS + "title", ox.Literal(f"{dump.title} dump", language="en")),
        _triple(distribution, DCAT + "downloadURL", url),
        _triple(distribution, DCAT + "accessURL", url),
        _triple(distribution, DCAT + "mediaType", _n(IANA_MEDIA_TYPES + dump.media_type)),
        _triple(distribution, DCTERMS + "format", format_iri),
        _triple(distribution, DCTERMS + "license", _n(LICENSE)),
        _triple(distribution, DCTERMS + "modified", _typed(manifest.built_at, "dateTime")),
    ]
    record = manifest.files.get(dump.name)
    if record is not None:
        checksum = ox.BlankNode()
        triples += [
            _triple(distribution, DCAT + "byteSize", _typed(record.bytes, "nonNegativeInteger")),
            _triple(distribution, SPDX + "checksum", checksum),
            _triple(checksum, _TYPE, _n(SPDX + "Checksum")),
            _triple(checksum, SPDX + "algorithm", _n(SPDX + "checksumAlgorithm_sha256")),
            _triple(checksum, SPDX + "checksumValue", _typed(record.sha256, "hexBinary")),
        ]
    return triples


def _rdf_format(media_type: str) -> ox.RdfFormat:
    found = ox.RdfFormat.from_media_type(media_type)
    assert found is not None, media_type  # the dumps are RDF
    return found


def _endpoint() -> str:
    return url_for("sparql.endpoint", _external=True)


def _sparql_distribution(here: str, dataset: ox.NamedNode) -> list[ox.Triple]:
    endpoint = _n(_endpoint())
    service, distribution = _n(f"{here}#sparql"), _n(f"{here}#sparql-access")
    return [
        _triple(dataset, DCAT + "distribution", distribution),
        _triple(distribution, _TYPE, _n(DCAT + "Distribution")),
        _triple(distribution, DCTERMS + "title", ox.Literal("SPARQL endpoint", language="en")),
        _triple(distribution, DCAT + "accessURL", endpoint),
        _triple(distribution, DCAT + "accessService", service),
        _triple(service, _TYPE, _n(DCAT + "DataService")),
        _triple(service, DCAT + "endpointURL", endpoint),
        _triple(service, DCAT + "endpointDescription", endpoint),
        _triple(service, DCTERMS + "conformsTo", _n(SPARQL_PROTOCOL)),
        _triple(service, DCAT + "servesDataset", dataset),
        _triple(service, DCTERMS + "license", _n(LICENSE)),
    ]


def _statistics(statistics: Statistics, dataset: ox.NamedNode) -> list[ox.Triple]:
    """void:entities, classes, properties, distinct subjects/objects and class partitions."""
    triples = [
        _triple(dataset, VOID + name, _typed(value, "integer"))
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
            _triple(dataset, VOID + "classPartition", partition),
            _triple(partition, VOID + "class", _n(cls)),
            _triple(partition, VOID + "entities", _typed(entities, "integer")),
        ]
    return triples
