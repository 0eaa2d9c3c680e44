"""What the query workbench shows of an answer: one page of a result table, every IRI with its
label beside it and a link to its page.

The answer is the one the sandbox returned (:func:`server.services.query.run_query`, at most
``max_rows`` rows) in SPARQL JSON; the workbench shows it :data:`PAGE_SIZE` rows at a time
(``page=``), so paging never asks more of the engine than one query. Labels come from the
snapshot's :class:`~server.services.index.SiteIndex`, never from a second query.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from kg.namespace import PREFIXES, URN_PREFIX
from server.services.addresses import EXTERNAL_SCHEMES, resource_url
from server.services.formats import RESULT_FORMATS
from server.services.index import SiteIndex
from server.services.query import Answer
from server.services.sparql_text import Prepared, SyntaxProblem

#: Rows per page of the result table.
PAGE_SIZE = 100


@dataclass(frozen=True)
class Cell:
    """One value of a result row, as the table shows it."""

    #: ``iri``, ``literal``, ``bnode``, ``triple`` or ``none`` (unbound).
    kind: str
    #: The IRI, the literal's text, the blank node's id.
    value: str
    #: The IRI written short with a known prefix (``ak:Maatregel``), else the IRI.
    short: str = ""
    #: Where the IRI's page is: this site's for ``urn:nl:ak:``, the IRI itself when external.
    href: str | None = None
    #: The IRI's label, when the graph gives it one.
    label: str | None = None
    language: str | None = None
    #: The literal's datatype, written short (``xsd:integer``) where a prefix fits.
    datatype: str | None = None


@dataclass(frozen=True)
class ResultPage:
    variables: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    #: Rows in the answer (all pages).
    total: int
    #: 1-based page number and the number of pages (at least 1).
    page: int
    pages: int

    @property
    def first_row(self) -> int:
        """The 1-based number of this page's first row (0 when there are none)."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.rows) - 1 if self.rows else 0


def page_number(raw: str | None) -> int:
    """``page=`` as a number from 1; anything else is page 1."""
    return int(raw) if raw is not None and raw.isdigit() and int(raw) > 0 else 1


def result_page(results: dict[str, Any], page: int, index: SiteIndex) -> ResultPage:
    """Page ``page`` (clamped to the pages there are) of a SPARQL JSON SELECT answer."""
    variables = tuple(results["head"].get("vars", ()))
    bindings: list[dict[str, Any]] = results["results"]["bindings"]
    pages = max(1, math.ceil(len(bindings) / PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = bindings[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = tuple(tuple(cell(row.get(name), index) for name in variables) for row in shown)
    return ResultPage(variables, rows, len(bindings), page, pages)


def cell(term: dict[str, Any] | None, index: SiteIndex) -> Cell:
    """A SPARQL JSON term as a table cell."""
    if term is None:
        return Cell("none", "")
    kind, value = term["type"], term.get("value", "")
    if kind == "uri":
        known = index.labels.get(value)
        label = index.label(value) if known is not None and (known.nl or known.en) else None
        return Cell("iri", value, short_iri(value), iri_href(value), label)
    if kind == "bnode":
        return Cell("bnode", value)
    if kind == "triple":
        return Cell("triple", json.dumps(value, ensure_ascii=False))
    datatype = term.get("datatype")
    return Cell(
        "literal", value, language=term.get("xml:lang"), datatype=datatype and short_iri(datatype)
    )


def iri_href(iri: str) -> str | None:
    """The page of an IRI: this site's for ``urn:nl:ak:``, the IRI itself for http(s)."""
    if iri.startswith(URN_PREFIX):
        return resource_url(iri)
    scheme = iri.partition(":")[0].lower()
    return iri if scheme in EXTERNAL_SCHEMES and scheme != "mailto" else None


def short_iri(iri: str) -> str:
    """``ak:Maatregel`` for ``urn:nl:ak:def:Maatregel``: the longest known namespace wins."""
    best = ""
    for name, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(namespace) > len(PREFIXES.get(best, "")):
            best = name
    local = iri[len(PREFIXES[best]) :] if best else ""
    if best and local and all(ch.isalnum() or ch in "_-." for ch in local):
        return f"{best}:{local}"
    return iri


@dataclass(frozen=True)
class Shown:
    """An answer as the workbench shows it: one of a table, a yes/no, or a graph (Turtle)."""

    table: ResultPage | None = None
    boolean: bool | None = None
    graph: str | None = None
    #: The answer held the first ``max_rows`` rows (or triples) only.
    truncated: bool = False


@dataclass(frozen=True)
class WorkbenchView:
    """Everything the workbench page shows of one request."""

    #: The query as the user wrote it (kept in the form, also after an error).
    query: str
    #: The query as run: the predeclared prefixes it lacks declared in front.
    prepared: Prepared | None = None
    #: The protocol's dataset, carried along by the paging and download forms.
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    shown: Shown | None = None
    problem: SyntaxProblem | None = None
    #: Why the query was not run or was stopped (Dutch, for the page).
    refusal: str | None = None


def show_answer(answer: Answer, page: int, index: SiteIndex) -> Shown:
    """``answer`` (SPARQL JSON for results, Turtle for graphs) ready for the page."""
    if answer.format not in RESULT_FORMATS:
        return Shown(graph=answer.body.decode("utf-8"), truncated=answer.truncated)
    results: dict[str, Any] = json.loads(answer.body)
    if "boolean" in results:
        return Shown(boolean=bool(results["boolean"]))
    return Shown(table=result_page(results, page, index), truncated=answer.truncated)
