"""Browse pages: the vereisten, maatregelen and hulpmiddelen as tables with facets.

A civil servant on upstream's website filters its overview tables by rol, levenscyclusfase,
onderwerp, the law (vereisten) and the AI-Act labels; here the same selections are shareable
``GET`` addresses whose parameters are the front-matter keys and values as upstream writes
them (``/maatregelen?rollen=jurist&levenscyclus=ontwerp``; a key repeated is OR). One SPARQL
query per page reads every row of the kind with its tags from the served store; filtering,
facet counting and sorting are done here in Python (a few hundred resources).

Semantics:

* AND across facets, OR within one; a value no row has matches nothing (it is shown, selected,
  with the count 0, so it can be unticked); a key that is no facet of the page is an error.
* A facet value's count is the number of rows that match the selection in every *other* facet
  and carry the value: with nothing chosen in its facet yet, the rows the selection would have
  if the value were added (multi-select faceting as search engines do it).
* The rows and their values: :mod:`server.services.browse_catalogue`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property

import pyoxigraph as ox

from kg.vocabulary import ID_PREFIX_LENGTH, LAW_LABEL, RULES
from server.services.browse_catalogue import (
    LAW,
    PREFIXES,
    TAG_FACETS,
    Catalogue,
    Item,
    Overview,
)
from server.services.index import SiteIndex

#: Query parameters that are not facets.
SORT, FORMAT = "sort", "format"
#: ``sort=`` values (``-`` before one: descending); none given: upstream's order, by file name.
SORT_KEYS: tuple[str, ...] = ("code", "titel")


class BrowseError(ValueError):
    """A request naming a parameter the page does not have (or a bad ``sort``)."""


@dataclass(frozen=True)
class Selection:
    """The chosen values per facet (in the page's facet order) and the sort."""

    chosen: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sort: str = ""

    def get(self, key: str) -> tuple[str, ...]:
        return dict(self.chosen).get(key, ())

    def toggled(self, key: str, value: str, order: Iterable[str]) -> Selection:
        """This selection with ``value`` of ``key`` added, or removed when it was chosen."""
        current = self.get(key)
        values = tuple(v for v in current if v != value) if value in current else (*current, value)
        chosen = dict(self.chosen)
        chosen[key] = values
        return replace(self, chosen=tuple((k, chosen[k]) for k in order if chosen.get(k)))

    def without_facets(self) -> Selection:
        return Selection(sort=self.sort)

    def sorted_by(self, sort: str) -> Selection:
        return replace(self, sort=sort)

    def params(self) -> dict[str, list[str]]:
        """The query parameters of this selection (``url_for(..., **params)``)."""
        params = {key: list(values) for key, values in self.chosen}
        if self.sort:
            params[SORT] = [self.sort]
        return params


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    #: False for a chosen value no row has.
    known: bool = True


@dataclass(frozen=True)
class Facet:
    key: str
    label: str
    values: tuple[FacetValue, ...]


@dataclass(frozen=True)
class View:
    """A browse page's answer: the rows of the selection in order, facets, the query."""

    overview: Overview
    selection: Selection
    items: tuple[Item, ...]
    total: int
    facets: tuple[Facet, ...]
    sparql: str

    @cached_property
    def value_labels(self) -> Mapping[tuple[str, str], str]:
        """(facet key, value) -> its label, for the table's cells."""
        return {(f.key, v.value): v.label for f in self.facets for v in f.values}

    def label(self, key: str, value: str) -> str:
        return self.value_labels.get((key, value), value)

    def chips(self, item: Item, key: str) -> list[tuple[str, str]]:
        """(short text, label) of the item's values of ``key``, in the facet's order: the
        value written out as upstream's chips show it, the label (a page title) on hover."""
        labels = [(self.label(key, value), value) for value in item.values.get(key, ())]
        return [(chip_text(value), label) for label, value in sorted(labels, key=_by_label)]

    def to_json(self) -> dict[str, object]:
        return {
            "selectie": {key: list(values) for key, values in self.selection.chosen},
            "sortering": self.selection.sort or "bestand",
            "aantal": len(self.items),
            "totaal": self.total,
            "items": [item_json(self.overview, item) for item in self.items],
            "facetten": {
                facet.key: [
                    {"waarde": v.value, "label": v.label, "aantal": v.count, "gekozen": v.selected}
                    for v in facet.values
                ]
                for facet in self.facets
            },
            "sparql": self.sparql,
        }


def _by_label(pair: tuple[str, str]) -> tuple[str, str]:
    return pair[0].casefold(), pair[1]


def chip_text(value: str) -> str:
    """A value as upstream's chips write it: ``hoog-risico-ai-systeem`` -> "Hoog risico
    AI-systeem" (as :mod:`kg.lists`)."""
    text = " ".join("AI" if word.lower() == "ai" else word for word in value.split("-"))
    return (text[:1].upper() + text[1:]).replace("AI ", "AI-")


def item_json(overview: Overview, item: Item) -> dict[str, object]:
    data: dict[str, object] = {
        "urn": item.urn,
        "code": item.code,
        "titel": item.title,
        "bestand": item.file,
    }
    for key in overview.facets:
        data[key] = list(item.values.get(key, ()))
    return data


# -- the request ----------------------------------------------------------------------------


def parse_selection(overview: Overview, params: Iterable[tuple[str, list[str]]]) -> Selection:
    """The selection the query parameters ask for; :class:`BrowseError` for an unknown key,
    a repeated or unknown ``sort``. Empty values (an empty form field) are ignored."""
    chosen: dict[str, list[str]] = {}
    sort = ""
    for name, values in params:
        if name == FORMAT:
            continue
        if name == SORT:
            sort = _sort(values)
        elif name in overview.facets:
            chosen.setdefault(name, [])
            chosen[name] += [value for value in values if value and value not in chosen[name]]
        else:
            raise BrowseError(
                f"unknown parameter {name!r}: /{overview.name} takes "
                f"{', '.join(overview.facets)}, {SORT} and {FORMAT}"
            )
    ordered = tuple((key, tuple(chosen[key])) for key in overview.facets if chosen.get(key))
    return Selection(ordered, sort)


def _sort(values: list[str]) -> str:
    if len(values) > 1:
        raise BrowseError(f"give the parameter {SORT} once (it was given {len(values)} times)")
    sort = values[0]
    if sort and sort.removeprefix("-") not in SORT_KEYS:
        keys = ", ".join(f"{key}, -{key}" for key in SORT_KEYS)
        raise BrowseError(f"{SORT} must be one of: {keys} (or left out: by file name)")
    return sort


# -- the answer -----------------------------------------------------------------------------


def browse(catalogue: Catalogue, selection: Selection, index: SiteIndex) -> View:
    """The rows ``selection`` picks, sorted, with every facet's values and counts."""
    overview = catalogue.overview
    items = [item for item in catalogue.items if _matches(item, selection.chosen)]
    return View(
        overview=overview,
        selection=selection,
        items=tuple(_sorted(items, selection.sort)),
        total=len(catalogue.items),
        facets=tuple(
            facet
            for key in overview.facets
            if (facet := _facet(catalogue, selection, key, index)).values
        ),
        sparql=selection_query(catalogue, selection),
    )


def _matches(item: Item, chosen: Iterable[tuple[str, tuple[str, ...]]], skip: str = "") -> bool:
    return all(item.has_any(key, frozenset(values)) for key, values in chosen if key != skip)


def _sorted(items: list[Item], sort: str) -> list[Item]:
    """By ``code`` or ``titel`` (``-``: descending); else as given (by file name)."""
    key = sort.removeprefix("-")
    if key == "code":
        items = sorted(items, key=lambda item: (item.code.casefold(), item.file))
    elif key == "titel":
        items = sorted(items, key=lambda item: (item.title.casefold(), item.file))
    return items[::-1] if sort.startswith("-") else items


def _facet(catalogue: Catalogue, selection: Selection, key: str, index: SiteIndex) -> Facet:
    others = [item for item in catalogue.items if _matches(item, selection.chosen, skip=key)]
    counts = Counter(value for item in others for value in item.values.get(key, ()))
    known = {value for item in catalogue.items for value in item.values.get(key, ())}
    chosen = selection.get(key)
    labels = {value: _value_label(catalogue, key, value, index) for value in known}
    values = [
        FacetValue(value, labels[value], counts[value], value in chosen)
        for value in sorted(known, key=lambda value: (labels[value].casefold(), value))
    ]
    values += [
        FacetValue(value, value, 0, True, known=False) for value in chosen if value not in known
    ]
    return Facet(key, facet_label(key, index), tuple(values))


def column_headings(index: SiteIndex) -> dict[str, str]:
    """The table's headings of the tag columns (the plural of the kind that defines the
    values: "Rollen") and of the law column, by facet key."""
    headings = {key: index.plural(str(_target_class(key))) for key in TAG_FACETS}
    return {**headings, LAW: LAW_LABEL}


def _target_class(key: str) -> str:
    kind = RULES[key].target_kind
    assert kind is not None, key
    return str(kind.classes[0])


def facet_label(key: str, index: SiteIndex) -> str:
    """A facet's heading: its predicate's Dutch label (the ontology's), capitalised."""
    if key == LAW:
        return LAW_LABEL
    label = index.label(str(RULES[key].predicate))
    return label[:1].upper() + label[1:]


def _value_label(catalogue: Catalogue, key: str, value: str, index: SiteIndex) -> str:
    if key == LAW:
        law = next(item.law for item in catalogue.items if item.law and item.law.code == value)
        return law.label
    label = index.label(catalogue.nodes[(key, value)])
    return label[:1].upper() + label[1:]


def selection_query(catalogue: Catalogue, selection: Selection) -> str:
    """A SPARQL query that gives the selection's rows (by file name) on the served store."""
    overview = catalogue.overview
    where = [f"  ?item a <{overview.cls}> ; dcterms:title ?titel ; ak:bronbestand ?bestand ."]
    where.append("  OPTIONAL { ?item dcterms:identifier ?id }")
    predicates = {key: predicate for predicate, key in overview.predicates().items()}
    for number, (key, values) in enumerate(selection.chosen):
        if key == LAW:
            codes = ", ".join(str(ox.Literal(value)) for value in values)
            start = ID_PREFIX_LENGTH + 1  # id[14:] (SPARQL counts from 1)
            where.append(
                f'  FILTER (STRBEFORE(CONCAT(SUBSTR(?id, {start}), "-"), "-") IN ({codes}))'
            )
            continue
        nodes = [catalogue.nodes[(key, v)] for v in values if (key, v) in catalogue.nodes]
        if not nodes:
            where.append("  FILTER (false)")
            continue
        listed = ", ".join(f"<{node}>" for node in nodes)
        where.append(
            f"  FILTER EXISTS {{ ?item <{predicates[key]}> ?v{number} "
            f"FILTER (?v{number} IN ({listed})) }}"
        )
    body = "\n".join(where)
    return f"{PREFIXES}SELECT ?item ?id ?titel WHERE {{\n{body}\n}}\nORDER BY ?bestand\n"
