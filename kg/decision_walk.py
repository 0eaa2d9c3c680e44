"""Walking the AI-Act decision tree, and what its labels mean for the vereisten.

A page of the decision aid holds the answers given so far as a list of answer numbers; a
question's next step is its answer's ``nextQuestionId`` or ``nextConclusionId``, or else the
target of the answer's first redirect whose condition holds for the labels collected so far
(the answer's own included), as upstream's website does it. :func:`paths` enumerates every way
through the tree (tests and ``docs/beslishulp.md`` state how many).

The tree's labels (``aanbieder``, ``hoog-risico AI``) map to the AI-Act tag values of the
vereisten (``rol-ai-act/aanbieder``, ``risicogroep/hoog-risico-ai-systeem``) through a data
file beside the ontology, ``ontology/beslishulp-labels.yaml``; a label with no counterpart is
listed there as unmapped, with the reason. :func:`profile_of` turns the labels of a path into
the profile :mod:`kg.profile` answers for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from kg.decision_conditions import holds
from kg.decision_tree import Answer, Conclusion, DecisionTree, Question
from kg.resources import data_dir

LABEL_MAP_FILE = "beslishulp-labels.yaml"
#: Answers a path may take before it is taken for a loop (upstream's longest: 19).
MAX_STEPS = 64


class WalkError(ValueError):
    """Answers that do not lead through the tree (an answer number a question does not have)."""


@dataclass(frozen=True)
class Step:
    question: Question
    answer: Answer


@dataclass(frozen=True)
class Position:
    """Where a list of answers leads: the steps taken, the labels collected (in the order
    given), and either the next question or the conclusion (neither: a dead end)."""

    steps: tuple[Step, ...]
    labels: tuple[str, ...]
    question: Question | None
    conclusion: Conclusion | None


@dataclass(frozen=True)
class LabelMap:
    """Tree label -> (group, value) of the vereisten' tags; the labels with none, and why."""

    mapped: Mapping[str, tuple[str, str]]
    unmapped: Mapping[str, str]


def target(answer: Answer, labels: frozenset[str]) -> tuple[str | None, str | None]:
    """(next question, conclusion) of an answer given the labels so far (its own included)."""
    if answer.question or answer.conclusion:
        return answer.question, answer.conclusion
    for redirect in answer.redirects:
        if holds(redirect.condition, labels):
            return redirect.question, redirect.conclusion
    return None, None


def walk(tree: DecisionTree, answers: Sequence[int]) -> Position:
    """Where ``answers`` (1-based answer numbers, one per question in turn) lead."""
    question: Question | None = tree.questions[0]
    conclusion: Conclusion | None = None
    steps: list[Step] = []
    labels: dict[str, None] = {}
    for number in answers:
        if question is None:
            raise WalkError("more answers than questions on this path")
        if not 1 <= number <= len(question.answers):
            raise WalkError(f"question {question.id} has no answer {number}")
        answer = question.answers[number - 1]
        steps.append(Step(question, answer))
        labels.update(dict.fromkeys(answer.labels))
        next_question, next_conclusion = target(answer, frozenset(labels))
        question = tree.question_by_id.get(next_question) if next_question else None
        conclusion = tree.conclusion_by_id.get(next_conclusion) if next_conclusion else None
    return Position(tuple(steps), tuple(labels), question, conclusion)


@dataclass(frozen=True)
class TreePath:
    """One way through the tree: the answer numbers, the labels, and where it ends (a
    conclusion id, or None: a dead end or a loop, at ``stuck``)."""

    answers: tuple[int, ...]
    labels: tuple[str, ...]
    conclusion: str | None
    questions: tuple[str, ...]
    stuck: str = ""


def paths(tree: DecisionTree) -> tuple[TreePath, ...]:
    """Every path from the first question, in answer order."""
    return tuple(_paths(tree, ()))


def _paths(tree: DecisionTree, answers: tuple[int, ...]) -> Iterator[TreePath]:
    position = walk(tree, answers)
    asked = tuple(step.question.id for step in position.steps)
    if position.conclusion is not None:
        yield TreePath(answers, position.labels, position.conclusion.id, asked)
    elif position.question is None:
        yield TreePath(answers, position.labels, None, asked, stuck=asked[-1] if asked else "")
    elif len(answers) >= MAX_STEPS:
        yield TreePath(answers, position.labels, None, asked, stuck=position.question.id)
    else:
        for answer in position.question.answers:
            yield from _paths(tree, (*answers, answer.number))


def load_label_map(path: Path | None = None) -> LabelMap:
    """The mapping of tree labels to tag values (``ontology/beslishulp-labels.yaml``)."""
    path = path or data_dir("ontology") / LABEL_MAP_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mapped = {}
    for label, concept in (data.get("mapped") or {}).items():
        group, _, value = str(concept).partition("/")
        mapped[str(label)] = (group, value)
    unmapped = {str(label): str(why) for label, why in (data.get("unmapped") or {}).items()}
    return LabelMap(mapped, unmapped)


def profile_of(labels: Sequence[str], label_map: LabelMap) -> dict[str, list[str]]:
    """The AI-Act profile (group -> values) the labels stand for; unmapped labels add none."""
    profile: dict[str, list[str]] = {}
    for label in labels:
        if label in label_map.mapped:
            group, value = label_map.mapped[label]
            profile.setdefault(group, [])
            if value not in profile[group]:
                profile[group].append(value)
    return profile
