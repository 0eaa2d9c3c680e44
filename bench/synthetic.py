"""Synthetic ×N corpora generated from the real one, for the benchmarks' growth figures.

The real graph is copied N times, each copy with its own vereisten, maatregelen and
hulpmiddelen: ``urn:nl:ak:mtr:org-02`` (and its sections, ``…#toelichting``) becomes
``urn:nl:ak:mtr:x3-org-02`` in copy 3, and each blank node gets the copy's prefix, while the
vocabulary (``urn:nl:ak:def:…``), the shared concepts (phases, roles, topics, AI-Act labels,
glossary) and every other IRI stay as they are. So every copy has the real corpus's shape
(the same links, tags and text, among its own documents) and a query answers N times the
rows, the way a framework with N times the documents would. N-Triples is a line
format with one term per position, so the copies are made line by line from the terms
pyoxigraph parses, not from text patterns.

A scaled *publication* is the real one with ``graph.nt`` replaced: what the server loads into
its store; the other files (pages, manifest) stay those of the real corpus.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyoxigraph as ox

CONTENT = "urn:nl:ak:"
#: The kinds of document that are copied (every other IRI is shared by the copies).
COPIED = frozenset({"ver", "mtr", "hlp"})


def _renamed(term: object, copy: int) -> object:
    if copy == 0:
        return term
    if isinstance(term, ox.NamedNode):
        value = term.value
        head, _, tail = value.removeprefix(CONTENT).partition(":")
        if value.startswith(CONTENT) and head in COPIED and tail:
            return ox.NamedNode(f"{CONTENT}{head}:x{copy}-{tail}")
        return term
    if isinstance(term, ox.BlankNode):
        return ox.BlankNode(f"x{copy}{term.value}")
    return term


def scale_triples(source: Path, target: Path, factor: int) -> int:
    """``source`` N-Triples copied ``factor`` times into ``target``; returns the triple count."""
    triples = list(ox.parse(path=str(source), format=ox.RdfFormat.N_TRIPLES))
    count = 0
    with target.open("wb") as out:
        for copy in range(factor):
            scaled = [
                ox.Triple(
                    _renamed(t.subject, copy),  # type: ignore[arg-type]
                    t.predicate,
                    _renamed(t.object, copy),  # type: ignore[arg-type]
                )
                for t in triples
            ]
            out.write(ox.serialize(scaled, format=ox.RdfFormat.N_TRIPLES))
            count += len(scaled)
    return count


def scale_publication(dist: Path, target: Path, factor: int) -> Path:
    """A copy of the publication ``dist`` whose graph is ``factor`` times the real one."""
    shutil.copytree(dist.resolve(), target)
    (target / "graph.nt").unlink()
    scale_triples(dist / "graph.nt", target / "graph.nt", factor)
    return target
