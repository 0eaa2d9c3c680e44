"""The example library: the researcher questions in ``queries/*.rq`` (the home page and the
query workbench list them, the tests run them all on the real content), and the URN the home
page and VoID show as an example resource.

The queries are files, not Python strings, so that they can be read, copied and run with any
SPARQL client. Each starts with two comment lines in Dutch, ``# title: …`` and
``# description: …``; the rest is the query, which may use the workbench's predeclared
prefixes (:data:`server.services.sparql_text.PREDECLARED`) without declaring them.

``queries/`` stays at the top of the repository and travels in the wheel as
``server/queries/`` (``pyproject.toml`` maps it in); installed, the packaged copy is read, in a
checkout the top-level folder. They are read once, when this module is imported: a file
without its title or description is a broken package and fails loudly. Each is also cut into
coloured pieces then, by Pygments' SPARQL lexer (:func:`highlighted`): the pages show them
coloured without a script, and no page pays for the lexer.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from pygments.lexers import SparqlLexer
from pygments.token import Comment, Keyword, Literal, Name, Number, String

from server.services.sparql_text import with_prefixes

#: The README's example; shown when the graph has it.
EXAMPLE_URN = "urn:nl:ak:mtr:org-02"
#: The header lines every query file starts with, in this order.
HEADER_KEYS = ("title", "description")
#: Token types of Pygments' SPARQL lexer -> the class (``sq-<name>``) the stylesheet colours;
#: the first that contains a token's type wins.
TOKEN_CLASSES: tuple[tuple[Any, str], ...] = (  # Any: Pygments' token types are untyped
    (Comment, "comment"),
    (Keyword, "keyword"),
    (Name.Variable, "variable"),
    (Name.Function, "function"),
    (Name.Label, "iri"),
    (Name.Namespace, "prefix"),
    (String, "string"),
    (Number, "number"),
    (Literal, "string"),
)


class ExampleMissing(FileNotFoundError):
    """The example queries are not where they should be, or one lacks its header."""


@dataclass(frozen=True)
class Example:
    #: The file's name without ``.rq``: a stable key.
    name: str
    title: str
    description: str
    #: The query as written in the file, without the header lines (may use predeclared
    #: prefixes without declaring them): what the workbench shows.
    text: str
    #: :attr:`text` cut into ``(class, piece)`` for coloured ``<span>``s (:func:`highlighted`).
    pieces: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        """The query as any SPARQL client can run it: the predeclared prefixes it does not
        declare itself, declared in front."""
        return with_prefixes(self.text).text


def queries_dir() -> Path:
    """The packaged ``server/queries/``, else the checkout's ``queries/``."""
    packaged = Path(str(files("server"))) / "queries"
    checkout = Path(__file__).resolve().parents[2] / "queries"
    for folder in (packaged, checkout):
        if folder.is_dir() and any(folder.glob("*.rq")):
            return folder
    raise ExampleMissing(f"no queries/*.rq in {packaged} or {checkout}: the package is broken")


def read_example(name: str, source: str) -> Example:
    """One query file: its header lines, then the query."""
    lines = source.splitlines()
    header: dict[str, str] = {}
    for key, line in zip(HEADER_KEYS, lines, strict=False):
        found, sep, value = line.removeprefix("#").partition(":")
        if not line.startswith("#") or not sep or found.strip() != key or not value.strip():
            raise ExampleMissing(f"{name}.rq: line {len(header) + 1} must be '# {key}: …'")
        header[key] = value.strip()
    if len(header) < len(HEADER_KEYS):
        raise ExampleMissing(f"{name}.rq: starts without '# title:' and '# description:'")
    text = "\n".join(lines[len(HEADER_KEYS) :]).strip() + "\n"
    return Example(name, header["title"], header["description"], text, highlighted(text))


def highlighted(text: str) -> tuple[tuple[str, str], ...]:
    """``text`` cut into ``(class, piece)`` by Pygments' SPARQL lexer (class ``""``: plain),
    for a template to wrap in ``<span>``s, escaped as any text: no HTML is made here."""
    pieces: list[tuple[str, str]] = []
    for kind, piece in SparqlLexer(stripnl=False, ensurenl=False).get_tokens(text):
        name = next((name for token, name in TOKEN_CLASSES if kind in token), "")
        if pieces and pieces[-1][0] == name:
            pieces[-1] = (name, pieces[-1][1] + piece)
        else:
            pieces.append((name, piece))
    return tuple(pieces)


def load_examples(folder: Path) -> tuple[Example, ...]:
    """Every ``*.rq`` of ``folder``, in the order of their names."""
    return tuple(
        read_example(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.rq"))
    )


EXAMPLES: tuple[Example, ...] = load_examples(queries_dir())
