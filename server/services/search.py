"""Full-text search and the forgiving lookup, answered by the publication's SQLite index.

The index (``search.sqlite``, written by :mod:`kg.search`) is opened read-only from the folder
of the request's snapshot, one connection per request, closed at its end: no state is kept
between requests, and a newer snapshot is searched as soon as it is served.

A user's text is never FTS5 syntax: it is cut into words at white space, each word quoted as
an FTS5 string (a ``"`` doubled), and the words are ANDed; ``NEAR(``, ``*``, ``-``, ``AND``
are words like any other. When the words as typed match nothing, they are tried as prefixes
(``grondrecht`` finds ``grondrechten``). Matches are marked by :data:`kg.search.MATCH_START`
and :data:`kg.search.MATCH_END`, which indexed text never holds: a snippet is escaped first,
and only then are the markers made ``<mark>`` elements (:func:`highlight`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response, jsonify, redirect, render_template, url_for
from markupsafe import Markup, escape
from werkzeug.wrappers import Response as BaseResponse

from kg.manifest import SEARCH
from kg.namespace import URN_PREFIX
from kg.search import (
    MATCH_END,
    MATCH_START,
    RESOURCE_TABLE,
    TEXT_COLUMNS,
    TEXT_TABLE,
    WEIGHTS,
)
from kg.website import SITE_URL
from server.services.addresses import code_urns, resource_url
from server.services.dataset import current_dataset
from server.services.formats import HTML
from server.services.index import SiteIndex, current_index
from server.services.parameters import html_or_json
from server.services.responses import urn_not_found

#: Results a lookup considers (the best ones).
LIMIT = 50
#: Results on one page of ``/zoeken``.
PAGE_SIZE = 20
#: Pages of one search that can be asked for (the best ``PAGE_SIZE × MAX_PAGES`` results): a
#: deep page costs the index as much as all the pages before it.
MAX_PAGES = 50
#: Words of a query that count; the rest is dropped (a pasted paragraph stays cheap).
MAX_WORDS = 12
#: Characters of a query that count.
MAX_CHARS = 300
#: Words around a match in a snippet.
SNIPPET_WORDS = 14
_RANK = f"bm25({TEXT_TABLE}, {', '.join(str(weight) for weight in WEIGHTS)})"
_TITLE = TEXT_COLUMNS.index("titel")


class SearchUnavailable(RuntimeError):
    """The publication has no readable search index."""


@dataclass(frozen=True)
class Hit:
    urn: str
    #: Class IRI (``urn:nl:ak:def:Vereiste``).
    kind: str
    code: str
    title: str
    #: Text around the match, with :data:`MATCH_START`/:data:`MATCH_END` around matches.
    snippet: str
    #: The page on the official website ('' for a glossary term).
    website: str


@dataclass(frozen=True)
class Results:
    """One page of the matches of a search, and how many there are of each kind."""

    hits: list[Hit]
    #: Matches of the kind asked for (of every kind when none was).
    total: int
    #: (class IRI, matches) of every kind with matches, in IRI order.
    kinds: tuple[tuple[str, int], ...]
    #: This page (from 1) and the number of pages.
    page: int
    pages: int

    @classmethod
    def listed(cls, hits: list[Hit]) -> Results:
        """``hits`` as one page: a lookup's candidates."""
        return cls(hits, len(hits), (), 1, 1)


@contextmanager
def open_index(folder: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the search index of ``folder`` (default: the request's
    snapshot), closed afterwards."""
    path = (folder or current_dataset().path) / SEARCH.name
    if not path.is_file():
        raise SearchUnavailable(f"{path.name} is missing from this publication")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as error:
        raise SearchUnavailable(str(error)) from None
    with closing(connection):
        yield connection


def match_expression(text: str, prefix: bool = False) -> str | None:
    """The FTS5 expression for a user's ``text``: each word a quoted string, all required;
    None when there is no word."""
    words = text[:MAX_CHARS].split()[:MAX_WORDS]
    star = "*" if prefix else ""
    quoted = ['"' + word.replace('"', '""') + '"' + star for word in words]
    return " ".join(quoted) or None


def search(connection: sqlite3.Connection, text: str, limit: int = LIMIT) -> list[Hit]:
    """The best matches for ``text``: words as typed, else as prefixes."""
    return find(connection, text, limit=limit).hits


def find(
    connection: sqlite3.Connection,
    text: str,
    page: int = 1,
    kind: str | None = None,
    limit: int = PAGE_SIZE,
) -> Results:
    """Page ``page`` (``limit`` a page) of the matches for ``text`` of class ``kind`` (any
    when None): words as typed, else, when they match nothing of any kind, as prefixes."""
    for prefix in (False, True):
        expression = match_expression(text, prefix)
        if expression is None:
            break
        kinds = _kind_counts(connection, expression)
        if kinds:
            total = sum(count for found, count in kinds if kind in (None, found))
            hits = _run(connection, expression, limit, (page - 1) * limit, kind)
            return Results(hits, total, kinds, page, max(1, -(-total // limit)))
    return Results([], 0, (), page, 1)


def kinds_indexed(connection: sqlite3.Connection) -> list[str]:
    """The classes of the indexed resources (what ``soort=`` may name)."""
    query = f"SELECT DISTINCT soort FROM {RESOURCE_TABLE} ORDER BY soort"
    return [str(row[0]) for row in connection.execute(query)]


def title_matches(connection: sqlite3.Connection, text: str) -> list[Hit]:
    """Resources whose title holds every word of ``text`` (as typed)."""
    expression = match_expression(text)
    if expression is None:
        return []
    return _run(connection, f"{{{TEXT_COLUMNS[_TITLE]}}} : ({expression})", LIMIT)


def _run(
    connection: sqlite3.Connection,
    expression: str,
    limit: int,
    offset: int = 0,
    kind: str | None = None,
) -> list[Hit]:
    query = (
        f"SELECT r.urn, r.soort, r.code, t.titel, "
        f"snippet({TEXT_TABLE}, -1, ?, ?, '…', {SNIPPET_WORDS}), r.website "
        f"FROM {TEXT_TABLE} AS t JOIN {RESOURCE_TABLE} AS r ON r.id = t.rowid "
        f"WHERE {TEXT_TABLE} MATCH ? AND (? IS NULL OR r.soort = ?) "
        f"ORDER BY {_RANK}, r.urn LIMIT ? OFFSET ?"
    )
    parameters = (MATCH_START, MATCH_END, expression, kind, kind, limit, offset)
    return [Hit(*map(str, row)) for row in _matching(connection, query, parameters)]


def _kind_counts(connection: sqlite3.Connection, expression: str) -> tuple[tuple[str, int], ...]:
    query = (
        f"SELECT r.soort, count(*) FROM {TEXT_TABLE} AS t "
        f"JOIN {RESOURCE_TABLE} AS r ON r.id = t.rowid "
        f"WHERE {TEXT_TABLE} MATCH ? GROUP BY r.soort ORDER BY r.soort"
    )
    rows = _matching(connection, query, (expression,))
    return tuple((str(kind), int(str(count))) for kind, count in rows)


def _matching(
    connection: sqlite3.Connection, query: str, parameters: tuple[object, ...]
) -> list[tuple[object, ...]]:
    """The rows of a ``MATCH`` query; none when FTS5 refuses the expression (a syntax the
    quoting lets through: answered as no match)."""
    try:
        return connection.execute(query, parameters).fetchall()
    except sqlite3.OperationalError as error:
        if "fts5" in str(error):
            return []
        raise


def exact_matches(connection: sqlite3.Connection, text: str) -> list[str]:
    """URNs ``text`` names exactly: a file name (``0-org-02-beleid.md``, with or without
    ``.md``, any case), a path in the content, or a page of the official website."""
    name = text.strip().rstrip("/").rsplit("/", 1)[-1].lower().removesuffix(".md")
    found = [
        row[0]
        for row in connection.execute(
            f"SELECT urn FROM {RESOURCE_TABLE} WHERE (naam = ? OR pad = ?) AND pad != '' "
            "ORDER BY urn",
            (name, text.strip()),
        )
    ]
    website = website_address(text)
    if website is not None:
        found += [
            row[0]
            for row in connection.execute(
                f"SELECT urn FROM {RESOURCE_TABLE} WHERE website = ? ORDER BY urn", (website,)
            )
        ]
    return list(dict.fromkeys(found))


def website_address(text: str) -> str | None:
    """``text`` as the index spells a page of the official website (``…/foo/bar/``), if it is
    one: query and fragment dropped, ``index.html`` and a missing final slash forgiven."""
    parts = urlsplit(text.strip())
    site = urlsplit(SITE_URL)
    if parts.hostname != site.hostname or not parts.path.startswith(site.path.rstrip("/")):
        return None
    path = parts.path.removesuffix("index.html").rstrip("/") + "/"
    return f"{site.scheme}://{site.netloc}{path}"


def described(connection: sqlite3.Connection, urns: list[str]) -> list[Hit]:
    """``urns`` as hits, in that order (their summary as the snippet): a lookup's candidates."""
    found = {
        row[0]: Hit(*map(str, row))
        for urn in urns
        for row in connection.execute(
            f"SELECT r.urn, r.soort, r.code, t.titel, substr(t.samenvatting, 1, 200), r.website "
            f"FROM {RESOURCE_TABLE} AS r JOIN {TEXT_TABLE} AS t ON t.rowid = r.id "
            "WHERE r.urn = ?",
            (urn,),
        )
    }
    return [found[urn] for urn in urns if urn in found]


def highlight(snippet: str) -> Markup:
    """``snippet`` escaped, its matches in ``<mark>``."""
    escaped = str(escape(snippet))
    return Markup(escaped.replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>"))


def plain(snippet: str) -> str:
    """``snippet`` without its match markers."""
    return snippet.replace(MATCH_START, "").replace(MATCH_END, "")


# -- answers: the results page (or JSON), and the lookup -----------------------------------


def kind_key(kind: str) -> str:
    """How ``soort=`` names the class ``kind``: its local name in lower case (``vereiste``)."""
    return kind.rsplit(":", 1)[-1].lower()


def results_answer(
    text: str, results: Results, candidates: bool = False, kind: str = ""
) -> Response:
    """One page of the results (ranked hits of the kind ``kind`` or of all, or a lookup's
    candidates), or the same as JSON."""
    index = current_index()
    pages = _page_links(text, results, kind)
    kinds = [
        (index.label(found), count, kind_key(found), _search_url(text, kind=kind_key(found)))
        for found, count in results.kinds
    ]
    if html_or_json() == "json":
        response = jsonify(
            {
                "q": text,
                "kandidaten": candidates,
                "aantal": len(results.hits),
                "totaal": results.total,
                "pagina": results.page,
                "paginas": results.pages,
                "soorten": {
                    key: {"soort": label, "aantal": count} for label, count, key, _ in kinds
                },
                **pages,
                "resultaten": [_hit_json(index, hit) for hit in results.hits],
            }
        )
    else:
        rows = [(hit, index.label(hit.kind), resource_url(hit.urn)) for hit in results.hits]
        page = render_template(
            "search.html",
            text=text,
            rows=rows,
            results=results,
            first=(results.page - 1) * PAGE_SIZE + 1,
            kinds=kinds,
            kind=kind,
            everything=_search_url(text),
            pages=pages,
            candidates=candidates,
            highlight=highlight,
        )
        response = Response(page, content_type=HTML.content_type)
    response.vary.add("Accept")
    return response


def _page_links(text: str, results: Results, kind: str) -> dict[str, str | None]:
    """The previous and next page's addresses (None at either end)."""
    last = min(results.pages, MAX_PAGES)
    before = results.page - 1 if 1 < results.page <= last + 1 else None
    after = results.page + 1 if results.page < last else None
    return {
        "vorige": None if before is None else _search_url(text, before, kind),
        "volgende": None if after is None else _search_url(text, after, kind),
    }


def _search_url(text: str, page: int = 1, kind: str = "") -> str:
    return url_for(
        "search.search_page", q=text, pagina=page if page > 1 else None, soort=kind or None
    )


def _hit_json(index: SiteIndex, hit: Hit) -> dict[str, str]:
    return {
        "urn": hit.urn,
        "soort": index.label(hit.kind),
        "code": hit.code,
        "titel": hit.title,
        "fragment": plain(hit.snippet),
        "fragmentHtml": str(highlight(hit.snippet)),
        "pagina": resource_url(hit.urn),
        "website": hit.website,
    }


def _titled(connection: sqlite3.Connection, text: str) -> list[str]:
    """The documents whose title holds the words of ``text``; one only when it is also the
    search's best match (``bias`` is in one maatregel's title, but the onderwerp about bias
    is what someone typing it looks for: then the results are shown, not that maatregel)."""
    titled = [hit.urn for hit in title_matches(connection, text)]
    if len(titled) == 1 and [hit.urn for hit in search(connection, text, 1)] != titled:
        return []
    return titled


def lookup_answer(text: str) -> BaseResponse:
    """What the lookup box says to ``text`` that names no URN: the one document it names
    (a code, file name, website page or title words: :func:`_titled`) as a ``303``, several
    as a list of candidates, else the search results for it, else ``404`` with close
    matches."""
    index = current_index()
    try:
        with open_index() as connection:
            targets = list(
                dict.fromkeys([*code_urns(index, text), *exact_matches(connection, text)])
            )
            targets = targets or _titled(connection, text)
            if len(targets) == 1:
                return redirect(resource_url(targets[0]), 303)
            if targets:
                listed = Results.listed(described(connection, targets))
                return results_answer(text, listed, candidates=True)
            looks_like_urn = text.lower().startswith(URN_PREFIX)
            results = None if looks_like_urn else find(connection, text)
    except SearchUnavailable:
        results = None
    return results_answer(text, results) if results and results.hits else urn_not_found(text)
