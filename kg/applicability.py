"""The ``uitzondering`` expressions of vereisten, parsed: when an AI-Act exception removes one.

Upstream writes an exception as a label (``risicogroep-uitzondering-van-toepassing``) or as a
boolean expression over labels::

    ("soort-toepassing-ai-systeem-voor-algemene-doeleinden" || "soort-toepassing-ai-systeem")
      && "open-source-open-source" && "transparantieverplichting-geen-transparantieverplichting"

Its website evaluates them with JavaScript's ``new Function``; here a small recursive-descent
parser reads them (no ``eval``) into a tree of :class:`Label`, :class:`Not`, :class:`All` and
:class:`Any`. A label is ``<group>-<value>`` with the group one of the AI-Act tag vocabularies
(``soort-toepassing``, ``risicogroep``, ``rol-ai-act``, ``transparantieverplichting``,
``systeemrisico``, ``open-source``): the concept ``urn:nl:ak:<group>:<value>`` the same tag in
the front matter names. Grammar (``!`` binds tightest, then ``&&``, then ``||``; ``and``,
``or`` and ``not`` are accepted as words too)::

    expression  := conjunction ( "||" conjunction )*
    conjunction := negation ( "&&" negation )*
    negation    := "!" negation | "(" expression ")" | label
    label       := '"' name '"' | name          name: letters, digits, '-'

Each expression is also given in disjunctive normal form (:func:`cases`): the exception applies
when one of its cases holds, a case being labels that must all be in the profile and labels
that must not be. That is what SPARQL can test without recursion (README, *Applicability*).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import product

from rdflib import Literal, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from kg.identifier import term_urn
from kg.namespace import AK
from kg.vocabulary import AI_ACT_KEYS

#: Tag groups whose values an expression may name, longest first (a group may prefix another).
AI_ACT_GROUPS: tuple[str, ...] = tuple(sorted(AI_ACT_KEYS, key=len, reverse=True))
_WORDS = {"and": "&&", "or": "||", "not": "!"}
#: Bounds that keep a hostile expression from costing the build: nesting (the parser recurses)
#: and cases of the normal form (which grow exponentially with ``(a || b) && (c || d) && …``).
#: Upstream's expressions nest 1 deep and have 2 cases.
MAX_DEPTH = 32
MAX_CASES = 256
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


class ExpressionError(ValueError):
    """A malformed expression; ``column`` is where (0-based, in the expression)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column + 1})")
        self.column = column


@dataclass(frozen=True)
class Label:
    group: str
    value: str

    @property
    def name(self) -> str:
        return f"{self.group}-{self.value}"


@dataclass(frozen=True)
class Not:
    operand: Expression


@dataclass(frozen=True)
class All:
    operands: tuple[Expression, ...]


@dataclass(frozen=True)
class Any:
    operands: tuple[Expression, ...]


Expression = Label | Not | All | Any


@dataclass(frozen=True)
class Case:
    """One way an exception holds: every label of ``present`` is in the profile and none of
    ``absent`` is."""

    present: frozenset[Label]
    absent: frozenset[Label]


def parse(text: str) -> Expression:
    """The expression ``text`` writes; ExpressionError when it is not one."""
    tokens = list(_tokens(text))
    parser = _Parser(tokens, len(text))
    expression = parser.expression()
    if parser.position < len(tokens):
        _, word, column = tokens[parser.position]
        raise ExpressionError(f"unexpected {word!r} after a complete expression", column)
    if _case_count(expression) > MAX_CASES:
        raise ExpressionError(f"more than {MAX_CASES} cases in normal form", 0)
    return expression


def _case_count(expression: Expression, negated: bool = False) -> int:
    """How many cases :func:`cases` would generate, before simplifying (computed, not made)."""
    if isinstance(expression, Label):
        return 1
    if isinstance(expression, Not):
        return _case_count(expression.operand, not negated)
    counts = [_case_count(operand, negated) for operand in expression.operands]
    if isinstance(expression, All) != negated:
        product_count = 1
        for count in counts:
            product_count = min(product_count * count, MAX_CASES + 1)
        return product_count
    return min(sum(counts), MAX_CASES + 1)


def show(expression: Expression) -> str:
    """The expression written back in upstream's notation (parentheses only where needed)."""
    if isinstance(expression, Label):
        return f'"{expression.name}"'
    if isinstance(expression, Not):
        inner = show(expression.operand)
        return f"!{inner}" if isinstance(expression.operand, Label | Not) else f"!({inner})"
    joiner = " && " if isinstance(expression, All) else " || "
    parts = []
    for operand in expression.operands:
        text = show(operand)
        needs = isinstance(operand, Any) and isinstance(expression, All)
        parts.append(f"({text})" if needs or type(operand) is type(expression) else text)
    return joiner.join(parts)


def holds(expression: Expression, profile: frozenset[Label]) -> bool:
    """Whether ``expression`` is true of a profile (the labels it has)."""
    if isinstance(expression, Label):
        return expression in profile
    if isinstance(expression, Not):
        return not holds(expression.operand, profile)
    if isinstance(expression, All):
        return all(holds(operand, profile) for operand in expression.operands)
    return any(holds(operand, profile) for operand in expression.operands)


def labels(expression: Expression) -> frozenset[Label]:
    if isinstance(expression, Label):
        return frozenset({expression})
    if isinstance(expression, Not):
        return labels(expression.operand)
    return frozenset().union(*(labels(operand) for operand in expression.operands))


def cases(expression: Expression) -> tuple[Case, ...]:
    """The disjunctive normal form: the exception holds exactly when one case does. Cases
    that contradict themselves are dropped, and so are cases another case includes."""
    found = {case for case in _cases(expression, negated=False) if not case.present & case.absent}
    kept = [
        case
        for case in found
        if not any(
            other != case and other.present <= case.present and other.absent <= case.absent
            for other in found
        )
    ]
    return tuple(sorted(kept, key=_case_order))


def _cases(expression: Expression, negated: bool) -> Iterator[Case]:
    if isinstance(expression, Label):
        one = frozenset({expression})
        yield Case(frozenset(), one) if negated else Case(one, frozenset())
        return
    if isinstance(expression, Not):
        yield from _cases(expression.operand, not negated)
        return
    # De Morgan: a negated All is an Any of negations, a negated Any an All of negations.
    conjunctive = isinstance(expression, All) != negated
    groups = [list(_cases(operand, negated)) for operand in expression.operands]
    if not conjunctive:
        for group in groups:
            yield from group
        return
    for combination in product(*groups):
        yield Case(
            frozenset().union(*(case.present for case in combination)),
            frozenset().union(*(case.absent for case in combination)),
        )


def _case_order(case: Case) -> tuple[list[str], list[str]]:
    return sorted(label.name for label in case.present), sorted(x.name for x in case.absent)


def split_label(name: str) -> Label | None:
    """``soort-toepassing-ai-systeem`` -> Label("soort-toepassing", "ai-systeem")."""
    for group in AI_ACT_GROUPS:
        value = name.removeprefix(f"{group}-")
        if value != name and value:
            return Label(group, value)
    return None


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, text, column): kinds ``(``, ``)``, ``!``, ``&&``, ``||``, ``label``."""
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "()!":
            yield char, char, position
            position += 1
        elif text.startswith(("&&", "||"), position):
            yield text[position : position + 2], text[position : position + 2], position
            position += 2
        elif char in "\"'":
            end = text.find(char, position + 1)
            if end < 0:
                raise ExpressionError("a quoted label is not closed", position)
            yield "label", text[position + 1 : end], position
            position = end + 1
        else:
            end = position
            while end < len(text) and text[end].lower() in _NAME_CHARACTERS:
                end += 1
            if end == position:
                raise ExpressionError(f"unexpected character {char!r}", position)
            word = text[position:end]
            operator = _WORDS.get(word.lower())
            yield (operator, operator, position) if operator else ("label", word, position)
            position = end


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], end: int) -> None:
        self.tokens = tokens
        self.position = 0
        self.end = end
        self.depth = 0

    def expression(self) -> Expression:
        operands = [self.conjunction()]
        while self._take("||"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Any(tuple(operands))

    def conjunction(self) -> Expression:
        operands = [self.negation()]
        while self._take("&&"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else All(tuple(operands))

    def negation(self) -> Expression:
        column = self._column()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"nested more than {MAX_DEPTH} deep", column)
        try:
            if self._take("!"):
                return Not(self.negation())
            if self._take("("):
                inner = self.expression()
                if not self._take(")"):
                    raise ExpressionError("'(' is not closed", column)
                return inner
            return self.label(column)
        finally:
            self.depth -= 1

    def label(self, column: int) -> Label:
        token = self.tokens[self.position] if self.position < len(self.tokens) else None
        if token is None or token[0] != "label":
            found = "the end" if token is None else repr(token[1])
            raise ExpressionError(f"expected a label, found {found}", column)
        self.position += 1
        label = split_label(token[1].strip().lower())
        if label is None:
            groups = ", ".join(sorted(AI_ACT_GROUPS))
            raise ExpressionError(f"{token[1]!r} is not a label of {groups}", token[2])
        return label

    def _take(self, kind: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position][0] == kind:
            self.position += 1
            return True
        return False

    def _column(self) -> int:
        if self.position < len(self.tokens):
            return self.tokens[self.position][2]
        return self.end


def profile_of(tags: Mapping[str, list[str]]) -> frozenset[Label]:
    """A profile from tag values per group (``{"rol-ai-act": ["aanbieder"]}``)."""
    return frozenset(Label(group, value) for group, values in tags.items() for value in values)


#: A triple whose subject and predicate are IRIs.
Fact = tuple[URIRef, URIRef, Node]


def label_concept(label: Label) -> URIRef:
    """The concept a label names: the one its tag in the front matter names too."""
    return term_urn(label.group, label.value)


def exception_triples(
    document: URIRef, number: int, text: str, expression: Expression
) -> list[Fact]:
    """The ``number``-th exception of ``document`` as RDF: the rule
    ``<document>#uitzondering-<n>`` with its expression as a tree (``ak:voorwaarde``: ak:En,
    ak:Of, ak:Niet nodes with ``ak:operand``, or a concept) and as cases (``ak:geval``: the
    concepts a profile must have, ``ak:met``, and must not have, ``ak:zonder``)."""
    rule = URIRef(f"{document}#uitzondering-{number}")
    triples: list[Fact] = [
        (document, AK.uitzonderingsregel, rule),
        (rule, RDF.type, AK.Uitzonderingsregel),
        (rule, AK.expressie, Literal(text)),
    ]
    triples.append((rule, AK.voorwaarde, _tree(expression, f"{rule}-e", triples)))
    for index, case in enumerate(cases(expression), start=1):
        node = URIRef(f"{rule}-geval-{index}")
        triples += [(rule, AK.geval, node), (node, RDF.type, AK.Uitzonderingsgeval)]
        triples += [(node, AK.met, label_concept(label)) for label in case.present]
        triples += [(node, AK.zonder, label_concept(label)) for label in case.absent]
    return triples


_OPERATORS = {Not: AK.Niet, All: AK.En, Any: AK.Of}


def _tree(expression: Expression, iri: str, triples: list[Fact]) -> URIRef:
    """The node of ``expression`` (a concept for a label), its triples added to ``triples``."""
    if isinstance(expression, Label):
        return label_concept(expression)
    node = URIRef(iri)
    triples.append((node, RDF.type, _OPERATORS[type(expression)]))
    operands = (expression.operand,) if isinstance(expression, Not) else expression.operands
    for index, operand in enumerate(operands, start=1):
        triples.append((node, AK.operand, _tree(operand, f"{iri}-{index}", triples)))
    return node
