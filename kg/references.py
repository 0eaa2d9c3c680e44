"""How a document's references and tags find their nodes: other documents by file name, URN
or path, and every other value by the URN minted for it.

One index for the graph builder (:mod:`kg.graph`), which states references as facts, and for
the pages (:mod:`kg.pages`), whose generated lists filter on the same nodes; kept apart from
both so that the pages can be made without building the triples (``kg build`` makes the two
side by side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import URIRef

from kg.corpus import Corpus
from kg.document import Document
from kg.identifier import mint_urn, slugify, term_urn
from kg.kind import Kind
from kg.links import LinkResolver
from kg.vocabulary import KeyRule, Shape


@dataclass
class DocumentIndex:
    """How references find documents: by file name, by code and by URN, per kind; by path."""

    by_kind: dict[str, dict[str, URIRef]] = field(default_factory=dict)
    by_path: dict[str, URIRef] = field(default_factory=dict)

    def add(self, document: Document) -> None:
        names = self.by_kind.setdefault(document.kind_name, {})
        names.setdefault(document.placement.name.lower(), document.urn)
        names.setdefault(str(document.urn).lower(), document.urn)
        self.by_path[document.path] = document.urn

    @property
    def links(self) -> LinkResolver:
        return LinkResolver(self.by_path)

    def resolve(self, kind: Kind, value: str) -> URIRef | None:
        names = self.by_kind.get(kind.name, {})
        # By file name or URN only: a bare code prefix is not enough, since upstream renumbered
        # files (``aia-06-documentatie-...`` once named what is now ``aia-02``).
        return names.get(value.strip().lower().removesuffix(".md"))


def document_index(corpus: Corpus) -> DocumentIndex:
    """The index of every document of ``corpus``."""
    index = DocumentIndex()
    for document in corpus.documents:
        index.add(document)
    return index


def value_node(index: DocumentIndex, rule: KeyRule, value: str) -> URIRef:
    """The node a tag or reference value stands for (also what lists filter on)."""
    kind = rule.target_kind
    if kind is None:
        return term_urn(rule.vocabulary, value)
    if rule.shape is Shape.REFERENCE:
        # Unresolved: the full name, never the bare code: ``aia-06-documentatie-...`` once
        # named what is now aia-02, and must not land on today's aia-06.
        return index.resolve(kind, value) or kind.urn(slugify(value))
    return index.resolve(kind, value) or mint_urn(kind, value)
