"""The glossary ``includes/begrippenlijst.md``: Markdown abbreviations ``*[term]: definition``.

Read with Python-Markdown's own ``abbr`` extension (the one upstream's site applies the file
with), one line at a time so that every term keeps its line and a line that is not an
abbreviation is reported where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.identifier import term_urn

GLOSSARY_PATH = "includes/begrippenlijst.md"


@dataclass(frozen=True)
class Term:
    term: str
    definition: str
    line: int
    urn: URIRef


def parse_glossary(path: str, text: str) -> tuple[list[Term], list[Diagnostic]]:
    import markdown  # only when the glossary is parsed (a rebuild reads the parse)
    from markdown.extensions.abbr import AbbrExtension, AbbrTreeprocessor

    terms: dict[URIRef, Term] = {}
    diagnostics: list[Diagnostic] = []
    engine = markdown.Markdown(extensions=[AbbrExtension()])
    abbreviations = engine.treeprocessors["abbr"]
    assert isinstance(abbreviations, AbbrTreeprocessor)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        engine.reset()
        engine.convert(line)
        if len(abbreviations.abbrs) != 1:
            diagnostics.append(
                Diagnostic(
                    path,
                    number,
                    Severity.WARNING,
                    "not a glossary entry '*[term]: definition'",
                    "glossary",
                )
            )
            continue
        term, definition = next(iter(abbreviations.abbrs.items()))
        term = term.strip()
        urn = term_urn("begrip", term)
        if urn in terms:
            first = terms[urn]
            diagnostics.append(
                Diagnostic(
                    path,
                    number,
                    Severity.ERROR,
                    f"glossary term {term!r} repeats {first.term!r} of line {first.line} ({urn})",
                    "duplicate-term",
                )
            )
            continue
        terms[urn] = Term(term, definition.strip(), number, urn)
    return list(terms.values()), diagnostics
