"""What the pages need to know about every IRI, computed once per loaded snapshot.

Labels (Dutch and English), the Dutch plural of every class, classes, and the URNs that
dereference. Built from every graph of the store: the data, and the ontology, which also holds
the labels of the standard terms the graph uses and the plurals (``ontology/labels.ttl``,
published inside ``ontology.ttl``). No label is spelled in Python.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import pyoxigraph as ox
from flask import Flask, current_app, g

from kg.namespace import AK_IRI, DCTERMS_IRI, RDF_IRI, RDFS_IRI, SKOS_IRI, URN_PREFIX

RDF_TYPE = f"{RDF_IRI}type"
RDFS_LABEL = f"{RDFS_IRI}label"
SKOS_PREF_LABEL = f"{SKOS_IRI}prefLabel"
DCTERMS_TITLE = f"{DCTERMS_IRI}title"
AK_KOP = f"{AK_IRI}kop"
AK_MEERVOUD = f"{AK_IRI}meervoud"

#: Label properties, best first.
LABEL_PROPERTIES: tuple[str, ...] = (DCTERMS_TITLE, SKOS_PREF_LABEL, RDFS_LABEL, AK_KOP)
_EXTENSION_KEY = "kg_index"
_LOCAL_NAME = re.compile(r"[^#/:]+$")


@dataclass(frozen=True, slots=True)
class Label:
    nl: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class SiteIndex:
    labels: Mapping[str, Label]
    #: class -> its Dutch plural (``ak:meervoud``): "Maatregelen".
    plurals: Mapping[str, str]
    #: IRI -> its classes (rdf:type), in IRI order.
    types: Mapping[str, tuple[str, ...]]
    #: URNs that dereference: every ``urn:nl:ak:`` IRI of any graph, without its fragment.
    resources: frozenset[str]
    #: lower-cased URN -> URN, for lookups that got the case wrong.
    by_lower: Mapping[str, str]
    #: class -> its members (not ``#`` nodes), sorted by label.
    by_class: Mapping[str, tuple[str, ...]]

    def label(self, iri: str) -> str:
        """The Dutch label, else the English one, else the IRI's local name."""
        found = self.labels.get(iri)
        if found is not None and (found.nl or found.en):
            return found.nl or found.en or ""
        return local_name(iri)

    def english(self, iri: str) -> str | None:
        found = self.labels.get(iri)
        return found.en if found is not None else None

    def plural(self, cls: str) -> str:
        """The class's Dutch plural, else its label."""
        return self.plurals.get(cls) or self.label(cls)

    def members(self, cls: str) -> tuple[str, ...]:
        """Resources of class ``cls``, sorted by label."""
        return self.by_class.get(cls, ())

    def canonical(self, urn: str) -> str | None:
        """``urn`` as the graph spells it, if it is one (exactly, else ignoring case)."""
        if urn in self.resources:
            return urn
        return self.by_lower.get(urn.lower())


def close_matches(index: SiteIndex, text: str, limit: int = 8) -> list[str]:
    """URNs that ``text`` may have meant: similar URNs, then titles containing or like it."""
    query = text.strip().casefold()
    if not query:
        return []
    found = [
        index.by_lower[urn]
        for urn in difflib.get_close_matches(query, list(index.by_lower), n=limit, cutoff=0.75)
    ]
    words = query.removeprefix(URN_PREFIX).strip()
    if len(words) >= 3:
        found += _title_matches(index, words, limit)
    return list(dict.fromkeys(found))[:limit]


def _title_matches(index: SiteIndex, words: str, limit: int) -> list[str]:
    """URNs whose title contains ``words``, then those whose title is like it."""
    titles = {urn: index.label(urn).casefold() for urn in sorted(index.resources)}
    found = [urn for urn, title in titles.items() if words in title]
    by_title: dict[str, list[str]] = {}
    for urn, title in titles.items():
        by_title.setdefault(title, []).append(urn)
    for title in difflib.get_close_matches(words, list(by_title), n=limit, cutoff=0.6):
        found += by_title[title]
    return found


def local_name(iri: str) -> str:
    match = _LOCAL_NAME.search(iri)
    return match.group(0) if match else iri


_TEXT_PROPERTIES = frozenset((*LABEL_PROPERTIES, AK_MEERVOUD))


@dataclass
class _Scan:
    """What the pass over the store collects (mutable while the pass runs). IRIs are interned,
    so that each is one string however many tables hold it."""

    #: iri -> language -> property -> text
    texts: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    plurals: dict[str, dict[str, str]] = field(default_factory=dict)
    types: dict[str, set[str]] = field(default_factory=dict)
    resources: set[str] = field(default_factory=set)

    def add_text(self, subject: str, predicate: str, literal: ox.Literal) -> None:
        language = literal.language or ""
        if predicate == AK_MEERVOUD:
            self.plurals.setdefault(subject, {}).setdefault(language, literal.value)
        else:
            by_property = self.texts.setdefault(sys.intern(subject), {}).setdefault(language, {})
            by_property.setdefault(predicate, literal.value)

    def add_type(self, subject: str, cls: str) -> None:
        self.types.setdefault(sys.intern(subject), set()).add(sys.intern(cls))


def _scan(store: ox.Store) -> _Scan:
    """One pass over every quad (``kg serve --store``: the store's one bulk read)."""
    scan = _Scan()
    for quad in store.quads_for_pattern(None, None, None, None):
        subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
        if not isinstance(subject, ox.NamedNode):
            continue
        if subject.value.startswith(URN_PREFIX):
            scan.resources.add(sys.intern(subject.value.split("#", 1)[0]))
        if isinstance(obj, ox.Literal) and predicate in _TEXT_PROPERTIES:
            scan.add_text(subject.value, predicate, obj)
        elif isinstance(obj, ox.NamedNode):
            if obj.value.startswith(URN_PREFIX):
                scan.resources.add(sys.intern(obj.value.split("#", 1)[0]))
            if predicate == RDF_TYPE:
                scan.add_type(subject.value, obj.value)
    return scan


def build_index(store: ox.Store) -> SiteIndex:
    scan = _scan(store)
    labels = {iri: _pick_label(by_language) for iri, by_language in scan.texts.items()}
    by_lower: dict[str, str] = {}
    for urn in sorted(scan.resources):
        by_lower.setdefault(urn.lower(), urn)
    kinds: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct set of classes
    types = {
        iri: kinds.setdefault(tuple(sorted(t)), tuple(sorted(t))) for iri, t in scan.types.items()
    }
    index = SiteIndex(
        labels=MappingProxyType(labels),
        plurals=MappingProxyType(_pick_plurals(scan.plurals)),
        types=MappingProxyType(types),
        resources=frozenset(scan.resources),
        by_lower=MappingProxyType(by_lower),
        by_class=MappingProxyType({}),
    )
    return _with_members(index)


def _with_members(index: SiteIndex) -> SiteIndex:
    """``index`` with ``by_class`` filled in: members sorted by the labels ``index`` has."""
    members: dict[str, list[str]] = {}
    for iri, classes in index.types.items():
        for cls in classes if "#" not in iri else ():
            members.setdefault(cls, []).append(iri)
    by_class = {
        cls: tuple(sorted(found, key=lambda iri: (index.label(iri).casefold(), iri)))
        for cls, found in members.items()
    }
    return replace(index, by_class=MappingProxyType(by_class))


def _pick_label(by_language: dict[str, dict[str, str]]) -> Label:
    def best(*languages: str) -> str | None:
        for prop in LABEL_PROPERTIES:
            for language in languages:
                text = by_language.get(language, {}).get(prop)
                if text and text.strip():
                    return text.strip()
        return None

    return Label(nl=best("nl", ""), en=best("en"))


def _pick_plurals(found: dict[str, dict[str, str]]) -> dict[str, str]:
    """class -> its Dutch plural (or one without a language)."""
    plurals = {}
    for cls, by_language in found.items():
        text = by_language.get("nl") or by_language.get("")
        if text and text.strip():
            plurals[cls] = text.strip()
    return plurals


def install_index(app: Flask, index: SiteIndex) -> None:
    app.extensions[_EXTENSION_KEY] = index


def pin_index(index: SiteIndex) -> None:
    """Answer this request from ``index`` (the one of the snapshot the request was given)."""
    setattr(g, _EXTENSION_KEY, index)


def current_index() -> SiteIndex:
    """The request's index (:func:`pin_index`); outside a request, the app's latest."""
    index: SiteIndex = g.get(_EXTENSION_KEY) or current_app.extensions[_EXTENSION_KEY]
    return index
