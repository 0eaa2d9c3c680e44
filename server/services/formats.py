"""Media types and the formats the server answers in, and how a request's ``Accept`` picks one.

A :class:`Format` is one answer format: a short key for ``?format=``, its media type, and the
other names and media types clients use for it. :func:`best_format` picks the format a client
prefers from a list of offers (the server's order breaks ties) and returns ``None`` when none is
acceptable, which the caller answers with ``406``
(:func:`server.services.responses.not_acceptable`).

Matching follows RFC 9110 §12.5.1: the most specific media range that matches a media type
gives its quality (``text/turtle`` over ``text/*`` over ``*/*``), ``q=0`` means "not this",
parameters other than ``q`` (``charset=utf-8``) are ignored, and no ``Accept`` header at all
(or an empty one) means ``*/*``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept

from kg.serialization import prefix_map


@dataclass(frozen=True)
class Format:
    #: The ``?format=`` value.
    key: str
    media_type: str
    title: str
    #: Other ``?format=`` spellings.
    names: tuple[str, ...] = ()
    #: Other media types a client may ask for to get this format.
    aliases: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header: text formats say they are UTF-8."""
        textual = self.media_type.startswith("text/") or self.media_type.endswith(
            ("+json", "+xml", "/json", "/n-triples")
        )
        return f"{self.media_type}; charset=utf-8" if textual else self.media_type

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.aliases)


# SPARQL results (SELECT, ASK).
RESULTS_JSON = Format(
    "json",
    "application/sparql-results+json",
    "SPARQL results in JSON",
    ("srj",),
    ("application/json", "text/javascript", "application/javascript"),
)
RESULTS_XML = Format(
    "xml",
    "application/sparql-results+xml",
    "SPARQL results in XML",
    ("srx",),
    ("application/xml", "text/xml"),
)
RESULTS_CSV = Format("csv", "text/csv", "SPARQL results in CSV")
RESULTS_TSV = Format("tsv", "text/tab-separated-values", "SPARQL results in TSV")

# RDF graphs (CONSTRUCT, DESCRIBE, descriptions).
TURTLE = Format(
    "turtle", "text/turtle", "Turtle", ("ttl", "n3"), ("application/x-turtle", "application/turtle")
)
NTRIPLES = Format(
    "ntriples", "application/n-triples", "N-Triples", ("nt", "n-triples"), ("text/plain",)
)
JSONLD = Format(
    "jsonld",
    "application/ld+json",
    "JSON-LD",
    ("json-ld", "json"),
    ("application/json", "application/x-json+ld"),
)
RDFXML = Format(
    "rdfxml", "application/rdf+xml", "RDF/XML", ("rdf", "rdf+xml", "xml"), ("application/xml",)
)

HTML = Format("html", "text/html", "HTML", ("htm",), ("application/xhtml+xml",))

RESULT_FORMATS: tuple[Format, ...] = (RESULTS_JSON, RESULTS_XML, RESULTS_CSV, RESULTS_TSV)
GRAPH_FORMATS: tuple[Format, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML)


def quality(accept: MIMEAccept, media_type: str) -> float:
    """How much the client wants ``media_type``: the q of the most specific matching range."""
    return _match(accept, media_type)[1]


def best_format(accept: MIMEAccept, offers: Sequence[Format]) -> Format | None:
    """The offer the client likes best; None if none is acceptable.

    Offers are ranked by quality, then by how specifically the client named them (``text/csv``
    beats a ``*/*`` of the same q), then by their order, so ``*/*`` gives the first offer.
    Wildcards match a format's canonical media type only; an alias counts when named exactly
    (``text/*`` is CSV, not SPARQL JSON by way of ``text/javascript``).

    A pure function of the header's ranges and the offers, remembered for the last
    :data:`NEGOTIATIONS_KEPT` pairs when the header is short (:data:`REMEMBERED_ACCEPT_CHARS`;
    a long one is negotiated each time, so the memory is bounded): clients send few distinct
    ``Accept`` headers, and negotiating afresh was a tenth of a lookup's time in the worker.
    """
    ranges = tuple(accept)
    if sum(len(value) for value, _ in ranges) > REMEMBERED_ACCEPT_CHARS:
        return _negotiated(ranges, tuple(offers))
    return _remembered(ranges, tuple(offers))


#: Distinct (``Accept`` ranges, offers) pairs whose negotiation is remembered.
NEGOTIATIONS_KEPT = 1024
#: ``Accept`` ranges longer than this (together) are not remembered.
REMEMBERED_ACCEPT_CHARS = 512


def _negotiated(accept: tuple[tuple[str, float], ...], offers: tuple[Format, ...]) -> Format | None:
    chosen: Format | None = None
    chosen_rank = (0.0, -1)
    for offer in offers:
        matches = [_match(accept, offer.media_type)]
        matches += [m for m in (_match(accept, a) for a in offer.aliases) if m[0] == 2]
        specificity, offer_quality = max(matches)
        rank = (offer_quality, specificity)
        if offer_quality > 0 and rank > chosen_rank:
            chosen, chosen_rank = offer, rank
    return chosen


_remembered = functools.lru_cache(maxsize=NEGOTIATIONS_KEPT)(_negotiated)


def _match(accept: Sequence[tuple[str, float]], media_type: str) -> tuple[int, float]:
    """(specificity, quality) of the most specific range matching ``media_type``.

    Specificity: 2 the exact type, 1 ``type/*``, 0 ``*/*``, -1 nothing matches (quality 0).
    """
    if not accept:
        return 0, 1.0
    kind = media_type.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for item, item_quality in accept:
        value = item.split(";", 1)[0].strip().lower()
        if value == media_type:
            specificity = 2
        elif value == f"{kind}/*":
            specificity = 1
        elif value in ("*/*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best[0] or (specificity == best[0] and item_quality > best[1]):
            best = (specificity, item_quality)
    return best


def find_format(name: str, offers: Iterable[Format]) -> Format | None:
    """The offer called ``name`` (``?format=``): a key, another spelling, or a media type."""
    wanted = name.split(";", 1)[0].strip().lower()
    for offer in offers:
        if wanted in (offer.key, *offer.names, *offer.media_types):
            return offer
    return None


def choose_format(
    accept: MIMEAccept, format_param: str | None, offers: Sequence[Format]
) -> Format | None:
    """``?format=`` when given (and not empty), else the ``Accept`` header; None: 406."""
    if format_param:
        return find_format(format_param, offers)
    return best_format(accept, offers)


_RDF_FORMATS: dict[Format, ox.RdfFormat] = {
    TURTLE: ox.RdfFormat.TURTLE,
    NTRIPLES: ox.RdfFormat.N_TRIPLES,
    JSONLD: ox.RdfFormat.JSON_LD,
    RDFXML: ox.RdfFormat.RDF_XML,
}


def serialize_triples(triples: Sequence[ox.Triple], fmt: Format) -> bytes:
    """``triples`` in one of :data:`GRAPH_FORMATS`, written by Oxigraph (prefixes where useful)."""
    prefixes = None if fmt is NTRIPLES else prefix_map()
    data = ox.serialize(triples, format=_RDF_FORMATS[fmt], prefixes=prefixes)
    assert data is not None  # no output file given: the bytes are returned
    return data
