"""The release history published: every release a named graph, described, with its lineage.

``kg build --git`` builds the history (:mod:`kg.history`) and publishes the newest release as
``kg build`` does (``graph.ttl`` … unchanged), adding one dataset of all releases as TriG and
N-Quads (``releases.trig``, ``releases.nq``, gzipped too): each release's triples in the graph
``urn:nl:ak:release:<tag>``; the graph ``urn:nl:ak:graph:releases`` describing each release as
a ``dcat:Dataset`` and ``prov:Entity`` (version, date, commit, counts per kind); the graph
``urn:nl:ak:graph:lineage`` with the renames, renumberings and reused URNs, and per resource
the releases it is in; and the newest release as the default graph.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

import pyoxigraph as ox
from rdflib import Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, PROV, RDF, VOID, XSD
from rdflib.term import Node

from kg.chunks import DEFAULT_FILES, Joined, keep_bytes, serialise_quads, sha256_of
from kg.config import Settings
from kg.gitrepo import git
from kg.history import History, build_history
from kg.identifier import commit_urn, release_urn
from kg.kind import KINDS, PAGINA
from kg.lineage import Lineage, Release, Snapshot, lineage_triples, presence_triples, trace
from kg.manifest import RELEASES_NQ, RELEASES_TRIG
from kg.namespace import AK, DCAT_IRI, LINEAGE_GRAPH, RELEASES_GRAPH
from kg.publication import Publication, publish_files
from kg.serialization import OxigraphTerms, sorted_triples

Triple = tuple[Node, Node, Node]


def _instant(date: str) -> datetime:
    return datetime.fromisoformat(date)


#: DCAT 3 terms (rdflib's DCAT namespace is DCAT 2's).
_VERSION, _PREVIOUS_VERSION = URIRef(f"{DCAT_IRI}version"), URIRef(f"{DCAT_IRI}previousVersion")
_DUMP_FILES = (
    (RELEASES_NQ, "", "nq"),
    (RELEASES_NQ, ".gz", "nq.gz"),
    (RELEASES_TRIG, "", "trig"),
    (RELEASES_TRIG, ".gz", "trig.gz"),
)
_CLASSES = {kind.name: kind.classes[0] for kind in (*KINDS, PAGINA)}


def renames(git_dir: Path, first: str, second: str) -> dict[str, str]:
    """Files git sees renamed between two commits (``git diff -M --name-status``), kept in
    the cache beside the mirror (commits never change)."""
    kept = git_dir.parent / "renames" / f"{first}-{second}.json"
    try:
        found: dict[str, str] = json.loads(kept.read_text(encoding="utf-8"))
        return found
    except (OSError, ValueError):
        pass
    found = _renames(git_dir, first, second)
    kept.parent.mkdir(exist_ok=True)
    keep_bytes(kept, json.dumps(found).encode("utf-8"))
    return found


def _renames(git_dir: Path, first: str, second: str) -> dict[str, str]:
    found: dict[str, str] = {}
    output = git(git_dir, "diff", "-M", "--name-status", "-z", first, second, "--", "docs")
    fields = output.split("\0")
    index = 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        if status.startswith(("R", "C")):
            if status.startswith("R"):
                found[fields[index + 1]] = fields[index + 2]
            index += 3
        else:
            index += 2
    return found


@dataclass(frozen=True)
class Resolution:
    """A reference in the newest release to a URN no document has, looked up in history."""

    urn: str
    #: The document history knows by that name, where it went (None: history never knew it).
    became: str | None
    #: The last release that had that document.
    last_seen: str | None


def snapshots(history: History) -> tuple[list[Snapshot], list[list[Release]]]:
    """One snapshot per commit, in release order, and the tags that name each."""
    groups: dict[str, list[Release]] = {}
    for release in history.releases:
        groups.setdefault(release.commit, []).append(release)
    ordered = list(groups.values())
    # A change is dated by the first release (tag) that has it.
    found = [Snapshot(tags[0], history.builds[tags[0].commit].documents) for tags in ordered]
    return found, ordered


def trace_history(history: History) -> Lineage:
    found, _ = snapshots(history)
    return trace(found, lambda first, second: renames(history.git_dir, first, second))


def release_description(history: History) -> list[Triple]:
    """Each release as a DCAT dataset and PROV entity."""
    triples: list[Triple] = []
    previous: Release | None = None
    for release in history.releases:
        build = history.builds[release.commit]
        subject, commit = release.urn, commit_urn(release.commit)
        triples += [
            (subject, RDF.type, DCAT.Dataset),
            (subject, RDF.type, PROV.Entity),
            (subject, DCTERMS.title, Literal(f"Algoritmekader {release.tag}", lang="nl")),
            (subject, _VERSION, Literal(release.tag)),
            (subject, DCTERMS.issued, Literal(release.date, datatype=XSD.dateTime)),
            (subject, PROV.wasDerivedFrom, commit),
            (subject, VOID.triples, Literal(build.triples)),
            (commit, RDF.type, PROV.Entity),
            (commit, DCTERMS.identifier, Literal(release.commit)),
            (commit, DCTERMS.date, Literal(release.date, datatype=XSD.dateTime)),
        ]
        if history.repository.startswith(("https://", "http://")):
            triples.append((commit, DCTERMS.source, URIRef(history.repository)))
        if previous is not None:
            triples.append((subject, _PREVIOUS_VERSION, previous.urn))
        for kind, count in build.counts.items():
            part = release_urn(release.tag, kind)
            triples += [
                (subject, VOID.classPartition, part),
                (part, VOID["class"], _CLASSES[kind]),
                (part, VOID.entities, Literal(count)),
            ]
        previous = release
    return triples


def resolve_dangling(history: History, lineage: Lineage) -> list[Resolution]:
    """References of the newest release to vereisten and maatregelen no document has,
    looked up by name in the earlier releases and followed to where they went."""
    dangling = history.newest.dangling  # worked out in the newest release's build
    out = []
    last = len(lineage.snapshots) - 1
    names = lineage.names()
    for urn in dangling:
        known_as = names.get(urn.rsplit(":", 1)[-1])
        if known_as is None:
            out.append(Resolution(urn, None, None))
            continue
        index, record = lineage.follow(*known_as)
        became = record.urn if index == last else None
        out.append(Resolution(urn, became, lineage.snapshots[index].release.tag))
    return out


def resolution_triples(resolutions: Sequence[Resolution], history: History) -> list[Triple]:
    tags = {release.tag: release for release in history.releases}
    triples: list[Triple] = []
    for found in resolutions:
        subject = URIRef(found.urn)
        if found.became is not None:
            triples.append((subject, DCTERMS.isReplacedBy, URIRef(found.became)))
        elif found.last_seen is not None:
            triples.append((subject, AK.laatsteRelease, tags[found.last_seen].urn))
    return triples


def dataset_files(history: History, lineage: Lineage, extra: Sequence[Triple]) -> dict[str, Joined]:
    """``releases.nq`` and ``releases.trig`` (and gzipped): the newest release as the default
    graph, every release in its graph (the chunks the builds wrote, joined as they are
    published), then the releases' description and the lineage; the same history gives the
    same bytes."""
    tail = dataset_tail(history, lineage, extra)
    return {
        name: Joined((*parts, tail[extension]))
        for name, (parts, extension) in dataset_heads(history).items()
    }


def dataset_heads(history: History) -> dict[str, tuple[tuple[bytes | Path, ...], str]]:
    """Each dataset file's name, its parts before the tail (the newest release as the default
    graph, then every release's chunk), and the extension of its tail."""
    chunks = history.chunks
    return {
        f"{file.name}{suffix}": (
            (
                history.newest.files[DEFAULT_FILES[extension]],
                *(chunks.path(r.commit, str(r.urn), extension) for r in history.releases),
            ),
            extension,
        )
        for file, suffix, extension in _DUMP_FILES
    }


def dataset_tail(history: History, lineage: Lineage, extra: Sequence[Triple]) -> dict[str, bytes]:
    """The end of the dataset files, per extension: the releases' description and the
    lineage (with ``extra``), each in its graph."""
    found, groups = snapshots(history)
    dates = history.file_dates

    def modified(path: str, release: Release) -> str | None:
        moment = _instant(release.date)
        return next((date for date in dates.get(path, []) if _instant(date) <= moment), None)

    presence = presence_triples(groups, [s.documents for s in found], modified)
    convert = OxigraphTerms()
    described = [
        ox.Quad(convert(triple[0]), convert(triple[1]), convert(triple[2]), ox.NamedNode(graph))
        for graph, triples in (
            (RELEASES_GRAPH, sorted_triples(release_description(history))),
            (LINEAGE_GRAPH, sorted_triples({*lineage_triples(lineage), *presence, *extra})),
        )
        for triple in triples
    ]
    return serialise_quads(described)


@dataclass(frozen=True)
class _Dataset:
    """A dataset file (:class:`Joined`, :class:`kg.publication.Assembled`) with its checksum
    worked out beforehand (:func:`_dataset_files_hashed`)."""

    joined: Joined
    digest: str

    def size(self) -> int:
        return self.joined.size()

    def sha256(self) -> str:
        return self.digest

    def write(self, path: Path) -> None:
        self.joined.write(path)


def _dataset_files_hashed(
    history: History,
) -> tuple[Lineage, list[Resolution], dict[str, _Dataset]]:
    """The lineage, what the newest release's dangling references became, and the dataset
    files, their parts before the tail (a hundred megabytes and more) hashed in threads while
    the lineage is traced and its tail written (hashlib lets go of the GIL): the publication
    then hashes only the tail."""
    heads = dataset_heads(history)
    with ThreadPoolExecutor(max_workers=len(heads)) as pool:
        hashing = {name: pool.submit(head_digest, parts) for name, (parts, _) in heads.items()}
        lineage = trace_history(history)
        resolutions = resolve_dangling(history, lineage)
        tail = dataset_tail(history, lineage, resolution_triples(resolutions, history))
        files = {
            name: _Dataset(
                Joined((*parts, tail[extension])), hashing[name].result()(tail[extension])
            )
            for name, (parts, extension) in heads.items()
        }
    return lineage, resolutions, files


def head_digest(parts: Sequence[bytes | Path]) -> Callable[[bytes], str]:
    """The SHA-256 of ``parts`` one after the other (files hashed from a memory map, as
    :meth:`Joined.sha256`), as a function that gives the hex digest with a tail added."""
    digest = sha256_of(parts)

    def finished(tail: bytes) -> str:
        whole = digest.copy()
        whole.update(tail)
        return whole.hexdigest()

    return finished


@dataclass(frozen=True)
class Published:
    """What ``kg build --git`` did: the publication, the history built, its lineage, and what
    the newest release's references to names no document has became."""

    publication: Publication
    history: History
    lineage: Lineage
    resolutions: tuple[Resolution, ...]


def run_history_build(settings: Settings, repository: str, out: TextIO, err: TextIO) -> Published:
    """``kg build --git``: build, publish, and print a summary. Without the cyclic garbage
    collector (as ``kg build``: everything made lives until the end; the children that build
    older releases turn it on again, :mod:`kg.history`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_history_build(settings, repository, out, err)
    finally:
        if was_enabled:
            gc.enable()


def _run_history_build(settings: Settings, repository: str, out: TextIO, err: TextIO) -> Published:
    started = time.perf_counter()
    history = build_history(settings, repository, settings.refs)
    lineage, resolutions, files = _dataset_files_hashed(history)
    newest = history.newest
    publication = publish_files(
        settings.out, newest.described, {**newest.files, **files}, newest.validation
    )
    commits = len({release.commit for release in history.releases})
    print(
        f"releases: {len(history.releases)} ({commits} commits, {len(history.built)} built, "
        f"{commits - len(history.built)} from the cache); newest: {history.releases[-1].tag}",
        file=out,
    )
    renumbered = sum(move.renumbered for move in lineage.moves)
    print(
        f"lineage: {len(lineage.moves)} URN changes ({renumbered} renumberings), "
        f"{len(lineage.reuses)} reused URNs",
        file=out,
    )
    for found in resolutions:
        what = found.became or (f"removed after {found.last_seen}" if found.last_seen else None)
        print(f"reference to {found.urn}: {what or 'unknown in history'}", file=err)
    print(f"published to {publication.path} in {time.perf_counter() - started:.2f} s", file=out)
    return Published(publication, history, lineage, tuple(resolutions))
