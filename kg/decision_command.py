"""``kg beslishulp`` and the store ``kg applicable`` answers from.

``kg beslishulp --beslishulp DIR --answers 1,5,2…`` (the numbers of the page's address,
``/beslishulp?a=1&a=5&a=2``) or ``--answer 1.1=Ja --answer 1.2=2 …`` (question id = answer
number or text) walks the tree and prints :func:`kg.decision_answer.decided_json`: the path,
the next question with its answers or the conclusion with its obligations, the profile, and at
a conclusion the vereisten that apply, ``/applicable``'s answer for that profile. Answers that
do not fit the tree are exit 2 with one line (``kg: …``).

Where the vereisten come from (README, *Which vereisten apply to my system?*): with
``--dist DIR`` a built publication is read (its ``graph.nt`` into a store, its source map for the
lines: well under a second, and exactly what the server answers from); otherwise the content is
built as ``kg build`` would, without validation, each call (about 6 s on upstream's content, 2 s
with a parse cache given by ``--cache DIR`` or ``KG_CACHE``). The tree is the folder of
``--beslishulp``, else the ``beslishulp.json`` of the publication given with ``--dist``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import pyoxigraph as ox

from kg.config import Settings
from kg.decision_answer import answer_numbers, decide, decided_json, publication_store
from kg.decision_tree import DecisionTree, load_tree, tree_from_json
from kg.decision_walk import WalkError, load_label_map
from kg.diagnostic import format_diagnostics
from kg.manifest import BESLISHULP
from kg.pipeline import run_pipeline
from kg.profile import load_store, rule_sources


class TreeMissing(ValueError):
    """No usable decision tree where the flags point."""


def configure_source(parser: argparse.ArgumentParser) -> None:
    """``--dist`` (read a publication) and ``--cache`` (when building the content instead)."""
    parser.add_argument(
        "--dist",
        dest="out",
        type=Path,
        help="answer from this built publication instead of building the content",
    )
    parser.add_argument(
        "--cache", type=Path, help="parse cache folder when building the content (KG_CACHE)"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """The flags of ``kg beslishulp``."""
    parser.add_argument(
        "--content",
        type=Path,
        help="content folder to build for the vereisten (default: content/; KG_CONTENT)",
    )
    configure_source(parser)
    parser.add_argument(
        "--beslishulp",
        type=Path,
        help="folder of the decision aid (decision-tree.yaml…; KG_BESLISHULP); default: "
        "the beslishulp.json of --dist",
    )
    parser.add_argument(
        "--answers",
        dest="answer_numbers",
        metavar="N,N,…",
        help="the answer numbers in turn, as the page's address holds them (?a=1&a=5…)",
    )
    parser.add_argument(
        "--answer",
        dest="answer_pairs",
        action="append",
        default=[],
        metavar="Q=A",
        help="the answer to question Q (its id, e.g. 1.2): a number or the answer's text "
        "(repeatable)",
    )


def store_for(settings: Settings, dist: Path | None) -> tuple[ox.Store, Mapping[str, object]]:
    """The graph to answer from and its resources' lines: the publication ``dist``, else the
    content built (not validated; the parse cache of ``settings.cache``, if any)."""
    if dist is not None:
        return publication_store(dist)
    outcome = run_pipeline(replace(settings, validate=False, beslishulp=None))
    located = outcome.build.sourcemap.resources
    resources = {iri: [at.path, at.line] for iri, at in located.items()}
    return load_store(outcome.build.triples), resources


def run(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """``kg beslishulp``: the walk as JSON on ``out``; 0, or 2 (raised) for answers that do
    not fit or a missing tree."""
    dist: Path | None = args.out
    tree = _tree(settings.beslishulp, dist)
    numbers = _numbers(tree, args.answer_numbers, args.answer_pairs)
    store, resources = store_for(settings, dist)
    decided = decide(tree, load_label_map(), numbers, store, rule_sources(resources))
    json.dump(decided_json(decided), out, ensure_ascii=False, indent=2)
    print(file=out)
    return 0


def _tree(folder: Path | None, dist: Path | None) -> DecisionTree:
    if folder is not None:
        loaded = load_tree(folder)
        if loaded.tree is None:
            problems = format_diagnostics(loaded.diagnostics)
            raise TreeMissing(problems[0] if problems else f"{folder}: no decision tree")
        return loaded.tree
    published = dist / BESLISHULP.name if dist is not None else None
    if published is None or not published.is_file():
        raise TreeMissing(
            "no decision tree: give --beslishulp DIR, or --dist with a publication built with it"
        )
    return tree_from_json(published.read_bytes())


def _numbers(tree: DecisionTree, numbers: str | None, pairs: list[str]) -> list[int]:
    """The answers of ``--answers`` and ``--answer`` (not both)."""
    if numbers is not None and pairs:
        raise WalkError("give --answers or --answer, not both")
    if numbers is not None:
        words = [word.strip() for word in numbers.split(",") if word.strip()]
        if not all(word.isascii() and word.isdigit() for word in words):
            raise WalkError(f"--answers takes answer numbers separated by commas, not {numbers!r}")
        return [int(word) for word in words]
    given = []
    for pair in pairs:
        question, equals, answer = pair.partition("=")
        if not equals or not question.strip() or not answer.strip():
            raise WalkError(f"--answer takes QUESTION=ANSWER (1.2=3), not {pair!r}")
        given.append((question.strip(), answer.strip()))
    return answer_numbers(tree, given)
