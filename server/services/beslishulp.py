"""The decision aid on the server: the published tree, where answers lead, what then applies.

The tree is the publication's ``beslishulp.json`` (``kg build --beslishulp``), read once per
snapshot and kept on the application (keyed by the snapshot's folder, which never changes).
Answers are a list of answer numbers (``?a=1&a=5…``); :func:`decide` walks them with
:mod:`kg.decision_walk`, maps the labels collected to an AI-Act profile (the label map is data,
``ontology/beslishulp-labels.yaml``) and, at a conclusion where the AI Act applies, asks
:mod:`kg.profile` for the vereisten, the same query ``/applicable`` answers with. The
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

from kg.decision_tree import DecisionTree, tree_from_json
from kg.decision_walk import LabelMap, Position, load_label_map, profile_of, walk
from kg.htmlpolicy import sanitize
from kg.manifest import BESLISHULP
from kg.namespace import AK_IRI, DCTERMS_IRI
from kg.profile import VALUES_QUERY, Answer, answer_for_store, rule_sources, select, valid_values
from server.services.addresses import content_href
from server.services.dataset import Dataset

_EXTENSION_KEY = "kg_beslishulp"
#: The profile group that says what the application is: without it the AI Act does not apply.
KIND_GROUP = "soort-toepassing"
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
    vereisten of the profile."""
    position = walk(tree, answers)
    profile = profile_of(position.labels, labels)
    ignored = [
        (label, labels.unmapped.get(label, "niet in ontology/beslishulp-labels.yaml"))
        for label in position.labels
        if label not in labels.mapped
    ]
    if position.conclusion is None:
        return Decision(position, profile, tuple(ignored), None, ())
    if KIND_GROUP not in profile:
        return Decision(position, profile, tuple(ignored), None, ())
    rows = select(dataset.store, VALUES_QUERY, union=True)
    valid = valid_values((row["predicate"], row["value"]) for row in rows)
    chosen: dict[str, list[str]] = {}
    for group, values in profile.items():
        for value in values:
            if value in valid.get(group, ()):
                chosen.setdefault(group, []).append(value)
            else:
                ignored.append(
                    (f"{group}/{value}", "geen vereiste in deze publicatie heeft deze waarde")
                )
    answer = answer_for_store(dataset.store, chosen, rule_sources(dataset.resources), union=True)
    return Decision(position, profile, tuple(ignored), answer, phases(dataset, answer))


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
