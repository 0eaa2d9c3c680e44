"""The release history as the server reads it: releases, where an old URN went, a resource's past.

A publication of ``kg build --git`` holds ``releases.nq`` (:mod:`kg.releases`), loaded into a
store of its own (:attr:`server.services.dataset.Dataset.releases`): every release in its named
graph ``urn:nl:ak:release:<tag>``, the graph describing the releases (DCAT/PROV: version, date,
commit, counts per kind) and the lineage graph (renamings and renumberings as
``ak:UrnWijziging`` / ``ak:Hernummering`` events, reused URNs as ``ak:UrnHergebruik``, and per
resource ``ak:inRelease``, ``ak:eersteRelease``, ``ak:laatsteRelease``, ``dcterms:modified``).
Everything here is read from those graphs per request (a few hundred quads each time); nothing
is kept between requests beyond the snapshot itself.

*Where an old URN went* (:func:`fate`): a URN saved from some release may since name another
document or none. Its most recent move away is followed forward through later moves, release by
release, to the URN its document has in the newest release; a document that was removed on
the way ends the trail at the last release that had it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import unquote

import pyoxigraph as ox
from rdflib.namespace import PROV

from kg.diff import release_order
from kg.identifier import release_urn
from kg.namespace import AK_IRI, DCAT_IRI, DCTERMS_IRI, LINEAGE_GRAPH, RDF_IRI, RELEASES_GRAPH
from kg.namespace import VOID_IRI as VOID

PROV_IRI = str(PROV)

_TYPE = ox.NamedNode(f"{RDF_IRI}type")
_LINEAGE = ox.NamedNode(LINEAGE_GRAPH)
_RELEASES = ox.NamedNode(RELEASES_GRAPH)
_MOVES = (f"{AK_IRI}UrnWijziging", f"{AK_IRI}Hernummering")
_REUSE = ox.NamedNode(f"{AK_IRI}UrnHergebruik")
_OLD, _NEW = ox.NamedNode(f"{AK_IRI}oudeUrn"), ox.NamedNode(f"{AK_IRI}nieuweUrn")


@dataclass(frozen=True)
class ReleaseInfo:
    """One release as the description graph has it."""

    tag: str
    urn: str
    title: str
    #: The commit's date, ISO 8601.
    date: str
    commit: str
    triples: int
    #: (kind, number of documents), by kind.
    counts: tuple[tuple[str, int], ...]
    #: The release before it (None: the first).
    previous: str | None

    def citation(self, url: str) -> str:
        """A citation line: title, version, date, address."""
        return f"Ministerie van BZK, {self.title} (versie {self.tag}, {self.date[:10]}). {url}"


@dataclass(frozen=True)
class Move:
    """A URN change the lineage records into ``release`` (its index in release order)."""

    old: str
    new: str
    release: str
    index: int
    old_title: str
    new_title: str
    renumbered: bool


@dataclass(frozen=True)
class Fate:
    """Where the document an old URN named went."""

    urn: str
    #: The moves followed, oldest first (empty: the URN never moved).
    trail: tuple[Move, ...]
    #: Its URN in the newest release (None: removed, or ambiguous).
    current: str | None
    #: The last release that had the document (when it was removed), else None.
    last_seen: str | None
    #: Several documents took its place at once: the URNs they have.
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResourceHistory:
    urn: str
    releases: tuple[str, ...]
    first: str | None
    last: str | None
    modified: str | None
    #: (release before, release) pairs between which the resource's facts changed.
    changes: tuple[tuple[str, str], ...]
    #: Moves into and out of this URN, oldest first.
    moves: tuple[Move, ...]


def _value(term: object) -> str:
    return term.value if isinstance(term, ox.NamedNode | ox.Literal | ox.BlankNode) else str(term)


def _objects(
    store: ox.Store, subject: ox.NamedNode, predicate: str, graph: ox.NamedNode
) -> list[str]:
    return [
        _value(quad.object)
        for quad in store.quads_for_pattern(subject, ox.NamedNode(predicate), None, graph)
    ]


def _one(store: ox.Store, subject: ox.NamedNode, predicate: str, graph: ox.NamedNode) -> str:
    found = _objects(store, subject, predicate, graph)
    return found[0] if found else ""


def tags(store: ox.Store) -> list[str]:
    """Release graph names, oldest first (the branch head last)."""
    return release_order(store)


def release_infos(store: ox.Store) -> tuple[ReleaseInfo, ...]:
    """Every release, oldest first."""
    infos: list[ReleaseInfo] = []
    previous: str | None = None
    for name in release_order(store):
        subject = ox.NamedNode(name)
        tag = _one(store, subject, f"{DCAT_IRI}version", _RELEASES)
        commit = _one(store, subject, f"{PROV_IRI}wasDerivedFrom", _RELEASES)
        counts = []
        for part in _objects(store, subject, f"{VOID}classPartition", _RELEASES):
            entities = _one(store, ox.NamedNode(part), f"{VOID}entities", _RELEASES)
            counts.append((part.rsplit("#", 1)[-1], int(entities or 0)))
        infos.append(
            ReleaseInfo(
                tag=tag,
                urn=name,
                title=_one(store, subject, f"{DCTERMS_IRI}title", _RELEASES),
                date=_one(store, subject, f"{DCTERMS_IRI}issued", _RELEASES),
                commit=commit.rsplit(":", 1)[-1],
                triples=int(_one(store, subject, f"{VOID}triples", _RELEASES) or 0),
                counts=tuple(sorted(counts)),
                previous=previous,
            )
        )
        previous = tag
    return tuple(infos)


def current_urns(store: ox.Store) -> set[str]:
    """The resources the newest release describes (typed subjects of its graph)."""
    order = release_order(store)
    if not order:
        return set()
    graph = ox.NamedNode(order[-1])
    return {_value(quad.subject) for quad in store.quads_for_pattern(None, _TYPE, None, graph)}


def find_release(store: ox.Store, tag: str) -> str | None:
    """The graph name of release ``tag`` (None: no such release)."""
    name = str(release_urn(tag))
    return name if name in release_order(store) else None


def moves(store: ox.Store, order: list[str]) -> list[Move]:
    """Every URN change the lineage records, in release order."""
    position = {name: index for index, name in enumerate(order)}
    found: list[Move] = []
    for kind in _MOVES:
        for quad in store.quads_for_pattern(None, _TYPE, ox.NamedNode(kind), _LINEAGE):
            event = quad.subject
            assert isinstance(event, ox.NamedNode)
            release = _one(store, event, f"{AK_IRI}volgendeRelease", _LINEAGE)
            found.append(
                Move(
                    old=_one(store, event, _OLD.value, _LINEAGE),
                    new=_one(store, event, _NEW.value, _LINEAGE),
                    release=release,
                    index=position.get(release, -1),
                    old_title=_one(store, event, f"{AK_IRI}oudeTitel", _LINEAGE),
                    new_title=_one(store, event, f"{AK_IRI}nieuweTitel", _LINEAGE),
                    renumbered=kind.endswith("Hernummering"),
                )
            )
    found.sort(key=lambda move: (move.index, move.old, move.new))
    return found


def fate(store: ox.Store, urn: str, current: Iterable[str]) -> Fate | None:
    """Where the document ``urn`` last named went (None: history never knew ``urn``)."""
    order = release_order(store)
    everything = moves(store, order)
    away = [move for move in everything if move.old == urn]
    if not away:
        return _without_moves(store, urn, order, set(current))
    latest = max(move.index for move in away)
    step = [move for move in away if move.index == latest]
    return _follow(store, urn, everything, step, set(current))


def _follow(
    store: ox.Store, urn: str, everything: list[Move], step: list[Move], current: set[str]
) -> Fate:
    """From the moves of one release (``step``), on through later moves of the URN reached."""
    trail: list[Move] = []
    while len({move.new for move in step}) == 1:
        move = step[0]
        trail.append(move)
        step = [m for m in everything if m.old == move.new and m.index > move.index]
        if step:
            first = min(m.index for m in step)
            step = [m for m in step if m.index == first]
    if len({move.new for move in step}) > 1:
        return Fate(urn, tuple(trail), None, None, tuple(sorted({m.new for m in step})))
    end = trail[-1].new
    if end in current:
        return Fate(urn, tuple(trail), end, None)
    last = _objects(store, ox.NamedNode(end), f"{AK_IRI}laatsteRelease", _LINEAGE)
    return Fate(urn, tuple(trail), None, last[0] if last else trail[-1].release)


def _without_moves(store: ox.Store, urn: str, order: list[str], current: set[str]) -> Fate | None:
    """A URN that never moved: removed (last seen), or a name history resolved to a URN."""
    subject = ox.NamedNode(urn)
    replaced = _objects(store, subject, f"{DCTERMS_IRI}isReplacedBy", _LINEAGE)
    live = [target for target in replaced if target in current]
    if len(live) == 1:
        return Fate(urn, (), live[0], None)
    last = _objects(store, subject, f"{AK_IRI}laatsteRelease", _LINEAGE)
    if not last and not replaced:
        return None
    return Fate(urn, (), None, last[0] if last else None, tuple(sorted(replaced)))


@dataclass(frozen=True)
class Notice:
    """What a reused URN named before: until release ``until`` (a graph name) it named
    ``title``, a document that is now ``now`` (None: removed since, or gone several ways)."""

    until: str
    title: str
    now: str | None


def notices(store: ox.Store, urn: str, current: Iterable[str]) -> list[Notice]:
    """What ``urn`` named before another document took it, and where that document is now."""
    order = release_order(store)
    everything = moves(store, order)
    live = set(current)
    found: list[Notice] = []
    for move in everything:
        if move.old != urn or move.index < 1:
            continue
        went = _follow(store, urn, everything, [move], live).current
        if went != urn:
            found.append(Notice(order[move.index - 1], move.old_title, went))
    for before, title, successor in reuses(store, urn):
        if successor is None:
            found.append(Notice(before, title, None))
    return found


def reuses(store: ox.Store, urn: str) -> list[tuple[str, str, str | None]]:
    """What a URN named before another document took it: (last release with the old document,
    its title, where that document went or None)."""
    found = []
    for quad in store.quads_for_pattern(
        None, ox.NamedNode(f"{AK_IRI}hergebruikteUrn"), ox.NamedNode(urn), _LINEAGE
    ):
        event = quad.subject
        assert isinstance(event, ox.NamedNode)
        if not any(store.quads_for_pattern(event, _TYPE, _REUSE, _LINEAGE)):
            continue
        before = _one(store, event, f"{AK_IRI}vorigeRelease", _LINEAGE)
        title = _one(store, event, f"{AK_IRI}oudeTitel", _LINEAGE)
        went = _objects(store, event, f"{DCTERMS_IRI}isReplacedBy", _LINEAGE)
        found.append((before, title, went[0] if went else None))
    return sorted(found)


def resource_history(store: ox.Store, urn: str) -> ResourceHistory | None:
    """The releases ``urn`` is in, first and last, last modified, the releases in which its
    facts changed, and its moves (None: no release has it)."""
    subject = ox.NamedNode(urn)
    order = release_order(store)
    present = set(_objects(store, subject, f"{AK_IRI}inRelease", _LINEAGE))
    if not present:
        return None
    releases = [name for name in order if name in present]
    return ResourceHistory(
        urn=urn,
        releases=tuple(releases),
        first=releases[0],
        last=releases[-1],
        modified=_one(store, subject, f"{DCTERMS_IRI}modified", _LINEAGE) or None,
        changes=tuple(_changes(store, subject, releases, order)),
        moves=tuple(m for m in moves(store, order) if urn in (m.old, m.new)),
    )


def _changes(
    store: ox.Store, subject: ox.NamedNode, releases: list[str], order: list[str]
) -> list[tuple[str, str]]:
    """Consecutive releases (by ``order``) that both have ``subject`` with other facts."""
    facts: dict[str, set[tuple[str, str]]] = {name: set() for name in releases}
    for quad in store.quads_for_pattern(subject, None, None, None):
        graph = _value(quad.graph_name)
        if graph in facts:
            facts[graph].add((quad.predicate.value, str(quad.object)))
    found = []
    for before, after in pairwise(order):
        if before in facts and after in facts and facts[before] != facts[after]:
            found.append((before, after))
    return found


def tag_of(name: str) -> str:
    """The tag of a release graph name (``urn:nl:ak:release:v1.5`` -> ``v1.5``)."""
    return unquote(name.rsplit(":", 1)[-1])
