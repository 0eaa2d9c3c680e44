"""Which vereisten apply to an AI-Act profile: the one query the API and ``kg applicable`` share.

A profile is the tag values a user picks per AI-Act group (``rol-ai-act: [aanbieder]``). The
answer is computed by one SPARQL query (:func:`applicable_query`) on whatever store holds the
graph (the server's, or one ``kg applicable`` loads), and the query is handed back with the
answer, so "what the API says" and "what the query says" cannot differ. This module builds the
query text and turns its rows into the answer; it never runs anything itself except in
:func:`answer_for_graph`, the command line's way in. Semantics (README, *Applicability*):

* the vereisten considered are those with at least one AI-Act tag;
* per group the profile fills, a vereiste must carry one of the profile's values in that group
  (no tag in that group: it does not apply); a group the profile leaves open matches all;
* a vereiste so selected is excluded when a case (``ak:geval``) of one of its exceptions
  holds: the profile has every concept of its ``ak:met`` and none of its ``ak:zonder``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from kg.namespace import AK_IRI, URN_PREFIX
from kg.vocabulary import AI_ACT_KEYS, RULES

#: The groups in the order a form shows them, with the local name of each one's predicate
#: (both from :mod:`kg.vocabulary`, the one table of front-matter keys).
GROUPS: tuple[tuple[str, str], ...] = tuple(
    (key, str(RULES[key].predicate).removeprefix(AK_IRI)) for key in AI_ACT_KEYS
)
_DCTERMS = "http://purl.org/dc/terms/"

#: The values each group takes in the graph (the values any document is tagged with).
VALUES_QUERY = f"""PREFIX ak: <{AK_IRI}>
SELECT DISTINCT ?predicate ?value WHERE {{
  VALUES ?predicate {{ {" ".join(f"ak:{name}" for _, name in GROUPS)} }}
  ?document ?predicate ?value .
}}"""


class ProfileError(ValueError):
    """A profile naming a group or a value the graph does not have."""


@dataclass(frozen=True)
class Profile:
    """Chosen values per group (a group left out or empty is open)."""

    values: tuple[tuple[str, tuple[str, ...]], ...]

    def get(self, group: str) -> tuple[str, ...]:
        return dict(self.values).get(group, ())

    def concepts(self) -> list[str]:
        return [concept(group, value) for group, values in self.values for value in values]

    def to_json(self) -> dict[str, list[str]]:
        return {group: list(values) for group, values in self.values}


@dataclass(frozen=True)
class Item:
    urn: str
    titel: str


@dataclass(frozen=True)
class Applicable:
    urn: str
    titel: str
    maatregelen: tuple[Item, ...]


@dataclass(frozen=True)
class Excluded:
    urn: str
    titel: str
    reden: str
    bron: str


@dataclass(frozen=True)
class Answer:
    profiel: Profile
    vereisten: tuple[Applicable, ...]
    uitgesloten: tuple[Excluded, ...]
    sparql: str

    def to_json(self) -> dict[str, object]:
        return {
            "profiel": self.profiel.to_json(),
            "vereisten": [
                {
                    "urn": item.urn,
                    "titel": item.titel,
                    "maatregelen": [{"urn": m.urn, "titel": m.titel} for m in item.maatregelen],
                }
                for item in self.vereisten
            ],
            "uitgesloten": [
                {"urn": x.urn, "titel": x.titel, "reden": x.reden, "bron": x.bron}
                for x in self.uitgesloten
            ],
            "sparql": self.sparql,
        }


def concept(group: str, value: str) -> str:
    return f"{URN_PREFIX}{group}:{value}"


def valid_values(rows: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Group -> its values, from the (predicate IRI, concept IRI) rows of :data:`VALUES_QUERY`."""
    names = {f"{AK_IRI}{name}": group for group, name in GROUPS}
    found: dict[str, set[str]] = {group: set() for group, _ in GROUPS}
    for predicate, value in rows:
        group = names.get(predicate)
        prefix = concept(group, "") if group else ""
        if group and value.startswith(prefix):
            found[group].add(value.removeprefix(prefix))
    return {group: tuple(sorted(values)) for group, values in found.items()}


def make_profile(
    chosen: Mapping[str, Iterable[str]], valid: Mapping[str, tuple[str, ...]]
) -> Profile:
    """The profile of ``chosen``; ProfileError listing the valid groups or values otherwise."""
    unknown = sorted(set(chosen) - set(valid))
    if unknown:
        raise ProfileError(
            f"unknown parameter {', '.join(unknown)}; the groups are: {', '.join(valid)}"
        )
    values = []
    for group, _ in GROUPS:
        picked = tuple(sorted(set(chosen.get(group, ()))))
        wrong = [value for value in picked if value not in valid[group]]
        if wrong:
            raise ProfileError(
                f"{group}: unknown value {', '.join(wrong)}; valid: {', '.join(valid[group])}"
            )
        if picked:
            values.append((group, picked))
    return Profile(tuple(values))


def applicable_query(profile: Profile) -> str:
    """The query: one row per selected vereiste and each of its maatregelen, and per exception
    rule of it that holds for the profile (``?regel`` unbound when none does)."""
    concepts = ", ".join(f"<{iri}>" for iri in profile.concepts())
    tagged = " | ".join(f"ak:{name}" for _, name in GROUPS)
    groups = "".join(
        f"  FILTER EXISTS {{ ?vereiste ak:{name} ?{name} FILTER (?{name} IN ({values})) }}\n"
        for group, name in GROUPS
        if (values := ", ".join(f"<{concept(group, v)}>" for v in profile.get(group)))
    )
    return f"""PREFIX ak: <{AK_IRI}>
PREFIX dcterms: <{_DCTERMS}>
SELECT DISTINCT ?vereiste ?titel ?regel ?reden ?maatregel ?maatregelTitel WHERE {{
  ?vereiste a ak:Vereiste ; dcterms:title ?titel .
  FILTER EXISTS {{ ?vereiste {tagged} ?tag }}
{groups}  OPTIONAL {{
    ?vereiste ak:uitzonderingsregel ?regel .
    ?regel ak:expressie ?reden ; ak:geval ?geval .
{_case_holds(concepts)}  }}
  OPTIONAL {{ ?maatregel a ak:Maatregel ; ak:vereiste ?vereiste ; dcterms:title ?maatregelTitel }}
}}
ORDER BY ?vereiste ?regel ?maatregel"""


def _case_holds(concepts: str) -> str:
    """The filters under which a case holds: every ``ak:met`` in the profile, no ``ak:zonder``.
    For the empty profile they are written without ``IN ()`` (Oxigraph 0.5 does not take
    ``NOT IN ()`` as true): a case holds when it has no ``ak:met``."""
    if not concepts:
        return "    FILTER NOT EXISTS { ?geval ak:met ?met }\n"
    return (
        f"    FILTER NOT EXISTS {{ ?geval ak:met ?met FILTER (?met NOT IN ({concepts})) }}\n"
        f"    FILTER NOT EXISTS {{ ?geval ak:zonder ?zonder FILTER (?zonder IN ({concepts})) }}\n"
    )


Row = Mapping[str, str]


def make_answer(
    profile: Profile, query: str, rows: Iterable[Row], source: Callable[[str], str]
) -> Answer:
    """The answer from the query's rows (variable -> value, unbound left out); ``source``
    gives ``path:line`` of an exception rule."""
    titles: dict[str, str] = {}
    measures: dict[str, dict[str, str]] = {}
    rules: dict[str, dict[str, str]] = {}
    for row in rows:
        urn = row["vereiste"]
        titles[urn] = row["titel"]
        measures.setdefault(urn, {})
        rules.setdefault(urn, {})
        if "maatregel" in row:
            measures[urn][row["maatregel"]] = row["maatregelTitel"]
        if "regel" in row:
            rules[urn][row["regel"]] = row["reden"]
    applicable = tuple(
        Applicable(urn, titles[urn], tuple(Item(m, t) for m, t in sorted(measures[urn].items())))
        for urn in sorted(titles)
        if not rules[urn]
    )
    excluded = tuple(
        Excluded(urn, titles[urn], reden, source(rule))
        for urn in sorted(titles)
        for rule, reden in sorted(rules[urn].items())
    )
    return Answer(profile, applicable, excluded, query)


def rule_sources(resources: Mapping[str, object]) -> Callable[[str], str]:
    """``path:line`` of a rule from the ``resources`` of a source map (``sourcemap.json``:
    IRI -> [path, line])."""

    def source(rule: str) -> str:
        where = resources.get(rule)
        if isinstance(where, list | tuple) and len(where) == 2:
            return f"{where[0]}:{where[1]}"
        return ""

    return source


def select(store: ox.Store, query: str, union: bool = False) -> list[dict[str, str]]:
    """The rows of a SELECT on ``store``: variable -> IRI or lexical form, unbound left out
    (``union``: the default graph is the union of the named graphs, as the server's is)."""
    solutions = store.query(query, use_default_graph_as_union=union)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [variable.value for variable in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def load_store(triples: Iterable[tuple[Node, Node, Node]]) -> ox.Store:
    """An Oxigraph store holding the rdflib ``triples`` in its default graph."""
    store = ox.Store()
    store.bulk_extend(ox.Quad(_term(s), _term(p), _term(o)) for s, p, o in triples)  # type: ignore[arg-type]
    return store


def _term(node: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    if isinstance(node, URIRef):
        return ox.NamedNode(str(node))
    if isinstance(node, BNode):
        return ox.BlankNode(str(node))
    assert isinstance(node, Literal)
    if node.language:
        return ox.Literal(str(node), language=node.language)
    if node.datatype:
        return ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype)))
    return ox.Literal(str(node))


def answer_for_store(
    store: ox.Store,
    chosen: Mapping[str, Iterable[str]],
    source: Callable[[str], str],
    union: bool = False,
) -> Answer:
    """Validate ``chosen`` against the store's values, run the query, make the answer."""
    rows = select(store, VALUES_QUERY, union)
    profile = make_profile(chosen, valid_values((row["predicate"], row["value"]) for row in rows))
    query = applicable_query(profile)
    return make_answer(profile, query, select(store, query, union), source)
