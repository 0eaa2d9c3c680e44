"""Every document's page: its HTML with the list macros expanded, links resolved to URNs,
sanitised (``html.json``, and the resource pages of the server).

Apart from the triples (:mod:`kg.graph`): a page adds no fact, the older releases of a history
need none, and ``kg build`` makes the pages in a child process while it builds and writes the
triples (:mod:`kg.pipeline`).
"""

from __future__ import annotations

from functools import partial

from rdflib import URIRef

from kg.corpus import Corpus
from kg.diagnostic import Diagnostic
from kg.htmlpolicy import sanitize
from kg.lists import catalogue, expand
from kg.references import document_index, value_node

#: Document URN -> its page (sanitised HTML), and the problems met making the pages.
Pages = tuple[dict[URIRef, str], tuple[Diagnostic, ...]]


def render_pages(corpus: Corpus) -> Pages:
    """Every document's page: the list macros expanded (:mod:`kg.lists`, which need every
    document), links resolved to URNs, sanitised."""
    index = document_index(corpus)
    books = catalogue(corpus.documents, partial(value_node, index), corpus.terms)
    pages: dict[URIRef, str] = {}
    diagnostics: list[Diagnostic] = []
    for document in corpus.documents:
        expansion = expand(document, books)
        diagnostics.extend(expansion.diagnostics)
        pages[document.urn] = sanitize(
            expansion.html,
            books.rewriter(partial(index.links.rewrite, document.path)),
            dict(document.heading_ids),
        )
    return pages, tuple(diagnostics)
