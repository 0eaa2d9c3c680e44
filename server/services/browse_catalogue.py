"""The rows of the browse pages: every vereiste, maatregel or hulpmiddel with its facet values.

One SPARQL query per overview (:func:`items_query`) reads every document of the kind with its
title, file, ``id`` and tags from the served store, once per snapshot (:func:`current_catalogue`;
a snapshot never changes). A value is the local name of its node, which the build minted from
the front-matter value (:mod:`kg.identifier`; upstream writes values as slugs, so it is the
value as written). The law (``wetcode``) is the code prefix of the ``id`` (``avg`` of
``urn:nl:ak:ver:avg-13``), as upstream's list hook derives it, named by the glossary: the
rule and its tables are :mod:`kg.vocabulary`'s, which the lists the build expands
(:mod:`kg.lists`) and the statistics use too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox
from flask import current_app

from kg.kind import HULPMIDDEL, MAATREGEL, VEREISTE, Kind
from kg.namespace import AK_IRI, DCTERMS_IRI, SKOS_IRI
from kg.profile import select
from kg.vocabulary import (
    ABBREVIATED_LAWS,
    AI_ACT_KEYS,
    ID_PREFIX_LENGTH,
    LAW_KEY,
    RULES,
)
from server.services.dataset import current_dataset
from server.services.index import local_name

#: The tag facets every overview has (front-matter keys), in upstream's column order.
TAG_FACETS: tuple[str, ...] = ("rollen", "levenscyclus", "onderwerp")
#: The law facet: upstream's column key, derived from the code prefix of ``id``.
LAW = LAW_KEY
#: Where the catalogues of the loaded snapshot are kept (``app.extensions``).
_CACHE_KEY = "kg_browse"
#: The prefixes of every query shown.
PREFIXES = f"PREFIX ak: <{AK_IRI}>\nPREFIX dcterms: <{DCTERMS_IRI}>\nPREFIX skos: <{SKOS_IRI}>\n"


@dataclass(frozen=True)
class Overview:
    """One browse page: the kind it lists and its facets (front-matter keys)."""

    name: str
    kind: Kind
    facets: tuple[str, ...]

    @property
    def cls(self) -> str:
        return str(self.kind.classes[0])

    def predicates(self) -> dict[str, str]:
        """Predicate IRI -> facet key, for the facets that are tags in the graph."""
        return {str(RULES[key].predicate): key for key in self.facets if key in RULES}


OVERVIEWS: dict[str, Overview] = {
    overview.name: overview
    for overview in (
        Overview("vereisten", VEREISTE, (*TAG_FACETS, LAW, *AI_ACT_KEYS)),
        Overview("maatregelen", MAATREGEL, TAG_FACETS),
        Overview("hulpmiddelen", HULPMIDDEL, TAG_FACETS),
    )
}


@dataclass(frozen=True)
class Law:
    """A law as lists show it: its code, and the glossary's name for it (if any)."""

    code: str
    name: str | None
    #: Shown as the abbreviation with the name on hover (upstream's choice), else the name.
    abbreviated: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code.upper()})" if self.name else self.code.upper()


@dataclass(frozen=True)
class Item:
    """One row: a document with its facet values (local names), each value's node."""

    urn: str
    code: str
    title: str
    file: str
    values: Mapping[str, tuple[str, ...]]
    law: Law | None = None

    def has_any(self, key: str, wanted: frozenset[str]) -> bool:
        return not wanted.isdisjoint(self.values.get(key, ()))


def items_query(overview: Overview) -> str:
    """Every document of the overview's kind with its title, file, ``id`` and facet tags, one
    row per document: its tags as ``predicate value`` lines (IRIs hold no white space), which
    is several times faster to read than a row per tag."""
    predicates = " ".join(f"<{predicate}>" for predicate in overview.predicates())
    return (
        f"{PREFIXES}SELECT ?item ?title ?file ?id\n"
        '  (GROUP_CONCAT(CONCAT(STR(?predicate), " ", STR(?value)); separator="\\n") AS ?tags)\n'
        "WHERE {\n"
        f"  ?item a <{overview.cls}> ; dcterms:title ?title ; ak:bronbestand ?file .\n"
        "  OPTIONAL { ?item dcterms:identifier ?id }\n"
        f"  OPTIONAL {{ VALUES ?predicate {{ {predicates} }} ?item ?predicate ?value }}\n"
        "} GROUP BY ?item ?title ?file ?id"
    )


LAWS_QUERY = (
    f"{PREFIXES}SELECT ?term ?definition WHERE {{\n"
    "  ?begrip a ak:Begrip ; skos:prefLabel ?term ; skos:definition ?definition .\n}"
)


def law_names(store: ox.Store) -> dict[str, str]:
    """Glossary term (upper case) -> definition without its full stop (as :mod:`kg.lists`)."""
    return {
        row["term"].upper(): row["definition"].strip().rstrip(".")
        for row in select(store, LAWS_QUERY, union=True)
    }


@dataclass(frozen=True)
class Catalogue:
    """An overview's rows in upstream's order (by file name), and the node of every value."""

    overview: Overview
    items: tuple[Item, ...]
    #: (facet key, value) -> the node the graph holds (tags; not the law).
    nodes: Mapping[tuple[str, str], str]


def load_catalogue(store: ox.Store, overview: Overview) -> Catalogue:
    """Every row of the overview with its facet values: one query (and one for law names)."""
    keys = overview.predicates()
    items: list[Item] = []
    nodes: dict[tuple[str, str], str] = {}
    laws = law_names(store) if LAW in overview.facets else {}
    for urn, title, file, identifier, lines in _tuples(store, items_query(overview)):
        assert urn is not None and title is not None and file is not None
        tags: dict[str, set[str]] = {}
        for line in (lines or "").splitlines():
            predicate, _, value = line.partition(" ")
            key, name = keys[predicate], local_name(value)
            tags.setdefault(key, set()).add(name)
            nodes.setdefault((key, name), value)
        items.append(_item(overview, (urn, title, file, identifier or ""), tags, laws))
    items.sort(key=lambda item: (item.file, item.urn))
    return Catalogue(overview, tuple(items), nodes)


def current_catalogue(overview: Overview) -> Catalogue:
    """The request's snapshot's catalogue of ``overview``, read once per snapshot.

    A snapshot never changes, so its rows are read from the store at the first request that
    needs them and kept beside the application's other per-snapshot state (``app.extensions``,
    where the dataset and its index live); entries of older snapshots are dropped once the
    request's snapshot is a new one."""
    dataset = current_dataset()
    cache: dict[tuple[str, str], Catalogue] = current_app.extensions.setdefault(_CACHE_KEY, {})
    key = (dataset.version, overview.name)
    found = cache.get(key)
    if found is None:
        found = load_catalogue(dataset.store, overview)
        for stale in [entry for entry in cache if entry[0] != dataset.version]:
            cache.pop(stale, None)
        cache[key] = found
    return found


def _tuples(store: ox.Store, query: str) -> list[tuple[str | None, ...]]:
    """A trusted SELECT's rows as tuples of lexical forms (None: unbound), read by position:
    several times faster than by variable name on a thousand rows."""
    solutions = store.query(query, use_default_graph_as_union=True)
    assert isinstance(solutions, ox.QuerySolutions)
    return [tuple(None if term is None else term.value for term in row) for row in solutions]


def _item(
    overview: Overview,
    row: tuple[str, str, str, str],
    tags: Mapping[str, set[str]],
    laws: Mapping[str, str],
) -> Item:
    urn, title, file, identifier = row
    values = {key: tuple(sorted(found)) for key, found in tags.items()}
    law = None
    code = identifier[ID_PREFIX_LENGTH:].split("-")[0]
    if LAW in overview.facets and code:
        law = Law(code, laws.get(code.upper()), code.upper() in ABBREVIATED_LAWS)
        values[LAW] = (code,)
    return Item(
        urn=urn,
        code=identifier.rsplit(":", 1)[-1] if identifier else local_name(urn),
        title=title,
        file=file,
        values=values,
        law=law,
    )
