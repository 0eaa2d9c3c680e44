"""Namespaces of the Algoritmekader graph and of the vocabularies it aligns with."""

from __future__ import annotations

from rdflib import Graph, Namespace
from rdflib.namespace import DCAT, DCTERMS, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD

URN_PREFIX = "urn:nl:ak:"

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
        "sh": SH,
    }.items()
}


def bind_prefixes(graph: Graph) -> Graph:
    """Bind the project's prefixes (and nothing else) so dumps read the same everywhere."""
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, Namespace(namespace), override=True, replace=True)
    return graph
