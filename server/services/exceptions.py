"""A vereiste's ``uitzondering`` rules, for reading: nested lists of label names, not node tables.

The build stores each exception as a rule ``<vereiste>#uitzondering-<n>`` (``ak:expressie``, the
text as written; ``ak:voorwaarde``, the expression as ``ak:En`` / ``ak:Of`` / ``ak:Niet`` nodes
whose ``ak:operand``s end in label concepts; ``ak:geval``, its cases in disjunctive normal form).
A generic resource page shows those nodes as property tables, which says little to a reader.
:func:`readable_exceptions` reads them back from the store into :class:`ExceptionRule`s, shown
as a section "Uitzonderingen" (``server/templates/exceptions.html``): the expression as nested
lists ("alle van" / "een van" / "niet") of the labels' ``skos:prefLabel``, the source line from
the publication's source map, and per case a link to ``/applicable`` with a profile under which
the exception holds. The rule's nodes are then left out of the page's tables; its Turtle and
JSON-LD (``describe_triples``) are not touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pyoxigraph as ox

from kg.namespace import AK_IRI as AK
from kg.profile import GROUPS, concept
from server.services.describe import Page
from server.services.index import RDF_TYPE, SiteIndex

_RULE = f"{AK}uitzonderingsregel"
_EXPRESSION = f"{AK}expressie"
_CONDITION = f"{AK}voorwaarde"
_OPERAND = f"{AK}operand"
_CASE = f"{AK}geval"
_WITH = f"{AK}met"
_WITHOUT = f"{AK}zonder"
#: Operator class -> (short name, what the list under it means).
_OPERATORS = {
    f"{AK}En": ("alle", "alle van:"),
    f"{AK}Of": ("een", "een van:"),
    f"{AK}Niet": ("niet", "niet:"),
}
#: Deeper than any expression the build lets through (kg.applicability.MAX_DEPTH is 32).
MAX_DEPTH = 64


@dataclass(frozen=True)
class Condition:
    """A node of the expression: an operator over operands, or (``operator`` empty) a label."""

    operator: str
    #: "alle van:", "een van:", "niet:"; for a label its name (``skos:prefLabel``).
    text: str
    #: The label's concept IRI (empty for an operator).
    iri: str = ""
    #: The label's group, its front-matter key (``risicogroep``), and its value there.
    group: str = ""
    value: str = ""
    operands: tuple[Condition, ...] = ()
    #: An operator node's fragment (``uitzondering-2-e-1``): its id on the page, where its
    #: IRI (``<urn>#uitzondering-2-e-1``) leads.
    anchor: str = ""


@dataclass(frozen=True)
class Trigger:
    """One case of the rule: the labels of a profile under which the exception holds, and
    the labels the profile must then not have."""

    present: tuple[Condition, ...]
    absent: tuple[Condition, ...]
    #: The case's fragment (``uitzondering-1-geval-1``): its id on the page.
    anchor: str = ""

    @property
    def query(self) -> dict[str, list[str]]:
        """The profile as ``/applicable``'s parameters."""
        found: dict[str, list[str]] = {}
        for label in self.present:
            if label.group:
                found.setdefault(label.group, []).append(label.value)
        return found


@dataclass(frozen=True)
class ExceptionRule:
    #: The rule's fragment (``uitzondering-1``): the section's id, where its IRI links to.
    anchor: str
    expression: str
    condition: Condition | None
    #: ``path:line`` of the rule in the content (empty without a source map).
    source: str
    triggers: tuple[Trigger, ...]


def readable_exceptions(
    store: ox.Store, index: SiteIndex, resources: Mapping[str, object], page: Page
) -> tuple[Page, tuple[ExceptionRule, ...]]:
    """The page without the rules' nodes among its parts, and the rules to show instead."""
    rules: list[ExceptionRule] = []
    hidden: set[str] = set()
    for rule in sorted(_objects(store, page.urn, _RULE), key=_natural):
        if not rule.startswith(f"{page.urn}#"):
            continue
        nodes: set[str] = {rule}
        rules.append(_rule(store, index, resources, rule, nodes))
        hidden |= {node.split("#", 1)[1] for node in nodes if node.startswith(f"{page.urn}#")}
    if not rules:
        return page, ()
    parts = tuple(part for part in page.parts if part.anchor not in hidden)
    return replace(page, parts=parts), tuple(rules)


def _rule(
    store: ox.Store,
    index: SiteIndex,
    resources: Mapping[str, object],
    rule: str,
    nodes: set[str],
) -> ExceptionRule:
    expression = next(iter(_literals(store, rule, _EXPRESSION)), "")
    roots = _objects(store, rule, _CONDITION)
    condition = _condition(store, index, roots[0], nodes, 0) if roots else None
    triggers = []
    for case in sorted(_objects(store, rule, _CASE), key=_natural):
        nodes.add(case)
        present = [_label(index, iri) for iri in _objects(store, case, _WITH)]
        absent = [_label(index, iri) for iri in _objects(store, case, _WITHOUT)]
        triggers.append(Trigger(_sorted(present), _sorted(absent), _fragment(case)))
    where = resources.get(rule)
    source = f"{where[0]}:{where[1]}" if isinstance(where, list | tuple) and len(where) == 2 else ""
    return ExceptionRule(rule.split("#", 1)[1], expression, condition, source, tuple(triggers))


def _condition(
    store: ox.Store, index: SiteIndex, iri: str, nodes: set[str], depth: int
) -> Condition:
    kinds = [_OPERATORS[t] for t in _objects(store, iri, RDF_TYPE) if t in _OPERATORS]
    if not kinds or depth > MAX_DEPTH or iri in nodes:
        return _label(index, iri)
    nodes.add(iri)
    operands = [
        _condition(store, index, operand, nodes, depth + 1)
        for operand in _objects(store, iri, _OPERAND)
    ]
    return Condition(kinds[0][0], kinds[0][1], operands=_sorted(operands), anchor=_fragment(iri))


def _fragment(iri: str) -> str:
    return iri.partition("#")[2]


def _sorted(conditions: list[Condition]) -> tuple[Condition, ...]:
    """Labels first, by group and name, then the operators (and and or do not mind order)."""
    return tuple(sorted(conditions, key=lambda c: (bool(c.operator), c.group, c.text, c.iri)))


def _label(index: SiteIndex, iri: str) -> Condition:
    group, value = _group_value(iri) or ("", "")
    return Condition("", index.label(iri), iri, group, value)


def _group_value(iri: str) -> tuple[str, str] | None:
    """(group, value) of an AI-Act label concept (``urn:nl:ak:risicogroep:verboden-ai``)."""
    for group, _ in GROUPS:
        value = iri.removeprefix(concept(group, ""))
        if value != iri and value:
            return group, value
    return None


def _objects(store: ox.Store, subject: str, predicate: str) -> list[str]:
    quads = store.quads_for_pattern(ox.NamedNode(subject), ox.NamedNode(predicate), None, None)
    return list(dict.fromkeys(q.object.value for q in quads if isinstance(q.object, ox.NamedNode)))


def _literals(store: ox.Store, subject: str, predicate: str) -> list[str]:
    quads = store.quads_for_pattern(ox.NamedNode(subject), ox.NamedNode(predicate), None, None)
    return [q.object.value for q in quads if isinstance(q.object, ox.Literal)]


def _natural(iri: str) -> tuple[int, str]:
    """``…#uitzondering-2`` before ``…#uitzondering-10``: by the number at the end."""
    tail = iri.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 0), iri


__all__ = ["Condition", "ExceptionRule", "Trigger", "readable_exceptions"]
