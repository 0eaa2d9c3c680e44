"""A SPARQL store's JSON answers made what the embedded engine writes, without pyoxigraph.

Why apart from :mod:`server.services.remote_store`: parsing a store's SPARQL JSON into terms
and writing it again (:mod:`server.services.pool_answers`) was a third of the work of a lookup
through ``kg serve --store``; a SELECT answer asked for in SPARQL JSON is rewritten here
straight from the store's JSON (:func:`passed_through`), term by term the way the embedded
engine writes it, so the bytes are the same. What differs between stores is made alike:
Virtuoso's ``typed-literal``, its blank node names (``nodeID://b10001``, no blank node label)
and its ``1`` for ``true``; a language tag is written in lower case, as Oxigraph does. Whatever
is not plainly one of those (another format, more rows than the caps, an answer the store cut
short, a term of another kind) is left to pyoxigraph, which reads and writes every case.

The JSON is read and written by orjson: the json module took 0.12 ms of a lookup's 33 rows
(a tenth of the worker's processor time for it), orjson 0.04 ms. Its output is the json
module's with ``ensure_ascii=False`` and no spaces, byte for byte (what the engine's writer,
:mod:`server.services.pool_answers`, uses); text it cannot take (a lone surrogate) makes the
answer one for pyoxigraph.

Most terms are already what the engine writes (an IRI or a plain literal, ``type`` then
``value``): they are kept as they came, and an answer of only those, every variable bound in
every row, is written by orjson without a step per term in Python (:func:`_as_they_are`, checked
on the bytes). The Python per term was 3,300 of the 6,200 bytecodes of a lookup through here;
an answer of IRIs only (``maatregelen zonder vereiste``, 200 rows at ×10) went from 13,300 to
1,500.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

from server.services.pool_child import Outcome
from server.services.store_connection import Reply

BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"
_STRING = "http://www.w3.org/2001/XMLSchema#string"
_LANG_STRINGS = (
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString",
)
_CANONICAL_BOOLEANS = {"1": "true", "0": "false"}


def as_the_engine_writes(body: bytes) -> bytes:
    """SPARQL JSON results with every blank node named as RDF allows (Virtuoso names them
    ``nodeID://b10001``, which is no blank node label: the same name, the same new one) and
    every boolean in its canonical form (Virtuoso writes ``true`` as ``1``)."""
    try:
        answer = json.loads(body)
        for row in answer["results"]["bindings"]:
            for term in row.values():
                if term.get("type") == "bnode":
                    digest = hashlib.sha256(str(term["value"]).encode()).hexdigest()[:32]
                    term["value"] = f"b{digest}"
                elif term.get("datatype") == BOOLEAN:
                    term["value"] = _CANONICAL_BOOLEANS.get(term["value"], term["value"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return body  # not what it seemed: the parser says what is wrong with it
    return json.dumps(answer).encode()


def cut_at(reply: Reply) -> int | None:
    """The rows the store cut its answer at (Virtuoso's ``X-SPARQL-MaxRows``), if it did."""
    cut_at = reply.headers.get("X-SPARQL-MaxRows", "").strip()
    return int(cut_at) if cut_at.isdigit() else None


def passed_through(reply: Reply, job: dict[str, Any]) -> Outcome | None:
    """A SELECT answer in SPARQL JSON, asked for in SPARQL JSON, written as the embedded engine
    writes it straight from the store's JSON (not parsed into terms and written again: a third
    of the work of a lookup); None when that cannot be done here (another format, more rows
    than the caps, a cut answer, a term of a kind left to pyoxigraph)."""
    if job["results"] != "json" or reply.media_type != "application/sparql-results+json":
        return None
    if cut_at(reply) is not None:
        return None
    try:
        answer = orjson.loads(reply.body)
        variables, rows = answer["head"]["vars"], answer["results"]["bindings"]
        budget = job["max_rows"] * job["values_per_row"] // max(len(variables), 1)
        if len(rows) > max(1, min(job["max_rows"], budget)):
            return None  # the row cap: pyoxigraph's path counts and marks it
        plain = not any(mark in reply.body for mark in _NOT_PLAIN)
        bindings = _as_they_are(rows, variables) if plain else None
        if bindings is None:
            bindings = orjson.dumps([_row(row, variables) for row in rows])
        data = b'{"head":{"vars":%s},"results":{"bindings":%s}}' % (
            orjson.dumps(variables),
            bindings,
        )
    except (ValueError, KeyError, TypeError, AttributeError, _NotHere):
        return None  # (orjson's errors are ValueErrors and TypeErrors)
    if len(data) > job["max_bytes"]:
        return ("too-large", f"the answer has more than {job['max_bytes']} bytes")
    return ("answer", "json", data, False)


#: What the answer of a store holds when it has a term that is no IRI or plain literal (one in
#: a string too: such an answer goes the long way, term by term).
_NOT_PLAIN = (b'"xml:lang"', b'"datatype"', b'"bnode"', b'"typed-literal"')
#: The start of a term the engine writes as the store did: an IRI or a plain literal, its
#: ``type`` first and its ``value`` a string.
_PLAIN_TERMS = (b'{"type":"uri","value":"', b'{"type":"literal","value":"')


def _as_they_are(rows: list[Any], variables: list[str]) -> bytes | None:
    """``rows`` written by orjson, when that is what the engine writes (None: not sure).

    So it is when every row names all the variables in their order and every term is an IRI
    or a plain literal: ``{"type": "uri" | "literal", "value": "…"}`` and nothing else. That is
    checked on the bytes orjson wrote, not term by term in Python (which took two thirds of
    this module's work on a lookup's answer). In orjson's compact output a ``"`` in a string
    is ``\\"``, so ``{"`` only opens an object, and ``":`` ends a key or sits in a string. So
    each of :data:`_PLAIN_TERMS` found is an object of that form, and ``":`` counts every key
    of every object, at least: ``n`` terms in rows of ``n`` keys in all, ``n`` of those objects
    and ``3 n`` keys leave no room for a term of another form, a key more or a string holding
    ``":``. Only ``[`` could hide a term (in a list under a row's key): the one allowed is the
    list of rows (one in a string also sends the answer the long way)."""
    if not (isinstance(rows, list) and isinstance(variables, list)):
        return None
    if not all(map(variables.__eq__, map(list, rows))):  # (TypeError: a row is no collection)
        return None
    data = orjson.dumps(rows)
    terms = len(rows) * len(variables)
    plain = data.count(_PLAIN_TERMS[0]) + data.count(_PLAIN_TERMS[1])
    if plain != terms or data.count(b'":') != 3 * terms or data.count(b"[") != 1:
        return None
    return data


class _NotHere(Exception):
    """A term :func:`_passed_through` leaves to pyoxigraph."""


#: A term the engine writes as the store did: an IRI or a plain literal, these keys in this
#: order, its value a string.
_AS_IS_KEYS = ("type", "value")
_AS_IS_KINDS = frozenset({"uri", "literal"})


def _row(row: dict[str, Any], variables: list[str]) -> dict[str, Any]:
    """One row as the engine writes it: its terms in the variables' order, each as the engine
    writes it (those that already are, most of them, are kept as they came)."""
    if list(row) != variables:  # a variable unbound, or another order
        return {name: _term(row[name]) for name in variables if name in row}
    for name, term in row.items():
        if not (
            tuple(term) == _AS_IS_KEYS
            and term["type"] in _AS_IS_KINDS
            and type(term["value"]) is str
        ):
            row[name] = _term(term)  # (the same key: the row keeps its size)
    return row


def _term(term: dict[str, Any]) -> dict[str, str]:
    """One term as the embedded engine writes it (``server.services.pool_answers``)."""
    kind, value = term["type"], term["value"]
    if not isinstance(value, str):
        raise _NotHere
    if kind == "uri":
        return {"type": "uri", "value": value}
    if kind == "bnode":
        return {"type": "bnode", "value": "b" + hashlib.sha256(value.encode()).hexdigest()[:32]}
    if kind not in ("literal", "typed-literal") or "its:dir" in term:
        raise _NotHere
    language, datatype = term.get("xml:lang"), term.get("datatype")
    if language:
        if not (language.isascii() and language.replace("-", "").isalnum()):
            raise _NotHere
        return {"type": "literal", "value": value, "xml:lang": language.lower()}
    if datatype is None or datatype == _STRING:
        return {"type": "literal", "value": value}
    if datatype == BOOLEAN:
        value = _CANONICAL_BOOLEANS.get(value, value)
    elif datatype in _LANG_STRINGS or not isinstance(datatype, str):
        raise _NotHere
    return {"type": "literal", "value": value, "datatype": datatype}
