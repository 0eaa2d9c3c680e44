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
        bindings = [_row(row, variables) for row in rows]
        data = orjson.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}})
    except (ValueError, KeyError, TypeError, AttributeError, _NotHere):
        return None  # (orjson's errors are ValueErrors and TypeErrors)
    if len(data) > job["max_bytes"]:
        return ("too-large", f"the answer has more than {job['max_bytes']} bytes")
    return ("answer", "json", data, False)


class _NotHere(Exception):
    """A term :func:`_passed_through` leaves to pyoxigraph."""


def _row(row: dict[str, Any], variables: list[str]) -> dict[str, dict[str, str]]:
    return {name: _term(row[name]) for name in variables if name in row}


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
