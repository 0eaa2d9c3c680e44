"""What a SPARQL query says before the engine reads it: one small lexer, and the checks on it.

The engine (Oxigraph) parses and evaluates recursively on the stack: a query nested two
thousand braces deep (4 KiB of text) overflowed the query process's stack and killed it with
``SIGSEGV``. So every query is read here first, by a lexer that knows what is *not* code
(comments, strings, IRIs), and refused with ``400`` and a reason when it is

* larger than the request limit (``KG_MAX_REQUEST_BYTES``, measured on the decoded text),
* nested deeper than :data:`MAX_DEPTH` in ``{ } ( ) [ ]`` together (real queries stay below
  ten; the engine needs about 4 KiB of stack per level),
* an update (``INSERT``, ``LOAD``, …: the endpoint is read-only), or uses ``SERVICE`` (no
  outbound requests).

Other long constructs (chains of ``+``, ``!``, ``/``, ``BIND``) are linear, not nested; they
are bounded by the size limit and by the large stack the query runs on
(:mod:`server.services.query`). The lexer is linear in the query's length; every other error
is left to the engine's parser, whose message is more precise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: How deep ``{ } ( ) [ ]`` may nest, all kinds counted together.
MAX_DEPTH = 64

_QUERY_KEYWORDS = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
)

#: One token at a time; ``skip`` and ``opaque`` (strings, IRIs) hold no keywords or brackets.
_TOKEN = re.compile(
    r"""
    (?P<skip>\s+|\#[^\n\r]*)
    |(?P<opaque>
        \"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
        |'''(?:[^'\\]|\\.|'(?!''))*'''
        |"(?:[^"\\\n\r]|\\.)*"
        |'(?:[^'\\\n\r]|\\.)*'
        |<[^<>"{}|^`\\\x00-\x20]*>
    )
    |(?P<open>[{(\[])
    |(?P<close>[})\]])
    |(?P<word>(?:[\w?$:@\-]|\\.)+)
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class QueryRefused(ValueError):
    """A query the endpoint will not run (too large or deep, an update, ``SERVICE``): 400."""


@dataclass(frozen=True)
class Outline:
    """What the lexer saw in a query."""

    #: The first query or update keyword (upper case), if any.
    form: str | None
    #: The deepest nesting of ``{ } ( ) [ ]``.
    depth: int
    uses_service: bool
    #: The query names its own dataset (``FROM`` / ``FROM NAMED``).
    names_dataset: bool


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` of every token that is code: ``open``, ``close``, ``word``, ``other``.

    A word is a name, a variable, a prefixed name (with its ``\\#``-style escapes, so that an
    escaped ``#`` or quote cannot start a comment or a string here that the parser does not
    see) or a number. An unterminated string or IRI is no token: its first character is
    ``other`` and reading goes on (the parser will reject the query).
    """
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind is not None and kind not in ("skip", "opaque"):
            yield kind, match.group()


def outline(text: str) -> Outline:
    form: str | None = None
    depth = deepest = 0
    service = dataset = False
    for kind, value in tokens(text):
        if kind == "open":
            depth += 1
            deepest = max(deepest, depth)
        elif kind == "close":
            depth = max(depth - 1, 0)
        elif kind == "word":
            word = value.upper()
            if form is None and (word in _QUERY_KEYWORDS or word in _UPDATE_KEYWORDS):
                form = word
            service = service or word == "SERVICE"
            dataset = dataset or word == "FROM"
    return Outline(form, deepest, service, dataset)


def check_query(text: str, max_bytes: int) -> Outline:
    """The query's outline; :class:`QueryRefused` with the reason when it is not to be run."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise QueryRefused(f"the query has {size} bytes; at most {max_bytes} are accepted")
    seen = outline(text)
    if seen.depth > MAX_DEPTH:
        raise QueryRefused(
            f"the query nests {{ }} ( ) [ ] {seen.depth} deep; at most {MAX_DEPTH} is accepted"
        )
    if seen.form in _UPDATE_KEYWORDS:
        raise QueryRefused(
            f"{seen.form}: this endpoint is read-only; SPARQL Update is not accepted"
        )
    if seen.uses_service:
        raise QueryRefused("SERVICE: federated queries are not supported (no outbound requests)")
    return seen
