"""Lineage: each document followed through the releases, across renames and renumberings.

Upstream renumbers documents (``owp-18`` became ``owp-17``) and reuses numbers (until v1.5.1
``urn:nl:ak:ver:aia-37`` named "melding ernstige incidenten", since v1.6 that document is aia-35
and aia-37 names another one), so a URN saved from one release may name another document, or
none, in the next. Between two consecutive releases a document is followed by, in this order:
git's rename detection (``git diff -M``: the file moved, perhaps with edits), the same path,
and, for a file git saw deleted, a new file of the same kind with the same title. A document
whose URN differs from its successor's was *moved* (a *renumbering* when both URNs carry a
code ``xxx-00``); a URN that names another document afterwards was *reused*. Both are kept as
events with their releases, and as ``dcterms:isReplacedBy`` / ``prov:wasRevisionOf`` between the
URNs (``docs/releases.md``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, XSD
from rdflib.term import Node

from kg.identifier import lineage_urn, release_urn, slugify
from kg.namespace import AK

Triple = tuple[Node, Node, Node]
#: Git's renames between two commits: old path -> new path.
Renames = Callable[[str, str], Mapping[str, str]]
_CODE = re.compile(r"^urn:nl:ak:(?:ver|mtr):([a-z]{3}-[0-9]{2})$")
#: The code a vereiste's or maatregel's file name starts with (``2-owp-11-…``, ``aia-37-…``).
_NAME_CODE = re.compile(r"^(?:[0-9]+-)?([a-z]{3}-[0-9]{2})(?:-|$)")
_CODED_KINDS = frozenset({"vereiste", "maatregel"})


@dataclass(frozen=True)
class Release:
    """A tag (or the branch head) and the commit it names."""

    tag: str
    commit: str
    #: The commit's date, ISO 8601 with its offset.
    date: str
    head: bool = False

    @property
    def urn(self) -> URIRef:
        return release_urn(self.tag)


@dataclass(frozen=True)
class DocumentRecord:
    """One document as a release has it."""

    path: str
    urn: str
    kind: str
    title: str

    @property
    def name(self) -> str:
        """The name references use: the file name without ``.md``."""
        return self.path.rsplit("/", 1)[-1].removesuffix(".md")


@dataclass(frozen=True)
class Snapshot:
    """A release and its documents (several tags on one commit share them)."""

    release: Release
    documents: tuple[DocumentRecord, ...]


@dataclass(frozen=True)
class Move:
    """A document whose URN changed between two consecutive releases."""

    old: DocumentRecord
    new: DocumentRecord
    before: Release
    after: Release
    #: How the successor was found: ``rename`` (git), ``path`` or ``title``.
    found_by: str

    @property
    def renumbered(self) -> bool:
        """Upstream gave the document another code (``owp-18`` -> ``owp-17``)."""
        old, new = _code(self.old), _code(self.new)
        return old is not None and new is not None and old != new


@dataclass(frozen=True)
class Reuse:
    """A URN that names another document in ``after`` than it did in ``before``."""

    urn: str
    old: DocumentRecord
    new: DocumentRecord
    before: Release
    after: Release
    #: Where the document ``urn`` named before went (None: it was removed).
    successor: str | None


@dataclass(frozen=True)
class Lineage:
    snapshots: tuple[Snapshot, ...]
    #: Per pair of consecutive snapshots: path in the first -> its successor (None: removed).
    steps: tuple[Mapping[str, DocumentRecord | None], ...]
    moves: tuple[Move, ...]
    reuses: tuple[Reuse, ...]

    def follow(self, index: int, path: str) -> tuple[int, DocumentRecord]:
        """The document at ``path`` in snapshot ``index``, followed forward: the last snapshot
        that has it and what it is there."""
        current = next(d for d in self.snapshots[index].documents if d.path == path)
        while index < len(self.steps):
            successor = self.steps[index].get(current.path)
            if successor is None:
                break
            current, index = successor, index + 1
        return index, current

    def find(self, name: str) -> tuple[int, DocumentRecord] | None:
        """The newest snapshot whose document a reference ``name`` (file name or URN slug)
        names, followed forward; None when history never knew the name."""
        found = self.names().get(slugify(name.removesuffix(".md").rsplit(":", 1)[-1]))
        return None if found is None else self.follow(*found)

    def names(self) -> dict[str, tuple[int, str]]:
        """Slug of every file name and URN ever seen -> (newest snapshot, path) that had it."""
        names: dict[str, tuple[int, str]] = {}
        for index, snapshot in enumerate(self.snapshots):
            for document in snapshot.documents:
                names[document.urn.rsplit(":", 1)[-1]] = (index, document.path)
            for document in snapshot.documents:  # a file name wins over a URN
                names[slugify(document.name)] = (index, document.path)
        return names


def _code(document: DocumentRecord) -> str | None:
    """The document's code: from its URN, else (a URN settled as a duplicate) its file name."""
    if document.kind not in _CODED_KINDS:
        return None
    match = _CODE.match(document.urn) or _NAME_CODE.match(document.name.lower())
    return match.group(1) if match else None


def trace(snapshots: Sequence[Snapshot], renames: Renames) -> Lineage:
    """Follow every document from each snapshot to the next (snapshots in release order, one
    per commit)."""
    steps: list[Mapping[str, DocumentRecord | None]] = []
    moves: list[Move] = []
    reuses: list[Reuse] = []
    for first, second in pairwise(snapshots):
        found = _successors(first, second, renames(first.release.commit, second.release.commit))
        steps.append({path: record for path, (record, _) in found.items()})
        before, after = first.release, second.release
        for document in first.documents:
            successor, how = found[document.path]
            if successor is not None and successor.urn != document.urn:
                moves.append(Move(document, successor, before, after, how))
        holders = {document.urn: document for document in second.documents}
        for document in first.documents:
            successor, _ = found[document.path]
            holder = holders.get(document.urn)
            if holder is not None and (successor is None or holder.path != successor.path):
                went = successor.urn if successor is not None else None
                reuses.append(Reuse(document.urn, document, holder, before, after, went))
    return Lineage(tuple(snapshots), tuple(steps), tuple(moves), tuple(reuses))


def _successors(
    first: Snapshot, second: Snapshot, renamed: Mapping[str, str]
) -> dict[str, tuple[DocumentRecord | None, str]]:
    by_path = {document.path: document for document in second.documents}
    found: dict[str, tuple[DocumentRecord | None, str]] = {}
    for document in first.documents:
        if document.path in renamed and renamed[document.path] in by_path:
            found[document.path] = (by_path[renamed[document.path]], "rename")
        elif document.path in by_path:
            found[document.path] = (by_path[document.path], "path")
        else:
            found[document.path] = (None, "")
    taken = {record.path for record, _ in found.values() if record is not None}
    by_title: dict[tuple[str, str], list[DocumentRecord]] = {}
    for document in second.documents:
        if document.path not in taken:
            by_title.setdefault((document.kind, document.title.casefold()), []).append(document)
    for document in first.documents:
        candidates = by_title.get((document.kind, document.title.casefold()), [])
        if found[document.path][0] is None and len(candidates) == 1:
            found[document.path] = (candidates[0], "title")
    return found


def lineage_triples(lineage: Lineage) -> list[Triple]:
    """The events, and ``dcterms:isReplacedBy`` / ``prov:wasRevisionOf`` between the URNs."""
    triples: list[Triple] = []
    for move in lineage.moves:
        event = lineage_urn(move.after.tag, "move", move.old.urn)
        old, new = URIRef(move.old.urn), URIRef(move.new.urn)
        kind = AK.Hernummering if move.renumbered else AK.UrnWijziging
        triples += [
            (old, DCTERMS.isReplacedBy, new),
            (new, PROV.wasRevisionOf, old),
            (event, RDF.type, kind),
            (event, AK.oudeUrn, old),
            (event, AK.nieuweUrn, new),
            (event, AK.vorigeRelease, move.before.urn),
            (event, AK.volgendeRelease, move.after.urn),
            (event, AK.oudeTitel, Literal(move.old.title, lang="nl")),
            (event, AK.nieuweTitel, Literal(move.new.title, lang="nl")),
            (event, AK.oudPad, Literal(move.old.path)),
            (event, AK.nieuwPad, Literal(move.new.path)),
        ]
    for reuse in lineage.reuses:
        event = lineage_urn(reuse.after.tag, "reuse", reuse.urn)
        triples += [
            (event, RDF.type, AK.UrnHergebruik),
            (event, AK.hergebruikteUrn, URIRef(reuse.urn)),
            (event, AK.vorigeRelease, reuse.before.urn),
            (event, AK.volgendeRelease, reuse.after.urn),
            (event, AK.oudeTitel, Literal(reuse.old.title, lang="nl")),
            (event, AK.nieuweTitel, Literal(reuse.new.title, lang="nl")),
        ]
        if reuse.successor is not None:
            triples.append((event, DCTERMS.isReplacedBy, URIRef(reuse.successor)))
    return triples


def presence_triples(
    snapshots: Sequence[Sequence[Release]],
    documents: Sequence[tuple[DocumentRecord, ...]],
    modified: Callable[[str, Release], str | None],
) -> list[Triple]:
    """Per resource: the releases it is in (``snapshots[i]``: the tags of one commit, in
    order, with ``documents[i]``), the first and the last, and ``dcterms:modified`` (the last
    commit that changed its file, by ``modified(path, release)``)."""
    seen: dict[str, list[Release]] = {}
    last: dict[str, tuple[DocumentRecord, Release]] = {}
    for releases, records in zip(snapshots, documents, strict=True):
        for record in records:
            seen.setdefault(record.urn, []).extend(releases)
            last[record.urn] = (record, releases[-1])
    urns = {release: release.urn for group in snapshots for release in group}  # minted once
    triples: list[Triple] = []
    for urn, releases in seen.items():
        subject = URIRef(urn)
        triples += [(subject, AK.inRelease, urns[release]) for release in releases]
        triples.append((subject, AK.eersteRelease, urns[releases[0]]))
        triples.append((subject, AK.laatsteRelease, urns[releases[-1]]))
        record, release = last[urn]
        date = modified(record.path, release)
        if date is not None:
            triples.append((subject, DCTERMS.modified, _datetime(date)))
    return triples


def _datetime(value: str) -> Literal:
    return Literal(value, datatype=XSD.dateTime)
