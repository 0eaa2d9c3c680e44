"""The neighbourhood of a vereiste, maatregel or hulpmiddel: what it links to and what links to it.

The chain of the framework is hulpmiddel → maatregel → vereiste (front-matter ``maatregel:``
and ``vereiste:`` lists, ``ak:maatregel`` / ``ak:vereiste`` / ``ak:hulpmiddel`` in the graph).
A resource page shows its direct neighbours along those links as a small graph
(:func:`server.services.charts.graph_svg`): at most :data:`LIMIT` of them, the rest counted.
Read straight from the store's quads (no query text is built from the URN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyoxigraph as ox
from markupsafe import Markup

from kg.kind import HULPMIDDEL, MAATREGEL, VEREISTE, Kind
from kg.namespace import AK_IRI
from server.services.addresses import resource_url
from server.services.charts import Node, graph_svg
from server.services.index import SiteIndex

#: Neighbours drawn at most; the rest are counted ("+N meer").
LIMIT = 24
#: The kinds of the chain, in the order it is read (left to right).
CHAIN: tuple[Kind, ...] = (HULPMIDDEL, MAATREGEL, VEREISTE)
LINKS: tuple[str, ...] = tuple(
    f"{AK_IRI}{name}" for name in ("hulpmiddel", "maatregel", "vereiste")
)
_CLASSES = {str(kind.classes[0]): kind for kind in CHAIN}
_CODED = frozenset({MAATREGEL.code, VEREISTE.code})


@dataclass(frozen=True)
class Neighbourhood:
    center: Node
    #: Documents that link to the resource, and those it links to (each by kind, then label).
    incoming: tuple[Node, ...]
    outgoing: tuple[Node, ...]
    #: Neighbours left out of the picture.
    more: int
    svg: Markup

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.incoming + self.outgoing


def kind_of(index: SiteIndex, urn: str) -> Kind | None:
    for cls in index.types.get(urn, ()):
        if cls in _CLASSES:
            return _CLASSES[cls]
    return None


def neighbours(store: ox.Store, index: SiteIndex, urn: str) -> tuple[list[str], list[str]]:
    """(documents linking to ``urn``, documents ``urn`` links to), along the chain's links,
    each a vereiste, maatregel or hulpmiddel, without repeats."""
    node = ox.NamedNode(urn)
    incoming: dict[str, None] = {}
    outgoing: dict[str, None] = {}
    for link in LINKS:
        predicate = ox.NamedNode(link)
        for quad in store.quads_for_pattern(None, predicate, node, None):
            if isinstance(quad.subject, ox.NamedNode):
                incoming[quad.subject.value] = None
        for quad in store.quads_for_pattern(node, predicate, None, None):
            if isinstance(quad.object, ox.NamedNode):
                outgoing[quad.object.value] = None
    return _documents(index, incoming, urn), _documents(index, outgoing, urn)


def _documents(index: SiteIndex, iris: Iterable[str], urn: str) -> list[str]:
    """The documents of the chain among ``iris`` (not ``urn`` itself), by kind, then label."""

    def key(iri: str) -> tuple[int, str, str]:
        kind = kind_of(index, iri)
        return (CHAIN.index(kind) if kind else 0, index.label(iri).casefold(), iri)

    return sorted((iri for iri in iris if iri != urn and kind_of(index, iri)), key=key)


def node(index: SiteIndex, urn: str) -> Node:
    kind = kind_of(index, urn)
    code = urn.rsplit(":", 1)[-1] if kind is not None and kind.code in _CODED else ""
    return Node(urn, index.label(urn), resource_url(urn), kind.name if kind else "", code)


def neighbourhood(
    store: ox.Store, index: SiteIndex, urn: str, limit: int = LIMIT
) -> Neighbourhood | None:
    """The picture of ``urn``'s neighbours; None for a resource outside the chain or alone."""
    if kind_of(index, urn) is None:
        return None
    incoming, outgoing = neighbours(store, index, urn)
    if not incoming and not outgoing:
        return None
    shown_out = outgoing[: max(limit - len(incoming), limit // 2)]
    shown_in = incoming[: limit - len(shown_out)]
    more = len(incoming) + len(outgoing) - len(shown_in) - len(shown_out)
    center = node(index, urn)
    nodes_in = tuple(node(index, iri) for iri in shown_in)
    nodes_out = tuple(node(index, iri) for iri in shown_out)
    return Neighbourhood(
        center, nodes_in, nodes_out, more, graph_svg(center, nodes_in, nodes_out, more)
    )
