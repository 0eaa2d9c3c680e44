"""The decision aid on the server: the published tree, where answers lead, what then applies.

The tree is the publication's ``beslishulp.json`` (``kg build --beslishulp``), read once per
snapshot and kept on the application (keyed by the snapshot's folder, which never changes).
Answers are a list of answer numbers (``?a=1&a=5…``); :func:`decide` hands them to
:mod:`kg.decision_answer` (the walk, the labels mapped to an AI-Act profile and, at a conclusion
where the AI Act applies, the vereisten by the query ``/applicable`` answers with), which
``kg beslishulp`` uses too, so page and command line cannot disagree. The
maatregelen and hulpmiddelen that serve those vereisten are then grouped by lifecycle phase
with one more query. Nothing here parses content: the server reads ``dist/`` only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from markupsafe import Markup

from kg.decision_answer import decide as decide_answers
from kg.decision_tree import DecisionTree, tree_from_json
from kg.decision_walk import LabelMap, Position, load_label_map
from kg.htmlpolicy import sanitize
from kg.manifest import BESLISHULP
from kg.namespace import AK_IRI, DCTERMS_IRI
from kg.profile import Answer, rule_sources, select
from server.services.addresses import content_href
from server.services.dataset import Dataset

_EXTENSION_KEY = "kg_beslishulp"
NO_PHASE = "Zonder levenscyclusfase"


@dataclass(frozen=True)
class Item:
    kind: str
    urn: str
    titel: str


@dataclass(frozen=True)
class Phase:
    titel: str
    urn: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Decision:
    """Where the answers lead, and at a conclusion what applies."""

    position: Position
    #: group -> values the labels stand for (all of them, known to the graph or not).
    profile: dict[str, list[str]]
    #: (label, why it adds nothing to the profile): unmapped labels, values no vereiste has.
    ignored: tuple[tuple[str, str], ...]
    #: At a conclusion where the AI Act applies: the vereisten; else None.
    answer: Answer | None
    phases: tuple[Phase, ...]


@dataclass(frozen=True)
class TreeCache:
    folder: Path
    tree: DecisionTree | None
    labels: LabelMap


def current_tree(dataset: Dataset) -> tuple[DecisionTree | None, LabelMap]:
    """The snapshot's tree (None: it was built without one) and the label map."""
    loaded: TreeCache | None = current_app.extensions.get(_EXTENSION_KEY)
    if loaded is None or loaded.folder != dataset.path:
        path = dataset.path / BESLISHULP.name
        tree = tree_from_json(path.read_bytes()) if path.is_file() else None
        loaded = TreeCache(dataset.path, tree, load_label_map())
        current_app.extensions[_EXTENSION_KEY] = loaded
    return loaded.tree, loaded.labels


def tree_html(text: str) -> Markup:
    """Text of the tree (explanations hold ``<br>``, ``<strong>``), sanitised by the one policy."""
    return Markup(sanitize(text, content_href))  # safe: sanitised by the policy


def decide(
    tree: DecisionTree, labels: LabelMap, answers: Sequence[int], dataset: Dataset
) -> Decision:
    """Walk ``answers`` (WalkError when they do not fit the tree); at a conclusion, the
    vereisten of the profile (:func:`kg.decision_answer.decide`, as ``kg beslishulp`` does)
    and what serves them per phase."""
    found = decide_answers(
        tree, labels, answers, dataset.store, rule_sources(dataset.resources), union=True
    )
    phased = phases(dataset, found.answer) if found.answer else ()
    return Decision(found.position, found.profile, found.ignored, found.answer, phased)


def phases(dataset: Dataset, answer: Answer) -> tuple[Phase, ...]:
    """The maatregelen and hulpmiddelen that serve the vereisten of ``answer`` (a maatregel
    citing one; a hulpmiddel citing one or citing such a maatregel), per lifecycle phase (an
    item in several phases is in each), phases in the order of their titles ("Fase 0, …")."""
    if not answer.vereisten:
        return ()
    values = " ".join(f"<{item.urn}>" for item in answer.vereisten)
    query = f"""PREFIX ak: <{AK_IRI}>
PREFIX dcterms: <{DCTERMS_IRI}>
SELECT DISTINCT ?kind ?item ?titel ?fase ?faseTitel WHERE {{
  VALUES ?vereiste {{ {values} }}
  {{ ?item a ak:Maatregel ; ak:vereiste ?vereiste . BIND("maatregel" AS ?kind) }}
  UNION {{ ?item a ak:Hulpmiddel ; ak:vereiste ?vereiste . BIND("hulpmiddel" AS ?kind) }}
  UNION {{ ?item a ak:Hulpmiddel ; ak:maatregel ?m . ?m a ak:Maatregel ; ak:vereiste ?vereiste .
           BIND("hulpmiddel" AS ?kind) }}
  ?item dcterms:title ?titel .
  OPTIONAL {{ ?item ak:levenscyclusfase ?fase . OPTIONAL {{ ?fase dcterms:title ?faseTitel }} }}
}}"""
    grouped: dict[tuple[str, str], set[Item]] = {}
    for row in select(dataset.store, query, union=True):
        key = (row.get("faseTitel") or row.get("fase") or NO_PHASE, row.get("fase", ""))
        grouped.setdefault(key, set()).add(Item(row["kind"], row["item"], row["titel"]))
    order = sorted(grouped, key=lambda key: (key[0] == NO_PHASE, key[0]))
    return tuple(
        Phase(
            titel,
            urn,
            tuple(sorted(grouped[(titel, urn)], key=lambda i: (i.kind != "maatregel", i.titel))),
        )
        for titel, urn in order
    )


EXPORT_HEADER = ("vereiste", "vereiste_titel", "maatregel", "maatregel_titel")


#: Characters a spreadsheet takes as the start of a formula: such a cell is written with a
#: leading apostrophe, so that content never runs as a formula (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def export_rows(answer: Answer | None) -> list[tuple[str, ...]]:
    """One row per applicable vereiste and each of its maatregelen (a vereiste without any:
    one row with the maatregel columns empty), every cell safe for a spreadsheet."""
    rows: list[tuple[str, str, str, str]] = []
    for item in answer.vereisten if answer else ():
        rows.extend((item.urn, item.titel, m.urn, m.titel) for m in item.maatregelen)
        if not item.maatregelen:
            rows.append((item.urn, item.titel, "", ""))
    return [tuple(cell(text) for text in row) for row in rows]


def export_csv(decision: Decision) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    writer.writerows(export_rows(decision.answer))
    return out.getvalue().encode("utf-8")


def export_xlsx(decision: Decision) -> bytes:
    """A workbook: the vereisten with their maatregelen, and the answers given."""
    from openpyxl import Workbook  # only when an export is asked for

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Vereisten"
    sheet.append(EXPORT_HEADER)
    for row in export_rows(decision.answer):
        sheet.append(row)
    answers = book.create_sheet("Antwoorden")
    answers.append(("vraag", "antwoord", "labels"))
    for step in decision.position.steps:
        texts = (step.question.text, step.answer.text, ", ".join(step.answer.labels))
        answers.append(tuple(cell(text) for text in texts))
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()
