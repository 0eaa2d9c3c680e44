"""The representations of a URN's description, and which one a request gets.

HTML for people; Turtle, JSON-LD, N-Triples and RDF/XML for machines. Formats and the
``Accept`` matching are :mod:`server.formats` (shared with the SPARQL endpoint): ``?format=``
when given, else ``Accept`` with q-values, wildcards and specificity; no ``Accept`` header at
all means ``*/*``, which gives the first offer, HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.term import BNode, Node
from werkzeug.datastructures import MIMEAccept

from kg.serialization import write_jsonld
from server.formats import HTML, JSONLD, NTRIPLES, RDFXML, TURTLE, Format, choose_format
from server.formats import serialize_triples as serialize_with_oxigraph

#: What a URN answers in, in the server's order of preference.
FORMATS: tuple[Format, ...] = (HTML, TURTLE, JSONLD, NTRIPLES, RDFXML)

__all__ = ["FORMATS", "HTML", "Format", "negotiate", "serialize"]


def negotiate(accept: MIMEAccept, format_param: str | None) -> Format | None:
    """The format to answer with, or None when nothing offered is acceptable (406)."""
    return choose_format(accept, format_param, FORMATS)


def serialize(triples: Sequence[ox.Triple], fmt: Format) -> bytes:
    """``triples`` written in an RDF format (not HTML).

    JSON-LD is compacted with the context of the dumps (``ak:Maatregel``, not full IRIs).
    """
    if fmt is JSONLD:
        return write_jsonld(list(to_rdflib(triples)))
    return serialize_with_oxigraph(triples, fmt)


def to_rdflib(triples: Iterable[ox.Triple]) -> Iterable[tuple[Node, Node, Node]]:
    for triple in triples:
        yield _term(triple.subject), _term(triple.predicate), _term(triple.object)


def _term(term: object) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"not an RDF term: {term!r}")
