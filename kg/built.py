"""The record a graph build hands on (:class:`Build`): the triples, their source map and the
problems met, with what is written once from them (the dumps, their gzipped copies, the source
map as JSON, their fingerprint) kept on the record, so that each stage after it (pages,
validation, publication, the kept files of :mod:`kg.pipeline`) takes them instead of writing
them again."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

from rdflib import Graph, URIRef
from rdflib.term import Node

from kg.diagnostic import Diagnostic
from kg.namespace import bind_prefixes
from kg.pages import Pages
from kg.serialization import write_dumps
from kg.sourcemap import SourceMap

Triple = tuple[Node, Node, Node]


@dataclass(frozen=True)
class Build:
    """The triples, where each comes from, and the problems met on the way."""

    triples: frozenset[Triple]
    sourcemap: SourceMap
    diagnostics: tuple[Diagnostic, ...]
    #: Document URN -> its body as sanitised HTML, links resolved to URNs (``html.json``).
    pages: Mapping[URIRef, str] = field(default_factory=dict)

    @cached_property
    def graph(self) -> Graph:
        """The triples as an rdflib graph, made when first asked for (validation, tests):
        filling it is a good part of a build, and the dumps are written without it.
        SimpleMemory: a third of the cost of rdflib's default store, and all this needs."""
        graph = bind_prefixes(Graph(store="SimpleMemory"))
        for triple in self.triples:
            graph.add(triple)
        return graph

    @cached_property
    def dumps(self) -> tuple[bytes, bytes, bytes]:
        """Turtle, N-Triples and JSON-LD of the triples (:func:`write_dumps`), written once:
        the publication holds them, and the validation cache is keyed by the N-Triples."""
        return write_dumps(self.triples)

    @cached_property
    def gzipped(self) -> tuple[bytes, bytes, bytes]:
        """:attr:`dumps` gzipped (level 6, no time stamp: the same dumps, the same bytes),
        side by side: zlib lets go of the GIL."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            turtle, ntriples, jsonld = pool.map(
                partial(gzip.compress, compresslevel=6, mtime=0), self.dumps
            )
        return turtle, ntriples, jsonld

    @property
    def ntriples(self) -> bytes:
        """The N-Triples dump (of :attr:`dumps`), its lines in order."""
        return self.dumps[1]

    @cached_property
    def sourcemap_json(self) -> bytes:
        """The source map as the publication holds it (``sourcemap.json``), written once (the
        validation cache is keyed by it too: findings are located through it)."""
        return json.dumps(self.sourcemap.to_json(), ensure_ascii=False).encode("utf-8")

    @cached_property
    def fingerprint(self) -> tuple[str, str]:
        """The SHA-256 (hex) of its N-Triples and of its source map as published: builds of
        one fingerprint have the same triples, located the same way (the validation cache's
        key)."""
        graph, located = (
            hashlib.sha256(data).hexdigest() for data in (self.ntriples, self.sourcemap_json)
        )
        return graph, located

    def __len__(self) -> int:
        return len(self.triples)


def with_pages(build: Build, pages: Pages) -> Build:
    """``build`` with its pages, and their problems after its own. What was already written
    from its triples and source map (the same objects) is kept, not written again."""
    rendered, diagnostics = pages
    merged = replace(build, pages=rendered, diagnostics=(*build.diagnostics, *diagnostics))
    return with_written(merged, build.__dict__)


#: What :class:`Build` writes once from its triples and source map (its cached properties).
WRITTEN = ("graph", "dumps", "gzipped", "sourcemap_json", "fingerprint")


def with_written(build: Build, written: Mapping[str, object]) -> Build:
    """``build``, taking what :data:`WRITTEN` names from ``written`` (an earlier build of the
    same triples and source map: its ``__dict__``, or what was kept of it) as written."""
    for name in WRITTEN:
        if name in written:
            build.__dict__[name] = written[name]
    return build
