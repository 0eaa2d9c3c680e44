"""Namespaces of the Algoritmekader graph and of the vocabularies it aligns with."""

from __future__ import annotations

from rdflib import Graph, Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD

URN_PREFIX = "urn:nl:ak:"

#: Named graphs of a publication in a store (the server's embedded one, or any store
#: ``kg push`` loads): the data, and the ontology it uses.
DATA_GRAPH = "urn:nl:ak:graph:data"
ONTOLOGY_GRAPH = "urn:nl:ak:graph:ontologie"

#: Named graphs of the release history (``kg build --git``): the releases' DCAT/PROV
#: description, and the lineage of every resource across them (each release's own graph is
#: ``urn:nl:ak:release:<tag>``, :func:`kg.identifier.release_urn`).
RELEASES_GRAPH = "urn:nl:ak:graph:releases"
LINEAGE_GRAPH = "urn:nl:ak:graph:lineage"


def staging_graph(graph: str, token: str) -> str:
    """Where ``kg push`` stages a large graph before it moves it to ``graph`` in one step."""
    return f"{graph}-staging-{token}"


#: Terms this project defines (classes and properties), themselves URNs so they dereference too.
AK = Namespace("urn:nl:ak:def:")
#: EU Core Criterion and Core Evidence Vocabulary (CCCEV).
CCCEV = Namespace("http://data.europa.eu/m8g/")
#: W3C Data Privacy Vocabulary.
DPV = Namespace("https://w3id.org/dpv#")
#: DPV's EU AI Act extension.
AIACT = Namespace("https://w3id.org/dpv/legal/eu/aiact#")
#: The SHACL namespace (for shapes and validation reports).
SH = Namespace("http://www.w3.org/ns/shacl#")

#: SPARQL 1.1 Service Description (the endpoint describes itself in it).
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
#: SPDX (checksums of the dumps in the dataset description).
SPDX = Namespace("http://spdx.org/rdf/terms#")

#: prefix -> namespace IRI, as used in every serialisation and in SPARQL examples.
PREFIXES: dict[str, str] = {
    prefix: str(namespace)
    for prefix, namespace in {
        "ak": AK,
        "dcterms": DCTERMS,
        "skos": SKOS,
        "prov": PROV,
        "owl": OWL,
        "rdf": RDF,
        "rdfs": RDFS,
        "xsd": XSD,
        "cccev": CCCEV,
        "dpv": DPV,
        "aiact": AIACT,
        "void": VOID,
        "dcat": DCAT,
        "foaf": FOAF,
        "sh": SH,
    }.items()
}


#: The namespaces as plain strings (``AK_IRI + "Maatregel"``), for code that handles IRIs as
#: text, as the server does with Oxigraph's terms: an rdflib term never equals a ``str``.
AK_IRI = str(AK)
DCTERMS_IRI = str(DCTERMS)
SKOS_IRI = str(SKOS)
RDF_IRI = str(RDF)
RDFS_IRI = str(RDFS)
XSD_IRI = str(XSD)
VOID_IRI = str(VOID)
DCAT_IRI = str(DCAT)
FOAF_IRI = str(FOAF)
SD_IRI = str(SD)
SPDX_IRI = str(SPDX)


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes (and nothing else) so dumps read the same everywhere."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, Namespace(namespace), override=True, replace=True)
    return graph
