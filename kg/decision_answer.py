"""Where answers to the decision aid lead, and which vereisten then apply: one home for the page
(``/beslishulp``) and the command line (``kg beslishulp``, ``kg applicable --dist``).

:func:`decide` walks the answers (:mod:`kg.decision_walk`), maps the labels collected to an
AI-Act profile (the label map is data, ``ontology/beslishulp-labels.yaml``) and, at a conclusion
where the AI Act applies, asks :mod:`kg.profile` for the vereisten with the very query
``/applicable`` runs. Values no vereiste of the store carries are left out of the query and
named (``ignored``), as unmapped labels are. The server adds what only a page shows (the
maatregelen per lifecycle phase); the command line prints :func:`decided_json`.

The command line answers from a store it builds from the content (with the parse cache when
``--cache`` is given) or, faster and exactly as served, from a built publication
(:func:`publication_store`: ``graph.nt`` and the source map's lines, a fraction of a second).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from kg.decision_tree import Conclusion, DecisionTree, Question
from kg.decision_walk import LabelMap, Position, WalkError, profile_of, walk
from kg.manifest import GRAPH_NT, MANIFEST, SOURCEMAP
from kg.profile import VALUES_QUERY, Answer, answer_for_store, select, valid_values

#: The profile group that says what the application is: without it the AI Act does not apply.
KIND_GROUP = "soort-toepassing"
UNMAPPED = "niet in ontology/beslishulp-labels.yaml"
UNKNOWN_VALUE = "geen vereiste in deze publicatie heeft deze waarde"


@dataclass(frozen=True)
class Decided:
    """Where the answers lead, and at a conclusion what applies."""

    position: Position
    #: group -> values the labels stand for (all of them, known to the graph or not).
    profile: dict[str, list[str]]
    #: (label, why it adds nothing to the profile): unmapped labels, values no vereiste has.
    ignored: tuple[tuple[str, str], ...]
    #: At a conclusion where the AI Act applies: the vereisten (``/applicable``'s answer).
    answer: Answer | None


def decide(
    tree: DecisionTree,
    labels: LabelMap,
    answers: Sequence[int],
    store: ox.Store,
    source: Callable[[str], str],
    union: bool = False,
) -> Decided:
    """Walk ``answers`` (WalkError when they do not fit the tree); at a conclusion where the
    profile names a kind of application, the vereisten of the profile from ``store``."""
    position = walk(tree, answers)
    profile = profile_of(position.labels, labels)
    ignored = [
        (label, labels.unmapped.get(label, UNMAPPED))
        for label in position.labels
        if label not in labels.mapped
    ]
    if position.conclusion is None or KIND_GROUP not in profile:
        return Decided(position, profile, tuple(ignored), None)
    rows = select(store, VALUES_QUERY, union)
    valid = valid_values((row["predicate"], row["value"]) for row in rows)
    chosen: dict[str, list[str]] = {}
    for group, values in profile.items():
        for value in values:
            if value in valid.get(group, ()):
                chosen.setdefault(group, []).append(value)
            else:
                ignored.append((f"{group}/{value}", UNKNOWN_VALUE))
    answer = answer_for_store(store, chosen, source, union)
    return Decided(position, profile, tuple(ignored), answer)


def answer_numbers(tree: DecisionTree, given: Iterable[tuple[str, str]]) -> list[int]:
    """The page's answer numbers from ``(question id, answer)`` pairs, the answer by its number
    or its text (case and spacing ignored), taken in the order the questions are asked; a
    question answered that the path does not ask, or an answer it does not have, is a
    WalkError."""
    pending: dict[str, str] = {}
    for question, answer in given:
        if question not in tree.question_by_id:
            raise WalkError(f"the tree has no question {question}")
        pending[question] = answer
    numbers: list[int] = []
    position = walk(tree, numbers)
    while position.question is not None and position.question.id in pending:
        numbers.append(_number(position.question, pending.pop(position.question.id)))
        position = walk(tree, numbers)
    if pending:
        raise WalkError(f"not asked on the path of these answers: {', '.join(sorted(pending))}")
    return numbers


def _number(question: Question, answer: str) -> int:
    wanted = " ".join(answer.split()).casefold()
    if wanted.isdigit():
        return int(wanted)
    for choice in question.answers:
        if " ".join(choice.text.split()).casefold() == wanted:
            return choice.number
    choices = "; ".join(f"{c.number} {c.text}" for c in question.answers)
    raise WalkError(f"question {question.id} has no answer {answer!r} (its answers: {choices})")


def decided_json(decided: Decided) -> dict[str, object]:
    """What ``kg beslishulp`` prints: the path, the next question or the conclusion with its
    obligations, the profile, and ``/applicable``'s answer for it (``van_toepassing``)."""
    position = decided.position
    return {
        "antwoorden": [step.answer.number for step in position.steps],
        "pad": [
            {
                "vraag": step.question.id,
                "vraagtekst": step.question.text,
                "antwoord": step.answer.number,
                "antwoordtekst": step.answer.text,
                "labels": list(step.answer.labels),
            }
            for step in position.steps
        ],
        "labels": list(position.labels),
        "volgende_vraag": _question_json(position.question) if position.question else None,
        "conclusie": _conclusion_json(position.conclusion) if position.conclusion else None,
        "profiel": decided.profile,
        "niet_meegenomen": [{"label": label, "reden": why} for label, why in decided.ignored],
        "van_toepassing": decided.answer.to_json() if decided.answer else None,
    }


def _question_json(question: Question) -> dict[str, object]:
    return {
        "vraag": question.id,
        "tekst": question.text,
        "antwoorden": [{"nummer": a.number, "tekst": a.text} for a in question.answers],
    }


def _conclusion_json(conclusion: Conclusion) -> dict[str, object]:
    return {
        "id": conclusion.id,
        "tekst": conclusion.text,
        "toelichting": conclusion.comment,
        "verplichting": conclusion.obligation,
        "bronnen": [{"titel": s.titel, "url": s.url} for s in conclusion.sources],
    }


class PublicationError(ValueError):
    """A folder that is not a publication ``kg build`` wrote."""


def publication_store(dist: Path) -> tuple[ox.Store, Mapping[str, object]]:
    """The graph of a publication in a store (its default graph), and the ``resources`` of its
    source map (IRI -> [file, line]) for the lines of the exceptions."""
    if not (dist / MANIFEST.name).is_file() or not (dist / GRAPH_NT.name).is_file():
        raise PublicationError(f"{dist}: no publication here (run 'kg build' first)")
    store = ox.Store()
    store.bulk_load(path=str(dist / GRAPH_NT.name), format=ox.RdfFormat.N_TRIPLES)
    try:
        data = json.loads((dist / SOURCEMAP.name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return store, {}
    resources = data.get("resources") if isinstance(data, dict) else None
    return store, resources if isinstance(resources, dict) else {}
