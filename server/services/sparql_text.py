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

The same lexer serves the workbench: which prefixes a query declares and uses
(:func:`with_prefixes` declares the predeclared ones it lacks in front of it), and where the
parser's error is in the text the user wrote (:func:`locate_error`: the engine counts lines in
the text it was given, prefixes included; its grammar dump is shortened).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kg.namespace import PREFIXES

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
    #: The query declares its own ``BASE`` (in its prologue).
    declares_base: bool = False


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
    """What the lexer sees in ``text``; the same text (a request asks up to four times: the
    checks, the dataset, the store's form) is read once (0.05 ms for a query of the mix)."""
    return _remembered_outline(text)


def _outline(text: str) -> Outline:
    form: str | None = None
    depth = deepest = 0
    service = dataset = base = False
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
            base = base or (form is None and word == "BASE")
    return Outline(form, deepest, service, dataset, base)


#: The texts of the requests in flight (a worker's threads), at most 64 KiB each.
_remembered_outline = functools.lru_cache(maxsize=16)(_outline)


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


# -- Predeclared prefixes (the workbench, the example library) -------------------------------

#: The prefixes a query on the workbench may use without declaring them.
PREDECLARED: dict[str, str] = {
    name: PREFIXES[name] for name in ("ak", "rdf", "rdfs", "skos", "dcterms", "owl", "xsd", "prov")
}


@dataclass(frozen=True)
class Prepared:
    """A query with the predeclared prefixes it lacks declared in front of it."""

    text: str
    #: The prefixes declared in front, one line each.
    added: tuple[str, ...]

    @property
    def lines_added(self) -> int:
        return len(self.added)


def declared_prefixes(text: str) -> frozenset[str]:
    """The prefix names the query declares itself (``PREFIX ak: <…>`` gives ``ak``)."""
    declared: set[str] = set()
    after_prefix = False
    for kind, value in tokens(text):
        if after_prefix and kind == "word" and value.endswith(":"):
            declared.add(value[:-1])
        after_prefix = kind == "word" and value.upper() == "PREFIX"
    return frozenset(declared)


def used_prefixes(text: str) -> frozenset[str]:
    """The prefix names of the prefixed names in the query (``ak:Maatregel`` gives ``ak``)."""
    return frozenset(
        value.partition(":")[0]
        for kind, value in tokens(text)
        if kind == "word" and ":" in value and value[0] not in "?$@" and not value.startswith("_:")
    )


def with_prefixes(text: str) -> Prepared:
    """``text`` with a ``PREFIX`` line in front for each predeclared prefix it does not
    declare itself (its own declaration wins)."""
    declared = declared_prefixes(text)
    added = tuple(name for name in PREDECLARED if name not in declared)
    header = "".join(f"PREFIX {name}: <{PREDECLARED[name]}>\n" for name in added)
    return Prepared(header + text, added)


# -- Where a syntax error is ------------------------------------------------------------------


@dataclass(frozen=True)
class SyntaxProblem:
    """A parser error, at its place in the text the user wrote (1-based line and column)."""

    line: int | None
    column: int | None
    #: The parser's message without its position, shortened.
    message: str
    #: The user's line the error is on, if it has one.
    source_line: str | None
    #: Prefixes the query uses but nobody declares (the engine's message does not say so).
    undeclared: tuple[str, ...]

    @property
    def pointer(self) -> str:
        """A ``^`` under the error's column of :attr:`source_line` (its tabs kept, so that it
        lines up in a ``<pre>``)."""
        if self.source_line is None or self.column is None:
            return ""
        before = self.source_line[: self.column - 1]
        return "".join("\t" if ch == "\t" else " " for ch in before) + "^"


#: A parser message is cut after this many characters (its grammar dump can run to pages).
MESSAGE_CHARS = 200


def locate_error(message: str, prepared: Prepared, user_text: str) -> SyntaxProblem:
    """The engine's ``error at L:C: …`` on ``prepared.text``, moved back to ``user_text``."""
    line, column, rest = _position(message)
    if line is not None:
        line -= prepared.lines_added
        if line < 1:  # not in the user's text (cannot happen with valid declarations)
            line = column = None
    lines = user_text.splitlines()
    source_line = lines[line - 1] if line is not None and line <= len(lines) else None
    first = rest.strip().splitlines()[0] if rest.strip() else "syntax error"
    if len(first) > MESSAGE_CHARS:
        first = first[:MESSAGE_CHARS].rstrip(", ") + " …"
    known = declared_prefixes(user_text) | PREDECLARED.keys()
    undeclared = tuple(sorted(used_prefixes(user_text) - known))
    return SyntaxProblem(line, column, first, source_line, undeclared)


def _position(message: str) -> tuple[int | None, int | None, str]:
    """``(line, column, the rest)`` of ``error at 3:11: expected …``; no position: Nones."""
    head, sep, rest = message.partition(": ")
    where = head.removeprefix("error at ")
    line, colon, column = where.partition(":")
    if sep and where != head and colon and line.isdigit() and column.isdigit():
        return int(line), int(column), rest
    return None, None, message
