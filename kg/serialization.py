"""Fast, deterministic serialisations of a graph: N-Triples, Turtle and compact JSON-LD.

rdflib builds the graph; writing it with rdflib's serialisers took most of a build (0.8 s for
Turtle of the real corpus), so Turtle and N-Triples are written by Oxigraph and JSON-LD by a
small writer here. Triples are sorted, so the same content always gives the same bytes (and the
same checksums and ETags).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF
from rdflib.term import Node

from kg.namespace import PREFIXES

Triple = tuple[Node, Node, Node]


def to_oxigraph(term: Node, cache: dict[Node, Any]) -> Any:
    found = cache.get(term)
    if found is not None:
        return found
    if isinstance(term, URIRef):
        found = ox.NamedNode(str(term))
    elif isinstance(term, BNode):
        found = ox.BlankNode(str(term))
    elif isinstance(term, Literal):
        if term.language:
            found = ox.Literal(str(term), language=term.language)
        elif term.datatype:
            found = ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        else:
            found = ox.Literal(str(term))
    else:
        raise TypeError(f"not an RDF term: {term!r}")
    cache[term] = found
    return found


def from_oxigraph(term: Any) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        if datatype == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(datatype))
    raise TypeError(f"not an RDF term: {term!r}")


def rdflib_triples(triples: Iterable[Any]) -> Iterator[Triple]:
    """Oxigraph triples as rdflib triples."""
    for triple in triples:
        yield (
            from_oxigraph(triple.subject),
            from_oxigraph(triple.predicate),
            from_oxigraph(triple.object),
        )


def read_turtle(path: Path) -> Graph:
    """A Turtle file as an rdflib graph, parsed by Oxigraph (several times faster than rdflib's
    parser; the shapes and the ontology are read on every build)."""
    graph = Graph(store="SimpleMemory")
    for triple in rdflib_triples(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE)):
        graph.add(triple)
    return graph


def sorted_triples(triples: Iterable[Triple]) -> list[Triple]:
    """Subjects, then predicates, then objects; literals of equal text by language/datatype."""

    def key(triple: Triple) -> tuple[str, str, str, str]:
        s, p, o = triple
        extra = f"L{o.language or o.datatype or ''}" if isinstance(o, Literal) else "I"
        return (str(s), str(p), str(o), extra)

    return sorted(triples, key=key)


def oxigraph_triples(triples: Iterable[Triple]) -> list[Any]:
    cache: dict[Node, Any] = {}
    return [
        ox.Triple(to_oxigraph(s, cache), to_oxigraph(p, cache), to_oxigraph(o, cache))
        for s, p, o in triples
    ]


def prefix_map() -> dict[str, str]:
    return dict(PREFIXES)


def write_rdf(triples: list[Any], format_name: str) -> bytes:
    """``triples`` as Oxigraph terms, in ``turtle`` or ``ntriples``."""
    formats = {"turtle": ox.RdfFormat.TURTLE, "ntriples": ox.RdfFormat.N_TRIPLES}
    if format_name not in formats:
        raise ValueError(f"unknown format {format_name!r}")
    data = ox.serialize(triples, format=formats[format_name], prefixes=prefix_map())
    assert isinstance(data, bytes)
    return data


def jsonld_context() -> dict[str, Any]:
    """The JSON-LD context: the project's prefixes (also published as ``context.jsonld``)."""
    return {"@context": prefix_map()}


def write_jsonld(triples: list[Triple]) -> bytes:
    """Compact JSON-LD with the context inline: one node object per subject, in order."""
    compact = _compactor()
    nodes: list[dict[str, Any]] = []
    subject: Node | None = None
    for s, p, o in triples:
        if s != subject:
            subject = s
            nodes.append({"@id": _node_id(s, compact)})
        _add_value(nodes[-1], p, o, compact)
    # One node object a line: readable, diffable, and written by json's C encoder.
    lines = ",\n".join(json.dumps(node, ensure_ascii=False) for node in nodes)
    context = json.dumps(jsonld_context()["@context"], ensure_ascii=False)
    return f'{{"@context": {context},\n"@graph": [\n{lines}\n]}}\n'.encode()


def _compactor() -> Callable[[str], str]:
    """``iri`` -> ``prefix:local`` by the longest matching namespace (remembered per IRI)."""
    prefixes = sorted(prefix_map().items(), key=lambda item: -len(item[1]))
    compacted: dict[str, str] = {}

    def compact(iri: str) -> str:
        found = compacted.get(iri)
        if found is None:
            found = compacted[iri] = _compact_iri(iri, prefixes)
        return found

    return compact


def _compact_iri(iri: str, prefixes: list[tuple[str, str]]) -> str:
    for prefix, namespace in prefixes:
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


def _node_id(term: Node, compact: Callable[[str], str]) -> str:
    return f"_:{term}" if isinstance(term, BNode) else compact(str(term))


def _add_value(node: dict[str, Any], p: Node, o: Node, compact: Callable[[str], str]) -> None:
    if p == RDF.type and not isinstance(o, Literal):
        node.setdefault("@type", []).append(_node_id(o, compact))
    else:
        node.setdefault(compact(str(p)), []).append(_value(o, compact))


def _value(o: Node, compact: Callable[[str], str]) -> dict[str, Any]:
    if not isinstance(o, Literal):
        return {"@id": _node_id(o, compact)}
    value: dict[str, Any] = {"@value": str(o)}
    if o.language:
        value["@language"] = o.language
    elif o.datatype:
        value["@type"] = compact(str(o.datatype))
    return value
