"""``kg diff A B``: what changed between two releases, computed from their published graphs.

The releases come from the publication of ``kg build --git`` (``releases.nq``), so a diff
says what the graphs say, whoever built them: resources (documents and glossary terms) added,
removed, renamed (a URN change the lineage graph records between A and B, followed through the
releases in between) and changed, with the properties whose values differ; a section's facts
count as the property ``#<section> <property>`` of its document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyoxigraph as ox

from kg.identifier import release_urn
from kg.kind import KINDS, PAGINA
from kg.manifest import RELEASES_NQ
from kg.namespace import AK_IRI, DCAT_IRI, DCTERMS_IRI, LINEAGE_GRAPH, RDF_IRI, RELEASES_GRAPH

_TYPE = ox.NamedNode(f"{RDF_IRI}type")
_TITLE = ox.NamedNode(f"{DCTERMS_IRI}title")
_CLASSES = {str(kind.classes[0]) for kind in (*KINDS, PAGINA)} | {f"{AK_IRI}Begrip"}
_MOVES = (ox.NamedNode(f"{AK_IRI}UrnWijziging"), ox.NamedNode(f"{AK_IRI}Hernummering"))


def _text(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    return str(term) if isinstance(term, ox.Triple) else term.value


class DiffError(Exception):
    """No releases published, or no release of that name (exit code 2)."""


@dataclass(frozen=True)
class Diff:
    first: str
    second: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    #: (URN in A, URN in B) of each document whose URN changed.
    renamed: tuple[tuple[str, str], ...]
    #: URN -> the properties whose values differ.
    changed: tuple[tuple[str, tuple[str, ...]], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.first,
            "to": self.second,
            "added": list(self.added),
            "removed": list(self.removed),
            "renamed": [{"from": old, "to": new} for old, new in self.renamed],
            "changed": {urn: list(properties) for urn, properties in self.changed},
        }

    def lines(self) -> list[str]:
        return [
            *(f"+ {urn}" for urn in self.added),
            *(f"- {urn}" for urn in self.removed),
            *(f"> {old} -> {new}" for old, new in self.renamed),
            *(f"~ {urn}: {', '.join(properties)}" for urn, properties in self.changed),
            f"{len(self.added)} added, {len(self.removed)} removed, {len(self.renamed)} renamed, "
            f"{len(self.changed)} changed ({self.first} -> {self.second})",
        ]


def load_releases(dist: Path) -> ox.Store:
    path = dist / RELEASES_NQ.name
    if not path.is_file():
        raise DiffError(f"{dist} has no {RELEASES_NQ.name}: publish it with kg build --git")
    store = ox.Store()
    store.bulk_load(path=str(path), format=ox.RdfFormat.N_QUADS)
    return store


def release_order(store: ox.Store) -> list[str]:
    """The releases' graph names, oldest first (by ``dcat:previousVersion``)."""
    previous = ox.NamedNode(f"{DCAT_IRI}previousVersion")
    graph = ox.NamedNode(RELEASES_GRAPH)
    before = {
        _text(quad.subject): _text(quad.object)
        for quad in store.quads_for_pattern(None, previous, None, graph)
    }
    version = ox.NamedNode(f"{DCAT_IRI}version")
    releases = [_text(quad.subject) for quad in store.quads_for_pattern(None, version, None, graph)]
    first = [release for release in releases if release not in before]
    order = first[:1]
    after = {old: new for new, old in before.items()}
    while order and order[-1] in after:
        order.append(after[order[-1]])
    return order


def facts(store: ox.Store, release: str) -> dict[str, dict[str, set[str]]]:
    """Resource URN -> property -> values, in the release's graph (sections folded in)."""
    graph = ox.NamedNode(release)
    resources = {
        _text(quad.subject)
        for quad in store.quads_for_pattern(None, _TYPE, None, graph)
        if _text(quad.object) in _CLASSES
    }
    found: dict[str, dict[str, set[str]]] = {urn: {} for urn in resources}
    for quad in store.quads_for_pattern(None, None, None, graph):
        subject = _text(quad.subject)
        base, _, section = subject.partition("#")
        if base not in found:
            continue
        key = f"#{section} {_text(quad.predicate)}" if section else _text(quad.predicate)
        found[base].setdefault(key, set()).add(str(quad.object))
    return found


def moves(store: ox.Store, between: Iterable[str]) -> dict[str, str]:
    """The URN changes the lineage graph records into the releases ``between`` (in order),
    chained: URN before -> URN after the last."""
    graph = ox.NamedNode(LINEAGE_GRAPH)
    into = ox.NamedNode(f"{AK_IRI}volgendeRelease")
    old, new = ox.NamedNode(f"{AK_IRI}oudeUrn"), ox.NamedNode(f"{AK_IRI}nieuweUrn")
    chain: dict[str, str] = {}
    for release in between:
        step: dict[str, str] = {}
        for quad in store.quads_for_pattern(None, into, ox.NamedNode(release), graph):
            event = quad.subject
            if not any(
                next(store.quads_for_pattern(event, _TYPE, kind, graph), None) for kind in _MOVES
            ):
                continue
            [source] = [_text(q.object) for q in store.quads_for_pattern(event, old, None, graph)]
            [target] = [_text(q.object) for q in store.quads_for_pattern(event, new, None, graph)]
            step[source] = target
        chain = {first: step.get(last, last) for first, last in chain.items()}
        for source, target in step.items():
            chain.setdefault(source, target)
    return chain


def diff(store: ox.Store, first: str, second: str) -> Diff:
    order = release_order(store)
    a, b = str(release_urn(first)), str(release_urn(second))
    for tag, urn in ((first, a), (second, b)):
        if urn not in order:
            raise DiffError(f"no release {tag!r} in the publication")
    low, high = sorted((order.index(a), order.index(b)))
    old_facts, new_facts = facts(store, a), facts(store, b)
    renamed = {
        old: new
        for old, new in moves(store, order[low + 1 : high + 1]).items()
        if old in old_facts and new in new_facts and old != new
    }
    if order.index(a) > order.index(b):
        renamed = {}
    gone = set(old_facts) - set(new_facts) - set(renamed)
    came = set(new_facts) - set(old_facts) - set(renamed.values())
    changed = []
    for urn in sorted(set(old_facts) & set(new_facts)):
        before, after = old_facts[urn], new_facts[urn]
        differ = sorted(
            key for key in before.keys() | after.keys() if before.get(key) != after.get(key)
        )
        if differ:
            changed.append((urn, tuple(differ)))
    return Diff(
        first,
        second,
        tuple(sorted(came)),
        tuple(sorted(gone)),
        tuple(sorted(renamed.items())),
        tuple(changed),
    )


def run_diff(dist: Path, first: str, second: str, as_json: bool, out: TextIO) -> int:
    found = diff(load_releases(dist), first, second)
    if as_json:
        json.dump(found.to_json(), out, ensure_ascii=False, indent=1)
        print(file=out)
    else:
        for line in found.lines():
            print(line, file=out)
    return 0
