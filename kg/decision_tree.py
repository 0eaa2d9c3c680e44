"""The AI-Act decision aid (MinBZK ai-verordening-beslishulp) as data: loaded and checked.

Upstream's decision aid is a tree in YAML (``decision-tree.yaml``: questions, answers that add
labels such as ``aanbieder`` or ``hoog-risico AI``, redirects that pick the next question by a
condition over the labels so far, conclusions with obligations and sources) that its website
runs in JavaScript. Here it is read with PyYAML within the front-matter limits
(:mod:`kg.metadata`: every value keeps its line), checked against the tree's own JSON schema
(``schemas/schema_decision_tree.json``, with ``jsonschema``), and turned into frozen records;
the redirect conditions are parsed (:mod:`kg.decision_conditions`), never run. A schema failure
or a condition that does not parse is a :class:`~kg.diagnostic.Diagnostic` at ``path:line``.

Walking the tree, and what its labels mean for the vereisten, is :mod:`kg.decision_walk`; the
tree as RDF is :mod:`kg.decision_graph`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from kg.decision_conditions import Condition, ConditionError, parse
from kg.diagnostic import Diagnostic, Severity
from kg.metadata import Located

TREE_FILE = "decision-tree.yaml"
DEFINITIONS_FILE = "definitions.yaml"
TREE_SCHEMA = "schemas/schema_decision_tree.json"
DEFINITIONS_SCHEMA = "schemas/schema_definitions.json"
#: Bytes a file of the tree may have (upstream's tree: 274 KB).
MAX_BYTES = 4 << 20

#: Where a value sits in the YAML (``("questions", 3, "answers", 1)``) -> its line.
LineOf = Callable[[Sequence[str | int]], int]


@dataclass(frozen=True)
class Source:
    titel: str
    url: str

    @property
    def href(self) -> str:
        """The url when it is a web address (``http``, ``https``), else empty: never a link
        of another scheme (``javascript:``) from the tree's text."""
        return self.url if self.url.startswith(("http://", "https://")) else ""


@dataclass(frozen=True)
class Redirect:
    text: str
    condition: Condition
    question: str | None
    conclusion: str | None
    line: int


@dataclass(frozen=True)
class Answer:
    #: 1-based position among the question's answers (what a page's URL holds).
    number: int
    text: str
    labels: tuple[str, ...]
    question: str | None
    conclusion: str | None
    redirects: tuple[Redirect, ...]
    subresult: str
    line: int


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    explanation: str
    category: str
    subcategory: str
    sources: tuple[Source, ...]
    answers: tuple[Answer, ...]
    line: int


@dataclass(frozen=True)
class Conclusion:
    id: str
    text: str
    comment: str
    obligation: str
    sources: tuple[Source, ...]
    line: int


@dataclass(frozen=True)
class Definition:
    term: str
    definition: str


@dataclass(frozen=True)
class DecisionTree:
    name: str
    version: str
    questions: tuple[Question, ...]
    conclusions: tuple[Conclusion, ...]
    definitions: tuple[Definition, ...] = ()

    @cached_property
    def question_by_id(self) -> Mapping[str, Question]:
        return {question.id: question for question in self.questions}

    @cached_property
    def conclusion_by_id(self) -> Mapping[str, Conclusion]:
        return {conclusion.id: conclusion for conclusion in self.conclusions}

    def labels(self) -> frozenset[str]:
        """Every label an answer of the tree gives."""
        return frozenset(label for q in self.questions for a in q.answers for label in a.labels)


@dataclass(frozen=True)
class Loaded:
    """What :func:`load_tree` found: the tree (None when it cannot be used) and the problems,
    and the tree's data as checked (what a publication holds, :func:`tree_json`)."""

    tree: DecisionTree | None
    diagnostics: tuple[Diagnostic, ...]
    data: Mapping[str, object] = field(default_factory=dict)


class TreeError(ValueError):
    """A tree that passes its schema but cannot be used (a condition that does not parse)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def load_tree(folder: Path) -> Loaded:
    """The decision tree in ``folder`` (``decision-tree.yaml``, ``definitions.yaml``,
    ``schemas/``), checked; problems at ``path:line`` (paths as ``folder`` is given)."""
    tree_path, definitions_path = folder / TREE_FILE, folder / DEFINITIONS_FILE
    problems: list[Diagnostic] = []
    tree_data = _checked(tree_path, folder / TREE_SCHEMA, problems)
    definitions = _checked(definitions_path, folder / DEFINITIONS_SCHEMA, problems)
    if tree_data is None or problems:
        return Loaded(None, tuple(problems))
    plain, line_of = tree_data
    try:
        tree = make_tree(plain, line_of, definitions[0] if definitions else {})
    except TreeError as error:
        return Loaded(None, (*problems, _problem(tree_path, error.line, str(error))))
    data = {"tree": plain, "definitions": definitions[0] if definitions else {}}
    return Loaded(tree, tuple(problems), data)


def _checked(
    path: Path, schema_path: Path, problems: list[Diagnostic]
) -> tuple[dict[str, object], LineOf] | None:
    """The YAML of ``path`` as plain data with a line lookup, when it reads and its schema
    passes; otherwise None and the problems added. (The YAML reader of the front matter, for
    its limits; imported here so that the server, which reads the tree back from JSON, never
    loads a reader of content.)"""
    import jsonschema

    from kg.metadata import MatterError, read_entries

    try:
        text = _read(path)
        entries = read_entries(text)
        schema = json.loads(_read(schema_path))
    except MatterError as error:
        problems.append(_problem(path, error.line, str(error.args[0])))
        return None
    except (OSError, ValueError) as error:
        problems.append(_problem(path, 0, f"cannot read: {error}"))
        return None
    located = Located({entry.key: entry.value for entry in entries}, 1)
    plain = located.plain()
    assert isinstance(plain, dict)

    def line_of(where: Sequence[str | int]) -> int:
        return _line(located, where)

    validator = jsonschema.Draft202012Validator(schema)
    failures = sorted(validator.iter_errors(plain), key=lambda error: list(error.absolute_path))
    for failure in failures:
        where = list(failure.absolute_path)
        shown = "/".join(str(part) for part in where) or "(top)"
        message = f"not as {schema_path.name} requires at {shown}: {failure.message}"
        problems.append(_problem(path, line_of(where), message, "schema"))
    return (plain, line_of) if not failures else None


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    return data.decode("utf-8")


def _line(located: Located, where: Sequence[str | int]) -> int:
    """The line of the deepest value of ``where`` that exists."""
    for part in where:
        value = located.value
        found: Located | None = None
        if isinstance(value, dict) and isinstance(part, str):
            found = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            found = value[part]
        if found is None:
            break
        located = found
    return located.line


def _problem(path: Path, line: int, message: str, code: str = "beslishulp") -> Diagnostic:
    return Diagnostic(str(path), line, Severity.ERROR, message, code)


def make_tree(
    plain: Mapping[str, object], line_of: LineOf, definitions: Mapping[str, object]
) -> DecisionTree:
    """Records from the tree's data (as the schema passed it); TreeError for a condition that
    does not parse."""
    questions = tuple(
        _question(item, index, line_of) for index, item in enumerate(_list(plain, "questions"))
    )
    conclusions = tuple(
        Conclusion(
            str(item["conclusionId"]),
            str(item["conclusion"]),
            str(item.get("conclusionComment") or ""),
            str(item["obligation"]),
            _sources(item),
            line_of(("conclusions", index)),
        )
        for index, item in enumerate(_list(plain, "conclusions"))
    )
    terms = tuple(
        Definition(str(item["term"]), str(item["definition"]))
        for item in _list(definitions, "definitions")
    )
    return DecisionTree(
        str(plain.get("name") or ""), str(plain.get("version") or ""), questions, conclusions, terms
    )


def _list(data: Mapping[str, object], key: str) -> list[Mapping[str, object]]:
    items = data.get(key)
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _sources(item: Mapping[str, object]) -> tuple[Source, ...]:
    return tuple(
        Source(str(source["source"]), str(source.get("url") or ""))
        for source in _list(item, "sources")
    )


def _question(item: Mapping[str, object], index: int, line_of: LineOf) -> Question:
    answers = []
    for number, answer in enumerate(_list(item, "answers"), start=1):
        at = ("questions", index, "answers", number - 1)
        redirects = []
        for position, redirect in enumerate(_list(answer, "redirects")):
            line = line_of((*at, "redirects", position, "if"))
            text = str(redirect.get("if") or "")
            try:
                condition = parse(text)
            except ConditionError as error:
                raise TreeError(f"condition {text!r} does not parse: {error}", line) from None
            redirects.append(
                Redirect(
                    text,
                    condition,
                    _optional(redirect, "nextQuestionId"),
                    _optional(redirect, "nextConclusionId"),
                    line,
                )
            )
        labels = answer.get("labels")
        answers.append(
            Answer(
                number,
                str(answer["answer"]),
                tuple(str(label) for label in labels) if isinstance(labels, list) else (),
                _optional(answer, "nextQuestionId"),
                _optional(answer, "nextConclusionId"),
                tuple(redirects),
                str(answer.get("subresult") or ""),
                line_of(at),
            )
        )
    return Question(
        str(item["questionId"]),
        str(item["question"]),
        str(item.get("explanation") or ""),
        str(item.get("category") or ""),
        str(item.get("subcategory") or ""),
        _sources(item),
        tuple(answers),
        line_of(("questions", index)),
    )


def _optional(item: Mapping[str, object], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


def tree_json(loaded: Loaded) -> bytes:
    """The checked data of the tree, as a publication holds it (``beslishulp.json``)."""
    return json.dumps(loaded.data, ensure_ascii=False, sort_keys=True).encode("utf-8")


def tree_from_json(data: bytes) -> DecisionTree:
    """The tree a publication holds (lines are not published: 0)."""
    loaded = json.loads(data)
    return make_tree(loaded["tree"], lambda where: 0, loaded.get("definitions") or {})
