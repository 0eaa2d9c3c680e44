"""The glossary ``includes/begrippenlijst.md``: Markdown abbreviations ``*[term]: definition``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.identifier import term_urn

GLOSSARY_PATH = "includes/begrippenlijst.md"
_ENTRY = re.compile(r"^\*\[(?P<term>[^\]]+)\]:\s*(?P<definition>.*?)\s*$")


@dataclass(frozen=True)
class Term:
    term: str
    definition: str
    line: int
    urn: URIRef


def parse_glossary(path: str, text: str) -> tuple[list[Term], list[Diagnostic]]:
    terms: dict[URIRef, Term] = {}
    diagnostics: list[Diagnostic] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _ENTRY.match(line)
        if match is None:
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
        term = match.group("term").strip()
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
        terms[urn] = Term(term, match.group("definition"), number, urn)
    return list(terms.values()), diagnostics
