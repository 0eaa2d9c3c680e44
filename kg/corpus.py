"""Loading a content folder (upstream layout: ``docs/`` and ``includes/``) into documents."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from rdflib import URIRef

from kg.diagnostic import Diagnostic, Severity
from kg.document import Document, Engines, parse_document
from kg.glossary import GLOSSARY_PATH, Term, parse_glossary
from kg.identifier import slugify
from kg.kind import classify
from kg.render import heading_engine, markdown_engine


@dataclass(frozen=True)
class Corpus:
    """Everything read from one content folder, and what could not be read."""

    root: Path
    documents: tuple[Document, ...]
    terms: tuple[Term, ...]
    diagnostics: tuple[Diagnostic, ...]
    #: Files that are not in the graph because of an error.
    rejected: tuple[str, ...]
    commit: str | None = None


class ContentFolderError(Exception):
    """The folder given is not a content folder at all (exit code 2, not a content error)."""


def load_corpus(root: Path) -> Corpus:
    docs = root / "docs"
    if not docs.is_dir():
        raise ContentFolderError(f"{root}: not a content folder (it has no docs/ folder)")
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    rejected: list[str] = []
    terms = _load_glossary(root, diagnostics)
    # The glossary applies to every page as abbreviations, as upstream's site appends it.
    engines = Engines(markdown_engine({t.term: t.definition for t in terms}), heading_engine())
    for file in sorted(docs.rglob("*.md")):
        relative = file.relative_to(root).as_posix()
        text = _read_text(file, relative, diagnostics)
        if text is None:
            rejected.append(relative)
            continue
        placement = classify(PurePosixPath(file.relative_to(docs).as_posix()))
        document, found = parse_document(relative, text, placement, engines)
        diagnostics.extend(found)
        if document is None:
            rejected.append(relative)
        else:
            documents.append(document)
    documents = _settle_duplicate_urns(documents, diagnostics)
    return Corpus(
        root=root,
        documents=tuple(documents),
        terms=tuple(terms),
        diagnostics=tuple(diagnostics),
        rejected=tuple(rejected),
        commit=_git_commit(root),
    )


def _load_glossary(root: Path, diagnostics: list[Diagnostic]) -> list[Term]:
    glossary = root / GLOSSARY_PATH
    if not glossary.is_file():
        return []
    text = _read_text(glossary, GLOSSARY_PATH, diagnostics)
    if text is None:
        return []
    terms, found = parse_glossary(GLOSSARY_PATH, text)
    diagnostics.extend(found)
    return terms


def _read_text(file: Path, relative: str, diagnostics: list[Diagnostic]) -> str | None:
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        diagnostics.append(
            Diagnostic(
                relative,
                line,
                Severity.ERROR,
                f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}",
                "encoding",
            )
        )
        return None
    return text.removeprefix("\ufeff")


def _settle_duplicate_urns(
    documents: list[Document], diagnostics: list[Diagnostic]
) -> list[Document]:
    """Two files claiming one URN is an error, but neither file is lost: the first (by path)
    keeps the URN, each other one is published under a URN minted from its full file name
    (``urn:nl:ak:mtr:2-owp-09-multidisciplinair-inkoopteam``) and named in the error."""
    claimed: dict[URIRef, Document] = {}
    taken = {document.urn for document in documents}
    settled = []
    for document in documents:
        first = claimed.setdefault(document.urn, document)
        if first is document:
            settled.append(document)
            continue
        kind = document.placement.kind
        fallback = kind.urn(slugify(document.placement.name))
        number = 2
        while fallback in taken:
            fallback = kind.urn(f"{slugify(document.placement.name)}-{number}")
            number += 1
        taken.add(fallback)
        entry = document.matter.get("id")
        diagnostics.append(
            Diagnostic(
                document.path,
                entry.line if entry else 1,
                Severity.ERROR,
                f"duplicate URN {document.urn}: {first.path} has it too; "
                f"this document is published as {fallback}",
                "duplicate-urn",
            )
        )
        settled.append(replace(document, urn=fallback))
    return settled


def _git_commit(root: Path) -> str | None:
    """The commit of the checkout the content comes from, if it is a git work tree."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
