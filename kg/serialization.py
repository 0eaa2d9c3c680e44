"""Fast, deterministic serialisations of a graph: N-Triples, Turtle and compact JSON-LD.

rdflib builds the graph; writing it with rdflib's serialisers took most of a build (0.8 s for
Turtle of the real corpus), so Turtle and N-Triples are written by Oxigraph and JSON-LD by a
small writer here, from Oxigraph's terms. Triples are sorted, so the same content always gives
the same bytes (and the same checksums and ETags): the dumps of a graph (:func:`write_dumps`)
by their N-Triples line, which Oxigraph writes (the terms are converted once, looked up by
plain strings: rdflib's terms hash and compare in Python).
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


class OxigraphTerms:
    """rdflib terms to Oxigraph terms (the one converter), each distinct term made once: IRIs
    and blank nodes looked up by their text, literals by text, language and datatype (plain
    strings, hashed and compared in C)."""

    def __init__(self) -> None:
        self.iris: dict[str, Any] = {}
        self.blanks: dict[str, Any] = {}
        self.literals: dict[tuple[str, str | None, str | None], Any] = {}

    def __call__(self, term: Node) -> Any:
        if isinstance(term, URIRef):
            text = str(term)
            found = self.iris.get(text)
            if found is None:
                found = self.iris[text] = ox.NamedNode(text)
            return found
        if isinstance(term, Literal):
            datatype = term.datatype
            key = (str(term), term.language, None if datatype is None else str(datatype))
            found = self.literals.get(key)
            if found is None:
                found = self.literals[key] = _ox_literal(*key)
            return found
        if isinstance(term, BNode):
            text = str(term)
            found = self.blanks.get(text)
            if found is None:
                found = self.blanks[text] = ox.BlankNode(text)
            return found
        raise TypeError(f"not an RDF term: {term!r}")


def _ox_literal(text: str, language: str | None, datatype: str | None) -> Any:
    if language:
        return ox.Literal(text, language=language)
    if datatype:
        return ox.Literal(text, datatype=ox.NamedNode(datatype))
    return ox.Literal(text)


def in_line_order(triples: Iterable[Triple]) -> list[Any]:
    """``triples`` as Oxigraph triples sorted by their N-Triples lines: the order of every dump
    of a graph (a release's chunks too), so the same triples are always the same bytes."""
    convert = OxigraphTerms()
    ox_triples = [ox.Triple(convert(s), convert(p), convert(o)) for s, p, o in triples]
    ox_triples.sort(key=str)  # Oxigraph's text of a triple: its N-Triples line, without " ."
    return ox_triples


def write_dumps(triples: Iterable[Triple]) -> tuple[bytes, bytes, bytes]:
    """Turtle, N-Triples and JSON-LD of ``triples``, sorted by their N-Triples lines (so a
    subject's triples are together, and the same triples give the same bytes)."""
    ox_triples = in_line_order(triples)
    return (
        write_rdf(ox_triples, "turtle"),
        write_rdf(ox_triples, "ntriples"),
        _jsonld(ox_triples),
    )


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
    convert = OxigraphTerms()
    return [ox.Triple(convert(s), convert(p), convert(o)) for s, p, o in triples]


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
    return _jsonld(oxigraph_triples(triples))


_RDF_TYPE = str(RDF.type)
#: Literals of these datatypes are written without one (plain and language-tagged strings).
_IMPLICIT_DATATYPES = frozenset({"http://www.w3.org/2001/XMLSchema#string", str(RDF.langString)})


def _jsonld(triples: list[Any]) -> bytes:
    """JSON-LD of Oxigraph triples (in order: a subject's triples together)."""
    compact = _compactor()
    nodes: list[dict[str, Any]] = []
    subject: Any = None
    for triple in triples:
        s = triple.subject
        if s != subject:
            subject = s
            nodes.append({"@id": _node_id(s, compact)})
        _add_value(nodes[-1], triple.predicate.value, triple.object, compact)
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


def _node_id(term: Any, compact: Callable[[str], str]) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else compact(term.value)


def _add_value(node: dict[str, Any], p: str, o: Any, compact: Callable[[str], str]) -> None:
    if p == _RDF_TYPE and not isinstance(o, ox.Literal):
        node.setdefault("@type", []).append(_node_id(o, compact))
    else:
        node.setdefault(compact(p), []).append(_value(o, compact))


def _value(o: Any, compact: Callable[[str], str]) -> dict[str, Any]:
    if not isinstance(o, ox.Literal):
        return {"@id": _node_id(o, compact)}
    value: dict[str, Any] = {"@value": o.value}
    language = o.language
    if language:
        value["@language"] = language
    else:
        datatype = o.datatype.value
        if datatype not in _IMPLICIT_DATATYPES:
            value["@type"] = compact(datatype)
    return value
