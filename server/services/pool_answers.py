"""SPARQL results written once, row by row, in the format asked for, within a byte budget.

Oxigraph serialises a whole result set or nothing, so an answer capped at ``max_rows`` used to
go through SPARQL TSV and back (+7 ms on a 793-row answer, +75 ms at ten times the data). Here
the rows a query yields are written straight into JSON, XML, CSV or TSV as they come, the same
bytes (TSV, CSV, JSON) or the same document (XML) Oxigraph writes, and the writing stops as soon
as the answer would pass ``max_bytes`` (:class:`AnswerTooLarge`): a query that builds a
512 MB answer is stopped inside the query process, within its time limit, instead of taking
the web worker to 2 GB.

SPARQL JSON rows are written by orjson (as :mod:`server.services.store_answers` does): the
json module took 0.33 ms of a lookup's 0.4 ms in the query process (33 rows), the engine
0.05 ms. Its output is the json module's with ``ensure_ascii=False`` and no spaces; the terms
pyoxigraph gives are valid Unicode (no lone surrogate, which orjson refuses).

This module imports only the standard library, orjson and pyoxigraph: the sandboxed query
process (:mod:`server.services.pool_child`) runs it without loading the web application.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson
import pyoxigraph as ox

_XSD = "http://www.w3.org/2001/XMLSchema#"
_STRING = _XSD + "string"
_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_DIR_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"
_PLAIN = (_STRING, _LANG_STRING, _DIR_LANG_STRING)
_XML_HEAD = '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
_ITS = ' xmlns:its="http://www.w3.org/2005/11/its" its:version="2.0"'
_CSV_SPECIAL = frozenset(',"\r\n')
_DIGITS = frozenset("0123456789")
_QUOTE = {'"': "&quot;"}


class AnswerTooLarge(Exception):
    """The answer would have more than the allowed bytes."""


class Budget:
    """Chunks of an answer, refused once they pass ``limit`` bytes together."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] = []

    def write(self, text: str) -> None:
        self.write_bytes(text.encode("utf-8", "surrogatepass"))

    def write_bytes(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise AnswerTooLarge(f"the answer has more than {self.limit} bytes")
        self.chunks.append(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def write_solutions(
    key: str, variables: Sequence[str], rows: Iterable[ox.QuerySolution], budget: Budget
) -> None:
    """``rows`` (each a solution over ``variables``) as SPARQL results in format ``key``
    (``json``, ``xml``, ``csv``, ``tsv``) into ``budget``."""
    _WRITERS[key](variables, rows, budget)


def _json(variables: Sequence[str], rows: Iterable[ox.QuerySolution], out: Budget) -> None:
    out.write('{"head":{"vars":' + _dumps(list(variables)) + '},"results":{"bindings":[')
    separator = b""
    for row in rows:
        binding = {
            name: _json_term(term)
            for name, term in zip(variables, row, strict=True)
            if term is not None
        }
        out.write_bytes(separator + orjson.dumps(binding))
        separator = b","
    out.write("]}}")


def _json_term(term: Any) -> dict[str, Any]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Triple):
        parts = {"subject": term.subject, "predicate": term.predicate, "object": term.object}
        return {"type": "triple", "value": {k: _json_term(v) for k, v in parts.items()}}
    value: dict[str, Any] = {"type": "literal", "value": term.value}
    if term.language:
        value["xml:lang"] = term.language
        if term.direction is not None:
            value["its:dir"] = _direction(term)
    elif term.datatype.value != _STRING:
        value["datatype"] = term.datatype.value
    return value


def _xml(variables: Sequence[str], rows: Iterable[ox.QuerySolution], out: Budget) -> None:
    head = "".join(f"<variable name={quoteattr(name)}/>" for name in variables)
    out.write(f"{_XML_HEAD}<head>{head}</head><results>")
    for row in rows:
        bindings = "".join(
            f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>"
            for name, term in zip(variables, row, strict=True)
            if term is not None
        )
        out.write(f"<result>{bindings}</result>")
    out.write("</results></sparql>")


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Triple):
        parts = (("subject", term.subject), ("predicate", term.predicate), ("object", term.object))
        return "<triple>" + "".join(f"<{k}>{_xml_term(v)}</{k}>" for k, v in parts) + "</triple>"
    attributes = ""
    if term.language:
        attributes = f" xml:lang={quoteattr(term.language)}"
        if term.direction is not None:
            attributes += f" its:dir={quoteattr(_direction(term))}{_ITS}"
    elif term.datatype.value != _STRING:
        attributes = f" datatype={quoteattr(term.datatype.value)}"
    return f"<literal{attributes}>{escape(term.value, _QUOTE)}</literal>"


def _csv(variables: Sequence[str], rows: Iterable[ox.QuerySolution], out: Budget) -> None:
    out.write(",".join(map(_csv_field, variables)) + "\r\n")
    for row in rows:
        out.write(",".join(_csv_field(_csv_term(term)) for term in row) + "\r\n")


def _csv_term(term: Any) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Triple):
        return " ".join(_csv_term(part) for part in (term.subject, term.predicate, term.object))
    return str(term.value)


def _csv_field(value: str) -> str:
    if _CSV_SPECIAL.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def _tsv(variables: Sequence[str], rows: Iterable[ox.QuerySolution], out: Budget) -> None:
    out.write("\t".join(f"?{name}" for name in variables) + "\n")
    for row in rows:
        out.write("\t".join(map(_tsv_term, row)) + "\n")


def _tsv_term(term: Any) -> str:
    """Oxigraph's term syntax, numbers and booleans bare as Oxigraph writes them, and
    ``<<( … )>>`` around a triple term."""
    if term is None:
        return ""
    if isinstance(term, ox.Triple):
        parts = (term.subject, term.predicate, term.object)
        return "<<( " + " ".join(map(_tsv_term, parts)) + " )>>"
    if isinstance(term, ox.Literal) and _bare(term):
        return str(term.value)
    return str(term)


def _bare(literal: ox.Literal) -> bool:
    """The literal may stand in TSV as itself (Turtle's short forms)."""
    value, datatype = literal.value, literal.datatype.value
    if datatype == _XSD + "boolean":
        return value in ("true", "false")
    unsigned = value[1:] if value[:1] in ("+", "-") else value
    if datatype == _XSD + "integer":
        return _digits(unsigned)
    if datatype == _XSD + "decimal":
        whole, dot, fraction = unsigned.partition(".")
        return bool(dot) and _digits(fraction) and (whole == "" or _digits(whole))
    if datatype == _XSD + "double":
        mantissa, _, exponent = unsigned.lower().partition("e")
        exponent = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        whole, _, fraction = mantissa.partition(".")
        parts = [part for part in (whole, fraction) if part]
        return bool(parts) and all(map(_digits, parts)) and _digits(exponent)
    return False


def _digits(text: str) -> bool:
    return bool(text) and _DIGITS.issuperset(text)


def _direction(literal: ox.Literal) -> str:
    direction = literal.direction
    return "rtl" if direction == ox.BaseDirection.RTL else "ltr"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_WRITERS: dict[str, Callable[[Sequence[str], Iterable[Any], Budget], None]] = {
    "json": _json,
    "xml": _xml,
    "csv": _csv,
    "tsv": _tsv,
}
