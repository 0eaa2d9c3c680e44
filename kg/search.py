"""The full-text search index of a publication: one SQLite file with an FTS5 table.

Searching is done by SQLite (standard library): the server opens the file read-only and asks
FTS5, ranked by bm25, instead of scanning texts per request. The index is written with the
publication (``search.sqlite``, :data:`kg.manifest.SEARCH`) from the loaded documents and
glossary: per resource its title, its code (``aia-01``, ``org-02``), its summary (``toelichting``
or a term's definition) and its text as plain text (introduction and sections, from the build's
own render of the page, HTML parsed by the standard library, list macros left out), each
tokenised with ``unicode61 remove_diacritics 2``: case and diacritics fold (``bias`` finds
``Bias``, ``ideeen`` finds ``ideeën``). A second table holds what a forgiving lookup matches
exactly: file name, path and the page on the official website (:mod:`kg.website`).

The file is built in memory, rows in URN order, and written with ``sqlite3`` ``serialize``,
so the same content gives the same bytes (the publication's reproducibility holds for it).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from kg.kind import MAATREGEL, VEREISTE
from kg.namespace import AK_IRI
from kg.website import website_page

if TYPE_CHECKING:  # the server reads the table names here without loading the parsers
    from kg.corpus import Corpus
    from kg.document import Document
    from kg.glossary import Term

#: The FTS5 table: its indexed columns, in this order (bm25 weights below follow it).
TEXT_TABLE = "tekst"
TEXT_COLUMNS = ("titel", "code", "samenvatting", "inhoud")
#: bm25 weight per column of :data:`TEXT_COLUMNS`: a match in a title or code counts most.
WEIGHTS = (10.0, 8.0, 3.0, 1.0)
#: The table of what a lookup matches exactly; its ``id`` is the FTS row's ``rowid``.
RESOURCE_TABLE = "resource"
RESOURCE_COLUMNS = ("urn", "soort", "code", "naam", "pad", "website")
#: Marks the start and end of a match in ``snippet()``; text never holds them (they are
#: control characters, replaced by spaces when indexed).
MATCH_START = "\x02"
MATCH_END = "\x03"

_TOKENIZER = "unicode61 remove_diacritics 2"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Entry:
    """One resource as the index holds it."""

    urn: str
    #: The class IRI (``ak:Maatregel``); the server labels it from the ontology.
    kind: str
    code: str
    #: The file stem (``0-org-02-beleid-opstellen``), lower case; empty for glossary terms.
    name: str
    path: str
    website: str
    title: str
    summary: str
    text: str


def search_index(corpus: Corpus) -> bytes:
    """The bytes of ``search.sqlite`` for ``corpus``."""
    rows = sorted(
        [*(document_entry(d) for d in corpus.documents), *(term_entry(t) for t in corpus.terms)],
        key=lambda entry: entry.urn,
    )
    connection = sqlite3.connect(":memory:")
    try:
        _fill(connection, rows)
        return connection.serialize()
    finally:
        connection.close()


def _fill(connection: sqlite3.Connection, rows: Iterable[Entry]) -> None:
    columns = ", ".join(TEXT_COLUMNS)
    connection.executescript(
        f"CREATE TABLE {RESOURCE_TABLE} (id INTEGER PRIMARY KEY, "
        + ", ".join(f"{name} TEXT NOT NULL" for name in RESOURCE_COLUMNS)
        + ");\n"
        f"CREATE INDEX {RESOURCE_TABLE}_naam ON {RESOURCE_TABLE} (naam);\n"
        f"CREATE INDEX {RESOURCE_TABLE}_website ON {RESOURCE_TABLE} (website);\n"
        f"CREATE VIRTUAL TABLE {TEXT_TABLE} USING fts5({columns}, tokenize='{_TOKENIZER}');\n"
    )
    for number, entry in enumerate(rows, start=1):
        values = astuple(entry)
        connection.execute(
            f"INSERT INTO {RESOURCE_TABLE} VALUES (?{', ?' * len(RESOURCE_COLUMNS)})",
            (number, *values[: len(RESOURCE_COLUMNS)]),
        )
        connection.execute(
            f"INSERT INTO {TEXT_TABLE} (rowid, {columns}) VALUES (?, ?, ?, ?, ?)",
            (number, entry.title, entry.code, entry.summary, entry.text),
        )
    connection.execute(f"INSERT INTO {TEXT_TABLE} ({TEXT_TABLE}) VALUES ('optimize')")
    connection.commit()
    connection.execute("VACUUM")


def document_entry(document: Document) -> Entry:
    kind = document.placement.kind
    urn = str(document.urn)
    code = urn.rsplit(":", 1)[-1] if kind in (VEREISTE, MAATREGEL) else ""
    summary = document.matter.get("toelichting")
    summary_text = summary.value.value if summary else None
    return Entry(
        urn=urn,
        kind=str(kind.classes[0]),
        code=code,
        name=PurePosixPath(document.path).stem.lower(),
        path=document.path,
        website=str(website_page(document.path)),
        title=_clean(document.title()),
        summary=_clean(summary_text if isinstance(summary_text, str) else ""),
        text=_clean(document.text),
    )


def term_entry(term: Term) -> Entry:
    return Entry(
        urn=str(term.urn),
        kind=f"{AK_IRI}Begrip",
        code="",
        name="",
        path="",
        website="",
        title=_clean(term.term),
        summary=_clean(term.definition),
        text="",
    )


def _clean(text: str) -> str:
    """``text`` without control characters (so :data:`MATCH_START` cannot occur in it)."""
    return " ".join(_CONTROL.sub(" ", text).split())
