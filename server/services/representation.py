"""The representations of a URN's description, and which one a request gets.

HTML for people; Turtle, JSON-LD, N-Triples and RDF/XML for machines. Formats and the
``Accept`` matching are :mod:`server.services.formats` (shared with the SPARQL endpoint):
``?format=`` when given, else ``Accept`` with q-values, wildcards and specificity; no
``Accept`` header at all means ``*/*``, which gives the first offer, HTML.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from kg.serialization import rdflib_triples, write_jsonld
from server.services.formats import HTML, JSONLD, NTRIPLES, RDFXML, TURTLE, Format, choose_format
from server.services.formats import serialize_triples as serialize_with_oxigraph

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
        return write_jsonld(list(rdflib_triples(triples)))
    return serialize_with_oxigraph(triples, fmt)
