"""List macros: upstream's ``<!-- list_… -->`` and ``<!-- tags -->`` comments, built out.

Upstream's pages hold their lists (the vereisten of a maatregel, every maatregel of a topic)
as HTML comments that its MkDocs hooks replace (``hooks/lists.py``, ``hooks/tags.py``).
Python-Markdown keeps them as comments and the sanitiser drops comments, so here they are
expanded from the built documents, once all are known: a table per list (title linking to the
row's URN, the chips upstream shows), followed by the SPARQL query that gives the same rows on
the published graph; chips for ``tags``/``tags-ai-act``. Semantics follow upstream: the first
argument may be a ``key/value`` filter, ``no-x``/``add-x`` switch columns, rows are sorted by
file name. The lists are derived data: they are made after the author's links became facts,
so they never add ``dcterms:references``. The HTML is re-emitted by the standard library's
parser, comment by comment, never edited as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from html import escape
from html.parser import HTMLParser

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.document import Document
from kg.glossary import Term
from kg.htmlpolicy import HrefRewriter
from kg.kind import HULPMIDDEL, MAATREGEL, VEREISTE, Kind
from kg.vocabulary import (
    ABBREVIATED_LAWS,
    ID_PREFIX_LENGTH,
    LAW_KEY,
    LAW_LABEL,
    RULES,
    KeyRule,
    Shape,
    law_code,
)

#: ``resolve(rule, value)``: the node the graph holds for a front-matter value.
Resolve = Callable[[KeyRule, str], URIRef]

_LIST_KINDS: dict[str, Kind] = {
    "list_vereisten": VEREISTE,
    "list_maatregelen": MAATREGEL,
    "list_hulpmiddelen": HULPMIDDEL,
}
#: On-page lists: the macro -> (the key read on the page, the kind listed, heading, if empty).
_PAGE_LISTS: dict[str, tuple[str, Kind, str, str]] = {
    "list_vereisten_on_maatregelen_page": (
        "vereiste",
        VEREISTE,
        "Vereiste",
        "Geen vereisten beschikbaar voor deze maatregel.",
    ),
    "list_maatregelen_on_hulpmiddelen_page": (
        "maatregel",
        MAATREGEL,
        "Maatregel",
        "Geen maatregelen beschikbaar voor dit hulpmiddel.",
    ),
}
_TAG_KEYS = ("levenscyclus", "rollen", "onderwerp")
_AI_ACT_KEYS = (
    "soort-toepassing",
    "risicogroep",
    "rol-ai-act",
    "systeemrisico",
    "transparantieverplichting",
)
_AI_ACT_SKIPPED = frozenset({"niet-van-toepassing", "uitzondering-van-toepassing"})
#: Columns of the general lists (upstream's column keys) and their headings.
_COLUMNS: dict[str, str] = {
    "title": "",
    LAW_KEY: LAW_LABEL,
    "rol": "Rollen",
    "levenscyclus": "Levenscyclus",
    "onderwerp": "Onderwerpen",
}
_CHIP_KEYS = {"rol": "rollen", "levenscyclus": "levenscyclus", "onderwerp": "onderwerp"}
_PREFIXES = (
    "PREFIX ak: <urn:nl:ak:def:>\n"
    "PREFIX dcterms: <http://purl.org/dc/terms/>\n"
    "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
)
_NOT_AIA = (
    'Deze vereiste geldt waarschijnlijk voor jouw algoritmische toepassingen. Bekijk de <a href="'
    '#bronnen">bronnen</a> om te controleren of dit zo is.'
)
_AIA = (
    "Deze vereiste is van toepassing voor onderstaande (combinatie van) labels. Gebruik de "
    "beslishulp AI-verordening voor hulp bij wat er in jouw situatie van toepassing is."
)


@dataclass(frozen=True)
class Row:
    """A document as lists show it: front-matter tag values as written, with their nodes."""

    urn: URIRef
    path: str
    kind: Kind
    title: str
    identifier: str
    tags: Mapping[str, tuple[tuple[str, URIRef], ...]]

    def nodes(self, key: str) -> frozenset[URIRef]:
        return frozenset(node for _, node in self.tags.get(key, ()))


@dataclass(frozen=True)
class Catalogue:
    """Every document of the graph as a row, and the glossary (law names)."""

    rows: tuple[Row, ...]
    by_urn: Mapping[URIRef, Row]
    glossary: Mapping[str, str]
    resolve: Resolve

    @cached_property
    def hrefs(self) -> frozenset[str]:
        """Every address a list may link to: the documents and their tag values."""
        nodes = {row.urn for row in self.rows}
        nodes.update(node for row in self.rows for pairs in row.tags.values() for _, node in pairs)
        return frozenset(str(node) for node in nodes)

    def rewriter(self, rewrite: HrefRewriter) -> HrefRewriter:
        """``rewrite`` for a page's own links; the URNs lists link to are kept as they are."""

        def href(value: str) -> str | None:
            return value if value in self.hrefs else rewrite(value)

        return href

    def of_kind(self, kind: Kind) -> list[Row]:
        return sorted((row for row in self.rows if row.kind is kind), key=lambda row: row.path)


@dataclass(frozen=True)
class Expansion:
    html: str
    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Table:
    """One list: its rows and the SPARQL query that gives them."""

    rows: tuple[Row, ...]
    sparql: str


def catalogue(documents: Sequence[Document], resolve: Resolve, terms: Sequence[Term]) -> Catalogue:
    rows = tuple(_row(document, resolve) for document in documents)
    glossary = {term.term.upper(): term.definition.strip().rstrip(".") for term in terms}
    return Catalogue(rows, {row.urn: row for row in rows}, glossary, resolve)


def _row(document: Document, resolve: Resolve) -> Row:
    tags: dict[str, tuple[tuple[str, URIRef], ...]] = {}
    for entry in document.matter.entries:
        rule = RULES.get(entry.key)
        if rule is None or rule.shape not in (Shape.TAG, Shape.REFERENCE):
            continue
        items = entry.value.value if isinstance(entry.value.value, list) else [entry.value]
        values = [item.value.strip() for item in items if isinstance(item.value, str)]
        tags[entry.key] = tuple((value, resolve(rule, value)) for value in values if value)
    identifier = document.matter.get("id")
    raw_id = identifier.value.value if identifier else None
    return Row(
        document.urn,
        document.path,
        document.placement.kind,
        document.title(),
        raw_id.strip() if isinstance(raw_id, str) else "",
        tags,
    )


def expand(document: Document, books: Catalogue) -> Expansion:
    """The document's HTML with every known macro comment replaced by its list."""
    if "<!--" not in document.html:  # no comment, so no macro: nothing to read
        return Expansion(document.html, ())
    expander = _Expander(_row(document, books.resolve), books)
    expander.feed(document.html)
    expander.close()
    diagnostics = tuple(
        Diagnostic(
            document.path,
            _line_of(document, macro),
            Severity.INFO,
            f"unknown list macro <!-- {macro} --> (left out)",
            "macro",
        )
        for macro in expander.unknown
    )
    return Expansion("".join(expander.out), diagnostics)


def _line_of(document: Document, macro: str) -> int:
    for number, line in enumerate(document.matter.body.splitlines()):
        if macro in line:
            return document.matter.body_line + number
    return document.matter.body_line


class _Expander(HTMLParser):
    """Re-emits HTML as it came, macro comments replaced."""

    def __init__(self, page: Row, books: Catalogue) -> None:
        super().__init__(convert_charrefs=False)
        self.page = page
        self.books = books
        self.out: list[str] = []
        self.unknown: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self.out.append(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self.out.append(f"<![{data}]>")

    def handle_comment(self, data: str) -> None:
        macro = " ".join(data.split())
        html = expand_macro(macro, self.page, self.books)
        if html is None:
            if is_macro(macro):
                self.unknown.append(macro)
            html = f"<!--{data}-->"
        self.out.append(html)


def is_macro(text: str) -> bool:
    """Whether a comment's text is meant as a macro (known or not)."""
    name = text.split()[0].lower() if text.split() else ""
    return name.startswith("list_") or name.startswith("tags")


def expand_macro(macro: str, page: Row, books: Catalogue) -> str | None:
    """The HTML of one macro on ``page``, or None for a comment that is no known macro."""
    name, *arguments = macro.split() or [""]
    name = name.lower()
    if name == "tags" and not arguments:
        return _chips(page, _tag_values(page, _TAG_KEYS), identifier=True)
    if name == "tags-ai-act" and not arguments:
        return _ai_act(page)
    if name in _PAGE_LISTS and not arguments:
        key, kind, heading, empty = _PAGE_LISTS[name]
        table = page_table(page, books, key, kind)
        if not table.rows:
            return f"<p>{escape(empty)}</p>" + _sparql(table)
        return _id_table(table, heading) + _sparql(table)
    if name in _LIST_KINDS:
        kind = _LIST_KINDS[name]
        table = list_table(books, kind, arguments)
        return _list_html(table, kind, _columns(kind, arguments), books) + _sparql(table)
    return None


# -- the rows -------------------------------------------------------------------------------


def page_table(page: Row, books: Catalogue, key: str, kind: Kind) -> Table:
    """The documents of ``kind`` that ``page`` names under ``key``, by file name."""
    named = page.nodes(key)
    rows = tuple(row for row in books.of_kind(kind) if row.urn in named)
    where = f"  <{page.urn}> ak:{RULES[key].predicate.removeprefix('urn:nl:ak:def:')} ?item .\n"
    return Table(rows, _query(kind, where))


def list_table(books: Catalogue, kind: Kind, arguments: Sequence[str]) -> Table:
    """Every document of ``kind`` that meets every ``key/value`` argument, rows by file name.
    Every criterion counts (AND): upstream's site reads only the first, which loses the second
    criterion its authors wrote on two pages (``vereiste/… onderwerp/publieke-inkoop``)."""
    rows = list(books.of_kind(kind))
    where = ""
    for criterion in (argument.split("/") for argument in arguments):
        if len(criterion) != 2:
            continue  # a column switch
        key, value = criterion
        rule = RULES.get(key)
        if rule is None or rule.shape not in (Shape.TAG, Shape.REFERENCE):
            return Table((), _query(kind, "  FILTER(false)\n"))
        node = books.resolve(rule, value)
        where += f"  ?item <{rule.predicate}> <{node}> .\n"
        rows = [row for row in rows if node in row.nodes(key)]
    return Table(tuple(rows), _query(kind, where))


def _query(kind: Kind, where: str) -> str:
    cls = kind.classes[0].removeprefix("urn:nl:ak:def:")
    return (
        f"{_PREFIXES}SELECT ?item ?title WHERE {{\n{where}"
        f"  ?item rdf:type ak:{cls} ;\n"
        "        ak:bronbestand ?file ;\n"
        "        dcterms:title ?title .\n"
        "}\nORDER BY ?file\n"
    )


# -- the HTML -------------------------------------------------------------------------------


def _columns(kind: Kind, arguments: Sequence[str]) -> list[str]:
    enabled = {key: key != LAW_KEY or kind is VEREISTE for key in _COLUMNS}
    for argument in arguments:
        for prefix, state in (("no-", False), ("add-", True)):
            name = argument.removeprefix(prefix)
            if argument.startswith(prefix) and name in enabled:
                enabled[name] = state and (name != LAW_KEY or kind is VEREISTE)
    return [key for key in _COLUMNS if enabled[key]]


def _list_html(table: Table, kind: Kind, columns: list[str], books: Catalogue) -> str:
    headings = {**_COLUMNS, "title": f"{kind.name.capitalize()}en"}
    if kind is VEREISTE:
        headings["title"] = "Vereisten"
    head = "".join(f"<th>{escape(headings[key])}</th>" for key in columns)
    body = "".join(
        "<tr>" + "".join(_cell(row, key, books) for key in columns) + "</tr>" for row in table.rows
    )
    return f'<table class="ak-list"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(row: Row, column: str, books: Catalogue) -> str:
    if column == "title":
        return f"<td>{_link(row)}</td>"
    if column == LAW_KEY:
        return f"<td>{_law(row, books)}</td>"
    key = _CHIP_KEYS[column]
    return (
        "<td>" + "".join(_chip(key, value, node) for value, node in row.tags.get(key, ())) + "</td>"
    )


def _law(row: Row, books: Catalogue) -> str:
    code = law_code(row.identifier)
    definition = books.glossary.get(code)
    if definition is None:
        return escape(code)
    if code in ABBREVIATED_LAWS:
        return f'<abbr title="{escape(definition)}">{escape(code)}</abbr>'
    return escape(definition)


def _link(row: Row, text: str | None = None) -> str:
    return f'<a href="{escape(str(row.urn))}">{escape(text if text is not None else row.title)}</a>'


def _id_table(table: Table, heading: str) -> str:
    body = "".join(
        f"<tr><td>{_link(row, row.identifier[ID_PREFIX_LENGTH:])}</td><td>{_link(row)}</td></tr>"
        for row in table.rows
    )
    return (
        f'<table class="ak-list"><thead><tr><th>ID</th><th>{escape(heading)}</th></tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def _sparql(table: Table) -> str:
    return (
        '<details class="ak-sparql"><summary>Deze lijst als SPARQL</summary>'
        f"<pre><code>{escape(table.sparql)}</code></pre></details>"
    )


def _tag_values(page: Row, keys: Sequence[str]) -> list[tuple[str, str, URIRef]]:
    return [(key, value, node) for key in keys for value, node in page.tags.get(key, ())]


def _chips(page: Row, values: list[tuple[str, str, URIRef]], identifier: bool) -> str:
    items = []
    if identifier and page.identifier:
        code = escape(page.identifier.rsplit(":", 1)[-1])
        items.append(f'<li><span class="ak-chip ak-chip-id">{code}</span></li>')
    items.extend(f"<li>{_chip(key, value, node)}</li>" for key, value, node in values)
    return f'<ul class="ak-tags">{"".join(items)}</ul>' if items else ""


def _chip(key: str, value: str, node: URIRef) -> str:
    words = ["AI" if word.lower() == "ai" else word for word in value.split("-")]
    text = " ".join(words)
    text = (text[:1].upper() + text[1:]).replace("AI ", "AI-")
    return (
        f'<span class="ak-chip ak-chip-{escape(key)}">'
        f'<a href="{escape(str(node))}">{escape(text)}</a></span>'
    )


def _ai_act(page: Row) -> str:
    if not page.identifier.startswith("urn:nl:ak:ver:aia-"):
        return f"<p>{_NOT_AIA}</p>"
    values = [
        (key, value, node)
        for key, value, node in _tag_values(page, _AI_ACT_KEYS)
        if value not in _AI_ACT_SKIPPED
    ]
    return f"<p>{escape(_AIA)}</p>" + _chips(page, values, identifier=False)
