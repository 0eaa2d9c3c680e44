"""What the pages need to know about every IRI, computed once when the app starts.

Labels (Dutch and English), classes, the URNs that dereference, and the source files of
documents (to resolve links between Markdown files). Built from every graph of the store: the
data and the ontology, whose ``rdfs:label`` and ``skos:prefLabel`` name properties, classes and
concepts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import pyoxigraph as ox
from flask import current_app
from flask.sansio.app import App

from kg.namespace import URN_PREFIX

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_PREF_LABEL = "http://www.w3.org/2004/02/skos/core#prefLabel"
DCTERMS_TITLE = "http://purl.org/dc/terms/title"
AK_KOP = "urn:nl:ak:def:kop"
AK_BRONBESTAND = "urn:nl:ak:def:bronbestand"

#: Label properties, best first.
_LABEL_PROPERTIES: tuple[str, ...] = (DCTERMS_TITLE, SKOS_PREF_LABEL, RDFS_LABEL, AK_KOP)
_EXTENSION_KEY = "kg_index"
_LOCAL_NAME = re.compile(r"[^#/:]+$")


@dataclass(frozen=True)
class Label:
    nl: str | None = None
    en: str | None = None


#: Labels of the standard terms the graph uses, for those the ontology does not label.
_STANDARD_LABELS: dict[str, Label] = {
    RDF_TYPE: Label("type", "type"),
    DCTERMS_TITLE: Label("titel", "title"),
    "http://purl.org/dc/terms/identifier": Label("identificatie", "identifier"),
    "http://purl.org/dc/terms/abstract": Label("samenvatting", "abstract"),
    "http://purl.org/dc/terms/description": Label("beschrijving", "description"),
    "http://purl.org/dc/terms/references": Label("verwijst naar", "references"),
    "http://purl.org/dc/terms/source": Label("bron", "source"),
    RDFS_LABEL: Label("label", "label"),
    "http://www.w3.org/2000/01/rdf-schema#comment": Label("opmerking", "comment"),
    "http://www.w3.org/2000/01/rdf-schema#seeAlso": Label("zie ook", "see also"),
    "http://www.w3.org/2000/01/rdf-schema#isDefinedBy": Label("gedefinieerd in", "defined by"),
    "http://www.w3.org/2000/01/rdf-schema#domain": Label("domein", "domain"),
    "http://www.w3.org/2000/01/rdf-schema#range": Label("bereik", "range"),
    "http://www.w3.org/2000/01/rdf-schema#subClassOf": Label("subklasse van", "subclass of"),
    "http://www.w3.org/2000/01/rdf-schema#subPropertyOf": Label(
        "subeigenschap van", "subproperty of"
    ),
    SKOS_PREF_LABEL: Label("voorkeurslabel", "preferred label"),
    "http://www.w3.org/2004/02/skos/core#definition": Label("definitie", "definition"),
    "http://www.w3.org/2004/02/skos/core#inScheme": Label("in schema", "in scheme"),
    "http://www.w3.org/2004/02/skos/core#notation": Label("notatie", "notation"),
    "http://www.w3.org/2004/02/skos/core#topConceptOf": Label("topbegrip van", "top concept of"),
    "http://www.w3.org/2004/02/skos/core#exactMatch": Label("komt overeen met", "exact match"),
    "http://www.w3.org/2004/02/skos/core#closeMatch": Label("lijkt op", "close match"),
    "http://www.w3.org/2004/02/skos/core#broadMatch": Label("breder dan", "broad match"),
    "http://www.w3.org/2004/02/skos/core#narrowMatch": Label("smaller dan", "narrow match"),
    "http://www.w3.org/2004/02/skos/core#hasTopConcept": Label("topbegrip", "has top concept"),
    "http://www.w3.org/2004/02/skos/core#Concept": Label("begrip (SKOS)", "concept"),
    "http://www.w3.org/2004/02/skos/core#ConceptScheme": Label("begrippenschema", "concept scheme"),
    "http://www.w3.org/2002/07/owl#versionInfo": Label("versie", "version"),
}


@dataclass(frozen=True)
class SiteIndex:
    labels: Mapping[str, Label]
    #: IRI -> its classes (rdf:type), in IRI order.
    types: Mapping[str, tuple[str, ...]]
    #: URNs that dereference: every ``urn:nl:ak:`` IRI of any graph, without its fragment.
    resources: frozenset[str]
    #: lower-cased URN -> URN, for lookups that got the case wrong.
    by_lower: Mapping[str, str]
    #: source file (``docs/...md``) -> URN of the document it defines.
    by_path: Mapping[str, str]
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
    titles = {urn: index.label(urn).casefold() for urn in sorted(index.resources)}
    if len(words) >= 3:
        found += [urn for urn, title in titles.items() if words in title]
        by_title: dict[str, list[str]] = {}
        for urn, title in titles.items():
            by_title.setdefault(title, []).append(urn)
        for title in difflib.get_close_matches(words, list(by_title), n=limit, cutoff=0.6):
            found += by_title[title]
    return list(dict.fromkeys(found))[:limit]


def local_name(iri: str) -> str:
    match = _LOCAL_NAME.search(iri)
    return match.group(0) if match else iri


def build_index(store: ox.Store) -> SiteIndex:
    found: dict[str, dict[str, dict[str, str]]] = {}  # iri -> lang -> property -> text
    types: dict[str, set[str]] = {}
    resources: set[str] = set()
    by_path: dict[str, str] = {}
    for quad in store.quads_for_pattern(None, None, None, None):
        subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
        if not isinstance(subject, ox.NamedNode):
            continue
        s = subject.value
        if s.startswith(URN_PREFIX):
            resources.add(s.split("#", 1)[0])
        if isinstance(obj, ox.NamedNode):
            if obj.value.startswith(URN_PREFIX):
                resources.add(obj.value.split("#", 1)[0])
            if predicate == RDF_TYPE:
                types.setdefault(s, set()).add(obj.value)
        elif isinstance(obj, ox.Literal):
            if predicate in _LABEL_PROPERTIES:
                language = obj.language or ""
                found.setdefault(s, {}).setdefault(language, {}).setdefault(predicate, obj.value)
            elif predicate == AK_BRONBESTAND and "#" not in s:
                by_path.setdefault(obj.value, s)
    labels = dict(_STANDARD_LABELS)
    labels.update({iri: _pick_label(by_language) for iri, by_language in found.items()})
    by_lower: dict[str, str] = {}
    for urn in sorted(resources):
        by_lower.setdefault(urn.lower(), urn)
    by_class: dict[str, list[str]] = {}
    for iri, classes in types.items():
        for cls in classes if "#" not in iri else ():
            by_class.setdefault(cls, []).append(iri)
    index = SiteIndex(
        labels=MappingProxyType(labels),
        types=MappingProxyType({iri: tuple(sorted(t)) for iri, t in types.items()}),
        resources=frozenset(resources),
        by_lower=MappingProxyType(by_lower),
        by_path=MappingProxyType(by_path),
        by_class=MappingProxyType({}),
    )
    return replace(
        index,
        by_class=MappingProxyType(
            {
                cls: tuple(sorted(members, key=lambda iri: (index.label(iri).casefold(), iri)))
                for cls, members in by_class.items()
            }
        ),
    )


def _pick_label(by_language: dict[str, dict[str, str]]) -> Label:
    def best(*languages: str) -> str | None:
        for prop in _LABEL_PROPERTIES:
            for language in languages:
                text = by_language.get(language, {}).get(prop)
                if text and text.strip():
                    return text.strip()
        return None

    return Label(nl=best("nl", ""), en=best("en"))


def install_index(app: App) -> None:
    """Build the index for ``app`` once (both blueprints that use it call this)."""
    if _EXTENSION_KEY not in app.extensions:
        app.extensions[_EXTENSION_KEY] = build_index(app.extensions["kg_dataset"].store)


def current_index() -> SiteIndex:
    index: SiteIndex = current_app.extensions[_EXTENSION_KEY]
    return index
