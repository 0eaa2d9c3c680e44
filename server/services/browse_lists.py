"""The simple lists beside the browse tables: onderwerpen, rollen, levenscyclusfasen, begrippen.

Each topic, role and phase is listed with how many vereisten, maatregelen and hulpmiddelen
carry it, each count leading to the browse table filtered on it
(``/maatregelen?rollen=jurist``), so the lists are the way into the facets. A value documents
are tagged with but that has no page of its own (``onderwerp: grondrechten``) is listed too.
The glossary lists every term with its definition. One SPARQL query per list on the served
store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyoxigraph as ox

from kg.kind import LEVENSCYCLUSFASE, ONDERWERP, ROL, Kind
from kg.namespace import AK_IRI, SKOS_IRI
from kg.profile import select
from kg.vocabulary import RULES
from server.services.browse_catalogue import OVERVIEWS
from server.services.index import SiteIndex, local_name


@dataclass(frozen=True)
class TagList:
    """A list page of a tag kind: its name (the path) and the front-matter key that tags it."""

    name: str
    key: str
    kind: Kind

    @property
    def cls(self) -> str:
        return str(self.kind.classes[0])


TAG_LISTS: dict[str, TagList] = {
    tag_list.name: tag_list
    for tag_list in (
        TagList("onderwerpen", "onderwerp", ONDERWERP),
        TagList("rollen", "rollen", ROL),
        TagList("levenscyclus", "levenscyclus", LEVENSCYCLUSFASE),
    )
}
GLOSSARY = "begrippen"


@dataclass(frozen=True)
class TagRow:
    urn: str
    #: The value as documents are tagged with it (the URN's local name).
    code: str
    title: str
    #: Overview name -> how many of its rows carry this value.
    counts: Mapping[str, int]

    def to_json(self) -> dict[str, object]:
        return {"urn": self.urn, "code": self.code, "titel": self.title, **self.counts}


@dataclass(frozen=True)
class TermRow:
    urn: str
    term: str
    definition: str

    def to_json(self) -> dict[str, object]:
        return {"urn": self.urn, "begrip": self.term, "definitie": self.definition}


def tag_query(tag_list: TagList) -> str:
    """How many documents of each overview's kind carry each value of the list's key."""
    predicate = RULES[tag_list.key].predicate
    classes = " ".join(f"<{overview.cls}>" for overview in OVERVIEWS.values())
    return (
        "SELECT ?concept ?class (COUNT(DISTINCT ?item) AS ?n) WHERE {\n"
        f"  ?item <{predicate}> ?concept .\n"
        f"  OPTIONAL {{ VALUES ?class {{ {classes} }} ?item a ?class }}\n"
        "} GROUP BY ?concept ?class"
    )


def tag_rows(store: ox.Store, tag_list: TagList, index: SiteIndex) -> tuple[TagRow, ...]:
    """Every value of the list's kind (its pages, and the values documents carry), by title,
    with its counts per overview."""
    by_class = {overview.cls: overview.name for overview in OVERVIEWS.values()}
    counts = {urn: dict.fromkeys(OVERVIEWS, 0) for urn in index.members(tag_list.cls)}
    for row in select(store, tag_query(tag_list), union=True):
        found = counts.setdefault(row["concept"], dict.fromkeys(OVERVIEWS, 0))
        name = by_class.get(row.get("class", ""))
        if name is not None:
            found[name] = int(row["n"])
    rows = [
        TagRow(urn, local_name(urn), index.label(urn), counted) for urn, counted in counts.items()
    ]
    return tuple(sorted(rows, key=lambda row: (row.title.casefold(), row.urn)))


TERMS_QUERY = (
    f"SELECT ?term ?label ?definition WHERE {{\n"
    f"  ?term a <{AK_IRI}Begrip> ; <{SKOS_IRI}prefLabel> ?label .\n"
    f"  OPTIONAL {{ ?term <{SKOS_IRI}definition> ?definition }}\n}}"
)


def term_rows(store: ox.Store) -> tuple[TermRow, ...]:
    """The glossary, by term."""
    rows = {
        row["term"]: TermRow(row["term"], row["label"], row.get("definition", ""))
        for row in select(store, TERMS_QUERY, union=True)
    }
    return tuple(sorted(rows.values(), key=lambda row: (row.term.casefold(), row.urn)))
