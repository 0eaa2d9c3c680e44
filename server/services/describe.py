"""What a URN's page and its RDF description hold.

The *description* of a URN (the triples of its Turtle, JSON-LD, ... representations) is:

* every triple with the URN as subject;
* every triple of the nodes within it (``<urn>#fragment``: its sections and applicability
  rows) that it points to;
* every triple with the URN as object (links in: the maatregelen that cite a vereiste);
* the labels (``dcterms:title``, ``skos:prefLabel``, ``rdfs:label``) of every other IRI these
  triples mention, so that a client can show them without another request.

The *page* shows the same, grouped for reading: title, summary, the document's body as the
build rendered it (:mod:`server.services.html`) with a table of contents from its sections,
every property by its label, and the links in, grouped by property and class. Labels and the
plurals in headings come from the store (:mod:`server.services.index`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import urlsplit

import pyoxigraph as ox
from markupsafe import Markup

from kg.namespace import AK_IRI as AK
from kg.namespace import DCTERMS_IRI as DCTERMS
from kg.namespace import RDFS_IRI as RDFS
from kg.namespace import SKOS_IRI as SKOS
from kg.namespace import URN_PREFIX
from kg.serialization import prefix_map
from server.services.addresses import resource_url
from server.services.html import page_body
from server.services.index import (
    DCTERMS_TITLE,
    RDF_TYPE,
    RDFS_LABEL,
    SKOS_PREF_LABEL,
    SiteIndex,
)

_SUMMARY = (f"{AK}toelichting", f"{DCTERMS}abstract", f"{SKOS}definition", f"{RDFS}comment")
_FIRST = (RDF_TYPE, DCTERMS_TITLE, SKOS_PREF_LABEL, f"{DCTERMS}identifier", *_SUMMARY)
#: Shown as the rendered body, not listed.
_HIDDEN = frozenset({f"{AK}markdown", f"{AK}inleiding"})
_LABELS = (DCTERMS_TITLE, SKOS_PREF_LABEL, RDFS_LABEL)
_SECTION = f"{AK}Sectie"

#: How a page names a group of links in: (property, class of the linking resource) or
#: (property, "") for any class; ``{kinds}`` is the plural of the linking resources' class.
_BACKLINK_HEADINGS: dict[tuple[str, str], str] = {
    (f"{AK}vereiste", f"{AK}Maatregel"): "Maatregelen die deze vereiste ondersteunen",
    (f"{AK}vereiste", f"{AK}Hulpmiddel"): "Hulpmiddelen bij deze vereiste",
    (f"{AK}maatregel", f"{AK}Hulpmiddel"): "Hulpmiddelen bij deze maatregel",
    (f"{AK}hulpmiddel", f"{AK}Maatregel"): "Maatregelen die dit hulpmiddel noemen",
    (f"{AK}onderwerp", ""): "{kinds} over dit onderwerp",
    (f"{AK}bouwblok", ""): "{kinds} in dit bouwblok",
    (f"{AK}rol", ""): "{kinds} voor deze rol",
    (f"{AK}levenscyclusfase", ""): "{kinds} in deze fase van de levenscyclus",
    (f"{AK}auditnorm", ""): "{kinds} met deze auditnorm",
    (f"{DCTERMS}references", ""): "{kinds} die hiernaar verwijzen",
    (f"{SKOS}inScheme", ""): "{kinds} in dit schema",
    (f"{SKOS}hasTopConcept", ""): "{kinds} met dit topbegrip",
}
_OWN_PROPERTY = "{kinds} met deze {property}"
_VIA = "{kinds} via “{property}”"

#: An object of a triple.
Term: TypeAlias = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


@dataclass(frozen=True)
class Value:
    text: str
    #: Where the value links to (site page or external URL); None for plain text.
    href: str | None = None
    lang: str | None = None
    #: The IRI the value stands for, when it is one.
    iri: str | None = None


@dataclass(frozen=True)
class Property:
    iri: str
    label: str
    label_en: str | None
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Heading:
    """A section of the document, for the table of contents: ``#anchor`` on its page."""

    anchor: str
    text: str


@dataclass(frozen=True)
class Part:
    """A node within the document other than a section (an applicability row)."""

    anchor: str
    label: str
    properties: tuple[Property, ...]


@dataclass(frozen=True)
class Backlinks:
    heading: str
    property: Property


@dataclass(frozen=True)
class Page:
    urn: str
    title: str
    classes: tuple[Value, ...]
    summary: tuple[Value, ...]
    #: The document's text, rendered by the build; None when it has none.
    body: Markup | None
    #: Its sections in order (their headings are in ``body``, with these anchors).
    contents: tuple[Heading, ...]
    properties: tuple[Property, ...]
    parts: tuple[Part, ...]
    backlinks: tuple[Backlinks, ...]
    sources: tuple[str, ...]
    #: False for a URN the graph only points to (a tag value, a missing document).
    described: bool


def subject_triples(store: ox.Store, iri: str) -> list[ox.Triple]:
    """The triples about ``iri``, sorted: a page lists what it shows in one order whatever the
    store's (the embedded one's index order, a SPARQL store's answer order)."""
    node = ox.NamedNode(iri)
    return _sorted(q.triple for q in store.quads_for_pattern(node, None, None, None))


def object_triples(store: ox.Store, iri: str) -> list[ox.Triple]:
    node = ox.NamedNode(iri)
    return _sorted(q.triple for q in store.quads_for_pattern(None, None, node, None))


def inner_nodes(store: ox.Store, urn: str, triples: Iterable[ox.Triple]) -> list[str]:
    """The ``<urn>#…`` nodes ``triples`` point to, and those they point to in turn (the
    parts of an exception rule), in order of first mention."""
    prefix = f"{urn}#"
    found: dict[str, None] = {}
    pending = list(triples)
    for triple in pending:  # grows while it is walked: breadth first
        node = triple.object.value if isinstance(triple.object, ox.NamedNode) else ""
        if node.startswith(prefix) and node not in found:
            found[node] = None
            pending.extend(subject_triples(store, node))
    return list(found)


def describe_triples(store: ox.Store, urn: str) -> list[ox.Triple]:
    """The description of ``urn`` (see the module docstring), sorted."""
    own = subject_triples(store, urn)
    triples = set(own)
    for node in inner_nodes(store, urn, own):
        triples.update(subject_triples(store, node))
    triples.update(object_triples(store, urn))
    mentioned = {
        term.value
        for t in list(triples)
        for term in (t.subject, t.object)
        if isinstance(term, ox.NamedNode) and term.value.split("#", 1)[0] != urn
    }
    for iri in mentioned:
        for label in _LABELS:
            triples.update(
                q.triple
                for q in store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(label), None, None)
            )
    return sorted(triples, key=_triple_order)


def describe_page(store: ox.Store, index: SiteIndex, pages: Mapping[str, str], urn: str) -> Page:
    own = subject_triples(store, urn)
    values = _by_predicate(own)
    contents, parts = _inner(store, index, urn, own)
    return Page(
        urn=urn,
        title=index.label(urn),
        classes=tuple(
            sorted((_value(index, t) for t in values.get(RDF_TYPE, ())), key=_class_order)
        ),
        summary=_summary(values),
        body=page_body(pages, urn),
        contents=contents,
        properties=_properties(index, values),
        parts=parts,
        backlinks=_backlinks(index, object_triples(store, urn)),
        sources=tuple(sorted(_texts(values, f"{AK}bronbestand"))),
        described=bool(own),
    )


def _inner(
    store: ox.Store, index: SiteIndex, urn: str, own: list[ox.Triple]
) -> tuple[tuple[Heading, ...], tuple[Part, ...]]:
    """The document's sections (by position) and its other inner nodes (in order)."""
    sections: list[tuple[int, Heading]] = []
    parts: list[Part] = []
    for node in inner_nodes(store, urn, own):
        node_values = _by_predicate(subject_triples(store, node))
        anchor = node.split("#", 1)[1]
        if _SECTION in index.types.get(node, ()):
            sections.append((_position(node_values), Heading(anchor, index.label(node))))
        else:
            parts.append(Part(anchor, index.label(node), _properties(index, node_values)))
    ordered = tuple(heading for _, heading in sorted(sections, key=lambda s: s[0]))
    return ordered, tuple(parts)


def _position(values: dict[str, list[Term]]) -> int:
    for value in values.get(f"{AK}positie", ()):
        if isinstance(value, ox.Literal) and value.value.isdigit():
            return int(value.value)
    return 0


def _summary(values: dict[str, list[Term]]) -> tuple[Value, ...]:
    """The descriptions to show under the title: the Dutch ones, else whatever there is."""
    texts = [
        Value(v.value, lang=v.language)
        for p in _SUMMARY
        for v in values.get(p, ())
        if isinstance(v, ox.Literal)
    ]
    dutch = [v for v in texts if v.lang in (None, "nl") or (v.lang or "").startswith("nl-")]
    return tuple(dutch or texts)


def _properties(index: SiteIndex, values: dict[str, list[Term]]) -> tuple[Property, ...]:
    def order(predicate: str) -> tuple[int, str]:
        rank = _FIRST.index(predicate) if predicate in _FIRST else len(_FIRST)
        return rank, index.label(predicate).casefold()

    return tuple(
        Property(
            predicate,
            index.label(predicate),
            index.english(predicate),
            tuple(sorted((_value(index, term) for term in terms), key=_value_order)),
        )
        for predicate, terms in sorted(values.items(), key=lambda item: order(item[0]))
        if predicate not in _HIDDEN
    )


def _backlinks(index: SiteIndex, triples: list[ox.Triple]) -> tuple[Backlinks, ...]:
    groups: dict[tuple[str, str], list[ox.NamedNode]] = {}
    for triple in triples:
        if isinstance(triple.subject, ox.NamedNode):
            cls = _main_class(index, triple.subject.value)
            groups.setdefault((triple.predicate.value, cls), []).append(triple.subject)
    found: list[Backlinks] = []
    for (predicate, cls), subjects in groups.items():
        values = sorted({_value(index, s) for s in subjects}, key=_value_order)
        prop = Property(predicate, index.label(predicate), index.english(predicate), tuple(values))
        found.append(Backlinks(_backlink_heading(index, predicate, cls), prop))
    return tuple(sorted(found, key=lambda b: (b.heading.casefold(), b.property.iri)))


def _backlink_heading(index: SiteIndex, predicate: str, cls: str) -> str:
    kinds = index.plural(cls) if cls else "Bronnen"
    pattern = (
        _BACKLINK_HEADINGS.get((predicate, cls))
        or _BACKLINK_HEADINGS.get((predicate, ""))
        or (_OWN_PROPERTY if predicate.startswith(AK) else _VIA)
    )
    return pattern.format(kinds=kinds, property=index.label(predicate))


def _main_class(index: SiteIndex, iri: str) -> str:
    classes = index.types.get(iri, ())
    return next((c for c in classes if c.startswith(AK)), classes[0] if classes else "")


def _value(index: SiteIndex, term: object) -> Value:
    if isinstance(term, ox.Literal):
        return Value(term.value, lang=term.language)
    if isinstance(term, ox.NamedNode):
        iri = term.value
        if iri.startswith(URN_PREFIX):
            return Value(index.label(iri), resource_url(iri), iri=iri)
        scheme = urlsplit(iri).scheme.lower()
        label = index.label(iri) if iri in index.labels else _compact(iri)
        return Value(label, iri if scheme in ("http", "https") else None, iri=iri)
    return Value(str(term))


def _compact(iri: str) -> str:
    """``cccev:Requirement`` for a class or property IRI of a known vocabulary, else the IRI."""
    for prefix, namespace in prefix_map().items():
        local = iri.removeprefix(namespace)
        if local != iri and local and all(c.isalnum() or c in "-_" for c in local):
            return f"{prefix}:{local}"
    return iri


def _value_order(value: Value) -> tuple[str, str, str, str]:
    """By text, then (for values that read alike) language and IRI: one order, whatever the
    store's."""
    return value.text.casefold(), value.text, value.lang or "", value.iri or ""


def _class_order(value: Value) -> tuple[bool, tuple[str, str, str, str]]:
    """Our own classes first (the kind a page is), then the standard ones they map to."""
    return not (value.iri or "").startswith(AK), _value_order(value)


def _triple_order(triple: ox.Triple) -> tuple[str, str, str]:
    return str(triple.subject), str(triple.predicate), str(triple.object)


def _by_predicate(triples: list[ox.Triple]) -> dict[str, list[Term]]:
    found: dict[str, list[Term]] = {}
    for triple in triples:
        found.setdefault(triple.predicate.value, []).append(triple.object)
    return found


def _texts(values: dict[str, list[Term]], predicate: str) -> list[str]:
    return [v.value for v in values.get(predicate, ()) if isinstance(v, ox.Literal)]


def _sorted(triples: Iterable[ox.Triple]) -> list[ox.Triple]:
    return sorted(set(triples), key=_triple_order)


__all__ = ["Page", "describe_page", "describe_triples"]
