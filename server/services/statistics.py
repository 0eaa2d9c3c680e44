"""The numbers behind ``/statistieken``: counted with SPARQL on the served snapshot.

Each figure is one SELECT on the store (its default graph the union of the named graphs, as
``/sparql`` has it), and that query is part of the answer: the page shows it under the chart,
so a reader can run it on ``/sparql`` and get the same rows. Labels come from the snapshot's
:class:`~server.services.index.SiteIndex`. A vereiste's law is derived by upstream's rule, the
one the list macros of :mod:`kg.lists` follow: the letters of its code before the first hyphen
(``avg-13``: AVG), named by the glossary term of that abbreviation, here read from the graph.
(The server imports no module of ``kg`` that parses content, so not :mod:`kg.lists` itself.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import pyoxigraph as ox
from flask import current_app

from kg.namespace import AK_IRI
from kg.profile import select
from kg.vocabulary import law_code
from server.services.dataset import current_dataset
from server.services.index import SiteIndex, current_index

PREFIXES = (
    "PREFIX ak: <urn:nl:ak:def:>\n"
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
)
HEATMAP_QUERY = (
    PREFIXES + "SELECT ?fase ?rol (COUNT(DISTINCT ?maatregel) AS ?aantal) WHERE {\n"
    "  ?maatregel a ak:Maatregel ;\n"
    "             ak:levenscyclusfase ?fase ;\n"
    "             ak:rol ?rol .\n"
    "}\nGROUP BY ?fase ?rol\n"
)
#: Distinct maatregelen per phase and per role (a maatregel with two roles counts once).
MARGINS_QUERY = (
    PREFIXES + "SELECT ?as ?waarde (COUNT(DISTINCT ?maatregel) AS ?aantal) WHERE {\n"
    "  ?maatregel a ak:Maatregel .\n"
    '  { ?maatregel ak:levenscyclusfase ?waarde BIND("fase" AS ?as) }\n'
    '  UNION { ?maatregel ak:rol ?waarde BIND("rol" AS ?as) }\n'
    "}\nGROUP BY ?as ?waarde\n"
)
LAWS_QUERY = (
    PREFIXES
    + "SELECT ?vereiste (SAMPLE(?code) AS ?id) (COUNT(DISTINCT ?maatregel) AS ?maatregelen)\n"
    "WHERE {\n"
    "  ?vereiste a ak:Vereiste .\n"
    "  OPTIONAL { ?vereiste dcterms:identifier ?code }\n"
    "  OPTIONAL { ?maatregel a ak:Maatregel ; ak:vereiste ?vereiste }\n"
    "}\nGROUP BY ?vereiste\n"
)
GLOSSARY_QUERY = (
    PREFIXES + "SELECT ?term ?definitie WHERE {\n"
    "  ?begrip a ak:Begrip ; skos:prefLabel ?term ; skos:definition ?definitie .\n"
    "}\nORDER BY ?begrip\n"
)
TOPICS_QUERY = (
    PREFIXES + "SELECT ?onderwerp (COUNT(DISTINCT ?maatregel) AS ?aantal) WHERE {\n"
    "  ?maatregel a ak:Maatregel ; ak:onderwerp ?onderwerp .\n"
    "}\nGROUP BY ?onderwerp\nORDER BY DESC(?aantal) ?onderwerp\n"
)
ORPHANS_QUERY = (
    PREFIXES + "SELECT ?vereiste ?titel WHERE {\n"
    "  ?vereiste a ak:Vereiste ; dcterms:title ?titel .\n"
    "  MINUS { ?maatregel a ak:Maatregel ; ak:vereiste ?vereiste }\n"
    "}\nORDER BY ?vereiste\n"
)
_CACHE_KEY = "kg_statistics"
MAATREGEL = f"{AK_IRI}Maatregel"
VEREISTE = f"{AK_IRI}Vereiste"


@dataclass(frozen=True)
class Category:
    """A value counted by: a phase, a role, a topic, a law."""

    key: str
    label: str
    #: The front-matter value (``ontwerp``), for links to filtered lists; "" for a law.
    slug: str = ""


@dataclass(frozen=True)
class HeatMap:
    """Maatregelen per levenscyclusfase (rows) × rol (columns)."""

    rows: tuple[Category, ...]
    columns: tuple[Category, ...]
    #: (row key, column key) -> maatregelen with both.
    cells: Mapping[tuple[str, str], int]
    #: key -> distinct maatregelen with that phase (or role).
    row_totals: Mapping[str, int]
    column_totals: Mapping[str, int]
    maatregelen: int

    def count(self, row: str, column: str) -> int:
        return self.cells.get((row, column), 0)

    @property
    def peak(self) -> int:
        return max(self.cells.values(), default=0)


@dataclass(frozen=True)
class Count:
    """One bar: a category and its numbers (``part``: the share of ``value`` highlighted)."""

    category: Category
    value: int
    part: int = 0
    #: A longer name (the law's full name), shown in the table.
    name: str = ""


@dataclass(frozen=True)
class Overview:
    heatmap: HeatMap
    #: vereisten per law (``part``: those without maatregelen), most first.
    laws: tuple[Count, ...]
    #: maatregelen per onderwerp, most first.
    topics: tuple[Count, ...]
    #: vereisten no maatregel names: (URN, title).
    orphans: tuple[tuple[str, str], ...]
    #: chart key -> the SPARQL query that gives its numbers.
    queries: Mapping[str, str]


def current_overview() -> Overview:
    """The numbers of the request's snapshot, counted once per snapshot (a snapshot never
    changes; the app keeps the numbers of the latest one it counted)."""
    dataset = current_dataset()
    cache: dict[str, Overview] = current_app.extensions.setdefault(_CACHE_KEY, {})
    found = cache.get(dataset.version)
    if found is None:
        found = overview(dataset.store, current_index())
        for stale in [version for version in cache if version != dataset.version]:
            cache.pop(stale, None)
        cache[dataset.version] = found
    return found


def overview(store: ox.Store, index: SiteIndex) -> Overview:
    return Overview(
        heatmap=heatmap(store, index),
        laws=laws(store),
        topics=topics(store, index),
        orphans=tuple(
            (row["vereiste"], row.get("titel", "")) for row in select(store, ORPHANS_QUERY, True)
        ),
        queries=MappingProxyType(
            {
                "heatmap": HEATMAP_QUERY,
                "wetten": LAWS_QUERY,
                "onderwerpen": TOPICS_QUERY,
                "zonder-maatregelen": ORPHANS_QUERY,
            }
        ),
    )


def cell_query(phase: str, role: str) -> str:
    """The maatregelen of one heat-map cell (``phase`` and ``role`` IRIs of the graph)."""
    return (
        PREFIXES + "SELECT ?maatregel ?titel WHERE {\n"
        "  ?maatregel a ak:Maatregel ;\n"
        f"             ak:levenscyclusfase <{ox.NamedNode(phase).value}> ;\n"
        f"             ak:rol <{ox.NamedNode(role).value}> ;\n"
        "             dcterms:title ?titel .\n"
        "}\nORDER BY ?titel\n"
    )


def heatmap(store: ox.Store, index: SiteIndex) -> HeatMap:
    cells = {
        (row["fase"], row["rol"]): int(row["aantal"])
        for row in select(store, HEATMAP_QUERY, union=True)
    }
    margins: dict[str, dict[str, int]] = {"fase": {}, "rol": {}}
    for row in select(store, MARGINS_QUERY, union=True):
        margins[row["as"]][row["waarde"]] = int(row["aantal"])
    return HeatMap(
        rows=_categories(index, margins["fase"]),
        columns=_categories(index, margins["rol"]),
        cells=MappingProxyType(cells),
        row_totals=MappingProxyType(margins["fase"]),
        column_totals=MappingProxyType(margins["rol"]),
        maatregelen=len(index.members(MAATREGEL)),
    )


def _categories(index: SiteIndex, keys: Mapping[str, int]) -> tuple[Category, ...]:
    """The values as categories, in the order of their labels (``Fase 0``, ``Fase 1``, …)."""
    found = [Category(key, index.label(key), slug_of(key)) for key in keys]
    return tuple(sorted(found, key=lambda category: (category.label.casefold(), category.key)))


def slug_of(iri: str) -> str:
    """The tag value of a tag IRI (``urn:nl:ak:rol:jurist`` -> ``jurist``)."""
    return iri.rsplit(":", 1)[-1]


def laws(store: ox.Store) -> tuple[Count, ...]:
    glossary = {
        row["term"].upper(): row["definitie"].strip().rstrip(".")
        for row in select(store, GLOSSARY_QUERY, union=True)
    }
    totals: dict[str, list[int]] = {}
    for row in select(store, LAWS_QUERY, union=True):
        code = law_code(row.get("id") or row["vereiste"])
        counts = totals.setdefault(code, [0, 0])
        counts[0] += 1
        counts[1] += int(row["maatregelen"]) == 0
    found = [
        Count(_law_category(code, glossary), total, without, glossary.get(code, code))
        for code, (total, without) in totals.items()
    ]
    return tuple(sorted(found, key=lambda count: (-count.value, count.category.key)))


def _law_category(code: str, glossary: Mapping[str, str]) -> Category:
    """A law by its glossary name and code (``Archiefwet (ARC)``), or its code alone."""
    name = glossary.get(code)
    return Category(code, f"{name} ({code})" if name else code)


def topics(store: ox.Store, index: SiteIndex) -> tuple[Count, ...]:
    return tuple(
        Count(
            Category(row["onderwerp"], index.label(row["onderwerp"]), slug_of(row["onderwerp"])),
            int(row["aantal"]),
        )
        for row in select(store, TOPICS_QUERY, union=True)
    )


def csv_rows(overview: Overview, chart: str | None) -> list[tuple[str, str, str, int]]:
    """(grafiek, rij, kolom, aantal) for one chart or all: the numbers of the page."""
    rows: list[tuple[str, str, str, int]] = []
    if chart in (None, "heatmap"):
        hm = overview.heatmap
        rows += [
            ("heatmap", row.label, column.label, hm.count(row.key, column.key))
            for row in hm.rows
            for column in hm.columns
        ]
    if chart in (None, "wetten"):
        for law in overview.laws:
            rows.append(("wetten", law.name, "vereisten", law.value))
            rows.append(("wetten", law.name, "zonder maatregelen", law.part))
    if chart in (None, "onderwerpen"):
        rows += [("onderwerpen", t.category.label, "maatregelen", t.value) for t in overview.topics]
    if chart in (None, "zonder-maatregelen"):
        rows += [("zonder-maatregelen", title, urn, 1) for urn, title in overview.orphans]
    return rows


#: The charts a CSV can be asked for (``?format=csv&grafiek=…``).
CHARTS: tuple[str, ...] = ("heatmap", "wetten", "onderwerpen", "zonder-maatregelen")
