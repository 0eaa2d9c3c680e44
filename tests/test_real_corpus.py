"""The latest upstream content: every declared URN, every kind, every reference accounted for."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import RDF, Graph, URIRef
from rdflib.namespace import SKOS

from kg.built import Build
from kg.corpus import Corpus
from kg.namespace import AK

pytestmark = pytest.mark.corpus

LAYOUT = "docs/voldoen-aan-wetten-en-regels"


def declared_ids(folder: Path) -> set[str]:
    """The ``id:`` lines of the files, read with a plain regex (not the loader)."""
    ids = set()
    for file in folder.glob("*.md"):
        if file.name == "index.md":
            continue
        match = re.search(r"^id:\s*(\S+)\s*$", file.read_text(encoding="utf-8"), re.M)
        if match:
            ids.add(match.group(1))
    return ids


def subjects_of(graph: Graph, cls: URIRef) -> set[str]:
    return {str(s) for s in graph.subjects(RDF.type, cls)}


def document_files(folder: Path) -> list[Path]:
    return [f for f in folder.glob("*.md") if f.name != "index.md"]


def test_exactly_the_declared_vereisten_and_maatregelen(real_corpus: Path, build: Build) -> None:
    vereisten = declared_ids(real_corpus / LAYOUT / "vereisten")
    maatregelen = declared_ids(real_corpus / LAYOUT / "maatregelen")
    assert len(vereisten) == 63
    assert len(maatregelen) == 108
    assert subjects_of(build.graph, AK.Vereiste) == vereisten
    assert subjects_of(build.graph, AK.Maatregel) == maatregelen


@pytest.mark.parametrize(
    ("folder", "cls", "prefix"),
    [
        (f"{LAYOUT}/hulpmiddelen", AK.Hulpmiddel, "urn:nl:ak:hlp:"),
        ("docs/onderwerpen", AK.Onderwerp, "urn:nl:ak:ond:"),
        ("docs/rollen", AK.Rol, "urn:nl:ak:rol:"),
        ("docs/levenscyclus", AK.Levenscyclusfase, "urn:nl:ak:lcf:"),
    ],
)
def test_every_other_kind_is_there(
    real_corpus: Path, build: Build, folder: str, cls: URIRef, prefix: str
) -> None:
    files = document_files(real_corpus / folder)
    expected = {prefix + re.sub(r"[^a-z0-9]+", "-", f.stem.lower()).strip("-") for f in files}
    assert subjects_of(build.graph, cls) == expected
    assert len(expected) == len(files) > 0


def test_every_glossary_term_is_a_concept(real_corpus: Path, corpus: Corpus, build: Build) -> None:
    lines = (real_corpus / "includes/begrippenlijst.md").read_text(encoding="utf-8").splitlines()
    entries = [line for line in lines if line.startswith("*[")]
    duplicates = [d for d in corpus.diagnostics if d.code == "duplicate-term"]
    terms = subjects_of(build.graph, AK.Begrip)
    assert len(terms) == len(entries) - len(duplicates)
    for term in terms:
        assert build.graph.value(URIRef(term), SKOS.definition) is not None
    # The repeats upstream has are reported at their line, not dropped silently.
    assert {d.line for d in duplicates} == {
        number
        for number, line in enumerate(lines, start=1)
        if line.startswith("*[")
        and sum(
            1
            for other in lines[: number - 1]
            if other.startswith("*[") and _term(other).lower() == _term(line).lower()
        )
    }


def _term(line: str) -> str:
    return line[2 : line.index("]")].strip()


def test_every_reference_resolves_or_is_reported(corpus: Corpus, build: Build) -> None:
    reported = {(d.path, d.line) for d in build.diagnostics if d.code == "unresolved-reference"}
    targets = {AK.vereiste: AK.Vereiste, AK.maatregel: AK.Maatregel}
    checked = 0
    for predicate, cls in targets.items():
        for s, o in build.graph.subject_objects(predicate):
            checked += 1
            if (o, RDF.type, cls) in build.graph:
                continue
            location = build.sourcemap.locate(s, predicate, o)
            assert location is not None
            assert (location.path, location.line) in reported, f"{s} -> {o} neither resolved"
    assert checked > 500
    # What upstream itself gets wrong stays a small, named list.
    assert 0 < len(reported) < 20


def test_no_document_is_left_out(corpus: Corpus) -> None:
    assert corpus.rejected == ()
    assert len(corpus.documents) == len(list((corpus.root / "docs").rglob("*.md")))
