"""The conditions of the AI-Act decision tree's redirects, parsed: never evaluated as code.

Upstream's decision aid (MinBZK ai-verordening-beslishulp) chooses the next question of some
answers by conditions over the labels the answers so far gave, written in JavaScript::

    "aanbieder" in labels && ("AI-systeem" in labels || "importeur" in labels)
    !("open-source" in labels) && !("geen open-source" in labels)

Its website evaluates them as code. Here a tokenizer and a small recursive-descent parser (a
sibling of :mod:`kg.applicability`'s, whose labels are ``<group>-<value>`` names, not free text)
read them into :class:`Has`, :class:`Not`, :class:`All` and :class:`Any`, which
:func:`holds` evaluates over a set of labels. Grammar (``!`` binds tightest, then ``&&``, then
``||``)::

    expression  := conjunction ( "||" conjunction )*
    conjunction := negation ( "&&" negation )*
    negation    := "!" negation | "(" expression ")" | membership
    membership  := string "in" "labels"          string: '"' … '"' or "'" … "'"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Nesting the parser follows at most (it recurses); upstream's conditions nest 2 deep.
MAX_DEPTH = 32
_OPERATORS = ("&&", "||", "!", "(", ")")


class ConditionError(ValueError):
    """A malformed condition; ``column`` is where (0-based, in the condition)."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} (column {column + 1})")
        self.column = column


@dataclass(frozen=True)
class Has:
    """The labels so far include ``label``."""

    label: str


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class All:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Any:
    operands: tuple[Condition, ...]


Condition = Has | Not | All | Any

#: A token: (kind, text, column); kind is "op", "string" or "word".
Token = tuple[str, str, int]


def parse(text: str) -> Condition:
    """The condition ``text`` writes; ConditionError when it is not one."""
    parser = _Parser(list(_tokens(text)), len(text))
    condition = parser.expression(0)
    if parser.position < len(parser.tokens):
        _, word, column = parser.tokens[parser.position]
        raise ConditionError(f"unexpected {word!r} after a complete condition", column)
    return condition


def holds(condition: Condition, labels: frozenset[str]) -> bool:
    """Whether ``condition`` is true of the labels given so far."""
    if isinstance(condition, Has):
        return condition.label in labels
    if isinstance(condition, Not):
        return not holds(condition.operand, labels)
    if isinstance(condition, All):
        return all(holds(operand, labels) for operand in condition.operands)
    return any(holds(operand, labels) for operand in condition.operands)


def labels_of(condition: Condition) -> frozenset[str]:
    """Every label the condition names."""
    if isinstance(condition, Has):
        return frozenset({condition.label})
    if isinstance(condition, Not):
        return labels_of(condition.operand)
    return frozenset().union(*(labels_of(operand) for operand in condition.operands))


def show(condition: Condition) -> str:
    """The condition written back in upstream's notation (parentheses only where needed)."""
    if isinstance(condition, Has):
        return f"{_quote(condition.label)} in labels"
    if isinstance(condition, Not):
        return f"!({show(condition.operand)})"
    joiner = " && " if isinstance(condition, All) else " || "
    parts = []
    for operand in condition.operands:
        text = show(operand)
        parts.append(f"({text})" if isinstance(operand, All | Any) else text)
    return joiner.join(parts)


def _quote(label: str) -> str:
    return f"'{label}'" if '"' in label else f'"{label}"'


def _tokens(text: str) -> Iterator[Token]:
    position = 0
    while position < len(text):
        character = text[position]
        if character.isspace():
            position += 1
        elif text.startswith(("&&", "||"), position):
            yield "op", text[position : position + 2], position
            position += 2
        elif character in "!()":
            yield "op", character, position
            position += 1
        elif character in "\"'":
            end = text.find(character, position + 1)
            if end < 0:
                raise ConditionError("a string that is not closed", position)
            yield "string", text[position + 1 : end], position
            position = end + 1
        elif character.isalpha():
            end = position
            while end < len(text) and (text[end].isalnum() or text[end] == "_"):
                end += 1
            yield "word", text[position:end], position
            position = end
        else:
            raise ConditionError(f"unexpected character {character!r}", position)


class _Parser:
    def __init__(self, tokens: list[Token], length: int) -> None:
        self.tokens = tokens
        self.length = length
        self.position = 0

    def _peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, kind: str, text: str | None = None) -> Token:
        token = self._peek()
        if token is None:
            raise ConditionError(
                f"the condition ends where {text or kind} is expected", self.length
            )
        if token[0] != kind or (text is not None and token[1] != text):
            raise ConditionError(f"{text or kind} expected, not {token[1]!r}", token[2])
        self.position += 1
        return token

    def _at(self, text: str) -> bool:
        token = self._peek()
        return token is not None and token[0] == "op" and token[1] == text

    def expression(self, depth: int) -> Condition:
        if depth > MAX_DEPTH:
            token = self._peek()
            raise ConditionError(f"nested deeper than {MAX_DEPTH}", token[2] if token else 0)
        operands = [self.conjunction(depth)]
        while self._at("||"):
            self.position += 1
            operands.append(self.conjunction(depth))
        return operands[0] if len(operands) == 1 else Any(tuple(operands))

    def conjunction(self, depth: int) -> Condition:
        operands = [self.negation(depth)]
        while self._at("&&"):
            self.position += 1
            operands.append(self.negation(depth))
        return operands[0] if len(operands) == 1 else All(tuple(operands))

    def negation(self, depth: int) -> Condition:
        if self._at("!"):
            self.position += 1
            if depth + 1 > MAX_DEPTH:
                raise ConditionError(f"nested deeper than {MAX_DEPTH}", self.tokens[-1][2])
            return Not(self.negation(depth + 1))
        if self._at("("):
            self.position += 1
            inner = self.expression(depth + 1)
            self._take("op", ")")
            return inner
        label = self._take("string")[1]
        self._take("word", "in")
        self._take("word", "labels")
        return Has(label)
